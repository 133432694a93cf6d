#!/usr/bin/env python
"""Benchmark: whole-process ``diazflow run`` and ``validate``, against ``opentrons_simulate``.

    python bench/bench_run.py [-n 5] [--opentrons PATH] [--skip-chatterbox] [--json]

Every figure is the median of ``-n`` fresh processes (wall time, and peak RSS from the kernel's
accounting of the child, ``os.wait4``), the commands of one comparison run alternately so that the
load of a shared machine falls on both sides alike:

1. the 96-well dropwise plate (``workflows/n4_direct_alkylation.yaml``): ``diazflow run --backend
   simulate`` (validate + compile + simulated run + journal), ``diazflow validate``, and
   ``opentrons_simulate`` of the same liquid handling written as an Opentrons protocol
   (bench/ot_protocol.py), with the ratio diazflow / Opentrons of each pair; where the diazflow
   run's time goes (``DIAZFLOW_TIMINGS``).  Those rows are *cold*: the result cache is off
   (``DIAZFLOW_NO_CACHE=1``), every process checks and compiles from scratch.  Beside them, in
   the same alternation, ``validate`` and ``run`` with the cache on: a *miss* (an empty cache
   folder for every process: the first check of a protocol, which also stores its entry) and a
   *hit* (a cache folder filled by one untimed run: nothing changed since, docs/cache.md);
2. the STAR chatterbox run (PyLabRobot's firmware strings) of the largest shipped workflow;
3. simulated runs of one protocol on plates of 24, 96, 384 and 1536 wells (the STARlet layout with
   its reaction block swapped for a PyLabRobot plate of that format): wall time, peak memory and
   execution time per operation.

``--opentrons`` names the ``opentrons_simulate`` of an ``opentrons==9.0.0`` virtual environment
(default ``/tmp/otvenv/bin/opentrons_simulate``); without it part 1 has no ratio.  CI does not run
benchmarks.  Journals go to a temporary directory; a simulated run's journal is written at
``synchronous=OFF``, a chatterbox run's too (see docs/runtime.md, The journal).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLATE_96 = REPO / "workflows" / "n4_direct_alkylation.yaml"
LARGEST = REPO / "workflows" / "diazepane_mono_boc_route.yaml"
DEFAULT_OPENTRONS = Path("/tmp/otvenv/bin/opentrons_simulate")

# wells -> (PyLabRobot factory, format, last well, max volume)
PLATES = {
    24: ("Cor_Axy_24_wellplate_10mL_Vb", "4x6", "D6", "10 mL"),
    96: ("cor_96_wellplate_2mL_Vb", "8x12", "H12", "2 mL"),
    384: ("HalfDeepWell_384_Well", "16x24", "P24", "299 uL"),
    1536: ("DeepWell_Greiner_1536_Well", "32x48", "AF48", "35 uL"),
}
SCALING_PROTOCOL = """\
diazflow: 1
name: scaling benchmark, {wells} wells
deck: deck_{wells}.yaml
vessels: {{labware: reaction_block, wells: "A1:{last}"}}
scale: {{limiting: amine, amount: 2 umol, concentration: 0.1 M, solvent: MeCN}}
reagents:
  amine: {{name: "1-methyl-1,4-diazepane", smiles: CN1CCCNCC1, stock: {{concentration: 1 M, solvent: MeCN}}}}
  halide: {{name: benzyl bromide, smiles: BrCc1ccccc1, stock: {{concentration: 1 M, solvent: MeCN}}}}
steps:
  - add: {{reagent: amine, equiv: 1.0}}
  - add_solvent: {{solvent: MeCN, to_concentration: 0.1 M}}
  - add: {{reagent: halide, equiv: 1.0}}
  - stir: {{duration: 2 h}}
"""


def diazflow() -> list[str]:
    script = Path(sys.executable).parent / "diazflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "diazflow"]


def measure(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    """Wall and CPU (user + system) seconds, peak RSS (MiB) and stderr of one child process; fails
    on a non-zero exit."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stderr[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime  # a loaded machine inflates it far less than wall time
    return {"wall_s": wall, "cpu_s": cpu, "rss_mib": usage.ru_maxrss / 1024, "stderr": stderr}


