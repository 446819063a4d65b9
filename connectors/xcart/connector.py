"""X-Cart: the 5.5 REST API (``/api`` with ``X-Auth-Token``), the legacy REST API add-on of 5.0-5.4
(``admin.php?target=RESTAPI&_key=``, auth kind ``legacy_key``), and pushes from a store add-on.

The store has no native webhooks: an add-on posts ``{"type": "order.created", "data": {order}}``
signed with Standard Webhooks. A thin push (no ``data`` or no items) is completed by a GET.
"""

import hashlib
import json
import time

from connectors.base import (
    Connector,
    ConnectorError,
    DeliveryResult,
    InboundEvent,
    Page,
    SecretField,
    standard_payload,
)


class XCartConnector(Connector):
    kind = "xcart"
    label = "X-Cart"
    entities = {
        "order": {"receive", "poll", "get", "update"},
        "product": {"get", "update"},
        "profile": {"receive", "get", "create", "update"},
    }
    actions = {"shipping.update": "update_shipping", "stock.update": "update_stock", "profile.upsert": "upsert_profile"}
    auth_kinds = ("api_token", "legacy_key")
    secret_fields = (
        SecretField("api_key", "API key", "X-Cart 5.5: the API key (sent as X-Auth-Token); 5.0-5.4: the REST API "
                                          "add-on's read/write key (sent as _key)."),
        SecretField("webhook_secret", "Webhook signing secret", "whsec_... shared with the store add-on."),
    )

    @property
    def legacy(self) -> bool:
        return self.connection.auth_kind == "legacy_key"

    def describe_error(self, response) -> str:
        if self.legacy and response.status_code in (403, 404) and not response.content:
            # the add-on answers a bad key with an empty 403 or 404
            return "the REST API add-on refused the key (wrong key, or the read-only key used for a write)" \
                if response.status_code == 403 else "not found (or the key was refused)"
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
        headers = {"Accept": "application/json"}
        if self.legacy:
            url = self.connection.base_url.rstrip("/") + "/admin.php"
            params = {"target": "RESTAPI", "_key": token, "_path": path.strip("/"), **(params or {})}
        else:
            url = self.connection.base_url.rstrip("/") + "/api/" + path.lstrip("/")
            headers["X-Auth-Token"] = token
        response = self.http.request(method, url, params=params, json=json, headers=headers,
                                     session_key=f"xcart:{self.connection.pk}", log_as=f"{method} {path}")
        return response.json()

    def _get(self, path: str, params=None):
        return self._call("GET", path, params=params)

    def parse_push(self, payload: dict, headers) -> InboundEvent:
        entity, event, data = standard_payload(payload, "an X-Cart")
        key = {"order": "order_id", "product": "product_id", "profile": "profileId"}.get(entity, "id")
        source_id = data.get(key, data.get("id"))
        if source_id in (None, ""):
            raise ValueError(f'the {entity} in "data" has no "{key}"')
        thin = entity == "order" and "items" not in data
        return InboundEvent(entity, event, str(source_id), None if thin else data)

    def fetch(self, entity: str, source_id: str) -> dict:
        collection = {"order": "orders", "product": "products", "profile": "profiles"}[entity]
        return self._get(f"{entity if self.legacy else collection}/{source_id}")

    # --- polling: orders by lastRenewDate -----------------------------------------------------------
    def poll(self, entity: str, cursor: str | None, limit: int = 100) -> Page:
        """Orders renewed at or after the cursor's second, oldest first.

        lastRenewDate has one-second resolution and the filter is inclusive, so the cursor is
        "second:page": a page full of orders of one second moves to the next page instead of
        asking for the same page again; repeats across pages are dropped by the event keys.
        """
        if entity != "order":
            raise NotImplementedError(f"X-Cart polling covers orders, not {entity}")
        if self.legacy:
            return self._poll_legacy(cursor)
        since, page = (int(x) for x in (cursor or "0:1").split(":"))
        records = self._get("orders", params={"lastRenewDate[after]": since, "order[lastRenewDate]": "asc",
                                              "itemsPerPage": limit, "page": page})
        if not records:
            return Page([], cursor, more=False)
        last, full = int(records[-1]["lastRenewDate"]), len(records) == limit
        next_cursor = f"{since}:{page + 1}" if full and last == since else f"{last}:1"
        return Page(records, next_cursor, more=full)

    def rewind_cursor(self, entity: str, cursor: str | None, seconds: int) -> str | None:
        if not cursor or not seconds:
            return cursor
        if self.legacy:
            return str(max(0, int(cursor) - seconds))
        since = int(cursor.split(":")[0])
        return f"{max(0, since - seconds)}:1"

    def _poll_legacy(self, cursor: str | None) -> Page:
        """The add-on has no "changed since" for orders: read the orders created within the look-back
        window (settings ``legacy_poll_days``, default 30) and keep those renewed at or after the
        cursor, oldest first. Repeats of the cursor's second are dropped by the event keys."""
        since = int(cursor or 0)
        window_start = int(time.time()) - 86400 * int((self.connection.settings or {}).get("legacy_poll_days", 30))
        changed, offset, size = [], 0, 100
        while True:
            batch = self._get("order", params={"_cnd[date][0]": window_start, "_cnd[orderBy][0]": "order_id",
                                               "_cnd[limit][0]": offset, "_cnd[limit][1]": size})
            changed += [o for o in batch if int(o.get("lastRenewDate") or 0) >= since]
            if len(batch) < size:
                break
            offset += size
        changed.sort(key=lambda o: (int(o["lastRenewDate"]), int(o["order_id"])))
        return Page(changed, str(int(changed[-1]["lastRenewDate"])) if changed else cursor, more=False)

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
        if self.legacy:  # one PUT of the order carries both
            changes = {}
            if payload.get("code"):
                changes["shippingStatus"] = {"code": payload["code"]}
            if payload.get("tracking_number"):
                changes["trackingNumbers"] = [{"value": payload["tracking_number"]}]
            if changes:
                self._call("PUT", f"order/{target_id}", json=changes)
        else:
            if payload.get("code"):
                self._call("PUT", f"orders/{target_id}/shipping_status", json={"code": payload["code"]})
            if payload.get("tracking_number"):
                self._call("POST", f"orders/{target_id}/tracking_numbers", json={"value": payload["tracking_number"]})
        if payload.get("code"):
            notes.append(f"shipping status {payload['code']}")
        if payload.get("tracking_number"):
            notes.append(f"tracking {payload['tracking_number']}")
        return DeliveryResult(target_id, note=", ".join(notes) or "nothing to change")

    def update_stock(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        """Set a product's stock (``amount``), finding the product by SKU unless it is linked."""
        product_id, products = target_id, "product" if self.legacy else "products"
        if not product_id:
            sku = payload.get("sku")
            found = self._get(products, params={"_cnd[sku]" if self.legacy else "sku": sku}) if sku else []
            if not found:
                raise ConnectorError(f"X-Cart has no product with SKU {sku!r}", permanent=True)
            product_id = str(found[0]["product_id"])
        self._call("PUT", f"{products}/{product_id}", json={"amount": int(payload["amount"])})
        return DeliveryResult(product_id, note=f"amount {int(payload['amount'])}")

    def upsert_profile(self, payload: dict, target_id: str | None = None) -> DeliveryResult:
        """Update the linked profile, or the one with this login (e-mail), else create it."""
        if self.legacy:
            raise ConnectorError("profiles are written through the 5.5 API only; the legacy add-on is read-only for "
                                 "them here", permanent=True)
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
        if self.legacy:
            self._get("order", params={"_cnd[limit][0]": 0, "_cnd[limit][1]": 1})
            return "X-Cart's REST API add-on answered and accepted the key."
        self._get("orders", params={"itemsPerPage": 1})
        return "X-Cart answered and accepted the API key."
