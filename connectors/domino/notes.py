"""Notes conventions a Domino mapping must handle: hierarchical names, date-times, rich text, multi-value items.

Pure functions, shared by the connector, the simulator and mapping transforms.
"""

import base64
import html as html_lib
import quopri
from collections import namedtuple
from datetime import date, datetime, timedelta, timezone

import lxml.html

# --- names ----------------------------------------------------------------------------------------
# A hierarchical Notes name: canonical "CN=Jane Doe/OU=Sales/O=Acme/C=US", abbreviated
# "Jane Doe/Sales/Acme/US". A flat name ("Jane Doe") has no hierarchy at all.


def _components(name: str) -> list[tuple[str, str]]:
    """[(label, value)] of a canonical name; labels are empty for an abbreviated or flat name."""
    parts = []
    for part in name.strip().split("/"):
        label, sep, value = part.partition("=")
        parts.append((label.strip().upper(), value.strip()) if sep else ("", part.strip()))
    return parts


def common_name(name: str) -> str:
    """'CN=Jane Doe/O=Acme' or 'Jane Doe/Acme' -> 'Jane Doe'."""
    return _components(name)[0][1]


def abbreviate(name: str) -> str:
    """'CN=Jane Doe/OU=Sales/O=Acme' -> 'Jane Doe/Sales/Acme' (a flat name stays as it is)."""
    return "/".join(value for _, value in _components(name))


def canonicalize(common: str, org: str, units: tuple[str, ...] = (), country: str = "") -> str:
    """'Jane Doe', 'Acme', ('Sales',) -> 'CN=Jane Doe/OU=Sales/O=Acme'. A '/' or '=' cannot be part of a name."""
    parts = [("CN", common), *(("OU", unit) for unit in units), ("O", org)]
    if country:
        parts.append(("C", country))
    for _, value in parts:
        if not value.strip() or "/" in value or "=" in value:
            raise ValueError(f"{value!r} cannot be a component of a Notes name")
    return "/".join(f"{label}={value.strip()}" for label, value in parts)


# --- date-times -----------------------------------------------------------------------------------
# DAS writes ISO 8601 in UTC ("2026-11-20T14:15:02Z"), or with strongtype=true
# {"type": "datetime", "data": "..."}; a Notes client shows "11/20/2026 09:15:02 AM EST".

# Zones as Notes prints them in text date-times; ZE<n>/ZW<n> are hours east/west of GMT.
ZONE_HOURS = {
    "GMT": 0, "UTC": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
}
# US order (month first), as the Notes client writes them with English regional settings.
NOTES_TEXT_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")


def parse_datetime(value) -> datetime:
    """An aware datetime from an ISO string (naive means UTC, as DAS writes), a strongtype object,
    a Notes text date-time with its zone, a date, or a datetime. ValueError when it is none of them."""
    if isinstance(value, dict) and value.get("type") == "datetime":
        value = value.get("data")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a date-time")
    text = value.strip()
    try:
        return parse_datetime(datetime.fromisoformat(text))
    except ValueError:
        return _parse_notes_text(text)


def _parse_notes_text(text: str) -> datetime:
    stamp, _, zone = text.rpartition(" ")
    for layout in NOTES_TEXT_FORMATS:
        try:
            moment = datetime.strptime(stamp, layout)
        except ValueError:
            continue
        return moment.replace(tzinfo=_zone_offset(zone))
    raise ValueError(f"{text!r} is neither ISO 8601 nor a Notes date-time like '11/20/2026 09:15:02 AM EST'")


def _zone_offset(zone: str) -> timezone:
    zone = zone.upper()
    if zone in ZONE_HOURS:
        return timezone(timedelta(hours=ZONE_HOURS[zone]))
    if zone[:2] in ("ZE", "ZW") and zone[2:].isdigit():
        hours = int(zone[2:]) * (1 if zone[1] == "E" else -1)
        return timezone(timedelta(hours=hours))
    raise ValueError(f"unknown Notes time zone {zone!r}")


def format_datetime(moment: datetime) -> str:
    """Domino's ISO form: UTC, whole seconds, 'Z'. A naive datetime is refused: its zone is unknown."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone; make it aware first")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def datetime_item(moment: datetime) -> dict:
    """A date-time item as DAS takes it (strongtype), so that it is stored as a date, not as text."""
    return {"type": "datetime", "data": format_datetime(moment)}


# --- rich text ------------------------------------------------------------------------------------

RichText = namedtuple("RichText", "html text")

BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre")


def richtext_item(html: str) -> dict:
    """A rich text item as DAS takes it."""
    return {"type": "richtext", "contentType": "text/html", "data": html}


def read_richtext(value) -> RichText:
    """HTML and plain text of a rich text item in any shape Domino sends: DAS multipart (the text/plain
    part when there is one, else the HTML's text), DAS single-part richtext, the REST API's
    {"type": "text/html", "content": ...}, or a bare string (taken as plain text)."""
    if value is None or value == "":
        return RichText("", "")
    if isinstance(value, str):
        return RichText(text_to_html(value), value)
    if not isinstance(value, dict):
        raise ValueError(f"{type(value).__name__} is not a rich text value")
    if value.get("type") == "multipart":
        parts = {}
        for part in value.get("content") or []:
            media_type = str(part.get("contentType", "")).split(";")[0].strip().lower()
            if "data" in part:
                parts.setdefault(media_type, _decoded(part))
        html = parts.get("text/html")
        text = parts.get("text/plain")
    else:
        media_type = str(value.get("contentType") or value.get("type") or "").split(";")[0].strip().lower()
        data = value.get("data", value.get("content", ""))
        html, text = (data, None) if media_type in ("text/html", "richtext") else (None, data)
    if html is None and text is None:
        raise ValueError("the rich text value has neither an HTML nor a plain text part")
    return RichText(html if html is not None else text_to_html(text), text if text is not None else html_to_text(html))


def _decoded(part: dict) -> str:
    """A MIME part's data, undoing the transfer encoding Domino may have used."""
    data = str(part.get("data", ""))
    encoding = str(part.get("contentTransferEncoding", "")).lower()
    if encoding not in ("quoted-printable", "base64"):
        return data
    charset = "utf-8"
    for param in str(part.get("contentType", "")).split(";")[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip('"') or charset
    raw = quopri.decodestring(data.encode()) if encoding == "quoted-printable" else base64.b64decode(data)
    return raw.decode(charset, errors="replace")


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML fragment or page: one line per block, scripts and styles dropped."""
    if not html or not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in list(root.iter("script", "style")):
        element.drop_tree()
    for element in root.iter(*BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, one paragraph per line."""
    return "".join(f"<p>{html_lib.escape(line)}</p>" for line in text.splitlines() if line.strip())


# --- multi-value items ----------------------------------------------------------------------------


def as_list(value) -> list:
    """Every item may hold several values; Domino sends one value as a scalar, none as null or ''."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def first(value):
    """The first value of an item that should hold one (None when it is empty)."""
    values = as_list(value)
    return values[0] if values else None


# --- DQL ------------------------------------------------------------------------------------------


def dql_string(value: str) -> str:
    """A DQL text literal: single-quoted, a quote inside doubled (O'Malley -> 'O''Malley')."""
    return "'" + str(value).replace("'", "''") + "'"
