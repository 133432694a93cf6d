"""``diazflow export --to ord``: shipped 96-well workflows simulated into a scratch project,
exported, parsed back with protobuf and validated by ``ord_schema.validations``; the amounts are
checked against the journal's device records read here with sqlite3 (not through diazflow), the
outcomes against the results CSV.  docs/ord-export.md explains the warnings allowed below."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

# ord-schema 0.9 is for Python 3.11+: on 3.10 conftest does not collect this file, and
# test_cli_ux.py checks what `export --to ord` says there instead
from google.protobuf import text_format
from ord_schema import validations
from ord_schema.proto import dataset_pb2, reaction_pb2

from conftest import REPO

CREATOR = "Ada Lovelace <ada@example.org>"
STAB = "n4_reductive_amination_stab.yaml"  # 96 aldehydes: stocks, a powder, quench, off-deck
ALKYLATION = "n4_direct_alkylation.yaml"  # 96 halides: dropwise at 4 °C, a warm ramp, samples

# The only warnings ord_schema may give about a dataset (docs/ord-export.md, "Warnings"):
ALLOWED_WARNINGS = (
    # a reagent the protocol names without a SMILES (sat. aq. NaHCO3), and the product, whose
    # structure diazflow does not know
    "Compounds should have more specific identifiers than NAME whenever possible",
    # a well without imported results (DF545)
    "No products or conversion are specified for reaction",
)


def diazflow(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    env.pop("DIAZFLOW_ORD_CREATOR", None)
    return subprocess.run(
        [sys.executable, "-m", "diazflow", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def project(root: Path) -> Path:
    """A scratch copy of the shipped workflows, deck layouts and simulator profiles."""
    for name in ("workflows", "deck_layouts", "simulators"):
        shutil.copytree(REPO / name, root / name)
    return root


def simulate(root: Path, workflow: str, journal: str, *extra: str) -> Path:
    out = diazflow(
        "run", f"workflows/{workflow}", "--journal", journal, "--quiet", *extra, cwd=root
    )
    assert out.returncode in (0, 3), out.stderr
    return root / journal


def export(root: Path, journal: Path, output: str, *extra: str) -> subprocess.CompletedProcess:
    return diazflow(
        "export", "--to", "ord", str(journal), "-o", output, "--creator", CREATOR, *extra, cwd=root
    )


def parse_text(path: Path) -> dataset_pb2.Dataset:
    return text_format.Parse(path.read_text(encoding="utf-8"), dataset_pb2.Dataset())


def warning_kinds(warnings: list[str]) -> Counter:
    """Each warning without its position in the dataset."""
    return Counter(w.split(": ", 1)[1].split(";")[0] for w in warnings)


# --------------------------------------------------------------------------- results CSV


def results_rows() -> list[dict[str, str]]:
    """A results table for 96 wells (made up here, different per well; blanks in some cells)."""
    rows = []
    for n, well in enumerate(f"{r}{c}" for c in range(1, 13) for r in "ABCDEFGH"):
        rows.append(
            {
                "well": well,
                "conversion_pct": f"{50 + (n * 7) % 50:.1f}",
                "yield_pct": "" if n % 5 == 0 else f"{20 + (n * 3) % 70:.1f}",
                "area_pct": f"{30 + (n * 11) % 65:.1f}",
                "purity_pct": "" if n % 7 == 0 else f"{80 + n % 20:.1f}",
                "mz": f"{200.1 + n:.2f}",
                "comment": "overlapping peak" if n == 3 else "",
            }
        )
    return rows


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stab(tmp_path_factory) -> tuple[Path, Path, Path, list[dict[str, str]]]:
    """(project, journal, dataset.pbtxt, results rows): the STAB plate simulated, its results
    imported, exported."""
    root = project(tmp_path_factory.mktemp("ord-stab"))
    journal = simulate(root, STAB, "runs/stab.journal.sqlite")
    rows = results_rows()
    csv_path = root / "results.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    imported = diazflow("results", str(journal), str(csv_path), cwd=root)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    out = export(root, journal, "dataset.pbtxt")
    assert out.returncode == 0, out.stderr
    return root, journal, root / "dataset.pbtxt", rows


@pytest.fixture(scope="module")
def alkylation(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = project(tmp_path_factory.mktemp("ord-alkylation"))
    journal = simulate(root, ALKYLATION, "runs/alk.journal.sqlite")
    out = export(root, journal, "dataset.pbtxt")
    assert out.returncode == 0, out.stderr
    assert "warning DF545" in out.stdout  # no results imported
    return root, journal, root / "dataset.pbtxt"


# --------------------------------------------------------------------------- journal, read here


def device_amounts(journal: Path) -> dict[tuple[str, str], dict[str, float]]:
    """{(well, reagent): {"uL": .., "mg": .., "first": t, "last": t}} from device_log and the
    plan's operations (which reagent each operation moves), read with sqlite3 and json."""
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        plan = json.loads(conn.execute("SELECT plan_json FROM run").fetchone()[0])
        vessel = conn.execute("SELECT vessel_labware FROM run").fetchone()[0]
        rows = conn.execute(
            "SELECT op_id, kind, clock_t, data FROM device_log "
            "WHERE kind IN ('dispense', 'dispense_powder') ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    reagent = {op["id"]: op.get("reagent") for op in plan["operations"]}
    out: dict[tuple[str, str], dict[str, float]] = {}
    for op_id, kind, clock_t, data in rows:
        entries = json.loads(data)["channels" if kind == "dispense" else "doses"]
        for entry in entries:
            if not entry["at"].startswith(vessel + ":"):
                continue
            well = entry["at"].split(":", 1)[1]
            acc = out.setdefault(
                (well, reagent[op_id]), {"uL": 0.0, "mg": 0.0, "first": clock_t, "last": clock_t}
            )
            acc["uL"] += entry.get("uL", 0.0)
            acc["mg"] += entry.get("mg", 0.0)
            acc["first"] = min(acc["first"], clock_t)
            acc["last"] = max(acc["last"], clock_t)
    return out


def plan_stocks(journal: Path) -> dict[tuple[str, str], dict]:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        plan = json.loads(conn.execute("SELECT plan_json FROM run").fetchone()[0])
    finally:
        conn.close()
    return {(s["reagent"], s["substance"]): s for s in plan["stocks"]}


# --------------------------------------------------------------------------- tests


def test_the_dataset_validates_with_no_errors_and_only_the_explained_warnings(stab):
    _root, _journal, path, _rows = stab
    dataset = parse_text(path)
    assert len(dataset.reactions) == 96
    output = validations.validate_message(dataset, raise_on_error=False)
    assert output.errors == []
    kinds = warning_kinds(output.warnings)
    assert set(kinds) <= {k for k in ALLOWED_WARNINGS}, kinds
    # per reaction: the NaHCO3 quench (no SMILES in the protocol) and the product (no structure)
    assert kinds[ALLOWED_WARNINGS[0]] == 2 * 96


def test_every_wells_amounts_are_the_device_records(stab):
    _root, journal, path, _rows = stab
    dataset = parse_text(path)
    recorded = device_amounts(journal)
    stocks = plan_stocks(journal)
    checked = 0
    for reaction in dataset.reactions:
        well = reaction.setup.vessel.position
        inputs = dict(reaction.inputs)
        for (w, reagent), amount in recorded.items():
            if w != well:
                continue
            if reagent == "nahco3":  # the quench is a work-up
                quench = reaction.workups[0]
                assert quench.type == reaction_pb2.ReactionWorkup.ADDITION
                volume = quench.input.components[0].amount.volume
                assert volume.value == pytest.approx(amount["uL"], abs=1e-3)
                continue
            key = "DCE (solvent)" if reagent == "solvent:DCE" else reagent
            components = inputs[key].components
            if amount["mg"]:
                assert components[0].amount.mass.value == pytest.approx(amount["mg"], abs=1e-4)
                assert components[0].amount.mass.units == reaction_pb2.Mass.MILLIGRAM
            elif len(components) == 2:  # a stock: solute by moles, solvent by volume
                name = components[0].identifiers[-1].value
                molar = stocks[(reagent, name)]["concentration_M"]
                assert components[0].amount.moles.value == pytest.approx(
                    amount["uL"] * molar, abs=1e-3
                )
                assert components[1].amount.volume.value == pytest.approx(amount["uL"], abs=1e-3)
                assert components[1].reaction_role == reaction_pb2.ReactionRole.SOLVENT
            else:
                assert components[0].amount.volume.value == pytest.approx(amount["uL"], abs=1e-3)
            checked += 1
    # diazepane, DCE, aldehyde, AcOH and STAB in each of the 96 wells
    assert checked == 5 * 96


def test_identities_roles_and_order_follow_the_protocol(stab):
    _root, _journal, path, _rows = stab
    reaction = parse_text(path).reactions[0]  # A1: benzaldehyde (libraries/aldehydes_96.csv)
    aldehyde = reaction.inputs["aldehyde"].components[0]
    assert [i.value for i in aldehyde.identifiers] == ["O=Cc1ccccc1", "benzaldehyde"]
    assert aldehyde.reaction_role == reaction_pb2.ReactionRole.REACTANT
    diazepane = reaction.inputs["diazepane"].components[0]
    assert diazepane.is_limiting and diazepane.identifiers[0].value == "CN1CCCNCC1"
    assert reaction.inputs["stab"].components[0].reaction_role == reaction_pb2.ReactionRole.REAGENT
    order = sorted(reaction.inputs, key=lambda k: reaction.inputs[k].addition_order)
    assert order == ["diazepane", "DCE (solvent)", "aldehyde", "acoh", "stab"]
    assert reaction.inputs["stab"].addition_device.details == "weighed in by hand by the operator"
    assert reaction.setup.vessel.type == reaction_pb2.Vessel.VIAL
    assert reaction.setup.vessel.material.type == reaction_pb2.VesselMaterial.GLASS
    assert reaction.setup.is_automated
    # the STAB reduction runs with vent needles through septum caps
    assert (
        reaction.conditions.pressure.control.type
        == reaction_pb2.PressureConditions.PressureControl.CUSTOM
    )
    assert [w.type for w in reaction.workups] == [
        reaction_pb2.ReactionWorkup.ADDITION,
        reaction_pb2.ReactionWorkup.STIRRING,
        reaction_pb2.ReactionWorkup.CUSTOM,
    ]
    assert "extract each well with DCM" in reaction.workups[2].details


def test_outcomes_are_the_results_csv(stab):
    _root, journal, path, rows = stab
    dataset = parse_text(path)
    by_well = {r.setup.vessel.position: r for r in dataset.reactions}
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    plan_sha = conn.execute("SELECT plan_sha256 FROM run").fetchone()[0]
    conn.close()
    kinds = {
        "yield_pct": reaction_pb2.ProductMeasurement.YIELD,
        "area_pct": reaction_pb2.ProductMeasurement.AREA,
        "purity_pct": reaction_pb2.ProductMeasurement.PURITY,
    }
    for row in rows:
        reaction = by_well[row["well"]]
        assert reaction.provenance.reaction_metadata["plan_sha256"].string_value == plan_sha
        outcome = reaction.outcomes[0]
        assert outcome.conversion.value == pytest.approx(float(row["conversion_pct"]))
        assert outcome.analyses["LCMS"].type == reaction_pb2.Analysis.LCMS
        product = outcome.products[0]
        measured = {m.type: m for m in product.measurements}
        for column, kind in kinds.items():
            if row[column]:
                assert measured[kind].percentage.value == pytest.approx(float(row[column]))
                assert measured[kind].analysis_key == "LCMS"
            else:
                assert kind not in measured
        mz = measured[reaction_pb2.ProductMeasurement.CUSTOM]
        assert mz.float_value.value == pytest.approx(float(row["mz"]))
        if row["comment"]:
            assert row["comment"] in outcome.analyses["LCMS"].details


def test_binary_is_the_same_dataset(stab):
    root, journal, path, _rows = stab
    out = export(root, journal, "dataset.pb")
    assert out.returncode == 0, out.stderr
    binary = dataset_pb2.Dataset.FromString((root / "dataset.pb").read_bytes())
    text = parse_text(path)
    # the two exports differ only in when each record was created
    for dataset in (binary, text):
        for reaction in dataset.reactions:
            reaction.provenance.record_created.time.value = ""
    assert binary == text


def test_dropwise_additions_ramps_and_samples(alkylation):
    _root, journal, path = alkylation
    dataset = parse_text(path)
    output = validations.validate_message(dataset, raise_on_error=False)
    assert output.errors == []
    assert set(warning_kinds(output.warnings)) <= set(ALLOWED_WARNINGS)
    recorded = device_amounts(journal)
    for reaction in dataset.reactions:
        well = reaction.setup.vessel.position
        halide = reaction.inputs["halide"]
        assert halide.addition_speed.type == reaction_pb2.ReactionInput.AdditionSpeed.DROPWISE
        times = recorded[(well, "halide")]
        assert halide.addition_duration.value == pytest.approx(
            (times["last"] - times["first"]) / 60.0, abs=1e-3
        )
        assert halide.addition_duration.units == reaction_pb2.Time.MINUTE
        # K2CO3 weighed in by hand: its mass is the operator's record
        assert reaction.inputs["k2co3"].components[0].amount.mass.value == pytest.approx(
            recorded[(well, "k2co3")]["mg"], abs=1e-4
        )
        # 4 °C for the addition, then warmed to 22 °C over 60 min: a dynamic program
        conditions = reaction.conditions
        assert conditions.conditions_are_dynamic
        assert re.search(r"\b4 °C.*22 °C \(ramp over 60 min\)", conditions.details)
        assert conditions.temperature.setpoint.value == pytest.approx(22.0)
        assert any("sampled into sample_plate" in o.comment for o in reaction.observations)


def test_an_unfinished_run_is_refused(tmp_path):
    root = project(tmp_path)
    journal = simulate(
        root, STAB, "runs/failed.journal.sqlite", "--inject-fault", "30:connection_lost"
    )
    out = export(root, journal, "dataset.pbtxt")
    assert out.returncode == 1
    assert "error DF543: the run failed" in out.stdout
    assert not (root / "dataset.pbtxt").exists()


def test_a_library_changed_since_the_run_is_refused(tmp_path):
    root = project(tmp_path)
    journal = simulate(root, STAB, "runs/stab.journal.sqlite")
    library = root / "workflows" / "libraries" / "aldehydes_96.csv"
    text = library.read_text()
    assert "A1,benzaldehyde,O=Cc1ccccc1\n" in text
    library.write_text(
        text.replace("A1,benzaldehyde,O=Cc1ccccc1\n", "A1,tolualdehyde,O=Cc1ccccc1C\n")
    )
    out = export(root, journal, "dataset.pbtxt")
    assert out.returncode == 1
    assert "workflows/libraries/aldehydes_96.csv: error DF544: this file changed" in out.stdout
    assert not (root / "dataset.pbtxt").exists()


def test_usage_errors(tmp_path):
    root = project(tmp_path)
    journal = simulate(root, STAB, "runs/stab.journal.sqlite")
    no_creator = diazflow("export", "--to", "ord", str(journal), "-o", "x.pbtxt", cwd=root)
    assert no_creator.returncode == 2 and "--creator" in no_creator.stderr
    bad = export(root, journal, "x.pbtxt", "--creator", "ada")
    assert bad.returncode == 2 and "is not 'Name <e-mail>'" in bad.stderr
    not_a_journal = export(root, root / "workflows" / STAB, "x.pbtxt")
    assert not_a_journal.returncode == 2 and "not a diazflow journal" in not_a_journal.stderr


def test_without_the_extra_the_export_exits_2_with_the_install_command(tmp_path):
    # ord_schema made unimportable in the child (a None entry in sys.modules raises ImportError)
    code = (
        "import sys; sys.modules['ord_schema'] = None; "
        "sys.argv = ['diazflow', 'export', '--to', 'ord', sys.argv[1], '-o', 'x.pbtxt', "
        "'--creator', 'Ada <ada@example.org>']; from diazflow.cli import main; main()"
    )
    journal = tmp_path / "j.sqlite"
    journal.write_bytes(b"")
    out = subprocess.run(
        [sys.executable, "-c", code, str(journal)], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "pip install 'diazflow[ord]'" in out.stderr


PROBE = """
import atexit, sys
atexit.register(lambda: sys.stderr.write('PROBE %s\\n' % ('ord_schema' in sys.modules)))
sys.argv = ['diazflow', *sys.argv[1:]]
from diazflow.cli import main
main()
"""


@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_and_run_never_import_ord_schema(command, tmp_path):
    root = project(tmp_path)
    args = [command, f"workflows/{STAB}"] + (
        ["--journal", "runs/probe.sqlite", "--quiet"] if command == "run" else []
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=root, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    assert "PROBE False" in out.stderr


def test_a_dataset_ord_rejects_is_caught_before_it_is_written():
    from diazflow.export.ord import validation_errors

    dataset = dataset_pb2.Dataset(name="x", description="y")
    dataset.reactions.add()  # no inputs, no outcomes, no provenance
    errors = validation_errors(dataset)
    assert any("at least 1 reaction input" in e for e in errors)
    assert any("requires provenance" in e for e in errors)


# The shipped workflows whose chemistry the two plates above do not cover: a copper catalyst at
# 100 °C, a ruthenium catalyst at 105 °C, a reflux in capped vials, a two-stage protocol with NaH.
# (All twelve exported with zero errors on 2026-12-01; four keep the suite's time down.)
OTHER_WORKFLOWS = (
    "buchwald_hartwig_cyclisation.yaml",
    "ring_closing_metathesis.yaml",
    "diazepan_2_one.yaml",
    "ugi_diazepanone.yaml",
)


@pytest.mark.parametrize("workflow", OTHER_WORKFLOWS)
def test_other_chemistries_export_a_valid_dataset(workflow, tmp_path):
    """Catalysts, reflux and stages export too; the export itself refuses a dataset ord_schema
    rejects (DF000), and the dataset read back validates with the explained warnings only."""
    root = project(tmp_path)
    journal = simulate(root, workflow, "runs/run.journal.sqlite")
    out = export(root, journal, "dataset.pb")
    assert out.returncode == 0, out.stdout + out.stderr
    dataset = dataset_pb2.Dataset.FromString((root / "dataset.pb").read_bytes())
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    wells = json.loads(conn.execute("SELECT plan_json FROM run").fetchone()[0])["wells"]
    conn.close()
    stages = 2 if workflow == "ugi_diazepanone.yaml" else 1  # a two-stage route
    positions = [r.setup.vessel.position for r in dataset.reactions]
    assert positions == [w for w in wells for _ in range(stages)]
    output = validations.validate_message(dataset, raise_on_error=False)
    assert output.errors == []
    assert set(warning_kinds(output.warnings)) <= set(ALLOWED_WARNINGS)
    roles = {
        c.reaction_role
        for r in dataset.reactions[:1]
        for i in r.inputs.values()
        for c in i.components
    }
    if workflow in ("buchwald_hartwig_cyclisation.yaml", "ring_closing_metathesis.yaml"):
        assert reaction_pb2.ReactionRole.CATALYST in roles  # CuI at 0.1 equiv, Grubbs II
    if workflow == "diazepan_2_one.yaml":
        assert dataset.reactions[0].conditions.reflux
    if stages == 2:
        # stage 2 starts from the worked-up Ugi adduct the operator puts back: 50 µmol
        # (the stage's scale), made by the same well's stage 1 reaction
        protocol = yaml.safe_load((root / "workflows" / workflow).read_text())
        stage = next(s["stage"] for s in protocol["steps"] if "stage" in s)
        assert stage["scale"]["amount"] == "50 umol"
        for first, second in zip(dataset.reactions[::2], dataset.reactions[1::2], strict=True):
            assert first.setup.vessel.position == second.setup.vessel.position
            adduct = second.inputs[stage["scale"]["limiting"]].components[0]
            assert adduct.is_limiting and adduct.amount.moles.value == pytest.approx(50.0)
            assert adduct.preparations[0].reaction_id == first.reaction_id != second.reaction_id
            assert adduct.identifiers[0].type == reaction_pb2.CompoundIdentifier.SMILES
