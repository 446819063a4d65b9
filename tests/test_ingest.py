"""Group commit of webhooks (connectors.ingest) and the WSGI fast path in front of Django (hub.wsgi).

These run outside a test transaction (the committer writes on its own thread and connection), on
the suite's database and Redis, through the WSGI application gunicorn and Granian serve.
"""

import json
import threading
import time

import django_rq
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from werkzeug.test import Client

from connectors import ingest
from connectors.models import Connection
from connectors.signatures import new_secret, sign
from hub import drain
from monitoring.models import InboundEvent, partition_of

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = new_secret()


def order(n: int) -> dict:
    return {"type": "order.created", "data": {"order_id": n, "orderNumber": str(n), "items": []}}


@pytest.fixture
def store():
    connection = Connection(name="Store", slug="store", kind="xcart", auth_kind="api_token", base_url="http://127.0.0.1:9")
    connection.set_secret("webhook_secret", SECRET)
    connection.save()
    return connection


@pytest.fixture
def wsgi():
    from hub.wsgi import application

    return application


def post(app, payload: dict, webhook_id: str, slug: str = "store", secret: str = SECRET):
    body = json.dumps(payload).encode()
    return Client(app).post(f"/webhooks/{slug}/", data=body, content_type="application/json",
                            headers=sign(secret, webhook_id, body))


def event(connection, key: str, source_id: str = "1") -> InboundEvent:
    return InboundEvent(connection=connection, idempotency_key=key, topic="order.created", source_id=source_id,
                        body="{}")


def test_the_fast_path_stores_signals_and_answers_like_the_view(wsgi, store):
    django_rq.get_queue("default").empty()
    response = post(wsgi, order(7), "msg_7")
    assert response.status_code == 202
    stored = InboundEvent.objects.get()
    assert response.json == {"id": stored.id, "status": "received"}
    assert stored.headers["Webhook-Id"] == "msg_7" and "Webhook-Signature" not in stored.headers
    assert stored.source_id == "7" and stored.partition == partition_of("7")
    # signalled after the commit: the partition's drain job is queued and its key is set
    assert len(django_rq.get_queue("default")) == 1
    assert django_rq.get_connection("default").exists(drain.key(store.pk, stored.partition))

    again = post(wsgi, order(7), "msg_7")
    assert again.status_code == 200 and again.json == {"id": stored.id, "status": "received", "duplicate": True}
    assert InboundEvent.objects.count() == 1


def test_the_fast_path_refuses_what_the_view_refuses(wsgi, store, settings):
    assert post(wsgi, order(1), "m1", slug="nobody").status_code == 404
    bad = post(wsgi, order(1), "m2", secret=new_secret())
    assert bad.status_code == 401 and "signature" in bad.json["detail"]
    settings.HUB_WEBHOOK_MAX_BYTES = 10
    big = post(wsgi, order(1), "m3")
    assert big.status_code == 413 and "limit of 10 bytes" in big.json["detail"]
    assert InboundEvent.objects.count() == 0


def test_other_urls_and_methods_go_to_django(wsgi, store):
    assert Client(wsgi).get("/healthz").status_code in (200, 503)  # Django's view, whatever the health
    assert Client(wsgi).get("/webhooks/store/").status_code == 405  # the DRF view answers other methods
    assert Client(wsgi).post("/webhooks/store/extra/").status_code == 404


def test_concurrent_webhooks_share_commits_and_each_gets_its_own_row(wsgi, store):
    answers = {}

    def send(n):
        try:
            answers[n] = post(wsgi, order(n), f"msg_{n}")
        finally:
            connections.close_all()  # the thread's own connection (its connection look-up)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers.values()} == {202}
    ids = {n: a.json["id"] for n, a in answers.items()}
    assert len(set(ids.values())) == 40
    rows = dict(InboundEvent.objects.values_list("id", "source_id"))
    assert all(rows[ids[n]] == str(n) for n in range(40))  # each answer names its own event


