"""The PrestaShop connector against its simulator, over real HTTP: contract tests, no mocks, no database."""

import json
import socket
from pathlib import Path

import pytest
import requests

from connectors.base import ConnectorError
from connectors.models import Connection
from connectors.prestashop import xml
from connectors.prestashop.connector import PrestaShopConnector
from connectors.prestashop.simulator import (
    DEMO_WS_KEY,
    READ,
    READONLY_WS_KEY,
    PrestaShopSimulator,
)
from connectors.signatures import new_secret, verify
from connectors.simulators import SimulatorServer
from tests.receiver import Receiver

FIXTURE = json.loads((Path(__file__).parents[1] / "connectors/prestashop/fixtures/orders__created.json").read_text())


@pytest.fixture
def server():
    server = SimulatorServer(port=0, prestashop=PrestaShopSimulator()).start()
    yield server
    server.prestashop.faults.reset()  # releases any request a timeout fault still holds
    server.stop()


@pytest.fixture
def shop(server):
    return server.prestashop


def connect(base_url, key=DEMO_WS_KEY, **settings):
    connection = Connection(pk=1, kind="prestashop", auth_kind="ws_key", base_url=base_url, settings=settings)
    connection.set_secret("api_key", key)
    return PrestaShopConnector(connection)


@pytest.fixture
def connector(server):
    return connect(server.url + "/prestashop")


def api(server, path, method="GET", key=DEMO_WS_KEY, **kwargs):
    return requests.request(method, f"{server.url}/prestashop/api/{path}", auth=(key, ""), timeout=5, **kwargs)


def api_json(server, path, **params):
    response = api(server, path, params={"output_format": "JSON", **params})
    assert response.status_code == 200, response.text
    return response.json()


def faults(server, **settings):
    assert requests.post(server.url + "/prestashop/_control/faults", json=settings, timeout=5).status_code == 200


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused(action, *args, **kwargs) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        action(*args, **kwargs)
    return caught.value


# Authentication and test_connection


def test_a_bad_key_is_a_permanent_error_that_says_what_is_wrong(server):
    unknown = refused(connect(server.url + "/prestashop", key="X" * 32).fetch, "order", "1")
    assert unknown.permanent and unknown.status == 401 and unknown.code == "20"
    assert unknown.message.startswith("PrestaShop refused the Webservice key: the key is unknown or not active")
    short = refused(connect(server.url + "/prestashop", key="short").fetch, "order", "1")
    assert "the key does not have 32 characters (Invalid authentication key format)" in short.message

    raw = requests.get(f"{server.url}/prestashop/api/orders", timeout=5)
    assert raw.status_code == 401
    assert raw.headers["WWW-Authenticate"].startswith('Basic realm="Welcome to PrestaShop Webservice')
    assert xml.errors(xml.parse(raw.content)) == [
        (16, "Please enter the authentication key as the login. No password required")]
    by_query = requests.get(f"{server.url}/prestashop/api/orders/1",
                            params={"ws_key": DEMO_WS_KEY, "output_format": "JSON"}, timeout=5)
    assert by_query.json()["order"]["id"] == 1


def test_the_readonly_key_may_read_but_not_write(server):
    readonly = connect(server.url + "/prestashop", key=READONLY_WS_KEY)
    assert readonly.fetch("order", "1")["id"] == 1
    put = refused(readonly.perform, "stock.update", {"reference": "SKU-0001", "quantity": 5})
    assert put.permanent and put.status == 405 and put.code == "25"
    assert put.message.startswith("PrestaShop refused the Webservice key: the key may not use this method on this "
                                  "resource (Method PUT is not allowed for the resource stock_availables")
    post = refused(readonly.perform, "order_state.update", {"id_order": 1, "id_order_state": 4})
    assert post.status == 401 and "the key has no permission for this resource" in post.message
    assert 'Resource of type "order_histories" is not allowed' in post.message


