"""The configuration a worker reads for every batch, kept between batches until it changes.

A batch needs the enabled flows of its source, with their connections (the target's circuit state
included) and published mappings. Read from the database that is one query with four joins and
the building of every model: a sixth of a worker's time on small batches. It changes seldom, so
each change to a flow, a connection or a mapping sets a new version (in Redis, shared by every
worker, and in this process), and a batch reads the flows again only when the version changed: one
Redis GET instead. Without Redis every batch reads them, as before; and whatever happens to Redis
(a change told while it was down, a restart that forgot the version), nothing is kept longer than
``MAX_AGE_SECONDS``.

Changes are caught where they are written: ``save()`` and ``delete()`` (signals), and ``update()``
on these models' querysets (``ConfigQuerySet``), which is how the circuit breaker, pause and publish
write. A worker may use what it read for one batch after a change, never more.
"""

import logging
import time
import uuid

import redis
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

log = logging.getLogger(__name__)

KEY = "hub:config-version"
MAX_AGE_SECONDS = 30

# Fields written often that no batch reads from its cached flows: an update of these alone keeps the cache.
NOT_READ_BY_BATCHES = frozenset({"last_error", "last_error_at", "poll_cursor", "last_polled_at", "last_poll_error"})

_local_version = 0
_cached: dict[tuple, tuple[tuple, float, object]] = {}


def _redis():
    from hub import jobs

    return jobs._queue().connection


def _bump_shared() -> None:
    """A new random version, not a counter: a Redis that restarts empty and counts again can never
    bring an old number back."""
    try:
        _redis().set(KEY, uuid.uuid4().hex)
    except redis.RedisError as exc:
        log.warning("could not tell the workers that the configuration changed (Redis: %s); they read it "
                    "again within %s s", exc, MAX_AGE_SECONDS)


def changed() -> None:
    """The configuration changed: every worker reads it again for its next batch. Told now (this
    process, and the workers of tests whose transactions never commit) and once more after the
    commit, so that a worker that read the old rows between the two does not keep them."""
    global _local_version
    _local_version += 1
    _bump_shared()
    transaction.on_commit(_bump_shared)


def version() -> tuple | None:
    """The configuration's version now; None when it cannot be known (Redis unreachable)."""
    try:
        return _redis().get(KEY) or b"", _local_version
    except redis.RedisError:
        return None


def cached(key: tuple, load):
    """``load()``'s value for ``key``, read again only when the configuration changed since it was
    read. The version is taken before the read, so a change made during the read is seen next time."""
    current, now = version(), time.monotonic()
    hit = _cached.get(key)
    if current is not None and hit is not None and hit[0] == current and now - hit[1] < MAX_AGE_SECONDS:
        return hit[2]
    value = load()
    if current is not None:
        if len(_cached) > 1000:
            _cached.clear()
        _cached[key] = (current, now, value)
    return value


def forget() -> None:
    """Drop what this process keeps (tests that empty the database under it)."""
    global _local_version
    _local_version += 1
    _cached.clear()


def _read_by_batches(fields) -> bool:
    return not set(fields) <= NOT_READ_BY_BATCHES


class ConfigQuerySet(models.QuerySet):
    """``update()`` and ``delete()`` on configuration rows tell the workers."""

    def update(self, **kwargs):
        count = super().update(**kwargs)
        if count and _read_by_batches(kwargs):
            changed()
        return count

    def delete(self):
        result = super().delete()
        if result[0]:
            changed()
        return result


def _on_save(sender, update_fields=None, **kwargs):
    if update_fields is None or _read_by_batches(update_fields):
        changed()


def _on_delete(sender, **kwargs):
    changed()


def watch(*model_classes) -> None:
    for model in model_classes:
        post_save.connect(_on_save, sender=model, dispatch_uid=f"configcache-save-{model._meta.label}")
        post_delete.connect(_on_delete, sender=model, dispatch_uid=f"configcache-delete-{model._meta.label}")
