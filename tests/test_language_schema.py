"""Spec §4 "schema": every kind of structural defect is one clear error at the exact YAML position.

Each case edits the valid base protocol (tests/data/protocols/reductive_amination.yaml) and locates
the expected line/column by finding the edited text in the written file, so the numbers follow the
base file when it changes.
"""

from __future__ import annotations

import pytest

from conftest import BASE_PROTOCOL, PROTOCOLS
from diazflow.diagnostics import Severity, format_text
from diazflow.language.loader import load_protocol
from diazflow.language.models import STEP_MODELS


def errors_of(v) -> list:
    result = load_protocol(str(v.path))
    assert not result.ok
    return [d for d in result.diagnostics if d.severity is Severity.ERROR]


def find(diags, code: str, position: tuple[int, int]):
    """The diagnostic with ``code`` at ``position``; a readable failure otherwise."""
    for d in diags:
        if d.code == code and (d.line, d.column) == position:
            return d
    raise AssertionError(f"no {code} at {position[0]}:{position[1]}; got:\n{format_text(diags)}")


def test_base_protocols_are_valid():
    for name in (
        "reductive_amination.yaml",
        "boc_diazepane_csv_library.yaml",
        "nabh3cn_staged.yaml",
    ):
        result = load_protocol(str(PROTOCOLS / name))
        assert result.ok, format_text(result.diagnostics)
        assert result.diagnostics == ()


