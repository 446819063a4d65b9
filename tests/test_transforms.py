"""The transforms library: parsing chains, arguments checked when built, each transform's edge cases.

Plain unit tests: no database. Empty values never reach a transform (the engine handles them), so
"empty" here means what a transform can still be given: a blank text after trim, an empty list.
"""

from decimal import Decimal

import pytest

from mappings.transforms import REGISTRY, Context, TransformError, build, build_chain, help_text, parse_chain

CONTEXT = Context(value_maps={
    "carriers": {"Courier": "EXP", "Ground": "UPS", "2": "TWO"},
    "fx": {"EUR>USD": "1.08"},
    "fx-base": {"EUR": "1", "USD": "1.10", "GBP": "0.85"},
    "fx-bad": {"EUR>USD": "lots"},
    "m3-charges": {"shipping": "FRT", "VAT 20%": "TAX20"},
})


def run(chain, value):
    return build_chain(chain, CONTEXT)(value)


def fails(chain, value) -> str:
    with pytest.raises(TransformError) as caught:
        run(chain, value)
    return str(caught.value)


def refused(chain) -> str:
    with pytest.raises(TransformError) as caught:
        build_chain(chain, CONTEXT)
    return str(caught.value)


# --- chains ---------------------------------------------------------------------------------------


def test_parse_chain_splits_steps_and_keeps_the_raw_argument():
    assert parse_chain("trim | text:36") == [("trim", ""), ("text", "36")]
    assert parse_chain("  lookup:carriers,default=STD ") == [("lookup", "carriers,default=STD")]
    assert parse_chain("date:unix>iso,tz=Europe/Paris") == [("date", "unix>iso,tz=Europe/Paris")]
    assert parse_chain("format:{a}:{b}") == [("format", "{a}:{b}")]  # only the first ':' separates
    assert parse_chain("") == [] and parse_chain("   ") == []


def test_an_escaped_bar_is_part_of_the_argument():
    assert parse_chain(r"split:\| | first") == [("split", "|"), ("first", "")]
    assert run(r"split:\| | last", "a|b|c") == "c"
    assert run(r'join:" \| "', ["a", "b"]) == "a | b"


def test_unknown_names_say_which_step_and_suggest_close_names():
    message = refused("trim | lowr")
    assert "step 2" in message and "'lowr'" in message and "lower" in message
    assert "known:" in refused("zzzzzz")  # nothing close: the whole list
    assert "empty" in refused("trim || lower")


def test_bad_arguments_fail_when_built_not_per_record():
    for chain, words in [("text:abc", "'abc'"), ("pad:", "length"), ("pad:10,middle", "'middle'"),
                         ("decimal:2,bankers", "'bankers'"), ("date:unix>m4", "'unix>m4'"),
                         ("date:m3time>m3", "time of day"), ("date:unix>iso,tz=Mars/Olympus", "'Mars/Olympus'"),
                         ("date:unix>iso,zone=UTC", "tz=ZONE"), ("lookup:nope", "'nope'"), ("lookup:", "value map"),
                         ("lookup:carriers,sometimes", "'sometimes'"), ("country:iso2>iso4", "iso4"),
                         ("currency:EUR>USD", "rates="), ("currency:EURO>USD,rates=fx", "ISO 4217"),
                         ("currency:EUR>JPY,rates=fx", "no rate EUR>JPY"), ("currency:EUR>USD,rates=fx-bad", "'lots'"),
                         ("trim:x", "no argument"), ("street:0,1", "at least 1"), ("bool:Y", "TRUE/FALSE"),
                         ("html:pdf", "'pdf'"), ("markdown:text", "html"), ("richtext:pdf", "'pdf'"),
                         ("unpad:1", "0"), ("index:x", "'x'"), ("words:a", "'a'"), ("case:shout", "'shout'"),
                         ("number:2,tab", "separators")]:
        message = refused(chain)
        assert words in message, (chain, message)
        assert message.startswith(chain.split(":")[0]), (chain, message)  # names the step


def test_every_registered_transform_has_help_and_an_example_that_builds():
    for name, spec in REGISTRY.items():
        assert spec.help and spec.example, name
        steps = parse_chain(spec.example)
        assert name in [step for step, _ in steps], name
    context = Context(value_maps={"carriers": {}, "m3-charges": {}, "fx-rates": {"EUR>USD": "1.1"}})
    for name, spec in REGISTRY.items():
        build_chain(spec.example, context)
    assert "lookup:" in help_text() and "date:" in help_text()


