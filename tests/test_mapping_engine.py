"""The mapping engine: paths, list rules, chains of transforms, child mappings, conditions, expressions,
validation against the target schema, errors at compile time and at run time, versions."""

import copy
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from hub import demo
from mappings.engine import MappingError, _fast_decimal, compile_snapshot, compiled
from mappings.models import Mapping, MappingRule, ValueMap, ValueMapEntry
from mappings.transforms import Context, TransformError, build, build_chain

pytestmark = pytest.mark.django_db

ORDER = {
    "orderNumber": "42",
    "date": 1795684502,
    "profile": {"email": "Ada@Example.org"},
    "billingAddress": {"firstname": " Ada ", "lastname": "Lovelace", "street": "x" * 50},
    "shippingMethodName": "Courier",
    "items": [{"sku": "A1", "amount": "3", "price": 19.955}, {"sku": "B2", "amount": 1, "price": 5}],
}


def mapping_with(*rules):
    mapping = Mapping.objects.create(name=f"m{Mapping.objects.count()}")
    for position, (target, source, options) in enumerate(rules):
        MappingRule.objects.create(mapping=mapping, position=position, target=target, source=source, **options)
    mapping.publish()
    return mapping


def run(mapping, record=ORDER):
    return compiled(mapping)(record)


def test_paths_lists_and_transforms():
    carriers = ValueMap.objects.create(name="carriers")
    ValueMapEntry.objects.create(value_map=carriers, source_value="Courier", target_value="EXP")
    mapping = mapping_with(
        ("customer.MAIL", "profile.email", {"transforms": "lower"}),
        ("customer.CUNM", "billingAddress.firstname, billingAddress.lastname", {"transforms": "join"}),
        ("customer.CUA1", "billingAddress.street", {"transforms": "text:36"}),
        ("order.CUOR", "orderNumber", {"required": True}),
        ("order.RLDT", "date", {"transforms": "date_m3"}),
        ("order.MODL", "shippingMethodName", {"transforms": "lookup:carriers"}),
        ("order.ORTP", "", {"constant": "WEB"}),
        ("order.CUCD", "currency.code", {"default": "USD"}),
        ("lines[].ITNO", "items[].sku", {}),
        ("lines[].ORQT", "items[].amount", {"transforms": "integer"}),
        ("lines[].SAPR", "items[].price", {"transforms": "decimal:2"}),
    )
    assert run(mapping) == {
        "customer": {"MAIL": "ada@example.org", "CUNM": "Ada Lovelace", "CUA1": "x" * 36},
        "order": {"CUOR": "42", "RLDT": "20261126", "MODL": "EXP", "ORTP": "WEB", "CUCD": "USD"},
        "lines": [{"ITNO": "A1", "ORQT": 3, "SAPR": "19.96"}, {"ITNO": "B2", "ORQT": 1, "SAPR": "5.00"}],
    }


def test_missing_optional_values_are_left_out():
    mapping = mapping_with(("customer.PHNO", "billingAddress.phone", {}), ("lines[].ITNO", "items[].sku", {}))
    assert run(mapping, {"items": []}) == {"lines": []}


def test_required_value_missing_names_the_rule():
    mapping = mapping_with(("order.CUOR", "orderNumber", {"required": True}))
    with pytest.raises(MappingError, match=r"order.CUOR <- orderNumber: required value missing"):
        run(mapping, {"orderNumber": "  "})


def test_failed_transform_names_rule_and_value():
    mapping = mapping_with(("lines[].ORQT", "items[].amount", {"transforms": "integer"}))
    with pytest.raises(MappingError, match=r"lines\[\].ORQT <- items\[\].amount: transform 'integer' failed on '2.5'"):
        run(mapping, {"items": [{"amount": "2.5"}]})


def test_unmapped_lookup_value_is_an_error_unless_a_default_is_set():
    carriers = ValueMap.objects.create(name="carriers")
    strict = mapping_with(("order.MODL", "shippingMethodName", {"transforms": "lookup:carriers"}))
    with pytest.raises(MappingError, match="'Courier' is not in value map 'carriers'"):
        run(strict)
    lenient = mapping_with(("order.MODL", "shippingMethodName", {"transforms": "lookup:carriers,default=STD"}))
    assert run(lenient) == {"order": {"MODL": "STD"}}


