"""The demo configuration: an X-Cart store, an M3 tenant (both simulated), and the order flow.

Used by ``manage.py demo`` and by the end-to-end tests, so what the demo shows is what is tested.
Idempotent: running it again updates the same rows.
"""

import json
import secrets

from django.db import transaction

from connectors.domino.simulator import DEMO_DATABASE as DOMINO_DATABASE
from connectors.domino.simulator import DEMO_PASSWORD as DOMINO_PASSWORD
from connectors.domino.simulator import DEMO_SCOPE as DOMINO_SCOPE
from connectors.domino.simulator import DEMO_USER as DOMINO_USER
from connectors.infor_m3.simulator import demo_ionapi
from connectors.prestashop.simulator import DEMO_WS_KEY
from connectors.models import Connection
from connectors.signatures import new_secret
from connectors.xcart.simulator import DEMO_API_KEY
from hub.models import Flow, Link, SnapshotVersion
from mappings.models import Mapping, MappingRule, ValueMap, ValueMapEntry
from monitoring.models import InboundEvent, SyncRecord

XCART_SLUG = "xcart-demo"
M3_SLUG = "m3-demo"
PRESTASHOP_SLUG = "prestashop-demo"
DOMINO_SLUG = "domino-demo"
ORDER_FLOW = "X-Cart orders to M3 sales orders"

# (target, source, options): X-Cart 5.5 order -> customer, OIS100MI head and lines.
ORDER_RULES = [
    ("customer.MAIL", "profile.email", {"required": True, "transforms": "lower"}),
    ("customer.CUNM", "billingAddress.firstname, billingAddress.lastname", {"required": True, "transforms": "join"}),
    ("customer.CUA1", "billingAddress.street", {"required": True, "transforms": "text:36"}),
    ("customer.TOWN", "billingAddress.city", {"transforms": "text:36"}),
    ("customer.PONO", "billingAddress.zipcode", {"transforms": "text:10"}),
    ("customer.CSCD", "billingAddress.country_code", {"transforms": "upper"}),
    ("customer.PHNO", "billingAddress.phone", {"transforms": "text:16"}),
    ("order.CUOR", "orderNumber", {"required": True, "transforms": "text:20"}),
    ("order.CUCD", "currency.code", {"default": "USD"}),
    ("order.RLDT", "date", {"transforms": "date_m3"}),
    ("order.MODL", "shippingMethodName", {"transforms": "lookup:xcart-shipping-to-m3-modl,default=STD"}),
    ("lines[].ITNO", "items[].sku", {"required": True, "transforms": "text:15"}),
    ("lines[].ORQT", "items[].amount", {"required": True, "transforms": "integer"}),
    ("lines[].SAPR", "items[].price", {"transforms": "decimal:2"}),
]
SHIPPING_METHODS = {"Courier": "EXP", "Ground": "UPS", "Local pickup": "PCK"}
# M3 order status (highest line status) -> X-Cart shipping status: 22 registered, 33 allocated,
# 44 picking, 66 delivered (shipped from the warehouse), 77 invoiced, 99 completed.
M3_STATUS_TO_XCART = {"22": "N", "33": "P", "44": "P", "66": "S", "77": "S", "99": "D"}
STATUS_RULES = [("code", "status", {"required": True, "transforms": "lookup:m3-status-to-xcart-shipping"})]
SHIPMENT_RULES = STATUS_RULES + [("tracking_number", "tracking", {})]
STOCK_RULES = [("sku", "ITNO", {"required": True}), ("amount", "quantity", {"required": True, "transforms": "integer"})]

# Customers both ways, matched by e-mail. X-Cart profiles carry their addresses.
PROFILE_TO_M3_RULES = [
    ("MAIL", "email", {"required": True, "transforms": "lower"}),
    ("CUNM", "firstname, lastname", {"required": True, "transforms": "join"}),
    ("CUA1", "addresses.0.street", {"default": "-", "transforms": "text:36"}),
    ("TOWN", "addresses.0.city", {"transforms": "text:36"}),
    ("PONO", "addresses.0.zipcode", {"transforms": "text:10"}),
    ("CSCD", "addresses.0.country_code", {"transforms": "upper"}),
]
M3_TO_PROFILE_RULES = [
    ("email", "MAIL", {"required": True, "transforms": "lower"}),
    ("firstname", "CUNM", {"transforms": "words:0"}),
    ("lastname", "CUNM", {"transforms": "words:1:"}),
]

