"""The demo configuration: an X-Cart store, an M3 tenant (both simulated), and the order flow.

Used by ``manage.py demo`` and by the end-to-end tests, so what the demo shows is what is tested.
Idempotent: running it again updates the same rows.
"""

import json

from django.db import transaction

from connectors.infor_m3.simulator import demo_ionapi
from connectors.models import Connection
from connectors.signatures import new_secret
from connectors.xcart.simulator import DEMO_API_KEY
from hub.models import Flow, Link
from mappings.models import Mapping, MappingRule, ValueMap, ValueMapEntry
from monitoring.models import InboundEvent, SyncRecord

XCART_SLUG = "xcart-demo"
M3_SLUG = "m3-demo"
ORDER_FLOW = "X-Cart orders to M3 sales orders"

T = MappingRule.Transform
# (target, source, options): X-Cart 5.5 order -> customer, OIS100MI head and lines.
ORDER_RULES = [
    ("customer.MAIL", "profile.email", {"required": True, "transform": T.LOWER}),
    ("customer.CUNM", "billingAddress.firstname, billingAddress.lastname", {"required": True, "transform": T.JOIN}),
    ("customer.CUA1", "billingAddress.street", {"required": True, "transform": T.TEXT, "argument": "36"}),
    ("customer.TOWN", "billingAddress.city", {"transform": T.TEXT, "argument": "36"}),
    ("customer.PONO", "billingAddress.zipcode", {"transform": T.TEXT, "argument": "10"}),
    ("customer.CSCD", "billingAddress.country_code", {"transform": T.UPPER}),
    ("customer.PHNO", "billingAddress.phone", {"transform": T.TEXT, "argument": "16"}),
    ("order.CUOR", "orderNumber", {"required": True, "transform": T.TEXT, "argument": "20"}),
    ("order.CUCD", "currency.code", {"default": "USD"}),
    ("order.RLDT", "date", {"transform": T.DATE_M3}),
    ("order.MODL", "shippingMethodName", {"transform": T.LOOKUP, "value_map": "xcart-shipping-to-m3-modl", "default": "STD"}),
    ("lines[].ITNO", "items[].sku", {"required": True, "transform": T.TEXT, "argument": "15"}),
    ("lines[].ORQT", "items[].amount", {"required": True, "transform": T.INTEGER}),
    ("lines[].SAPR", "items[].price", {"transform": T.DECIMAL, "argument": "2"}),
]
SHIPPING_METHODS = {"Courier": "EXP", "Ground": "UPS", "Local pickup": "PCK"}


@transaction.atomic
def reset_activity() -> int:
    """Forget the demo connections' events, records and links.

    The simulators keep their state in memory, so each ``make demo`` starts an empty store and an
    empty M3; links and events from an earlier run would point at orders that no longer exist.
    Configuration (connections, flows, mappings) is kept.
    """
    connections = Connection.objects.filter(slug__in=[XCART_SLUG, M3_SLUG])
    Link.objects.filter(source_connection__in=connections).delete()
    SyncRecord.objects.filter(event__connection__in=connections).delete()
    deleted, _ = InboundEvent.objects.filter(connection__in=connections).delete()
    return deleted


@transaction.atomic
def seed(simulator_url: str) -> dict:
    """Create or update the demo rows; returns the objects and the X-Cart add-on's signing secret."""
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
                         "order_defaults": {"ORTP": "WEB", "FACI": "A01", "WHLO": "100"}},
        },
    )
    m3.set_secret("ionapi", json.dumps(demo_ionapi(f"{simulator_url}/ionapi")))
    m3.save()

    modl, _ = ValueMap.objects.update_or_create(
        name="xcart-shipping-to-m3-modl", defaults={"description": "X-Cart shipping method -> M3 delivery method (MODL)"}
    )
    for source, target in SHIPPING_METHODS.items():
        ValueMapEntry.objects.update_or_create(value_map=modl, source_value=source, defaults={"target_value": target})

    mapping, _ = Mapping.objects.update_or_create(
        name="X-Cart order -> M3 sales order",
        defaults={"description": "Customer found by e-mail or created; one AddBatchLine per item."},
    )
    if not mapping.rules.exists():
        for position, (target, source, options) in enumerate(ORDER_RULES):
            options = dict(options)
            if "value_map" in options:
                options["value_map"] = ValueMap.objects.get(name=options["value_map"])
            MappingRule.objects.create(mapping=mapping, position=position * 10, target=target, source=source, **options)
        mapping.refresh_from_db()

    flow, _ = Flow.objects.update_or_create(
        name=ORDER_FLOW,
        defaults={"source": xcart, "source_entity": "order", "source_event": "created", "mapping": mapping,
                  "target": m3, "target_action": "sales_order.create", "enabled": True,
                  "description": "Every order placed in the store becomes a confirmed M3 sales order."},
    )
    return {"xcart": xcart, "m3": m3, "mapping": mapping, "flow": flow, "webhook_secret": xcart.secret("webhook_secret")}