def test_draft_edits_change_nothing_until_published():
    carriers = ValueMap.objects.create(name="carriers")
    entry = ValueMapEntry.objects.create(value_map=carriers, source_value="Courier", target_value="EXP")
    mapping = mapping_with(("order.MODL", "shippingMethodName", {"transforms": "lookup:carriers"}))
    assert mapping.version == 1 and run(mapping) == {"order": {"MODL": "EXP"}}
    entry.target_value = "DHL"
    entry.save()
    mapping.rules.create(position=5, target="order.ORTP", constant="WEB")
    mapping.refresh_from_db()
    assert mapping.version == 1 and run(mapping) == {"order": {"MODL": "EXP"}}  # the published snapshot
    mapping.publish()
    assert mapping.version == 2 and run(mapping) == {"order": {"MODL": "DHL", "ORTP": "WEB"}}


def test_a_mapping_never_published_is_a_clear_error():
    mapping = Mapping.objects.create(name="unpublished")
    with pytest.raises(MappingError, match="no published version"):
        compiled(mapping)


@pytest.mark.parametrize("argument, expected", [("0", "Ada"), ("1:", "King Lovelace"), ("-1", "Lovelace"), ("", "Ada")])
def test_words_splits_a_full_name(argument, expected):
    mapping = mapping_with(("name", "full", {"transforms": f"words:{argument}"}))
    assert run(mapping, {"full": "  Ada King Lovelace "}) == {"name": expected}


def test_words_of_a_one_word_name_fails_clearly():
    mapping = mapping_with(("last", "full", {"transforms": "words:1"}))
    with pytest.raises(MappingError, match="transform 'words' failed on 'Cher'"):
        run(mapping, {"full": "Cher"})


def test_format_turns_order_rows_into_text_lines():
    mapping = mapping_with(("OrderLines", "associations.order_rows",
                            {"transforms": "format:{product_reference} x {product_quantity} @ {unit_price_tax_incl}"}))
    rows = [{"product_reference": "SKU-1", "product_quantity": "2", "unit_price_tax_incl": "9.50"},
            {"product_reference": "SKU-2", "product_quantity": "1"}]
    assert run(mapping, {"associations": {"order_rows": rows}}) == {"OrderLines": ["SKU-1 x 2 @ 9.50", "SKU-2 x 1 @ "]}


def test_format_cannot_reach_into_python_objects():
    mapping = mapping_with(("out", "v", {"transforms": "format:{value.__class__} {0} {value!r}"}))
    assert run(mapping, {"v": "x"}) == {"out": "  {value!r}"}  # unknown names are empty, specs stay text


def test_richtext_is_sanitised_html_or_plain_text():
    rich = {"type": "multipart", "content": [
        {"contentType": "text/html", "data": "<p onclick='steal()'>Caf\u00e9 <b>bold</b><script>x()</script></p>"}]}
    html = mapping_with(("description", "d", {"transforms": "richtext:html"}))
    text = mapping_with(("description", "d", {"transforms": "richtext:text"}))
    assert run(html, {"d": rich}) == {"description": "<p>Caf\u00e9 <b>bold</b></p>"}
    assert run(text, {"d": rich})["description"].strip() == "Caf\u00e9 bold"
    with pytest.raises(MappingError, match="transform 'richtext' failed"):
        run(html, {"d": 42})


# --- the complete engine: children, conditions, expressions, validation, compile-time errors -------

XCART_ORDER = {
    "orderNumber": "A-1001",
    "paymentStatus": {"code": "P"},
    "currency": {"code": "EUR"},
    "total": 49.9,
    "shippingCost": 4.95,
    "billingAddress": {"firstname": "Ada", "lastname": "Lovelace", "street": "1 Rue X", "city": "Paris"},
    "addresses": [{"street": "12 Downing St", "city": "London"}],
    "items": [{"sku": "A1", "amount": 2, "price": 19.99, "name": "Widget"},
              {"sku": "B2", "amount": "1", "price": "5.50", "name": "Gadget", "gift": True}],
}


def rule_row(target, source="", **options):
    return {"target": target, "source": source, "constant": "", "default": "", "required": False, "transforms": "",
            "condition": "", "expression": "", "child": None, **options}


def snapshot(*rules, **extra):
    return {"rules": list(rules), "value_maps": extra.pop("value_maps", {}), **extra}


