"""The mapping engine: records/s of a compiled 30-field order mapping with 5 lines, on one core.

Three mappings of the same X-Cart order, each applied to 1,000 different orders in turn (prices,
dates, SKUs and e-mails vary, so the transforms' caches hit only as often as they would in a shop):

- flat: list rules for the lines (``lines[].ITNO <- items[].sku``), lookup, join, date, decimals;
- features: the lines through a child mapping, with an expression (line amount) and a condition
  (gift flag) in it, a condition and an expression on the head;
- validated: features, with its output checked against a 34-field target schema.

Times are CPU seconds of this process (``time.process_time``): the bench machine is shared, and
wall-clock figures there measure the neighbours. Five runs each; the best and the median are shown.
"""

import copy
import statistics
import time

RUNS = 5

CARRIERS = {"Courier": "EXP", "Ground": "UPS", "Pickup": "PCK"}
LINE_RULES = [("lines[].ITNO", "items[].sku", "text:15"), ("lines[].ORQT", "items[].amount", "integer"),
              ("lines[].SAPR", "items[].price", "decimal:2"), ("lines[].ITDS", "items[].name", "text:30")]
HEAD_RULES = [("customer.MAIL", "profile.email", "lower"), ("customer.CUNM", "b.firstname, b.lastname", "join"),
              ("order.MODL", "shippingMethodName", "lookup:carriers"), ("order.RLDT", "date", "date_m3")]
EXTRA_RULES = [(f"extra.F{i:02d}", f"fields.f{i}", "trim" if i % 2 else "upper") for i in range(22)]

SCHEMA = {"label": "bench M3 order", "fields": {
    "customer.MAIL": {"type": "email", "max_length": 60, "required": True},
    "customer.CUNM": {"type": "string", "max_length": 36, "required": True},
    "order.MODL": {"type": "string", "max_length": 3, "required": True},
    "order.RLDT": {"type": "m3date", "required": True},
    "order.PYCD": {"type": "string", "max_length": 3},
    "order.NETA": {"type": "decimal"},
    "lines[].ITNO": {"type": "string", "max_length": 15, "required": True},
    "lines[].ORQT": {"type": "integer", "required": True},
    "lines[].SAPR": {"type": "decimal", "required": True},
    "lines[].ITDS": {"type": "string", "max_length": 30},
    "lines[].LNAM": {"type": "decimal"},
    "lines[].GIFT": {"type": "string", "max_length": 1},
    **{f"extra.F{i:02d}": {"type": "string", "max_length": 20} for i in range(22)},
}}


def orders(count: int = 1000) -> list[dict]:
    base = {
        "profile": {"email": "Ada@Example.org"}, "b": {"firstname": "Ada", "lastname": "Lovelace"},
        "shippingMethodName": "Courier", "date": 1795684502, "paymentStatus": {"code": "P"},
        "total": 99.5, "shippingCost": 4.95,
        "items": [{"sku": f"SKU-{i:04d}", "amount": i + 1, "price": 9.99 + i, "name": f"Item {i}"} for i in range(5)],
        "fields": {f"f{i}": f" value {i} " for i in range(22)},
    }
    made = []
    for k in range(count):
        order = copy.deepcopy(base)
        order["profile"]["email"] = f"Customer.{k}@Example.org"
        order["date"] += k * 3600
        order["shippingMethodName"] = list(CARRIERS)[k % 3]
        order["paymentStatus"]["code"] = "P" if k % 4 else "Q"
        order["total"] = round(20 + k * 0.37, 2)
        for i, item in enumerate(order["items"]):
            item["sku"] = f"SKU-{k:04d}-{i}"
            item["price"] = round(1 + (k * 7 + i * 13) % 9000 / 100, 2)
            item["amount"] = 1 + (k + i) % 7
            if (k + i) % 5 == 0:
                item["gift"] = True
        made.append(order)
    return made


