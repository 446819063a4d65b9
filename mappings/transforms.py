"""The transforms a mapping rule can chain: ``trim | lower | text:36``, ``lookup:carriers``, ``date:unix>m3``.

A chain is text in one field. ``parse_chain`` splits it into (name, argument) steps; ``build`` turns
one step into a function of one value. Everything a step needs is worked out when it is built (at
publish / compile time), so a bad argument or an unknown value map fails once, in the admin, and
never per record; the functions themselves do as little as possible per value.

The engine calls a chain only for a non-empty value (it handles missing and blank values, defaults
and ``required`` itself). A function raises ``TransformError`` (a ValueError) whose message names
the input and says why, e.g. ``'abc' is not a number``; the engine adds the rule.
"""

import difflib
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import html2text
import markdown as markdown_lib
import nh3
import pycountry

from connectors.domino import notes


class TransformError(ValueError):
    """A value (or a transform's argument) the transform cannot handle; the message says which and why."""


@dataclass
class Context:
    """What a transform may need besides its argument, taken from a published snapshot."""

    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)


Fn = Callable[[object], object]


@dataclass(frozen=True)
class Spec:
    factory: Callable[[str, Context], Fn]
    help: str
    example: str


REGISTRY: dict[str, Spec] = {}


def transform(name: str, help: str, example: str):
    """Register a factory (argument, context) -> function of one value under a name."""
    def register(factory):
        REGISTRY[name] = Spec(factory, help, example)
        return factory
    return register


# --- parsing and building -------------------------------------------------------------------------

_STEP_SPLIT = re.compile(r"(?<!\\)\|")


def parse_chain(text: str) -> list[tuple[str, str]]:
    """'trim | text:36' -> [('trim', ''), ('text', '36')]. '\\|' is a literal '|' inside an argument."""
    if not text or not text.strip():
        return []
    steps = []
    for number, raw in enumerate(_STEP_SPLIT.split(text), 1):
        step = raw.strip().replace("\\|", "|")
        if not step:
            raise TransformError(f"step {number} of {text!r} is empty (two '|' in a row?)")
        name, _, argument = step.partition(":")
        name = name.strip().lower()
        if name not in REGISTRY:
            close = difflib.get_close_matches(name, REGISTRY, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(REGISTRY))}"
            raise TransformError(f"step {number} {step!r}: unknown transform {name!r}{hint}")
        steps.append((name, argument.strip()))
    return steps


