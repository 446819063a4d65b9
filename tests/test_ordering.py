"""Order per record: events about one source record are applied in order, and an update older than the
one already applied is skipped and recorded as stale, for an operator to see."""

import pytest

from connectors.base import Connector
from hub import demo
from hub.models import Flow
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord
from tests.helpers import run_worker, signed_post
from tests.test_drain import order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(simulators):
    config = demo.seed(simulators.url)
    flow = Flow.objects.get(name=demo.PS_ORDERS_FLOW)
    Flow.objects.filter(pk=flow.pk).update(source_event="*")  # created and updated orders alike
    Flow.objects.exclude(pk=flow.pk).update(enabled=False)
    return {"secret": config["prestashop_secret"], "flow": flow}


def push(client, setup, action, **changes):
    payload = order(1, **changes)
    payload["action"] = action
    response = signed_post(client, demo.PRESTASHOP_SLUG, payload, setup["secret"])
    assert response.status_code == 202, response.content


def the_document(simulators):
    [document] = [d for d in simulators.domino.documents.values() if d.items.get("OrderNumber") == "T0000001"]
    return document


def test_an_update_older_than_the_one_applied_is_skipped_as_stale(client, setup, simulators):
    push(client, setup, "add", date_upd="2026-11-26 09:15:02", current_state="2")
    push(client, setup, "update", date_upd="2026-11-26 11:00:00", current_state="4")  # shipped
    run_worker()
    assert the_document(simulators).items["Status"] == "Shipped"

    # A late, reordered delivery of an update made in between: older than what the target has.
    push(client, setup, "update", date_upd="2026-11-26 10:00:00", current_state="3")
    run_worker()

    assert the_document(simulators).items["Status"] == "Shipped"  # not taken back to Picked
    stale = SyncRecord.objects.get(status=SyncRecord.Status.STALE)
    [attempt] = stale.attempts.all()
    assert attempt.outcome == SyncAttempt.Outcome.STALE
    assert attempt.note == ("stale: version 2026-11-26T10:00:00.000000Z older than applied "
                            "2026-11-26T11:00:00.000000Z")
    assert stale.event.status == InboundEvent.Status.PROCESSED  # settled: nothing left to do
    assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 2


def test_events_about_one_record_in_one_batch_are_applied_in_their_order(client, setup, simulators):
    push(client, setup, "add", date_upd="2026-11-26 09:15:02", current_state="2")
    push(client, setup, "update", date_upd="2026-11-26 10:00:00", current_state="3")
    push(client, setup, "update", date_upd="2026-11-26 11:00:00", current_state="4")
    run_worker()  # one drain, one batch: the create, then each update in turn

    assert the_document(simulators).items["Status"] == "Shipped"
    records = list(SyncRecord.objects.order_by("event_id"))
    assert [r.status for r in records] == [SyncRecord.Status.SYNCED] * 3
    assert len({r.target_id for r in records}) == 1  # one document, updated twice
    assert [r.source_version for r in records] == ["2026-11-26T09:15:02.000000Z", "2026-11-26T10:00:00.000000Z",
                                                   "2026-11-26T11:00:00.000000Z"]


def test_an_operators_replay_sends_the_record_whatever_was_applied_since(client, setup, simulators):
    from hub import jobs

    push(client, setup, "add", date_upd="2026-11-26 09:15:02", current_state="2")
    push(client, setup, "update", date_upd="2026-11-26 11:00:00", current_state="4")
    run_worker()
    first = SyncRecord.objects.order_by("event_id").first()
    jobs.enqueue_replay(first.pk)
    run_worker()
    first.refresh_from_db()
    assert first.status == SyncRecord.Status.SYNCED and first.attempts.count() == 2
    assert the_document(simulators).items["Status"] == "New"  # the operator chose to send the older one


@pytest.mark.parametrize("record, stamp", [
    ({"lastRenewDate": 1764148502}, "2025-11-26T09:15:02.000000Z"),  # X-Cart: epoch seconds
    ({"date_upd": "2026-11-26 09:15:02"}, "2026-11-26T09:15:02.000000Z"),  # PrestaShop
    ({"@modified": "2026-11-26T09:15:02Z"}, "2026-11-26T09:15:02.000000Z"),  # Domino DAS
    ({"@meta": {"lastmodified": "2026-11-26T10:15:02+01:00"}}, "2026-11-26T09:15:02.000000Z"),  # Domino REST API
    ({"LMDT": "20261126", "LMTS": "91502"}, "2026-11-26T09:15:02.000000Z"),  # M3 change date and time
    ({"CreationDateTime": "2026-11-26T09:15:02.123Z"}, "2026-11-26T09:15:02.123000Z"),  # an ION BOD
    ({"quantity": 5}, ""),  # says nothing: never stale
])
def test_each_systems_change_stamp_is_read_for_pushed_and_polled_records(record, stamp):
    assert Connector(None).record_changed_at("order", record) == stamp


def test_the_version_applied_is_the_greatest_by_code_point_among_synced_records(setup):
    """The newest version is taken in the database (one row per record, however many were synced),
    compared as Python compares the versions, not by the database's language collation."""
    from hub.pipeline import applied_versions

    flow, other = setup["flow"], Flow.objects.exclude(pk=setup["flow"].pk).first()
    rows = [("a", SyncRecord.Status.SYNCED, flow), ("B", SyncRecord.Status.SYNCED, flow),
            ("2026-12-01 09:00:00", SyncRecord.Status.SYNCED, flow), ("", SyncRecord.Status.SYNCED, flow),
            ("z", SyncRecord.Status.FAILED, flow), ("zz", SyncRecord.Status.SYNCED, other)]
    for n, (version, status, row_flow) in enumerate(rows):
        event = InboundEvent.objects.create(connection=flow.source, idempotency_key=f"v{n}", topic="order.updated",
                                            source_id="42", body="{}")
        SyncRecord.objects.create(event=event, flow=row_flow, source_id="42", status=status, source_version=version)
    assert applied_versions({(flow.pk, "42"), (flow.pk, "43")}) == {(flow.pk, "42"): "a"}  # "a" > "B" > "2026..."
