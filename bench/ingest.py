"""Durable ingest: signed webhooks at full rate against the web tier serving hub.wsgi.

Each accepted webhook is verified, stored (committed) and handed to the queue before its 202; no
worker runs meanwhile, so this is the web tier alone. Accepted/s counts the events in the database
afterwards, not wrk's answers, so that only what is durably stored counts.
"""

import time
from pathlib import Path

from bench import profile, scenario
from bench.common import children, free_port, reset_data, rss_mb, start_web
from bench.wrk import presign, replay

WEB = {"server": "granian", "workers": 1, "threads": 8}  # manage.py serve's defaults: production, e2e, growth
# Production's server, with two processes as well, and gunicorn's sync workers (one request at a time
# each, no keep-alive, so no two webhooks of a process share a commit) for comparison.
CONFIGS = [WEB, {"server": "granian", "workers": 2, "threads": 4}, {"server": "gunicorn", "workers": 2, "threads": 1}]
CONNECTIONS = 8


def event_count() -> int:
    from monitoring.models import InboundEvent

    return InboundEvent.objects.count()


def bench_ingest(backends, work: Path, seconds: float = 10, expect_rate: int = 5000, with_profile: bool = True,
                 web: dict | None = None, setup=None, orders_from: int = 0) -> dict:
    """With ``setup`` (a seeded scenario), on the data already there; else on empty tables.
    ``orders_from`` shifts the order numbers, so that a second run on the same data stores new orders
    (the same ones again would be updates of documents already delivered, another path when drained)."""
    web_config = {**WEB, **(web or {})}
    if setup is None:
        reset_data()
        setup = scenario.seed("http://127.0.0.1:9")  # nothing is delivered here: the target is never called
    port = free_port()
    web = start_web(backends, port, log=work / "web-ingest.log", **web_config)
    url = f"http://127.0.0.1:{port}{setup.path}"
    try:
        warm = work / "ingest-warm.tsv"
        presign(warm, setup.secret, scenario.payloads(2000, start=900_000 + orders_from), "warm")
        replay(url, warm, 2, connections=CONNECTIONS)
        requests_file = work / "ingest.tsv"
        made = presign(requests_file, setup.secret, scenario.payloads(int(expect_rate * seconds * 1.3), start=50_000_000 + orders_from),
                       f"ingest-{time.time_ns()}")
        before = event_count()
        result = replay(url, requests_file, seconds, connections=CONNECTIONS)
        accepted = event_count() - before
        result.update(accepted=accepted, accepted_per_second=accepted / result["seconds"], presigned=made,
                      connections=CONNECTIONS, **web_config)
        workers = children(web.pid)
        result["rss_mb"] = max((rss_mb(pid) for pid in workers), default=0.0)
        if with_profile and workers:
            prof_file = work / "ingest-profile.tsv"
            presign(prof_file, setup.secret, scenario.payloads(int(expect_rate * 8), start=2_000_000), f"prof-{time.time_ns()}")
            sampler = profile.start(workers[0], work / "ingest.pyspy", seconds=5)
            replay(url, prof_file, 6, connections=CONNECTIONS)
            result["profile"] = profile.summary(sampler, work / "ingest.pyspy")
    finally:
        web.stop()
    return result


def bench_ingest_configs(backends, work: Path, seconds: float = 10) -> list[dict]:
    """Each web configuration on empty tables; the first one is profiled."""
    return [bench_ingest(backends, work, seconds=seconds, with_profile=n == 0, web=config)
            for n, config in enumerate(CONFIGS)]


def _web(r: dict) -> str:
    if r["server"] == "granian":
        return f"Granian (`manage.py serve`), {r['workers']} process{'es' if r['workers'] > 1 else ''} x {r['threads']} threads"
    return f"gunicorn, {r['workers']} sync workers" if r["threads"] == 1 else \
        f"gunicorn, {r['workers']} gthread workers x {r['threads']} threads"


def report(runs: list[dict]) -> list[str]:
    from django.conf import settings

    verdict = lambda ok: "met" if ok else "**missed**"  # noqa: E731
    best = max(runs, key=lambda r: r["accepted_per_second"])
    persistent = settings.DATABASES["default"].get("CONN_MAX_AGE") or 0
    lines = [
        "## Durable ingest (the web tier serving hub.wsgi)", "",
        f"wrk ({runs[0]['connections']} connections) replaying pre-signed PrestaShop order webhooks (Standard Webhooks "
        f"HMAC, a webhook-id each, timestamps within 5 minutes) for {runs[0]['seconds']:.0f} s; each accepted webhook is "
        "verified, committed and its partition signalled before the 202 (concurrent webhooks of a process share "
        "one INSERT and COMMIT, connectors/ingest.py); no RQ worker running. Accepted/s counts the rows stored. "
        f"Database connections: {'persistent (CONN_MAX_AGE=%s)' % persistent if persistent else 'one per request (CONN_MAX_AGE=0)'}.", "",
        "| server | accepted/s (stored) | p50 | p90 | p99 | max | non-2xx | web worker RSS |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {_web(r)} | **{r['accepted_per_second']:,.0f}** | {r['p50_ms']:.1f} ms | {r['p90_ms']:.1f} ms | "
          f"**{r['p99_ms']:.1f} ms** | {r['max_ms']:.0f} ms | {r['non2xx']} | {r['rss_mb']:.0f} MB |" for r in runs], "",
        f"Targets: >= 2,500 accepted/s ({verdict(best['accepted_per_second'] >= 2500)}), p99 <= 25 ms "
        f"({verdict(min(r['p99_ms'] for r in runs) <= 25)}), web RSS <= 120 MB "
        f"({verdict(max(r['rss_mb'] for r in runs) <= 120)}).", "",
    ]
    profiled = runs[0].get("profile")
    if profiled:
        lines += [f"Where a web process's Python time goes ({_web(runs[0])}; py-spy, 5 s at full rate, the thread holding "
                  "the GIL; each sample given to its innermost named part):", "", *profile.report(profiled), ""]
    return lines