def build(name: str, argument: str, context: Context) -> Fn:
    """The function of one value for one step; a bad argument raises TransformError now."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise TransformError(f"unknown transform {name!r}")
    try:
        return spec.factory(argument or "", context)
    except TransformError as exc:
        raise TransformError(f"{name}:{argument}: {exc}" if argument else f"{name}: {exc}") from None


def build_chain(text: str, context: Context) -> Fn | None:
    """One function for a whole chain (None for an empty chain); for callers that need no per-step names."""
    fns = [build(name, argument, context) for name, argument in parse_chain(text)]
    if not fns:
        return None
    if len(fns) == 1:
        return fns[0]

    def chain(value):
        for fn in fns:
            value = fn(value)
        return value
    return chain


_NOT_CACHED = object()


def _memo(fn: Fn, size: int = 4096) -> Fn:
    """fn with its recent answers kept: prices, dates and codes repeat from record to record, and
    Decimal rounding or date parsing costs far more than a dict look-up. Errors are not kept."""
    cache: dict = {}

    def memo(v):
        # Equal is not the same: 0.0 == -0.0 and Decimal("1.0") == Decimal("1") write differently.
        key = v if v.__class__ is str or v.__class__ is int else (v.__class__, repr(v))
        try:
            found = cache.get(key, _NOT_CACHED)
        except TypeError:  # a list or dict: nothing to key on
            return fn(v)
        if found is _NOT_CACHED:
            found = fn(v)
            if len(cache) >= size:
                cache.clear()
            cache[key] = found
        return found
    return memo


def _no_argument(argument: str):
    if argument:
        raise TransformError(f"takes no argument, got {argument!r}")


def _int_argument(text: str, what: str, minimum: int = 0) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise TransformError(f"{what} should be a whole number, got {text!r}") from None
    if number < minimum:
        raise TransformError(f"{what} should be at least {minimum}, got {number}")
    return number


def _unquote(text: str) -> str:
    """A separator may be quoted to keep spaces: join:", " (the chain's own spaces are trimmed)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _text(value) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, (list, dict)):
        raise TransformError(f"{value!r} is a {type(value).__name__}, not a text")
    return str(value)


# --- text -----------------------------------------------------------------------------------------


@transform("trim", "remove spaces at both ends", "trim")
def _trim(argument, context):
    _no_argument(argument)
    return lambda v: v.strip() if v.__class__ is str else _text(v).strip()


@transform("upper", "upper case", "upper")
def _upper(argument, context):
    _no_argument(argument)
    return lambda v: v.upper() if v.__class__ is str else _text(v).upper()


@transform("lower", "lower case", "lower")
def _lower(argument, context):
    _no_argument(argument)
    return lambda v: v.lower() if v.__class__ is str else _text(v).lower()


@transform("title", "title case (each word capitalised)", "title")
def _title(argument, context):
    _no_argument(argument)
    return lambda v: _text(v).title()


@transform("case", "case:upper, case:lower or case:title", "case:title")
def _case(argument, context):
    kinds = {"upper": _upper, "lower": _lower, "title": _title}
    if argument.lower() not in kinds:
        raise TransformError(f"should be upper, lower or title, got {argument!r}")
    return kinds[argument.lower()]("", context)


@transform("text", "as text; text:N cuts it to N characters; text:html makes escaped HTML paragraphs", "text:36")
def _text_transform(argument, context):
    if argument.lower() == "html":
        return lambda v: notes.text_to_html(_text(v))
    if not argument:
        return _text
    length = _int_argument(argument, "the length", 1)
    return lambda v: v[:length] if v.__class__ is str else _text(v)[:length]


@transform("pad", "pad to N characters: pad:10 spaces on the left, pad:10,right on the right, pad:8,0 zero-fill",
           "pad:8,0")
def _pad(argument, context):
    length_text, *options = [part.strip() for part in argument.split(",")] if argument else [""]
    if not length_text:
        raise TransformError("needs a length, e.g. pad:10")
    length = _int_argument(length_text, "the length", 1)
    side, fill = "left", " "
    for option in options:
        if option.lower() in ("left", "right"):
            side = option.lower()
        elif len(option) == 1:
            fill = option
        elif option == "":
            fill = " "  # pad:10, or pad:10,,right: an empty option is a space
        else:
            raise TransformError(f"option {option!r} should be left, right or one fill character")
    if fill == "0" and side == "left":
        return lambda v: _text(v).zfill(length)  # keeps a sign in front: -5 -> -0005
    if side == "left":
        return lambda v: _text(v).rjust(length, fill)
    return lambda v: _text(v).ljust(length, fill)


@transform("unpad", "strip M3's space padding; unpad:0 also strips leading zeros (keeps one 0)", "unpad:0")
def _unpad(argument, context):
    if argument not in ("", "0"):
        raise TransformError(f"should be empty or 0, got {argument!r}")
    if argument == "0":
        return lambda v: _text(v).strip().lstrip("0") or "0"
    return lambda v: _text(v).strip()


@transform("words", "words of a text: words:0 the first, words:1: from the second on, words:-1 the last",
           "words:1:")
def _words(argument, context):
    start, colon, end = (argument or "0").partition(":")
    try:
        index = slice(int(start or 0), int(end) if end else None) if colon else int(start)
    except ValueError:
        raise TransformError(f"should be like 0, 1:, -1 or 0:2, got {argument!r}") from None

    def words(v):
        parts = _text(v).split()
        try:
            picked = parts[index]
        except IndexError:
            raise TransformError(f"{v!r} has no word {index}") from None
        return " ".join(picked) if isinstance(picked, list) else picked
    return words


_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")


def dig(record, path) -> object:
    """The value at ``path`` (a sequence of keys and list indexes as text) in JSON data, None when a
    step is missing; shared with mappings/expressions.py."""
    value = record
    for part in path:
        if value.__class__ is dict:
            value = value.get(part)
        elif value.__class__ is list and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


@transform("format", "fill a template: {name} from a record, {value} for a plain value; a list gives a list",
           "format:{sku} x {qty}")
def _format(argument, context):
    template = argument or "{value}"
    fields = [(match.group(0), match.group(1).split(".")) for match in _PLACEHOLDER.finditer(template)]

    def fill(value):
        record = value if isinstance(value, dict) else {"value": value}
        text = template
        for placeholder, path in fields:
            found = dig(record, path)
            text = text.replace(placeholder, "" if found is None else str(found), 1)
        return text
    # no str.format: no attribute access or format specs reaching into Python objects
    return lambda v: [fill(e) for e in v] if isinstance(v, list) else fill(v)


@transform("nonempty", "fail when the value is empty or only spaces (e.g. after trim)", "trim | nonempty")
def _nonempty(argument, context):
    _no_argument(argument)

    def nonempty(v):
        if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, (list, dict)) and not v):
            raise TransformError(f"{v!r} is empty")
        return v
    return nonempty


