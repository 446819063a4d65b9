"""RQ job entry points. Jobs take ids only and load everything from the database.

Events are not one job each: ingest signals the event's partition (hub.drain) and one
``drain_partition`` job per partition processes its events in batches. A record to retry keeps its
event in the partition, not claimable before the retry is due, and a ``wake_partition`` job is
scheduled for then: retries go through the batch (and bulk) path too. Operator replays are one
``replay_record`` job per record.
"""

import logging
from datetime import timedelta

import django_rq
import redis
from django.conf import settings
from django.utils import timezone

from hub import drain, pipeline

log = logging.getLogger(__name__)
LOCK_SECONDS = 600  # longer than any one run of a job; a killed worker's lock expires after it


_queues: dict[str, object] = {}


def _queue():
    """The default queue, one per process and Redis URL (django-rq would build a new pool per call).

    commit_mode "auto": callers already enqueue from ``transaction.on_commit``.
    """
    url = settings.RQ_QUEUES["default"]["URL"]
    queue = _queues.get(url)
    if queue is None:
        queue = _queues[url] = django_rq.get_queue("default", commit_mode="auto")
    return queue


def empty_queue() -> None:
    """Drop every queued and scheduled job (the demo's reset; never needed in production)."""
    queue = _queue()
    queue.empty()
    for job_id in queue.scheduled_job_registry.get_job_ids():
        queue.scheduled_job_registry.remove(job_id, delete_job=True)
    for name in queue.connection.scan_iter(match=drain.key("*", "*")):
        queue.connection.delete(name)  # "a drain job is queued" no longer holds


def _enqueue(func, arg) -> bool:
    """Enqueue, or leave the work to the sweeper when Redis is unreachable: the row is stored."""
    try:
        _queue().enqueue(func, arg)
        return True
    except redis.RedisError as exc:
        log.warning("could not enqueue %s(%s): %s; the sweeper will pick it up", func.__name__, arg, exc)
        return False


def _schedule_wake(event_id: int, delay: float) -> None:
    """Signal the event's partition after ``delay`` seconds (a record of it will be due for its retry);
    if Redis refuses, the sweeper finds the event when it is due."""
    connection_id, partition = _partition_of_event(event_id)
    try:
        _queue().enqueue_in(timedelta(seconds=delay), wake_partition, connection_id, partition)
    except redis.RedisError as exc:
        log.warning("could not schedule the retry of event %s: %s; the sweeper will", event_id, exc)


def signal_partitions(partitions) -> int:
    """Ingest's one Redis round trip per commit: ``hub.drain.signal_many``."""
    return drain.signal_many(partitions)


def signal_events(event_ids) -> int:
    """Signal the partitions of stored events (polls, messages); one query for all of them."""
    from monitoring.models import InboundEvent

    ids = list(event_ids)
    if not ids:
        return 0
    partitions = set(InboundEvent.objects.filter(pk__in=ids).values_list("connection_id", "partition"))
    return drain.signal_many(partitions)


def enqueue_event(event_id: int) -> bool:
    """Kept for callers that store one event (ION messages): signals the event's partition."""
    return signal_events([event_id]) > 0


def enqueue_replay(record_id: int) -> bool:
    return _enqueue(replay_record, record_id)


def _locked(name: str):
    """One run at a time per event/record, whichever worker holds it (duplicate enqueues are harmless)."""
    return _queue().connection.lock(f"hub:lock:{name}", timeout=LOCK_SECONDS, blocking_timeout=30)


def drain_partition(connection_id: int, partition: int) -> int:
    """Process the partition's events in batches until it is empty (hub.drain)."""
    return drain.drain(connection_id, partition)


def wake_partition(connection_id: int, partition: int) -> bool:
    """Scheduled for when retries of the partition are due: a drain job, unless one is pending."""
    return drain.signal(connection_id, partition)


def process_event(event_id: int) -> None:
    """One event as a batch of one (jobs queued by an older version of the hub)."""
    pipeline.process_event(event_id)
    drain.wake_when_due(*_partition_of_event(event_id))


def _partition_of_event(event_id: int) -> tuple[int, int]:
    from monitoring.models import InboundEvent

    return InboundEvent.objects.values_list("connection_id", "partition").get(pk=event_id)


def _replay(record_id: int, check_stale: bool) -> None:
    from monitoring.models import SyncRecord

    event_id = SyncRecord.objects.values_list("event_id", flat=True).get(pk=record_id)
    with _locked(f"event:{event_id}"):
        delay = pipeline.replay_record(record_id, check_stale=check_stale)
    if delay is not None:  # failed transiently again: its event waits in its partition for the retry
        _schedule_wake(event_id, delay)