def test_connection_messages(server, shop, connector):
    assert connector.test_connection() == (
        "PrestaShop (Demo Shop) accepted the Webservice key; it may use 11 resources, orders included.")

    bad_key = refused(connect(server.url + "/prestashop", key="Y" * 32).test_connection)
    assert bad_key.permanent and "refused the Webservice key: the key is unknown or not active" in bad_key.message

    url = f"http://127.0.0.1:{free_port()}/shop"
    unreachable = refused(connect(url).test_connection)
    assert not unreachable.permanent
    assert unreachable.message == f"PrestaShop is unreachable (connection refused); tried {url}/api/"

    wrong_path = refused(connect(server.url + "/nowhere").test_connection)
    assert wrong_path.permanent
    assert wrong_path.message.startswith(f"No PrestaShop Webservice at {server.url}/nowhere/api/")

    shop.keys = {**shop.keys, "NOORDERS0PRESTASHOP0SANDBOX00003": {"products": READ}}
    no_orders = refused(connect(server.url + "/prestashop", key="NOORDERS0PRESTASHOP0SANDBOX00003").test_connection)
    assert no_orders.permanent and "it may not read orders" in no_orders.message

    requests.post(server.url + "/prestashop/_sim/webservice", json={"enabled": False}, timeout=5)
    disabled = refused(connector.test_connection)
    assert disabled.permanent and disabled.status == 503 and disabled.code == "22"
    assert disabled.message.startswith("PrestaShop's Webservice is disabled")


# Reading and polling


def test_poll_pages_through_every_product_exactly_once(connector):
    seen, pages, cursor = [], 0, None
    while True:
        page = connector.poll("product", cursor, limit=50)
        pages += 1
        assert len(page.records) <= 50
        seen += [connector.record_id("product", record) for record in page.records]
        cursor = page.cursor
        if not page.more:
            break
        assert pages < 30, "paging does not end"
    # 120 products share one date_upd (a bulk import): more than two pages of ties.
    assert sorted(seen, key=int) == [str(n) for n in range(1, 1001)]
    assert len(seen) == 1000 and pages == 21  # 20 full pages, then an empty one
    assert connector.poll("product", cursor, limit=50).records == []


def test_poll_cursor_brings_back_what_changed(connector):
    products = connector.poll("product", None, limit=1000)
    orders = connector.poll("order", None, limit=100)
    assert (len(products.records), len(orders.records), orders.more) == (1000, 20, False)
    seen = {connector.record_version(e, r) for e, page in (("product", products), ("order", orders)) for r in page.records}

    def news(entity, page):
        """Caught-up polls read their last second again (overlap); what was seen comes back as is."""
        return [r for r in page.records if connector.record_version(entity, r) not in seen]

    assert news("order", connector.poll("order", orders.cursor)) == []

    connector.perform("product.upsert", {"reference": "SKU-0005", "price": 12.5})
    connector.perform("product.upsert", {"reference": "SKU-0700", "name": "Renamed Lamp"})
    connector.perform("order_state.update", {"id_order": 3, "id_order_state": 6})
    connector.perform("order_state.update", {"id_order": 9, "id_order_state": 5})

    changed = news("product", connector.poll("product", products.cursor))
    assert [p["reference"] for p in changed] == ["SKU-0005", "SKU-0700"]
    assert changed[0]["price"] == "12.500000" and changed[1]["name"][0] == {"id": "1", "value": "Renamed Lamp"}
    moved = news("order", connector.poll("order", orders.cursor))
    assert [(o["id"], o["current_state"]) for o in moved] == [(3, "6"), (9, "5")]
    earlier = {o["id"]: connector.record_version("order", o) for o in orders.records}
    assert all(connector.record_version("order", o) != earlier[o["id"]] for o in moved)


