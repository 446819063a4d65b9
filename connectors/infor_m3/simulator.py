"""Sandbox simulator of the Infor ION API Gateway (OAuth 2 token endpoint) and M3 MI REST (v2 execute).

Faithful to the facts in API-NOTES.md: tokens from ``{pu}{ot}`` with the ``.ionapi`` credentials,
``GET {iu}/{ti}/M3/m3api-rest/v2/execute/{PROGRAM}/{TRANSACTION};maxrecs=..;returncols=..`` with the
input fields in the query string, every output value a string (alphanumeric ones space-padded to the
field length), business errors answered HTTP 200 with ``errorMessage``, and order entry as a batch.
"""

import bisect
import json
import re
import secrets
import threading
import time
from collections import namedtuple
from datetime import date, datetime, timezone
from itertools import islice

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from connectors.infor_m3 import bod
from connectors.simkit import SimulatorApp, demo_person, demo_product, json_response, read_json

COMPANY = 100
WAREHOUSES = ("100", "200", "300")
DEFAULT_MAXRECS = 100  # as the real MI REST service when ;maxrecs is not given

# Lengths of the fields used here; alphanumeric output values are space-padded to them.
FIELD_LENGTHS = {
    "CONO": 3, "CUNO": 10, "CUNM": 36, "CUA1": 36, "CUA2": 36, "CUA3": 36, "CUA4": 36, "TOWN": 40,
    "PONO": 10, "CSCD": 3, "MAIL": 60, "PHNO": 16, "STAT": 2, "CUTM": 10, "SQRY": 256, "MXRC": 5,
    "ITNO": 15, "ITDS": 30, "FUDS": 60, "ITTY": 3, "UNMS": 3, "ITGR": 5, "ITCL": 5,
    "WHLO": 3, "FACI": 3, "ORNO": 10, "FORN": 10, "TORN": 10, "CUOR": 20, "ORTP": 3, "CUCD": 3,
    "MODL": 3, "ORSL": 2, "ORST": 2, "PONR": 5, "ORQT": 15, "SAPR": 17, "STQT": 15, "ALQT": 15,
    "ALOC": 15, "BRLA": 17, "GRWE": 11, "ORDT": 8, "LMDT": 8, "RLDT": 8, "DWDT": 8, "FLMD": 8, "TLMD": 8,
}
DECIMAL_FIELDS = {"ORQT", "SAPR", "STQT", "ALQT", "ALOC", "BRLA", "GRWE"}  # output as "3.000000"
DATE_FIELDS = {"ORDT", "LMDT", "RLDT", "DWDT", "FLMD", "TLMD"}  # YYYYMMDD numbers
FIELD_LENGTHS.update(KEY1=40, INTN=10, DESC=40, DIVI=3, PARM=512, LINE=5)  # GLS840MI
INTEGER_FIELDS = DATE_FIELDS | {"CONO", "PONR", "MXRC", "LINE"}  # output unpadded
NUMERIC_FIELDS = INTEGER_FIELDS | DECIMAL_FIELDS

CUSTOMER_FIELDS = "CUNO CUNM CUA1 CUA2 CUA3 CUA4 TOWN PONO CSCD MAIL PHNO STAT LMDT"
ITEM_FIELDS = "ITNO ITDS FUDS STAT ITTY UNMS ITGR ITCL GRWE LMDT"


def demo_ionapi(base_url, tenant="DEMO_TST"):
    """The .ionapi credentials file of the sandbox, as the hub stores it."""
    return {
        "ti": tenant,
        "cn": "hub-demo",
        "ci": f"{tenant}~hub-client",
        "cs": "demo-client-secret",
        "iu": base_url,
        "pu": base_url + "/as/",
        "oa": "authorization.oauth2",
        "ot": "token.oauth2",
        "or": "revoke_token.oauth2",
        "saak": f"{tenant}#hub-service",
        "sask": "demo-service-secret",
    }


def today():
    return int(datetime.now(timezone.utc).strftime("%Y%m%d"))


def format_value(field, value):
    if field in DECIMAL_FIELDS:
        return f"{value:.6f}"
    if field in INTEGER_FIELDS:
        return str(value)
    return str(value).ljust(FIELD_LENGTHS.get(field, 0))


