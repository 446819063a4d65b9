"""Polling a flow's source: each changed record becomes an inbound event, like a pushed one.

The cursor moves only after the page's events are committed, so a crash between the two polls the
same page again, and the events' idempotency keys (entity:id:version) make that harmless.
"""

import json
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from connectors.base import ConnectorError
from hub.models import Flow, SnapshotVersion
from monitoring.models import InboundEvent

log = logging.getLogger(__name__)
MAX_PAGES_PER_RUN = 50  # a long backlog is worked off over several runs, not one endless job


def due_flows(now=None):
    now = now or timezone.now()
    flows = Flow.objects.filter(enabled=True, poll_interval__isnull=False, source__enabled=True)
    return [f for f in flows if f.last_polled_at is None or f.last_polled_at + timedelta(seconds=f.poll_interval) <= now]


def poll_flow(flow_id: int, page_size: int = 100) -> list[int]:
    """Poll the flow's source once (page after page while more are ready); return the new event ids."""
    flow = Flow.objects.select_related("source").get(pk=flow_id)
    connector = flow.source.connector()
    entity = flow.source_entity
    new_ids: list[int] = []
    try:
        for _ in range(MAX_PAGES_PER_RUN):
            page = connector.poll(entity, flow.poll_cursor or None, limit=page_size)
            with transaction.atomic():
                new_ids += _store(flow, connector, page.records)
                flow.poll_cursor = page.cursor or flow.poll_cursor
                # update(), not save(): polling state is not a configuration change for the audit history
                Flow.objects.filter(pk=flow.pk).update(poll_cursor=flow.poll_cursor, last_polled_at=timezone.now(),
                                                       last_poll_error="")
            if not page.more:
                break
    except ConnectorError as exc:
        Flow.objects.filter(pk=flow.pk).update(last_polled_at=timezone.now(), last_poll_error=exc.message)
        log.warning("poll of %s failed: %s", flow, exc.message)
    return new_ids


def _store(flow: Flow, connector, records: list[dict]) -> list[int]:
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
                     source_id=source_id, body=json.dumps(record))
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
