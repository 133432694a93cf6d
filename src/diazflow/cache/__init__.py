"""A content-addressed result cache for ``validate``, ``compile`` and ``run`` (docs/cache.md).

Like ``.mypy_cache`` or ruff's cache: re-checking a protocol nothing of which changed (a
pre-commit hook, an editor validating on save, CI with a persisted cache) reads the stored
diagnostics and plan instead of importing pydantic's models, RDKit, the chemistry and the
compiler.  A hit is only possible when every input of the result is what it was:

* the key: the protocol's bytes, the command's kind and the options that change its findings or
  plan (``--deck``, ``--start``, ``--select``/``--ignore``/``--error``/``--warnings-as-errors``),
  the working directory and the path as given (diagnostics name files relative to it), the
  ``DIAZFLOW_*`` environment, and :func:`~diazflow.cache.fingerprint.code_fingerprint`
  (diazflow's files, the shaping libraries' versions, Python);
* the entry's dependencies: every other file the check opened or probed, found or not
  (:mod:`diazflow.cache.record`) and the run journal's input files, each re-hashed on lookup.

This module imports only the standard library and :mod:`diazflow.diagnostics`: the stages are
imported on a miss, when the check runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from diazflow.cache.fingerprint import (
    DIRECTORY,
    MISSING,
    SPECIAL,
    code_fingerprint,
    file_state,
    shaping_environment,
)
from diazflow.cache.store import EntryStore, cache_dir, disabled_by_environment
from diazflow.diagnostics import Acknowledged, Diagnostic, Severity, WarningPolicy

if TYPE_CHECKING:
    from diazflow.compiler.plan import Plan
    from diazflow.pipeline import CheckResult

__all__ = ["CheckedFile", "CheckedPlan", "check_file", "check_plan", "cache_enabled"]

VALIDATE = "validate"
PLAN = "plan"  # compile and run: the check, the working-hours findings and the plan


def cache_enabled(no_cache_flag: bool) -> bool:
    """Off with ``--no-cache`` or ``DIAZFLOW_NO_CACHE=1`` (the test suite sets it)."""
    return not no_cache_flag and not disabled_by_environment()


# --------------------------------------------------------------------------- results as data


def _diagnostic_data(d: Diagnostic) -> dict[str, Any]:
    return d.to_dict()


def _diagnostic(data: dict[str, Any]) -> Diagnostic:
    return Diagnostic(
        data["file"],
        data["line"],
        data["column"],
        data["code"],
        Severity(data["severity"]),
        data["message"],
        data["hint"],
    )


@dataclass(frozen=True)
class CheckedFile:
    """What ``validate`` prints for one protocol: the findings and the acknowledged warnings."""

    path: str
    diagnostics: tuple[Diagnostic, ...]
    acknowledged: tuple[Acknowledged, ...]
    cached: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "diagnostics": [_diagnostic_data(d) for d in self.diagnostics],
            "acknowledged": [[_diagnostic_data(a.diagnostic), a.reason] for a in self.acknowledged],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CheckedFile:
        return cls(
            data["path"],
            tuple(_diagnostic(d) for d in data["diagnostics"]),
            tuple(Acknowledged(_diagnostic(d), reason) for d, reason in data["acknowledged"]),
            cached=True,
        )


@dataclass(frozen=True)
class RunSource:
    """What :func:`diazflow.runtime.runner.run_plan` reads of a checked protocol, rebuilt from a
    cache entry: the plan (parsed as ``resume`` parses a journal's) and the deck layout."""

    path: str
    plan: Plan
    deck: Any  # DeckSpec
    deck_path: str | None


@dataclass(frozen=True)
class CheckedPlan:
    """What ``compile`` and ``run`` need of a check: the findings, the working-hours findings
    (``--start``, after the warning options), and for a valid protocol the plan as the journal
    stores it (``Plan.to_journal_json``), the summary ``compile`` prints, the files the plan was
    compiled from (the run journal records them; ``-o`` must not overwrite them), the deck and
    the reaction labware.
    ``result``: the live check on a miss (None on a hit)."""

    path: str
    diagnostics: tuple[Diagnostic, ...]
    extra: tuple[Diagnostic, ...]
    plan_json: str | None
    summary: str | None
    inputs: tuple[str, ...]
    deck_path: str | None
    vessel_labware: str | None
    result: CheckResult | None = None

    @property
    def failed(self) -> bool:
        """Exit 1: no plan, or a working-hours finding promoted to an error."""
        return self.plan_json is None or any(x.is_error for x in self.extra)

    def written_plan(self) -> str:
        """The plan JSON exactly as ``Plan.to_json`` writes it (``indent=1``), from the compact
        copy without pydantic: the same values in the same order (tests/test_cache.py compares
        every workflow's)."""
        assert self.plan_json is not None
        if self.result is not None and self.result.plan is not None:
            return self.result.plan.to_json()
        document = json.loads(self.plan_json)
        return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"

    def run_source(self) -> Any:
        """The checked protocol for ``run_plan``: the live check, or one rebuilt from the entry."""
        if self.result is not None:
            return self.result
        assert self.plan_json is not None and self.deck_path is not None
        from diazflow.compiler.plan import Plan
        from diazflow.deck import load_deck

        return RunSource(
            self.path, Plan.from_json(self.plan_json), load_deck(self.deck_path), self.deck_path
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "diagnostics": [_diagnostic_data(d) for d in self.diagnostics],
            "extra": [_diagnostic_data(d) for d in self.extra],
            "plan_json": self.plan_json,
            "summary": self.summary,
            "inputs": list(self.inputs),
            "deck_path": self.deck_path,
            "vessel_labware": self.vessel_labware,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CheckedPlan:
        return cls(
            data["path"],
            tuple(_diagnostic(d) for d in data["diagnostics"]),
            tuple(_diagnostic(d) for d in data["extra"]),
            data["plan_json"],
            data["summary"],
            tuple(data["inputs"]),
            data["deck_path"],
            data["vessel_labware"],
        )


# --------------------------------------------------------------------------- keys and lookups


def _policy_data(policy: WarningPolicy | None) -> list[Any]:
    p = policy or WarningPolicy()
    return [list(p.select), list(p.ignore), list(p.as_errors), sorted(p.acknowledged.items())]


def _key(kind: str, path: str, protocol_state: str, options: dict[str, Any]) -> str:
    from diazflow.cache.store import ENTRY_FORMAT

    parts = {
        "format": ENTRY_FORMAT,
        "kind": kind,
        "cwd": os.getcwd(),
        "path": path,
        "protocol": protocol_state,
        "options": options,
        "environment": shaping_environment(),
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _unchanged(deps: list[list[str]]) -> bool:
    return all(file_state(path) == state for path, state in deps)


def _cacheable_state(path: str) -> str | None:
    """The protocol's state for the key, or None when it is no regular file (a FIFO must not be
    read twice; a missing or unreadable file is reported by the check, not cached)."""
    state = file_state(path)
    if state in (MISSING, SPECIAL, DIRECTORY) or state.startswith("error:"):
        return None
    return state


def _lookup(kind: str, path: str, options: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(the key, or "" when this protocol cannot be cached; the entry's result on a hit)."""
    state = _cacheable_state(path)
    if state is None:
        return "", None
    try:
        key = _key(kind, path, state, options)
    except OSError:  # the working directory was deleted: the check reports what it can
        return "", None
    entry = EntryStore().read(key)
    if entry is None:
        return key, None
    try:
        if _unchanged(entry["deps"]):
            return key, entry["result"]
    except (KeyError, TypeError, ValueError):
        pass
    return key, None


def _store(
    key: str, seen: set[str], extra_inputs: tuple[str, ...], result: Any, started_ns: int
) -> None:
    """Store ``result`` with the states of the files it depends on; not when one of them is no
    regular file or changed while the check ran (its content may not be what the check read)."""
    from diazflow.cache.record import inputs

    folder = cache_dir()
    paths = sorted(set(inputs(seen, folder)) | {os.path.abspath(p) for p in extra_inputs})
    deps = []
    for p in paths:
        state = file_state(p)
        # a folder's modification time moves with any file made in it (pint's cache, a temporary
        # file): only its being a folder is a dependency
        if state == SPECIAL or (state != DIRECTORY and _touched_since(p, started_ns)):
            return
        deps.append([p, state])
    EntryStore(folder).write(key, {"deps": deps, "result": result.to_data()})


def _touched_since(path: str, started_ns: int) -> bool:
    try:
        return os.stat(path).st_mtime_ns >= started_ns
    except OSError:
        return False


def _recorded(compute: Callable[[], Any]) -> tuple[Any, set[str], int]:
    """``compute()``, the paths it opened or probed, and when it started (ns since the epoch)."""
    from diazflow.cache.record import recording_reads

    started_ns = time.time_ns()
    with recording_reads() as seen:
        value = compute()
    return value, seen, started_ns


# --------------------------------------------------------------------------- the commands


def check_file(
    path: str, deck: str | None, policy: WarningPolicy | None, *, use_cache: bool
) -> CheckedFile:
    """``validate`` of one protocol: from the cache when nothing changed, else checked (and
    stored)."""
    options = {"deck": deck, "policy": _policy_data(policy)}
    key, hit = _lookup(VALIDATE, path, options) if use_cache else ("", None)
    if hit is not None:
        try:
            return CheckedFile.from_data(hit)
        except (KeyError, TypeError, ValueError):
            pass
    from diazflow.pipeline import safe_check

    def compute() -> tuple[CheckedFile, list[str]]:
        result = safe_check(path, deck_override=deck, warnings=policy)
        checked = CheckedFile(result.path, result.diagnostics, result.acknowledged)
        return checked, result.input_files()

    if not key:
        return compute()[0]
    (checked, read), seen, started_ns = _recorded(compute)
    _store(key, seen, (path, *read), checked, started_ns)
    return checked


def check_plan(
    path: str,
    deck: str | None,
    policy: WarningPolicy | None,
    start: str | None,
    *,
    use_cache: bool,
    extra: Callable[[CheckResult], list[Diagnostic]],
    summary: Callable[[Plan], str],
) -> CheckedPlan:
    """``compile`` and ``run``: the check, ``extra`` (the working-hours findings of a plan,
    after the warning options) and ``summary`` (what ``compile`` prints) of a valid protocol,
    from the cache when nothing changed.  ``start``: ``--start`` as parsed, for the key."""
    options = {"deck": deck, "policy": _policy_data(policy), "start": start}
    key, hit = _lookup(PLAN, path, options) if use_cache else ("", None)
    if hit is not None:
        try:
            return CheckedPlan.from_data(hit)
        except (KeyError, TypeError, ValueError):
            pass

    def compute() -> CheckedPlan:
        return _checked_plan(path, deck, policy, extra, summary)

    if not key:
        return compute()
    checked, seen, started_ns = _recorded(compute)
    _store(key, seen, (path, *checked.inputs), checked, started_ns)
    return checked


def _checked_plan(
    path: str,
    deck: str | None,
    policy: WarningPolicy | None,
    extra: Callable[[CheckResult], list[Diagnostic]],
    summary: Callable[[Plan], str],
) -> CheckedPlan:
    from diazflow.pipeline import safe_check

    result = safe_check(path, deck_override=deck, warnings=policy)
    plan = result.plan
    return CheckedPlan(
        result.path,
        result.diagnostics,
        tuple(extra(result)) if plan is not None else (),
        plan.to_journal_json() if plan is not None else None,
        summary(plan) if plan is not None else None,
        tuple(result.input_files()) if plan is not None else (),
        result.deck_path,
        result.loaded.protocol.vessels.labware if result.loaded is not None else None,
        result,
    )
