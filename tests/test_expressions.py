"""The expression language of mapping rules: what it computes, and everything it refuses.

Plain unit tests: no database. ``compile_expression`` is the stand-alone form of what the engine
inlines into a mapping's generated function."""

from decimal import Decimal

import pytest

from mappings.expressions import MAX_LENGTH, MAX_TEXT, ExpressionError, compile_expression

ORDER = {
    "orderNumber": "A-42",
    "paymentStatus": {"code": "P"},
    "total": 120,
    "shipping": 9.99,
    "discount": "5.50",
    "billingAddress": {"firstname": "Ada", "lastname": "Lovelace", "city": " Paris "},
    "items": [{"sku": "A1", "price": 19.99, "amount": 2}, {"sku": "B2", "price": "5.01", "amount": 1}],
    "tags": ["gift", "vip"],
    "@unid": "ABC123",
    "text": "hello",
}


def value(text, record=ORDER, value_maps=None):
    return compile_expression(text, value_maps)(record)


def refused(text, value_maps=None) -> str:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, value_maps)
    return str(caught.value)


def fails(text, record=ORDER) -> str:
    run = compile_expression(text)
    with pytest.raises(ExpressionError) as caught:
        run(record)
    return str(caught.value)


# --- what it computes -----------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ('paymentStatus.code == "P"', True),
    ('paymentStatus.code == "P" and total > 100', True),
    ("not (total > 100) or missing.field is None", True),
    ("billingAddress.city", " Paris "),
    ("trim(billingAddress.city)", "Paris"),
    ("items[0].sku", "A1"),
    ("items.0.sku", "A1"),  # the mapping paths' index form
    ("items.1.price", "5.01"),
    ("items[-1].sku", "B2"),
    ("items[5].sku", None),  # out of range: missing, not an error
    ("nothing.here.at.all", None),
    ('field("@unid")', "ABC123"),
    ("total - shipping", Decimal("110.01")),  # Decimal maths: no 110.00999999999999
    ("shipping * 3", Decimal("29.97")),
    ("total / 8", Decimal("15")),
    ("total // 7", 17),
    ("total % 7", 1),
    ("-total + 1", -119),
    ("decimal(discount) + 1", Decimal("6.50")),
    ("round(total / 7, 2)", Decimal("17.14")),
    ("round(2.5)", Decimal("3")),  # commerce rounds half up
    ("int(decimal(discount))", 5),
    ('concat(billingAddress.firstname, " ", billingAddress.lastname)', "Ada Lovelace"),
    ('billingAddress.firstname + " " + billingAddress.lastname', "Ada Lovelace"),
    ('coalesce(billingAddress.company, "", billingAddress.lastname)', "Lovelace"),
    ('"EXP" if shippingMethod in ["Courier", "Express"] else "STD"', "STD"),
    ('"vip" in tags', True),
    ('"ell" in text', True),
    ('contains(tags, "gift") and not contains(tags, "b2b")', True),
    ('startswith(orderNumber, "A-")', True),
    ('endswith(orderNumber, "42")', True),
    ("len(items)", 2),
    ("len(missing)", 0),
    ("lower(orderNumber)", "a-42"),
    ("upper(text)", "HELLO"),
    ("sum(items, 'price')", Decimal("25.00")),
    ("sum([1, 2, 3])", 6),
    ("min(total, shipping)", Decimal("9.99")),
    ("max(items.0.amount, items.1.amount)", 2),
    ("abs(0 - total)", 120),
    ("0 < total < 200", True),
    ("shipping == 9.99", True),  # a JSON float equals the literal it was written as
    ("shipping < 9.99", False),
    ("str(total) + '!'", "120!"),
    ("text[:3]", "hel"),
    ("replace(orderNumber, '-', '')", "A42"),
    ("join(tags, ', ')", "gift, vip"),
    ("split('a, b,,c', ',')", ["a", "b", "c"]),
    ("empty(billingAddress.company) and not empty(tags)", True),
    ("'ab' * 3", "ababab"),
    ("text.upper", None),  # a DATA lookup of the key 'upper', never the str method
])
def test_expressions_compute(text, expected):
    assert value(text) == expected


def test_lookup_reads_a_value_map_named_in_the_text():
    maps = {"carriers": {"Courier": "EXP"}}
    assert value('lookup("carriers", "Courier")', value_maps=maps) == "EXP"
    assert value('lookup("carriers", "Bike", "STD")', value_maps=maps) == "STD"
    assert "'Bike' is not in value map 'carriers'" in fails_with_maps('lookup("carriers", "Bike")', maps)
    assert "no value map 'nope'" in refused('lookup("nope", x)', maps)


