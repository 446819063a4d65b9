"""Conflicts: a flow's choice of which side wins, field by field, applied by the Domino connector on the
document as it is when the hub updates it, also after an edit conflict (412/409) made it read it again.

Real Domino simulator over HTTP, both APIs (DAS and the REST API)."""

import pytest
import requests
from django.core.exceptions import ValidationError

from connectors.domino.simulator import NOTES_USER
from connectors.models import Connection
from hub import conflicts, demo
from hub.models import Flow, HubWrite

pytestmark = pytest.mark.django_db(transaction=True)
FIRST = {"OrderNumber": "PS-77", "CustomerName": "Grace Hopper", "Status": "New", "Total": 10.5}


@pytest.fixture(params=["basic", "domino_jwt"])
def flow(request, simulators):
    demo.seed(simulators.url)
    Connection.objects.filter(slug=demo.DOMINO_SLUG).update(auth_kind=request.param)
    return Flow.objects.select_related("target").get(name=demo.PS_ORDERS_FLOW)


def delivered_first(flow) -> str:
    """The hub's first delivery: the document, and what the hub wrote (as the pipeline remembers it)."""
    unid = flow.target.connector().perform(flow.target_action, dict(FIRST)).target_id
    HubWrite.objects.create(connection=flow.target, entity=flow.target_entity, record_id=unid, fields=dict(FIRST))
    return unid


def notes_user_edits(simulators, unid, **items):
    requests.post(f"{simulators.url}/domino/_sim/documents/{unid}", json=items, timeout=5).raise_for_status()


def update(flow, unid, **changes):
    flow.refresh_from_db()
    connector = flow.target.connector()
    connector.keep_target_fields = conflicts.keeper(flow)
    return connector.perform(flow.target_action, {**FIRST, **changes}, target_id=unid)


def test_a_field_the_target_wins_keeps_the_value_changed_there(flow, simulators):
    unid = delivered_first(flow)
    notes_user_edits(simulators, unid, Status="Picked")  # the order desk moved it on
    Flow.objects.filter(pk=flow.pk).update(conflict_policy={"default": "source",
                                                            "fields": {"Status": "target", "CustomerName": "target"}})
    result = update(flow, unid, Status="New", CustomerName="Grace B. Hopper", Total=12.0)
    document = simulators.domino.documents[unid]
    assert document.items["Status"] == "Picked"  # changed in Domino since the hub wrote it: Domino's
    assert document.items["CustomerName"] == "Grace B. Hopper"  # not changed there: the source's new value
    assert document.items["Total"] == 12.0  # the source wins the other fields
    assert "kept the values changed in Domino of Status" in result.note


def test_without_a_policy_the_source_wins_as_before(flow, simulators):
    unid = delivered_first(flow)
    notes_user_edits(simulators, unid, Status="Picked")
    assert conflicts.keeper(flow) is None
    update(flow, unid, Status="New")
    assert simulators.domino.documents[unid].items["Status"] == "New"


def test_target_by_default_keeps_every_field_changed_there(flow, simulators):
    unid = delivered_first(flow)
    notes_user_edits(simulators, unid, Status="Shipped", Total=99)
    Flow.objects.filter(pk=flow.pk).update(conflict_policy={"default": "target", "fields": {"Total": "source"}})
    update(flow, unid, Status="New", Total=11.0, CustomerName="G. Hopper")
    items = simulators.domino.documents[unid].items
    assert (items["Status"], items["Total"], items["CustomerName"]) == ("Shipped", 11.0, "G. Hopper")


def test_an_edit_conflict_is_refetched_and_the_policy_decided_again(flow, simulators):
    unid = delivered_first(flow)
    HubWrite.objects.filter(record_id=unid).update(fields={**FIRST, "LastEditedBy": "hub"})
    Flow.objects.filter(pk=flow.pk).update(conflict_policy={"fields": {"LastEditedBy": "target"}})
    simulators.domino.faults.update({"conflict_next": 1})  # a Notes user saves just before the hub's update
    result = update(flow, unid, LastEditedBy="hub", Total=13.0)
    items = simulators.domino.documents[unid].items
    assert "1 edit conflict(s)" in result.note and "LastEditedBy" in result.note
    assert items["LastEditedBy"] == NOTES_USER and items["Total"] == 13.0  # theirs kept, ours applied


