"""Sandbox simulator of HCL Domino: Domino Access Services (DAS) and the Domino REST API over one database.

Faithful to the facts in API-NOTES.md: DAS under ``/{database}/api/data`` with HTTP Basic (views with
start/count or page/ps, the ``since`` document list, Last-Modified, If-Modified-Since and
If-Unmodified-Since, system items, strongtype, multipart rich text), the REST API under ``/api/v1`` with
a JWT-shaped bearer from ``/api/v1/auth``, ``dataSource`` scopes, ``@meta.revision``, ``richTextAs`` and
DQL queries (a small subset: terms ``Item = 'value'``, ``Item in ('a', 'b')`` and comparisons of
``@ModifiedInThisFile``, ``@Created`` or numbers, joined by ``and``), and the bulk endpoints
``POST /api/v1/bulk/create`` (``{"documents": [...]}`` -> the created documents, in order) and
``POST /api/v1/bulk/update`` (``{"query", "replaceItems", "returnUpdatedDocument"}``: the items
written to every document the DQL query selects), as the Domino REST API and its SDK have them.

Guesses where API-NOTES is silent: a document of a bulk create that cannot be made is answered in
its place as ``{"status": 400, "message", "details"}`` while the others are created; a stale revision is answered 409; an unknown scope 403; DAS's
``since`` excludes its own second; DAS error bodies are ``{"code","text","message","type","data"}``
and a failed Basic login gets the HTTP task's HTML page. Simulator-only endpoints live under ``/_sim/``.
"""

import base64
import hashlib
import hmac
import json
import quopri
import random
import re
import secrets
import time
import unicodedata
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import lxml.html
from werkzeug.http import HTTP_STATUS_CODES, http_date, parse_date
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from connectors.domino import notes
from connectors.simkit import Faults, SimulatorApp, demo_person, demo_product, json_response, push, read_json

DEMO_USER = "hub/Acme"  # abbreviated; Domino also takes the canonical CN=hub/O=Acme or the short name hub
DEMO_USER_CANONICAL = "CN=hub/O=Acme"
DEMO_PASSWORD = "demo-domino-password"
DEMO_DATABASE = "orders.nsf"
DEMO_SCOPE = "orders"
NOTES_USER = "CN=Dana Notes/O=Acme"  # the person who edits documents in the Notes client

TOKEN_TTL_SECONDS = 21600
DAS_DEFAULT_COUNT = 10
REST_DEFAULT_COUNT = 1000
STATUSES = ("New", "Picked", "Shipped")

# Item types of the forms' fields: values sent as strings are converted as computewithform would.
FIELD_TYPES = {
    "Order Record": {"OrderDate": "datetime"},
    "Product": {"Description": "richtext"},
    "Customer": {},
}
# View name -> (form it selects, column items); the first column is sorted and is the lookup key.
VIEWS = {
    "Orders": ("Order Record", ("OrderNumber", "CustomerName", "Status", "OrderDate")),
    "Products": ("Product", ("SKU", "Name", "Price")),
    "Customers": ("Customer", ("Email", "LastName", "FirstName")),
}


_rest_call = ContextVar("rest_call", default=False)  # which API's error shape the current request gets


class ApiError(Exception):
    """Answered in the error shape of the API that was called."""

    def __init__(self, status, message, details=""):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


def das_error(status, message, details=""):
    body = {"code": status, "text": HTTP_STATUS_CODES.get(status, "Error"), "message": message, "type": "text",
            "data": details}
    return json_response(body, status)


def rest_error(status, message, details=""):
    return json_response({"status": status, "message": message, "details": details}, status)


class DominoFaults(Faults):
    """simkit's faults plus ``conflict_next``: the next N updates find that a Notes user just saved the document."""

    DEFAULTS = {**Faults.DEFAULTS, "conflict_next": 0}

    def take_conflict(self):
        with self._lock:
            if self.conflict_next <= 0:
                return False
            self.conflict_next -= 1
            return True


@dataclass
class Document:
    unid: str
    noteid: int
    form: str
    created: datetime
    modified: datetime
    items: dict  # name -> str, number, datetime, notes.RichText or a list of those
    authors: list = field(default_factory=list)
    sequence: int = 1  # the number of saves
    parent: str | None = None

    @property
    def revision(self):
        """Like the REST API's: the sequence number, then the modification time in hundredths of a second."""
        return f"{self.sequence:08X}{int(self.modified.timestamp() * 100):016X}"

    def item_name(self, name):
        """Item names are case-insensitive: the stored spelling of ``name``, or ``name`` when it is new."""
        return next((stored for stored in self.items if stored.lower() == name.lower()), name)

    def item(self, name):
        return self.items.get(self.item_name(name))


