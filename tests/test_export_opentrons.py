"""`diazflow export --to opentrons` (issue 18): OT-2 plans as Opentrons Protocol API v2 files,
checked by Opentrons' own analyzer (`opentrons==9.0.0`, in a virtual environment of its own).

Every OT-2 workflow the project ships (every ``workflows/*.yaml`` that compiles with ``--deck
ot2_tempmodule``), the 4-well runtime protocol and generated 24- and 96-well plans are exported
and must pass ``python -m opentrons.cli analyze --check``.  The analyzer's JSON is then read
without the exporter's help: per-well volumes (aspirates and dispenses per labware well, the air
gaps told apart by where the analyzer puts them: above the well), heights above the well bottom
(from the labware definitions the analyzer loaded), tips, module temperatures and pauses must
equal the plan's.

The analyzer's python: ``DIAZFLOW_OPENTRONS_PYTHON`` (``.ci/run`` sets it).  Unset under
``CI=1``: the tests fail.  Unset on a developer machine: ``scripts/opentrons_analyzer.py`` makes
the environment once in the user's cache (about two minutes) and the tests use it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from diazflow.compiler.plan import (
    Aspirate,
    Dispense,
    DispensePowder,
    PickUpTips,
    Plan,
    Prompt,
    Sample,
    SetClosure,
    SetTemperature,
    Wait,
    WaitTemperature,
)
from diazflow.deck import load_deck
from diazflow.pipeline import safe_check
from helpers import DECKS, REPO, WORKFLOWS, write_protocol

OT2_DECK = str(DECKS / "ot2_tempmodule.yaml")
ACCEPTORS = [
    "C=CC(=O)OC",
    "C=CC#N",
    "C=CC(=O)OCC",
    "C=CC(C)=O",
    "C=CS(C)(=O)=O",
    "C=CC(=O)OCCCC",
    "C=CC(=O)OC(C)(C)C",
    "C=CC(=O)CC",
]


def generated_protocol(wells: int, ramp: bool = False) -> str:
    """A Michael addition on every well of a 24- or 96-well block: heat (with ``ramp``, over
    10 min), a P300 reagent, a P20 library member per well, solvent, a hold with a sample into the
    sample plate, cooling, and an operator step."""
    items = []
    for i in range(wells):
        column, row = divmod(i, 8)
        smiles = ACCEPTORS[i % len(ACCEPTORS)]
        items.append(
            f"      {'ABCDEFGH'[row]}{column + 1}: {{name: acceptor {i + 1}, smiles: '{smiles}'}}"
        )
    return (
        "diazflow: 1\n"
        f"name: Michael addition, {wells} wells on the OT-2\n"
        "deck: {deck:ot2_tempmodule}\n"
        f"vessels: {{labware: reaction_block, wells: {'A1:H3' if wells == 24 else 'A1:H12'}}}\n"
        "scale: {limiting: diazepane, amount: 20 umol, concentration: 0.2 M, solvent: MeOH}\n"
        "reagents:\n"
        "  diazepane:\n"
        "    name: 1-methyl-1,4-diazepane\n"
        "    smiles: CN1CCCNCC1\n"
        "    stock: {concentration: 0.5 M, solvent: MeOH}\n"
        "  acceptor:\n"
        "    library: acceptors\n"
        "    stock: {concentration: 2.0 M, solvent: MeOH}\n"
        "libraries:\n"
        "  acceptors:\n"
        "    by: well\n"
        "    items:\n" + "\n".join(items) + "\n"
        "steps:\n"
        + ("  - heat: {to: 40 degC, over: 10 min}\n" if ramp else "  - heat: {to: 40 degC}\n")
        + "  - add: {reagent: diazepane, equiv: 1.0}\n"
        "  - add: {reagent: acceptor, equiv: 1.1}\n"
        "  - add_solvent: {solvent: MeOH, to_concentration: 0.2 M}\n"
        "  - hold: {duration: 2 h}\n"
        "  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}\n"
        "  - cool: {to: 30 degC}\n"
        "  - offdeck: Concentrate and purify.\n"
        "settings:\n"
        "  room_temperature: 22 degC\n"
    )


def shipped_ot2_workflows() -> list[str]:
    """The shipped workflows an OT-2 can run: those that compile on the OT-2 deck."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.yaml")):
        if safe_check(str(path), deck_override=OT2_DECK).plan is not None:
            found.append(path.name)
    return found


# Collected once at import: compiling every workflow on the OT-2 deck decides which are OT-2 ones.
SHIPPED = shipped_ot2_workflows()
CASES = [f"workflow:{name}" for name in SHIPPED] + [
    "runtime:ot2_heat_4.yaml",
    "generated:24",  # heated with a controlled ramp
    "generated:96",
]