def test_resolve_compares_with_what_the_hub_last_wrote():
    flow = Flow(conflict_policy={"default": "source", "fields": {"Status": "target", "Note": "target"}})
    mapped = {"Status": "New", "Note": "from the shop", "Total": "12.50"}
    assert conflicts.resolve(flow, mapped, {"Status": "New", "Note": "", "Total": "10"}, {"Status": "New"}) == mapped
    assert conflicts.resolve(flow, mapped, {"Status": "Picked", "Total": "10"}, {"Status": "New"}) == {
        "Note": "from the shop", "Total": "12.50"}
    # Never written by the hub and filled in the target: the target's own value.
    assert "Note" not in conflicts.resolve(flow, mapped, {"Note": "call first"}, {})
    # The same value spelled differently is no change: 12.5 == "12.50".
    flow.conflict_policy = {"default": "target"}
    assert conflicts.resolve(flow, {"Total": 12.5}, {"Total": "12.50"}, {"Total": 12.5}) == {"Total": 12.5}


def test_the_policy_is_checked_in_the_admin_and_the_api(flow, admin_client):
    flow.conflict_policy = {"default": "domino"}
    with pytest.raises(ValidationError) as bad:
        flow.full_clean()
    assert '"default" is "source" or "target"' in str(bad.value)
    flow.conflict_policy = {"fields": {"Status": "notes"}}
    with pytest.raises(ValidationError):
        flow.full_clean()
    answer = admin_client.patch(f"/api/flows/{flow.pk}/", {"conflict_policy": {"fields": {"Status": "tgt"}}},
                                content_type="application/json")
    assert answer.status_code == 400 and "conflict_policy" in answer.json()
    good = {"default": "source", "fields": {"Status": "target"}}
    answer = admin_client.patch(f"/api/flows/{flow.pk}/", {"conflict_policy": good}, content_type="application/json")
    assert answer.status_code == 200 and Flow.objects.get(pk=flow.pk).conflict_policy == good
    page = admin_client.get(f"/admin/hub/flow/{flow.pk}/change/").content.decode()
    assert "Which side wins when the hub updates a record" in page


def test_the_pipeline_applies_the_policy_when_a_replay_updates_the_document(flow, simulators):
    """End to end: a shop order delivered to Domino, moved on in Notes, then sent again by a replay."""
    import json

    from hub import pipeline
    from hub import replay as replays
    from monitoring.models import InboundEvent, SyncRecord

    placed = requests.post(f"{simulators.url}/prestashop/_sim/orders", timeout=5, json={
        "email": "grace.hopper@example.org", "firstname": "Grace", "lastname": "Hopper",
        "address": {"address1": "1 Navy Way", "postcode": "22202", "city": "Arlington", "country_code": "US"},
        "items": [{"reference": "SKU-0007", "quantity": 1}]}).json()["order"]
    order = flow.source.connector().fetch("order", str(placed["id"]))
    event = InboundEvent.objects.create(connection=flow.source, origin=InboundEvent.Origin.POLL, topic="order.created",
                                        idempotency_key=f"order:{placed['id']}:1", source_id=str(placed["id"]),
                                        body=json.dumps(order))
    pipeline.process_event(event.pk)
    record = SyncRecord.objects.get(flow=flow)
    assert record.status == SyncRecord.Status.SYNCED, record.error
    notes_user_edits(simulators, record.target_id, Status="Picked", CustomerName="Grace M. Hopper")
    Flow.objects.filter(pk=flow.pk).update(conflict_policy={"fields": {"Status": "target"}})

    replays.replay(SyncRecord.objects.filter(pk=record.pk))
    pipeline.replay_record(record.pk)
    record.refresh_from_db()
    items = simulators.domino.documents[record.target_id].items
    assert record.status == SyncRecord.Status.SYNCED, record.error
    assert items["Status"] == "Picked"  # Domino wins Status
    assert items["CustomerName"] == "Grace Hopper"  # the shop wins the rest
    assert "kept the values changed in Domino of Status" in record.attempts.order_by("number").last().note