class MIError(Exception):
    """A failed transaction: answered HTTP 200 with the error in the result."""

    def __init__(self, message, field="", code="", kind="ServerReturnedNOK"):
        super().__init__(message)
        self.field, self.code, self.kind = field, code, kind

    def result(self, transaction):
        result = {"transaction": transaction, "errorMessage": str(self), "errorType": self.kind}
        if self.code:
            result["errorCode"] = self.code
        if self.field:
            result["errorField"] = self.field
        result["records"] = []
        return result


def does_not_exist(label, field, value):
    return MIError(f"{label} {value} does not exist", field, f"W{field}03")


Transaction = namedtuple("Transaction", "method inputs outputs")
TRANSACTIONS = {}  # program -> transaction name -> Transaction


def transaction(program, name, inputs, outputs):
    """Registers a handler; inputs lists field names, '*' marking the mandatory ones."""
    fields = {"CONO": False, **{field.rstrip("*"): field.endswith("*") for field in inputs.split()}}

    def register(method):
        TRANSACTIONS.setdefault(program, {})[name] = Transaction(method, fields, outputs.split())
        return method

    return register


def read_inputs(spec, args):
    """The transaction's input fields from the query string: trimmed, checked, numbers parsed."""
    fields = {}
    for name, mandatory in spec.inputs.items():
        value = args.get(name, "").rstrip()
        if len(value) > FIELD_LENGTHS[name]:
            raise MIError(f"Input field {name} is too long, max {FIELD_LENGTHS[name]} characters",
                          name, kind="InputFieldTooLong")
        if mandatory and not value:
            raise MIError(f"Mandatory input field {name} not found", name, kind="MandatoryInputFieldNotFound")
        fields[name] = parse_number(name, value) if name in NUMERIC_FIELDS else value
    if fields["CONO"] not in (None, COMPANY):
        raise does_not_exist("Company", "CONO", fields["CONO"])
    return fields


def parse_number(name, value):
    """None when empty; an int or float; a YYYYMMDD date is checked to be a real date."""
    if not value:
        return None
    try:
        number = float(value) if name in DECIMAL_FIELDS else int(value)
        if name in DATE_FIELDS:
            datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise MIError(f"{name} {value} is invalid", name, f"W{name}02") from None
    return number


def parse_call(call):
    """'GetItmBasic;maxrecs=10;returncols=ITNO,ITDS' -> (transaction, maxrecs, returncols or None)."""
    name, *params = call.split(";")
    matrix = dict(param.split("=", 1) for param in params if "=" in param)
    maxrecs = int(matrix.get("maxrecs", DEFAULT_MAXRECS))  # ValueError -> bare 400
    if maxrecs < 0:
        raise ValueError("maxrecs must be 0 (all) or more")
    returncols = matrix.get("returncols")
    return name, maxrecs, [col.strip() for col in returncols.split(",") if col.strip()] if returncols else None


def mi_answer(result, ok):
    return json_response({
        "results": [result],
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": int(ok),
        "nrOfFailedTransactions": int(not ok),
    })


