"""Batch draining: one drain job per partition, claims with leases, bulk calls into Domino's REST API,
exactly one target document per source order whatever was lost, and nothing left behind."""

import copy
import json
import os
import threading
import time
from datetime import timedelta

import django_rq
import pytest
from django.db import IntegrityError, connection as db_connection
from django.utils import timezone

from bench import scenario
from connectors import ingest
from connectors.domino.simulator import DEMO_PASSWORD, DEMO_SCOPE, DEMO_USER, DominoSimulator
from connectors.models import Connection
from connectors.simulators import SimulatorServer
from hub import claims, demo, drain, jobs, pipeline
from hub.models import Flow, Link
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord, partition_of
from tests.helpers import run_worker, signed_post

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURE = json.loads(open(os.path.join(os.path.dirname(__file__), "..", "connectors", "prestashop", "fixtures",
                                       "orders__created.json")).read())


class CountingDomino(DominoSimulator):
    """The Domino simulator, counting the calls it answers (method, path)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def dispatch(self, request):
        if not request.path.startswith(("/_control/", "/_sim/")):
            with self.lock:
                self.calls.append((request.method, request.path))
        return super().dispatch(request)

    def count(self, path):
        return sum(1 for _, p in self.calls if p.endswith(path))


@pytest.fixture
def domino_sim():
    server = SimulatorServer(port=0, domino=CountingDomino()).start()
    yield server
    server.stop()


def order(n: int, **changes) -> dict:
    payload = copy.deepcopy(FIXTURE)
    payload["data"].update(id=700_000 + n, reference=f"T{n:07d}",
                           customer={"id": "9001", "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.org"})
    payload["data"].update(changes)
    return payload


@pytest.fixture
def rest_flow(domino_sim):
    """The demo's PrestaShop -> Domino order flow, into a Domino REST API connection (the bulk path),
    set up as the benchmark and the faults test set it up."""
    seeded = scenario.seed(domino_sim.url)
    flow = Flow.objects.select_related("source").get(pk=seeded.flow_id)
    return {"flow": flow, "secret": seeded.secret, "source": flow.source, "sim": domino_sim.domino}

def post_orders(client, setup, numbers, **changes):
    for n in numbers:
        response = signed_post(client, demo.PRESTASHOP_SLUG, order(n, **changes), setup["secret"])
        assert response.status_code == 202, response.content


def documents_with(sim, number) -> list:
    return [d for d in sim.documents.values() if d.items.get("OrderNumber") == number]


def test_webhooks_queue_one_drain_per_partition_and_the_bulk_path_makes_two_calls(client, rest_flow, settings):
    settings.HUB_PARTITIONS = 1  # every order in one partition: one drain job, one batch
    post_orders(client, rest_flow, range(40))
    queue = django_rq.get_queue("default")
    assert [job.func_name for job in queue.jobs] == ["hub.jobs.drain_partition"]  # not one job per event

    run_worker()

    records = SyncRecord.objects.filter(flow=rest_flow["flow"])
    assert records.count() == 40 and set(records.values_list("status", flat=True)) == {SyncRecord.Status.SYNCED}
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}
    sim = rest_flow["sim"]
    assert sim.count("/api/v1/query") == 1 and sim.count("/api/v1/bulk/create") == 1  # one look-up, one bulk create
    assert sim.count("/api/v1/document") == 0
    for n in range(40):
        [document] = documents_with(sim, f"T{n:07d}")
        record = records.get(source_id=str(700_000 + n))
        assert record.target_id == document.unid
        assert Link.objects.filter(source_id=record.source_id, target_id=document.unid).count() == 1
        [attempt] = record.attempts.all()
        assert attempt.outcome == SyncAttempt.Outcome.DELIVERED and "bulk create of 40" in attempt.note
        # the attempt shows this record's own document, not the whole batch
        [create] = [e for e in attempt.exchanges if "bulk/create" in e["url"]]
        assert create["request"]["OrderNumber"] == f"T{n:07d}" and create["response"]["@meta"]["unid"] == document.unid
    assert not drain_keys()  # the drainer let go of its partition when it was empty


def drain_keys():
    return list(django_rq.get_connection("default").scan_iter(match="hub:drain:*"))


def test_a_worker_killed_between_the_bulk_call_and_its_commit_makes_no_second_document(client, rest_flow, settings,
                                                                                       monkeypatch):
    settings.HUB_PARTITIONS = 1
    post_orders(client, rest_flow, range(5))
    source = rest_flow["source"]
    real_save = pipeline.save

    def killed(works, batch):
        raise SystemExit("worker killed before the batch was committed")

    monkeypatch.setattr(pipeline, "save", killed)
    ids = claims.claim(source.pk, 0, 50, lease_seconds=30)
    with pytest.raises(SystemExit):
        pipeline.process_events(ids)
    sim = rest_flow["sim"]
    assert sim.count("/api/v1/bulk/create") == 1 and len(documents_with(sim, "T0000003")) == 1  # the writes happened
    assert not claims.claim(source.pk, 0, 50, lease_seconds=30)  # still leased to the dead worker

    monkeypatch.setattr(pipeline, "save", real_save)
    InboundEvent.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))  # the lease ran out
    assert jobs.sweep_unqueued_events(older_than_seconds=0) == 1
    run_worker()

    for n in range(5):
        assert len(documents_with(sim, f"T{n:07d}")) == 1  # found by its key item, updated, not created again
    assert sim.count("/api/v1/bulk/create") == 1
    for record in SyncRecord.objects.all():
        assert record.status == SyncRecord.Status.SYNCED
        [attempt] = record.attempts.all()
        assert "found by OrderNumber" in attempt.note


def test_a_second_drainer_of_a_batch_is_refused_by_the_ledger_and_writes_nothing(client, rest_flow, settings,
                                                                                monkeypatch):
    """Two drainers that both read the ledger before either committed (a lease lost mid-batch): the
    second one's batch fails at the unique (event, flow) row, and its whole transaction, pipelined on
    PostgreSQL, is rolled back: no second attempt, the events' states untouched, the connection usable."""
    settings.HUB_PARTITIONS = 1
    post_orders(client, rest_flow, range(3))
    source = rest_flow["source"]
    ids = claims.claim(source.pk, 0, 50, lease_seconds=30)
    pipeline.process_events(ids)
    assert SyncAttempt.objects.count() == 3
    InboundEvent.objects.update(status=InboundEvent.Status.RECEIVED, processed_at=None)

    def as_read_before_the_first_commit(pairs, stored):
        return {(event.pk, flow.pk): SyncRecord(event=event, flow=flow, source_id=event.source_id)
                for event, flow in pairs}

    monkeypatch.setattr(pipeline, "_records", as_read_before_the_first_commit)
    with pytest.raises(IntegrityError):
        pipeline.process_events(ids)
    assert SyncRecord.objects.count() == 3 and SyncAttempt.objects.count() == 3
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.RECEIVED}
    assert all(len(documents_with(rest_flow["sim"], f"T{n:07d}")) == 1 for n in range(3))


