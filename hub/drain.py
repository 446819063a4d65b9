"""Batch draining: ingest signals a partition, one drain job per partition works through it.

A partition is (source connection, crc32(record id) % HUB_PARTITIONS): events about one record always
share one, so they are applied in order, while partitions let several workers drain at once.

Signalling is one round trip (``SET key NX`` and the nudge below) and, only when that key was not
already set, one enqueue: under load a drain job is nearly always pending already, so ingest pays one
cheap Redis call. The key means "a drain job for this partition is queued or running"; it expires
by itself (a killed worker's key is gone after a lease, ``HUB_DRAIN_LEASE``) and the drainer
refreshes it while it works. Correctness never rests on the key: claims (hub.claims) are atomic. A
second lock, held while a job drains, keeps a partition to one drainer at a time, so that two events
about one record in two batches are never applied at once.

Partitions take turns: when other jobs wait for a worker, a job drains one batch of its partition
and, if events remain, hands over to a new job at the back of the queue; when none waits, it goes on
for up to ``HUB_DRAIN_SLICE`` seconds. A busy partition never holds a worker while another waits.

A drainer that empties its partition while no other job waits lingers for up to
``HUB_DRAIN_LINGER`` seconds: every signal also adds to the partition's nudge stream (``XADD``,
one entry kept), which the drainer waits on (``XREAD BLOCK``), so an event committed meanwhile is
claimed at once by the job already running instead of by a new job after RQ's round trip (a job's
start and end cost about as much worker time as a small batch). Nudged right after a batch (the
partition is busy), it lets ``HUB_DRAIN_GATHER`` pass before claiming, so that batches grow with the load.
"""

import gc
import logging
import time

import redis
from django.conf import settings
from django.utils import timezone

from hub import claims

log = logging.getLogger(__name__)

# A job that finds the partition being drained waits this long: the other drainer may be on its way out
# (it looks for new events once more before it leaves, but after that it would not see ours). If it is
# still held then, the job comes back in RETRY_HELD_SECONDS instead of holding its worker.
WAIT_FOR_DRAINER_SECONDS = 0.25
RETRY_HELD_SECONDS = 1


def key_ttl() -> int:
    """As long as a lease: a killed drainer's partition is signalled again once its events are claimable."""
    return max(1, round(settings.HUB_DRAIN_LEASE))


def key(connection_id: int, partition: int) -> str:
    return f"hub:drain:{connection_id}:{partition}"


def nudge_key(connection_id: int, partition: int) -> str:
    return f"hub:nudge:{connection_id}:{partition}"


def _redis():
    from hub import jobs

    return jobs._queue().connection


def signal_many(partitions) -> int:
    """Make sure a drain job for each partition is queued or running, in one round trip: per partition
    the job key (``SET NX``: set means no job was pending, so one is queued) and the nudge a lingering
    drainer waits for. Returns how many were signalled, 0 when Redis is unreachable (the events are
    stored; the sweeper signals their partitions later)."""
    from hub import jobs

    pairs = sorted(partitions)
    try:
        pipe = _redis().pipeline(transaction=False)
        for connection_id, partition in pairs:
            pipe.set(key(connection_id, partition), 1, nx=True, ex=key_ttl())
            pipe.xadd(nudge_key(connection_id, partition), {"n": 1}, maxlen=1, approximate=False)
        for (connection_id, partition), unsignalled in zip(pairs, pipe.execute()[::2]):  # the SET NX answers
            if unsignalled:
                jobs._queue().enqueue(jobs.drain_partition, connection_id, partition)
        return len(pairs)
    except redis.RedisError as exc:
        log.warning("could not signal %s partition(s): %s; the sweeper will", len(pairs), exc)
        return 0


def signal(connection_id: int, partition: int) -> bool:
    """``signal_many`` for one partition; False when Redis is unreachable."""
    return signal_many([(connection_id, partition)]) > 0


def _keep_key(connection_id: int, partition: int) -> None:
    try:
        _redis().set(key(connection_id, partition), 1, ex=key_ttl())
    except redis.RedisError:
        pass  # the key only saves work; the claims keep the drain correct


def _release_key(connection_id: int, partition: int) -> bool:
    try:
        _redis().delete(key(connection_id, partition))
        return True
    except redis.RedisError:
        return False


