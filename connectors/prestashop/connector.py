"""PrestaShop Webservice (``{shop}/api/...``) and pushes from a shop module.

The 32-character Webservice key is the HTTP Basic user name, with an empty password. Reads ask for
JSON; writes are XML only, filled from ``?schema=blank`` (POST) or from the current object (PUT
replaces the whole object: a field left out is emptied). PrestaShop has no webhooks: a module posts
``{"action": "add", "entity": "Order", "data": {...}}``, and everything else is polled by ``date_upd``.
"""

import copy
import hashlib
import json
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

from connectors.base import Connector, ConnectorError, DeliveryResult, InboundEvent, Page, SecretField
from connectors.prestashop import xml

RESOURCES = {  # entity -> (resource, element of one object)
    "order": ("orders", "order"),
    "order_history": ("order_histories", "order_history"),
    "order_carrier": ("order_carriers", "order_carrier"),
    "stock_available": ("stock_availables", "stock_available"),
    "product": ("products", "product"),
    "customer": ("customers", "customer"),
    "address": ("addresses", "address"),
}
POLLED_BY_DATE = {"order", "product", "customer"}
PUSHED_ENTITIES = {"Order": "order", "Customer": "customer", "Product": "product",
                   "StockAvailable": "stock_available", "OrderHistory": "order_history"}
PUSHED_ACTIONS = {"add": "created", "update": "updated", "delete": "deleted"}

# Getters without a setter: PrestaShop shows them but refuses a write that carries them (code 93).
READ_ONLY_FIELDS = {"products": ("manufacturer_name", "quantity")}
# A customer's password hash and secure key, masked in the XML kept in the attempt log.
SECRET_XML = re.compile(r"<(passwd|secure_key)(\s[^>]*)?>.*?</\1>", re.S)

# What the Webservice's own error codes mean for the key (WebserviceRequest::authenticate and friends).
KEY_PROBLEMS = {
    16: "no key was sent",
    17: "the key is empty",
    18: "the key does not have 32 characters",
    19: "the key does not exist",
    20: "the key is unknown or not active",
    21: "the key has no permissions",
    25: "the key may not use this method on this resource",
    26: "the key has no permission for this resource",
}
WEBSERVICE_DISABLED = 22

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
FIRST_DATE = "1000-01-01 00:00:00"  # MySQL's smallest DATETIME
LAST_DATE = "9999-12-31 23:59:59"


