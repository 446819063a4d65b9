"""Sandbox simulator of the PrestaShop Webservice, plus the storefront and a module that pushes orders.

Faithful to API-NOTES.md and to PrestaShop's own ``WebserviceRequest``: the 32-character key as the
Basic user name (or ``ws_key``), XML by default and JSON with ``output_format=JSON`` (an empty JSON list
is ``[]``), ids only unless ``display``, ``filter[field]=[..]`` / ``sort`` / ``limit`` with the real error
codes, date filters only with ``date=1``, and XML writes where a PUT replaces the whole object (a field
left out is emptied). Simulator-only endpoints live under ``/_sim/``.
"""

import hashlib
import json
import random
import re
import string
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from difflib import get_close_matches

from lxml import etree
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from connectors.prestashop import xml
from connectors.simkit import SimulatorApp, demo_person, demo_product, json_response, push, read_json

DEMO_WS_KEY = "DEMOKEY0PRESTASHOP0SANDBOX000001"
READONLY_WS_KEY = "READONLY0PRESTASHOP0SANDBOX00002"  # GET on orders, order states, products and stock only
SHOP_NAME = "Demo Shop"
PS_VERSION = "8.1.7"
REALM = ('Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the login. '
         'No password required."')
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
NO_DATE = "0000-00-00 00:00:00"
SEED_CLOCK = datetime(2025, 1, 6, 8, 0, 0)  # products and customers were last changed around then

LANGUAGES = {1: ("en", "English (English)", "en-US"), 2: ("fr", "Français (French)", "fr-FR")}
DEFAULT_LANGUAGE = 1
# PrestaShop's own country ids: (iso code, English name, French name, call prefix)
COUNTRIES = {1: ("DE", "Germany", "Allemagne", "49"), 8: ("FR", "France", "France", "33"),
             17: ("GB", "United Kingdom", "Royaume-Uni", "44"), 21: ("US", "United States", "États-Unis", "1")}
US = 21
# The 13 default order states: name, paid, shipped, logable (counts as a valid sale)
ORDER_STATES = {
    1: ("Awaiting check payment", False, False, False),
    2: ("Payment accepted", True, False, True),
    3: ("Processing in progress", True, False, True),
    4: ("Shipped", True, True, True),
    5: ("Delivered", True, True, True),
    6: ("Canceled", False, False, False),
    7: ("Refunded", True, False, False),
    8: ("Payment error", False, False, False),
    9: ("On backorder (paid)", True, False, True),
    10: ("Awaiting bank wire payment", False, False, False),
    11: ("Remote payment accepted", True, False, True),
    12: ("On backorder (not paid)", False, False, False),
    13: ("Awaiting Cash On Delivery validation", False, False, False),
}
# id: (name, shipping cost, tracking url, delay)
CARRIERS = {1: ("Pick up in store", 0.0, "", "Pick up in-store"),
            2: ("My carrier", 7.0, "", "Delivery next day!"),
            3: ("Express Courier", 15.0, "https://track.example.com/?n=@", "1-2 business days")}
PAYMENT_MODULES = {1: ("ps_checkpayment", "Payments by check"), 10: ("ps_wirepayment", "Bank transfer"),
                   13: ("ps_cashondelivery", "Cash on delivery (COD)")}
CARD_PAYMENT = ("ps_checkout", "Credit card")


READ = frozenset({"GET", "HEAD"})
HTTP_METHODS = {"GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"}


@dataclass(frozen=True)
class Resource:
    name: str  # plural, in the URL: "orders"
    node: str  # one object's element: "order"
    class_name: str  # PrestaShop's class, named in validation errors
    description: str
    fields: tuple[str, ...]
    required: frozenset = frozenset()
    i18n: frozenset = frozenset()  # multilingual: one value per language
    read_only: frozenset = frozenset()  # getters without setter: shown, refused in writes (code 93)
    associations: dict = field(default_factory=dict)  # name -> (row element, row fields)
    methods: frozenset = READ  # what the sandbox serves; PrestaShop itself allows more on some


def resource(name, node, class_name, description, fields, required="", i18n="", read_only="",
             associations=None, methods=READ):
    return Resource(name, node, class_name, description, tuple(fields.split()), frozenset(required.split()),
                    frozenset(i18n.split()), frozenset(read_only.split()), associations or {}, frozenset(methods))


WRITABLE = READ | {"POST", "PUT"}
ORDER_ROW_FIELDS = ("id product_id product_attribute_id product_quantity product_name product_reference "
                    "product_ean13 product_isbn product_upc product_price id_customization unit_price_tax_incl "
                    "unit_price_tax_excl").split()