def test_stock_is_polled_by_offset_and_starts_over(connector):
    sizes, cursor = [], None
    while True:
        page = connector.poll("stock_available", cursor, limit=400)
        sizes.append(len(page.records))
        cursor = page.cursor
        if not page.more:
            break
    assert sizes == [400, 400, 200] and cursor == "0"
    assert connector.record_version("stock_available", page.records[0]) == f"quantity {page.records[0]['quantity']}"


def test_date_filters_need_date_1(server):
    window = {"filter[date_upd]": "[2024-01-01 00:00:00,2099-12-31 23:59:59]", "output_format": "JSON"}
    refused_answer = api(server, "orders", params=window)
    assert refused_answer.status_code == 400
    [error] = refused_answer.json()["errors"]
    assert error["code"] == 32 and error["message"].startswith("This filter does not exist.")
    assert len(api(server, "orders", params={**window, "date": "1"}).json()["orders"]) == 20


def test_an_empty_list_is_a_bare_json_array(server, connector):
    assert api_json(server, "products", **{"filter[reference]": "[NO-SUCH-SKU]"}) == []
    assert connector.poll("order", "2999-01-01 00:00:00").records == []


def test_lists_filter_sort_display_and_limit(server):
    body = api_json(server, "customers", display="[id,firstname]", sort="[id_DESC]", limit="2,3",
                    **{"filter[firstname]": "[Anna|Ben]"})
    assert [(c["id"], c["firstname"]) for c in body["customers"]] == [(280, "Anna"), (261, "Ben"), (260, "Anna")]
    assert api_json(server, "orders", limit="2") == {"orders": [{"id": 1}, {"id": 2}]}
    assert api_json(server, "orders/1", display="[id,reference]")["orders"][0].keys() == {"id", "reference"}
    for params, code in [({"display": "id"}, 36), ({"display": "[nope]"}, 35), ({"sort": "id"}, 37),
                         ({"sort": "[nope_ASC]"}, 38), ({"limit": "1,2,3"}, 39), ({"schema": "full"}, 28)]:
        answer = api(server, "orders", params={"output_format": "JSON", **params})
        assert (answer.status_code, answer.json()["errors"][0]["code"]) == (400, code), params
    assert api(server, "nothing").status_code == 400
    assert api(server, "carriers/1", method="PUT", data="<prestashop/>").status_code == 405


def test_fetch_gives_the_whole_order(connector):
    order = connector.fetch("order", "1")
    assert order["current_state"] == "2" and len(order["reference"]) == 9 and order["reference"].isupper()
    assert order["associations"]["order_rows"][0]["product_reference"].startswith("SKU-")


# Errors


def test_a_missing_id_is_permanent_in_prestashops_words(connector):
    missing = refused(connector.fetch, "order", "99999")
    assert missing.permanent and missing.status == 404 and missing.code == "87"
    assert missing.message == "PrestaShop answered HTTP 404: Id(s) not exists: 99999 (code 87)"


def test_server_errors_and_rate_limits_are_transient(server, connector):
    faults(server, fail_next=1)
    unavailable = refused(connector.fetch, "order", "1")
    assert not unavailable.permanent and unavailable.status == 503

    faults(server, rate_limit_rate=1.0, retry_after=7)
    limited = refused(connector.fetch, "order", "1")
    assert not limited.permanent and limited.status == 429 and limited.retry_after == 7


def test_a_timeout_is_transient(server, connector, settings):
    settings.HUB_HTTP_TIMEOUT = (1, 1)
    faults(server, timeout_rate=1.0, timeout_seconds=5)
    slow = refused(connector.fetch, "order", "1")
    assert not slow.permanent and slow.message.startswith("PrestaShop did not answer in time")


