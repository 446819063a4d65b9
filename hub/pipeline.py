"""The path a record travels after ingest: resolve flows, enrich, map, link, deliver, record, a batch at a time.

A drainer hands ``process_events`` a batch of claimed events (hub.drain). Everything a batch needs
is read once for the whole batch: the flows (with their compiled mappings), the links, the hub's
own writes (echoes), the versions already applied; the target calls are bulk calls where the
target has them (``Connector.bulk_actions``) and otherwise run on a few threads, the records of
one source record one after the other; the results are written with bulk inserts and updates.

Per record the rules are those of a single delivery: no flow -> the event is ignored; an echo of
the hub's own write is dropped; ``only_when`` decides whether a flow applies; an open circuit
holds the record (no attempt is used); a ``*.create`` flow never touches a linked record; a thin
payload is fetched; a mapping error is permanent; network trouble is transient and retried with
the flow's policy until it is dead-lettered; an update older than the one applied is skipped as
stale. Every attempt is a row, with its calls redacted.
"""

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from connectors import circuit, jsonio
from connectors.base import ConnectorError
from connectors.models import Connection
from hub import bulkread, bulkwrite, configcache, conflicts, replay
from hub.bulkwrite import any_of, list_param, one_of
from hub.models import Flow, HubWrite, Link
from mappings.engine import MappingError
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord, error_group_of

log = logging.getLogger(__name__)

SETTLED = (SyncRecord.Status.SYNCED, SyncRecord.Status.FAILED, SyncRecord.Status.STALE, SyncRecord.Status.IGNORED)


class PayloadGone(ValueError):
    """The event's body was purged (retention): only an operator's corrected record can be sent."""


# --- reading the source record ------------------------------------------------------------------------

def source_record(event: InboundEvent) -> dict:
    """The full source record: as polled, from the pushed body or message, or fetched when thin.

    Read once per event (echo check, flow conditions and every flow share it)."""
    if not hasattr(event, "_source_record"):
        try:
            event._source_record = _read_source_record(event)
        except (ConnectorError, ValueError) as exc:
            event._source_record = exc
    if isinstance(event._source_record, Exception):
        raise event._source_record
    return event._source_record


def _parse(event: InboundEvent):
    """(record, None) from the stored body, or (None, entity) when the push is thin and must be fetched."""
    if not event.body:
        raise PayloadGone(f"event {event.pk}'s payload was purged by retention; use 'Edit the source record and "
                          "replay' to send it again")
    if event.origin == InboundEvent.Origin.POLL:
        return jsonio.loads(event.body), None
    connector = connector_of(event.connection)
    if event.origin == InboundEvent.Origin.MESSAGE:
        parsed = connector.parse_message(event.body)
    else:
        parsed = connector.parse_push(jsonio.loads(event.body), event.headers)
    return parsed.record, (parsed.entity if parsed.record is None else None)


def _read_source_record(event: InboundEvent) -> dict:
    record, thin_entity = _parse(event)
    if thin_entity is None:
        return record
    return event.connection.connector().fetch(thin_entity, event.source_id)


def _read_all(events: list[InboundEvent]) -> None:
    """Parse every event's record; fetch thin ones on a few threads (each fetch is a network wait)."""
    thin = []
    for event in events:
        try:
            record, thin_entity = _parse(event)
        except (ConnectorError, ValueError) as exc:
            event._source_record = exc
            continue
        if thin_entity is None:
            event._source_record = record
        else:
            thin.append((event, thin_entity))
    if not thin:
        return

    def fetch(item):
        event, entity = item
        try:
            event._source_record = event.connection.connector().fetch(entity, event.source_id)
        except (ConnectorError, ValueError) as exc:
            event._source_record = exc
        except Exception as exc:  # a bug: reported on the record by the delivery that needs it
            log.exception("event %s: fetching the source record failed", event.pk)
            event._source_record = ValueError(f"unexpected {type(exc).__name__} fetching the record: {exc}")

    _run_threaded(fetch, thin)


def _run_threaded(func, items):
    """Run ``func`` over ``items`` on HUB_DELIVERY_THREADS threads (in this thread when one is enough)."""
    threads = min(settings.HUB_DELIVERY_THREADS, len(items))
    if threads <= 1:
        for item in items:
            func(item)
        return

    def guarded(item):
        try:
            func(item)
        finally:
            db_connection.close()  # a pool thread's own connection, if the call opened one

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deliver") as pool:
        list(pool.map(guarded, items))


def record_value(record: dict, path: str):
    for part in path.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


# --- what one batch reads once ----------------------------------------------------------------------

class Links:
    """The links of a batch's records both ways, read in one query; new links are added as they are made."""

    def __init__(self, source_ids: dict[int, set[str]], rows=None):
        """``rows``: what ``Links.read(source_ids)`` answered (read now when not given)."""
        self.forward, self.backward = {}, {}
        rows = rows if rows is not None else Links.read(source_ids).result()
        for row in rows:
            src, _, source_id, tgt, _, target_id = row
            if source_id in source_ids.get(src, ()):
                self.forward[row[:5]] = target_id
            if target_id in source_ids.get(tgt, ()):
                self.backward.setdefault((src, tgt, target_id), source_id)

    @staticmethod
    def read(source_ids: dict[int, set[str]]) -> bulkread.Pending:
        """The look-up, sent: for several sources it reads a few links more than asked (each source's
        ids with the others'), which ``__init__`` leaves out."""
        ids = set().union(*source_ids.values())
        sql = (f"SELECT source_connection_id, entity, source_id, target_connection_id, target_entity, target_id "
               f"FROM {Link._meta.db_table} WHERE ({one_of('source_connection_id')} AND {one_of('source_id')})"
               f" OR ({one_of('target_connection_id')} AND {one_of('target_id')}) ORDER BY id")  # ours, back-flows'
        return bulkread.Pending(sql, [list_param(source_ids), list_param(ids)] * 2)

    def target_of(self, flow: Flow, source_id: str) -> str | None:
        """The record's id in the flow's target, from a link made in either direction: a back-flow
        (M3 shipment -> X-Cart) finds the X-Cart order through the link the order flow made."""
        forward = self.forward.get((flow.source_id, flow.source_entity, source_id, flow.target_id, flow.target_entity))
        if forward:
            return forward
        return self.backward.get((flow.target_id, flow.source_id, source_id))

    def add(self, flow: Flow, source_id: str, target_id: str) -> None:
        self.forward[(flow.source_id, flow.source_entity, source_id, flow.target_id, flow.target_entity)] = target_id


def linked_id(flow: Flow, source_id: str) -> str | None:
    """One record's link (the admin and single-record paths)."""
    return Links({flow.source_id: {source_id}}).target_of(flow, source_id)


def connector_of(connection: Connection):
    """The connection's connector, built once per Connection object (a batch shares one object per
    source): parsing and version reading keep no per-call state."""
    connector = getattr(connection, "_hub_connector", None)
    if connector is None:
        connector = connection._hub_connector = connection.connector()
    return connector


class Circuits:
    """Each target's circuit, read once per batch. When this batch wins the half-open probe, one
    record probes and the rest wait; transient failures in the batch hold the records not yet sent."""

    def __init__(self):
        self.waits: dict[int, float] = {}
        self.probe: dict[int, bool] = {}  # target -> probe already taken by a record of this batch
        self.failures: dict[int, int] = defaultdict(int)
        self.successes: set[int] = set()
        self.calm: set[int] = set()  # targets read closed, enabled and with no failure counted

    def wait(self, target: Connection) -> float:
        """Seconds a record for this target must wait (0: go ahead); called while preparing.

        ``target`` is the flow's target as the batch read it with its flows: closed and enabled
        there, the records go ahead without another look (as ``circuit.wait_seconds`` would have
        said); else the shared state is read again, and a half-open probe may be won."""
        target_id = target.pk
        if target_id not in self.waits:
            if target.circuit == Connection.Circuit.CLOSED and target.enabled:
                self.waits[target_id] = 0.0
                if not target.circuit_failures:
                    self.calm.add(target_id)
            else:
                state = Connection.objects.filter(pk=target_id).values_list("circuit", flat=True).first()
                self.waits[target_id] = circuit.wait_seconds(target_id)
                if not self.waits[target_id] and state not in (None, Connection.Circuit.CLOSED):
                    self.probe[target_id] = False
        if target_id in self.probe:
            if self.probe[target_id]:
                return float(settings.HUB_CIRCUIT_COOLDOWN)  # the probe's answer decides for the rest
            self.probe[target_id] = True
            return 0.0
        return self.tripped(target_id) or self.waits[target_id]

    def tripped(self, target_id: int) -> float:
        """Checked again just before a call: the batch's own failures may have opened the circuit."""
        return float(settings.HUB_CIRCUIT_COOLDOWN) if self.failures[target_id] >= settings.HUB_CIRCUIT_THRESHOLD else 0.0

    def record(self) -> None:
        """Tell the shared circuit state what this batch saw."""
        for target_id in self.successes - self.calm:  # a success changes nothing on a calm circuit
            circuit.succeeded(target_id)
        for target_id, count in self.failures.items():
            for _ in range(min(count, settings.HUB_CIRCUIT_THRESHOLD)):
                circuit.failed(target_id)