@transform("email", "an e-mail address: trimmed, lower case, checked", "email")
def _email(argument, context):
    _no_argument(argument)

    def email(v):
        address = _text(v).strip().lower()
        if not is_email(address):
            raise TransformError(f"{v!r} is not an e-mail address")
        return address
    return email


# The WHATWG "valid e-mail address" (what browsers accept in <input type=email>), with a dot in the domain.
_EMAIL = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+\Z")


def _ascii_email(address: str) -> str | None:
    """What the check sees of an internationalised address: the domain in IDNA (punycode), letters
    of the local part as 'a' (RFC 6531 allows them); None when the domain is no valid IDNA name."""
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return "".join(c if c.isascii() else ("a" if c.isalnum() else " ") for c in local) + "@" + domain


def is_email(address: str) -> bool:
    """Whether a (trimmed, lower case) text is an e-mail address; shared with the schema validator."""
    checked = address if address.isascii() else _ascii_email(address)
    return checked is not None and _EMAIL.match(checked) is not None


_TRUE = frozenset(("1", "true", "yes", "y", "on", "t", "oui", "ja", "x"))
_FALSE = frozenset(("0", "false", "no", "n", "off", "f", "non", "nein"))


@transform("bool", "yes/no/1/0/true/false/y/n/on/off -> true/false; bool:Y/N (any TRUE/FALSE pair) gives those spellings",
           "bool:Y/N")
def _bool(argument, context):
    if argument:
        yes, slash, no = argument.partition("/")
        if not slash or not yes.strip() or not no.strip():
            raise TransformError(f"should be TRUE/FALSE spellings like Y/N or 1/0, got {argument!r}")
        spelled = (yes.strip(), no.strip())
    else:
        spelled = (True, False)

    def to_bool(v):
        if v is True or v is False:
            return spelled[0] if v else spelled[1]
        key = str(v).strip().lower()
        if key in _TRUE:
            return spelled[0]
        if key in _FALSE:
            return spelled[1]
        raise TransformError(f"{v!r} is not a yes/no value (yes, no, true, false, 1, 0, y, n, on, off)")
    return to_bool


# --- lists ----------------------------------------------------------------------------------------


@transform("split", "text -> list at SEP (trimmed, empty parts dropped); split: with no SEP splits at spaces",
           "split:,")
def _split(argument, context):
    separator = _unquote(argument)

    def split(v):
        if isinstance(v, list):
            return v
        text = _text(v)
        parts = text.split(separator) if separator else text.split()
        return [part.strip() for part in parts if part.strip()]
    return split


@transform("join", "list -> text joined with SEP (default a space; quote it to keep spaces: join:\", \"); "
           "several sources are joined by the engine", 'join:", "')
def _join(argument, context):
    separator = _unquote(argument) if argument else " "

    def join(v):
        if isinstance(v, list):
            return separator.join(str(e) for e in v if e is not None and str(e).strip())
        return v  # one value: nothing to join (as before, join of a single source keeps it)
    return join


def _as_list(v) -> list:
    return v if isinstance(v, list) else notes.as_list(v)  # a scalar is a one-value list, as in Notes items


@transform("first", "first element of a list (a single value is kept)", "first")
def _first(argument, context):
    _no_argument(argument)
    return _index_fn(0)


