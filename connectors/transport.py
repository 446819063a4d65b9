"""Sending one HTTP request: urllib3, with what the connectors used of requests.

requests' sessions, adapters, hooks and cookie jar cost about 0.35 ms of CPU a call on top of
urllib3, which does the work underneath (0.68 vs 0.32 ms for a small GET to a simulator); a batch
makes several calls and a per-record target one per record. What the connectors rely on is kept:
query ``params`` (None values dropped), ``json`` and form ``data`` bodies, basic ``auth``, the proxy
and CA-bundle variables (read once per host), certificate checks against certifi's bundle,
redirects followed, gzip answers decoded, and an answer with ``status_code``, ``headers``,
``content``, ``text``, ``json()`` and ``url``.
"""

import json as jsonlib
import os
from base64 import b64encode
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from requests.utils import get_environ_proxies, select_proxy
from urllib3.exceptions import LocationValueError, MaxRetryError

DEFAULT_HEADERS = {"User-Agent": "integration-hub", "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
MAX_REDIRECTS = 10
POOL_SIZE = 16  # keep-alive connections per host: above the delivery threads of one worker

# Connection errors and timeouts are raised at once (the flow's retries decide what happens next);
# only redirects are followed.
_RETRIES = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=MAX_REDIRECTS,
                         raise_on_redirect=False, raise_on_status=False)


class Response:
    """An answer, read whole."""

    __slots__ = ("status_code", "reason", "headers", "content", "url")

    def __init__(self, raw, url: str):
        self.status_code, self.reason, self.headers, self.content = raw.status, raw.reason, raw.headers, raw.data
        self.url = raw.url or url  # the last URL when redirects were followed

    @property
    def text(self) -> str:
        content_type = self.headers.get("Content-Type", "")
        charset = content_type.partition("charset=")[2].split(";")[0].strip().strip('"') or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self):
        return jsonlib.loads(self.content)


@lru_cache(maxsize=512)
def environment_for(origin: str) -> tuple[dict, str | bool]:
    """(proxies, verify) for calls to ``origin`` (scheme://host:port), from HTTP(S)_PROXY / NO_PROXY
    and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE as requests reads them; the environment is the process's,
    fixed once it runs."""
    proxies = get_environ_proxies(origin)
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return proxies, verify


_pools: dict[tuple, urllib3.PoolManager] = {}


def _pool(proxy: str | None, verify) -> urllib3.PoolManager:
    key = (proxy, verify)
    pool = _pools.get(key)
    if pool is None:
        tls = ({"cert_reqs": "CERT_NONE"} if verify is False else
               {"cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where() if verify is True else verify})
        options = dict(num_pools=64, maxsize=POOL_SIZE, retries=_RETRIES, **tls)
        pool = _pools[key] = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
    return pool


def _query(params) -> str:
    items = params.items() if isinstance(params, dict) else params
    return urlencode([(k, v) for k, v in items if v is not None], doseq=True)


def send(method: str, url: str, *, params=None, json=None, data=None, headers=None, auth=None, timeout=None,
         verify=None, proxies=None) -> Response:
    """One request as ``requests.request`` would send it; raises urllib3's errors (see ``failure``)."""
    if params:
        query = _query(params)
        if query:
            url += ("&" if "?" in url else "?") + query
    sent = {**DEFAULT_HEADERS, **(headers or {})}
    body = None
    if json is not None:
        body = jsonlib.dumps(json, allow_nan=False).encode()
        sent.setdefault("Content-Type", "application/json")
    elif data is not None:
        if isinstance(data, (dict, list, tuple)):
            body = _query(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            body = data.encode() if isinstance(data, str) else data
    if auth is not None:
        user, password = auth
        sent["Authorization"] = "Basic " + b64encode(f"{user}:{password}".encode("latin-1")).decode()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:  # urllib3 would guess http://
        raise LocationValueError("it does not start with http:// or https:// and a host")
    environ_proxies, environ_verify = environment_for(f"{parts.scheme}://{parts.netloc}")
    proxy = select_proxy(url, {**environ_proxies, **(proxies or {})})
    pool = _pool(proxy, environ_verify if verify in (None, True) else verify)
    if isinstance(timeout, tuple):
        timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
    elif timeout is not None:
        timeout = urllib3.Timeout(total=None, connect=timeout, read=timeout)
    raw = pool.request(method, url, body=body, headers=sent, timeout=timeout, redirect=True)
    return Response(raw, url)


def failure(exc: Exception) -> Exception:
    """The error behind a MaxRetryError (urllib3 wraps the last one when it gives up)."""
    return exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc

