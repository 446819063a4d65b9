"""The path a record travels after ingest: resolve flows, enrich, map, link, deliver, record.

Each step's failure ends up on a SyncRecord row an operator can read: mapping errors and business
errors are permanent (fix, then Replay), network trouble is transient: the record is replayed
later by its flow's retry policy, until its attempts are used up and it is dead-lettered.
"""

import json
import logging
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors import circuit
from connectors.base import ConnectorError
from connectors.models import Connection
from hub.models import Flow, HubWrite, Link
from mappings.engine import MappingError, compiled
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord, error_group_of

log = logging.getLogger(__name__)


class PayloadGone(ValueError):
    """The event's body was purged (retention): only an operator's corrected record can be sent."""


def flows_for(event: InboundEvent):
    entity, _, action = event.topic.partition(".")
    return list(
        Flow.objects.filter(source_id=event.connection_id, source_entity=entity, enabled=True,
                            source_event__in=["*", action])
        .select_related("source", "target", "mapping")
    )


def process_event(event_id: int) -> list[tuple[int, float]]:
    """Run every flow subscribed to the event; return (record id, delay) of those to retry."""
    event = InboundEvent.objects.select_related("connection").filter(pk=event_id).first()
    if event is None:  # purged (retention, a reset demo) after the job was queued: nothing to do
        log.warning("event %s no longer exists; job dropped", event_id)
        return []
    flows = flows_for(event)
    if not flows:
        event.status, event.error = InboundEvent.Status.IGNORED, f"no enabled flow for {event.connection.slug} {event.topic}"
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return []
    echo = echo_of(event)
    if echo:
        event.status, event.error = InboundEvent.Status.IGNORED, echo
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return []
    flows = [flow for flow in flows if applies(flow, event)]
    retries = []
    for flow in flows:
        record, _ = SyncRecord.objects.get_or_create(event=event, flow=flow, defaults={"source_id": event.source_id})
        if record.status in (SyncRecord.Status.SYNCED, SyncRecord.Status.FAILED):
            continue  # settled by an earlier run of this job; only Replay runs it again
        if hold(record, flow) or deliver(record, event, flow) == SyncRecord.Status.RETRYING:
            retries.append((record.pk, record.retry_delay))
    finish_event(event)
    return retries


def replay_record(record_id: int) -> list[tuple[int, float]]:
    record = SyncRecord.objects.select_related("event__connection", "flow__source", "flow__target", "flow__mapping").get(pk=record_id)
    if hold(record, record.flow):
        return [(record.pk, record.retry_delay)]
    status = deliver(record, record.event, record.flow)
    finish_event(record.event)
    return [(record.pk, record.retry_delay)] if status == SyncRecord.Status.RETRYING else []


def finish_event(event: InboundEvent) -> None:
    statuses = set(event.records.values_list("status", flat=True))
    if statuses & {SyncRecord.Status.PENDING, SyncRecord.Status.RETRYING}:
        return
    failed = SyncRecord.Status.FAILED in statuses
    event.status = InboundEvent.Status.FAILED if failed else InboundEvent.Status.PROCESSED
    event.error = "a flow failed; see its sync record" if failed else ""
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "processed_at"])


def source_record(event: InboundEvent) -> dict:
    """The full source record: as polled, from the pushed body or message, or fetched when thin.

    Read once per job (echo check, flow conditions and every flow share it)."""
    if not hasattr(event, "_source_record"):
        event._source_record = _read_source_record(event)
    return event._source_record


def _read_source_record(event: InboundEvent) -> dict:
    if not event.body:
        raise PayloadGone(f"event {event.pk}'s payload was purged by retention; use 'Edit the source record and "
                          "replay' to send it again")
    if event.origin == InboundEvent.Origin.POLL:
        return json.loads(event.body)
    connector = event.connection.connector()
    if event.origin == InboundEvent.Origin.MESSAGE:
        parsed = connector.parse_message(event.body)
    else:
        parsed = connector.parse_push(json.loads(event.body), event.headers)
    if parsed.record is not None:
        return parsed.record
    return connector.fetch(parsed.entity, parsed.source_id)


def applies(flow: Flow, event: InboundEvent) -> bool:
    """A flow with ``only_when`` runs only for records that meet each of its conditions."""
    if not flow.only_when:
        return True
    try:
        record = source_record(event)
    except (ConnectorError, ValueError):
        return True  # cannot read the record now: let the delivery attempt say why
    return all(_condition_holds(flow, event, record, term.strip()) for term in flow.only_when.split(",") if term.strip())


def _condition_holds(flow: Flow, event: InboundEvent, record: dict, term: str) -> bool:
    """``path`` has a value, ``path=value`` (compared as text), or ``@linked``: the record is linked
    to one in the target (e.g. polled M3 orders that came from this store)."""
    if term == "@linked":
        return linked_id(flow, event.source_id) is not None
    path, equals, expected = term.partition("=")
    value = record_value(record, path.strip())
    if equals:
        return value is not None and str(value).strip() == expected.strip()
    return value not in (None, "", [], {})


def record_value(record: dict, path: str):
    for part in path.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def echo_of(event: InboundEvent) -> str:
    """Why the event is the hub's own write coming back (empty when it is a real change)."""
    entity = event.topic.partition(".")[0]
    write = HubWrite.objects.filter(connection=event.connection_id, entity=entity, record_id=event.source_id).first()
    if write is None:
        return ""
    try:
        record = source_record(event)
    except (ConnectorError, ValueError):
        return ""  # cannot tell: let the flows run and report
    if not write.matches(record):
        return ""
    return f"echo of the hub's own write of {entity} {event.source_id} at {write.written_at:%Y-%m-%d %H:%M:%S}"


def _remember_write(flow: Flow, mapped: dict, target_id: str) -> None:
    fields = {k: v for k, v in mapped.items() if not isinstance(v, (dict, list))}
    if fields and target_id:
        HubWrite.objects.update_or_create(connection=flow.target, entity=flow.target_entity,
                                          record_id=target_id, defaults={"fields": fields})


def linked_id(flow: Flow, source_id: str) -> str | None:
    """The record's id in the flow's target, from a link made in either direction.

    A back-flow (M3 shipment -> X-Cart) finds the X-Cart order through the link the order flow made.
    """
    forward = Link.objects.filter(source_connection=flow.source_id, entity=flow.source_entity, source_id=source_id,
                                  target_connection=flow.target_id, target_entity=flow.target_entity,
                                  ).values_list("target_id", flat=True).first()
    if forward:
        return forward
    return Link.objects.filter(source_connection=flow.target_id, target_connection=flow.source_id,
                               target_id=source_id).values_list("source_id", flat=True).first()


def hold(record: SyncRecord, flow: Flow) -> bool:
    """True when the target's circuit is open (or it is paused): the record waits, no attempt is
    made and none of its attempts is used; ``record.retry_delay`` says for how long."""
    wait = circuit.wait_seconds(flow.target_id)
    if not wait:
        return False
    record.retry_delay = wait
    SyncRecord.objects.filter(pk=record.pk).update(
        status=SyncRecord.Status.RETRYING, next_attempt_at=timezone.now() + timedelta(seconds=wait),
        error=record.error or f"waiting: {flow.target} is paused or its circuit is open")
    return True


def deliver(record: SyncRecord, event: InboundEvent, flow: Flow) -> str:
    """One attempt at one record. Returns the record's new status; never raises for a sync failure.

    A transient failure leaves the record retrying with ``record.retry_delay`` set, unless it was
    the flow's last allowed attempt: then the record is dead-lettered (failed) with its history."""
    started_at, clock = timezone.now(), time.perf_counter()
    number = record.attempt_count + 1
    last_try = number >= flow.attempts_allowed
    retry_after = None
    mapping = flow.mapping
    target = flow.target.connector()
    attempt = SyncAttempt(record=record, number=number, started_at=started_at, mapping_version=mapping.version)
    entity = flow.source_entity
    calling = None  # the connection being called, to show its last error in the admin

    try:
        target_id = linked_id(flow, record.source_id)
        if target_id and flow.creates_only:
            attempt.outcome, attempt.note = SyncAttempt.Outcome.ALREADY_LINKED, f"already delivered as {target_id}"
            record.target_id, record.status, record.error = target_id, SyncRecord.Status.SYNCED, ""
        else:
            calling = event.connection_id
            source = record.source_override if record.source_override is not None else source_record(event)
            mapped = compiled(mapping)(source)
            record.mapped, record.mapping_version = mapped, mapping.version
            calling = flow.target_id
            result = target.perform(flow.target_action, mapped, target_id=target_id)
            attempt.outcome, attempt.note = SyncAttempt.Outcome.DELIVERED, result.note
            record.target_id, record.status, record.error = result.target_id, SyncRecord.Status.SYNCED, ""
            record.error_group = ""
            circuit.succeeded(flow.target_id)
            if not target_id:
                _save_link(flow, entity, record.source_id, result.target_id)
            _remember_write(flow, mapped, result.target_id)
    except MappingError as exc:
        attempt.outcome, attempt.error = SyncAttempt.Outcome.PERMANENT, f"mapping: {exc}"
    except PayloadGone as exc:
        attempt.outcome, attempt.error = SyncAttempt.Outcome.PERMANENT, str(exc)
    except ConnectorError as exc:
        if exc.permanent:
            attempt.outcome = SyncAttempt.Outcome.PERMANENT
        else:
            attempt.outcome = SyncAttempt.Outcome.GAVE_UP if last_try else SyncAttempt.Outcome.TRANSIENT
            retry_after = exc.retry_after
            if calling == flow.target_id:
                circuit.failed(flow.target_id)
        attempt.error = exc.message
        Connection.objects.filter(pk=calling).update(last_error=exc.message, last_error_at=timezone.now())
    except Exception as exc:  # a bug or bad stored data: still a visible, replayable failure
        log.exception("record %s: unexpected error", record.pk)
        attempt.outcome, attempt.error = SyncAttempt.Outcome.PERMANENT, f"unexpected {type(exc).__name__}: {exc}"

    if attempt.error:
        record.error, record.error_group = attempt.error, error_group_of(attempt.error)
        record.status = SyncRecord.Status.RETRYING if attempt.outcome == SyncAttempt.Outcome.TRANSIENT else SyncRecord.Status.FAILED
    attempt.exchanges = target.http.exchanges
    attempt.duration_ms = int((time.perf_counter() - clock) * 1000)
    record.attempt_count = number
    record.synced_at = timezone.now() if record.status == SyncRecord.Status.SYNCED else None
    record.retry_delay = flow.retry_delay(number, retry_after) if record.status == SyncRecord.Status.RETRYING else None
    record.next_attempt_at = (timezone.now() + timedelta(seconds=record.retry_delay)) if record.retry_delay else None
    if attempt.outcome == SyncAttempt.Outcome.GAVE_UP:
        attempt.note = f"dead-lettered after {number} attempts; Replay sends it again"
    with transaction.atomic():
        attempt.save()
        record.save()
    log.info("record %s (%s #%s) attempt %s: %s %s", record.pk, flow, record.source_id, number, attempt.outcome, attempt.error)
    return record.status


def _save_link(flow: Flow, entity: str, source_id: str, target_id: str) -> None:
    try:
        with transaction.atomic():
            Link.objects.create(entity=entity, source_connection=flow.source, source_id=source_id,
                                target_connection=flow.target, target_entity=flow.target_entity,
                                target_id=target_id, flow=flow)
    except IntegrityError:
        pass  # recorded by a concurrent run of the same record; the target's reference check kept it single