def _running_lock(connection_id: int, partition: int):
    """The partition's "being drained" lock; None when another drainer keeps it (that one drains our
    events too); False when Redis cannot be reached (then drain without it: claims keep events single)."""
    lock = _redis().lock(f"hub:draining:{connection_id}:{partition}", timeout=key_ttl(),
                         blocking_timeout=WAIT_FOR_DRAINER_SECONDS, thread_local=False)  # renewed by the lease keeper
    try:
        return lock if lock.acquire() else None
    except redis.RedisError as exc:
        log.warning("partition %s/%s drained without its lock (Redis: %s)", connection_id, partition, exc)
        return False


_heap_frozen = False


def _freeze_heap_once() -> None:
    """Once per worker process, before its first drain: move what is alive (Django, the apps, RQ: the
    start-up's objects) out of the cyclic garbage collector's way (``gc.freeze``). A batch makes tens
    of thousands of objects that live as long as the batch; they set off full collections, and each
    walked the whole heap (about 90 ms each, some 10 % of a worker's time). Reference counting still
    frees everything as before; only cycles among the frozen start-up objects are never collected."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


def drain(connection_id: int, partition: int) -> int:
    """Claim and process batches of the partition until it is empty or this job's slice is up;
    returns how many events were processed."""
    _freeze_heap_once()
    lock = _running_lock(connection_id, partition)
    if lock is None:
        _come_back(connection_id, partition)
        return 0
    try:
        done, more = _drain(connection_id, partition, lock)
    finally:
        if lock:
            try:
                lock.release()
            except (redis.RedisError, redis.exceptions.LockError):
                pass  # expired or Redis gone: it ends by itself
    if more:  # after the lock is released, so that the next job does not start by waiting for it
        _hand_over(connection_id, partition)
    return done


def _hand_over(connection_id: int, partition: int) -> None:
    """The slice is up and events may remain: a fresh job at the back of the queue (the partition's key
    is still set, so ingest queues none meanwhile)."""
    from hub import jobs

    try:
        jobs._queue().enqueue(jobs.drain_partition, connection_id, partition)
    except redis.RedisError as exc:
        log.warning("could not hand partition %s/%s over: %s; the sweeper will", connection_id, partition, exc)
        _release_key(connection_id, partition)


def _drain(connection_id: int, partition: int, lock) -> tuple[int, bool]:
    """(events processed, whether the slice ran out before the partition did)."""
    from hub import pipeline

    size, lease = settings.HUB_BATCH_SIZE, settings.HUB_DRAIN_LEASE
    # Turns: with more busy partitions than workers, a drainer that kept its partition while events
    # kept coming would starve the partitions queued behind it (seconds of latency at a steady 200
    # webhooks/s). It hands over to a fresh job at the back of the queue after a batch when jobs
    # wait, after its slice when none does (a job that ran for ever would hide from RQ's timeouts).
    deadline = time.monotonic() + settings.HUB_DRAIN_SLICE
    nudges = Nudges(connection_id, partition)
    done = 0
    kept_at = float("-inf")  # the key was set by the signal, maybe long ago: refresh it at the first batch

    def keep():
        nonlocal kept_at
        kept_at = time.monotonic()
        _keep_key(connection_id, partition)
        if lock:
            try:
                lock.reacquire()
            except (redis.RedisError, redis.exceptions.LockError):
                pass

    took_all = False  # the last claim got less than a batch: what commits after it is nudged
    batch_ended = float("-inf")
    while True:
        # With nudges, a claim after a batch that took all there was would find nothing but what was
        # nudged since: wait for the nudge instead (at once when it already came).
        events = [] if took_all and nudges.enabled else claims.claim_events(connection_id, partition, size, lease)
        while not events and nudges.wait(min(deadline, time.monotonic() + settings.HUB_DRAIN_LINGER)):
            _gather(batch_ended)
            events = claims.claim_events(connection_id, partition, size, lease)
        if not events:
            # Empty. Drop the key first, then look once more: an event committed after our last claim
            # either saw the key gone (and queued a new job) or is found by this second look.
            _release_key(connection_id, partition)
            events = claims.claim_events(connection_id, partition, size, lease)
            if not events:
                wake_when_due(connection_id, partition)
                return done, False
            kept_at = float("-inf")  # set the key again now: we drain on
        ids = [event.pk for event in events]
        if time.monotonic() - kept_at > lease / 3:  # the key and the lock last a lease; the keeper renews mid-batch
            keep()
        with claims.LeaseKeeper(ids, lease, on_renew=keep):
            pipeline.process_events(ids, claimed=events)
        done += len(ids)
        batch_ended = time.monotonic()
        if batch_ended > deadline or _others_waiting():
            return done, True
        took_all = len(ids) < size


def _gather(batch_ended: float) -> None:
    """Nudged within HUB_DRAIN_GATHER of the last batch's end (events came while it ran: the partition is
    busy), let that much time pass before claiming, so that the next batch takes what comes meanwhile
    too. A batch costs about the same for one event as for twenty (its queries, its two Domino calls):
    under load, batches back to back at one or two events each spent the cores on that fixed cost and
    starved the web server. After a quiet spell the first event is claimed at once."""
    wait = settings.HUB_DRAIN_GATHER - (time.monotonic() - batch_ended)
    if wait > 0:
        time.sleep(wait)


class Nudges:
    """The partition's nudge stream, read from where it stood when the drain job began: every entry
    after that is a signal (a commit) the drainer may not have claimed yet."""

    POLL_SECONDS = 0.02  # between looks at the queue while lingering: a job that arrives waits this long at most

    def __init__(self, connection_id: int, partition: int):
        self.stream = nudge_key(connection_id, partition)
        self.seen = None  # the last entry id seen, read before the job's first claim; None: no lingering
        try:
            if settings.HUB_DRAIN_LINGER > 0:
                newest = _redis().xrevrange(self.stream, count=1)
                self.seen = newest[0][0] if newest else b"0-0"
        except redis.RedisError:
            pass

    @property
    def enabled(self) -> bool:
        return self.seen is not None

    def wait(self, until: float) -> bool:
        """Wait for a signal of the partition until ``until`` (monotonic) while no other job waits for a
        worker; True when one came (the partition may hold new events)."""
        if not self.enabled:
            return False
        try:
            while time.monotonic() < until and not _others_waiting():
                block = max(1, int(min(self.POLL_SECONDS, until - time.monotonic()) * 1000))
                answer = _redis().xread({self.stream: self.seen}, count=1, block=block)
                if answer:
                    self.seen = answer[0][1][-1][0]
                    return True
        except redis.RedisError:
            self.seen = None  # go the way without Redis: release, look once more, leave
        return False


def _others_waiting() -> bool:
    """Whether jobs wait in the queue for a worker (other partitions, replays, polls): then a batch is
    the drainer's turn, and it hands over after it. One LLEN; False when Redis cannot say."""
    from hub import jobs

    try:
        return jobs._queue().count > 0
    except redis.RedisError:
        return False