def line_mapping():
    """X-Cart item -> one M3 AddBatchLine (OIS100MI), as a child mapping of its own."""
    child = Mapping.objects.create(name="xcart item -> m3 line")
    for position, (target, source, options) in enumerate([
        ("ITNO", "sku", {"required": True, "transforms": "trim | upper | text:15"}),
        ("ORQT", "amount", {"required": True, "transforms": "integer"}),
        ("SAPR", "price", {"transforms": "decimal:2"}),
        ("LNAM", "", {"expression": "decimal(price) * int(amount)", "transforms": "decimal:2"}),
        ("ITDS", "name", {"transforms": "upper"}),
        ("GIFT", "", {"constant": "Y", "condition": "gift == True"}),
    ]):
        MappingRule.objects.create(mapping=child, position=position, target=target, source=source, **options)
    return child


def test_a_child_mapping_makes_one_line_per_item():
    mapping = mapping_with(("order.CUOR", "orderNumber", {"required": True}),
                           ("lines[]", "items[]", {"child": line_mapping()}))
    assert run(mapping, XCART_ORDER) == {"order": {"CUOR": "A-1001"}, "lines": [
        {"ITNO": "A1", "ORQT": 2, "SAPR": "19.99", "LNAM": "39.98", "ITDS": "WIDGET"},
        {"ITNO": "B2", "ORQT": 1, "SAPR": "5.50", "LNAM": "5.50", "ITDS": "GADGET", "GIFT": "Y"},
    ]}
    assert run(mapping, {"orderNumber": "A-2"}) == {"order": {"CUOR": "A-2"}, "lines": []}


def test_a_failing_child_rule_names_the_parent_rule_the_element_and_the_child_rule():
    mapping = mapping_with(("lines[]", "items[]", {"child": line_mapping()}))
    order = {"items": [{"sku": "A1", "amount": 1, "price": 1}, {"sku": "B2", "amount": "1.5", "price": 1}]}
    with pytest.raises(MappingError, match=r"rule lines\[\] <- items\[\] at items\[1\]: rule ORQT <- amount: "
                                           r"transform 'integer' failed on '1.5': '1.5' is not a whole number"):
        run(mapping, order)
    with pytest.raises(MappingError, match=r"at items\[0\]: rule ITNO <- sku: required value missing"):
        run(mapping, {"items": [{"amount": 1}]})
    with pytest.raises(MappingError, match=r"items should be a list, got str"):
        run(mapping, {"items": "A1"})


def test_a_child_mapping_of_text_lines_sees_each_line_as_value():
    """Domino 'OrderLines' text lines -> PrestaShop associations.order_rows."""
    row = Mapping.objects.create(name="domino line -> prestashop row")
    for position, (target, transforms) in enumerate([("product_reference", "words:0"),
                                                     ("product_quantity", "words:2 | integer"),
                                                     ("unit_price_tax_incl", "words:4 | decimal:6")]):
        MappingRule.objects.create(mapping=row, position=position, target=target, source="value", transforms=transforms)
    mapping = mapping_with(("associations.order_rows[]", "OrderLines[]", {"child": row}))
    document = {"OrderLines": ["SKU-1 x 2 @ 9.50", "SKU-2 x 1 @ 12"]}
    assert run(mapping, document) == {"associations": {"order_rows": [
        {"product_reference": "SKU-1", "product_quantity": 2, "unit_price_tax_incl": "9.500000"},
        {"product_reference": "SKU-2", "product_quantity": 1, "unit_price_tax_incl": "12.000000"}]}}


def test_a_child_mapping_of_one_object():
    address = Mapping.objects.create(name="address")
    MappingRule.objects.create(mapping=address, position=1, target="CUA1", source="street", transforms="text:36")
    MappingRule.objects.create(mapping=address, position=2, target="TOWN", source="city", transforms="upper")
    mapping = mapping_with(("customer.address", "billingAddress", {"child": address}))
    assert run(mapping, XCART_ORDER) == {"customer": {"address": {"CUA1": "1 Rue X", "TOWN": "PARIS"}}}
    assert run(mapping, {}) == {}