def test_a_batch_write_that_fails_at_its_end_is_rolled_back_whole(client, rest_flow, settings, monkeypatch):
    """The events' states are the batch's last statement and have no result to wait for: on PostgreSQL
    their error comes back only with the pipeline's end. It is still Django's error, nothing of the
    batch stays (its records were inserted first, in the same transaction), and the connection is fine."""
    settings.HUB_PARTITIONS = 1
    post_orders(client, rest_flow, range(2))
    ids = claims.claim(rest_flow["source"].pk, 0, 50, lease_seconds=30)

    def refused_states(updates):
        with db_connection.cursor() as cursor:  # NOT NULL: the database refuses it
            cursor.execute(f"UPDATE {InboundEvent._meta.db_table} SET status = NULL WHERE id = %s", [ids[0]])

    monkeypatch.setattr(pipeline, "_settle", refused_states)
    with pytest.raises(IntegrityError):
        pipeline.process_events(ids)
    assert SyncRecord.objects.count() == 0 and SyncAttempt.objects.count() == 0
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.RECEIVED}
    monkeypatch.undo()
    InboundEvent.objects.update(claimed_until=None)
    drain.drain(rest_flow["source"].pk, 0)  # the same connection, the same batch: delivered now
    assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 2
    assert all(len(documents_with(rest_flow["sim"], f"T{n:07d}")) == 1 for n in range(2))  # found, not made twice


