"""X-Cart 5.5 REST API (``/api`` with ``X-Auth-Token``) and pushes from a store add-on.

The store has no native webhooks: an add-on posts ``{"type": "order.created", "data": {order}}``
signed with Standard Webhooks. A thin push (no ``data`` or no items) is completed by a GET.
"""

import hashlib
import json

from connectors.base import Connector, ConnectorError, DeliveryResult, InboundEvent, Page, SecretField


class XCartConnector(Connector):
    kind = "xcart"
    label = "X-Cart"
    entities = {
        "order": {"receive", "poll", "get", "update"},
        "product": {"get", "update"},
        "profile": {"receive", "get", "create", "update"},
    }
    actions = {"shipping.update": "update_shipping", "stock.update": "update_stock", "profile.upsert": "upsert_profile"}
    auth_kinds = ("api_token",)
    secret_fields = (
        SecretField("api_key", "API key", "X-Cart 5.5: Settings > API > key (sent as X-Auth-Token)."),
        SecretField("webhook_secret", "Webhook signing secret", "whsec_... shared with the store add-on."),
    )

    def describe_error(self, response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.headers.get("X-REST-Error") or super().describe_error(response)
        if isinstance(body, dict):
            return str(body.get("detail") or body.get("title") or body)[:300]
        return str(body)[:300]

    def _call(self, method: str, path: str, params=None, json=None):
        token = self.connection.secret("api_key")
        if not token:
            raise ConnectorError("X-Cart connection has no API key; set it in the admin", permanent=True)
        url = self.connection.base_url.rstrip("/") + "/api/" + path.lstrip("/")
        response = self.http.request(
            method, url, params=params, json=json, session_key=f"xcart:{self.connection.pk}",
            headers={"X-Auth-Token": token, "Accept": "application/json"},
        )
        return response.json()

    def _get(self, path: str, params=None):
        return self._call("GET", path, params=params)

    def parse_push(self, payload: dict, headers) -> InboundEvent:
        topic = payload.get("type")
        if not isinstance(topic, str) or "." not in topic:
            raise ValueError('an X-Cart push needs "type" like "order.created"')
        entity, event = topic.split(".", 1)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ValueError('an X-Cart push needs "data" as an object')
        key = {"order": "order_id", "product": "product_id", "profile": "profileId"}.get(entity, "id")
        source_id = data.get(key, data.get("id"))
        if source_id in (None, ""):
            raise ValueError(f'the {entity} in "data" has no "{key}"')
        thin = entity == "order" and "items" not in data
        return InboundEvent(entity, event, str(source_id), None if thin else data)

    def fetch(self, entity: str, source_id: str) -> dict:
        collection = {"order": "orders", "product": "products", "profile": "profiles"}[entity]
        return self._get(f"{collection}/{source_id}")

    # --- polling: orders by lastRenewDate -----------------------------------------------------------
    def poll(self, entity: str, cursor: str | None, limit: int = 100) -> Page:
        """Orders renewed at or after the cursor's second, oldest first.

        lastRenewDate has one-second resolution and the filter is inclusive, so the cursor is
        "second:page": a page full of orders of one second moves to the next page instead of
        asking for the same page again; repeats across pages are dropped by the event keys.
        """
        if entity != "order":
            raise NotImplementedError(f"X-Cart polling covers orders, not {entity}")
        since, page = (int(x) for x in (cursor or "0:1").split(":"))
        records = self._get("orders", params={"lastRenewDate[after]": since, "order[lastRenewDate]": "asc",
                                              "itemsPerPage": limit, "page": page})
        if not records:
            return Page([], cursor, more=False)
        last, full = int(records[-1]["lastRenewDate"]), len(records) == limit
        next_cursor = f"{since}:{page + 1}" if full and last == since else f"{last}:1"
        return Page(records, next_cursor, more=full)

    def record_id(self, entity: str, record: dict) -> str:
        return str(record[{"order": "order_id", "product": "product_id", "profile": "profileId"}[entity]])

    def record_version(self, entity: str, record: dict) -> str:
        # lastRenewDate has whole seconds; the content tells two changes within one second apart.
        digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{record.get('lastRenewDate') or record.get('date') or ''}#{digest}"

    # --- writes ----------------------------------------------------------------------------------
    def update_shipping(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        """Shipping status and tracking number of an order the hub linked before (target_id)."""
        if not target_id:
            raise ConnectorError("no X-Cart order is linked to this record, so its status cannot be updated",
                                 permanent=True)
        notes = []
        if payload.get("code"):
            self._call("PUT", f"orders/{target_id}/shipping_status", json={"code": payload["code"]})
            notes.append(f"shipping status {payload['code']}")
        if payload.get("tracking_number"):
            self._call("POST", f"orders/{target_id}/tracking_numbers", json={"value": payload["tracking_number"]})
            notes.append(f"tracking {payload['tracking_number']}")
        return DeliveryResult(target_id, note=", ".join(notes) or "nothing to change")

    def update_stock(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        """Set a product's stock (``amount``), finding the product by SKU unless it is linked."""
        product_id = target_id
        if not product_id:
            sku = payload.get("sku")
            found = self._get("products", params={"sku": sku}) if sku else []
            if not found:
                raise ConnectorError(f"X-Cart has no product with SKU {sku!r}", permanent=True)
            product_id = str(found[0]["product_id"])
        self._call("PUT", f"products/{product_id}", json={"amount": int(payload["amount"])})
        return DeliveryResult(product_id, note=f"amount {int(payload['amount'])}")

    def upsert_profile(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        """Update the linked profile, or the one with this login (e-mail), else create it."""
        email = (payload.get("email") or "").lower()
        profile_id = target_id
        if not profile_id and email:
            found = self._get("profiles", params={"login": email})
            profile_id = str(found[0]["profileId"]) if found else None
        if profile_id:
            self._call("PUT", f"profiles/{profile_id}", json=payload)
            return DeliveryResult(profile_id, note=f"profile {profile_id} updated")
        created = self._call("POST", "profiles", json=payload)
        return DeliveryResult(str(created["profileId"]), note=f"profile {created['profileId']} created")

    def test_connection(self) -> str:
        self._get("orders", params={"itemsPerPage": 1})
        return "X-Cart answered and accepted the API key."