def _measure(run, records: list[dict], count: int) -> dict:
    run(records[0])
    size = len(records)
    rates, wall, seconds = [], [], 0.0
    for _ in range(RUNS):
        started, clock = time.process_time(), time.perf_counter()
        for i in range(count):
            run(records[i % size])
        elapsed = time.process_time() - started
        wall.append(count / (time.perf_counter() - clock))
        seconds += elapsed
        rates.append(count / elapsed)
    return {"best": max(rates), "median": statistics.median(rates), "wall_median": statistics.median(wall),
            "seconds": seconds, "records": count * RUNS}


def _mapping(name: str, rules: list[tuple], **options):
    from mappings.models import Mapping, MappingRule

    mapping = Mapping.objects.create(name=name, **options)
    for n, rule in enumerate(rules):
        target, source, transforms, *more = rule
        MappingRule.objects.create(mapping=mapping, position=n, target=target, source=source, transforms=transforms,
                                   **(more[0] if more else {}))
    return mapping


def bench_mapping(records: int = 100_000) -> dict:
    from mappings.engine import compile_snapshot, compiled
    from mappings.models import ValueMap, ValueMapEntry

    carriers = ValueMap.objects.create(name="carriers")
    for source, target in CARRIERS.items():
        ValueMapEntry.objects.create(value_map=carriers, source_value=source, target_value=target)
    sample = orders()
    per_run = records // RUNS

    flat = _mapping("bench order", LINE_RULES + HEAD_RULES + EXTRA_RULES)
    flat.publish()

    line = _mapping("bench order line", [
        ("ITNO", "sku", "text:15"), ("ORQT", "amount", "integer"), ("SAPR", "price", "decimal:2"),
        ("ITDS", "name", "text:30"), ("LNAM", "", "decimal:2", {"expression": "price * amount"}),
        ("GIFT", "", "", {"constant": "Y", "condition": "gift"})])
    features = _mapping("bench order (child lines, conditions, expressions)", [
        ("lines[]", "items[]", "", {"child": line}), *HEAD_RULES,
        ("order.PYCD", "", "", {"constant": "CC", "condition": 'paymentStatus.code == "P"'}),
        ("order.NETA", "", "decimal:2", {"expression": "total - shippingCost"}), *EXTRA_RULES])
    features.publish()

    variants = [
        {"name": "flat", "rules": len(LINE_RULES + HEAD_RULES + EXTRA_RULES), **_measure(compiled(flat), sample, per_run)},
        {"name": "features", "rules": 6 + 1 + len(HEAD_RULES) + 2 + len(EXTRA_RULES),
         **_measure(compiled(features), sample, per_run)},
        {"name": "validated", "rules": 6 + 1 + len(HEAD_RULES) + 2 + len(EXTRA_RULES),
         **_measure(compile_snapshot(features.published.snapshot, "bench validated", schema=SCHEMA), sample, per_run)},
    ]
    first = variants[0]
    return {"records": first["records"], "seconds": first["seconds"], "per_second": first["median"],
            "fields": first["rules"], "variants": variants}


def report(result: dict) -> list[str]:
    described = {
        "flat": "list rules for the 5 lines; lookup, join, date, decimals",
        "features": "the lines through a child mapping with an expression and a condition; a condition and an "
                    "expression on the head",
        "validated": f"features, output validated against a {len(SCHEMA['fields'])}-field target schema",
    }
    lines = [
        "## Mapping engine (one core)", "",
        "A 30-field X-Cart order with 5 lines mapped to M3, applied to 1,000 different orders in turn; "
        f"{RUNS} runs of {result['records'] // RUNS:,} records each, CPU time of the process (the machine is shared). "
        "Target (issue 4): 50,000 records/s.", "",
        "| mapping | rules | best records/s | median records/s | median, wall clock |", "|---|---|---|---|---|",
    ]
    for variant in result.get("variants", []):
        lines.append(f"| {variant['name']}: {described[variant['name']]} | {variant['rules']} | "
                     f"**{variant['best']:,.0f}** | {variant['median']:,.0f} | {variant['wall_median']:,.0f} |")
    return lines + [""]
