"""The integrator's mapping pages in the admin: publish, diff, rollback, preview, regression, CSV, suggestions.

Orders go through the real pipeline (signed webhooks, a real RQ worker, the simulators over HTTP),
so "flows use the published version" and "recorded events" are the real thing.
"""

import io
import json
import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django.utils.html import escape

from hub import demo
from hub.models import Flow
from mappings.models import Mapping, MappingRule, MappingSuggestion, ValueMap, ValueMapEntry
from monitoring.models import InboundEvent, SyncRecord
from tests.helpers import run_worker, signed_post
from tests.test_order_flow import order_payload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(simulators):
    config = demo.seed(simulators.url)
    Flow.objects.filter(name=demo.PAYMENT_FLOW).update(enabled=False)  # only the order flow reacts to orders
    return config


def url(mapping, view, *args):
    return f"/admin/mappings/mapping/{mapping.pk}/" + "/".join([view, *map(str, args)]) + "/"


def place_order(client, setup, order_id, **changes):
    event_id = signed_post(client, demo.XCART_SLUG, order_payload(order_id, **changes), setup["webhook_secret"]).json()["id"]
    run_worker()
    return SyncRecord.objects.get(event_id=event_id)


@pytest.fixture
def roles():
    """The groups the migration made (transactional tests empty every table after each test)."""
    import importlib

    from django.apps import apps

    importlib.import_module("monitoring.migrations.0002_roles").create_roles(apps, None)
    importlib.import_module("mappings.migrations.0004_roles").grant(apps, None)