# (id, old text, new text, code, needle located in the new file, nth occurrence, column offset,
#  a fragment the message or hint must contain)
CASES = [
    # DF101 unknown keys, reported at the key, with a did-you-mean among the keys allowed *there*
    (
        "unknown-top-level",
        "reference: Precision",
        "referense: Precision",
        "DF101",
        "referense:",
        0,
        0,
        "did you mean 'reference'",
    ),
    (
        "unknown-in-scale",
        "  solvent: DCE\n",
        "  solvent: DCE\n  temprature: rt\n",
        "DF101",
        "temprature: rt",
        0,
        0,
        "scale",
    ),
    (
        "unknown-in-step",
        "{reagent: stab, equiv: 1.4}",
        "{reagent: stab, equiv: 1.4, colour: red}",
        "DF101",
        "colour: red",
        0,
        0,
        "allowed here",
    ),
    (
        "unknown-in-flow-stock",
        "stock: {solvent: water}",
        "stock: {solvent: water, ph: 8}",
        "DF101",
        "ph: 8",
        0,
        0,
        "ph",
    ),
    (
        "unknown-in-library-item",
        "{name: furfural, smiles",
        "{name: furfural, smile",
        "DF101",
        "smile: O=Cc1ccco1",
        0,
        0,
        "did you mean 'smiles'",
    ),
    (
        "unknown-in-reflux",
        "  - stir: {duration: 1-4 h}",
        "  - reflux: {duration: 2 h, temperature: 80 degC}",
        "DF101",
        "temperature: 80 degC",
        0,
        0,
        "allowed here: duration",
    ),
    # DF102 missing keys, reported at the key of the mapping that lacks them
    (
        "missing-in-scale",
        "  amount: 50 umol\n",
        "",
        "DF102",
        "scale:",
        0,
        0,
        "missing key 'amount'",
    ),
    (
        "missing-top-level",
        "name: N4 reductive amination of 1-methyl-1,4-diazepane (STAB)\n",
        "",
        "DF102",
        "diazflow: 1",
        0,
        0,
        "missing key 'name'",
    ),
    (
        "missing-in-step",
        "{reagent: nahco3, volume",
        "{volume",
        "DF102",
        "quench:",
        0,
        0,
        "missing key 'reagent'",
    ),
    (
        "missing-in-stock",
        "stock: {solvent: water}",
        "stock: {concentration: 1 M}",
        "DF102",
        "stock: {concentration: 1 M}",
        0,
        0,
        "solvent",
    ),
    (
        "empty-steps",
        "steps:\n",
        "steps: []\nold_steps:\n",
        "DF102",
        "[]",
        0,
        0,
        "steps must not be empty",
    ),
    # DF103 wrong types, at the value
    (
        "list-for-string",
        "  labware: reaction_block",
        "  labware: [reaction_block]",
        "DF103",
        "[reaction_block]",
        0,
        0,
        "expected a string, got a list",
    ),
    (
        "string-for-bool",
        "    neat: true",
        '    neat: "yes"',
        "DF103",
        '"yes"',
        0,
        0,
        "true or false",
    ),
    (
        "text-for-int",
        "{reagent: stab, equiv: 1.4}",
        "{reagent: stab, equiv: 1.4, portionwise: {portions: three, over: 10-15 min}}",
        "DF103",
        "three",
        0,
        0,
        "integer",
    ),
    (
        "unknown-in-portionwise",
        "{reagent: stab, equiv: 1.4}",
        "{reagent: stab, equiv: 1.4, portionwise: {portions: 3, during: 10 min}}",
        "DF101",
        "during",
        0,
        0,
        "allowed here: over, portions",
    ),
    (
        "scalar-for-mapping",
        "vessels:\n  labware: reaction_block\n  wells: A1:H12\n",
        "vessels: reaction_block A1:H12\n",
        "DF103",
        "reaction_block A1:H12",
        0,
        0,
        "mapping",
    ),
    (
        "bad-identifier",
        "  labware: reaction_block",
        "  labware: reaction block",
        "DF103",
        "reaction block",
        0,
        0,
        "not a valid name",
    ),
    (
        "bad-literal",
        "duration_policy: upper",
        "duration_policy: middle",
        "DF103",
        "middle",
        0,
        0,
        "'upper' or 'lower'",
    ),
    (
        "number-for-offdeck-text",
        "  - offdeck: Extract with DCM (3x), wash with brine, dry over Na2SO4 and concentrate.",
        "  - offdeck: 5",
        "DF103",
        "5\n",
        0,
        0,
        "expected a string or a mapping",
    ),
    # YAML 1.1 traps become errors with a hint to quote
    ("yaml-NO", "  solvent: DCE\n", "  solvent: NO\n", "DF103", "NO\n", 0, 0, 'quote it: "NO"'),
    (
        "yaml-octal",
        "  solvent: DCE\n",
        "  solvent: 012\n",
        "DF103",
        "012\n",
        0,
        0,
        'quote it: "012"',
    ),
    (
        "yaml-date",
        "reference: Precision N4-Alkylation of 1-Methyl-1,4-Diazepane, Method A",
        "reference: 2024-01-01",
        "DF103",
        "2024-01-01",
        0,
        0,
        "a date",
    ),
    (
        "yaml-sexagesimal-text",
        "  solvent: DCE\n",
        "  solvent: 1:30\n",
        "DF103",
        "1:30",
        0,
        0,
        "base 60",
    ),
    (
        "yaml-sexagesimal-duration",
        "{duration: 15 min, temperature",
        "{duration: 1:30, temperature",
        "DF201",
        "1:30",
        0,
        0,
        "base 60",
    ),
    # DF104 duplicate keys (exact), at the second occurrence
    (
        "duplicate-key",
        "    name: acetic acid\n",
        "    name: acetic acid\n    name: acetic acid\n",
        "DF104",
        "name: acetic acid",
        1,
        0,
        "duplicate key 'name'",
    ),
    (
        "duplicate-reagent-id",
        "  stab:\n",
        "  acoh:\n    name: acetic acid, again\n    neat: true\n  stab:\n",
        "DF104",
        "acoh:",
        1,
        0,
        "duplicate key 'acoh'",
    ),
    # DF107 language version
    (
        "version",
        "diazflow: 1",
        "diazflow: 2",
        "DF107",
        "2\n",
        0,
        0,
        "unsupported language version 2",
    ),
    # DF108 / DF109 undeclared names, at the name
    (
        "undeclared-reagent",
        "{reagent: acoh, equiv",
        "{reagent: acohh, equiv",
        "DF108",
        "acohh",
        0,
        0,
        "did you mean 'acoh'",
    ),
    (
        "undeclared-quench-reagent",
        "{reagent: nahco3,",
        "{reagent: bicarbonate,",
        "DF108",
        "bicarbonate,",
        0,
        0,
        "not declared",
    ),
    (
        "limiting-not-a-reagent",
        "  limiting: diazepane",
        "  limiting: diazepam",
        "DF108",
        "diazepam",
        0,
        0,
        "did you mean 'diazepane'",
    ),
    (
        "undeclared-library",
        "    library: aldehydes",
        "    library: aldehyde_set",
        "DF109",
        "aldehyde_set",
        0,
        0,
        "did you mean 'aldehydes'",
    ),
    # DF110 reagent ids are case-insensitive
    (
        "case-duplicate-reagent",
        "  stab:\n",
        "  STAB:\n    name: borohydride\n    solid: {dispense: manual}\n  stab:\n",
        "DF110",
        "stab:",
        0,
        0,
        "duplicates 'STAB'",
    ),
    # DF111 well names and ranges
    (
        "bad-well-in-range",
        "  wells: A1:H12",
        "  wells: A1:H0",
        "DF111",
        "A1:H0",
        0,
        0,
        "'H0' is not a well name",
    ),
    (
        "bad-well-in-list",
        "  wells: A1:H12",
        "  wells: [A1, I-3]",
        "DF111",
        "[A1, I-3]",
        0,
        0,
        "'I-3'",
    ),
    (
        "lowercase-well",
        "  wells: A1:H12",
        "  wells: [a1]",
        "DF111",
        "[a1]",
        0,
        0,
        "not a well name",
    ),
    (
        "backwards-well-range",
        "  wells: A1:H12",
        "  wells: H12:A1",
        "DF111",
        "H12:A1",
        0,
        0,
        "runs backwards",
    ),
    ("empty-well-list", "  wells: A1:H12", "  wells: []", "DF111", "[]", 0, 0, "wells must be"),
    # DF112 a step's wells outside the reaction wells
    (
        "step-wells-outside",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: 1.0, wells: [A1, B13]}",
        "DF112",
        "[A1, B13]",
        0,
        0,
        "B13",
    ),
    # DF115 unknown step kinds
    (
        "unknown-step-kind",
        "  - stir: {duration: 1-4 h}",
        "  - stirr: {duration: 1-4 h}",
        "DF115",
        "stirr",
        0,
        0,
        "did you mean 'stir'",
    ),
    (
        "unknown-step-kind-2",
        "  - stir: {duration: 1-4 h}",
        "  - agitate: {duration: 1-4 h}",
        "DF115",
        "agitate",
        0,
        0,
        "agitate",
    ),
    (
        "two-kinds-in-one-step",
        "  - stir: {duration: 1-4 h}",
        "  - {stir: {duration: 1-4 h}, wait: {duration: 5 min}}",
        "DF115",
        "{stir: {duration: 1-4 h}",
        0,
        0,
        "exactly one kind",
    ),
    (
        "scalar-step",
        "  - stir: {duration: 1-4 h}",
        "  - stir",
        "DF115",
        "stir\n",
        0,
        0,
        "a step is a mapping",
    ),
    # DF116 exactly-one-of, at the key of the mapping
    (
        "add-two-amounts",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: 1.0, volume: 5 uL}",
        "DF116",
        "add: {reagent: acoh",
        0,
        0,
        "got equiv, volume",
    ),
    (
        "add-no-amount",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh}",
        "DF116",
        "add: {reagent: acoh}",
        0,
        0,
        "exactly one of",
    ),
    (
        "dropwise-and-portionwise",
        "{reagent: stab, equiv: 1.4}",
        "{reagent: stab, equiv: 1.4, portionwise: {portions: 3, over: 10-15 min}, dropwise: 10 min}",
        "DF116",
        "add: {reagent: stab",
        0,
        0,
        "either 'dropwise' or 'portionwise'",
    ),
    (
        "quench-volume-and-equiv",
        "volume: 1 reaction volume, stir",
        "volume: 1 reaction volume, equiv: 2, stir",
        "DF116",
        "quench:",
        0,
        0,
        "quench needs exactly one",
    ),
    (
        "add-solvent-neither",
        "{solvent: DCE, to_concentration: 0.2 M}",
        "{solvent: DCE}",
        "DF116",
        "add_solvent:",
        0,
        0,
        "add_solvent needs exactly one",
    ),
    (
        "reagent-two-forms",
        "    neat: true\n",
        "    neat: true\n    stock: {concentration: 1 M, solvent: DCE}\n",
        "DF116",
        "acoh:",
        0,
        0,
        "not stock and neat",
    ),
    ("reagent-no-form", "    neat: true\n", "", "DF116", "acoh:", 0, 0, "exactly one form"),
    (
        "library-csv-and-items",
        "    by: column\n",
        "    csv: libraries/aldehydes_96.csv\n    by: column\n",
        "DF116",
        "aldehydes:\n",
        0,
        0,
        "either 'csv' or 'items'",
    ),
    (
        "library-reagent-with-smiles",
        "    library: aldehydes\n",
        "    library: aldehydes\n    smiles: C=O\n",
        "DF116",
        "aldehyde:",
        0,
        0,
        "from the library",
    ),
    # DF117 preloaded reagents
    (
        "preloaded-not-limiting",
        "  stab:\n",
        "  seed:\n    name: seed crystals\n    preloaded: true\n  stab:\n",
        "DF117",
        "true\n  stab:",
        0,
        0,
        "not the limiting reagent",
    ),
]