def test_the_shipped_michael_addition_is_an_ot2_workflow() -> None:
    # the "every OT-2 workflow" must not be an empty set
    assert "n4_michael_addition.yaml" in SHIPPED


# --------------------------------------------------------------------------- the analyzer


def _load_analyzer_script():
    spec = importlib.util.spec_from_file_location(
        "opentrons_analyzer", REPO / "scripts" / "opentrons_analyzer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def analyzer_python() -> str:
    configured = os.environ.get("DIAZFLOW_OPENTRONS_PYTHON")
    if configured:
        assert Path(configured).is_file(), f"DIAZFLOW_OPENTRONS_PYTHON={configured} does not exist"
        return configured
    if os.environ.get("CI"):
        pytest.fail(
            "DIAZFLOW_OPENTRONS_PYTHON is not set under CI: .ci/run sets it "
            "(python scripts/opentrons_analyzer.py makes the environment)"
        )
    return str(_load_analyzer_script().ensure())


def analyze(python: str, protocol: Path, tmp_path: Path) -> tuple[dict, float]:
    """Opentrons' ``analyze --check``: the JSON and the seconds it took."""
    out = tmp_path / "analysis.json"
    config = tmp_path / "ot_config"
    config.mkdir()
    started = time.perf_counter()
    done = subprocess.run(
        [
            python,
            "-m",
            "opentrons.cli",
            "analyze",
            "--check",
            "--json-output",
            str(out),
            str(protocol),
        ],
        env={**os.environ, "OT_API_CONFIG_DIR": str(config)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, f"analyze --check failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(out.read_text(encoding="utf-8")), seconds


def _source(case: str, tmp_path: Path) -> tuple[Path, list[str]]:
    kind, _, name = case.partition(":")
    if kind == "workflow":
        return WORKFLOWS / name, ["--deck", OT2_DECK]
    if kind == "runtime":
        return REPO / "tests" / "data" / "runtime" / name, []
    wells = int(name)
    text = generated_protocol(wells, ramp=wells == 24)
    return write_protocol(tmp_path, text, f"generated_{name}.yaml"), []


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diazflow", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.mark.parametrize("case", CASES)
def test_export_passes_opentrons_analyzer_and_matches_the_plan(
    case: str, tmp_path: Path, analyzer_python: str
) -> None:
    source, deck_args = _source(case, tmp_path)
    plan_path, protocol = tmp_path / "plan.json", tmp_path / "protocol.py"
    compiled = run_cli("compile", str(source), *deck_args, "-o", str(plan_path))
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    exported = run_cli("export", "--to", "opentrons", str(source), *deck_args, "-o", str(protocol))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    plan = Plan.from_json(plan_path.read_text(encoding="utf-8"))
    deck = load_deck(deck_args[1] if deck_args else OT2_DECK)

    analysis, seconds = analyze(analyzer_python, protocol, tmp_path)
    print(f"\n{case}: {len(plan.operations)} operations, analyze --check {seconds:.1f} s")
    assert analysis["result"] == "ok" and analysis["errors"] == []

    commands = analysis["commands"]
    labels = {lw["id"]: lw.get("displayName") or lw["loadName"] for lw in analysis["labware"]}
    depths = _well_depths(commands)
    assert _liquid_moves(commands, labels, depths) == _plan_moves(plan, deck)
    assert _per_well(_liquid_moves(commands, labels, depths)) == _per_well(_plan_moves(plan, deck))
    picked = [
        f"{labels[c['params']['labwareId']]}:{c['params']['wellName']}"
        for c in commands
        if c["commandType"] == "pickUpTip"
    ]
    assert picked == [
        spot for op in plan.operations if isinstance(op, PickUpTips) for spot in op.tips
    ]
    assert len(set(picked)) == sum(plan.tips_used.values())
    _check_temperatures(commands, plan)
    _check_stocks_loaded_when_put_out(commands, labels, plan)
    assert [c["params"]["message"] for c in commands if c["commandType"] == "waitForResume"] == [
        op.message for op in plan.operations if isinstance(op, (Prompt, SetClosure, DispensePowder))
    ]
    # the delays fill the plan's time that no operation takes (the holds above all): never
    # more than the makespan, never less than what the operations leave (gaps under 0.1 s are
    # rounding and not waited)
    delays = sum(c["params"]["seconds"] for c in commands if c["commandType"] == "waitForDuration")
    busy = sum(op.duration for op in plan.operations if not isinstance(op, Wait))
    floor = plan.makespan_s - busy - 0.1 * len(plan.operations)
    assert max(0.0, floor) <= delays <= plan.makespan_s + 0.01
    # metadata: what the lab sees in the App, and the plan it came from
    assert analysis["metadata"]["planSha256"] == hashlib.sha256(plan_path.read_bytes()).hexdigest()
    assert analysis["metadata"]["source"] == plan.protocol


def _check_stocks_loaded_when_put_out(
    commands: list[dict], labels: dict[str, str], plan: Plan
) -> None:
    """Each stock is an Opentrons liquid loaded when the operator puts it out: a stock out from
    the start before the first command that moves anything, one put out later (``placed_s``)
    after every aspiration the plan makes before that time and before the first one after it."""
    loaded: dict[str, int] = {}
    for index, c in enumerate(commands):
        if c["commandType"] == "loadLiquid":
            for well in c["params"]["volumeByWell"]:
                loaded[f"{labels[c['params']['labwareId']]}:{well}"] = index
    aspirations = [i for i, c in enumerate(commands) if c["commandType"] == "aspirate"]
    first_move = min(i for i, c in enumerate(commands) if c["commandType"] == "pickUpTip")
    plan_aspirations = [op.t for op in plan.operations if isinstance(op, Aspirate)]
    liquids = [s for s in plan.stocks if s.form != "solid" and ":" in s.location]
    assert set(loaded) == {s.location for s in liquids}
    for stock in liquids:
        at = loaded[stock.location]
        if not stock.placed_s:
            assert at < first_move, stock.reagent
            continue
        before = sum(1 for t in plan_aspirations if t < stock.placed_s)
        assert sum(1 for i in aspirations if i < at) == before, stock.reagent


def _check_temperatures(commands: list[dict], plan: Plan) -> None:
    """Each wait of the plan is a wait of the analysis, after the set point(s) the plan asks for:
    one, or for a controlled ramp (``over:``) a series moving steadily to the target."""
    segments: list[tuple[list[float], float]] = []
    current: list[float] = []
    for c in commands:
        if c["commandType"] == "temperatureModule/setTargetTemperature":
            current.append(c["params"]["celsius"])
        elif c["commandType"] == "temperatureModule/waitForTemperature":
            segments.append((current, c["params"]["celsius"]))
            current = []
    sets = [op for op in plan.operations if isinstance(op, SetTemperature)]
    waits = [op.celsius for op in plan.operations if isinstance(op, WaitTemperature)]
    assert [waited for _, waited in segments] == waits and not current
    assert len(sets) == len(segments)  # these plans wait after every set point
    for (points, waited), op in zip(segments, sets, strict=True):
        assert points[-1] == op.celsius == waited
        if not op.ramp_s:
            assert points == [op.celsius]
            continue
        assert len(points) >= op.ramp_s / 60  # a ramp, not a jump
        rising = points == sorted(points)
        assert rising or points == sorted(points, reverse=True)
        steps = [b - a for a, b in zip(points, points[1:], strict=False)]
        assert max(abs(x) for x in steps) <= 2 * min(abs(x) for x in steps) + 0.02  # steady


def _well_depths(commands: list[dict]) -> dict[str, dict[str, float]]:
    """labwareId -> well -> depth, from the definitions the analyzer loaded."""
    return {
        c["result"]["labwareId"]: {
            name: well["depth"] for name, well in c["result"]["definition"]["wells"].items()
        }
        for c in commands
        if c["commandType"] == "loadLabware"
    }


def _liquid_moves(
    commands: list[dict], labels: dict[str, str], depths: dict[str, dict[str, float]]
) -> list[tuple[str, str, float, float]]:
    """(aspirate|dispense, LABWARE:WELL, liquid µL, height above the well bottom) in order.

    An air gap is an aspirate above the top of the well (Opentrons' ``air_gap`` at API 2.20); the
    air leaves with the next dispense of that pipette, so it is taken off that dispense."""
    air: dict[str, float] = defaultdict(float)
    moves = []
    for c in commands:
        kind, p = c["commandType"], c["params"]
        if kind not in ("aspirate", "dispense"):
            continue
        offset = p["wellLocation"]["offset"]["z"]
        assert p["wellLocation"]["origin"] == "top"
        if kind == "aspirate" and offset > 0:
            air[p["pipetteId"]] += p["volume"]
            continue
        volume = p["volume"]
        if kind == "dispense":
            volume -= air.pop(p["pipetteId"], 0.0)
        height = depths[p["labwareId"]][p["wellName"]] + offset
        where = f"{labels[p['labwareId']]}:{p['wellName']}"
        moves.append((kind, where, round(volume, 3), round(height, 3)))
    return moves


def _plan_moves(plan: Plan, deck) -> list[tuple[str, str, float, float]]:
    """The same list from the plan (a sample: from the reaction well at the layout's bottom
    clearance into its sample position)."""

    def ref(well: str) -> str:
        return well if ":" in well else f"{plan.vessel_labware}:{well}"

    moves = []
    clearance = round(deck.pipetting.bottom_clearance_mm, 3)
    for op in plan.operations:
        if isinstance(op, (Aspirate, Dispense)):
            kind = "aspirate" if isinstance(op, Aspirate) else "dispense"
            for well, volume, height in zip(op.wells, op.volumes_uL, op.height_mm, strict=True):
                moves.append((kind, ref(well), round(volume, 3), round(height, 3)))
        elif isinstance(op, Sample):
            for well, target, volume in zip(op.wells, op.targets, op.volumes_uL, strict=True):
                moves.append(("aspirate", ref(well), round(volume, 3), clearance))
                moves.append(("dispense", ref(target), round(volume, 3), clearance))
    return moves


def _per_well(moves: list[tuple[str, str, float, float]]) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for kind, where, volume, _ in moves:
        totals[(kind, where)] += volume
    return {key: round(value, 3) for key, value in sorted(totals.items())}


# --------------------------------------------------------------------------- without the analyzer


def test_same_plan_same_bytes_from_a_workflow_or_its_plan(tmp_path: Path) -> None:
    workflow = WORKFLOWS / "n4_michael_addition.yaml"
    plan_path = tmp_path / "plan.json"
    assert run_cli("compile", str(workflow), "-o", str(plan_path)).returncode == 0
    outputs = []
    for name, source in (("a.py", workflow), ("b.py", workflow), ("c.py", plan_path)):
        done = run_cli("export", "--to", "opentrons", str(source), "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    # from the plan file the protocol's name is the workflow file's (a plan does not carry it)
    strip = [
        b"\n".join(
            line
            for line in text.splitlines()
            if b"protocolName" not in line and b": an Opentrons" not in line
        )
        for text in outputs
    ]
    assert strip[0] == strip[2]


def test_a_starlet_deck_is_df540_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "protocol.py"
    out.write_text("previous contents\n", encoding="utf-8")
    done = run_cli(
        "export", "--to", "opentrons", str(WORKFLOWS / "n4_direct_alkylation.yaml"), "-o", str(out)
    )
    assert done.returncode == 1
    assert "error DF540" in done.stdout and "hamilton_starlet" in done.stdout
    assert out.read_text(encoding="utf-8") == "previous contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["protocol.py"]  # no temp file left


def test_an_evo_plan_is_df540(tmp_path: Path) -> None:
    protocol = write_protocol(
        tmp_path,
        (WORKFLOWS / "n4_michael_addition.yaml")
        .read_text(encoding="utf-8")
        .replace("../deck_layouts/ot2_tempmodule.yaml", "{deck:evo150_chem}")
        .replace(
            "libraries/michael_acceptors_24.csv",
            str(WORKFLOWS / "libraries" / "michael_acceptors_24.csv"),
        ),
    )
    plan_path = tmp_path / "plan.json"
    compiled = run_cli("compile", str(protocol), "-o", str(plan_path))
    assert compiled.returncode == 0, compiled.stdout
    done = run_cli("export", "--to", "opentrons", str(plan_path), "-o", str(tmp_path / "p.py"))
    assert done.returncode == 1
    assert "error DF540" in done.stdout and "tecan" in done.stdout.lower()
    assert not (tmp_path / "p.py").exists()


def test_a_heater_shaker_deck_is_df542_on_its_module(tmp_path: Path) -> None:
    """The export knows the Temperature Module only: the example OT-2 deck with a Heater-Shaker
    is refused on the module's line in the layout, and nothing is written."""
    protocol = write_protocol(
        tmp_path,
        (REPO / "tests" / "data" / "runtime" / "ot2_heat_4.yaml")
        .read_text(encoding="utf-8")
        .replace("../../../deck_layouts/ot2_tempmodule.yaml", "{deck:ot2_tempmodule}")
        .replace("  - cool: {to: 30 degC}\n", "  - stir: {duration: 10 min}\n"),
    )
    layout = DECKS / "examples" / "ot2_heater_shaker.yaml"
    out = tmp_path / "p.py"
    done = run_cli(
        "export", "--to", "opentrons", str(protocol), "--deck", str(layout), "-o", str(out)
    )
    assert done.returncode == 1, done.stdout
    line = next(
        n
        for n, text in enumerate(layout.read_text(encoding="utf-8").splitlines(), start=1)
        if text.startswith("    kind: heater_shaker")
    )
    assert f"ot2_heater_shaker.yaml:{line}:" in done.stdout
    assert "error DF542" in done.stdout
    # the stir's shake and stop are refused too, once each, on the step's line
    assert done.stdout.count("error DF542") == 3
    assert not out.exists()
