import random
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


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
    poll_cursor = models.CharField(max_length=200, blank=True, help_text="Where the next poll starts (advanced after each committed page)")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_poll_error = models.TextField(blank=True)
    history = HistoricalRecords(excluded_fields=["poll_cursor", "last_polled_at", "last_poll_error"])

    class Meta:
        ordering = ["name"]
        permissions = [("pause_flow", "Can pause and resume flows")]

    def __str__(self):
        return self.name

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


class Link(models.Model):
    """The ID cross-reference: this record in the source is that record in the target."""

    entity = models.CharField(max_length=50)
    source_connection = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="+")
    source_id = models.CharField(max_length=100)
    target_connection = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="+")
    target_id = models.CharField(max_length=100, db_index=True)
    # What the record became in the target: one X-Cart order is an M3 sales order and a ledger payment.
    target_entity = models.CharField(max_length=50, blank=True)
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_connection", "entity", "source_id", "target_connection", "target_entity"],
                                    name="one_link_per_record_and_target_entity"),
        ]

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

    connection = models.ForeignKey("connectors.Connection", on_delete=models.CASCADE, related_name="+")
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
