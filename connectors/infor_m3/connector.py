"""Infor M3 through the ION API Gateway: OAuth2 token from the .ionapi file, MI REST v2 calls.

MI answers business errors with HTTP 200 and ``errorMessage`` in the result; those are permanent
(retrying "item does not exist" cannot help) and carry M3's own message and field.
"""

import hashlib
import json
from decimal import Decimal

from connectors.base import Connector, ConnectorError, DeliveryResult, InboundEvent, Page, SecretField
from connectors.infor_m3 import bod
from connectors.infor_m3.ionapi import mi_base_url, parse_ionapi, token_url, tokens


class M3Connector(Connector):
    kind = "infor_m3"
    label = "Infor M3"
    entities = {
        "sales_order": {"create", "get", "receive", "poll"},
        "shipment": {"receive"},
        "stock": {"poll"},
        "customer": {"poll", "create", "update", "get", "search"},
        "item": {"get"},
        "payment": {"create"},
    }
    actions = {"sales_order.create": "create_sales_order", "customer.upsert": "upsert_customer",
               "payment.create": "post_payment"}
    auth_kinds = ("ionapi",)
    snapshot_entities = frozenset({"stock", "customer", "sales_order"})
    secret_fields = (
        SecretField("ionapi", ".ionapi file", "Upload the file from ION API > Authorized apps (backend service)."),
        SecretField("ion_inbound_token", "ION inbound token",
                    "Bearer token ION sends to /ion/<slug>/v3/multipartMessage with BODs (order status, shipments)."),
    )

    def describe_error(self, response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().describe_error(response)
        if isinstance(body, dict):
            return str(body.get("error_description") or body.get("error") or body.get("message") or body)[:300]
        return str(body)[:300]

    # --- inbound: BODs from ION ---------------------------------------------------------------------
    def parse_message(self, body: bytes | str) -> InboundEvent:
        record = bod.parse(body)
        entity = "shipment" if record["noun"] == "Shipment" else "sales_order"
        return InboundEvent(entity, "synced", record["ORNO"], record)

    # --- auth ------------------------------------------------------------------------------------
    def _ionapi(self) -> dict:
        raw = self.connection.secret("ionapi")
        if not raw:
            raise ConnectorError("M3 connection has no .ionapi credentials; upload the file in the admin", permanent=True)
        try:
            return parse_ionapi(raw)
        except ValueError as exc:
            raise ConnectorError(str(exc), permanent=True) from None

    def _token_key(self, ionapi: dict) -> tuple:
        # A new .ionapi upload gives a new key, so a stale token is never reused.
        fingerprint = hashlib.sha256(f"{ionapi['ci']}|{ionapi['saak']}|{ionapi['pu']}".encode()).hexdigest()
        return (self.connection.pk, fingerprint)

    def _token(self, ionapi: dict) -> str:
        key = self._token_key(ionapi)
        token = tokens.get(key)
        if token:
            return token
        form = {
            "grant_type": "password",
            "username": ionapi["saak"],
            "password": ionapi["sask"],
            "client_id": ionapi["ci"],
            "client_secret": ionapi["cs"],
        }
        try:
            response = self.http.request("POST", token_url(ionapi), data=form, log_as="ION token",
                                         session_key=f"m3:{self.connection.pk}")
        except ConnectorError as exc:
            if exc.status in (400, 401):
                raise ConnectorError(f"ION API refused the .ionapi credentials: {exc.message}", permanent=True,
                                     status=exc.status) from None
            raise
        body = response.json()
        tokens.put(key, body["access_token"], float(body.get("expires_in", 3600)))
        return body["access_token"]

    # --- MI calls ----------------------------------------------------------------------------------
    def mi(self, program: str, transaction: str, fields: dict | None = None, *,
           maxrecs: int | None = None, returncols: list[str] | None = None, mask=frozenset()) -> list[dict]:
        """Run one MI transaction; return its records with values stripped of M3's padding."""
        ionapi = self._ionapi()
        settings = self.connection.settings or {}
        params = {"CONO": str(settings.get("company", "100"))}
        params.update({k: str(v) for k, v in (fields or {}).items() if v not in (None, "")})
        matrix = ""
        if maxrecs is not None:
            matrix += f";maxrecs={maxrecs}"
        if returncols:
            matrix += ";returncols=" + ",".join(returncols)
        url = f"{mi_base_url(ionapi)}/{program}/{transaction}{matrix}"
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token(ionapi)}", "Accept": "application/json"}
            try:
                response = self.http.request("GET", url, params=params, headers=headers, log_request=params, mask=mask,
                                             log_as=f"{program}/{transaction}", session_key=f"m3:{self.connection.pk}")
                break
            except ConnectorError as exc:
                if exc.status == 401 and attempt == 1:
                    tokens.drop(self._token_key(ionapi))  # expired or revoked early: renew once
                    continue
                raise
        body = response.json()
        result = (body.get("results") or [{}])[0]
        if result.get("errorMessage"):
            field = f" (field {result['errorField']})" if result.get("errorField") else ""
            raise ConnectorError(
                f"M3 {program}/{transaction}: {result['errorMessage'].strip()}{field}",
                permanent=True, code=result.get("errorType", ""),
            )
        return [{k: v.strip() if isinstance(v, str) else v for k, v in rec.items()} for rec in result.get("records", [])]

    # --- actions -------------------------------------------------------------------------------------
    def find_customer_by_email(self, email: str) -> str | None:
        # the search query is the e-mail itself: kept out of the log like other personal data
        records = self.mi("CRS610MI", "SearchCustomer", {"SQRY": f"MAIL:{email}", "MXRC": 5}, mask={"SQRY"})
        matches = [r["CUNO"] for r in records if r.get("MAIL", "").lower() == email.lower()]
        return matches[0] if matches else None

    def ensure_customer(self, customer: dict) -> tuple[str, bool]:
        """The customer's CUNO, found by e-mail or created from the mapped fields."""
        email = (customer.get("MAIL") or "").strip()
        if email:
            cuno = self.find_customer_by_email(email)
            if cuno:
                return cuno, False
        fields = {"CUTM": (self.connection.settings or {}).get("customer_template", "TEMPLATE"), **customer}
        record = self.mi("CRS610MI", "Add", fields)[0]
        return record["CUNO"], True

    def upsert_customer(self, customer: dict, target_id: str | None = None) -> DeliveryResult:
        """Update the linked customer, or the one with this e-mail, else add one: never a duplicate."""
        cuno = target_id or (self.find_customer_by_email(customer["MAIL"]) if customer.get("MAIL") else None)
        if cuno:
            self.mi("CRS610MI", "ChgBasicData", {**customer, "CUNO": cuno})
            return DeliveryResult(cuno, note=f"customer {cuno} updated")
        cuno, _ = self.ensure_customer(customer)
        return DeliveryResult(cuno, note=f"customer {cuno} created")

    def post_payment(self, payment: dict) -> DeliveryResult:
        """Post a payment received by the store to the general ledger through GLS840MI.

        Two lines (debit the bank, credit receivables) in a batch keyed by the payment's reference,
        then UpdBatch. The PARM layout is whatever the tenant's GLS840 interface defines; the hub
        fills ``settings["ledger"]["parm"]`` (default: date;account;amount;currency;reference).
        A retry finds the batch by its key: "already exists" resumes it, "already updated" means done.
        """
        ledger = (self.connection.settings or {}).get("ledger", {})
        key = f"{ledger.get('key_prefix', 'WEB')}{payment['reference']}"[:40]
        template = ledger.get("parm", "{date};{account};{amount};{currency};{reference}")
        amount = Decimal(str(payment["amount"])).quantize(Decimal("0.01"))
        lines = [(ledger.get("bank_account", "1910"), amount), (ledger.get("receivable_account", "1510"), -amount)]
        head = {"KEY1": key, "INTN": ledger.get("interface", "WEBPAY"), "DESC": f"Web payment {payment['reference']}"[:40],
                "DIVI": ledger.get("division", "")}
        note = ""
        try:
            self.mi("GLS840MI", "AddBatchHead", head)
        except ConnectorError as exc:
            if "already exists" not in exc.message:
                raise
            note = f"batch {key} was started by an earlier attempt; "
        try:
            for number, (account, value) in enumerate(lines, start=1):  # by line number: re-adding is harmless
                parm = template.format(date=payment.get("date", ""), account=account, amount=value,
                                       currency=payment.get("currency", ""), reference=payment["reference"])
                self.mi("GLS840MI", "AddBatchLine", {"KEY1": key, "LINE": number, "PARM": parm, "DIVI": head["DIVI"]})
            self.mi("GLS840MI", "UpdBatch", {"KEY1": key, "DIVI": head["DIVI"]})
        except ConnectorError as exc:
            if "already updated" not in exc.message:
                raise
            return DeliveryResult(key, note=note + "it was already posted")
        return DeliveryResult(key, note=note + f"posted {amount} {payment.get('currency', '')} to the ledger")

    def find_order_by_reference(self, cuno: str, cuor: str) -> str | None:
        records = self.mi("OIS100MI", "LstHead", {"CUNO": cuno}, maxrecs=0, returncols=["ORNO", "CUOR"])
        return next((r["ORNO"] for r in records if r.get("CUOR") == cuor), None)

    def create_sales_order(self, mapped: dict) -> DeliveryResult:
        customer, head, lines = mapped.get("customer") or {}, mapped.get("order") or {}, mapped.get("lines") or []
        if not lines:
            raise ConnectorError("the order has no lines; M3 cannot confirm an order without lines", permanent=True)
        cuno, created = self.ensure_customer(customer)
        customer_note = f"customer {cuno} {'created' if created else 'found by e-mail'}"
        cuor = head.get("CUOR", "")
        if cuor and not created:
            # An earlier attempt may have confirmed this order and died before recording it.
            existing = self.find_order_by_reference(cuno, cuor)
            if existing:
                return DeliveryResult(existing, note=f"{customer_note}; order {existing} already in M3 (CUOR {cuor})")
        defaults = {k: v for k, v in (self.connection.settings or {}).get("order_defaults", {}).items()}
        batch = self.mi("OIS100MI", "AddBatchHead", {**defaults, **head, "CUNO": cuno})[0]["ORNO"]
        for line in lines:
            line_fields = {k: v for k, v in line.items() if v not in (None, "")}
            if defaults.get("WHLO") and "WHLO" not in line_fields:
                line_fields["WHLO"] = defaults["WHLO"]
            self.mi("OIS100MI", "AddBatchLine", {**line_fields, "ORNO": batch})
        orno = self.mi("OIS100MI", "Confirm", {"ORNO": batch})[0]["ORNO"]
        return DeliveryResult(orno, note=f"{customer_note}; batch {batch} confirmed as order {orno}")

    # --- polling: stock balances ----------------------------------------------------------------
    def poll(self, entity: str, cursor: str | None, limit: int = 100) -> Page:
        """Allocatable stock (MMS060MI/LstBalID ALOC) of every item: summed over the connection's
        ``stock_warehouses`` (settings ``stock_mode`` "sum", the default) or one record per item and
        warehouse ("per_warehouse"). Balances carry no change date, so each poll reads them all;
        the engine keeps only the records whose quantity changed."""
        if entity == "customer":
            # CRS610MI has no list by change date: read them all, the engine keeps the changed ones.
            return Page(self.mi("CRS610MI", "LstByNumber", maxrecs=0), cursor=None, more=False)
        if entity == "sales_order":
            # Without ION, order status is polled: the order heads, kept when their status moved.
            # Orders older than the first open number (settings "poll_from_order") are not read again.
            records = self.mi("OIS100MI", "LstHead", {"FORN": (self.connection.settings or {}).get("poll_from_order", "")},
                              maxrecs=0, returncols=["ORNO", "CUNO", "CUOR", "ORST", "ORDT"])
            return Page([{**r, "status": r["ORST"]} for r in records], cursor=None, more=False)
        if entity != "stock":
            raise NotImplementedError(f"M3 polling covers stock, customers and order status, not {entity}")
        settings = self.connection.settings or {}
        per_warehouse = settings.get("stock_mode", "sum") == "per_warehouse"
        totals: dict[str, dict] = {}
        for whlo in settings.get("stock_warehouses", ["100"]):
            for balance in self.mi("MMS060MI", "LstBalID", {"WHLO": whlo}, maxrecs=0, returncols=["WHLO", "ITNO", "ALOC"]):
                key = f"{balance['ITNO']}@{whlo}" if per_warehouse else balance["ITNO"]
                record = totals.setdefault(key, {"ITNO": balance["ITNO"], "WHLO": whlo if per_warehouse else "", "quantity": 0})
                record["quantity"] += max(0, int(float(balance["ALOC"])))
        return Page(list(totals.values()), cursor=None, more=False)

    def record_id(self, entity: str, record: dict) -> str:
        if entity == "stock":
            return f"{record['ITNO']}@{record['WHLO']}" if record.get("WHLO") else record["ITNO"]
        return record.get("ORNO") or record.get("CUNO") or record["ITNO"]

    def record_version(self, entity: str, record: dict) -> str:
        if entity == "customer":  # LMDT is a day: two changes on one day must still differ
            return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
        return str(record.get("quantity", record.get("status", "")))

    def test_connection(self) -> str:
        ionapi = self._ionapi()
        tokens.drop(self._token_key(ionapi))
        self._token(ionapi)
        self.mi("CRS610MI", "LstByNumber", maxrecs=1)
        return f"ION API issued a token for tenant {ionapi['ti']} and M3 answered CRS610MI/LstByNumber."
