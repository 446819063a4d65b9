"""End to end: an X-Cart order becomes one confirmed M3 sales order.

Everything here is real: webhooks through the Django view, jobs through Redis and an RQ worker,
and HTTP over 127.0.0.1 to the X-Cart and M3 simulators.
"""

import copy
import json
import socket
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import User
from django.db import connection as db

from connectors.infor_m3.simulator import demo_ionapi
from connectors.models import Connection
from connectors.simulators import SimulatorServer
from hub import demo
from hub.models import Flow, Link
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord
from tests.helpers import run_worker, signed_post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

FIXTURE = json.loads((Path(__file__).parents[1] / "connectors/xcart/fixtures/orders__created.json").read_text())


@pytest.fixture
def setup(simulators):
    config = demo.seed(simulators.url)
    # The payment flow reacts to the same orders; its own test is in test_payments.py.
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    return config


def order_payload(order_id=7001, **changes):
    payload = copy.deepcopy(FIXTURE)
    payload["data"].update(order_id=order_id, orderNumber=str(order_id), **changes)
    return payload


def m3_orders(setup, email="ada.lovelace@example.org"):
    """Confirmed M3 orders of the customer with that e-mail, read back over the MI API."""
    m3 = Connection.objects.get(pk=setup["m3"].pk).connector()
    cuno = m3.find_customer_by_email(email)
    assert cuno, f"no M3 customer with e-mail {email}"
    return m3, cuno, m3.mi("OIS100MI", "LstHead", {"CUNO": cuno}, maxrecs=0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_order_webhook_becomes_one_confirmed_m3_order(client, setup):
    response = signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])
    assert response.status_code == 202, response.content
    event = InboundEvent.objects.get(pk=response.json()["id"])
    assert event.topic == "order.created" and event.source_id == "7001"

    run_worker()

    record = SyncRecord.objects.get(event=event)
    assert record.status == SyncRecord.Status.SYNCED, record.error
    m3, cuno, orders = m3_orders(setup)
    assert [o["CUOR"] for o in orders] == ["7001"]
    orno = orders[0]["ORNO"]
    assert record.target_id == orno
    head = m3.mi("OIS100MI", "GetHead", {"ORNO": orno})[0]
    assert head["CUNO"] == cuno and head["ORST"] == "22" and head["MODL"] == "EXP"
    lines = sorted(m3.mi("OIS100MI", "LstLine", {"ORNO": orno}), key=lambda line: line["ITNO"])
    assert [(line["ITNO"], float(line["ORQT"]), float(line["SAPR"])) for line in lines] == [
        ("SKU-0001", 3.0, 19.95), ("SKU-0042", 2.0, 28.8)]
    customer = m3.mi("CRS610MI", "GetBasicData", {"CUNO": cuno})[0]
    assert customer["CUNM"] == "Ada Lovelace" and customer["TOWN"] == "London" and customer["CSCD"] == "GB"
    link = Link.objects.get(entity="order", source_id="7001")
    assert (link.source_connection, link.target_connection, link.target_id) == (setup["xcart"], setup["m3"], orno)
    attempt = record.attempts.get()
    assert attempt.outcome == SyncAttempt.Outcome.DELIVERED
    calls = [x["call"] for x in attempt.exchanges]
    assert calls[-3:] == ["OIS100MI/AddBatchLine", "OIS100MI/AddBatchLine", "OIS100MI/Confirm"]
    assert "CRS610MI/Add" in calls  # a new customer
    assert InboundEvent.objects.get(pk=event.pk).status == InboundEvent.Status.PROCESSED


def test_repeat_delivery_makes_no_second_order(client, setup):
    payload, secret = order_payload(), setup["webhook_secret"]
    first = signed_post(client, demo.XCART_SLUG, payload, secret, webhook_id="msg_same")
    run_worker()
    again = signed_post(client, demo.XCART_SLUG, payload, secret, webhook_id="msg_same")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"id": first.json()["id"], "status": "processed", "duplicate": True}
    assert InboundEvent.objects.count() == 1
    # The add-on resending the same order under a new webhook id is a new event, but the link
    # says it was delivered: no second M3 order.
    resent = signed_post(client, demo.XCART_SLUG, payload, secret, webhook_id="msg_resent")
    assert resent.status_code == 202
    run_worker()
    _, _, orders = m3_orders(setup)
    assert len(orders) == 1
    record = SyncRecord.objects.get(event_id=resent.json()["id"])
    assert record.status == SyncRecord.Status.SYNCED
    assert record.attempts.get().outcome == SyncAttempt.Outcome.ALREADY_LINKED


