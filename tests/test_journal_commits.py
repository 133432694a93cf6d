"""Simulated runs commit their journal every few milliseconds of wall time instead of at every
device record (runtime/journal.py, ``set_commit_interval``): the rows are the same, in the same
order, fewer transactions write them, and whatever reads the journal sees the rows kept back.
(That a killed simulated run still resumes every operation exactly once is
tests/test_runtime.py's random-kill test.)"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from diazflow.runtime.journal import Journal, commit_interval_for
from helpers import journal_rows

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "workflows" / "n4_reductive_amination_stab.yaml"


def _simulated_run(journal: Path, monkeypatch, interval: float) -> int:
    """Run the workflow on the simulated backend; how many transactions the journal made."""
    import diazflow.runtime.runner as runner
    from diazflow.pipeline import check

    transactions = 0
    original = Journal.transaction

    def counted(self):
        nonlocal transactions
        transactions += 1
        return original(self)

    monkeypatch.setattr(Journal, "transaction", counted)
    monkeypatch.setattr(runner, "commit_interval_for", lambda backend: interval)
    result = check(str(WORKFLOW))
    assert result.plan is not None
    outcome = runner.run_plan(result, journal_path=str(journal), quiet=True, notify=lambda _: None)
    assert outcome.exit_code == 0, outcome.message
    return transactions


def test_kept_back_records_give_the_same_journal_in_fewer_transactions(tmp_path, monkeypatch):
    every = _simulated_run(tmp_path / "every.sqlite", monkeypatch, 0.0)
    kept = _simulated_run(tmp_path / "kept.sqlite", monkeypatch, 3600.0)
    events, records = journal_rows(tmp_path / "every.sqlite")
    assert len(records) > 100
    assert journal_rows(tmp_path / "kept.sqlite") == (events, records)
    # an hour's interval: the run's events alone commit (start, prompts' neighbours, the end)
    assert kept < every / 10


def test_only_devices_that_live_in_the_process_keep_records_back():
    assert commit_interval_for("simulate") > 0
    assert commit_interval_for("chatterbox") > 0  # with its transcript written before commits
    assert commit_interval_for("hardware") == 0


def test_a_chatterbox_transcript_holds_every_command_before_its_records_commit(
    tmp_path, monkeypatch
):
    """Before every commit, every command the chatterbox produced is in the transcript's file."""
    import diazflow.runtime.runner as runner
    from diazflow.pipeline import check

    commits = 0
    original = runner.CommandTranscript.flush

    def flush(self) -> None:
        nonlocal commits
        original(self)
        commits += 1
        with open(self.path, encoding="utf-8") as fh:
            assert sum(1 for _ in fh) == self.lines

    monkeypatch.setattr(runner.CommandTranscript, "flush", flush)
    result = check(str(WORKFLOW))
    assert result.plan is not None
    journal = tmp_path / "cb.sqlite"
    outcome = runner.run_plan(
        result, backend="chatterbox", journal_path=str(journal), quiet=True, notify=lambda _: None
    )
    assert outcome.exit_code == 0, outcome.message
    assert commits > 5
    transcript = Path(runner.commands_path_for(str(journal))).read_text(encoding="utf-8")
    assert transcript.count("C0AS") > 50


def test_a_transcript_reaches_its_file_only_when_flushed(tmp_path):
    """More commands than a file buffer holds between two commits: none is on disk before the
    flush that precedes the commit (a full buffer would write commands of uncommitted records,
    which a killed run's resume then sends again)."""
    from diazflow.runtime.runner import CommandTranscript

    path = tmp_path / "cb.commands.txt"
    with CommandTranscript(str(path)) as transcript:
        transcript.write("\n".join(f"C0ASid{i:04d}xp{'0' * 300}" for i in range(400)))
        assert path.read_text(encoding="utf-8") == ""
        transcript.flush()
        assert len(path.read_text(encoding="utf-8").splitlines()) == 400
        transcript.write("C0DSid0401")
    assert path.read_text(encoding="utf-8").splitlines()[-1] == "C0DSid0401"  # close flushes