# PrestaShop <-> Domino: order to fulfilment, catalogue, customers.
PRESTASHOP_STATE_TO_DOMINO = {"1": "Awaiting payment", "10": "Awaiting payment", "13": "Awaiting payment",
                              "2": "New", "11": "New", "3": "Picked", "4": "Shipped", "5": "Delivered",
                              "6": "Canceled", "7": "Refunded", "8": "Payment error", "9": "New", "12": "Awaiting payment"}
DOMINO_STATUS_TO_PRESTASHOP = {"New": "2", "Picked": "3", "Shipped": "4", "Delivered": "5", "Canceled": "6"}
PS_ORDER_TO_DOMINO_RULES = [
    ("OrderNumber", "reference", {"required": True}),
    ("ShopOrderId", "id", {"required": True}),
    ("CustomerName", "customer.firstname, customer.lastname", {"required": True, "transforms": "join"}),
    ("Email", "customer.email", {"transforms": "lower"}),
    ("OrderLines", "associations.order_rows",
     {"required": True, "transforms": "format:{product_reference} x {product_quantity} @ {unit_price_tax_incl}"}),
    ("Total", "total_paid", {"transforms": "decimal:2"}),
    ("Status", "current_state", {"transforms": "lookup:prestashop-state-to-domino-status,default=New"}),
    ("OrderDate", "date_add", {}),
]
DOMINO_STATUS_RULES = [
    ("id_order", "ShopOrderId", {"transforms": "integer"}),
    ("id_order_state", "Status", {"required": True, "transforms": "lookup:domino-status-to-prestashop-state"}),
]
DOMINO_TRACKING_RULES = [("id_order", "ShopOrderId", {"transforms": "integer"}),
                         ("tracking_number", "TrackingNumber", {"required": True})]
M3_STOCK_TO_PS_RULES = [("reference", "ITNO", {"required": True}), ("quantity", "quantity", {"required": True, "transforms": "integer"})]
DOMINO_PRODUCT_RULES = [
    ("reference", "SKU", {"required": True}),
    ("name", "Name", {"required": True, "transforms": "text:128"}),
    ("description", "Description", {"transforms": "richtext:html"}),
    ("price", "Price", {"transforms": "decimal:6"}),
]
PS_CUSTOMER_TO_DOMINO_RULES = [("Email", "email", {"required": True, "transforms": "lower"}),
                               ("FirstName", "firstname", {}), ("LastName", "lastname", {})]
DOMINO_CUSTOMER_TO_PS_RULES = [("email", "Email", {"required": True, "transforms": "lower"}),
                               ("firstname", "FirstName", {"required": True}), ("lastname", "LastName", {"required": True})]

PS_ORDERS_FLOW = "PrestaShop orders to Domino"
DOMINO_STATUS_FLOW = "Domino order status to PrestaShop"
DOMINO_TRACKING_FLOW = "Domino tracking to PrestaShop"
M3_STOCK_TO_PS_FLOW = "M3 stock to PrestaShop"
DOMINO_PRODUCTS_FLOW = "Domino products to PrestaShop"
PS_CUSTOMERS_FLOW = "PrestaShop customers to Domino"
DOMINO_CUSTOMERS_FLOW = "Domino customers to PrestaShop"

PAYMENT_RULES = [
    ("reference", "orderNumber", {"required": True}),
    ("amount", "total", {"required": True, "transforms": "decimal:2"}),
    ("currency", "currency.code", {"default": "USD"}),
    ("date", "date", {"transforms": "date_m3"}),
]
PAYMENT_FLOW = "X-Cart payments to the M3 ledger"
CUSTOMERS_TO_M3_FLOW = "X-Cart customers to M3"
CUSTOMERS_TO_XCART_FLOW = "M3 customers to X-Cart"
SHIPMENT_FLOW = "M3 shipments to X-Cart"
STATUS_POLL_FLOW = "M3 order status to X-Cart (polled, without ION)"
STATUS_FLOW = "M3 order status to X-Cart"
STOCK_FLOW = "M3 stock to X-Cart"


