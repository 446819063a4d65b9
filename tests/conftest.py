import django_rq
import pytest

from connectors.simulators import SimulatorServer


@pytest.fixture
def simulators():
    """Fresh X-Cart and M3 simulators (new state, no faults) on a free port of 127.0.0.1."""
    server = SimulatorServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with empty queues (the suite owns the Redis database it is given)."""
    connection = django_rq.get_connection("default")
    connection.flushdb()
    yield


@pytest.fixture
def fast_retries(settings):
    settings.HUB_RETRY_INTERVALS = [1, 1, 1]
    return settings.HUB_RETRY_INTERVALS
