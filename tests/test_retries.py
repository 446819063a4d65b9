"""The retry policy: exponential backoff with jitter, Retry-After honoured, attempts per flow, and
retries that Redis lost found again by the sweeper."""

from datetime import timedelta

import django_rq
import pytest
import requests
from django.utils import timezone

from hub import demo, jobs
from hub.models import Flow
from monitoring.models import SyncRecord
from tests.helpers import signed_post
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)


def test_delays_double_with_jitter_are_capped_and_respect_retry_after(settings):
    settings.HUB_RETRY_MAX_DELAY = 100
    flow = Flow(retry_backoff=10)
    for attempt, base in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        delays = [flow.retry_delay(attempt) for _ in range(200)]
        assert base / 2 <= min(delays) and max(delays) <= base
        assert len(set(delays)) > 150  # jittered, so retries of one outage spread out
    assert flow.retry_delay(1, retry_after=30) == 30
    assert Flow(max_attempts=3).attempts_allowed == 3
    assert Flow().attempts_allowed == settings.HUB_MAX_ATTEMPTS


def test_a_long_retry_after_decides_when_the_record_is_tried_again(client, simulators, settings):
    setup = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    Flow.objects.filter(name=demo.ORDER_FLOW).update(retry_backoff=0.5)
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"rate_limit_rate": 1.0, "retry_after": 120},
                  timeout=5)
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])
    queue = django_rq.get_queue("default")
    from rq import SimpleWorker
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    record = SyncRecord.objects.get()
    assert record.status == SyncRecord.Status.RETRYING and "HTTP 429" in record.error
    wait = (record.next_attempt_at - timezone.now()).total_seconds()
    assert 115 < wait <= 120
    # The record's event waits in its partition until the retry is due; a wake-up is scheduled for then.
    event = record.event
    assert event.status == "received" and event.claimed_until == record.next_attempt_at
    [scheduled] = queue.scheduled_job_registry.get_job_ids()
    job = queue.fetch_job(scheduled)
    assert (job.func_name, job.args) == ("hub.jobs.wake_partition", (event.connection_id, event.partition))


def test_the_sweeper_replays_retries_whose_job_was_lost(client, simulators):
    setup = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"fail_next": 1}, timeout=5)
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])
    queue = django_rq.get_queue("default")
    from rq import SimpleWorker
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    record = SyncRecord.objects.get()
    assert record.status == SyncRecord.Status.RETRYING
    queue.connection.flushdb()  # Redis lost everything, the scheduled retry with it
    SyncRecord.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    type(record.event).objects.filter(pk=record.event_id).update(claimed_until=timezone.now() - timedelta(minutes=5))
    assert jobs.sweep_unqueued_events() == 1
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    record.refresh_from_db()
    assert record.status == SyncRecord.Status.SYNCED
