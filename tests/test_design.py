"""Designs (issues 16 and 20): condition screens by factors, and conditions tables as optimisers
write them, expanded into plain steps with ``wells:``.

Expected amounts are computed here from the protocol's YAML and the conditions CSV with plain
arithmetic (equivalents × the limiting reagent's amount, µmol / stock molarity), never from the
compiler's numbers; the wells of a level come from a small rectangle reader of this file's own.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diazflow.diagnostics import Severity, format_text
from diazflow.language.loader import load_protocol
from diazflow.pipeline import check

REPO = Path(__file__).resolve().parents[1]
DESIGN = REPO / "tests" / "data" / "protocols" / "design"
EXAMPLE = REPO / "tests" / "data" / "protocols" / "examples" / "design_screen.yaml"
ROWS = "ABCDEFGH"


def rectangle(text: str) -> set[str]:
    """``A1:D12`` → the wells of the rectangle (the test's own reading of a range)."""
    first, _, last = text.partition(":")
    last = last or first
    r0, r1 = ROWS.index(first[0]), ROWS.index(last[0])
    c0, c1 = int(first[1:]), int(last[1:])
    return {f"{ROWS[r]}{c}" for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}


def checked(path: Path):
    result = check(str(path))
    errors = [d for d in result.diagnostics if d.is_error]
    assert result.plan is not None and not errors, format_text(errors)
    return result


def simulate(result, tmp_path: Path):
    """Run the plan on the simulated deck; the journal's device log and its stored plan."""
    from diazflow.runtime.journal import Journal
    from diazflow.runtime.runner import run_plan

    outcome = run_plan(result, journal_path=str(tmp_path / "run.sqlite"), quiet=True)
    assert outcome.exit_code == 0, outcome.message
    journal = Journal.open(outcome.journal_path, read_only=True)
    try:
        return journal.device_log(), json.loads(journal.info().plan_json), outcome.journal_path
    finally:
        journal.close()


def delivered(plan, log) -> dict[str, dict[str, float]]:
    """Reaction well → substance → µL, following each channel from the stock it aspirated (the
    plan's stock list says what is where) to the reaction well it dispensed into."""
    stock_at = {s["location"]: s["substance"] for s in plan["stocks"]}
    held: dict[int, str] = {}
    out: dict[str, dict[str, float]] = {}
    prefix = plan["vessel_labware"] + ":"
    for _op, _action, _device, kind, _t, data in log:
        for row in data.get("channels", ()):
            if kind == "aspirate":
                held[row["channel"]] = stock_at[row["at"]]
            elif kind == "dispense" and row["at"].startswith(prefix):
                well = out.setdefault(row["at"][len(prefix) :], {})
                well[held[row["channel"]]] = well.get(held[row["channel"]], 0.0) + row["uL"]
    return out


# --------------------------------------------------------------------------- factors


def test_a_solvent_by_base_screen_expands_to_per_well_amounts_and_conditions(tmp_path):
    path = DESIGN / "solvent_base_screen.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    limiting_umol = 50.0  # scale.amount
    assert doc["scale"]["amount"] == "50 umol"
    base_levels = {
        label: (rectangle(level["wells"]), level["value"])
        for label, level in doc["design"]["factors"]["base"].items()
    }
    solvent_levels = {
        label: rectangle(wells) for label, wells in doc["design"]["factors"]["solvent"].items()
    }
    names = {rid: r["name"] for rid, r in doc["reagents"].items()}
    result = checked(path)
    wells = result.plan.wells
    assert len(wells) == 96
    for well, wp in wells.items():
        (base,) = [label for label, (ws, _) in base_levels.items() if well in ws]
        (solvent,) = [label for label, ws in solvent_levels.items() if well in ws]
        rid = base_levels[base][1]
        other = {"dbu", "tea"} - {rid}
        # 2.0 equiv of the 50 µmol limiting reagent, from a 1.0 M stock: 100 µmol in 100 µL
        assert wp.reagents[rid].umol == pytest.approx(2.0 * limiting_umol)
        assert wp.reagents[rid].uL == pytest.approx(2.0 * limiting_umol / 1.0)
        assert not other & set(wp.reagents)
        assert wp.reagents[f"solvent:{solvent}"].uL == pytest.approx(300.0)
        assert [k for k in wp.reagents if k.startswith("solvent:")] == [f"solvent:{solvent}"]
        # the benzyl bromide and the amine go everywhere: 1.05 and 1.0 equiv
        assert wp.reagents["bnbr"].umol == pytest.approx(1.05 * limiting_umol)
        assert wp.reagents["diazepane"].umol == pytest.approx(limiting_umol)
        assert wp.condition_id == f"{base}/{solvent}"
        assert wp.conditions == {"base": base, "solvent": solvent}
    log, stored_plan, _ = simulate(result, tmp_path)
    got = delivered(stored_plan, log)
    for ws, rid in base_levels.values():
        for well in ws:
            assert got[well][names[rid]] == pytest.approx(2.0 * limiting_umol, abs=0.01)
    for label, ws in solvent_levels.items():
        for well in ws:
            assert got[well][label] == pytest.approx(300.0, abs=0.01)
    assert stored_plan["wells"]["A1"]["condition_id"] == "DBU/MeCN"


def test_a_plan_without_a_design_has_no_condition_fields():
    result = checked(REPO / "tests" / "data" / "protocols" / "hte" / "solvent_screen.yaml")
    text = result.plan.to_json()
    assert all(w.condition_id is None and w.conditions is None for w in result.plan.wells.values())
    assert "condition_id" not in text


def test_two_factors_in_one_step_expand_per_combination(tmp_path):
    """A step naming two factors becomes one step per combination of levels that has wells."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "    solvent: {MeCN: A1:H1, DMF: A2:H2}\n",
        '    solvent: {MeCN: A1:H1, DMF: A2:H2}\n    equiv: {"1.5": A1:H1, "2.5": A2:H2}\n',
    )
    text = text.replace("{factor: base}, equiv: 2.0}", "{factor: base}, equiv: {factor: equiv}}")
    text = text.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_protocol(str(path)).loaded
    assert loaded is not None
    base_steps = [
        s.add for s in loaded.protocol.steps if s.kind == "add" and s.add.reagent in ("dbu", "tea")
    ]
    # 2 bases x 2 equivalents, each on a quarter of the 16 wells
    assert [(s.reagent, s.equiv.value, [w.name for w in s.wells]) for s in base_steps] == [
        ("dbu", 1.5, ["A1", "B1", "C1", "D1"]),
        ("dbu", 2.5, ["A2", "B2", "C2", "D2"]),
        ("tea", 1.5, ["E1", "F1", "G1", "H1"]),
        ("tea", 2.5, ["E2", "F2", "G2", "H2"]),
    ]
    # every expanded step is placed at the line of the step it came from
    line = text.splitlines().index("  - add: {reagent: {factor: base}, equiv: {factor: equiv}}")
    first = loaded.protocol.steps.index(
        next(s for s in loaded.protocol.steps if s.kind == "add" and s.add.reagent == "dbu")
    )
    assert {loaded.step_line(first + k) for k in range(4)} == {line + 1}
    result = checked(path)
    for well, wp in result.plan.wells.items():
        equiv = 1.5 if well.endswith("1") else 2.5
        rid = "dbu" if well[0] in "ABCD" else "tea"
        assert wp.reagents[rid].umol == pytest.approx(equiv * 50.0)
        assert wp.conditions == {
            "base": rid,
            "solvent": "MeCN" if well.endswith("1") else "DMF",
            "equiv": "1.5" if well.endswith("1") else "2.5",
        }


def test_a_block_wide_factor_with_one_level_on_the_plate_is_that_value(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "    solvent: {MeCN", '    temp: {"40 degC": A1:H2}\n    solvent: {MeCN'
    )
    text = text.replace("temperature: rt}", "temperature: {factor: temp}}")
    text = text.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    path = tmp_path / "one_level.yaml"
    path.write_text(text, encoding="utf-8")
    result = checked(path)
    temperatures = {
        op.celsius for op in result.plan.operations if type(op).__name__ == "SetTemperature"
    }
    assert 40.0 in temperatures


# --------------------------------------------------------------------------- conditions tables


def read_table(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_baybe_style_table_fills_wells_in_reading_order_and_round_trips(tmp_path):
    """Table in → validate → compile → simulate → the journal's plan keys each well by its
    condition_id, with the base at that condition's equivalents."""
    path = DESIGN / "baybe_table.yaml"
    rows = read_table(DESIGN / "baybe_conditions.csv")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    reagent_of = doc["design"]["values"]["base"]
    assert (
        subprocess.run(
            [sys.executable, "-m", "diazflow", "validate", str(path)], capture_output=True
        ).returncode
        == 0
    )
    result = checked(path)
    log, stored, _journal = simulate(result, tmp_path)
    got = delivered(stored, log)
    wells_in_order = [f"A{i}" for i in range(1, 9)]  # vessels A1:A8, reading order
    for well, row in zip(wells_in_order, rows, strict=True):
        wp = stored["wells"][well]
        assert wp["condition_id"] == row["condition_id"]
        assert wp["conditions"] == {k: v for k, v in row.items() if k != "condition_id"}
        rid = reagent_of[row["base"]]
        umol = float(row["base_equiv"]) * 50.0
        assert wp["reagents"][rid]["umol"] == pytest.approx(umol)
        name = doc["reagents"][rid]["name"]
        assert got[well][name] == pytest.approx(umol / 1.0, abs=0.01)  # 1.0 M stock
        assert got[well][row["solvent"]] == pytest.approx(300.0, abs=0.01)
    # the constant temperature column became the stir's temperature
    assert {
        op.celsius for op in result.plan.operations if type(op).__name__ == "SetTemperature"
    } == {float(rows[0]["temperature"])}


def test_an_edbo_style_table_with_wells_and_objective_columns():
    path = DESIGN / "edbo_table.yaml"
    rows = read_table(DESIGN / "edbo_conditions.csv")
    result = checked(path)
    assert not [d for d in result.diagnostics if d.code == "DF127"]
    assert sorted(result.plan.wells) == sorted(r["well"] for r in rows)
    for row in rows:
        wp = result.plan.wells[row["well"]]
        assert wp.condition_id == row["condition_id"]
        assert wp.conditions == {
            "solvent": row["solvent"],
            "base": row["base"],
            "base_equiv": row["base_equiv"],
        }
        rid = {"DBU": "dbu", "TEA": "tea"}[row["base"]]
        assert wp.reagents[rid].umol == pytest.approx(float(row["base_equiv"]) * 50.0)


def test_a_table_smaller_than_the_plate_uses_only_its_wells(tmp_path):
    work = tmp_path / "p"
    work.mkdir()
    text = (DESIGN / "baybe_table.yaml").read_text(encoding="utf-8")
    text = text.replace("wells: A1:A8", "wells: A1:H12")
    text = text.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    (work / "p.yaml").write_text(text, encoding="utf-8")
    shutil.copy(DESIGN / "baybe_conditions.csv", work)
    result = checked(work / "p.yaml")
    assert sorted(result.plan.wells) == sorted(f"A{i}" for i in range(1, 9))


# --------------------------------------------------------------------------- diagnostics

FACTOR_DESIGN = "design:\n  factors:\n    base: {dbu: A1:D2, tea: E1:H2}\n    solvent: {MeCN: A1:H1, DMF: A2:H2}\n"
TABLE_DESIGN = "design:\n  table: conditions.csv\n  values: {base: {DBU: dbu, TEA: tea}}\n"
BASE_EQUIV = (
    "{factor: base}, equiv: 2.0}",
    "{factor: base}, equiv: {factor: base_equiv}}",
)


def variant(tmp_path: Path, edits, table: str | None = None) -> tuple[Path, str]:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    if table is not None:
        text = text.replace(FACTOR_DESIGN, TABLE_DESIGN)
        (tmp_path / "conditions.csv").write_text(table, encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "screen.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def position(text: str, needle: str) -> tuple[int, int]:
    index = text.index(needle)
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


def only(result, code: str):
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, format_text(result.diagnostics)
    return found[0]


def test_the_example_base_is_valid_without_warnings():
    result = check(str(EXAMPLE))
    assert result.plan is not None and result.diagnostics == (), format_text(result.diagnostics)


def test_df120_an_undeclared_factor_with_a_suggestion(tmp_path):
    path, text = variant(tmp_path, [("{factor: base}, equiv", "{factor: bases}, equiv")])
    d = only(check(str(path)), "DF120")
    assert (d.line, d.column) == position(text, "bases}")
    assert "'bases'" in d.message and "did you mean 'base'" in d.hint


def test_df121_uncovered_wells_are_named(tmp_path):
    path, text = variant(tmp_path, [("tea: E1:H2}", "tea: E1:G2}")])
    d = only(check(str(path)), "DF121")
    assert d.line == position(text, "{factor: base}")[0]
    assert "2 of the 16" in d.message and "H1, H2" in d.message


def test_df122_a_well_in_two_levels(tmp_path):
    path, text = variant(tmp_path, [("tea: E1:H2}", "tea: D1:H2}")])
    d = only(check(str(path)), "DF122")
    assert (d.line, d.column) == position(text, "tea: D1")
    assert "D1, D2" in d.message


def test_df123_a_block_temperature_differing_within_a_table_names_the_conditions(tmp_path):
    table = "condition_id,base,solvent,temp\nc1,DBU,MeCN,25 degC\nc2,TEA,DMF,25 degC\nc3,DBU,DMF,60 degC\n"
    path, text = variant(
        tmp_path, [("temperature: rt}", "temperature: {factor: temp}}")], table=table
    )
    d = only(check(str(path)), "DF123")
    assert d.file.endswith("screen.yaml") and d.line == position(text, "{factor: temp}")[0]
    assert "'25 degC' (conditions c1, c2)" in d.message
    assert "'60 degC' (conditions c3)" in d.message
    assert "temperature, time and shaking are the block's" in d.message


def test_df123_a_factor_on_a_stir_duration_in_a_factor_design(tmp_path):
    path, _ = variant(
        tmp_path,
        [
            ("duration: 4 h,", "duration: {factor: base},"),
        ],
    )
    d = only(check(str(path)), "DF123")
    assert "stir.duration" in d.message and "'dbu', 'tea'" in d.message


@pytest.mark.parametrize(
    ("table", "line", "fragment"),
    [
        (
            "condition_id,base,solvent\nc1,DBU,MeCN\nc2,TEA,DMF\nc2,DBU,DMF\n",
            4,
            "'c2' is given twice (line 3)",
        ),
        ("id,base,solvent\nc1,DBU,MeCN\n", 1, "no 'condition_id' column"),
        ("condition_id,base,solvent\nc1,DBU,MeCN,extra\n", 2, "the row has 4 fields, the header 3"),
        (
            "condition_id,well,base,solvent\nc1,A1,DBU,MeCN\nc2,A1,TEA,DMF\n",
            3,
            "well A1 is given twice",
        ),
        ("condition_id,well,base,solvent\nc1,Z9,DBU,MeCN\n", 2, "Z9 is not a reaction well"),
        ("condition_id,base,solvent\n,DBU,MeCN\n", 2, "without a condition_id"),
        ("condition_id,base,solvent\nc1,DBU,MeCN\nc2,D\x00BU,DMF\n", 3, "contains NUL bytes"),
    ],
)
def test_df124_conditions_table_problems_at_the_csv_line(tmp_path, table, line, fragment):
    path, _ = variant(tmp_path, [], table=table)
    d = only(check(str(path)), "DF124")
    assert d.file.endswith("conditions.csv") and (d.line, d.column) == (line, 1)
    assert fragment in d.message


def test_df124_a_table_that_is_not_utf8_names_the_line_and_byte(tmp_path):
    path, _ = variant(tmp_path, [], table="")
    raw = b"condition_id,base,solvent\nc1,DBU,MeCN\nc2,TEA,DMF\nc3,K\xe9,DMF\n"  # Latin-1 'é'
    (path.parent / "conditions.csv").write_bytes(raw)
    d = only(check(str(path)), "DF124")
    assert d.file.endswith("conditions.csv") and d.line == 4
    assert f"not UTF-8 text (invalid continuation byte at byte {raw.index(0xE9)})" in d.message


def test_df124_a_missing_table_is_reported_at_the_protocol(tmp_path):
    path, text = variant(tmp_path, [("table: conditions.csv", "table: missing.csv")], table="")
    d = only(check(str(path)), "DF124")
    assert d.file.endswith("screen.yaml") and (d.line, d.column) == position(text, "missing.csv\n")


def test_df125_more_conditions_than_wells_with_counts(tmp_path):
    table = "condition_id,base,solvent\n" + "".join(f"c{i},DBU,MeCN\n" for i in range(17))
    path, _ = variant(tmp_path, [], table=table)
    d = only(check(str(path)), "DF125")
    assert "17 conditions for 16 reaction wells" in d.message


def test_df126_wells_cannot_be_a_factor(tmp_path):
    path, text = variant(
        tmp_path, [("volume: 300 uL}", "volume: 300 uL, wells: {factor: solvent}}")]
    )
    d = only(check(str(path)), "DF126")
    assert (d.line, d.column) == position(text, "{factor: solvent}}")


def test_df127_a_factor_no_step_uses_warns_and_the_plate_still_compiles(tmp_path):
    path, text = variant(
        tmp_path,
        [("    solvent: {MeCN", "    stirring: {slow: A1:H1, fast: A2:H2}\n    solvent: {MeCN")],
    )
    result = check(str(path))
    d = only(result, "DF127")
    assert d.severity is Severity.WARNING and (d.line, d.column) == position(text, "stirring:")
    assert result.plan is not None
    assert result.plan.wells["A1"].conditions == {
        "base": "dbu",
        "stirring": "slow",
        "solvent": "MeCN",
    }


def test_df128_a_level_the_field_refuses_is_named_at_its_csv_row(tmp_path):
    table = "condition_id,base,solvent,base_equiv\nc1,DBU,MeCN,2.0\nc2,TEA,DMF,two\n"
    path, _ = variant(tmp_path, [BASE_EQUIV], table=table)
    d = only(check(str(path)), "DF128")
    assert d.file.endswith("conditions.csv") and d.line == 3
    assert "level 'two' of factor 'base_equiv'" in d.message and "c2" in d.message


def test_df128_a_bare_number_as_a_volume_level_in_a_factor_design(tmp_path):
    path, text = variant(
        tmp_path,
        [
            ("volume: 300 uL}", "volume: {factor: volume}}"),
            (
                "    solvent: {MeCN",
                '    volume: {"300": A1:H1, "200 uL": A2:H2}\n    solvent: {MeCN',
            ),
        ],
    )
    d = only(check(str(path)), "DF128")
    assert (d.line, d.column) == position(text, '"300"')
    assert "has no unit" in d.message


def test_df528_a_condition_below_the_smallest_tip_is_named_at_its_row(tmp_path):
    table = "condition_id,base,solvent,base_equiv\nc1,DBU,MeCN,2.0\nc2,TEA,DMF,0.01\n"
    path, _ = variant(tmp_path, [BASE_EQUIV], table=table)
    d = only(check(str(path)), "DF528")
    assert d.file.endswith("conditions.csv") and d.line == 3
    # 0.01 equiv × 50 µmol = 0.5 µmol of a 1.0 M stock: 0.5 µL, below the STARlet's 1 µL tips
    assert "condition c2" in d.message and "0.50 µL of triethylamine" in d.message


def test_df529_a_condition_that_overfills_its_well(tmp_path):
    table = "condition_id,base,solvent,solvent_volume\nc1,DBU,MeCN,300 uL\nc2,TEA,DMF,1600 uL\n"
    path, _ = variant(
        tmp_path,
        [("volume: 300 uL}", "volume: {factor: solvent_volume}}")],
        table=table,
    )
    d = only(check(str(path)), "DF529")
    assert d.file.endswith("conditions.csv") and d.line == 3
    # 50 + 100 + 1600 + 52.5 µL = 1802.5 µL in a 2 mL vial filled to 80 % at most
    assert "condition c2" in d.message and "1802 µL" in d.message


def test_a_level_naming_an_undeclared_reagent_is_reported_at_the_step(tmp_path):
    path, text = variant(
        tmp_path, [("base: {dbu: A1:D2, tea: E1:H2}", "base: {dbu: A1:D2, teaa: E1:H2}")]
    )
    result = check(str(path))
    d = only(result, "DF108")
    assert d.line == position(text, "{factor: base}")[0]


# --------------------------------------------------------------------------- the JSON Schema


def test_check_jsonschema_accepts_designs_and_refuses_a_misspelt_factor(tmp_path):
    from diazflow.language.schema import protocol_json_schema

    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(protocol_json_schema()), encoding="utf-8")
    script = Path(sys.executable).with_name("check-jsonschema")
    good = sorted(DESIGN.glob("*.yaml")) + [EXAMPLE]
    passed = subprocess.run(
        [str(script), "--schemafile", str(schema), *map(str, good)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("{factor: base}", "{factr: base}"),
        encoding="utf-8",
    )
    failed = subprocess.run(
        [str(script), "--schemafile", str(schema), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1, failed.stdout


# --------------------------------------------------------------------------- the optimiser loop


def docs_example() -> dict:
    """The Python block of docs/optimisers.md, executed as written."""
    text = (REPO / "docs" / "optimisers.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "docs/optimisers.md", "exec"), namespace)
    return namespace


def test_the_optimiser_loop_of_the_docs_round_trips_a_batch_by_condition_id(tmp_path, monkeypatch):
    """Conditions table in → validate → run (simulated) → the analyst's results → the results
    table out, keyed by condition_id, with each condition's levels."""
    loop = docs_example()
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    monkeypatch.chdir(tmp_path)
    protocol = (DESIGN / "baybe_table.yaml").read_text(encoding="utf-8")
    protocol = protocol.replace("table: baybe_conditions.csv", "table: conditions.csv")
    protocol = protocol.replace("wells: A1:A8", "wells: A1:H12")
    protocol = protocol.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    Path("screen.yaml").write_text(protocol, encoding="utf-8")
    proposals = [
        {"base": base, "solvent": solvent, "base_equiv": equiv, "temperature": 25.0}
        for base, solvent, equiv in [
            ("DBU", "MeCN", 1.5),
            ("TEA", "DMF", 2.0),
            ("DBU", "DMSO", 3.0),
            ("TEA", "MeCN", 2.5),
            ("DBU", "DMF", 1.0),
            ("TEA", "DMSO", 1.5),
        ]
    ]
    ids = loop["write_conditions"](Path("conditions.csv"), 1, proposals)
    assert ids == [f"b1-0{i}" for i in range(1, 7)]
    loop["run_batch"](Path("screen.yaml"), Path("batch1.sqlite"))
    # the analyst's LC-MS export: wells as the instrument writes them (A01), in its own order
    yields = {f"A{i}": 11.0 * i for i in range(1, 7)}  # reading order: condition i in A{i}
    Path("results.csv").write_text(
        "Well,Yield (%)\n" + "".join(f"A0{w[1:]},{y}\n" for w, y in sorted(yields.items())[::-1]),
        encoding="utf-8",
    )
    got = loop["read_results"](Path("batch1.sqlite"), Path("results.csv"), Path("out.csv"))
    assert got == {cid: 11.0 * (i + 1) for i, cid in enumerate(ids)}
    rows = read_table(Path("out.csv"))
    for row in rows:
        proposal = proposals[ids.index(row["condition_id"])]
        assert row["well"] == f"A{ids.index(row['condition_id']) + 1}"
        assert row["base"] == proposal["base"] and row["solvent"] == proposal["solvent"]
        assert float(row["base_equiv"]) == proposal["base_equiv"]
    # the journal's plan carries the ids and the amounts each condition asked for
    from diazflow.runtime.journal import Journal

    journal = Journal.open("batch1.sqlite", read_only=True)
    try:
        plan = json.loads(journal.info().plan_json)
    finally:
        journal.close()
    for i, proposal in enumerate(proposals):
        wp = plan["wells"][f"A{i + 1}"]
        rid = {"DBU": "dbu", "TEA": "tea"}[proposal["base"]]
        assert wp["condition_id"] == ids[i]
        assert wp["reagents"][rid]["umol"] == pytest.approx(proposal["base_equiv"] * 50.0)


def test_the_docs_loop_names_an_infeasible_condition_before_anything_runs(tmp_path, monkeypatch):
    loop = docs_example()
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    monkeypatch.chdir(tmp_path)
    protocol = (DESIGN / "baybe_table.yaml").read_text(encoding="utf-8")
    protocol = protocol.replace("table: baybe_conditions.csv", "table: conditions.csv")
    protocol = protocol.replace("../../../../deck_layouts/", str(REPO / "deck_layouts") + "/")
    Path("screen.yaml").write_text(protocol, encoding="utf-8")
    proposals = [
        {"base": "DBU", "solvent": "MeCN", "base_equiv": 2.0, "temperature": 25.0},
        {"base": "TEA", "solvent": "DMF", "base_equiv": 2.0, "temperature": 60.0},
    ]
    loop["write_conditions"](Path("conditions.csv"), 2, proposals)
    with pytest.raises(SystemExit) as stopped:
        loop["run_batch"](Path("screen.yaml"), Path("batch2.sqlite"))
    assert "DF123" in str(stopped.value) and "b2-02" in str(stopped.value)
    assert not Path("batch2.sqlite").exists()


def test_a_factor_without_a_design_is_df120(tmp_path):
    path, text = variant(tmp_path, [(FACTOR_DESIGN, "")])
    result = load_protocol(str(path))
    found = [d for d in result.diagnostics if d.code == "DF120"]
    # the base and the solvent step, each at its own line
    assert len(found) == 2, format_text(result.diagnostics)
    assert all("declares no design" in d.message for d in found)
    assert sorted(d.line for d in found) == [
        position(text, "{factor: base}")[0],
        position(text, "{factor: solvent}")[0],
    ]


def test_a_quench_by_factor_is_added_level_by_level_then_stirred_once(tmp_path):
    path, _ = variant(
        tmp_path,
        [
            (
                "  - stir: {duration: 4 h, temperature: rt}\n",
                "  - stir: {duration: 4 h, temperature: rt}\n  - unseal:\n"
                "  - quench: {reagent: {factor: quench}, volume: 200 uL, stir: 10 min}\n",
            ),
            ("    solvent: {MeCN", "    quench: {nh4cl: A1:D2, water: E1:H2}\n    solvent: {MeCN"),
            (
                "reagents:\n",
                "reagents:\n  nh4cl: {name: saturated aqueous ammonium chloride, stock: {solvent: water}}\n"
                "  water: {name: water, stock: {solvent: water}}\n",
            ),
        ],
    )
    loaded = load_protocol(str(path)).loaded
    assert loaded is not None
    quenches = [s.quench for s in loaded.protocol.steps if s.kind == "quench"]
    assert [(q.reagent, q.stir is not None) for q in quenches] == [
        ("nh4cl", False),
        ("water", True),
    ]
    assert quenches[-1].stir.value == 600.0
    result = checked(path)
    for well, wp in result.plan.wells.items():
        rid = "nh4cl" if well[0] in "ABCD" else "water"
        assert wp.reagents[rid].uL == pytest.approx(200.0)


def test_the_report_well_table_shows_each_wells_condition_and_levels():
    from diazflow.report import render_html, report_for

    rows = read_table(DESIGN / "baybe_conditions.csv")
    html = render_html(report_for(str(DESIGN / "baybe_table.yaml")))
    table = html[html.index('id="well-table"') :]
    table = table[: table.index("</table>")]
    assert "<th>condition</th><th>base</th><th>solvent</th><th>base_equiv</th>" in table
    for i, row in enumerate(rows, start=1):
        levels = "".join(f"<td>{row[f]}</td>" for f in ("base", "solvent", "base_equiv"))
        assert f"<tr><td>A{i}</td><td>{row['condition_id']}</td>{levels}" in table
