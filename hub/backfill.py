"""Initial load / backfill: page through everything in a flow's source, from the beginning, into events.

A backfill has its own cursor (``Backfill.cursor``), so the flow's normal poll goes on as before. Each
RQ job reads up to ``PAGES_PER_JOB`` pages and queues the next job until the source says there is no
more; a page's events, the cursor and the counters are committed together, so a backfill stopped by
a crash, a deploy or an operator's pause resumes after the last committed page, and a page read
twice stores nothing twice (the events' keys, entity:id:version).
"""

import logging
from datetime import timedelta

import redis
from django.db import DatabaseError, transaction
from django.utils import timezone

from connectors.base import ConnectorError
from hub import jobs
from hub.models import Backfill, Flow
from hub.polling import store_page

log = logging.getLogger(__name__)
PAGES_PER_JOB = 10  # one RQ job reads this many pages, then queues the next: other work gets its turn
PAGE_SIZE = 100
STALLED_AFTER = timedelta(minutes=5)  # a running backfill with no progress for this long lost its job


class BackfillError(ValueError):
    """Why a backfill cannot be started or resumed, in words for the admin and the API."""


def start(flow: Flow, by: str = "") -> Backfill:
    """Start a backfill of the flow, or resume its paused or failed one; queued after commit."""
    if "poll" not in flow.source.connector().entities.get(flow.source_entity, set()):
        raise BackfillError(f"{flow.source} cannot list {flow.source_entity} records, so there is nothing to page through")
    with transaction.atomic():
        Flow.objects.select_for_update().filter(pk=flow.pk).first()  # one start at a time per flow
        backfill = flow.backfills.exclude(status=Backfill.Status.DONE).first()
        if backfill is None:
            backfill = Backfill.objects.create(flow=flow, started_by=by)
        elif backfill.status != Backfill.Status.RUNNING:
            backfill.status, backfill.error, backfill.finished_at = Backfill.Status.RUNNING, "", None
            backfill.save(update_fields=["status", "error", "finished_at", "updated_at"])
        transaction.on_commit(lambda: enqueue(backfill.pk))
    return backfill


def pause(flow: Flow) -> Backfill | None:
    """Stop the running backfill after its current page; ``start`` resumes it."""
    backfill = flow.backfills.filter(status=Backfill.Status.RUNNING).first()
    if backfill:
        Backfill.objects.filter(pk=backfill.pk, status=Backfill.Status.RUNNING).update(
            status=Backfill.Status.PAUSED, updated_at=timezone.now())
        backfill.refresh_from_db()
    return backfill


def latest(flow: Flow) -> Backfill | None:
    return flow.backfills.first()


def enqueue(backfill_id: int) -> bool:
    """Queue the next job of a backfill, unless the one for its next page is already waiting or running.

    The job id names the page it starts at: a job queues its follow-up under a new id while it still
    runs, and a second request for the same page (resume_stalled, a double click) finds the first."""
    pages = Backfill.objects.filter(pk=backfill_id).values_list("pages", flat=True).first() or 0
    job_id = f"backfill-{backfill_id}-page-{pages + 1}"
    try:
        queue = jobs._queue()
        queued = queue.fetch_job(job_id)
        if queued and queued.get_status(refresh=False) in ("queued", "started", "scheduled", "deferred"):
            return True
        queue.enqueue(run, backfill_id, job_id=job_id)
        return True
    except redis.RedisError as exc:
        log.warning("could not queue backfill %s: %s; resume_stalled will", backfill_id, exc)
        return False


def run(backfill_id: int) -> str:
    """The RQ job: read up to ``PAGES_PER_JOB`` pages, then queue the next job while more is left."""
    backfill = Backfill.objects.select_related("flow__source").get(pk=backfill_id)
    with jobs._locked(f"backfill:{backfill.flow_id}"):
        status = run_pages(backfill, PAGES_PER_JOB, PAGE_SIZE)
    if status == Backfill.Status.RUNNING:
        enqueue(backfill_id)
    return status


def run_pages(backfill: Backfill, pages: int, page_size: int) -> str:
    """Read up to ``pages`` pages of the backfill (no queueing); returns its status afterwards."""
    flow = backfill.flow
    connector = flow.source.connector()
    for _ in range(pages):
        backfill.refresh_from_db(fields=["status", "cursor", "pages", "records", "events"])
        if backfill.status != Backfill.Status.RUNNING:  # paused by an operator meanwhile
            return backfill.status
        try:
            page = connector.poll(flow.source_entity, backfill.cursor or None, limit=page_size)
            with transaction.atomic():
                new_ids = store_page(flow, connector, page.records)
                done = not page.more
                _record_page(backfill, page, len(new_ids), done)
        except (ConnectorError, DatabaseError) as exc:
            message = exc.message if isinstance(exc, ConnectorError) else f"could not store the page: {exc}"
            Backfill.objects.filter(pk=backfill.pk).update(status=Backfill.Status.FAILED, error=message,
                                                           updated_at=timezone.now())
            log.warning("backfill of %s failed at page %s: %s", flow, backfill.pages + 1, message)
            return Backfill.Status.FAILED
        _announce(new_ids)
        if done:
            log.info("backfill of %s done: %s", flow, backfill.summary)
            return Backfill.Status.DONE
    return Backfill.Status.RUNNING


def _record_page(backfill: Backfill, page, new_events: int, done: bool) -> None:
    """The page's cursor and counts, in the page's transaction (a crash before commit loses both)."""
    backfill.cursor = page.cursor or backfill.cursor
    backfill.pages += 1
    backfill.records += len(page.records)
    backfill.events += new_events
    fields = ["cursor", "pages", "records", "events", "updated_at"]
    if done:
        backfill.status, backfill.finished_at = Backfill.Status.DONE, timezone.now()
        fields += ["status", "finished_at"]
    backfill.save(update_fields=fields)


def _announce(event_ids: list[int]) -> None:
    """New events stored: hand them to the workers as a poll does."""
    for event_id in event_ids:
        jobs.enqueue_event(event_id)


def resume_stalled(now=None) -> int:
    """Queue again running backfills that made no progress for a while (their worker died, Redis lost
    the job). Run every minute by the cron; a backfill whose job is still queued is left alone."""
    cutoff = (now or timezone.now()) - STALLED_AFTER
    stalled = list(Backfill.objects.filter(status=Backfill.Status.RUNNING, updated_at__lt=cutoff)
                   .values_list("id", flat=True))
    return sum(enqueue(backfill_id) for backfill_id in stalled)