def test_claims_are_oldest_first_exclusive_and_leased(rest_flow):
    source = rest_flow["source"]
    events = [InboundEvent.objects.create(connection=source, idempotency_key=f"k{n}", topic="order.created",
                                          source_id="42", body="{}") for n in range(5)]
    partition = partition_of("42")
    assert {e.partition for e in InboundEvent.objects.all()} == {partition}
    first = claims.claim(source.pk, partition, 3, lease_seconds=30)
    assert first == [e.pk for e in events[:3]]
    assert claims.claim(source.pk, partition, 3, lease_seconds=30) == [e.pk for e in events[3:]]
    assert claims.claim(source.pk, partition, 3, lease_seconds=30) == []
    InboundEvent.objects.filter(pk=events[0].pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert claims.claim(source.pk, partition, 3, lease_seconds=30) == [events[0].pk]  # a dead claimer's lease ended
    InboundEvent.objects.filter(pk=events[1].pk).update(status=InboundEvent.Status.PROCESSED,
                                                        claimed_until=timezone.now() - timedelta(seconds=1))
    InboundEvent.objects.filter(pk__in=[e.pk for e in events[2:]]).update(claimed_until=None)
    assert claims.claim(source.pk, partition, 10, lease_seconds=30) == [e.pk for e in events[2:]]


def test_an_event_committed_while_the_drainer_decides_empty_is_not_stranded(client, rest_flow, settings, monkeypatch):
    settings.HUB_PARTITIONS = 1
    source = rest_flow["source"]
    real_release = drain._release_key
    late = []

    def release_then_an_event_arrives(connection_id, partition):
        released = real_release(connection_id, partition)
        if not late:  # between "empty" and the exit, a webhook commits (and signals: the key is gone)
            late.append(signed_post(client, demo.PRESTASHOP_SLUG, order(1), rest_flow["secret"]).status_code)
        return released

    monkeypatch.setattr(drain, "_release_key", release_then_an_event_arrives)
    drain.signal(source.pk, 0)
    run_worker()
    assert late == [202]
    assert SyncRecord.objects.get().status == SyncRecord.Status.SYNCED
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


def test_events_stored_while_redis_was_down_are_drained_by_the_sweeper(client, rest_flow, settings,
                                                                        django_capture_on_commit_callbacks):
    settings.HUB_PARTITIONS = 4
    good_queues = settings.RQ_QUEUES
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:9/0", "DEFAULT_TIMEOUT": 5}}
    post_orders(client, rest_flow, range(6))
    ingest.shutdown()  # the web process stops: the signals its window still held are tried (and fail) now
    settings.RQ_QUEUES = good_queues
    assert not django_rq.get_queue("default").jobs  # nothing reached Redis
    assert jobs.sweep_unqueued_events() == 0  # too fresh: a signal may still be on its way
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(seconds=30))
    partitions = set(InboundEvent.objects.values_list("partition", flat=True))
    assert jobs.sweep_unqueued_events() == len(partitions)
    run_worker()
    assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 6