def _value_map(name: str, description: str, entries: dict) -> ValueMap:
    value_map, _ = ValueMap.objects.update_or_create(name=name, defaults={"description": description})
    for source, target in entries.items():
        ValueMapEntry.objects.update_or_create(value_map=value_map, source_value=source, defaults={"target_value": target})
    return value_map


def _mapping(name: str, description: str, rules: list, **schemas) -> Mapping:
    """The mapping with these rules, created once: later runs keep what an integrator changed."""
    mapping, created = Mapping.objects.get_or_create(name=name, defaults={"description": description, **schemas})
    if created:
        for position, (target, source, options) in enumerate(rules):
            MappingRule.objects.create(mapping=mapping, position=position * 10, target=target, source=source, **options)
        mapping.publish(by="demo", note="seeded by the demo")
    return mapping


def _flow(name: str, **fields) -> Flow:
    flow, created = Flow.objects.get_or_create(name=name, defaults={"enabled": True, **fields})
    if not created:  # keep what an operator switched on or off
        fields.pop("enabled", None)
        Flow.objects.filter(pk=flow.pk).update(**fields)
        flow.refresh_from_db()
    return flow


@transaction.atomic
def reset_activity() -> int:
    """Forget the demo connections' events, records, links and stock snapshots.

    The simulators keep their state in memory, so each ``make demo`` starts an empty store and an
    empty M3; links and events from an earlier run would point at orders that no longer exist.
    Configuration (connections, flows, mappings) is kept; poll cursors and circuits start again.
    """
    connections = Connection.objects.filter(slug__in=[XCART_SLUG, M3_SLUG, PRESTASHOP_SLUG, DOMINO_SLUG])
    # the sandbox stopped with the last run: failures at its shutdown say nothing about the new one
    connections.update(circuit=Connection.Circuit.CLOSED, circuit_failures=0, circuit_opened_at=None)
    Link.objects.filter(source_connection__in=connections).delete()
    SnapshotVersion.objects.filter(connection__in=connections).delete()
    Flow.objects.filter(source__in=connections).update(poll_cursor="", last_polled_at=None, last_poll_error="")
    SyncRecord.objects.filter(event__connection__in=connections).delete()
    deleted, _ = InboundEvent.objects.filter(connection__in=connections).delete()
    return deleted


