"""How long ``diazflow validate`` takes: in a cold process (what a pre-commit hook or CI pays) and in
process (what an editor integration or a test pays).

    python bench/bench_validate.py [PROTOCOL] [--deck FILE] [--runs 7]

Default protocol: workflows/n4_reductive_amination_stab.yaml (96 wells, a CSV library, every stage
of checks including the schedule).  Prints, for N fresh ``diazflow validate`` processes, the median,
min and max wall time and the peak resident memory of a validate process (from the kernel's
accounting of each child: ``os.wait4``, else ``getrusage(RUSAGE_CHILDREN)``), next to the cost of an
empty Python start; then the in-process time of the language stage alone and of the whole
``pipeline.check``.  One untimed run first fills the pint cache, as every later run would find it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = os.path.join(REPO, "workflows", "n4_reductive_amination_stab.yaml")
FALLBACK = os.path.join(REPO, "tests", "data", "protocols", "reductive_amination.yaml")


def diazflow_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "diazflow")
    if os.path.exists(script):
        return [script]
    found = shutil.which("diazflow")
    return [found] if found else [sys.executable, "-m", "diazflow.cli"]


def _run_child(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss
    else:  # pragma: no cover - non-POSIX
        proc.wait()
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall = time.perf_counter() - start
    rss_mib = (
        rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024
    )  # bytes on macOS, KiB on Linux
    return wall, rss_mib, proc.returncode


def _summary(label: str, samples: list[tuple[float, float, int]]) -> None:
    walls = [s[0] for s in samples]
    rss = max(s[1] for s in samples)
    print(
        f"{label:<34} median {statistics.median(walls) * 1000:7.0f} ms   min {min(walls) * 1000:7.0f} ms   "
        f"max {max(walls) * 1000:7.0f} ms   peak RSS {rss:6.1f} MiB"
    )


def cold(protocol: str, deck: str | None, runs: int) -> None:
    argv = [*diazflow_command(), "validate", protocol] + (["--deck", deck] if deck else [])
    first = _run_child(argv)  # fills the pint cache, as a real machine would have it
    print(
        f"{'exit code of validate':<34} {first[2]} ({'valid' if first[2] == 0 else 'INVALID: see diazflow validate'})"
    )
    _summary("python -c pass", [_run_child([sys.executable, "-c", "pass"]) for _ in range(runs)])
    _summary(
        "python -c 'import diazflow.cli'",
        [_run_child([sys.executable, "-c", "import diazflow.cli"]) for _ in range(runs)],
    )
    _summary(f"diazflow validate (cold, {runs} runs)", [_run_child(argv) for _ in range(runs)])


def in_process(protocol: str, deck: str | None, runs: int) -> None:
    from diazflow.language.loader import load_protocol
    from diazflow.pipeline import check

    check(protocol, deck_override=deck)  # imports and caches
    for label, call in (
        ("language stage (load_protocol)", lambda: load_protocol(protocol)),
        ("pipeline.check (all stages)", lambda: check(protocol, deck_override=deck)),
    ):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        print(
            f"{label:<34} median {statistics.median(times) * 1000:7.1f} ms   min {min(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "protocol", nargs="?", default=DEFAULT if os.path.exists(DEFAULT) else FALLBACK
    )
    parser.add_argument("--deck", default=None, help="deck layout (default: the protocol's own)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    deck = args.deck
    if deck is None and os.path.abspath(args.protocol) == FALLBACK:
        deck = os.path.join(REPO, "deck_layouts", "starlet_chem.yaml")
    print(
        f"protocol  {os.path.relpath(args.protocol, REPO)}"
        + (f"  (deck {os.path.relpath(deck, REPO)})" if deck else "")
    )
    print(f"python    {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPU(s)\n")
    cold(args.protocol, deck, args.runs)
    print()
    in_process(args.protocol, deck, args.runs)


if __name__ == "__main__":
    main()