def fold(text):
    """DQL and view lookups compare text case- and accent-insensitively."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def stored_value(form, name, value):
    """An item value as sent by a client, converted to what the document stores (ValueError if it cannot be)."""
    if isinstance(value, list):
        return [stored_value(form, name, v) for v in value]
    if isinstance(value, dict):
        if value.get("type") == "datetime":
            return notes.parse_datetime(value)
        return notes.read_richtext(value)
    kind = FIELD_TYPES.get(form, {}).get(name)
    if kind == "datetime" and isinstance(value, str):
        return notes.parse_datetime(value)
    if kind == "richtext" and isinstance(value, str):
        return notes.read_richtext(value)
    return value


def html_to_markdown(html):
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    return _markdown(root, root).strip()


def _markdown(element, root):
    inner = (element.text or "") + "".join(_markdown(child, root) + (child.tail or "") for child in element)
    tag = element.tag if isinstance(element.tag, str) else ""  # comments and processing instructions
    if tag in ("b", "strong"):
        return f"**{inner}**"
    if tag in ("i", "em"):
        return f"*{inner}*"
    if tag == "a":
        return f"[{inner}]({element.get('href', '')})"
    if tag == "li":
        return f"- {inner.strip()}\n"
    if tag == "br":
        return "\n"
    if tag in ("p", "div", "ul", "ol") and element is not root:
        return f"{inner.strip()}\n\n"
    return inner if tag else ""


# --- values as each API shows them ------------------------------------------------------------------

def _single_or_list(values):
    return values[0] if len(values) == 1 else values  # Domino shows a one-value item as a scalar


def das_value(value, strongtype=False, multipart=True):
    if isinstance(value, list):
        return _single_or_list([das_value(v, strongtype, multipart) for v in value])
    if isinstance(value, datetime):
        iso = notes.format_datetime(value)
        return {"type": "datetime", "data": iso} if strongtype else iso
    if isinstance(value, notes.RichText):
        if not multipart:
            return {"type": "richtext", "contentType": "text/html", "data": value.html}
        return {"type": "multipart", "content": _mime_parts(value)}
    return value


def _mime_parts(richtext):
    boundary = "0__=" + hashlib.md5(richtext.html.encode()).hexdigest()[:20].upper()
    return [
        {"contentType": f'multipart/alternative; Boundary="{boundary}"', "contentDisposition": "inline"},
        {"contentType": "text/plain; charset=UTF-8", "contentTransferEncoding": "quoted-printable",
         "data": quopri.encodestring(richtext.text.encode()).decode(), "boundary": f"--{boundary}"},
        {"contentType": "text/html; charset=UTF-8", "contentDisposition": "inline", "data": richtext.html,
         "boundary": f"--{boundary}"},
    ]


def rest_value(value, rich_text_as="html"):
    if isinstance(value, list):
        return _single_or_list([rest_value(v, rich_text_as) for v in value])
    if isinstance(value, datetime):
        return notes.format_datetime(value)
    if isinstance(value, notes.RichText):
        content = {"html": value.html, "plain": value.text, "markdown": html_to_markdown(value.html)}[rich_text_as]
        media_type = {"html": "text/html", "plain": "text/plain", "markdown": "text/markdown"}[rich_text_as]
        return {"type": media_type, "encoding": "PlainText", "content": content}
    return value


# --- DQL ---------------------------------------------------------------------------------------------

DQL_TOKEN = re.compile(r"""\s*(?:
    (?P<datetime>@dt\(\s*'(?:[^']|'')*'\s*\))
  | (?P<string>'(?:[^']|'')*')
  | (?P<op>>=|<=|=|>|<)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<comma>,)
  | (?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<name>@?[A-Za-z_$][\w$]*)
)""", re.VERBOSE)
DQL_COMPARE = {
    "=": lambda a, b: a == b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
}
DQL_FUNCTIONS = {"@modifiedinthisfile": "modified", "@created": "created"}


class DQLError(ValueError):
    pass


def _dql_tokens(query):
    tokens, position = [], 0
    while position < len(query.rstrip()):
        match = DQL_TOKEN.match(query, position)
        if not match:
            raise DQLError(f"cannot read the query at position {position}: {query[position:position + 20]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _dql_literal(kind, text):
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "datetime":
        quoted = text[text.index("'"):text.rindex("'") + 1]
        try:
            return notes.parse_datetime(quoted[1:-1].replace("''", "'"))
        except ValueError as exc:
            raise DQLError(f"@dt needs an ISO 8601 date-time: {exc}") from None
    return float(text)


def parse_dql(query):
    """[(name, operator, value)] of a query made of terms joined by 'and'."""
    tokens = _dql_tokens(query if isinstance(query, str) else "")
    if not tokens:
        raise DQLError("the query is empty")
    terms = []
    while True:
        if len(tokens) >= 3 and tokens[0][0] == "name" and tokens[1][0] == "name" \
                and tokens[1][1].lower() == "in" and tokens[2][0] == "open":
            name, values, tokens = tokens[0][1], *_dql_list(tokens[3:])
            # Compared as folded text or numbers, looked up in a set: a look-up of many keys stays one pass.
            terms.append((name, "in", frozenset(fold(v) if isinstance(v, str) else v for v in values)))
            if not tokens:
                return terms
            (kind, word), tokens = tokens[0], tokens[1:]
            if kind != "name" or word.lower() != "and" or not tokens:
                raise DQLError(f"expected 'and' between terms, got {word!r} (this sandbox knows 'and' only)")
            continue
        term, tokens = tokens[:3], tokens[3:]
        kinds = [kind for kind, _ in term]
        if kinds[:2] != ["name", "op"] or len(term) < 3 or kinds[2] not in ("string", "datetime", "number"):
            shown = " ".join(text for _, text in term)
            raise DQLError(f"expected a term like Item = 'value', got {shown!r} (this sandbox knows 'and' only)")
        terms.append((term[0][1], term[1][1], _dql_literal(*term[2])))
        if not tokens:
            return terms
        (kind, word), tokens = tokens[0], tokens[1:]
        if kind != "name" or word.lower() != "and" or not tokens:
            raise DQLError(f"expected 'and' between terms, got {word!r} (this sandbox knows 'and' only)")


def _dql_list(tokens):
    """The values of ``in ( 'a', 'b' )`` after its opening parenthesis, and the tokens after it."""
    values = []
    while tokens:
        (kind, text), tokens = tokens[0], tokens[1:]
        if kind in ("string", "datetime", "number"):
            values.append(_dql_literal(kind, text))
            if tokens and tokens[0][0] == "comma":
                tokens = tokens[1:]
                continue
            if tokens and tokens[0][0] == "close":
                return values, tokens[1:]
        raise DQLError("expected a list like in ('a', 'b')")
    raise DQLError("the list after 'in' is not closed")


def dql_matches(document, terms):
    return all(_term_matches(document, *term) for term in terms)


def _term_matches(document, name, op, wanted):
    if op == "in":
        value = document.form if name.lower() == "form" else document.item(name)
        return any((fold(c) if isinstance(c, str) else c) in wanted for c in notes.as_list(value)
                   if isinstance(c, (str, int, float)) and not isinstance(c, bool))
    compare = DQL_COMPARE[op]
    attribute = DQL_FUNCTIONS.get(name.lower())
    if attribute:
        return isinstance(wanted, datetime) and compare(getattr(document, attribute), wanted)
    value = document.form if name.lower() == "form" else document.item(name)
    for candidate in notes.as_list(value):
        if isinstance(wanted, str) and isinstance(candidate, str) and compare(fold(candidate), fold(wanted)):
            return True
        if isinstance(wanted, float) and isinstance(candidate, (int, float)) and not isinstance(candidate, bool) \
                and compare(candidate, wanted):
            return True
        if isinstance(wanted, datetime) and isinstance(candidate, datetime) and compare(candidate, wanted):
            return True
    return False


# --- the simulator -------------------------------------------------------------------------------------

def _int_arg(args, name, default):
    try:
        value = int(args.get(name, default))
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if value < 0:
        raise ApiError(400, f"{name} must not be negative")
    return value


def _flag(args, name, default):
    return args.get(name, str(default)).lower() == "true"


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DominoSimulator(SimulatorApp):
    def __init__(self, username=DEMO_USER_CANONICAL, password=DEMO_PASSWORD, database=DEMO_DATABASE,
                 scope=DEMO_SCOPE, seed=True, token_ttl=TOKEN_TTL_SECONDS, fault_seed=None):
        super().__init__(fault_seed)
        self.faults = DominoFaults(fault_seed)
        self.user = username  # canonical
        self.password = password
        self.database = database
        self.scope = scope
        self.token_ttl = token_ttl
        self.tokens = {}  # bearer -> expiry (time.monotonic)
        self._jwt_key = secrets.token_bytes(32)
        self.documents = {}  # unid -> Document
        self.webhook_url = None
        self.webhook_secret = None
        self._next_noteid = 0x8F6  # note ids are multiples of 4
        self._last_stamp = datetime(2024, 1, 1, tzinfo=timezone.utc)
        if seed:
            self._seed()

    def rules(self):
        das = "/<path:database>/api/data"
        return [
            Rule(f"{das}/collections", endpoint="das_collections", methods=["GET"]),
            Rule(f"{das}/collections/name/<view>", endpoint="das_view", methods=["GET"]),
            Rule(f"{das}/documents", endpoint="das_documents", methods=["GET", "POST"]),
            Rule(f"{das}/documents/unid/<unid>", endpoint="das_document", methods=["GET", "PATCH", "PUT", "DELETE"]),
            Rule("/api/v1/auth", endpoint="rest_auth", methods=["POST"]),
            Rule("/api/v1/lists", endpoint="rest_lists", methods=["GET"]),
            Rule("/api/v1/lists/<view>", endpoint="rest_view", methods=["GET"]),
            Rule("/api/v1/document", endpoint="rest_create", methods=["POST"]),
            Rule("/api/v1/document/<unid>", endpoint="rest_document", methods=["GET", "PATCH", "PUT", "DELETE"]),
            Rule("/api/v1/query", endpoint="rest_query", methods=["POST"]),
            Rule("/api/v1/bulk/create", endpoint="rest_bulk_create", methods=["POST"]),
            Rule("/api/v1/bulk/update", endpoint="rest_bulk_update", methods=["POST"]),
            Rule("/_sim/documents/<unid>", endpoint="sim_edit", methods=["POST"]),
            Rule("/_sim/agent", endpoint="sim_agent", methods=["POST"]),
        ]

    def dispatch(self, request):
        rest = request.path.startswith("/api/v1/")
        _rest_call.set(rest)
        try:
            return super().dispatch(request)
        except ApiError as exc:
            return (rest_error if rest else das_error)(exc.status, exc.message, exc.details)

    def error_response(self, status, message):
        return (rest_error if _rest_call.get() else das_error)(status, message)

    def before_route(self, request):
        if self.faults.take_expire_tokens():
            with self.lock:
                self.tokens.clear()
        if request.path == "/api/v1/auth":
            return None
        if request.path.startswith("/api/v1/"):
            if self._bearer_valid(request):
                return None
            return rest_error(401, "Invalid or expired token", "Authenticate again at /api/v1/auth")
        auth = request.authorization
        if auth and auth.type == "basic" and self._known_user(auth.username, auth.password):
            return None
        page = ("<html><head><title>Error</title></head><body><h1>Error 401</h1>"
                "<p>HTTP Web Server: You are not authorized to access this resource</p></body></html>")
        return Response(page, 401, {"WWW-Authenticate": 'Basic realm="/"'}, content_type="text/html; charset=UTF-8")

    def _known_user(self, username, password):
        names = {fold(notes.abbreviate(self.user)), fold(notes.common_name(self.user))}
        return password == self.password and fold(notes.abbreviate(username or "")) in names

    def _bearer_valid(self, request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.lock:
            expiry = self.tokens.get(token.strip())
        return scheme.lower() == "bearer" and expiry is not None and expiry > time.monotonic()

    # Seeding

    def _seed(self):
        documents = [self._seed_product(n) for n in range(1, 201)]
        documents += [self._seed_customer(n) for n in range(1, 201)]
        documents += [self._seed_order(n) for n in range(1, 31)]
        random.Random(5).shuffle(documents)  # forms interleaved in modification order, as in a real database
        for index, (form, items) in enumerate(documents):
            stamp = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=17 * index)
            unid = hashlib.md5(f"{form}|{items[next(iter(items))]}".encode()).hexdigest().upper()
            self._add(Document(unid, self._noteid(), form, stamp, stamp, items, [NOTES_USER]))
        self._last_stamp = stamp

    @staticmethod
    def _seed_product(n):
        product = demo_product(n)
        html = (f"<p>The <b>{product['name']}</b>, one of our best sellers.</p>"
                f"<ul><li>Weight: {product['weight']} kg</li><li>Ships in 2 days</li></ul>")
        description = notes.RichText(html, f"The {product['name']}, one of our best sellers.\n"
                                           f"Weight: {product['weight']} kg\nShips in 2 days")
        return "Product", {"SKU": product["sku"], "Name": product["name"], "Price": product["price"],
                           "Weight": product["weight"], "Stock": product["stock"], "Description": description}

    @staticmethod
    def _seed_customer(n):
        person = demo_person(n)
        tags = ["retail"] + (["newsletter"] if n % 3 == 0 else []) + (["wholesale"] if n % 5 == 0 else [])
        return "Customer", {"Email": person["email"], "FirstName": person["firstname"], "LastName": person["lastname"],
                            "Phone": person["phone"], "City": person["city"], "Tags": tags}

    @staticmethod
    def _seed_order(n):
        person = demo_person(n)
        name = f"{person['firstname']} {person['lastname']}"
        lines, total = [], 0.0
        for k in range(1 + n % 3):
            product = demo_product((n * 7 + k * 13) % 200 + 1)
            quantity = 1 + (n + k) % 4
            lines.append(f"{product['sku']} x {quantity} @ {product['price']:.2f}")
            total += quantity * product["price"]
        status = STATUSES[n % 3]
        return "Order Record", {
            "OrderNumber": f"DO-{1000 + n}",
            "CustomerName": notes.canonicalize(name, "Customers") if n % 2 == 0 else name,
            "Email": person["email"],
            "OrderLines": lines,
            "Total": round(total, 2),
            "Status": status,
            "TrackingNumber": f"1Z999AA1{n:010d}" if status == "Shipped" else "",
            "OrderDate": datetime(2024, 2, 1, 9, 15, tzinfo=timezone.utc) + timedelta(days=n),
        }

    def _noteid(self):
        noteid, self._next_noteid = self._next_noteid, self._next_noteid + 4
        return noteid

    # An index of item values, built for an item the first time a query looks it up with "in": a look-up
    # of a batch's keys then touches those documents only, however large the database has grown.

    def _candidates(self, terms):
        """The documents a query can select (callers hold self.lock): all, or those an "in" term's index allows."""
        for name, op, wanted in terms:
            if op == "in" and name.lower() != "form":
                index = self._index_of(name.lower())
                unids = set().union(*(index.get(value, ()) for value in wanted))
                return [self.documents[unid] for unid in unids if unid in self.documents]
        return list(self.documents.values())

    def _index_of(self, name):
        indexes = self.__dict__.setdefault("_indexes", {})
        if name not in indexes:
            indexes[name] = {}
            for document in self.documents.values():
                self._index_document(document, name)
        return indexes[name]

    @staticmethod
    def _index_values(document, name):
        stored = next((n for n in document.items if n.lower() == name), None)
        return [fold(v) if isinstance(v, str) else v for v in notes.as_list(document.items.get(stored))
                if isinstance(v, (str, int, float)) and not isinstance(v, bool)]

    def _index_document(self, document, name):
        for value in self._index_values(document, name):
            self._indexes[name].setdefault(value, set()).add(document.unid)

    def _reindex(self, document, before):
        """After a save: move the document in each index from its old values (``before``) to its new ones."""
        for name, index in self.__dict__.get("_indexes", {}).items():
            for value in before.get(name, ()):
                index.get(value, set()).discard(document.unid)
            self._index_document(document, name)

    def _indexed_values(self, document):
        return {name: self._index_values(document, name) for name in self.__dict__.get("_indexes", {})}

    def _remove(self, document):
        for name, values in self._indexed_values(document).items():
            for value in values:
                self._indexes[name].get(value, set()).discard(document.unid)
        del self.documents[document.unid]

    def _add(self, document):
        self.documents[document.unid] = document
        return document

    # Saving (callers hold self.lock)

    def _stamp(self, document=None):
        """A modification time: whole seconds as Domino shows them, never going back, and a second past
        the document's last save, so that If-Unmodified-Since notices every save."""
        stamp = max(datetime.now(timezone.utc).replace(microsecond=0), self._last_stamp)
        if document is not None:
            stamp = max(stamp, document.modified + timedelta(seconds=1))
        self._last_stamp = stamp
        return stamp

    def _create(self, form, items, author, parent=None):
        stamp = self._stamp()
        document = Document(uuid.uuid4().hex.upper(), self._noteid(), form, stamp, stamp, {}, [author], parent=parent)
        self._write_items(document, items)
        return self._add(document)

    def _save(self, document, items, author, replace=False):
        """PATCH semantics (null removes an item), or PUT semantics with ``replace``."""
        if replace:
            document.items = {}
        self._write_items(document, items)
        document.modified = self._stamp(document)
        document.sequence += 1
        if document.authors[-1:] != [author]:
            document.authors.append(author)

    def _write_items(self, document, items):
        before = self._indexed_values(document)
        self._write_item_values(document, items)
        self._reindex(document, before)

    def _write_item_values(self, document, items):
        for name, value in items.items():
            if name.startswith("@") or name.lower() == "form":
                continue  # system items and the form are not client-writable here
            stored_name = document.item_name(name)
            if value is None:
                document.items.pop(stored_name, None)
                continue
            try:
                document.items[stored_name] = stored_value(document.form, stored_name, value)
            except ValueError as exc:
                raise ApiError(400, f"Item {name} has an invalid value", str(exc)) from None

    def _concurrent_save(self, document):
        """A Notes user saves the document just before the client's update lands."""
        self._save(document, {"LastEditedBy": NOTES_USER}, NOTES_USER)

    def _document(self, unid):
        document = self.documents.get(unid.upper())
        if document is None:
            raise ApiError(404, f"Document {unid} not found", "Invalid universal id or the document was deleted")
        return document

    @staticmethod
    def _items_body(request):
        body = read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object of items")
        return body

    # DAS

    def _database(self, database):
        if database.lower() != self.database.lower():
            raise ApiError(404, f"Cannot open database {database}", "The database does not exist on this server")

    def _href(self, request, document):
        return f"{request.script_root}/{self.database}/api/data/documents/unid/{document.unid}"

    def das_document(self, request, document, strongtype=False, multipart=True, hidden=False):
        body = {
            "@href": self._href(request, document),
            "@unid": document.unid,
            "@noteid": f"{document.noteid:X}",
            "@created": notes.format_datetime(document.created),
            "@modified": notes.format_datetime(document.modified),
            "@authors": list(document.authors),
            "@form": document.form,
        }
        if document.parent:
            body["@parentid"] = document.parent
        body["Form"] = document.form
        for name, value in document.items.items():
            if hidden or not name.startswith("$"):
                body[name] = das_value(value, strongtype, multipart)
        return body

    def on_das_collections(self, request, database):
        self._database(database)
        root = f"{request.script_root}/{self.database}/api/data/collections"
        views = [{"@title": name, "@folder": False, "@private": False, "@modified": "2024-01-01T00:00:00Z",
                  "@unid": hashlib.md5(name.encode()).hexdigest().upper(), "@href": f"{root}/name/{name}"}
                 for name in VIEWS]
        return json_response(views)

    def _view_rows(self, view, args):
        """The view's documents sorted by its first column, narrowed to ``keys`` when given."""
        if view not in VIEWS:
            raise ApiError(404, f"View {view} not found")
        form, columns = VIEWS[view]
        with self.lock:
            rows = sorted((d for d in self.documents.values() if d.form == form),
                          key=lambda d: fold(notes.first(d.item(columns[0])) or ""))
        if "keys" in args:
            key, exact = fold(args["keys"]), _flag(args, "keysexactmatch", False)
            rows = [d for d in rows if (fold(notes.first(d.item(columns[0])) or "") == key if exact
                                        else fold(notes.first(d.item(columns[0])) or "").startswith(key))]
        return rows, columns

    def on_das_view(self, request, database, view):
        self._database(database)
        rows, columns = self._view_rows(view, request.args)
        if "ps" in request.args or "page" in request.args:
            count = _int_arg(request.args, "ps", DAS_DEFAULT_COUNT)
            start = _int_arg(request.args, "page", 0) * count
        else:
            start = _int_arg(request.args, "start", 0)
            count = _int_arg(request.args, "count", DAS_DEFAULT_COUNT)
        page = rows[start:start + count]
        with self.lock:
            entries = [{
                "@href": self._href(request, document),
                "@entryid": f"{start + index + 1}-{document.unid}",
                "@unid": document.unid,
                "@noteid": f"{document.noteid:X}",
                "@position": str(start + index + 1),
                "@siblings": len(rows),
                "@form": document.form,
                **{column: das_value(document.item(column)) for column in columns},
            } for index, document in enumerate(page)]
        shown = f"{start}-{start + len(page) - 1}" if page else "*"
        return json_response(entries, headers={"Content-Range": f"items {shown}/{len(rows)}"})

    def on_das_documents(self, request, database):
        self._database(database)
        if request.method == "POST":
            return self._das_create(request)
        since = None
        if "since" in request.args:
            try:
                since = notes.parse_datetime(request.args["since"])
            except ValueError as exc:
                raise ApiError(400, "Invalid since parameter", str(exc)) from None
        with self.lock:
            changed = sorted((d for d in self.documents.values() if since is None or d.modified > since),
                             key=lambda d: (d.modified, d.unid))
            stubs = [{"@modified": notes.format_datetime(d.modified), "@unid": d.unid, "@href": self._href(request, d)}
                     for d in changed]
        return json_response(stubs)

    def _das_create(self, request):
        items = self._items_body(request)
        form = request.args.get("form") or items.get("Form")
        if not form:
            raise ApiError(400, "No form: give the form parameter or a Form item")
        parent = request.args.get("parentid")
        with self.lock:
            if parent:
                self._document(parent)
            document = self._create(form, items, self.user, parent=parent.upper() if parent else None)
        location = f"{request.host_url.rstrip('/')}{self._href(request, document)}"
        return Response(status=201, headers={"Location": location})

    def on_das_document(self, request, database, unid):
        self._database(database)
        with self.lock:
            document = self._document(unid)
            if request.method == "GET":
                return self._das_read(request, document)
            if self.faults.take_conflict():
                self._concurrent_save(document)
            self._check_unmodified_since(request, document)
            if request.method == "DELETE":
                self._remove(document)
                return json_response({})
            self._save(document, self._items_body(request), self.user, replace=request.method == "PUT")
            return json_response({}, headers={"Last-Modified": http_date(document.modified)})

    def _das_read(self, request, document):
        last_modified = http_date(document.modified)
        since = parse_date(request.headers.get("If-Modified-Since"))
        if since and document.modified <= since:
            return Response(status=304, headers={"Last-Modified": last_modified})
        args = request.args
        body = self.das_document(request, document, strongtype=_flag(args, "strongtype", False),
                                 multipart=_flag(args, "multipart", True), hidden=_flag(args, "hidden", False))
        return json_response(body, headers={"Last-Modified": last_modified})

    @staticmethod
    def _check_unmodified_since(request, document):
        header = request.headers.get("If-Unmodified-Since")
        if not header:
            return
        since = parse_date(header)
        if since is None:
            raise ApiError(400, "Invalid If-Unmodified-Since header")
        if document.modified > since:
            raise ApiError(412, "The document was modified since the time given in If-Unmodified-Since",
                           f"Last modified {notes.format_datetime(document.modified)}")

    # Domino REST API

    def on_rest_auth(self, request):
        body = read_json(request)
        if not isinstance(body, dict) or not self._known_user(body.get("username"), body.get("password")):
            return rest_error(401, "Invalid credentials or account locked")
        now = int(time.time())
        claims = {"iss": "Domino REST API", "sub": self.user, "CN": notes.common_name(self.user), "aud": "Domino",
                  "iat": now, "exp": now + self.token_ttl, "jti": uuid.uuid4().hex, "scope": "MAIL $DATA"}
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps(claims).encode())
        signature = _b64url(hmac.new(self._jwt_key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        bearer = f"{header}.{payload}.{signature}"
        with self.lock:
            self.tokens[bearer] = time.monotonic() + self.token_ttl
        return json_response({"bearer": bearer, "claims": claims, "leeway": 5, "expSeconds": self.token_ttl,
                              "issueDate": notes.format_datetime(datetime.now(timezone.utc))})

    def _scope(self, request):
        scope = request.args.get("dataSource")
        if not scope:
            raise ApiError(400, "Missing dataSource parameter", "Every data call names a scope: ?dataSource=...")
        if scope.lower() != self.scope.lower():
            raise ApiError(403, f"No access to dataSource '{scope}'",
                           "The scope does not exist or the user may not use it")

    def rest_document(self, document, rich_text_as="html"):
        meta = {
            "noteid": document.noteid,
            "unid": document.unid,
            "created": notes.format_datetime(document.created),
            "lastmodified": notes.format_datetime(document.modified),
            "revision": document.revision,
            "editable": True,
        }
        body = {"@meta": meta, "Form": document.form}
        for name, value in document.items.items():
            if not name.startswith("$"):
                body[name] = rest_value(value, rich_text_as)
        return body

    @staticmethod
    def _rich_text_as(request):
        choice = request.args.get("richTextAs", "html")
        if choice not in ("html", "markdown", "plain"):
            raise ApiError(400, f"richTextAs {choice!r} is not supported", "Use html, markdown or plain")
        return choice

    def on_rest_lists(self, request):
        self._scope(request)
        return json_response([{"name": name, "alias": [], "type": "View",
                               "unid": hashlib.md5(name.encode()).hexdigest().upper()} for name in VIEWS])

    def on_rest_view(self, request, view):
        self._scope(request)
        rows, columns = self._view_rows(view, {})
        start = _int_arg(request.args, "start", 0)
        count = _int_arg(request.args, "count", REST_DEFAULT_COUNT)
        with self.lock:
            entries = [{"@unid": d.unid, "@noteid": d.noteid, "@index": str(start + index + 1),
                        **{column: rest_value(d.item(column)) for column in columns}}
                       for index, d in enumerate(rows[start:start + count])]
        return json_response(entries)

    def on_rest_create(self, request):
        self._scope(request)
        items = self._items_body(request)
        if not items.get("Form"):
            raise ApiError(400, "Form is required", "The document's Form item selects its schema in the scope")
        with self.lock:
            document = self._create(items["Form"], items, self.user)
            return json_response(self.rest_document(document), 201)

    def on_rest_document(self, request, unid):
        self._scope(request)
        rich_text_as = self._rich_text_as(request)
        with self.lock:
            document = self._document(unid)
            if request.method == "GET":
                return json_response(self.rest_document(document, rich_text_as))
            if self.faults.take_conflict():
                self._concurrent_save(document)
            revision = request.args.get("revision")
            if revision and revision != document.revision:
                raise ApiError(409, "The document was modified by someone else",
                               f"Revision {revision} is not the current revision {document.revision}")
            if request.method == "DELETE":
                self._remove(document)
                return json_response({"statusText": "OK", "status": 200, "message": f"Deleted document {document.unid}"})
            self._save(document, self._items_body(request), self.user, replace=request.method == "PUT")
            return json_response(self.rest_document(document, rich_text_as))

    def on_rest_query(self, request):
        self._scope(request)
        action = request.args.get("action")
        if action in ("explain", "parse"):
            raise ApiError(501, f"action={action} is not implemented by the sandbox")
        if action != "execute":
            raise ApiError(400, "action must be execute, explain or parse")
        body = read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "The body must be a JSON object with a query")
        try:
            terms = parse_dql(body.get("query"))
        except DQLError as exc:
            raise ApiError(400, "DQL syntax error", str(exc)) from None
        start = _int_arg(body, "start", 0)
        count = _int_arg(body, "count", REST_DEFAULT_COUNT)
        rich_text_as = self._rich_text_as(request)
        with self.lock:
            # Note id order, as DQL gives no order of its own.
            found = sorted((d for d in self._candidates(terms) if dql_matches(d, terms)), key=lambda d: d.noteid)
            return json_response([self.rest_document(d, rich_text_as) for d in found[start:start + count]])

    def on_rest_bulk_create(self, request):
        """Many documents in one request: each needs its Form; one that cannot be made is answered
        in its place with an error object, the others are created."""
        self._scope(request)
        body = read_json(request)
        documents = body.get("documents") if isinstance(body, dict) else None
        if not isinstance(documents, list) or not documents:
            raise ApiError(400, "The body must be {\"documents\": [...]} with at least one document")
        rich_text_as = self._rich_text_as(request)
        answers = []
        with self.lock:
            for items in documents:
                if not isinstance(items, dict) or not items.get("Form"):
                    answers.append({"status": 400, "message": "Form is required",
                                    "details": "The document's Form item selects its schema in the scope"})
                    continue
                try:
                    document = self._create(items["Form"], items, self.user)
                except ApiError as exc:
                    answers.append({"status": exc.status, "message": exc.message, "details": exc.details})
                    continue
                answers.append(self.rest_document(document, rich_text_as))
        return json_response(answers)

    def on_rest_bulk_update(self, request):
        """The same items written to every document a DQL query selects."""
        self._scope(request)
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("replaceItems"), dict) or not body["replaceItems"]:
            raise ApiError(400, "The body needs a query and replaceItems (an object of items)")
        try:
            terms = parse_dql(body.get("query"))
        except DQLError as exc:
            raise ApiError(400, "DQL syntax error", str(exc)) from None
        rich_text_as = self._rich_text_as(request)
        with self.lock:
            found = sorted((d for d in self._candidates(terms) if dql_matches(d, terms)), key=lambda d: d.noteid)
            for document in found:
                self._save(document, body["replaceItems"], self.user)
            if body.get("returnUpdatedDocument"):
                return json_response([self.rest_document(d, rich_text_as) for d in found])
            return json_response([{"statusText": "OK", "status": 200, "message": f"Updated document {d.unid}",
                                   "unid": d.unid} for d in found])

    # The back office: a Notes user and a Domino agent

    def on_sim_edit(self, request, unid):
        """A Notes user edits the document (item changes in the body, null removes an item); the agent,
        when configured, posts the change to the hub."""
        items = self._items_body(request)
        with self.lock:
            document = self._document(unid)
            self._save(document, items, NOTES_USER)
            rendered = self.das_document(request, document)
            target = (self.webhook_url, self.webhook_secret)
        if target[0]:
            event = {"event": "updated", "form": document.form, "unid": document.unid, "document": rendered}
            webhook_id = f"domino-{document.unid}-{document.sequence}"
            push(*target, webhook_id, json.dumps(event).encode())
        return json_response(rendered)

    def on_sim_agent(self, request):
        return self.set_push_target(request)
