"""The one-way pipeline: load → validate → resolve chemistry → bind to the deck → compile.

Each stage lives in its own subpackage and returns immutable data plus diagnostics; this module
only strings them together and stops at the first stage whose errors make the next meaningless.
The CLI's ``validate`` and ``compile`` both call :func:`check`, so whatever ``validate`` accepts
compiles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from diazflow.diagnostics import Diagnostic, has_errors, sort_unique
from diazflow.language.loader import LoadedProtocol, load_protocol


@dataclass(frozen=True)
class CheckResult:
    path: str
    diagnostics: tuple[Diagnostic, ...]
    loaded: LoadedProtocol | None = None
    stages: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def display_path(path: str) -> str:
    """Paths in diagnostics and plans: relative to the working directory when that is shorter."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") or len(rel) < len(path) else path


def check(path: str, *, deck_override: str | None = None, stop_after: str | None = None) -> CheckResult:
    """Run every check of spec §4 on one protocol file."""
    shown = display_path(path)
    result = load_protocol(path if os.path.isabs(path) else shown)
    diags = list(result.diagnostics)
    stages: dict[str, Any] = {}
    if result.loaded is None or has_errors(diags) or stop_after == "language":
        return CheckResult(shown, tuple(sort_unique(diags)), result.loaded, stages)
    return CheckResult(shown, tuple(sort_unique(diags)), result.loaded, stages)
