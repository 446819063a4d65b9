"""PrestaShop <-> Domino: order to fulfilment, catalogue and customers, end to end over HTTP."""

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from hub import demo, jobs
from hub.models import Flow
from monitoring.models import InboundEvent, SyncRecord
from tests.helpers import run_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture
def setup(live_server, simulators):
    config = demo.seed(simulators.url)
    requests.post(f"{simulators.url}/prestashop/_sim/module", timeout=5, json={
        "webhook_url": f"{live_server.url}/webhooks/{demo.PRESTASHOP_SLUG}/", "webhook_secret": config["prestashop_secret"]})
    return config


def wait_for(query, count=1, timeout=10):
    deadline = time.monotonic() + timeout
    while query.count() < count:
        assert time.monotonic() < deadline, "nothing arrived"
        time.sleep(0.05)


def domino_doc(simulators, unid):
    return simulators.domino.documents[unid.upper()]


def start_polls_now(*names):
    """Start these polls at the present, as an integrator does who needs no backfill of old records."""
    now = datetime.now(timezone.utc) - timedelta(seconds=2)
    for name in names:
        flow = Flow.objects.get(name=name)
        flow.poll_cursor = (now.strftime("%Y-%m-%d %H:%M:%S") if flow.source.kind == "prestashop"
                            else now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        flow.save()


def test_order_reaches_the_order_desk_and_its_progress_comes_back(setup, simulators):
    placed = requests.post(f"{simulators.url}/prestashop/_sim/orders", timeout=5, json={
        "email": "grace.hopper@example.org", "firstname": "Grace", "lastname": "Hopper",
        "address": {"address1": "1 Navy Way", "postcode": "22202", "city": "Arlington", "country_code": "US"},
        "items": [{"reference": "SKU-0007", "quantity": 4}, {"reference": "SKU-0008", "quantity": 1}]}).json()["order"]
    wait_for(InboundEvent.objects.filter(connection=setup["prestashop"]))
    run_worker()
    record = SyncRecord.objects.get(flow__name=demo.PS_ORDERS_FLOW)
    assert record.status == SyncRecord.Status.SYNCED, record.error
    document = domino_doc(simulators, record.target_id)
    assert document.items["OrderNumber"] == placed["reference"]
    assert document.items["CustomerName"] == "Grace Hopper" and document.items["Status"] == "New"
    rows = {r["product_reference"]: r for r in placed["associations"]["order_rows"]}
    assert document.items["OrderLines"] == [f"SKU-0007 x 4 @ {rows['SKU-0007']['unit_price_tax_incl']}",
                                            f"SKU-0008 x 1 @ {rows['SKU-0008']['unit_price_tax_incl']}"]

    status_flow = Flow.objects.get(name=demo.DOMINO_STATUS_FLOW)
    start_polls_now(demo.DOMINO_STATUS_FLOW)
    jobs.poll_flow(status_flow.pk)  # the document the hub just wrote comes back: an echo
    run_worker()
    echo = InboundEvent.objects.filter(connection=setup["domino"]).latest("id")
    assert echo.source_id == record.target_id and echo.status == InboundEvent.Status.IGNORED

    # The order desk picks and ships it in Notes.
    requests.post(f"{simulators.url}/domino/_sim/documents/{record.target_id}", timeout=5,
                  json={"Status": "Shipped", "TrackingNumber": "1Z999AA10123456784"}).raise_for_status()
    assert jobs.poll_flow(status_flow.pk) == 1
    run_worker()
    order = simulators.prestashop.db["orders"][placed["id"]]
    assert order["current_state"] == "4"
    [carrier] = [c for c in simulators.prestashop.db["order_carriers"].values() if c["id_order"] == str(placed["id"])]
    assert carrier["tracking_number"] == "1Z999AA10123456784"
    assert {r.flow.name: r.status for r in SyncRecord.objects.filter(event__source_id=record.target_id)} == {
        demo.DOMINO_STATUS_FLOW: "synced", demo.DOMINO_TRACKING_FLOW: "synced"}


def test_order_desk_documents_that_did_not_come_from_the_shop_are_left_alone(setup, simulators):
    status_flow = Flow.objects.get(name=demo.DOMINO_STATUS_FLOW)
    assert jobs.poll_flow(status_flow.pk) >= 30  # the seeded Order Records (no ShopOrderId)
    run_worker()
    assert not SyncRecord.objects.exists()
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}