def publish(client, mapping, note="", expect_redirect=True):
    page = client.get(url(mapping, "publish"))
    response = client.post(url(mapping, "publish"), {"note": note, "draft_hash": page.context["draft_hash"]})
    assert (response.status_code == 302) == expect_redirect, response.content.decode()[-3000:]
    return response


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def user_in(role, *extra_permissions):
    user = User.objects.create_user(role.lower(), password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    user.user_permissions.add(*Permission.objects.filter(codename__in=extra_permissions))
    return user


def test_flows_run_the_published_version_and_publish_makes_the_next_one(client, admin_client, setup):
    mapping = setup["mapping"]
    assert place_order(client, setup, 7001).mapped["customer"]["TOWN"] == "London"

    MappingRule.objects.filter(mapping=mapping, target="customer.TOWN").update(transforms="upper")
    listing = text(admin_client.get("/admin/mappings/mapping/"))
    assert "draft differs from published" in listing
    assert "The draft differs from published v1" in text(admin_client.get(url(mapping, "change")))
    before = place_order(client, setup, 7002)
    assert (before.mapped["customer"]["TOWN"], before.mapping_version) == ("London", 1)  # the draft is not live

    review = text(admin_client.get(url(mapping, "publish")))
    assert "customer.TOWN" in review and "text:36" in review and "upper" in review
    publish(admin_client, mapping, note="town in capitals")

    mapping.refresh_from_db()
    assert mapping.version == 2 and mapping.published.note == "town in capitals" and mapping.published.created_by == "admin"
    after = place_order(client, setup, 7003)
    assert (after.mapped["customer"]["TOWN"], after.mapping_version) == ("LONDON", 2)
    page = text(admin_client.get(url(mapping, "change")))
    assert "v2 <strong>(published)</strong>" in page and "town in capitals" in page and "same as published v2" in page


def test_a_draft_that_cannot_compile_is_not_published_and_the_page_names_the_rule(admin_client, setup):
    mapping = setup["mapping"]
    MappingRule.objects.filter(mapping=mapping, target="order.MODL").update(transforms="lookup:no-such-map")
    review = text(admin_client.get(url(mapping, "publish")))
    assert "Not published" in review and "order.MODL" in review and "no-such-map" in review

    response = publish(admin_client, mapping, expect_redirect=False)

    assert "Not published" in text(response) and "order.MODL" in text(response) and "no-such-map" in text(response)
    mapping.refresh_from_db()
    assert mapping.version == 1 and mapping.versions.count() == 1
    assert "The draft does not compile" in text(admin_client.get(url(mapping, "change")))


def test_a_draft_changed_during_review_is_not_published(admin_client, setup):
    mapping = setup["mapping"]
    page = admin_client.get(url(mapping, "publish"))
    MappingRule.objects.filter(mapping=mapping, target="customer.TOWN").update(transforms="upper")
    response = admin_client.post(url(mapping, "publish"), {"draft_hash": page.context["draft_hash"]})
    assert response.status_code == 200 and "changed while you were reviewing" in text(response)
    assert mapping.versions.count() == 1
    publish(admin_client, mapping)
    response = publish(admin_client, mapping, expect_redirect=False)  # once more, nothing changed
    assert "The draft is the same as v2: nothing to publish" in text(response) and mapping.versions.count() == 2


def test_diff_between_versions_and_rollback(admin_client, setup):
    mapping = setup["mapping"]
    MappingRule.objects.filter(mapping=mapping, target="customer.TOWN").update(transforms="upper")
    publish(admin_client, mapping, note="v2")
    MappingRule.objects.filter(mapping=mapping, target="customer.PHNO").delete()

    draft = text(admin_client.get(url(mapping, "diff")))  # default: published -> draft
    assert "customer.PHNO" in draft and "removed" in draft and "customer.TOWN" not in draft
    between = admin_client.get(url(mapping, "diff") + "?old=1&new=2")
    assert "customer.TOWN" in text(between) and "changed" in text(between)
    assert [c.target for c in between.context["changes"].rules] == ["customer.TOWN"]

    confirm = text(admin_client.get(url(mapping, "rollback", 1)))
    assert "customer.TOWN" in confirm and "Roll back: publish v1 again" in confirm
    assert admin_client.post(url(mapping, "rollback", 1)).status_code == 302

    mapping.refresh_from_db()
    assert mapping.version == 3 and mapping.published.note == "rollback to v1"
    assert mapping.published.snapshot == mapping.versions.get(number=1).snapshot
    assert "rollback to v1" in text(admin_client.get(url(mapping, "change")))


def test_preview_runs_the_draft_on_pasted_json_and_on_a_recorded_event(client, admin_client, setup):
    mapping = setup["mapping"]
    record = place_order(client, setup, 7001)
    MappingRule.objects.filter(mapping=mapping, target="customer.TOWN").update(transforms="upper")

    sample = {"orderNumber": "55", "profile": {"email": "A@B.C"}, "items": [{"sku": "SKU-0001", "amount": 1}],
              "billingAddress": {"firstname": "Al", "lastname": "<b>X</b>", "street": "1 Road", "city": "Paris"}}
    pasted = admin_client.post(url(mapping, "preview"), {"sample": json.dumps(sample)})
    page = text(pasted)
    assert "PARIS" in page and "Paris" in page  # the draft's output beside the published one
    assert "&lt;b&gt;X&lt;/b&gt;" in page and "<b>X</b>" not in page  # escaped
    assert pasted.context["result"]["changes"] == [("customer.TOWN", '"Paris"', '"PARIS"')]

    chosen = admin_client.post(url(mapping, "preview"), {"event": record.event_id})
    assert chosen.context["result"]["changes"] == [("customer.TOWN", '"London"', '"LONDON"')]
    assert f"event {record.event_id}" in text(chosen)

    failing = admin_client.post(url(mapping, "preview"), {"sample": '{"orderNumber": "55"}'})
    assert "Fails:" in text(failing) and "customer.MAIL" in text(failing)
    assert "not valid JSON" in text(admin_client.post(url(mapping, "preview"), {"sample": "{nope"}))


def test_regression_shows_changed_fields_and_newly_failing_records(client, admin_client, setup):
    mapping = setup["mapping"]
    place_order(client, setup, 7001)
    billing = dict(order_payload()["data"]["billingAddress"], phone="")
    place_order(client, setup, 7002, billingAddress=billing)
    MappingRule.objects.filter(mapping=mapping, target="customer.TOWN").update(transforms="upper")
    MappingRule.objects.filter(mapping=mapping, target="customer.PHNO").update(required=True)

    response = admin_client.get(url(mapping, "regression"))

    page = text(response)
    assert dict(response.context["report"].summary)["changed"] == 1
    assert dict(response.context["report"].summary)["now fails"] == 1
    assert "customer.TOWN" in page and "&quot;LONDON&quot;" in page
    assert "now fails" in page and "customer.PHNO" in page and "required" in page
    assert "#7002" in page and "#7001" in page
    assert admin_client.get(url(mapping, "regression") + "?n=1").context["total"] == 1
    assert url(mapping, "regression") in text(admin_client.get(url(mapping, "change")))  # reachable from the mapping


def test_roles_view_configure_and_publish(client, setup, roles):
    mapping = setup["mapping"]
    MappingRule.objects.filter(mapping=mapping, target="customer.TOWN").update(transforms="upper")
    operator = user_in("Operator")
    client.force_login(operator)
    assert client.get(url(mapping, "diff")).status_code == 200  # operators may look
    assert client.get(url(mapping, "preview")).status_code == 403
    assert client.get(url(mapping, "regression")).status_code == 403
    assert client.post(url(mapping, "publish"), {"draft_hash": "x"}).status_code == 403
    assert client.post(url(mapping, "rollback", 1)).status_code == 403

    viewer = user_in("Viewer")
    client.force_login(viewer)
    assert "needs the permission" in text(client.get(url(mapping, "publish")))
    assert client.post(url(mapping, "publish"), {"draft_hash": "x"}).status_code == 403

    publisher = User.objects.create_user("publisher", password="pw", is_staff=True)
    publisher.groups.add(Group.objects.get(name="Integrator"))  # integrators publish (mappings/0004_roles)
    client.force_login(publisher)
    assert client.get(url(mapping, "regression")).status_code == 200
    publish(client, mapping)
    assert Mapping.objects.get(pk=mapping.pk).published.created_by == "publisher"
    client.logout()
    assert client.get(url(mapping, "diff")).status_code == 302  # to the login page


def test_value_map_csv_import_export_and_the_reminder_to_publish(admin_client, setup):
    carriers = ValueMap.objects.get(name="xcart-shipping-to-m3-modl")
    export = admin_client.get(f"/admin/mappings/valuemap/{carriers.pk}/export-csv/")
    assert export["Content-Type"].startswith("text/csv")
    assert 'filename="xcart-shipping-to-m3-modl.csv"' in export["Content-Disposition"]
    assert export.content.decode() == "source,target\r\nCourier,EXP\r\nGround,UPS\r\nLocal pickup,PCK\r\n"

    page = text(admin_client.get(f"/admin/mappings/valuemap/{carriers.pk}/change/"))
    assert "published again" in page and "X-Cart order -&gt; M3 sales order" in page and "uses these entries" in page

    upload = io.BytesIO(b"source,target\nCourier,DHL\nDrone,DRN\n")
    upload.name = "carriers.csv"
    response = admin_client.post(f"/admin/mappings/valuemap/{carriers.pk}/import-csv/", {"file": upload, "mode": "replace"})
    assert "1 added, 1 updated, 0 unchanged, 2 removed" in text(response)
    assert carriers.as_dict() == {"Courier": "DHL", "Drone": "DRN"}
    assert "has other entries: publish the mapping again" in text(response)

    bad = io.BytesIO(b"Courier,EXP\nbroken line without comma\n")
    bad.name = "bad.csv"
    response = admin_client.post(f"/admin/mappings/valuemap/{carriers.pk}/import-csv/", {"file": bad, "mode": "merge"})
    assert "nothing was imported" in text(response) and "expected 2 columns" in text(response)
    assert carriers.as_dict() == {"Courier": "DHL", "Drone": "DRN"}

    round_trip = io.BytesIO(export.content)
    round_trip.name = "export.csv"
    admin_client.post(f"/admin/mappings/valuemap/{carriers.pk}/import-csv/", {"file": round_trip, "mode": "replace"})
    assert carriers.as_dict() == {"Courier": "EXP", "Ground": "UPS", "Local pickup": "PCK"}


def test_value_map_import_needs_the_change_permission(client, setup, roles):
    carriers = ValueMap.objects.get(name="xcart-shipping-to-m3-modl")
    client.force_login(user_in("Operator"))
    upload = io.BytesIO(b"Courier,DHL\n")
    upload.name = "x.csv"
    response = client.post(f"/admin/mappings/valuemap/{carriers.pk}/import-csv/", {"file": upload, "mode": "merge"})
    assert response.status_code == 403
    assert client.get(f"/admin/mappings/valuemap/{carriers.pk}/export-csv/").status_code == 200
    assert ValueMapEntry.objects.get(value_map=carriers, source_value="Courier").target_value == "EXP"


def test_suggestions_are_stored_pending_then_accepted_as_draft_rules_or_rejected(client, admin_client, setup):
    place_order(client, setup, 7001)  # a recorded event of the mapping's flow: sample values for the suggester
    mapping = setup["mapping"]  # no schemas set: they come from its flow (X-Cart order -> M3 sales_order.create)
    MappingRule.objects.filter(mapping=mapping, target__in=["customer.MAIL", "lines[].ITNO"]).delete()

    response = admin_client.post(url(mapping, "suggest"), follow=True)

    pending = {(s.target, s.source): s for s in mapping.suggestions.all()}
    assert ("customer.MAIL", "profile.email") in pending and ("lines[].ITNO", "items[].sku") in pending
    assert not any(target == "order.CUOR" for target, _ in pending)  # already mapped in the draft
    page = text(response)
    mail, sku = pending[("customer.MAIL", "profile.email")], pending[("lines[].ITNO", "items[].sku")]
    assert "Accept" in page and f"{round(mail.confidence * 100)}%" in page and escape(mail.reason) in page

    admin_client.post(url(mapping, "suggestions", mail.pk), {"decision": "accept"})
    admin_client.post(url(mapping, "suggestions", sku.pk), {"decision": "reject"})

    mail.refresh_from_db()
    sku.refresh_from_db()
    assert (mail.status, mail.decided_by, sku.status) == ("accepted", "admin", "rejected") and mail.decided_at
    rule = MappingRule.objects.get(mapping=mapping, target="customer.MAIL")
    assert (rule.source, mail.rule_id) == ("profile.email", rule.pk)
    assert rule.transforms == " | ".join(mail.transforms.split("|"))
    assert mapping.published.number == 1 and Mapping.objects.get(pk=mapping.pk).version == 1  # a draft rule only

    admin_client.post(url(mapping, "suggest"))
    again = {(s.target, s.source): s.status for s in mapping.suggestions.all()}
    assert again[("lines[].ITNO", "items[].sku")] == "rejected" and again[("customer.MAIL", "profile.email")] == "accepted"
    assert admin_client.post(url(mapping, "suggestions", sku.pk), {"decision": "accept"}).status_code == 404  # decided


def test_suggest_without_schemas_says_what_to_set(admin_client):
    mapping = Mapping.objects.create(name="bare")
    response = admin_client.post(url(mapping, "suggest"), follow=True)
    assert escape("Set the mapping's source schema and target schema first") in text(response)
    assert not MappingSuggestion.objects.exists()


def test_pages_need_csrf(setup):
    from django.test import Client

    User.objects.create_superuser("admin", "admin@example.org", "pw")
    strict = Client(enforce_csrf_checks=True)
    strict.login(username="admin", password="pw")
    mapping = setup["mapping"]
    assert strict.post(url(mapping, "publish"), {"draft_hash": "x"}).status_code == 403
    assert strict.post(url(mapping, "rollback", 1)).status_code == 403
    assert InboundEvent.objects.count() == 0 and mapping.versions.count() == 1


def test_add_pages_and_a_never_published_mapping_render(admin_client):
    assert admin_client.get("/admin/mappings/mapping/add/").status_code == 200
    assert admin_client.get("/admin/mappings/valuemap/add/").status_code == 200
    mapping = Mapping.objects.create(name="new")
    MappingRule.objects.create(mapping=mapping, target="a", source="b")
    assert "never published" in text(admin_client.get("/admin/mappings/mapping/"))
    assert "Never published" in text(admin_client.get(url(mapping, "change")))
    review = admin_client.get(url(mapping, "publish"))
    assert [c.kind for c in review.context["changes"].rules] == ["added"]
    publish(admin_client, mapping, note="first")
    assert Mapping.objects.get(pk=mapping.pk).version == 1


def test_a_bad_chain_or_expression_is_refused_on_its_row_when_the_draft_is_saved(admin_client):
    mapping = Mapping.objects.create(name="typos")
    ValueMap.objects.create(name="carriers")
    change = reverse("admin:mappings_mapping_change", args=[mapping.pk])
    form = {"name": "typos", "description": "", "source_schema": "", "target_schema": "",
            "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0", "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000",
            "rules-0-position": "1", "rules-0-target": "order.MODL", "rules-0-source": "shippingMethodName",
            "rules-0-transforms": "trim | lookup:carierrs", "rules-0-condition": "x.__class__", "rules-0-expression": ""}
    page = admin_client.post(change, form)
    assert page.status_code == 200 and not mapping.rules.exists()
    errors = text(page)
    assert "carierrs" in errors and "__class__" in errors
    assert "Transforms" in errors and "date_m3" in errors  # the list of transforms is on the page
    form.update({"rules-0-transforms": "trim | lookup:carriers", "rules-0-condition": 'shippingMethodName != ""'})
    assert admin_client.post(change, form).status_code == 302
    assert mapping.rules.get().transforms == "trim | lookup:carriers"