def timings_of(stderr: str) -> dict[str, float]:
    line = next((x for x in stderr.splitlines() if x.startswith("DIAZFLOW_TIMINGS ")), None)
    return json.loads(line.split(" ", 1)[1]) if line else {}


def run_argv(protocol: Path, journal: Path, backend: str = "simulate") -> list[str]:
    return [*diazflow(), "run", str(protocol), "--backend", backend] + [
        "--journal",
        str(journal),
        "--quiet",
    ]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def plate_96(n: int, work: Path, opentrons: Path | None) -> dict:
    """Part 1: the 96-well plate, diazflow run / validate / opentrons_simulate alternately."""
    sys.path.insert(0, str(REPO / "bench"))
    from diazflow.pipeline import check
    from ot_protocol import opentrons_protocol

    plan = check(str(PLATE_96)).plan
    assert plan is not None, "the 96-well plate does not compile"
    ot_file = work / "plate_96_opentrons.py"
    ot_file.write_text(opentrons_protocol(plan), encoding="utf-8")
    ot_env = {"OT_API_CONFIG_DIR": str(work / "opentrons-config")}
    (work / "opentrons-config").mkdir(exist_ok=True)
    # one untimed round: the page cache, Opentrons' first-run configuration
    measure([*diazflow(), "validate", str(PLATE_96)])
    if opentrons:
        measure([str(opentrons), str(ot_file)], ot_env, cwd=work)
    cold = {"DIAZFLOW_NO_CACHE": "1"}
    warm = {"DIAZFLOW_NO_CACHE": "0", "DIAZFLOW_CACHE_DIR": str(work / "warm-cache")}
    validate_argv = [*diazflow(), "validate", str(PLATE_96)]
    measure(validate_argv, warm)  # fills the warm cache: the hits below find their entries
    measure(run_argv(PLATE_96, work / "plate96-warm.sqlite"), warm)
    runs, validates, ots, ratios, timings = [], [], [], [], []
    cache: dict[str, list[dict]] = {k: [] for k in ("validate_miss", "validate_hit")}
    cache.update({k: [] for k in ("run_miss", "run_hit")})
    warm_ratios = []
    for i in range(n):
        run = measure(
            run_argv(PLATE_96, work / f"plate96-{i}.sqlite"), {"DIAZFLOW_TIMINGS": "1", **cold}
        )
        runs.append(run)
        timings.append(timings_of(run["stderr"]))
        validates.append(measure(validate_argv, cold))
        miss = {"DIAZFLOW_NO_CACHE": "0", "DIAZFLOW_CACHE_DIR": str(work / f"miss-{i}")}
        cache["validate_miss"].append(measure(validate_argv, miss))
        cache["validate_hit"].append(measure(validate_argv, warm))
        run_miss = {**miss, "DIAZFLOW_CACHE_DIR": str(work / f"run-miss-{i}")}  # empty: a miss
        cache["run_miss"].append(measure(run_argv(PLATE_96, work / f"miss-{i}.sqlite"), run_miss))
        cache["run_hit"].append(measure(run_argv(PLATE_96, work / f"hit-{i}.sqlite"), warm))
        if opentrons:
            ot = measure([str(opentrons), str(ot_file)], ot_env, cwd=work)
            ots.append(ot)
            ratios.append(run["wall_s"] / ot["wall_s"])
            warm_ratios.append(cache["run_hit"][-1]["wall_s"] / ot["wall_s"])
    keys = sorted({k for t in timings for k in t})
    return {
        "operations": len(plan.operations),
        "run_s": median([r["wall_s"] for r in runs]),
        "run_cpu_s": median([r["cpu_s"] for r in runs]),
        "run_rss_mib": median([r["rss_mib"] for r in runs]),
        "validate_s": median([r["wall_s"] for r in validates]),
        "validate_cpu_s": median([r["cpu_s"] for r in validates]),
        "validate_rss_mib": median([r["rss_mib"] for r in validates]),
        "opentrons_s": median([r["wall_s"] for r in ots]) if ots else None,
        "opentrons_rss_mib": median([r["rss_mib"] for r in ots]) if ots else None,
        "ratio_per_pair": sorted(ratios),
        "ratio_median": median(ratios) if ratios else None,
        "cache": {
            name: {
                "wall_s": median([r["wall_s"] for r in rows]),
                "cpu_s": median([r["cpu_s"] for r in rows]),
                "rss_mib": median([r["rss_mib"] for r in rows]),
            }
            for name, rows in cache.items()
        },
        "hit_ratio_median": median(warm_ratios) if warm_ratios else None,
        "phases_s": {k: median([t.get(k, 0.0) for t in timings]) for k in keys},
    }