def applied_versions(keys: set[tuple[int, str]], rows=None) -> dict[tuple[int, str], str]:
    """(flow id, source id) -> the newest source version delivered, for a batch's records in one query;
    ``rows``: what ``read_applied_versions`` answered for these keys or more (read now when not given)."""
    if not keys:
        return {}
    rows = rows if rows is not None else read_applied_versions(keys).result()
    return {(flow_id, source_id): version for flow_id, source_id, version in rows if (flow_id, source_id) in keys}


def read_applied_versions(keys: set[tuple[int, str]]) -> bulkread.Pending:
    # The maximum in the database, not every synced row (a stock level polled all year has thousands),
    # compared by code point as Python compares the versions: PostgreSQL's "C" collation, SQLite's BINARY.
    by_code_point = '"C"' if db_connection.vendor == "postgresql" else "BINARY"
    sql = (f"SELECT flow_id, source_id, MAX(source_version COLLATE {by_code_point}) FROM {SyncRecord._meta.db_table} "
           f"WHERE {one_of('source_id')} AND {one_of('flow_id')} AND status = %s AND source_version <> '' "
           "GROUP BY flow_id, source_id")
    return bulkread.Pending(sql, [list_param(source_id for _, source_id in keys),
                                  list_param(flow_id for flow_id, _ in keys), SyncRecord.Status.SYNCED])


# --- one record's work ------------------------------------------------------------------------------

@dataclass
class Work:
    """One record of one flow in a batch, from preparation to its attempt row."""

    record: SyncRecord
    event: InboundEvent
    flow: Flow
    check_stale: bool = True  # an operator's replay sends what the operator chose
    target_id: str | None = None
    mapped: dict | None = None
    version: str = ""
    attempt: SyncAttempt | None = None
    held: float = 0.0  # seconds the record waits (circuit open or connection paused)
    mapper: object = None  # the compiled mapping of the version this attempt uses
    retry_delay: float | None = None  # set for the records of one failed bulk call: retried together
    result: object = None  # DeliveryResult / ConnectorError from the target call
    calling: int | None = None
    done: bool = False
    clock: float = field(default_factory=time.perf_counter)


class Batch:
    """What a batch shares: flows' targets, links, circuits, versions; and what it will write."""

    def __init__(self, links: Links, versions: dict, pinned: dict | None = None):
        self.links = links
        self.versions = versions
        self.pinned = pinned or {}  # record id -> mapping version an operator chose on replay
        self.circuits = Circuits()
        self.new_links: list[Link] = []
        self.writes: dict[tuple, HubWrite] = {}
        self.connection_errors: dict[int, str] = {}
        self.settle: dict[int, tuple] = {}  # event id -> (status, error, claimed_until), written by save()
        self._bulk: dict[tuple, bool] = {}

    def bulk(self, flow: Flow) -> bool:
        """Whether the flow's target makes one bulk call for many records of this action."""
        key = (flow.target_id, flow.target_action)
        if key not in self._bulk:
            try:
                self._bulk[key] = flow.target.connector().can_bulk(flow.target_action)
            except ConnectorError:
                self._bulk[key] = False  # misconfigured: the per-record call reports why
        return self._bulk[key]


def _begin(work: Work, batch: Batch) -> None:
    record, flow = work.record, work.flow
    try:
        work.mapper, number = replay.mapping_for(record, flow.mapping, batch.pinned)
    except MappingError as exc:  # e.g. nothing published: the attempt says so
        work.mapper, number = exc, batch.pinned.get(record.pk)
    work.attempt = SyncAttempt(record=record, number=record.attempt_count + 1, started_at=timezone.now(),
                               mapping_version=number)
    work.clock = time.perf_counter()


