"""What one batch costs the database: a fixed number of statements whatever its size (no per-record
query), and the bulk writes that make that possible store exactly what the ORM would."""


import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import scenario
from connectors.simulators import SimulatorServer
from hub import bulkwrite, claims, drain
from hub.models import HubWrite, Link
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

pytestmark = pytest.mark.django_db(transaction=True)

# Statements of one batch of the bulk path, besides BEGIN / COMMIT: the claim (which returns the events),
# the hub's writes (echoes), the links (both ways in one), the ledger rows, the applied versions; the inserts
# of records, attempts, links and hub writes and the events' states (one transaction). The flows are
# read once and kept while the configuration does not change (tests/test_configcache.py), and a
# success on a closed circuit with no failure counted writes nothing. And, once per drain job, the
# two empty claims and the look for due retries.
PER_BATCH = 10
PER_DRAIN = 3

TRICKY = ['say "hi"', "back\\slash", "{braces}, commas", "NULL", "", "new\nline", "tab\tend", "ünïcødé ☃",
          "quote ' single", '\\"both\\"', "  spaces  ", "a,b", "}{", "x" * 5000]


@pytest.fixture
def rest_flow():
    server = SimulatorServer(port=0).start()
    try:
        yield scenario.seed(server.url)
    finally:
        server.stop()


def store(setup, count: int, start: int) -> list[InboundEvent]:
    return scenario.store_orders(setup, count, start, prefix="q")


def drained_with_queries(setup) -> list[str]:
    """The statements of one drain job (BEGIN / COMMIT / savepoints left out: SQLite has them where
    PostgreSQL does not)."""
    with CaptureQueriesContext(connection) as queries:
        assert drain.drain(setup.source_id, 0) > 0
    statements = [q["sql"] or "(pipelined: psycopg knows its text only later)" for q in queries.captured_queries]
    return [sql for sql in statements if sql.split()[0].upper() not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]


def warm_up(setup):
    """One event through the flow first: the process reads the flows and compiles the mapping once."""
    store(setup, 1, 99_000)
    drain.drain(setup.source_id, 0)


@pytest.mark.parametrize("count", [20, 150])
def test_one_batch_costs_a_fixed_number_of_queries_whatever_its_size(rest_flow, settings, count,
                                                                    django_assert_max_num_queries):
    settings.HUB_PARTITIONS, settings.HUB_BATCH_SIZE = 1, 200
    warm_up(rest_flow)
    store(rest_flow, count, 0)
    transactions = 2 * 4  # BEGIN and COMMIT (both backends log them): claim, batch, two empty claims
    with django_assert_max_num_queries(PER_BATCH + PER_DRAIN + transactions):
        assert drain.drain(rest_flow.source_id, 0) == count
    assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == count + 1
    assert SyncAttempt.objects.count() == count + 1 and Link.objects.count() == count + 1
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}


def test_each_further_batch_adds_the_same_few_queries(rest_flow, settings):
    settings.HUB_PARTITIONS, settings.HUB_BATCH_SIZE = 1, 25
    settings.HUB_DRAIN_SLICE = 60  # all four batches in one job
    warm_up(rest_flow)
    store(rest_flow, 25, 0)
    one = drained_with_queries(rest_flow)
    assert len(one) == PER_BATCH + PER_DRAIN, one
    store(rest_flow, 100, 1000)
    four = drained_with_queries(rest_flow)
    assert len(four) == 4 * PER_BATCH + PER_DRAIN, four
    assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 126


def test_insert_rows_stores_what_bulk_create_stores(rest_flow):
    setup = rest_flow
    events = store(setup, len(TRICKY) * 2, 5000)
    from hub.models import Flow

    flow = Flow.objects.get(pk=setup.flow_id)

    now = timezone.now()

    def records(events):
        return [SyncRecord(event=e, flow=flow, source_id=text[:100], target_id=text[:100], error=text,
                           mapped={"k": text, text[:50]: [text, None, 1.5, True], "n": {"deep": text}},
                           attempt_count=n, status=SyncRecord.Status.SYNCED, synced_at=now)
                for n, (e, text) in enumerate(zip(events, TRICKY))]

    ours, theirs = records(events[:len(TRICKY)]), records(events[len(TRICKY):])
    bulkwrite.insert_rows(SyncRecord, ours)
    SyncRecord.objects.bulk_create(theirs)
    assert all(r.pk for r in ours) and not any(r._state.adding for r in ours)
    fields = [f.attname for f in SyncRecord._meta.concrete_fields if f.attname not in ("id", "event_id", "created_at",
                                                                                         "updated_at")]
    for mine, django in zip(ours, theirs):
        stored = SyncRecord.objects.values(*fields).get(pk=mine.pk)
        assert stored == SyncRecord.objects.values(*fields).get(pk=django.pk)
        assert stored["mapped"] == mine.mapped and stored["error"] == mine.error
        assert SyncRecord.objects.get(pk=mine.pk).event_id == mine.event_id  # the pk came back in order
    stored = SyncRecord.objects.get(pk=ours[0].pk)
    assert stored.created_at and stored.updated_at  # auto_now_add / auto_now set as the ORM sets them

    # attempts made before their record had a pk get its id, as with bulk_create
    record = SyncRecord(event=events[0], flow=flow, source_id="late")
    attempt = SyncAttempt(record=record, number=1, outcome=SyncAttempt.Outcome.DELIVERED, started_at=timezone.now(),
                          exchanges=[{"request": text} for text in TRICKY])
    SyncRecord.objects.filter(event=events[0]).delete()
    bulkwrite.insert_rows(SyncRecord, [record])
    bulkwrite.insert_rows(SyncAttempt, [attempt])
    assert SyncAttempt.objects.get(pk=attempt.pk).exchanges == [{"request": text} for text in TRICKY]
    assert SyncAttempt.objects.get(pk=attempt.pk).record_id == record.pk