@transform("last", "last element of a list (a single value is kept)", "last")
def _last(argument, context):
    _no_argument(argument)
    return _index_fn(-1)


@transform("index", "element N of a list, counting from 0; index:-1 is the last", "index:1")
def _index(argument, context):
    try:
        return _index_fn(int(argument))
    except ValueError:
        raise TransformError(f"should be a whole number, got {argument!r}") from None


def _index_fn(position: int) -> Fn:
    def pick(v):
        values = _as_list(v)
        try:
            return values[position]
        except IndexError:
            raise TransformError(f"{v!r} has no element {position} ({len(values)} in the list)") from None
    return pick


# --- numbers --------------------------------------------------------------------------------------


def _decimal(v) -> Decimal:
    """A Decimal of an int, a numeric text or a float (through its shortest repr, never binary maths)."""
    cls = v.__class__
    if cls is int:
        return Decimal(v)
    if cls is Decimal:
        number = v
    elif cls is str or cls is float:
        try:
            number = Decimal(v.strip() if cls is str else repr(v))
        except InvalidOperation:
            raise TransformError(f"{v!r} is not a number") from None
    else:
        raise TransformError(f"{v!r} is not a number (got a {cls.__name__})")
    if not number.is_finite():
        raise TransformError(f"{v!r} is not a finite number")
    return number


@transform("integer", "a whole number (refuses 1.5; '3.0' and 3.0 give 3)", "integer")
def _integer(argument, context):
    _no_argument(argument)

    def to_int(v):
        cls = v.__class__
        if cls is int:
            return v
        if cls is str:
            try:
                return int(v)
            except ValueError:
                pass
        number = _decimal(v)
        if number != number.to_integral_value():
            raise TransformError(f"{v!r} is not a whole number")
        return int(number)
    return to_int


ROUNDINGS = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP}


def _places_and_rounding(argument: str) -> tuple[Decimal, str]:
    places_text, _, rounding_text = argument.partition(",")
    places = _int_argument(places_text, "the number of places") if places_text.strip() else 2
    rounding = (rounding_text.strip().lower() or "half_up")
    if rounding not in ROUNDINGS:
        raise TransformError(f"rounding should be one of {', '.join(ROUNDINGS)}, got {rounding_text.strip()!r}")
    return Decimal(1).scaleb(-places), ROUNDINGS[rounding]


@transform("decimal", "a decimal text with PLACES places (default 2), rounded half_up, or half_even, down, up",
           "decimal:2,half_even")
def _decimal_transform(argument, context):
    quantum, rounding = _places_and_rounding(argument)

    def to_decimal(v):
        try:
            return str(_decimal(v).quantize(quantum, rounding=rounding))
        except InvalidOperation:
            raise TransformError(f"{v!r} is too large for {-quantum.as_tuple().exponent} places") from None
    return _memo(to_decimal)


_SEPARATORS = {"none": "", "comma": ",", "dot": ".", "space": " ", "apostrophe": "'", "nbsp": "\u00a0"}


@transform("number", "format a number: number:PLACES[,THOUSANDS[,POINT]] with separators named "
           "comma, dot, space, apostrophe, nbsp or none", "number:2,dot,comma")
def _number(argument, context):
    parts = [part.strip().lower() for part in argument.split(",")] if argument else []
    places = _int_argument(parts[0], "the number of places") if parts and parts[0] else 2
    names = (parts[1:] + ["comma", "dot"][len(parts[1:]):])[:2] if len(parts) <= 3 else None
    if names is None or any(name not in _SEPARATORS for name in names):
        raise TransformError(f"separators should be among {', '.join(_SEPARATORS)}, got {argument!r}")
    thousands, point = (_SEPARATORS[name] for name in names)
    quantum = Decimal(1).scaleb(-places)

    def number(v):
        text = f"{_decimal(v).quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}"
        return text.replace(",", "\0").replace(".", point).replace("\0", thousands)
    return _memo(number)


# --- date and time --------------------------------------------------------------------------------
# Every conversion goes through an aware datetime. Date-only formats (m3, date) read as midnight in
# the zone; with tz=, a naive input is read in that zone and the output is written in it.

DATE_FORMATS = ("unix", "iso", "m3", "date", "notes", "m3time", "time")
TIME_ONLY = ("m3time", "time")


