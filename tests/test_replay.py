"""Replay: every failed record matching a filter (admin and API), and replay against a chosen mapping version
(the API, the admin's edit-and-replay). Real Redis queue, real RQ worker, simulators over HTTP."""

import json
from datetime import timedelta
from urllib.parse import urlencode

import django_rq
import pytest
from django.utils import timezone

from hub import demo
from hub import replay as replays
from hub.models import Flow, ReplayVersion
from mappings.models import MappingRule
from monitoring.models import InboundEvent, SyncRecord, error_group_of
from tests.helpers import run_worker, signed_post
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)
MISSING_ITEM = "M3 OIS100MI/AddBatchLine: Item number {} does not exist"


@pytest.fixture
def setup(simulators):
    config = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    return config


def record(flow, n, status=SyncRecord.Status.FAILED, error="", days_ago=0):
    event = InboundEvent.objects.create(connection=flow.source, idempotency_key=f"test-{flow.pk}-{n}", topic="order.created",
                                        source_id=str(n), body="{}", status=InboundEvent.Status.FAILED)
    made = SyncRecord.objects.create(flow=flow, event=event, source_id=str(n), status=status, error=error,
                                     error_group=error_group_of(error), attempt_count=1)
    if days_ago:
        SyncRecord.objects.filter(pk=made.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return made.pk


@pytest.fixture
def records(setup):
    """Two failed records of one cause in the order flow, and others that differ in one way each."""
    orders, stock = Flow.objects.get(name=demo.ORDER_FLOW), Flow.objects.get(name=demo.STOCK_FLOW)
    return {
        "orders": orders,
        "match": [record(orders, 1, error=MISSING_ITEM.format("SKU-9999")),
                  record(orders, 2, error=MISSING_ITEM.format("SKU-8888"))],
        "other": [record(orders, 3, error="M3 is unreachable: HTTP 503"),  # another cause
                  record(stock, 4, error=MISSING_ITEM.format("SKU-9999")),  # another flow
                  record(orders, 5, status=SyncRecord.Status.SYNCED),  # synced: never replayed
                  record(orders, 6, status=SyncRecord.Status.RETRYING, error=MISSING_ITEM.format("SKU-7")),
                  record(orders, 7, error=MISSING_ITEM.format("SKU-1"), days_ago=10)],  # too old
    }


def queued_replays() -> set[int]:
    return {job.args[0] for job in django_rq.get_queue("default").jobs if "replay" in job.func_name}


def test_admin_replays_all_records_matching_the_filters_after_confirming(admin_client, records):
    since = (timezone.now() - timedelta(days=2)).isoformat()
    group = error_group_of(MISSING_ITEM.format("SKU-9999"))
    filters = {"flow__id__exact": records["orders"].pk, "error_group": group, "created_at__gte": since}
    listing = admin_client.get("/admin/monitoring/syncrecord/", filters).content.decode()
    assert "Replay all matching the current filters" in listing

    confirm = admin_client.get("/admin/monitoring/syncrecord/replay-matching/", filters)
    assert confirm.status_code == 200
    assert "<strong>2</strong> records match" in confirm.content.decode()
    assert not queued_replays()  # nothing happens before the confirmation

    done = admin_client.post(f"/admin/monitoring/syncrecord/replay-matching/?{urlencode(filters)}", {"mapping_version": ""})
    assert done.status_code == 302
    assert queued_replays() == set(records["match"])
    statuses = dict(SyncRecord.objects.values_list("id", "status"))
    assert all(statuses[i] == SyncRecord.Status.PENDING for i in records["match"])
    assert all(statuses[i] != SyncRecord.Status.PENDING for i in records["other"])


def test_api_replays_by_flow_error_group_dates_and_status(admin_client, records):
    group = error_group_of(MISSING_ITEM.format("SKU-1"))
    body = {"flow": records["orders"].pk, "error_group": group, "since": (timezone.now() - timedelta(days=2)).isoformat()}
    answer = admin_client.post("/api/records/replay/", body, content_type="application/json")
    assert answer.status_code == 202 and set(answer.json()["replayed"]) == set(records["match"])
    assert queued_replays() == set(records["match"])
    # status: the retrying one of that cause; synced records are refused as a status.
    answer = admin_client.post("/api/records/replay/", {**body, "status": "retrying"}, content_type="application/json")
    assert answer.json()["replayed"] == [records["other"][3]]
    assert admin_client.post("/api/records/replay/", {"status": "synced"},
                             content_type="application/json").status_code == 400


@pytest.fixture
def failed_with_two_versions(client, setup):
    """A failed order mapped by version 1; then version 2 of the mapping adds a field and is published."""
    payload = order_payload()
    payload["data"]["items"][0]["sku"] = "SKU-9999"
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    failed = SyncRecord.objects.get(flow__name=demo.ORDER_FLOW)
    assert failed.status == SyncRecord.Status.FAILED and failed.mapping_version == 1
    mapping = failed.flow.mapping
    MappingRule.objects.create(mapping=mapping, position=999, target="HUBNOTE", constant="mapped by v2")
    mapping.publish(by="test", note="adds HUBNOTE")
    assert mapping.version == 2
    return failed


def test_replay_against_a_chosen_version_uses_that_versions_output(admin_client, failed_with_two_versions):
    failed = failed_with_two_versions
    answer = admin_client.post(f"/api/records/{failed.pk}/replay/", {"mapping_version": 1}, content_type="application/json")
    assert answer.status_code == 202 and answer.json() == {"replayed": [failed.pk]}
    assert ReplayVersion.objects.get(record=failed).number == 1
    run_worker()
    failed.refresh_from_db()
    assert failed.mapping_version == 1 and "HUBNOTE" not in failed.mapped
    assert failed.attempts.order_by("number").last().mapping_version == 1
    assert admin_client.get(f"/api/records/{failed.pk}/").json()["replay_mapping_version"] == 1

    # Replayed without a version: the published one again (and the choice is forgotten).
    admin_client.post(f"/api/records/{failed.pk}/replay/", {}, content_type="application/json")
    run_worker()
    failed.refresh_from_db()
    assert failed.mapping_version == 2 and failed.mapped["HUBNOTE"] == "mapped by v2"
    assert not ReplayVersion.objects.filter(record=failed).exists()


def test_mapping_for_gives_the_pinned_version(failed_with_two_versions):
    failed = failed_with_two_versions
    source = json.loads(failed.event.body)["data"]
    mapping = failed.flow.mapping
    function, number = replays.mapping_for(failed, mapping)
    assert number == 2 and function(source)["HUBNOTE"] == "mapped by v2"
    replays.replay(SyncRecord.objects.filter(pk=failed.pk), mapping_version=1)
    function, number = replays.mapping_for(failed, mapping)
    assert number == 1 and "HUBNOTE" not in function(source)
    assert replays.pinned_versions([failed.pk]) == {failed.pk: 1}


def test_a_version_the_mapping_does_not_have_is_refused(admin_client, failed_with_two_versions):
    failed = failed_with_two_versions
    answer = admin_client.post(f"/api/records/{failed.pk}/replay/", {"mapping_version": 7}, content_type="application/json")
    assert answer.status_code == 400 and "has no version 7" in json.dumps(answer.json())
    failed.refresh_from_db()
    assert failed.status == SyncRecord.Status.FAILED and not queued_replays()


def test_edit_and_replay_keeps_the_original_and_takes_a_version(admin_client, failed_with_two_versions):
    failed = failed_with_two_versions
    url = f"/admin/monitoring/syncrecord/{failed.pk}/edit-replay/"
    page = admin_client.get(url).content.decode()
    assert "the published version" in page and "v1" in page and "v2 (adds HUBNOTE)" in page
    bad = admin_client.post(url, {"record": "{not json", "mapping_version": "1"})
    assert bad.status_code == 200 and "not valid JSON" in bad.content.decode()
    assert not ReplayVersion.objects.exists()

    corrected = {**json.loads(failed.event.body)["data"]}
    corrected["items"][0]["sku"] = "SKU-0001"
    done = admin_client.post(url, {"record": json.dumps(corrected), "mapping_version": "1"})
    assert done.status_code == 302
    failed.refresh_from_db()
    assert failed.source_override["items"][0]["sku"] == "SKU-0001"
    assert "SKU-9999" in failed.event.body  # the event keeps what the store sent
    assert ReplayVersion.objects.get(record=failed).number == 1
    assert queued_replays() == {failed.pk}
