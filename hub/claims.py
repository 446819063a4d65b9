"""Claiming events for a drainer: a batch at a time, oldest first, held by a lease.

One UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING id claims a batch atomically. On
PostgreSQL the inner SELECT takes row locks and skips rows another drainer holds (FOR UPDATE SKIP
LOCKED), so drainers on many machines never claim the same event; on SQLite the statement runs
under the database's single write lock, which gives the same guarantee. The lease
(``claimed_until``) is what makes a killed worker harmless: its events are claimable again once
the lease has passed, and a live drainer renews it while its batch runs.
"""

import logging
import os
import threading
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from hub import bulkread
from hub.bulkwrite import any_of
from monitoring.models import InboundEvent

log = logging.getLogger(__name__)

TABLE = InboundEvent._meta.db_table


def _claim_sql(returning: str) -> str:
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    return (f"UPDATE {TABLE} SET claimed_until = %s WHERE id IN ("
            f"SELECT id FROM {TABLE} WHERE connection_id = %s AND partition = %s AND status = %s"
            f" AND (claimed_until IS NULL OR claimed_until < %s) ORDER BY id LIMIT %s{lock}) RETURNING {returning}")


def _claim_params(connection_id: int, partition: int, limit: int, lease_seconds: float) -> list:
    now = timezone.now()
    return [now + timedelta(seconds=lease_seconds), connection_id, partition, InboundEvent.Status.RECEIVED, now, limit]


def claim(connection_id: int, partition: int, limit: int, lease_seconds: float) -> list[int]:
    """Claim up to ``limit`` unclaimed (or lease-expired) received events of the partition, oldest
    first; returns their ids in order."""
    with connection.cursor() as cursor:  # one statement, atomic by itself: no BEGIN and COMMIT round trips
        cursor.execute(_claim_sql("id"), _claim_params(connection_id, partition, limit, lease_seconds))
        return sorted(row[0] for row in cursor.fetchall())


def claim_events(connection_id: int, partition: int, limit: int, lease_seconds: float) -> list[InboundEvent]:
    """``claim``, with the claimed events themselves, in order: the same statement returns their rows,
    so the drainer does not read them again."""
    events = bulkread.instances(InboundEvent, _claim_sql(bulkread.columns(InboundEvent)),
                                _claim_params(connection_id, partition, limit, lease_seconds))
    return sorted(events, key=lambda event: event.pk)


def renew(ids: list[int], lease_seconds: float) -> int:
    """Extend the lease of events still being worked on."""
    if not ids:
        return 0
    return InboundEvent.objects.filter(any_of("pk", ids), status=InboundEvent.Status.RECEIVED).update(
        claimed_until=timezone.now() + timedelta(seconds=lease_seconds))


def claimable_partitions(older_than_seconds: float = 0, limit: int = 1000) -> list[tuple[int, int]]:
    """(connection id, partition) of every partition with events a drainer could claim now: those that
    arrived more than ``older_than_seconds`` ago (a fresher one's signal may be on its way) and those
    whose lease or retry time has passed. The sweeper signals these."""
    from django.db.models import Q

    now = timezone.now()
    rows = (InboundEvent.objects.filter(Q(received_at__lt=now - timedelta(seconds=older_than_seconds))
                                        | Q(claimed_until__isnull=False), status=InboundEvent.Status.RECEIVED)
            .exclude(claimed_until__gte=now)
            .order_by().values_list("connection_id", "partition").distinct()[:limit])
    return list(rows)


def next_due(connection_id: int, partition: int):
    """When the partition's next waiting event (a retry, a held record) may be claimed, if any; a time
    already past when one came due after the drainer's last claim."""
    from django.db.models import Min

    return (InboundEvent.objects.filter(connection_id=connection_id, partition=partition,
                                        status=InboundEvent.Status.RECEIVED, claimed_until__isnull=False)
            .aggregate(due=Min("claimed_until"))["due"])


class LeaseKeeper:
    """Renews a batch's lease in the background while the batch is processed: a batch of slow calls
    keeps its events, a killed worker (whose renewer thread dies with it) loses them after one lease.
    One renewer thread per process serves every batch: starting a thread per batch cost about 0.2 ms,
    more than a small batch's claim."""

    def __init__(self, ids: list[int], lease_seconds: float, on_renew=None):
        self.ids, self.lease, self.on_renew = list(ids), lease_seconds, on_renew

    def __enter__(self):
        _renewer().add(self)
        return self

    def __exit__(self, *exc_info):
        _renewer().remove(self)  # once this returns, the batch's lease is not renewed any more


class _Renewer:
    """The process's lease renewer: renews each registered batch every third of its lease."""

    IDLE_SECONDS = 1.0  # between looks while no batch is due sooner

    def __init__(self):
        self._cond = threading.Condition()
        self._due: dict[LeaseKeeper, float] = {}  # keeper -> monotonic time of its next renewal
        self._busy: LeaseKeeper | None = None  # the keeper being renewed right now
        threading.Thread(target=self._run, name="lease-renewer", daemon=True).start()

    def add(self, keeper: LeaseKeeper) -> None:
        with self._cond:
            self._due[keeper] = time.monotonic() + keeper.lease / 3
            if keeper.lease / 3 < self.IDLE_SECONDS:  # due before the renewer's next look: wake it
                self._cond.notify()

    def remove(self, keeper: LeaseKeeper) -> None:
        """Unregister ``keeper``, waiting for a renewal of it in progress: a renewal after the batch has
        settled its events would push a retry's due time back by a lease."""
        with self._cond:
            self._due.pop(keeper, None)
            while self._busy is keeper:
                self._cond.wait()

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                keeper = min(self._due, key=self._due.get, default=None)
                if keeper is None or self._due[keeper] > now:
                    wait = self.IDLE_SECONDS if keeper is None else self._due[keeper] - now
                    self._cond.wait(min(wait, self.IDLE_SECONDS))
                    continue
                self._due[keeper] = now + keeper.lease / 3
                self._busy = keeper
            try:
                renew(keeper.ids, keeper.lease)
                if keeper.on_renew:
                    keeper.on_renew()
            except Exception:  # never let the thread die; the lease runs out and another drainer takes over
                log.exception("could not renew the lease of %s event(s)", len(keeper.ids))
            finally:
                connection.close()  # renewals are seconds apart: no connection kept open between them
                with self._cond:
                    self._busy = None
                    self._cond.notify_all()


_renewers: dict[int, _Renewer] = {}
_renewers_lock = threading.Lock()


def _renewer() -> _Renewer:
    """This process's renewer (after a fork, a new one: threads do not survive it)."""
    with _renewers_lock:
        renewer = _renewers.get(os.getpid())
        if renewer is None:
            renewer = _renewers[os.getpid()] = _Renewer()
        return renewer
