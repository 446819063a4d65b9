"""The log tables' references have no FOREIGN KEY constraint in the database (PostgreSQL's check of
each one, for each row a batch inserts, was a fifth of its time), and the ORM still applies their
on_delete rules: what an operator or the admin deletes is protected or cascades as before."""

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.utils import timezone

from connectors.models import Connection
from hub import demo
from hub.models import Flow, HubWrite, Link
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

pytestmark = pytest.mark.django_db

LOG_TABLES = [InboundEvent, SyncRecord, SyncAttempt, Link, HubWrite]


@pytest.mark.parametrize("model", LOG_TABLES)
def test_the_log_tables_carry_no_foreign_key_constraint_but_keep_their_indexes(model):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    assert not [name for name, c in found.items() if c["foreign_key"]]
    indexed = {c["columns"][0] for c in found.values() if c["index"] or c["unique"]}
    for field in model._meta.concrete_fields:
        if field.is_relation:  # each reference is still the first column of an index
            assert field.column in indexed, f"{model.__name__}.{field.name} lost its index"


@pytest.fixture
def logged():
    """One event of the demo's PrestaShop order flow, its record with one attempt, and its link."""
    demo.seed("http://127.0.0.1:9")
    flow = Flow.objects.get(name=demo.PS_ORDERS_FLOW)
    event = InboundEvent.objects.create(connection=flow.source, idempotency_key="k1", topic="order.created",
                                        source_id="1", body="{}")
    record = SyncRecord.objects.create(event=event, flow=flow, source_id="1")
    SyncAttempt.objects.create(record=record, number=1, outcome=SyncAttempt.Outcome.DELIVERED, started_at=timezone.now())
    link = Link.objects.create(entity="order", source_connection=flow.source, source_id="1",
                               target_connection=flow.target, target_id="T1", target_entity="order", flow=flow)
    return {"flow": flow, "event": event, "record": record, "link": link}


def test_what_the_log_refers_to_is_still_protected(logged):
    with pytest.raises(ProtectedError):
        logged["flow"].delete()
    with pytest.raises(ProtectedError):
        logged["event"].delete()
    with pytest.raises(ProtectedError):
        Connection.objects.get(pk=logged["flow"].source_id).delete()


def test_deleting_through_the_orm_still_cascades_and_sets_null(logged):
    logged["record"].delete()
    assert not SyncAttempt.objects.exists()  # CASCADE
    logged["event"].delete()  # nothing protects it any more
    flow = logged["flow"]
    flow.delete()
    logged["link"].refresh_from_db()
    assert logged["link"].flow_id is None  # SET_NULL
