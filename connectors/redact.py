"""Redaction of secrets before anything is stored or logged (sync attempts, event headers)."""

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.signals import setting_changed

MASK = "***"
# Keys whose values are credentials in the four systems' APIs (lower-cased comparison).
SECRET_KEYS = frozenset(
    {
        "password", "secret", "client_secret", "access_token", "refresh_token", "id_token",
        "authorization", "x-auth-token", "api_key", "_key", "ws_key", "token", "bearer",
        "webhook_secret", "webhook-signature", "cookie", "set-cookie",
        "passwd", "secure_key",  # PrestaShop customers' password hash and key
        "cs", "sask", "saak",  # .ionapi client secret and service-account keys
        "username",  # the ION token request sends the service-account key as username
    }
)
_SECRET_PATTERN = re.compile(r"(secret|password|token)", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """A credential, or a personal field the installation asked to keep out of the logs
    (settings HUB_PERSONAL_FIELDS, e.g. MAIL,PHNO,email,phone)."""
    return _is_secret(key, _personal_fields())


@lru_cache(maxsize=4096)  # every key of every logged call goes through here: a tenth of a worker's time
def _is_secret(key: str, personal: frozenset) -> bool:
    k = key.lower()
    return k in SECRET_KEYS or bool(_SECRET_PATTERN.search(k)) or k in personal


_personal: frozenset | None = None


def _personal_fields() -> frozenset:
    """HUB_PERSONAL_FIELDS, lower-cased; read once (each read of a setting costs a lazy lookup, and
    this runs for every key of every logged call), again when a test changes the setting."""
    global _personal
    if _personal is None:
        from django.conf import settings

        _personal = frozenset(f.lower() for f in getattr(settings, "HUB_PERSONAL_FIELDS", ()))
    return _personal


def _forget_personal_fields(setting, **kwargs):
    global _personal
    if setting == "HUB_PERSONAL_FIELDS":
        _personal = None


setting_changed.connect(_forget_personal_fields)


def redact(value, also=frozenset()):
    """A copy of ``value`` (dicts, lists, scalars) with every credential-looking entry masked, and
    the keys in ``also`` (upper-case names a caller knows to be personal, e.g. a search query)."""
    if isinstance(value, dict):
        personal = _personal_fields()
        copy = {}
        for k, v in value.items():
            if _is_secret(str(k), personal) or k in also:
                copy[k] = MASK
            else:  # scalars as they are: no call per value (every field of every logged document)
                copy[k] = redact(v, also) if isinstance(v, (dict, list)) else v
        return copy
    if isinstance(value, list):
        return [redact(v, also) if isinstance(v, (dict, list)) else v for v in value]
    return value


def redact_url(url: str, also=frozenset()) -> str:
    """Mask credentials carried in a query string (X-Cart's legacy ``_key``, PrestaShop's ``ws_key``)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, MASK if is_secret_key(k) or k in also else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[],;:*")))