RESOURCES = {r.name: r for r in [
    resource("addresses", "address", "Address", "The Customer, Brand and Customer addresses",
             "id id_customer id_manufacturer id_supplier id_warehouse id_country id_state alias company lastname "
             "firstname vat_number address1 address2 postcode city other phone phone_mobile dni deleted date_add "
             "date_upd", required="id_country alias lastname firstname address1 city", methods=WRITABLE),
    resource("carriers", "carrier", "Carrier", "The Carriers",
             "id deleted is_module id_tax_rules_group id_reference name active is_free url shipping_handling "
             "shipping_external range_behavior shipping_method max_width max_height max_depth max_weight grade "
             "external_module_name need_range position delay", i18n="delay"),
    resource("countries", "country", "Country", "The countries",
             "id id_zone id_currency call_prefix iso_code active contains_states need_identification_number "
             "need_zip_code zip_code_format display_tax_label name", i18n="name"),
    resource("customers", "customer", "Customer", "The e-shop's customers",
             "id id_default_group id_lang newsletter_date_add ip_registration_newsletter last_passwd_gen secure_key "
             "deleted passwd lastname firstname email id_gender birthday newsletter optin website company active "
             "note is_guest id_shop id_shop_group date_add date_upd",
             required="passwd lastname firstname email", associations={"groups": ("group", ("id",))},
             methods=WRITABLE),
    resource("languages", "language", "Language", "Shop languages",
             "id name iso_code locale language_code active is_rtl date_format_lite date_format_full"),
    resource("order_carriers", "order_carrier", "OrderCarrier", "The Order carriers",
             "id id_order id_carrier id_order_invoice weight shipping_cost_tax_excl shipping_cost_tax_incl "
             "tracking_number date_add", required="id_order id_carrier", methods=READ | {"PUT"}),
    resource("order_histories", "order_history", "OrderHistory", "The Order histories",
             "id id_employee id_order_state id_order date_add", required="id_order_state id_order",
             methods=READ | {"POST"}),
    resource("order_states", "order_state", "OrderState", "The Order statuses",
             "id unremovable delivery hidden send_email module_name invoice color logable shipped paid "
             "pdf_delivery pdf_invoice deleted name template", i18n="name template"),
    resource("orders", "order", "Order", "The Customers orders",
             "id id_address_delivery id_address_invoice id_cart id_currency id_lang id_customer id_carrier "
             "current_state module invoice_number invoice_date delivery_number delivery_date valid date_add "
             "date_upd shipping_number id_shop_group id_shop secure_key payment recyclable gift gift_message "
             "total_discounts total_discounts_tax_incl total_discounts_tax_excl total_paid total_paid_tax_incl "
             "total_paid_tax_excl total_paid_real total_products total_products_wt total_shipping "
             "total_shipping_tax_incl total_shipping_tax_excl carrier_tax_rate total_wrapping "
             "total_wrapping_tax_incl total_wrapping_tax_excl round_mode round_type conversion_rate reference",
             required="id_address_delivery id_address_invoice id_cart id_currency id_lang id_customer id_carrier "
                      "module payment total_paid total_paid_real total_products total_products_wt conversion_rate",
             associations={"order_rows": ("order_row", tuple(ORDER_ROW_FIELDS))}, methods=READ | {"PUT"}),
    resource("products", "product", "Product", "The products",
             "id id_manufacturer id_supplier id_category_default new id_default_image id_tax_rules_group "
             "manufacturer_name quantity type id_shop_default reference supplier_reference ean13 upc mpn weight "
             "state on_sale online_only ecotax minimal_quantity price wholesale_price active available_for_order "
             "show_price condition visibility date_add date_upd meta_title link_rewrite name description "
             "description_short",
             required="price link_rewrite name", i18n="meta_title link_rewrite name description description_short",
             read_only="manufacturer_name quantity",
             associations={"stock_availables": ("stock_available", ("id", "id_product_attribute"))},
             methods=WRITABLE),
    resource("stock_availables", "stock_available", "StockAvailable", "Available quantities",
             "id id_product id_product_attribute id_shop id_shop_group quantity depends_on_stock out_of_stock location",
             required="id_product id_product_attribute quantity depends_on_stock out_of_stock",
             methods=READ | {"PUT"}),
]}
ORDERS = RESOURCES["orders"]

KEY_PERMISSIONS = {
    DEMO_WS_KEY: {name: frozenset(HTTP_METHODS - {"PATCH"}) for name in RESOURCES},
    READONLY_WS_KEY: {name: READ for name in ("orders", "order_states", "products", "stock_availables")},
}

# Foreign keys: shown as xlinks and checked on writes (only those whose resource the sandbox has).
LINKS = {"id_customer": "customers", "id_address_delivery": "addresses", "id_address_invoice": "addresses",
         "id_carrier": "carriers", "current_state": "order_states", "id_order": "orders", "id_product": "products",
         "id_country": "countries", "id_order_state": "order_states", "id_lang": "languages"}
NUMERIC_FIELDS = {"price", "wholesale_price", "quantity", "weight", "ecotax", "minimal_quantity", "conversion_rate",
                  "carrier_tax_rate", "current_state", "product_id", "product_attribute_id", "product_quantity",
                  "product_price", "unit_price_tax_incl", "unit_price_tax_excl", "shipping_cost_tax_excl",
                  "shipping_cost_tax_incl", "active", "deleted", "valid", "position", "grade", "out_of_stock",
                  "depends_on_stock", "newsletter", "optin", "is_guest", "invoice_number", "delivery_number"}
# DECIMAL(20,6) columns: stored, and so read back, with six decimals.
DECIMAL_FIELDS = {"price", "wholesale_price", "weight", "ecotax", "shipping_cost_tax_excl", "shipping_cost_tax_incl",
                  "max_weight", "conversion_rate"}
FORMATS = {"email": "isEmail", "price": "isPrice", "wholesale_price": "isPrice", "quantity": "isInt",
           "weight": "isUnsignedFloat", "active": "isBool", "deleted": "isBool", "is_guest": "isBool",
           "firstname": "isName", "lastname": "isName", "date_add": "isDate", "date_upd": "isDate",
           "link_rewrite": "isLinkRewrite", "depends_on_stock": "isBool", "out_of_stock": "isInt"}
VALIDATORS = {
    "isUnsignedId": re.compile(r"\d+"),
    "isInt": re.compile(r"[-+]?\d+"),
    "isPrice": re.compile(r"\d{1,10}(\.\d{1,9})?"),
    "isUnsignedFloat": re.compile(r"\d+(\.\d+)?"),
    "isBool": re.compile(r"[01]"),
    "isEmail": re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
    "isDate": re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?"),
    "isLinkRewrite": re.compile(r"[_a-zA-Z0-9\-]+"),
    "isName": re.compile(r"[^0-9!<>,;?=+()@#\"°{}_$%:]*"),
}

FILTER_PARAM = re.compile(r"filter\[(\w+)\]")
FILTER_VALUE = re.compile(r"(.*)\[(.*)\](.*)", re.S)
INTERVAL = re.compile(r"([\d.:\-\s]+),([\d.:\-\s]+)")


class WebserviceError(Exception):
    """An answer with PrestaShop's error body: one or more (code, message)."""

    def __init__(self, status, *errors, headers=None):
        super().__init__(errors[0][1])
        self.status, self.errors, self.headers = status, errors, headers or {}


class BadRequest(Exception):
    """A /_sim/ request the storefront could not have made (answered 400 with JSON)."""


def did_you_mean(status, label, value, choices, code):
    """PrestaShop's setErrorDidYouMean: the closest valid value, then the full list."""
    closest = (get_close_matches(value, choices, n=1, cutoff=0) or [""])[0]
    full = ' The full list is: "' + '", "'.join(choices) + '"' if len(choices) > 1 else ""
    return WebserviceError(status, (code, f'{label}. Did you mean: "{closest}"?{full}'))


def php_int(text) -> int:
    """PHP's (int) cast: the leading integer, else 0."""
    found = re.match(r"\s*[-+]?\d+", str(text))
    return int(found.group()) if found else 0


def php_number(text) -> float:
    found = re.match(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)", str(text))
    return float(found.group()) if found else 0.0


def compare_key(name):
    """How MySQL compares a column with a filter value: numbers by value, text case-insensitively."""
    if name == "id" or name.startswith("id_") or name in NUMERIC_FIELDS or name.startswith("total_"):
        return php_number
    return lambda value: str(value).casefold()


def money(amount) -> str:
    return f"{amount:.6f}"


def now() -> str:
    return datetime.now(timezone.utc).strftime(DATE_FORMAT)


