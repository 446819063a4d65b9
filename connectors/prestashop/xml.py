"""The XML of the PrestaShop Webservice: built with lxml, parsed with every risky feature off.

A document is ``<prestashop xmlns:xlink=...><order>...</order></prestashop>``; a multilingual field
holds one ``<language id="N">`` per shop language; errors are ``<errors><error><code>/<message>``.
Parsing resolves no entities, loads no DTD, never touches the network, and refuses any DOCTYPE
outright (as defusedxml does), so neither side can be fed an entity bomb or an external entity.
"""

from lxml import etree

XLINK = "http://www.w3.org/1999/xlink"
HREF = f"{{{XLINK}}}href"
_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                          remove_blank_text=True)


def parse(data: bytes | str) -> etree._Element:
    """The root element of an XML document; ValueError when it is not well-formed or has a DOCTYPE."""
    if isinstance(data, str):
        data = data.encode()
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML ({exc})") from None
    if root.getroottree().docinfo.doctype:
        raise ValueError("XML with a DOCTYPE is refused")
    return root


def document() -> etree._Element:
    """An empty ``<prestashop>`` root with the xlink namespace PrestaShop declares."""
    return etree.Element("prestashop", nsmap={"xlink": XLINK})


def serialize(root: etree._Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def resource_node(root: etree._Element) -> etree._Element:
    """The one object under ``<prestashop>``, e.g. ``<order>``."""
    node = next(elements(root), None)
    if root.tag != "prestashop" or node is None:
        raise ValueError(f"expected <prestashop> holding one object, got <{root.tag}>")
    return node


def elements(node):
    """Child elements only (lxml also yields comments and processing instructions)."""
    return (child for child in node if isinstance(child.tag, str))


def child(node: etree._Element, name: str) -> etree._Element | None:
    """The child element named ``name``; unlike ``find``, any name is safe (no path syntax)."""
    return next((element for element in elements(node) if element.tag == name), None)


def errors(root: etree._Element) -> list[tuple[int | None, str]]:
    """(code, message) of each ``<error>`` in an error document."""
    found = []
    for error in root.iterfind("errors/error"):
        code = (error.findtext("code") or "").strip()
        found.append((int(code) if code.isdigit() else None, (error.findtext("message") or "").strip()))
    return found


def as_text(value) -> str:
    """A payload value as PrestaShop writes it: booleans as 1/0, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def is_multilingual(field: etree._Element) -> bool:
    return field.find("language") is not None


def language(field: etree._Element, language_id) -> etree._Element:
    """The field's ``<language id=..>`` element, added when the document lacks it."""
    for element in field.iterfind("language"):
        if element.get("id") == str(language_id):
            return element
    return etree.SubElement(field, "language", id=str(language_id))


def set_text(element: etree._Element, value) -> bool:
    """Set an element's text; True when that changed it (numbers compare by value: 5 == 5.000000)."""
    new = as_text(value)
    if same_value(element.text or "", new):
        return False
    element.text = new
    return True


def same_value(old: str, new: str) -> bool:
    if old == new:
        return True
    try:
        return float(old) == float(new)
    except ValueError:
        return False
