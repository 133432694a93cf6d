"""The run journal (spec §8): SQLite in WAL mode with ``synchronous=FULL``.

One file per run.  The executor writes an ``op_started`` event before each operation and an
``op_completed`` event (with what the devices reported) after it; each device action that moves
liquid, tips or powder is written to ``device_log`` by the device gate the moment the device
reports it.  So a run killed at any point leaves a journal from which ``diazflow resume`` knows,
for every operation, whether it completed, never started, or was in flight — and for an
in-flight one, which of its actions the device says it did.

Schema (``JOURNAL_FORMAT`` 1)::

    run(id=1, format, diazflow_version, created, updated, status, message,
        protocol_path, protocol_sha256, deck_path, deck_sha256, vessel_labware,
        backend, speed, plan_json, plan_sha256, commands_path, clock_t, offset_s)
    events(seq, op_id, event, clock_t, wall, data)        -- data: JSON
    device_log(seq, op_id, action, device, kind, clock_t, wall, data)

``run.status`` is ``running`` | ``complete`` | ``failed``; a ``running`` journal whose process is
gone (no lock held) is reported as ``interrupted``.  Events: ``run_started``, ``run_resumed``,
``op_started``, ``op_completed``, ``op_failed``, ``op_resolved`` (an in-flight operation settled on
resume), ``safe_state``, ``run_failed``, ``run_complete``, ``heartbeat`` is kept in ``run.clock_t``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

JOURNAL_FORMAT = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  format INTEGER NOT NULL,
  diazflow_version TEXT NOT NULL,
  created REAL NOT NULL,
  updated REAL NOT NULL,
  status TEXT NOT NULL,
  message TEXT,
  protocol_path TEXT NOT NULL,
  protocol_sha256 TEXT,
  deck_path TEXT NOT NULL,
  deck_sha256 TEXT,
  vessel_labware TEXT NOT NULL,
  backend TEXT NOT NULL,
  speed REAL,
  plan_json TEXT NOT NULL,
  plan_sha256 TEXT NOT NULL,
  commands_path TEXT,
  clock_t REAL NOT NULL DEFAULT 0,
  offset_s REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  op_id INTEGER,
  event TEXT NOT NULL,
  clock_t REAL NOT NULL,
  wall REAL NOT NULL,
  data TEXT
);
CREATE INDEX IF NOT EXISTS events_op ON events(op_id, event);
CREATE TABLE IF NOT EXISTS device_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  op_id INTEGER NOT NULL,
  action INTEGER NOT NULL,
  device TEXT NOT NULL,
  kind TEXT NOT NULL,
  clock_t REAL NOT NULL,
  wall REAL NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS device_log_op ON device_log(op_id, action);
"""


class JournalError(Exception):
    """The journal cannot be used (missing, not a diazflow journal, locked by a live run)."""


def sha256_file(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _synchronous(default: str = "FULL") -> str:
    """SQLite's ``synchronous``: FULL for real devices (survives a power cut); a simulated run may
    use NORMAL, which in WAL mode survives a killed process, only not an OS crash — and a simulated
    run has nothing outside the journal to lose.  ``DIAZFLOW_JOURNAL_SYNC`` overrides both."""
    value = os.environ.get("DIAZFLOW_JOURNAL_SYNC", default).upper()
    return value if value in ("FULL", "NORMAL", "EXTRA") else "FULL"


@dataclass
class RunInfo:
    status: str
    message: str | None
    protocol_path: str
    deck_path: str
    deck_sha256: str | None
    vessel_labware: str
    backend: str
    speed: float | None
    plan_json: str
    commands_path: str | None
    clock_t: float
    offset_s: float
    created: float
    updated: float


@dataclass
class JournalState:
    """What a journal says about a run (``diazflow journal``)."""

    status: str  # complete | interrupted | failed | running
    completed: list[int]
    in_flight: list[int]
    dispensed_uL: dict[str, dict[str, float]]
    dispensed_mg: dict[str, dict[str, float]] = field(default_factory=dict)
    message: str | None = None
    backend: str | None = None
    protocol: str | None = None
    operations: int = 0
    clock_t: float = 0.0

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "completed": self.completed,
            "in_flight": self.in_flight,
            "dispensed_uL": self.dispensed_uL,
            "dispensed_mg": self.dispensed_mg,
            "message": self.message,
            "backend": self.backend,
            "protocol": self.protocol,
            "operations": self.operations,
            "clock_s": round(self.clock_t, 3),
        }