def chatterbox(n: int, work: Path) -> dict:
    """Part 2: the STAR chatterbox run of the largest workflow."""
    from diazflow.pipeline import check

    plan = check(str(LARGEST)).plan
    assert plan is not None
    walls, execute = [], []
    for i in range(n):
        run = measure(
            run_argv(LARGEST, work / f"chatter-{i}.sqlite", "chatterbox"),
            {"DIAZFLOW_TIMINGS": "1"},
        )
        walls.append(run["wall_s"])
        execute.append(timings_of(run["stderr"]).get("execute_s", float("nan")))
    return {
        "workflow": LARGEST.name,
        "operations": len(plan.operations),
        "run_s": median(walls),
        "execute_s": median(execute),
    }


def scaling_inputs(work: Path) -> dict[int, Path]:
    """A deck layout and a protocol per plate size, in ``work``."""
    layout = (REPO / "deck_layouts" / "starlet_chem.yaml").read_text(encoding="utf-8")
    layout = layout.replace("../simulators/", f"{REPO / 'simulators'}/")
    protocols = {}
    for wells, (factory, fmt, last, volume) in PLATES.items():
        text = layout
        for key, value in (("factory", factory), ("format", fmt), ("max_volume", volume)):
            text = re.sub(
                rf"(  reaction_block:\n(?:.*\n)*?    {key}: )[^\n]+",
                lambda m, value=value: m.group(1) + value,
                text,
                count=1,
            )
        (work / f"deck_{wells}.yaml").write_text(text, encoding="utf-8")
        protocol = work / f"plate_{wells}.yaml"
        protocol.write_text(SCALING_PROTOCOL.format(wells=wells, last=last), encoding="utf-8")
        protocols[wells] = protocol
    return protocols


def scaling(n: int, work: Path) -> list[dict]:
    """Part 3: 24/96/384/1536 wells, the sizes alternating within each round."""
    from diazflow.pipeline import check

    protocols = scaling_inputs(work)
    ops = {}
    for wells, protocol in protocols.items():
        plan = check(str(protocol)).plan
        assert plan is not None, f"{protocol} does not compile"
        ops[wells] = len(plan.operations)
    samples: dict[int, list[dict]] = {w: [] for w in protocols}
    for i in range(n):
        for wells, protocol in protocols.items():
            run = measure(
                run_argv(protocol, work / f"scale-{wells}-{i}.sqlite"), {"DIAZFLOW_TIMINGS": "1"}
            )
            run["timings"] = timings_of(run["stderr"])
            samples[wells].append(run)
    rows = []
    for wells, runs in samples.items():
        execute = median([r["timings"].get("execute_s", float("nan")) for r in runs])
        rows.append(
            {
                "wells": wells,
                "operations": ops[wells],
                "run_s": median([r["wall_s"] for r in runs]),
                "rss_mib": median([r["rss_mib"] for r in runs]),
                "build_plr_s": median([r["timings"].get("build_plr_s", 0.0) for r in runs]),
                "execute_s": execute,
                "execute_ms_per_op": 1000 * execute / ops[wells],
                "verify_s": median([r["timings"].get("verify_s", 0.0) for r in runs]),
            }
        )
    return rows