@pytest.mark.parametrize("slice_seconds, another_job_waits, records_in_the_first_job", [
    (-1, False, 2),  # the slice is up after every batch
    (60, True, 2),  # a job waits for a worker: one batch is the turn
    (60, False, 5),  # nobody waits: the job drains on
])
def test_a_drain_job_hands_over_after_its_turn(client, rest_flow, settings, slice_seconds, another_job_waits,
                                               records_in_the_first_job):
    settings.HUB_PARTITIONS = 1
    settings.HUB_BATCH_SIZE = 2
    settings.HUB_DRAIN_SLICE = slice_seconds
    post_orders(client, rest_flow, range(5))
    queue = django_rq.get_queue("default")
    [job] = queue.jobs
    queue.remove(job)  # as a worker takes it
    waiting = [queue.enqueue(jobs.wake_partition, rest_flow["source"].pk, 7)] if another_job_waits else []
    job.perform()
    assert SyncRecord.objects.count() == records_in_the_first_job
    handed_over = [j.func_name for j in queue.jobs if j not in waiting]
    assert handed_over == (["hub.jobs.drain_partition"] if records_in_the_first_job < 5 else [])
    run_worker()
    assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 5


def test_per_record_targets_run_on_threads_and_keep_one_record_in_order(client, settings):
    """Targets without bulk (DAS): records of a batch go on the thread pool, events about one record in order."""
    with SimulatorServer(port=0) as sims:
        config = demo.seed(sims.url)
        flow = Flow.objects.get(name=demo.PS_ORDERS_FLOW)
        Flow.objects.filter(pk=flow.pk).update(source_event="*")
        Flow.objects.exclude(pk=flow.pk).update(enabled=False)
        settings.HUB_PARTITIONS = 1
        setup = {"secret": config["prestashop_secret"]}
        post_orders(client, setup, range(12))
        payload = order(3, date_upd="2026-11-26 10:00:00", current_state="4")
        payload["action"] = "update"
        assert signed_post(client, demo.PRESTASHOP_SLUG, payload, setup["secret"]).status_code == 202
        run_worker()
        assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 13
        [document] = [d for d in sims.domino.documents.values() if d.items.get("OrderNumber") == "T0000003"]
        assert document.items["Status"] == demo.PRESTASHOP_STATE_TO_DOMINO["4"]  # the update came after the create
        assert Link.objects.filter(source_id=str(700_003)).count() == 1


@pytest.mark.skipif(db_connection.vendor != "postgresql",
                    reason="two drainers at once need PostgreSQL (row locks, SKIP LOCKED); SQLite has one writer")
def test_two_drainers_on_postgresql_never_process_one_event_twice(client, rest_flow, settings):
    settings.HUB_PARTITIONS = 1
    settings.HUB_BATCH_SIZE = 7
    post_orders(client, rest_flow, range(60))
    source = rest_flow["source"]
    claimed: list[list[int]] = [[], []]

    def drainer(n):  # each thread has its own database connection, as a worker process would
        try:
            while True:
                ids = claims.claim(source.pk, 0, settings.HUB_BATCH_SIZE, 30)
                if not ids:
                    return
                claimed[n].extend(ids)
                pipeline.process_events(ids)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=drainer, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert claimed[0] and claimed[1]  # both worked
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 60
    assert SyncAttempt.objects.count() == 60 and SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 60
    sim = rest_flow["sim"]
    assert all(len(documents_with(sim, f"T{n:07d}")) == 1 for n in range(60))


