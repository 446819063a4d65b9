"""ION Business Object Documents (OAGIS 'Sync' BODs) for order status and shipments.

Only what the hub reads is modelled: the noun's document id, status, the sales order a shipment
belongs to, carrier and tracking id. Parsing uses defusedxml (no entities, no network); building
(for the simulator) uses lxml. The exact noun content should be checked against the ION registry
of a real tenant; the reader looks for elements by local name to be tolerant of extensions.
"""

from datetime import datetime, timezone

from defusedxml import ElementTree as SafeET
from lxml import etree

NS = "http://schema.infor.com/InforOAGIS/2"


class BODError(ValueError):
    """The message is not a BOD the hub understands (answered 400, nothing stored)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element, *path):
    """First descendant following local names, e.g. _find(root, "SalesOrderHeader", "DocumentID", "ID")."""
    for name in path:
        element = next((e for e in element.iter() if _local(e.tag) == name and e is not element), None)
        if element is None:
            return None
    return element


def _text(element, *path) -> str:
    found = _find(element, *path)
    return (found.text or "").strip() if found is not None else ""


def parse(xml: bytes | str) -> dict:
    """Read a SyncSalesOrder or SyncShipment BOD into a flat record.

    Returns {"noun": "SalesOrder"|"Shipment", "bod_id", "action", "ORNO", "status", "carrier", "tracking", "shipment"}.
    """
    try:
        root = SafeET.fromstring(xml.encode() if isinstance(xml, str) else xml)
    except SafeET.ParseError as exc:
        raise BODError(f"the message is not well-formed XML: {exc}") from None
    except Exception as exc:  # defusedxml refuses entities, DTDs and external references
        raise BODError(f"the message was refused: {type(exc).__name__}") from None
    verb_noun = _local(root.tag)
    if verb_noun not in ("SyncSalesOrder", "SyncShipment"):
        raise BODError(f"unsupported BOD {verb_noun}; the hub reads SyncSalesOrder and SyncShipment")
    record = {
        "noun": verb_noun[len("Sync"):],
        "bod_id": _text(root, "ApplicationArea", "BODID"),
        "action": (_find(root, "ActionExpression").get("actionCode") if _find(root, "ActionExpression") is not None else ""),
    }
    if record["noun"] == "SalesOrder":
        record["ORNO"] = _text(root, "SalesOrderHeader", "DocumentID", "ID")
        record["status"] = _text(root, "SalesOrderHeader", "Status", "Code")
        record["CUOR"] = _text(root, "SalesOrderHeader", "CustomerPurchaseOrderReference", "DocumentID", "ID")
    else:
        record["shipment"] = _text(root, "ShipmentHeader", "DocumentID", "ID")
        record["ORNO"] = _text(root, "ShipmentHeader", "SalesOrderReference", "DocumentID", "ID")
        record["status"] = _text(root, "ShipmentHeader", "Status", "Code")
        record["carrier"] = _text(root, "ShipmentHeader", "CarrierParty", "Name")
        record["tracking"] = _text(root, "ShipmentHeader", "TrackingID")
    if not record["ORNO"]:
        raise BODError(f"the {verb_noun} BOD names no sales order")
    return record


def build(noun: str, *, bod_id: str, logical_id: str, orno: str, status: str, cuor: str = "",
          shipment: str = "", carrier: str = "", tracking: str = "") -> bytes:
    """A Sync BOD as M3 publishes it through ION (used by the simulator)."""
    E = lambda tag, *children, **attrs: _el(tag, children, attrs)  # noqa: E731
    area = E("ApplicationArea",
             E("Sender", E("LogicalID", logical_id), E("ComponentID", "M3"), E("ConfirmationCode", "OnError")),
             E("CreationDateTime", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")),
             E("BODID", bod_id))
    if noun == "SalesOrder":
        header = E("SalesOrderHeader", E("DocumentID", E("ID", orno)), E("Status", E("Code", status)),
                   E("CustomerPurchaseOrderReference", E("DocumentID", E("ID", cuor))))
        body = E("SalesOrder", header)
    else:
        header = E("ShipmentHeader", E("DocumentID", E("ID", shipment)), E("Status", E("Code", status)),
                   E("SalesOrderReference", E("DocumentID", E("ID", orno))),
                   E("CarrierParty", E("Name", carrier)), E("TrackingID", tracking))
        body = E("Shipment", header)
    data = E("DataArea", E("Sync", E("TenantID", "infor"), E("ActionCriteria", E("ActionExpression", actionCode="Replace"))), body)
    root = E(f"Sync{noun}", area, data, releaseID="9.2", versionID="2.14.6")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _el(tag, children, attrs):
    element = etree.Element(f"{{{NS}}}{tag}", nsmap={None: NS}, **attrs)
    for child in children:
        if isinstance(child, str):
            element.text = child
        else:
            element.append(child)
    return element
