"""The small mapping engine of the foundation: paths, list rules, transforms, errors, versions."""

import pytest

from mappings.engine import MappingError, compiled
from mappings.models import Mapping, MappingRule, ValueMap, ValueMapEntry

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