class Journal:
    """One run's journal.  ``Journal.create`` for a new run, ``Journal.open`` to read or resume;
    :meth:`close` (or ``with``) when done."""

    def __init__(self, path: str, conn: sqlite3.Connection):
        self.path = path
        self.conn = conn
        self._lock_fd: int | None = None
        self._pending: list[
            tuple
        ] = []  # op_completed waiting to share a transaction with the next op_started

    # ---- opening

    @staticmethod
    def _connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={_synchronous(synchronous)}")
        return conn

    @classmethod
    def create(
        cls,
        path: str,
        *,
        plan_json: str,
        protocol_path: str,
        deck_path: str,
        vessel_labware: str,
        backend: str,
        speed: float | None,
        commands_path: str | None = None,
        synchronous: str = "FULL",
    ) -> Journal:
        from diazflow import __version__

        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        if os.path.exists(path):
            raise JournalError(
                f"journal '{path}' already exists: resume it with 'diazflow resume {path}' or choose another --journal"
            )
        conn = cls._connect(path, synchronous)
        journal = cls(path, conn)
        journal.lock()
        now = time.time()
        for statement in _SCHEMA.strip().split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT INTO run (id, format, diazflow_version, created, updated, status, protocol_path, protocol_sha256, deck_path, deck_sha256,"
            " vessel_labware, backend, speed, plan_json, plan_sha256, commands_path) VALUES (1, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                JOURNAL_FORMAT,
                __version__,
                now,
                now,
                os.path.abspath(protocol_path),
                sha256_file(protocol_path),
                os.path.abspath(deck_path),
                sha256_file(deck_path),
                vessel_labware,
                backend,
                speed,
                plan_json,
                hashlib.sha256(plan_json.encode()).hexdigest(),
                os.path.abspath(commands_path) if commands_path else None,
            ),
        )
        return journal

    @classmethod
    def open(cls, path: str) -> Journal:
        if not os.path.exists(path):
            raise JournalError(f"no journal at '{path}'")
        try:
            conn = cls._connect(path)
            row = conn.execute("SELECT format FROM run WHERE id = 1").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"'{path}' is not a diazflow journal ({exc})") from None
        if row is None:
            raise JournalError(f"'{path}' is not a diazflow journal (no run record)")
        if row[0] != JOURNAL_FORMAT:
            raise JournalError(
                f"'{path}' is a journal of format {row[0]}; this diazflow reads format {JOURNAL_FORMAT}"
            )
        return cls(path, conn)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write what is pending, close the database and give up the run lock (if held)."""
        self.flush()
        self.conn.close()
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.lock_path)
        self.unlock()

    # ---- the lock: held by the process that runs the plan

    @property
    def lock_path(self) -> str:
        # a separate file: closing any descriptor of the database itself would drop SQLite's own
        # POSIX locks in this process
        return self.path + ".lock"

    def lock(self) -> None:
        """Hold an exclusive lock for as long as this process runs the plan (released on exit,
        including ``kill -9``); a second run or resume of the same journal is refused."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalError(
                f"journal '{self.path}' is in use by a running diazflow process"
            ) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def is_live(self) -> bool:
        """Whether another process holds the run lock (the run is going on right now)."""
        if self._lock_fd is not None:
            return True
        if not os.path.exists(self.lock_path):
            return False
        fd = os.open(self.lock_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    # ---- writing

    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, exc, tb):
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
            return False

    def transaction(self) -> _Tx:
        return Journal._Tx(self.conn)

    def _event_row(self, op_id: int | None, event: str, clock_t: float, data: Any | None) -> tuple:
        return (
            op_id,
            event,
            float(clock_t),
            time.time(),
            json.dumps(data, separators=(",", ":")) if data is not None else None,
        )

    def event(
        self,
        op_id: int | None,
        event: str,
        clock_t: float,
        data: Any | None = None,
        *,
        status: str | None = None,
        message: str | None = None,
        offset_s: float | None = None,
    ) -> None:
        """Write one event (and anything pending) in one durable transaction."""
        rows = self._pending + [self._event_row(op_id, event, clock_t, data)]
        self._pending = []
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO events (op_id, event, clock_t, wall, data) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            sets = ["updated = ?", "clock_t = MAX(clock_t, ?)"]
            args: list[float | str] = [time.time(), float(clock_t)]
            if status is not None:
                sets.append("status = ?")
                args.append(status)
            if message is not None:
                sets.append("message = ?")
                args.append(message)
            if offset_s is not None:
                sets.append("offset_s = ?")
                args.append(float(offset_s))
            c.execute(f"UPDATE run SET {', '.join(sets)} WHERE id = 1", args)

    def op_started(
        self, op_id: int, clock_t: float, offset_s: float, *, defer: bool = False
    ) -> None:
        """``defer`` (simulated devices only): commit with the operation's first device record.

        A simulated device's record *is* its action, so writing "started" in the same transaction
        as the record loses nothing: after a crash the journal either has neither (the operation
        never happened) or both (it is in flight and the record says what was done).  Real
        devices act outside the journal: their operations are never deferred.
        """
        self._pending.append(
            self._event_row(op_id, "op_started", clock_t, {"offset_s": round(offset_s, 6)})
        )
        if not defer:
            self.flush(clock_t)

    def op_completed(self, op_id: int, clock_t: float, data: Any, *, defer: bool = False) -> None:
        """``defer``: keep it to commit with the next event (the next operation starts at once)."""
        self._pending.append(self._event_row(op_id, "op_completed", clock_t, data))
        if not defer:
            self.flush(clock_t)

    def flush(self, clock_t: float | None = None) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO events (op_id, event, clock_t, wall, data) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            c.execute(
                "UPDATE run SET updated = ?, clock_t = MAX(clock_t, ?) WHERE id = 1",
                (time.time(), float(clock_t if clock_t is not None else rows[-1][2])),
            )

    def device_action(
        self, op_id: int, action: int, device: str, kind: str, clock_t: float, data: dict
    ) -> None:
        """The device's own record of one action, durable before the executor goes on (with any
        pending events, which come first)."""
        row = (
            op_id,
            action,
            device,
            kind,
            float(clock_t),
            time.time(),
            json.dumps(data, separators=(",", ":")),
        )
        if not self._pending:
            self.conn.execute(
                "INSERT INTO device_log (op_id, action, device, kind, clock_t, wall, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return
        rows, self._pending = self._pending, []
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO events (op_id, event, clock_t, wall, data) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            c.execute(
                "INSERT INTO device_log (op_id, action, device, kind, clock_t, wall, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def heartbeat(self, clock_t: float) -> None:
        """How far the run got in plan time while nothing else happened (a long hold on real time)."""
        self.flush(clock_t)
        self.conn.execute(
            "UPDATE run SET updated = ?, clock_t = MAX(clock_t, ?) WHERE id = 1",
            (time.time(), float(clock_t)),
        )

    def set_status(self, status: str, message: str | None = None) -> None:
        self.flush()
        self.conn.execute(
            "UPDATE run SET status = ?, message = ?, updated = ? WHERE id = 1",
            (status, message, time.time()),
        )

    # ---- reading

    def info(self) -> RunInfo:
        """The run record; ``clock_t`` is how far the run got in plan time (events and heartbeats),
        ``offset_s`` the delay carried by its last started operation."""
        row = self.conn.execute(
            "SELECT status, message, protocol_path, deck_path, deck_sha256, vessel_labware, backend, speed, plan_json, commands_path, clock_t, offset_s, created, updated FROM run WHERE id = 1"
        ).fetchone()
        info = RunInfo(*row)
        last = self.conn.execute("SELECT MAX(clock_t) FROM events").fetchone()[0]
        if last is not None:
            info.clock_t = max(info.clock_t, last)
        started = self.conn.execute(
            "SELECT data FROM events WHERE event = 'op_started' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if started is not None and started[0]:
            info.offset_s = float(json.loads(started[0]).get("offset_s", info.offset_s))
        return info

    def events(self) -> list[tuple[int, int | None, str, float, dict | None]]:
        """``(seq, op_id, event, clock_t, data)`` in order."""
        out = []
        for seq, op_id, event, clock_t, data in self.conn.execute(
            "SELECT seq, op_id, event, clock_t, data FROM events ORDER BY seq"
        ):
            out.append((seq, op_id, event, clock_t, json.loads(data) if data else None))
        return out

    def device_log(self, op_id: int | None = None) -> list[tuple[int, int, str, str, float, dict]]:
        """``(op_id, action, device, kind, clock_t, data)`` in order."""
        sql = "SELECT op_id, action, device, kind, clock_t, data FROM device_log"
        args: tuple = ()
        if op_id is not None:
            sql += " WHERE op_id = ?"
            args = (op_id,)
        return [
            (o, a, d, k, c, json.loads(x))
            for o, a, d, k, c, x in self.conn.execute(sql + " ORDER BY seq", args)
        ]

    def op_status(self) -> tuple[dict[int, dict], list[int], dict[int, float]]:
        """``(completed {op_id: report}, in_flight [op_id], started_at {op_id: clock_t})``.

        An operation is in flight when its last ``op_started`` has no later ``op_completed`` /
        ``op_resolved``; a failed operation (``op_failed``) did not complete and is in flight too:
        the device may have done part of it.
        """
        completed: dict[int, dict] = {}
        open_ops: dict[int, float] = {}
        started_at: dict[int, float] = {}
        for _seq, op_id, event, clock_t, data in self.events():
            if op_id is None:
                continue
            if event == "op_started":
                open_ops[op_id] = clock_t
                started_at[op_id] = clock_t
            elif event == "op_completed" or (event == "op_resolved" and (data or {}).get("done")):
                # an in-flight operation settled as "not (fully) done" stays in flight until it completes
                completed[op_id] = data or {}
                open_ops.pop(op_id, None)
        in_flight = sorted(op for op in open_ops if op not in completed)
        return completed, in_flight, started_at

    def state(self) -> JournalState:
        from diazflow.compiler.plan import Dispense, DispensePowder, Plan

        info = self.info()
        plan = Plan.from_json(info.plan_json)
        ops = {op.id: op for op in plan.operations}
        completed, in_flight, _ = self.op_status()
        status = info.status
        if status == "running":
            status = "running" if self.is_live() else "interrupted"
        prefix = info.vessel_labware + ":"
        dispensed: dict[str, dict[str, float]] = {}
        powder: dict[str, dict[str, float]] = {}
        for op_id, _action, _device, kind, _clock, data in self.device_log():
            op = ops.get(op_id)
            if op is None:
                continue
            match op:
                case Dispense() if kind == "dispense":
                    for row in data.get("channels", ()):
                        at = row.get("at", "")
                        if at.startswith(prefix) and "uL" in row:
                            well = at[len(prefix) :]
                            per = dispensed.setdefault(well, {})
                            per[op.reagent or "?"] = per.get(op.reagent or "?", 0.0) + row["uL"]
                case DispensePowder() if kind == "dispense_powder":
                    for row in data.get("doses", ()):
                        at = row.get("at", "")
                        well = at[len(prefix) :] if at.startswith(prefix) else at
                        per = powder.setdefault(well, {})
                        per[op.reagent or "?"] = per.get(op.reagent or "?", 0.0) + row["mg"]
        return JournalState(
            status=status,
            completed=sorted(completed),
            in_flight=in_flight,
            dispensed_uL=_rounded(dispensed),
            dispensed_mg=_rounded(powder),
            message=info.message,
            backend=info.backend,
            protocol=info.protocol_path,
            operations=len(plan.operations),
            clock_t=info.clock_t,
        )


def _rounded(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    def order(name: str) -> tuple:
        letters = "".join(ch for ch in name if ch.isalpha())
        digits = "".join(ch for ch in name if ch.isdigit())
        return (int(digits) if digits else 0, letters)

    return {
        w: {r: round(v, 6) for r, v in sorted(table[w].items())} for w in sorted(table, key=order)
    }