def test_writes_refuse_bad_xml(server):
    broken = api(server, "order_histories", method="POST", data="<prestashop><order_history>")
    assert broken.status_code == 500 and xml.errors(xml.parse(broken.content))[0][0] == 127
    bomb = ('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><prestashop><order_history>'
            "<id_order>&a;</id_order></order_history></prestashop>")
    assert api(server, "order_histories", method="POST", data=bomb).status_code == 500
    with pytest.raises(ValueError, match="DOCTYPE"):
        xml.parse(bomb)
    partial = api(server, "order_carriers/1", method="PUT", data="<prestashop><order_carrier><id>1</id>"
                                                                  "</order_carrier></prestashop>")
    assert partial.status_code == 400  # a PUT replaces the whole object: what is left out is missing
    assert xml.errors(xml.parse(partial.content)) == [(41, 'parameter "id_order" required')]


# Actions


def test_order_state_update_moves_the_order_once(server, connector):
    before = connector.fetch("order", "1")
    result = connector.perform("order_state.update", {"id_order": 1, "id_order_state": 4})
    after = connector.fetch("order", "1")
    assert after["current_state"] == "4" and after["date_upd"] >= before["date_upd"]
    assert result.note == f"order 1: state 2 -> 4 (order history {result.target_id})"
    history = api_json(server, f"order_histories/{result.target_id}")["order_history"]
    assert (history["id_order"], history["id_order_state"]) == ("1", "4")

    again = connector.perform("order_state.update", {"id_order": "1", "id_order_state": "4"})
    assert again.target_id == result.target_id and again.note == "order 1 is already in state 4; nothing sent"
    rows = api_json(server, "order_histories", **{"filter[id_order]": "[1]", "filter[id_order_state]": "[4]"})
    assert len(rows["order_histories"]) == 1


def test_tracking_update(server, connector):
    result = connector.perform("tracking.update", {"id_order": 2, "tracking_number": "1Z999AA10123456784"})
    [carrier] = api_json(server, "order_carriers", display="full", **{"filter[id_order]": "[2]"})["order_carriers"]
    assert carrier["tracking_number"] == "1Z999AA10123456784" and result.target_id == str(carrier["id"])
    again = connector.perform("tracking.update", {"id_order": 2, "tracking_number": "1Z999AA10123456784"})
    assert again.note == "order 2 already has tracking number 1Z999AA10123456784"
    wrong = refused(connector.perform, "tracking.update", {"id_order": 2, "tracking_number": "X", "id_carrier": 99})
    assert wrong.permanent and wrong.message == "PrestaShop order 2 has no order carrier with carrier 99"


def test_stock_update_by_reference(server, connector):
    result = connector.perform("stock.update", {"reference": "SKU-0042", "quantity": 77})
    stock = api_json(server, f"stock_availables/{result.target_id}")["stock_available"]
    assert (stock["id_product"], stock["quantity"]) == ("42", "77")
    assert api_json(server, "products/42")["product"]["quantity"] == "77"
    assert connector.perform("stock.update", {"id_product": 42, "quantity": 77.0}).note == (
        "product 42 already has quantity 77")
    unknown = refused(connector.perform, "stock.update", {"reference": "SKU-NOPE", "quantity": 1})
    assert unknown.permanent and unknown.message == "PrestaShop has no product with reference 'SKU-NOPE'"