def test_domino_product_changes_reach_prestashop_sanitised(setup, simulators):
    flow = Flow.objects.get(name=demo.DOMINO_PRODUCTS_FLOW)
    start_polls_now(demo.DOMINO_PRODUCTS_FLOW)
    unid = next(d.unid for d in simulators.domino.documents.values() if d.form == "Product" and d.items["SKU"] == "SKU-0042")
    requests.post(f"{simulators.url}/domino/_sim/documents/{unid}", timeout=5, json={
        "Name": "Café Kettle", "Price": 31.5,
        "Description": {"type": "richtext", "contentType": "text/html",
                        "data": "<p onmouseover='x()'>Boils <b>fast</b><script>alert(1)</script></p>"}}).raise_for_status()
    assert jobs.poll_flow(flow.pk) == 1
    run_worker()
    record = SyncRecord.objects.get(flow=flow)
    assert record.status == SyncRecord.Status.SYNCED, record.error
    product = simulators.prestashop.db["products"][int(record.target_id)]
    assert product["reference"] == "SKU-0042" and float(product["price"]) == 31.5
    assert product["name"][1] == "Café Kettle"
    assert product["description"][1] == "<p>Boils <b>fast</b></p>"


def test_customers_both_ways_without_duplicates_or_echoes(setup, simulators):
    start_polls_now(demo.PS_CUSTOMERS_FLOW, demo.DOMINO_CUSTOMERS_FLOW)
    ps_flow, domino_flow = (Flow.objects.get(name=n) for n in (demo.PS_CUSTOMERS_FLOW, demo.DOMINO_CUSTOMERS_FLOW))
    shop = setup["prestashop"].connector()
    # A customer edits their name in the shop (through the Webservice, as the shop's back office would).
    customer = next(c for c in simulators.prestashop.db["customers"].values()
                    if any(d.items.get("Email") == c["email"] for d in simulators.domino.documents.values()))
    time.sleep(1)  # date_upd has whole seconds: the change must be after the cursor's second
    shop.upsert_customer({"email": customer["email"], "firstname": "Ada", "lastname": customer["lastname"]})
    assert jobs.poll_flow(ps_flow.pk) == 1
    run_worker()
    documents = [d for d in simulators.domino.documents.values() if d.form == "Customer" and d.items["Email"] == customer["email"]]
    assert len(documents) == 1 and documents[0].items["FirstName"] == "Ada"
    assert jobs.poll_flow(domino_flow.pk) == 1  # the hub's own write, polled back ...
    run_worker()
    assert InboundEvent.objects.filter(connection=setup["domino"]).latest("id").status == InboundEvent.Status.IGNORED
    assert not SyncRecord.objects.filter(flow=domino_flow).exists()  # ... and not sent to the shop again

    # A clerk changes a customer in Notes: the shop follows, its own change is not polled back as news.
    requests.post(f"{simulators.url}/domino/_sim/documents/{documents[0].unid}", json={"LastName": "Lovelace"},
                  timeout=5).raise_for_status()
    assert jobs.poll_flow(domino_flow.pk) == 1
    run_worker()
    assert simulators.prestashop.db["customers"][customer["id"]]["lastname"] == "Lovelace"
    assert jobs.poll_flow(ps_flow.pk) == 1  # the hub's write moved date_upd ...
    run_worker()
    assert InboundEvent.objects.filter(connection=setup["prestashop"]).latest("id").status == InboundEvent.Status.IGNORED
    assert SyncRecord.objects.filter(flow=ps_flow).count() == 1  # ... and is not taken for news
    same_email = [c for c in simulators.prestashop.db["customers"].values() if c["email"] == customer["email"]]
    assert len(same_email) == 1
