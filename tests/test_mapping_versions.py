"""Versions of a mapping: diff, rollback, draft vs published, and the regression on recorded events.

The admin pages over these are tested in test_mapping_admin.py; here the functions themselves, on
rows made directly (polled events: their body is the source record, so no system is called).
"""

import json

import pytest

from connectors.models import Connection
from hub.models import Flow
from mappings import csv_io, versions
from mappings.engine import compiled
from mappings.models import Mapping, MappingRule, ValueMap, ValueMapEntry
from monitoring.models import InboundEvent, SyncRecord

pytestmark = pytest.mark.django_db


def rule(target, source="", **options):
    return {"position": options.pop("position", 0), "target": target, "source": source, "constant": "", "default": "",
            "required": False, "transforms": "", "condition": "", "expression": "", "child": None, **options}


def snapshot(*rules, value_maps=None, **schemas):
    return {"rules": list(rules), "value_maps": value_maps or {}, "source_schema": "", "target_schema": "", **schemas}


def make_mapping(name="orders", *rules):
    mapping = Mapping.objects.create(name=name)
    for position, (target, source, options) in enumerate(rules):
        MappingRule.objects.create(mapping=mapping, position=position * 10, target=target, source=source, **options)
    mapping.publish(by="tester", note="first")
    return mapping


# --- diff -----------------------------------------------------------------------------------------


def test_diff_lists_added_removed_and_changed_rules_by_target():
    old = snapshot(rule("order.CUOR", "orderNumber", required=True), rule("customer.PHNO", "phone"),
                   rule("order.MODL", "ship", transforms="lookup:carriers"),
                   value_maps={"carriers": {"Courier": "EXP", "Ground": "UPS"}})
    new = snapshot(rule("order.CUOR", "orderNumber", required=True, transforms="text:20"),
                   rule("order.MODL", "ship", transforms="lookup:carriers"), rule("customer.MAIL", "email"),
                   value_maps={"carriers": {"Courier": "EXP", "Ground": "DHL", "Pickup": "PCK"}},
                   target_schema="infor_m3.sales_order")
    changes = versions.diff(old, new)

    by_target = {c.target: c for c in changes.rules}
    assert set(by_target) == {"order.CUOR", "customer.PHNO", "customer.MAIL"}  # MODL is unchanged
    assert by_target["order.CUOR"].kind == "changed"
    assert by_target["order.CUOR"].fields == [("transforms", "", "text:20")]
    assert by_target["customer.PHNO"].kind == "removed" and ("source", "phone", None) in by_target["customer.PHNO"].fields
    assert by_target["customer.MAIL"].kind == "added" and ("source", None, "email") in by_target["customer.MAIL"].fields
    [carriers] = changes.value_maps
    assert (carriers.name, carriers.kind) == ("carriers", "changed")
    assert carriers.entries == [("Ground", "UPS", "DHL"), ("Pickup", None, "PCK")]
    assert changes.schemas == [("target_schema", "", "infor_m3.sales_order")]
    assert "changed order.CUOR: transforms '' -> 'text:20'" in changes.lines()


def test_diff_of_the_same_rules_reordered_is_only_their_positions():
    old = snapshot(rule("a", "x", position=10), rule("b", "y", position=20))
    new = snapshot(rule("b", "y", position=10), rule("a", "x", position=20))
    changes = versions.diff(old, new)
    assert [(c.target, c.fields) for c in changes.rules] == [("a", [("position", 10, 20)]), ("b", [("position", 20, 10)])]
    assert not versions.diff(old, old)


def test_diff_goes_into_child_mappings_and_tells_rules_with_the_same_target_apart():
    child_old = snapshot(rule("ITNO", "sku"))
    child_new = snapshot(rule("ITNO", "sku", transforms="upper"))
    old = snapshot(rule("lines", "items", child=child_old), rule("status", "a", condition="x == 1"),
                   rule("status", "b", condition="x == 2", position=1))
    new = snapshot(rule("lines", "items", child=child_new), rule("status", "a", condition="x == 1"),
                   rule("status", "c", condition="x == 2", position=1))
    targets = {c.target: c.fields for c in versions.diff(old, new).rules}
    assert targets == {"lines / ITNO": [("transforms", "", "upper")], "status (#2)": [("source", "b", "c")]}


# --- draft vs published, rollback -----------------------------------------------------------------