class RecordingCommitter(ingest.Committer):
    """Batches are held until released, so that requests pile up behind the first one."""

    def __init__(self, signal):
        self.sizes, self.statements, self.release = [], [], threading.Event()
        super().__init__(signal)

    def _write(self, batch):
        self.release.wait(10)
        self.sizes.append(len(batch))
        with CaptureQueriesContext(connection) as queries:  # this thread's own connection
            super()._write(batch)
        self.statements.append([q["sql"].split()[0].upper() for q in queries.captured_queries])


def test_rows_waiting_during_a_commit_go_in_the_next_one_and_each_partition_is_signalled_once(store):
    signalled = []
    committer = RecordingCommitter(signalled.append)
    results = [None] * 11

    def store_one(n):
        results[n] = committer.store(event(store, f"k{n}", source_id=str(n)))

    first = threading.Thread(target=store_one, args=(0,))
    first.start()
    while committer._queue.qsize():  # the first row is taken, its commit is held
        pass
    rest = [threading.Thread(target=store_one, args=(n,)) for n in range(1, 11)]
    for thread in rest:
        thread.start()
    while committer._queue.qsize() < 10:
        pass
    committer.release.set()
    for thread in [first, *rest]:
        thread.join()
    committer.stop()
    assert committer.sizes == [1, 10] and committer.statements == [["INSERT"], ["INSERT"]]  # one per batch
    assert all(r is not None and not r.duplicate for r in results)
    assert InboundEvent.objects.count() == 11
    partitions = set(InboundEvent.objects.values_list("connection_id", "partition"))
    assert len(signalled) == 2 and signalled[0] | signalled[1] == partitions  # a set per batch, once each


def test_a_commit_inside_the_signal_window_is_signalled_at_its_end_and_not_lost_at_stop(store):
    signalled = []
    committer = ingest.Committer(signalled.append, window=60)
    committer.store(event(store, "a", source_id="1"))
    assert signalled == [{(store.pk, partition_of("1"))}]  # after a quiet spell: at once, before the answer
    committer.store(event(store, "b", source_id="2"))
    committer.store(event(store, "c", source_id="3"))
    assert len(signalled) == 1  # stored and answered; their signal waits for the window's end
    committer.stop()  # a process that stops sends what waits
    assert signalled[1] == {(store.pk, partition_of("2")), (store.pk, partition_of("3"))} and len(signalled) == 2


def test_the_window_end_signals_without_another_commit(store):
    signalled = []
    committer = ingest.Committer(signalled.append, window=0.2)
    committer.store(event(store, "a", source_id="1"))
    committer.store(event(store, "b", source_id="2"))
    deadline = time.monotonic() + 10
    while len(signalled) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(signalled) == 2 and (store.pk, partition_of("2")) in signalled[1]  # no commit, no stop: the timer
    committer.stop()


def test_request_headers_are_read_from_the_environ_by_name():
    from connectors.webhooks import RequestHeaders

    headers = RequestHeaders({"HTTP_WEBHOOK_ID": "msg_1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "2",
                              "HOME": "/root"})
    assert headers.get("webhook-id") == headers.get("Webhook-Id") == "msg_1"
    assert headers.get("Content-Type") == "application/json" and headers.get("content-length") == "2"
    assert headers.get("Home") is None and headers.get("X-Request-Id", "none") == "none"


def test_repeats_in_a_batch_and_of_stored_rows_are_told_apart(store):
    before = InboundEvent.objects.create(connection=store, idempotency_key="old", topic="order.created",
                                         source_id="1", body="{}")
    first, again, old = ingest.insert([event(store, "new"), event(store, "new"), event(store, "old")])
    assert not first.duplicate and again.duplicate and again.id == first.id
    assert old.duplicate and old.id == before.id and old.status == "received"
    assert InboundEvent.objects.count() == 2


def test_a_row_the_database_refuses_fails_alone(store):
    committer = ingest.Committer(lambda partitions: None)
    good, bad = event(store, "good"), event(store, "bad")
    bad.topic = None  # NOT NULL refuses it, on SQLite and PostgreSQL
    pending = [ingest._Pending(good), ingest._Pending(bad), ingest._Pending(event(store, "good too"))]
    committer._write(pending)
    assert pending[0].result and pending[2].result and pending[1].result is None
    assert "topic" in str(pending[1].error).lower()
    assert set(InboundEvent.objects.values_list("idempotency_key", flat=True)) == {"good", "good too"}