def test_old_transform_names_still_work():
    assert run("date_m3", 1795684502) == "20261126"
    assert run("richtext", {"type": "text/html", "content": "<p>x</p>"}) == "<p>x</p>"
    assert run("join", "alone") == "alone"  # joining several sources is the engine's; one value stays
    assert run("decimal", "1.005") == "1.01"  # no argument: 2 places, half up, as before
    assert run("text", 12) == "12"


def test_build_one_step():
    assert build("text", "3", CONTEXT)("abcdef") == "abc"
    with pytest.raises(TransformError, match="unknown transform 'nope'"):
        build("nope", "", CONTEXT)


# --- text -----------------------------------------------------------------------------------------


def test_case_and_trim_with_unicode():
    assert run("trim", "  Zoë \t") == "Zoë"
    assert run("upper", "straße") == "STRASSE"
    assert run("lower", "ÉCOLE") == "école"
    assert run("title", "jean-luc o'neil") == "Jean-Luc O'Neil"
    assert run("case:upper", "abc") == "ABC"
    assert run("trim | nonempty", "x") == "x"
    assert "is empty" in fails("nonempty", "   ")
    assert "is empty" in fails("nonempty", [])


def test_text_transforms_refuse_lists_and_dicts_by_name():
    assert "['a'] is a list" in fails("upper", ["a"])
    assert "is a dict" in fails("trim", {"a": 1})
    assert run("upper", 12) == "12"  # a number is text enough


def test_text_truncates_by_characters_not_bytes():
    assert run("text:3", "äöüß") == "äöü"
    assert run("text:10", "short") == "short"


def test_pad_and_unpad():
    assert run("pad:6", "AB") == "    AB"
    assert run("pad:6,right", "AB") == "AB    "
    assert run("pad:6,0", 42) == "000042"
    assert run("pad:6,0", "-42") == "-00042"  # the sign stays in front
    assert run("pad:6,*,right", "AB") == "AB****"
    assert run("pad:2", "ABCDEF") == "ABCDEF"  # never cut: the schema says when it is too long
    assert run("pad:5", "é") == "    é"
    assert run("unpad", "ITEM1          ") == "ITEM1"
    assert run("unpad:0", " 000120 ") == "120"
    assert run("unpad:0", "0000") == "0"
    assert run("pad:10 | unpad", "A1") == "A1"


def test_words():
    assert run("words:0", "Ada Lovelace") == "Ada"
    assert run("words:1:", "Jean van der Berg") == "van der Berg"
    assert run("words:-1", "Ada Byron Lovelace") == "Lovelace"
    assert run("words:1:", "Cher") == ""
    assert "'Cher' has no word 1" in fails("words:1", "Cher")


def test_format_fills_placeholders_without_reaching_into_objects():
    rows = [{"sku": "A1", "qty": 2, "price": {"amount": "9.5"}}, {"sku": "B2"}]
    assert run("format:{sku} x {qty} @ {price.amount}", rows) == ["A1 x 2 @ 9.5", "B2 x  @ "]
    assert run("format:<{value}>", "x") == "<x>"
    assert run("format:{__class__}", "x") == ""


def test_email_is_trimmed_lowered_and_checked():
    assert run("email", "  Ada@Example.ORG ") == "ada@example.org"
    assert run("email", "jürgen@bücher.de") == "jürgen@bücher.de"
    for bad in ("ada@", "ada example.org", "ada@example", "a@b@c.org", "@example.org"):
        assert f"{bad!r} is not an e-mail address" in fails("email", bad)


def test_bool_spellings():
    for yes in ("yes", "Y", "1", 1, True, "TRUE", " on "):
        assert run("bool", yes) is True
    for no in ("no", "N", "0", 0, False, "false", "off"):
        assert run("bool", no) is False
    assert run("bool:Y/N", "true") == "Y" and run("bool:Y/N", 0) == "N"
    assert run("bool:1/0", "yes") == "1"
    assert "'maybe' is not a yes/no value" in fails("bool", "maybe")


# --- lists ----------------------------------------------------------------------------------------