def test_editing_the_draft_changes_nothing_until_published():
    mapping = make_mapping("m", ("order.CUOR", "orderNumber", {}))
    assert not versions.draft_differs(mapping)
    MappingRule.objects.filter(mapping=mapping).update(transforms="upper")
    mapping.refresh_from_db()
    assert versions.draft_differs(mapping)
    assert compiled(mapping)({"orderNumber": "ab"}) == {"order": {"CUOR": "ab"}}  # flows still run v1
    mapping.publish(by="tester")
    assert mapping.version == 2 and compiled(mapping)({"orderNumber": "ab"}) == {"order": {"CUOR": "AB"}}


def test_a_value_map_change_makes_the_draft_differ_and_reaches_flows_only_on_publish():
    carriers = ValueMap.objects.create(name="carriers")
    ValueMapEntry.objects.create(value_map=carriers, source_value="Courier", target_value="EXP")
    mapping = make_mapping("m", ("MODL", "ship", {"transforms": "lookup:carriers"}))
    ValueMapEntry.objects.filter(value_map=carriers).update(target_value="DHL")
    assert versions.draft_differs(mapping)
    assert compiled(mapping)({"ship": "Courier"}) == {"MODL": "EXP"}
    [change] = versions.diff(mapping.published.snapshot, mapping.draft_snapshot()).value_maps
    assert change.entries == [("Courier", "EXP", "DHL")]


def test_rollback_publishes_the_earlier_snapshot_as_the_next_version():
    mapping = make_mapping("m", ("order.CUOR", "orderNumber", {}))
    MappingRule.objects.filter(mapping=mapping).update(transforms="upper")
    mapping.publish(by="tester", note="upper case")
    assert compiled(mapping)({"orderNumber": "ab"}) == {"order": {"CUOR": "AB"}}

    v3 = versions.rollback(mapping, 1, by="ops")

    mapping.refresh_from_db()
    assert (v3.number, v3.note, v3.created_by) == (3, "rollback to v1", "ops")
    assert mapping.version == 3 and v3.snapshot == mapping.versions.get(number=1).snapshot
    assert compiled(mapping)({"orderNumber": "ab"}) == {"order": {"CUOR": "ab"}}
    assert list(mapping.versions.values_list("number", flat=True)) == [3, 2, 1]  # linear history
    assert MappingRule.objects.get(mapping=mapping).transforms == "upper"  # the draft is kept
    assert versions.draft_differs(mapping)


# --- regression on recorded events ----------------------------------------------------------------


@pytest.fixture
def recorded():
    """A polled flow using a mapping, with three recorded events (bodies are the records)."""
    m3 = Connection.objects.create(name="M3", slug="m3", kind="infor_m3", auth_kind="ionapi")
    store = Connection.objects.create(name="Store", slug="store", kind="xcart", auth_kind="api_token",
                                      base_url="http://127.0.0.1:9/xcart")
    mapping = make_mapping("stock", ("sku", "ITNO", {"required": True}), ("amount", "quantity", {"transforms": "integer"}),
                           ("warehouse", "WHLO", {}))
    flow = Flow.objects.create(name="stock", source=m3, source_entity="stock", mapping=mapping, target=store,
                               target_action="stock.update")
    bodies = [{"ITNO": "A1", "quantity": "3", "WHLO": "100"}, {"ITNO": "B2", "quantity": "7", "WHLO": ""},
              {"ITNO": "C3", "quantity": "4.5", "WHLO": "200"}]
    for number, body in enumerate(bodies):
        event = InboundEvent.objects.create(connection=m3, origin=InboundEvent.Origin.POLL, idempotency_key=f"k{number}",
                                            topic="stock.changed", source_id=body["ITNO"], body=json.dumps(body))
        SyncRecord.objects.create(flow=flow, event=event, source_id=body["ITNO"])
    return mapping


def test_regression_classifies_every_record_against_the_published_version(recorded):
    mapping = recorded
    # The draft: amounts as text with the warehouse required; C3 (4.5) failed in v1 and now succeeds,
    # B2 (no warehouse) now fails, A1 changes its amount field.
    MappingRule.objects.filter(mapping=mapping, target="amount").update(transforms="")
    MappingRule.objects.filter(mapping=mapping, target="warehouse").update(required=True)

    report = versions.regression(mapping, limit=50)

    kinds = {row.sample.label.split("#")[1].split()[0]: row for row in report.rows}
    assert {k: row.kind for k, row in kinds.items()} == {"A1": "changed", "B2": "now fails", "C3": "now succeeds"}
    assert kinds["A1"].changes == [("amount", 3, "3")]
    assert "warehouse" in kinds["B2"].draft.error and "required" in kinds["B2"].draft.error
    assert "4.5" in kinds["C3"].published.error
    assert dict(report.summary) == {"changed": 1, "now fails": 1, "now succeeds": 1, "still fails": 0,
                                    "unreadable": 0, "same": 0}
    assert [row.sample.event_id for row in versions.regression(mapping, limit=2).rows] == \
        [row.sample.event_id for row in report.rows[:2]]  # the latest N, newest first


