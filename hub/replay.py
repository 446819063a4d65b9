"""Replaying sync records: one, a selection, or every record matching a filter, optionally against a
chosen mapping version instead of the published one.

The admin and the API both go through ``replay``: records are marked pending (the list shows at once
that they are on their way), the chosen version is pinned on each (``ReplayVersion``) or a pin left
by an earlier replay is removed, and the jobs are queued after commit. The pipeline asks
``mapping_for`` which mapping function and version a record's attempt uses.
"""

from django.db import transaction
from django.db.models import Q

from hub.models import ReplayVersion
from mappings.engine import compiled, compiled_version
from mappings.models import MappingVersion
from monitoring.models import SyncRecord

MAX_RECORDS = 10_000  # one bulk replay; a larger backlog is replayed in rounds
# What a filter may ask to replay; synced records are never sent again by a bulk replay.
REPLAYABLE = (SyncRecord.Status.FAILED, SyncRecord.Status.RETRYING, SyncRecord.Status.IGNORED,
              SyncRecord.Status.STALE)


class ReplayError(ValueError):
    """Why a replay cannot be done as asked, in words for the admin and the API."""


def matching(*, flow=None, status=SyncRecord.Status.FAILED, error_group="", error_contains="", since=None,
             until=None, queryset=None):
    """Records to replay by filter: by default the failed ones; ``status`` may name another replayable one."""
    if status not in REPLAYABLE:
        raise ReplayError(f"records that are {status} are not replayed in bulk; choose one of {', '.join(REPLAYABLE)}")
    records = (queryset if queryset is not None else SyncRecord.objects.all()).filter(status=status)
    if flow:
        records = records.filter(flow_id=getattr(flow, "pk", flow))
    if error_group:
        records = records.filter(error_group=error_group)
    if error_contains:
        records = records.filter(Q(error__icontains=error_contains) | Q(error_group__icontains=error_contains))
    if since:
        records = records.filter(created_at__gte=since)
    if until:
        records = records.filter(created_at__lte=until)
    return records


def check_version(records, number: int) -> None:
    """Every mapping behind ``records`` must have version ``number``."""
    mapping_ids = set(records.values_list("flow__mapping_id", flat=True).distinct())
    having = set(MappingVersion.objects.filter(mapping_id__in=mapping_ids, number=number)
                 .values_list("mapping_id", flat=True))
    missing = mapping_ids - having
    if missing:
        from mappings.models import Mapping

        names = ", ".join(sorted(Mapping.objects.filter(pk__in=missing).values_list("name", flat=True)))
        raise ReplayError(f"mapping {names} has no version {number}")


def replay(records, *, mapping_version: int | None = None, by: str = "") -> list[int]:
    """Replay the records that are not synced; return their ids. With ``mapping_version``, their
    attempts map with that version (checked to exist) until they are replayed without one."""
    from hub import jobs  # jobs imports the pipeline, which imports this module

    records = records.exclude(status=SyncRecord.Status.SYNCED)
    if mapping_version is not None:
        check_version(records, mapping_version)
    ids = list(records.values_list("id", flat=True)[:MAX_RECORDS])
    with transaction.atomic():
        SyncRecord.objects.filter(pk__in=ids).update(status=SyncRecord.Status.PENDING)
        ReplayVersion.objects.filter(record_id__in=ids).delete()
        if mapping_version is not None:
            ReplayVersion.objects.bulk_create([ReplayVersion(record_id=i, number=mapping_version, chosen_by=by)
                                               for i in ids])
        transaction.on_commit(lambda: [jobs.enqueue_replay(i) for i in ids])
    return ids


def pinned_versions(record_ids) -> dict[int, int]:
    """Record id -> the mapping version chosen on replay, for the records that have one (one query)."""
    return dict(ReplayVersion.objects.filter(record_id__in=list(record_ids)).values_list("record_id", "number"))


def mapping_for(record: SyncRecord, mapping, pinned: dict[int, int] | None = None):
    """(mapping function, version number) for the record's next attempt: the version an operator chose
    on replay, else the published one. ``pinned`` (from ``pinned_versions``) saves the query in a batch."""
    number = (pinned if pinned is not None else pinned_versions([record.pk])).get(record.pk)
    if number is None:
        return compiled(mapping), mapping.version
    return compiled_version(mapping, number), number