@transaction.atomic
def seed(simulator_url: str) -> dict:
    """Create or update the demo rows; returns them with the secrets the simulators must be told."""
    simulator_url = simulator_url.rstrip("/")
    xcart, _ = Connection.objects.update_or_create(
        slug=XCART_SLUG,
        defaults={"name": "Demo X-Cart store", "kind": "xcart", "auth_kind": "api_token",
                  "base_url": f"{simulator_url}/xcart", "enabled": True},
    )
    xcart.set_secret("api_key", DEMO_API_KEY)
    if not xcart.secret("webhook_secret"):
        xcart.set_secret("webhook_secret", new_secret())
    xcart.save()

    m3, _ = Connection.objects.update_or_create(
        slug=M3_SLUG,
        defaults={
            "name": "Demo Infor M3", "kind": "infor_m3", "auth_kind": "ionapi", "base_url": "", "enabled": True,
            "settings": {"company": "100", "customer_template": "WEBSHOP",
                         "order_defaults": {"ORTP": "WEB", "FACI": "A01", "WHLO": "100"},
                         "stock_warehouses": ["100", "200", "300"], "stock_mode": "sum",
                         "ledger": {"interface": "WEBPAY", "bank_account": "1910", "receivable_account": "1510"}},
        },
    )
    m3.set_secret("ionapi", json.dumps(demo_ionapi(f"{simulator_url}/ionapi")))
    if not m3.secret("ion_inbound_token"):
        m3.set_secret("ion_inbound_token", secrets.token_urlsafe(24))
    m3.save()

    _value_map("xcart-shipping-to-m3-modl", "X-Cart shipping method -> M3 delivery method (MODL)", SHIPPING_METHODS)
    _value_map("m3-status-to-xcart-shipping", "M3 order status -> X-Cart shipping status code", M3_STATUS_TO_XCART)
    order_mapping = _mapping("X-Cart order -> M3 sales order",
                             "Customer found by e-mail or created; one AddBatchLine per item.", ORDER_RULES,
                             source_schema="xcart.order", target_schema="infor_m3.sales_order")
    flows = {
        "order": _flow(ORDER_FLOW, source=xcart, source_entity="order", source_event="created", mapping=order_mapping,
                       target=m3, target_action="sales_order.create",
                       description="Every order placed in the store becomes a confirmed M3 sales order."),
        "payment": _flow(PAYMENT_FLOW, source=xcart, source_entity="order", source_event="*", only_when="paymentStatus.code=P",
                         mapping=_mapping("X-Cart paid order -> M3 GL batch", "", PAYMENT_RULES),
                         target=m3, target_action="payment.create",
                         description="Paid orders (payment status P) are posted through GLS840MI: bank / receivables."),
        "status": _flow(STATUS_FLOW, source=m3, source_entity="sales_order", source_event="synced",
                        mapping=_mapping("M3 order status -> X-Cart shipping status", "", STATUS_RULES),
                        target=xcart, target_action="shipping.update",
                        description="SyncSalesOrder BODs from ION move the store order's shipping status."),
        "status_polled": _flow(STATUS_POLL_FLOW, source=m3, source_entity="sales_order", source_event="changed",
                               only_when="@linked", poll_interval=60, enabled=False,
                               mapping=_mapping("M3 order status -> X-Cart shipping status", "", STATUS_RULES),
                               target=xcart, target_action="shipping.update",
                               description="For tenants without ION: order heads polled (OIS100MI/LstHead); enable it "
                                           "instead of the BOD flows."),
        "shipment": _flow(SHIPMENT_FLOW, source=m3, source_entity="shipment", source_event="synced",
                          mapping=_mapping("M3 shipment -> X-Cart tracking", "", SHIPMENT_RULES),
                          target=xcart, target_action="shipping.update",
                          description="SyncShipment BODs: shipped, with the carrier's tracking number."),
        "stock": _flow(STOCK_FLOW, source=m3, source_entity="stock", source_event="*", poll_interval=30,
                       mapping=_mapping("M3 stock -> X-Cart amount", "", STOCK_RULES),
                       target=xcart, target_action="stock.update",
                       description="Allocatable stock summed over warehouses 100, 200, 300 becomes the product amount."),
        "customers_to_m3": _flow(CUSTOMERS_TO_M3_FLOW, source=xcart, source_entity="profile", source_event="*",
                                 mapping=_mapping("X-Cart profile -> M3 customer", "", PROFILE_TO_M3_RULES),
                                 target=m3, target_action="customer.upsert",
                                 description="Profiles pushed by the store add-on; matched by e-mail, never duplicated."),
        "customers_to_xcart": _flow(CUSTOMERS_TO_XCART_FLOW, source=m3, source_entity="customer", source_event="*",
                                    poll_interval=60, mapping=_mapping("M3 customer -> X-Cart profile", "", M3_TO_PROFILE_RULES),
                                    target=xcart, target_action="profile.upsert",
                                    description="CRS610 customers polled every minute; the hub's own writes are not echoed."),
    }
    prestashop, domino = _seed_prestashop_and_domino(simulator_url, m3, flows)
    return {"xcart": xcart, "m3": m3, "prestashop": prestashop, "domino": domino, "mapping": order_mapping,
            "flow": flows["order"], "flows": flows, "webhook_secret": xcart.secret("webhook_secret"),
            "ion_token": m3.secret("ion_inbound_token"), "prestashop_secret": prestashop.secret("webhook_secret")}