def replay_record(record_id: int) -> None:
    """An operator's replay: sends the record whatever version was applied since."""
    _replay(record_id, check_stale=False)


def retry_record(record_id: int) -> None:
    """A retry of one record whose event is not in a partition's hands (the sweeper's safety net):
    skipped as stale if a newer version was applied meanwhile."""
    _replay(record_id, check_stale=True)


def poll_flow(flow_id: int) -> int:
    """Poll one flow's source and queue the new events (after their commit)."""
    from hub import polling

    with _locked(f"poll:{flow_id}"):
        new_ids = polling.poll_flow(flow_id)
    signal_events(new_ids)
    return len(new_ids)


def schedule_polls() -> int:
    """Queue a poll for every flow whose interval has passed; run every few seconds by the cron."""
    from hub import polling

    flows = polling.due_flows()
    for flow in flows:
        job_id = f"poll-flow-{flow.pk}"
        try:
            queued = _queue().fetch_job(job_id)
            if queued and queued.get_status(refresh=False) in ("queued", "started", "scheduled"):
                continue  # the last one has not run yet: one poll per flow at a time
            _queue().enqueue(poll_flow, flow.pk, job_id=job_id, at_front=True)
        except redis.RedisError as exc:
            log.warning("could not queue the poll of %s: %s", flow, exc)
    return len(flows)


def sweep_unqueued_events(older_than_seconds: int = 10) -> int:
    """Drain again what no worker has: events stored while Redis was down, events a killed worker
    had claimed (once its lease ran out), and retries whose scheduled job Redis lost.

    Run every 15 seconds by ``rqcron hub.cron``; returns how many partitions and records it queued.
    """
    from monitoring.models import SyncRecord

    from monitoring.models import InboundEvent

    count = drain.sweep(older_than_seconds)
    # Retrying records are retried by their event's partition; one whose event was settled some
    # other way (an older version of the hub) gets a job of its own.
    cutoff = timezone.now() - timedelta(seconds=max(older_than_seconds, 30))
    overdue = SyncRecord.objects.filter(status=SyncRecord.Status.RETRYING, next_attempt_at__lt=cutoff).exclude(
        event__status=InboundEvent.Status.RECEIVED)
    for record_id in overdue.values_list("id", flat=True)[:1000]:
        count += _enqueue(retry_record, record_id)
    if count:
        log.info("sweeper enqueued %s stored events", count)
    return count


def purge_old_payloads() -> int:
    """Retention: empty the bodies of events and the calls of attempts older than HUB_RETENTION_DAYS.

    The summaries stay (ids, statuses, errors, durations): the log still says what happened, it
    no longer keeps what was sent. Run daily by ``rqcron hub.cron``.
    """
    from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

    cutoff = timezone.now() - timedelta(days=settings.HUB_RETENTION_DAYS)
    events = InboundEvent.objects.filter(received_at__lt=cutoff).exclude(body="")
    purged = events.update(body="", headers={})
    SyncAttempt.objects.filter(started_at__lt=cutoff).exclude(exchanges=[]).update(exchanges=[])
    SyncRecord.objects.filter(created_at__lt=cutoff, mapped__isnull=False).update(mapped=None, source_override=None)
    if purged:
        log.info("retention: purged the payloads of %s events older than %s days", purged, settings.HUB_RETENTION_DAYS)
    return purged


def autovacuum_is_off() -> bool:
    """Whether the PostgreSQL server runs without autovacuum (some tuned or test servers do)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0] == "off"


def analyze_tables(force: bool = False) -> list[str]:
    """On a PostgreSQL server without autovacuum, do its work on the hub's busiest tables: VACUUM
    ANALYZE (fresh statistics for the planner, dead rows of the events' claims made reusable).
    Without statistics the planner goes on believing the tables as small as they were, and it read
    each batch's links by a sequential scan: 7 ms a batch at 17,000 links, growing with them. Run every
    10 minutes by ``rqcron hub.cron``; ``force`` runs it whatever the server does (the benchmarks).
    Returns the tables done: none where autovacuum runs, and none on SQLite."""
    from django.db import connection

    from hub.models import HubWrite, Link
    from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

    if connection.vendor != "postgresql" or not (force or autovacuum_is_off()):
        return []
    tables = [model._meta.db_table for model in (InboundEvent, SyncRecord, SyncAttempt, Link, HubWrite)]
    with connection.cursor() as cursor:  # VACUUM cannot run in a transaction: a job runs in autocommit
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
    return tables
