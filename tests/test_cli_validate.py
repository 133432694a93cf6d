"""``diazflow validate`` and ``diazflow schema`` in a fresh process (spec §5): exit codes 0/1/2,
the four output formats, directories, and no traceback whatever the input."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from conftest import BASE_PROTOCOL, PROTOCOLS, REPO

GITHUB_LINE = re.compile(
    r"^::(error|warning) file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),title=(?P<code>DF\d{3})::(?P<message>.+)$"
)
TEXT_LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning) (?P<code>DF\d{3}): (?P<message>.+)$"
)


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    assert "DF000" not in proc.stdout, proc.stdout[-3000:]  # the CLI's net for internal errors


@pytest.fixture
def broken_dir(protocol_dir):
    """A directory of protocols: one valid (language-wise) and three broken ones."""
    base = BASE_PROTOCOL.read_text()
    (protocol_dir / "a_valid.yaml").write_text(base)
    (protocol_dir / "b_unit.yaml").write_text(base.replace("  amount: 50 umol", "  amount: 5 mL"))
    (protocol_dir / "c_two_errors.yml").write_text(
        base.replace("  - stir: {duration: 1-4 h}", "  - stirr: {duration: 1-4 h}").replace(
            "  wells: A1:H12", "  wells: A1:H0"
        )
    )
    (protocol_dir / "d_tag.yaml").write_text(
        "diazflow: 1\nname: !!python/object/apply:os.getcwd []\n"
    )
    (protocol_dir / "notes.txt").write_text("not a protocol")
    return protocol_dir


def expected_positions(path, needles):
    text = path.read_text()
    out = []
    for needle in needles:
        index = text.index(needle)
        out.append((text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1))
    return out


def test_valid_protocol_exits_0(run_diazflow, protocol_dir):
    shutil.copy(BASE_PROTOCOL, protocol_dir / "valid.yaml")
    deck = REPO / "deck_layouts" / "starlet_chem.yaml"
    proc = run_diazflow("validate", "valid.yaml", "--deck", str(deck), cwd=protocol_dir)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 valid, 0 invalid" in proc.stderr


def test_protocol_without_any_deck_is_df525(run_diazflow, protocol_dir):
    """'deck:' may be left out only when --deck is given (spec §3)."""
    shutil.copy(BASE_PROTOCOL, protocol_dir / "valid.yaml")
    proc = run_diazflow("validate", "valid.yaml", cwd=protocol_dir)
    no_traceback(proc)
    errors = [
        m.group("code")
        for line in proc.stdout.splitlines()
        if (m := TEXT_LINE.match(line)) and m.group("severity") == "error"
    ]
    assert proc.returncode == 1 and errors == ["DF525"]


def test_valid_protocols_exit_0_on_a_deck(run_diazflow):
    """The example protocols pass every stage (chemistry, deck, schedule) on the STARlet deck."""
    deck = REPO / "deck_layouts" / "starlet_chem.yaml"
    names = sorted(p.name for p in PROTOCOLS.glob("*.yaml"))
    proc = run_diazflow("validate", *names, "--deck", str(deck), "--format", "json", cwd=PROTOCOLS)
    no_traceback(proc)
    doc = json.loads(proc.stdout)
    invalid = {
        f["file"]: [d for d in f["diagnostics"] if d["severity"] == "error"]
        for f in doc["files"]
        if not f["valid"]
    }
    assert proc.returncode == 0 and not invalid, invalid
    assert sorted(f["file"] for f in doc["files"]) == names


def test_text_format_and_exit_1(run_diazflow, broken_dir):
    proc = run_diazflow("validate", "b_unit.yaml", cwd=broken_dir)
    no_traceback(proc)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    m = TEXT_LINE.match(lines[0])
    assert m, proc.stdout
    ((line, col),) = expected_positions(broken_dir / "b_unit.yaml", ["5 mL"])
    assert m.group("file") == "b_unit.yaml"
    assert (int(m.group("line")), int(m.group("col")), m.group("code")) == (line, col, "DF202")
    assert lines[1].startswith("  hint: ")
    assert "0 valid, 1 invalid" in proc.stderr


def test_directory_json(run_diazflow, broken_dir):
    proc = run_diazflow("validate", ".", "--format", "json", cwd=broken_dir)
    no_traceback(proc)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    files = {f["file"]: f for f in doc["files"]}
    assert set(files) == {"a_valid.yaml", "b_unit.yaml", "c_two_errors.yml", "d_tag.yaml"}
    assert not files["b_unit.yaml"]["valid"]
    assert [d["code"] for d in files["c_two_errors.yml"]["diagnostics"]] == ["DF111", "DF115"]
    for d, (line, col) in zip(
        files["c_two_errors.yml"]["diagnostics"],
        expected_positions(broken_dir / "c_two_errors.yml", ["A1:H0", "stirr"]),
        strict=False,
    ):
        assert (d["line"], d["column"]) == (line, col)
        assert d["severity"] == "error" and d["message"] and "hint" in d
    (tag,) = files["d_tag.yaml"]["diagnostics"]
    assert (tag["code"], tag["line"], tag["column"]) == ("DF105", 2, 7)
    assert not [d for d in files["a_valid.yaml"]["diagnostics"] if d["code"][:3] in ("DF1", "DF2")]


def test_github_format(run_diazflow, broken_dir):
    proc = run_diazflow(
        "validate", "b_unit.yaml", "c_two_errors.yml", "--format", "github", cwd=broken_dir
    )
    no_traceback(proc)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines and all(GITHUB_LINE.match(line) for line in lines), proc.stdout
    found = [
        (m.group("file"), int(m.group("line")), int(m.group("col")), m.group("code"))
        for m in map(GITHUB_LINE.match, lines)
    ]
    (unit,) = expected_positions(broken_dir / "b_unit.yaml", ["5 mL"])
    assert ("b_unit.yaml", *unit, "DF202") in found
    well, step = expected_positions(broken_dir / "c_two_errors.yml", ["A1:H0", "stirr"])
    assert ("c_two_errors.yml", *well, "DF111") in found and (
        "c_two_errors.yml",
        *step,
        "DF115",
    ) in found


def test_junit_format(run_diazflow, broken_dir):
    proc = run_diazflow("validate", ".", "--format", "junit", cwd=broken_dir)
    no_traceback(proc)
    assert proc.returncode == 1
    suite = ET.fromstring(proc.stdout)
    assert suite.tag == "testsuite"
    assert suite.get("tests") == "4"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"a_valid.yaml", "b_unit.yaml", "c_two_errors.yml", "d_tag.yaml"}
    for name in ("b_unit.yaml", "c_two_errors.yml", "d_tag.yaml"):
        failure = cases[name].find("failure")
        assert failure is not None and failure.get("message")
    assert "DF115" in cases["c_two_errors.yml"].find("failure").text
    assert int(suite.get("failures")) >= 3


def test_yaml_tag_is_not_executed_by_the_cli(run_diazflow, protocol_dir):
    marker = protocol_dir / "pwned"
    (protocol_dir / "evil.yaml").write_text(
        f'diazflow: 1\nname: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    proc = run_diazflow("validate", "evil.yaml", cwd=protocol_dir)
    no_traceback(proc)
    assert proc.returncode == 1 and "DF105" in proc.stdout
    assert not marker.exists()


def test_unreadable_inputs_are_diagnostics_not_tracebacks(run_diazflow, protocol_dir):
    (protocol_dir / "latin1.yaml").write_bytes("diazflow: 1\nname: Méthode\n".encode("latin-1"))
    (protocol_dir / "empty.yaml").write_text("")
    (protocol_dir / "bomb.yaml").write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    proc = run_diazflow(
        "validate", "latin1.yaml", "empty.yaml", "bomb.yaml", "--format", "json", cwd=protocol_dir
    )
    no_traceback(proc)
    assert proc.returncode == 1
    codes = {
        f["file"]: [d["code"] for d in f["diagnostics"]] for f in json.loads(proc.stdout)["files"]
    }
    assert codes == {"latin1.yaml": ["DF100"], "empty.yaml": ["DF102"], "bomb.yaml": ["DF106"]}


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "does-not-exist.yaml"],
        ["validate", "--format", "xml", "x.yaml"],
        ["validate", "empty_dir"],
        ["no-such-command"],
    ],
    ids=["no-args", "missing-file", "bad-format", "empty-directory", "unknown-command"],
)
def test_usage_errors_exit_2(run_diazflow, protocol_dir, args):
    (protocol_dir / "empty_dir").mkdir()
    (protocol_dir / "x.yaml").write_text("diazflow: 1\n")
    proc = run_diazflow(*args, cwd=protocol_dir)
    no_traceback(proc)
    assert proc.returncode == 2, proc.stdout + proc.stderr


def test_schema_command(run_diazflow, tmp_path):
    proc = run_diazflow("schema")
    no_traceback(proc)
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"diazflow", "name", "vessels", "scale", "reagents", "steps"} <= set(
        schema["properties"]
    )
    assert set(schema["required"]) >= {"diazflow", "name", "vessels", "scale", "reagents", "steps"}
    out = tmp_path / "diazflow.schema.json"
    proc = run_diazflow("schema", "-o", str(out))
    assert proc.returncode == 0 and json.loads(out.read_text()) == schema


def test_schema_accepts_the_example_protocols(run_diazflow):
    import jsonschema
    import yaml

    from diazflow.language.schema import protocol_json_schema

    validator = jsonschema.Draft202012Validator(protocol_json_schema())
    for path in sorted(PROTOCOLS.glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, f"{path.name}: {[e.message for e in errors]}"


def test_a_bug_in_diazflow_is_df000_on_the_file_never_a_traceback(monkeypatch):
    """safe_check is every command's last line of defence: an exception inside the pipeline
    becomes one DF000 error on the protocol, saying it is diazflow's fault, not the user's."""
    from diazflow import pipeline

    def broken(*args, **kwargs):
        raise KeyError("stage")

    monkeypatch.setattr(pipeline, "check", broken)
    result = pipeline.safe_check(str(BASE_PROTOCOL))
    [d] = result.diagnostics
    assert (d.code, d.severity, d.line, d.column) == ("DF000", "error", 0, 0)
    assert d.message == "internal error: KeyError: 'stage'"
    assert d.hint == (
        "this is a bug in diazflow, not in your protocol; please report it with the file"
    )
    assert d.file.endswith("reductive_amination.yaml")
