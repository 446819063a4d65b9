"""Contract of the M3 connector against the ION / M3 simulator, over HTTP."""

import json

import pytest
import requests

from connectors.base import ConnectorError
from connectors.infor_m3.ionapi import tokens
from connectors.infor_m3.simulator import demo_ionapi
from connectors.models import Connection


@pytest.fixture
def m3(simulators):
    connection = Connection(pk=7, name="M3", slug="m3", kind="infor_m3", auth_kind="ionapi",
                            settings={"company": "100", "stock_warehouses": ["100", "200", "300"]})
    connection.set_secret("ionapi", json.dumps(demo_ionapi(f"{simulators.url}/ionapi")))
    tokens._tokens.clear()
    return connection


def test_token_is_cached_and_renewed_when_m3_says_it_expired(m3, simulators):
    connector = m3.connector()
    connector.mi("MMS200MI", "GetItmBasic", {"ITNO": "SKU-0001"})
    connector.mi("MMS200MI", "GetItmBasic", {"ITNO": "SKU-0002"})
    assert [x["call"] for x in connector.http.exchanges].count("ION token") == 1  # cached
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"expire_tokens": True}, timeout=5)
    [item] = connector.mi("MMS200MI", "GetItmBasic", {"ITNO": "SKU-0003"})
    assert item["ITNO"] == "SKU-0003" and item["ITDS"] == item["ITDS"].strip()  # padding removed
    calls = [(x["call"], x.get("status")) for x in connector.http.exchanges[-3:]]
    assert calls == [("MMS200MI/GetItmBasic", 401), ("ION token", 200), ("MMS200MI/GetItmBasic", 200)]
    assert "Bearer" not in json.dumps(connector.http.exchanges)  # the token never reaches the log


def test_business_errors_are_permanent_with_m3s_words(m3):
    with pytest.raises(ConnectorError) as missing:
        m3.connector().mi("MMS200MI", "GetItmBasic", {"ITNO": "NOPE"})
    assert missing.value.permanent and "does not exist" in missing.value.message and "(field ITNO)" in missing.value.message


def test_paging_and_stock_summed_over_warehouses(m3, simulators):
    connector = m3.connector()
    assert len(connector.mi("CRS610MI", "LstByNumber", maxrecs=7)) == 7
    assert len(connector.mi("CRS610MI", "LstByNumber", maxrecs=0)) == 300
    stock = {r["ITNO"]: r["quantity"] for r in connector.poll("stock", None).records}
    balances = simulators.m3.balances
    assert len(stock) == 1000
    assert stock["SKU-0500"] == sum(int(balances[w]["SKU-0500"]["ALOC"]) for w in ("100", "200", "300"))


def test_credentials_and_transport_errors_say_what_is_wrong(m3, simulators):
    m3.set_secret("ionapi", json.dumps(demo_ionapi(f"{simulators.url}/ionapi") | {"sask": "wrong"}))
    with pytest.raises(ConnectorError, match="ION API refused the .ionapi credentials") as refused:
        m3.connector().test_connection()
    assert refused.value.permanent
    m3.set_secret("ionapi", json.dumps(demo_ionapi(f"{simulators.url}/ionapi")))
    requests.post(f"{simulators.url}/ionapi/_control/faults", json={"rate_limit_rate": 1.0, "retry_after": 30}, timeout=5)
    with pytest.raises(ConnectorError) as limited:
        m3.connector().test_connection()
    assert not limited.value.permanent and limited.value.retry_after == 30
    requests.post(f"{simulators.url}/ionapi/_control/reset", timeout=5)
    m3.set_secret("ionapi", '{"ti": "x"}')
    with pytest.raises(ConnectorError, match="lacks ci, cs"):
        m3.connector().test_connection()