def test_split_join_and_pick():
    assert run("split:,", "a, b,,c ") == ["a", "b", "c"]
    assert run("split:", "a  b\tc") == ["a", "b", "c"]
    assert run("split:;", ["already", "a list"]) == ["already", "a list"]
    assert run('join:", "', ["a", "b", None, "", 3]) == "a, b, 3"
    assert run("join:-", ["x"]) == "x"
    assert run("split:, | first", "a,b,c") == "a"
    assert run("split:, | last", "a,b,c") == "c"
    assert run("index:1", ["a", "b"]) == "b"
    assert run("index:-2", ["a", "b"]) == "a"
    assert run("first", "only") == "only"  # one value of a Notes item is a one-value list
    assert "['a'] has no element 3" in fails("index:3", ["a"])
    assert "has no element 0" in fails("first", [])


# --- numbers --------------------------------------------------------------------------------------


def test_integer():
    assert run("integer", 7) == 7
    assert run("integer", " 12 ") == 12
    assert run("integer", "3.00") == 3
    assert run("integer", 3.0) == 3
    assert run("integer", Decimal("4")) == 4
    assert run("integer", "-5") == -5
    assert "'abc' is not a number" in fails("integer", "abc")
    assert "'2.5' is not a whole number" in fails("integer", "2.5")
    assert "is not a number (got a list)" in fails("integer", [1])
    assert "True is not a number" in fails("integer", True)
    assert "'NaN' is not a finite number" in fails("integer", "NaN")
    assert "'1,5' is not a number" in fails("integer", "1,5")  # a comma is no decimal point


def test_decimal_rounds_with_decimal_maths():
    assert run("decimal:2", 2.675) == "2.68"  # float 2.675 is 2.67499...; its repr is what was meant
    assert run("decimal:2", "2.345") == "2.35"
    assert run("decimal:2,half_even", "2.345") == "2.34"
    assert run("decimal:2,down", "2.349") == "2.34"
    assert run("decimal:2,up", "2.341") == "2.35"
    assert run("decimal:0", "2.5") == "3"
    assert run("decimal:6", 19) == "19.000000"
    assert run("decimal:2", "-0.005") == "-0.01"
    assert "'12,50' is not a number" in fails("decimal:2", "12,50")
    assert "too large" in fails("decimal:2", "1e30")


def test_number_formatting():
    assert run("number:2", "1234567.891") == "1,234,567.89"
    assert run("number:2,dot,comma", 1234567.891) == "1.234.567,89"
    assert run("number:0,space", "1234.5") == "1 235"
    assert run("number:2,none", "1234.5") == "1234.50"
    assert run("number:2,apostrophe,dot", "-1234.5") == "-1'234.50"


# --- dates ----------------------------------------------------------------------------------------


def test_unix_to_m3_and_iso():
    assert run("date:unix>m3", 1795684502) == "20261126"
    assert run("date:unix>m3", "1795684502") == "20261126"
    assert run("date:unix>m3", 1795684502.9) == "20261126"
    assert run("date:unix>iso", 0) == "1970-01-01T00:00:00+00:00"
    assert run("date:unix>m3", -1) == "19691231"
    assert run("date:unix>m3time", 1795684502) == "091502"
    assert "'soon' is not a unix time" in fails("date:unix>m3", "soon")
    assert "True is not a unix time" in fails("date:unix>iso", True)
    assert "is not a unix time" in fails("date_m3", 10**20)


def test_time_zones_move_the_day():
    # 23:30 UTC on 28 March 2026 is already the 29th in Paris
    assert run("date:iso>m3", "2026-03-28T23:30:00Z") == "20260328"
    assert run("date:iso>m3,tz=Europe/Paris", "2026-03-28T23:30:00Z") == "20260329"
    assert run("date:unix>date,tz=America/New_York", 1795684502) == "2026-11-26"
    assert run("date:unix>date,tz=America/New_York", 1795664502) == "2026-11-25"