def _unix_in(v, zone) -> datetime:
    if v.__class__ is bool:
        raise TransformError(f"{v!r} is not a unix time")
    try:
        seconds = v if v.__class__ in (int, float) else Decimal(str(v).strip())
        return datetime.fromtimestamp(int(seconds) if seconds == int(seconds) else float(seconds), tz=timezone.utc)
    except (InvalidOperation, ValueError, OverflowError, OSError):
        raise TransformError(f"{v!r} is not a unix time in seconds") from None


def _iso_in(v, zone) -> datetime:
    if isinstance(v, datetime):
        moment = v
    elif isinstance(v, date):
        moment = datetime(v.year, v.month, v.day)
    else:
        try:
            moment = datetime.fromisoformat(_text(v).strip())
        except ValueError:
            raise TransformError(f"{v!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _m3_in(v, zone) -> datetime:
    text = _text(v).strip()
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:]), tzinfo=zone)
    except ValueError:
        raise TransformError(f"{v!r} is not an M3 date YYYYMMDD") from None


def _date_in(v, zone) -> datetime:
    try:
        day = v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(_text(v).strip())
        return datetime(day.year, day.month, day.day, tzinfo=zone)
    except ValueError:
        raise TransformError(f"{v!r} is not a date YYYY-MM-DD") from None


def _notes_in(v, zone) -> datetime:
    """DAS ISO stamps, strongtype {"type": "datetime"} items and Notes text like '11/20/2026 09:15:02 AM EST'."""
    if v.__class__ is str:
        try:
            moment = datetime.fromisoformat(v.strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)  # naive: in tz= (UTC by default)
        except ValueError:
            pass
    try:
        return notes.parse_datetime(v)
    except ValueError as exc:
        raise TransformError(str(exc)) from None


