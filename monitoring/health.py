"""``/healthz`` and ``/metrics``: what a load balancer and Prometheus ask the hub.

Health checks each part a record needs (database, Redis, a worker, the cron scheduler) and answers
200 only when all are well. Metrics are read from the database at scrape time, so every web and
worker process reports the same numbers without a shared metrics store.
"""

from datetime import datetime, timedelta, timezone

from django.db import connection as db
from django.db.models import Count, Q, Sum
from django.http import HttpResponse, JsonResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rq import Worker
from rq.cron import CronScheduler

from hub import jobs
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

HEARTBEAT_STALE = timedelta(minutes=2)
DURATION_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def _check_database():
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
    if jobs.autovacuum_is_off():  # said, not failed: the hub does that work itself (hub.jobs.analyze_tables)
        return "ok; the server runs without autovacuum: the hub's cron vacuums and analyzes its busiest tables every 10 minutes"
    return "ok"


def _check_redis():
    jobs._queue().connection.ping()
    return "ok"


def _check_workers():
    workers = Worker.all(queue=jobs._queue())
    if not workers:
        raise RuntimeError("no RQ worker is registered on the default queue")
    return f"{len(workers)} worker(s)"


def _check_scheduler():
    schedulers = CronScheduler.all(jobs._queue().connection)
    fresh = [s for s in schedulers if s.last_heartbeat and datetime.now(timezone.utc) - s.last_heartbeat < HEARTBEAT_STALE]
    if not fresh:
        raise RuntimeError("no cron scheduler (manage.py rqcron hub.cron) has a recent heartbeat")
    return f"{len(fresh)} cron scheduler(s)"


CHECKS = {"database": _check_database, "redis": _check_redis, "workers": _check_workers, "scheduler": _check_scheduler}


def healthz(request):
    report, healthy = {}, True
    for name, check in CHECKS.items():
        try:
            report[name] = {"ok": True, "detail": check()}
        except Exception as exc:  # a health check reports every failure, whatever it is
            healthy = False
            report[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    return JsonResponse({"ok": healthy, "checks": report}, status=200 if healthy else 503)


class DatabaseCollector:
    """Counters per flow and connection, backlog, and a histogram of attempt durations per flow."""

    def collect(self):
        records = CounterMetricFamily("hub_sync_records", "Sync records by flow and status", labels=["flow", "status"])
        for row in SyncRecord.objects.values("flow__name", "status").annotate(n=Count("id")):
            records.add_metric([row["flow__name"], row["status"]], row["n"])
        yield records

        events = CounterMetricFamily("hub_inbound_events", "Inbound events by connection and status",
                                     labels=["connection", "status"])
        for row in InboundEvent.objects.values("connection__slug", "status").annotate(n=Count("id")):
            events.add_metric([row["connection__slug"], row["status"]], row["n"])
        yield events

        backlog = GaugeMetricFamily("hub_backlog_events", "Events stored and not yet processed", labels=["connection"])
        for row in (InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED)
                    .values("connection__slug").annotate(n=Count("id"))):
            backlog.add_metric([row["connection__slug"]], row["n"])
        yield backlog

        durations = HistogramMetricFamily("hub_attempt_duration_seconds", "Duration of delivery attempts",
                                          labels=["flow"])
        bucket_counts = {f"le_{ms}": Count("id", filter=Q(duration_ms__lte=ms)) for ms in DURATION_BUCKETS_MS}
        for row in SyncAttempt.objects.values("record__flow__name").annotate(
                total=Count("id"), sum_ms=Sum("duration_ms"), **bucket_counts):
            buckets = [(str(ms / 1000), row[f"le_{ms}"]) for ms in DURATION_BUCKETS_MS] + [("+Inf", row["total"])]
            durations.add_metric([row["record__flow__name"]], buckets, (row["sum_ms"] or 0) / 1000)
        yield durations


_registry = CollectorRegistry(auto_describe=False)
_registry.register(DatabaseCollector())


def metrics(request):
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
