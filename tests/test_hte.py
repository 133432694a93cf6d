"""HTE plates (issue 16): combinatorial grids, condition screens and reagent forms.

Every expected amount here is computed from the protocol's YAML text with plain arithmetic, never
from the compiler's own numbers; runs are simulated and checked from the device log (what each
channel aspirated where, and dispensed where).
"""

from __future__ import annotations

import subprocess
import sys
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


def assert_delivered(result, tmp_path: Path, expected: dict[str, dict[str, float]]) -> None:
    """Simulate the plan and compare what reached each reaction well (from the device log) with
    ``expected`` (well → substance → µL, recomputed from the protocol by the test), to 1 nL."""
    got = delivered(result, simulate(result, tmp_path))
    assert set(got) == set(expected)
    for well, per in expected.items():
        assert set(got[well]) == set(per), well
        for substance, ul in per.items():
            assert got[well][substance] == pytest.approx(ul, abs=1e-6), (well, substance)


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

    assert_delivered(result, tmp_path, expected)

    # stocks per member: each isocyanide well holds its 8 reactions' volume plus dead volume
    for stock in block_stocks:
        if stock.substance in isocyanides:
            assert stock.volume_uL == pytest.approx(8 * 120.0 + stock.dead_volume_uL)


# --------------------------------------------------------------------------- wells: on every step


def test_a_solvent_screen_gives_each_block_its_own_solvent_and_quenches_a_subset(tmp_path):
    path = HTE / "solvent_screen.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = checked(path)

    def block(selection: str) -> set[str]:
        (c0, c1) = (int(part[1:]) for part in selection.split(":"))
        return {f"{r}{c}" for r in "ABCDEFGH" for c in range(c0, c1 + 1)}

    umol = 50.0  # scale.amount
    solvent_of: dict[str, str] = {}
    quenched: set[str] = set()
    for step in doc["steps"]:
        if "add_solvent" in step:
            for well in block(step["add_solvent"]["wells"]):
                solvent_of[well] = step["add_solvent"]["solvent"]
        if "quench" in step:
            quenched = block(step["quench"]["wells"])
    assert len(solvent_of) == 96 and len(quenched) == 48
    # DIPEA neat: C8H19N 129.247 g/mol, 0.742 g/mL (Sigma-Aldrich D125806)
    dipea_ul = 2.0 * umol * 129.247 / 0.742 / 1000.0

    got = delivered(result, simulate(result, tmp_path))
    assert len(got) == 96
    for well, per in got.items():
        want = {
            "1-methyl-1,4-diazepane": 1.0 * umol / 1.0,
            "N,N-diisopropylethylamine": dipea_ul,
            solvent_of[well]: 400.0,
            "benzyl bromide": 1.05 * umol / 1.0,
        }
        if well in quenched:
            want["saturated aqueous ammonium chloride"] = 200.0
        assert set(per) == set(want), well
        for substance, ul in want.items():
            assert per[substance] == pytest.approx(ul, abs=2e-3), (well, substance)
    # the plan's well table records each well's solvent
    assert set(result.plan.wells["B5"].reagents) >= {"solvent:DMF"}
    assert "solvent:MeCN" not in result.plan.wells["B5"].reagents


def test_sample_takes_only_the_wells_it_names(tmp_path):
    base = REPO / "tests" / "data" / "protocols" / "examples" / "michael_ot2.yaml"
    text = base.read_text(encoding="utf-8").replace(
        "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
        "  - hold: {duration: 2 h, temperature: 25 degC}\n"
        "  - sample: {volume: 10 uL, into: sample_plate, at: [1 h], wells: [A1, C2, H3]}\n",
    )
    text = text.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    path = tmp_path / "sampled.yaml"
    path.write_text(text, encoding="utf-8")
    result = checked(path)
    sampled = [w for op in result.plan.operations if op.op == "sample" for w in op.wells]
    assert sorted(sampled) == ["A1", "C2", "H3"]


