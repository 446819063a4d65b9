"""``make bench``: measure what the hub's speed depends on and write bench/RESULTS.md.

- the mapping engine: records/s of a compiled 30-field order mapping with 5 lines, one core;
- the sandbox: requests/s the simulators serve (wrk against ``manage.py simulate``), which must
  stay well above what the hub sends them, or a benchmark of the hub measures the simulator.

Runs on its own SQLite file and its own simulator port, so it never touches the demo's data.
"""

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SIM_PORT = 8191


def setup_django(data_dir: str):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ["HUB_DATA_DIR"] = data_dir
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def bench_mapping(records: int = 100_000) -> dict:
    from mappings.engine import compiled
    from mappings.models import Mapping, MappingRule, ValueMap, ValueMapEntry

    carriers = ValueMap.objects.create(name="carriers")
    ValueMapEntry.objects.create(value_map=carriers, source_value="Courier", target_value="EXP")
    mapping = Mapping.objects.create(name="bench order")
    rules = [("lines[].ITNO", "items[].sku", "text:15"), ("lines[].ORQT", "items[].amount", "integer"),
             ("lines[].SAPR", "items[].price", "decimal:2"), ("lines[].ITDS", "items[].name", "text:30")]
    rules += [("customer.MAIL", "profile.email", "lower"), ("customer.CUNM", "b.firstname, b.lastname", "join"),
              ("order.MODL", "shippingMethodName", "lookup:carriers"), ("order.RLDT", "date", "date_m3")]
    rules += [(f"extra.F{i:02d}", f"fields.f{i}", "trim" if i % 2 else "upper") for i in range(22)]  # 30 fields
    for n, (target, source, transforms) in enumerate(rules):
        MappingRule.objects.create(mapping=mapping, position=n, target=target, source=source, transforms=transforms)
    mapping.publish()
    order = {
        "profile": {"email": "Ada@Example.org"}, "b": {"firstname": "Ada", "lastname": "Lovelace"},
        "shippingMethodName": "Courier", "date": 1795684502,
        "items": [{"sku": f"SKU-{i:04d}", "amount": i + 1, "price": 9.99 + i, "name": f"Item {i}"} for i in range(5)],
        "fields": {f"f{i}": f" value {i} " for i in range(22)},
    }
    run = compiled(mapping)
    run(order)
    started = time.perf_counter()
    for _ in range(records):
        run(order)
    elapsed = time.perf_counter() - started
    return {"records": records, "seconds": elapsed, "per_second": records / elapsed, "fields": len(rules)}


def bench_simulators(seconds: int = 10) -> list[dict]:
    wrk = shutil.which("wrk")
    if not wrk:
        return [{"endpoint": "(wrk is not installed: apt-get install wrk)", "per_second": 0}]
    server = subprocess.Popen([sys.executable, "manage.py", "simulate", "--port", str(SIM_PORT)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        base = f"http://127.0.0.1:{SIM_PORT}"
        cases = [
            ("X-Cart GET /api/products/1", f"{base}/xcart/api/products/1", ["-H", "X-Auth-Token: demo-xcart-key"]),
            ("PrestaShop GET /api/products/1 (JSON)",
             f"{base}/prestashop/api/products/1?output_format=JSON&ws_key=DEMOKEY0PRESTASHOP0SANDBOX000001", []),
        ]
        results = []
        for name, url, extra in cases:
            out = subprocess.run([wrk, "-t2", "-c8", f"-d{seconds}s", "--latency", *extra, url],
                                 capture_output=True, text=True).stdout
            rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            p99 = re.search(r"99%\s+([\d.]+\w+)", out)
            results.append({"endpoint": name, "per_second": rate, "p99": p99.group(1) if p99 else "?"})
        return results
    finally:
        server.terminate()
        server.wait(timeout=10)


def bench_worker(events: int = 300) -> dict:
    """Records/s one non-forking RQ worker delivers with today's design (one job per event): X-Cart
    orders into M3 through the simulators in their own process (customer look-up, CUOR check, batch
    head, two lines, confirm: six MI calls per order)."""
    import json

    import django_rq
    from django.test import Client
    from rq import SimpleWorker

    from connectors.signatures import sign
    from hub import demo
    from hub.models import Flow
    from monitoring.models import InboundEvent, SyncRecord

    port = SIM_PORT + 1
    server = subprocess.Popen([sys.executable, "manage.py", "simulate", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        config = demo.seed(f"http://127.0.0.1:{port}")
        Flow.objects.exclude(name=demo.ORDER_FLOW).update(enabled=False)
        queue = django_rq.get_queue("default")
        queue.empty()
        order = json.loads((ROOT / "connectors/xcart/fixtures/orders__created.json").read_text())
        client = Client(HTTP_HOST="127.0.0.1")
        for n in range(events):
            order["data"].update(order_id=10_000 + n, orderNumber=str(10_000 + n))
            body = json.dumps(order).encode()
            client.post(f"/webhooks/{demo.XCART_SLUG}/", data=body, content_type="application/json",
                        headers=sign(config["webhook_secret"], f"bench-{n}", body))
        assert InboundEvent.objects.count() == events
        started = time.perf_counter()
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        elapsed = time.perf_counter() - started
        synced = SyncRecord.objects.filter(status=SyncRecord.Status.SYNCED).count()
        return {"events": events, "synced": synced, "seconds": elapsed, "per_second": synced / elapsed}
    finally:
        server.terminate()
        server.wait(timeout=10)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main():
    with tempfile.TemporaryDirectory() as data_dir:
        setup_django(data_dir)
        mapping = bench_mapping()
        worker = bench_worker()
    simulators = bench_simulators()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results", "",
        f"Written by `make bench` (`.venv/bin/python bench/run.py`) on {now}.", f"Machine: {machine()}.", "",
        "## Mapping engine (one core)", "",
        f"A compiled mapping of {mapping['fields']} rules (a 30-field order with 5 lines: lookup, join, dates, "
        f"decimals) applied {mapping['records']:,} times: **{mapping['per_second']:,.0f} records/s** "
        f"({mapping['seconds']:.2f} s). Target (issue 4): 50,000 records/s.", "",
        "## One worker, end to end (today's design: one RQ job per event)", "",
        f"{worker['events']} signed X-Cart order webhooks ingested, then one non-forking RQ worker (SimpleWorker) "
        f"delivers them to the M3 simulator (six MI calls per order): **{worker['per_second']:,.1f} records/s** "
        f"({worker['synced']} synced in {worker['seconds']:.1f} s). Issue 5 targets 1,500 records/s per worker "
        "with batch draining.", "",
        "## Simulators (`manage.py simulate`, one process, threaded Werkzeug server)", "",
        "wrk, 2 threads, 8 connections, keep-alive, 10 s per endpoint:", "",
        "| endpoint | requests/s | p99 |", "|---|---|---|",
        *[f"| {r['endpoint']} | {r['per_second']:,.0f} | {r.get('p99', '')} |" for r in simulators], "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
