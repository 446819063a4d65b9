"""Storing webhooks: concurrent requests of one web process share one INSERT and one COMMIT.

A commit costs a flush of PostgreSQL's write-ahead log (about 0.4 ms on this machine), and at thousands of
webhooks a second that flush, not the work, is the limit. So a request does not commit its own row: it
hands the row to its process's committer thread and waits. The committer takes every row waiting (no
timer: at low load a batch is one row, under load it is what arrived during the previous commit),
inserts them in one statement, commits, and wakes the requests: a 202 means "stored".

Signalling (hub.drain.signal_many, one Redis round trip) costs about as much CPU as the rest of a
commit: a system call and a wake-up each way on this kind of machine. So the committer signals at most
once per ``HUB_SIGNAL_WINDOW``: a commit after a quiet spell signals its partitions at once, before its
requests are woken; what commits within the window after a signal is signalled together at the window's
end. A drainer busy with the partition claims those events anyway, and an idle one hears of them a few
milliseconds later. If the process dies inside the window, the sweeper signals them.

A repeated webhook-id is not an error: the INSERT skips it (``ON CONFLICT DO NOTHING``) and its request
is told the stored event. A row the database refuses for itself (not a duplicate) fails alone: the
batch is written again row by row.
"""

import logging
import os
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction

from hub import bulkwrite
from monitoring.models import InboundEvent, partition_of

log = logging.getLogger(__name__)

MAX_BATCH = 500  # rows per INSERT: well under SQLite's 32,766 parameters at 12 columns a row
WAIT_SECONDS = 30.0  # a request waits this long for its commit, then answers 503 (the sender retries)


class NotStored(Exception):
    """The event could not be stored (database busy or down): the sender should retry."""


@dataclass
class Stored:
    id: int
    status: str
    duplicate: bool


@dataclass
class _Pending:
    event: InboundEvent
    done: threading.Event = field(default_factory=threading.Event)
    result: Stored | None = None
    error: Exception | None = None


def insert(events: list[InboundEvent]) -> list[Stored]:
    """Insert events, skipping webhook-ids their connection already has; one result per event, in
    order (the first of two rows with one id in a batch is the new one). Runs in the caller's
    transaction, or alone in autocommit. On PostgreSQL the statement is the same for any number of
    rows (a column per array, hub.bulkwrite): psycopg no longer parses a new text of 13 x rows
    placeholders for every commit, which was a seventh of the committer's time."""
    for event in events:
        event.partition = partition_of(event.source_id)
    rows = bulkwrite.insert_rows(InboundEvent, events, ignore_conflicts=True,
                                 unique_fields=["connection", "idempotency_key"])
    new = {(conn, key): pk for pk, conn, key in rows}
    repeated = defaultdict(list)  # rare: one query per connection for the batch's repeats
    for event in events:
        if (event.connection_id, event.idempotency_key) not in new:
            repeated[event.connection_id].append(event.idempotency_key)
    existing = {}
    for connection_id, keys in repeated.items():
        existing.update(((connection_id, key), (pk, status)) for pk, key, status in InboundEvent.objects.filter(
            connection_id=connection_id, idempotency_key__in=keys).values_list("id", "idempotency_key", "status"))
    results, assigned = [], {}
    for event in events:
        ident = (event.connection_id, event.idempotency_key)
        if ident in new and ident not in assigned:
            event.pk = assigned[ident] = new[ident]
            results.append(Stored(event.pk, event.status, duplicate=False))
        elif ident in assigned:  # the same webhook twice in one batch: the first one is stored
            results.append(Stored(assigned[ident], InboundEvent.Status.RECEIVED, duplicate=True))
        else:
            pk, status = existing[ident]
            results.append(Stored(pk, status, duplicate=True))
    return results


# --- the committer: one per web process ------------------------------------------------------------

class SignalWindow:
    """Partitions to signal, sent at most once per ``window`` seconds (see the module's docstring)."""

    def __init__(self, signal, window: float):
        self._signal, self._window = signal, window
        self._waiting: set = set()
        self._next_at = float("-inf")  # monotonic time from which a signal may go at once

    def add(self, partitions) -> None:
        """Signal ``partitions`` now if the window allows, else at its end (``flush``)."""
        self._waiting |= partitions
        if time.monotonic() >= self._next_at:
            self.flush()

    def timeout(self) -> float | None:
        """Seconds until the waiting partitions are due; None when none waits."""
        if not self._waiting:
            return None
        return max(0.0, self._next_at - time.monotonic())

    def flush(self) -> None:
        if self._waiting:
            waiting, self._waiting = self._waiting, set()
            self._next_at = time.monotonic() + self._window
            self._signal(waiting)