def test_conditions_set_a_value_when_a_field_matches():
    mapping = mapping_with(
        ("order.PYCD", "", {"constant": "CC", "condition": 'paymentStatus.code == "P"'}),
        ("order.PYCD", "", {"constant": "INV", "condition": 'paymentStatus.code != "P"'}),
        ("order.NOTE", "", {"constant": "big", "condition": "total > 40 and currency.code in ['EUR', 'USD']"}),
        ("order.CUOR", "orderNumber", {"required": True, "condition": "not empty(items)"}),
        ("order.WHLO", "warehouse", {"default": "100", "condition": "total > 1000"}),
    )
    assert run(mapping, XCART_ORDER) == {"order": {"PYCD": "CC", "NOTE": "big", "CUOR": "A-1001"}}
    unpaid = dict(XCART_ORDER, paymentStatus={"code": "Q"}, total=10, items=[], orderNumber="")
    assert run(mapping, unpaid) == {"order": {"PYCD": "INV"}}  # required and default only apply when true


def test_expressions_compute_values_as_decimal_text():
    mapping = mapping_with(
        ("order.NET", "", {"expression": "total - shippingCost"}),
        ("order.LINES", "", {"expression": "len(items)"}),
        ("order.QTY", "", {"expression": "sum(items, 'amount')"}),
        ("order.NAME", "", {"expression": 'concat(billingAddress.firstname, " ", upper(billingAddress.lastname))',
                            "transforms": "text:8"}),
        ("order.TOWN", "", {"expression": "addresses.0.city if addresses else billingAddress.city"}),
        ("order.NONE", "", {"expression": "billingAddress.company", "default": "-"}),
    )
    assert run(mapping, XCART_ORDER) == {"order": {"NET": "44.95", "LINES": 2, "QTY": "3", "NAME": "Ada LOVE",
                                                   "TOWN": "London", "NONE": "-"}}


def test_a_failing_expression_names_the_rule_and_why():
    mapping = mapping_with(("order.AVG", "", {"expression": "total / len(items)"}))
    with pytest.raises(MappingError, match=r"rule order.AVG <- total / len\(items\): expression 'total / len\(items\)' "
                                           r"failed: division by zero"):
        run(mapping, {"total": 5, "items": []})


def test_list_rules_take_conditions_and_expressions_and_name_the_element_that_failed():
    mapping = mapping_with(
        ("lines[].ITNO", "items[].sku", {}),
        ("lines[].LNAM", "", {"expression": "decimal(price) * int(amount)"}),
        ("lines[].GIFT", "", {"constant": "Y", "condition": "gift"}),
        ("lines[].ORQT", "items[].amount", {"transforms": "integer"}),
    )
    assert run(mapping, XCART_ORDER)["lines"] == [{"ITNO": "A1", "LNAM": "39.98", "ORQT": 2},
                                                  {"ITNO": "B2", "LNAM": "5.50", "GIFT": "Y", "ORQT": 1}]
    bad = {"items": [{"sku": "A", "price": 1, "amount": 1}, {"sku": "B", "price": 1, "amount": "x"}]}
    with pytest.raises(MappingError, match=r"rule lines\[\].LNAM <- decimal\(price\) \* int\(amount\): expression .* "
                                           r"failed at items\[1\]: 'x' is not a number"):
        run(mapping, bad)


def test_several_sources_are_joined_with_the_separator_of_join():
    mapping = mapping_with(
        ("CustomerName", "billingAddress.firstname, billingAddress.lastname", {"transforms": 'join:", " | upper'}),
        ("Spaced", "billingAddress.firstname, billingAddress.company, billingAddress.lastname", {}),
        ("Empty", "billingAddress.company, billingAddress.vat", {"default": "none"}),
    )
    assert run(mapping, XCART_ORDER) == {"CustomerName": "ADA, LOVELACE", "Spaced": "Ada Lovelace", "Empty": "none"}


def test_chains_of_transforms_run_in_order():
    carriers = ValueMap.objects.create(name="carriers")
    ValueMapEntry.objects.create(value_map=carriers, source_value="Courier", target_value="Exp")
    mapping = mapping_with(
        ("a", "name", {"transforms": "trim | upper | text:3"}),
        ("b", "method", {"transforms": "trim | lookup:carriers,default=std | upper"}),
        ("c", "code", {"transforms": "unpad:0 | pad:6,0"}),
        ("d", "when", {"transforms": "date:iso>m3,tz=Europe/Paris"}),
        ("e", "", {"constant": " web ", "transforms": "trim | upper"}),  # applied once, at compile time
    )
    record = {"name": "  widget ", "method": " Courier ", "code": "  00042 ", "when": "2026-11-30T23:30:00+00:00"}
    assert run(mapping, record) == {"a": "WID", "b": "EXP", "c": "000042", "d": "20261201", "e": "WEB"}
    assert run(mapping, dict(record, method="Bike")) ["b"] == "STD"


