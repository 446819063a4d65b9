"""The ``.ionapi`` credentials file Infor's ION API Gateway hands out, and its bearer token."""

import json
import threading
import time

REQUIRED_FIELDS = ("ti", "ci", "cs", "iu", "pu", "ot", "saak", "sask")


def parse_ionapi(text: str | bytes) -> dict:
    """Validate an uploaded .ionapi file; raise ValueError naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a .ionapi file (invalid JSON: {exc})") from None
    if not isinstance(data, dict):
        raise ValueError("not a .ionapi file (expected a JSON object)")
    missing = [f for f in REQUIRED_FIELDS if not data.get(f)]
    if missing:
        raise ValueError(f".ionapi file lacks {', '.join(missing)} (download it again with a service account)")
    return data


def token_url(ionapi: dict) -> str:
    return ionapi["pu"].rstrip("/") + "/" + ionapi["ot"].lstrip("/")


def mi_base_url(ionapi: dict) -> str:
    return f"{ionapi['iu'].rstrip('/')}/{ionapi['ti']}/M3/m3api-rest/v2/execute"


class TokenCache:
    """Bearer tokens per connection, shared by the jobs of one worker process.

    A token is renewed a minute before it expires, or at once when M3 answers 401.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens: dict[tuple, tuple[str, float]] = {}

    def get(self, key: tuple) -> str | None:
        with self._lock:
            token, expires_at = self._tokens.get(key, (None, 0.0))
        return token if token and time.monotonic() < expires_at - 60 else None

    def put(self, key: tuple, token: str, expires_in: float) -> None:
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + expires_in)

    def drop(self, key: tuple) -> None:
        with self._lock:
            self._tokens.pop(key, None)


tokens = TokenCache()
