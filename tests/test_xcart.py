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