@pytest.mark.parametrize(
    "old, new, code, needle, nth, offset, fragment",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_schema_defect_is_reported_at_its_position(
    variant, old, new, code, needle, nth, offset, fragment
):
    v = variant(old, new)
    line, column = v.at(needle, nth)
    d = find(errors_of(v), code, (line, column + offset))
    assert d.file == str(v.path)
    assert fragment in d.message + " " + (d.hint or ""), format_text([d])


def test_every_step_kind_has_a_did_you_mean(variant):
    for kind in STEP_MODELS:
        typo = kind[:-1] + kind[-1] * 2
        v = variant(
            "  - stir: {duration: 1-4 h}", f"  - {typo}: {{duration: 1-4 h}}", name=f"{kind}.yaml"
        )
        d = find(errors_of(v), "DF115", v.at(f"{typo}:"))
        assert f"did you mean '{kind}'" in (d.hint or "")


def test_the_first_of_two_duplicate_keys_is_named_in_the_hint(variant):
    v = variant("  limiting: diazepane\n", "  limiting: diazepane\n  limiting: acoh\n")
    d = find(errors_of(v), "DF104", v.at("limiting: acoh"))
    assert f"line {v.at('limiting: diazepane')[0]}" in d.hint


def test_many_errors_in_one_file_are_all_reported(write_protocol):
    text = BASE_PROTOCOL.read_text()
    edits = [
        ("reference: Precision", "referense: Precision", "DF101", "referense:"),
        ("  amount: 50 umol", "  amount: 5 mL", "DF202", "5 mL"),
        ("  wells: A1:H12", "  wells: A1:H0", "DF111", "A1:H0"),
        (
            "{duration: 15 min, temperature: rt",
            "{duration: 15 min, temperature: 25 C",
            "DF203",
            "25 C",
        ),
        ("  - stir: {duration: 1-4 h}", "  - stirr: {duration: 1-4 h}", "DF115", "stirr"),
        (
            "{reagent: acoh, equiv: 1.0}",
            "{reagent: acoh, equiv: 1.0, volume: 5 uL}",
            "DF116",
            "add: {reagent: acoh",
        ),
        ("{reagent: nahco3,", "{reagent: bicarbonate,", "DF108", "bicarbonate,"),
        ("    library: aldehydes", "    library: aldehyde_set", "DF109", "aldehyde_set"),
        ("  solvent: DCE\n", "  solvent: NO\n", "DF103", "NO\n"),
    ]
    for old, new, _, _ in edits:
        assert old in text
        text = text.replace(old, new, 1)
    v = write_protocol(text)
    diags = errors_of(v)
    for _, _, code, needle in edits:
        find(diags, code, v.at(needle))
    assert len(diags) == len(edits), format_text(diags)
    lines = [(d.line, d.column) for d in diags]
    assert lines == sorted(lines), "diagnostics are reported in file order"


def test_validation_never_mutates_or_depends_on_the_working_directory(
    variant, tmp_path, monkeypatch
):
    # relative CSV paths resolve against the protocol file, not the current directory
    v = variant("x", "x", base=PROTOCOLS / "boc_diazepane_csv_library.yaml")
    monkeypatch.chdir(tmp_path.parent)
    assert load_protocol(str(v.path)).ok


# A stock concentration's JSON Schema pattern (issue 16): editors underline a wrong unit.
STOCK_CONCENTRATIONS_READ = [
    "0.5 M",
    "0.5M",
    "200 mM",
    "1.5 mmol/mL",
    "0.25 mol/L",
    "152 mg/mL",
    "152 mg/ml",
    "50 g/L",
    "10 %",
    "10%",
    "10 % w/v",
    "10 % (w/v)",
    "0.4 N",
    "0.4N",
]
STOCK_CONCENTRATIONS_REFUSED = [
    "0.5 mol",  # an amount, not a concentration
    "152 mg",  # a mass
    "0.5 mL",
    "0.4 n",
    "10 percent",
    "M",
    "0.5 kg/L",
    "0.5 M in DCE",
]


def _parser_reads(text: str) -> bool:
    from pydantic_core import PydanticCustomError

    from diazflow.language.models import validate_stock_concentration

    try:
        validate_stock_concentration(text)
    except PydanticCustomError:
        return False
    return True


@pytest.mark.parametrize(
    ("text", "read"),
    [(t, True) for t in STOCK_CONCENTRATIONS_READ]
    + [(t, False) for t in STOCK_CONCENTRATIONS_REFUSED],
)
def test_the_stock_concentration_pattern_and_the_parser_agree(text, read):
    import re

    from diazflow.language.models import STOCK_CONCENTRATION_PATTERN

    assert _parser_reads(text) is read
    assert (re.search(STOCK_CONCENTRATION_PATTERN, text) is not None) is read


def test_check_jsonschema_underlines_a_wrong_stock_concentration_unit(tmp_path):
    """The schema ``diazflow schema`` writes, run through check-jsonschema (what editors and
    pre-commit use) on the base protocol with each form of a stock concentration."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from diazflow.language.schema import protocol_json_schema

    schema = tmp_path / "diazflow.schema.json"
    schema.write_text(json.dumps(protocol_json_schema()), encoding="utf-8")
    shutil.copytree(BASE_PROTOCOL.parent / "libraries", tmp_path / "libraries")
    text = BASE_PROTOCOL.read_text(encoding="utf-8")
    old = "stock: {concentration: 1.0 M, solvent: DCE}"
    assert text.count(old) == 1

    def written(concentration: str) -> Path:
        path = tmp_path / f"stock_{len(list(tmp_path.glob('stock_*')))}.yaml"
        new = f'stock: {{concentration: "{concentration}", solvent: DCE}}'
        path.write_text(text.replace(old, new), encoding="utf-8")
        return path

    good = [written(c) for c in ("152 mg/mL", "10 %", "0.4 N", "200 mM")]
    bad = [written(c) for c in ("0.5 mol", "152 mg")]
    script = Path(sys.executable).with_name("check-jsonschema")

    def check(*files: Path) -> subprocess.CompletedProcess:
        command = [str(script), "--schemafile", str(schema), *map(str, files)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    passed = check(*good)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    for path in bad:
        failed = check(path)
        assert failed.returncode == 1, failed.stdout
        assert "does not match" in failed.stdout, failed.stdout