def report(result: dict) -> None:
    print(f"python {result['python']}, {os.cpu_count()} CPU(s), medians of {result['runs']} runs")
    p = result["plate_96"]
    print(f"\n1) 96-well dropwise plate ({p['operations']} operations), alternating")
    print(
        f"   diazflow run --backend simulate  {p['run_s']:6.2f} s   peak {p['run_rss_mib']:.0f} MiB   CPU {p['run_cpu_s']:.2f} s   (cold: no cache)"
    )
    print(
        f"   diazflow validate                {p['validate_s']:6.2f} s   peak {p['validate_rss_mib']:.0f} MiB   CPU {p['validate_cpu_s']:.2f} s   (cold: no cache)"
    )
    for name, label in (
        ("validate_miss", "validate, cache miss (stores)"),
        ("validate_hit", "validate, cache hit (warm)"),
        ("run_miss", "run, cache miss (stores)"),
        ("run_hit", "run, cache hit (warm)"),
    ):
        row = p["cache"][name]
        print(
            f"   {label:<32} {row['wall_s']:6.2f} s   peak {row['rss_mib']:.0f} MiB   CPU {row['cpu_s']:.2f} s"
        )
    if p["opentrons_s"] is not None:
        print(
            f"   opentrons_simulate (same work)   {p['opentrons_s']:6.2f} s   peak {p['opentrons_rss_mib']:.0f} MiB"
        )
        pairs = " ".join(f"{r:.2f}" for r in p["ratio_per_pair"])
        print(f"   ratio diazflow / opentrons: median {p['ratio_median']:.2f} (pairs {pairs})")
        print(f"   ratio warm run (cache hit) / opentrons: median {p['hit_ratio_median']:.2f}")
    else:
        print("   opentrons_simulate: not found (--opentrons PATH), no ratio")
    print("   where the run's time goes (in process, medians):")
    for key, value in p["phases_s"].items():
        print(f"     {key:<22} {value:6.3f} s")
    c = result.get("chatterbox")
    if c:
        print(f"\n2) STAR chatterbox, {c['workflow']} ({c['operations']} operations)")
        print(
            f"   whole process {c['run_s']:.2f} s, executing the operations {c['execute_s']:.2f} s"
        )
    print("\n3) simulated runs by plate size")
    print(
        f"   {'wells':>5} {'ops':>5} {'run s':>7} {'peak MiB':>9} {'deck build s':>13} {'execute s':>10} {'ms/op':>7} {'verify s':>9}"
    )
    for r in result["scaling"]:
        print(
            f"   {r['wells']:>5} {r['operations']:>5} {r['run_s']:>7.2f} {r['rss_mib']:>9.0f} "
            f"{r['build_plr_s']:>13.3f} {r['execute_s']:>10.3f} {r['execute_ms_per_op']:>7.2f} {r['verify_s']:>9.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=5, help="runs per figure (median reported)")
    parser.add_argument(
        "--opentrons", type=Path, default=None, help="opentrons_simulate to compare with"
    )
    parser.add_argument("--skip-chatterbox", action="store_true", help="leave out part 2")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    # every figure is cold (checked from scratch) unless it says it is a cache miss or hit
    os.environ["DIAZFLOW_NO_CACHE"] = "1"
    opentrons = args.opentrons or (DEFAULT_OPENTRONS if DEFAULT_OPENTRONS.exists() else None)
    # an installed wheel has diazflow's bytecode (pip compiles it); an editable install writes it
    # on first import unless PYTHONDONTWRITEBYTECODE is set, and then compiles ~40 modules on
    # every start: measure what an installation runs
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "diazflow")], check=True
    )
    with tempfile.TemporaryDirectory(prefix="diazflow-bench-") as tmp:
        work = Path(tmp)
        result = {
            "python": sys.version.split()[0],
            "runs": args.n,
            "plate_96": plate_96(args.n, work, opentrons),
            "chatterbox": None if args.skip_chatterbox else chatterbox(args.n, work),
            "scaling": scaling(args.n, work),
        }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        report(result)


if __name__ == "__main__":
    main()