def test_product_upsert_creates_then_updates_in_the_connections_language(server, connector):
    created = connector.perform("product.upsert", {"reference": "NEW-0001", "name": "Brand New Lamp",
                                                   "description": "<p>Bright.</p>", "price": 19.9, "weight": 1.5})
    assert created.note == "product NEW-0001 created"
    posted = next(x for x in connector.http.exchanges if x["method"] == "POST")
    assert '<name><language id="1">Brand New Lamp</language>' in posted["request"]
    assert "<manufacturer_name>" not in posted["request"] and "<associations>" not in posted["request"]
    product = api_json(server, f"products/{created.target_id}")["product"]
    assert (product["reference"], product["price"], product["state"], product["active"]) == (
        "NEW-0001", "19.900000", "1", "1")
    assert product["link_rewrite"][0]["value"] == "brand-new-lamp"
    assert product["associations"]["stock_availables"]  # PrestaShop gives a new product its stock row

    updated = connector.perform("product.upsert", {"reference": "NEW-0001", "name": "Brand New Lamp II",
                                                   "price": 24.5})
    assert updated.target_id == created.target_id and updated.note == "product NEW-0001 updated name, price"
    french = connect(server.url + "/prestashop", language_id=2)
    french.perform("product.upsert", {"reference": "NEW-0001", "name": "Lampe toute neuve"})
    document = xml.parse(api(server, f"products/{created.target_id}").content)
    names = {language.get("id"): language.text for language in document.iterfind("product/name/language")}
    assert names == {"1": "Brand New Lamp II", "2": "Lampe toute neuve"}
    assert document.findtext("product/description/language") == "<p>Bright.</p>"  # the PUT kept what it did not change
    assert document.findtext("product/weight") == "1.500000"

    stamp = api_json(server, f"products/{created.target_id}")["product"]["date_upd"]
    unchanged = connector.perform("product.upsert", {"reference": "NEW-0001", "price": "24.500000"})
    assert unchanged.note == "product NEW-0001 unchanged; nothing sent"
    assert api_json(server, f"products/{created.target_id}")["product"]["date_upd"] == stamp


def test_customer_upsert_never_duplicates_an_email(server, connector):
    existing = api_json(server, "customers/5")["customer"]
    found = connector.perform("customer.upsert", {"email": existing["email"].upper(),
                                                  "firstname": existing["firstname"], "lastname": existing["lastname"]})
    assert found.target_id == "5" and found.note.endswith("found; unchanged; nothing sent")

    new = {"email": "zoe.quinn@example.com", "firstname": "Zoe", "lastname": "Quinn"}
    created = connector.perform("customer.upsert", new)
    assert created.note == "customer zoe.quinn@example.com created"
    again = connector.perform("customer.upsert", {**new, "lastname": "Quinn-Smith"})
    assert again.target_id == created.target_id and again.note.endswith("found; updated lastname")
    matches = api_json(server, "customers", display="[id,lastname]", **{"filter[email]": "[zoe.quinn@example.com]"})
    assert matches["customers"] == [{"id": int(created.target_id), "lastname": "Quinn-Smith"}]

    customer = api_json(server, f"customers/{created.target_id}")["customer"]
    assert customer["passwd"].startswith("$2y$") and customer["active"] == "1"
    # Neither the generated password nor the shop's hash and secure key reach the attempt log.
    posted = next(x for x in connector.http.exchanges if x["method"] == "POST")
    assert "<passwd>***</passwd>" in posted["request"]
    connector.fetch("customer", created.target_id)
    logged = json.dumps([x.get("response") for x in connector.http.exchanges] + [posted["request"]])
    assert customer["passwd"] not in logged and customer["secure_key"] not in logged
    assert "<passwd>***</passwd>" in logged and '"passwd": "***"' in logged


def test_address_create_once_per_customer(server, connector):
    payload = {"email": "zoe.quinn@example.com", "firstname": "Zoe", "lastname": "Quinn",
               "address1": "1 Main Street", "postcode": "SW1A 1AA", "city": "London", "country_code": "gb"}
    missing = refused(connector.perform, "address.create", payload)
    assert missing.message == "PrestaShop has no customer with e-mail 'zoe.quinn@example.com'"
    customer = connector.perform("customer.upsert", {k: payload[k] for k in ("email", "firstname", "lastname")})
    added = connector.perform("address.create", payload)
    address = api_json(server, f"addresses/{added.target_id}")["address"]
    assert (address["id_customer"], address["id_country"], address["alias"]) == (customer.target_id, "17", "Address")
    again = connector.perform("address.create", {**payload, "address1": " 1 MAIN street "})
    assert again.target_id == added.target_id and again.note.endswith("already has this address")


# Pushes