def test_store_addon_push_reaches_m3(live_server, setup, simulators):
    """The X-Cart simulator, acting as the store add-on, pushes a signed webhook when an order is placed."""
    requests.post(f"{simulators.url}/xcart/_sim/addon", timeout=5, json={
        "webhook_url": f"{live_server.url}/webhooks/{demo.XCART_SLUG}/", "webhook_secret": setup["webhook_secret"]})
    placed = requests.post(f"{simulators.url}/xcart/_sim/orders", timeout=5, json={
        "email": "grace.hopper@example.org", "firstname": "Grace", "lastname": "Hopper",
        "address": {"street": "1 Navy Way", "city": "Arlington", "zipcode": "22202", "country_code": "US"},
        "items": [{"sku": "SKU-0007", "amount": 4}]})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    deadline = time.monotonic() + 10
    while not InboundEvent.objects.filter(source_id=str(order["order_id"])).exists():
        assert time.monotonic() < deadline, "the add-on push never arrived"
        time.sleep(0.05)
    run_worker()
    record = SyncRecord.objects.get(source_id=str(order["order_id"]))
    assert record.status == SyncRecord.Status.SYNCED, record.error
    m3, _, orders = m3_orders(setup, "grace.hopper@example.org")
    assert [o["CUOR"] for o in orders] == [order["orderNumber"]]
    line = m3.mi("OIS100MI", "LstLine", {"ORNO": orders[0]["ORNO"]})[0]
    assert (line["ITNO"], float(line["ORQT"]), float(line["SAPR"])) == ("SKU-0007", 4.0, order["items"][0]["price"])


def test_thin_push_is_completed_from_the_store(client, setup, simulators):
    placed = requests.post(f"{simulators.url}/xcart/_sim/orders", timeout=5, json={
        "email": "alan.turing@example.org", "firstname": "Alan", "lastname": "Turing",
        "address": {"street": "Bletchley Park", "city": "Milton Keynes", "zipcode": "MK3 6EB", "country_code": "GB"},
        "items": [{"sku": "SKU-0100", "amount": 1}]}).json()
    thin = {"type": "order.created", "data": {"order_id": placed["order_id"]}}
    assert signed_post(client, demo.XCART_SLUG, thin, setup["webhook_secret"]).status_code == 202
    run_worker()
    record = SyncRecord.objects.get(source_id=str(placed["order_id"]))
    assert record.status == SyncRecord.Status.SYNCED, record.error
    assert record.mapped["lines"] == [{"ITNO": "SKU-0100", "ORQT": 1, "SAPR": f"{placed['items'][0]['price']:.2f}"}]


def test_m3_unreachable_at_first_is_retried_then_delivered_once(client, setup, fast_retries):
    port = free_port()  # nothing listens here yet: connection refused
    m3 = setup["m3"]
    m3.set_secret("ionapi", json.dumps(demo_ionapi(f"http://127.0.0.1:{port}/ionapi")))
    m3.save()
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])

    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)  # the first try only
    record = SyncRecord.objects.get()
    assert record.status == SyncRecord.Status.RETRYING
    first = record.attempts.get()
    assert first.outcome == SyncAttempt.Outcome.TRANSIENT and "unreachable" in first.error
    assert "connection refused" in first.error

    server = SimulatorServer(port=port).start()  # M3 is back
    try:
        run_worker()
        record.refresh_from_db()
        assert record.status == SyncRecord.Status.SYNCED, record.error
        assert record.attempt_count >= 2
        orders = server.m3.orders
        assert [o["CUOR"] for o in orders.values()] == ["7001"]
    finally:
        server.stop()


def test_m3_5xx_and_429_are_retried(client, setup, simulators, fast_retries):
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"fail_next": 2, "fail_status": 503}, timeout=5)
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])
    run_worker()
    record = SyncRecord.objects.get()
    assert record.status == SyncRecord.Status.SYNCED, record.error
    outcomes = list(record.attempts.values_list("outcome", flat=True))
    assert outcomes == ["transient", "transient", "delivered"]
    assert "HTTP 503" in record.attempts.first().error
    assert len(m3_orders(setup)[2]) == 1


def test_retries_used_up_leave_a_failed_record(client, setup, simulators, fast_retries):
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"down": True}, timeout=5)
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])
    run_worker()
    record = SyncRecord.objects.get()
    assert record.status == SyncRecord.Status.FAILED
    assert record.attempt_count == fast_retries
    assert "dead-lettered after 4 attempts" in record.attempts.last().note
    assert record.attempts.last().outcome == SyncAttempt.Outcome.GAVE_UP
    assert "HTTP 503" in record.error
    assert Connection.objects.get(pk=setup["m3"].pk).last_error == record.error


