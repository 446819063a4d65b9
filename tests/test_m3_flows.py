"""M3 back to the store: order status and shipments through ION BODs, stock by polling."""

import json
import time
import zlib

import pytest
import requests

from connectors.infor_m3 import bod
from hub import demo, jobs, polling
from connectors.infor_m3.simulator import M3Simulator
from connectors.simulators import SimulatorServer
from hub.models import Flow, Link
from monitoring.models import InboundEvent, SyncRecord
from tests.helpers import run_worker, signed_post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture
def setup(simulators):
    config = demo.seed(simulators.url)
    # The payment flow reacts to the same orders; its own test is in test_payments.py.
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    return config


def deliver_order(client, setup, simulators):
    """Place an order in the store and run it through the order flow; return (X-Cart id, M3 ORNO)."""
    order = requests.post(f"{simulators.url}/xcart/_sim/orders", timeout=5, json={
        "email": "ada.lovelace@example.org", "firstname": "Ada", "lastname": "Lovelace",
        "address": {"street": "12 St James's Square", "city": "London", "zipcode": "SW1Y 4JH", "country_code": "GB"},
        "items": [{"sku": "SKU-0001", "amount": 2}]}).json()
    signed_post(client, demo.XCART_SLUG, {"type": "order.created", "data": order}, setup["webhook_secret"])
    run_worker()
    xcart_id = str(order["order_id"])
    return xcart_id, Link.objects.get(entity="order", source_id=xcart_id).target_id


def ims_post(client, slug, xml: bytes, token: str, message_id="msg-1", deflate=False):
    parameters = {"documentName": "Sync.Shipment", "messageId": message_id, "encoding": "DEFLATE" if deflate else "NONE"}
    payload = zlib.compress(xml) if deflate else xml
    from django.core.files.uploadedfile import SimpleUploadedFile
    return client.post(f"/ion/{slug}/v3/multipartMessage", {
        "ParameterRequest": json.dumps(parameters),
        "MessagePayload": SimpleUploadedFile("payload.xml", payload, content_type="application/xml"),
    }, headers={"Authorization": f"Bearer {token}"})


def test_m3_shipment_pushed_through_ion_updates_the_store(live_server, client, setup, simulators):
    xcart_id, orno = deliver_order(client, setup, simulators)
    requests.post(f"{simulators.url}/ionapi/_sim/ion", timeout=5, json={
        "url": f"{live_server.url}/ion/{demo.M3_SLUG}/v3/multipartMessage", "token": setup["ion_token"]})
    answer = requests.post(f"{simulators.url}/ionapi/_sim/orders/{orno}/status", timeout=5,
                           json={"status": "66", "carrier": "UPS", "tracking": "1Z999AA10123456784"})
    assert answer.json()["published"] == ["Sync.SalesOrder", "Sync.Shipment"]
    deadline = time.monotonic() + 10
    while InboundEvent.objects.filter(origin=InboundEvent.Origin.MESSAGE).count() < 2:
        assert time.monotonic() < deadline, "ION never delivered the BODs"
        time.sleep(0.05)
    run_worker()

    order = simulators.xcart.orders[int(xcart_id)]
    assert order["shippingStatus"]["code"] == "S"
    assert order["trackingNumbers"] == [{"value": "1Z999AA10123456784"}]
    shipment = SyncRecord.objects.get(flow__name=demo.SHIPMENT_FLOW)
    assert shipment.status == SyncRecord.Status.SYNCED and shipment.target_id == xcart_id


