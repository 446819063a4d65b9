"""Growth: do the figures hold when the tables are full?

- ingest and workers again with 10k and 100k settled events (with their records and attempts) already
  stored;
- the admin's list pages with 1M sync records (and their 1M events): the sync log, the events, a
  filtered and a searched sync log, timed with Django's test client logged in as a superuser.

Rows are copied in SQL from one template row per table (INSERT ... SELECT over a generated series),
each with its own ids, source id and reference inside the body, a tenth of the records failed: a million
rows in seconds, not the hours a million webhooks would take.
"""

import time
from pathlib import Path

from bench import ingest, scenario, workers
from bench.common import free_port, reset_data, start_simulators, vacuum_analyze

SIZES = (10_000, 100_000)
ADMIN_ROWS = 1_000_000
TEMPLATE_REFERENCE = scenario.reference(99_999_999)


def _series(vendor: str, count: int) -> tuple[str, str]:
    """(WITH clause, FROM item) of the numbers 1..count, n."""
    if vendor == "postgresql":
        return "", f"generate_series(1, {count}) AS s(n)"
    return f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) ", "s"


def _template(setup):
    """One settled event, its synced record and its attempt, made by the ORM: what every copy looks like."""
    import json

    from django.utils import timezone

    from monitoring.models import InboundEvent, SyncAttempt, SyncRecord, partition_of

    payload = scenario.order_payload(99_999_999)
    now = timezone.now()
    key = f"template-{time.time_ns()}"
    event = InboundEvent.objects.create(connection_id=setup.source_id, idempotency_key=key, topic="order.created",
                                        source_id="template", partition=partition_of("template"),
                                        headers={"content-type": "application/json"}, body=json.dumps(payload),
                                        status=InboundEvent.Status.PROCESSED, processed_at=now)
    record = SyncRecord.objects.create(flow_id=setup.flow_id, event=event, source_id="template", target_id="TEMPLATEUNID",
                                       status=SyncRecord.Status.SYNCED, attempt_count=1, synced_at=now,
                                       mapped={"OrderNumber": TEMPLATE_REFERENCE})
    attempt = SyncAttempt.objects.create(record=record, number=1, outcome=SyncAttempt.Outcome.DELIVERED, started_at=now,
                                         duration_ms=12, note="created (bulk create of 200)")
    return event, record, attempt


