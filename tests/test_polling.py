"""Polling: interval or cron schedule, the cursor moved only after a committed page, the overlap window,
and the backfill (initial load) that pages through everything and resumes after a crash.

Real Domino simulator over HTTP (DAS), real Redis and RQ; the clock of the schedule is passed in."""

from datetime import datetime, timedelta, timezone

import django_rq
import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from connectors.models import Connection
from connectors.prestashop.connector import PrestaShopConnector
from connectors.xcart.connector import XCartConnector
from hub import backfill, demo, polling
from hub.models import Backfill, Flow
from monitoring.models import InboundEvent
from tests.helpers import run_worker

pytestmark = pytest.mark.django_db(transaction=True)
UTC = timezone.utc


@pytest.fixture
def setup(simulators):
    return demo.seed(simulators.url)


def customers_flow() -> Flow:
    return Flow.objects.select_related("source").get(name=demo.DOMINO_CUSTOMERS_FLOW)


def customer_events():
    return InboundEvent.objects.filter(connection__slug=demo.DOMINO_SLUG, topic="customer.changed")


def domino_customers(simulators):
    return [d for d in simulators.domino.documents.values() if d.form == "Customer"]


# --- schedule ----------------------------------------------------------------------------------------

def test_a_cron_flow_is_due_at_its_next_time_after_the_last_poll(setup):
    flow = customers_flow()
    Flow.objects.filter(pk=flow.pk).update(poll_interval=None, poll_cron="*/15 * * * *",
                                           last_polled_at=datetime(2026, 3, 2, 10, 2, tzinfo=UTC))
    due = lambda now: flow.pk in [f.pk for f in polling.due_flows(now=now)]  # noqa: E731
    assert not due(datetime(2026, 3, 2, 10, 14, 59, tzinfo=UTC))
    assert due(datetime(2026, 3, 2, 10, 15, tzinfo=UTC))
    # Weekdays from 6 to 20 only: polled on Friday evening, next due on Monday at six.
    Flow.objects.filter(pk=flow.pk).update(poll_cron="0 6-20 * * 1-5",
                                           last_polled_at=datetime(2026, 3, 6, 20, 0, 5, tzinfo=UTC))
    assert not due(datetime(2026, 3, 9, 5, 59, tzinfo=UTC))
    assert due(datetime(2026, 3, 9, 6, 0, tzinfo=UTC))
    # Never polled: due at once; a disabled flow or source never.
    Flow.objects.filter(pk=flow.pk).update(last_polled_at=None)
    assert due(datetime(2026, 3, 7, 12, tzinfo=UTC))
    Connection.objects.filter(pk=flow.source_id).update(enabled=False)
    assert not due(datetime(2026, 3, 9, 6, tzinfo=UTC))