def wants_json(args) -> bool:
    return (args.get("output_format") or args.get("io_format") or "").upper() == "JSON"


def languages(value="") -> dict:
    return {language: value for language in LANGUAGES}


def new_record(res, values) -> dict:
    """A full record of ``res``: every field present, empty unless given."""
    record = {name: languages() if name in res.i18n else "" for name in res.fields}
    record.update(values)
    return record


# Filtering, sorting, paging, display: as WebserviceRequest::manageFilters and SQLUtils build the SQL.

def record_matches(record, name, expression):
    """Whether a record passes ``filter[name]=expression``; a multilingual field matches in any language."""
    key = compare_key(name)
    value = record.get(name, "")
    return any(value_matches(key, expression, v) for v in (value.values() if isinstance(value, dict) else [value]))


def value_matches(key, expression, value) -> bool:
    """One value against a filter, as SQLUtils::getSQLRetrieveFilter turns the filter into SQL."""
    found = FILTER_VALUE.fullmatch(expression)
    if not found:
        return key(value) == key(expression)
    before, inner, after = found.groups()
    if "%" in (before, after):  # LIKE, case-insensitive like MySQL's collation
        pattern = re.escape(before + inner + after).replace("%", ".*").replace("_", ".")
        return re.fullmatch(pattern, str(value), re.I | re.S) is not None
    if before == after == "":
        interval = INTERVAL.fullmatch(inner)
        if inner.find("|") > 0:
            return key(value) in {key(option) for option in inner.split("|")}
        if interval:
            low, high = sorted((key(interval[1]), key(interval[2])))
            return low <= key(value) <= high
        return key(value) == key(inner)
    if before == ">":
        return key(value) > key(inner)
    if before == "<":
        return key(value) < key(inner)
    if before == "!":
        return key(value) not in {key(option) for option in inner.split("|")}
    return True  # PrestaShop adds no condition for any other prefix


def filterable_fields(res, dated):
    """Fields a filter or sort may name; date_add/date_upd only with date=1."""
    plain = [name for name in res.fields if name not in res.i18n and name not in ("date_add", "date_upd")]
    return plain + ["date_add", "date_upd"] if dated else plain


def apply_filters(res, args, records):
    records = list(records)
    dated = args.get("date", "") not in ("", "0")  # PHP's empty()
    available = filterable_fields(res, dated)
    for param, expression in args.items(multi=True):
        name = FILTER_PARAM.fullmatch(param)
        if not name:
            continue
        name = name[1]
        if name not in available and name not in res.i18n:
            raise did_you_mean(400, "This filter does not exist", name, available, 32)
        if expression == "":
            raise WebserviceError(400, (33, f'The filter "{name}" is malformed.'))
        if name in res.read_only:
            raise WebserviceError(400, (34, f'The field "{name}" is dynamic. It is not possible to filter GET query '
                                            "with this field."))
        records = [record for record in records if record_matches(record, name, expression)]
    return records


def display_fields(res, args):
    """None for ids only; else (field names, whether associations are shown)."""
    display = args.get("display")
    if display in (None, "minimum"):
        return None
    if display == "full":
        return res.fields, True
    if not (display.startswith("[") and display.endswith("]")):
        raise WebserviceError(400, (36, "The 'display' syntax is wrong. You can set 'full' or '[field_1,field_2,"
                                        f"field_3,...]'. These are available: {', '.join(res.fields)}"))
    names = [name.strip() for name in display[1:-1].split(",") if name.strip()]
    for name in names:
        if name not in res.fields:
            raise WebserviceError(400, (35, f'Unable to display this field "{name}". However, these are available: '
                                            f"{', '.join(res.fields)}"))
    return names, False


def sort_records(res, args, records):
    expression = args.get("sort")
    if expression is None:
        return records
    inner = expression[1:-1] if expression.startswith("[") and expression.endswith("]") else expression
    available = filterable_fields(res, args.get("date", "") not in ("", "0"))
    orders = []
    for item in inner.split(","):
        name, _, direction = item.rpartition("_")
        if not name or direction.upper() not in ("ASC", "DESC"):
            raise WebserviceError(400, (37, 'The "sort" value has to be formed as this example: "field_ASC" or '
                                            "'[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an "
                                            "available field)"))
        if name not in available and name not in res.i18n:
            raise WebserviceError(400, (38, "Unable to filter by this field. However, these are available: "
                                            f"{', '.join(available)}, for i18n fields:{', '.join(sorted(res.i18n))}"))
        orders.append((name, direction.upper() == "DESC"))
    records = list(records)
    for name, descending in reversed(orders):  # stable sorts, last key first
        key = compare_key(name)
        records.sort(key=lambda record: key(sort_value(record, name)), reverse=descending)
    return records


def sort_value(record, name):
    value = record.get(name, "")
    return value.get(DEFAULT_LANGUAGE, "") if isinstance(value, dict) else value


def apply_limit(args, records):
    expression = args.get("limit")
    if expression is None:
        return records
    parts = expression.split(",")
    if len(parts) > 2:
        raise WebserviceError(400, (39, 'The "limit" value has to be formed as this example: "5,25" or "10"'))
    if len(parts) == 1:
        return records[:max(0, php_int(parts[0]))]
    offset = max(0, php_int(parts[0]))
    return records[offset:offset + max(0, php_int(parts[1]))]


# Rendering, JSON and XML

def json_object(res, record, names, with_associations):
    """One object as PrestaShop's JSON renders it: the id a number, everything else strings."""
    out = {}
    for name in names:
        value = record.get(name, "")
        if name in res.i18n:
            out[name] = [{"id": str(language), "value": value[language] if value else ""} for language in LANGUAGES]
        else:
            out[name] = value
    rows = record.get("associations") or {}
    if with_associations and any(rows.values()):
        out["associations"] = {name: [dict(row) for row in rows[name]] for name in res.associations if rows.get(name)}
    return out


def put_text(element, value):
    value = str(value)
    if value == "":
        return
    try:
        element.text = etree.CDATA(value)  # as PrestaShop writes every value
    except ValueError:  # "]]>" cannot sit in a CDATA section
        element.text = value


