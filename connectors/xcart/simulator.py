"""Sandbox simulator of the X-Cart 5.5 REST API, plus the store add-on that pushes signed order webhooks.

Faithful to the facts in API-NOTES.md: ``X-Auth-Token`` auth, bare JSON arrays with
``page``/``itemsPerPage`` paging, the API Platform style filters of ``/api/orders``, and the legacy order
field names (``order_id``, ``lastRenewDate``, ...). Simulator-only endpoints live under ``/_sim/``.
"""

import json
import operator
import time
from datetime import datetime, timezone

from werkzeug.routing import Rule

from connectors.xcart.legacy_simulator import LegacyRestApi
from connectors.simkit import SimulatorApp, demo_person, demo_product, json_response, push, read_json

DEMO_API_KEY = "demo-xcart-key"
MAX_ITEMS_PER_PAGE = 100

# Ids as in a default store (payment ids unconfirmed; shipping ids from the legacy API docs).
PAYMENT_STATUSES = {"Q": 1, "A": 2, "PP": 3, "P": 4, "D": 5, "C": 6, "R": 7}
SHIPPING_STATUSES = {"N": 1, "P": 2, "S": 3, "D": 4, "WND": 5, "R": 6, "WFA": 7, "NBA": 8}

# API Platform's DateFilter: "after" and "before" include the bound.
DATE_OPERATORS = {
    "after": operator.ge, "before": operator.le, "strictly_after": operator.gt, "strictly_before": operator.lt,
}

PROFILE_FIELDS = {"email", "firstname", "lastname"}
WRITABLE_PRODUCT_FIELDS = {"sku", "name", "description", "price", "enabled", "weight", "amount"}


def problem(status, title, detail):
    """The JSON problem body of the 5.5 API (API Platform)."""
    body = {"type": "https://tools.ietf.org/html/rfc2616#section-10", "title": title, "status": status, "detail": detail}
    return json_response(body, status, content_type="application/problem+json")


class BadRequest(Exception):
    """Answered 400 with a problem body."""


def parse_time(value):
    """A unix time from a filter value given as unix seconds or ISO 8601 (naive means UTC)."""
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"Invalid date: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def int_arg(args, name, default, minimum=1):
    try:
        value = int(args.get(name, default))
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < minimum:
        raise BadRequest(f"{name} should not be less than {minimum}")
    return value


def paginate(request, records):
    """One page of records, API Platform style: the body is a bare array, no count."""
    page = int_arg(request.args, "page", 1)
    per_page = min(int_arg(request.args, "itemsPerPage", 30, minimum=0), MAX_ITEMS_PER_PAGE)
    start = (page - 1) * per_page
    return records[start:start + per_page]


def time_filters(args):
    """(field, compare, bound) for each date filter in the query string, e.g. lastRenewDate[after]."""
    return [
        (field, compare, parse_time(args[key]))
        for field in ("date", "lastRenewDate")
        for op, compare in DATE_OPERATORS.items()
        if (key := f"{field}[{op}]") in args
    ]


def check_order_body(body):
    """Refuses a /_sim/orders body the shop could not have produced."""
    if not isinstance(body, dict) or not isinstance(body.get("email"), str) or "@" not in body["email"]:
        raise BadRequest("an email is required")
    lines = body.get("items")
    if not isinstance(lines, list) or not lines:
        raise BadRequest("a non-empty items list is required")
    for line in lines:
        if not (isinstance(line, dict) and isinstance(line.get("sku"), str) and line["sku"]
                and is_number(line.get("amount"), integer=True) and line["amount"] >= 1
                and is_number(line.get("price", 0))):
            raise BadRequest("each item needs a sku, an integer amount >= 1 and, when given, a numeric price")
    if body.get("paymentStatus", "P") not in PAYMENT_STATUSES:
        raise BadRequest(f"paymentStatus must be one of {', '.join(PAYMENT_STATUSES)}")
    if not isinstance(body.get("address", {}), dict):
        raise BadRequest("address must be an object")
    if not (is_number(body.get("date", 0), integer=True) and is_number(body.get("shippingCost", 0))):
        raise BadRequest("date must be a unix time and shippingCost a number")


def is_number(value, integer=False):
    return isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)


