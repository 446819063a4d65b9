"""What every benchmark shares: the database and Redis it runs on, the processes it starts, the machine.

The benchmarks run the hub as production does (``manage.py serve``: Granian serving ``hub.wsgi``; RQ worker processes; the
simulators in their own process) on their own database and Redis: PostgreSQL and Redis when
DATABASE_URL / REDIS_URL are set (``make bench`` sets them to the machine's when they answer), else
a SQLite file and the embedded Redis in a temporary folder.
"""

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
# Throwaway keys: the bench's rows are made and read by the bench only.
KEYS = {"SECRET_KEY": "bench-only-secret-key", "FERNET_KEYS": "bench-only-fernet-key"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port} after {timeout}s")


def ensure_postgres_database(url: str) -> None:
    """CREATE DATABASE for a postgres:// URL when it does not exist yet (the bench's own, e.g. ``bench``)."""
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres", query="").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


class Backends:
    """The database and Redis of a bench run, and the environment its child processes get."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir}/bench.sqlite3"
        self.redis_url = os.environ.get("REDIS_URL", "")
        self.embedded_redis = not self.redis_url
        if self.database_url.startswith("postgres"):
            ensure_postgres_database(self.database_url)
        if self.embedded_redis:
            from hub import embedded_redis

            embedded_redis.start(data_dir)
            self.redis_url = embedded_redis.socket_url(data_dir)

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith("postgres")

    def describe(self) -> str:
        database = (f"PostgreSQL ({urlparse(self.database_url).path.lstrip('/')} database)" if self.postgres
                    else "SQLite (WAL)")
        redis = "embedded Redis (unix socket)" if self.embedded_redis else f"Redis {urlparse(self.redis_url).path or '/0'}"
        return f"{database}, {redis}"

    def env(self, **extra) -> dict:
        """The environment of a child process: the hub's settings on the bench's backends."""
        env = {**os.environ, **KEYS, "DJANGO_SETTINGS_MODULE": "hub.settings", "DATABASE_URL": self.database_url,
               "REDIS_URL": self.redis_url, "HUB_DATA_DIR": str(self.data_dir), "DEBUG": "false",
               "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def stop(self) -> None:
        if self.embedded_redis:
            from hub import embedded_redis

            embedded_redis.stop(self.data_dir)


def setup_django(backends: Backends) -> None:
    """Configure Django in this process on the bench's backends, and migrate."""
    os.environ.update(backends.env())
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def reset_data() -> None:
    """Empty every table (and the queues) between benchmarks, so each starts from the same state."""
    import django_rq
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    django_rq.get_connection("default").flushdb()


def vacuum_analyze() -> None:
    """What autovacuum would have done by now to the tables a benchmark filled (hub.jobs.analyze_tables:
    this machine's PostgreSQL runs without autovacuum, so its planner would otherwise take the tables
    for as small as the flush that starts each benchmark left them). Called between phases."""
    from hub import jobs

    jobs.analyze_tables(force=True)


class Proc:
    """A child process in its own process group, stopped with its children (gunicorn's, granian's workers)."""

    def __init__(self, args, env=None, log: Path | None = None, cwd=ROOT):
        self.args = args
        self._log = open(log, "ab") if log else None
        self.popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=self._log or subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group, as a machine that loses power would."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)
        self._close_log()

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB (VmRSS), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def start_simulators(port: int, server: str = "granian", log: Path | None = None) -> Proc:
    proc = Proc([PY, "-m", "connectors.simulators", "--port", str(port), "--server", server], log=log)
    wait_for_port(port)
    return proc


def start_web(backends: Backends, port: int, server: str = "granian", workers: int = 1, threads: int = 8,
              log: Path | None = None) -> Proc:
    """The hub's web tier on ``port``: ``manage.py serve`` (Granian, as production: ``workers`` processes x
    ``threads`` threads), or gunicorn (sync workers, one request at a time each, unless ``threads`` > 1)."""
    if server == "granian":
        args = [PY, "manage.py", "serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    else:
        args = [PY, "-m", "gunicorn", "hub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                "--worker-class", "gthread" if threads > 1 else "sync", "--threads", str(threads),
                "--backlog", "2048", "--log-level", "warning", "--keep-alive", "30"]
    proc = Proc(args, env=backends.env(), log=log)
    wait_for_port(port, timeout=30)
    return proc


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def cpu_speed() -> int:
    """Runs per second, on one core, of a fixed piece of Python (read and write a 2 kB order, build a
    dict of it): the shared machine's speed moves by half within a day, and every figure with it;
    the same code measured at two speeds is compared by this, not by its figures alone."""
    import json

    from bench import scenario

    text = json.dumps(scenario.order_payload(1))
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.5:
        for _ in range(50):
            order = json.loads(text)
            json.dumps({f"{key}:{n}": str(value) for n, (key, value) in enumerate(order["data"].items())})
        runs += 50
    return int(runs / (time.perf_counter() - started))


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def start_worker(backends: Backends, log: Path | None = None, scheduler: bool = False, burst: bool = False,
                 **settings) -> Proc:
    """One RQ worker process as production runs it (non-forking SimpleWorker, see hub.drain)."""
    args = [PY, "manage.py", "rqworker", "default", "--worker-class", "rq.worker.SimpleWorker"]
    args += ["--with-scheduler"] if scheduler else []
    args += ["--burst"] if burst else []
    return Proc(args, env=backends.env(RQ_LOG_LEVEL="WARNING", **settings), log=log)


def wait_until_idle(timeout: float = 300.0, expected: int | None = None) -> bool:
    """True once every stored event is settled (none received or waiting, no record pending or retrying)
    and, when given, at least ``expected`` events are stored."""
    from monitoring.models import InboundEvent, SyncRecord

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (expected is None or InboundEvent.objects.count() >= expected) and not InboundEvent.objects.filter(
                status__in=["received", "waiting"]).exists() and not SyncRecord.objects.filter(
                status__in=["pending", "retrying"]).exists():
            return True
        time.sleep(0.25)
    return False


class RssSampler:
    """The largest RSS seen of some processes (and their children), sampled in the background."""

    def __init__(self, pids_of):
        import threading

        self.pids_of, self.peak, self._stop = pids_of, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.25):
            for pid in self.pids_of():
                self.peak[pid] = max(self.peak.get(pid, 0.0), rss_mb(pid))

    def stop(self) -> float:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return max(self.peak.values(), default=0.0)