def test_ims_endpoint_contract(client, setup):
    xml = bod.build("Shipment", bod_id="b-1", logical_id="lid://infor.m3.m3", orno="1000000001", status="66",
                    shipment="D1", carrier="DHL", tracking="JD0001")
    token = setup["ion_token"]
    assert client.get(f"/ion/{demo.M3_SLUG}/service/ping", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert ims_post(client, demo.M3_SLUG, xml, "wrong").status_code == 401
    assert ims_post(client, demo.XCART_SLUG, xml, token).status_code == 404  # not an M3 connection
    refused = ims_post(client, demo.M3_SLUG, b"<SyncShipment><oops>", token)
    assert refused.status_code == 400 and "not well-formed" in refused.json()["detail"]
    entity_bomb = b'<!DOCTYPE x [<!ENTITY a "b">]><SyncShipment>&a;</SyncShipment>'
    assert ims_post(client, demo.M3_SLUG, entity_bomb, token).status_code == 400
    first = ims_post(client, demo.M3_SLUG, xml, token, deflate=True)
    assert first.status_code == 202
    again = ims_post(client, demo.M3_SLUG, xml, token)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    event = InboundEvent.objects.get()
    assert (event.topic, event.source_id, event.origin) == ("shipment.synced", "1000000001", "message")


def test_status_of_an_order_the_hub_never_linked_fails_clearly(client, setup):
    xml = bod.build("SalesOrder", bod_id="b-2", logical_id="lid://infor.m3.m3", orno="1999999999", status="33")
    assert ims_post(client, demo.M3_SLUG, xml, setup["ion_token"], message_id="m-2").status_code == 202
    run_worker()
    record = SyncRecord.objects.get()
    assert record.status == SyncRecord.Status.FAILED and "no X-Cart order is linked" in record.error


def prestashop_stock(shop, reference):
    product = next(p for p in shop.db["products"].values() if p["reference"] == reference)
    return int(next(s["quantity"] for s in shop.db["stock_availables"].values() if s["id_product"] == str(product["id"])))


@pytest.fixture
def small_m3():
    """An M3 with five items (the seeded one has 1,000: a fine benchmark, a slow test)."""
    with SimulatorServer(ionapi=M3Simulator(seed=False)) as server:
        seed = demo.seed(server.url)
        m3 = seed["m3"].connector()
        for n in range(1, 6):
            m3.mi("MMS200MI", "AddItmBasic", {"ITNO": f"SKU-000{n}", "ITDS": f"Item {n}"})
            for whlo, quantity in (("100", n * 10), ("200", n), ("300", 0)):
                requests.post(f"{server.url}/ionapi/_sim/stock", json={"WHLO": whlo, "ITNO": f"SKU-000{n}", "STQT": quantity},
                              timeout=5).raise_for_status()
        yield server


def test_stock_is_polled_summed_over_warehouses_and_only_changes_are_sent(small_m3):
    simulators = small_m3
    flow = Flow.objects.get(name=demo.STOCK_FLOW)
    m3, xcart = simulators.m3, simulators.xcart

    def allocatable(itno):
        return sum(int(m3.balances[w][itno]["ALOC"]) for w in ("100", "200", "300"))

    def amount(sku):
        return next(p["amount"] for p in xcart.products.values() if p["sku"] == sku)

    assert jobs.poll_flow(flow.pk) == 5  # the initial load: every item once, queued
    run_worker()
    assert SyncRecord.objects.filter(flow=flow, status=SyncRecord.Status.SYNCED).count() == 5
    # the same stock events feed PrestaShop too
    to_prestashop = SyncRecord.objects.filter(flow__name=demo.M3_STOCK_TO_PS_FLOW)
    assert to_prestashop.filter(status=SyncRecord.Status.SYNCED).count() == 5
    assert prestashop_stock(simulators.prestashop, "SKU-0003") == 33
    assert [amount(f"SKU-000{n}") for n in range(1, 6)] == [n * 11 for n in range(1, 6)]

    assert polling.poll_flow(flow.pk) == []  # nothing changed, nothing sent
    before = allocatable("SKU-0002")
    assert amount("SKU-0002") == before
    requests.post(f"{simulators.url}/ionapi/_sim/stock", json={"WHLO": "200", "ITNO": "SKU-0002", "STQT": 500}, timeout=5)
    assert jobs.poll_flow(flow.pk) == 1
    run_worker()
    assert amount("SKU-0002") == allocatable("SKU-0002") != before
    # Back to the old value: still a change (5 -> 4 -> 5 must not be lost).
    requests.post(f"{simulators.url}/ionapi/_sim/stock", json={"WHLO": "200", "ITNO": "SKU-0002", "STQT": 0}, timeout=5)
    assert len(polling.poll_flow(flow.pk)) == 1


def test_stock_poll_failure_is_recorded_on_the_flow(setup, simulators):
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"down": True}, timeout=5)
    flow = Flow.objects.get(name=demo.STOCK_FLOW)
    assert polling.poll_flow(flow.pk) == []
    flow.refresh_from_db()
    assert "HTTP 503" in flow.last_poll_error and flow.poll_cursor == ""


def test_without_ion_order_status_is_polled_for_linked_orders_only(client, setup, simulators):
    xcart_id, orno = deliver_order(client, setup, simulators)
    Flow.objects.filter(name=demo.STATUS_POLL_FLOW).update(enabled=True)
    flow = Flow.objects.get(name=demo.STATUS_POLL_FLOW)
    requests.post(f"{simulators.url}/ionapi/_sim/orders/{orno}/status", json={"status": "33"}, timeout=5)
    assert jobs.poll_flow(flow.pk) == 1  # the first snapshot of the one order in M3
    run_worker()
    assert simulators.xcart.orders[int(xcart_id)]["shippingStatus"]["code"] == "P"
    assert jobs.poll_flow(flow.pk) == 0  # unchanged
    # An order entered in M3 by hand (not from the store) moves: nothing to do, nothing failed.
    m3 = setup["m3"].connector()
    batch = m3.mi("OIS100MI", "AddBatchHead", {"CUNO": next(iter(simulators.m3.customers)), "CUOR": "PHONE-1"})[0]["ORNO"]
    m3.mi("OIS100MI", "AddBatchLine", {"ORNO": batch, "ITNO": "SKU-0001", "ORQT": 1})
    m3.mi("OIS100MI", "Confirm", {"ORNO": batch})
    jobs.poll_flow(flow.pk)
    run_worker()
    assert not SyncRecord.objects.filter(flow=flow, status=SyncRecord.Status.FAILED).exists()
    assert SyncRecord.objects.filter(flow=flow).count() == 1
