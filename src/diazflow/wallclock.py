"""The clock time a plan starts at (``--start``), for the operator's day and the report.

A leaf module: the command line parses ``--start`` before it knows whether the compiler is
needed at all (a cached result needs none of it).
"""

from __future__ import annotations

import datetime as _dt


def parse_start(text: str) -> _dt.datetime:
    """``2026-12-07 09:00`` or ``2026-12-07T09:00`` (seconds allowed); ``ValueError`` otherwise."""
    return _dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