def test_daylight_saving_time():
    # Europe/Paris springs forward on 29 March 2026 at 01:00 UTC (02:00 -> 03:00 local)
    assert run("date:unix>iso,tz=Europe/Paris", 1774745940) == "2026-03-29T01:59:00+01:00"
    assert run("date:unix>iso,tz=Europe/Paris", 1774746000) == "2026-03-29T03:00:00+02:00"
    # naive local times are read in the zone: summer time has +02:00, winter +01:00
    assert run("date:iso>unix,tz=Europe/Paris", "2026-07-01T12:00:00") == 1782900000
    assert run("date:iso>unix,tz=Europe/Paris", "2026-01-01T12:00:00") == 1767265200
    # 02:30 on 25 October 2026 happens twice in Paris: the first (summer time) is taken
    assert run("date:iso>iso,tz=Europe/Paris", "2026-10-25T02:30:00") == "2026-10-25T02:30:00+02:00"
    # without tz= a naive stamp is UTC
    assert run("date:iso>unix", "2026-07-01T12:00:00") == 1782907200
    assert run("date:unix>m3time,tz=Europe/Paris", 1782907200) == "140000"


def test_m3_dates_and_times():
    assert run("date:m3>iso", "20261126") == "2026-11-26T00:00:00+00:00"
    assert run("date:m3>date", 20261126) == "2026-11-26"
    assert run("date:m3>unix,tz=Europe/Paris", "20260701") == 1782856800
    assert run("date:date>m3", "2026-02-28") == "20260228"
    assert "'20260230' is not an M3 date" in fails("date:m3>iso", "20260230")
    assert "'2026-11-26' is not an M3 date" in fails("date:m3>iso", "2026-11-26")
    assert run("date:m3time>time", 91502) == "09:15:02"
    assert run("date:time>m3time", "09:15") == "091500"
    assert "'256000' is not an M3 time" in fails("date:m3time>time", "256000")


def test_notes_date_times():
    assert run("date:notes>iso", "11/20/2026 09:15:02 AM EST") == "2026-11-20T14:15:02+00:00"
    assert run("date:notes>m3,tz=America/New_York", "11/20/2026 11:15:02 PM EST") == "20261120"
    assert run("date:notes>unix", {"type": "datetime", "data": "2026-11-20T14:15:02Z"}) == 1795184102
    assert run("date:iso>notes", "2026-11-20T15:15:02+01:00") == "2026-11-20T14:15:02Z"
    assert run("date:notes>iso,tz=Europe/Paris", "2026-11-20T15:15:02") == "2026-11-20T15:15:02+01:00"
    assert "11/20/2026 09:15:02 XM EST" in fails("date:notes>iso", "11/20/2026 09:15:02 XM EST")
    assert "'ZQ9'" in fails("date:notes>iso", "11/20/2026 09:15:02 AM ZQ9")


def test_iso_edge_cases():
    assert run("date:iso>m3", "2026-11-26") == "20261126"
    assert run("date:iso>unix", "2026-11-26T06:15:02.5+00:00") == 1795673702
    assert "'26/11/2026' is not an ISO 8601 date-time" in fails("date:iso>m3", "26/11/2026")
    assert "['2026-11-26'] is not an ISO 8601" in fails("date:iso>m3", ["2026-11-26"])


# --- value maps -----------------------------------------------------------------------------------


def test_lookup():
    assert run("lookup:carriers", "Courier") == "EXP"
    assert run("lookup:carriers", 2) == "TWO"  # keys are text
    message = fails("lookup:carriers", "Drone")
    assert "'Drone'" in message and "'carriers'" in message
    assert run("lookup:carriers,default=STD", "Drone") == "STD"
    assert run("lookup:carriers,keep", "Drone") == "Drone"
    assert run("lookup:carriers,default=", "Drone") == ""
    assert run("trim | lookup:carriers", " Ground ") == "UPS"


def test_charge_codes_are_a_lookup():
    assert run("charge:m3-charges", "shipping") == "FRT"
    assert "'gift wrap' is not in value map 'm3-charges'" in fails("charge:m3-charges", "gift wrap")


# --- rich text ------------------------------------------------------------------------------------

DIRTY = '<p onclick="steal()">Hello <b>world</b></p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>'


def test_html_is_sanitised_and_converted():
    clean = run("html", DIRTY)
    assert "script" not in clean and "onclick" not in clean and "<b>world</b>" in clean
    assert run("html:text", DIRTY) == "Hello world\none\ntwo"
    markdown = run("html:markdown", DIRTY)
    assert "**world**" in markdown and "* one" in markdown and "alert" not in markdown
    assert run("html:text", "<p>Crème brûlée &amp; café</p>") == "Crème brûlée & café"


