"""Rate budget per connection, shared by every worker: a token bucket in Redis applied in the shared
HTTP path. Counted where it matters, at the system being called."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from connectors.base import Connector
from connectors.http import HttpClient
from connectors.models import Connection
from connectors.ratelimit import Budget
from connectors.simkit import SimulatorApp, json_response
from connectors.simulators import SimulatorServer
from werkzeug.routing import Rule

ROOT = Path(__file__).resolve().parents[1]
RATE, BURST = 20, 3


class CountingSystem(SimulatorApp):
    """Answers every GET /ping and notes when each request arrived (its own clock)."""

    def __init__(self):
        super().__init__()
        self.arrivals = []

    def rules(self):
        return [Rule("/ping", endpoint="ping", methods=["GET"])]

    def on_ping(self, request):
        with self.lock:
            self.arrivals.append(time.monotonic())
        return json_response({"ok": True})


def busiest_second(arrivals: list[float]) -> int:
    """The most requests that arrived within any one-second window."""
    arrivals = sorted(arrivals)
    most, start = 0, 0
    for end, moment in enumerate(arrivals):
        while moment - arrivals[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


# A second worker process: the same budget (same Redis key), its own HTTP client.
OTHER_PROCESS = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()
from connectors.http import HttpClient
from connectors.ratelimit import Budget
url, key, rate, burst, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
client = HttpClient("other worker", lambda r: r.text, budget=Budget(key, rate, burst))
for _ in range(count):
    client.request("GET", url)
print("done")
"""


def test_two_processes_and_three_threads_share_one_budget(settings):
    system = CountingSystem()
    key = f"test-{os.getpid()}-{time.monotonic_ns()}"
    with SimulatorServer(port=0, counter=system) as server:
        url = f"{server.url}/counter/ping"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        other = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, url, key, str(RATE), str(BURST), "20"],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def worker():
            client = HttpClient("this worker", lambda r: r.text, budget=Budget(key, RATE, BURST))
            for _ in range(14):
                client.request("GET", url)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out, err = other.communicate(timeout=60)
        assert other.returncode == 0, err
    assert len(system.arrivals) == 3 * 14 + 20
    assert busiest_second(system.arrivals) <= RATE + BURST


def test_without_a_budget_nothing_waits():
    system = CountingSystem()
    with SimulatorServer(port=0, counter=system) as server:
        client = HttpClient("unlimited", lambda r: r.text)
        for _ in range(30):
            client.request("GET", f"{server.url}/counter/ping")
    assert busiest_second(system.arrivals) == 30  # the budget is what spread them out above
    assert "rate_wait_ms" not in client.exchanges[-1]


def test_the_reservations_of_a_budget_follow_its_rate_and_burst():
    budget = Budget(f"reserve-{time.monotonic_ns()}", rate=10, burst=2)
    waits = [budget.reserve() for _ in range(6)]
    assert waits[0] == waits[1] == 0  # the burst goes at once
    for before, after in zip(waits[1:], waits[2:]):
        assert after - before == pytest.approx(0.1, abs=0.02)  # then one call per 1/rate seconds


@pytest.mark.django_db
def test_a_connections_budget_is_applied_to_its_connectors_calls():
    limited = Connection.objects.create(name="Shop", slug="shop", kind="xcart", auth_kind="api_key",
                                        base_url="http://127.0.0.1:9", rate_limit=4, rate_burst=2)
    unlimited = Connection.objects.create(name="Other", slug="other", kind="xcart", auth_kind="api_key",
                                          base_url="http://127.0.0.1:9")
    budget = limited.connector().http.budget
    assert (budget.key, budget.rate, budget.burst) == (f"hub:rate:connection:{limited.pk}", 4.0, 2)
    assert unlimited.connector().http.budget is None
    assert Connector(unlimited).http.budget is None
