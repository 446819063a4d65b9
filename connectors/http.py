"""The single outbound HTTP path: timeouts, error classification, and a redacted log of exchanges.

Every connector call goes through ``HttpClient.request`` so that every system gets the same
treatment: a timeout on every call, connection failures / 5xx / 429 as transient errors (429 with
its Retry-After), other 4xx as permanent ones in the system's own words, and each exchange recorded
(secrets masked, bodies cut) for the sync attempt that made it. A connection with a rate budget
waits here for its slot before each call (a bulk call is one call), whichever worker makes it.
"""

import json
import time

from django.conf import settings
from urllib3.exceptions import HTTPError, LocationValueError, NewConnectionError, SSLError, TimeoutError

from connectors.redact import redact, redact_url
from connectors.transport import Response, failure, send

MAX_LOGGED_BODY = 4000  # characters of a body kept in an attempt's log


def _loggable_body(data, mask=frozenset()):
    if data is None:
        return None
    if isinstance(data, (dict, list)):
        return redact(data, mask)
    text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    return text[:MAX_LOGGED_BODY]


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; rare enough here to fall back to the flow's own backoff


class HttpClient:
    def __init__(self, system: str, describe_error, budget=None):
        self.system = system
        self.describe_error = describe_error
        self.budget = budget  # connectors.ratelimit.Budget, or None: no limit
        self.exchanges: list[dict] = []

    def request(self, method: str, url: str, *, session_key: str = "", log_as: str = "",
                log_request=None, mask=frozenset(), log_response: bool = True, **kwargs) -> Response:
        """Send one request; return the response when it is 2xx/3xx, raise ConnectorError if not.

        ``log_request`` replaces what is recorded as the request body (e.g. MI input fields);
        ``log_as`` names the exchange in the attempt log (e.g. ``OIS100MI/AddBatchHead``);
        ``mask`` names fields to mask in the log besides the usual credentials (personal data);
        ``log_response=False`` leaves the body out (a bulk call's answer is logged per record instead).
        ``session_key`` is kept for the callers: keep-alive connections are pooled per host.
        """
        from connectors.base import ConnectorError

        kwargs.setdefault("timeout", settings.HUB_HTTP_TIMEOUT)
        try:
            return self._send(method, url, session_key, log_as, log_request, mask, kwargs, log_response)
        except ConnectorError as exc:
            # A short Retry-After is honoured here, once; a longer one goes back to the job's retries.
            if exc.status != 429 or exc.retry_after is None or exc.retry_after > settings.HUB_INLINE_RETRY_AFTER:
                raise
            time.sleep(exc.retry_after)
            return self._send(method, url, session_key, log_as, log_request, mask, kwargs, log_response)

    def _send(self, method, url, session_key, log_as, log_request, mask, kwargs, log_response=True) -> Response:
        from connectors.base import ConnectorError

        entry = {
            "call": log_as or f"{method} {redact_url(url).split('?')[0]}",
            "method": method,
            "url": redact_url(url, mask),
            "request": _loggable_body(log_request if log_request is not None else kwargs.get("json", kwargs.get("data")),
                                      mask),
        }
        self.exchanges.append(entry)
        if self.budget is not None:
            waited = self.budget.wait()
            if waited:
                entry["rate_wait_ms"] = int(waited * 1000)
        started = time.perf_counter()
        try:
            response = send(method, url, **kwargs)
        except HTTPError as exc:
            cause = failure(exc)
            if isinstance(cause, LocationValueError):  # no scheme, no host: configuration, not weather
                entry.update(error=f"invalid URL: {cause}", duration_ms=_ms(started))
                raise ConnectorError(f"{self.system}: {redact_url(url, mask)} is not a URL it can call ({cause}); "
                                     "check the connection's base URL", permanent=True) from exc
            # NewConnectionError (refused, unknown host) is a ConnectTimeoutError to urllib3: not a timeout here
            if isinstance(cause, TimeoutError) and not isinstance(cause, NewConnectionError):
                entry.update(error=f"timeout: {cause}", duration_ms=_ms(started))
                raise ConnectorError(f"{self.system} did not answer in time ({_short(cause)})", permanent=False) from exc
            if isinstance(cause, SSLError):
                entry.update(error=f"TLS error: {cause}", duration_ms=_ms(started))
                # a certificate or protocol mismatch is configuration, not weather: retrying will not help
                raise ConnectorError(f"{self.system}: TLS handshake failed ({_tls_reason(cause)}); check the base "
                                     "URL (https vs http) and the server's certificate", permanent=True) from exc
            entry.update(error=f"connection error: {cause}", duration_ms=_ms(started))
            raise ConnectorError(f"{self.system} is unreachable ({_short(cause)})", permanent=False) from exc
        entry.update(url=redact_url(response.url, mask), status=response.status_code, duration_ms=_ms(started))
        if response.status_code < 400:
            entry["response"] = _response_body(response) if log_response else "(not logged: one answer per record)"
            return response
        entry["response"] = _response_body(response)
        message = f"{self.system} answered HTTP {response.status_code}: {self.describe_error(response)}"
        if response.status_code == 429:
            raise ConnectorError(message, permanent=False, status=429,
                                 retry_after=_parse_retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 500 or response.status_code in (408, 409, 423):
            raise ConnectorError(message, permanent=False, status=response.status_code)
        raise ConnectorError(message, permanent=True, status=response.status_code)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _short(exc: Exception) -> str:
    """urllib3's messages nest the cause deep; keep the last, human part."""
    text = str(exc)
    for marker in ("Connection refused", "Read timed out", "Name or service not known", "timed out"):
        if marker in text:
            return marker.lower()
    return text[:200]


def _tls_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "certificate has expired",
                   "self-signed certificate", "hostname mismatch", "wrong version number"):
        if marker.lower() in text.lower():
            return marker.lower().replace("_", " ")
    return text[-200:]


def _response_body(response: Response):
    if "json" in response.headers.get("Content-Type", ""):
        try:
            return redact(response.json())
        except (ValueError, json.JSONDecodeError):
            pass
    return (response.text or "")[:MAX_LOGGED_BODY]
