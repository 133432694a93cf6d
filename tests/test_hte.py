"""HTE plates (issue 16): combinatorial grids, condition screens and reagent forms.

Every expected amount here is computed from the protocol's YAML text with plain arithmetic, never
from the compiler's own numbers; runs are simulated and checked from the device log (what each
channel aspirated where, and dispensed where).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from diazflow.pipeline import check

REPO = Path(__file__).resolve().parents[1]
HTE = REPO / "tests" / "data" / "protocols" / "hte"


def checked(path: Path):
    result = check(str(path))
    assert result.plan is not None, [str(d) for d in result.diagnostics if d.is_error]
    return result


def simulate(result, tmp_path: Path) -> list[tuple[int, int, str, str, float, dict]]:
    """Run the plan on the simulated deck; the device log of the completed run."""
    from diazflow.runtime.journal import Journal
    from diazflow.runtime.runner import run_plan

    outcome = run_plan(result, journal_path=str(tmp_path / "run.sqlite"), quiet=True)
    assert outcome.exit_code == 0, outcome.message
    journal = Journal.open(outcome.journal_path, read_only=True)
    try:
        return journal.device_log()
    finally:
        journal.close()


def delivered(result, log) -> dict[str, dict[str, float]]:
    """Reaction well → substance → µL, following every channel from the source it aspirated at
    (whose contents the plan's stock list names) to the well it dispensed into."""
    stock_at = {s.location: s.substance for s in result.plan.stocks}
    ops = {op.id: op for op in result.plan.operations}
    held: dict[int, str] = {}
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    prefix = result.plan.vessel_labware + ":"
    for op_id, _action, _device, kind, _t, data in log:
        if ops.get(op_id) is None:
            continue
        for row in data.get("channels", ()):
            if kind == "aspirate":
                held[row["channel"]] = stock_at[row["at"]]
            elif kind == "dispense" and row["at"].startswith(prefix):
                out[row["at"][len(prefix) :]][held[row["channel"]]] += row["uL"]
    return out


def wells_of(rows: str, columns: range) -> list[tuple[int, int]]:
    return [(r, c) for r in range(len(rows)) for c in columns]


# --------------------------------------------------------------------------- the 8 × 12 grid


def test_an_8_by_12_two_library_grid_places_20_source_wells_and_fills_every_well(tmp_path):
    path = HTE / "grid_8x12.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = checked(path)
    plan = result.plan

    # one building-block well per library member: 8 aldehydes + 12 isocyanides
    block_stocks = [s for s in plan.stocks if s.location.startswith("building_blocks:")]
    assert len(block_stocks) == 20
    assert len({s.substance for s in block_stocks}) == 20
    assert any("'isocyanide'" in w and "+" in w for w in plan.warnings)

    # expected from the YAML: µL = equiv × scale µmol / stock M
    umol = float(doc["scale"]["amount"].split()[0])
    conc = {
        rid: float(r["stock"]["concentration"].split()[0]) for rid, r in doc["reagents"].items()
    }
    equiv = {s["add"]["reagent"]: float(s["add"]["equiv"]) for s in doc["steps"] if "add" in s}
    aldehydes = [i["name"] for i in doc["libraries"]["aldehydes"]["items"]]
    isocyanides = [i["name"] for i in doc["libraries"]["isocyanides"]["items"]]
    names = {rid: r.get("name") for rid, r in doc["reagents"].items()}
    expected: dict[str, dict[str, float]] = {}
    for row, letter in enumerate("ABCDEFGH"):
        for column in range(1, 13):
            expected[f"{letter}{column}"] = {
                names["amine"]: equiv["amine"] * umol / conc["amine"],
                aldehydes[row]: equiv["aldehyde"] * umol / conc["aldehyde"],
                isocyanides[column - 1]: equiv["isocyanide"] * umol / conc["isocyanide"],
                names["acid"]: equiv["acid"] * umol / conc["acid"],
            }

    got = delivered(result, simulate(result, tmp_path))
    assert set(got) == set(expected)
    for well, per in expected.items():
        assert set(got[well]) == set(per), well
        for substance, ul in per.items():
            assert got[well][substance] == pytest.approx(ul, abs=1e-6), (well, substance)

    # stocks per member: each isocyanide well holds its 8 reactions' volume plus dead volume
    for stock in block_stocks:
        if stock.substance in isocyanides:
            assert stock.volume_uL == pytest.approx(8 * 120.0 + stock.dead_volume_uL)
