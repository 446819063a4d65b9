"""What a field's values say: their kind (unix seconds, M3 date, e-mail, money, country code ...),
whether a target type can take them, how much two fields' values overlap, and which transform a
rule needs to carry them across.

A schema's declared type is often too weak to match on (X-Cart's ``date`` is an integer, M3's
``STQT`` a string), so the kind is read from sample values when there are some.
"""

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

UNIX_MIN, UNIX_MAX = 315532800, 4102444800  # 1980 .. 2100, in seconds
M3_DATE = re.compile(r"^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
ISO_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")
ISO_DATETIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
HTML = re.compile(r"<(p|b|i|ul|li|br|div|span|strong|em)\b[^>]*>", re.I)
ISO_CURRENCIES = {"USD", "EUR", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "JPY", "CNY", "CAD", "AUD", "NZD", "HUF", "INR"}

# A schema type -> the family of values it holds.
TYPE_FAMILY = {"string": "text", "integer": "integer", "decimal": "decimal", "date": "date", "m3date": "date",
               "datetime": "date", "boolean": "boolean", "email": "email", "country": "country",
               "currency": "currency", "list": "list", "object": "object"}

# target family -> {source kind: how well it fits}; a kind not listed fits "other".
FIT = {
    "text": {"text": 1.0, "code": 1.0, "integer": 0.9, "decimal": 0.75, "email": 0.8, "country": 0.85, "currency": 0.85,
             "date": 0.6, "unix": 0.5, "boolean": 0.6, "richtext": 0.9, "html": 0.9, "object": 0.3, "list": 0.6},
    "integer": {"integer": 1.0, "decimal": 0.85, "code": 0.8, "boolean": 0.7, "unix": 0.5, "text": 0.4},
    "decimal": {"decimal": 1.0, "integer": 0.85, "code": 0.5, "text": 0.4},
    "date": {"date": 1.0, "unix": 1.0, "integer": 0.4, "text": 0.4, "code": 0.4},
    "boolean": {"boolean": 1.0, "code": 0.8, "integer": 0.8, "text": 0.6},
    "email": {"email": 1.0, "text": 0.5},
    "country": {"country": 1.0, "code": 0.8, "integer": 0.7, "text": 0.6},
    "currency": {"currency": 1.0, "code": 0.8, "integer": 0.7, "text": 0.6},
    "list": {"list": 1.0, "text": 0.6},
    "object": {"object": 1.0, "richtext": 1.0, "text": 0.6},
}
SPECIFIC = {"email", "date", "unix", "country", "currency", "boolean"}  # kinds whose agreement is evidence


def values_at(record, path: str) -> list:
    """The values at a dotted path; ``items[].sku`` gives every item's sku."""
    current = [record]
    for segment in path.split("."):
        is_list = segment.endswith("[]")
        key = segment[:-2] if is_list else segment
        found = []
        for value in current:
            if isinstance(value, dict) and key in value:
                value = value[key]
            else:
                continue
            if is_list:
                found.extend(value if isinstance(value, list) else [value])
            else:
                found.append(value)
        current = found
    return [v for v in current if v is not None]


def kind_of(value) -> str:
    """The kind of one value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "richtext" if ("data" in value or "content" in value) else "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, (int, float)):
        if isinstance(value, int) and UNIX_MIN <= value <= UNIX_MAX:
            return "unix"
        return "integer" if isinstance(value, int) else "decimal"
    text = str(value).strip()
    if not text:
        return ""
    if EMAIL.match(text):
        return "email"
    if M3_DATE.match(text) or ISO_DATE.match(text) or ISO_DATETIME.match(text) or text.startswith("0000-00-00"):
        return "date"
    if text.lower() in {"true", "false"}:
        return "boolean"
    if NUMBER.match(text):
        if "." in text:
            return "decimal"
        number = int(text)
        if UNIX_MIN <= number <= UNIX_MAX and len(text) == 10:
            return "unix"
        return "code" if len(text) <= 2 and number > 1 else "integer"
    if HTML.search(text):
        return "html"
    if len(text) == 2 and text.isalpha():
        return "country"
    if text.upper() in ISO_CURRENCIES:
        return "currency"
    return "text"


def infer_kind(values: list, declared: str = "") -> str:
    """The kind most of the values have; falls back on the declared type. Integers that are only
    0/1 are booleans (PrestaShop's ``active``); a few two-letter values are country codes only if
    they all are."""
    kinds = [k for k in (kind_of(v) for v in values) if k]
    family = TYPE_FAMILY.get(declared, "text")
    if not kinds:
        return {"date": "date"}.get(family, family if family != "text" else "text")
    best = max(set(kinds), key=kinds.count)
    if kinds.count(best) < len(kinds) * 0.6:  # mixed: integers and decimals are numbers
        if set(kinds) <= {"integer", "decimal", "code"}:
            best = "decimal" if "decimal" in kinds else "integer"
        else:
            best = "text"
    if best in {"integer", "code"} and {str(v).strip() for v in values} <= {"0", "1"}:
        return "boolean"
    if best == "code" and family in {"integer", "decimal"}:
        return family
    if family in {"email", "country", "currency", "date", "boolean"} and best in {"text", "code", "integer"}:
        return family  # the schema knows better than a few ambiguous samples
    if best == "integer" and family == "decimal":
        return "decimal"
    return best


def fit(target_type: str, source_kind: str) -> float:
    """How well values of this kind suit a field of the target type, 0..1."""
    family = TYPE_FAMILY.get(target_type, "text")
    if family == source_kind:
        return 1.0
    return FIT.get(family, {}).get(source_kind, 0.3)


def canonical(value) -> str:
    """A value as compared across systems: trimmed, case-folded, numbers and dates in one spelling."""
    if isinstance(value, dict):
        value = value.get("data") or ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) and UNIX_MIN <= value <= UNIX_MAX:
            return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y%m%d")
        return _number(str(value))
    text = str(value).strip()
    if NUMBER.match(text):
        return _number(text)
    match = ISO_DATETIME.match(text) or ISO_DATE.match(text)
    if match:
        return "".join(match.groups()[:3])
    return text.casefold()


def _number(text: str) -> str:
    try:
        return format(Decimal(text).normalize(), "f")
    except InvalidOperation:
        return text


UNINFORMATIVE = {"", "0", "1", "true", "false", "none", "null", "-", "0000-00-00"}


def overlap(source_values: list, target_values: list) -> float:
    """Share of the smaller set of distinct values found in the other, 0..1; values that every
    flag or counter has (0, 1, empty) say nothing and are left out."""
    a = {canonical(v) for v in source_values} - UNINFORMATIVE
    b = {canonical(v) for v in target_values} - UNINFORMATIVE
    shared = len(a & b)
    if shared < 2:  # one shared value among a few is chance
        return 0.0
    return shared / min(len(a), len(b))


def transforms_for(source_kind: str, source_field: dict, target_field: dict, source_values: list,
                   map_name: str = "codes") -> list[str]:
    """The transform chain (mappings.transforms names) a rule needs so that the target field takes
    the source's values. A lookup names a value map to create (``map_name``) when none exists yet."""
    target_type = target_field.get("type", "string")
    family = TYPE_FAMILY.get(target_type, "text")
    source_type = source_field.get("type", "")
    steps = []
    if any(isinstance(v, str) and v != v.strip() and v.strip() for v in source_values):
        steps.append("trim")  # M3 pads its values with spaces
    if family == "date":
        source_format = "unix" if source_kind == "unix" else _date_format(source_values, source_type)
        target_format = "m3" if target_type == "m3date" else ("date" if target_type == "date" else "iso")
        if source_format and source_format != target_format:
            steps.append(f"date:{source_format}>{target_format}")
    elif family == "integer" and source_kind == "country":
        steps.append("country:iso2>prestashop")  # PrestaShop's id_country from an ISO code
    elif family == "integer" and source_kind in {"decimal", "code", "text"}:
        steps.append("integer")
    elif family == "decimal" and (source_kind in {"code", "text"} or any(isinstance(v, str) for v in source_values)):
        steps.append(f"decimal:{_places(source_values)}")
    elif family == "boolean" and source_kind != "boolean":
        steps.append("bool" if {str(v).strip().lower() for v in source_values} <= {"0", "1", "true", "false", "y", "n", "yes", "no"}
                     and source_values else f"lookup:{map_name}")
    elif family == "email":
        steps.append("email")
    elif family == "country":
        if source_kind == "integer" or source_type == "integer":
            steps.append("country:prestashop>iso2")
        elif any(isinstance(v, str) and v != v.upper() for v in source_values) or not source_values:
            steps.append("upper")
    elif family == "currency":
        if source_kind == "integer" or source_type == "integer":
            steps.append(f"lookup:{map_name}")
        elif any(isinstance(v, str) and v != v.upper() for v in source_values) or not source_values:
            steps.append("upper")
    elif family == "text":
        if source_kind in {"richtext", "html"} or source_type == "object":
            steps.append("richtext:html")
        limit = target_field.get("max_length")
        if limit:
            longest = source_field.get("max_length")
            if not longest or longest > limit:
                steps.append(f"text:{limit}")
    return steps


def _places(values: list) -> int:
    """Decimal places the values really use (PrestaShop's 727.250000 has two), at least two."""
    places = 2
    for value in values:
        text = _number(str(value).strip())
        if "." in text:
            places = max(places, min(len(text.split(".")[1]), 6))
    return places


def _date_format(values: list, declared: str) -> str:
    for value in values:
        text = str(value).strip()
        if M3_DATE.match(text):
            return "m3"
        if ISO_DATE.match(text):
            return "date"
        if ISO_DATETIME.match(text):
            return "iso"
    return {"m3date": "m3", "date": "date", "datetime": "iso"}.get(declared, "")