class PrestaShopConnector(Connector):
    kind = "prestashop"
    label = "PrestaShop"
    entities = {
        "order": {"receive", "poll", "get"},
        "order_history": {"receive", "create"},
        "order_carrier": {"update"},
        "stock_available": {"receive", "poll", "get", "update"},
        "product": {"receive", "poll", "get", "create", "update"},
        "customer": {"receive", "poll", "get", "create", "update", "search"},
        "address": {"get", "create"},
    }
    actions = {
        # POSTs an order history, which updates the order: an update for the engine (links kept)
        "order_state.update": "create_order_state",
        "tracking.update": "update_tracking",
        "stock.update": "update_stock",
        "product.upsert": "upsert_product",
        "customer.upsert": "upsert_customer",
        "address.create": "create_address",
    }
    auth_kinds = ("ws_key",)
    # stock_availables have no date_upd: each poll pages through all, only changed quantities count
    snapshot_entities = frozenset({"stock_available"})
    secret_fields = (
        SecretField("api_key", "Webservice key",
                    "Advanced Parameters > Webservice: the 32-character key (sent as the HTTP Basic user name)."),
        SecretField("webhook_secret", "Module signing secret",
                    "Optional whsec_... shared with the shop module; its pushes are signed only when one is set."),
    )

    def __init__(self, connection):
        super().__init__(connection)
        self._blanks = {}  # resource -> its ?schema=blank document, fetched once per connector
        self._errors = []  # (code, message) of the last failed answer, read by _call to explain it

    @property
    def language_id(self) -> int:
        return int((self.connection.settings or {}).get("language_id", 1))

    # --- errors -------------------------------------------------------------------------------------
    def describe_error(self, response) -> str:
        self._errors = read_errors(response)
        if not self._errors:
            return super().describe_error(response)
        return "; ".join(f"{message} (code {code})" if code is not None else message for code, message in self._errors)

    def _explained(self, exc: ConnectorError) -> ConnectorError:
        """The HTTP path's error, made precise by PrestaShop's own error codes."""
        codes = [code for code, _ in self._errors if code is not None]
        words = "; ".join(message for _, message in self._errors) or exc.message
        code = str(codes[0]) if codes else ""
        if exc.status == 401 or 25 in codes:
            problem = next((KEY_PROBLEMS[c] for c in codes if c in KEY_PROBLEMS), "the key was not accepted")
            return ConnectorError(f"PrestaShop refused the Webservice key: {problem} ({words})", permanent=True,
                                  status=exc.status, code=code)
        if WEBSERVICE_DISABLED in codes:  # a 503 that waiting will not fix
            return ConnectorError(f"PrestaShop's Webservice is disabled; enable it in Advanced Parameters > "
                                  f"Webservice ({words})", permanent=True, status=exc.status, code=code)
        exc.code = code
        return exc

    # --- HTTP ---------------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return self.connection.base_url.rstrip("/") + "/api/" + path

    def _call(self, method: str, path: str, *, params=None, document=None):
        key = self.connection.secret("api_key")
        if not key:
            raise ConnectorError("PrestaShop connection has no Webservice key; set it in the admin", permanent=True)
        extra = {}
        if document is not None:
            body = xml.serialize(document)
            extra = {"data": body, "headers": {"Content-Type": "application/xml"},
                     "log_request": without_secrets(body.decode())}
        self._errors = []
        try:
            response = self.http.request(method, self._url(path), params=params, auth=(key, ""),
                                         session_key=f"prestashop:{self.connection.pk}", **extra)
        except ConnectorError as exc:
            raise self._explained(exc) from None
        logged = self.http.exchanges[-1]
        logged["response"] = without_secrets(logged.get("response"))
        return response

    def _read(self, path: str, params=None):
        """A GET answered in JSON."""
        response = self._call("GET", path, params={**(params or {}), "output_format": "JSON"})
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(f"PrestaShop answered GET {path} with something that is not JSON: "
                                 f"{response.text[:200]!r}", permanent=True) from None

    def _list(self, resource: str, params) -> list[dict]:
        body = self._read(resource, params)
        if body == []:  # PrestaShop's JSON for an empty list (newer versions: {"orders": []})
            return []
        if isinstance(body, dict) and isinstance(body.get(resource), list):
            return body[resource]
        raise ConnectorError(f"PrestaShop answered GET {resource} with an unexpected body: {str(body)[:200]}",
                             permanent=True)

    def _object(self, resource: str, node: str, object_id) -> dict:
        body = self._read(f"{resource}/{object_id}")
        if not isinstance(body, dict) or not isinstance(body.get(node), dict):
            raise ConnectorError(f"PrestaShop answered GET {resource}/{object_id} without an <{node}>", permanent=True)
        return body[node]

    def _xml(self, method: str, path: str, params=None, document=None):
        """A call answered in XML (the Webservice's default): the parsed root."""
        response = self._call(method, path, params=params, document=document)
        try:
            return xml.parse(response.content)
        except ValueError as exc:
            raise ConnectorError(f"PrestaShop answered {method} {self._url(path)} with bad XML: {exc}",
                                 permanent=True) from None

    # --- writes, in XML -----------------------------------------------------------------------------
    def _blank(self, resource: str):
        """A fresh copy of the resource's empty template, fetched once per connector."""
        if resource not in self._blanks:
            self._blanks[resource] = self._xml("GET", resource, params={"schema": "blank"})
        return copy.deepcopy(self._blanks[resource])

    def _fill(self, resource: str, node, values: dict) -> list[str]:
        """Write ``values`` into an object's XML; returns the names of the fields that changed."""
        for name in READ_ONLY_FIELDS.get(resource, ()):
            for element in node.findall(name):
                node.remove(element)
        unknown = sorted(name for name in values if xml.child(node, name) is None)
        if unknown:
            raise ConnectorError(f"PrestaShop {resource} have no field {', '.join(unknown)}", permanent=True)
        changed = []
        for name, value in values.items():
            element = xml.child(node, name)
            if xml.is_multilingual(element):
                texts = value if isinstance(value, dict) else {self.language_id: value}
                touched = [xml.set_text(xml.language(element, language), text) for language, text in texts.items()]
            else:
                touched = [xml.set_text(element, value)]
            if any(touched):
                changed.append(name)
        return changed

    def _create(self, resource: str, values: dict) -> str:
        document = self._blank(resource)
        node = xml.resource_node(document)
        for associations in node.findall("associations"):
            node.remove(associations)  # the blank's empty rows would be written as links to id 0
        self._fill(resource, node, values)
        created = xml.resource_node(self._xml("POST", resource, document=document))
        return (created.findtext("id") or "").strip()

    def _update(self, resource: str, object_id, values: dict) -> list[str]:
        """GET the whole object, change ``values``, PUT it back (only when something changed)."""
        document = self._xml("GET", f"{resource}/{object_id}")
        changed = self._fill(resource, xml.resource_node(document), values)
        if changed:
            self._xml("PUT", f"{resource}/{object_id}", document=document)
        return changed

    # --- inbound ------------------------------------------------------------------------------------
    def parse_push(self, payload: dict, headers) -> InboundEvent:
        name = payload.get("entity")
        entity = PUSHED_ENTITIES.get(name)
        if entity is None:
            raise ValueError(f'a PrestaShop module push needs "entity" as one of {", ".join(PUSHED_ENTITIES)}; '
                             f"got {name!r}")
        event = PUSHED_ACTIONS.get(payload.get("action"))
        if event is None:
            raise ValueError(f'a PrestaShop module push needs "action" as add, update or delete; '
                             f"got {payload.get('action')!r}")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ValueError('a PrestaShop module push needs "data" as an object')
        if data.get("id") in (None, ""):
            raise ValueError(f'the {name} in "data" has no "id"')
        # A thin push (the id only, or an order without its customer) is completed by fetch; a deleted
        # record cannot be fetched, so its push is taken as it is.
        thin = set(data) <= {"id"} or (entity == "order" and "customer" not in data)
        return InboundEvent(entity, event, str(data["id"]), None if thin and event != "deleted" else data)

    def fetch(self, entity: str, source_id: str) -> dict:
        if entity not in RESOURCES:
            raise NotImplementedError(f"{self.kind} cannot fetch {entity}")
        record = self._object(*RESOURCES[entity], source_id)
        if entity == "order":
            record = self._with_customer(record)
        return record

    def _with_customer(self, order: dict) -> dict:
        """An order only names its customer and addresses by id; mappings need the names and e-mail."""
        try:
            customer = self._object("customers", "customer", order["id_customer"]) if order.get("id_customer") else {}
            address = (self._object("addresses", "address", order["id_address_delivery"])
                       if str(order.get("id_address_delivery") or "0") != "0" else {})
        except ConnectorError as exc:
            if not exc.permanent:
                raise
            customer, address = {}, {}  # e.g. a key that may read orders only: mappings say what is missing
        keep = ("id", "email", "firstname", "lastname")
        return {**order, "customer": {k: customer.get(k, "") for k in keep}, "delivery_address": address}

    def poll(self, entity: str, cursor: str | None, limit: int = 100) -> Page:
        """Records changed since the cursor, oldest first; the cursor is ``"{date_upd}|{id}"`` of the last one.

        ``date_upd`` has whole seconds and a bulk update gives many records the same one, so the
        records of the cursor's own second are read on by id (``filter[id]=>[last]``) before the
        later seconds: a page can never come back to where it started. A cursor with a date and no
        id starts at that date, inclusive.
        """
        if entity == "stock_available":
            return self._poll_stock(cursor, limit)
        if entity not in POLLED_BY_DATE:
            raise NotImplementedError(f"{self.kind} cannot poll {entity}")
        resource = RESOURCES[entity][0]
        since, _, last_id = (cursor or "").partition("|")
        query = {"display": "full", "date": "1"}
        records = []
        if last_id:
            records = self._list(resource, {**query, "filter[date_upd]": f"[{since}]", "filter[id]": f">[{last_id}]",
                                            "sort": "[id_ASC]", "limit": f"0,{limit}"})
        if len(records) < limit:
            start = next_second(since) if last_id else since or FIRST_DATE
            records += self._list(resource, {**query, "filter[date_upd]": f"[{start},{LAST_DATE}]",
                                             "sort": "[date_upd_ASC,id_ASC]", "limit": f"0,{limit - len(records)}"})
        if not records:
            return Page([], cursor)
        last, full = records[-1], len(records) == limit
        # Caught up: the next poll reads the last second again, so a record saved later in that same
        # second is not missed (the versions below drop what was already seen).
        return Page(records, f"{last['date_upd']}|{last['id'] if full else ''}", more=full)

    def rewind_cursor(self, entity: str, cursor: str | None, seconds: int) -> str | None:
        if not cursor or not seconds or entity not in POLLED_BY_DATE:
            return cursor  # stock is read whole, by offset
        since = cursor.partition("|")[0]
        try:
            earlier = datetime.strptime(since, DATE_FORMAT) - timedelta(seconds=seconds)
        except ValueError:
            return cursor
        return earlier.strftime(DATE_FORMAT) + "|"  # a date and no id: from that second on, inclusive

    def _poll_stock(self, cursor: str | None, limit: int) -> Page:
        # stock_availables have no date_upd in PrestaShop: each round pages through all of them by
        # offset and starts over past the end; record_version (the quantity) lets the engine drop
        # the rows that did not change since the last round.
        offset = int(cursor or 0)
        records = self._list("stock_availables", {"display": "full", "sort": "[id_ASC]", "limit": f"{offset},{limit}"})
        if len(records) < limit:
            return Page(records, "0")
        return Page(records, str(offset + limit), more=True)

    def record_id(self, entity: str, record: dict) -> str:
        return str(record["id"])

    def record_version(self, entity: str, record: dict) -> str:
        if entity == "stock_available":
            # No date to go by. A quantity that comes back to an earlier value (5 -> 3 -> 5) looks
            # like the earlier version and is dropped; stock normally flows to the shop, not from it.
            return f"quantity {record.get('quantity')}"
        # date_upd has whole seconds; the content tells two saves within one second apart.
        digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{record.get('date_upd') or record.get('date_add') or ''}#{digest}"

    # --- actions ------------------------------------------------------------------------------------
    def create_order_state(self, payload: dict, target_id=None) -> DeliveryResult:
        """POST an order history, which moves the order to that state; nothing when it is there already."""
        order_id, state_id = order_id_of(payload, target_id), required_int(payload, "id_order_state")
        order = self._object("orders", "order", order_id)
        if str(order.get("current_state")) == str(state_id):
            history = self._list("order_histories", {
                "display": "[id]", "filter[id_order]": f"[{order_id}]", "filter[id_order_state]": f"[{state_id}]",
                "sort": "[id_DESC]", "limit": "1"})
            # The order history that set it; the order itself when the state came without one (a PUT on the order).
            found = str(history[0]["id"]) if history else str(order_id)
            return DeliveryResult(found, note=f"order {order_id} is already in state {state_id}; nothing sent")
        history_id = self._create("order_histories", {"id_order": order_id, "id_order_state": state_id})
        return DeliveryResult(history_id, note=f"order {order_id}: state {order.get('current_state')} -> {state_id} "
                                               f"(order history {history_id})")

    def update_tracking(self, payload: dict, target_id=None) -> DeliveryResult:
        order_id = order_id_of(payload, target_id)
        tracking = str(payload.get("tracking_number") or "").strip()
        if not tracking:
            raise ConnectorError("the payload has no tracking_number", permanent=True)
        carriers = self._list("order_carriers", {"display": "full", "filter[id_order]": f"[{order_id}]",
                                                 "sort": "[id_DESC]"})
        if payload.get("id_carrier"):
            carriers = [c for c in carriers if str(c.get("id_carrier")) == str(payload["id_carrier"])]
        if not carriers:
            which = f" with carrier {payload['id_carrier']}" if payload.get("id_carrier") else ""
            raise ConnectorError(f"PrestaShop order {order_id} has no order carrier{which}", permanent=True)
        carrier = carriers[0]  # the latest, when the order was shipped more than once
        if not self._update("order_carriers", carrier["id"], {"tracking_number": tracking}):
            return DeliveryResult(str(carrier["id"]), note=f"order {order_id} already has tracking number {tracking}")
        return DeliveryResult(str(carrier["id"]), note=f"order {order_id}: tracking number {tracking} set on "
                                                       f"order carrier {carrier['id']}")

    def update_stock(self, payload: dict, target_id=None) -> DeliveryResult:
        quantity = required_int(payload, "quantity")
        if payload.get("id_product"):
            product_id, label = required_int(payload, "id_product"), f"product {payload['id_product']}"
        else:
            reference = required_text(payload, "reference")
            product_id, label = self._product_id(reference), f"product {reference}"
            if product_id is None:
                raise ConnectorError(f"PrestaShop has no product with reference {reference!r}", permanent=True)
        stocks = self._list("stock_availables", {"display": "full", "filter[id_product]": f"[{product_id}]",
                                                 "filter[id_product_attribute]": "[0]", "sort": "[id_ASC]"})
        if not stocks:
            raise ConnectorError(f"PrestaShop has no stock row for {label} (id {product_id})", permanent=True)
        stock = stocks[0]
        if not self._update("stock_availables", stock["id"], {"quantity": quantity}):
            return DeliveryResult(str(stock["id"]), note=f"{label} already has quantity {quantity}")
        return DeliveryResult(str(stock["id"]), note=f"{label}: quantity {stock.get('quantity')} -> {quantity}")

    def upsert_product(self, payload: dict, target_id=None) -> DeliveryResult:
        """Find the product by reference: update it, or create it (name and texts in the connection's language)."""
        reference = required_text(payload, "reference")
        product_id = target_id or self._product_id(reference)
        if product_id:
            changed = self._update("products", product_id, payload)
            note = f"updated {', '.join(changed)}" if changed else "unchanged; nothing sent"
            return DeliveryResult(str(product_id), note=f"product {reference} {note}")
        name = required_text(payload, "name")
        # state=1 is a finished product (1.7.7+: 0 is a draft hidden from the back office); a URL slug is required.
        defaults = {"state": 1, "active": 1, "link_rewrite": url_slug(name)}
        schema = xml.resource_node(self._blank("products"))
        values = {**{k: v for k, v in defaults.items() if xml.child(schema, k) is not None}, **payload}
        return DeliveryResult(self._create("products", values), note=f"product {reference} created")

    def upsert_customer(self, payload: dict, target_id=None) -> DeliveryResult:
        """Find the customer by e-mail: update, or create; an e-mail already in the shop is never added again."""
        email = required_text(payload, "email")
        customer = self._object("customers", "customer", target_id) if target_id else self._find_customer(email)
        if customer:
            values = dict(payload)
            if email.casefold() == str(customer.get("email", "")).casefold():
                values["email"] = customer["email"]  # the same address in another case: keep the shop's spelling
            changed = self._update("customers", customer["id"], values)
            note = f"updated {', '.join(changed)}" if changed else "unchanged; nothing sent"
            return DeliveryResult(str(customer["id"]), note=f"customer {email} found; {note}")
        # PrestaShop requires a password: a random one, which the customer replaces by "forgot password".
        values = {"passwd": secrets.token_urlsafe(18), "active": 1, **payload}
        return DeliveryResult(self._create("customers", values), note=f"customer {email} created")

    def create_address(self, payload: dict, target_id=None) -> DeliveryResult:
        """Add an address to a customer (by id_customer or email) unless the same one is there already."""
        values = {k: v for k, v in payload.items() if k not in ("email", "country_code")}
        values.setdefault("alias", "Address")
        if payload.get("id_customer"):
            values["id_customer"] = payload["id_customer"]
        else:
            customer = self._find_customer(required_text(payload, "email"))
            if customer is None:
                raise ConnectorError(f"PrestaShop has no customer with e-mail {payload['email']!r}", permanent=True)
            values["id_customer"] = customer["id"]
        values["id_country"] = payload.get("id_country") or self._country_id(required_text(payload, "country_code"))
        existing = self._list("addresses", {"display": "full", "filter[id_customer]": f"[{values['id_customer']}]",
                                            "filter[deleted]": "[0]"})
        same = next((a for a in existing if same_address(a, values)), None)
        if same:
            return DeliveryResult(str(same["id"]), note=f"customer {values['id_customer']} already has this address")
        address_id = self._create("addresses", values)
        return DeliveryResult(address_id, note=f"address {address_id} added to customer {values['id_customer']}")

    # --- look-ups -----------------------------------------------------------------------------------
    def _product_id(self, reference: str) -> str | None:
        found = self._list("products", {"display": "[id,reference]", "filter[reference]": f"[{reference}]",
                                        "sort": "[id_ASC]"})
        return next((str(p["id"]) for p in found if p.get("reference") == reference), None)

    def _find_customer(self, email: str) -> dict | None:
        """The customer with that e-mail (any case): a live account before a guest one, the oldest first."""
        found = self._list("customers", {"display": "[id,email,is_guest,deleted]", "filter[email]": f"[{email}]"})
        matches = [c for c in found if str(c.get("email", "")).casefold() == email.casefold()]
        matches.sort(key=lambda c: (str(c.get("deleted")) == "1", str(c.get("is_guest")) == "1", int(c["id"])))
        return matches[0] if matches else None

    def _country_id(self, iso_code: str) -> str:
        found = self._list("countries", {"display": "[id,iso_code]", "filter[iso_code]": f"[{iso_code.upper()}]"})
        if not found:
            raise ConnectorError(f"PrestaShop has no country with ISO code {iso_code!r}", permanent=True)
        return str(found[0]["id"])

    def test_connection(self) -> str:
        """GET /api/: the resources the key may use; reading orders is the least the hub needs."""
        url = self._url("")
        try:
            root = self._xml("GET", "")
        except ConnectorError as exc:
            if exc.status is None and not exc.permanent:
                raise ConnectorError(f"{exc.message}; tried {url}", permanent=False) from None
            if exc.status == 404:
                raise ConnectorError(f"No PrestaShop Webservice at {url}: check the shop URL, and that friendly "
                                     "URLs are on (the Webservice needs URL rewriting)", permanent=True,
                                     status=404) from None
            raise
        api = root.find("api")
        if api is None:
            raise ConnectorError(f"{url} did not answer with the Webservice's resource list; is the base URL the "
                                 "shop's root?", permanent=True)
        orders = api.find("orders")
        if orders is None or orders.get("get") != "true":
            raise ConnectorError("PrestaShop accepted the Webservice key, but it may not read orders: tick GET for "
                                 "orders in Advanced Parameters > Webservice", permanent=True)
        resources = len(list(xml.elements(api)))
        return (f"PrestaShop ({api.get('shopName')}) accepted the Webservice key; it may use {resources} resources, "
                "orders included.")