class M3Simulator(SimulatorApp):
    def __init__(self, tenant="DEMO_TST", seed=True, token_ttl=7200, fault_seed=None):
        super().__init__(fault_seed)
        self.tenant = tenant
        self.credentials = demo_ionapi("", tenant)
        self.token_ttl = token_ttl
        self.tokens = {}  # access token -> expiry (time.monotonic)
        self.customers = {}  # CUNO -> customer record
        self.items = {}  # ITNO -> item record (SAPR: the base sales price, not an MMS200MI output)
        self.balances = {whlo: {} for whlo in WAREHOUSES}  # WHLO -> ITNO -> balance record
        self.batch_orders = {}  # temporary ORNO -> head fields + "lines" + "final" (ORNO once confirmed)
        self.orders = {}  # final ORNO -> head fields + "lines"
        self.gl_batches = {}  # KEY1 -> {"INTN", "DESC", "DIVI", "lines": {LINE: PARM}, "updated": bool}
        self._cunos_by_mail = {}  # lower-case MAIL -> [CUNO]
        self._sorted_cunos = []
        self._customer_seq = 0
        self._batch_seq = 0
        self._order_seq = 0
        self._bod_seq = 0
        self.ion_target = None  # (IMS url, bearer token): where ION delivers the BODs M3 publishes
        if seed:
            self._seed()

    def rules(self):
        return [
            Rule("/as/token.oauth2", endpoint="token", methods=["POST"]),
            Rule("/as/revoke_token.oauth2", endpoint="revoke", methods=["POST"]),
            Rule("/<tenant>/M3/m3api-rest/v2/execute/<program>/<call>", endpoint="execute", methods=["GET"]),
            Rule("/_sim/ion", endpoint="sim_ion", methods=["POST"]),
            Rule("/_sim/orders/<orno>/status", endpoint="sim_order_status", methods=["POST"]),
            Rule("/_sim/stock", endpoint="sim_stock", methods=["POST"]),
            Rule("/_sim/customers/<cuno>", endpoint="sim_edit_customer", methods=["POST"]),
        ]

    def before_route(self, request):
        if self.faults.take_expire_tokens():
            with self.lock:
                self.tokens.clear()
        return None

    # Back office, as M3 users and ION would act (simulator plumbing, no faults)

    def on_sim_ion(self, request):
        body = read_json(request)
        if not isinstance(body, dict) or not body.get("url"):
            return json_response({"error": "give url (the hub's IMS endpoint) and token"}, 400)
        self.ion_target = (body["url"], body.get("token", ""))
        return json_response({"url": body["url"], "token_set": bool(body.get("token"))})

    def on_sim_order_status(self, request, orno):
        """Move an order on (e.g. 33 allocated, 66 delivered with carrier and tracking): M3 publishes
        SyncSalesOrder, and SyncShipment when it ships, through ION."""
        body = read_json(request)
        status = str(body.get("status", "")) if isinstance(body, dict) else ""
        if not re.fullmatch(r"\d\d", status):
            return json_response({"error": "status must be two digits, e.g. 66"}, 400)
        with self.lock:
            order = self.orders.get(orno)
            if order is None:
                return json_response({"error": f"order {orno} does not exist"}, 404)
            order["ORST"] = order["ORSL"] = status
            for line in order["lines"]:
                line["ORST"] = status
            messages = [("SalesOrder", {"status": status, "cuor": order.get("CUOR") or ""})]
            if body.get("tracking"):
                messages.append(("Shipment", {"status": status, "shipment": f"D{orno}",
                                              "carrier": body.get("carrier", ""), "tracking": body["tracking"]}))
            target = self.ion_target
            published = [self._bod(noun, orno, fields) for noun, fields in messages]
        if target:
            threading.Thread(target=self._publish, args=(target, published), daemon=True).start()
        return json_response({"ORNO": orno, "ORST": status, "published": [p[0] for p in published]})

    def on_sim_edit_customer(self, request, cuno):
        """A user changes a customer in CRS610 (address, name, e-mail)."""
        changes = read_json(request)
        allowed = set(CUSTOMER_FIELDS.split()) - {"CUNO", "STAT", "LMDT"}
        if not isinstance(changes, dict) or not set(changes) <= allowed:
            return json_response({"error": f"changeable fields: {', '.join(sorted(allowed))}"}, 400)
        with self.lock:
            customer = self.customers.get(cuno)
            if customer is None:
                return json_response({"error": f"customer {cuno} does not exist"}, 404)
            self._change_customer(customer, {k: str(v) for k, v in changes.items()})
            return json_response(customer)

    def on_sim_stock(self, request):
        """A warehouse movement: set an item's on-hand quantity in one warehouse."""
        body = read_json(request)
        try:
            whlo, itno, quantity = body["WHLO"], body["ITNO"], float(body["STQT"])
        except (TypeError, KeyError, ValueError):
            return json_response({"error": "give WHLO, ITNO and STQT (number)"}, 400)
        with self.lock:
            if whlo not in self.balances or itno not in self.items:
                return json_response({"error": "unknown warehouse or item"}, 404)
            allocated = self.balances[whlo].get(itno, {}).get("ALQT", 0.0)
            self._set_balance(whlo, itno, quantity, min(allocated, quantity))
            return json_response(self.balances[whlo][itno])

    def _bod(self, noun, orno, fields):
        self._bod_seq += 1
        message_id = f"m3-{self.tenant}-{self._bod_seq}"
        xml = bod.build(noun, bod_id=message_id, logical_id=f"lid://infor.m3.{self.tenant.lower()}", orno=orno, **fields)
        return f"Sync.{noun}", message_id, xml

    @staticmethod
    def _publish(target, messages):
        url, token = target
        for document_name, message_id, xml in messages:
            parameters = {"documentName": document_name, "messageId": message_id, "fromLogicalId": "lid://infor.m3.m3",
                          "toLogicalId": "lid://default", "encoding": "NONE", "characterSet": "UTF-8"}
            files = {"ParameterRequest": (None, json.dumps(parameters), "application/json"),
                     "MessagePayload": ("payload.xml", xml, "application/xml")}
            for attempt in range(5):  # ION retries a delivery that failed
                try:
                    response = requests.post(url, files=files, headers={"Authorization": f"Bearer {token}"}, timeout=5)
                    if response.status_code < 500:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.2 * 2 ** attempt)

    # Seeding

    def _seed(self):
        first_change = date(2024, 1, 1).toordinal()
        for n in range(1, 1001):
            product = demo_product(n)
            itno = product["sku"]
            self.items[itno] = {
                "ITNO": itno, "ITDS": product["name"], "FUDS": product["name"], "STAT": "20", "ITTY": "101",
                "UNMS": "PCS", "ITGR": f"G{n % 7:02d}", "ITCL": "", "GRWE": product["weight"],
                "LMDT": int(date.fromordinal(first_change + n * 7 % 600).strftime("%Y%m%d")),
                "SAPR": product["price"],
            }
            for index, whlo in enumerate(WAREHOUSES):
                on_hand = float((n * 13 + index * 71) % 300)
                self._set_balance(whlo, itno, on_hand, float(min(on_hand, n * 7 % 20)))
        for n in range(1, 301):
            # Customers 1-50 are the store's profiles 1-50 (same email); the others are not in the store.
            person = demo_person(n if n <= 50 else 1000 + n)
            self._add_customer(self._next_customer_number(), {
                "CUNM": f"{person['firstname']} {person['lastname']}", "CUA1": person["street"],
                "CUA2": "", "CUA3": "", "CUA4": "", "TOWN": person["city"], "PONO": person["zipcode"],
                "CSCD": person["country_code"], "MAIL": person["email"], "PHNO": person["phone"],
            }, changed=20240301)

    def _set_balance(self, whlo, itno, on_hand, allocated):
        self.balances[whlo][itno] = {
            "WHLO": whlo, "ITNO": itno, "STQT": on_hand, "ALQT": allocated, "ALOC": on_hand - allocated,
        }

    def _next_customer_number(self):
        self._customer_seq += 1
        return f"C{100000 + self._customer_seq:09d}"

    def _add_customer(self, cuno, fields, changed):
        record = {name: fields.get(name, "") for name in CUSTOMER_FIELDS.split()}
        record.update(CUNO=cuno, STAT="20", LMDT=changed)
        self.customers[cuno] = record
        self._cunos_by_mail.setdefault(record["MAIL"].lower(), []).append(cuno)
        bisect.insort(self._sorted_cunos, cuno)

    # ION API Gateway

    def on_token(self, request):
        form = request.form
        client = (form.get("client_id"), form.get("client_secret"))
        if request.authorization and request.authorization.type == "basic":
            client = (request.authorization.username, request.authorization.password)
        grant = form.get("grant_type")
        if client != (self.credentials["ci"], self.credentials["cs"]):
            return self._oauth_error(401, "invalid_client", "Client authentication failed")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.credentials["saak"], self.credentials["sask"]):
                return self._oauth_error(400, "invalid_grant", "The service account key or secret is wrong")
        elif grant != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type", f"Grant type {grant!r} is not supported")
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self.lock:
            if len(self.tokens) > 1000:
                self.tokens = {key: expiry for key, expiry in self.tokens.items() if expiry > now}
            self.tokens[token] = now + self.token_ttl
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        return json_response(body, headers={"Cache-Control": "no-store"})

    def on_revoke(self, request):
        with self.lock:
            self.tokens.pop(request.form.get("token", ""), None)
        return Response(status=200)

    @staticmethod
    def _oauth_error(status, error, description):
        return json_response({"error": error, "error_description": description}, status)

    def _token_valid(self, request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self.lock:
            expiry = self.tokens.get(token.strip())
        return expiry is not None and expiry > time.monotonic()

    # M3 MI REST

    def on_execute(self, request, tenant, program, call):
        if not self._token_valid(request):
            body = {"error": "invalid_token", "error_description": "The access token is invalid or has expired"}
            return json_response(body, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if tenant != self.tenant:
            return self.error_response(404, f"Tenant {tenant} not found")
        try:
            name, maxrecs, returncols = parse_call(call)
        except ValueError:
            program = None
        if program not in TRANSACTIONS:  # unknown program or bad matrix parameter: no MI body
            return Response("Bad Request", 400, content_type="text/plain")
        spec = TRANSACTIONS[program].get(name)
        if spec is None:
            error = MIError(f"Transaction {name} does not exist in {program}", kind="TransactionNotFound")
            return mi_answer(error.result(name), ok=False)
        columns = [col for col in returncols if col in spec.outputs] if returncols else spec.outputs
        try:
            fields = read_inputs(spec, request.args)
            with self.lock:
                records = islice(spec.method(self, fields), maxrecs or None)
                rows = [{col: format_value(col, record.get(col, "")) for col in columns} for record in records]
        except MIError as error:
            return mi_answer(error.result(name), ok=False)
        return mi_answer({"transaction": name, "records": rows}, ok=True)

    # Transactions: each returns an iterable of records (dicts holding at least the output fields).
    # They run under self.lock.

    @transaction("CRS610MI", "Add", "CUTM* CUNM* CUA1* CUNO MAIL CSCD PONO TOWN PHNO CUA2 CUA3 CUA4", "CUNO")
    def crs610_add(self, f):
        cuno = f["CUNO"]
        if not cuno:
            cuno = self._next_customer_number()
            while cuno in self.customers:
                cuno = self._next_customer_number()
        if cuno in self.customers:
            raise MIError(f"Customer number {cuno} already exists", "CUNO", "WCUNO04")
        self._add_customer(cuno, f, changed=today())
        return [{"CUNO": cuno}]

    @transaction("CRS610MI", "ChgBasicData", "CUNO* CUNM CUA1 CUA2 CUA3 CUA4 TOWN PONO CSCD MAIL PHNO", "")
    def crs610_chg_basic_data(self, f):
        customer = self._customer(f["CUNO"])
        self._change_customer(customer, {k: v for k, v in f.items() if k not in ("CUNO", "CONO") and v not in (None, "")})
        return []

    def _change_customer(self, customer, changes):
        """Blank inputs leave a field as it is, as M3's Chg transactions do."""
        if "MAIL" in changes and changes["MAIL"].lower() != customer["MAIL"].lower():
            self._cunos_by_mail.get(customer["MAIL"].lower(), []).remove(customer["CUNO"])
            self._cunos_by_mail.setdefault(changes["MAIL"].lower(), []).append(customer["CUNO"])
        customer.update(changes)
        customer["LMDT"] = today()

    @transaction("CRS610MI", "GetBasicData", "CUNO*", CUSTOMER_FIELDS)
    def crs610_get_basic_data(self, f):
        return [self._customer(f["CUNO"])]

    @transaction("CRS610MI", "SearchCustomer", "SQRY* MXRC", "CUNO CUNM MAIL")
    def crs610_search_customer(self, f):
        """A small part of the M3 search engine's syntax: FIELD:value, '*' ending a prefix."""
        match = re.fullmatch(r'\s*([A-Z0-9]{4})\s*:\s*"?(.*?)"?\s*', f["SQRY"])
        if not match or match.group(1) not in CUSTOMER_FIELDS.split():
            raise MIError(f"Search query {f['SQRY']} is invalid", "SQRY", "WSQRY02")
        field, value = match.group(1), re.sub(r"\\(.)", r"\1", match.group(2)).lower()
        prefix = field == "CUNM" or value.endswith("*")
        value = value.rstrip("*")
        if field == "MAIL" and not prefix:
            cunos = self._cunos_by_mail.get(value, [])
        else:
            cunos = (cuno for cuno in self._sorted_cunos
                     if (str(self.customers[cuno][field]).lower().startswith(value) if prefix
                         else str(self.customers[cuno][field]).lower() == value))
        return islice((self.customers[cuno] for cuno in cunos), f["MXRC"] or None)

    @transaction("CRS610MI", "LstByNumber", "CUNO", "CUNO CUNM CUA1 TOWN PONO CSCD MAIL PHNO STAT LMDT")
    def crs610_lst_by_number(self, f):
        start = bisect.bisect_left(self._sorted_cunos, f["CUNO"])
        return (self.customers[cuno] for cuno in self._sorted_cunos[start:])

    @transaction("MMS200MI", "GetItmBasic", "ITNO*", ITEM_FIELDS)
    def mms200_get_itm_basic(self, f):
        return [self._item(f["ITNO"])]

    @transaction("MMS200MI", "AddItmBasic", "ITNO* ITDS* ITTY FUDS UNMS ITGR", "ITNO")
    def mms200_add_itm_basic(self, f):
        if f["ITNO"] in self.items:
            raise MIError(f"Item number {f['ITNO']} already exists", "ITNO", "WITNO04")
        self.items[f["ITNO"]] = {
            "ITNO": f["ITNO"], "ITDS": f["ITDS"], "FUDS": f["FUDS"] or f["ITDS"], "STAT": "20",
            "ITTY": f["ITTY"] or "101", "UNMS": f["UNMS"] or "PCS", "ITGR": f["ITGR"], "ITCL": "",
            "GRWE": 0.0, "LMDT": today(), "SAPR": 0.0,
        }
        return [{"ITNO": f["ITNO"]}]

    @transaction("MMS200MI", "LstItmByChgDate", "FLMD TLMD", ITEM_FIELDS)
    def mms200_lst_itm_by_chg_date(self, f):
        low, high = f["FLMD"] or 0, f["TLMD"] or 99999999
        changed = [item for item in self.items.values() if low <= item["LMDT"] <= high]
        return sorted(changed, key=lambda item: (item["LMDT"], item["ITNO"]))

    # GLS840MI: the generic GL interface. Lines carry the interface's own record layout in PARM; the
    # sandbox keeps them as given and checks only what GLS840 itself would (head, line numbers, state).

    @transaction("GLS840MI", "AddBatchHead", "KEY1* INTN* DESC* DIVI", "")
    def gls840_add_batch_head(self, f):
        if f["KEY1"] in self.gl_batches:
            raise MIError(f"Record already exists - KEY1 {f['KEY1']}", "KEY1", "WKEY103")
        self.gl_batches[f["KEY1"]] = {"INTN": f["INTN"], "DESC": f["DESC"], "DIVI": f["DIVI"], "lines": {}, "updated": False}
        return []

    @transaction("GLS840MI", "AddBatchLine", "KEY1* LINE* PARM* DIVI", "")
    def gls840_add_batch_line(self, f):
        batch = self._gl_batch(f["KEY1"])
        if batch["updated"]:
            raise MIError(f"Batch {f['KEY1']} is already updated", "KEY1", "WKEY105")
        batch["lines"][int(f["LINE"])] = f["PARM"]
        return []

    @transaction("GLS840MI", "UpdBatch", "KEY1* DIVI", "")
    def gls840_upd_batch(self, f):
        batch = self._gl_batch(f["KEY1"])
        if batch["updated"]:
            raise MIError(f"Batch {f['KEY1']} is already updated", "KEY1", "WKEY105")
        if not batch["lines"]:
            raise MIError(f"Batch {f['KEY1']} has no lines", "KEY1", "WKEY106")
        batch["updated"] = True
        return []

    def _gl_batch(self, key):
        if key not in self.gl_batches:
            raise MIError(f"Record does not exist - KEY1 {key}", "KEY1", "WKEY104")
        return self.gl_batches[key]

    @transaction("MMS060MI", "LstBalID", "WHLO* ITNO", "WHLO ITNO STQT ALQT ALOC")
    def mms060_lst_bal_id(self, f):
        balances = self._warehouse(f["WHLO"])
        if not f["ITNO"]:
            return balances.values()
        self._item(f["ITNO"])
        return [balances[f["ITNO"]]] if f["ITNO"] in balances else []

    @transaction("OIS100MI", "AddBatchHead", "CUNO* ORTP FACI WHLO CUOR CUCD RLDT MODL", "ORNO")
    def ois100_add_batch_head(self, f):
        self._customer(f["CUNO"])
        whlo = f["WHLO"] or WAREHOUSES[0]
        self._warehouse(whlo)
        self._batch_seq += 1
        orno = f"B{self._batch_seq:09d}"
        self.batch_orders[orno] = {
            "ORNO": orno, "CUNO": f["CUNO"], "ORTP": f["ORTP"] or "A01", "FACI": f["FACI"] or "100",
            "WHLO": whlo, "CUOR": f["CUOR"], "CUCD": f["CUCD"] or "USD", "RLDT": f["RLDT"] or today(),
            "MODL": f["MODL"] or "COU", "lines": [], "final": None,
        }
        return [{"ORNO": orno}]

    @transaction("OIS100MI", "AddBatchLine", "ORNO* ITNO* ORQT* WHLO SAPR DWDT", "PONR")
    def ois100_add_batch_line(self, f):
        batch = self._open_batch(f["ORNO"])
        item = self._item(f["ITNO"])
        if f["ORQT"] <= 0:
            raise MIError(f"Quantity {f['ORQT']} must be greater than zero", "ORQT", "WORQT02")
        whlo = f["WHLO"] or batch["WHLO"]
        self._warehouse(whlo)
        line = {
            "PONR": len(batch["lines"]) + 1, "ITNO": item["ITNO"], "ORQT": f["ORQT"],
            "SAPR": item["SAPR"] if f["SAPR"] is None else f["SAPR"], "WHLO": whlo,
            "DWDT": f["DWDT"] or batch["RLDT"],
        }
        batch["lines"].append(line)
        return [line]

    @transaction("OIS100MI", "Confirm", "ORNO*", "ORNO ORST ORSL STAT")
    def ois100_confirm(self, f):
        batch = self._open_batch(f["ORNO"])
        if not batch["lines"]:
            raise MIError(f"No lines on batch order {f['ORNO']}", "ORNO", "WORNO05")
        self._order_seq += 1
        orno = str(1000000000 + self._order_seq)
        total = sum(line["ORQT"] * line["SAPR"] for line in batch["lines"])
        order = {**batch, "ORNO": orno, "ORDT": today(), "ORSL": "22", "ORST": "22", "BRLA": round(total, 2)}
        order["lines"] = [{**line, "ORNO": orno, "ORST": "22"} for line in batch["lines"]]
        del order["final"]
        self.orders[orno] = order
        batch["final"] = orno
        return [{"ORNO": orno, "ORST": "22", "ORSL": "22", "STAT": "90"}]

    @transaction("OIS100MI", "GetHead", "ORNO*", "ORNO CUNO CUOR ORTP ORDT ORSL ORST WHLO FACI CUCD MODL RLDT BRLA")
    def ois100_get_head(self, f):
        return [self._order(f["ORNO"])]

    @transaction("OIS100MI", "LstHead", "CUNO FORN TORN", "ORNO CUNO CUOR ORST ORDT")
    def ois100_lst_head(self, f):
        low, high = f["FORN"], f["TORN"] or "9999999999"
        return (order for orno, order in self.orders.items()
                if low <= orno <= high and (not f["CUNO"] or order["CUNO"] == f["CUNO"]))

    @transaction("OIS100MI", "LstLine", "ORNO*", "ORNO PONR ITNO ORQT SAPR ORST WHLO DWDT")
    def ois100_lst_line(self, f):
        return self._order(f["ORNO"])["lines"]

    # Lookups that fail the transaction the way M3 does

    def _customer(self, cuno):
        if cuno not in self.customers:
            raise does_not_exist("Customer number", "CUNO", cuno)
        return self.customers[cuno]

    def _item(self, itno):
        if itno not in self.items:
            raise does_not_exist("Item number", "ITNO", itno)
        return self.items[itno]

    def _warehouse(self, whlo):
        if whlo not in self.balances:
            raise does_not_exist("Warehouse", "WHLO", whlo)
        return self.balances[whlo]

    def _order(self, orno):
        if orno not in self.orders:
            raise does_not_exist("Order number", "ORNO", orno)
        return self.orders[orno]

    def _open_batch(self, orno):
        batch = self.batch_orders.get(orno)
        if batch is None:
            raise does_not_exist("Batch order", "ORNO", orno)
        if batch["final"]:
            raise MIError(f"Batch order {orno} is already confirmed as order {batch['final']}", "ORNO", "WORNO06")
        return batch