def _prepare(work: Work, batch: Batch) -> None:
    """Everything before the target call, in the batch's thread: no network, no writes."""
    record, event, flow, attempt = work.record, work.event, work.flow, work.attempt
    wait = batch.circuits.wait(flow.target)
    if wait:
        work.held, work.done = wait, True
        return
    try:
        work.target_id = batch.links.target_of(flow, record.source_id)
        if work.target_id and flow.creates_only:
            attempt.outcome, attempt.note = SyncAttempt.Outcome.ALREADY_LINKED, f"already delivered as {work.target_id}"
            work.result, work.done = None, True
            return
        work.calling = event.connection_id
        source = record.source_override if record.source_override is not None else source_record(event)
        work.version = connector_of(event.connection).record_changed_at(flow.source_entity, source)
        applied = batch.versions.get((flow.pk, record.source_id), "")
        if work.check_stale and work.version and applied and work.version < applied:
            attempt.outcome = SyncAttempt.Outcome.STALE
            attempt.note = f"stale: version {work.version} older than applied {applied}"
            work.done = True
            return
        if isinstance(work.mapper, MappingError):
            raise work.mapper
        work.mapped = work.mapper(source)
        record.mapped, record.mapping_version = work.mapped, attempt.mapping_version
        work.calling = flow.target_id
    except MappingError as exc:
        _fail(work, f"mapping: {exc}")
    except PayloadGone as exc:
        _fail(work, str(exc))
    except ConnectorError as exc:
        work.result, work.done = exc, True
    except Exception as exc:  # a bug or bad stored data: still a visible, replayable failure
        log.exception("record %s: unexpected error", record.pk)
        _fail(work, f"unexpected {type(exc).__name__}: {exc}")


def _fail(work: Work, message: str) -> None:
    work.attempt.outcome, work.attempt.error, work.done = SyncAttempt.Outcome.PERMANENT, message, True


def _call_one(work: Work, batch: Batch) -> None:
    """One record's target call (a thread of the pool); holds it when the batch opened the circuit."""
    wait = batch.circuits.tripped(work.flow.target_id)
    if wait:
        work.held = wait
        return
    connector = _target_connector(work.flow)
    try:
        work.result = connector.perform(work.flow.target_action, work.mapped, target_id=work.target_id)
    except ConnectorError as exc:
        work.result = exc
    except Exception as exc:
        log.exception("record %s: unexpected error in the target call", work.record.pk)
        work.result = exc
    work.result.exchanges = connector.http.exchanges
    _count(work, batch)


def _target_connector(flow: Flow):
    """A fresh connector for one call (its log of calls is that call's), told the flow's conflict policy."""
    connector = flow.target.connector()
    connector.keep_target_fields = conflicts.keeper(flow)
    return connector


def _count(work: Work, batch: Batch) -> None:
    result = work.result
    if isinstance(result, ConnectorError):
        if not result.permanent:
            batch.circuits.failures[work.flow.target_id] += 1
    elif not isinstance(result, Exception):
        batch.circuits.successes.add(work.flow.target_id)


def _call_many(flow: Flow, works: list[Work], batch: Batch) -> None:
    """A bulk call for the records of one flow (a connector without bulk runs them one by one)."""
    wait = batch.circuits.tripped(flow.target_id)
    if wait:
        for work in works:
            work.held = wait
        return
    connector = _target_connector(flow)
    try:
        results = connector.perform_many(flow.target_action, [(w.mapped, w.target_id) for w in works])
    except Exception as exc:  # a connector bug: every record of the call says so
        log.exception("bulk %s of %s records failed unexpectedly", flow.target_action, len(works))
        results = [exc] * len(works)
    for work, result in zip(works, results):
        work.result = result
    # One request for many records: the circuit counts it once, as the one failure or success it is,
    # and the records it failed are retried together (one delay, so they come back as one batch).
    failed = [w for w in works if isinstance(w.result, ConnectorError) and not w.result.permanent]
    if failed:
        retry_after = max((w.result.retry_after or 0) for w in failed) or None
        delay = flow.retry_delay(max(w.attempt.number for w in failed), retry_after)
        for work in failed:
            work.retry_delay = delay
        batch.circuits.failures[flow.target_id] += 1
    elif any(not isinstance(r, Exception) for r in results):
        batch.circuits.successes.add(flow.target_id)