def test_index_paths_read_list_elements():
    mapping = mapping_with(("a", "addresses.0.street", {}), ("b", "addresses[0].city", {}), ("c", "addresses.1.city", {}),
                           ("d", "items.-1.sku", {}))
    assert run(mapping, XCART_ORDER) == {"a": "12 Downing St", "b": "London", "d": "B2"}


SCHEMA = {"label": "M3 sales order (test)", "fields": {
    "order.CUOR": {"type": "string", "max_length": 20, "required": True, "label": "Customer order number"},
    "order.ORDT": {"type": "m3date", "required": True},
    "lines[].ITNO": {"type": "string", "max_length": 15, "required": True},
    "lines[].ORQT": {"type": "decimal", "required": True},
}}
SCHEMA_RULES = [rule_row("order.CUOR", "orderNumber"), rule_row("order.ORDT", "date", transforms="date_m3"),
                rule_row("lines[].ITNO", "items[].sku"), rule_row("lines[].ORQT", "items[].amount")]


def test_output_is_validated_against_the_target_schema():
    run_it = compile_snapshot(snapshot(*SCHEMA_RULES), schema=SCHEMA)
    good = {"orderNumber": "A-1", "date": 1795684502, "items": [{"sku": "A1", "amount": 1}]}
    assert run_it(good) == {"order": {"CUOR": "A-1", "ORDT": "20261126"}, "lines": [{"ITNO": "A1", "ORQT": 1}]}
    with pytest.raises(MappingError) as caught:
        run_it(dict(good, orderNumber="AB-12345678901234567890"))
    assert str(caught.value) == ("order.CUOR <- orderNumber: 'AB-12345678901234567890' is 23 characters, at most 20 "
                                 "(M3 sales order (test))")
    with pytest.raises(MappingError) as caught:
        run_it({"orderNumber": "A-1", "items": [{"sku": "A1", "amount": 1}, {"sku": "X" * 16, "amount": "lots"}]})
    message = str(caught.value)
    assert "order.ORDT <- date: required, but missing or empty" in message
    assert f"lines[].ITNO <- items[].sku at lines[1].ITNO: '{'X' * 16}' is 16 characters, at most 15" in message
    assert "lines[].ORQT <- items[].amount at lines[1].ORQT: 'lots' should be a number" in message


def test_a_required_schema_field_no_rule_writes_says_so():
    run_it = compile_snapshot(snapshot(rule_row("order.CUOR", "orderNumber")), schema=SCHEMA)
    with pytest.raises(MappingError, match=r"order.ORDT \(no rule writes it\): required"):
        run_it({"orderNumber": "A-1"})


def test_a_schema_dict_in_the_snapshot_is_used_and_an_unknown_schema_name_fails_at_publish():
    run_it = compile_snapshot(snapshot(*SCHEMA_RULES, target_schema=SCHEMA))
    with pytest.raises(MappingError, match="at most 20"):
        run_it({"orderNumber": "x" * 21, "date": 1795684502, "items": []})
    mapping = Mapping.objects.create(name="bad schema", target_schema="nowhere.nothing")
    MappingRule.objects.create(mapping=mapping, target="a", source="b")
    with pytest.raises(MappingError, match="no entity schema 'nowhere.nothing'"):
        mapping.publish()
    assert mapping.versions.count() == 0


def test_child_targets_are_named_in_validation_messages():
    child = snapshot(rule_row("ITNO", "sku"), rule_row("ORQT", "amount"))
    run_it = compile_snapshot(snapshot(rule_row("order.CUOR", "orderNumber"), rule_row("order.ORDT", "date"),
                                       rule_row("lines[]", "items[]", child=child)), schema=SCHEMA)
    with pytest.raises(MappingError, match=r"lines\[\] <- items\[\] / ITNO <- sku at lines\[0\].ITNO: 'X{16}' is 16"):
        run_it({"orderNumber": "A", "date": "20261126", "items": [{"sku": "X" * 16, "amount": 1}]})


