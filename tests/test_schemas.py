"""Entity schemas: every connector's are well-formed, the demo's mappings fit them, and the validator
finds what is missing, too long or of the wrong type, also inside lists."""

import pytest

from connectors.infor_m3.schemas import LENGTHS
from connectors.infor_m3.simulator import FIELD_LENGTHS
from connectors.registry import CONNECTORS
from mappings import schemas
from mappings.schemas import PATH, TYPES, Problem, validator

GOOD_ORDER = {
    "customer": {"MAIL": "ada@example.org", "CUNM": "Ada Lovelace", "CUA1": "12 St James's Square", "TOWN": "London",
                 "PONO": "SW1Y 4JH", "CSCD": "GB", "PHNO": "+44 20 7946 0000"},
    "order": {"CUOR": "7001", "CUCD": "USD", "RLDT": "20261126", "MODL": "EXP"},
    "lines": [{"ITNO": "SKU-0001", "ORQT": 3, "SAPR": "19.95"}, {"ITNO": "SKU-0042", "ORQT": "2", "SAPR": 28.8}],
}


def problems(name, record):
    return [(p.at, p.message) for p in schemas.validator_for(name)(record)]


def test_every_schema_is_well_formed():
    assert len(schemas.names()) >= 20
    for name in schemas.names():
        schema = schemas.get(name)
        assert schema["label"] and schema["fields"], name
        assert schema["direction"] in ("source", "target", "both"), name
        if schema["direction"] in ("target", "both"):
            assert schema["action"] in CONNECTORS[name.split(".")[0]].actions, name
        if schema["direction"] in ("source", "both"):
            assert schema["entity"] in CONNECTORS[name.split(".")[0]].entities, name
        for path, spec in schema["fields"].items():
            assert PATH.match(path), (name, path)
            assert spec["type"] in TYPES, (name, path)
            assert spec.get("label"), (name, path)
            assert isinstance(spec.get("required", False), bool), (name, path)
            if "max_length" in spec:
                assert isinstance(spec["max_length"], int) and spec["max_length"] > 0, (name, path)
            if "[]." in path:  # an element path needs its list declared too
                assert path.rsplit("[].", 1)[0] in schema["fields"], (name, path)
        schemas.validator(schema)  # and a validator can be written for it


def test_every_action_of_the_store_and_erp_connectors_has_a_schema():
    for kind in ("xcart", "prestashop", "infor_m3", "domino"):
        for action in CONNECTORS[kind].actions:
            assert schemas.for_target(kind, action), (kind, action)
    assert schemas.for_target("generic_rest", "anything") is None


def test_m3_lengths_match_the_sandbox():
    for name, length in LENGTHS.items():
        assert FIELD_LENGTHS[name] == length, name


def test_get_names_the_known_schemas_when_one_is_missing():
    with pytest.raises(KeyError, match="infor_m3.sales_order"):
        schemas.get("infor_m3.sales_ordr")
    assert ("infor_m3.sales_order", "infor_m3.sales_order: " + schemas.get("infor_m3.sales_order")["label"]) \
        in schemas.choices()


def _targets(mapping) -> list[str]:
    """A mapping's target paths, a child mapping's below its rule's list (lines[].ITNO)."""
    paths = []
    for rule in mapping.rules.all():
        child = getattr(rule, "child", None)
        if child is not None:
            prefix = rule.target.removesuffix("[]").removesuffix(".")
            paths += [f"{prefix}[].{path}" for path in _targets(child)]
        else:
            paths.append(rule.target)
    return paths


@pytest.mark.django_db
def test_the_demo_mappings_write_only_fields_of_their_target_schema():
    from hub import demo
    from hub.models import Flow

    demo.seed("http://127.0.0.1:9")
    flows = list(Flow.objects.select_related("target", "mapping"))
    assert len(flows) >= 15
    for flow in flows:
        name = schemas.for_target(flow.target.kind, flow.target_action)
        assert name, f"{flow.name}: no schema for {flow.target.kind} {flow.target_action}"
        if flow.mapping.target_schema:
            assert flow.mapping.target_schema == name, flow.name
        fields = schemas.get(name)["fields"]
        for path in _targets(flow.mapping):
            assert path in fields, f"{flow.name}: {path} is not a field of {name}"
        source = schemas.for_source(flow.source.kind, flow.source_entity)
        assert source, f"{flow.name}: no schema for {flow.source.kind} {flow.source_entity}"


def test_a_good_order_has_no_problems():
    assert problems("infor_m3.sales_order", GOOD_ORDER) == []


def test_missing_required_fields_are_named():
    found = problems("infor_m3.sales_order", {"customer": {"MAIL": "ada@example.org"}, "order": {}, "lines": []})
    assert ("customer.CUNM", "required, but missing or empty") in found
    assert ("customer.CUA1", "required, but missing or empty") in found
    assert ("order.CUOR", "required, but missing or empty") in found
    assert ("lines", "required, but missing or empty") in found  # an order without lines is not sent
    nothing = problems("infor_m3.sales_order", {})
    assert ("lines", "required, but missing or empty") in nothing
    assert ("customer.MAIL", "required, but missing or empty") in nothing  # the parent is missing too
    blank = problems("infor_m3.sales_order", {**GOOD_ORDER, "order": {"CUOR": ""}})
    assert ("order.CUOR", "required, but missing or empty") in blank


