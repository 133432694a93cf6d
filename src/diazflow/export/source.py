"""What ``diazflow export`` reads: a workflow (compiled here, like ``compile``) or a plan JSON."""

from __future__ import annotations

import os
from dataclasses import dataclass

from diazflow import errorcodes as codes
from diazflow.compiler.plan import Plan
from diazflow.deck.spec import DeckSpec
from diazflow.diagnostics import WHOLE_FILE, Diagnostic, Reporter, has_errors, internal_error
from diazflow.export.opentrons import export_opentrons


class PlanFileError(ValueError):
    """The file looks like a plan JSON but is not a valid one (a usage error, exit 2)."""


@dataclass(frozen=True)
class ExportResult:
    path: str  # the source as shown in diagnostics
    text: str | None  # the protocol file, None when there are errors
    diagnostics: tuple[Diagnostic, ...]
    inputs: tuple[str, ...]  # files read: never overwritten by -o


def opentrons_from_source(path: str, deck_override: str | None = None) -> ExportResult:
    """Export a workflow or a plan JSON; a bug in diazflow is DF000, never a traceback."""
    from diazflow.pipeline import display_path

    try:
        return _export(path, deck_override)
    except PlanFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any bug at all
        shown = display_path(path)
        return ExportResult(shown, None, internal_error(shown, exc), (path,))


def _export(path: str, deck_override: str | None) -> ExportResult:
    from diazflow.pipeline import display_path, safe_check
    from diazflow.report.inputs import detect_kind

    if detect_kind(path) == "plan":
        return _export_plan(path, deck_override)
    result = safe_check(path, deck_override=deck_override)
    inputs = (path,) + ((result.deck_path,) if result.deck_path else ())
    if result.plan is None or result.deck is None or result.loaded is None:
        return ExportResult(result.path, None, result.diagnostics, inputs)
    reporter = Reporter(result.path, diagnostics=list(result.diagnostics))
    text = export_opentrons(
        result.plan, result.deck, reporter, protocol_name=result.loaded.protocol.name
    )
    return ExportResult(display_path(path), text, tuple(reporter.sorted()), inputs)


def _export_plan(path: str, deck_override: str | None) -> ExportResult:
    """A plan from ``compile -o``: its deck is the one named in it (relative to where it was
    compiled), or ``--deck``."""
    from diazflow.deck import DeckLayoutError, load_deck
    from diazflow.deck.builtin import builtin_deck_path
    from diazflow.pipeline import display_path

    shown = display_path(path)
    reporter = Reporter(shown)
    try:
        with open(path, encoding="utf-8") as fh:
            plan = Plan.from_json(fh.read())
    except ValueError as exc:  # pydantic's ValidationError, or not UTF-8
        first = str(exc).splitlines()[0]
        raise PlanFileError(f"'{path}' is not a diazflow plan ({first})") from None
    deck_path = deck_override or plan.deck
    builtin = builtin_deck_path(deck_path)
    if builtin is not None:
        deck_path = str(builtin)
    deck: DeckSpec | None = None
    try:
        deck = load_deck(deck_path)
    except DeckLayoutError as exc:
        reporter.extend(exc.diagnostics)
    except FileNotFoundError:
        reporter.error(
            WHOLE_FILE,
            codes.DF525,
            f"the plan's deck layout '{deck_path}' does not exist here",
            "run the export where the plan was compiled, or pass --deck",
        )
    inputs = (path, deck_path)
    if deck is None or has_errors(reporter.diagnostics):
        return ExportResult(shown, None, tuple(reporter.sorted()), inputs)
    name = os.path.splitext(os.path.basename(plan.protocol))[0]
    text = export_opentrons(plan, deck, reporter, protocol_name=name)
    return ExportResult(shown, text, tuple(reporter.sorted()), inputs)