@pytest.mark.parametrize("options, words", [
    ({"target": "a", "source": "b", "transforms": "lowr"}, "unknown transform 'lowr'; did you mean lower"),
    ({"target": "a", "source": "b", "transforms": "text:abc"}, "'abc'"),
    ({"target": "a", "source": "b", "transforms": "lookup:nope"}, "no value map 'nope'"),
    ({"target": "a", "expression": "x.__class__"}, "attribute '__class__' is not allowed"),
    ({"target": "a", "source": "b", "condition": "__import__('os')"}, "function '__import__' is not allowed"),
    ({"target": "a", "expression": "1 +"}, "not a valid expression"),
    ({"target": "a", "expression": 'lookup("nope", b)'}, "no value map 'nope'"),
    ({"target": "lines[].ITNO", "source": "sku"}, "a list target needs a list source"),
    ({"target": "a[].b[].c", "source": "x[].y[].z"}, "use a child mapping"),
    ({"target": "a", "constant": "abc", "transforms": "integer"}, "fails on the constant 'abc'"),
    ({"target": "a", "source": "b", "expression": "c"}, "not both"),
    ({"target": "", "source": "b"}, "dotted path"),
])
def test_bad_rules_fail_at_publish_naming_the_rule(options, words):
    mapping = Mapping.objects.create(name=f"bad {Mapping.objects.count()}")
    MappingRule.objects.create(mapping=mapping, **options)
    with pytest.raises(MappingError) as caught:
        mapping.publish()
    assert words in str(caught.value) and str(caught.value).startswith("rule "), str(caught.value)
    assert mapping.versions.count() == 0 and not Mapping.objects.get(pk=mapping.pk).published_id


def test_structural_errors_fail_at_compile():
    cases = [
        ([rule_row("lines[]", "items", child=snapshot())], "needs a list source (items[])"),
        ([rule_row("a", "x"), rule_row("a.b", "y")], "a.b and a (rule a <- x) cannot both be written"),
        ([rule_row("lines[].A", "items[].x"), rule_row("lines[].B", "other[].y")], "already reads the list items[]"),
        ([rule_row("lines[].A", constant="X")], "no rule says which list to read"),
        ([rule_row("lines[]", "items[]", child=snapshot(rule_row("x", "y", transforms="bogus")))], "unknown transform"),
    ]
    for rules, words in cases:
        with pytest.raises(MappingError) as caught:
            compile_snapshot(snapshot(*rules))
        assert words in str(caught.value), str(caught.value)


def test_a_child_mapping_that_uses_itself_cannot_be_published():
    loop = Mapping.objects.create(name="loop")
    MappingRule.objects.create(mapping=loop, target="lines[]", source="items[]", child=loop)
    with pytest.raises(MappingError, match="uses itself"):
        loop.publish()


def test_the_generated_source_can_be_read():
    fn = compile_snapshot(snapshot(rule_row("order.CUOR", "orderNumber", transforms="trim | text:20"),
                                   rule_row("lines[]", "items[]", child=snapshot(rule_row("ITNO", "sku")))))
    assert "def run(record):" in fn.source and "v.strip()" in fn.source and "[:20]" in fn.source
    assert fn.source.count("def run(record):") == 2  # the child's function too


def test_the_records_given_are_never_changed():
    before = copy.deepcopy(XCART_ORDER)
    mapping = mapping_with(("lines[]", "items[]", {"child": line_mapping()}), ("x.y", "billingAddress.city", {}))
    out = run(mapping, XCART_ORDER)
    out["x"]["y"] = "changed"
    assert XCART_ORDER == before


@pytest.mark.parametrize("places", [0, 1, 2, 3, 6])
def test_the_fast_decimal_path_gives_exactly_what_the_transform_gives(places):
    values = [0, -0.0, 1, -7, 0.5, 2.675, 1.005, 19.99, -19.99, 0.1 + 0.2, 1e15, 1e16, 1.5e-7, 123456789.123456789,
              "19.950000", " 3 ", 10 ** 20, 99.995, 0.045, float("nan"), float("inf"), True, "abc",
              Decimal("39.985"), Decimal("-0.005"), Decimal("1E+3"), Decimal("1E+40"), Decimal("NaN")]
    values += [k / 100 for k in range(-300, 300, 7)] + [k / 1000 + k for k in range(0, 5000, 37)]

    def outcome(fn, value):
        try:
            return fn(value)
        except TransformError as exc:
            return f"error: {exc}"
    for value in values:
        # fresh transforms: the transform's memo sees 0.0 and -0.0 as one key
        fast = _fast_decimal(places, ROUND_HALF_UP, build("decimal", str(places), Context()))
        assert outcome(fast, value) == outcome(build("decimal", str(places), Context()), value), value


