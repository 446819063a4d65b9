"""Node-RED doing the same job with no durability: http in -> function (the same fields) -> http request
to the same Domino simulator -> http response. Installed from the npm registry by ``make bench`` into
bench/node_modules (pinned in bench/package.json; git-ignored, like its user folder bench/.node-red).
"""

import json
import shutil
from pathlib import Path

import requests

from bench.common import ROOT, Proc, wait_for_port

RED = ROOT / "bench" / "node_modules" / "node-red" / "red.js"
USER_DIR = ROOT / "bench" / ".node-red"

# The hub's mapping "PrestaShop order -> Domino Order Record" (hub/demo.py), written as Node-RED users do.
MAPPING = """
const o = msg.payload.data;
const c = o.customer || {};
const states = STATES;
msg.payload = {
  Form: "Order Record",
  OrderNumber: o.reference,
  ShopOrderId: o.id,
  CustomerName: [c.firstname, c.lastname].filter(Boolean).join(" "),
  Email: (c.email || "").toLowerCase(),
  OrderLines: ((o.associations || {}).order_rows || []).map(
    r => `${r.product_reference} x ${r.product_quantity} @ ${r.unit_price_tax_incl}`),
  Total: Number(o.total_paid).toFixed(2),
  Status: states[o.current_state] || "New",
  OrderDate: o.date_add,
};
msg.headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"};
return msg;
"""

SETTINGS = """module.exports = {
    uiHost: "127.0.0.1",
    flowFile: "flows.json",
    credentialSecret: false,
    httpAdminRoot: false,
    logging: {console: {level: "warn", metrics: false, audit: false}},
};
"""


def available() -> bool:
    return RED.exists() and shutil.which("node") is not None


def domino_token(simulator_url: str) -> str:
    from connectors.domino.simulator import DEMO_PASSWORD, DEMO_USER

    answer = requests.post(f"{simulator_url}/domino/api/v1/auth", json={"username": DEMO_USER, "password": DEMO_PASSWORD},
                           timeout=10)
    answer.raise_for_status()
    return answer.json()["bearer"]


def flows(simulator_url: str, token: str) -> list[dict]:
    from hub.demo import PRESTASHOP_STATE_TO_DOMINO

    code = MAPPING.replace("STATES", json.dumps(PRESTASHOP_STATE_TO_DOMINO)).replace("TOKEN", json.dumps(token))
    return [
        {"id": "bench", "type": "tab", "label": "store orders to Domino"},
        {"id": "in", "type": "http in", "z": "bench", "url": "/orders", "method": "post", "upload": False,
         "wires": [["map"]]},
        {"id": "map", "type": "function", "z": "bench", "func": code, "outputs": 1, "wires": [["post"]]},
        {"id": "post", "type": "http request", "z": "bench", "method": "POST", "ret": "obj", "paytoqs": "ignore",
         "url": f"{simulator_url}/domino/api/v1/document?dataSource=orders", "wires": [["out"]]},
        {"id": "out", "type": "http response", "z": "bench", "statusCode": "", "headers": {}, "wires": []},
    ]


def start(port: int, simulator_url: str, log: Path | None = None) -> Proc:
    USER_DIR.mkdir(parents=True, exist_ok=True)
    (USER_DIR / "settings.js").write_text(SETTINGS)
    (USER_DIR / "flows.json").write_text(json.dumps(flows(simulator_url, domino_token(simulator_url)), indent=1))
    proc = Proc(["node", str(RED), "--userDir", str(USER_DIR), "--port", str(port)], log=log)
    wait_for_port(port, timeout=60)
    return proc


def version() -> str:
    package = ROOT / "bench" / "node_modules" / "node-red" / "package.json"
    return json.loads(package.read_text())["version"] if package.exists() else "?"
