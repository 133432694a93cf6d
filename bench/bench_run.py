#!/usr/bin/env python
"""Benchmark: wall time of ``diazflow run`` (validate + compile + simulate) as a whole process.

Default protocol: workflows/n4_direct_alkylation.yaml — a 96-well plate with a dropwise addition
on the STARlet deck.  Reports the median of N runs and where the time goes:

* ``interpreter``: Python start-up (``python -c pass``);
* ``imports``: what ``diazflow run`` imports before it starts working (the rest of the process
  time not accounted for below: click, diazflow, pydantic, later PyLabRobot/rich);
* ``check``: load + validate + resolve chemistry + compile (the same as ``diazflow validate``);
* ``build_plr``: PyLabRobot deck and machines (includes importing PyLabRobot);
* ``execute``: running every operation on the simulated devices, journal writes included;
* ``verify``: comparing the deck with the plan.

A simulated run writes its journal with ``synchronous=NORMAL`` (the default for ``--backend
simulate``: in WAL mode it survives a killed process, and a simulation has nothing outside the
journal to lose); chatterbox and hardware runs use ``FULL``.  Both are measured
(``DIAZFLOW_JOURNAL_SYNC``) to show how much of ``execute`` is fsync.  The fsync latency of the
journal's directory is measured too: it varies a lot between machines and with disk load.

    python bench/bench_run.py [-n 5] [--protocol FILE] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PROTOCOL = REPO / "workflows" / "n4_direct_alkylation.yaml"


def wall(
    cmd: list[str], env: dict | None = None, cwd: Path | None = None
) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd
    )
    return time.perf_counter() - t, out


def commit_latency_ms(directory: Path, n: int = 200) -> float:
    """Median time of one small SQLite commit (WAL, synchronous=FULL) in ``directory``."""
    path = directory / "_fsync_probe.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    times = []
    for i in range(n):
        t = time.perf_counter()
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * 200))
        times.append(time.perf_counter() - t)
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(str(path) + suffix)
        except FileNotFoundError:
            pass
    return statistics.median(times) * 1000


def journal_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as c:
        events = c.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        actions = c.execute("SELECT COUNT(*) FROM device_log").fetchone()[0]
        ops = len(json.loads(c.execute("SELECT plan_json FROM run").fetchone()[0])["operations"])
    return {"operations": ops, "events": events, "device_actions": actions}


def run_series(protocol: Path, n: int, directory: Path, sync: str) -> dict:
    walls, timings = [], []
    counts = {}
    for i in range(n):
        journal = directory / f"bench-{sync}-{i}.sqlite"
        t, out = wall(
            [
                sys.executable,
                "-m",
                "diazflow.cli",
                "run",
                str(protocol),
                "--journal",
                str(journal),
                "--quiet",
            ],
            env={"DIAZFLOW_TIMINGS": "1", "DIAZFLOW_JOURNAL_SYNC": sync},
            cwd=directory,
        )
        if out.returncode != 0:
            raise SystemExit(
                f"diazflow run failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}"
            )
        line = next(x for x in out.stderr.splitlines() if x.startswith("DIAZFLOW_TIMINGS "))
        timings.append(json.loads(line.split(" ", 1)[1]))
        walls.append(t)
        counts = journal_counts(journal)
    med = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
    return {
        "sync": sync,
        "wall_s": walls,
        "median_wall_s": statistics.median(walls),
        "median_timings_s": med,
        "journal": counts,
    }


PHASES = [
    ("import pipeline (pint, pydantic, ...)", "import_pipeline_s"),
    ("check (validate + compile)", "check_s"),
    ("journal create", "journal_create_s"),
    ("import PyLabRobot + runtime", "import_plr_s"),
    ("PLR deck build", "build_plr_s"),
    ("execute (operations + journal)", "execute_s"),
    ("verify", "verify_s"),
    ("journal close (WAL checkpoint)", "journal_close_s"),
]


def breakdown_rows(series: list[dict]) -> list[tuple[str, list[float]]]:
    rows: list[tuple[str, list[float]]] = []
    start, other, exit_ = [], [], []
    for s in series:
        t = s["median_timings_s"]
        start.append(t.get("process_s", 0.0) - t.get("total_in_process_s", 0.0))
        other.append(t.get("total_in_process_s", 0.0) - sum(t.get(k, 0.0) for _, k in PHASES))
        exit_.append(s["median_wall_s"] - t.get("process_s", 0.0))
    rows.append(("python start + import diazflow.cli", start))
    for label, key in PHASES:
        rows.append((label, [s["median_timings_s"].get(key, 0.0) for s in series]))
    rows.append(("other in-process (setup, events)", other))
    rows.append(("process spawn + exit", exit_))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=5, help="runs per series (median reported)")
    parser.add_argument("--protocol", type=Path, default=DEFAULT_PROTOCOL)
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where the journals go (default: a temporary directory)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    args = parser.parse_args()

    directory = args.dir or Path(tempfile.mkdtemp(prefix="diazflow-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    interpreter = statistics.median(wall([sys.executable, "-c", "pass"])[0] for _ in range(5))
    import_cli = statistics.median(
        wall([sys.executable, "-c", "import diazflow.cli"])[0] for _ in range(5)
    )
    latency = commit_latency_ms(directory)
    series = [run_series(args.protocol, args.n, directory, sync) for sync in ("FULL", "NORMAL")]

    result = {
        "protocol": str(args.protocol),
        "journal_dir": str(directory),
        "runs": args.n,
        "python": sys.version.split()[0],
        "interpreter_start_s": interpreter,
        "import_diazflow_cli_s": import_cli,
        "commit_latency_ms": latency,
        "series": series,
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return

    print(f"protocol      {args.protocol}")
    print(
        f"journals in   {directory} (one SQLite commit: {latency:.2f} ms median, WAL + synchronous=FULL)"
    )
    counts = series[0]["journal"]
    print(
        f"plan          {counts['operations']} operations → {counts['events']} journal events, {counts['device_actions']} device records"
    )
    print(
        f"python start  {interpreter * 1000:.0f} ms; 'import diazflow.cli' {import_cli * 1000:.0f} ms (process total)"
    )
    print()
    header = f"{'journal sync':<13}{'median wall':>12}{'runs (s)':>34}"
    print(header)
    for s in series:
        runs = " ".join(f"{w:.2f}" for w in s["wall_s"])
        print(f"{s['sync']:<13}{s['median_wall_s']:>11.3f}s   {runs}")
    print()
    print("where the time goes (medians, seconds):")
    print(f"  {'':<36}" + "".join(f"{s['sync']:>10}" for s in series))
    for label, value in breakdown_rows(series):
        print(f"  {label:<36}" + "".join(f"{v:>10.3f}" for v in value))
    target = series[1]["median_wall_s"]
    print()
    print(
        f"target < 1 s: {'met' if target < 1.0 else 'NOT met'} as `diazflow run` does it (simulate: synchronous=NORMAL, {target:.2f} s); with FULL {series[0]['median_wall_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
