"""Compile a mapping's rules once into a plain function, then apply it to many records.

A rule reads a dotted source path (``profile.email``; ``items[].sku`` walks a list) and writes a
dotted target path (``lines[].ITNO`` writes one output entry per source list element). Compiled
functions are cached by mapping id and version, so an edited mapping is recompiled on next use.
"""

import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import nh3

from connectors.domino.notes import read_richtext

from mappings.models import Mapping, MappingRule

Transform = MappingRule.Transform


class MappingError(Exception):
    """The record cannot be mapped; permanent, the message names the rule and the value."""


_MISSING = object()


def _get(record, parts: list[str]):
    value = record
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
        if value is _MISSING or value is None:
            return _MISSING
    return value


def _set(out: dict, parts: list[str], value) -> None:
    for part in parts[:-1]:
        out = out.setdefault(part, {})
    out[parts[-1]] = value


def _empty(value) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str) and not value.strip())


_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")


def _format(template: str, value) -> str:
    """Fill {name} / {a.b} placeholders from a dict (a scalar fills {value}); no str.format, so no
    attribute access or format specs can reach into Python objects."""
    record = value if isinstance(value, dict) else {"value": value}

    def fill(match):
        found = _get(record, match.group(1).split("."))
        return "" if found is _MISSING else str(found)
    return _PLACEHOLDER.sub(fill, template)


def _transform_fn(rule: MappingRule, lookup: dict[str, str] | None):
    kind, arg = rule.transform, rule.argument

    if kind in (Transform.NONE, Transform.JOIN):
        return lambda v: v
    if kind == Transform.TRIM:
        return lambda v: str(v).strip()
    if kind == Transform.UPPER:
        return lambda v: str(v).upper()
    if kind == Transform.LOWER:
        return lambda v: str(v).lower()
    if kind == Transform.TEXT:
        length = int(arg) if arg else None
        return lambda v: str(v)[:length] if length else str(v)
    if kind == Transform.INTEGER:
        def to_int(v):
            number = Decimal(str(v))
            if number != number.to_integral_value():
                raise ValueError(f"{v!r} is not a whole number")
            return int(number)
        return to_int
    if kind == Transform.DECIMAL:
        quantum = Decimal(1).scaleb(-int(arg or 2))
        return lambda v: str(Decimal(str(v)).quantize(quantum, rounding=ROUND_HALF_UP))
    if kind == Transform.WORDS:
        start, colon, end = (arg or "0").partition(":")
        index = slice(int(start or 0), int(end) if end else None) if colon else int(start)

        def words(v):
            picked = str(v).split()[index]
            return " ".join(picked) if isinstance(picked, list) else picked
        return words
    if kind == Transform.FORMAT:
        template = arg or "{value}"
        return lambda v: [_format(template, e) for e in v] if isinstance(v, list) else _format(template, v)
    if kind == Transform.RICHTEXT:
        as_text = (arg or "html").lower() == "text"

        def richtext(v):
            content = read_richtext(v)
            return content.text if as_text else nh3.clean(content.html)
        return richtext
    if kind == Transform.DATE_M3:
        return lambda v: datetime.fromtimestamp(int(v), tz=timezone.utc).strftime("%Y%m%d")
    if kind == Transform.LOOKUP:
        if lookup is None:
            raise MappingError(f"rule {rule}: transform 'lookup' needs a value map")
        def look(v):
            key = str(v)
            if key in lookup:
                return lookup[key]
            if rule.default:
                return rule.default
            raise ValueError(f"{key!r} is not in value map '{rule.value_map.name}' and the rule has no default")
        return look
    raise MappingError(f"rule {rule}: unknown transform {kind!r}")


def _compile_rule(rule: MappingRule, lookup):
    """Return (list_target, list_source, apply) where apply(record_or_item, out) writes one value."""
    target = rule.target.strip()
    list_target = list_source = None
    if "[]." in target:
        list_target, target = target.split("[].", 1)
    target_parts = target.split(".")
    sources = [s.strip() for s in rule.source.split(",") if s.strip()]
    if list_target:
        if not sources or "[]." not in sources[0]:
            if not rule.constant:
                raise MappingError(f"rule {rule}: a list target needs a list source like items[].sku")
        else:
            list_source = sources[0].split("[].", 1)[0]
            sources = [s.split("[].", 1)[1] if s.startswith(list_source + "[].") else s for s in sources]
    source_parts = [s.split(".") for s in sources]
    transform = _transform_fn(rule, lookup)
    separator = rule.argument if rule.transform == Transform.JOIN and rule.argument else " "
    constant, default, required = rule.constant, rule.default, rule.required

    def apply(record, out):
        if constant:
            value = constant
        elif len(source_parts) > 1:
            pieces = [_get(record, p) for p in source_parts]
            value = separator.join(str(p).strip() for p in pieces if not _empty(p)) or _MISSING
        elif source_parts:
            value = _get(record, source_parts[0])
        else:
            value = _MISSING
        if _empty(value):
            if required and not default:
                raise MappingError(f"rule {rule}: required value missing (source {rule.source or 'none'} is empty)")
            if default:
                _set(out, target_parts, default)
            return
        try:
            value = transform(value)
        except (ValueError, TypeError, InvalidOperation, OverflowError, IndexError) as exc:
            raise MappingError(f"rule {rule}: transform '{rule.transform}' failed on {value!r}: {exc}") from None
        _set(out, target_parts, value)

    return list_target, list_source, apply


def compile_mapping(mapping: Mapping):
    """Build the function record -> output dict for the mapping's current rules and value maps."""
    rules = list(mapping.rules.select_related("value_map").prefetch_related("value_map__entries"))
    scalar, by_list = [], {}
    for rule in rules:
        lookup = {e.source_value: e.target_value for e in rule.value_map.entries.all()} if rule.value_map else None
        list_target, list_source, apply = _compile_rule(rule, lookup)
        if list_target:
            entry = by_list.setdefault(list_target, {"source": list_source, "rules": []})
            entry["source"] = entry["source"] or list_source
            entry["rules"].append(apply)
        else:
            scalar.append(apply)
    lists = [(name, (spec["source"] or "").split("."), spec["rules"]) for name, spec in by_list.items()]

    def run(record: dict) -> dict:
        out: dict = {}
        for apply in scalar:
            apply(record, out)
        for name, source_parts, applies in lists:
            items = _get(record, source_parts)
            if items is _MISSING:
                items = []
            if not isinstance(items, list):
                raise MappingError(f"{'.'.join(source_parts)} should be a list, got {type(items).__name__}")
            rows = []
            for item in items:
                row: dict = {}
                for apply in applies:
                    apply(item, row)
                rows.append(row)
            _set(out, name.split("."), rows)
        return out

    return run


_compiled: dict[tuple, object] = {}


def compiled(mapping: Mapping):
    # updated_at too: ids can come back (a restored database, tests rolled back) with version 1 again.
    key = (mapping.pk, mapping.version, mapping.updated_at)
    fn = _compiled.get(key)
    if fn is None:
        fn = _compiled[key] = compile_mapping(mapping)
    return fn