def test_step_wells_outside_the_reaction_wells_are_listed_with_a_count(tmp_path):
    text = (HTE / "solvent_screen.yaml").read_text(encoding="utf-8")
    text = text.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    text = text.replace(
        "vessels:\n  labware: reaction_block\n  wells: A1:H12",
        "vessels:\n  labware: reaction_block\n  wells: A1:H2",
    )
    path = tmp_path / "screen.yaml"
    path.write_text(text, encoding="utf-8")
    result = check(str(path))
    df112 = [d for d in result.diagnostics if d.code == "DF112"]
    # the DMF block A4:H6 is 24 wells outside A1:H2: six named, "and 18 more"
    assert any(d.message.startswith("well(s) A4, B4, C4, D4, E4, F4 and 18 more") for d in df112)


# --------------------------------------------------------------------------- reagent forms

# Standard atomic weights (IUPAC 2021, abridged) for recomputing molar masses by hand.
ATOMIC = {"C": 12.011, "H": 1.008, "N": 14.007, "O": 15.999, "F": 18.998, "Na": 22.990}


def molar_mass(**atoms: int) -> float:
    return sum(ATOMIC[element] * n for element, n in atoms.items())


def with_deck(path: Path, tmp_path: Path, edits: tuple[tuple[str, str], ...] = ()) -> Path:
    """A copy of a protocol with its relative deck path made absolute, and ``edits`` applied."""
    text = path.read_text(encoding="utf-8").replace(
        "../../../../deck_layouts/", str(REPO / "deck_layouts") + "/"
    )
    text = text.replace("deck: ../deck_layouts/", f"deck: {REPO / 'deck_layouts'}/")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    out = tmp_path / path.name
    out.write_text(text, encoding="utf-8")
    if (path.parent / "libraries").is_dir():
        (tmp_path / "libraries").symlink_to(path.parent / "libraries")
    return out


def test_reagents_by_mass_concentration_density_purity_normality_and_member_stock(tmp_path):
    path = HTE / "reagent_forms.yaml"
    result = checked(path)
    umol = 50.0
    acid_ul = {
        "benzoic acid": umol / 0.5,
        "phenylacetic acid": umol / 0.25,
        # 70.05 mg/mL of C7H5FO2
        "4-fluorobenzoic acid": umol / (70.05 / molar_mass(C=7, H=5, F=1, O=2)),
    }
    acid_of_column = ["benzoic acid", "phenylacetic acid", "4-fluorobenzoic acid"]
    nmm_ul = 3.0 * umol * molar_mass(C=5, H=11, N=1, O=1) / 1000.0 / 0.92  # density from YAML
    benzylamine_m = 107.15 / molar_mass(C=7, H=9, N=1)  # mg/mL over g/mol
    amine_ul = 1.1 * umol / benzylamine_m
    dipea_ul = 1.0 * umol * molar_mass(C=8, H=19, N=1) / 1000.0 / 0.742 / 0.99  # 99 %
    naoh_ul = 2.0 * umol / 0.4  # 0.4 N NaOH: 0.4 mol/L

    got = delivered(result, simulate(result, tmp_path))
    assert len(got) == 24
    for well, per in got.items():
        acid = acid_of_column[int(well[1:]) - 1]
        before_top_up = acid_ul[acid] + nmm_ul + amine_ul + dipea_ul
        want = {
            acid: acid_ul[acid],
            "N-methylmorpholine": nmm_ul,
            "benzylamine": amine_ul,
            "N,N-diisopropylethylamine": dipea_ul,
            "DMF": umol / 0.1 - before_top_up,  # to_concentration 0.1 M: 500 µL in all
            "sodium hydroxide": naoh_ul,
        }
        assert set(per) == set(want), well
        for substance, ul in want.items():
            assert per[substance] == pytest.approx(ul, rel=1e-3), (well, substance)
    # HATU by mass: 22.8 mg into every well, weighed by hand
    powder = [op for op in result.plan.operations if op.op == "dispense_powder"]
    assert [mg for op in powder for mg in op.mg] == [22.8] * 24
    hatu_umol = 22.8 * 1000.0 / (molar_mass(C=10, H=15, N=6, O=1) + 144.964)  # + PF6- 144.964
    assert result.plan.wells["A1"].reagents["hatu"].umol == pytest.approx(hatu_umol, rel=1e-3)
    # the stock list: per-member concentrations, DIPEA's purity said
    stocks = {(s.reagent, s.location): s for s in result.plan.stocks}
    assert stocks[("acid", "building_blocks:A2")].concentration_M == pytest.approx(0.25)
    dipea = next(s for s in result.plan.stocks if s.reagent == "dipea")
    assert dipea.purity == pytest.approx(0.99)