def test_too_long_values_are_measured_as_sent():
    record = {**GOOD_ORDER, "customer": {**GOOD_ORDER["customer"], "CUA1": "x" * 37, "PONO": 12345678901,
                                         "CUNM": "Zoë Müller-Lüdenscheidt von Äpfelbäumchen"}}
    found = problems("infor_m3.sales_order", record)
    assert ("customer.CUA1", "is 37 characters, at most 36") in found
    assert ("customer.PONO", "is 11 characters, at most 10") in found  # a number is sent as its text
    assert ("customer.CUNM", "is 41 characters, at most 36") in found  # characters, not bytes (46)
    assert not any(at == "customer.CUA1" for at, _ in problems("infor_m3.sales_order", GOOD_ORDER))


def test_wrong_types():
    record = {**GOOD_ORDER, "customer": {**GOOD_ORDER["customer"], "MAIL": "ada at example.org", "CSCD": "G8",
                                         "CUNM": ["Ada"]},
              "order": {"CUOR": "1", "CUCD": "US Dollar", "RLDT": "20261131"}}
    found = problems("infor_m3.sales_order", record)
    assert ("customer.MAIL", "should be an e-mail address") in found
    assert ("customer.CSCD", "should be a country code like FR or FRA") in found
    assert ("customer.CUNM", "should be a text, got list") in found
    assert ("order.CUCD", "should be a currency code like EUR") in found
    assert ("order.RLDT", "should be an M3 date YYYYMMDD") in found
    assert problems("infor_m3.sales_order", {**GOOD_ORDER, "lines": "SKU-0001"})[0] == ("lines", "should be a list")


def test_problems_inside_lists_say_which_element():
    record = {**GOOD_ORDER, "lines": [{"ITNO": "SKU-0001", "ORQT": 1}, {"ITNO": "A" * 16, "ORQT": "three"},
                                      {"ORQT": 2, "SAPR": "nan"}, "not a line"]}
    validate = schemas.validator_for("infor_m3.sales_order")
    found = validate(record)
    assert Problem("lines[].ITNO", "is 16 characters, at most 15", "A" * 16, "lines[1].ITNO") in found
    assert Problem("lines[].ORQT", "should be a number", "three", "lines[1].ORQT") in found
    assert Problem("lines[].ITNO", "required, but missing or empty", None, "lines[2].ITNO") in found
    assert Problem("lines[].SAPR", "should be a number", "nan", "lines[2].SAPR") in found
    assert Problem("lines[].ITNO", "required, but missing or empty", None, "lines[3].ITNO") in found
    assert str(found[0]).startswith("lines[1].ITNO: ")


def test_lists_of_values_and_nested_lists():
    schema = {"label": "test", "fields": {
        "OrderLines": {"type": "list", "label": "lines"}, "OrderLines[]": {"type": "string", "max_length": 5, "label": "a line"},
        "a.b": {"type": "list", "label": "b"}, "a.b[].c": {"type": "list", "label": "c"},
        "a.b[].c[].d": {"type": "integer", "required": True, "label": "d"}}}
    validate = validator(schema)
    found = [(p.at, p.message) for p in validate({"OrderLines": ["short", "too long", 12], "a": {"b": [{"c": [{"d": 1}, {}]}]}})]
    assert found == [("OrderLines[1]", "is 8 characters, at most 5"), ("a.b[0].c[1].d", "required, but missing or empty")]


def test_other_systems_schemas_check_their_own_rules():
    assert problems("prestashop.customer", {"email": "a@b.org", "firstname": "A", "lastname": "B" * 256}) == [
        ("lastname", "is 256 characters, at most 255")]
    assert problems("prestashop.order_state", {"id_order": "5", "id_order_state": "four"}) == [
        ("id_order_state", "should be a whole number")]
    assert problems("domino.order", {"OrderNumber": "DO-1", "OrderDate": "yesterday"}) == [
        ("OrderDate", "should be a date-time (ISO 8601 or unix seconds)")]
    assert problems("xcart.stock", {"sku": "SKU-1", "amount": 3}) == []
    assert problems("infor_m3.payment", {"reference": "7001", "amount": "127.45", "currency": "USD", "date": 20261126}) == []


def test_bad_schemas_are_refused_when_the_validator_is_written():
    with pytest.raises(ValueError, match="not a dotted path"):
        validator({"label": "x", "fields": {"lines[]..ITNO": {"type": "string"}}})
    with pytest.raises(ValueError, match="unknown type"):
        validator({"label": "x", "fields": {"ITNO": {"type": "varchar"}}})


def test_a_required_list_that_is_empty_is_a_problem():
    from mappings.schemas import validator

    check = validator({"label": "t", "fields": {"lines": {"type": "list", "required": True},
                                               "lines[].ITNO": {"type": "string", "required": True}}})
    problems = check({"lines": []})
    assert [p.path for p in problems] == ["lines"] and "required" in problems[0].message
    assert check({"lines": [{"ITNO": "A1"}]}) == []
