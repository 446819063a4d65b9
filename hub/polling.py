"""Polling a flow's source: each changed record becomes an inbound event, like a pushed one.

The cursor moves only after the page's events are committed, so a crash between the two polls the
same page again, and the events' idempotency keys (entity:id:version) make that harmless. The same
keys make the overlap window harmless: each run starts ``poll_overlap`` seconds before the cursor,
so a record saved late (its change time already behind the cursor when it became visible) is not
missed.

A flow polls every ``poll_interval`` seconds or on its ``poll_cron`` expression; ``due_flows`` is
asked every few seconds by the cron entry ``jobs.schedule_polls``.
"""

import json
import logging
from datetime import datetime, timedelta

from croniter import croniter
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from connectors.base import ConnectorError
from hub.models import Flow, SnapshotVersion
from monitoring.models import InboundEvent, partition_of

log = logging.getLogger(__name__)
MAX_PAGES_PER_RUN = 50  # a long backlog is worked off over several runs, not one endless job
DEFAULT_OVERLAP_SECONDS = 5  # a flow's poll_overlap when it sets none


def due_flows(now=None):
    now = now or timezone.now()
    flows = (Flow.objects.filter(enabled=True, source__enabled=True)
             .filter(Q(poll_interval__isnull=False) | ~Q(poll_cron="")))
    return [f for f in flows if is_due(f, now)]


def is_due(flow: Flow, now: datetime) -> bool:
    """Never polled, or its interval has passed, or its cron expression had a time since the last poll."""
    if flow.last_polled_at is None:
        return True
    return next_poll_at(flow) <= now


def next_poll_at(flow: Flow) -> datetime | None:
    """When the flow is next due after its last poll (counted from now when it never polled; None when
    it is not polled)."""
    if flow.poll_interval:
        return (flow.last_polled_at or timezone.now()) + timedelta(seconds=flow.poll_interval)
    if flow.poll_cron:
        # In the hub's time zone, so "0 6 * * *" means six in the morning where the hub runs.
        start = timezone.localtime(flow.last_polled_at or timezone.now())
        return croniter(flow.poll_cron.strip(), start).get_next(datetime)
    return None


def overlap_of(flow: Flow) -> int:
    return DEFAULT_OVERLAP_SECONDS if flow.poll_overlap is None else flow.poll_overlap


def poll_flow(flow_id: int, page_size: int = 100) -> list[int]:
    """Poll the flow's source once (page after page while more are ready); return the new event ids."""
    flow = Flow.objects.select_related("source").get(pk=flow_id)
    connector = flow.source.connector()
    entity = flow.source_entity
    new_ids: list[int] = []
    stored = flow.poll_cursor or None
    # Start a little before the cursor; what is read again carries a version already stored.
    rewound = connector.rewind_cursor(entity, stored, overlap_of(flow)) if stored else None
    asked = rewound
    try:
        for _ in range(MAX_PAGES_PER_RUN):
            page = connector.poll(entity, asked, limit=page_size)
            if page.cursor and not (asked == rewound != stored and page.cursor == rewound):
                stored = page.cursor  # (an empty read of the overlap alone keeps the cursor where it was)
            with transaction.atomic():
                new_ids += store_page(flow, connector, page.records)
                # update(), not save(): polling state is not a configuration change for the audit history
                Flow.objects.filter(pk=flow.pk).update(poll_cursor=stored or "", last_polled_at=timezone.now(),
                                                       last_poll_error="")
            asked = page.cursor or asked
            if not page.more:
                break
    except ConnectorError as exc:
        _poll_failed(flow, exc.message)
    except DatabaseError as exc:  # the page was not committed: its cursor was not either
        _poll_failed(flow, f"could not store the polled records: {exc}")
    return new_ids


def _poll_failed(flow: Flow, message: str) -> None:
    log.warning("poll of %s failed: %s", flow, message)
    try:
        Flow.objects.filter(pk=flow.pk).update(last_polled_at=timezone.now(), last_poll_error=message)
    except DatabaseError:
        log.exception("could not record the poll error of %s", flow)


def store_page(flow: Flow, connector, records: list[dict]) -> list[int]:
    """Store a page of polled records as events (in the caller's transaction); return the new ids.

    A record whose key (entity:id:version) is stored already, by an earlier poll, an overlap or a
    backfill, is not stored again."""
    entity = flow.source_entity
    versions = {str(connector.record_id(entity, r)): (str(connector.record_version(entity, r)), r) for r in records}
    if entity in connector.snapshot_entities:
        versions = _changed_snapshots(flow, entity, versions)
        stamp = f":{timezone.now().timestamp():.6f}"  # a snapshot value may come back: keys stay unique
    else:
        stamp = ""
    events = [
        InboundEvent(connection=flow.source, origin=InboundEvent.Origin.POLL,
                     idempotency_key=f"{entity}:{source_id}:{version}{stamp}", topic=f"{entity}.changed",
                     source_id=source_id, body=json.dumps(record), partition=partition_of(source_id))
        for source_id, (version, record) in versions.items()
    ]
    keys = [e.idempotency_key for e in events]
    seen = set(InboundEvent.objects.filter(connection=flow.source, idempotency_key__in=keys)
               .values_list("idempotency_key", flat=True))
    fresh = [e for e in events if e.idempotency_key not in seen]
    InboundEvent.objects.bulk_create(fresh, ignore_conflicts=True)
    return list(InboundEvent.objects.filter(connection=flow.source, idempotency_key__in=[e.idempotency_key for e in fresh])
                .values_list("id", flat=True))


def _changed_snapshots(flow: Flow, entity: str, versions: dict) -> dict:
    """Keep only records whose version differs from the last one seen, and remember the new ones."""
    known = dict(SnapshotVersion.objects.filter(connection=flow.source, entity=entity, source_id__in=list(versions))
                 .values_list("source_id", "version"))
    changed = {sid: v for sid, v in versions.items() if known.get(sid) != v[0]}
    SnapshotVersion.objects.bulk_create(
        [SnapshotVersion(connection=flow.source, entity=entity, source_id=sid, version=v[0]) for sid, v in changed.items()],
        update_conflicts=True, unique_fields=["connection", "entity", "source_id"], update_fields=["version"],
    )
    return changed
