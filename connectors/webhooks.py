"""``POST /webhooks/<connection-slug>/``: verify, store, acknowledge; the work happens in RQ.

Order matters: nothing is stored unless the signature is right, and the event's partition is
signalled only after the event row is committed, so a drainer never misses it. The row goes through
connectors.ingest, where the concurrent requests of a process share one INSERT and one COMMIT, and
their signals one Redis round trip.
"""

import logging
import threading
import time
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError
from django.db.models.signals import post_save
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors import ingest, jsonio
from connectors.models import Connection
from connectors.signatures import SignatureError, verify
from monitoring.models import InboundEvent

log = logging.getLogger(__name__)

# The connection (with its decrypted secret and its connector) is kept a few seconds per process:
# at thousands of webhooks a second the lookup and the decryption would be most of the work. A save
# in this process drops it at once; other processes see a change (disabled, new secret) within
# CONNECTION_CACHE_SECONDS.
CONNECTION_CACHE_SECONDS = 5.0
_connections: dict[str, tuple[float, Connection | None, object]] = {}
_cache_lock = threading.Lock()


def _connection(slug: str):
    """(connection, connector) of an enabled connection, or (None, None)."""
    now = time.monotonic()
    cached = _connections.get(slug)
    if cached and cached[0] > now:
        return cached[1], cached[2]
    connection = Connection.objects.filter(slug=slug, enabled=True).first()
    connector = connection.connector() if connection is not None else None
    with _cache_lock:
        _connections[slug] = (now + CONNECTION_CACHE_SECONDS, connection, connector)
    return connection, connector


def _forget_connections(**kwargs):
    with _cache_lock:
        _connections.clear()


post_save.connect(_forget_connections, sender=Connection, dispatch_uid="webhooks-forget-connections")

# Headers kept with the event for tracing, named as Django's request.headers names them; signatures
# and credentials are not kept.
KEPT_HEADERS = ("Content-Type", "User-Agent", "Webhook-Id", "Webhook-Timestamp", "X-Request-Id")


class RequestHeaders:
    """A request's headers, read from the WSGI environ (or request.META) by name when asked for, as
    ``request.headers.get`` reads them. Django's HttpHeaders parses every key of the environ up front,
    and Granian's environ also holds the whole process environment: some 60 keys per webhook for the
    three or four a webhook needs."""

    _UNPREFIXED = {"CONTENT_TYPE", "CONTENT_LENGTH"}

    def __init__(self, meta):
        self._meta = meta

    def get(self, name: str, default=None):
        key = name.upper().replace("-", "_")
        return self._meta.get(key if key in self._UNPREFIXED else "HTTP_" + key, default)


class Answer(NamedTuple):
    status: int
    data: dict
    headers: dict


def _problem(status: int, detail: str, **headers) -> Answer:
    return Answer(status, {"detail": detail}, headers)


def accept(slug: str, meta, read_body) -> Answer:
    """The whole of receiving a webhook, whichever server part called it: ``meta`` is the WSGI environ
    (or Django's request.META), ``read_body()`` returns the raw body once its declared size is checked."""
    connection, connector = _connection(slug)
    if connection is None:
        return _problem(404, f"no enabled connection named '{slug}'")

    limit = settings.HUB_WEBHOOK_MAX_BYTES
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _problem(400, "Content-Length is not a number")
    if declared > limit:
        return _problem(413, f"body of {declared} bytes is over the limit of {limit} bytes")
    body = read_body()
    if len(body) > limit:
        return _problem(413, f"body is over the limit of {limit} bytes")

    secret = connection.secret("webhook_secret")
    if not secret:
        return _problem(401, "this connection has no webhook signing secret; set one in the admin")
    headers = RequestHeaders(meta)
    try:
        webhook_id = verify(secret, headers, body)
    except SignatureError as exc:
        return _problem(401, str(exc))

    try:
        payload = jsonio.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _problem(400, f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return _problem(400, "body must be a JSON object")
    try:
        parsed = connector.parse_push(payload, headers)
    except (ValueError, NotImplementedError) as exc:
        return _problem(400, str(exc))

    kept = {name: value for name in KEPT_HEADERS if (value := headers.get(name)) is not None}
    event = InboundEvent(connection=connection, idempotency_key=webhook_id, topic=parsed.topic,
                         source_id=parsed.source_id, headers=kept, body=body.decode("utf-8"))
    try:
        stored = ingest.store(event)  # committed when this returns (its partition signalled, or soon)
    except ingest.NotStored:  # the database is busy or down: not stored, so ask the sender to retry
        log.exception("could not store a webhook for %s", slug)
        return _problem(503, "the hub could not store the event; retry later", **{"Retry-After": "5"})
    except DatabaseError as exc:  # this row was refused (e.g. a NUL character in the body)
        return _problem(400, f"the event could not be stored: {exc}")
    if stored.duplicate:
        return Answer(200, {"id": stored.id, "status": stored.status, "duplicate": True}, {})
    return Answer(202, {"id": stored.id, "status": stored.status}, {})


class WebhookView(APIView):
    """The webhook URL in Django's URL conf (the test client, ``runserver``); hub.wsgi answers it
    before Django in production, with the same ``accept``."""

    authentication_classes = []
    permission_classes = []
    parser_classes = []  # the raw bytes are what is signed; parse them ourselves

    def post(self, request, slug):
        answer = accept(slug, request.META, lambda: request.body)
        return Response(answer.data, status=answer.status, headers=answer.headers)
