"""What the hub sends to M3 and reads from it, field by field (see mappings/schemas.py for the format).

M3 fields have fixed lengths and MI refuses a longer value (errorType InputFieldTooLong), so every
alphanumeric field has its ``max_length``, measured on the value as sent (the connector sends
``str(value)``). CUNO, CUNM, CUA1-4, PONO, PHNO and CSCD agree with public descriptions of
CRS610MI; the ones marked "unconfirmed" were found in no public source and come from the sandbox
(connectors/infor_m3/simulator.py FIELD_LENGTHS), which a test keeps equal to these.
"""

# Lengths of the alphanumeric M3 fields the hub writes or reads.
LENGTHS = {
    "CUNO": 10, "CUNM": 36, "CUA1": 36, "CUA2": 36, "CUA3": 36, "CUA4": 36,
    "TOWN": 40,  # unconfirmed (some tenants show 36)
    "PONO": 10, "CSCD": 3,
    "MAIL": 60,  # unconfirmed (40 in older releases?)
    "PHNO": 16, "CUTM": 10, "STAT": 2,
    "ITNO": 15, "ITDS": 30, "FUDS": 60, "ITTY": 3, "UNMS": 3, "ITGR": 5, "ITCL": 5,
    "WHLO": 3, "FACI": 3, "ORNO": 10, "CUOR": 20, "ORTP": 3, "CUCD": 3, "MODL": 3, "ORST": 2, "ORSL": 2,
    "KEY1": 40, "DIVI": 3,
}


def m3(name: str, label: str, type: str = "string", required: bool = False, **extra) -> dict:
    spec = {"type": type, "required": required, "label": label, **extra}
    if type in ("string", "country", "currency") and name in LENGTHS:
        spec["max_length"] = LENGTHS[name]
    return spec


CUSTOMER_FIELDS = {  # CRS610MI/Add and ChgBasicData
    "MAIL": m3("MAIL", "E-mail address (the hub finds the customer by it)", "email", True),
    "CUNM": m3("CUNM", "Customer name", required=True),
    "CUA1": m3("CUA1", "Address line 1", required=True),
    "CUA2": m3("CUA2", "Address line 2"),
    "CUA3": m3("CUA3", "Address line 3"),
    "CUA4": m3("CUA4", "Address line 4"),
    "TOWN": m3("TOWN", "City"),
    "PONO": m3("PONO", "Postal code"),
    "CSCD": m3("CSCD", "Country (ISO alpha-2 in standard installs)", "country"),
    "PHNO": m3("PHNO", "Telephone number"),
    "CUTM": m3("CUTM", "Customer template (else the connection's customer_template)"),
}

