"""Where a process's time goes: py-spy samples it (no change to the code under test), we sum the stacks.

Each sample is given to the part of its innermost frame that names one (a sample in psycopg's socket
wait is "database driver", one in Django's SQL compiler "ORM"), so the shares add up to 100%.
"""

import re
import subprocess
from collections import Counter
from pathlib import Path

from bench.common import PY

PYSPY = str(Path(PY).with_name("py-spy"))

# (label, pattern on one frame "function (file:line)"), matched from the innermost frame outwards.
PARTS = [
    ("database driver and server (psycopg / sqlite3: round trips, commit)", r"\((psycopg|sqlite3)/|\(django/db/backends/"),
    ("Redis (signal a drain job: redis-py, RQ)", r"\((rq|redis|django_rq)/"),
    ("Django ORM (building SQL, model save)", r"\(django/db/"),
    ("signature check (HMAC)", r"\(connectors/signatures\.py|\(hmac\.py"),
    ("secret decryption (Fernet)", r"\((cryptography|fernet_fields)/"),
    ("JSON parsing", r"\(json/"),
    ("connector parse_push", r"parse_push"),
    ("the webhook view (own code)", r"\(connectors/webhooks\.py|\(hub/wsgi\.py"),
    ("the group committer (building the INSERT, waking requests)", r"\(connectors/ingest\.py"),
    ("DRF (request, response, renderers)", r"\(rest_framework/"),
    ("middleware (sessions, auth, CSRF, messages, history)",
     r"\((django/contrib/(sessions|auth|messages)|django/middleware|simple_history)/"),
    ("Django request handling (handlers, URL resolving, response)", r"\(django/"),
    ("gunicorn (accept, parse HTTP, write, close)", r"\(gunicorn/"),
    ("Granian (the Python side of its calls)", r"\(granian/"),
    ("hub pipeline", r"\(hub/"),
    ("mapping engine", r"\(mappings/"),
    ("outbound HTTP (requests, urllib3)", r"\((requests|urllib3|http/client)"),
]
# A sample whose innermost frame is one of these (and no database / Redis frame) is a process waiting.
IDLE = r"^(select|poll|wait|sleep|accept|_recv|recv|readinto|read) \(|\((selectors|threading|socket|ssl)\.py"


def start(pid: int, out: Path, seconds: float = 5) -> subprocess.Popen:
    """Sample ``pid`` for ``seconds`` in the background (100 samples/s, native frames off), only the thread
    holding the GIL: in a threaded server that is where Python's CPU time goes, not its waiting threads."""
    return subprocess.Popen([PYSPY, "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "-f", "raw",
                             "-o", str(out), "--nonblocking", "--gil"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def summary(sampler: subprocess.Popen, out: Path) -> dict:
    sampler.wait(timeout=60)
    if not out.exists():
        return {}
    stacks = []
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    total = sum(count for _, count in stacks) or 1
    parts = Counter()
    functions = Counter()
    idle = 0
    for frames, count in stacks:
        if re.search(IDLE, frames[-1]) and not any("(django/db/" in frame or "(redis/" in frame for frame in frames):
            idle += count
            continue
        parts[_part(frames)] += count
        for name in {re.sub(r":\d+\)$", ")", frame) for frame in frames}:
            if "(hub/" in name or "(connectors/" in name or "(monitoring/" in name or "(mappings/" in name:
                functions[name] += count
    parts["idle (waiting for a request or a job)"] = idle
    return {"samples": total, "parts": {k: v / total for k, v in parts.most_common()},
            "functions": {k: v / total for k, v in functions.most_common(10)}}


def _part(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, pattern in PARTS:
            if re.search(pattern, frame):
                return label
    return "other (Python itself, the standard library)"


def report(result: dict) -> list[str]:
    lines = ["| part | share |", "|---|---|"]
    lines += [f"| {label} | {share:.0%} |" for label, share in result["parts"].items() if share >= 0.01]
    if result.get("functions"):
        lines += ["", "The hub's own functions, inclusive (their callees counted in): " + "; ".join(
            f"`{name}` {share:.0%}" for name, share in list(result["functions"].items())[:8]) + "."]
    lines.append(f"({result['samples']:,} samples.)")
    return lines