def test_insert_rows_conflicts(rest_flow):
    link = dict(entity="order", source_connection_id=rest_flow.source_id, source_id="1",
                target_connection_id=rest_flow.target_id, target_entity="order", target_id="A", flow_id=rest_flow.flow_id)
    bulkwrite.insert_rows(Link, [Link(**link)], ignore_conflicts=True)
    bulkwrite.insert_rows(Link, [Link(**{**link, "target_id": "B"}), Link(**{**link, "source_id": "2"})],
                          ignore_conflicts=True)
    assert sorted(Link.objects.values_list("source_id", "target_id")) == [("1", "A"), ("2", "A")]

    def write(record_id, fields):
        return HubWrite(connection_id=rest_flow.target_id, entity="order", record_id=record_id, fields=fields)

    upsert = dict(update_conflicts=True, unique_fields=["connection", "entity", "record_id"],
                  update_fields=["fields", "written_at"])
    bulkwrite.insert_rows(HubWrite, [write("U1", {"a": 1})], **upsert)
    bulkwrite.insert_rows(HubWrite, [write("U1", {"a": 'two "2"'}), write("U2", {"b": None})], **upsert)
    assert dict(HubWrite.objects.values_list("record_id", "fields")) == {"U1": {"a": 'two "2"'}, "U2": {"b": None}}

    # JSON the fast writer (orjson) refuses goes by the json module; NaN, which jsonb refuses, is null
    odd = {"big": 2**70, "back\\slash": "é \\ \"", 7: [1.5, True]}
    bulkwrite.insert_rows(HubWrite, [write("U3", odd), write("U4", {"nan": float("nan")})], **upsert)
    stored = dict(HubWrite.objects.values_list("record_id", "fields"))
    assert stored["U3"] == {"big": 2**70, "back\\slash": "é \\ \"", "7": [1.5, True]} and stored["U4"] == {"nan": None}


def test_any_of_is_in(rest_flow):
    events = store(rest_flow, 5, 9000)
    ids = [e.pk for e in events]
    assert sorted(InboundEvent.objects.filter(bulkwrite.any_of("pk", ids[:3] + [None, ids[0]]))
                  .values_list("pk", flat=True)) == ids[:3]
    assert list(InboundEvent.objects.filter(bulkwrite.any_of("pk", []))) == []
    sources = {e.source_id for e in events[1:]} | {"not there", 'quote"d', "back\\slash"}
    assert {e.source_id for e in InboundEvent.objects.filter(bulkwrite.any_of("source_id", sources))} == \
        {e.source_id for e in events[1:]}


def test_claim_events_returns_the_claimed_rows_in_order(rest_flow, settings):
    settings.HUB_PARTITIONS = 1
    events = store(rest_flow, 6, 9100)
    claimed = claims.claim_events(rest_flow.source_id, 0, 4, lease_seconds=30)
    assert [e.pk for e in claimed] == [e.pk for e in events[:4]]
    assert claimed[0].headers == {"content-type": "application/json"} and claimed[0].body == events[0].body
    assert claimed[0].claimed_until > timezone.now() and claimed[0].status == InboundEvent.Status.RECEIVED
    assert claims.claim(rest_flow.source_id, 0, 10, lease_seconds=30) == [e.pk for e in events[4:]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_batch_inserts_are_prepared_after_a_few_batches(rest_flow, settings):
    """DATABASE_PREPARE_THRESHOLD: the INSERTs of records and attempts keep one statement text, so
    from the threshold on the server runs them without parsing and planning them again."""
    settings.HUB_PARTITIONS, settings.HUB_BATCH_SIZE, settings.HUB_DRAIN_SLICE = 1, 2, 60
    store(rest_flow, 2 * (connection.connection.prepare_threshold + 1), 9200)
    drain.drain(rest_flow.source_id, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    for table in (SyncRecord._meta.db_table, SyncAttempt._meta.db_table):
        assert [s for s in prepared if s.startswith(f'INSERT INTO "{table}"')], prepared