def _finish(work: Work, batch: Batch) -> None:
    """Turn the outcome into the attempt and the record's new state (kept in memory, written in bulk)."""
    record, flow, attempt, result = work.record, work.flow, work.attempt, work.result
    if work.held:
        record.status = SyncRecord.Status.RETRYING
        record.retry_delay = work.held
        record.next_attempt_at = timezone.now() + timedelta(seconds=work.held)
        record.error = record.error or f"waiting: {flow.target} is paused or its circuit is open"
        work.attempt = None  # no attempt is made and none is used
        return
    number = attempt.number
    last_try = number >= flow.attempts_allowed
    retry_after = None
    exchanges = []
    if attempt.outcome == SyncAttempt.Outcome.ALREADY_LINKED:
        record.target_id, record.status, record.error = work.target_id, SyncRecord.Status.SYNCED, ""
    elif attempt.outcome == SyncAttempt.Outcome.STALE:
        record.status, record.error, record.error_group = SyncRecord.Status.STALE, "", ""
    elif isinstance(result, ConnectorError):
        exchanges = result.exchanges or []
        if result.permanent:
            attempt.outcome = SyncAttempt.Outcome.PERMANENT
        else:
            attempt.outcome = SyncAttempt.Outcome.GAVE_UP if last_try else SyncAttempt.Outcome.TRANSIENT
            retry_after = result.retry_after
        attempt.error = result.message
        if work.calling:
            batch.connection_errors[work.calling] = result.message
    elif isinstance(result, Exception):
        exchanges = getattr(result, "exchanges", None) or []
        attempt.outcome, attempt.error = SyncAttempt.Outcome.PERMANENT, f"unexpected {type(result).__name__}: {result}"
    elif result is not None:
        exchanges = result.exchanges or []
        attempt.outcome, attempt.note = SyncAttempt.Outcome.DELIVERED, result.note
        record.target_id, record.status, record.error, record.error_group = result.target_id, SyncRecord.Status.SYNCED, "", ""
        record.source_version = work.version
        if not work.target_id and result.target_id:
            batch.new_links.append(Link(entity=flow.source_entity, source_connection_id=flow.source_id,
                                        source_id=record.source_id, target_connection_id=flow.target_id,
                                        target_entity=flow.target_entity, target_id=result.target_id, flow=flow))
            batch.links.add(flow, record.source_id, result.target_id)
        if work.version:
            key = (flow.pk, record.source_id)
            batch.versions[key] = max(work.version, batch.versions.get(key, ""))
        _remember_write(batch, flow, work.mapped, result.target_id)
    if attempt.error:
        record.error, record.error_group = attempt.error, error_group_of(attempt.error)
        record.status = (SyncRecord.Status.RETRYING if attempt.outcome == SyncAttempt.Outcome.TRANSIENT
                         else SyncRecord.Status.FAILED)
    attempt.exchanges = exchanges
    attempt.duration_ms = int((time.perf_counter() - work.clock) * 1000)
    record.attempt_count = number
    record.synced_at = timezone.now() if record.status == SyncRecord.Status.SYNCED else None
    if record.status == SyncRecord.Status.RETRYING:
        record.retry_delay = work.retry_delay or flow.retry_delay(number, retry_after)
    else:
        record.retry_delay = None
    record.next_attempt_at = (timezone.now() + timedelta(seconds=record.retry_delay)) if record.retry_delay else None
    if attempt.outcome == SyncAttempt.Outcome.GAVE_UP:
        attempt.note = f"dead-lettered after {number} attempts; Replay sends it again"
    log.info("event %s (%s #%s) attempt %s: %s %s", work.event.pk, flow, record.source_id, number, attempt.outcome,
             attempt.error or (attempt.note if attempt.outcome == SyncAttempt.Outcome.STALE else ""))


def _remember_write(batch: Batch, flow: Flow, mapped: dict, target_id: str) -> None:
    """What the hub wrote, to recognise it when it comes back from the target as an event."""
    fields = {k: v for k, v in (mapped or {}).items() if not isinstance(v, (dict, list))}
    if fields and target_id:
        batch.writes[(flow.target_id, flow.target_entity, target_id)] = HubWrite(
            connection_id=flow.target_id, entity=flow.target_entity, record_id=target_id, fields=fields)


