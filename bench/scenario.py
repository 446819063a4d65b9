"""The configuration the hub's benchmarks (and the faults test) run: store order webhooks into Domino.

PrestaShop order webhooks, full orders with their customer (so no enrichment call), go by the demo's
"PrestaShop orders to Domino" flow and mapping to a Domino connection on the Domino REST API
(``domino_jwt``): the engine's bulk path, one DQL look-up and one ``/bulk/create`` per batch. Every
other demo flow is switched off, so that this one flow's speed is what is measured. Node-RED's flow in
bench/nodered.py maps the same fields into the same simulator.
"""

import copy
import json
from dataclasses import dataclass

from bench.common import ROOT

ORDER = json.loads((ROOT / "connectors/prestashop/fixtures/orders__created.json").read_text())
REST_SLUG = "domino-rest-bench"
ORDER_FORM = "Order Record"
REFERENCE_PREFIX = "B"  # our orders' references, told apart from the simulator's seeded documents


@dataclass
class Scenario:
    slug: str
    secret: str
    flow_name: str
    flow_id: int
    source_id: int
    target_id: int

    @property
    def path(self) -> str:
        return f"/webhooks/{self.slug}/"


def reference(n: int) -> str:
    return f"{REFERENCE_PREFIX}{n:08d}"


def order_payload(n: int) -> dict:
    """Store order n as the shop's module pushes it, with its customer: its own id and reference (so
    it is one new target document), the fixture's two lines."""
    order = copy.deepcopy(ORDER)
    order["data"].update(id=1_000_000 + n, reference=reference(n),
                         customer={"id": str(9000 + n % 300), "firstname": "Ada", "lastname": f"Lovelace{n % 300}",
                                   "email": f"Ada.Lovelace{n % 300}@Example.org"})
    return order


def payloads(count: int, start: int = 0):
    for n in range(start, start + count):
        yield order_payload(n)


def seed(simulator_url: str) -> Scenario:
    from connectors.domino.simulator import DEMO_PASSWORD, DEMO_SCOPE, DEMO_USER
    from connectors.models import Connection
    from hub import demo
    from hub.models import Flow

    config = demo.seed(simulator_url)
    rest, _ = Connection.objects.update_or_create(
        slug=REST_SLUG,
        defaults={"name": "Domino REST API (bench)", "kind": "domino", "auth_kind": "domino_jwt",
                  "base_url": f"{simulator_url.rstrip('/')}/domino", "enabled": True, "settings": {"scope": DEMO_SCOPE}},
    )
    rest.set_secret("username", DEMO_USER)
    rest.set_secret("password", DEMO_PASSWORD)
    rest.save()
    flow = Flow.objects.get(name=demo.PS_ORDERS_FLOW)
    flow.target = rest
    flow.save()
    Flow.objects.exclude(pk=flow.pk).update(enabled=False)
    return Scenario(slug=demo.PRESTASHOP_SLUG, secret=config["prestashop_secret"], flow_name=flow.name,
                    flow_id=flow.pk, source_id=flow.source_id, target_id=rest.pk)


def our_orders(documents) -> list[str]:
    """OrderNumber of every 'Order Record' the benchmark made, from the Domino simulator's documents."""
    return [d.items.get("OrderNumber") for d in documents
            if d.form == ORDER_FORM and str(d.items.get("OrderNumber", "")).startswith(REFERENCE_PREFIX)]


def store_orders(setup, count: int, start: int, prefix: str = "backlog") -> list:
    """Store ``count`` order webhooks as the webhook view would (same fields, partition from the record
    id), without HTTP: a backlog for the workers benchmark and the drain tests."""
    import json

    from monitoring.models import InboundEvent, partition_of

    events = []
    for n in range(start, start + count):
        payload = order_payload(n)
        source_id = str(payload["data"]["id"])
        events.append(InboundEvent(connection_id=setup.source_id, idempotency_key=f"{prefix}-{n}", topic="order.created",
                                   source_id=source_id, partition=partition_of(source_id),
                                   headers={"content-type": "application/json"}, body=json.dumps(payload)))
    return InboundEvent.objects.bulk_create(events, batch_size=1000)
