"""Nanomole scale on a 384-well plate (issue 16): the starlet_chem_384 deck, its well geometry, the
interleaved 8-channel passes a 4.5 mm pitch needs, and the amounts in every well.

Expected amounts are recomputed from the protocol's YAML text (equiv × limiting amount /
stock concentration); channel spacing is read from PyLabRobot's STAR firmware transcript.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from diazflow.compiler.plan import Dispense
from diazflow.deck.geometry import well_geometry
from diazflow.pipeline import check
from test_hte import assert_delivered, delivered, simulate

REPO = Path(__file__).resolve().parents[1]
PROTOCOL = REPO / "tests" / "data" / "protocols" / "hte" / "nanomole_384.yaml"
ROWS = "ABCDEFGHIJKLMNOP"


@pytest.fixture(scope="module")
def result():
    r = check(str(PROTOCOL))
    assert r.plan is not None, [str(d) for d in r.diagnostics if d.is_error]
    return r


def cells(selection: str) -> set[str]:
    a, b = selection.split(":")
    return {
        f"{r}{c}"
        for r in ROWS[ROWS.index(a[0]) : ROWS.index(b[0]) + 1]
        for c in range(int(a[1:]), int(b[1:]) + 1)
    }


def test_the_384_well_geometry_is_a_cylinder_over_a_cone_holding_50_ul():
    # PyLabRobot's dimensions: a 3.10 mm round well, 9.35 mm high over a 1 mm floor
    d, depth, full = 3.10, 9.35 - 1.0, 50.0
    area = math.pi * d**2 / 4
    cone = 1.5 * (depth - full / area)  # V = A·(depth − 2·cone/3)
    g = well_geometry("biorad_384_wellplate_50uL_Vb")
    assert g is not None and not g.approximate
    assert g.depth_mm == pytest.approx(depth)
    assert g.volumes_ul[-1] == pytest.approx(full, abs=1e-3)
    for v in (1.0, 2.5, 5.0, 12.0, 20.0, 40.0):
        cone_ul = area * cone / 3
        expected = cone * (v / cone_ul) ** (1 / 3) if v <= cone_ul else cone + (v - cone_ul) / area
        assert g.height_of(v) == pytest.approx(expected, abs=0.02), v


def test_every_well_of_the_384_plate_gets_what_the_yaml_says(result, tmp_path):
    doc = yaml.safe_load(PROTOCOL.read_text(encoding="utf-8"))
    umol = float(doc["scale"]["amount"].split()[0])
    target_m = float(doc["scale"]["concentration"].split()[0])
    names = {rid: r["name"] for rid, r in doc["reagents"].items()}
    conc = {
        rid: float(r["stock"]["concentration"].split()[0]) for rid, r in doc["reagents"].items()
    }
    expected: dict[str, dict[str, float]] = {w: {} for w in cells(doc["vessels"]["wells"])}
    for step in doc["steps"]:
        add = step.get("add")
        if add is None:
            continue
        for well in cells(add.get("wells", doc["vessels"]["wells"])):
            # µL = equiv × µmol / (mol/L)
            expected[well][names[add["reagent"]]] = add["equiv"] * umol / conc[add["reagent"]]
    for per in expected.values():
        per["DMSO"] = umol / target_m * 1000 / 1000 - sum(per.values())  # to 0.05 M: 20 µL
    assert len(expected) == 384
    assert all(sum(per.values()) == pytest.approx(20.0) for per in expected.values())

    assert_delivered(result, tmp_path, expected)
    # nanomole scale: the 50 µL tips, 2.5-5 µL a transfer
    dispenses = [op for op in result.plan.operations if isinstance(op, Dispense)]
    assert {v for op in dispenses for v in op.volumes_uL} == {2.5, 5.0}


def test_a_column_of_the_384_plate_is_two_interleaved_passes(result):
    dispenses = [op for op in result.plan.operations if isinstance(op, Dispense)]
    # 8 channels over the 16 rows of a column, 4 over the 8 rows of a half-plate block
    assert {len(op.wells) for op in dispenses} == {8, 4}
    for op in dispenses:
        rows = [ROWS.index(w[0]) for w in op.wells]
        assert len({w[1:] for w in op.wells}) == 1  # one column
        assert all(b - a == 2 for a, b in zip(rows, rows[1:], strict=False)), op.wells
    first = [op.wells for op in dispenses[:2]]
    assert first == [[f"{r}1" for r in "ACEGIKMO"], [f"{r}1" for r in "BDFHJLNP"]]


def _firmware(line: str) -> dict[str, list[int]]:
    """``C0ASid0003at0 0tm1 1...`` → {"at": [0, 0], "tm": [1, 1], ...} (one value per channel)."""
    return {
        key: [int(x) for x in values.split()]
        for key, values in re.findall(r"([a-z]{2})([0-9 ]+)", line[4:])
    }


def test_the_star_firmware_keeps_the_channels_9_mm_apart(result, tmp_path):
    from diazflow.runtime.runner import run_plan

    journal = tmp_path / "star.sqlite"
    outcome = run_plan(result, backend="chatterbox", journal_path=str(journal), quiet=True)
    assert outcome.exit_code == 0, outcome.message
    lines = Path(str(journal) + ".commands.txt").read_text().splitlines()
    moves = [_firmware(x) for x in lines if x[:4] in ("C0AS", "C0DS")]
    plan_moves = [op for op in result.plan.operations if op.op in ("aspirate", "dispense")]
    assert len(moves) == len(plan_moves) == 2 * 288
    dispense_rows = 0
    for fw in moves:
        ys = [y for y, used in zip(fw["yp"], fw["tm"], strict=False) if used]
        assert len(ys) in (4, 8)
        gaps = [a - b for a, b in zip(ys, ys[1:], strict=False)]  # 0.1 mm, channel 0 at the back
        assert min(gaps) >= 90, ys
    for line in lines:
        if line.startswith("C0DS"):
            fw = _firmware(line)
            ys = [y for y, used in zip(fw["yp"], fw["tm"], strict=False) if used]
            # into the plate: every other 4.5 mm row, exactly 9 mm apart
            assert [a - b for a, b in zip(ys, ys[1:], strict=False)] == [90] * (len(ys) - 1)
            dispense_rows += 1
    assert dispense_rows == 288


def test_without_the_interleaving_the_star_backend_refuses_the_column(tmp_path, monkeypatch):
    """The reason for the two passes: PyLabRobot's STAR backend refuses channels 4.5 mm apart."""
    from diazflow.compiler.facts import DeckFacts
    from diazflow.runtime.runner import run_plan

    monkeypatch.setattr(DeckFacts, "row_stride", lambda self, labware: 1)
    adjacent = check(str(PROTOCOL))
    assert adjacent.plan is not None
    first = next(op for op in adjacent.plan.operations if isinstance(op, Dispense))
    assert first.wells == [f"{r}1" for r in "ABCDEFGH"]
    outcome = run_plan(
        adjacent, backend="chatterbox", journal_path=str(tmp_path / "adjacent.sqlite"), quiet=True
    )
    assert outcome.exit_code != 0
    assert "Minimum distance between two y positions is <9mm" in outcome.message


