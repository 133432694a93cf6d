"""Turn what the user names on the command line into a :class:`Report`.

``diazflow report`` takes a protocol (YAML: compiled here), a compiled plan (``compile -o``
JSON) or a run journal (SQLite, written by ``diazflow run``).
"""

from __future__ import annotations

import json
import os
from datetime import datetime

from diazflow.compiler.plan import Plan
from diazflow.diagnostics import WarningPolicy
from diazflow.report.journal import JournalView, is_journal, load_journal
from diazflow.report.model import Report, plate_format_for


def detect_kind(path: str) -> str:
    """``journal``, ``plan`` or ``workflow``."""
    if is_journal(path):
        return "journal"
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip()
    except OSError:
        return "workflow"
    if head.startswith(b"{") and b'"diazflow_plan"' in head:
        return "plan"
    return "workflow"


def report_for(
    path: str,
    *,
    deck_override: str | None = None,
    start: datetime | None = None,
    warnings: WarningPolicy | None = None,
) -> Report:
    """The report of a protocol, a plan JSON or a journal; ``warnings`` (``--ignore``,
    ``--select``, ``--error``) applies to the checks of a protocol."""
    kind = detect_kind(path)
    if kind == "journal":
        return report_from_journal(load_journal(path), deck_override=deck_override, start=start)
    if kind == "plan":
        with open(path, encoding="utf-8") as fh:
            plan = Plan.model_validate(json.load(fh))
        return report_from_plan(
            plan, source_path=path, source_kind="plan", deck_override=deck_override, start=start
        )
    return report_from_workflow(path, deck_override=deck_override, start=start, warnings=warnings)


def report_from_workflow(
    path: str,
    *,
    deck_override: str | None = None,
    start: datetime | None = None,
    warnings: WarningPolicy | None = None,
) -> Report:
    from diazflow.pipeline import safe_check

    result = safe_check(path, deck_override=deck_override, warnings=warnings)
    report = Report(
        title=_title(result.loaded, result.path),
        source_kind="workflow",
        source_path=result.path,
        plan=result.plan,
        diagnostics=list(result.diagnostics),
        start=start,
    )
    _protocol_facts(report, result.loaded)
    if result.deck is not None:
        _deck_facts(report, result.deck)
    _plate_format(report, result.deck)
    return report


def report_from_plan(
    plan: Plan,
    *,
    source_path: str,
    source_kind: str = "plan",
    deck_override: str | None = None,
    start: datetime | None = None,
    journal: JournalView | None = None,
    plate_labware: str | None = None,
    protocol_path: str | None = None,
) -> Report:
    report = Report(
        title=os.path.basename(plan.protocol),
        source_kind=source_kind,
        source_path=source_path,
        plan=plan,
        journal=journal,
        start=start,
    )
    loaded = None
    protocol_path = next(
        (p for p in (protocol_path, plan.protocol) if p and os.path.exists(p)), None
    )
    if protocol_path:
        try:
            from diazflow.language.loader import load_protocol

            loaded = load_protocol(protocol_path).loaded
        except Exception:  # the protocol may have changed since; the plan is what ran
            loaded = None
    if loaded is not None:
        report.title = _title(loaded, plan.protocol)
        _protocol_facts(report, loaded)
    if plate_labware:
        report.plate_labware = plate_labware
    deck = None
    deck_path = deck_override or plan.deck
    if deck_path and not os.path.exists(deck_path) and loaded is not None:
        # the plan's deck is a path relative to where it was compiled: use the protocol's own
        from diazflow.pipeline import resolve_deck_path

        deck_path = resolve_deck_path(loaded, None) or deck_path
    if deck_path and os.path.exists(deck_path):
        try:
            from diazflow.deck import load_deck

            deck = load_deck(deck_path)
            _deck_facts(report, deck)
        except Exception:
            deck = None
    _plate_format(report, deck)
    return report


def report_from_journal(
    journal: JournalView, *, deck_override: str | None = None, start: datetime | None = None
) -> Report:
    return report_from_plan(
        journal.plan,
        source_path=journal.path,
        source_kind="journal",
        deck_override=deck_override or journal.deck_path,
        start=start or journal.started_at,
        journal=journal,
        plate_labware=journal.vessel_labware,
        protocol_path=journal.protocol_path,
    )


# --------------------------------------------------------------------------- helpers


def _title(loaded, fallback: str) -> str:
    if loaded is not None and getattr(loaded.protocol, "name", None):
        return loaded.protocol.name
    return os.path.basename(fallback)


def _protocol_facts(report: Report, loaded) -> None:
    if loaded is None:
        return
    p = loaded.protocol
    report.protocol_name = getattr(p, "name", None)
    report.description = getattr(p, "description", None)
    report.reference = getattr(p, "reference", None)
    vessels = getattr(p, "vessels", None)
    if vessels is not None and getattr(vessels, "labware", None):
        report.plate_labware = vessels.labware


def _deck_facts(report: Report, deck) -> None:
    report.ambient_c = getattr(deck, "ambient_c", report.ambient_c)
    places = {}
    for name, lw in deck.labware.items():
        loc = lw.location
        where = str(loc)
        if getattr(loc, "kind", None) == "carrier" and loc.carrier in deck.carriers:
            where += f" ({deck.carriers[loc.carrier].location})"
        if lw.description:
            where = f"{where} — {lw.description}"
        places[name] = where
    report.labware_places = places


def _plate_format(report: Report, deck) -> None:
    if deck is not None and report.plate_labware in deck.labware:
        lw = deck.labware[report.plate_labware]
        report.plate_rows, report.plate_cols = lw.rows, lw.columns
    elif report.plan is not None:
        report.plate_rows, report.plate_cols = plate_format_for(report.plan.wells)
