"""What the hub reads from PrestaShop and sends to it (see mappings/schemas.py for the format).

Field names are the Webservice's (shared/API-NOTES.md, the sandbox's resource lists). Lengths are
the ``size`` of PrestaShop 8's ObjectModel definitions (classes/Address.php, Customer.php,
Product.php, OrderCarrier.php); PrestaShop 1.6 had 32 for names, so an older shop may refuse sooner.
The Webservice sends every value as text: numbers arrive as "727.250000", flags as "0"/"1".
"""


def f(type: str, label: str, required: bool = False, **extra) -> dict:
    return {"type": type, "required": required, "label": label, **extra}


ORDER_ROW = {
    "id": f("integer", "Order row id"), "product_id": f("integer", "Product id"),
    "product_attribute_id": f("integer", "Combination id (0 = none)"),
    "product_quantity": f("integer", "Quantity", True), "product_name": f("string", "Product name"),
    "product_reference": f("string", "Product reference", True), "product_ean13": f("string", "EAN-13"),
    "product_upc": f("string", "UPC"), "product_price": f("decimal", "Product price"),
    "unit_price_tax_incl": f("decimal", "Unit price, tax incl."), "unit_price_tax_excl": f("decimal", "Unit price, tax excl."),
}
ADDRESS = {
    "id": f("integer", "Address id"), "id_customer": f("integer", "Customer id"),
    "id_country": f("integer", "Country id (PrestaShop's id_country)"), "id_state": f("integer", "State id"),
    "alias": f("string", "Alias", max_length=32), "company": f("string", "Company", max_length=255),
    "firstname": f("string", "First name", max_length=255), "lastname": f("string", "Last name", max_length=255),
    "address1": f("string", "Address line 1", max_length=128), "address2": f("string", "Address line 2", max_length=128),
    "postcode": f("string", "Postcode", max_length=12), "city": f("string", "City", max_length=64),
    "phone": f("string", "Phone", max_length=32), "phone_mobile": f("string", "Mobile phone", max_length=32),
    "vat_number": f("string", "VAT number", max_length=32), "dni": f("string", "Identification number", max_length=16),
    "other": f("string", "Other"),
}


def _prefixed(prefix: str, fields: dict) -> dict:
    return {f"{prefix}.{name}": spec for name, spec in fields.items()}