def run(works: list[Work], batch: Batch) -> None:
    """Deliver a batch's records: the k-th event about a source record goes in round k, so events about
    one record are applied in order and each round sees the links the one before made."""
    rounds: dict[int, list[Work]] = defaultdict(list)
    seen: dict[tuple, list[int]] = defaultdict(list)
    for work in sorted(works, key=lambda w: w.event.pk):
        key = (work.event.connection_id, work.record.source_id)
        if work.event.pk not in seen[key]:
            seen[key].append(work.event.pk)
        rounds[seen[key].index(work.event.pk)].append(work)
    for number in sorted(rounds):
        todo = []
        for work in rounds[number]:
            _begin(work, batch)
            _prepare(work, batch)
            if not work.done:
                todo.append(work)
        bulk: dict[int, list[Work]] = defaultdict(list)
        single: list[Work] = []
        for work in todo:
            if batch.bulk(work.flow):
                bulk[work.flow.pk].append(work)
            else:
                single.append(work)
        for flow_works in bulk.values():
            _call_many(flow_works[0].flow, flow_works, batch)
        _run_threaded(lambda work: _call_one(work, batch), single)
        for work in rounds[number]:
            _finish(work, batch)


def save(works: list[Work], batch: Batch) -> None:
    """Write a batch's attempts, records, links and hub writes, and the states of its events
    (``batch.settle``), in one transaction: one commit, and an event is never settled without its
    records. On PostgreSQL the transaction is pipelined whole (``bulkwrite.pipelined_transaction``):
    it waits for the new records' ids, the attempts' ids (which need the records'), and its end."""
    now = timezone.now()
    for connection_id, message in batch.connection_errors.items():  # a note for the admin, kept on its own
        Connection.objects.filter(pk=connection_id).update(last_error=message, last_error_at=now)
    records = [w.record for w in works]
    for record in records:
        record.updated_at = now
    new = [r for r in records if r.pk is None]
    stored = [r for r in records if r.pk is not None]
    with bulkwrite.pipelined_transaction():
        # A batch's new records are inserted once, with their outcome; the unique (event, flow) ledger
        # makes a second drainer of the same events (after a lost lease) fail here, not deliver twice.
        bulkwrite.insert_rows(SyncRecord, new)
        bulkwrite.update_rows(SyncRecord, stored,
                              ["status", "error", "error_group", "attempt_count", "mapping_version", "mapped",
                               "target_id", "synced_at", "next_attempt_at", "source_version", "updated_at"])
        if batch.new_links:
            # ignore_conflicts: a concurrent run of the same record linked it; the target's reference
            # check kept the target record single.
            bulkwrite.insert_rows(Link, batch.new_links, ignore_conflicts=True)
        if batch.writes:
            bulkwrite.insert_rows(HubWrite, list(batch.writes.values()), update_conflicts=True,
                                  unique_fields=["connection", "entity", "record_id"],
                                  update_fields=["fields", "written_at"])
        if batch.settle:
            _settle(batch.settle)
        bulkwrite.insert_rows(SyncAttempt, [w.attempt for w in works if w.attempt is not None])
    batch.circuits.record()


# --- a batch of events -------------------------------------------------------------------------------

def _flows_by_topic(connection_ids: set[int]) -> dict[tuple, list[Flow]]:
    """The sources' enabled flows by (source, entity), kept between batches until the configuration
    changes (hub.configcache); a batch must not change them."""
    def read():
        flows = defaultdict(list)
        for flow in (Flow.objects.filter(source_id__in=connection_ids, enabled=True)
                     .select_related("source", "target", "mapping__published").order_by("pk")):
            flows[(flow.source_id, flow.source_entity)].append(flow)
        return dict(flows)

    return configcache.cached(("flows", *sorted(connection_ids)), read)


def flows_for(event: InboundEvent, flows=None) -> list[Flow]:
    entity, _, action = event.topic.partition(".")
    flows = flows if flows is not None else _flows_by_topic({event.connection_id})
    return [flow for flow in flows.get((event.connection_id, entity), []) if flow.source_event in ("*", action)]


def _read_hub_writes(events: list[InboundEvent]) -> bulkread.Pending:
    """What the hub last wrote to the events' records (for several sources, a few more: see ``_echoes``)."""
    sql = (f"SELECT {bulkread.columns(HubWrite)} FROM {HubWrite._meta.db_table} "
           f"WHERE {one_of('connection_id')} AND {one_of('record_id')}")
    return bulkread.Pending(sql, [list_param({e.connection_id for e in events}), list_param({e.source_id for e in events})],
                            HubWrite)