def test_markdown_and_text_to_html():
    html = run("markdown:html", "# Title\n\n*soft* <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<h1>Title</h1>" in html and "<em>soft</em>" in html
    assert "<script>" not in html and "javascript:" not in html
    assert run("text:html", "a < b\nsecond") == "<p>a &lt; b</p><p>second</p>"


def test_domino_rich_text():
    multipart = {"type": "multipart", "content": [
        {"contentType": "text/plain; charset=UTF-8", "data": "Plain"},
        {"contentType": "text/html; charset=UTF-8", "data": "<p>Rich<script>x</script></p>"}]}
    assert run("richtext:text", multipart) == "Plain"
    assert run("richtext:html", multipart) == "<p>Rich</p>"
    assert run("richtext:html", "a < b") == "<p>a &lt; b</p>"  # a bare string is plain text
    assert "is not a rich text value" in fails("richtext", 12)


# --- addresses ------------------------------------------------------------------------------------


def test_street_lines_break_at_words():
    street = "Avenue des Champs-Élysées 101, Bâtiment C, Escalier 4"
    assert run("street:36,1", street) == "Avenue des Champs-Élysées 101,"
    assert run("street:36,2", street) == "Bâtiment C, Escalier 4"
    assert run("street:36,3", street) == ""
    assert run("street:10", "Hauptstraße 5") == "Hauptstraß"  # one word longer than a line is cut
    assert run("street:36,2", "Line one\nLine two") == "Line two"
    assert all(len(run(f"street:36,{n}", street)) <= 36 for n in (1, 2, 3))


def test_postcode():
    assert run("postcode", "  sw1a   1aa ") == "SW1A 1AA"
    assert run("postcode", 75008) == "75008"


def test_country_codes():
    assert run("country:iso2>iso3", "fr") == "FRA"
    assert run("country:iso3>iso2", "DEU") == "DE"
    assert run("country:iso2>prestashop", "US") == "21"
    assert run("country:prestashop>iso2", "8") == "FR"
    assert run("country:prestashop>m3", 17) == "GB"
    assert run("country:m3>prestashop", "DE ") == "1"
    assert run("country:name>iso2", "Germany") == "DE"
    assert run("country:iso2>name", "CH") == "Switzerland"
    assert run("country:prestashop>iso2", 244) == "AX"
    assert "'XX' is not an ISO 3166 alpha-2" in fails("country:iso2>iso3", "XX")
    assert "'999' is not a PrestaShop id_country" in fails("country:prestashop>iso2", "999")
    assert "'Atlantis' is not a country" in fails("country:name>iso2", "Atlantis")
    assert "'SS' has no id_country" in fails("country:iso2>prestashop", "SS")  # South Sudan came after the table


# --- money ----------------------------------------------------------------------------------------


def test_currency_conversion():
    assert run("currency:EUR>USD,rates=fx", "10") == "10.80"
    assert run("currency:USD>EUR,rates=fx", "10.80") == "10.00"  # the inverse of EUR>USD
    assert run("currency:EUR>GBP,rates=fx-base", 100) == "85.00"
    assert run("currency:GBP>USD,rates=fx-base", "0.85") == "1.10"
    assert run("currency:eur>eur,rates=fx", "1.005") == "1.01"
    assert run("currency:EUR>USD,rates=fx", 0.1) == "0.11"
    assert "'ten' is not a number" in fails("currency:EUR>USD,rates=fx", "ten")


def test_kept_answers_never_mix_up_equal_values_of_other_types_nor_keep_errors():
    to_decimal = build("decimal", "2", CONTEXT)
    assert to_decimal(1) == "1.00"
    with pytest.raises(TransformError, match="True is not a number"):
        to_decimal(True)  # True == 1, but a yes/no is no amount
    with pytest.raises(TransformError, match="'x' is not a number"):
        to_decimal("x")
    with pytest.raises(TransformError, match="'x' is not a number"):
        to_decimal("x")  # the error again, not a kept answer
    country = build("country", "iso2>prestashop", CONTEXT)
    assert [country("FR") for _ in range(3)] == ["8", "8", "8"]


def test_cached_answers_keep_negative_zero_apart():
    from mappings.transforms import Context, build

    rounded = build("decimal", "2", Context(value_maps={}))
    negative = rounded(-0.0)
    assert rounded(0.0) == "0.00"  # not the answer kept for -0.0, which equals it
    assert rounded(-0.0) == negative
