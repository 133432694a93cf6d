"""Rewrite the golden plans in tests/golden/ from the shipped workflows — on purpose only.

    python scripts/update_golden.py

Run it after a change that is meant to change plans (a new scheduling rule, a workflow edit), then
review `git diff tests/golden/` before committing: the diff is the change in what the robot will do.
"""

from __future__ import annotations

import glob
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    os.chdir(REPO)  # plans name files relative to the repository, as in the tests
    from diazflow.pipeline import check

    failed = 0
    for path in sorted(glob.glob("workflows/*.yaml")):
        result = check(path)
        name = os.path.splitext(os.path.basename(path))[0]
        if result.plan is None:
            print(
                f"{path}: does not compile: {[str(d) for d in result.diagnostics if d.is_error]}",
                file=sys.stderr,
            )
            failed += 1
            continue
        target = os.path.join("tests", "golden", f"{name}.plan.json")
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(result.plan.to_json())
        print(
            f"wrote {target} ({len(result.plan.operations)} operations, makespan {result.plan.makespan_s / 3600:.2f} h)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