def test_parse_push_of_the_module_fixture(connector):
    event = connector.parse_push(FIXTURE, {})
    # An order push carries no customer names: it is completed by fetch, which adds them.
    assert (event.topic, event.source_id, event.record) == ("order.created", "5001", None)
    with_customer = {**FIXTURE, "data": {**FIXTURE["data"], "customer": {"id": 1, "email": "a@b.c"}}}
    assert connector.parse_push(with_customer, {}).record == with_customer["data"]
    thin = connector.parse_push({"action": "update", "entity": "Order", "data": {"id": 1}}, {})
    assert (thin.topic, thin.source_id, thin.record) == ("order.updated", "1", None)
    assert connector.fetch(thin.entity, thin.source_id)["associations"]["order_rows"]
    gone = connector.parse_push({"action": "delete", "entity": "Customer", "data": {"id": 8}}, {})
    assert (gone.topic, gone.record) == ("customer.deleted", {"id": 8})
    with pytest.raises(ValueError, match='"entity" as one of Order, Customer'):
        connector.parse_push({"action": "add", "entity": "Cart", "data": {"id": 1}}, {})
    with pytest.raises(ValueError, match='"action" as add, update or delete'):
        connector.parse_push({"action": "upsert", "entity": "Order", "data": {"id": 1}}, {})


def test_a_storefront_order_is_pushed_signed(server, connector):
    receiver = Receiver()
    secret = new_secret()
    requests.post(server.url + "/prestashop/_sim/module", json={"webhook_url": receiver.url, "webhook_secret": secret},
                  timeout=5)
    try:
        placed = requests.post(server.url + "/prestashop/_sim/orders", timeout=5, json={
            "email": "Grace.Hopper@example.org", "firstname": "Grace", "lastname": "Hopper",
            "address": {"address1": "1 Navy Way", "postcode": "22202", "city": "Arlington", "country_code": "US"},
            "items": [{"reference": "SKU-0007", "quantity": 4}]})
        assert placed.status_code == 201, placed.text
        order = placed.json()["order"]
        [(headers, body)] = receiver.wait_for(1)
        requests.post(server.url + f"/prestashop/_sim/orders/{order['id']}/state", json={"id_order_state": 4},
                      timeout=5)
        requests.post(server.url + "/prestashop/_sim/module", json={"webhook_secret": None}, timeout=5)
        requests.post(server.url + "/prestashop/_sim/orders", timeout=5, json={
            "email": "grace.hopper@example.org", "items": [{"reference": "SKU-0008", "quantity": 1}]})
        deliveries = receiver.wait_for(3)
    finally:
        receiver.stop()

    assert verify(secret, headers, body) == f"prestashop-order-{order['id']}-add"
    event = connector.parse_push(json.loads(body), headers)
    assert (event.topic, event.source_id, event.record) == ("order.created", str(order["id"]), None)
    fetched = connector.fetch("order", event.source_id)
    assert (fetched["customer"]["email"], fetched["customer"]["lastname"]) == ("grace.hopper@example.org", "Hopper")
    assert fetched["delivery_address"]["city"] == "Arlington"
    [row] = fetched["associations"]["order_rows"]
    assert (row["product_reference"], row["product_quantity"]) == ("SKU-0007", "4")
    assert len(order["reference"]) == 9 and order["reference"].isalpha() and order["reference"].isupper()

    state_headers, state_body = deliveries[1]
    assert verify(secret, state_headers, state_body).startswith(f"prestashop-order-{order['id']}-history-")
    update = json.loads(state_body)
    assert (update["action"], update["entity"], update["data"]["current_state"]) == ("update", "Order", "4")
    unsigned_headers, unsigned_body = deliveries[2]
    assert "webhook-signature" not in unsigned_headers
    # The returning customer is found by e-mail, in any case.
    assert json.loads(unsigned_body)["data"]["id_customer"] == order["id_customer"]