def test_nah_as_a_60_percent_dispersion_is_dosed_for_the_nah_it_holds(tmp_path):
    path = with_deck(
        REPO / "workflows" / "ugi_diazepanone.yaml",
        tmp_path,
        (
            (
                "    mw: 40.0            # g of dispersion per mol NaH (24.00 / 0.60): 2.4 mg per vial\n",
                "    purity: 60 %        # a dispersion in mineral oil\n",
            ),
        ),
    )
    result = checked(path)
    # 1.2 equiv of the 50 µmol adduct, NaH 23.998 g/mol, 60 % of the weighed mass is NaH
    want_mg = 1.2 * 50.0 * molar_mass(Na=1, H=1) / 1000.0 / 0.60
    doses = [
        mg
        for op in result.plan.operations
        if op.op == "dispense_powder" and op.reagent == "nah"
        for mg in op.mg
    ]
    assert len(doses) == 88
    assert doses == pytest.approx([want_mg] * 88, rel=1e-4)
    nah = next(s for s in result.plan.stocks if s.reagent == "nah")
    assert nah.purity == pytest.approx(0.60)
    assert nah.weigh_mg == pytest.approx(88 * want_mg, rel=1e-4)
    assert result.plan.wells["A1"].reagents["nah"].umol == pytest.approx(60.0)


