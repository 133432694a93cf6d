"""The run journal (spec §8): SQLite with a rollback journal (``journal_mode=DELETE``) and
``synchronous=FULL``.

One file per run, at every moment: a committed transaction is in the database file itself, so a
journal copied (or mailed, or checked in) without any ``-journal`` / ``-wal`` beside it holds every
operation that completed, even after ``kill -9`` (WAL mode kept them in ``-wal`` until a
checkpoint).  The file is marked with SQLite's ``application_id`` so that a foreign database is
refused before SQLite touches it.  The executor writes an ``op_started`` event before each operation and an
``op_completed`` event (with what the devices reported) after it; each device action that moves
liquid, tips or powder is written to ``device_log`` by the device gate the moment the device
reports it (on simulated devices and chatterboxes, within 20 ms of wall time:
:meth:`Journal.set_commit_interval`).  So a run killed at any point leaves a journal from which
``diazflow resume`` knows,
for every operation, whether it completed, never started, or was in flight — and for an
in-flight one, which of its actions the device says it did.

Schema (``JOURNAL_FORMAT`` 1)::

    run(id=1, format, diazflow_version, created, updated, status, message,
        protocol_path, protocol_sha256, deck_path, deck_sha256, vessel_labware,
        backend, speed, plan_json, plan_sha256, commands_path, clock_t, offset_s)
    events(seq, op_id, event, clock_t, wall, data)        -- data: JSON
    device_log(seq, op_id, action, device, kind, clock_t, wall, data)

``run.status`` is ``running`` | ``complete`` | ``failed``; a ``running`` journal whose process is
gone (no lock held) is reported as ``interrupted``.  The lock is an ``flock`` on the journal file
itself, held by the process that runs the plan: deleting a file cannot defeat it, and the kernel
drops it when the process dies.  Events: ``run_started``, ``run_resumed``,
``op_started``, ``op_completed``, ``op_failed``, ``op_resolved`` (an in-flight operation settled on
resume), ``safe_state``, ``run_failed``, ``run_complete``, ``heartbeat`` is kept in ``run.clock_t``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import sqlite3
import stat
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from diazflow.compiler.plan import Operation, Plan

JOURNAL_FORMAT = 1
APPLICATION_ID = 0x44464A31  # "DFJ1" in SQLite's header (offset 68): a diazflow journal
SQLITE_MAGIC = b"SQLite format 3\x00"
JOURNAL_TABLES = frozenset({"run", "events", "device_log"})
# files SQLite would adopt as part of a database at PATH (a planted hot journal would be rolled
# into a new journal): refused beside a journal that is being created
SIDECARS = ("-journal", "-wal", "-shm")

# json.dumps(data, separators=(",", ":")), without building a new encoder for every row (dumps
# makes one per call when it is given any option): the same text
_compact_json = json.JSONEncoder(separators=(",", ":")).encode

_INSERT_EVENTS = "INSERT INTO events (op_id, event, clock_t, wall, data) VALUES (?, ?, ?, ?, ?)"
_INSERT_DEVICE_LOG = (
    "INSERT INTO device_log (op_id, action, device, kind, clock_t, wall, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)

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


class JournalDamaged(JournalError):
    """The file is a diazflow journal, but what it holds cannot be read (flipped bytes, a missing
    table, a record that is not JSON, a plan that does not parse)."""


class JournalWriteError(JournalError):
    """A write to the journal failed (disk full, I/O error, the file gone read-only): the run
    must stop, since what it does next could not be recorded."""


_T = TypeVar("_T")


def _writing(method: Callable[..., _T]) -> Callable[..., _T]:
    """A failed write is a :class:`JournalWriteError` (never a traceback); the journal remembers
    that one failed so that closing it does not fail a second time for the same reason."""

    @functools.wraps(method)
    def wrapper(self: Journal, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            self.write_failed = True
            raise JournalWriteError(
                f"cannot write the journal '{self.path}': {_first_line(exc)}"
            ) from None

    return wrapper


def _reading(method: Callable[..., _T]) -> Callable[..., _T]:
    """A damaged journal is a :class:`JournalDamaged`, never a traceback."""

    @functools.wraps(method)
    def wrapper(self: Journal, *args: Any, **kwargs: Any) -> _T:
        if self._pending_log:  # what is read includes what the run has kept back
            self.flush()
        try:
            return method(self, *args, **kwargs)
        except JournalError:
            raise
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise JournalDamaged(
                f"journal '{self.path}' is damaged: {type(exc).__name__}: {_first_line(exc)}"
            ) from None

    return wrapper


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def sha256_file(path: str) -> str | None:
    """The SHA-256 of a regular file; ``None`` when it is missing, unreadable or not a regular
    file (a FIFO would block the read forever)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        with os.fdopen(os.dup(fd), "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _sqlite_uri(path: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return "file:" + urllib.parse.quote(os.path.abspath(path)) + (f"?{query}" if query else "")


def _read_header(path: str) -> bytes:
    """The first 100 bytes (SQLite's header) of a regular file, read without blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise JournalError(f"no journal at '{path}'") from None
    except OSError as exc:
        raise JournalError(f"journal '{path}' cannot be opened ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise JournalError(f"'{path}' is not a diazflow journal (not a regular file)")
        return os.pread(fd, 100, 0)
    except OSError as exc:
        raise JournalError(f"journal '{path}' cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)


def check_journal_file(path: str) -> None:
    """Refuse, without opening it with SQLite (which would turn an empty file into a database or
    switch a foreign one's journal mode), anything that is not a diazflow journal."""
    header = _read_header(path)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        what = "an empty file" if not header else "not an SQLite file"
        raise JournalError(f"'{path}' is not a diazflow journal ({what})")
    application_id = int.from_bytes(header[68:72], "big")
    if application_id == APPLICATION_ID:
        return
    if application_id != 0:
        raise JournalError(
            f"'{path}' is not a diazflow journal (an SQLite database of another application)"
        )
    # a journal written before journals were marked: its tables say what it is
    try:
        conn = sqlite3.connect(_sqlite_uri(path, mode="ro", immutable="1"), uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise JournalDamaged(f"journal '{path}' is damaged: {_first_line(exc)}") from None
    wal_pending = header[18] == 2 and os.path.isfile(path + "-wal")
    if not JOURNAL_TABLES <= tables and not wal_pending:
        raise JournalError(f"'{path}' is not a diazflow journal (an SQLite database without a run)")


def _synchronous(default: str = "FULL") -> str:
    """SQLite's ``synchronous``: FULL for real devices (a committed record survives a power cut);
    a simulated run uses OFF, which survives a killed process (the write is in the kernel's page
    cache before the commit returns) but not an OS crash, and a simulated run has nothing outside
    the journal to lose.  In rollback-journal mode every FULL commit costs two or three fsyncs
    (2-13 ms here), which a robot's seconds per action hide but a virtual clock does not.
    ``DIAZFLOW_JOURNAL_SYNC`` overrides both."""
    value = os.environ.get("DIAZFLOW_JOURNAL_SYNC", default).upper()
    return value if value in ("OFF", "FULL", "NORMAL", "EXTRA") else "FULL"


def synchronous_for(backend: str) -> str:
    """``synchronous`` for a run on ``backend``: FULL only where a real device acts."""
    return "FULL" if backend == "hardware" else "OFF"


SIMULATED_COMMIT_INTERVAL_S = 0.02


def commit_interval_for(backend: str) -> float:
    """Wall seconds a run on ``backend`` may keep device records and events before committing
    them (see :meth:`Journal.set_commit_interval`): only devices whose state lives in this process
    and dies with it may lose the last rows (a resumed run does those operations again, on new
    devices) — the simulated ones and the chatterboxes, whose command transcript is written out
    just before each commit (``Journal.before_commit``).  A real device acts outside the journal:
    every record is committed before the run goes on."""
    return SIMULATED_COMMIT_INTERVAL_S if backend in ("simulate", "chatterbox") else 0.0


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
    plan_sha256: str
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
    """One run's journal.  ``Journal.create`` for a new run, ``Journal.open`` to resume it,
    ``Journal.open(path, read_only=True)`` to read it; :meth:`close` (or ``with``) when done."""

    def __init__(self, path: str, conn: sqlite3.Connection, fd: int):
        self.path = path
        self.conn = conn
        # one descriptor of the journal file for this object's lifetime: the run lock is an flock
        # on it, and it is closed only after SQLite's connection (closing any descriptor of the
        # file drops this process's POSIX locks on it, which are SQLite's)
        self._fd = fd
        self._locked = False
        self.write_failed = False
        self._pending: list[
            tuple
        ] = []  # op_completed waiting to share a transaction with the next op_started
        self._pending_log: list[tuple] = []  # device records kept back (set_commit_interval)
        # called before every commit: a chatterbox's transcript is written out first, so that
        # it always holds the commands of every committed record (runner.CommandTranscript)
        self.before_commit: Callable[[], None] | None = None
        self._commit_interval_s = 0.0
        self._committed_at = time.monotonic()

    # ---- opening

    @staticmethod
    def _connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        # one file: a journal in WAL mode (written before) is checkpointed and switched back
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if str(mode).lower() != "delete":
            conn.close()
            raise JournalError(f"journal '{path}' cannot leave journal mode '{mode}'")
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
        """A new journal at ``path``, locked by this process.

        Only a new path is used: an existing file, a symbolic link (even a dangling one) or a
        file SQLite would adopt beside it (``PATH-journal``, ``-wal``, ``-shm``) is refused and
        left alone.  If creating it fails half-way, nothing is left at ``path``.
        """
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal's directory '{directory}' ({exc.strerror})"
            ) from None
        if os.path.islink(path):
            raise JournalError(f"--journal '{path}' is a symbolic link; not followed")
        if os.path.lexists(path):
            raise JournalError(
                f"journal '{path}' already exists: resume it with 'diazflow resume {path}' or choose another --journal"
            )
        for suffix in SIDECARS:
            if os.path.lexists(path + suffix):
                raise JournalError(
                    f"'{path + suffix}' exists: SQLite would take it as part of a new journal at "
                    f"'{path}'; choose another --journal"
                )
        try:
            fd = os.open(
                path,
                os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
            )
        except FileExistsError:
            raise JournalError(
                f"journal '{path}' already exists; choose another --journal"
            ) from None
        except OSError as exc:
            raise JournalError(f"cannot create the journal '{path}' ({exc.strerror})") from None
        journal: Journal | None = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            journal = cls(path, cls._connect(path, synchronous), fd)
            journal._locked = True
            journal._initialise(
                plan_json=plan_json,
                protocol_path=protocol_path,
                deck_path=deck_path,
                vessel_labware=vessel_labware,
                backend=backend,
                speed=speed,
                commands_path=commands_path,
            )
        except BaseException as exc:
            if journal is not None:
                with contextlib.suppress(Exception):
                    journal.conn.close()
            _remove_created(path, fd)
            os.close(fd)
            if isinstance(exc, (OSError, sqlite3.Error)):
                raise JournalError(f"cannot create the journal '{path}' ({exc})") from None
            raise
        return journal

    def _initialise(
        self,
        *,
        plan_json: str,
        protocol_path: str,
        deck_path: str,
        vessel_labware: str,
        backend: str,
        speed: float | None,
        commands_path: str | None,
    ) -> None:
        from diazflow import __version__

        now = time.time()
        with self.transaction() as c:
            c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    c.execute(statement)
            c.execute(
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

    @classmethod
    def open(cls, path: str, *, read_only: bool = False) -> Journal:
        """An existing journal: ``read_only`` for the commands that only read it (``journal``,
        ``report``; they work in a read-only directory and change nothing), writable for
        ``resume`` (which then takes the lock with :meth:`lock`)."""
        check_journal_file(path)
        flags = os.O_RDONLY if read_only else os.O_RDWR
        try:
            fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            hint = (
                "; a read-only journal can be read with 'diazflow journal'" if not read_only else ""
            )
            raise JournalError(
                f"journal '{path}' cannot be opened ({exc.strerror}){hint}"
            ) from None
        conn: sqlite3.Connection | None = None
        try:
            conn = cls._connect_read_only(path) if read_only else cls._connect(path)
            journal = cls(path, conn, fd)
            journal._check_format()
        except BaseException as exc:
            if conn is not None:
                conn.close()
            os.close(fd)
            if isinstance(exc, sqlite3.Error):
                raise JournalDamaged(f"journal '{path}' is damaged: {_first_line(exc)}") from None
            raise
        return journal

    @staticmethod
    def _connect_read_only(path: str) -> sqlite3.Connection:
        def connect(**params: str) -> sqlite3.Connection:
            return sqlite3.connect(
                _sqlite_uri(path, mode="ro", **params), uri=True, isolation_level=None, timeout=30.0
            )

        conn = connect()
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
        if os.path.exists(path + "-journal"):
            # a run killed inside a transaction left its rollback journal: SQLite rolls the
            # unfinished transaction back on the first writable open (what resume would do)
            try:
                recover = sqlite3.connect(path, isolation_level=None, timeout=30.0)
                try:
                    recover.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                finally:
                    recover.close()
            except sqlite3.OperationalError as exc:
                raise JournalError(
                    f"journal '{path}' has an unfinished transaction that cannot be rolled back "
                    f"here ({exc}); read it where its directory can be written"
                ) from None
            return connect()
        if os.path.exists(path + "-wal"):
            return connect()  # a journal written in WAL mode: SQLite says why it cannot
        # nothing beside it to recover (a finished journal in a read-only directory that SQLite
        # cannot lock): it cannot change under us
        return connect(immutable="1")

    def set_commit_interval(self, seconds: float) -> None:
        """Keep device records (and the events with them) back for up to ``seconds`` of wall time
        and commit them together (see :func:`commit_interval_for`; 0: every device record is
        committed before the device goes on).  Each commit still ends at a device record, in the
        order the rows were made, so a killed run leaves a journal of whole operations and device
        actions, as before, only fewer of them; anything that reads the journal, writes an event,
        changes the status or closes it commits what is kept first.  One commit costs ~0.15 ms
        here (``synchronous=OFF``: a rollback journal created and deleted)."""
        self._commit_interval_s = max(0.0, float(seconds))

    def set_synchronous(self, level: str) -> None:
        """How durable each commit is from now on (see :func:`synchronous_for`)."""
        self.conn.execute(f"PRAGMA synchronous={_synchronous(level)}")

    def _check_format(self) -> None:
        row = self.conn.execute("SELECT format FROM run WHERE id = 1").fetchone()
        if row is None:
            raise JournalDamaged(f"journal '{self.path}' is damaged: it has no run record")
        if row[0] != JOURNAL_FORMAT:
            raise JournalError(
                f"'{self.path}' is a journal of format {row[0]}; this diazflow reads format {JOURNAL_FORMAT}"
            )
        check = self.conn.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            detail = check[0] if check else "no answer"
            raise JournalDamaged(f"journal '{self.path}' is damaged: {detail}")

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write what is pending, close the database and give up the run lock (if held)."""
        if self._fd < 0:
            return
        failed_before = self.write_failed
        try:
            self.flush()
        except JournalWriteError:
            if not failed_before:  # a write that already failed was reported then
                raise
        finally:
            self.conn.close()
            self._locked = False
            os.close(self._fd)  # releases the flock; after the connection (see __init__)
            self._fd = -1

    # ---- the lock: held by the process that runs the plan

    def lock(self) -> None:
        """Hold an exclusive lock for as long as this process runs the plan (released on exit,
        including ``kill -9``); a second run or resume of the same journal is refused.  The lock
        is on the journal file itself: there is no lock file to delete."""
        if self._locked:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise JournalError(
                f"journal '{self.path}' is in use by a running diazflow process"
            ) from None
        self._locked = True

    def is_live(self) -> bool:
        """Whether a process holds the run lock (the run is going on right now)."""
        if self._locked:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        return False

    # ---- writing

    class _Tx:
        def __init__(self, conn: sqlite3.Connection, before_commit: Callable[[], None] | None):
            self.conn = conn
            self.before_commit = before_commit

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                try:
                    if self.before_commit is not None:
                        self.before_commit()
                except BaseException:
                    self._rollback()
                    raise
                self.conn.execute("COMMIT")
            else:
                self._rollback()
            return False

        def _rollback(self) -> None:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back itself
                    self.conn.execute("ROLLBACK")

    def transaction(self) -> _Tx:
        return Journal._Tx(self.conn, self.before_commit)

    def _event_row(self, op_id: int | None, event: str, clock_t: float, data: Any | None) -> tuple:
        return (
            op_id,
            event,
            float(clock_t),
            time.time(),
            _compact_json(data) if data is not None else None,
        )

    @_writing
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
            c.executemany(_INSERT_EVENTS, rows)
            self._insert_kept_records(c)
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

    def _insert_kept_records(self, c: sqlite3.Connection) -> None:
        """Inside a transaction: the device records kept back (after the events kept with them)."""
        self._committed_at = time.monotonic()
        if self._pending_log:
            records, self._pending_log = self._pending_log, []
            c.executemany(_INSERT_DEVICE_LOG, records)

    @_writing
    def flush(self, clock_t: float | None = None) -> None:
        if not self._pending:
            if self._pending_log:
                with self.transaction() as c:
                    self._insert_kept_records(c)
            return
        rows, self._pending = self._pending, []
        with self.transaction() as c:
            c.executemany(_INSERT_EVENTS, rows)
            self._insert_kept_records(c)
            c.execute(
                "UPDATE run SET updated = ?, clock_t = MAX(clock_t, ?) WHERE id = 1",
                (time.time(), float(clock_t if clock_t is not None else rows[-1][2])),
            )

    @_writing
    def device_action(
        self, op_id: int, action: int, device: str, kind: str, clock_t: float, data: dict
    ) -> None:
        """The device's own record of one action, durable before the executor goes on (with any
        pending events, which come first) — or, with a commit interval, at the first record
        made once the interval has passed (:meth:`set_commit_interval`)."""
        row = (
            op_id,
            action,
            device,
            kind,
            float(clock_t),
            time.time(),
            _compact_json(data),
        )
        if self._commit_interval_s > 0:
            # a simulated device (set_commit_interval): commit every so often, at a record
            self._pending_log.append(row)
            if time.monotonic() - self._committed_at >= self._commit_interval_s:
                self._commit_kept()
            return
        if not self._pending:
            if self.before_commit is not None:
                self.before_commit()
            self.conn.execute(_INSERT_DEVICE_LOG, row)
            return
        rows, self._pending = self._pending, []
        with self.transaction() as c:
            c.executemany(_INSERT_EVENTS, rows)
            c.execute(_INSERT_DEVICE_LOG, row)

    def _commit_kept(self) -> None:
        """The events and device records kept back, in one transaction (no ``run`` update: the
        next event or flush moves ``run.clock_t``, as a record committed alone never did)."""
        rows, self._pending = self._pending, []
        with self.transaction() as c:
            if rows:
                c.executemany(_INSERT_EVENTS, rows)
            self._insert_kept_records(c)

    @_writing
    def heartbeat(self, clock_t: float) -> None:
        """How far the run got in plan time while nothing else happened (a long hold on real time)."""
        self.flush(clock_t)
        self.conn.execute(
            "UPDATE run SET updated = ?, clock_t = MAX(clock_t, ?) WHERE id = 1",
            (time.time(), float(clock_t)),
        )

    @_writing
    def set_status(self, status: str, message: str | None = None) -> None:
        self.flush()
        self.conn.execute(
            "UPDATE run SET status = ?, message = ?, updated = ? WHERE id = 1",
            (status, message, time.time()),
        )

    # ---- reading

    @_reading
    def info(self) -> RunInfo:
        """The run record; ``clock_t`` is how far the run got in plan time (events and heartbeats),
        ``offset_s`` the delay carried by its last started operation."""
        row = self.conn.execute(
            "SELECT status, message, protocol_path, deck_path, deck_sha256, vessel_labware, backend, speed, plan_json, plan_sha256, commands_path, clock_t, offset_s, created, updated FROM run WHERE id = 1"
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

    @_reading
    def recorded_inputs(self) -> dict[str, str | None]:
        """``{absolute path: sha256}`` of the files the run was compiled from (the protocol, its
        libraries, the deck layout and its simulator profiles), as ``run_started`` recorded them;
        empty for a journal written before they were recorded."""
        row = self.conn.execute(
            "SELECT data FROM events WHERE event = 'run_started' ORDER BY seq LIMIT 1"
        ).fetchone()
        data = json.loads(row[0]) if row and row[0] else {}
        inputs = data.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise ValueError("run_started.inputs is not an object")
        return {str(k): (str(v) if v is not None else None) for k, v in inputs.items()}

    @_reading
    def events(self) -> list[tuple[int, int | None, str, float, dict | None]]:
        """``(seq, op_id, event, clock_t, data)`` in order."""
        out = []
        for seq, op_id, event, clock_t, data in self.conn.execute(
            "SELECT seq, op_id, event, clock_t, data FROM events ORDER BY seq"
        ):
            out.append((seq, op_id, event, clock_t, json.loads(data) if data else None))
        return out

    @_reading
    def device_log(
        self, op_id: int | None = None, kind: str | None = None
    ) -> list[tuple[int, int, str, str, float, dict]]:
        """``(op_id, action, device, kind, clock_t, data)`` in order (of one operation, of one
        kind of action, or all)."""
        sql = "SELECT op_id, action, device, kind, clock_t, data FROM device_log"
        args: tuple = ()
        if op_id is not None:
            sql += " WHERE op_id = ?"
            args = (op_id,)
        elif kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        return [
            (o, a, d, k, c, json.loads(x))
            for o, a, d, k, c, x in self.conn.execute(sql + " ORDER BY seq", args)
        ]

    @_reading
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

    @_reading
    def dispensed_mg(self, plan: Plan) -> dict[str, dict[str, float]]:
        """Powder per well and reagent, as the device records of ``plan``'s powder doses say —
        what :meth:`state` says, for a run that holds its plan (verify reads only these rows)."""
        ops = {op.id: op for op in plan.operations}
        prefix = self.info().vessel_labware + ":"
        return _dispensed(ops, prefix, self.device_log(kind="dispense_powder"))[1]

    @_reading
    def state(self) -> JournalState:
        from diazflow.compiler.plan import Plan

        info = self.info()
        plan = Plan.from_json(info.plan_json)
        ops = {op.id: op for op in plan.operations}
        completed, in_flight, _ = self.op_status()
        status = info.status
        if status == "running":
            status = "running" if self.is_live() else "interrupted"
        prefix = info.vessel_labware + ":"
        dispensed, powder = _dispensed(ops, prefix, self.device_log())
        return JournalState(
            status=status,
            completed=sorted(completed),
            in_flight=in_flight,
            dispensed_uL=dispensed,
            dispensed_mg=powder,
            message=info.message,
            backend=info.backend,
            protocol=info.protocol_path,
            operations=len(plan.operations),
            clock_t=info.clock_t,
        )


def _dispensed(
    ops: dict[int, Operation], prefix: str, records: list[tuple[int, int, str, str, float, dict]]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """(µL, mg) per well and reagent that the device records of ``ops`` say were dispensed."""
    from diazflow.compiler.plan import Dispense, DispensePowder

    dispensed: dict[str, dict[str, float]] = {}
    powder: dict[str, dict[str, float]] = {}
    for op_id, _action, _device, kind, _clock, data in records:
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
    return _rounded(dispensed), _rounded(powder)


def _remove_created(path: str, fd: int) -> None:
    """Remove the journal this process created at ``path`` (and SQLite's rollback journal beside
    it), only if ``path`` is still that file: a failed creation must not block its path."""
    with contextlib.suppress(OSError):
        mine = os.fstat(fd)
        there = os.lstat(path)
        if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
            os.unlink(path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + "-journal")


def _rounded(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    def order(name: str) -> tuple:
        letters = "".join(ch for ch in name if ch.isalpha())
        digits = "".join(ch for ch in name if ch.isdigit())
        return (int(digits) if digits else 0, letters)

    return {
        w: {r: round(v, 6) for r, v in sorted(table[w].items())} for w in sorted(table, key=order)
    }