def _m3time_in(v, zone) -> time:
    text = _text(v).strip()
    try:
        if not text.isdigit() or len(text) > 6:
            raise ValueError
        text = text.zfill(6)  # M3 sends 91502 for 09:15:02
        return time(int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        raise TransformError(f"{v!r} is not an M3 time HHMMSS") from None


def _time_in(v, zone) -> time:
    try:
        return v if isinstance(v, time) else time.fromisoformat(_text(v).strip())
    except ValueError:
        raise TransformError(f"{v!r} is not a time HH:MM:SS") from None


_READERS = {"unix": _unix_in, "iso": _iso_in, "m3": _m3_in, "date": _date_in, "notes": _notes_in,
            "m3time": _m3time_in, "time": _time_in}
_WRITERS = {
    "unix": lambda m, zone: int(m.timestamp()),
    "iso": lambda m, zone: m.astimezone(zone).isoformat(),
    "m3": lambda m, zone: m.astimezone(zone).strftime("%Y%m%d"),
    "date": lambda m, zone: m.astimezone(zone).strftime("%Y-%m-%d"),
    "notes": lambda m, zone: notes.format_datetime(m),  # Domino's own form: UTC, 'Z'
    "m3time": lambda m, zone: (m.astimezone(zone) if isinstance(m, datetime) else m).strftime("%H%M%S"),
    "time": lambda m, zone: (m.astimezone(zone) if isinstance(m, datetime) else m).strftime("%H:%M:%S"),
}


def _zone(name: str):
    try:
        return timezone.utc if name.upper() == "UTC" else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TransformError(f"unknown time zone {name!r} (use a name like Europe/Paris)") from None


def _date_fn(source: str, target: str, zone) -> Fn:
    read, write = _READERS[source], _WRITERS[target]
    if source == "unix" and target == "m3" and zone is timezone.utc:
        days: dict[int, str] = {}  # strftime is slow; a UTC day is always 86,400 s, so cache by day

        def unix_to_m3(v):  # the common case, kept short
            if v.__class__ is not int:
                v = _unix_in(v, zone).timestamp() // 1
            day = int(v // 86400)
            text = days.get(day)
            if text is None:
                if len(days) > 10_000:
                    days.clear()
                text = days[day] = write(_unix_in(day * 86400, zone), zone)
            return text
        return unix_to_m3

    def convert(v):
        try:
            return write(read(v, zone), zone)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, TransformError):
                raise
            raise TransformError(f"{v!r} cannot be written as {target}: {exc}") from None
    return _memo(convert)


@transform("date", "date and time: date:FROM>TO[,tz=Europe/Paris] among unix, iso, m3 (YYYYMMDD), date "
           "(YYYY-MM-DD), notes, m3time (HHMMSS), time (HH:MM:SS); naive input is UTC unless tz= is given",
           "date:iso>m3,tz=Europe/Paris")
def _date(argument, context):
    formats, *options = [part.strip() for part in argument.split(",")]
    source, arrow, target = formats.lower().partition(">")
    if not arrow or source not in DATE_FORMATS or target not in DATE_FORMATS:
        raise TransformError(f"should be FROM>TO with FROM and TO among {', '.join(DATE_FORMATS)}, got {formats!r}")
    if source in TIME_ONLY and target not in TIME_ONLY:
        raise TransformError(f"{source} is a time of day without a date; it can only become m3time or time")
    zone = timezone.utc
    for option in options:
        key, equals, value = option.partition("=")
        if key.strip().lower() != "tz" or not equals:
            raise TransformError(f"option {option!r} should be tz=ZONE")
        zone = _zone(value.strip())
    return _date_fn(source, target, zone)


@transform("date_m3", "unix time -> M3 date YYYYMMDD (same as date:unix>m3)", "date_m3")
def _date_m3(argument, context):
    _no_argument(argument)
    return _date_fn("unix", "m3", timezone.utc)


# --- value maps -----------------------------------------------------------------------------------


def _lookup_factory(what: str):
    def factory(argument, context):
        name, _, option = (part.strip() for part in argument.partition(","))
        if not name:
            raise TransformError(f"needs a value map name, e.g. {what}:carriers")
        if name not in context.value_maps:
            known = ", ".join(sorted(context.value_maps)) or "none"
            raise TransformError(f"there is no value map {name!r} (value maps: {known})")
        table = context.value_maps[name]
        if option == "keep":
            return lambda v: table.get(v if v.__class__ is str else str(v), v)
        if option.startswith("default="):
            default = option[len("default="):]
            return lambda v: table.get(v if v.__class__ is str else str(v), default)
        if option:
            raise TransformError(f"option {option!r} should be keep or default=VALUE")

        def look(v):
            key = v if v.__class__ is str else str(v)
            try:
                return table[key]
            except KeyError:
                raise TransformError(f"{key!r} is not in value map {name!r} and the rule has no default") from None
        return look
    return factory


REGISTRY["lookup"] = Spec(_lookup_factory("lookup"),
                          "look the value up in a value map; lookup:MAP,default=X or lookup:MAP,keep for unmapped values",
                          "lookup:carriers,default=STD")
# Tax and shipping lines to M3 charge codes (CRID) are a lookup from the line's kind or name to the
# code, in a value map the integrator keeps (e.g. 'shipping' -> 'FRT', 'VAT 20%' -> 'TAX20').
REGISTRY["charge"] = Spec(_lookup_factory("charge"),
                          "tax or shipping line -> M3 charge code (CRID) through a value map; same options as lookup",
                          "charge:m3-charges")


# --- rich text ------------------------------------------------------------------------------------


def _html_to_markdown(html: str) -> str:
    converter = html2text.HTML2Text()  # one per call: it keeps state while it runs
    converter.body_width = 0
    return converter.handle(nh3.clean(html)).strip()


@transform("html", "html (or html:clean) sanitises HTML; html:text plain text; html:markdown Markdown", "html:text")
def _html(argument, context):
    kind = argument.lower() or "clean"
    if kind == "clean":
        return lambda v: nh3.clean(_text(v))
    if kind == "text":
        return lambda v: notes.html_to_text(nh3.clean(_text(v)))
    if kind == "markdown":
        return lambda v: _html_to_markdown(_text(v))
    raise TransformError(f"should be clean, text or markdown, got {argument!r}")


@transform("markdown", "markdown:html: Markdown -> sanitised HTML", "markdown:html")
def _markdown(argument, context):
    if argument.lower() != "html":
        raise TransformError(f"should be html, got {argument!r}")
    return lambda v: nh3.clean(markdown_lib.markdown(_text(v)))


@transform("richtext", "Domino rich text (or HTML) -> sanitised HTML (richtext:html) or plain text (richtext:text)",
           "richtext:html")
def _richtext(argument, context):
    kind = (argument or "html").lower()
    if kind not in ("html", "text"):
        raise TransformError(f"should be html or text, got {argument!r}")

    def richtext(v):
        try:
            content = notes.read_richtext(v)
        except ValueError as exc:
            raise TransformError(f"{v!r:.80}: {exc}") from None
        return content.text if kind == "text" else nh3.clean(content.html)
    return richtext


# --- addresses ------------------------------------------------------------------------------------


@transform("street", "street:N,LINE: the street wrapped at word boundaries into lines of at most N characters, "
           "line LINE (from 1); '' when the street is shorter", "street:36,2")
def _street(argument, context):
    length_text, _, line_text = argument.partition(",")
    length = _int_argument(length_text, "the line length", 1)
    line = _int_argument(line_text, "the line number", 1) if line_text.strip() else 1

    def street(v):
        lines = []
        for given in _text(v).splitlines():  # a street that already has lines keeps them
            lines.extend(textwrap.wrap(" ".join(given.split()), length, break_on_hyphens=False))
        return lines[line - 1] if line <= len(lines) else ""
    return street


@transform("postcode", "a postcode trimmed, upper case, single spaces", "postcode")
def _postcode(argument, context):
    _no_argument(argument)
    return lambda v: " ".join(_text(v).upper().split())


# PrestaShop's id_country of a default install (install-dev/data/xml/country.xml, ids in file order).
PRESTASHOP_COUNTRY_IDS = dict(enumerate((
    "DE AT BE CA CN ES FI FR GR IT JP LU NL PL PT CZ GB SE CH DK US HK NO AU SG IE NZ KR IL ZA NG CI TG BO MU RO SK "
    "DZ AS AD AO AI AG AR AM AW AZ BS BH BD BB BY BZ BJ BM BT BW BR BN BF MM BI KH CM CV CF TD CL CO KM CD CG CR HR "
    "CU CY DJ DM DO TL EC EG SV GQ ER EE ET FK FO FJ GA GM GE GH GD GL GI GP GU GT GG GN GW GY HT HM VA HN IS IN ID "
    "IR IQ IM JM JE JO KZ KE KI KP KW KG LA LV LB LS LR LY LI LT MO MK MG MW MY MV ML MT MH MQ MR HU YT MX FM MD MC "
    "MN ME MS MA MZ NA NR NP AN NC NI NE NU NF MP OM PK PW PS PA PG PY PE PH PN PR QA RE RU RW BL KN LC MF PM VC WS "
    "SM ST SA SN RS SC SL SI SB SO GS LK SD SR SJ SZ SY TW TJ TZ TH TK TO TT TN TR TM TC TV UG UA AE UY UZ VU VE VN "
    "VG VI WF EH YE ZM ZW AL AF AQ BA BV IO BG KY CX CC CK GF PF TF AX").split(), 1))
_PRESTASHOP_BY_ISO2 = {iso: str(number) for number, iso in PRESTASHOP_COUNTRY_IDS.items()}
# M3's country code (CSCD) is the ISO 3166 alpha-2 code in standard installs (CRS045 holds them); a
# tenant with its own codes maps them with a value map instead.
COUNTRY_FORMATS = ("iso2", "iso3", "prestashop", "m3", "name")


def _iso2_of(source: str) -> Callable[[object], str]:
    def from_code(v):
        code = _text(v).strip().upper()
        if source in ("iso2", "m3"):
            found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
            if found is None and code not in _PRESTASHOP_BY_ISO2:
                raise TransformError(f"{v!r} is not an ISO 3166 alpha-2 country code")
            return code
        found = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
        if found is None:
            raise TransformError(f"{v!r} is not an ISO 3166 alpha-3 country code")
        return found.alpha_2

    def from_prestashop(v):
        try:
            return PRESTASHOP_COUNTRY_IDS[int(str(v).strip())]
        except (ValueError, KeyError):
            raise TransformError(f"{v!r} is not a PrestaShop id_country of a default install (1-244)") from None

    def from_name(v):
        try:
            return pycountry.countries.lookup(_text(v).strip()).alpha_2
        except LookupError:
            raise TransformError(f"{v!r} is not a country name or code pycountry knows") from None
    return {"prestashop": from_prestashop, "name": from_name}.get(source, from_code)


def _iso2_to(target: str) -> Callable[[str, object], object]:
    def to_iso3(code, v):
        found = pycountry.countries.get(alpha_2=code)
        if found is None:
            raise TransformError(f"{v!r} has no ISO 3166 alpha-3 code")
        return found.alpha_3

    def to_prestashop(code, v):
        if code not in _PRESTASHOP_BY_ISO2:
            raise TransformError(f"{v!r} has no id_country in a default PrestaShop install")
        return _PRESTASHOP_BY_ISO2[code]

    def to_name(code, v):
        found = pycountry.countries.get(alpha_2=code)
        if found is None:
            raise TransformError(f"{v!r} has no ISO 3166 country name")
        return found.name
    return {"iso3": to_iso3, "prestashop": to_prestashop, "name": to_name}.get(target, lambda code, v: code)


@transform("country", "country:FROM>TO among iso2, iso3, prestashop (id_country), m3 (CSCD = ISO alpha-2), name",
           "country:prestashop>iso2")
def _country(argument, context):
    source, arrow, target = argument.strip().lower().partition(">")
    if not arrow or source not in COUNTRY_FORMATS or target not in COUNTRY_FORMATS:
        raise TransformError(f"should be FROM>TO with FROM and TO among {', '.join(COUNTRY_FORMATS)}, got {argument!r}")
    read, write = _iso2_of(source), _iso2_to(target)
    return _memo(lambda v: write(read(v), v))


# --- money ----------------------------------------------------------------------------------------


def _rate(table: dict[str, str], name: str, source: str, target: str) -> Decimal:
    """The rate source -> target from a value map: 'EUR>USD' (or its inverse 'USD>EUR'), else two
    entries per currency against one base ('EUR' -> '1', 'USD' -> '1.08': units per base unit)."""
    def number(key):
        try:
            rate = Decimal(table[key].strip())
        except InvalidOperation:
            raise TransformError(f"the rate {key!r} in value map {name!r} is not a number: {table[key]!r}") from None
        if not rate.is_finite() or rate <= 0:
            raise TransformError(f"the rate {key!r} in value map {name!r} should be above 0, got {table[key]!r}")
        return rate
    if source == target:
        return Decimal(1)
    if f"{source}>{target}" in table:
        return number(f"{source}>{target}")
    if f"{target}>{source}" in table:
        return 1 / number(f"{target}>{source}")
    if source in table and target in table:
        return number(target) / number(source)
    raise TransformError(f"value map {name!r} has no rate {source}>{target} (nor {target}>{source}, "
                         f"nor both {source} and {target} against a base)")


@transform("currency", "currency:FROM>TO,rates=MAP converts an amount with a rate table, 2 places half_up",
           "currency:EUR>USD,rates=fx-rates")
def _currency(argument, context):
    pair, _, option = (part.strip() for part in argument.partition(","))
    source, arrow, target = pair.upper().partition(">")
    if not arrow or len(source) != 3 or len(target) != 3 or not (source + target).isalpha():
        raise TransformError(f"should be FROM>TO with ISO 4217 codes like EUR>USD, got {pair!r}")
    key, equals, name = option.partition("=")
    if key.strip().lower() != "rates" or not name.strip():
        raise TransformError("needs rates=VALUEMAP, e.g. currency:EUR>USD,rates=fx-rates")
    name = name.strip()
    if name not in context.value_maps:
        raise TransformError(f"there is no value map {name!r} for the rates")
    rate = _rate(context.value_maps[name], name, source, target)
    cents = Decimal("0.01")
    return _memo(lambda v: str((_decimal(v) * rate).quantize(cents, rounding=ROUND_HALF_UP)))


def help_text() -> str:
    """One line per transform for the admin: name, what it does, an example."""
    return "\n".join(f"{name}: {spec.help} (e.g. {spec.example})" for name, spec in sorted(REGISTRY.items()))


__all__ = ["Context", "REGISTRY", "Spec", "TransformError", "build", "build_chain", "dig", "help_text", "is_email",
           "parse_chain"]
