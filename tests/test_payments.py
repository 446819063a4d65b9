"""X-Cart payments reach the M3 ledger (GLS840MI), once, beside the sales order of the same order."""

import pytest
import requests

from hub import demo
from hub.models import Link
from monitoring.models import SyncRecord
from tests.helpers import run_worker, signed_post
from tests.test_order_flow import order_payload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture
def setup(simulators):
    return demo.seed(simulators.url)


def test_paid_order_is_posted_once_beside_its_sales_order(client, setup, simulators, fast_retries):
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"fail_next": 3}, timeout=5)  # some 503s first
    signed_post(client, demo.XCART_SLUG, order_payload(7001, total=127.45), setup["webhook_secret"])
    run_worker()
    payment = SyncRecord.objects.get(flow__name=demo.PAYMENT_FLOW)
    assert payment.status == SyncRecord.Status.SYNCED, payment.error
    batch = simulators.m3.gl_batches["WEB7001"]
    assert batch["updated"] and batch["lines"] == {1: "20261126;1910;127.45;USD;7001", 2: "20261126;1510;-127.45;USD;7001"}
    # Two links from one X-Cart order: the sales order and the ledger batch.
    links = dict(Link.objects.filter(source_id="7001").values_list("target_entity", "target_id"))
    assert links["payment"] == "WEB7001" and links["sales_order"].startswith("1")

    # Replayed after an unknown outcome: M3 says the batch is already posted; still one posting.
    Link.objects.filter(target_entity="payment").delete()
    from hub import jobs
    jobs.enqueue_replay(payment.pk)
    run_worker()
    payment.refresh_from_db()
    assert payment.status == SyncRecord.Status.SYNCED and "already posted" in payment.attempts.last().note
    assert list(simulators.m3.gl_batches) == ["WEB7001"]


def test_unpaid_orders_are_not_posted(client, setup, simulators):
    payload = order_payload(7002)
    payload["data"]["paymentStatus"] = {"id": 1, "code": "Q"}
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    assert list(SyncRecord.objects.values_list("flow__name", flat=True)) == [demo.ORDER_FLOW]
    assert simulators.m3.gl_batches == {}
