"""Print the README's workflow table (markdown) from the shipped workflows' compiled plans.

python scripts/workflow_table.py
"""

from __future__ import annotations

import glob
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _first_clause(text: str, limit: int = 70) -> str:
    """The gist of an off-deck message: its first sentence, without the '(note ...)' citation."""
    import re

    text = text.strip()
    label = re.match(
        r"^([\w\s'-]*?)\s*\((?:seed )?note [^)]*\)\s*:\s*", text
    )  # "Work-up (note 000): ..."
    if label:
        text = (label.group(1) + ": " if label.group(1) else "") + text[label.end() :]
    first = re.split(r"(?<=[a-z0-9)])[.;] ", text, maxsplit=1)[0]
    first = re.sub(r"\s*\((?:seed )?note [^)]*\)", "", first).strip()
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def main() -> None:
    os.chdir(REPO)
    from diazflow.language import models as m
    from diazflow.pipeline import check

    print("| workflow | source procedure | deck | wells | makespan | what the operator does |")
    print("|---|---|---|---|---|---|")
    for path in sorted(glob.glob("workflows/*.yaml")):
        result = check(path)
        p = result.loaded.protocol
        plan = result.plan
        reference = (p.reference or "").replace("seed note ", "note ").replace("|", "/")
        operator: list[str] = []
        caps = [
            m.step_params(step)[0]
            for step in p.steps
            if m.step_params(step)[0] in ("seal", "vent", "unseal")
        ]
        if caps:
            operator.append("caps: " + " → ".join(caps))
        for step in p.steps:
            kind, params = m.step_params(step)
            if kind == "offdeck":
                text = params if isinstance(params, str) else params.message
                operator.append(_first_clause(text))
            elif kind == "stage":
                operator.append(f"stage '{params.name}': re-plate the intermediate")
        solids = (
            {
                op.reagent
                for op in plan.operations
                if op.op == "dispense_powder" and op.device == "operator"
            }
            if plan
            else set()
        )
        for rid in sorted(solids):
            operator.append(f"weighs {rid} into the wells")
        deck = os.path.basename(result.deck_path or "")
        makespan = _hours(plan.makespan_s) if plan else "does not compile"
        print(
            f"| [`{os.path.basename(path)}`]({path}) | {reference} | `{deck}` | {len(p.vessels.wells)} | {makespan} | {'; '.join(operator) or '—'} |"
        )


if __name__ == "__main__":
    main()
