"""Every shipped workflow validates, compiles, and compiles to its golden plan byte for byte.

Golden plans live in tests/golden/; regenerate them on purpose with
``python scripts/update_golden.py`` and review the diff.
"""

from __future__ import annotations

import glob
import os

import pytest

from diazflow.pipeline import check
from helpers import REPO

WORKFLOW_FILES = sorted(
    os.path.relpath(p, REPO) for p in glob.glob(str(REPO / "workflows" / "*.yaml"))
)


def test_there_are_twelve_workflows():
    assert len(WORKFLOW_FILES) == 12


@pytest.mark.parametrize("workflow", WORKFLOW_FILES)
def test_workflow_compiles_to_its_golden_plan(workflow, monkeypatch):
    monkeypatch.chdir(REPO)
    result = check(workflow)
    errors = [str(d) for d in result.diagnostics if d.is_error]
    assert not errors, errors
    golden = (
        REPO / "tests" / "golden" / (os.path.splitext(os.path.basename(workflow))[0] + ".plan.json")
    )
    assert golden.exists(), f"no golden plan for {workflow}: run python scripts/update_golden.py"
    assert result.plan.to_json() == golden.read_text(encoding="utf-8"), (
        f"{workflow}: plan differs from {golden.name}; if intended, run python scripts/update_golden.py and review the diff"
    )


def _refused(workflow, deck, monkeypatch):
    monkeypatch.chdir(REPO)
    result = check(f"workflows/{workflow}", deck_override=f"deck_layouts/{deck}")
    assert result.plan is None and not result.ok
    return {d.code: d for d in result.diagnostics if d.is_error}


def test_four_degree_addition_fits_the_ot2_module_but_the_powder_does_not(monkeypatch):
    # the workflow cools to 4 °C (the STARlet ThermoShake's floor), which the OT-2's Temperature
    # Module GEN2 (4-95 °C) reaches too; what refuses it there is the powdered K2CO3
    errors = _refused("n4_direct_alkylation.yaml", "ot2_tempmodule.yaml", monkeypatch)
    assert "DF512" not in errors and "DF513" not in errors
    assert "DF515" in errors and "manual" in errors["DF515"].hint


def test_reflux_refused_under_the_ot2_plates_cap_mat(monkeypatch):
    # the OT-2 plate takes a cap mat (0.2 bar): MeOH at reflux under it is far above that
    errors = _refused("diazepan_2_one.yaml", "ot2_tempmodule.yaml", monkeypatch)
    d = errors["DF420"]
    assert "reflux" in d.message and "0.2 bar" in d.message
    assert "DF512" not in errors  # its 4 °C addition is inside the module's 4-95 °C


def test_cooling_refused_on_the_evo_heater_shaker(monkeypatch):
    # the EVO's Hamilton Heater Shaker heats only: 4 °C is below ambient
    errors = _refused("n4_direct_alkylation.yaml", "evo150_chem.yaml", monkeypatch)
    assert "DF513" in errors and "active cooling" in errors["DF513"].message
    assert "4 °C" in errors["DF513"].message


def test_validate_command_accepts_the_whole_workflows_directory():
    """What CI runs: `diazflow validate workflows/` in one process, exit 0, every file valid."""
    import json
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "diazflow.cli", "validate", "workflows/", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    files = json.loads(proc.stdout)["files"]
    assert len(files) == 12 and all(f["valid"] for f in files)


@pytest.mark.parametrize("workflow", WORKFLOW_FILES)
def test_workflow_simulates_to_completion(workflow, tmp_path, monkeypatch):
    """Each workflow runs on the simulator; the run itself checks every well against the plan,
    and the journal's dispensed volumes (from the devices) match the plan's amounts."""
    from diazflow.runtime.journal import Journal
    from diazflow.runtime.runner import run_plan

    monkeypatch.chdir(REPO)
    result = check(workflow)
    journal_path = tmp_path / "run.sqlite"
    outcome = run_plan(result, journal_path=str(journal_path), quiet=True, notify=lambda _m: None)
    assert outcome.exit_code == 0, outcome.message
    with Journal.open(str(journal_path)) as journal:
        state = journal.state()
    assert state.status == "complete" and not state.in_flight
    assert len(state.completed) == len(result.plan.operations)
    for well, plan_well in result.plan.wells.items():
        for reagent, amount in plan_well.reagents.items():
            if amount.uL:
                reported = state.dispensed_uL.get(well, {}).get(reagent, 0.0)
                assert reported == pytest.approx(amount.uL, abs=1e-3 * 64), (well, reagent)


def test_building_block_libraries_are_clean():
    """Strict RDKit parsing, well names, no duplicate members (scripts/check_libraries.py)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "scripts/check_libraries.py"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _update_golden_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "update_golden", REPO / "scripts" / "update_golden.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("robot", ["starlet", "ot2"])
def test_chatterbox_transcript_matches_its_reviewed_golden(robot, monkeypatch):
    """The firmware (STARlet) or robot-server (OT-2) commands of one workflow per robot: a change
    of liquid class, tip height or offset shows in review as a change of these files."""
    monkeypatch.chdir(REPO)
    update_golden = _update_golden_script()
    workflow = update_golden.TRANSCRIPTS[robot]
    golden = REPO / update_golden.transcript_path(robot, workflow)
    assert golden.exists(), "run python scripts/update_golden.py"
    assert update_golden.transcript(workflow) == golden.read_text(encoding="utf-8"), (
        f"{workflow}: the {robot} transcript differs from {golden.name}; if intended, run "
        "python scripts/update_golden.py and review the diff"
    )


def test_readme_workflow_table_is_current():
    """README's table of workflows is what scripts/workflow_table.py prints from today's plans."""
    import subprocess
    import sys

    table = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "workflow_table.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.strip()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README's workflow table is stale: run python scripts/workflow_table.py"
