"""Issue 16's small ones: wells outside the plate are one mistake in ``vessels.wells`` (DF524),
not a library shortfall (DF113); ``validate`` lists the warnings a protocol acknowledged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from diazflow.pipeline import check
from test_hte import HTE, with_deck

REPO = Path(__file__).resolve().parents[1]
STARLET = REPO / "tests" / "data" / "protocols" / "examples" / "amination_starlet.yaml"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diazflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wells_beyond_the_plate_are_df524_at_vessels_wells_not_a_library_shortfall(tmp_path):
    # a 12-member by-column library on A1:H13: column 13 has no member, but the block has no
    # column 13 either, which is what to fix
    path = with_deck(STARLET, tmp_path, (("wells: A1:H12", "wells: A1:H13"),))
    result = check(str(path))
    codes = [d.code for d in result.diagnostics]
    assert codes == ["DF524"], [str(d) for d in result.diagnostics]
    d = result.diagnostics[0]
    line = path.read_text(encoding="utf-8").splitlines()[d.line - 1]
    assert line.startswith("vessels:") and line[d.column - 1 :].startswith("A1:H13")
    assert "A13" in d.message and "(8×12)" in d.message and d.hint == "wells run from A1 to H12"
    assert result.plan is None


def test_a_library_shortfall_inside_the_plate_is_still_df113(tmp_path):
    # one aldehyde fewer: column 12 really lacks a member, and every well is on the block
    path = with_deck(
        STARLET, tmp_path, (("      - {name: 2-naphthaldehyde, smiles: O=Cc1ccc2ccccc2c1}\n", ""),)
    )
    result = check(str(path))
    assert [d.code for d in result.diagnostics] == ["DF113"]
    assert "column(s) 12" in result.diagnostics[0].hint


def test_the_cli_reports_df524_alone_for_a_13th_column(tmp_path):
    path = with_deck(STARLET, tmp_path, (("wells: A1:H12", "wells: A1:H13"),))
    out = cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 1
    assert "error DF524" in out.stdout and "DF113" not in out.stdout


def test_validate_lists_the_acknowledged_warnings_with_their_reasons(tmp_path):
    path = with_deck(HTE / "solvent_screen.yaml", tmp_path)
    reason = "glass troughs in use for THF and toluene"
    path.write_text(
        path.read_text(encoding="utf-8") + f"\nsettings:\n  acknowledge: {{DF304: {reason}}}\n",
        encoding="utf-8",
    )
    acknowledged = check(str(path)).acknowledged
    out = cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "DF304" not in out.stdout  # acknowledged: not a finding
    lines = out.stderr.splitlines()
    assert lines[0] == "1 protocol(s): 1 valid, 0 invalid"
    assert lines[1] == "acknowledged (settings.acknowledge):"
    assert lines[2] == f"  {path.name}: DF304 ({len(acknowledged)} warnings): {reason}"
    assert len(acknowledged) == 2  # the screen has two DF304 findings, both acknowledged
    # --quiet keeps the summary (and this list) out
    assert cli("validate", "--quiet", str(path), cwd=tmp_path).stderr == ""
