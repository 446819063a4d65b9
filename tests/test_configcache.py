"""Workers keep the flows between batches (hub.configcache) and still see every change to them at
the next batch: a flow switched off, a connection paused, a mapping published, a change made by
another process; without Redis they read the flows for every batch."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import scenario
from connectors.models import Connection
from connectors.simulators import SimulatorServer
from hub import configcache, drain
from hub.models import Flow
from mappings.models import Mapping
from monitoring.models import InboundEvent, SyncRecord

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(settings):
    settings.HUB_PARTITIONS = 1
    server = SimulatorServer(port=0).start()
    try:
        yield scenario.seed(server.url)
    finally:
        server.stop()


def drain_orders(setup, start: int, count: int = 2) -> list[str]:
    """Store and drain ``count`` orders; the SQL of the flows' reads it made."""
    scenario.store_orders(setup, count, start, prefix=f"c{start}")
    with CaptureQueriesContext(connection) as queries:
        assert drain.drain(setup.source_id, 0) == count
    return [q["sql"] for q in queries.captured_queries if 'FROM "hub_flow"' in q["sql"]]


def statuses(start: int, count: int = 2) -> set[str]:
    ids = [str(1_000_000 + n) for n in range(start, start + count)]
    return set(InboundEvent.objects.filter(source_id__in=ids).values_list("status", flat=True))


def test_the_flows_are_read_once_and_again_after_each_change(setup):
    assert len(drain_orders(setup, 0)) == 1
    assert drain_orders(setup, 10) == []  # kept

    Flow.objects.filter(pk=setup.flow_id).update(enabled=False)  # as the API's toggle does it
    assert len(drain_orders(setup, 20)) == 1
    assert statuses(20) == {InboundEvent.Status.IGNORED}

    flow = Flow.objects.get(pk=setup.flow_id)
    flow.enabled = True
    flow.save()
    assert len(drain_orders(setup, 30)) == 1
    assert statuses(30) == {InboundEvent.Status.PROCESSED}


def test_a_paused_target_holds_the_next_batch(setup):
    drain_orders(setup, 0)
    Connection.objects.filter(pk=setup.target_id).update(enabled=False)  # the admin's "Pause" action
    drain_orders(setup, 10)
    held = SyncRecord.objects.filter(source_id__in=["1000010", "1000011"])
    assert {r.status for r in held} == {SyncRecord.Status.RETRYING}
    assert all("paused" in r.error for r in held)


def test_a_published_mapping_is_used_by_the_next_batch(setup):
    drain_orders(setup, 0)
    mapping = Flow.objects.get(pk=setup.flow_id).mapping
    before = mapping.published.number
    rule = mapping.rules.filter(source__gt="").first()
    rule.constant, rule.source = "CHANGED", ""
    rule.save()
    mapping.publish(by="test", note="constant")
    drain_orders(setup, 10)
    versions = set(SyncRecord.objects.filter(source_id__in=["1000010", "1000011"])
                   .values_list("mapping_version", flat=True))
    assert versions == {Mapping.objects.get(pk=mapping.pk).published.number} and before not in versions
    mapped = SyncRecord.objects.filter(source_id="1000010").values_list("mapped", flat=True).get()
    assert "CHANGED" in str(mapped)


def test_a_change_told_by_another_process_is_seen(setup):
    loads = []
    read = lambda: loads.append(1) or len(loads)  # noqa: E731
    assert configcache.cached(("k",), read) == 1
    assert configcache.cached(("k",), read) == 1
    configcache._redis().set(configcache.KEY, "set by another worker")
    assert configcache.cached(("k",), read) == 2


def test_nothing_is_kept_without_redis_or_for_long(setup, monkeypatch):
    loads = []
    read = lambda: loads.append(1) or len(loads)  # noqa: E731
    monkeypatch.setattr(configcache, "version", lambda: None)
    assert [configcache.cached(("k",), read) for _ in range(3)] == [1, 2, 3]
    monkeypatch.undo()
    monkeypatch.setattr(configcache, "MAX_AGE_SECONDS", 0)
    assert [configcache.cached(("k",), read) for _ in range(2)] == [4, 5]


def test_frequent_writes_the_batches_do_not_read_keep_the_cache(setup):
    drain_orders(setup, 0)
    Connection.objects.filter(pk=setup.source_id).update(last_error="x")
    Flow.objects.filter(pk=setup.flow_id).update(poll_cursor="2026-01-01")
    assert drain_orders(setup, 10) == []