def fails_with_maps(text, maps):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, maps)(ORDER)
    return str(caught.value)


def test_the_generated_code_is_visible_and_reads_data_only():
    source = compile_expression("billingAddress.city").source
    assert ".get('billingAddress')" in source and ".get('city')" in source and "getattr" not in source


def test_run_time_failures_say_why():
    assert "not a number" in fails("text - 1")
    assert "division by zero" in fails("total / 0")
    assert "missing" in fails("nothing + 1")
    assert "cannot compare" in fails("text > 1")
    assert "missing" in fails("nothing > 1")


# --- what it refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("x.__class__", "attribute '__class__' is not allowed"),
    ("().__class__.__bases__", "'__bases__' is not allowed"),
    ("''.__class__.__mro__[1].__subclasses__()", "only functions can be called"),
    ("__import__('os')", "function '__import__' is not allowed"),
    ("__import__('os').system('id')", "only functions can be called"),
    ("__builtins__", "name '__builtins__' is not allowed"),
    ("x['__class__']", "key '__class__' is not allowed"),
    ('field("a.__class__")', "key '__class__' is not allowed"),
    ("getattr(x, 'y')", "function 'getattr' is not allowed"),
    ("eval('1')", "function 'eval' is not allowed"),
    ("open('/etc/passwd')", "function 'open' is not allowed"),
    ("text.upper()", "only functions can be called, by name"),
    ("9 ** 9 ** 9", "'**' is not allowed"),
    ("'a' * 10 ** 9", "'**' is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("[c for c in text]", "comprehensions are not allowed"),
    ("{c: 1 for c in text}", "comprehensions are not allowed"),
    ("sum(c for c in items)", "comprehensions are not allowed"),
    ("(y := 1)", "':=' is not allowed"),
    ('f"{x.__class__}"', "f-strings are not allowed"),
    ('f"{x:>999999999}"', "f-strings are not allowed"),
    ("len(*items)", "'*' arguments are not allowed"),
    ("round(total, ndigits=2)", "no keyword arguments"),
    ("{'a': 1}", "object literals are not allowed"),
    ("{1, 2}", "set literals are not allowed"),
    ("1 << 100000", "'<<' is not allowed"),
    ("total | 1", "'|' is not allowed"),
    ("~total", "'~' is not allowed"),
    ("total is 1", "'is' is only allowed"),
    ("b'bytes'", "not allowed"),
    ("10 ** 1000", "'**' is not allowed"),
    ("1" + "0" * 40, "too large"),
    ("text[::2]", "step"),
    ("len(text, text)", "takes 1 argument"),
    ("x = 1", "not a valid expression"),
    ("import os", "not a valid expression"),
    ("1 +", "not a valid expression"),
    ("", "is empty"),
])
def test_unsafe_or_unknown_expressions_are_refused_when_compiled(text, words):
    message = refused(text)
    assert words in message, message
    assert message.startswith("expression "), message  # names the expression


def test_size_limits():
    assert f"at most {MAX_LENGTH}" in refused("1 + " * 200 + "1")
    assert "too complex" in refused("+".join(["a"] * 150))


def test_repetition_and_printf_formatting_are_bounded_at_run_time():
    assert "over the limit" in fails("'a' * 1000000000")
    assert "over the limit" in fails("('a' * 10000) * 10000")
    assert "over the limit" in fails("[1] * 100000")
    assert "not a number" in fails("'%999999999d' % 1")  # '%' is arithmetic, never printf
    assert value(f"len('a' * {MAX_TEXT})") == MAX_TEXT
    assert "over" in fails("replace(text * 2000, 'l', text * 100)")


def test_huge_numbers_from_data_stay_small():
    from mappings.expressions import output

    record = {"x": "1e999999999", "y": "1e30", "z": "1e900"}
    assert "too large" in fails("decimal(x)", record)
    assert value("concat(decimal(z))", record) == "1E+900"  # not 900 zeros
    assert output(value("decimal(z) * 2", record)) == "2E+900"
    assert output(value("decimal(y)", record)) == "1" + "0" * 30
    assert "too large" in fails("int(decimal(z))", record)
    assert "too large" in fails("round(decimal(z), 2)", record)
    assert "too large" in fails("n * n * n * n", {"n": 10 ** 1000})


def test_data_can_never_reach_python_objects():
    # values are JSON data: a lookup on a text or a number finds nothing, it never calls anything
    record = {"s": "text", "n": 5, "items": [1, 2]}
    assert value("s.join", record) is None and value("n.real", record) is None and value("items.append", record) is None
    assert value("s[0]", record) is None  # [n] on a text is not a data path... only lists index