def test_a_library_by_row_on_16_rows_takes_one_building_block_well_per_member(tmp_path):
    """Sixteen amines by row: a 96-well source column has only 8 rows, so each member is one
    building-block well, drawn one channel at a time; the STAR accepts every command."""
    from diazflow.runtime.runner import run_plan

    path = PROTOCOL.with_name("nanomole_384_amines.yaml")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    r = check(str(path))
    assert r.plan is not None, [str(d) for d in r.diagnostics if d.is_error]
    amines = [item["name"] for item in doc["libraries"]["amines"]["items"]]
    on_block = [s for s in r.plan.stocks if s.location.startswith("building_blocks:")]
    assert sorted(s.substance for s in on_block) == sorted(amines)
    assert all(s.location.split(":")[1][0] in "ABCDEFGH" for s in on_block)  # a 96-well plate

    umol = float(doc["scale"]["amount"].split()[0])
    got = delivered(r, simulate(r, tmp_path))
    assert len(got) == 96
    for well, per in got.items():
        member = amines[ROWS.index(well[0])]
        assert per[member] == pytest.approx(1.2 * umol / 0.24, abs=1e-6), well  # 5 µL
        assert sum(per.values()) == pytest.approx(20.0, abs=1e-6), well

    journal = tmp_path / "star.sqlite"
    outcome = run_plan(r, backend="chatterbox", journal_path=str(journal), quiet=True)
    assert outcome.exit_code == 0, outcome.message
