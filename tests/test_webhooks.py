"""The ingest contract: what a sender gets back for every kind of request, and what is stored."""

import json
import time

import django_rq
import pytest

from connectors.models import Connection
from connectors.signatures import new_secret, sign
from monitoring.models import InboundEvent
from tests.helpers import signed_post

pytestmark = pytest.mark.django_db

SECRET = new_secret()
ORDER = {"type": "order.created", "data": {"order_id": 5, "orderNumber": "5", "items": []}}


@pytest.fixture
def store():
    connection = Connection(name="Store", slug="store", kind="xcart", auth_kind="api_token", base_url="http://127.0.0.1:9")
    connection.set_secret("webhook_secret", SECRET)
    connection.save()
    return connection


def queued_jobs():
    return len(django_rq.get_queue("default"))


def test_signed_webhook_is_stored_and_queued_once(client, store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed_post(client, "store", ORDER, SECRET, webhook_id="msg_1")
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert response.json() == {"id": event.id, "status": "received"}
    assert json.loads(event.body) == ORDER
    assert event.headers["Webhook-Id"] == "msg_1" and "Webhook-Signature" not in event.headers
    assert len(callbacks) == 1 and queued_jobs() == 1


def test_repeat_delivery_is_200_and_queues_nothing(client, store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, "store", ORDER, SECRET, webhook_id="msg_1")
        again = signed_post(client, "store", ORDER, SECRET, webhook_id="msg_1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert InboundEvent.objects.count() == 1 and queued_jobs() == 1


@pytest.mark.parametrize("tamper", ["signature", "secret", "missing", "stale", "future"])
def test_bad_signatures_are_401_and_store_nothing(client, store, tamper):
    body = json.dumps(ORDER).encode()
    timestamp = {"stale": int(time.time()) - 301, "future": int(time.time()) + 301}.get(tamper)
    headers = sign(new_secret() if tamper == "secret" else SECRET, "msg_x", body, timestamp=timestamp)
    if tamper == "signature":
        headers["webhook-signature"] = "v1," + "A" * 44
    if tamper == "missing":
        headers = {}
    response = client.post("/webhooks/store/", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert InboundEvent.objects.count() == 0 and queued_jobs() == 0


def test_body_over_the_limit_is_413(client, store):
    body = b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = client.post("/webhooks/store/", data=body, content_type="application/json",
                           headers=sign(SECRET, "msg_big", body))
    assert response.status_code == 413
    assert InboundEvent.objects.count() == 0


def test_not_json_is_400_with_the_parse_error(client, store):
    response = signed_post(client, "store", None, SECRET, body=b'{"type": "order.created",')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"] and "line 1" in response.json()["detail"]
    assert InboundEvent.objects.count() == 0


def test_json_the_fast_parser_refuses_but_the_standard_one_takes_is_stored(client, store):
    # orjson refuses integers over 64 bits; some stores send such ids: connectors.jsonio falls back
    big = {"type": "order.created", "data": {"order_id": 5, "orderNumber": "5", "items": [], "token": 2**70}}
    response = signed_post(client, "store", big, SECRET)
    assert response.status_code == 202
    assert json.loads(InboundEvent.objects.get().body)["data"]["token"] == 2**70


@pytest.mark.parametrize("payload, message", [
    ([1, 2], "JSON object"),
    ({"data": {"order_id": 1}}, '"type"'),
    ({"type": "order.created", "data": "x"}, '"data"'),
    ({"type": "order.created", "data": {"items": []}}, "order_id"),
])
def test_payload_without_what_the_hub_needs_is_400(client, store, payload, message):
    response = signed_post(client, "store", payload, SECRET)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_unknown_or_disabled_connection_is_404(client, store):
    assert signed_post(client, "nope", ORDER, SECRET).status_code == 404
    store.enabled = False
    store.save()
    assert signed_post(client, "store", ORDER, SECRET).status_code == 404


def test_connection_without_secret_refuses_pushes(client, store):
    store.set_secret("webhook_secret", "")
    store.save()
    response = signed_post(client, "store", ORDER, SECRET)
    assert response.status_code == 401 and "no webhook signing secret" in response.json()["detail"]


@pytest.mark.parametrize("body, headers", [
    (b"\xff\xfe\x00garbage", {}),
    (b"", {}),
    (b"{}", {"webhook-id": "x", "webhook-timestamp": "not-a-number", "webhook-signature": "v1,abc"}),
    (b"{}", {"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "nonsense"}),
])
def test_garbage_never_gets_a_500(client, store, body, headers):
    if not headers:
        headers = sign(SECRET, "msg_g", body)
    response = client.post("/webhooks/store/", data=body, content_type="application/json", headers=headers)
    assert 400 <= response.status_code < 500


def test_redis_down_at_ingest_keeps_the_event_for_the_sweeper(client, store, settings, django_capture_on_commit_callbacks):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:9/0", "DEFAULT_TIMEOUT": 5}}
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, "store", ORDER, SECRET)
    assert response.status_code == 202
    assert InboundEvent.objects.get().status == InboundEvent.Status.RECEIVED


def test_sweeper_enqueues_events_that_never_reached_a_worker(store):
    from datetime import timedelta

    from django.utils import timezone

    from hub.jobs import sweep_unqueued_events

    old = InboundEvent.objects.create(connection=store, idempotency_key="a", topic="order.created", source_id="1", body="{}")
    InboundEvent.objects.create(connection=store, idempotency_key="b", topic="order.created", source_id="2", body="{}")
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=2))
    old.refresh_from_db()
    assert sweep_unqueued_events() == 1  # events are drained by partition: the old event's is signalled
    job = django_rq.get_queue("default").jobs[0]
    assert (job.func_name, job.args) == ("hub.jobs.drain_partition", (store.pk, old.partition))


def test_retention_purges_old_payloads_and_keeps_the_summaries(store, settings):
    from datetime import timedelta

    from django.utils import timezone

    from hub.jobs import purge_old_payloads

    settings.HUB_RETENTION_DAYS = 30
    old = InboundEvent.objects.create(connection=store, idempotency_key="old", topic="order.created", source_id="1",
                                      body='{"secret customer data": 1}', headers={"User-Agent": "x"},
                                      status=InboundEvent.Status.PROCESSED)
    new = InboundEvent.objects.create(connection=store, idempotency_key="new", topic="order.created", source_id="2",
                                      body="{}")
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))
    assert purge_old_payloads() == 1
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.body, old.headers, old.status, old.source_id) == ("", {}, "processed", "1")
    assert new.body == "{}"


@pytest.mark.django_db(transaction=True)
def test_replaying_a_purged_event_says_what_to_do(simulators):
    from hub import demo, pipeline
    from monitoring.models import SyncRecord

    setup = demo.seed(simulators.url)
    event = InboundEvent.objects.create(connection=setup["xcart"], idempotency_key="gone", topic="order.created",
                                        source_id="5", body="")
    record = SyncRecord.objects.create(event=event, flow=setup["flow"], source_id="5", status=SyncRecord.Status.FAILED)
    pipeline.replay_record(record.pk)
    record.refresh_from_db()
    assert record.status == SyncRecord.Status.FAILED and "purged by retention" in record.error
