"""The operator's path in a real headless Chromium: log in, dashboard, find a failed order by its
store order id, read its trace, replay it, see it synced. Screenshots go to test-artifacts/."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from hub import demo
from hub.models import Flow
from tests.helpers import run_worker, signed_post
from tests.test_order_flow import order_payload

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]
# Playwright's sync API keeps an event loop in this thread; the ORM calls of the test are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: make test installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def test_operator_finds_a_failed_order_reads_its_trace_and_replays_it(live_server, client, simulators, browser):
    setup = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    payload = order_payload(7001)
    payload["data"]["items"][1]["sku"] = "SKU-9999"
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    User.objects.create_superuser("operator", "op@example.org", "night-shift-pw")
    ARTIFACTS.mkdir(exist_ok=True)

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "night-shift-pw")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Flows, last day")
    failed_link = f"a[href='/admin/monitoring/syncrecord/?flow__id__exact={setup['flow'].pk}&status__exact=failed']"
    assert page.locator(failed_link).inner_text() == "1"
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/monitoring/syncrecord/")
    page.fill("#searchbar", "7001")
    page.press("#searchbar", "Enter")
    page.click("th.field-id a")  # the one record found by the store's order id
    page.wait_for_selector("text=SKU-9999 does not exist")
    assert "OIS100MI/AddBatchLine" in page.content()
    page.screenshot(path=str(ARTIFACTS / "trace.png"), full_page=True)
    trace_url = page.url

    setup["m3"].connector().mi("MMS200MI", "AddItmBasic", {"ITNO": "SKU-9999", "ITDS": "Gift card"})
    page.goto(f"{live_server.url}/admin/monitoring/syncrecord/?q=7001")
    page.check("input.action-select")
    page.select_option("select[name=action]", "replay")
    page.click("button[name=index]")
    page.wait_for_selector("text=Replaying 1 record(s)")
    run_worker()
    page.goto(trace_url)
    assert page.locator(".field-status .readonly").inner_text() == "synced"
    page.screenshot(path=str(ARTIFACTS / "trace-after-replay.png"), full_page=True)