def fill(setup, count: int) -> float:
    """Add ``count`` settled events, records and attempts; returns the seconds it took."""
    from django.db import connection, transaction

    from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

    started = time.perf_counter()
    event, record, attempt = _template(setup)
    vendor = connection.vendor
    with_clause, series = _series(vendor, count)
    base = (InboundEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    text = "TEXT"

    def columns(model, replace: dict) -> tuple[str, str]:
        names = [f.column for f in model._meta.concrete_fields if not f.primary_key]
        quoted = ", ".join(connection.ops.quote_name(n) for n in names)
        values = ", ".join(replace.get(n, f"t.{connection.ops.quote_name(n)}") for n in names)
        return quoted, values

    failed = "(CAST(src.source_id AS INTEGER) %% 10 = 0)"  # %% : the SQL goes through %-formatting
    with transaction.atomic(), connection.cursor() as cursor:
        cols, values = columns(InboundEvent, {
            "idempotency_key": f"'growth-' || CAST(s.n + {base} AS {text})",
            "source_id": f"CAST(s.n + {base} AS {text})",
            "body": f"replace(t.body, '{TEMPLATE_REFERENCE}', 'G' || CAST(s.n + {base} AS {text}))",
        })
        cursor.execute(f"{with_clause}INSERT INTO {InboundEvent._meta.db_table} ({cols}) SELECT {values} "
                       f"FROM {InboundEvent._meta.db_table} t, {series} WHERE t.id = %s", [event.pk])
        cols, values = columns(SyncRecord, {
            "event_id": "src.id", "source_id": "src.source_id",
            "status": f"CASE WHEN {failed} THEN 'failed' ELSE 'synced' END",
            "error": f"CASE WHEN {failed} THEN 'HCL Domino answered HTTP 400: Item ShopOrderId ' || src.source_id || "
                     "' is not a number' ELSE '' END",
            "target_id": f"CASE WHEN {failed} THEN '' ELSE 'UNID' || src.source_id END",
        })
        cursor.execute(f"INSERT INTO {SyncRecord._meta.db_table} ({cols}) SELECT {values} "
                       f"FROM {SyncRecord._meta.db_table} t, {InboundEvent._meta.db_table} src "
                       f"WHERE t.id = %s AND src.id > %s AND src.idempotency_key LIKE 'growth-%%'", [record.pk, event.pk])
        cols, values = columns(SyncAttempt, {"record_id": "src.id"})
        cursor.execute(f"INSERT INTO {SyncAttempt._meta.db_table} ({cols}) SELECT {values} "
                       f"FROM {SyncAttempt._meta.db_table} t, {SyncRecord._meta.db_table} src "
                       f"WHERE t.id = %s AND src.id > %s", [attempt.pk, record.pk])
    vacuum_analyze()  # the visibility map lets COUNT(*) read the primary key's index alone
    return time.perf_counter() - started


def admin_pages(setup) -> list[dict]:
    """Median of 3 loads (after one warm-up) of each list page, as a logged-in superuser; a page whose
    warm-up took over 2 s is timed by that one load (three more would only say the same, slowly)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.db import connection

    user = get_user_model().objects.create_superuser("bench", "bench@example.org", "bench-password-1")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    pages = [
        ("sync records", "/admin/monitoring/syncrecord/"),
        ("events", "/admin/monitoring/inboundevent/"),
        ("sync records, filtered: failed", "/admin/monitoring/syncrecord/?status__exact=failed"),
        ("sync records, filtered: failed + flow", f"/admin/monitoring/syncrecord/?status__exact=failed&flow__id__exact={setup.flow_id}"),
        ("sync records, searched: a reference", "/admin/monitoring/syncrecord/?q=G123457"),
        ("events, searched: a record id", "/admin/monitoring/inboundevent/?q=123457"),
    ]
    results = []
    for name, url in pages:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            answer = client.get(url)
            times = [(time.perf_counter() - started) * 1000]
        repeats = 3 if times[0] < 2000 else 0
        times = [] if repeats else times
        for _ in range(repeats):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                answer = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
        results.append({"page": name, "url": url, "status": answer.status_code, "ms": sorted(times)[len(times) // 2],
                         "queries": len(queries), "slowest_sql": _slowest(queries.captured_queries)})
    return results


def _slowest(captured) -> str:
    if not captured:
        return ""
    worst = max(captured, key=lambda q: float(q.get("time") or 0))
    return f"{float(worst['time']) * 1000:.0f} ms: {worst['sql'][:160]}"


def bench_growth(backends, work: Path, quick: bool = False) -> dict:
    from django.conf import settings

    settings.DEBUG = False
    sizes = (2_000, 5_000) if quick else SIZES
    admin_rows = 20_000 if quick else ADMIN_ROWS
    reset_data()
    result = {"sizes": []}
    port = free_port()
    simulator = start_simulators(port, "granian", log=work / "simulators-growth.log")
    try:
        setup = scenario.seed(f"http://127.0.0.1:{port}")
        stored = 0
        for size in sizes:
            fill(setup, size - stored)
            stored = size
            # New orders at each size: the worker's figure is of creates, as in the workers section (the
            # first size's orders again would be updates, one call per document, and 100k read 3x slower).
            ing = ingest.bench_ingest(backends, work, seconds=3 if quick else 8, with_profile=False, setup=setup,
                                      orders_from=size * 1000)
            drained = workers.drain_with(backends, work, setup, 1, 1000 if quick else 4000, start=40_000_000 + size)
            result["sizes"].append({"stored": size, "ingest": ing, "worker": drained})
        fill(setup, admin_rows - stored)
        result["admin_rows"] = admin_rows
        result["admin"] = admin_pages(setup)
    finally:
        simulator.stop()
    return result


def report(r: dict) -> list[str]:
    lines = [
        "## Growth: the same figures with full tables", "",
        "New orders at every size; the worker drains what ingest stored and a backlog of its own (all creates).", "",
        "| events already stored | ingest accepted/s | ingest p99 | worker records/s (1 worker) |", "|---|---|---|---|",
        *[f"| {s['stored']:,} | {s['ingest']['accepted_per_second']:,.0f} | {s['ingest']['p99_ms']:.1f} ms | "
          f"{s['worker']['per_second']:,.0f} |" for s in r["sizes"]], "",
        f"Admin list pages with {r['admin_rows']:,} sync records (and as many events and attempts), Django's test "
        "client logged in as a superuser, median of 3 after a warm-up. Target: under 300 ms.", "",
        "| page | ms | queries | slowest query |", "|---|---|---|---|",
    ]
    for page in r["admin"]:
        flag = "" if page["ms"] < 300 else " **(missed)**"
        lines.append(f"| {page['page']} (`{page['url']}`) | {page['ms']:,.0f}{flag} | {page['queries']} | "
                     f"{page['slowest_sql'].replace('|', '/')} |")
    missed = [page["page"] for page in r["admin"] if page["ms"] >= 300]
    fast = len(r["admin"]) - len(missed)
    return lines + ["", f"Targets: admin list pages under 300 ms with {r['admin_rows']:,} records: {fast} of "
                        f"{len(r['admin'])} pages met" + (f"; **missed**: {', '.join(missed)}." if missed else "."), ""]