def _seed_prestashop_and_domino(simulator_url: str, m3: Connection, flows: dict):
    prestashop, _ = Connection.objects.update_or_create(
        slug=PRESTASHOP_SLUG,
        defaults={"name": "Demo PrestaShop", "kind": "prestashop", "auth_kind": "ws_key",
                  "base_url": f"{simulator_url}/prestashop", "enabled": True, "settings": {"language_id": 1}},
    )
    prestashop.set_secret("api_key", DEMO_WS_KEY)
    if not prestashop.secret("webhook_secret"):
        prestashop.set_secret("webhook_secret", new_secret())
    prestashop.save()
    domino, _ = Connection.objects.update_or_create(
        slug=DOMINO_SLUG,
        defaults={"name": "Demo Domino order desk", "kind": "domino", "auth_kind": "basic",
                  "base_url": f"{simulator_url}/domino", "enabled": True,
                  "settings": {"database": DOMINO_DATABASE, "scope": DOMINO_SCOPE}},
    )
    domino.set_secret("username", DOMINO_USER)
    domino.set_secret("password", DOMINO_PASSWORD)
    domino.save()

    _value_map("prestashop-state-to-domino-status", "PrestaShop order state -> Domino Status", PRESTASHOP_STATE_TO_DOMINO)
    _value_map("domino-status-to-prestashop-state", "Domino Status -> PrestaShop order state", DOMINO_STATUS_TO_PRESTASHOP)
    flows["ps_orders"] = _flow(
        PS_ORDERS_FLOW, source=prestashop, source_entity="order", source_event="created", target=domino,
        target_action="order.upsert", mapping=_mapping("PrestaShop order -> Domino Order Record", "", PS_ORDER_TO_DOMINO_RULES),
        description="Orders pushed by the shop's module become 'Order Record' documents for the order desk.")
    flows["domino_status"] = _flow(
        DOMINO_STATUS_FLOW, source=domino, source_entity="order", source_event="*", poll_interval=30, target=prestashop,
        target_action="order_state.update", only_when="ShopOrderId", mapping=_mapping("Domino Status -> PrestaShop order state", "", DOMINO_STATUS_RULES),
        description="'Picked', 'Shipped' ... set in Notes on orders that came from the shop become PrestaShop "
                    "order states (order_histories).")
    flows["domino_tracking"] = _flow(
        DOMINO_TRACKING_FLOW, source=domino, source_entity="order", source_event="*", poll_interval=30, target=prestashop,
        target_action="tracking.update", only_when="ShopOrderId, TrackingNumber",
        mapping=_mapping("Domino tracking -> PrestaShop order carrier", "", DOMINO_TRACKING_RULES),
        description="A tracking number typed in Notes reaches the order's carrier in PrestaShop.")
    flows["m3_stock_ps"] = _flow(
        M3_STOCK_TO_PS_FLOW, source=m3, source_entity="stock", source_event="*", poll_interval=30, target=prestashop,
        target_action="stock.update", mapping=_mapping("M3 stock -> PrestaShop stock_availables", "", M3_STOCK_TO_PS_RULES),
        description="The same M3 stock events as the X-Cart flow, to PrestaShop by product reference.")
    flows["domino_products"] = _flow(
        DOMINO_PRODUCTS_FLOW, source=domino, source_entity="product", source_event="*", poll_interval=60, target=prestashop,
        target_action="product.upsert", mapping=_mapping("Domino Product -> PrestaShop product", "", DOMINO_PRODUCT_RULES),
        description="Name, rich-text description (sanitised HTML) and price, matched by reference = SKU.")
    flows["ps_customers"] = _flow(
        PS_CUSTOMERS_FLOW, source=prestashop, source_entity="customer", source_event="*", poll_interval=60, target=domino,
        target_action="customer.upsert", mapping=_mapping("PrestaShop customer -> Domino Customer", "", PS_CUSTOMER_TO_DOMINO_RULES),
        description="Matched by Email; the hub's own writes are not echoed back.")
    flows["domino_customers"] = _flow(
        DOMINO_CUSTOMERS_FLOW, source=domino, source_entity="customer", source_event="*", poll_interval=60, target=prestashop,
        target_action="customer.upsert", mapping=_mapping("Domino Customer -> PrestaShop customer", "", DOMINO_CUSTOMER_TO_PS_RULES),
        description="Matched by e-mail, never duplicated.")
    return prestashop, domino
