"""Any other JSON system over REST, configured instead of coded, so nobody waits for a connector.

Everything system-specific lives in the connection's ``settings``::

    {
      "auth_header": "X-Api-Key",          # for auth kind "api_key_header" (default Authorization)
      "entities": {
        "order": {
          "list": "/orders", "get": "/orders/{id}", "create": "/orders", "update": "/orders/{id}",
          "update_method": "PUT",           # or PATCH
          "id_field": "id", "version_field": "updated_at",
          "records_at": "data",             # where a list answer keeps its records ("" = the body is the list)
          "since_param": "updated_after",   # polling filter, given the cursor
          "page_param": "page", "size_param": "per_page", "first_page": 1,
          "extra_params": {"sort": "updated_at"}
        }
      }
    }

Pushes are ``{"type": "<entity>.<event>", "data": {...}}`` (the Standard Webhooks payload shape).
Actions are ``<entity>.create`` (POST) and ``<entity>.upsert`` (PUT/PATCH the linked record, else POST).
"""

from datetime import datetime, timedelta

from connectors.base import (
    Connector,
    ConnectorError,
    DeliveryResult,
    InboundEvent,
    Page,
    SecretField,
    standard_payload,
)


class GenericRestConnector(Connector):
    kind = "generic_rest"
    label = "Generic REST / webhook"
    auth_kinds = ("none", "bearer", "basic", "api_key_header")
    secret_fields = (
        SecretField("token", "Token or API key", "Bearer token, or the key sent in the configured header."),
        SecretField("username", "User name", "HTTP Basic."),
        SecretField("password", "Password", "HTTP Basic."),
        SecretField("webhook_secret", "Webhook signing secret", "whsec_... for pushes from the system."),
    )

    @property
    def entities(self):
        return {name: {"poll", "get", "create", "update", "receive"} for name in self._spec_all()}

    @property
    def actions(self):
        names = {}
        for entity in self._spec_all():
            names[f"{entity}.create"] = "create"
            names[f"{entity}.upsert"] = "upsert"
        return names

    def perform(self, action: str, payload: dict, target_id: str | None = None) -> DeliveryResult:
        entity, _, verb = action.partition(".")
        if action not in self.actions:
            raise ConnectorError(f"no entity '{entity}' is configured for this connection", permanent=True)
        if verb == "create" or not target_id:
            return self._write("POST", entity, self._spec(entity).get("create", ""), payload)
        spec = self._spec(entity)
        return self._write(spec.get("update_method", "PUT"), entity, spec["update"].format(id=target_id), payload)

    # --- configuration ------------------------------------------------------------------------------
    def _spec_all(self) -> dict:
        return (self.connection.settings or {}).get("entities", {})

    def _spec(self, entity: str) -> dict:
        spec = self._spec_all().get(entity)
        if spec is None:
            raise ConnectorError(f"no entity '{entity}' is configured for this connection", permanent=True)
        return spec

    # --- HTTP -------------------------------------------------------------------------------------------
    def _auth(self) -> dict:
        kind = self.connection.auth_kind
        if kind == "bearer":
            return {"headers": {"Authorization": f"Bearer {self.connection.secret('token')}"}}
        if kind == "api_key_header":
            header = (self.connection.settings or {}).get("auth_header", "Authorization")
            return {"headers": {header: self.connection.secret("token")}}
        if kind == "basic":
            return {"auth": (self.connection.secret("username"), self.connection.secret("password"))}
        return {}

    def _call(self, method: str, path: str, **kwargs):
        auth = self._auth()
        headers = {"Accept": "application/json", **auth.get("headers", {})}
        url = self.connection.base_url.rstrip("/") + "/" + path.lstrip("/")
        response = self.http.request(method, url, headers=headers, auth=auth.get("auth"),
                                     session_key=f"generic:{self.connection.pk}", **kwargs)
        return response.json() if response.content else None

    def _write(self, method: str, entity: str, path: str, payload: dict) -> DeliveryResult:
        if not path:
            raise ConnectorError(f"entity '{entity}' has no create path configured", permanent=True)
        answer = self._call(method, path, json=payload) or {}
        record_id = self.record_id(entity, answer) if isinstance(answer, dict) else ""
        return DeliveryResult(record_id or "", note=f"{method} {path}")

    # --- reading ------------------------------------------------------------------------------------
    def record_id(self, entity: str, record: dict) -> str:
        return str(record.get(self._spec(entity).get("id_field", "id"), ""))

    def record_version(self, entity: str, record: dict) -> str:
        return str(record.get(self._spec(entity).get("version_field", "updated_at"), ""))

    def fetch(self, entity: str, source_id: str) -> dict:
        return self._call("GET", self._spec(entity)["get"].format(id=source_id))

    def poll(self, entity: str, cursor: str | None, limit: int = 100) -> Page:
        """Page through records changed since the cursor (the newest version seen).

        The cursor is "version|page": the filter is assumed inclusive, so a full page at one version
        moves to the next page instead of asking for the same one again.
        """
        spec = self._spec(entity)
        since, _, page = (cursor or "|").partition("|")
        page_number = int(page or spec.get("first_page", 1))
        params = dict(spec.get("extra_params", {}))
        params[spec.get("page_param", "page")] = page_number
        params[spec.get("size_param", "per_page")] = limit
        if since and spec.get("since_param"):
            params[spec["since_param"]] = since
        body = self._call("GET", spec["list"], params=params)
        records = body
        for key in filter(None, spec.get("records_at", "").split(".")):
            records = records.get(key, []) if isinstance(records, dict) else []
        if not isinstance(records, list):
            raise ConnectorError(f"the list answer of {spec['list']} holds no list at '{spec.get('records_at', '')}'",
                                 permanent=True)
        if not records:
            return Page([], cursor, more=False)
        newest, full = self.record_version(entity, records[-1]), len(records) == limit
        if full and newest == since:  # a whole page of one version: step to the next page of it
            next_cursor = f"{since}|{page_number + 1}"
        else:
            next_cursor = f"{newest}|{spec.get('first_page', 1)}"
        return Page(records, next_cursor, more=full)

    def rewind_cursor(self, entity: str, cursor: str | None, seconds: int) -> str | None:
        """The version in the cursor, when it is a time (ISO 8601 or epoch seconds), moved back."""
        since = (cursor or "").partition("|")[0]
        if not since or not seconds:
            return cursor
        first_page = self._spec(entity).get("first_page", 1)
        if since.isdigit():
            return f"{max(0, int(since) - seconds)}|{first_page}"
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            return cursor  # an opaque version: only the source knows what comes before it
        earlier = (moment - timedelta(seconds=seconds)).isoformat()
        if since.endswith("Z"):
            earlier = earlier.replace("+00:00", "Z")
        return f"{earlier}|{first_page}"

    # --- pushes -----------------------------------------------------------------------------------------
    def parse_push(self, payload: dict, headers) -> InboundEvent:
        entity, event, data = standard_payload(payload, "a")
        source_id = self.record_id(entity, data) if entity in self._spec_all() else str(data.get("id", ""))
        if not source_id:
            raise ValueError(f'the {entity} in "data" has no id')
        return InboundEvent(entity, event, source_id, data if len(data) > 1 else None)

    def test_connection(self) -> str:
        specs = self._spec_all()
        if not specs:
            raise ConnectorError("no entities are configured in the connection's settings", permanent=True)
        entity, spec = next(iter(specs.items()))
        self._call("GET", spec["list"], params={spec.get("size_param", "per_page"): 1})
        return f"{self.connection.base_url} answered the list of '{entity}'."