def test_a_webhook_costs_no_query_of_its_own_and_queues_no_job_while_a_drain_is_pending(client, rest_flow, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.HUB_PARTITIONS = 1
    post_orders(client, rest_flow, [0])  # the first: looks the connection up, queues the partition's drain job
    with CaptureQueriesContext(connection) as queries:
        post_orders(client, rest_flow, [1, 2, 3])
    # the rows went through the committer's thread (one INSERT per batch: tests/test_ingest.py)
    assert queries.captured_queries == []
    assert InboundEvent.objects.count() == 4
    assert len(django_rq.get_queue("default").jobs) == 1  # still the one drain job


def test_the_domino_simulators_bulk_endpoints_and_key_look_up(domino_sim):
    import requests

    base = f"{domino_sim.url}/domino/api/v1"
    bearer = requests.post(f"{base}/auth", json={"username": DEMO_USER, "password": DEMO_PASSWORD}, timeout=5).json()["bearer"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {bearer}"
    params = {"dataSource": DEMO_SCOPE}

    def find(*keys):
        dql = "form = 'Order Record' and OrderNumber in (" + ", ".join(f"'{k}'" for k in keys) + ")"
        answer = session.post(f"{base}/query", params={**params, "action": "execute"}, json={"query": dql}, timeout=5)
        return sorted(d["OrderNumber"] for d in answer.json())

    assert find("DO-1001", "DO-1002", "nope") == ["DO-1001", "DO-1002"]  # builds the index of OrderNumber
    created = session.post(f"{base}/bulk/create", params=params, timeout=5, json={"documents": [
        {"Form": "Order Record", "OrderNumber": "N-1"}, {"OrderNumber": "no form"}, {"Form": "Order Record", "OrderNumber": "N-2"}]})
    assert created.status_code == 200
    first, refused, second = created.json()
    assert first["OrderNumber"] == "N-1" and len(first["@meta"]["unid"]) == 32
    assert refused["status"] == 400 and "Form" in refused["message"]
    assert find("n-1", "N-2") == ["N-1", "N-2"]  # new documents are in the index; text compares folded
    updated = session.post(f"{base}/bulk/update", params=params, timeout=5, json={
        "query": "form = 'Order Record' and OrderNumber in ('N-1', 'N-2')", "replaceItems": {"Status": "Picked"}})
    assert [a["status"] for a in updated.json()] == [200, 200]
    assert {domino_sim.domino.documents[d["@meta"]["unid"]].items["Status"] for d in (first, second)} == {"Picked"}
    session.patch(f"{base}/document/{first['@meta']['unid']}", params=params, json={"OrderNumber": "N-9"}, timeout=5)
    assert find("N-1", "N-9") == ["N-9"]  # a changed key moves in the index
    session.delete(f"{base}/document/{second['@meta']['unid']}", params=params, timeout=5)
    assert find("N-2") == []


def test_one_drainer_per_partition_at_a_time(client, rest_flow, settings, monkeypatch):
    settings.HUB_PARTITIONS = 1
    monkeypatch.setattr(drain, "WAIT_FOR_DRAINER_SECONDS", 0.1)
    post_orders(client, rest_flow, range(3))
    source = rest_flow["source"]
    other = django_rq.get_connection("default").lock(f"hub:draining:{source.pk}:0", timeout=30)
    assert other.acquire(blocking=False)  # another worker is draining this partition
    assert drain.drain(source.pk, 0) == 0  # so this job leaves the events to it, without holding its worker,
    assert not SyncRecord.objects.exists()
    [again] = django_rq.get_queue("default").scheduled_job_registry.get_job_ids()  # and looks again shortly
    assert django_rq.get_queue("default").fetch_job(again).func_name == "hub.jobs.drain_partition"
    other.release()
    assert drain.drain(source.pk, 0) == 3


def test_a_failed_bulk_call_counts_once_for_the_circuit_and_its_records_retry_as_a_batch(client, rest_flow, settings,
                                                                                         fast_retries):
    import requests

    settings.HUB_PARTITIONS = 1
    settings.HUB_DRAIN_SLICE = 60  # the first job makes the whole first pass, however slow the machine
    post_orders(client, rest_flow, range(30))
    sim = rest_flow["sim"]
    requests.post(f"{rest_flow['flow'].target.base_url}/_control/faults", json={"fail_next": 1}, timeout=5)  # the token call
    queue = django_rq.get_queue("default")
    [job] = queue.jobs
    queue.remove(job)  # as a worker takes it: a job still queued would count as one waiting for its turn
    job.perform()  # the first pass: the token call is answered 503, the whole batch is one failed call
    target = Connection.objects.get(pk=rest_flow["flow"].target_id)
    assert target.circuit == Connection.Circuit.CLOSED and target.circuit_failures == 1
    assert set(SyncRecord.objects.values_list("status", flat=True)) == {SyncRecord.Status.RETRYING}
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.RECEIVED}
    [wake] = [queue.fetch_job(j) for j in queue.scheduled_job_registry.get_job_ids()]
    assert wake.func_name == "hub.jobs.wake_partition"  # one wake-up for the batch, not a job per record

    run_worker()
    assert SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == 30
    assert sim.count("/api/v1/bulk/create") == 1  # the retries went as one bulk call too
    assert all(r.attempts.count() == 2 for r in SyncRecord.objects.all())


def _wait_for(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class DrainJobInAThread:
    """The drain job queued by the first webhook, run by a "worker" thread while the test goes on; on
    the way out a job is queued for another partition, so that the lingering drainer gives its worker up."""

    def __init__(self, source):
        self.source, self.queue, self.drained = source, django_rq.get_queue("default"), []
        [self.job] = self.queue.jobs
        self.queue.remove(self.job)  # as a worker takes it
        self.thread = threading.Thread(target=self._work)

    def _work(self):
        try:
            self.drained.append(self.job.perform())
        finally:
            db_connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        waiting = self.queue.enqueue(jobs.wake_partition, self.source.pk, 7)  # a job waits for a worker...
        self.thread.join(timeout=15)
        self.queue.remove(waiting)


def synced(count: int) -> bool:
    return _wait_for(lambda: SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count() == count)


def test_a_drainer_that_empties_its_partition_lingers_for_what_commits_next(client, rest_flow, settings):
    settings.HUB_PARTITIONS = 1
    settings.HUB_DRAIN_SLICE = settings.HUB_DRAIN_LINGER = 60  # only a waiting job ends it here
    settings.HUB_DRAIN_GATHER = 0
    post_orders(client, rest_flow, [0])
    with DrainJobInAThread(rest_flow["source"]) as running:
        assert synced(1)
        post_orders(client, rest_flow, [1])  # committed while the job waits on its empty partition
        assert synced(2)
        assert not running.queue.jobs  # no second job: the one already running claimed the new event
        assert running.thread.is_alive()
    assert not running.thread.is_alive()  # ...so the lingering drainer gave its worker up
    assert running.drained == [2]
    assert InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() == 2
    assert not django_rq.get_connection("default").exists(drain.key(rest_flow["source"].pk, 0))  # it left properly


def test_a_busy_partition_gathers_what_commits_right_after_a_batch(client, rest_flow, settings):
    settings.HUB_PARTITIONS = 1
    settings.HUB_DRAIN_SLICE = settings.HUB_DRAIN_LINGER = 60
    settings.HUB_DRAIN_GATHER = 3  # nudged within 3 s of a batch's end: the partition counts as busy
    post_orders(client, rest_flow, [0])
    with DrainJobInAThread(rest_flow["source"]) as running:
        assert synced(1)
        post_orders(client, rest_flow, [1, 2])  # one after the other, each nudging the drainer
        assert synced(3)
    assert running.drained == [3]
    # Order 0 alone, then 1 and 2 in one batch: one look-up and one bulk create for both.
    assert rest_flow["sim"].count("/api/v1/bulk/create") == 2 and rest_flow["sim"].count("/api/v1/query") == 2


def test_a_retry_that_comes_due_as_the_drainer_leaves_is_drained_again(client, rest_flow, settings):
    """The drainer's last claim found nothing, then a short retry delay ran out before it looked for
    the next one due: the partition is signalled at once, not left to the sweeper."""
    settings.HUB_PARTITIONS = 1
    post_orders(client, rest_flow, [0])
    queue = django_rq.get_queue("default")
    queue.empty()
    django_rq.get_connection("default").delete(drain.key(rest_flow["source"].pk, 0))
    InboundEvent.objects.update(claimed_until=timezone.now() - timedelta(milliseconds=5))  # a retry, due already
    drain.wake_when_due(rest_flow["source"].pk, 0)
    assert [job.func_name for job in queue.jobs] == ["hub.jobs.drain_partition"]
    run_worker()
    assert SyncRecord.objects.get().status == SyncRecord.Status.SYNCED
