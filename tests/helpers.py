"""Small helpers shared by the tests: signed webhook posts and a real RQ worker run to completion."""

import json
import time
import uuid

import django_rq
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from connectors.signatures import sign


def signed_post(client, slug: str, payload, secret: str, *, webhook_id: str | None = None, timestamp=None, body=None):
    body = body if body is not None else json.dumps(payload).encode()
    headers = sign(secret, webhook_id or f"msg_{uuid.uuid4().hex}", body, timestamp=timestamp)
    return client.post(f"/webhooks/{slug}/", data=body, content_type="application/json",
                       headers=headers)


def run_worker(timeout: float = 30.0) -> None:
    """Run a real RQ worker (same process, so it sees the test database) until no work is left,
    including retries RQ has scheduled for later."""
    queue = django_rq.get_queue("default")
    scheduled = ScheduledJobRegistry(queue=queue)
    deadline = time.monotonic() + timeout
    while True:
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)
        if not len(queue) and not scheduled.count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"worker still has work after {timeout}s: {len(queue)} queued, {scheduled.count} scheduled")
        time.sleep(0.2)
