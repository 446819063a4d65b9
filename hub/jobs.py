"""RQ job entry points. Jobs take ids only and load everything from the database."""

import logging
from datetime import timedelta

import django_rq
import redis
from django.conf import settings
from django.utils import timezone

from hub import pipeline

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


def _enqueue(func, arg) -> bool:
    """Enqueue, or leave the work to the sweeper when Redis is unreachable: the row is stored."""
    try:
        _queue().enqueue(func, arg)
        return True
    except redis.RedisError as exc:
        log.warning("could not enqueue %s(%s): %s; the sweeper will pick it up", func.__name__, arg, exc)
        return False


def _schedule_retries(retries: list[tuple[int, float]]) -> None:
    """Replay each record after its delay (RQ's scheduler); if Redis refuses, the sweeper finds
    the record by its next_attempt_at."""
    for record_id, delay in retries:
        try:
            _queue().enqueue_in(timedelta(seconds=delay), replay_record, record_id)
        except redis.RedisError as exc:
            log.warning("could not schedule the retry of record %s: %s; the sweeper will", record_id, exc)


def enqueue_event(event_id: int) -> bool:
    return _enqueue(process_event, event_id)


def enqueue_replay(record_id: int) -> bool:
    return _enqueue(replay_record, record_id)


def _locked(name: str):
    """One run at a time per event/record, whichever worker holds it (duplicate enqueues are harmless)."""
    return _queue().connection.lock(f"hub:lock:{name}", timeout=LOCK_SECONDS, blocking_timeout=30)


def process_event(event_id: int) -> None:
    with _locked(f"event:{event_id}"):
        retries = pipeline.process_event(event_id)
    _schedule_retries(retries)


def replay_record(record_id: int) -> None:
    from monitoring.models import SyncRecord

    with _locked(f"event:{SyncRecord.objects.values_list('event_id', flat=True).get(pk=record_id)}"):
        retries = pipeline.replay_record(record_id)
    _schedule_retries(retries)


def poll_flow(flow_id: int) -> int:
    """Poll one flow's source and queue the new events (after their commit)."""
    from hub import polling

    with _locked(f"poll:{flow_id}"):
        new_ids = polling.poll_flow(flow_id)
    for event_id in new_ids:
        enqueue_event(event_id)
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


def sweep_unqueued_events(older_than_seconds: int = 60) -> int:
    """Enqueue events that were stored but never picked up (Redis down at ingest, a worker killed).

    Run every minute by ``rqcron hub.cron``.
    """
    from monitoring.models import InboundEvent, SyncRecord

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED, received_at__lt=cutoff).exclude(
        records__status=SyncRecord.Status.RETRYING
    )
    count = 0
    for event_id in stuck.values_list("id", flat=True).distinct()[:1000]:
        count += enqueue_event(event_id)
    # Retries whose scheduled job never ran (Redis lost it, or was down when it was scheduled).
    overdue = SyncRecord.objects.filter(status=SyncRecord.Status.RETRYING, next_attempt_at__lt=cutoff)
    for record_id in overdue.values_list("id", flat=True)[:1000]:
        count += enqueue_replay(record_id)
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
