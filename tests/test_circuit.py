"""The circuit breaker of a connection: opens after repeated failures, holds deliveries (they wait,
they are not failed), probes half-open after the cool-down, closes on success."""

import time

import django_rq
import pytest
import requests
from rq import SimpleWorker

from connectors.models import Connection
from hub import demo
from hub.models import Flow
from monitoring.models import SyncRecord
from tests.helpers import signed_post
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)


def burst(with_scheduler=False):
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=with_scheduler)


def test_circuit_opens_holds_then_probes_and_closes(client, simulators, settings):
    # A cool-down long enough that the third order still finds the circuit open on a loaded machine
    # (with 1 s, its burst once started after the cool-down and became the half-open probe).
    settings.HUB_CIRCUIT_THRESHOLD, settings.HUB_CIRCUIT_COOLDOWN = 2, 3
    settings.HUB_RETRY_BACKOFF, settings.HUB_MAX_ATTEMPTS = 30, 5  # retries far off: the test drives them
    setup = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    m3 = setup["m3"]
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"down": True}, timeout=5)
    for order_id in (1, 2, 3):  # one after the other, whatever partitions and batches they would share
        signed_post(client, demo.XCART_SLUG, order_payload(order_id), setup["webhook_secret"])
        burst()
    m3.refresh_from_db()
    assert (m3.circuit, m3.circuit_failures) == ("open", 2)
    records = {r.source_id: r for r in SyncRecord.objects.all()}
    assert records["1"].attempt_count == records["2"].attempt_count == 1
    held = records["3"]
    assert held.status == "retrying" and held.attempt_count == 0 and "circuit is open" in held.error  # waited, not tried

    requests.post(f"{simulators.url}/ionapi/_control/reset", timeout=5)  # M3 is back
    time.sleep(settings.HUB_CIRCUIT_COOLDOWN + 0.1)  # the held record's replay was scheduled for the cool-down's end
    burst(with_scheduler=True)  # moves the due replay to the queue and runs it: the half-open probe
    m3.refresh_from_db()
    held.refresh_from_db()
    assert m3.circuit == "closed" and held.status == "synced" and held.attempt_count == 1


def test_a_paused_connection_holds_deliveries(client, simulators, settings):
    setup = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    Connection.objects.filter(pk=setup["m3"].pk).update(enabled=False)
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])
    burst()
    record = SyncRecord.objects.get()
    assert record.status == "retrying" and record.attempt_count == 0 and "paused" in record.error
    assert not simulators.m3.orders
