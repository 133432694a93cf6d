"""Warning control on the command line (issue 16): ``--ignore``, ``--select``, ``--error`` and
``--warnings-as-errors`` on ``validate``, ``compile``, ``run`` and ``report``, in a fresh process,
on shipped workflows whose warnings are known: the reductive amination in DCE has one DF304
(DCE in a polypropylene trough and plate) and nothing else; the mono-Boc route has one DF304 and
one DF402 (the NaH quench)."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

STAB = REPO / "workflows" / "n4_reductive_amination_stab.yaml"
MONO_BOC = REPO / "workflows" / "diazepane_mono_boc_route.yaml"
FINDING = re.compile(r"^\S+:\d+:\d+: (?P<severity>error|warning) (?P<code>DF\d{3}): ", re.M)


def findings(text: str) -> list[tuple[str, str]]:
    """(severity, code) of every diagnostic printed as text."""
    return [(m["severity"], m["code"]) for m in FINDING.finditer(text)]


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]


def test_without_options_the_warnings_are_printed_and_the_protocol_is_valid(run_diazflow):
    proc = run_diazflow("validate", STAB)
    no_traceback(proc)
    assert proc.returncode == 0
    assert findings(proc.stdout) == [("warning", "DF304")]


@pytest.mark.parametrize("code", ["DF304", "DF3", "df304", "DF"])
def test_ignore_by_code_or_prefix_hides_the_warning(run_diazflow, code):
    proc = run_diazflow("validate", STAB, "--ignore", code)
    no_traceback(proc)
    assert proc.returncode == 0
    assert findings(proc.stdout) == []
    assert "1 protocol(s): 1 valid, 0 invalid" in proc.stderr


def test_ignore_is_repeatable_and_keeps_the_other_warnings(run_diazflow):
    one = run_diazflow("validate", MONO_BOC, "--ignore", "DF304")
    both = run_diazflow("validate", MONO_BOC, "--ignore", "DF304", "--ignore", "DF4")
    assert findings(one.stdout) == [("warning", "DF402")]
    assert findings(both.stdout) == []
    assert one.returncode == both.returncode == 0


def test_select_shows_only_the_selected_warnings(run_diazflow):
    proc = run_diazflow("validate", MONO_BOC, "--select", "DF4")
    assert proc.returncode == 0
    assert findings(proc.stdout) == [("warning", "DF402")]
    both = run_diazflow("validate", MONO_BOC, "--select", "DF402", "--select", "DF304")
    assert sorted(findings(both.stdout)) == [("warning", "DF304"), ("warning", "DF402")]


def test_select_never_hides_an_error(run_diazflow, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        STAB.read_text().replace("deck: ", "deck: no_such_deck_", 1), encoding="utf-8"
    )
    proc = run_diazflow("validate", broken, "--select", "DF304")
    no_traceback(proc)
    assert proc.returncode == 1
    assert any(severity == "error" for severity, _ in findings(proc.stdout))


def test_error_promotes_the_named_warning_and_exits_1(run_diazflow):
    proc = run_diazflow("validate", MONO_BOC, "--error", "DF402")
    no_traceback(proc)
    assert proc.returncode == 1
    assert sorted(findings(proc.stdout)) == [("error", "DF402"), ("warning", "DF304")]
    assert "1 protocol(s): 0 valid, 1 invalid" in proc.stderr


def test_warnings_as_errors_promotes_every_warning(run_diazflow):
    proc = run_diazflow("validate", STAB, "--warnings-as-errors")
    assert proc.returncode == 1
    assert findings(proc.stdout) == [("error", "DF304")]


def test_promotion_wins_over_ignore(run_diazflow):
    proc = run_diazflow("validate", STAB, "--ignore", "DF304", "--error", "DF3")
    assert proc.returncode == 1
    assert findings(proc.stdout) == [("error", "DF304")]


def test_promoting_a_code_the_protocol_does_not_raise_changes_nothing(run_diazflow):
    proc = run_diazflow("validate", STAB, "--error", "DF402")
    assert proc.returncode == 0
    assert findings(proc.stdout) == [("warning", "DF304")]


@pytest.mark.parametrize("option", ["--ignore", "--select", "--error"])
@pytest.mark.parametrize("value", ["304", "DF9", "DF30x", "W304"])
def test_a_value_that_names_no_code_is_a_usage_error(run_diazflow, option, value):
    proc = run_diazflow("validate", STAB, option, value)
    no_traceback(proc)
    assert proc.returncode == 2
    assert f"'{value}' is not a diagnostic code or prefix" in proc.stderr
    assert findings(proc.stdout) == []  # refused before the protocol is read


def test_github_format_carries_the_promoted_severity(run_diazflow):
    proc = run_diazflow("validate", MONO_BOC, "--format", "github", "--error", "DF304")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["::error", "::warning"]
    assert "title=DF304" in lines[0] and "title=DF402" in lines[1]


def test_compile_with_a_promoted_warning_writes_no_plan(run_diazflow, tmp_path):
    plan = tmp_path / "plan.json"
    proc = run_diazflow("compile", STAB, "-o", plan, "--warnings-as-errors")
    no_traceback(proc)
    assert proc.returncode == 1
    assert findings(proc.stdout) == [("error", "DF304")]
    assert not plan.exists()
    quiet = run_diazflow("compile", STAB, "-o", plan, "--ignore", "DF304")
    assert quiet.returncode == 0
    assert findings(quiet.stdout) == []
    assert plan.exists()


def test_run_with_a_promoted_warning_runs_nothing(run_diazflow, tmp_path):
    journal = tmp_path / "run.journal.sqlite"
    proc = run_diazflow("run", STAB, "--quiet", "--journal", journal, "--error", "DF304")
    no_traceback(proc)
    assert proc.returncode == 1
    assert findings(proc.stderr) == [("error", "DF304")]
    assert not journal.exists()
    ignored = run_diazflow("run", STAB, "--quiet", "--journal", journal, "--ignore", "DF304")
    assert ignored.returncode == 0, ignored.stderr[-2000:]
    assert findings(ignored.stderr) == []
    assert journal.exists()


def test_report_honours_the_warning_options(run_diazflow, tmp_path):
    html = tmp_path / "report.html"
    promoted = run_diazflow("report", STAB, "-o", html, "--error", "DF304")
    no_traceback(promoted)
    assert promoted.returncode == 1
    assert findings(promoted.stdout) == [("error", "DF304")]
    ignored = run_diazflow("report", STAB, "-o", html, "--ignore", "DF304")
    assert ignored.returncode == 0
    assert findings(ignored.stdout) == []
    assert "DF304" not in html.read_text(encoding="utf-8")
