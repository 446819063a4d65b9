"""``make bench``: measure the hub and what its speed depends on, and write bench/RESULTS.md.

Sections (``BENCH_ONLY=ingest,e2e`` runs some of them; the full run alone rewrites RESULTS.md, a
partial one prints its figures and writes them to the run's folder):

- mapping     the mapping engine, one core (bench/mapping.py)
- simulators  requests/s the sandbox serves, threaded Werkzeug and Granian (bench/simulators.py)
- ingest      signed webhooks at full rate against manage.py serve (Granian) and gunicorn: accepted/s, p50/p99, RSS, profile (bench/ingest.py)
- e2e         records/s delivered and webhook -> delivered latency at half load, Node-RED side by side (bench/e2e.py)
- workers     records/s per worker process, 1 -> 2 -> 4 workers, worker RSS (bench/workers.py)
- growth      ingest and workers with 10k and 100k events already stored; admin lists with 1M records (bench/growth.py)
- suggest     mapping suggestions (bench/suggest/run_suggest.py, when present)

``BENCH_QUICK=1`` shrinks every run (for checking the harness, not for figures).

Runs on its own database and Redis (DATABASE_URL / REDIS_URL, else SQLite and an embedded Redis in a
temporary folder), its own ports, never the demo's data.
"""

import os
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Backends, cpu_speed, load_average, machine, setup_django  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTIONS = ["mapping", "simulators", "ingest", "e2e", "workers", "growth", "suggest"]


def selected() -> list[str]:
    only = [name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    return only or SECTIONS


QUICK = bool(os.environ.get("BENCH_QUICK"))


def run_section(name: str, backends: Backends, work: Path) -> list[str]:
    if name == "mapping":
        from bench import mapping

        return mapping.report(mapping.bench_mapping(10_000 if QUICK else 100_000))
    if name == "simulators":
        from bench import simulators

        return simulators.report(simulators.bench_simulators(seconds=2 if QUICK else 5))
    if name == "ingest":
        from bench import ingest

        return ingest.report(ingest.bench_ingest_configs(backends, work, seconds=3 if QUICK else 10))
    if name == "e2e":
        from bench import e2e

        return e2e.report(e2e.bench_e2e(backends, work, seconds=3 if QUICK else 10))
    if name == "workers":
        from bench import workers

        return workers.report(workers.bench_workers(backends, work, backlog=1000 if QUICK else 6000))
    if name == "growth":
        from bench import growth

        return growth.report(growth.bench_growth(backends, work, quick=QUICK))
    if name == "suggest":
        return run_suggest()
    raise ValueError(name)


def run_suggest() -> list[str]:
    """The mapping suggestions' benchmark, owned by bench/suggest/ (its ``markdown()`` is the section)."""
    if not (ROOT / "bench" / "suggest" / "run_suggest.py").exists():
        return []
    from bench.suggest.run_suggest import markdown

    return [markdown().rstrip(), ""]


def main():
    sections = selected()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as data_dir:
        work = Path(data_dir)
        backends = Backends(work)
        try:
            setup_django(backends)
            load_before, speed_before = load_average(), cpu_speed()
            body, verdicts = [], []
            for name in sections:
                section_started = time.monotonic()
                print(f"== bench {name}", flush=True)
                try:
                    lines = run_section(name, backends, work)
                except Exception:  # one broken section must not lose the others' figures
                    traceback.print_exc()
                    lines = [f"## {name}", "", "This section failed; see the output of `make bench`:", "",
                             "```", traceback.format_exc(limit=3).strip(), "```", ""]
                body += lines
                verdicts += [f"- {name}: {line[len('Targets: '):]}" for line in lines if line.startswith("Targets: ")]
                print("\n".join(lines), flush=True)
                print(f"   ({time.monotonic() - section_started:.0f} s)", flush=True)
        finally:
            backends.stop()
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        full = sections == SECTIONS and not QUICK
        command = "make bench" if sections == SECTIONS else f"BENCH_ONLY={','.join(sections)} make bench"
        command = f"BENCH_QUICK=1 {command}" if QUICK else command
        head = [
            "# Benchmark results", "",
            f"Written by `{command}` (`.venv/bin/python bench/run.py`) on {now} in {time.monotonic() - started:.0f} s.",
            f"Machine: {machine()}. Load average before / after: {load_before} / {load_average()} "
            "(2 cores: any other load on the machine lowers every figure).",
            f"Single-core speed before / after: {speed_before:,} / {cpu_speed():,} runs/s of a fixed piece of Python "
            "(`bench/common.py` cpu_speed; on this shared machine the same code ran 1.7x faster at one hour than at another: compare "
            "runs at similar speeds).",
            f"Backends: {backends.describe()}.", "",
        ]
        if verdicts:
            head += ["## Against the targets (issue 5)", "", *verdicts, ""]
        text = "\n".join(head + body)
        if full:
            RESULTS.write_text(text)
            print(f"wrote {RESULTS}")
        else:
            out = Path(os.environ.get("BENCH_OUT", tempfile.gettempdir())) / "hub-bench-results.md"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
            print(f"partial or quick run: {RESULTS.name} left as it was; figures in {out}")


if __name__ == "__main__":
    main()
