"""HCL Domino through Domino Access Services (DAS, HTTP Basic) or the Domino REST API (JWT bearer).

Both APIs see the same Notes documents: the form says what a document is (order, product, customer),
a key item (OrderNumber, SKU, Email) matches it with the other systems, and its UNID is its id.
Neither API has webhooks: the hub polls for documents modified since a cursor, or a Domino agent posts
changes to the hub's webhook URL.

Updates are optimistic: DAS guards them with If-Unmodified-Since, the REST API with the document's
revision. When someone saved the document in between, the hub reads it again and re-applies its own
item changes (a PATCH, so the other user's items are kept). A flow may let the target win some
fields (``keep_target_fields``, set by the hub from the flow's conflict policy): each try decides
again, against the document as it is then, which items the hub leaves alone.
"""

import email.utils
import hashlib
from collections import defaultdict, namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from urllib.parse import quote

from connectors.base import Connector, ConnectorError, DeliveryResult, InboundEvent, Page, SecretField
from connectors.domino import notes
from connectors.http import _loggable_body
from connectors.infor_m3.ionapi import TokenCache

DEFAULT_FORMS = {"order": "Order Record", "product": "Product", "customer": "Customer"}
DEFAULT_KEY_ITEMS = {"order": "OrderNumber", "product": "SKU", "customer": "Email"}
# DAS finds a document by its key through a view whose first column is the key item, sorted.
DEFAULT_VIEWS = {"order": "Orders", "product": "Products", "customer": "Customers"}

MAX_CONFLICT_RETRIES = 3
# DAS answers 412 to a stale If-Unmodified-Since; the REST API answers a stale revision with 409
# (the simulator's choice; 412 is taken as the same thing in case a server version uses it).
CONFLICT_STATUSES = (409, 412)
QUERY_PAGE_SIZE = 500  # documents per DQL result page (the REST API's count/start)
KEYS_PER_QUERY = 100  # key values in one DQL "in (...)" look-up
DOCUMENTS_PER_BULK = 200  # documents in one bulk create
PUSH_EVENTS = ("created", "updated", "deleted")

tokens = TokenCache()  # REST API bearers per connection, shared by the jobs of one worker process

# One document modified since the poll cursor; ``document`` is None when the API lists stubs only (DAS).
Change = namedtuple("Change", "modified unid document")


@dataclass(frozen=True)
class PollPosition:
    """Where a poll stopped: the latest modification time read, and the documents read at that very
    second. Domino's times are whole seconds, so more documents may still arrive at that second."""

    modified: datetime | None = None
    seen: frozenset = frozenset()

    @classmethod
    def parse(cls, cursor: str | None) -> "PollPosition":
        if not cursor:
            return cls()
        stamp, _, unids = cursor.partition("|")
        return cls(notes.parse_datetime(stamp), frozenset(unid for unid in unids.split(",") if unid))

    def __str__(self):
        seen = "|" + ",".join(sorted(self.seen)) if self.seen else ""
        return notes.format_datetime(self.modified) + seen

    def since(self) -> datetime | None:
        # Whether the APIs' "since" includes its own second is undocumented: ask from a second
        # earlier and skip what was already read.
        return self.modified - timedelta(seconds=1) if self.modified else None

    def is_new(self, change: Change) -> bool:
        if self.modified is None or change.modified > self.modified:
            return True
        return change.modified == self.modified and change.unid not in self.seen

    def after(self, change: Change) -> "PollPosition":
        if change.modified == self.modified:
            return PollPosition(self.modified, self.seen | {change.unid})
        return PollPosition(change.modified, frozenset({change.unid}))


def _modified_second(value) -> datetime:
    return notes.parse_datetime(value).replace(microsecond=0)


def _items_as_named(document: dict, names) -> dict:
    """The document's items under the spelling of ``names`` (Notes item names ignore case)."""
    by_lower = {name.lower(): value for name, value in document.items() if not name.startswith("@")}
    return {name: by_lower[name.lower()] for name in names if name.lower() in by_lower}


def _http_date(value) -> str:
    return email.utils.format_datetime(notes.parse_datetime(value), usegmt=True)


