"""Redaction of secrets before anything is stored or logged (sync attempts, event headers)."""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    k = key.lower()
    return k in SECRET_KEYS or bool(_SECRET_PATTERN.search(k))


def redact(value):
    """A copy of ``value`` (dicts, lists, scalars) with every credential-looking entry masked."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_url(url: str) -> str:
    """Mask credentials carried in a query string (X-Cart's legacy ``_key``, PrestaShop's ``ws_key``)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, MASK if is_secret_key(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[],;:*")))
