import re
import zlib

from django.conf import settings
from django.db import models

from monitoring.periods import LogQuerySet


def partition_of(source_id: str) -> int:
    """The drain partition of a source record: stable across processes (crc32, not hash()), so every
    event about one record lands in one partition and is applied in order."""
    return zlib.crc32(str(source_id).encode()) % max(1, settings.HUB_PARTITIONS)


# The log tables (events, sync records, attempts; hub's Link and HubWrite) keep their references
# without a FOREIGN KEY constraint in the database (db_constraint=False; the indexes stay). PostgreSQL
# checks every constraint of every inserted row, a look-up and a row lock on the row referred to:
# eight checks per delivered record were a fifth of the database's CPU time per batch. Only the hub
# writes these rows, with ids it has just read or inserted in the same transaction, and rows are only
# deleted through the ORM, which applies the on_delete rules (PROTECT, CASCADE, SET_NULL) itself
# (tests/test_log_references.py).


class InboundEvent(models.Model):
    """A webhook exactly as received (raw body), stored before it is acknowledged."""

    class Status(models.TextChoices):
        RECEIVED = "received", "received"
        PROCESSED = "processed", "processed"
        FAILED = "failed", "failed"
        IGNORED = "ignored", "ignored (no flow)"

    class Origin(models.TextChoices):
        PUSH = "push", "pushed (webhook)"
        POLL = "poll", "polled"
        MESSAGE = "message", "message (ION BOD)"

    # No index of its own: the unique (connection, idempotency_key) index serves look-ups by connection.
    connection = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="events",
                                   db_index=False, db_constraint=False)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.PUSH)
    # The sender's webhook-id, or for polled records entity:id:version: the same thing twice is one event.
    idempotency_key = models.CharField(max_length=200)
    topic = models.CharField(max_length=100, help_text="entity.event, e.g. order.created")
    source_id = models.CharField(max_length=100)  # indexed in Meta: searched exactly, never by prefix
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Batch draining: events of one connection and partition are drained by one job at a time. No
    # drainer takes the event before ``claimed_until``: the lease of the drainer that claimed it (a
    # killed worker's lease ends by itself), or when a record of it is due to be retried.
    partition = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)

    objects = LogQuerySet.as_manager()  # a date hierarchy that reads the index, not the table

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "idempotency_key"], name="event_unique_per_connection"),
        ]
        indexes = [models.Index(fields=["status", "received_at"]),
                   models.Index(fields=["connection", "partition", "status", "id"], name="event_drain_order"),
                   models.Index(fields=["topic"], name="event_topic_idx"),  # the events list's topic filter
                   models.Index(fields=["source_id"], name="event_source_id_idx")]

    def __str__(self):
        return f"{self.connection.slug} {self.topic} #{self.source_id}"

    def save(self, *args, **kwargs):
        if self._state.adding:
            self.partition = partition_of(self.source_id)
        super().save(*args, **kwargs)


class SyncRecord(models.Model):
    """One source record moved by one flow; its attempts say how each try went."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RETRYING = "retrying", "retrying"
        SYNCED = "synced", "synced"
        FAILED = "failed", "failed"
        IGNORED = "ignored", "ignored (by an operator)"
        STALE = "stale", "skipped (an older version than the one applied)"

    flow = models.ForeignKey("hub.Flow", on_delete=models.PROTECT, related_name="records", db_constraint=False)
    # Indexes: every one is written again for every record of every batch, so none is kept twice (the
    # unique (event, flow) serves look-ups by event, (status, next_attempt_at) those by status) and the
    # ids, searched exactly, have no second index for LIKE 'prefix%' (see Meta).
    event = models.ForeignKey(InboundEvent, on_delete=models.PROTECT, related_name="records", db_index=False,
                              db_constraint=False)
    source_id = models.CharField(max_length=100)
    target_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # The error with its particulars (numbers, ids, quoted values) blanked: failures of one cause share it.
    error_group = models.CharField(max_length=300, blank=True)
    ignored_reason = models.TextField(blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    mapping_version = models.PositiveIntegerField(null=True, blank=True, help_text="Version of the mapping used by the last attempt")
    mapped = models.JSONField(null=True, blank=True, help_text="Output of the mapping in the last attempt")
    # When the source changed the record (X-Cart lastRenewDate, PrestaShop date_upd, Domino @modified...),
    # as UTC ISO text: an event older than the one last applied is skipped as stale.
    source_version = models.CharField(max_length=40, blank=True)
    # Edit-and-replay: the operator's corrected source record, used instead of the event's from
    # then on; the event keeps what the sender really sent.
    source_override = models.JSONField(null=True, blank=True)
    source_override_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a retrying record is tried again")

    objects = LogQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["event", "flow"], name="one_record_per_event_and_flow")]
        indexes = [models.Index(fields=["status", "next_attempt_at"]),
                   models.Index(fields=["source_id"], name="record_source_id_idx"),
                   models.Index(fields=["target_id"], name="record_target_id_idx"),
                   models.Index(fields=["error_group"], name="record_error_group_idx")]
        permissions = [("replay_syncrecord", "Can replay sync records (edit and replay too)")]

    def __str__(self):
        return f"{self.flow} #{self.source_id}"


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBERS = re.compile(r"\d+")


def error_group_of(message: str) -> str:
    """``M3 OIS100MI/AddBatchLine: Item number SKU-9999 does not exist`` -> ``... SKU-# does not exist``."""
    return _NUMBERS.sub("#", _QUOTED.sub("'…'", message))[:300]


class SyncAttempt(models.Model):
    """One try at delivering a record: what was sent and received (redacted), and how it ended."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "delivered"
        ALREADY_LINKED = "linked", "already delivered (link exists)"
        TRANSIENT = "transient", "transient error (will retry)"
        PERMANENT = "permanent", "permanent error"
        GAVE_UP = "gave_up", "transient error, retries used up"
        STALE = "stale", "skipped: older than the version applied"

    record = models.ForeignKey(SyncRecord, on_delete=models.CASCADE, related_name="attempts", db_constraint=False)
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error = models.TextField(blank=True)
    note = models.TextField(blank=True)
    exchanges = models.JSONField(default=list, help_text="Calls made, with requests and answers redacted")
    mapping_version = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["record", "number"]

    def __str__(self):
        return f"attempt {self.number} of {self.record}"


class AlertRule(models.Model):
    """A condition on a flow or connection, told by e-mail and/or a Slack-compatible webhook."""

    class Kind(models.TextChoices):
        ERROR_RATE = "error_rate", "error rate over the window (threshold 0-1)"
        DEAD_LETTERS = "dead_letters", "failed records in the window (threshold: count)"
        BACKLOG_AGE = "backlog_age", "age of the oldest waiting event (threshold: minutes)"
        POLL_STALE = "poll_stale", "minutes since the flow's last successful poll"
        CIRCUIT_OPEN = "circuit_open", "the connection's circuit is open (threshold 0)"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    flow = models.ForeignKey("hub.Flow", null=True, blank=True, on_delete=models.CASCADE)
    connection = models.ForeignKey("connectors.Connection", null=True, blank=True, on_delete=models.CASCADE)
    threshold = models.FloatField(help_text="Fires when the measured value goes above it")
    window_minutes = models.PositiveIntegerField(default=15)
    emails = models.CharField(max_length=500, blank=True, help_text="Comma-separated addresses")
    webhook_url = models.URLField(blank=True, help_text="Slack-compatible incoming webhook")
    daily_digest = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    firing = models.BooleanField(default=False, editable=False)
    last_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return self.name