def _echoes(events: list[InboundEvent], hub_writes: list[HubWrite]) -> dict[int, str]:
    """event id -> why it is the hub's own write coming back."""
    writes = {(write.connection_id, write.entity, write.record_id): write for write in hub_writes}
    echoes = {}
    for event in events:
        entity = event.topic.partition(".")[0]
        write = writes.get((event.connection_id, entity, event.source_id))
        if write is None:
            continue
        try:
            record = source_record(event)
        except (ConnectorError, ValueError):
            continue  # cannot tell: let the flows run and report
        if write.matches(record):
            echoes[event.pk] = (f"echo of the hub's own write of {entity} {event.source_id} at "
                                f"{write.written_at:%Y-%m-%d %H:%M:%S}")
    return echoes


def applies(flow: Flow, event: InboundEvent, links: Links) -> bool:
    """A flow with ``only_when`` runs only for records that meet each of its conditions: ``path`` has a
    value, ``path=value`` (compared as text), or ``@linked`` (linked to a record in the target)."""
    if not flow.only_when:
        return True
    try:
        record = source_record(event)
    except (ConnectorError, ValueError):
        return True  # cannot read the record now: let the delivery attempt say why
    for term in (t.strip() for t in flow.only_when.split(",")):
        if not term:
            continue
        if term == "@linked":
            if links.target_of(flow, event.source_id) is None:
                return False
            continue
        path, equals, expected = term.partition("=")
        value = record_value(record, path.strip())
        if equals and (value is None or str(value).strip() != expected.strip()):
            return False
        if not equals and value in (None, "", [], {}):
            return False
    return True


def _read_records(events: list[InboundEvent]) -> bulkread.Pending:
    """The ledger rows of the events, whatever their flow."""
    sql = f"SELECT {bulkread.columns(SyncRecord)} FROM {SyncRecord._meta.db_table} WHERE {one_of('event_id')}"
    return bulkread.Pending(sql, [list_param(event.pk for event in events)], SyncRecord)


def _records(pairs: list[tuple[InboundEvent, Flow]], stored: list[SyncRecord]) -> dict[tuple[int, int], SyncRecord]:
    """The ledger row of each (event, flow): the stored one (a retry, a batch taken over after a lost
    lease), else a new one, inserted with its outcome when the batch is saved."""
    existing = {(r.event_id, r.flow_id): r for r in stored}
    for event, flow in pairs:
        if (event.pk, flow.pk) not in existing:
            existing[(event.pk, flow.pk)] = SyncRecord(event=event, flow=flow, source_id=event.source_id)
    return existing


def _event_state(records: list[SyncRecord]) -> tuple[str, str, object]:
    """(status, error, claimed_until) of an event from its records. An event with a record to retry
    stays "received", not claimable before the earliest retry is due: its partition's drainer takes it
    up again then, in a batch with the rest (retries go the bulk way too)."""
    statuses = {record.status for record in records}
    waiting = [r.next_attempt_at or timezone.now() for r in records
               if r.status in (SyncRecord.Status.PENDING, SyncRecord.Status.RETRYING)]
    if waiting:
        return InboundEvent.Status.RECEIVED, "", min(waiting)
    if SyncRecord.Status.FAILED in statuses:
        return InboundEvent.Status.FAILED, "a flow failed; see its sync record", None
    return InboundEvent.Status.PROCESSED, "", None


def _settle(updates: dict[int, tuple]) -> None:
    """Set the events' states, one UPDATE per distinct outcome, and release their claims."""
    groups = defaultdict(list)
    for event_id, state in updates.items():
        groups[state].append(event_id)
    now = timezone.now()
    as_stored = InboundEvent._meta.get_field("processed_at").get_db_prep_save  # both columns are datetimes
    sql = (f"UPDATE {InboundEvent._meta.db_table} SET status = %s, error = %s, claimed_until = %s, processed_at = %s "
           f"WHERE {one_of('id')}")
    with db_connection.cursor() as cursor:
        for (status, error, claimed_until), ids in groups.items():
            processed_at = None if status == InboundEvent.Status.RECEIVED else now
            cursor.execute(sql, [status, error, as_stored(claimed_until, db_connection),
                                 as_stored(processed_at, db_connection), list_param(ids)])


