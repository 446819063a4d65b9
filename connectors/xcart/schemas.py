"""What the hub reads from X-Cart and sends to it (see mappings/schemas.py for the format).

Field names are those of the X-Cart 5.5 API and the legacy REST API add-on (shared/API-NOTES.md).
X-Cart publishes no field lengths in its API, so none is given here: the store answers 400 with a
message when a value does not fit.
"""


def f(type: str, label: str, required: bool = False, **extra) -> dict:
    return {"type": type, "required": required, "label": label, **extra}


ADDRESS = {
    "firstname": f("string", "First name"), "lastname": f("string", "Last name"),
    "street": f("string", "Street"), "city": f("string", "City"), "zipcode": f("string", "Postal code"),
    "country_code": f("country", "Country (ISO alpha-2, may be lower case)"), "state": f("string", "State"),
    "phone": f("string", "Phone"),
}


def _prefixed(prefix: str, fields: dict) -> dict:
    return {f"{prefix}.{name}": spec for name, spec in fields.items()}


SCHEMAS = {
    "order": {
        "label": "X-Cart order (pushed by the store add-on, or polled by lastRenewDate)",
        "direction": "source", "entity": "order",
        "fields": {
            "order_id": f("integer", "Order id", True),
            "orderNumber": f("string", "Order number", True),
            "date": f("datetime", "Placed at (unix seconds)", format="unix"),
            "lastRenewDate": f("datetime", "Last changed at (unix seconds)", format="unix"),
            "total": f("decimal", "Total"),
            "subtotal": f("decimal", "Subtotal"),
            "currency.code": f("currency", "Currency"),
            "paymentStatus.code": f("string", "Payment status (A, PP, P, D, C, Q, R)"),
            "shippingStatus.code": f("string", "Shipping status (N, P, S, D, WND, R, WFA, NBA)"),
            "shippingMethodName": f("string", "Shipping method"),
            "paymentMethodName": f("string", "Payment method"),
            "profile.profileId": f("integer", "Customer profile id"),
            "profile.login": f("email", "Customer login"),
            "profile.email": f("email", "Customer e-mail"),
            "profile.firstname": f("string", "Customer first name"),
            "profile.lastname": f("string", "Customer last name"),
            **_prefixed("billingAddress", ADDRESS),
            **_prefixed("shippingAddress", ADDRESS),
            "items": f("list", "Order items", True),
            "items[].item_id": f("integer", "Item id"),
            "items[].sku": f("string", "SKU", True),
            "items[].name": f("string", "Product name"),
            "items[].price": f("decimal", "Unit price"),
            "items[].amount": f("integer", "Quantity", True),
            "items[].total": f("decimal", "Line total"),
            "trackingNumbers": f("list", "Tracking numbers"),
            "trackingNumbers[].value": f("string", "Tracking number"),
        },
    },
    "profile": {
        "label": "X-Cart customer profile (pushed by the add-on; written through /api/profiles)",
        "direction": "both", "entity": "profile", "action": "profile.upsert",
        "fields": {
            "profileId": f("integer", "Profile id (X-Cart's; read only)"),
            "login": f("email", "Login (the e-mail)"),
            "email": f("email", "E-mail (the hub matches profiles by it)", True),
            "firstname": f("string", "First name"),
            "lastname": f("string", "Last name"),
            "addedDate": f("datetime", "Registered at (unix seconds)", format="unix"),
            "addresses": f("list", "Addresses"),
            **_prefixed("addresses[]", {"address_id": f("integer", "Address id"), **ADDRESS}),
        },
    },
    "product": {
        "label": "X-Cart product",
        "direction": "source", "entity": "product",
        "fields": {
            "product_id": f("integer", "Product id", True),
            "sku": f("string", "SKU", True),
            "name": f("string", "Name"),
            "description": f("string", "Description (HTML)", format="html"),
            "price": f("decimal", "Price"),
            "amount": f("integer", "Stock quantity"),
            "enabled": f("boolean", "Enabled"),
            "weight": f("decimal", "Weight"),
        },
    },
    "shipping": {
        "label": "X-Cart order shipping status and tracking (PUT shipping_status, POST tracking_numbers)",
        "direction": "target", "action": "shipping.update",
        "fields": {
            "code": f("string", "Shipping status code (N, P, S, D, WND, R)", max_length=4),
            "tracking_number": f("string", "Tracking number"),
        },
    },
    "stock": {
        "label": "X-Cart product stock (PUT products/{id} amount, the product found by SKU)",
        "direction": "target", "action": "stock.update",
        "fields": {
            "sku": f("string", "SKU", True),
            "amount": f("integer", "Stock quantity", True),
        },
    },
}