def test_a_commercial_solution_used_as_supplied_is_never_weighed(tmp_path):
    result = checked(HTE / "boc_removal_supplied.yaml")
    hcl = next(s for s in result.plan.stocks if s.reagent == "hcl")
    assert hcl.form == "supplied" and hcl.weigh_mg is None and hcl.solvent_uL is None
    per_well = 10 * 50.0 / 4.0  # 10 equiv of 50 µmol from 4 M
    assert result.plan.wells["C4"].reagents["hcl"].uL == pytest.approx(per_well)
    assert hcl.volume_uL == pytest.approx(48 * per_well + hcl.dead_volume_uL)
    out = subprocess.run(
        [sys.executable, "-m", "diazflow.cli", "compile", str(HTE / "boc_removal_supplied.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "hydrogen chloride (4 M in 1,4-dioxane)" in out and "use as supplied" in out


@pytest.mark.parametrize(
    ("edit", "code", "where"),
    [
        # density on a stock: it changes nothing
        (
            (
                "    stock: {concentration: 0.4 N, solvent: water}\n",
                "    stock: {concentration: 0.4 N, solvent: water}\n    density: 1.0 g/mL\n",
            ),
            "DF119",
            "'density' is for a neat liquid",
        ),
        # a density far from the property data: the given one is used, with a warning
        (
            (
                "    neat: true\n    purity: 99 %\n",
                "    neat: true\n    purity: 99 %\n    density: 0.95 g/mL\n",
            ),
            "DF320",
            "differs from the property data",
        ),
        # more than 100 %
        (("    purity: 99 %\n", "    purity: 101 %\n"), "DF205", "purity"),
        # NMM neat without a density: DF307 says how to give one
        (
            ("    density: 0.92 g/mL          # not in the property data: from the bottle\n", ""),
            "DF307",
            "density:",
        ),
        # a volume written as an amount: DF202 points at 'volume:'
        (
            (
                "  - add: {reagent: hatu, amount: 22.8 mg}\n",
                "  - add: {reagent: amine, amount: 0.05 mL}\n",
            ),
            "DF202",
            "volume: 0.05 mL",
        ),
    ],
)
def test_each_inconsistent_reagent_form_has_its_diagnostic(tmp_path, edit, code, where):
    path = with_deck(HTE / "reagent_forms.yaml", tmp_path, (edit,))
    result = check(str(path))
    found = [d for d in result.diagnostics if d.code == code]
    assert found, [str(d) for d in result.diagnostics]
    assert any(where in f"{d.message} {d.hint}" or where in str(d) for d in found)


def test_a_base_by_catalyst_screen_with_more_liquids_than_troughs(tmp_path):
    path = HTE / "base_catalyst_screen.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = checked(path)
    umol = 20.0
    names = {rid: r["name"] for rid, r in doc["reagents"].items()}
    conc = {
        rid: float(r["stock"]["concentration"].split()[0]) for rid, r in doc["reagents"].items()
    }

    def cells(selection: str) -> set[str]:
        a, b = selection.split(":")
        return {
            f"{r}{c}"
            for r in "ABCDEFGH"[ord(a[0]) - 65 : ord(b[0]) - 64]
            for c in range(int(a[1:]), int(b[1:]) + 1)
        }

    expected: dict[str, dict[str, float]] = defaultdict(dict)
    for step in doc["steps"]:
        add = step.get("add")
        if add is None:
            continue
        wells = cells(add["wells"]) if "wells" in add else cells("A1:H12")
        for well in wells:
            expected[well][names[add["reagent"]]] = add["equiv"] * umol / conc[add["reagent"]]
    for per in expected.values():
        per["1,4-dioxane"] = umol / 0.1 - sum(per.values())  # to_concentration 0.1 M
    assert len(expected) == 96

    assert_delivered(result, tmp_path, expected)
    # nine common liquids, eight troughs: one went to a building-block column, one well per row
    on_block = [s for s in result.plan.stocks if s.location.startswith("building_blocks:")]
    assert len(on_block) == 8 and len({s.reagent for s in on_block}) == 1


def test_an_unquoted_bracket_smiles_in_a_flow_mapping_gets_a_quoting_hint(tmp_path):
    path = tmp_path / "nah.yaml"
    path.write_text(
        "diazflow: 1\nname: x\nreagents:\n"
        "  nah: {name: sodium hydride, smiles: [Na+].[H-], solid: {dispense: powder}}\n",
        encoding="utf-8",
    )
    result = check(str(path))
    df100 = [d for d in result.diagnostics if d.code == "DF100"]
    assert len(df100) == 1 and df100[0].line == 4
    assert df100[0].hint == 'quote SMILES: smiles: "[Na+].[H-]"'


# --------------------------------------------------------------------------- warning control


def test_warnings_are_selected_ignored_promoted_or_acknowledged_with_a_reason(tmp_path):
    from diazflow.diagnostics import WarningPolicy

    path = with_deck(HTE / "solvent_screen.yaml", tmp_path)
    plain = check(str(path))
    assert {d.code for d in plain.diagnostics} == {"DF304"} and plain.plan is not None

    ignored = check(str(path), warnings=WarningPolicy(ignore=("DF304",)))
    assert ignored.diagnostics == () and ignored.plan is not None
    selected = check(str(path), warnings=WarningPolicy(select=("DF6",)))
    assert selected.diagnostics == ()
    promoted = check(str(path), warnings=WarningPolicy(as_errors=("DF304",)))
    assert promoted.diagnostics and all(d.is_error for d in promoted.diagnostics)
    assert promoted.plan is None and not promoted.ok

    text = path.read_text(encoding="utf-8") + (
        "\nsettings:\n  acknowledge: {DF304: glass troughs in use for THF and toluene}\n"
    )
    path.write_text(text, encoding="utf-8")
    acknowledged = check(str(path))
    assert acknowledged.diagnostics == () and acknowledged.plan is not None
    assert {a.diagnostic.code for a in acknowledged.acknowledged} == {"DF304"}
    assert {a.reason for a in acknowledged.acknowledged} == {
        "glass troughs in use for THF and toluene"
    }
    # a promotion asked for on the command line outranks the file's acknowledgement
    gated = check(str(path), warnings=WarningPolicy(as_errors=("DF",)))
    assert gated.plan is None and {d.code for d in gated.diagnostics} == {"DF304"}
