"""The generic REST connector, configured (not coded) to speak to the X-Cart simulator's JSON API."""

import pytest
import requests

from connectors.base import ConnectorError
from connectors.models import Connection

SETTINGS = {
    "auth_header": "X-Auth-Token",
    "entities": {
        "order": {"list": "/orders", "get": "/orders/{id}", "id_field": "order_id", "version_field": "lastRenewDate",
                  "records_at": "", "since_param": "lastRenewDate[after]", "page_param": "page",
                  "size_param": "itemsPerPage", "extra_params": {"order[lastRenewDate]": "asc"}},
        "product": {"list": "/products", "get": "/products/{id}", "update": "/products/{id}", "id_field": "product_id",
                    "size_param": "itemsPerPage"},
    },
}


@pytest.fixture
def generic(simulators):
    connection = Connection(pk=1, name="Any JSON shop", slug="any", kind="generic_rest", auth_kind="api_key_header",
                            base_url=f"{simulators.url}/xcart/api", settings=SETTINGS)
    connection.set_secret("token", "demo-xcart-key")
    return connection


def place(simulators, n):
    for i in range(n):
        requests.post(f"{simulators.url}/xcart/_sim/orders", timeout=5, json={
            "email": f"buyer{i}@example.org", "firstname": "B", "lastname": str(i),
            "items": [{"sku": "SKU-0001", "amount": 1}], "date": 1_700_000_000 + i}).raise_for_status()


def test_polls_every_page_once_and_resumes_from_the_cursor(generic, simulators):
    place(simulators, 7)
    connector = generic.connector()
    seen, cursor, more = [], None, True
    while more:
        page = connector.poll("order", cursor, limit=3)
        seen += [connector.record_id("order", r) for r in page.records]
        cursor, more = page.cursor, page.more
    assert sorted(set(seen), key=int) == [str(i) for i in range(1, 8)]
    requests.put(f"{simulators.url}/xcart/api/orders/2/shipping_status", json={"code": "S"},
                 headers={"X-Auth-Token": "demo-xcart-key"}, timeout=5).raise_for_status()
    again = connector.poll("order", cursor, limit=3)
    assert "2" in [connector.record_id("order", r) for r in again.records]


def test_upsert_updates_the_linked_record(generic, simulators):
    result = generic.connector().perform("product.upsert", {"amount": 42}, target_id="5")
    assert result.target_id == "5" and simulators.xcart.products[5]["amount"] == 42


def test_errors_are_classified_in_the_systems_words(generic, simulators):
    generic.set_secret("token", "wrong")
    with pytest.raises(ConnectorError) as refused:
        generic.connector().test_connection()
    assert refused.value.permanent and "HTTP 401" in refused.value.message
    generic.set_secret("token", "demo-xcart-key")
    assert "answered the list of 'order'" in generic.connector().test_connection()
    with pytest.raises(ConnectorError, match="no entity 'invoice'"):
        generic.connector().perform("invoice.create", {})
    requests.post(f"{simulators.url}/xcart/_control/faults", json={"fail_next": 1, "fail_status": 503}, timeout=5)
    with pytest.raises(ConnectorError) as unavailable:
        generic.connector().fetch("order", "1")
    assert not unavailable.value.permanent


def test_pushes_use_the_standard_webhooks_payload(generic):
    parsed = generic.connector().parse_push({"type": "order.created", "data": {"order_id": 9, "total": 3}}, {})
    assert (parsed.topic, parsed.source_id, parsed.record["total"]) == ("order.created", "9", 3)
    thin = generic.connector().parse_push({"type": "order.updated", "data": {"order_id": 9}}, {})
    assert thin.record is None
    with pytest.raises(ValueError):
        generic.connector().parse_push({"data": {}}, {})
