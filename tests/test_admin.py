"""The admin as the operator uses it: secrets are write-only, the log is readable, tests say what is wrong."""

import io
import json

import pytest

from connectors.infor_m3.simulator import demo_ionapi
from connectors.models import Connection
from hub import demo
from hub.models import Flow
from monitoring.models import SyncRecord
from tests.helpers import run_worker, signed_post
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(simulators):
    config = demo.seed(simulators.url)
    # The payment flow reacts to the same orders; its own test is in test_payments.py.
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    return config


def all_secrets(setup):
    ionapi = json.loads(Connection.objects.get(pk=setup["m3"].pk).secret("ionapi"))
    return [setup["webhook_secret"], "demo-xcart-key", ionapi["cs"], ionapi["sask"], ionapi["saak"]]


def test_no_admin_page_shows_a_secret(admin_client, setup):
    event_id = signed_post(admin_client, demo.XCART_SLUG, order_payload(), setup["webhook_secret"]).json()["id"]
    run_worker()
    record_id = SyncRecord.objects.get(event_id=event_id).pk
    pages = [
        "/admin/connectors/connection/",
        f"/admin/connectors/connection/{setup['xcart'].pk}/change/",
        f"/admin/connectors/connection/{setup['m3'].pk}/change/",
        "/admin/monitoring/inboundevent/",
        f"/admin/monitoring/inboundevent/{event_id}/change/",
        "/admin/monitoring/syncrecord/",
        f"/admin/monitoring/syncrecord/{record_id}/change/",
        "/admin/hub/flow/", "/admin/hub/link/", "/admin/mappings/mapping/",
        f"/admin/mappings/mapping/{setup['mapping'].pk}/change/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in all_secrets(setup):
            assert secret not in html, f"{url} shows a secret"
    trace = admin_client.get(f"/admin/monitoring/syncrecord/{record_id}/change/").content.decode()
    assert "OIS100MI/Confirm" in trace and "***" in trace  # the calls are shown, the token masked
    assert "api_key, webhook_secret" in admin_client.get("/admin/connectors/connection/").content.decode()


def test_secrets_are_write_only_and_blank_keeps_them(admin_client, setup):
    xcart = setup["xcart"]
    form = {"name": xcart.name, "slug": xcart.slug, "kind": "xcart", "base_url": xcart.base_url,
            "auth_kind": "api_token", "enabled": "on", "settings": "{}", "secret_api_key": "",
            "secret_webhook_secret": "whsec_bmV3LXNlY3JldC1mb3ItdGhlLXN0b3Jl"}
    response = admin_client.post(f"/admin/connectors/connection/{xcart.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    xcart.refresh_from_db()
    xcart._secrets_cache = None
    assert xcart.secret("api_key") == "demo-xcart-key"  # blank kept it
    assert xcart.secret("webhook_secret") == "whsec_bmV3LXNlY3JldC1mb3ItdGhlLXN0b3Jl"


def test_ionapi_upload_is_validated_and_stored_encrypted(admin_client, setup, simulators):
    m3 = setup["m3"]
    form = {"name": m3.name, "slug": m3.slug, "kind": "infor_m3", "base_url": "", "auth_kind": "ionapi",
            "enabled": "on", "settings": json.dumps(m3.settings)}
    bad = io.BytesIO(b'{"ti": "X"}')
    bad.name = "broken.ionapi"
    response = admin_client.post(f"/admin/connectors/connection/{m3.pk}/change/", {**form, "ionapi_file": bad})
    assert response.status_code == 200 and "lacks ci, cs, iu" in response.content.decode()

    ionapi = demo_ionapi(f"{simulators.url}/ionapi") | {"cn": "uploaded"}
    good = io.BytesIO(json.dumps(ionapi).encode())
    good.name = "hub.ionapi"
    response = admin_client.post(f"/admin/connectors/connection/{m3.pk}/change/", {**form, "ionapi_file": good})
    assert response.status_code == 302
    assert json.loads(Connection.objects.get(pk=m3.pk).secret("ionapi"))["cn"] == "uploaded"


def test_test_connection_says_what_is_wrong(admin_client, setup, simulators):
    def run(connection):
        response = admin_client.post("/admin/connectors/connection/",
                                     {"action": "test_connection", "_selected_action": [connection.pk]}, follow=True)
        return [str(m) for m in response.context["messages"]]

    assert "accepted the API key" in run(setup["xcart"])[0]
    assert "tenant DEMO_TST" in run(setup["m3"])[0]

    setup["xcart"].set_secret("api_key", "wrong")
    setup["xcart"].save()
    assert "HTTP 401" in run(setup["xcart"])[0] and "X-Auth-Token" in run(setup["xcart"])[0]
    m3 = setup["m3"]
    m3.set_secret("ionapi", json.dumps(demo_ionapi(f"{simulators.url}/ionapi") | {"cs": "wrong"}))
    m3.save()
    assert "ION API refused the .ionapi credentials" in run(m3)[0]
    m3.set_secret("ionapi", json.dumps(demo_ionapi("http://127.0.0.1:9/ionapi")))
    m3.save()
    assert "unreachable (connection refused)" in run(m3)[0]


def test_error_groups_gather_one_cause_and_act_on_it_at_once(admin_client, setup):
    from monitoring.models import SyncRecord
    from tests.test_order_flow import order_payload

    for order_id, sku in ((7001, "SKU-9998"), (7002, "SKU-9999"), (7003, "SKU-0001")):
        payload = order_payload(order_id)
        payload["data"]["items"][0]["sku"] = sku
        signed_post(admin_client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    page = admin_client.get("/admin/monitoring/syncrecord/error-groups/").content.decode()
    assert "Item number SKU-# does not exist" in page and "<td>2</td>" in page
    failed = SyncRecord.objects.filter(status="failed")
    group = failed.first().error_group
    assert admin_client.get(f"/admin/monitoring/syncrecord/?status__exact=failed&error_group={group}").status_code == 200

    refused = admin_client.post("/admin/monitoring/syncrecord/error-groups/",
                                {"flow": failed.first().flow_id, "error_group": group, "do": "ignore"}, follow=True)
    assert "Say why" in refused.content.decode() and failed.count() == 2
    admin_client.post("/admin/monitoring/syncrecord/error-groups/",
                      {"flow": failed.first().flow_id, "error_group": group, "do": "ignore",
                       "reason": "test items, never sold"})
    assert set(SyncRecord.objects.filter(error_group=group).values_list("status", flat=True)) == {"ignored"}
    assert SyncRecord.objects.filter(status="ignored").first().ignored_reason == "test items, never sold (admin)"


def test_configuration_changes_are_audited_with_who_and_what_but_no_secret(admin_client, setup):
    xcart = setup["xcart"]
    form = {"name": "Renamed store", "slug": xcart.slug, "kind": "xcart", "base_url": xcart.base_url,
            "auth_kind": "api_token", "enabled": "on", "settings": "{}", "secret_api_key": "brand-new-key"}
    assert admin_client.post(f"/admin/connectors/connection/{xcart.pk}/change/", form).status_code == 302
    latest = xcart.history.latest()
    assert (latest.history_user.username, latest.name, latest.history_type) == ("admin", "Renamed store", "~")
    assert "Demo X-Cart store" in [h.name for h in xcart.history.all()]
    page = admin_client.get(f"/admin/connectors/connection/{xcart.pk}/history/").content.decode()
    assert "Renamed store" in page and "brand-new-key" not in page and "demo-xcart-key" not in page
    flow = setup["flow"]
    admin_client.post(f"/admin/hub/flow/{flow.pk}/change/", {
        "name": flow.name, "source": flow.source_id, "source_entity": "order", "source_event": "created",
        "mapping": flow.mapping_id, "target": flow.target_id, "target_action": flow.target_action,
        "description": "edited", "only_when": "", "poll_cursor": ""})
    assert flow.history.latest().description == "edited"


def test_the_admin_home_is_the_dashboard(admin_client, setup):
    from tests.test_order_flow import order_payload

    signed_post(admin_client, demo.XCART_SLUG, order_payload(7001), setup["webhook_secret"])
    payload = order_payload(7002)
    payload["data"]["items"][0]["sku"] = "SKU-9999"
    signed_post(admin_client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    for window in ("hour", "day", "week"):
        page = admin_client.get(f"/admin/?window={window}")
        assert page.status_code == 200
    html = admin_client.get("/admin/").content.decode()
    flow = setup["flow"]
    assert f'flow__id__exact={flow.pk}&amp;status__exact=failed" class="hub-bad">1</a>' in html
    assert f'flow__id__exact={flow.pk}&amp;status__exact=synced">1</a>' in html
    assert "<svg" in html and "1 synced, 1 failed" in html  # the chart's bar for this hour
    assert 'http-equiv="refresh"' in html
    assert "no RQ worker is registered" in html  # liveness is shown, and here no worker runs


def test_find_by_reference_or_email_see_links_and_mask_personal_fields(admin_client, setup, settings):
    from monitoring.models import SyncRecord
    from tests.test_order_flow import order_payload

    settings.HUB_PERSONAL_FIELDS = ["MAIL", "PHNO"]
    signed_post(admin_client, demo.XCART_SLUG, order_payload(7001), setup["webhook_secret"])
    run_worker()
    record = SyncRecord.objects.get()
    found = admin_client.get("/admin/monitoring/syncrecord/?q=ada.lovelace%40example.org").content.decode()
    assert f"/admin/monitoring/syncrecord/{record.pk}/change/" in found
    nobody = admin_client.get("/admin/monitoring/syncrecord/?q=nobody%40example.org").content.decode()
    assert f"/admin/monitoring/syncrecord/{record.pk}/change/" not in nobody
    trace = admin_client.get(f"/admin/monitoring/syncrecord/{record.pk}/change/").content.decode()
    assert f"Demo X-Cart store 7001 = Demo Infor M3 {record.target_id} (sales_order)" in trace
    calls = json.dumps(record.attempts.get().exchanges)
    assert "ada.lovelace" not in calls and "+44 20" not in calls  # masked in what was sent
    assert '"MAIL": "***"' in calls
