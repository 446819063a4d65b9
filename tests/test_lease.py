"""A batch's lease (hub.claims.LeaseKeeper): renewed while the batch runs, never after it ends.

The renewer is one thread per process with its own database connection, so these run outside a test
transaction.
"""

import threading
import time

import pytest

from connectors.models import Connection
from hub import claims
from monitoring.models import InboundEvent, partition_of

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 0.6  # renewed every 0.2 s


@pytest.fixture
def claimed():
    source = Connection.objects.create(name="Store", slug="store", kind="xcart", auth_kind="api_token",
                                       base_url="http://127.0.0.1:9")
    for n in range(3):  # one record's events: one partition
        InboundEvent.objects.create(connection=source, idempotency_key=f"k{n}", topic="order.updated",
                                    source_id="7", partition=partition_of("7"), body="{}")
    events = claims.claim_events(source.pk, partition_of("7"), 10, LEASE)
    assert len(events) == 3
    return source, [e.pk for e in events]


def leases(ids):
    return dict(InboundEvent.objects.filter(pk__in=ids).values_list("pk", "claimed_until"))


def test_a_batch_longer_than_its_lease_keeps_its_events_and_the_renewals_stop_with_it(claimed):
    source, ids = claimed
    renewed = []
    with claims.LeaseKeeper(ids, LEASE, on_renew=lambda: renewed.append(1)):
        first = leases(ids)
        time.sleep(LEASE * 2.5)  # the lease would have run out twice
        assert claims.claim_events(source.pk, partition_of("7"), 10, LEASE) == []  # still ours
        assert all(after > first[pk] for pk, after in leases(ids).items())
    assert renewed  # the drainer's own keys were kept with it
    ended = leases(ids)
    time.sleep(LEASE)  # three renewal periods
    assert leases(ids) == ended  # nothing renewed after the batch: its events run out as they should


def test_leaving_waits_for_a_renewal_in_progress(claimed):
    _, ids = claimed
    renewing, release, order = threading.Event(), threading.Event(), []

    def slow_renewal():
        renewing.set()
        release.wait(10)
        order.append("renewed")

    keeper = claims.LeaseKeeper(ids, LEASE, on_renew=slow_renewal)
    keeper.__enter__()
    assert renewing.wait(10)  # the renewer is inside this batch's renewal
    leaving = threading.Thread(target=lambda: (keeper.__exit__(None, None, None), order.append("left")))
    leaving.start()
    leaving.join(0.3)
    assert leaving.is_alive()  # held until the renewal ends
    release.set()
    leaving.join(10)
    assert order == ["renewed", "left"]
