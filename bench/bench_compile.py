"""Compiler benchmarks: scaling with plate size, and schedule quality of every shipped workflow.

    python bench/bench_compile.py [--runs 5]

1. Compile time and peak memory (tracemalloc) for 24, 96, 384 and 1536 wells with a 10-aliquot
   dropwise step (a common reagent added as 10 even portions), on the STARlet deck with its reaction
   block swapped for a plate of the right format.  Median of ``--runs`` runs.  Target: linear
   growth, 1536 wells under 2 s.
2. For every workflow in workflows/: makespan / lower bound (target ≤ 1.10), and the makespan of a
   well-by-well schedule — what a hand-written loop does: each dropwise or portionwise addition
   done for one column of wells (8 channels) at a time, over its whole window, before the next.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROTOCOL = """\
diazflow: 1
name: scaling benchmark, {wells} wells
vessels: {{labware: reaction_block, wells: "A1:{last}"}}
scale: {{limiting: amine, amount: 5 umol, concentration: 0.125 M, solvent: MeCN}}
reagents:
  amine: {{name: "1-methyl-1,4-diazepane", smiles: CN1CCCNCC1, stock: {{concentration: 0.5 M, solvent: MeCN}}}}
  halide: {{name: benzyl bromide, smiles: BrCc1ccccc1, stock: {{concentration: 0.5 M, solvent: MeCN}}}}
steps:
  - add: {{reagent: amine, equiv: 1.0}}
  - add_solvent: {{solvent: MeCN, to_concentration: 0.125 M}}
  - cool: {{to: 0 degC}}
  - add: {{reagent: halide, equiv: 1.0, portionwise: {{portions: 10, over: 1-48 h}}, keep_below: 5 degC}}
  - warm: {{to: rt}}
  - stir: {{duration: 2 h}}
"""

FORMATS = {24: (4, 6, "D6"), 96: (8, 12, "H12"), 384: (16, 24, "P24"), 1536: (32, 48, "AF48")}


def _facts_for(rows: int, columns: int):
    from diazflow.compiler.facts import deck_facts
    from diazflow.deck import load_deck

    facts = deck_facts(load_deck(os.path.join(REPO, "deck_layouts", "starlet_chem.yaml")))
    block = replace(
        facts.labware["reaction_block"], rows=rows, columns=columns, max_volume_ul=200.0
    )
    return replace(facts, labware={**facts.labware, "reaction_block": block})


def scaling(runs: int) -> None:
    from diazflow.chemistry.resolve import resolve_chemistry
    from diazflow.compiler import compile_plan
    from diazflow.language.loader import load_protocol

    print(f"1) compile time and peak memory, 10-aliquot portionwise step (median of {runs} runs)")
    print(
        f"{'wells':>6} {'load+resolve s':>15} {'compile s':>10} {'total s':>8} {'µs/well':>8} {'peak MiB':>9} {'ops':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for wells, (rows, columns, last) in FORMATS.items():
            path = os.path.join(tmp, f"bench_{wells}.yaml")
            with open(path, "w") as fh:
                fh.write(PROTOCOL.format(wells=wells, last=last))
            facts = _facts_for(rows, columns)
            front, back, peaks, ops = [], [], [], 0
            for run in range(runs + 1):
                # the last run measures memory: tracemalloc slows Python down several-fold
                traced = run == runs
                if traced:
                    tracemalloc.start()
                t0 = time.perf_counter()
                result = load_protocol(path)
                chem, _ = resolve_chemistry(result.loaded)
                t1 = time.perf_counter()
                plan, diags = compile_plan(
                    result.loaded, chem, facts, "starlet_chem.yaml (block resized)"
                )
                assert plan is not None, [str(d) for d in diags]
                plan.to_json()
                t2 = time.perf_counter()
                if traced:
                    peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
                    tracemalloc.stop()
                else:
                    front.append(t1 - t0)
                    back.append(t2 - t1)
                ops = len(plan.operations)
            f, b = statistics.median(front), statistics.median(back)
            print(
                f"{wells:>6} {f:>15.3f} {b:>10.3f} {f + b:>8.3f} {1e6 * (f + b) / wells:>8.0f} {statistics.median(peaks):>9.1f} {ops:>7}"
            )


def quality() -> None:
    from diazflow.language import models as m
    from diazflow.pipeline import check

    print("\n2) schedule quality of the shipped workflows")
    print(
        f"{'workflow':<48} {'wells':>5} {'makespan h':>10} {'lower bd h':>10} {'ratio':>6} {'well-by-well h':>14} {'speed-up':>8}"
    )
    for path in sorted(glob.glob(os.path.join(REPO, "workflows", "*.yaml"))):
        result = check(path)
        name = os.path.basename(path)
        if result.plan is None:
            print(
                f"{name:<48} does not compile: {[d.code for d in result.diagnostics if d.is_error]}"
            )
            continue
        plan = result.plan
        # a hand-written loop: each spread addition runs its whole window once per column group
        extra = 0.0
        channels = result.facts.channels
        for i, step in enumerate(result.loaded.protocol.steps):
            kind, params = m.step_params(step)
            spread = (
                getattr(params, "dropwise", None) is not None
                or getattr(params, "portionwise", None) is not None
            )
            if kind in ("add", "quench") and spread:
                summary = next(s for s in plan.steps if s.step == i)
                wells = {w for op in plan.operations if op.step == i and op.wells for w in op.wells}
                groups = -(-len(wells) // channels)
                extra += (groups - 1) * (summary.end - summary.start)
        wbw = plan.makespan_s + extra
        print(
            f"{name:<48} {len(plan.wells):>5} {plan.makespan_s / 3600:>10.2f} {plan.lower_bound_s / 3600:>10.2f} {plan.makespan_s / plan.lower_bound_s:>6.3f} {wbw / 3600:>14.2f} {wbw / plan.makespan_s:>7.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(REPO, "src"))
    scaling(args.runs)
    quality()


if __name__ == "__main__":
    main()