SCHEMAS = {
    "order": {
        "label": "PrestaShop order (pushed by the shop module, or polled by date_upd), with its customer and address",
        "direction": "source", "entity": "order",
        "fields": {
            "id": f("integer", "Order id", True),
            "reference": f("string", "Order reference (9 letters)", True),
            "id_customer": f("integer", "Customer id"), "id_cart": f("integer", "Cart id"),
            "id_currency": f("integer", "Currency id"), "id_lang": f("integer", "Language id"),
            "id_carrier": f("integer", "Carrier id"),
            "id_address_delivery": f("integer", "Delivery address id"), "id_address_invoice": f("integer", "Invoice address id"),
            "current_state": f("integer", "Order state (1-13 in a default install)"),
            "module": f("string", "Payment module"), "payment": f("string", "Payment method"),
            "total_paid": f("decimal", "Total paid"), "total_paid_tax_incl": f("decimal", "Total paid, tax incl."),
            "total_paid_tax_excl": f("decimal", "Total paid, tax excl."), "total_paid_real": f("decimal", "Total actually paid"),
            "total_products": f("decimal", "Products, tax excl."), "total_products_wt": f("decimal", "Products, tax incl."),
            "total_shipping": f("decimal", "Shipping"), "total_shipping_tax_incl": f("decimal", "Shipping, tax incl."),
            "total_shipping_tax_excl": f("decimal", "Shipping, tax excl."), "total_discounts": f("decimal", "Discounts"),
            "total_wrapping": f("decimal", "Gift wrapping"), "carrier_tax_rate": f("decimal", "Carrier tax rate"),
            "conversion_rate": f("decimal", "Conversion rate"),
            "date_add": f("datetime", "Placed at (YYYY-MM-DD HH:MM:SS, shop time)"),
            "date_upd": f("datetime", "Last changed at"),
            "gift": f("boolean", "Gift"), "gift_message": f("string", "Gift message"),
            "customer.id": f("integer", "Customer id"), "customer.email": f("email", "Customer e-mail"),
            "customer.firstname": f("string", "Customer first name"), "customer.lastname": f("string", "Customer last name"),
            **_prefixed("delivery_address", ADDRESS),
            "associations.order_rows": f("list", "Order rows", True),
            **_prefixed("associations.order_rows[]", ORDER_ROW),
        },
    },
    "customer": {
        "label": "PrestaShop customer (customers)",
        "direction": "both", "entity": "customer", "action": "customer.upsert",
        "fields": {
            "id": f("integer", "Customer id (PrestaShop's; read only)"),
            "email": f("email", "E-mail (the hub matches customers by it)", True, max_length=255),
            "firstname": f("string", "First name", True, max_length=255),
            "lastname": f("string", "Last name", True, max_length=255),
            "company": f("string", "Company", max_length=255),
            "birthday": f("date", "Birthday"),
            "id_gender": f("integer", "Title (1 Mr, 2 Mrs)"),
            "id_lang": f("integer", "Language id"),
            "newsletter": f("boolean", "Newsletter"), "optin": f("boolean", "Partner offers"),
            "active": f("boolean", "Active"), "is_guest": f("boolean", "Guest account"),
            "note": f("string", "Private note"), "website": f("string", "Website", max_length=128),
            "date_add": f("datetime", "Created at"), "date_upd": f("datetime", "Last changed at"),
        },
    },
    "product": {
        "label": "PrestaShop product (products; name and texts in the connection's language)",
        "direction": "both", "entity": "product", "action": "product.upsert",
        "fields": {
            "id": f("integer", "Product id (PrestaShop's; read only)"),
            "reference": f("string", "Reference (the hub matches products by it)", True, max_length=64),
            "name": f("string", "Name", True, max_length=128),
            "description": f("string", "Description (HTML)", format="html"),
            "description_short": f("string", "Summary (HTML)", format="html"),
            "price": f("decimal", "Price, tax excl."),
            "wholesale_price": f("decimal", "Cost price"),
            "weight": f("decimal", "Weight"),
            "ean13": f("string", "EAN-13", max_length=13), "upc": f("string", "UPC", max_length=12),
            "mpn": f("string", "MPN", max_length=40),
            "active": f("boolean", "Active"),
            "meta_title": f("string", "Meta title", max_length=255),
            "link_rewrite": f("string", "URL slug", max_length=128),
            "date_add": f("datetime", "Created at"), "date_upd": f("datetime", "Last changed at"),
        },
    },
    "stock_available": {
        "label": "PrestaShop stock row (stock_availables, polled; no change date)",
        "direction": "source", "entity": "stock_available",
        "fields": {
            "id": f("integer", "Stock row id", True), "id_product": f("integer", "Product id", True),
            "id_product_attribute": f("integer", "Combination id (0 = the product)"),
            "id_shop": f("integer", "Shop id"), "id_shop_group": f("integer", "Shop group id"),
            "quantity": f("integer", "Quantity", True),
            "depends_on_stock": f("boolean", "Advanced stock management"),
            "out_of_stock": f("integer", "When out of stock (0 deny, 1 allow, 2 default)"),
            "location": f("string", "Location"),
        },
    },
    "stock": {
        "label": "PrestaShop stock update (stock_availables of the product found by reference or id_product)",
        "direction": "target", "action": "stock.update",
        "fields": {
            "quantity": f("integer", "Quantity", True),
            # one of the two: the connector says which is missing
            "reference": f("string", "Product reference", max_length=64),
            "id_product": f("integer", "Product id"),
        },
    },
    "order_state": {
        "label": "PrestaShop order state (POST order_histories)",
        "direction": "target", "action": "order_state.update",
        "fields": {
            "id_order": f("integer", "Order id (else the linked order)"),
            "id_order_state": f("integer", "Order state (1-13 in a default install)", True),
        },
    },
    "tracking": {
        "label": "PrestaShop tracking number (PUT order_carriers)",
        "direction": "target", "action": "tracking.update",
        "fields": {
            "id_order": f("integer", "Order id (else the linked order)"),
            "tracking_number": f("string", "Tracking number", True, max_length=64),
            "id_carrier": f("integer", "Carrier id (else the order's latest carrier)"),
        },
    },
    "address": {
        "label": "PrestaShop address (POST addresses, for the customer found by e-mail or id_customer)",
        "direction": "target", "action": "address.create",
        "fields": {
            "email": f("email", "Customer e-mail (or id_customer)"),
            "country_code": f("country", "Country ISO code (or id_country)"),
            **{name: spec for name, spec in ADDRESS.items() if name != "id"},
            "firstname": f("string", "First name", True, max_length=255),
            "lastname": f("string", "Last name", True, max_length=255),
            "address1": f("string", "Address line 1", True, max_length=128),
            "city": f("string", "City", True, max_length=64),
        },
    },
}
