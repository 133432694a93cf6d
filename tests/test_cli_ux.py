"""What a user sees at the command line (issue 17): missing extras, colour conventions, CI
formats, the run log, clock times and volumes.  Every command runs as a real ``diazflow`` process."""

from __future__ import annotations

import json
import os
import re
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


def test_the_ord_extra_on_a_python_it_does_not_support_says_so_not_pip_install():
    from diazflow.extras import EXTRAS, MissingExtra, python_version

    ord_extra = EXTRAS["ord"]
    old = MissingExtra(ord_extra, "ord_schema", python=(3, 10))
    assert str(old) == (
        "export --to ord needs Python 3.11 or later (the 'ord' extra's packages support no "
        "older Python); this is Python 3.10"
    )
    new = MissingExtra(ord_extra, "ord_schema", python=(3, 11))
    assert str(new).endswith("pip install 'diazflow[ord]'")
    if python_version() >= (3, 11):  # the lock installs ord-schema wherever it can
        import ord_schema  # noqa: F401


def test_an_ot2_needs_only_the_opentrons_client_of_the_hardware_extra(tmp_path):
    from diazflow.extras import hardware_drivers

    ot2 = [
        "diazflow.deck.plr_hardware.OT2Backend",
        "diazflow.deck.plr_hardware.OT2TemperatureModuleBackend",
    ]
    assert hardware_drivers(ot2) == ("ot_api",)
    starlet = [
        "pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STARBackend",
        "diazflow.deck.plr_hardware.ThermoshakeBackend",
        "pylabrobot.temperature_controlling.InhecoTECControlBox",
    ]
    assert set(hardware_drivers(starlet)) == {"usb", "libusb_package", "hid"}
    journal = tmp_path / "run.journal.sqlite"
    workflow = REPO / "workflows" / "n4_michael_addition.yaml"  # on the OT-2
    proc = diazflow(
        "run",
        workflow,
        "--backend",
        "hardware",
        "--journal",
        journal,
        cwd=tmp_path,
        hide=("ot_api",),
    )
    assert proc.returncode == 2 and "module 'ot_api'" in proc.stderr.splitlines()[-1]
    assert not journal.exists()


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


# --------------------------------------------------------------------------- the run log

OPERATOR_OPS = ("prompt", "set_closure")


def _operator_ops(plan: dict) -> list[dict]:
    return [
        op
        for op in plan["operations"]
        if op["op"] in OPERATOR_OPS or (op["op"] == "dispense_powder" and op.get("manual"))
    ]