class DominoConnector(Connector):
    kind = "domino"
    label = "HCL Domino"
    entities = {
        "order": {"receive", "poll", "get", "create", "update"},
        "product": {"receive", "poll", "get", "create", "update"},
        "customer": {"receive", "poll", "get", "create", "update", "search"},
    }
    actions = {"order.upsert": "upsert_order", "product.upsert": "upsert_product", "customer.upsert": "upsert_customer"}
    bulk_actions = frozenset(actions)  # with the REST API: one look-up and one bulk create per batch
    auth_kinds = ("basic", "domino_jwt")
    # Set by the hub for one flow's deliveries: (entity, unid, items, current document) -> the items
    # to write, without those where the target wins (hub.conflicts.keeper); None writes them all.
    keep_target_fields = None
    secret_fields = (
        SecretField("username", "User name", "A Notes user with Editor access to the database (e.g. hub/Acme)."),
        SecretField("password", "Internet password", "The user's HTTP password from the Domino Directory."),
        SecretField("webhook_secret", "Webhook signing secret", "whsec_... shared with the Domino agent that posts changes."),
    )

    # --- settings ------------------------------------------------------------------------------------
    def _setting(self, name: str, defaults: dict, entity: str) -> str:
        configured = (self.connection.settings or {}).get(name) or {}
        return {**defaults, **configured}[entity]

    def form(self, entity: str) -> str:
        return self._setting("forms", DEFAULT_FORMS, entity)

    def key_item(self, entity: str) -> str:
        return self._setting("key_items", DEFAULT_KEY_ITEMS, entity)

    def view(self, entity: str) -> str:
        return self._setting("views", DEFAULT_VIEWS, entity)

    def entity_of_form(self, form) -> str | None:
        wanted = str(form or "").lower()
        return next((entity for entity in self.entities if self.form(entity).lower() == wanted), None)

    def credentials(self) -> tuple[str, str]:
        username, password = self.connection.secret("username"), self.connection.secret("password")
        if not (username and password):
            raise ConnectorError("Domino connection has no user name or password; set them in the admin", permanent=True)
        return username, password

    @cached_property
    def api(self):
        if self.connection.auth_kind == "domino_jwt":
            return RestApi(self)
        if self.connection.auth_kind == "basic":
            return DasApi(self)
        raise ConnectorError(f"Domino connections authenticate with {' or '.join(self.auth_kinds)}, "
                             f"not {self.connection.auth_kind!r}", permanent=True)

    # --- errors --------------------------------------------------------------------------------------
    def describe_error(self, response) -> str:
        """Domino's own words: the REST API's message and details, DAS's message or text, and the
        text of an HTML error page from the HTTP task."""
        try:
            body = response.json()
        except ValueError:
            if "html" in response.headers.get("Content-Type", ""):
                return notes.html_to_text(response.text)[:300] or super().describe_error(response)
            return super().describe_error(response)
        if not isinstance(body, dict):
            return str(body)[:300]
        message = body.get("message") or body.get("text") or body.get("error") or ""
        details = body.get("details") or body.get("detail") or ""
        words = f"{message} ({details})" if message and details and details != message else message or details
        return str(words or body)[:300]

    def explained(self, exc: ConnectorError, where: str, unid: str | None = None) -> ConnectorError:
        """The shared path's error, said in terms of this connection (user, database or scope, document)."""
        if exc.status == 401:
            message = f"Domino refused the user name or password of {self.connection.secret('username')}"
        elif exc.status == 403:
            message = f"{self.connection.secret('username')} has no access to {where} (check the ACL and the scope)"
        elif exc.status == 404 and unid:
            message = f"document {unid} not found in {where}"
        elif exc.status == 404:
            message = f"{where} not found"
        else:
            return exc
        return ConnectorError(f"{message}: {exc.message}", permanent=True, status=exc.status)

    # --- reading -------------------------------------------------------------------------------------
    def record_id(self, entity: str, record: dict) -> str:
        return record.get("@unid") or record["@meta"]["unid"]

    def record_version(self, entity: str, record: dict) -> str:
        """DAS: the modification time; REST API: the revision."""
        return record.get("@modified") or record["@meta"]["revision"]

    @staticmethod
    def form_of(document: dict) -> str:
        return str(document.get("@form") or document.get("Form") or "")

    def fetch(self, entity: str, source_id: str) -> dict:
        document = self.api.get(source_id)
        if self.form_of(document).lower() != self.form(entity).lower():
            raise ConnectorError(f"document {source_id} is a '{self.form_of(document)}', not a '{self.form(entity)}'",
                                 permanent=True)
        return document

    def find(self, entity: str, key_value) -> str | None:
        """The UNID of the document whose key item holds ``key_value``; an error when several do."""
        unids = self.api.find(entity, key_value)
        if len(unids) > 1:
            raise ConnectorError(f"{len(unids)} '{self.form(entity)}' documents have {self.key_item(entity)} "
                                 f"{key_value!r} ({', '.join(unids)}); merge them in Notes", permanent=True)
        return unids[0] if unids else None

    def poll(self, entity: str, cursor: str | None, limit: int = 100) -> Page:
        """Documents of the entity's form modified since the cursor, oldest first."""
        form = self.form(entity)
        position = PollPosition.parse(cursor)
        changes = sorted((change for change in self.api.changes(form, position.since()) if position.is_new(change)),
                         key=lambda change: (change.modified, change.unid))
        records = []
        for change in changes:
            if len(records) == limit:
                return Page(records, str(position), more=True)
            document = change.document or self._get_unless_deleted(change.unid)
            position = position.after(change)
            if document is not None and self.form_of(document).lower() == form.lower():
                records.append(document)
        return Page(records, str(position) if position.modified else None)

    def rewind_cursor(self, entity: str, cursor: str | None, seconds: int) -> str | None:
        position = PollPosition.parse(cursor)
        if position.modified is None or not seconds:
            return cursor
        return str(PollPosition(position.modified - timedelta(seconds=seconds)))

    def _get_unless_deleted(self, unid: str) -> dict | None:
        try:
            return self.api.get(unid)
        except ConnectorError as exc:
            if exc.status == 404:  # deleted since it was listed
                return None
            raise

    # --- inbound -------------------------------------------------------------------------------------
    def parse_push(self, payload: dict, headers) -> InboundEvent:
        """A Domino agent's post: {"event": "updated", "form": "Order Record", "unid": "...", "document": {...}}."""
        if not isinstance(payload, dict):
            raise ValueError("a Domino agent push is a JSON object")
        event, form, unid = payload.get("event"), payload.get("form"), payload.get("unid")
        if event not in PUSH_EVENTS:
            raise ValueError(f'a Domino agent push needs "event", one of {", ".join(PUSH_EVENTS)}')
        entity = self.entity_of_form(form)
        if entity is None:
            forms = ", ".join(repr(self.form(entity)) for entity in self.entities)
            raise ValueError(f'"form" {form!r} is none of this connection\'s forms ({forms})')
        if not (isinstance(unid, str) and len(unid) == 32 and all(c in "0123456789abcdefABCDEF" for c in unid)):
            raise ValueError('"unid" must be the document\'s 32 hex digit universal id')
        document = payload.get("document")
        if document is not None and not isinstance(document, dict):
            raise ValueError('"document", when sent, is an object of items')
        record = {"@unid": unid.upper(), "@form": form, **document} if document else None
        return InboundEvent(entity, event, unid.upper(), record)

    # --- actions -------------------------------------------------------------------------------------
    def upsert_order(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        return self.upsert("order", payload, target_id)

    def upsert_product(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        return self.upsert("product", payload, target_id)

    def upsert_customer(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        return self.upsert("customer", payload, target_id)

    def upsert(self, entity: str, payload: dict, target_id: str | None = None) -> DeliveryResult:
        """Update the linked document, else the one holding the payload's key value, else create one."""
        form, key_item = self.form(entity), self.key_item(entity)
        # The form comes from the entity and system items (@unid, @meta...) are Domino's to set.
        items = {name: value for name, value in payload.items() if name.lower() != "form" and not name.startswith("@")}
        key = items.get(key_item)
        if not target_id and key in (None, ""):
            raise ConnectorError(f"the {entity} has no {key_item}, by which '{form}' documents are matched",
                                 permanent=True)
        unid, found = target_id, False
        if not unid:
            unid = self.find(entity, key)
            found = unid is not None
        if unid is None:
            unid = self.api.create(form, items)
            return DeliveryResult(unid, note=f"'{form}' {key_item} {key} created as {unid}")
        conflicts, kept = self._update(entity, unid, items)
        note = f"'{form}' {unid} updated" + (f" (found by {key_item} {key})" if found else "")
        if conflicts:
            note += f"; {conflicts} edit conflict(s) with other Notes users resolved by re-applying the changes"
        if kept:
            note += f"; kept the values changed in Domino of {', '.join(sorted(kept))} (the flow lets Domino win them)"
        return DeliveryResult(unid, note=note)

    def _update(self, entity: str, unid: str, items: dict) -> tuple[int, set]:
        """Write the items over the document's current version; on a conflict read it again and re-apply.
        Returns how many conflicts were resolved, and the items left as they were (the target won)."""
        status = None
        for conflicts in range(MAX_CONFLICT_RETRIES + 1):
            current = self.api.get(unid)
            version = self.api.version(current)
            writing = items
            if self.keep_target_fields is not None:
                writing = self.keep_target_fields(entity, unid, items, _items_as_named(current, items))
            try:
                if writing:
                    self.api.update(unid, writing, version)
                return conflicts, set(items) - set(writing)
            except ConnectorError as exc:
                if exc.status not in CONFLICT_STATUSES:
                    raise
                status = exc.status
        raise ConnectorError(f"document {unid} was saved by someone else {MAX_CONFLICT_RETRIES + 1} times in a row "
                             f"while the hub updated it (edit conflict); the update will be retried", permanent=False,
                             status=status)

    # --- bulk ----------------------------------------------------------------------------------------
    def can_bulk(self, action: str) -> bool:
        """DAS has no bulk calls; the REST API has /bulk/create."""
        return action in self.bulk_actions and self.connection.auth_kind == "domino_jwt"

    def perform_many(self, action: str, items: list) -> list:
        if not self.can_bulk(action):
            return super().perform_many(action, items)
        return self.upsert_many(action.partition(".")[0], items)

    def upsert_many(self, entity: str, items: list) -> list:
        """Upsert many records with two calls for the lot: one DQL look-up of every unlinked record's
        key value (a document already there, e.g. created by an attempt whose answer was lost, is
        updated, never made twice) and one bulk create of the new ones. Updates of existing
        documents stay one call each (each has its own revision)."""
        form, key_item = self.form(entity), self.key_item(entity)
        results: list = [None] * len(items)
        prepared = []  # (index, items, key, target id)
        for index, (payload, target_id) in enumerate(items):
            fields = {n: v for n, v in payload.items() if n.lower() != "form" and not n.startswith("@")}
            key = fields.get(key_item)
            if not target_id and key in (None, ""):
                results[index] = ConnectorError(f"the {entity} has no {key_item}, by which '{form}' documents are "
                                                "matched", permanent=True)
                results[index].exchanges = []
                continue
            prepared.append((index, fields, key, target_id))

        mark = len(self.http.exchanges)
        keys = {str(key) for _, _, key, target_id in prepared if not target_id}
        try:
            found = self.api.find_many(entity, keys) if keys else {}
        except ConnectorError as exc:
            for index, _, _, target_id in prepared:
                if not target_id:
                    results[index] = _with_exchanges(ConnectorError(exc.message, permanent=exc.permanent,
                                                                    status=exc.status, retry_after=exc.retry_after),
                                                     self.http.exchanges[mark:])
            prepared = [p for p in prepared if p[3]]
            found = {}
        lookup = [_shared(entry, f"look-up of {len(keys)} {key_item} values") for entry in self.http.exchanges[mark:]]

        creates = []  # (index, items, key)
        for index, fields, key, target_id in prepared:
            unid, matched = target_id, False
            if not unid:
                unids = found.get(str(key).casefold(), [])
                if len(unids) > 1:
                    results[index] = _with_exchanges(ConnectorError(
                        f"{len(unids)} '{form}' documents have {key_item} {key!r} ({', '.join(unids)}); merge them in "
                        "Notes", permanent=True), lookup)
                    continue
                unid, matched = (unids[0], True) if unids else (None, False)
            if unid is None:
                creates.append((index, fields, key))
                continue
            mark = len(self.http.exchanges)
            try:
                conflicts, kept = self._update(entity, unid, fields)
                note = f"'{form}' {unid} updated" + (f" (found by {key_item} {key})" if matched else "")
                if conflicts:
                    note += f"; {conflicts} edit conflict(s) with other Notes users resolved by re-applying the changes"
                if kept:
                    note += f"; kept the values changed in Domino of {', '.join(sorted(kept))} (the flow lets Domino win them)"
                results[index] = DeliveryResult(unid, note=note)
            except ConnectorError as exc:
                results[index] = exc
            results[index].exchanges = (lookup if not target_id else []) + self.http.exchanges[mark:]

        for start in range(0, len(creates), DOCUMENTS_PER_BULK):
            self._create_many(form, key_item, creates[start:start + DOCUMENTS_PER_BULK], lookup, results)
        return results

    def _create_many(self, form: str, key_item: str, creates: list, lookup: list, results: list) -> None:
        mark = len(self.http.exchanges)
        try:
            answers = self.api.bulk_create(form, [fields for _, fields, _ in creates])
        except ConnectorError as exc:
            for index, fields, _ in creates:
                results[index] = _with_exchanges(ConnectorError(exc.message, permanent=exc.permanent, status=exc.status,
                                                                retry_after=exc.retry_after),
                                                 lookup + [_shared(e, fields) for e in self.http.exchanges[mark:]])
            return
        if not isinstance(answers, list) or len(answers) != len(creates):
            answers = [None] * len(creates)
        calls = self.http.exchanges[mark:]
        for (index, fields, key), answer in zip(creates, answers):
            exchanges = lookup + [_shared(e, fields, answer) for e in calls]
            unid = (answer or {}).get("@meta", {}).get("unid") if isinstance(answer, dict) else None
            if unid:
                results[index] = DeliveryResult(unid, note=f"'{form}' {key_item} {key} created as {unid} "
                                                            f"(bulk create of {len(creates)})", exchanges=exchanges)
                continue
            status = answer.get("status") if isinstance(answer, dict) else None
            if isinstance(answer, dict) and answer.get("message"):
                words = answer["message"] + (f" ({answer['details']})" if answer.get("details") else "")
                # Retrying is safe either way: the next attempt looks the key up before creating.
                error = ConnectorError(f"HCL Domino did not create the '{form}' document: {words}",
                                       permanent=isinstance(status, int) and 400 <= status < 500 and status != 429,
                                       status=status)
            else:
                error = ConnectorError(f"HCL Domino's bulk create sent no document for {key_item} {key}", permanent=False)
            results[index] = _with_exchanges(error, exchanges)

    def test_connection(self) -> str:
        return self.api.test_connection()


def _with_exchanges(error: ConnectorError, exchanges: list) -> ConnectorError:
    error.exchanges = list(exchanges)
    return error


def _shared(entry: dict, request=None, response=None) -> dict:
    """One record's view of a call made for many: its own document and answer, not the whole batch's."""
    view = {k: v for k, v in entry.items() if k not in ("request", "response")}
    if request is not None:
        view["request"] = request if isinstance(request, str) else _loggable_body(request)
    if response is not None:
        view["response"] = _loggable_body(response)
    return view


class DasApi:
    """Domino Access Services data API: /{database}/api/data with HTTP Basic."""

    def __init__(self, connector: DominoConnector):
        self.connector = connector
        connection = connector.connection
        self.database = (connection.settings or {}).get("database") or ""
        if not self.database:
            raise ConnectorError("Domino connection has no database (settings.database, e.g. orders.nsf)", permanent=True)
        self.base = f"{connection.base_url.rstrip('/')}/{quote(self.database)}/api/data"
        self.where = f"database {self.database}"
        self.session_key = f"domino:{connection.pk}"

    def _request(self, method: str, path: str, *, unid: str | None = None, where: str = "", headers=None, **kwargs):
        try:
            return self.connector.http.request(
                method, self.base + path, auth=self.connector.credentials(),
                headers={"Accept": "application/json", **(headers or {})},
                session_key=self.session_key, **kwargs,
            )
        except ConnectorError as exc:
            raise self.connector.explained(exc, where or self.where, unid) from None

    @staticmethod
    def encode(value):
        """A Python date-time becomes a date item (strongtype), not text."""
        if isinstance(value, datetime):
            return notes.datetime_item(value)
        if isinstance(value, list):
            return [DasApi.encode(v) for v in value]
        return value

    def encode_items(self, items: dict) -> dict:
        return {name: self.encode(value) for name, value in items.items()}

    def get(self, unid: str) -> dict:
        return self._request("GET", f"/documents/unid/{unid}", unid=unid).json()

    @staticmethod
    def version(document: dict) -> str:
        return document["@modified"]

    def find(self, entity: str, key_value) -> list[str]:
        view = self.connector.view(entity)
        params = {"keys": str(key_value), "keysexactmatch": "true", "count": 10}
        entries = self._request("GET", f"/collections/name/{quote(view)}", params=params,
                                where=f"view '{view}' in {self.where}").json()
        return [entry["@unid"] for entry in entries if entry.get("@unid")]

    def changes(self, form: str, since: datetime | None) -> list[Change]:
        params = {"since": notes.format_datetime(since)} if since else None
        stubs = self._request("GET", "/documents", params=params).json()
        return [Change(_modified_second(stub["@modified"]), stub["@unid"], None) for stub in stubs]

    def create(self, form: str, items: dict) -> str:
        params = {"form": form, "computewithform": "true"}
        response = self._request("POST", "/documents", params=params, json=self.encode_items(items))
        unid = response.headers.get("Location", "").rstrip("/").rpartition("/")[2]
        if not unid:
            # Retrying is safe: the next attempt finds the document by its key item.
            raise ConnectorError("Domino created the document but sent no Location", permanent=False)
        return unid

    def update(self, unid: str, items: dict, version: str) -> None:
        headers = {"If-Unmodified-Since": _http_date(version)}
        self._request("PATCH", f"/documents/unid/{unid}", unid=unid, headers=headers, json=self.encode_items(items))

    def test_connection(self) -> str:
        views = self._request("GET", "/collections").json()
        username = self.connector.credentials()[0]
        return f"Domino accepted {username} and opened {self.database} ({len(views)} views and folders)."


class RestApi:
    """The Domino REST API: /api/v1 with a JWT bearer from /api/v1/auth; every data call names a scope."""

    def __init__(self, connector: DominoConnector):
        self.connector = connector
        connection = connector.connection
        self.scope = (connection.settings or {}).get("scope") or ""
        if not self.scope:
            raise ConnectorError("Domino connection has no scope (settings.scope, the REST API's dataSource)",
                                 permanent=True)
        self.base = f"{connection.base_url.rstrip('/')}/api/v1"
        self.where = f"scope {self.scope}"
        self.session_key = f"domino:{connection.pk}"

    # --- auth ----------------------------------------------------------------------------------------
    def _token_key(self) -> tuple:
        # New credentials or another server give a new key, so a stale token is never reused.
        username, password = self.connector.credentials()
        fingerprint = hashlib.sha256(f"{self.base}|{username}|{password}".encode()).hexdigest()
        return (self.connector.connection.pk, fingerprint)

    def _token(self) -> str:
        key = self._token_key()
        token = tokens.get(key)
        if token:
            return token
        username, password = self.connector.credentials()
        try:
            response = self.connector.http.request(
                "POST", self.base + "/auth", json={"username": username, "password": password},
                log_as="Domino REST auth", session_key=self.session_key,
            )
        except ConnectorError as exc:
            raise self.connector.explained(exc, "the Domino REST API") from None
        body = response.json()
        tokens.put(key, body["bearer"], float(body.get("expSeconds", 3600)))
        return body["bearer"]

    def _request(self, method: str, path: str, *, unid: str | None = None, params=None, **kwargs):
        params = {"dataSource": self.scope, **(params or {})}
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
            try:
                return self.connector.http.request(method, self.base + path, params=params, headers=headers,
                                                   session_key=self.session_key, **kwargs)
            except ConnectorError as exc:
                if exc.status == 401 and attempt == 1:
                    tokens.drop(self._token_key())  # expired or revoked early: renew once
                    continue
                raise self.connector.explained(exc, self.where, unid) from None

    # --- documents -----------------------------------------------------------------------------------
    @staticmethod
    def encode(value):
        """DAS-style typed values (the notes helpers make those) in the REST API's shapes."""
        if isinstance(value, datetime):
            return notes.format_datetime(value)
        if isinstance(value, list):
            return [RestApi.encode(v) for v in value]
        if isinstance(value, dict) and value.get("type") == "datetime":
            return notes.format_datetime(notes.parse_datetime(value))
        if isinstance(value, dict) and value.get("type") == "richtext":
            return {"type": value.get("contentType", "text/html"), "content": value.get("data", "")}
        return value

    def encode_items(self, items: dict) -> dict:
        return {name: self.encode(value) for name, value in items.items()}

    def get(self, unid: str) -> dict:
        return self._request("GET", f"/document/{unid}", unid=unid, params={"richTextAs": "html"}).json()

    @staticmethod
    def version(document: dict) -> str:
        return document["@meta"]["revision"]

    def query(self, dql: str, **log) -> list[dict]:
        """Every document the DQL query selects, read page by page."""
        documents, start = [], 0
        while True:
            body = {"query": dql, "mode": "dql", "start": start, "count": QUERY_PAGE_SIZE}
            page = self._request("POST", "/query", params={"action": "execute"}, json=body, **log).json()
            documents += page
            if len(page) < QUERY_PAGE_SIZE:
                return documents
            start += len(page)

    def find(self, entity: str, key_value) -> list[str]:
        form, key_item = self.connector.form(entity), self.connector.key_item(entity)
        dql = f"form = {notes.dql_string(form)} and {key_item} = {notes.dql_string(key_value)}"
        return [document["@meta"]["unid"] for document in self.query(dql)]

    def find_many(self, entity: str, keys) -> dict[str, list[str]]:
        """key value (casefolded) -> UNIDs of the documents holding it, ``KEYS_PER_QUERY`` keys per DQL query."""
        form, key_item = self.connector.form(entity), self.connector.key_item(entity)
        found, keys = defaultdict(list), sorted(keys)
        for start in range(0, len(keys), KEYS_PER_QUERY):
            chunk = ", ".join(notes.dql_string(key) for key in keys[start:start + KEYS_PER_QUERY])
            for document in self.query(f"form = {notes.dql_string(form)} and {key_item} in ({chunk})",
                                       log_request=f"{form} documents by {key_item}", log_response=False):
                name = next((n for n in document if n.lower() == key_item.lower()), key_item)
                for value in notes.as_list(document.get(name)):
                    found[str(value).casefold()].append(document["@meta"]["unid"])
        return found

    def bulk_create(self, form: str, documents: list[dict]) -> list[dict]:
        """POST /bulk/create: the created documents (or an error object for each one refused), in order."""
        body = {"documents": [{"Form": form, **self.encode_items(items)} for items in documents]}
        return self._request("POST", "/bulk/create", json=body, log_request=f"{len(documents)} '{form}' documents",
                             log_response=False).json()

    def changes(self, form: str, since: datetime | None) -> list[Change]:
        # A DQL result has no documented order, so all changes since the cursor are read and sorted.
        dql = f"form = {notes.dql_string(form)}"
        if since:
            dql += f" and @ModifiedInThisFile > @dt({notes.dql_string(notes.format_datetime(since))})"
        return [Change(_modified_second(document["@meta"]["lastmodified"]), document["@meta"]["unid"], document)
                for document in self.query(dql)]

    def create(self, form: str, items: dict) -> str:
        response = self._request("POST", "/document", json={"Form": form, **self.encode_items(items)})
        return response.json()["@meta"]["unid"]

    def update(self, unid: str, items: dict, version: str) -> None:
        self._request("PATCH", f"/document/{unid}", unid=unid, params={"revision": version},
                      json=self.encode_items(items))

    def test_connection(self) -> str:
        tokens.drop(self._token_key())
        self._token()
        views = self._request("GET", "/lists").json()
        username = self.connector.credentials()[0]
        return f"Domino REST API issued a token for {username}; scope {self.scope} lists {len(views)} views."
