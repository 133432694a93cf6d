"""What the report needs from a run journal, behind one small adapter.

The runtime (:mod:`diazflow.runtime.journal`) owns the journal format (SQLite).  The report only
needs a read-only view of it: the plan that was run, the run's status, and for each operation when
it actually started and finished (plan time: seconds from the start of the run) and what the
devices reported.  :func:`load_journal` is the one place that knows the runtime's API; everything
else in :mod:`diazflow.report` works on :class:`JournalView`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from diazflow.compiler.plan import Plan, SetTemperature, Shake, StopShaking, Wait
from diazflow.results.models import RunResults

OpStatus = Literal["completed", "in_flight", "failed", "pending"]
RunStatus = Literal["complete", "interrupted", "failed", "running"]

SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class OpRecord:
    """One operation as the journal saw it.  Times are seconds from the start of the run."""

    id: int
    status: OpStatus
    started: float | None = None
    completed: float | None = None
    reported: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class JournalView:
    """A read-only view of one run, as the report uses it."""

    path: str
    plan: Plan
    status: RunStatus
    records: dict[int, OpRecord] = field(default_factory=dict)
    started_at: datetime | None = None  # wall clock of the run's start, if the journal has it
    dispensed_uL: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None  # why the run failed, if it did
    backend: str | None = None
    clock: str | None = None  # "virtual" (simulation) or "wall"
    dispensed_mg: dict[str, dict[str, float]] = field(default_factory=dict)
    last_clock: float | None = None  # how far the run got in plan time (heartbeats included)
    vessel_labware: str | None = None
    protocol_path: str | None = None  # absolute, as recorded when the run started
    deck_path: str | None = None
    results: RunResults | None = None  # analytical results imported with `diazflow results`

    def status_of(self, op_id: int) -> OpStatus:
        rec = self.records.get(op_id)
        return rec.status if rec else "pending"

    @property
    def last_time(self) -> float:
        """The latest time the journal knows of (seconds from start)."""
        times = [
            t for r in self.records.values() for t in (r.started, r.completed) if t is not None
        ]
        return max(times + ([self.last_clock] if self.last_clock is not None else []), default=0.0)


class JournalError(Exception):
    """The file is not a journal this version of diazflow can read."""


def is_journal(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def load_journal(path: str | os.PathLike) -> JournalView:
    """Read a run journal written by :mod:`diazflow.runtime` (read-only: never takes the run lock)."""
    path = os.fspath(path)
    if not is_journal(path):
        raise JournalError(f"'{path}' is not a diazflow journal (not an SQLite file)")
    from diazflow.runtime import journal as rj

    try:
        with rj.Journal.open(path, read_only=True) as j:
            return _view(j, path)
    except rj.JournalError as exc:
        raise JournalError(str(exc)) from None


# Operations that start something and return at once; their time passes in the background.
BACKGROUND_OPS = (Shake, Wait, SetTemperature, StopShaking)


def _view(j, path: str) -> JournalView:
    from diazflow.results.store import read_results

    state = j.state()  # first: it reads (and so checks) the plan, the events and the device log
    info = j.info()
    plan = Plan.from_json(info.plan_json)
    records: dict[int, OpRecord] = {}
    for _seq, op_id, event, clock_t, data in j.events():
        if op_id is None:
            continue
        rec = records.get(op_id)
        if event == "op_started":
            records[op_id] = OpRecord(op_id, "in_flight", started=clock_t)
        elif event == "op_completed" or (
            event == "op_resolved" and (data or {}).get("done", False)
        ):
            records[op_id] = OpRecord(
                op_id, "completed", rec.started if rec else None, clock_t, data or None
            )
        elif event == "op_resolved":  # settled on resume as not done: it runs again
            records[op_id] = OpRecord(op_id, "pending")
        elif event == "op_failed":
            message = (data or {}).get("message") if isinstance(data, dict) else None
            records[op_id] = OpRecord(
                op_id, "failed", rec.started if rec else None, clock_t, data or None, message
            )
    records = {k: v for k, v in records.items() if v.status != "pending"}
    status: RunStatus = "interrupted"
    if state.status in ("complete", "interrupted", "failed", "running"):
        status = state.status
    # plan time runs on a virtual clock in simulation: wall-clock times only for hardware runs
    started_at = (
        datetime.fromtimestamp(info.created, tz=timezone.utc).astimezone()
        if info.backend == "hardware"
        else None
    )
    return JournalView(
        path=path,
        plan=plan,
        status=status,
        records=records,
        started_at=started_at,
        dispensed_uL=state.dispensed_uL,
        dispensed_mg=getattr(state, "dispensed_mg", {}) or {},
        error=info.message if status == "failed" or info.message else None,
        backend=info.backend,
        clock="wall" if info.backend == "hardware" else "virtual",
        last_clock=max(
            info.clock_t,
            max(
                (t for r in records.values() for t in (r.started, r.completed) if t is not None),
                default=0.0,
            ),
        ),
        vessel_labware=info.vessel_labware,
        protocol_path=info.protocol_path,
        deck_path=info.deck_path,
        results=read_results(j.conn, path),
    )