def test_run_log_read_from_a_pipe(tmp_path):
    plan_path = tmp_path / "plan.json"
    compiled = diazflow("compile", WORKFLOW, "-o", plan_path, cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    proc = diazflow("run", WORKFLOW, "--journal", tmp_path / "j.sqlite", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    steps = [line for line in lines if "  step " in line]
    # one line per step, in the order the run reaches them, each at the plan time of its first
    # operation
    first_op = {}
    for op in plan["operations"]:
        first_op.setdefault(op["step"], op)
    order = sorted(first_op, key=lambda s: (first_op[s]["t"], first_op[s]["id"]))
    assert len(steps) == len(plan["steps"]) == len(order)
    for line, step in zip(steps, order, strict=True):
        minutes = int(first_op[step]["t"] // 60)
        assert line.startswith(f"T+{minutes // 60}:{minutes % 60:02d} "), line
        assert f"step {step + 1} (line {first_op[step]['line']}):" in line
    # the dropwise halide: its aliquot count and window, from the plan's dispenses
    halide = [
        op for op in plan["operations"] if op["op"] == "dispense" and op["reagent"] == "halide"
    ]
    aliquots = max(op["aliquots"] for op in halide)
    (halide_line,) = [line for line in steps if "add halide" in line]
    assert f"add halide dropwise to 96 wells, {aliquots} aliquots over 30 min" in halide_line
    (solvent_line,) = [line for line in steps if "add_solvent" in line]
    assert "add_solvent MeCN to 96 wells" in solvent_line
    assert any("stir 8 h, 600 rpm" in line for line in steps)  # the stir after the 4 h sample
    # every operator action is shown with its message, and said to be confirmed by the simulator
    operator = _operator_ops(plan)
    assert operator
    for op in operator:
        assert f"operator: {op['message']}" in proc.stdout
    assert proc.stdout.count("confirmed automatically (simulation)") == len(operator)
    assert lines[-1].startswith("run complete")


def test_run_quiet_prints_no_log(tmp_path):
    proc = diazflow("run", WORKFLOW, "--journal", tmp_path / "j.sqlite", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "step " not in proc.stdout and "operator:" not in proc.stdout


def test_progress_line_names_the_reagent_and_the_hold_with_its_time_left(tmp_path):
    from diazflow.compiler.plan import Dispense, Plan
    from diazflow.runtime.progress import RunProgress

    plan_path = tmp_path / "plan.json"
    assert diazflow("compile", WORKFLOW, "-o", plan_path, cwd=tmp_path).returncode == 0
    plan = Plan.from_json(plan_path.read_text(encoding="utf-8"))
    bar = RunProgress(plan, "virtual")
    halide = next(
        op for op in plan.operations if isinstance(op, Dispense) and op.reagent == "halide"
    )
    bar.current = (halide, halide.id, len(plan.operations))
    assert bar._description(halide.t).startswith(f"step {halide.step + 1}: add halide dropwise")
    stir = next(s for s in plan.steps if s.kind == "stir")
    # one hour into the 4 h stir (the vials capped), whatever operation started last
    text = bar._description(stir.start + 3600)
    left = stir.end - (stir.start + 3600)
    h, rest = divmod(int(round(left)), 3600)
    assert (
        text
        == f"step {stir.step + 1}: stir 4 h, 600 rpm, {h}:{rest // 60:02d}:{rest % 60:02d} left"
    )


# --------------------------------------------------------------------------- the operator's day


def _operator_window(plan: dict) -> tuple[float, float]:
    """(first start, last end) of the operator actions, in plan seconds."""
    ops = _operator_ops(plan)
    return min(op["t"] for op in ops), max(op["t"] + op["duration"] for op in ops)


def _diagnostics_of(proc: subprocess.CompletedProcess, code: str) -> list[str]:
    lines = proc.stdout.splitlines()
    return [
        line + "\n" + (lines[i + 1] if i + 1 < len(lines) else "")
        for i, line in enumerate(lines)
        if f" {code}: " in line
    ]


def test_start_warns_about_operator_actions_outside_working_hours(tmp_path):
    import datetime as dt

    shutil.copytree(BASE_PROTOCOL.parent / "libraries", tmp_path / "libraries")
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(BASE_PROTOCOL.read_text(encoding="utf-8"), encoding="utf-8")
    plan_path = tmp_path / "plan.json"
    args = ("compile", protocol, "--deck", "starlet_chem", "-o", plan_path)
    late = diazflow(*args, "--start", "2026-12-07 16:00", cwd=tmp_path)  # a Monday
    assert late.returncode == 0, late.stdout + late.stderr
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    first, last = _operator_window(plan)
    warnings = _diagnostics_of(late, "DF620")
    assert len(warnings) == len(_operator_ops(plan)) == 2  # the weigh-in ends after 18:00
    # the earliest quarter hour from which the first action starts after 08:00 and the last ends
    # by 18:00 (the window fits in a day: 8 h 10 min of plan)
    tuesday = dt.datetime(2026, 12, 8)
    lowest = tuesday + dt.timedelta(hours=8) - dt.timedelta(seconds=first)
    earliest = tuesday + dt.timedelta(minutes=15 * -(-(lowest - tuesday).total_seconds() // 900))
    assert earliest + dt.timedelta(seconds=last) <= tuesday + dt.timedelta(hours=18)
    for warning in warnings:
        assert "outside working hours (08:00-18:00 Mon-Fri)" in warning
        assert f'--start "{earliest:%Y-%m-%d %H:%M}"' in warning
    # the clock times of the operator's actions are in the summary
    assert (
        f"at {dt.datetime(2026, 12, 7, 16) + dt.timedelta(seconds=first):%a %Y-%m-%d %H:%M}"
        in late.stdout
    )
    good = diazflow(*args, "--start", f"{earliest:%Y-%m-%d %H:%M}", cwd=tmp_path)
    assert good.returncode == 0 and "DF620" not in good.stdout


def test_working_hours_come_from_the_settings(tmp_path):
    shutil.copytree(BASE_PROTOCOL.parent / "libraries", tmp_path / "libraries")
    text = BASE_PROTOCOL.read_text(encoding="utf-8")
    protocol = tmp_path / "protocol.yaml"
    settings = "settings:\n  room_temperature: 22 degC\n"
    assert settings in text
    always = '  working_hours: "00:00-23:59"\n  working_days: [Mon, Tue, Wed, Thu, Fri, Sat, Sun]\n'
    protocol.write_text(text.replace(settings, settings + always), encoding="utf-8")
    proc = diazflow(
        "compile",
        protocol,
        "--deck",
        "starlet_chem",
        "--start",
        "2026-12-07 16:00",
        "--quiet",
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and "DF620" not in proc.stdout
    protocol.write_text(
        text.replace(settings, settings + "  working_hours: 8-18\n"), encoding="utf-8"
    )
    bad = diazflow("validate", protocol, "--deck", "starlet_chem", cwd=tmp_path)
    assert bad.returncode == 1 and "working_hours" in bad.stdout


def test_start_that_is_not_a_date_is_a_usage_error(tmp_path):
    proc = diazflow("compile", WORKFLOW, "--start", "monday", cwd=tmp_path)
    assert proc.returncode == 2 and "--start" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- the JSON Schema in editors

# Common single mistakes in a quantity, each a text edit of the base protocol.
QUANTITY_MISTAKES = {
    "amount-as-volume": ("amount: 50 umol", "amount: 50 mL"),
    "concentration-as-volume": ("  concentration: 0.2 M\n", "  concentration: 0.2 mL\n"),
    "duration-as-mass": ("duration: 15 min,", "duration: 15 kg,"),
    "duration-range-unit": ("duration: 1-4 h", "duration: 1-4 kg"),
    "equiv-as-volume": ("equiv: 1.05}", "equiv: 1.05 mL}"),
    "speed-as-duration": ("speed: 600 rpm", "speed: 600 min"),
    "temperature-in-coulomb": ("temperature: rt,", "temperature: 25 C,"),
    "stock-concentration-as-mass": ("concentration: 1.0 M", "concentration: 1.0 mg"),
    "quench-volume-as-mass": ("volume: 1 reaction volume", "volume: 1 kg"),
    "room-temperature-as-mass": ("room_temperature: 22 degC", "room_temperature: 22 kg"),
}


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "diazflow.schema.json"
    assert diazflow("schema", "-o", path).returncode == 0
    return path


def check_jsonschema(schema: Path, *files: Path) -> subprocess.CompletedProcess:
    import sys

    script = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [str(script), "--schemafile", str(schema), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_jsonschema_catches_every_wrong_unit_that_validate_catches(tmp_path, schema_file):
    shutil.copytree(BASE_PROTOCOL.parent / "libraries", tmp_path / "libraries")
    text = BASE_PROTOCOL.read_text(encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(text, encoding="utf-8")
    assert check_jsonschema(schema_file, good).returncode == 0
    for name, (old, new) in QUANTITY_MISTAKES.items():
        assert text.count(old) == 1, name
        bad = tmp_path / f"{name}.yaml"
        bad.write_text(text.replace(old, new), encoding="utf-8")
        checked = check_jsonschema(schema_file, bad)
        assert checked.returncode == 1, (name, checked.stdout)
        validated = diazflow(
            "validate", bad, "--deck", "starlet_chem", "--format", "json", cwd=tmp_path
        )
        codes = {d["code"] for d in json.loads(validated.stdout)["files"][0]["diagnostics"]}
        assert validated.returncode == 1 and codes & {"DF202", "DF203"}, (name, codes)


def test_the_shipped_workflows_pass_the_schema(schema_file):
    workflows = sorted((REPO / "workflows").glob("*.yaml"))
    assert len(workflows) >= 12
    checked = check_jsonschema(schema_file, *workflows)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("dimension", "good", "bad"),
    [
        ("amount", ["50 umol", "50umol", "0.05 mmol", "50 µmol"], ["50 mL", "50", "50 zorkmol"]),
        (
            "duration",
            ["30 min", "30-60 min", "30 – 60 min", "30 min to 2 h", "2 hours"],
            ["30 kg", "30-60"],
        ),
        ("temperature", ["0 degC", "-10 to -5 degC", "25 °C", "300 K"], ["25 C", "0 kg"]),
        ("speed", ["600 rpm", "10 Hz"], ["600 min"]),
    ],
)
def test_the_schema_pattern_and_the_parser_agree(dimension, good, bad):
    """The pattern comes from the unit table the parser checks against: same verdicts."""
    from diazflow.language.quantities import Dimension, QuantityError, parse_quantity_or_range
    from diazflow.language.units import quantity_pattern

    pattern = re.compile(quantity_pattern(dimension, allow_range=True))
    for text in good:
        assert pattern.match(text), text
        parse_quantity_or_range(text, Dimension(dimension))
    for text in bad:
        assert not pattern.match(text), text
        with pytest.raises(QuantityError):
            parse_quantity_or_range(text, Dimension(dimension))


def test_step_completions_are_the_step_keys(schema_file):
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    steps = schema["properties"]["steps"]["items"]["oneOf"]
    titles = {schema["$defs"][ref["$ref"].split("/")[-1]]["title"] for ref in steps}
    assert "add" in titles and "offdeck" in titles
    assert not any(title.endswith("Step") for title in titles)


# --------------------------------------------------------------------------- volumes and --quiet


def test_compile_and_report_write_a_stock_volume_the_same_way(tmp_path):
    plan_path = tmp_path / "plan.json"
    compiled = diazflow("compile", WORKFLOW, "-o", plan_path, cwd=tmp_path)
    assert compiled.returncode == 0
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    stock = next(s for s in plan["stocks"] if s.get("weigh_mg") and s["volume_uL"] < 1000)
    expected = f"make up to {stock['volume_uL']:.0f} µL"  # whole µL from 100 µL (145, not 0.14 mL)
    assert 100 <= stock["volume_uL"] and expected in compiled.stdout
    html = tmp_path / "report.html"
    assert diazflow("report", WORKFLOW, "-o", html, "--quiet", cwd=tmp_path).returncode == 0
    assert expected in html.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("value", "text"),
    [(145.2, "145"), (12600.0, "12600"), (55.04, "55.0"), (9.504, "9.50"), (0.126, "0.13")],
)
def test_one_rounding_rule_for_volumes(value, text):
    from diazflow.language.units import format_volume, microlitres

    assert microlitres(value) == text and format_volume(value) == f"{text} µL"
    # never more than 0.5 % off (a stock made up to the printed volume)
    assert abs(float(text) - value) / value <= 0.005 or value < 1


def test_quiet_prints_only_diagnostics(tmp_path, invalid_protocol):
    compiled = diazflow("compile", WORKFLOW, "--quiet", cwd=tmp_path)
    assert compiled.returncode == 0 and compiled.stdout.strip() == ""
    validated = diazflow("validate", invalid_protocol, "-q", cwd=tmp_path)
    assert validated.returncode == 1 and "DF101" in validated.stdout
    assert validated.stderr.strip() == ""  # no "1 protocol(s): ..." summary
    html = tmp_path / "r.html"
    reported = diazflow("report", WORKFLOW, "-o", html, "--quiet", cwd=tmp_path)
    assert reported.returncode == 0 and reported.stdout.strip() == "" and html.exists()


def test_a_deleted_working_directory_is_one_line_and_exit_2(tmp_path):
    # a shell left in a folder another process deleted: every path is relative to it
    gone = tmp_path / "gone"
    gone.mkdir()
    command = " ".join(f"'{part}'" for part in diazflow_command())
    proc = subprocess.run(
        ["sh", "-c", f"cd '{gone}' && rmdir '{gone}' && exec {command} validate '{WORKFLOW}'"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "working directory cannot be read" in one_line_error(proc)
