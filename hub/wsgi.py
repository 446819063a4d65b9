"""The hub's WSGI application (gunicorn, Granian: ``hub.wsgi:application``).

``POST /webhooks/<slug>/`` is answered here, before Django's request handling: it is the one URL hit
thousands of times a second, it needs no session, user, CSRF or template, and Django's request cycle
(middleware, URL resolving, a database health check per request) cost more than the work itself. The
work is the same function the DRF view calls (``connectors.webhooks.accept``). Every other URL, and a
webhook URL in any other method, goes to Django.
"""

import gc
import logging
import os
import re
from http import HTTPStatus

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (after the apps are loaded)
from django.db import close_old_connections  # noqa: E402

from connectors import jsonio, webhooks  # noqa: E402

# What start-up made (Django, the apps, the URL conf) lives as long as the process: keep it out of the
# cyclic collector's full passes, which otherwise walk it again and again under load (as in hub.drain).
gc.collect()
gc.freeze()

log = logging.getLogger("hub.webhooks")
WEBHOOK_PATH = re.compile(r"/webhooks/([-a-zA-Z0-9_]+)/")  # the URL conf's webhooks/<slug:slug>/


def _body(environ) -> bytes:
    """The raw body, never more than one byte over the limit (accept refuses it then)."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    limit = settings.HUB_WEBHOOK_MAX_BYTES + 1
    return environ["wsgi.input"].read(min(declared, limit) if declared else limit)


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def application(environ, start_response):
    match = WEBHOOK_PATH.fullmatch(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
    if match is None:
        return django_application(environ, start_response)
    close_old_connections()  # as Django does per request: a broken or expired connection is not reused
    try:
        answer = webhooks.accept(match.group(1), environ, lambda: _body(environ))
    except Exception:  # as Django would: logged with its traceback, a 500 without one
        log.exception("webhook for %s failed", match.group(1))
        answer = webhooks.Answer(500, {"detail": "the hub failed on this webhook; it was not stored"}, {})
    body = jsonio.dumps(answer.data).encode()
    start_response(_STATUS_LINES[answer.status], [("Content-Type", "application/json"),
                                                  ("Content-Length", str(len(body))), *answer.headers.items()])
    return [body]
