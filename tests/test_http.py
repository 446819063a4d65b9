"""The shared outbound HTTP path still honours the proxy variables, although requests no longer reads
the environment on every call (connectors.http reads it once per host)."""

import pytest

from connectors.base import ConnectorError
from connectors.http import HttpClient
from connectors.transport import environment_for
from tests.receiver import Receiver


@pytest.fixture
def proxy():
    """A stand-in HTTP proxy: a plain proxy gets the absolute URL and the target's Host header."""
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def environment(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    environment_for.cache_clear()
    yield monkeypatch
    environment_for.cache_clear()


def client() -> HttpClient:
    return HttpClient("Shop", describe_error=lambda response: response.text)


def test_calls_go_through_the_proxy_the_environment_names(environment, proxy):
    environment.setenv("HTTP_PROXY", proxy.url.rsplit("/", 1)[0])
    response = client().request("POST", "http://shop.invalid/api/orders", json={"id": 1})
    assert response.status_code == 202
    headers, body = proxy.received[-1]
    assert headers["Host"] == "shop.invalid" and body == b'{"id": 1}'


def test_no_proxy_hosts_are_called_directly(environment, proxy):
    environment.setenv("HTTP_PROXY", proxy.url.rsplit("/", 1)[0])
    environment.setenv("NO_PROXY", "shop.invalid")
    with pytest.raises(ConnectorError, match="Shop is unreachable"):
        client().request("GET", "http://shop.invalid/api/orders", timeout=2)
    assert proxy.received == []


def test_a_base_url_without_scheme_is_a_permanent_error_that_says_so(environment):
    with pytest.raises(ConnectorError, match="check the connection's base URL") as failed:
        client().request("GET", "shop.example.org/api/orders")
    assert failed.value.permanent