def xml_object(parent, res, record, names, with_associations, base, schema=None):
    """One object under ``parent``; ``schema`` "blank" or "synopsis" renders the empty template."""
    node = etree.SubElement(parent, res.node)
    for name in names:
        element = etree.SubElement(node, name)
        value = record.get(name, "")
        if schema == "synopsis":
            describe_field(element, res, name)
        if name in res.i18n:
            for language in LANGUAGES:
                child = etree.SubElement(element, "language", id=str(language))
                if schema != "blank":
                    child.set(xml.HREF, f"{base}languages/{language}")
                put_text(child, value.get(language, "") if value else "")
            continue
        if schema is None and name in LINKS and value not in ("", "0"):
            element.set(xml.HREF, f"{base}{LINKS[name]}/{value}")
        if schema != "blank" and name in res.read_only:
            element.set("notFilterable", "true")
        put_text(element, value)
    if with_associations and res.associations:
        xml_associations(node, res, record, schema)
    return node


def describe_field(element, res, name):
    """The synopsis attributes: required and the validation format."""
    if name in res.required:
        element.set("required", "true")
    check = FORMATS.get(name) or ("isUnsignedId" if name.startswith("id_") else None)
    if check:
        element.set("format", check)


def xml_associations(node, res, record, schema):
    wrapper = etree.SubElement(node, "associations")
    for name, (row_node, row_fields) in res.associations.items():
        association = etree.SubElement(wrapper, name)
        if schema != "blank":
            association.set("nodeType", row_node)
            association.set("api", name)
        rows = [{}] if schema else (record.get("associations") or {}).get(name, [])
        for row in rows:
            row_element = etree.SubElement(association, row_node)
            for row_field in row_fields:
                put_text(etree.SubElement(row_element, row_field), row.get(row_field, ""))


def read_fields(res, node, current):
    """The writable values of an XML object, as ``saveEntityFromXml`` reads them.

    Every field left out is emptied (or refused when required): a PUT replaces the whole object.
    A multilingual field keeps the languages the XML does not name.
    """
    values = {}
    for name in res.fields:
        if name == "id":
            continue
        element = node.find(name)
        if name in res.read_only:
            if element is not None:
                raise WebserviceError(400, (93, f'parameter "{name}" not writable. Please remove this attribute of '
                                                "this XML"))
            continue
        if name in res.i18n:
            texts = dict(current[name]) if current else {}
            if element is not None and xml.is_multilingual(element):
                for child in element.iterfind("language"):
                    texts[php_int(child.get("id"))] = child.text or ""
            else:
                texts[DEFAULT_LANGUAGE] = (element.text or "") if element is not None else ""
            values[name] = texts
        elif element is not None:
            values[name] = element.text or ""
        elif name in res.required:
            raise WebserviceError(400, (41, f'parameter "{name}" required'))
        else:
            values[name] = ""
    return values


def validation_error(res, name, problem, code=85):
    return WebserviceError(400, (code, f'Validation error: "Property {res.class_name}->{name} {problem}"'))


def validate(res, values):
    for name, value in values.items():
        if name in res.i18n:
            if name in res.required and not value.get(DEFAULT_LANGUAGE, "").strip():
                raise validation_error(res, name, "is empty.", code=84)
            check = VALIDATORS.get(FORMATS.get(name, ""))
            if check and any(text and not check.fullmatch(text) for text in value.values()):
                raise validation_error(res, name, "is not valid", code=84)
            continue
        if name in res.required and not value.strip():
            raise validation_error(res, name, "is empty.")
        check = VALIDATORS.get(FORMATS.get(name) or ("isUnsignedId" if name.startswith("id_") else ""))
        if value and check and not check.fullmatch(value):
            raise validation_error(res, name, "is not valid")