def _come_back(connection_id: int, partition: int) -> None:
    """The partition is held by another drainer: it drains our events, unless it is on its way out;
    look again shortly (a scheduled job, not a worker kept waiting)."""
    from datetime import timedelta

    from hub import jobs

    try:
        # drain_partition itself, not a signal: the key that sent us here may still be set
        jobs._queue().enqueue_in(timedelta(seconds=RETRY_HELD_SECONDS), jobs.drain_partition, connection_id, partition)
    except redis.RedisError as exc:
        log.warning("could not look at partition %s/%s again: %s; the sweeper will", connection_id, partition, exc)


def wake_when_due(connection_id: int, partition: int) -> None:
    """Before a drainer leaves its empty partition: if events of it wait for a retry (or a circuit),
    have the partition signalled when the first is due. One scheduled wake per drain job, so the
    retries of a whole batch come back as a batch."""
    from hub import jobs

    due = claims.next_due(connection_id, partition)
    if due is None:
        return
    if due <= timezone.now():  # it came due after our last claim (a short retry delay): drain again now
        signal(connection_id, partition)
        return
    try:
        jobs._queue().enqueue_at(due, jobs.wake_partition, connection_id, partition)
    except redis.RedisError as exc:
        log.warning("could not schedule the retries of partition %s/%s: %s; the sweeper will", connection_id,
                    partition, exc)


def sweep(older_than_seconds: float = 10) -> int:
    """Signal every partition holding events no drainer has (Redis was down at ingest, a worker was
    killed and its lease ran out, a key outlived its job); returns how many were signalled."""
    return signal_many(claims.claimable_partitions(older_than_seconds))