class XCartSimulator(SimulatorApp):
    def __init__(self, api_key=DEMO_API_KEY, seed=True, webhook_url=None, webhook_secret=None, fault_seed=None):
        super().__init__(fault_seed)
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.products = {}  # product_id -> product
        self.product_ids_by_sku = {}
        self.profiles = {}  # profileId -> profile (without addresses)
        self.profile_ids_by_login = {}
        self.addresses = {}  # profileId -> [address]
        self.orders = {}  # order_id -> order, in id order
        self._next_address_id = 1
        self._push_seq = 0
        self._next_item_id = 1
        self.legacy = LegacyRestApi(self)  # the 5.0-5.4 add-on's API over the same store
        if seed:
            self._seed()

    def rules(self):
        return [
            Rule("/admin.php", endpoint="legacy", methods=["GET", "POST", "PUT", "DELETE"]),
            Rule("/api/orders", endpoint="orders", methods=["GET"]),
            Rule("/api/orders/<int:order_id>", endpoint="order", methods=["GET"]),
            Rule("/api/orders/<int:order_id>/shipping_status", endpoint="shipping_status", methods=["GET", "PUT"]),
            Rule("/api/products", endpoint="products", methods=["GET"]),
            Rule("/api/products/<int:product_id>", endpoint="product", methods=["GET", "PUT"]),
            Rule("/api/orders/<int:order_id>/tracking_numbers", endpoint="tracking_numbers", methods=["GET", "POST"]),
            Rule("/api/profiles", endpoint="profiles", methods=["GET", "POST"]),
            Rule("/api/profiles/<int:profile_id>", endpoint="profile", methods=["GET", "PUT"]),
            Rule("/_sim/profiles/<int:profile_id>", endpoint="sim_edit_profile", methods=["POST"]),
            Rule("/api/profiles/<int:profile_id>/addresses", endpoint="addresses", methods=["GET"]),
            Rule("/api/profiles/<int:profile_id>/addresses/<int:address_id>", endpoint="address", methods=["GET"]),
            Rule("/_sim/orders", endpoint="sim_place_order", methods=["POST"]),
            Rule("/_sim/addon", endpoint="sim_addon", methods=["POST"]),
        ]

    def error_response(self, status, message):
        return problem(status, "An error occurred", message)

    def before_route(self, request):
        if request.path.startswith("/api/") and request.headers.get("X-Auth-Token") != self.api_key:
            return problem(401, "An error occurred", "Invalid or missing X-Auth-Token")
        return None

    def dispatch(self, request):
        try:
            return super().dispatch(request)
        except BadRequest as exc:
            return problem(400, "An error occurred", str(exc))

    # Seeding

    def _seed(self):
        for n in range(1, 1001):
            item = demo_product(n)
            self.products[n] = {
                "product_id": n,
                "sku": item["sku"],
                "name": item["name"],
                "price": item["price"],
                "amount": item["stock"],
                "enabled": n % 50 != 0,
                "weight": item["weight"],
            }
            self.product_ids_by_sku[item["sku"]] = n
        added = 1_700_000_000
        for n in range(1, 301):
            person = demo_person(n)
            self._add_profile(person, added + n * 3600)

    def _add_profile(self, person, added_date):
        profile_id = len(self.profiles) + 1
        email = person["email"].lower()
        self.profiles[profile_id] = {
            "profileId": profile_id,
            "login": email,
            "email": email,
            "firstname": person.get("firstname", ""),
            "lastname": person.get("lastname", ""),
            "addedDate": added_date,
        }
        self.profile_ids_by_login[email] = profile_id
        self.addresses[profile_id] = [self._address(person, {"address_id": self._next_address_id})]
        self._next_address_id += 1
        return self.profiles[profile_id]

    @staticmethod
    def _address(source, extra=None):
        fields = ("firstname", "lastname", "street", "city", "zipcode", "country_code", "state", "phone")
        return {**(extra or {}), **{name: source.get(name, "") for name in fields}}

    # API

    def on_legacy(self, request):
        return self.legacy.handle(request)

    def on_orders(self, request):
        args = request.args
        pay_codes = set(args.getlist("paymentStatus.code[]") + args.getlist("paymentStatus.code"))
        ship_codes = set(args.getlist("shippingStatus.code[]") + args.getlist("shippingStatus.code"))
        login = args.get("profile.login", "").lower()
        filters = time_filters(args)
        direction = args.get("order[lastRenewDate]")
        if direction not in (None, "asc", "desc"):
            raise BadRequest("order[lastRenewDate] must be asc or desc")
        with self.lock:
            found = [
                order for order in self.orders.values()
                if (not pay_codes or order["paymentStatus"]["code"] in pay_codes)
                and (not ship_codes or order["shippingStatus"]["code"] in ship_codes)
                and (not login or order["profile"]["login"] == login)
                and all(compare(order[field], bound) for field, compare, bound in filters)
            ]
            if direction:
                found.sort(key=lambda order: (order["lastRenewDate"], order["order_id"]), reverse=direction == "desc")
            return json_response(paginate(request, found))

    def on_order(self, request, order_id):
        with self.lock:
            order = self.orders.get(order_id)
            return json_response(order) if order else self._missing("Order", order_id)

    def on_shipping_status(self, request, order_id):
        code = None
        if request.method == "PUT":
            body = read_json(request)
            code = body.get("code") if isinstance(body, dict) else None
            if code not in SHIPPING_STATUSES:
                raise BadRequest(f"code must be one of {', '.join(SHIPPING_STATUSES)}")
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return self._missing("Order", order_id)
            if code and order["shippingStatus"]["code"] != code:
                order["shippingStatus"] = {"id": SHIPPING_STATUSES[code], "code": code}
                order["lastRenewDate"] = int(time.time())
            return json_response(order["shippingStatus"])

    def on_products(self, request):
        sku = request.args.get("sku")
        with self.lock:
            if sku is not None:
                found = [self.products[self.product_ids_by_sku[sku]]] if sku in self.product_ids_by_sku else []
            else:
                found = list(self.products.values())
            return json_response(paginate(request, found))

    def on_product(self, request, product_id):
        changes = None
        if request.method == "PUT":
            changes = read_json(request)
            if not isinstance(changes, dict) or not set(changes) <= WRITABLE_PRODUCT_FIELDS:
                raise BadRequest(f"writable product fields: {', '.join(sorted(WRITABLE_PRODUCT_FIELDS))}")
            if "amount" in changes and not is_number(changes["amount"], integer=True):
                raise BadRequest("amount must be an integer")
        with self.lock:
            product = self.products.get(product_id)
            if product is None:
                return self._missing("Product", product_id)
            if changes:
                product.update(changes)
            return json_response(product)

    def on_tracking_numbers(self, request, order_id):
        # The 5.5 API's shape for tracking numbers is unconfirmed; this follows its sub-resource style.
        value = None
        if request.method == "POST":
            body = read_json(request)
            value = body.get("value") if isinstance(body, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise BadRequest("value (the tracking number) is required")
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return self._missing("Order", order_id)
            if value and value not in [t["value"] for t in order["trackingNumbers"]]:
                order["trackingNumbers"].append({"value": value})
                order["lastRenewDate"] = int(time.time())
            return json_response(order["trackingNumbers"], 201 if value else 200)

    def on_profiles(self, request):
        if request.method == "POST":
            body = read_json(request)
            if not isinstance(body, dict) or "@" not in str(body.get("email", "")):
                raise BadRequest("an email is required")
            with self.lock:
                if body["email"].lower() in self.profile_ids_by_login:
                    raise BadRequest(f"a profile with login {body['email'].lower()} already exists")
                profile = self._add_profile({k: str(v) for k, v in body.items() if k in PROFILE_FIELDS}, int(time.time()))
                answer = self._full_profile(profile)
            self._push_event("profile.created", profile["profileId"], answer)
            return json_response(answer, 201)
        login = request.args.get("login", "").lower()
        with self.lock:
            found = [self.profiles[self.profile_ids_by_login[login]]] if login in self.profile_ids_by_login else (
                [] if login else list(self.profiles.values()))
            return json_response([self._full_profile(profile) for profile in paginate(request, found)])

    def on_profile(self, request, profile_id):
        if request.method == "PUT":
            return self._change_profile(profile_id, read_json(request))
        with self.lock:
            profile = self.profiles.get(profile_id)
            return json_response(self._full_profile(profile)) if profile else self._missing("Profile", profile_id)

    def on_sim_edit_profile(self, request, profile_id):
        """The shopper edits their account in the storefront."""
        return self._change_profile(profile_id, read_json(request))

    def _change_profile(self, profile_id, changes):
        if not isinstance(changes, dict) or not set(changes) <= PROFILE_FIELDS:
            raise BadRequest(f"writable profile fields: {', '.join(sorted(PROFILE_FIELDS))}")
        with self.lock:
            profile = self.profiles.get(profile_id)
            if profile is None:
                return self._missing("Profile", profile_id)
            changed = {k: str(v) for k, v in changes.items() if str(v) != str(profile.get(k, ""))}
            if "email" in changed:
                self.profile_ids_by_login.pop(profile["login"], None)
                changed["email"] = changed["login"] = changed["email"].lower()
                self.profile_ids_by_login[changed["login"]] = profile_id
            profile.update(changed)
            answer = self._full_profile(profile)
        if changed:  # the add-on hooks every profile save, whoever made it
            self._push_event("profile.updated", profile_id, answer)
        return json_response(answer)

    def _push_event(self, topic, record_id, data):
        target = (self.webhook_url, self.webhook_secret)
        if not target[0]:
            return
        with self.lock:
            self._push_seq += 1
            webhook_id = f"xcart-{topic}-{record_id}-{self._push_seq}"
        payload = json.dumps({"type": topic, "timestamp": datetime.now(timezone.utc).isoformat(), "data": data}).encode()
        push(*target, webhook_id, payload)

    def on_addresses(self, request, profile_id):
        with self.lock:
            if profile_id not in self.profiles:
                return self._missing("Profile", profile_id)
            return json_response(self.addresses[profile_id])

    def on_address(self, request, profile_id, address_id):
        with self.lock:
            for address in self.addresses.get(profile_id, []):
                if address["address_id"] == address_id:
                    return json_response(address)
            return self._missing("Address", address_id)

    def _full_profile(self, profile):
        return {**profile, "addresses": self.addresses[profile["profileId"]]}

    @staticmethod
    def _missing(entity, entity_id):
        return problem(404, "An error occurred", f"{entity} {entity_id} not found")

    # The shop and its add-on

    def on_sim_place_order(self, request):
        """The storefront's checkout: creates the order (and the profile if new), then pushes it."""
        body = read_json(request)
        check_order_body(body)
        with self.lock:
            order = self._place_order(body)
            payload = json.dumps({
                "type": "order.created",
                "timestamp": datetime.now(timezone.utc).isoformat(),
                "data": order,
            }).encode()
            target = (self.webhook_url, self.webhook_secret)
            answer = json_response(order, 201)
        if target[0]:
            push(*target, f"xcart-order-{order['order_id']}-created", payload)
        return answer

    def _place_order(self, body):
        email = body["email"].strip().lower()
        profile_id = self.profile_ids_by_login.get(email)
        if profile_id is None:
            person = {**body.get("address", {}), **{k: body.get(k, "") for k in ("firstname", "lastname")}}
            profile = self._add_profile({**person, "email": email}, int(time.time()))
        else:
            profile = self.profiles[profile_id]
        address = self._address({**self.addresses[profile["profileId"]][0], **body.get("address", {})})
        items = [self._order_item(line) for line in body["items"]]
        subtotal = round(sum(item["total"] for item in items), 2)
        order_id = len(self.orders) + 1
        date = body.get("date") or int(time.time())
        payment = body.get("paymentStatus", "P")
        order = {
            "order_id": order_id,
            "orderNumber": str(order_id),
            "date": date,
            "lastRenewDate": date,
            "total": round(subtotal + float(body.get("shippingCost", 0)), 2),
            "subtotal": subtotal,
            "currency": {"code": body.get("currency", "USD")},
            "paymentStatus": {"id": PAYMENT_STATUSES[payment], "code": payment},
            "shippingStatus": {"id": SHIPPING_STATUSES["N"], "code": "N"},
            "shippingMethodName": body.get("shippingMethodName", "Courier"),
            "paymentMethodName": body.get("paymentMethodName", "Credit card"),
            "profile": {key: profile[key] for key in ("profileId", "login", "email", "firstname", "lastname")},
            "billingAddress": address,
            "shippingAddress": dict(address),
            "items": items,
            "trackingNumbers": [],
        }
        self.orders[order_id] = order
        return order

    def _order_item(self, line):
        """An order line priced from the catalogue; unknown SKUs are sold at the price given (or 0)."""
        product = self.products.get(self.product_ids_by_sku.get(line["sku"]))
        if product:
            product["amount"] = max(0, product["amount"] - line["amount"])
        price = product["price"] if product else float(line.get("price", 0))
        item = {
            "item_id": self._next_item_id,
            "sku": line["sku"],
            "name": product["name"] if product else line.get("name", line["sku"]),
            "price": price,
            "amount": line["amount"],
            "total": round(price * line["amount"], 2),
        }
        self._next_item_id += 1
        return item

    def on_sim_addon(self, request):
        return self.set_push_target(request)
