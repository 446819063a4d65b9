"""X-Cart 5.5 REST API (``/api`` with ``X-Auth-Token``) and pushes from a store add-on.

The store has no native webhooks: an add-on posts ``{"type": "order.created", "data": {order}}``
signed with Standard Webhooks. A thin push (no ``data`` or no items) is completed by a GET.
"""

from connectors.base import Connector, ConnectorError, InboundEvent, SecretField


class XCartConnector(Connector):
    kind = "xcart"
    label = "X-Cart"
    entities = {
        "order": {"receive", "get"},
        "product": {"get"},
        "profile": {"get"},
    }
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

    def _get(self, path: str, params=None):
        token = self.connection.secret("api_key")
        if not token:
            raise ConnectorError("X-Cart connection has no API key; set it in the admin", permanent=True)
        url = self.connection.base_url.rstrip("/") + "/api/" + path.lstrip("/")
        response = self.http.request(
            "GET", url, params=params, session_key=f"xcart:{self.connection.pk}",
            headers={"X-Auth-Token": token, "Accept": "application/json"},
        )
        return response.json()

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

    def test_connection(self) -> str:
        self._get("orders", params={"itemsPerPage": 1})
        return "X-Cart answered and accepted the API key."
