"""Simulated runs commit their journal every few milliseconds of wall time instead of at every
device record (runtime/journal.py, ``set_commit_interval``): the rows are the same, in the same
order, fewer transactions write them, and whatever reads the journal sees the rows kept back.
(That a killed simulated run still resumes every operation exactly once is
tests/test_runtime.py's random-kill test.)"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from diazflow.runtime.journal import Journal, commit_interval_for

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "workflows" / "n4_reductive_amination_stab.yaml"


def _rows(journal: Path) -> tuple[list[tuple], list[tuple]]:
    """Events and device records, without the wall-clock column (and the run's process id)."""
    with contextlib.closing(sqlite3.connect(journal)) as conn:
        events = conn.execute(
            "SELECT seq, op_id, event, clock_t, data FROM events"
            " WHERE event != 'run_started' ORDER BY seq"
        ).fetchall()
        records = conn.execute(
            "SELECT seq, op_id, action, device, kind, clock_t, data FROM device_log ORDER BY seq"
        ).fetchall()
    return events, records


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
    events, records = _rows(tmp_path / "every.sqlite")
    assert len(records) > 100
    assert _rows(tmp_path / "kept.sqlite") == (events, records)
    # an hour's interval: the run's events alone commit (start, prompts' neighbours, the end)
    assert kept < every / 10


def test_only_simulated_devices_keep_records_back():
    assert commit_interval_for("simulate") > 0
    assert commit_interval_for("chatterbox") == 0
    assert commit_interval_for("hardware") == 0


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