def test_business_error_fails_at_once_then_replay_from_admin_delivers(client, setup, fast_retries):
    payload = order_payload()
    payload["data"]["items"][1]["sku"] = "SKU-9999"
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    record = SyncRecord.objects.get()
    assert record.status == SyncRecord.Status.FAILED
    assert record.attempt_count == 1  # no retry: retrying cannot create the item
    assert "OIS100MI/AddBatchLine" in record.error and "SKU-9999 does not exist" in record.error
    assert InboundEvent.objects.get().status == InboundEvent.Status.FAILED

    m3 = Connection.objects.get(pk=setup["m3"].pk).connector()
    m3.mi("MMS200MI", "AddItmBasic", {"ITNO": "SKU-9999", "ITDS": "Gift card"})
    User.objects.create_superuser("operator", "op@example.org", "pw")
    client.login(username="operator", password="pw")
    response = client.post("/admin/monitoring/syncrecord/", {"action": "replay", "_selected_action": [record.pk]})
    assert response.status_code == 302
    run_worker()

    record.refresh_from_db()
    assert record.status == SyncRecord.Status.SYNCED, record.error
    assert list(record.attempts.values_list("outcome", flat=True)) == ["permanent", "delivered"]
    _, _, orders = m3_orders(setup)
    assert len(orders) == 1
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


def test_retry_after_unknown_outcome_finds_the_order_by_cuor(client, setup):
    """The order reached M3 but the hub never recorded it (worker died): no second order."""
    signed_post(client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"])
    run_worker()
    record = SyncRecord.objects.get()
    orno = record.target_id
    Link.objects.all().delete()  # as if the worker died between M3's answer and the commit
    SyncRecord.objects.filter(pk=record.pk).update(status=SyncRecord.Status.PENDING, target_id="")
    from hub import jobs
    jobs.enqueue_replay(record.pk)
    run_worker()
    record.refresh_from_db()
    assert record.status == SyncRecord.Status.SYNCED and record.target_id == orno
    assert "already in M3" in record.attempts.last().note
    assert len(m3_orders(setup)[2]) == 1
    assert Link.objects.get().target_id == orno


def test_secret_is_encrypted_in_the_database(setup):
    with db.cursor() as cursor:
        cursor.execute("SELECT secrets FROM connectors_connection WHERE slug = %s", [demo.XCART_SLUG])
        raw = bytes(cursor.fetchone()[0])
    assert setup["webhook_secret"].encode() not in raw and b"demo-xcart-key" not in raw
    assert b"webhook_secret" not in raw  # not even the names are readable
    assert Connection.objects.get(slug=demo.XCART_SLUG).secret("api_key") == "demo-xcart-key"


def test_edit_and_replay_fixes_a_bad_payload_and_keeps_the_original(client, setup):
    payload = order_payload()
    payload["data"]["items"][0]["sku"] = "sku-0001 "  # the store sent a malformed SKU
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    record = SyncRecord.objects.get(flow__name=demo.ORDER_FLOW)
    assert record.status == SyncRecord.Status.FAILED and "sku-0001" in record.error
    User.objects.create_superuser("operator", "op@example.org", "pw")
    client.login(username="operator", password="pw")
    page = client.get(f"/admin/monitoring/syncrecord/{record.pk}/edit-replay/")
    assert page.status_code == 200 and "sku-0001 " in page.content.decode()

    refused = client.post(f"/admin/monitoring/syncrecord/{record.pk}/edit-replay/", {"record": "{not json"})
    assert refused.status_code == 200 and "not valid JSON" in refused.content.decode()
    fixed = json.loads(json.dumps(payload["data"]))
    fixed["items"][0]["sku"] = "SKU-0001"
    saved = client.post(f"/admin/monitoring/syncrecord/{record.pk}/edit-replay/", {"record": json.dumps(fixed)})
    assert saved.status_code == 302
    run_worker()
    record.refresh_from_db()
    assert record.status == SyncRecord.Status.SYNCED, record.error
    assert record.source_override_by == "operator"
    assert json.loads(InboundEvent.objects.get().body)["data"]["items"][0]["sku"] == "sku-0001 "  # as sent
    _, _, orders = m3_orders(setup)
    assert len(orders) == 1
    trace = client.get(f"/admin/monitoring/syncrecord/{record.pk}/change/").content.decode()
    assert "Corrected source record" in trace and "SKU-0001" in trace


def test_replay_needs_the_change_permission(client, setup):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_syncrecord"))
    client.login(username="viewer", password="pw")
    listing = client.get("/admin/monitoring/syncrecord/").content.decode()
    assert "Replay selected records" not in listing