def read_errors(response) -> list[tuple[int | None, str]]:
    """PrestaShop's (code, message) pairs from a JSON or XML error body; [] when it has none."""
    if not response.content.strip():
        return []
    try:
        body = response.json()
    except ValueError:
        try:
            return xml.errors(xml.parse(response.content))
        except ValueError:
            return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [(e.get("code") if isinstance(e.get("code"), int) else None, str(e.get("message", "")))
            for e in errors if isinstance(e, dict)]


def without_secrets(body):
    """A logged XML body with the customer secrets masked (JSON bodies are redacted by the
    shared HTTP path, which knows these names too)."""
    if isinstance(body, str):
        return SECRET_XML.sub(lambda found: f"<{found[1]}>***</{found[1]}>", body)
    return body


def order_id_of(payload: dict, linked: str | None) -> int:
    """The order named by the payload, else the order the flow's link points at (a back-flow)."""
    if payload.get("id_order") in (None, "") and linked:
        return required_int({"id_order": linked}, "id_order")
    return required_int(payload, "id_order")


def required_int(payload: dict, name: str) -> int:
    value = payload.get(name)
    try:
        number = float(str(value).strip())
    except ValueError:
        number = None
    if number is None or isinstance(value, bool) or not number.is_integer():
        raise ConnectorError(f"the payload needs {name} as a whole number, got {value!r}", permanent=True)
    return int(number)


def required_text(payload: dict, name: str) -> str:
    value = str(payload.get(name) or "").strip()
    if not value:
        raise ConnectorError(f"the payload has no {name}", permanent=True)
    return value


def next_second(stamp: str) -> str:
    try:
        return (datetime.strptime(stamp, DATE_FORMAT) + timedelta(seconds=1)).strftime(DATE_FORMAT)
    except ValueError:
        raise ConnectorError(f"poll cursor {stamp!r} is not a date like 2024-01-31 23:59:59", permanent=True) from None


def url_slug(name: str) -> str:
    """A link_rewrite as PrestaShop's Tools::str2url makes it: lower-case ASCII words joined by dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "product"


def same_address(address: dict, values: dict) -> bool:
    def norm(value):
        return " ".join(str(value or "").casefold().split())
    return all(norm(address.get(name)) == norm(values.get(name)) for name in ("address1", "postcode", "city"))
