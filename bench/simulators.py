"""The sandbox's own speed: requests/s the simulators serve with each server, measured with wrk.

They must stay well above what the hub (or Node-RED) sends them, or a benchmark of the hub measures
the simulator.
"""

import json
import subprocess
import tempfile

from bench import nodered
from bench.common import free_port, start_simulators
from bench.wrk import WRK, parse_wrk

CASES = [
    ("X-Cart GET /api/products/1", "/xcart/api/products/1", ["-H", "X-Auth-Token: demo-xcart-key"]),
    ("PrestaShop GET /api/products/1 (JSON)",
     "/prestashop/api/products/1?output_format=JSON&ws_key=DEMOKEY0PRESTASHOP0SANDBOX000001", []),
]


def _document_post(url: str) -> list[str]:
    """wrk arguments that POST a Domino 'Order Record', as Node-RED's flow does (REST API, bearer token)."""
    document = {"Form": "Order Record", "OrderNumber": "SIM-BENCH", "CustomerName": "Ada Lovelace",
                "OrderLines": ["SKU-0001 x 3 @ 196.890000"], "Total": "727.25", "Status": "New"}
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(document))}\n'
                 f'wrk.headers["Content-Type"] = "application/json"\n'
                 f'wrk.headers["Authorization"] = "Bearer {nodered.domino_token(url)}"\n')
    script.close()
    return ["-s", script.name]


def bench_simulators(seconds: int = 5, servers=("werkzeug", "granian")) -> list[dict]:
    results = []
    for server in servers:
        port = free_port()
        proc = start_simulators(port, server)
        url = f"http://127.0.0.1:{port}"
        cases = CASES + [("Domino POST /api/v1/document (create)", "/domino/api/v1/document?dataSource=orders",
                          _document_post(url))]
        try:
            for name, path, extra in cases:
                out = subprocess.run([WRK, "-t2", "-c16", f"-d{seconds}s", "--latency", *extra, f"{url}{path}"],
                                     capture_output=True, text=True).stdout
                results.append({"server": server, "endpoint": name, **parse_wrk(out)})
        finally:
            proc.stop()
    return results


def report(results: list[dict]) -> list[str]:
    return [
        "## Simulators (`python -m connectors.simulators --server werkzeug|granian`, one process)", "",
        "wrk, 2 threads, 16 connections, keep-alive. `werkzeug` is the threaded server of the tests and the "
        "demo; `granian` (Rust HTTP, the Python handlers in one process's threads, so the in-memory state "
        "stays whole) is what the end-to-end benchmark delivers into.", "",
        "| server | endpoint | requests/s | p50 | p99 |", "|---|---|---|---|---|",
        *[f"| {r['server']} | {r['endpoint']} | {r['per_second']:,.0f} | {r['p50']} | {r['p99']} |" for r in results], "",
    ]