SCHEMAS = {
    "sales_order": {
        "label": "M3 sales order (OIS100MI AddBatchHead + AddBatchLine, customer by CRS610MI)",
        "direction": "target", "action": "sales_order.create",
        "fields": {
            **{f"customer.{name}": spec for name, spec in CUSTOMER_FIELDS.items()},
            "order.CUOR": m3("CUOR", "Customer's order number (checked before re-creating)", required=True),
            "order.ORTP": m3("ORTP", "Order type (else the connection's order_defaults)"),
            "order.FACI": m3("FACI", "Facility"),
            "order.WHLO": m3("WHLO", "Warehouse"),
            "order.CUCD": m3("CUCD", "Currency", "currency"),
            "order.RLDT": m3("RLDT", "Requested delivery date", "m3date"),
            "order.MODL": m3("MODL", "Delivery method"),
            "lines": m3("lines", "Order lines (M3 cannot confirm an order without lines)", "list", True),
            "lines[].ITNO": m3("ITNO", "Item number", required=True),
            "lines[].ORQT": m3("ORQT", "Ordered quantity", "decimal", True, max_length=15),
            "lines[].SAPR": m3("SAPR", "Sales price", "decimal", max_length=17),
            "lines[].WHLO": m3("WHLO", "Warehouse of the line"),
            "lines[].DWDT": m3("DWDT", "Requested delivery date of the line", "m3date"),
        },
    },
    "customer": {
        "label": "M3 customer (CRS610MI: written by Add / ChgBasicData, read by LstByNumber)",
        "direction": "both", "action": "customer.upsert", "entity": "customer",
        "fields": {
            "CUNO": m3("CUNO", "Customer number (M3's; read only)"),
            **CUSTOMER_FIELDS,
            "STAT": m3("STAT", "Status (20 active)"),
            "LMDT": m3("LMDT", "Last change date", "m3date"),
        },
    },
    "payment": {
        "label": "M3 ledger payment (GLS840MI batch: bank / receivables)",
        "direction": "target", "action": "payment.create",
        "fields": {
            # KEY1 is the prefix (default WEB, 3) + reference in 40 characters: a longer one is cut,
            # and two cut references could meet in one key
            "reference": {"type": "string", "required": True, "max_length": 37, "label": "Payment reference (batch key)"},
            "amount": {"type": "decimal", "required": True, "label": "Amount received"},
            "currency": {"type": "currency", "label": "Currency"},
            "date": {"type": "m3date", "label": "Accounting date"},
        },
    },
    "sales_order_status": {
        "label": "M3 order status (SyncSalesOrder BOD from ION, or OIS100MI LstHead polled)",
        "direction": "source", "entity": "sales_order",
        "fields": {
            "ORNO": m3("ORNO", "Order number", required=True),
            "status": m3("ORST", "Highest line status (22 ... 99)", max_length=2),
            "ORST": m3("ORST", "Highest line status (polled heads)"),
            "CUOR": m3("CUOR", "Customer's order number"),
            "CUNO": m3("CUNO", "Customer number (polled heads)"),
            "ORDT": m3("ORDT", "Order date (polled heads)", "m3date"),
            "noun": {"type": "string", "label": "BOD noun (SalesOrder)"},
            "action": {"type": "string", "label": "BOD action code (Add, Replace, Delete)"},
            "bod_id": {"type": "string", "label": "BOD id"},
        },
    },
    "shipment": {
        "label": "M3 shipment (SyncShipment BOD from ION)",
        "direction": "source", "entity": "shipment",
        "fields": {
            "ORNO": m3("ORNO", "Order number", required=True),
            "shipment": {"type": "string", "label": "Shipment (delivery) number"},
            "status": {"type": "string", "label": "Shipment status"},
            "carrier": {"type": "string", "label": "Carrier name"},
            "tracking": {"type": "string", "label": "Tracking number"},
            "noun": {"type": "string", "label": "BOD noun (Shipment)"},
            "action": {"type": "string", "label": "BOD action code"},
            "bod_id": {"type": "string", "label": "BOD id"},
        },
    },
    "stock": {
        "label": "M3 allocatable stock (MMS060MI LstBalID, summed over the connection's warehouses)",
        "direction": "source", "entity": "stock",
        "fields": {
            "ITNO": m3("ITNO", "Item number", required=True),
            "WHLO": m3("WHLO", "Warehouse (empty when summed)"),
            "quantity": {"type": "integer", "required": True, "label": "Allocatable quantity (ALOC)"},
        },
    },
    "item": {
        "label": "M3 item (MMS200MI GetItmBasic)",
        "direction": "source", "entity": "item",
        "fields": {
            "ITNO": m3("ITNO", "Item number", required=True),
            "ITDS": m3("ITDS", "Name"),
            "FUDS": m3("FUDS", "Description"),
            "STAT": m3("STAT", "Status (20 active)"),
            "ITTY": m3("ITTY", "Item type"),
            "UNMS": m3("UNMS", "Basic unit of measure"),
            "ITGR": m3("ITGR", "Item group"),
            "ITCL": m3("ITCL", "Product group"),
            "GRWE": m3("GRWE", "Gross weight", "decimal"),
            "LMDT": m3("LMDT", "Last change date", "m3date"),
        },
    },
}
