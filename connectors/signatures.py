"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the signature header holds one or
more space-separated ``v1,<base64 HMAC-SHA256>`` entries (several while a secret is being rotated).
Secrets look like ``whsec_<base64 key>``. Written here rather than taken from the ``standardwebhooks``
package because that package pulls in an HTTP client stack the hub does not need; the scheme itself
is a dozen lines.
"""

import base64
import hashlib
import hmac
import secrets
import time

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"


class SignatureError(Exception):
    """The request is not signed by the connection's secret (always answered with 401)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX):])
    return secret.encode()


def _sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers a sender adds to a webhook; used by the simulators and the tests."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + _sign(_key(secret), msg_id, ts, body),
    }


def verify(secret: str, headers, body: bytes, now: float | None = None) -> str:
    """Check the Standard Webhooks headers; returns the webhook id or raises SignatureError."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if not (msg_id and timestamp and signature):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a unix time") from None
    now = time.time() if now is None else now
    if abs(now - ts) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is more than 5 minutes away from the hub's clock")
    expected = _sign(_key(secret), msg_id, timestamp, body).encode()
    for candidate in signature.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return msg_id
    raise SignatureError("signature does not match the connection's secret")
