"""What a user sees at the command line (issue 17): missing extras, colour conventions, CI
formats, the run log, clock times and volumes.  Every command runs as a real ``diazflow`` process."""

from __future__ import annotations

import os
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