PIPETTING = ("C0TP", "C0TR", "C0AS", "C0DS")  # tip pick-up and drop, aspirate, dispense


def _chatterbox(tmp_path: Path, name: str, crash: str | None) -> tuple[list[str], list[tuple]]:
    """A STAR chatterbox run of the 16-well dropwise plate (killed with SIGKILL at ``crash``
    and resumed): its pipetting commands in order, and its device records."""
    import os
    import signal
    import subprocess
    import sys

    plate = REPO / "tests" / "data" / "runtime" / "starlet_dropwise_16.yaml"
    journal = tmp_path / f"{name}.sqlite"

    def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "diazflow.cli", *args, "--quiet"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )

    env = {"DIAZFLOW_TEST_CRASH": crash} if crash else {}
    out = cli("run", str(plate), "--backend", "chatterbox", "--journal", str(journal), env=env)
    if crash:
        assert out.returncode == -signal.SIGKILL, out.stderr
        out = cli("resume", str(journal), env={})
    assert out.returncode == 0, out.stderr
    lines = Path(f"{journal}.commands.txt").read_text(encoding="utf-8").splitlines()
    _, records = journal_rows(journal)
    # the firmware's command ids (idNNNN) count from the start of each process, and so do the
    # STAR's tip type numbers (ttNN, a table filled as tip types are first used)
    commands = [re.sub(r"tt\d\d", "tt", re.sub(r"^(C0..)id\d{4}", r"\1", x)) for x in lines]
    return [c for c in commands if c.startswith(PIPETTING)], [r[1:5] for r in records]


def test_a_killed_chatterbox_run_resumes_with_every_command_once(tmp_path):
    from diazflow.compiler.plan import Dispense
    from diazflow.pipeline import check

    plan = check(str(REPO / "tests" / "data" / "runtime" / "starlet_dropwise_16.yaml")).plan
    assert plan is not None
    dispenses = [op for op in plan.operations if isinstance(op, Dispense)]
    whole = _chatterbox(tmp_path, "whole", None)
    for where in (f"{dispenses[3].id}:action", f"{dispenses[-2].id}:started"):
        resumed = _chatterbox(tmp_path, where.replace(":", "_"), where)
        assert resumed == whole, where


def test_reading_the_journal_commits_what_was_kept_back(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = Journal.create(
        str(path),
        plan_json='{"operations": []}',
        protocol_path=str(WORKFLOW),
        deck_path=str(WORKFLOW),
        vessel_labware="reaction_block",
        backend="simulate",
        speed=None,
        synchronous="OFF",
    )
    other = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        journal.set_commit_interval(3600.0)
        journal.op_started(1, 0.0, 0.0, defer=True)
        for action in range(3):
            journal.device_action(1, action, "liquid_handler", "aspirate", 1.0, {"n": action})
        # another process sees what is committed: nothing of operation 1 yet
        assert other.execute("SELECT COUNT(*) FROM device_log").fetchone()[0] == 0
        # this journal's own reader sees every row, and commits them
        assert [row[1] for row in journal.device_log(op_id=1)] == [0, 1, 2]
        assert other.execute("SELECT COUNT(*) FROM device_log").fetchone()[0] == 3
        assert other.execute(
            "SELECT COUNT(*) FROM events WHERE event = 'op_started'"
        ).fetchone() == (1,)
        journal.device_action(1, 3, "liquid_handler", "dispense", 2.0, {})
        journal.op_completed(1, 2.0, {}, defer=True)
        journal.close()  # closing commits the rest
        assert other.execute("SELECT COUNT(*) FROM device_log").fetchone()[0] == 4
        assert other.execute(
            "SELECT COUNT(*) FROM events WHERE event = 'op_completed'"
        ).fetchone() == (1,)
    finally:
        other.close()