INLINED = ["trim", "upper", "lower", "title", "unpad", "text", "text:3", "integer", "decimal:2", "decimal:0,down",
           "lookup:m", "lookup:m,default=X", "lookup:m,keep", "join", "trim | upper | text:2", "lookup:m | lower",
           "date_m3", "words:0"]
VALUES = ["  Abc dé ", "ÉCOLE", "ß", "007", "2.50", "12", 12, 0, -3, 19.99, 2.675, 1e16, True, ["a", "b"], {"a": 1},
          "1", 1, "nan", float("nan")]


@pytest.mark.parametrize("chain", INLINED)
def test_inlined_transforms_give_what_the_transforms_give(chain):
    """The engine writes the simple transforms as code; for any value it must agree with mappings/transforms.py."""
    maps = {"m": {"1": "One", "12": "Twelve", "ABC DÉ": "x"}}
    run_it = compile_snapshot(snapshot(rule_row("out", "v", transforms=chain), value_maps=maps))
    for value in VALUES:
        try:
            expected = ("ok", build_chain(chain, Context(value_maps=maps))(value))
        except TransformError as exc:
            expected = ("error", str(exc))
        try:
            got = ("ok", run_it({"v": value})["out"])
        except MappingError as exc:  # the engine's message ends with the transform's own
            got = ("error", expected[1] if str(exc).endswith(f": {expected[1]}") else str(exc))
        assert got == expected, (chain, value)


def test_the_demo_order_mapping_meets_the_m3_sales_order_schema():
    """The X-Cart -> M3 demo rules against the real entity schema (connectors/infor_m3/schemas.py)."""
    shipping = ValueMap.objects.create(name="xcart-shipping-to-m3-modl")
    for source, target in demo.SHIPPING_METHODS.items():
        ValueMapEntry.objects.create(value_map=shipping, source_value=source, target_value=target)
    mapping = Mapping.objects.create(name="demo order", target_schema="infor_m3.sales_order")
    for position, (target, source, options) in enumerate(demo.ORDER_RULES):
        MappingRule.objects.create(mapping=mapping, position=position, target=target, source=source, **options)
    mapping.publish()
    order = json.loads((Path(__file__).parents[1] / "connectors/xcart/fixtures/orders__created.json").read_text())["data"]
    mapped = run(mapping, order)
    assert mapped["order"]["CUOR"] and mapped["lines"]
    with pytest.raises(MappingError) as caught:
        run(mapping, dict(order, profile=dict(order["profile"], email="ada at example")))
    assert str(caught.value) == ("customer.MAIL <- profile.email: 'ada at example' should be an e-mail address "
                                 "(infor_m3.sales_order)")
    with pytest.raises(MappingError, match=r"lines.*required, but missing or empty"):
        run(mapping, dict(order, items=[]))  # an order without lines is never sent half-made


def test_checks_the_rules_guarantee_are_skipped_but_required_and_lengths_stay():
    schema = {"label": "prices", "fields": {"a": {"type": "decimal", "max_length": 6, "required": True},
                                            "b": {"type": "decimal"}}}
    run_it = compile_snapshot(snapshot(rule_row("a", "x", transforms="decimal:2"), rule_row("b", "y")), schema=schema)
    assert run_it({"x": 1.5, "y": "2"}) == {"a": "1.50", "b": "2"}
    with pytest.raises(MappingError, match=r"a <- x: '12345.00' is 8 characters, at most 6"):
        run_it({"x": 12345})
    with pytest.raises(MappingError, match=r"a \(no rule writes it\)|a <- x: required"):
        run_it({"y": "2"})
    with pytest.raises(MappingError, match=r"b <- y: 'abc' should be a number"):  # no decimal transform: checked
        run_it({"x": 1, "y": "abc"})


def test_a_required_list_value_names_the_element():
    mapping = mapping_with(("lines[].ITNO", "items[].sku", {"required": True}))
    with pytest.raises(MappingError, match=r"rule lines\[\].ITNO <- items\[\].sku: required value missing "
                                           r"\(source items\[\].sku is empty\) at items\[1\]"):
        run(mapping, {"items": [{"sku": "A"}, {"sku": " "}]})

