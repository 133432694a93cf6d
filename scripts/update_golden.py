"""Rewrite the golden plans and robot transcripts in tests/golden/ — on purpose only.

    python scripts/update_golden.py

Run it after a change that is meant to change plans (a new scheduling rule, a workflow edit), then
review `git diff tests/golden/` before committing: the diff is the change in what the robot will do.

Besides a plan per workflow, one workflow per robot is run on PyLabRobot's chatterbox backend and
its transcript kept (:data:`TRANSCRIPTS`): the STARlet's firmware commands, the OT-2's robot-server
calls.  A change of liquid class, tip height, offset or traversal height shows there as a change
of firmware parameter or coordinate.  (PyLabRobot 0.2.2 has no EVO chatterbox that speaks the
EVO's firmware.)
"""

from __future__ import annotations

import glob
import os
import re
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


TRANSCRIPTS = {
    "starlet": "workflows/n4_reductive_amination_stab.yaml",  # DCE: volatile classes, jet
    "ot2": "workflows/n4_michael_addition.yaml",
}

_UUID = re.compile(r"\b[0-9a-f]{32}\b")


def normalized(transcript: str) -> str:
    """PyLabRobot's OT-2 backend names labware definitions with random UUIDs: number them in
    order of appearance instead, so the same run gives the same text."""
    names: dict[str, str] = {}
    return _UUID.sub(lambda m: names.setdefault(m.group(0), f"uuid-{len(names) + 1}"), transcript)


def transcript(workflow: str) -> str:
    """The chatterbox transcript of a run of ``workflow`` (run in a temporary directory)."""
    from diazflow.pipeline import check
    from diazflow.runtime.runner import commands_path_for, run_plan

    result = check(workflow)
    if result.plan is None:
        raise SystemExit(f"{workflow} does not compile")
    with tempfile.TemporaryDirectory() as tmp:
        journal = os.path.join(tmp, "run.sqlite")
        outcome = run_plan(
            result, journal_path=journal, quiet=True, backend="chatterbox", notify=lambda _: None
        )
        if outcome.exit_code != 0:
            raise SystemExit(f"{workflow}: chatterbox run failed: {outcome.message}")
        with open(commands_path_for(journal), encoding="utf-8") as fh:
            return normalized(fh.read())


def transcript_path(robot: str, workflow: str) -> str:
    name = os.path.splitext(os.path.basename(workflow))[0]
    return os.path.join("tests", "golden", f"{name}.{robot}.transcript.txt")


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
    for robot, workflow in TRANSCRIPTS.items():
        target = transcript_path(robot, workflow)
        text = transcript(workflow)
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {target} ({text.count(chr(10))} commands)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
