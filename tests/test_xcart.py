"""Contract of the X-Cart connector against its simulator, over HTTP."""

import pytest
import requests

from connectors.base import ConnectorError
from connectors.models import Connection
from connectors.xcart.simulator import DEMO_API_KEY


@pytest.fixture
def xcart(simulators):
    connection = Connection(pk=1, name="Store", slug="store", kind="xcart", auth_kind="api_token",
                            base_url=f"{simulators.url}/xcart")
    connection.set_secret("api_key", DEMO_API_KEY)
    return connection


def place(simulators, n, start=1_700_000_000):
    return [requests.post(f"{simulators.url}/xcart/_sim/orders", timeout=5, json={
        "email": f"buyer{i}@example.org", "firstname": "B", "lastname": str(i),
        "items": [{"sku": "SKU-0001", "amount": 1}], "date": start + i // 2}).json() for i in range(n)]


def poll_all(connector, cursor=None, limit=3):
    seen, more = [], True
    while more:
        page = connector.poll("order", cursor, limit=limit)
        seen += [connector.record_id("order", r) for r in page.records]
        cursor, more = page.cursor, page.more
    return seen, cursor


def test_poll_pages_through_every_order_and_resumes_from_its_cursor(xcart, simulators):
    place(simulators, 8)  # two orders per second: pages cut through seconds
    connector = xcart.connector()
    seen, cursor = poll_all(connector)
    assert set(seen) == {str(i) for i in range(1, 9)}
    connector.update_shipping({"code": "P"}, target_id="3")
    again, _ = poll_all(connector, cursor)
    assert "3" in again and "1" not in again


def test_writes_shipping_tracking_and_stock(xcart, simulators):
    order = place(simulators, 1)[0]
    connector = xcart.connector()
    result = connector.update_shipping({"code": "S", "tracking_number": "1Z1"}, target_id=str(order["order_id"]))
    stored = simulators.xcart.orders[order["order_id"]]
    assert stored["shippingStatus"]["code"] == "S" and stored["trackingNumbers"] == [{"value": "1Z1"}]
    assert "tracking 1Z1" in result.note
    assert connector.update_stock({"sku": "SKU-0010", "amount": 7}).target_id == "10"
    assert simulators.xcart.products[10]["amount"] == 7
    with pytest.raises(ConnectorError, match="no product with SKU 'NOPE'") as missing:
        connector.update_stock({"sku": "NOPE", "amount": 1})
    assert missing.value.permanent


def test_error_classes(xcart, simulators, settings):
    connector = xcart.connector()
    xcart.set_secret("api_key", "wrong")
    with pytest.raises(ConnectorError) as refused:
        connector.test_connection()
    assert refused.value.permanent and "Invalid or missing X-Auth-Token" in refused.value.message
    xcart.set_secret("api_key", DEMO_API_KEY)
    with pytest.raises(ConnectorError, match="HTTP 404") as missing:
        connector.fetch("order", "999")
    assert missing.value.permanent
    faults = f"{simulators.url}/xcart/_control/faults"
    requests.post(faults, json={"rate_limit_rate": 1.0, "retry_after": 7}, timeout=5)
    with pytest.raises(ConnectorError) as limited:
        connector.fetch("order", "1")
    assert not limited.value.permanent and limited.value.retry_after == 7
    requests.post(faults, json={"rate_limit_rate": 0.0, "timeout_rate": 1.0, "timeout_seconds": 3}, timeout=5)
    settings.HUB_HTTP_TIMEOUT = (1, 0.5)
    with pytest.raises(ConnectorError, match="did not answer in time") as slow:
        connector.fetch("order", "1")
    assert not slow.value.permanent
    requests.post(f"{simulators.url}/xcart/_control/reset", timeout=5)


def test_tls_trouble_is_named_and_not_retried(xcart, simulators):
    xcart.base_url = xcart.base_url.replace("http://", "https://")  # the sandbox speaks plain HTTP
    with pytest.raises(ConnectorError) as tls:
        xcart.connector().test_connection()
    assert tls.value.permanent and "TLS handshake failed (wrong version number)" in tls.value.message


# --- the legacy REST API add-on (X-Cart 5.0 - 5.4) -------------------------------------------------

@pytest.fixture
def legacy(simulators):
    from connectors.xcart.legacy_simulator import DEMO_LEGACY_KEY

    connection = Connection(pk=2, name="Old store", slug="old", kind="xcart", auth_kind="legacy_key",
                            base_url=f"{simulators.url}/xcart")
    connection.set_secret("api_key", DEMO_LEGACY_KEY)
    return connection


def test_legacy_key_failures_say_what_is_wrong(legacy, simulators):
    from connectors.xcart.legacy_simulator import DEMO_LEGACY_READ_KEY

    assert "REST API add-on answered" in legacy.connector().test_connection()
    legacy.set_secret("api_key", "wrong")
    with pytest.raises(ConnectorError, match="refused the key") as refused:
        legacy.connector().test_connection()
    assert refused.value.permanent
    legacy.set_secret("api_key", DEMO_LEGACY_READ_KEY)  # reads work, writes do not
    connector = legacy.connector()
    assert connector.fetch("product", "3")["sku"] == "SKU-0003"
    with pytest.raises(ConnectorError, match="read-only key used for a write"):
        connector.update_stock({"amount": 1}, target_id="3")
    exchange = connector.http.exchanges[-1]
    assert DEMO_LEGACY_READ_KEY not in exchange["url"] and "_key=***" in exchange["url"]  # masked in the log


def test_legacy_polls_by_date_range_and_last_renew_date(legacy, simulators):
    orders = place(simulators, 5, start=int(__import__("time").time()) - 3600)
    connector = legacy.connector()
    first = connector.poll("order", None)
    assert [o["order_id"] for o in first.records] == [o["order_id"] for o in orders]
    connector.update_shipping({"code": "S", "tracking_number": "JD01"}, target_id=str(orders[2]["order_id"]))
    again = connector.poll("order", first.cursor)
    seen = {connector.record_version("order", o) for o in first.records}
    news = [o["order_id"] for o in again.records if connector.record_version("order", o) not in seen]
    assert news == [orders[2]["order_id"]]  # the cursor's own second comes back too, already seen
    assert simulators.xcart.orders[orders[2]["order_id"]]["trackingNumbers"] == [{"value": "JD01"}]


def test_legacy_bad_input_carries_the_add_ons_reason(legacy, simulators):
    with pytest.raises(ConnectorError, match="Input data is incorrect") as bad:
        legacy.connector()._call("GET", "order", params={"_cnd[orderBy][0]": "date", "_cnd[orderBy][1]": "sideways"})
    assert bad.value.permanent and bad.value.status == 400
    # the method override of the add-on: a GET carrying _method=PUT is a write
    from connectors.xcart.legacy_simulator import DEMO_LEGACY_READ_KEY
    answer = requests.get(f"{simulators.url}/xcart/admin.php", timeout=5, params={
        "target": "RESTAPI", "_key": DEMO_LEGACY_READ_KEY, "_path": "product/1", "_method": "PUT"})
    assert answer.status_code == 403 and answer.content == b""


def test_a_short_retry_after_is_waited_out_once(xcart, simulators):
    requests.post(f"{simulators.url}/xcart/_control/faults",
                  json={"fail_next": 1, "fail_status": 429, "retry_after": 1}, timeout=5)
    connector = xcart.connector()
    assert connector.fetch("product", "1")["sku"] == "SKU-0001"
    assert [x["status"] for x in connector.http.exchanges] == [429, 200]
