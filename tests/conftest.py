import django_rq
import pytest

from connectors.simulators import SimulatorServer


@pytest.fixture
def simulators():
    """Fresh X-Cart and M3 simulators (new state, no faults) on a free port of 127.0.0.1."""
    server = SimulatorServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture
def admin_client(client):
    """The test client logged in as a superuser (the same client as ``client``, as tests that also
    post webhooks with ``client`` expect)."""
    from django.contrib.auth.models import User

    User.objects.create_superuser("admin", "admin@example.org", "pw")
    client.login(username="admin", password="pw")
    return client


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with empty queues (the suite owns the Redis database it is given)."""
    connection = django_rq.get_connection("default")
    connection.flushdb()
    from hub import configcache

    configcache.forget()  # the flows a previous test's batches kept (its database is gone)
    yield


@pytest.fixture(autouse=True)
def stop_ingest_committer():
    """A test that stored webhooks outside a transaction started the process's committer thread: stop
    it, so that its database connection is closed before the test database is dropped."""
    yield
    from connectors import ingest

    ingest.shutdown()


@pytest.fixture
def fast_retries(settings):
    """Four attempts, the first retry after 0.25-0.5 s (flows without their own policy)."""
    settings.HUB_RETRY_BACKOFF = 0.5
    settings.HUB_MAX_ATTEMPTS = 4
    return settings.HUB_MAX_ATTEMPTS


@pytest.fixture(scope="session", autouse=True)
def stop_embedded_redis_at_the_end():
    """The embedded Redis of a test run (no REDIS_URL) goes away with the run."""
    yield
    from django.conf import settings

    from hub import embedded_redis

    if settings.EMBEDDED_REDIS:
        embedded_redis.stop(settings.DATA_DIR)
