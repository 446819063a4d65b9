"""The REST API: every endpoint under each role, token authentication, and no secret in any answer."""

import json

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token

from hub import demo
from hub.models import Flow
from monitoring.models import SyncRecord
from tests.helpers import run_worker, signed_post
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)
ROLES = ("Admin", "Integrator", "Operator", "Viewer")


@pytest.fixture
def setup(simulators):
    config = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)
    return config


@pytest.fixture
def roles():
    """The groups the migration made (transactional tests empty every table after each test)."""
    import importlib

    from django.apps import apps

    importlib.import_module("monitoring.migrations.0002_roles").create_roles(apps, None)


@pytest.fixture
def api(client, roles):
    """api(role) -> a client authenticated by that role's token."""
    from rest_framework.test import APIClient

    def for_role(role):
        user, created = User.objects.get_or_create(username=role.lower(), defaults={"is_staff": True})
        if created:
            user.groups.add(Group.objects.get(name=role))
        token, _ = Token.objects.get_or_create(user=user)
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c
    return for_role


def failed_order(client, setup):
    payload = order_payload()
    payload["data"]["items"][0]["sku"] = "SKU-9999"
    signed_post(client, demo.XCART_SLUG, payload, setup["webhook_secret"])
    run_worker()
    return SyncRecord.objects.get()


def test_anonymous_requests_are_refused(client, setup):
    for url in ("/api/connections/", "/api/flows/", "/api/records/", "/api/events/", "/api/mappings/"):
        assert client.get(url).status_code in (401, 403)


def test_every_role_reads_and_no_answer_contains_a_secret(client, setup, api):
    failed_order(client, setup)
    ionapi = json.loads(setup["m3"].secret("ionapi"))
    secrets = [setup["webhook_secret"], "demo-xcart-key", ionapi["cs"], ionapi["sask"], setup["ion_token"]]
    for role in ROLES:
        c = api(role)
        for url in ("/api/connections/", f"/api/connections/{setup['m3'].pk}/", "/api/flows/", "/api/mappings/",
                    "/api/events/", "/api/records/", f"/api/records/{SyncRecord.objects.get().pk}/", "/api/schema/"):
            answer = c.get(url)
            assert answer.status_code == 200, (role, url)
            assert not any(secret in answer.content.decode() for secret in secrets), (role, url)
    m3 = api("Admin").get(f"/api/connections/{setup['m3'].pk}/").json()
    assert m3["secrets_stored"] == ["ion_inbound_token", "ionapi"]


def test_records_filter_by_what_a_person_has_in_hand(client, setup, api):
    record = failed_order(client, setup)
    c = api("Viewer")
    assert [r["id"] for r in c.get("/api/records/?q=7001").json()["results"]] == [record.pk]
    assert [r["id"] for r in c.get("/api/records/?q=SKU-9999").json()["results"]] == [record.pk]
    assert [r["id"] for r in c.get("/api/records/?q=ada.lovelace@example.org").json()["results"]] == [record.pk]
    assert c.get("/api/records/?q=nobody@example.org").json()["count"] == 0
    assert c.get("/api/records/?status=synced").json()["count"] == 0
    assert c.get(f"/api/records/?flow={record.flow_id}&status=failed&connection=m3-demo&entity=order").json()["count"] == 1
    assert c.get("/api/events/?connection=xcart-demo&status=failed").json()["count"] == 1


def test_only_operators_and_admins_replay(client, setup, api, simulators):
    record = failed_order(client, setup)
    for role in ("Viewer", "Integrator"):
        assert api(role).post(f"/api/records/{record.pk}/replay/").status_code == 403
    setup["m3"].connector().mi("MMS200MI", "AddItmBasic", {"ITNO": "SKU-9999", "ITDS": "Gift card"})
    answer = api("Operator").post("/api/records/replay/", {"error_contains": "SKU-9999"}, format="json")
    assert answer.status_code == 202 and answer.json() == {"replayed": [record.pk]}
    run_worker()
    record.refresh_from_db()
    assert record.status == SyncRecord.Status.SYNCED
    assert api("Admin").post(f"/api/records/{record.pk}/replay/").json() == {"replayed": []}  # synced: left alone


def test_operators_pause_but_only_integrators_edit(setup, api):
    flow = Flow.objects.get(name=demo.ORDER_FLOW)
    operator, integrator, viewer = api("Operator"), api("Integrator"), api("Viewer")
    assert viewer.post(f"/api/flows/{flow.pk}/pause/").status_code == 403
    assert operator.post(f"/api/flows/{flow.pk}/pause/").json()["enabled"] is False
    assert operator.post(f"/api/flows/{flow.pk}/resume/").json()["enabled"] is True
    assert operator.patch(f"/api/flows/{flow.pk}/", {"description": "x"}, format="json").status_code == 403
    assert integrator.patch(f"/api/flows/{flow.pk}/", {"description": "x"}, format="json").status_code == 200
    assert operator.post(f"/api/connections/{setup['xcart'].pk}/pause/").json()["enabled"] is False
    created = integrator.post("/api/connections/", {"name": "Other shop", "slug": "other", "kind": "xcart",
                                                   "auth_kind": "api_token", "base_url": "https://shop.example"},
                              format="json")
    assert created.status_code == 201 and created.json()["secrets_stored"] == []
    assert viewer.post("/api/connections/", {"name": "x", "slug": "x", "kind": "xcart", "auth_kind": "api_token"},
                       format="json").status_code == 403


def test_openapi_schema_describes_the_api(api, setup):
    schema = api("Viewer").get("/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/records/{id}/replay/", "/api/records/replay/", "/api/flows/{id}/pause/"} <= set(schema["paths"])
