"""What every connector is: a thin class declaring what a system can do, over the shared HTTP path.

A connector is built for one Connection (``connector = connection.connector()``) and lives for one
job. Errors it raises are ``ConnectorError`` with ``permanent`` telling the engine whether a retry
can help (healthchecks' TransportError, OCA connector's retryable vs permanent errors).
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone

from connectors.http import HttpClient
from connectors.ratelimit import Budget


class ConnectorError(Exception):
    """A call to an external system failed. ``permanent=False`` means "retry later may work"."""

    def __init__(self, message: str, *, permanent: bool, status: int | None = None,
                 retry_after: float | None = None, code: str = ""):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.code = code
        self.exchanges: list[dict] | None = None  # set by perform_many: this item's calls

    def __str__(self):
        return self.message


@dataclass
class InboundEvent:
    """What a connector reads off a pushed payload: which entity and event, and which record."""

    entity: str
    event: str
    source_id: str
    record: dict | None  # None when the payload is thin and the record must be fetched

    @property
    def topic(self) -> str:
        return f"{self.entity}.{self.event}"


def standard_payload(payload: dict, system: str) -> tuple[str, str, dict]:
    """(entity, event, data) of a Standard Webhooks style payload ``{"type": "order.created", "data": {...}}``."""
    topic = payload.get("type")
    if not isinstance(topic, str) or "." not in topic:
        raise ValueError(f'{system} push needs "type" like "order.created"')
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValueError(f'{system} push needs "data" as an object')
    entity, event = topic.split(".", 1)
    return entity, event, data


@dataclass
class DeliveryResult:
    target_id: str
    note: str = ""  # e.g. "existing order found by CUOR", shown on the attempt
    extra_links: list[tuple[str, str, str]] = field(default_factory=list)  # (entity, source id, target id)
    exchanges: list[dict] | None = None  # set by perform_many: the calls made for this item


@dataclass
class Page:
    """One page of an incremental poll: the records changed since the cursor, oldest first.

    ``cursor`` is opaque to the engine: it is stored only once the page's records are committed
    and handed back on the next poll. ``more`` says another page is ready right away.
    """

    records: list[dict]
    cursor: str | None
    more: bool = False


@dataclass(frozen=True)
class SecretField:
    name: str
    label: str
    help_text: str = ""


class Connector:
    kind: str = ""
    label: str = ""
    # entity -> capabilities, e.g. {"order": {"receive", "poll", "get"}}
    entities: dict[str, set[str]] = {}
    # target actions this connector performs, by name -> method name
    actions: dict[str, str] = {}
    auth_kinds: tuple[str, ...] = ()
    secret_fields: tuple[SecretField, ...] = ()
    # entities polled as a whole each time (no change date): only changed versions become events
    snapshot_entities: frozenset[str] = frozenset()

    # actions whose perform_many makes real bulk calls (one request for many records)
    bulk_actions: frozenset[str] = frozenset()

    def __init__(self, connection):
        self.connection = connection
        self.http = HttpClient(system=self.label or self.kind, describe_error=self.describe_error,
                               budget=Budget.of(connection))

    # --- errors -------------------------------------------------------------------------------
    def describe_error(self, response) -> str:
        """The system's own words for a failed HTTP answer; overridden per system."""
        text = (response.text or "").strip()
        return text[:300] or response.reason or f"HTTP {response.status_code}"

    # --- inbound ------------------------------------------------------------------------------
    def parse_push(self, payload: dict, headers) -> InboundEvent:
        raise NotImplementedError(f"{self.kind} does not receive pushed events")

    def fetch(self, entity: str, source_id: str) -> dict:
        raise NotImplementedError(f"{self.kind} cannot fetch {entity}")

    def poll(self, entity: str, cursor: str | None, limit: int = 100) -> Page:
        """Records of ``entity`` changed since ``cursor`` (None: from the beginning)."""
        raise NotImplementedError(f"{self.kind} cannot poll {entity}")

    def rewind_cursor(self, entity: str, cursor: str | None, seconds: int) -> str | None:
        """A cursor ``seconds`` earlier than ``cursor``: the hub polls from there to read again what
        was saved late (a slow transaction, a clock behind). Sources whose cursor is no time (whole
        reads, offsets) keep it as it is."""
        return cursor

    def record_id(self, entity: str, record: dict) -> str:
        """The record's id in this system, e.g. ``order_id`` for an X-Cart order."""
        raise NotImplementedError

    def record_version(self, entity: str, record: dict) -> str:
        """What changes whenever the record changes (a modification time, a revision): with the id it
        makes a polled record's idempotency key, so an overlapping poll never ingests it twice."""
        raise NotImplementedError

    def record_changed_at(self, entity: str, record: dict) -> str:
        """When the source last changed the record, as UTC ISO text ("" when it does not say), for
        pushed and polled records alike: the engine skips an event older than the one applied.

        Read from the change stamps the supported systems send: X-Cart ``lastRenewDate`` (epoch
        seconds), PrestaShop ``date_upd``, Domino ``@modified`` (DAS) or ``@meta.lastmodified``
        (REST API), M3 ``LMDT`` (+ ``LMTS``, a day and a time) or a BOD's ``CreationDateTime``."""
        if not isinstance(record, dict):
            return ""
        meta = record.get("@meta") if isinstance(record.get("@meta"), dict) else {}
        for value in (record.get("lastRenewDate"), record.get("date_upd"), record.get("@modified"),
                      meta.get("lastmodified"), record.get("CreationDateTime")):
            stamp = _utc_text(value)
            if stamp:
                return stamp
        day = str(record.get("LMDT") or "").strip()
        if len(day) == 8 and day.isdigit():
            clock = str(record.get("LMTS") or "").strip()
            clock = clock[-6:].rjust(6, "0") if clock.isdigit() else "000000"
            return _utc_text(f"{day[:4]}-{day[4:6]}-{day[6:]}T{clock[:2]}:{clock[2:4]}:{clock[4:6]}")
        return ""

    # --- outbound -----------------------------------------------------------------------------
    def perform(self, action: str, payload: dict, target_id: str | None = None) -> DeliveryResult:
        """Run a target action. ``target_id`` is the linked record in this system, when there is one
        (an update of a record the hub created or matched before)."""
        method = self.actions.get(action)
        if not method:
            raise ConnectorError(f"{self.label} has no action '{action}'", permanent=True)
        if target_id is None:
            return getattr(self, method)(payload)
        return getattr(self, method)(payload, target_id=target_id)

    def can_bulk(self, action: str) -> bool:
        """Whether ``perform_many`` makes real bulk calls for this action (on this connection)."""
        return action in self.bulk_actions

    def perform_many(self, action: str, items: list[tuple[dict, str | None]]) -> list:
        """Run one action for many records: ``items`` are (payload, target_id or None); the answer
        has one DeliveryResult or ConnectorError per item, in order, each carrying the calls made
        for it (``exchanges``). This default performs them one by one; connectors with a bulk API
        override it for the actions in ``bulk_actions``."""
        results = []
        for payload, target_id in items:
            mark = len(self.http.exchanges)
            try:
                result = self.perform(action, payload, target_id=target_id)
            except ConnectorError as exc:
                result = exc
            result.exchanges = self.http.exchanges[mark:]
            results.append(result)
        return results

    def test_connection(self) -> str:
        """Call the system once with the stored credentials; return a short success message."""
        raise NotImplementedError


def _utc_text(value) -> str:
    """A change stamp as sortable UTC ISO text: epoch seconds, ISO 8601 or "YYYY-MM-DD HH:MM:SS"."""
    if value in (None, "", 0):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    else:
        text = str(value).strip()
        if text.isdigit():
            moment = datetime.fromtimestamp(int(text), tz=timezone.utc)
        else:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return ""
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)  # shops send local time; UTC is the best guess
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