class PrestaShopSimulator(SimulatorApp):
    def __init__(self, seed=True, webhook_url=None, webhook_secret=None, fault_seed=None, random_seed=1):
        super().__init__(fault_seed)
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webservice_enabled = True  # PS_WEBSERVICE; 503 code 22 when off
        self.keys = dict(KEY_PERMISSIONS)  # key -> resource -> methods
        self.db = {name: {} for name in RESOURCES}  # resource -> id -> record
        self._last_ids = {name: 0 for name in [*RESOURCES, "carts", "order_rows"]}
        self.rng = random.Random(random_seed)
        self._seed_reference_data()
        if seed:
            self._seed_demo_shop()

    def rules(self):
        return [
            Rule("/api/", endpoint="api_root", strict_slashes=False),
            Rule("/api/<resource>", endpoint="api_list", strict_slashes=False),
            Rule("/api/<resource>/<object_id>", endpoint="api_object"),
            Rule("/_sim/orders", endpoint="sim_place_order", methods=["POST"]),
            Rule("/_sim/orders/<int:order_id>/state", endpoint="sim_order_state", methods=["POST"]),
            Rule("/_sim/module", endpoint="sim_module", methods=["POST"]),
            Rule("/_sim/webservice", endpoint="sim_webservice", methods=["POST"]),
        ]

    def error_response(self, status, message):
        return self._error_body(WebserviceError(status, (None, message)), as_json=False)

    def dispatch(self, request):
        try:
            return super().dispatch(request)
        except BadRequest as exc:
            return json_response({"error": str(exc)}, 400)

    # Seeding

    def _insert(self, name, values):
        self._last_ids[name] += 1
        record = new_record(RESOURCES[name], {**values, "id": self._last_ids[name]})
        self.db[name][record["id"]] = record
        return record

    def _seed_reference_data(self):
        for language, (iso, name, locale) in LANGUAGES.items():
            self._insert("languages", {"name": name, "iso_code": iso, "locale": locale, "language_code": locale.lower(),
                                       "active": "1", "is_rtl": "0", "date_format_lite": "Y-m-d",
                                       "date_format_full": "Y-m-d H:i:s"})
        for country_id, (iso, english, french, prefix) in COUNTRIES.items():
            self._last_ids["countries"] = country_id - 1  # PrestaShop's own ids
            self._insert("countries", {"id_zone": "2" if iso == "US" else "1", "id_currency": "0",
                                       "call_prefix": prefix, "iso_code": iso, "active": "1",
                                       "contains_states": "1" if iso == "US" else "0",
                                       "need_identification_number": "0", "need_zip_code": "1",
                                       "zip_code_format": "NNNNN" if iso in ("US", "DE", "FR") else "",
                                       "display_tax_label": "1", "name": {1: english, 2: french}})
        for state_id, (name, paid, shipped, logable) in ORDER_STATES.items():
            flag = {True: "1", False: "0"}
            self._insert("order_states", {
                "unremovable": "1", "delivery": flag[state_id in (3, 4, 5)], "hidden": "0",
                "send_email": flag[state_id in (2, 4, 5, 6, 7, 8)], "module_name": "", "invoice": flag[paid],
                "color": "#32CD32" if paid else "#4169E1", "logable": flag[logable], "shipped": flag[shipped],
                "paid": flag[paid], "pdf_delivery": flag[shipped], "pdf_invoice": flag[paid], "deleted": "0",
                "name": languages(name), "template": languages("")})
        for position, (name, _, url, delay) in enumerate(CARRIERS.values()):
            self._insert("carriers", {
                "deleted": "0", "is_module": "0", "id_tax_rules_group": "0", "id_reference": str(position + 1),
                "name": name, "active": "1", "is_free": "1" if position == 0 else "0", "url": url,
                "shipping_handling": "0", "shipping_external": "0", "range_behavior": "0", "shipping_method": "2",
                "max_width": "0", "max_height": "0", "max_depth": "0", "max_weight": "0.000000", "grade": "0",
                "external_module_name": "", "need_range": "0", "position": str(position), "delay": languages(delay)})

    def _seed_demo_shop(self):
        for n in range(1, 1001):
            self._seed_product(n)
        for n in range(1, 301):
            joined = (SEED_CLOCK - timedelta(days=100, hours=-n)).strftime(DATE_FORMAT)
            customer = self._add_customer(demo_person(n), when=joined)
            self._add_address(customer, demo_person(n), customer["date_add"])
        self._seed_orders()

    def _seed_product(self, n):
        item = demo_product(n)
        # Products change in batches of 7 a minute; 400-519 were saved in the same second (a bulk price import).
        changed = SEED_CLOCK + timedelta(minutes=(57 if 400 <= n < 520 else n // 7))
        product = self._insert("products", {
            "id_manufacturer": "0", "id_supplier": "0", "id_category_default": "2", "new": "", "id_default_image": "",
            "id_tax_rules_group": "1", "manufacturer_name": "", "quantity": str(item["stock"]), "type": "simple",
            "id_shop_default": "1", "reference": item["sku"], "supplier_reference": "", "ean13": "", "upc": "",
            "mpn": "", "weight": money(item["weight"]), "state": "1", "on_sale": "0", "online_only": "0",
            "ecotax": "0.000000", "minimal_quantity": "1", "price": money(item["price"]),
            "wholesale_price": money(round(item["price"] * 0.6, 2)), "active": "0" if n % 50 == 0 else "1",
            "available_for_order": "1", "show_price": "1", "condition": "new", "visibility": "both",
            "date_add": (SEED_CLOCK - timedelta(days=200, minutes=-n)).strftime(DATE_FORMAT),
            "date_upd": changed.strftime(DATE_FORMAT), "meta_title": languages(),
            "link_rewrite": languages(item["name"].lower().replace(" ", "-")), "name": languages(item["name"]),
            "description": languages(f"<p>{item['name']}</p>"), "description_short": languages()})
        self._add_stock(product, item["stock"])

    def _add_stock(self, product, quantity):
        stock = self._insert("stock_availables", {
            "id_product": str(product["id"]), "id_product_attribute": "0", "id_shop": "1", "id_shop_group": "0",
            "quantity": str(quantity), "depends_on_stock": "0", "out_of_stock": "2", "location": ""})
        product["quantity"] = str(quantity)
        product["associations"] = {"stock_availables": [{"id": str(stock["id"]), "id_product_attribute": "0"}]}

    def _add_customer(self, person, when):
        return self._insert("customers", {
            "id_default_group": "3", "id_lang": "1", "newsletter_date_add": NO_DATE, "last_passwd_gen": when,
            "secure_key": self._secure_key(), "deleted": "0", "passwd": password_hash(self._secure_key()),
            "lastname": person["lastname"], "firstname": person["firstname"], "email": person["email"],
            "id_gender": "0", "birthday": "0000-00-00", "newsletter": "0", "optin": "0", "active": "1",
            "is_guest": "0", "id_shop": "1", "id_shop_group": "1", "date_add": when, "date_upd": when,
            "associations": {"groups": [{"id": "3"}]}})

    def _add_address(self, customer, address, when):
        return self._insert("addresses", {
            "id_customer": str(customer["id"]), "id_manufacturer": "0", "id_supplier": "0", "id_warehouse": "0",
            "id_country": str(address.get("id_country") or US), "id_state": "0", "alias": "My address",
            "company": address.get("company", ""), "lastname": customer["lastname"],
            "firstname": customer["firstname"], "vat_number": "", "address1": address.get("street", ""),
            "address2": address.get("address2", ""), "postcode": address.get("zipcode", ""),
            "city": address.get("city", ""), "phone": address.get("phone", ""), "deleted": "0",
            "date_add": when, "date_upd": when})

    def _seed_orders(self):
        """20 orders over the last three weeks, walked through their states like a back office would."""
        final_states = [2, 3, 4, 5, 10, 1, 6, 2, 4, 5, 3, 2, 13, 4, 5, 2, 3, 10, 4, 2]
        paths = {3: [2, 3], 4: [2, 3, 4], 5: [2, 3, 4, 5], 6: [10, 6]}
        today = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        for k, final in enumerate(final_states, start=1):
            customer = self.db["customers"][k * 7 % 300 + 1]
            address = next(a for a in self.db["addresses"].values() if a["id_customer"] == str(customer["id"]))
            lines = [(self.db["products"][(k * 37 + i * 101) % 1000 + 1], 1 + (k + i) % 3) for i in range(1 + k % 3)]
            placed = today - timedelta(days=21 - k, hours=k % 5)
            path = paths.get(final, [final])
            order = self._create_order(customer, address, lines, carrier_id=1 + k % 3, state_id=path[0],
                                       when=placed.strftime(DATE_FORMAT))
            for step, state_id in enumerate(path[1:], start=1):
                self._change_state(order, state_id, employee_id=1,
                                   when=(placed + timedelta(hours=6 * step)).strftime(DATE_FORMAT))
            if final in (4, 5):
                carrier = self._order_carrier(order)
                carrier["tracking_number"] = f"1Z{self.rng.randrange(10**15):015d}"

    def _secure_key(self):
        return f"{self.rng.getrandbits(128):032x}"

    # Orders, as the checkout and the back office make them

    def _create_order(self, customer, address, lines, carrier_id, state_id, when):
        """``lines`` is [(product, quantity)]; stock goes down as PrestaShop's checkout does."""
        rows = []
        for product, quantity in lines:
            self._last_ids["order_rows"] += 1
            rows.append({
                "id": str(self._last_ids["order_rows"]), "product_id": str(product["id"]),
                "product_attribute_id": "0", "product_quantity": str(quantity),
                "product_name": product["name"][DEFAULT_LANGUAGE], "product_reference": product["reference"],
                "product_ean13": product["ean13"], "product_isbn": "", "product_upc": product["upc"],
                "product_price": product["price"], "id_customization": "0", "unit_price_tax_incl": product["price"],
                "unit_price_tax_excl": product["price"]})
            self._change_stock(product, -quantity)
        products = round(sum(float(product["price"]) * quantity for product, quantity in lines), 2)
        shipping = CARRIERS[carrier_id][1]
        total = products + shipping
        module, payment = PAYMENT_MODULES.get(state_id, CARD_PAYMENT)
        self._last_ids["carts"] += 1
        order = self._insert("orders", {
            "id_address_delivery": str(address["id"]), "id_address_invoice": str(address["id"]),
            "id_cart": str(self._last_ids["carts"]), "id_currency": "1", "id_lang": "1",
            "id_customer": str(customer["id"]), "id_carrier": str(carrier_id), "current_state": "0",
            "module": module, "invoice_number": "0", "invoice_date": NO_DATE, "delivery_number": "0",
            "delivery_date": NO_DATE, "valid": "0", "date_add": when, "date_upd": when, "shipping_number": "",
            "id_shop_group": "1", "id_shop": "1", "secure_key": customer["secure_key"], "payment": payment,
            "recyclable": "0", "gift": "0", "gift_message": "", "total_discounts": money(0),
            "total_discounts_tax_incl": money(0), "total_discounts_tax_excl": money(0), "total_paid": money(total),
            "total_paid_tax_incl": money(total), "total_paid_tax_excl": money(total),
            "total_paid_real": money(total if ORDER_STATES[state_id][1] else 0), "total_products": money(products),
            "total_products_wt": money(products), "total_shipping": money(shipping),
            "total_shipping_tax_incl": money(shipping), "total_shipping_tax_excl": money(shipping),
            "carrier_tax_rate": "0.000", "total_wrapping": money(0), "total_wrapping_tax_incl": money(0),
            "total_wrapping_tax_excl": money(0), "round_mode": "2", "round_type": "2",
            "conversion_rate": "1.000000", "reference": "".join(self.rng.choices(string.ascii_uppercase, k=9)),
            "associations": {"order_rows": rows}})
        weight = sum(float(product["weight"]) * quantity for product, quantity in lines)
        self._insert("order_carriers", {
            "id_order": str(order["id"]), "id_carrier": str(carrier_id), "id_order_invoice": "0",
            "weight": money(weight), "shipping_cost_tax_excl": money(shipping),
            "shipping_cost_tax_incl": money(shipping), "tracking_number": "", "date_add": when})
        self._change_state(order, state_id, employee_id=0, when=when)
        return order

    def _change_state(self, order, state_id, employee_id, when):
        """A new order history row: the order's current state and date_upd follow (OrderHistory::addWs)."""
        history = self._insert("order_histories", {"id_employee": str(employee_id), "id_order_state": str(state_id),
                                                   "id_order": str(order["id"]), "date_add": when})
        order["current_state"] = str(state_id)
        order["valid"] = valid_sale(state_id)
        order["date_upd"] = when
        return history

    def _change_stock(self, product, delta):
        [row] = product["associations"]["stock_availables"]
        stock = self.db["stock_availables"][int(row["id"])]
        stock["quantity"] = product["quantity"] = str(int(stock["quantity"]) + delta)

    def _order_carrier(self, order):
        return max((c for c in self.db["order_carriers"].values() if c["id_order"] == str(order["id"])),
                   key=lambda carrier: carrier["id"])

    # The Webservice

    def on_api_root(self, request):
        return self._api(request, "", None)

    def on_api_list(self, request, resource):
        return self._api(request, resource, None)

    def on_api_object(self, request, resource, object_id):
        return self._api(request, resource, object_id)

    def _api(self, request, resource, object_id):
        started = time.perf_counter()
        try:
            with self.lock:
                response = self._serve(request, resource, object_id)
        except WebserviceError as error:
            response = self._error_body(error, as_json=wants_json(request.args))
        response.headers["X-Powered-By"] = "PrestaShop Webservice"
        response.headers["Access-Time"] = str(int(time.time()))
        response.headers["Execution-Time"] = f"{time.perf_counter() - started:.3f}"
        return response

    def _serve(self, request, resource, object_id):
        """The checks in WebserviceRequest::fetch's order: enabled, key, resource, method; then the call."""
        if not self.webservice_enabled:
            raise WebserviceError(503, (22, "The PrestaShop webservice is disabled. Please activate it in the "
                                            "PrestaShop Back Office"))
        permissions = self._authenticate(request)
        method = request.method
        if resource == "":
            if method not in READ:
                raise WebserviceError(405, (23, f"Method {method} is not valid"))
            return self._resource_list(request, permissions)
        res = RESOURCES.get(resource)
        if res is None:
            raise did_you_mean(400, f'Resource of type "{resource}" does not exists', resource, list(RESOURCES), 27)
        if resource not in permissions:
            raise WebserviceError(401, (26, f'Resource of type "{resource}" is not allowed with this authentication '
                                            "key"))
        if method not in HTTP_METHODS:
            raise WebserviceError(405, (23, f"Method {method} is not valid"))
        if method not in res.methods:
            raise WebserviceError(405, (101, f"Method {method} is not allowed for the resource {resource}"))
        if method not in permissions[resource]:
            raise WebserviceError(405, (25, f"Method {method} is not allowed for the resource {resource} with this "
                                            "authentication key"))
        if method in READ:
            return self._read(request, res, object_id)
        return self._write(request, res, object_id)

    def _authenticate(self, request):
        """The key's permissions (resource -> methods); the Basic user name wins over ws_key."""
        auth = request.authorization
        key = auth.username if auth is not None and auth.type == "basic" else request.args.get("ws_key")
        if key is None:
            errors = [(16, "Please enter the authentication key as the login. No password required")]
        elif not key.strip():
            errors = [(17, "Authentication key is empty")]
        elif len(key.strip()) != 32:
            errors = [(18, "Invalid authentication key format")]
        elif key.strip() not in self.keys:
            errors = [(20, "Authentification key is not active"), (21, "No permission for this authentication key")]
        else:
            return self.keys[key.strip()]
        raise WebserviceError(401, *errors, headers={"WWW-Authenticate": REALM})

    def _resource_list(self, request, permissions):
        """GET /api/: the resources this key may use, with its methods on each."""
        if wants_json(request.args):
            return self._json([name for name in RESOURCES if name in permissions])  # PrestaShop's JSON: names only
        base = api_base(request)
        root = xml.document()
        api = etree.SubElement(root, "api", shopName=SHOP_NAME)
        for name, res in RESOURCES.items():
            if name not in permissions:
                continue
            methods = {method.lower(): str(method in permissions[name]).lower()
                       for method in ("GET", "PUT", "POST", "DELETE", "HEAD")}
            element = etree.SubElement(api, name, {xml.HREF: base + name, **methods})
            etree.SubElement(element, "description", {xml.HREF: base + name, **methods}).text = res.description
            for schema in ("blank", "synopsis"):
                etree.SubElement(element, "schema", {xml.HREF: f"{base}{name}?schema={schema}", "type": schema})
        return self._xml(root)

    def _read(self, request, res, object_id):
        args = request.args
        if object_id is not None:
            shown = display_fields(res, args) or (res.fields, True)
            return self._object_answer(request, res, self._find(res, object_id), shown)
        if "schema" in args:
            return self._schema(request, res, args["schema"])
        records = apply_filters(res, args, self.db[res.name].values())
        shown = display_fields(res, args)
        records = apply_limit(args, sort_records(res, args, records))
        if wants_json(args):
            if not records:
                return self._json([])  # PrestaShop's JSON for an empty list
            if shown is None:
                return self._json({res.name: [{"id": record["id"]} for record in records]})
            return self._json({res.name: [json_object(res, record, *shown) for record in records]})
        base = api_base(request)
        root = xml.document()
        wrapper = etree.SubElement(root, res.name)
        for record in records:
            if shown is None:
                etree.SubElement(wrapper, res.node, {"id": str(record["id"]),
                                                     xml.HREF: f"{base}{res.name}/{record['id']}"})
            else:
                xml_object(wrapper, res, record, *shown, base)
        return self._xml(root)

    def _find(self, res, object_id):
        record = self.db[res.name].get(php_int(object_id))
        if record is None:
            raise WebserviceError(404, (87, f"Id(s) not exists: {object_id}"))
        return record

    def _object_answer(self, request, res, record, shown, status=200):
        if wants_json(request.args):
            body = json_object(res, record, *shown)
            # PrestaShop's JSON quirk: with a display parameter even one object comes as a list.
            return self._json({res.name: [body]} if "display" in request.args else {res.node: body}, status)
        root = xml.document()
        xml_object(root, res, record, *shown, api_base(request))
        return self._xml(root, status)

    def _schema(self, request, res, schema):
        if schema not in ("blank", "synopsis"):
            raise WebserviceError(400, (28, "Please select a schema of type 'synopsis' to get the whole schema "
                                            "informations (which fields are required, which kind of content...) or "
                                            "'blank' to get an empty schema to fill before using POST request"))
        if wants_json(request.args):
            return self._json({res.node: json_object(res, {}, res.fields, False)})
        root = xml.document()
        xml_object(root, res, {}, res.fields, True, api_base(request), schema=schema)
        return self._xml(root)

    def _write(self, request, res, object_id):
        node = self._input_object(request)
        given_id = (node.findtext("id") or "").strip()
        if request.method == "POST":
            if given_id:
                raise WebserviceError(400, (91, "id is forbidden when adding a new resource"))
            current = None
        else:
            if not given_id or object_id is None:
                raise WebserviceError(400, (90, "id is required when modifying a resource"))
            if php_int(given_id) != php_int(object_id):
                raise WebserviceError(400, (90, f"the id in the URL ({object_id}) is not the one in the XML ({given_id})"))
            current = self.db[res.name].get(php_int(given_id))
            if current is None:
                raise WebserviceError(404, (92, "Invalid ID"))
        values = read_fields(res, node, current)
        validate(res, values)
        self._check_links(res, values)
        record = self._save(res, values, current)
        return self._object_answer(request, res, record, (res.fields, True), 201 if current is None else 200)

    def _input_object(self, request):
        """The one object of the request's XML (the raw body, or the ``xml`` form field of old clients)."""
        form = request.mimetype == "application/x-www-form-urlencoded"
        body = request.form.get("xml", "").encode() if form else request.get_data()
        try:
            root = xml.parse(body)
        except ValueError as exc:
            # PrestaShop answers a broken body with 500 and echoes it.
            text = body.decode(errors="replace")
            raise WebserviceError(500, (127, f"XML error : {exc}\nXML length : {len(body)}\nOriginal XML : {text}"))
        objects = list(xml.elements(root))
        if len(objects) != 1:
            raise WebserviceError(400, (90, "the sandbox takes exactly one object per request"))
        return objects[0]

    def _check_links(self, res, values):
        for name, value in values.items():
            target = LINKS.get(name)
            if target and value not in ("", "0") and php_int(value) not in self.db[target]:
                raise validation_error(res, name, "is not valid")

    def _save(self, res, values, current):
        stamp = now()
        before = dict(current) if current else None
        record = current if current is not None else self._insert(res.name, {})
        record.update(values)
        for name in DECIMAL_FIELDS.intersection(values):
            record[name] = money(php_number(record[name]))
        for name in res.i18n:  # empty languages take the default language's text, as ObjectModel does
            texts = record[name]
            record[name] = {lang: texts.get(lang) or texts.get(DEFAULT_LANGUAGE, "") for lang in LANGUAGES}
        if "date_add" in res.fields:
            record["date_add"] = (values.get("date_add") or before["date_add"]) if before else stamp
        if "date_upd" in res.fields:
            record["date_upd"] = stamp
        after_save = getattr(self, f"_after_{res.name}_save", None)
        if after_save:
            after_save(record, before, stamp)
        return record

    # What PrestaShop's classes do on save, for the resources the sandbox writes

    def _after_order_histories_save(self, history, before, stamp):
        order = self.db["orders"][php_int(history["id_order"])]
        history["id_employee"] = history["id_employee"] or "0"
        order["current_state"] = history["id_order_state"]
        order["valid"] = valid_sale(history["id_order_state"])
        order["date_upd"] = stamp

    def _after_orders_save(self, order, before, stamp):
        if order["current_state"] != before["current_state"]:  # Order::setWsCurrentState adds a history row
            self._change_state(order, php_int(order["current_state"]), employee_id=0, when=stamp)

    def _after_stock_availables_save(self, stock, before, stamp):
        product = self.db["products"].get(php_int(stock["id_product"]))
        if product and stock["id_product_attribute"] == "0":
            product["quantity"] = stock["quantity"]

    def _after_products_save(self, product, before, stamp):
        if before is None:  # a new product gets its stock row, empty
            self._add_stock(product, 0)

    def _after_customers_save(self, customer, before, stamp):
        if before is None or customer["passwd"] != before["passwd"]:  # Customer::setWsPasswd hashes a new one
            customer["passwd"] = password_hash(customer["passwd"])
            customer["last_passwd_gen"] = stamp
        customer["secure_key"] = customer["secure_key"] or self._secure_key()
        if before is None:
            customer["associations"] = {"groups": [{"id": customer["id_default_group"] or "3"}]}

    # Answers

    def _json(self, body, status=200):
        return self._with_version(json_response(body, status))

    def _xml(self, root, status=200):
        return self._with_version(Response(xml.serialize(root), status, content_type="text/xml;charset=utf-8"))

    @staticmethod
    def _with_version(response):
        response.headers["PSWS-Version"] = PS_VERSION  # the version shows only past authentication
        return response

    @staticmethod
    def _error_body(error, as_json):
        if as_json:
            body = {"errors": [{"code": code, "message": message} for code, message in error.errors]}
            return json_response(body, error.status, error.headers)
        root = xml.document()
        errors = etree.SubElement(root, "errors")
        for code, message in error.errors:
            element = etree.SubElement(errors, "error")
            if code is not None:
                put_text(etree.SubElement(element, "code"), code)
            put_text(etree.SubElement(element, "message"), message)
        return Response(xml.serialize(root), error.status, error.headers, content_type="text/xml;charset=utf-8")

    # The storefront, the back office and the push module

    def on_sim_place_order(self, request):
        """The checkout: the customer (found by e-mail or new), an address, the order; then the module's push."""
        body = read_json(request)
        check_order_body(body)
        given = body.get("address") or {}
        with self.lock:
            lines = [(self._product_by_reference(line["reference"]), line["quantity"]) for line in body["items"]]
            customer = self._customer_by_email(body["email"])
            address = self._known_address(customer, given) if customer else None
            if address is None:
                fields = new_address(given)  # both forms are checked before anything is saved
                customer = customer or self._add_customer(new_person(body), now())
                address = self._add_address(customer, fields, now())
            order = self._create_order(customer, address, lines, carrier_id=body.get("id_carrier", 2),
                                       state_id=body.get("id_order_state", 2), when=now())
            data = json_object(ORDERS, order, ORDERS.fields, True)
        self._push("add", data, f"prestashop-order-{order['id']}-add")
        return json_response({"order": data}, 201)

    def on_sim_order_state(self, request, order_id):
        """A back-office user changes an order's state; the module pushes the updated order."""
        body = read_json(request)
        state_id = body.get("id_order_state") if isinstance(body, dict) else None
        if state_id not in ORDER_STATES:
            raise BadRequest(f"id_order_state must be one of {', '.join(map(str, ORDER_STATES))}")
        with self.lock:
            order = self.db["orders"].get(order_id)
            if order is None:
                return json_response({"error": f"no order {order_id}"}, 404)
            history = self._change_state(order, state_id, employee_id=1, when=now())
            data = json_object(ORDERS, order, ORDERS.fields, True)
        self._push("update", data, f"prestashop-order-{order_id}-history-{history['id']}")
        return json_response({"order": data})

    def on_sim_module(self, request):
        return self.set_push_target(request)

    def on_sim_webservice(self, request):
        """Advanced Parameters > Webservice > Enable PrestaShop's webservice."""
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise BadRequest('the body is {"enabled": true|false}')
        self.webservice_enabled = body["enabled"]
        return json_response({"enabled": self.webservice_enabled})

    def _product_by_reference(self, reference):
        product = next((p for p in self.db["products"].values() if p["reference"] == reference), None)
        if product is None:
            raise BadRequest(f"no product with reference {reference}")
        return product

    def _customer_by_email(self, email):
        email = email.strip().lower()
        return next((c for c in self.db["customers"].values() if c["email"].lower() == email), None)

    def _known_address(self, customer, given):
        """The customer's address with the given first line (any of them when none is given)."""
        line = (given.get("address1") or "").strip().lower()
        return next((address for address in self.db["addresses"].values()
                     if address["id_customer"] == str(customer["id"])
                     and (not line or address["address1"].lower() == line)), None)

    def _push(self, action, data, webhook_id):
        """Like a module hooked on actionValidateOrder / actionOrderStatusPostUpdate: POST in the background."""
        url, secret = self.webhook_url, self.webhook_secret
        if url:
            payload = json.dumps({"action": action, "entity": "Order", "data": data}).encode()
            push(url, secret, webhook_id, payload)


def check_order_body(body):
    """Refuses a /_sim/orders body the storefront could not have produced."""
    if not isinstance(body, dict) or not isinstance(body.get("email"), str) or "@" not in body["email"]:
        raise BadRequest("an email is required")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise BadRequest("a non-empty items list is required")
    for item in items:
        item = item if isinstance(item, dict) else {}
        quantity = item.get("quantity")
        if not (isinstance(item.get("reference"), str) and isinstance(quantity, int) and not isinstance(quantity, bool)
                and quantity >= 1):
            raise BadRequest("each item needs a reference and an integer quantity >= 1")
    if body.get("id_carrier", 2) not in CARRIERS:
        raise BadRequest(f"id_carrier must be one of {', '.join(map(str, CARRIERS))}")
    if body.get("id_order_state", 2) not in ORDER_STATES:
        raise BadRequest(f"id_order_state must be one of {', '.join(map(str, ORDER_STATES))}")
    if not isinstance(body.get("address", {}), dict):
        raise BadRequest("address must be an object")


def new_person(body):
    """The checkout's account form, as _add_customer takes it."""
    if not (body.get("firstname") and body.get("lastname")):
        raise BadRequest("a new customer needs firstname and lastname")
    return {"firstname": body["firstname"], "lastname": body["lastname"], "email": body["email"].strip().lower()}


def new_address(given):
    """The checkout's address form, as _add_address takes it."""
    if not (given.get("address1") and given.get("city")):
        raise BadRequest("a new address needs address1 and city")
    country = next((i for i, c in COUNTRIES.items() if c[0] == (given.get("country_code") or "US").upper()), US)
    return {"street": given["address1"], "address2": given.get("address2", ""), "zipcode": given.get("postcode", ""),
            "city": given["city"], "phone": given.get("phone", ""), "company": given.get("company", ""),
            "id_country": country}


def valid_sale(state_id) -> str:
    """An order's ``valid`` flag: 1 once its state counts as a sale (logable)."""
    return "1" if ORDER_STATES[php_int(state_id)][3] else "0"


def password_hash(password):
    """Stands in for PrestaShop's bcrypt hash: what matters is that it is not the password."""
    return "$2y$10$" + hashlib.sha256(password.encode()).hexdigest()[:53]


def api_base(request):
    """``{shop}/api/`` as the client reached it, for xlinks."""
    return f"{request.host_url.rstrip('/')}{request.script_root}/api/"
