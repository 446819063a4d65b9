"""Entity schemas of every connector, by name ("infor_m3.sales_order"), and a fast validator of mapped output.

Each connector package may have a ``schemas.py`` with ``SCHEMAS = {name: {"label", "fields", ...}}``;
``fields`` maps a dotted path (``order.CUOR``; ``lines[].ITNO`` for every element of a list) to
``{"type", "max_length", "required", "label"}``. A schema also says what it describes:
``"direction"`` is "source", "target" or "both", with the ``"entity"`` a flow reads and / or the
``"action"`` a flow's target performs, so ``for_target`` / ``for_source`` find a flow's schemas.

``validator(schema)`` writes one function for a schema (generated straight-line Python, like the
mapping engine's) that lists the output's problems as ``Problem(path, message, value, at)``:
``path`` is the schema path (``lines[].ITNO``, to find the rule), ``at`` the concrete place
(``lines[1].ITNO``). A value is checked as it will be sent: M3 gets ``str(value)``, so that is
what ``max_length`` measures.
"""

import importlib
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from mappings.transforms import is_email

TYPES = ("string", "integer", "decimal", "date", "m3date", "datetime", "boolean", "email", "country", "currency",
         "list", "object")
PATH = re.compile(r"[A-Za-z_@$][\w@$ -]*(\[\])?(\.[A-Za-z_@$][\w@$ -]*(\[\])?)*\Z")


class Problem(NamedTuple):
    path: str  # the schema path, as a rule's target: lines[].ITNO
    message: str
    value: object
    at: str = ""  # where in this record: lines[1].ITNO

    def __str__(self):
        return f"{self.at or self.path}: {self.message}"


# --- the registry ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _all() -> dict[str, dict]:
    from connectors.registry import CONNECTORS

    found = {}
    for kind, cls in CONNECTORS.items():
        package = cls.__module__.rsplit(".", 1)[0]
        try:
            module = importlib.import_module(f"{package}.schemas")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.schemas":
                raise
            continue  # e.g. the generic REST connector: its shape is whatever it is configured for
        for name, schema in module.SCHEMAS.items():
            found[f"{kind}.{name}"] = schema
    return found


def names() -> list[str]:
    return sorted(_all())


def get(name: str) -> dict:
    """The schema called e.g. 'infor_m3.sales_order'; KeyError naming the known ones when there is none."""
    try:
        return _all()[name]
    except KeyError:
        raise KeyError(f"no entity schema {name!r}; known: {', '.join(names())}") from None


def choices() -> list[tuple[str, str]]:
    """(name, label) of every schema, for the admin."""
    return [(name, f"{name}: {schema['label']}") for name, schema in sorted(_all().items())]


def _find(kind: str, key: str, value: str, directions: tuple[str, ...]) -> str | None:
    for name, schema in sorted(_all().items()):
        if name.startswith(kind + ".") and schema.get(key) == value and schema.get("direction", "both") in directions:
            return name
    return None


def for_target(kind: str, action: str) -> str | None:
    """The name of the schema of what a flow with this target kind and action sends, if there is one."""
    return _find(kind, "action", action, ("target", "both"))


def for_source(kind: str, entity: str) -> str | None:
    """The name of the schema of the records a flow reads from this kind and source entity, if there is one."""
    return _find(kind, "entity", entity, ("source", "both"))


# --- the validator --------------------------------------------------------------------------------


_M3DATES: dict[str, bool] = {}  # the same few hundred dates come back record after record


def _m3date_ok(v) -> bool:
    text = v if v.__class__ is str else str(v)
    known = _M3DATES.get(text)
    if known is None:
        if len(_M3DATES) > 10_000:
            _M3DATES.clear()
        known = _M3DATES[text] = _m3date_valid(text)
    return known


def _m3date_valid(text: str) -> bool:
    if len(text) != 8 or not text.isdigit():
        return False
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def _date_ok(v) -> bool:
    if isinstance(v, date) and not isinstance(v, datetime):
        return True
    try:
        date.fromisoformat(v)
        return True
    except (TypeError, ValueError):
        return False


def _datetime_ok(v) -> bool:
    if v.__class__ in (int, float) or isinstance(v, datetime):
        return True  # unix seconds or a datetime
    if isinstance(v, dict):
        return v.get("type") == "datetime"  # a Domino strongtype item
    if not isinstance(v, str):
        return False
    try:
        datetime.fromisoformat(v)
        return True
    except ValueError:
        return False


def _number_ok(v) -> bool:
    if v.__class__ in (int, float, Decimal):
        return True
    if v.__class__ is str:
        try:
            number = float(v)  # far quicker than Decimal, and the same verdict for a finite number
        except ValueError:
            return False
        return number - number == 0  # not inf, not nan
    return False


def _integer_ok(v) -> bool:
    if v.__class__ is int:
        return True
    if v.__class__ is str:
        text = v.strip()
        return text.lstrip("-").isdigit()
    return False


def _email_ok(v) -> bool:
    return v.__class__ is str and is_email(v.lower())


def _boolean_ok(v) -> bool:
    return v is True or v is False or v in (0, 1) or (isinstance(v, str) and v.lower() in ("0", "1", "true", "false"))


def _code_ok(lengths):
    return lambda v: v.__class__ is str and len(v) in lengths and v.isalpha()


CHECKS = {  # type -> (is the value of this type?, what it should be, for the message)
    "integer": (_integer_ok, "a whole number"),
    "decimal": (_number_ok, "a number"),
    "date": (_date_ok, "a date YYYY-MM-DD"),
    "m3date": (_m3date_ok, "an M3 date YYYYMMDD"),
    "datetime": (_datetime_ok, "a date-time (ISO 8601 or unix seconds)"),
    "boolean": (_boolean_ok, "true or false"),
    "email": (_email_ok, "an e-mail address"),
    "country": (_code_ok((2, 3)), "a country code like FR or FRA"),
    "currency": (_code_ok((3,)), "a currency code like EUR"),
    "list": (lambda v: v.__class__ is list, "a list"),
    "object": (lambda v: v.__class__ is dict, "an object"),
}


