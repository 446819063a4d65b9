"""End to end: store order webhooks in, Domino documents out, the hub beside Node-RED in the same run.

The hub: ``manage.py serve`` (Granian, one process x 8 threads) storing signed webhooks, RQ workers draining them in batches into
the Domino REST API simulator (bulk create). Throughput: wrk sends for a while at full rate, then
delivered records / (last delivery - first arrival). Latency at half load: wrk paced at half that
rate; webhook -> delivered is each record's ``synced_at - received_at`` (both set by the hub).

Node-RED: http in -> function -> http request -> http response into the same simulator (Granian,
fast enough not to be the bottleneck: see the simulators section). Its records/s are wrk's 2xx
answers per second (each answer comes after the document was written); latency is wrk's.
"""

import time
from pathlib import Path

from bench import nodered, scenario
from bench.common import (RssSampler, children, free_port, percentile, reset_data, rss_mb, start_web,
                          start_simulators, start_worker, vacuum_analyze, wait_until_idle)
from bench.wrk import pace, presign, replay

WORKERS = 2
# Half load is paced by waits between a connection's requests: the more connections, the longer each
# wait and the less the answers' own latency (which varies with the load) takes off the rate.
PACED_CONNECTIONS = 32


def delivered_since(first_event_id: int) -> dict:
    from django.db.models import Max, Min

    from monitoring.models import InboundEvent, SyncRecord

    records = SyncRecord.objects.filter(event_id__gt=first_event_id, status=SyncRecord.Status.SYNCED)
    span = records.aggregate(first=Min("event__received_at"), last=Max("synced_at"))
    count = records.count()
    seconds = (span["last"] - span["first"]).total_seconds() if count else float("nan")
    latencies = [(synced - received).total_seconds() * 1000
                 for synced, received in records.values_list("synced_at", "event__received_at")]
    events = InboundEvent.objects.filter(pk__gt=first_event_id).count()
    return {"events": events, "delivered": count, "seconds": seconds, "per_second": count / seconds if count else 0,
            "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99)}


def last_event_id() -> int:
    from monitoring.models import InboundEvent

    return InboundEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def bench_hub(backends, work: Path, simulator_url: str, seconds: float, workers: int = WORKERS) -> dict:
    reset_data()
    setup = scenario.seed(simulator_url)
    port = free_port()
    web = start_web(backends, port, log=work / "web-e2e.log")
    procs = [start_worker(backends, log=work / f"worker-e2e-{n}.log", scheduler=n == 0) for n in range(workers)]
    sampler = RssSampler(lambda: [p.pid for p in procs])
    url = f"http://127.0.0.1:{port}{setup.path}"
    try:
        time.sleep(3)  # the workers import Django
        warm = work / "e2e-warm.tsv"
        presign(warm, setup.secret, scenario.payloads(1000, start=5_000_000), "e2e-warm")
        replay(url, warm, 2, connections=8)
        wait_until_idle(120)
        vacuum_analyze()

        mark = last_event_id()
        full = work / "e2e-full.tsv"
        presign(full, setup.secret, scenario.payloads(int(4000 * seconds)), f"e2e-full-{time.time_ns()}")
        sent = replay(url, full, seconds, connections=8)
        settled = wait_until_idle(300)
        result = {"full": {**delivered_since(mark), "sent_per_second": sent["per_second"], "settled": settled}}

        vacuum_analyze()  # the tables grew tenfold
        rate = max(10.0, result["full"]["per_second"] / 2)
        calibration = work / "e2e-pace.tsv"
        presign(calibration, setup.secret, scenario.payloads(int(rate * 6), start=9_000_000), f"e2e-pace-{time.time_ns()}")
        asked = pace(url, calibration, rate, connections=PACED_CONNECTIONS)
        wait_until_idle(120)
        mark = last_event_id()
        half = work / "e2e-half.tsv"
        presign(half, setup.secret, scenario.payloads(int(rate * seconds * 1.5), start=10_000_000), f"e2e-half-{time.time_ns()}")
        sent = replay(url, half, seconds, connections=PACED_CONNECTIONS, rate=asked)
        settled = wait_until_idle(120)
        result["half"] = {**delivered_since(mark), "rate": rate, "sent_per_second": sent["per_second"], "settled": settled}
        result["worker_rss_mb"] = sampler.stop()
        result["web_rss_mb"] = max((rss_mb(pid) for pid in children(web.pid)), default=0.0)
        result["workers"], result["seconds"] = workers, seconds
    finally:
        sampler.stop()
        for proc in [web, *procs]:
            proc.stop()
    return result


def bench_nodered(work: Path, simulator_url: str, seconds: float) -> dict:
    if not nodered.available():
        return {"missing": "Node-RED is not installed: `npm install --prefix bench` (make bench does it)"}
    port = free_port()
    red = nodered.start(port, simulator_url, log=work / "node-red.log")
    url = f"http://127.0.0.1:{port}/orders"
    try:
        body = work / "nodered.tsv"
        presign(body, "whsec_" + "A" * 32, scenario.payloads(int(4000 * seconds), start=20_000_000), "red")
        replay(url, body, 2, connections=8)  # warm up
        full = replay(url, body, seconds, connections=8)
        full["delivered_per_second"] = (full["requests"] - full["non2xx"] - full["errors"]) / full["seconds"]
        rate = max(10.0, full["delivered_per_second"] / 2)
        half = replay(url, body, seconds, connections=PACED_CONNECTIONS,
                      rate=pace(url, body, rate, connections=PACED_CONNECTIONS))
        half["rate"] = rate
        return {"full": full, "half": half, "rss_mb": rss_mb(red.pid), "version": nodered.version()}
    finally:
        red.stop()


def bench_e2e(backends, work: Path, seconds: float = 10) -> dict:
    port = free_port()
    simulator = start_simulators(port, "granian", log=work / "simulators-e2e.log")
    url = f"http://127.0.0.1:{port}"
    try:
        red = bench_nodered(work, url, seconds)
        hub = bench_hub(backends, work, url, seconds)
    finally:
        simulator.stop()
    return {"hub": hub, "nodered": red}


def report(r: dict) -> list[str]:
    hub, red = r["hub"], r["nodered"]
    verdict = lambda ok: "met" if ok else "**missed**"  # noqa: E731
    lines = [
        "## End to end: store order webhooks -> Domino (REST API, bulk) beside Node-RED", "",
        f"Same simulator process (Granian), same orders, same fields. The hub: `manage.py serve` (Granian, 1 process "
        f"x 8 threads) + "
        f"{hub['workers']} RQ worker processes, every webhook verified and stored before its 202, every record and "
        "attempt logged. Node-RED: no signature check, nothing stored, the answer waits for the document. "
        f"wrk, 8 connections, {hub['seconds']:.0f} s at full rate, then {PACED_CONNECTIONS} connections for "
        f"{hub['seconds']:.0f} s paced at half the rate found (the rate column is what wrk sent: a 3 s run first "
        "measures how far its pacing falls short).", "",
        "| | records/s delivered (full rate) | half load: rate | p50 | p99 | RSS |", "|---|---|---|---|---|---|",
        f"| hub | **{hub['full']['per_second']:,.0f}** ({hub['full']['delivered']:,} in {hub['full']['seconds']:.1f} s; "
        f"webhooks accepted at {hub['full']['sent_per_second']:,.0f}/s) | {hub['half']['sent_per_second']:,.0f}/s | "
        f"{hub['half']['p50_ms']:.0f} ms | {hub['half']['p99_ms']:.0f} ms | web {hub['web_rss_mb']:.0f} MB, "
        f"worker {hub['worker_rss_mb']:.0f} MB |",
    ]
    if "missing" in red:
        lines += ["", red["missing"], ""]
        return lines
    lines += [
        f"| Node-RED {red['version']} | **{red['full']['delivered_per_second']:,.0f}** ({red['full']['non2xx']} non-2xx) | "
        f"{red['half']['per_second']:,.0f}/s | {red['half']['p50_ms']:.0f} ms | {red['half']['p99_ms']:.0f} ms | {red['rss_mb']:.0f} MB |",
        "",
        f"Targets: >= 2x Node-RED's records/s: {hub['full']['per_second'] / max(red['full']['delivered_per_second'], 1):.2f}x "
        f"({verdict(hub['full']['per_second'] >= 2 * red['full']['delivered_per_second'])}); at half load p50 <= 30 ms "
        f"({verdict(hub['half']['p50_ms'] <= 30)}), p99 <= 200 ms ({verdict(hub['half']['p99_ms'] <= 200)}).", "",
    ]
    if not (hub["full"]["settled"] and hub["half"]["settled"]):
        lines += ["Warning: the hub had not settled every record when the measure ended.", ""]
    return lines
