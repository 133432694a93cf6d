"""Results kept in the run journal's own SQLite file, in two tables of their own.

Why in the journal and not a file beside it: a journal is the one file a run is (it is copied,
mailed, checked in alone); results kept beside it would be lost or mismatched on the first copy.
Why in tables of their own: what was recorded about the run — the ``run``, ``events`` and
``device_log`` tables and the plan in ``run.plan_json`` — is never written by an import, so
``resume``, ``journal`` and the report read exactly what the run wrote, and the journal's checks
(``check_journal_file`` wants ``JOURNAL_TABLES`` to be *among* the tables) accept the file.

Schema::

    results_import(id=1, format, source, sha256, imported)   -- the one import kept
    results(position, well, csv_line, conversion_pct, yield_pct, area_pct, purity_pct, mz,
            comment)                                         -- one row per well, plate order

An import replaces both tables' rows in one ``BEGIN IMMEDIATE`` transaction: a reader sees the
previous import or the new one, never a mixture, and a failure (disk full, killed process) leaves
the previous one (SQLite's rollback journal undoes a half-written transaction on the next open).
"""

from __future__ import annotations

import datetime
import sqlite3

from diazflow.results.models import RunResults, WellResult
from diazflow.runtime.journal import Journal, JournalDamaged, JournalWriteError

RESULTS_FORMAT = 1
RESULTS_TABLES = frozenset({"results_import", "results"})

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS results_import ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, source TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, imported TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS results ("
    " position INTEGER PRIMARY KEY, well TEXT NOT NULL UNIQUE, csv_line INTEGER NOT NULL,"
    " conversion_pct REAL, yield_pct REAL, area_pct REAL, purity_pct REAL, mz REAL, comment TEXT)",
)
_COLUMNS = ("conversion_pct", "yield_pct", "area_pct", "purity_pct", "mz", "comment")
"""The result columns of the ``results`` table, in the order of its schema (and of the rows)."""


def load_results(journal_path: str) -> RunResults | None:
    """The results imported into the journal at ``journal_path``, or None if none were.

    Raises :class:`~diazflow.runtime.journal.JournalError` for a file that is not a journal (or
    :class:`~diazflow.runtime.journal.JournalDamaged` for damaged results tables)."""
    with Journal.open(journal_path, read_only=True) as journal:
        return read_results(journal.conn, journal_path)


def read_results(conn: sqlite3.Connection, journal_path: str) -> RunResults | None:
    """The results in an open journal connection (None if it has none)."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "results_import" not in tables:
            return None
        head = conn.execute(
            "SELECT format, source, sha256, imported FROM results_import WHERE id = 1"
        ).fetchone()
        if head is None:
            return None
        if head[0] != RESULTS_FORMAT:
            raise JournalDamaged(
                f"journal '{journal_path}' holds results of format {head[0]}; this diazflow "
                f"reads format {RESULTS_FORMAT}"
            )
        wells: dict[str, WellResult] = {}
        for row in conn.execute(
            f"SELECT well, csv_line, {', '.join(_COLUMNS)} FROM results ORDER BY position"
        ):
            well, csv_line, *values = row
            wells[well] = WellResult(
                well=well, csv_line=csv_line, **dict(zip(_COLUMNS, values, strict=True))
            )
        return RunResults(
            source=head[1],
            sha256=head[2],
            imported=datetime.datetime.fromisoformat(head[3]),
            wells=wells,
        )
    except (sqlite3.DatabaseError, ValueError) as exc:
        raise JournalDamaged(
            f"journal '{journal_path}' has damaged results: {type(exc).__name__}: {exc}"
        ) from None


def store_results(journal_path: str, results: RunResults) -> None:
    """Replace the journal's results with ``results`` in one transaction (all or nothing).

    The run lock is taken first, so results are never written while the run (or a resume of it)
    is going on: ``JournalError`` says the journal is in use."""
    with Journal.open(journal_path) as journal:
        journal.lock()
        rows = [
            (
                position,
                r.well,
                r.csv_line,
                r.conversion_pct,
                r.yield_pct,
                r.area_pct,
                r.purity_pct,
                r.mz,
                r.comment,
            )
            for position, r in enumerate(results.wells.values())
        ]
        try:
            with journal.transaction() as c:
                for statement in _SCHEMA:
                    c.execute(statement)
                c.execute("DELETE FROM results")
                c.execute("DELETE FROM results_import")
                c.execute(
                    "INSERT INTO results_import (id, format, source, sha256, imported)"
                    " VALUES (1, ?, ?, ?, ?)",
                    (RESULTS_FORMAT, results.source, results.sha256, results.imported.isoformat()),
                )
                c.executemany(
                    f"INSERT INTO results (position, well, csv_line, {', '.join(_COLUMNS)})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except (sqlite3.Error, OSError) as exc:
            journal.write_failed = True
            raise JournalWriteError(
                f"cannot write results into the journal '{journal_path}': {exc}"
            ) from None
