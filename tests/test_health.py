"""/healthz and /metrics answer what operators and Prometheus need."""

import re

import pytest
from rq import Worker
from rq.cron import CronScheduler

from hub import demo, jobs
from hub.models import Flow
from tests.helpers import run_worker, signed_post
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_is_503_until_a_worker_and_the_scheduler_are_alive(client):
    report = client.get("/healthz")
    assert report.status_code == 503
    checks = report.json()["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert not checks["workers"]["ok"] and "no RQ worker" in checks["workers"]["detail"]
    assert not checks["scheduler"]["ok"]

    queue = jobs._queue()
    worker = Worker([queue], connection=queue.connection)
    worker.register_birth()
    scheduler = CronScheduler(connection=queue.connection)
    scheduler.register_birth()
    scheduler.heartbeat()
    try:
        healthy = client.get("/healthz")
        assert healthy.status_code == 200 and healthy.json()["ok"] is True
        assert healthy.json()["checks"]["workers"]["detail"] == "1 worker(s)"
    finally:
        worker.register_death()
        scheduler.register_death()


def test_metrics_count_records_events_and_durations(client, simulators):
    setup = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    signed_post(client, demo.XCART_SLUG, order_payload(1), setup["webhook_secret"])
    payload = order_payload(2)
    payload["data"]["items"][0]["sku"] = "SKU-9999"
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    text = client.get("/metrics").content.decode()
    flow = re.escape(demo.ORDER_FLOW)
    assert re.search(rf'hub_sync_records_total{{flow="{flow}",status="synced"}} 1.0', text)
    assert re.search(rf'hub_sync_records_total{{flow="{flow}",status="failed"}} 1.0', text)
    assert re.search(r'hub_inbound_events_total{connection="xcart-demo",status="processed"} 1.0', text)
    assert re.search(rf'hub_attempt_duration_seconds_count{{flow="{flow}"}} 2.0', text)
    assert re.search(rf'hub_attempt_duration_seconds_bucket{{flow="{flow}",le="\+Inf"}} 2.0', text)


def test_without_autovacuum_the_hub_analyzes_its_tables_and_says_so(client):
    """On a PostgreSQL server without autovacuum the cron's job gives the planner statistics of the hub's
    tables (without them a batch read its links by a sequential scan); elsewhere it does nothing."""
    from django.db import connection

    scheduler = CronScheduler(connection=jobs._queue().connection)
    scheduler.load_config_from_file("hub.cron")
    assert any(job.func is jobs.analyze_tables for job in scheduler.get_jobs())
    if connection.vendor != "postgresql":
        assert jobs.analyze_tables() == [] and jobs.analyze_tables(force=True) == []
        assert client.get("/healthz").json()["checks"]["database"]["detail"] == "ok"
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_reset()")  # forget earlier analyzes
    done = jobs.analyze_tables(force=True)
    assert "hub_link" in done and "monitoring_inboundevent" in done
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
        analyzed = {row[0] for row in cursor.fetchall()}
    assert set(done) <= analyzed
    detail = client.get("/healthz").json()["checks"]["database"]["detail"]
    assert ("without autovacuum" in detail) == jobs.autovacuum_is_off()
    assert (jobs.analyze_tables() == done) == jobs.autovacuum_is_off()
