"""Workers alone: records/s per worker process, and 1 -> 2 -> 4 workers on the same backlog.

The backlog is stored first (bulk-inserted events, exactly what ingest would have stored, with no web
server competing for the cores) in k partitions (HUB_PARTITIONS = workers, as the README advises), the
partitions are signalled, then k burst workers drain it into the Domino REST simulator. Records/s =
records / (last delivery - first attempt), so Python's start-up is not counted. On 2 cores, 4 workers
can only show what contention costs.
"""

from pathlib import Path

from bench import scenario
from bench.common import (RssSampler, free_port, reset_data, start_simulators, start_worker, vacuum_analyze,
                          wait_until_idle)

BACKLOG = 6000
SCALE = (1, 2, 4)


def drain_with(backends, work: Path, setup, workers: int, count: int, start: int) -> dict:
    from django.db.models import Max, Min

    from django.test import override_settings

    from hub import jobs
    from monitoring.models import SyncAttempt, SyncRecord

    with override_settings(HUB_PARTITIONS=workers):  # one partition per worker, as the README advises
        scenario.store_orders(setup, count, start)
    vacuum_analyze()
    first_id = SyncRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
    procs = [start_worker(backends, log=work / f"worker-scale-{n}.log", scheduler=n == 0, burst=False)
             for n in range(workers)]
    sampler = RssSampler(lambda: [p.pid for p in procs])
    try:
        jobs.sweep_unqueued_events(older_than_seconds=0)
        settled = wait_until_idle(600)
    finally:
        rss = sampler.stop()
        for proc in procs:
            proc.stop()
    records = SyncRecord.objects.filter(pk__gt=first_id)
    span = records.aggregate(last=Max("synced_at"))
    first = SyncAttempt.objects.filter(record__in=records).aggregate(first=Min("started_at"))["first"]
    delivered = records.filter(status=SyncRecord.Status.SYNCED).count()
    seconds = (span["last"] - first).total_seconds() if delivered else float("nan")
    return {"workers": workers, "records": delivered, "seconds": seconds, "per_second": delivered / seconds,
            "per_worker": delivered / seconds / workers, "rss_mb": rss, "settled": settled}


def bench_workers(backends, work: Path, scale=SCALE, backlog: int = BACKLOG) -> dict:
    port = free_port()
    simulator = start_simulators(port, "granian", log=work / "simulators-workers.log")
    try:
        reset_data()
        setup = scenario.seed(f"http://127.0.0.1:{port}")
        runs = [drain_with(backends, work, setup, k, backlog, start=30_000_000 + k * backlog) for k in scale]
    finally:
        simulator.stop()
    return {"backlog": backlog, "runs": runs}


def report(r: dict) -> list[str]:
    one = r["runs"][0]
    return [
        "## Workers (batch draining into the Domino REST API simulator, bulk create)", "",
        f"{r['backlog']:,} stored order webhooks drained by k worker processes (`rqworker --worker-class "
        "rq.worker.SimpleWorker`); no web server running.", "",
        "| workers | records/s | per worker | peak worker RSS |", "|---|---|---|---|",
        *[f"| {run['workers']} | {run['per_second']:,.0f} | {run['per_worker']:,.0f} | {run['rss_mb']:.0f} MB |"
          for run in r["runs"]], "",
        f"Targets: >= 1,500 records/s per worker ({'met' if one['per_second'] >= 1500 else '**missed**'} with one: "
        f"{one['per_second']:,.0f}); worker RSS <= 150 MB "
        f"({'met' if max(run['rss_mb'] for run in r['runs']) <= 150 else '**missed**'}).", "",
    ]

