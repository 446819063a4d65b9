"""Customers both ways between X-Cart and M3: matched by e-mail, never duplicated, never echoed."""

import time

import pytest
import requests

from connectors.infor_m3.simulator import M3Simulator
from connectors.simulators import SimulatorServer
from hub import demo, jobs
from hub.models import Flow
from monitoring.models import InboundEvent, SyncRecord
from tests.helpers import run_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture
def simulators():
    """The seeded store (300 profiles) and an M3 with four customers: three share a store e-mail."""
    with SimulatorServer(ionapi=M3Simulator(seed=False)) as server:
        yield server


@pytest.fixture
def setup(live_server, simulators):
    config = demo.seed(simulators.url)
    requests.post(f"{simulators.url}/xcart/_sim/addon", timeout=5, json={
        "webhook_url": f"{live_server.url}/webhooks/{demo.XCART_SLUG}/", "webhook_secret": config["webhook_secret"]})
    m3 = config["m3"].connector()
    people = [simulators.xcart.profiles[n] for n in (1, 2, 3)] + [
        {"firstname": "Edsger", "lastname": "Dijkstra", "email": "edsger@example.org"}]
    for person in people:
        m3.mi("CRS610MI", "Add", {"CUTM": "WEBSHOP", "CUNM": f"{person['firstname']} {person['lastname']}",
                                  "CUA1": "1 Main Street", "MAIL": person["email"]})
    return config


def wait_for_events(count, timeout=10):
    deadline = time.monotonic() + timeout
    while InboundEvent.objects.filter(origin=InboundEvent.Origin.PUSH).count() < count:
        assert time.monotonic() < deadline, "the add-on push never arrived"
        time.sleep(0.05)


def m3_customers_with(m3, email):
    return [c for c in m3.customers.values() if c["MAIL"].lower() == email]


def test_store_profile_change_updates_the_m3_customer_once_and_is_not_echoed(setup, simulators):
    xcart, m3 = simulators.xcart, simulators.m3
    profile = xcart.profiles[1]  # profiles 1-50 share their e-mail with an M3 customer
    email = profile["email"]
    [customer] = m3_customers_with(m3, email)
    m3_poll = Flow.objects.get(name=demo.CUSTOMERS_TO_XCART_FLOW)
    jobs.poll_flow(m3_poll.pk)  # the initial load: every M3 customer to the store
    run_worker()
    pushes_after_load = InboundEvent.objects.filter(origin=InboundEvent.Origin.PUSH).count()
    wait_for_events(pushes_after_load)

    requests.post(f"{simulators.url}/xcart/_sim/profiles/1", json={"lastname": "Lovelace-Byron"}, timeout=5)
    wait_for_events(pushes_after_load + 1)
    run_worker()
    assert customer["CUNM"] == f"{profile['firstname']} Lovelace-Byron"
    assert len(m3_customers_with(m3, email)) == 1

    # M3's changed customer comes back on the next poll: recognised as the hub's own write.
    assert jobs.poll_flow(m3_poll.pk) == 1
    run_worker()
    echo = InboundEvent.objects.filter(origin=InboundEvent.Origin.POLL, source_id=customer["CUNO"]).latest("id")
    assert echo.status == InboundEvent.Status.IGNORED and "echo of the hub's own write" in echo.error
    assert jobs.poll_flow(m3_poll.pk) == 0  # and the ping-pong stops there


def test_m3_customer_change_reaches_the_store_without_coming_back(setup, simulators):
    xcart, m3 = simulators.xcart, simulators.m3
    m3_poll = Flow.objects.get(name=demo.CUSTOMERS_TO_XCART_FLOW)
    jobs.poll_flow(m3_poll.pk)
    run_worker()
    loaded = SyncRecord.objects.filter(flow=m3_poll, status=SyncRecord.Status.SYNCED).count()
    assert loaded == len(m3.customers) == 4
    assert len(xcart.profiles) == 301  # three matched by e-mail (and unchanged), Edsger created
    wait_for_events(1)  # the add-on pushes the new profile: the hub's own write, ignored
    run_worker()
    [created] = InboundEvent.objects.filter(origin=InboundEvent.Origin.PUSH)
    assert created.topic == "profile.created" and created.status == InboundEvent.Status.IGNORED

    cuno = next(c["CUNO"] for c in m3.customers.values() if c["MAIL"] == simulators.xcart.profiles[2]["email"])
    requests.post(f"{simulators.url}/ionapi/_sim/customers/{cuno}", json={"CUNM": "Grace Brewster Hopper"}, timeout=5)
    assert jobs.poll_flow(m3_poll.pk) == 1
    run_worker()
    email = m3.customers[cuno]["MAIL"].lower()
    profile = xcart.profiles[xcart.profile_ids_by_login[email]]
    assert (profile["firstname"], profile["lastname"]) == ("Grace", "Brewster Hopper")
    wait_for_events(2)
    run_worker()
    assert InboundEvent.objects.filter(origin=InboundEvent.Origin.PUSH).latest("id").status == InboundEvent.Status.IGNORED
    assert SyncRecord.objects.filter(flow__name=demo.CUSTOMERS_TO_M3_FLOW).count() == 0