class Committer:
    """A thread that writes the rows requests hand it, a batch per commit (see the module's docstring)."""

    def __init__(self, signal, window: float | None = None):
        # signal(set of (connection id, partition)) after a commit, at most once per window
        self._signals = SignalWindow(signal, settings.HUB_SIGNAL_WINDOW if window is None else window)
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ingest-committer", daemon=True)
        self._thread.start()

    def store(self, event: InboundEvent) -> Stored:
        pending = _Pending(event)
        self._queue.put(pending)
        if not pending.done.wait(WAIT_SECONDS):
            raise NotStored(f"the event was not committed within {WAIT_SECONDS:.0f} s")
        if pending.error is not None:
            raise pending.error
        return pending.result

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is waiting, close the thread's database connection and end the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self):
        while True:
            try:
                first = self._queue.get(timeout=self._signals.timeout())
            except queue.Empty:  # a window ended with partitions waiting
                self._signals.flush()
                continue
            if first is None:
                self._signals.flush()
                connection.close()
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    pending = self._queue.get_nowait()
                except queue.Empty:
                    break
                if pending is None:  # stop after this batch
                    self._queue.put(None)
                    break
                batch.append(pending)
            try:
                self._write(batch)
            except Exception as exc:  # never let the thread die: every waiter must hear something
                log.exception("the ingest committer failed on a batch of %s", len(batch))
                for pending in batch:
                    if not pending.done.is_set():
                        pending.error = NotStored(str(exc))
                        pending.done.set()

    def _write(self, batch: list[_Pending]) -> None:
        # The thread keeps its connection (no per-batch health check: a broken one fails a batch with
        # OperationalError, is closed, and the next batch reconnects).
        try:  # one statement in autocommit: atomic by itself, without BEGIN and COMMIT round trips
            results = insert([p.event for p in batch])
            for pending, result in zip(batch, results):
                pending.result = result
        except OperationalError as exc:  # busy or down: nothing of the batch is stored
            log.warning("could not store %s webhook(s): %s", len(batch), exc)
            connection.close()
            for pending in batch:
                pending.error = NotStored(str(exc))
        except DatabaseError:  # one row the database refuses must not fail the others
            for pending in batch:
                try:
                    pending.result = insert([pending.event])[0]
                except OperationalError as exc:
                    pending.error = NotStored(str(exc))
                except DatabaseError as exc:
                    pending.error = exc
        fresh = {(p.event.connection_id, p.event.partition) for p in batch if p.result and not p.result.duplicate}
        if fresh:
            self._signals.add(fresh)
        for pending in batch:
            pending.done.set()


_committer: tuple[int, Committer] | None = None
_committer_lock = threading.Lock()


def committer() -> Committer:
    """This process's committer, started on first use (after a fork, a new one: threads do not survive it)."""
    global _committer
    with _committer_lock:
        if _committer is None or _committer[0] != os.getpid():
            from hub import jobs

            _committer = (os.getpid(), Committer(jobs.signal_partitions))
        return _committer[1]


def shutdown() -> None:
    """Stop this process's committer, if it runs (the tests' end; a new one starts on next use)."""
    global _committer
    with _committer_lock:
        running, _committer = _committer, None
    if running is not None and running[0] == os.getpid():
        running[1].stop()


def store(event: InboundEvent) -> Stored:
    """Store a new event (committed when this returns; its partition signalled, or due to be within
    HUB_SIGNAL_WINDOW); a repeated webhook-id returns the stored event. Inside a transaction (a test,
    a caller's atomic block) the row is written in it and the signal waits for its commit."""
    if connection.in_atomic_block:
        try:
            with transaction.atomic():  # a savepoint keeps the caller's transaction usable after an error
                result = insert([event])[0]
        except OperationalError as exc:
            raise NotStored(str(exc)) from exc
        if not result.duplicate:
            from hub import jobs

            transaction.on_commit(lambda: jobs.signal_partitions({(event.connection_id, event.partition)}))
        return result
    return committer().store(event)