def test_an_interval_flow_is_due_when_the_interval_has_passed(setup):
    flow = customers_flow()
    Flow.objects.filter(pk=flow.pk).update(poll_interval=60, poll_cron="",
                                           last_polled_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    ids = lambda now: [f.pk for f in polling.due_flows(now=now)]  # noqa: E731
    assert flow.pk not in ids(datetime(2026, 3, 2, 10, 0, 59, tzinfo=UTC))
    assert flow.pk in ids(datetime(2026, 3, 2, 10, 1, tzinfo=UTC))


def test_the_schedule_is_checked_when_the_flow_is_saved(setup):
    flow = customers_flow()
    flow.poll_interval, flow.poll_cron = None, "every five minutes"
    with pytest.raises(ValidationError) as bad:
        flow.full_clean()
    assert "not a cron expression" in str(bad.value.message_dict["poll_cron"])
    flow.poll_interval, flow.poll_cron = 60, "*/5 * * * *"
    with pytest.raises(ValidationError) as both:
        flow.full_clean()
    assert "not both" in str(both.value.message_dict["poll_cron"])
    flow.poll_interval = None
    flow.full_clean()


# --- the cursor and the overlap ------------------------------------------------------------------------

def test_the_cursor_stays_when_the_page_is_not_committed(setup, simulators, monkeypatch):
    flow = customers_flow()
    real_store = polling.store_page

    def store_then_fail(*args):
        real_store(*args)  # the events are written in the page's transaction ...
        raise DatabaseError("disk full")  # ... which then fails

    monkeypatch.setattr(polling, "store_page", store_then_fail)
    assert polling.poll_flow(flow.pk, page_size=50) == []
    flow.refresh_from_db()
    assert flow.poll_cursor == "" and not customer_events().exists()
    assert "could not store the polled records: disk full" in flow.last_poll_error

    monkeypatch.setattr(polling, "store_page", real_store)
    new = polling.poll_flow(flow.pk, page_size=50)
    flow.refresh_from_db()
    assert len(new) == customer_events().count() == len(domino_customers(simulators))
    assert flow.poll_cursor and flow.last_poll_error == ""


def test_the_overlap_window_catches_a_record_saved_late(setup, simulators):
    flow = customers_flow()
    polling.poll_flow(flow.pk, page_size=500)  # caught up
    flow.refresh_from_db()
    caught_up = flow.poll_cursor
    # A save whose transaction commits late: its modification time is 3 s behind the cursor's.
    cursor_time = datetime.fromisoformat(caught_up.partition("|")[0].replace("Z", "+00:00"))
    late = domino_customers(simulators)[7]
    with simulators.domino.lock:
        late.items["City"] = "Late Town"
        late.modified, late.sequence = cursor_time - timedelta(seconds=3), late.sequence + 1

    Flow.objects.filter(pk=flow.pk).update(poll_overlap=0)
    assert polling.poll_flow(flow.pk) == []  # without an overlap it is missed
    Flow.objects.filter(pk=flow.pk).update(poll_overlap=5)
    [event_id] = polling.poll_flow(flow.pk)  # with one, only the late record is new
    assert InboundEvent.objects.get(pk=event_id).source_id == late.unid
    assert "Late Town" in InboundEvent.objects.get(pk=event_id).body
    flow.refresh_from_db()
    assert flow.poll_cursor == caught_up  # reading the overlap again did not move the cursor back
    assert polling.poll_flow(flow.pk) == []  # and reading it once more stores nothing twice


def connector_of(kind, cls, **settings):
    return cls(Connection(pk=1, name=kind, slug=kind, kind=kind, base_url="http://127.0.0.1:9", settings=settings))


def test_each_connector_rewinds_its_own_cursor():
    xcart = connector_of("xcart", XCartConnector)
    assert xcart.rewind_cursor("order", "1700000100:3", 5) == "1700000095:1"
    prestashop = connector_of("prestashop", PrestaShopConnector)
    assert prestashop.rewind_cursor("order", "2025-01-06 08:00:03|42", 5) == "2025-01-06 07:59:58|"
    assert prestashop.rewind_cursor("stock_available", "300", 5) == "300"  # an offset, not a time
    from connectors.domino.connector import DominoConnector
    domino = connector_of("domino", DominoConnector, database="orders.nsf")
    assert domino.rewind_cursor("customer", "2026-03-02T10:00:05Z|AB,CD", 5) == "2026-03-02T10:00:00Z"
    from connectors.generic.connector import GenericRestConnector
    generic = connector_of("generic_rest", GenericRestConnector, entities={"order": {"list": "/o", "first_page": 1}})
    assert generic.rewind_cursor("order", "2026-03-02T10:00:05Z|4", 5) == "2026-03-02T10:00:00Z|1"
    assert generic.rewind_cursor("order", "v-17|2", 5) == "v-17|2"  # opaque: left as it is
    for connector in (xcart, prestashop, domino, generic):
        assert connector.rewind_cursor("order", None, 5) is None


# --- backfill -------------------------------------------------------------------------------------------

def test_backfill_resumes_after_a_crash_without_duplicate_events(setup, simulators, monkeypatch):
    flow = customers_flow()
    Flow.objects.filter(pk=flow.pk).update(enabled=False, poll_cursor="2030-01-01T00:00:00Z")  # deliveries aside
    flow.refresh_from_db()
    started = backfill.start(flow, by="tester")
    assert backfill.run_pages(started, pages=2, page_size=50) == Backfill.Status.RUNNING
    started.refresh_from_db()
    assert (started.pages, started.records, started.events) == (2, 100, 100)

    def killed(*args):
        raise SystemExit("worker killed")  # mid-page, after the page's events were written

    monkeypatch.setattr(backfill, "_record_page", killed)
    with pytest.raises(SystemExit):
        backfill.run_pages(started, pages=2, page_size=50)
    monkeypatch.undo()
    started.refresh_from_db()
    assert started.status == Backfill.Status.RUNNING and started.pages == 2
    assert customer_events().count() == 100  # the page being written when it died is not half there

    # Nobody runs it any more: the cron's resume_stalled queues it again, a real worker finishes it.
    assert backfill.resume_stalled(now=started.updated_at + timedelta(minutes=10)) == 1
    queue = django_rq.get_queue("default")
    assert f"backfill-{started.pk}-page-3" in queue.job_ids
    monkeypatch.setattr(backfill, "PAGE_SIZE", 50)
    monkeypatch.setattr(backfill, "PAGES_PER_JOB", 1)  # one page a job: the job queues the next
    run_worker(timeout=60)
    started.refresh_from_db()
    customers = domino_customers(simulators)
    assert started.status == Backfill.Status.DONE and started.finished_at is not None, started.summary
    assert started.records == started.events == len(customers) == customer_events().count()
    assert sorted(customer_events().values_list("source_id", flat=True)) == sorted(d.unid for d in customers)
    flow.refresh_from_db()
    assert flow.poll_cursor == "2030-01-01T00:00:00Z"  # the flow's own poll cursor was left alone


def test_backfill_is_paused_and_resumed_by_the_api_and_shown_in_the_admin(setup, admin_client, monkeypatch):
    flow = customers_flow()
    Flow.objects.filter(pk=flow.pk).update(enabled=False)
    answer = admin_client.post(f"/api/flows/{flow.pk}/backfill/")
    assert answer.status_code == 202 and answer.json()["status"] == "running"
    paused = admin_client.post(f"/api/flows/{flow.pk}/backfill/pause/")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    job = Backfill.objects.get(flow=flow)
    assert backfill.run(job.pk) == Backfill.Status.PAUSED  # a queued job of a paused backfill reads nothing
    assert job.pages == 0
    assert admin_client.get(f"/api/flows/{flow.pk}/").json()["backfill"]["status"] == "paused"

    resumed = admin_client.post(f"/api/flows/{flow.pk}/backfill/")
    assert resumed.status_code == 202 and resumed.json()["id"] == job.pk  # the same backfill, resumed
    backfill.run_pages(Backfill.objects.get(pk=job.pk), pages=1, page_size=20)
    progress = admin_client.get(f"/api/flows/{flow.pk}/backfill/").json()
    assert (progress["status"], progress["pages"], progress["records"]) == ("running", 1, 20)
    listing = admin_client.get("/admin/hub/flow/").content.decode()
    assert "running, 1 page(s), 20 record(s), 20 new event(s)" in listing
    page = admin_client.get(f"/admin/hub/flow/{flow.pk}/change/").content.decode()
    assert "Pause backfill" in page and "20 record(s)" in page
    confirm = admin_client.get(f"/admin/hub/flow/{flow.pk}/backfill/")
    assert confirm.status_code == 200 and b"Pause backfill" in confirm.content
    admin_client.post(f"/admin/hub/flow/{flow.pk}/backfill/", {"do": "pause"})
    assert Backfill.objects.get(pk=job.pk).status == Backfill.Status.PAUSED