def process_events(event_ids: list[int], claimed: list[InboundEvent] | None = None) -> int:
    """Run a claimed batch of events through their flows; returns how many records will be retried
    (their events come back to the partition's drainer when the retry is due). ``claimed``: the events
    as the claim returned them (``claims.claim_events``), so they are not read again."""
    if claimed is not None:
        events = sorted((e for e in claimed if e.status == InboundEvent.Status.RECEIVED), key=lambda e: e.pk)
    else:
        events = list(InboundEvent.objects.filter(any_of("pk", event_ids), status=InboundEvent.Status.RECEIVED)
                      .order_by("pk"))
    if not events:
        return 0
    # One Connection object per source, so its secrets are decrypted and its connector built once: the
    # one read with the source's flows, else (no enabled flow) read for the events' "ignored" note.
    sources = {e.connection_id for e in events}
    flows = _flows_by_topic(sources)
    connections = {}
    for topic_flows in flows.values():
        for flow in topic_flows:
            flow.source = connections.setdefault(flow.source_id, flow.source)
    if sources - set(connections):
        connections.update((c.pk, c) for c in Connection.objects.filter(pk__in=sources - set(connections)))
    for event in events:
        event.connection = connections[event.connection_id]
    updates: dict[int, tuple[str, str]] = {}
    routed = []
    for event in events:
        event_flows = flows_for(event, flows)
        if event_flows:
            routed.append((event, event_flows))
        else:
            updates[event.pk] = (InboundEvent.Status.IGNORED,
                                 f"no enabled flow for {event.connection.slug} {event.topic}", None)
    routed_events = [event for event, _ in routed]
    _read_all(routed_events)
    source_ids = defaultdict(set)
    for event in routed_events:
        source_ids[event.connection_id].add(event.source_id)
    hub_writes, link_rows, stored, version_rows = [], [], [], []
    if routed:
        with bulkwrite.pipelined():  # the batch's four look-ups, in one round trip on PostgreSQL
            reads = [_read_hub_writes(routed_events), Links.read(source_ids), _read_records(routed_events),
                     read_applied_versions({(flow.pk, event.source_id) for event, event_flows in routed
                                            for flow in event_flows})]
            hub_writes, link_rows, stored, version_rows = [read.result() for read in reads]
    echoes = _echoes(routed_events, hub_writes)
    links = Links(source_ids, link_rows)
    pairs = []
    for event, event_flows in routed:
        if event.pk in echoes:
            updates[event.pk] = (InboundEvent.Status.IGNORED, echoes[event.pk], None)
            continue
        applying = [flow for flow in event_flows if applies(flow, event, links)]
        pairs += [(event, flow) for flow in applying]
        if not applying:
            updates[event.pk] = (InboundEvent.Status.PROCESSED, "", None)
    records = _records(pairs, stored)
    works = [Work(records[(event.pk, flow.pk)], event, flow) for event, flow in pairs
             if records[(event.pk, flow.pk)].status not in SETTLED]
    tried = [w.record.pk for w in works if w.record.attempt_count]  # a new record has no pinned version
    batch = Batch(links, applied_versions({(w.flow.pk, w.record.source_id) for w in works}, version_rows),
                  replay.pinned_versions(tried) if tried else {})
    run(works, batch)
    by_event = defaultdict(list)
    for event, flow in pairs:
        by_event[event.pk].append(records[(event.pk, flow.pk)])
    for event_id, event_records in by_event.items():
        updates[event_id] = _event_state(event_records)
    batch.settle = updates
    save(works, batch)
    return sum(1 for w in works if w.record.status == SyncRecord.Status.RETRYING)


# --- one record: replays and retries ------------------------------------------------------------------

def replay_record(record_id: int, check_stale: bool = False) -> float | None:
    """Deliver one record again (an operator's replay, or a retry with ``check_stale``); returns the
    seconds until its retry when it failed transiently again (its event's drainer retries it)."""
    record = SyncRecord.objects.select_related("event__connection", "flow__source", "flow__target",
                                               "flow__mapping__published").get(pk=record_id)
    event, flow = record.event, record.flow
    work = Work(record, event, flow, check_stale=check_stale)
    versions = applied_versions({(flow.pk, record.source_id)}) if check_stale else {}
    batch = Batch(Links({event.connection_id: {record.source_id}}), versions, replay.pinned_versions([record.pk]))
    run([work], batch)
    save([work], batch)
    finish_event(event)
    return record.retry_delay if record.status == SyncRecord.Status.RETRYING else None


def finish_event(event: InboundEvent) -> None:
    event.status, event.error, event.claimed_until = _event_state(list(event.records.all()))
    event.processed_at = None if event.status == InboundEvent.Status.RECEIVED else timezone.now()
    event.save(update_fields=["status", "error", "processed_at", "claimed_until"])


def process_event(event_id: int) -> int:
    """One event as a batch of one (tests and tools; workers drain partitions)."""
    return process_events([event_id])