def _tree(fields: dict) -> dict:
    """The schema's paths as a tree, so that the validator reads each dict and walks each list once."""
    root = {"spec": None, "path": None, "fields": {}, "items": None}
    for path, spec in fields.items():
        node = root
        for part in path.split("."):
            name, is_list = (part[:-2], True) if part.endswith("[]") else (part, False)
            node = node["fields"].setdefault(name, {"spec": None, "path": None, "fields": {}, "items": None})
            if is_list:
                node["items"] = node["items"] or {"spec": None, "path": None, "fields": {}, "items": None}
                node = node["items"]
        node["spec"], node["path"] = spec, path
    return root


def _at(pieces: list) -> str:
    """Python source of the concrete path: literal text, with the list positions filled in."""
    merged = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return " + ".join(repr(p) if isinstance(p, str) else p[1] for p in merged) or "''"


class _Writer:
    def __init__(self):
        self.lines, self.namespace, self.counter = [], {"Problem": Problem, "_EMPTY": {}}, 0

    def name(self, prefix: str, value=None) -> str:
        self.counter += 1
        key = f"{prefix}{self.counter}"
        if value is not None:
            self.namespace[key] = value
        return key

    def emit(self, indent: int, line: str):
        self.lines.append("    " * indent + line)

    def node(self, indent: int, node: dict, var: str, pieces: list):
        if node["spec"] is not None:
            self.check(indent, var, node["path"], node["spec"], _at(pieces))
        if node["fields"]:
            parent = self.name("d")
            self.emit(indent, f"{parent} = {var} if {var}.__class__ is dict else _EMPTY")
            for name, child in node["fields"].items():
                value = self.name("v")
                self.emit(indent, f"{value} = {parent}.get({name!r})")
                self.node(indent, child, value, pieces + [("." if pieces else "") + name])
        if node["items"] is not None:
            index, element = self.name("i"), self.name("e")
            self.emit(indent, f"if {var}.__class__ is list:")
            self.emit(indent + 1, f"for {index}, {element} in enumerate({var}):")
            self.node(indent + 2, node["items"], element, pieces + ["[", ("dyn", f"str({index})"), "]"])

    def check(self, indent: int, v: str, path: str, spec: dict, at: str):
        kind, required, limit = spec.get("type", "string"), spec.get("required", False), spec.get("max_length")

        def problem(message: str) -> str:
            return f"out.append(Problem({path!r}, {message}, {v}, {at}))"
        self.emit(indent, f"if {v} is None or {v} == '' or {v} == []:")
        self.emit(indent + 1, problem(repr("required, but missing or empty")) if required else "pass")
        if kind == "string":
            self.emit(indent, f"elif {v}.__class__ is str:")
            if limit:
                self.emit(indent + 1, f"if len({v}) > {int(limit)}:")
                self.emit(indent + 2, problem(f"'is ' + str(len({v})) + ' characters, at most {int(limit)}'"))
            else:
                self.emit(indent + 1, "pass")
            # a number is sent as its text (M3 gets str(value)): that is what must fit
            self.emit(indent, f"elif {v}.__class__ in {self.name('NUM', (int, float, Decimal))}:")
            if limit:
                self.emit(indent + 1, f"if len(str({v})) > {int(limit)}:")
                self.emit(indent + 2, problem(f"'is ' + str(len(str({v}))) + ' characters, at most {int(limit)}'"))
            else:
                self.emit(indent + 1, "pass")
            self.emit(indent, "else:")
            self.emit(indent + 1, problem(f"'should be a text, got ' + type({v}).__name__"))
            return
        ok, wanted = CHECKS[kind]
        fast = {"integer": f"{v}.__class__ is int", "decimal": f"{v}.__class__ is int or {v}.__class__ is float",
                "list": f"{v}.__class__ is list", "object": f"{v}.__class__ is dict"}.get(kind)
        test = f"not ({fast} or {self.name('OK', ok)}({v}))" if fast else f"not {self.name('OK', ok)}({v})"
        if kind in ("list", "object"):
            test = f"not ({fast})"
        self.emit(indent, f"elif {test}:")
        self.emit(indent + 1, problem(repr(f"should be {wanted}")))
        if limit:
            self.emit(indent, f"elif len(str({v})) > {int(limit)}:")
            self.emit(indent + 1, problem(f"'is ' + str(len(str({v}))) + ' characters, at most {int(limit)}'"))


def validator(schema: dict):
    """A function output -> [Problem], written once for the schema."""
    for path, spec in schema["fields"].items():
        if not PATH.match(path):
            raise ValueError(f"schema field {path!r} is not a dotted path like order.CUOR or lines[].ITNO")
        if spec.get("type", "string") not in TYPES:
            raise ValueError(f"schema field {path!r} has an unknown type {spec.get('type')!r}")
    writer = _Writer()
    writer.emit(0, "def validate(record):")
    writer.emit(1, "out = []")
    writer.node(1, _tree(schema["fields"]), "record", [])
    writer.emit(1, "return out")
    label = schema.get("label", "schema")
    exec(compile("\n".join(writer.lines), f"<validator {label}>", "exec"), writer.namespace)  # noqa: S102 - paths repr()'d
    return writer.namespace["validate"]


@lru_cache(maxsize=64)
def validator_for(name: str):
    """The validator of a named schema, written once per process."""
    return validator(get(name))
