"""wrk runs: plain GETs, and pre-signed webhooks replayed by bench/wrk/presigned.lua.

Signing in Lua would need an HMAC-SHA256 written in Lua; signing beforehand in Python costs a few
microseconds a request and keeps wrk's own CPU use (it shares the 2 cores with the hub) at its lowest.
Each request has its own webhook-id, and every timestamp is taken when the set is made, so a set is
good for the 5 minutes of Standard Webhooks' tolerance.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from connectors.signatures import sign

WRK = shutil.which("wrk") or "wrk"
LUA = Path(__file__).resolve().parent / "wrk" / "presigned.lua"


def presign(path: Path, secret: str, payloads, prefix: str) -> int:
    """Write one signed request per payload (id, timestamp, signature, body) for presigned.lua."""
    count = 0
    with open(path, "w") as out:
        for n, payload in enumerate(payloads):
            body = json.dumps(payload, separators=(",", ":"))
            headers = sign(secret, f"{prefix}-{n}", body.encode())
            out.write(f"{headers['webhook-id']}\t{headers['webhook-timestamp']}\t{headers['webhook-signature']}\t{body}\n")
            count += 1
    return count


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(out: str) -> dict:
    """requests/s and latency percentiles of wrk's --latency output (or presigned.lua's BENCH line)."""
    found = re.search(r"BENCH (.*)", out)
    if found:
        fields = dict(item.split("=") for item in found.group(1).split())
        seconds = float(fields["seconds"])
        requests = int(fields["requests"])
        return {"requests": requests, "seconds": seconds, "per_second": requests / seconds,
                "p50_ms": int(fields["p50_us"]) / 1000, "p90_ms": int(fields["p90_us"]) / 1000,
                "p99_ms": int(fields["p99_us"]) / 1000, "max_ms": int(fields["max_us"]) / 1000,
                "non2xx": int(fields["non2xx"]), "errors": int(fields["errors"]),
                "p50": f"{int(fields['p50_us']) / 1000:.2f} ms", "p99": f"{int(fields['p99_us']) / 1000:.2f} ms"}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50, p99 = re.search(r"50%\s+([\d.]+\w+)", out), re.search(r"99%\s+([\d.]+\w+)", out)
    return {"per_second": float(rate.group(1)) if rate else 0.0,
            "p50": p50.group(1) if p50 else "?", "p99": p99.group(1) if p99 else "?",
            "p50_ms": _ms(p50.group(1)) if p50 else None, "p99_ms": _ms(p99.group(1)) if p99 else None}


def replay(url: str, requests_file: Path, seconds: float, connections: int = 16, threads: int = 2,
           rate: float | None = None) -> dict:
    """Send the pre-signed set to url for ``seconds`` (at ``rate`` requests/s when given, else full rate)."""
    env = {**os.environ}
    env.pop("BENCH_RATE", None)
    if rate:
        env["BENCH_RATE"] = str(rate)
    args = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(LUA), url, "--", str(requests_file), str(threads), str(connections)]
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if "BENCH" not in out.stdout:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    return parse_wrk(out.stdout)


def pace(url: str, requests_file: Path, rate: float, connections: int = 16) -> float:
    """The rate to ask ``replay`` for so that wrk sends ``rate`` requests/s: presigned.lua's delay() comes
    after each answer, so a connection sends once per (wait + latency), short of the rate asked by the
    latency's share (a quarter at 20 ms of wait and 6 ms of latency). Measured on a 3 s run of
    ``requests_file``; at most twice the rate asked."""
    probe = replay(url, requests_file, 3, connections=connections, rate=rate)
    return rate * min(2.0, rate / max(probe["per_second"], 1.0))

