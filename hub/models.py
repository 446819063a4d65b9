import random
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from hub.configcache import ConfigQuerySet


class Flow(models.Model):
    """Source connection + entity/event -> mapping -> target connection + action."""

    name = models.CharField(max_length=100, unique=True)
    source = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="outgoing_flows")
    source_entity = models.CharField(max_length=50, help_text="e.g. order")
    source_event = models.CharField(max_length=50, default="*", help_text="e.g. created; * for every event")
    mapping = models.ForeignKey("mappings.Mapping", on_delete=models.PROTECT, related_name="flows")
    target = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="incoming_flows")
    target_action = models.CharField(max_length=50, help_text="e.g. sales_order.create")
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    only_when = models.CharField(
        max_length=200, blank=True,
        help_text="Comma-separated conditions on the source record, all needed for this flow to apply: "
                  "a path that must have a value (TrackingNumber), path=value (paymentStatus.code=P), "
                  "or @linked (the record is linked to one in the target)",
    )
    # Retries of transient failures: exponential backoff with jitter; empty means the settings' default.
    max_attempts = models.PositiveIntegerField(null=True, blank=True,
                                               help_text="Attempts before a record is dead-lettered (default HUB_MAX_ATTEMPTS)")
    retry_backoff = models.FloatField(null=True, blank=True,
                                      help_text="Seconds before the first retry, doubled each time (default HUB_RETRY_BACKOFF)")
    # Polling: for sources that cannot push (M3 stock, Domino documents) or as a safety net.
    poll_interval = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds between polls of the source; empty when the source pushes events"
    )
    poll_cron = models.CharField(
        max_length=100, blank=True,
        help_text="Or a cron expression in the hub's time zone (minute hour day month weekday, e.g. */15 6-20 * * 1-5); "
                  "set an interval or a cron expression, not both",
    )
    poll_overlap = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Seconds of the previous poll read again at each poll, to catch records saved late; "
                  "what was already read is dropped by its version (default 5)",
    )
    poll_cursor = models.CharField(max_length=200, blank=True, help_text="Where the next poll starts (advanced after each committed page)")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_poll_error = models.TextField(blank=True)
    # Which side wins, field by field, when the hub updates a record someone changed in the target.
    conflict_policy = models.JSONField(
        null=True, blank=True,
        help_text='Which side wins when the hub updates a record that was also changed in the target: '
                  '{"default": "source", "fields": {"Status": "target"}}. A field where the target wins keeps the '
                  "target's value when it was changed there since the hub last wrote it. Empty: the source wins.",
    )
    objects = ConfigQuerySet.as_manager()  # update() and delete() tell the workers (hub.configcache)
    history = HistoricalRecords(excluded_fields=["poll_cursor", "last_polled_at", "last_poll_error"])

    class Meta:
        ordering = ["name"]
        permissions = [("pause_flow", "Can pause and resume flows")]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.poll_interval and self.poll_cron:
            errors["poll_cron"] = "Set an interval or a cron expression, not both."
        if self.poll_cron and not croniter.is_valid(self.poll_cron.strip()):
            errors["poll_cron"] = (f"{self.poll_cron!r} is not a cron expression: five fields, minute hour day "
                                   "month weekday, e.g. */15 * * * *")
        problem = conflict_policy_problem(self.conflict_policy)
        if problem:
            errors["conflict_policy"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def polled(self) -> bool:
        """The flow reads its source on a schedule (an interval or a cron expression)."""
        return bool(self.poll_interval or self.poll_cron)

    def retry_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``: doubling, capped, with jitter
        (half to all of it, so a crowd of retries does not come back at once), never before the
        system's Retry-After."""
        base = self.retry_backoff if self.retry_backoff is not None else settings.HUB_RETRY_BACKOFF
        delay = min(settings.HUB_RETRY_MAX_DELAY, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        return max(delay, retry_after or 0)

    @property
    def attempts_allowed(self) -> int:
        return self.max_attempts or settings.HUB_MAX_ATTEMPTS

    @property
    def target_entity(self) -> str:
        return self.target_action.partition(".")[0]

    @property
    def creates_only(self) -> bool:
        """A ``*.create`` action never touches a record it already delivered; others update it."""
        return self.target_action.endswith(".create")


SIDES = ("source", "target")


def conflict_policy_problem(policy) -> str:
    """What is wrong with a conflict policy, in words for the admin ("" when it is fine or empty)."""
    if policy in (None, "", {}):
        return ""
    if not isinstance(policy, dict):
        return 'A JSON object, e.g. {"default": "source", "fields": {"Status": "target"}}.'
    unknown = sorted(set(policy) - {"default", "fields"})
    if unknown:
        return f"Unknown key(s) {', '.join(unknown)}: only \"default\" and \"fields\"."
    if policy.get("default", "source") not in SIDES:
        return f'"default" is "source" or "target", not {policy.get("default")!r}.'
    fields = policy.get("fields", {})
    if not isinstance(fields, dict):
        return '"fields" maps field names to "source" or "target".'
    wrong = [f"{name}: {side!r}" for name, side in fields.items() if side not in SIDES]
    if wrong:
        return f'Each field is won by "source" or "target", not {", ".join(wrong)}.'
    return ""


class Backfill(models.Model):
    """An initial load (or a later one) of everything in a flow's source, page by page.

    It keeps its own cursor, so the flow's normal poll goes on undisturbed; the cursor and counters
    move in the same transaction as the page's events, so after a crash it resumes where the last
    committed page ended, and the events' keys make a page read twice harmless.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        PAUSED = "paused", "paused"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="backfills")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    cursor = models.CharField(max_length=200, blank=True, help_text="Where the next page starts")
    pages = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0, help_text="Records read")
    events = models.PositiveIntegerField(default=0, help_text="New events stored (records not seen before)")
    error = models.TextField(blank=True)
    started_by = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self):
        return f"backfill of {self.flow}: {self.summary}"

    @property
    def summary(self) -> str:
        text = f"{self.status}, {self.pages} page(s), {self.records} record(s), {self.events} new event(s)"
        return f"{text}: {self.error}" if self.error else text


class ReplayVersion(models.Model):
    """The mapping version an operator chose when replaying a record: its attempts map with that
    version instead of the published one until it is replayed again without one."""

    record = models.OneToOneField("monitoring.SyncRecord", on_delete=models.CASCADE, related_name="replay_version")
    number = models.PositiveIntegerField(help_text="Mapping version number")
    chosen_by = models.CharField(max_length=150, blank=True)
    chosen_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.record} with mapping v{self.number}"


class Link(models.Model):
    """The ID cross-reference: this record in the source is that record in the target."""

    entity = models.CharField(max_length=50)
    # The connections have no index of their own: the two in Meta, which every batch writes, serve them.
    source_connection = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="+",
                                          db_index=False, db_constraint=False)  # no constraint: monitoring/models.py says why
    source_id = models.CharField(max_length=100)
    target_connection = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="+",
                                          db_index=False, db_constraint=False)
    target_id = models.CharField(max_length=100)
    # What the record became in the target: one X-Cart order is an M3 sales order and a ledger payment.
    target_entity = models.CharField(max_length=50, blank=True)
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="links",
                             db_constraint=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_connection", "entity", "source_id", "target_connection", "target_entity"],
                                    name="one_link_per_record_and_target_entity"),
        ]
        # A batch looks its records' links up by source id without the entity, which the unique
        # index above needs second: without this one, every link of the connection was read. Back-flows
        # look them up by target id.
        indexes = [models.Index(fields=["source_connection", "source_id"], name="link_by_source_record"),
                   models.Index(fields=["target_connection", "target_id"], name="link_by_target_record")]

    def __str__(self):
        return f"{self.entity} {self.source_id} -> {self.target_id}"


class SnapshotVersion(models.Model):
    """The last version seen of a record that can only be polled as a whole (M3 stock balances).

    Such sources have no change date, so each poll reads everything and only records whose version
    differs from the one kept here become events; a value going back (5 -> 4 -> 5) is still a change.
    """

    connection = models.ForeignKey("connectors.Connection", on_delete=models.CASCADE, related_name="+")
    entity = models.CharField(max_length=50)
    source_id = models.CharField(max_length=100)
    version = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "entity", "source_id"], name="one_snapshot_per_record")]


class HubWrite(models.Model):
    """What the hub last wrote to a record, to recognise that write when it comes back as an event.

    Bi-directional flows (customers X-Cart <-> M3) would otherwise ping-pong: the hub updates M3,
    M3's change is polled, the hub updates X-Cart, X-Cart pushes the change, and so on.
    """

    connection = models.ForeignKey("connectors.Connection", on_delete=models.CASCADE, related_name="+",
                                   db_index=False, db_constraint=False)  # the unique index below serves it
    entity = models.CharField(max_length=50)
    record_id = models.CharField(max_length=100)
    fields = models.JSONField(help_text="The flat field values written")
    written_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "entity", "record_id"], name="one_write_per_record")]

    def matches(self, record: dict) -> bool:
        """True when the record still carries every value the hub wrote (compared as trimmed text)."""
        compared = [k for k in self.fields if k in record]
        return bool(compared) and all(_norm(record[k]) == _norm(self.fields[k]) for k in compared)


def _norm(value) -> str:
    """One spelling per value across systems: 31.6 == "31.60", "2026-11-23 10:00:00" == "2026-11-23T10:00:00Z"."""
    text = str(value).strip()
    try:
        return str(Decimal(text).normalize())
    except InvalidOperation:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text.casefold()
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
