"""What a user sees at the command line (issue 17): missing extras, colour conventions, CI
formats, the run log, clock times and volumes.  Every command runs as a real ``diazflow`` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BASE_PROTOCOL, REPO, diazflow_command

WORKFLOW = REPO / "workflows" / "n4_direct_alkylation.yaml"
ESC = "\x1b["


def diazflow(
    *args: str | Path,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    hide: tuple[str, ...] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run ``diazflow`` with stdout a pipe, the environment replaced by ``env`` (colour variables
    removed first) and the top-level modules in ``hide`` made unimportable."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    base["PYTHONIOENCODING"] = "utf-8"
    base.update(env or {})
    if hide:
        shadow = Path(cwd or ".") / "_hidden_modules"
        for name in hide:
            (shadow / name).mkdir(parents=True, exist_ok=True)
            (shadow / name / "__init__.py").write_text(
                f'raise ImportError("no module named {name} (hidden by the test)")\n'
            )
        base["PYTHONPATH"] = os.pathsep.join([str(shadow), base.get("PYTHONPATH", "")])
    return subprocess.run(
        [*diazflow_command(), *map(str, args)],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --------------------------------------------------------------------------- missing extras


def test_hardware_backend_without_the_hardware_extra_is_one_line_and_exit_2(tmp_path):
    journal = tmp_path / "run.journal.sqlite"
    proc = diazflow(
        "run", WORKFLOW, "--backend", "hardware", "--journal", journal, cwd=tmp_path, hide=("usb",)
    )
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert line.startswith("error: --backend hardware needs the 'hardware' extra")
    assert line.endswith("pip install 'diazflow[hardware]'")
    assert not journal.exists()  # refused before anything was started


def test_report_png_without_matplotlib_is_one_line_and_exit_2(tmp_path):
    html = tmp_path / "report.html"
    proc = diazflow(
        "report",
        WORKFLOW,
        "-o",
        html,
        "--png",
        tmp_path / "png",
        cwd=tmp_path,
        hide=("matplotlib",),
    )
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "'report' extra" in line and line.endswith("pip install 'diazflow[report]'")
    assert not html.exists()  # refused before any work


# --------------------------------------------------------------------------- colour


@pytest.fixture
def invalid_protocol(tmp_path: Path) -> Path:
    text = BASE_PROTOCOL.read_text(encoding="utf-8")
    path = tmp_path / "protocol.yaml"
    path.write_text(text.replace("diazflow: 1", "diazflow: 1\nunknown_key: 1", 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("env", "coloured"),
    [
        ({}, False),  # a pipe: no colour
        ({"NO_COLOR": ""}, False),  # empty NO_COLOR means unset: still a pipe
        ({"FORCE_COLOR": "1"}, True),  # force-color.org: any non-empty value
        ({"FORCE_COLOR": "0"}, True),
        ({"FORCE_COLOR": ""}, False),  # empty means unset
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),  # NO_COLOR wins, as in rich
        ({"FORCE_COLOR": "1", "NO_COLOR": ""}, True),
    ],
)
def test_colour_follows_no_color_and_force_color(invalid_protocol, env, coloured):
    proc = diazflow("validate", invalid_protocol, env=env, cwd=invalid_protocol.parent)
    assert proc.returncode == 1
    assert "DF1" in proc.stdout
    assert (ESC in proc.stdout) is coloured


# --------------------------------------------------------------------------- CI formats

JUNIT_XSD = REPO / "tests" / "data" / "junit" / "surefire-constraints.xsd"


@pytest.fixture(scope="module")
def junit_schema():
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))


def _control_char_protocols(directory: Path) -> None:
    """Protocols whose diagnostics quote control characters from YAML escapes."""
    text = BASE_PROTOCOL.read_text(encoding="utf-8")
    # an unknown key spelt with ESC, BEL and DEL: DF101 quotes it
    (directory / "escape_key.yaml").write_text(
        text.replace("scale:\n", 'scale:\n  "\\e[31mred\\a\\x7f\\x01": 1\n', 1), encoding="utf-8"
    )
    # an undeclared reagent whose name holds NUL, a form feed and a tab
    (directory / "escape_reagent.yaml").write_text(
        text.replace("reagent: acoh", 'reagent: "ac\\0oh\\f\\t<&>"', 1), encoding="utf-8"
    )


def test_junit_is_valid_xml_and_meets_the_surefire_constraints(tmp_path, junit_schema):
    import xml.etree.ElementTree as ET

    _control_char_protocols(tmp_path)
    valid = (REPO / "workflows" / "n4_michael_addition.yaml").read_text(encoding="utf-8")
    (tmp_path / "valid.yaml").write_text(
        valid.replace("deck: ../deck_layouts/ot2_tempmodule.yaml", "deck: ot2_tempmodule", 1),
        encoding="utf-8",
    )
    shutil.copytree(REPO / "workflows" / "libraries", tmp_path / "libraries")
    proc = diazflow("validate", ".", "--format", "junit", cwd=tmp_path)
    assert proc.returncode == 1
    junit_schema.validate(proc.stdout)  # raises with the reason when it is not valid
    suite = ET.fromstring(proc.stdout)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "2", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"escape_key.yaml", "escape_reagent.yaml", "valid.yaml"}
    assert cases["valid.yaml"].find("failure") is None
    assert float(cases["valid.yaml"].get("time")) > 0  # the time spent checking it
    key_failure = cases["escape_key.yaml"].find("failure")
    assert key_failure.get("type") == "DF101"
    # the control characters are shown, not dropped and not raw (raw is not XML)
    assert "\\x1b[31mred\\x07\\x7f\\x01" in key_failure.get("message")
    reagent = cases["escape_reagent.yaml"].find("failure")
    assert "ac\\x00oh\\x0c\t<&>" in reagent.text  # tab, <, & survive as themselves


def test_the_junit_constraints_have_teeth(junit_schema):
    """Without this the test above would pass against a schema that accepts anything."""
    ok = '<testsuite name="s" tests="1" failures="1" errors="0" skipped="0"><testcase name="a" time="0.010"><failure type="DF101">x</failure></testcase></testsuite>'
    assert junit_schema.is_valid(ok)
    for broken in (
        ok.replace(' time="0.010"', ""),  # testcase@time
        ok.replace(' skipped="0"', ""),  # testsuite@skipped
        ok.replace(' type="DF101"', ""),  # failure@type
        ok.replace('time="0.010"', 'time="1e-3"'),  # SUREFIRE_TIME has no exponent
    ):
        assert not junit_schema.is_valid(broken), broken


def test_json_output_has_a_format_version(tmp_path):
    _control_char_protocols(tmp_path)
    proc = diazflow("validate", "escape_key.yaml", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    assert document["version"] == 1
    (entry,) = document["files"]
    assert entry["valid"] is False and entry["diagnostics"][0]["code"] == "DF101"
