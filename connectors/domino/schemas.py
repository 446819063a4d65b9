"""The Notes documents the hub reads and writes (see mappings/schemas.py for the format).

Forms and item names are the demo database's defaults (connectors/domino/connector.py DEFAULT_FORMS,
DEFAULT_KEY_ITEMS); a connection may name other forms. Notes text items have no declared length
(a summary item holds up to 64 KB), so no ``max_length`` is given. Multi-value items are lists,
and DAS may send one value as a scalar (connectors/domino/notes.as_list).
"""


def f(type: str, label: str, required: bool = False, **extra) -> dict:
    return {"type": type, "required": required, "label": label, **extra}


SYSTEM = {  # items Domino sets; read only
    "@unid": f("string", "Document UNID"), "@created": f("datetime", "Created at"),
    "@modified": f("datetime", "Last modified at"), "@form": f("string", "Form"),
}

SCHEMAS = {
    "order": {
        "label": "Domino 'Order Record' document (key item OrderNumber)",
        "direction": "both", "entity": "order", "action": "order.upsert",
        "fields": {
            **SYSTEM,
            "OrderNumber": f("string", "Order number (the hub matches documents by it)", True),
            "ShopOrderId": f("string", "The shop's order id (orders from PrestaShop)"),
            "CustomerName": f("string", "Customer (a Notes name: CN=Zoë Müller/O=Customers, or flat)"),
            "Email": f("email", "Customer e-mail"),
            "OrderLines": f("list", "Order lines, one text per line: SKU x quantity @ price"),
            "OrderLines[]": f("string", "One order line"),
            "Total": f("decimal", "Total"),
            "Status": f("string", "Status (New, Picked, Shipped, Delivered, Canceled)"),
            "TrackingNumber": f("string", "Tracking number"),
            "OrderDate": f("datetime", "Ordered at (ISO 8601, UTC)"),
        },
    },
    "product": {
        "label": "Domino 'Product' document (key item SKU)",
        "direction": "both", "entity": "product", "action": "product.upsert",
        "fields": {
            **SYSTEM,
            "SKU": f("string", "SKU (the hub matches documents by it)", True),
            "Name": f("string", "Name"),
            "Price": f("decimal", "Price"),
            "Weight": f("decimal", "Weight"),
            "Stock": f("integer", "Stock"),
            # DAS sends rich text as a multipart object; read it with the richtext transform
            "Description": f("object", "Description (rich text)", format="richtext"),
        },
    },
    "customer": {
        "label": "Domino 'Customer' document (key item Email)",
        "direction": "both", "entity": "customer", "action": "customer.upsert",
        "fields": {
            **SYSTEM,
            "Email": f("email", "E-mail (the hub matches documents by it)", True),
            "FirstName": f("string", "First name"),
            "LastName": f("string", "Last name"),
            "Phone": f("string", "Phone"),
            "City": f("string", "City"),
            "Tags": f("string", "Tags (one or several)"),
        },
    },
}