def test_regression_of_a_draft_that_does_not_compile_runs_nothing_and_says_why(recorded):
    MappingRule.objects.filter(mapping=recorded, target="sku").update(transforms="lookup:no-such-map")
    report = versions.regression(recorded)
    assert report.rows == [] and "no-such-map" in report.compile_error


def test_a_purged_payload_is_an_unreadable_row_not_an_error(recorded):
    InboundEvent.objects.filter(source_id="B2").update(body="")
    rows = {row.sample.label.split("#")[1].split()[0]: row for row in versions.regression(recorded).rows}
    assert rows["B2"].kind == "unreadable" and "purged" in rows["B2"].sample.error
    assert rows["A1"].kind == "same"


def test_preview_shows_both_outputs_and_the_fields_that_change(recorded):
    MappingRule.objects.filter(mapping=recorded, target="amount").update(transforms="")
    result = versions.preview(recorded, {"ITNO": "A1", "quantity": "3"})
    assert result.draft.output == {"sku": "A1", "amount": "3"} and result.published.output == {"sku": "A1", "amount": 3}
    assert result.changes == [("amount", 3, "3")]
    failing = versions.preview(recorded, {"quantity": "3"})
    assert not failing.draft.ok and "sku" in failing.draft.error


def test_field_changes_compare_nested_lists_leaf_by_leaf():
    old = {"order": {"CUOR": "1"}, "lines": [{"ITNO": "A"}, {"ITNO": "B"}]}
    new = {"order": {"CUOR": "1", "CUCD": "EUR"}, "lines": [{"ITNO": "A"}]}
    assert versions.field_changes(old, new) == [("lines[1].ITNO", "B", versions.MISSING),
                                                ("order.CUCD", versions.MISSING, "EUR")]


# --- value map CSV --------------------------------------------------------------------------------


def test_csv_export_and_import_round_trip():
    source = ValueMap.objects.create(name="carriers")
    entries = {"Courier": "EXP", "Ground, slow": "UPS", "Ünïcode \"quoted\"": "PCK", "  padded": "  X"}
    for k, v in entries.items():
        ValueMapEntry.objects.create(value_map=source, source_value=k, target_value=v)
    text = csv_io.export_csv(source)
    assert text.startswith("source,target\r\n")

    copy = ValueMap.objects.create(name="copy")
    report = csv_io.import_csv(copy, text.encode("utf-8"), "replace")
    assert (report.added, report.bad_lines) == (4, []) and copy.as_dict() == entries
    assert str(csv_io.import_csv(copy, text.encode(), "merge")) == "0 added, 0 updated, 4 unchanged, 0 removed"


def test_csv_import_merge_keeps_and_replace_removes_what_the_file_does_not_mention():
    vm = ValueMap.objects.create(name="status")
    for k, v in {"22": "N", "33": "P", "99": "D"}.items():
        ValueMapEntry.objects.create(value_map=vm, source_value=k, target_value=v)
    report = csv_io.import_csv(vm, "\ufeff22;X\n44;P\n".encode("utf-8"), "merge")  # BOM, semicolons, no header
    assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 0, 0)
    assert vm.as_dict() == {"22": "X", "33": "P", "44": "P", "99": "D"}
    report = csv_io.import_csv(vm, b"source,target\n22,N\n", "replace")
    assert (report.added, report.updated, report.removed) == (0, 1, 3) and vm.as_dict() == {"22": "N"}


def test_csv_import_with_a_bad_line_changes_nothing_and_names_the_lines():
    vm = ValueMap.objects.create(name="status")
    ValueMapEntry.objects.create(value_map=vm, source_value="22", target_value="N")
    data = b"source,target\n33,P\n44\n,Q\n55,A\n55,B\n" + b"x," + b"y" * 201 + b"\n"
    report = csv_io.import_csv(vm, data, "replace")
    assert not report.ok and [n for n, _ in report.bad_lines] == [3, 4, 6, 7]
    assert "expected 2 columns" in report.bad_lines[0][1] and "already mapped to 'A' on line 5" in report.bad_lines[2][1]
    assert vm.as_dict() == {"22": "N"}
    assert "not UTF-8" in csv_io.import_csv(vm, "é,e".encode("latin-1")).bad_lines[0][1]
