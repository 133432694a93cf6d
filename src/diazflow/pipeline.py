"""The one-way pipeline: load → resolve chemistry → load the deck → bind → compile.

Each stage lives in its own subpackage and returns immutable data, reporting through one
:class:`~diazflow.diagnostics.Reporter`; this module only strings them together and stops at the
first stage whose errors make the next meaningless (docs/architecture.md).  The CLI's
``validate`` and ``compile`` both call :func:`check`, so whatever ``validate`` accepts compiles
(spec §5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.diagnostics import (
    Acknowledged,
    Diagnostic,
    Reporter,
    WarningPolicy,
    apply_warning_policy,
    has_errors,
    sort_unique,
)
from diazflow.language.loader import LoadedProtocol, load_protocol

if TYPE_CHECKING:
    # imported for annotations only: ``validate`` must not pay for the deck and compiler modules
    # (nor PyLabRobot) before it needs them
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import DeckFacts
    from diazflow.compiler.plan import Plan
    from diazflow.deck.spec import DeckSpec


@dataclass(frozen=True)
class CheckResult:
    """Everything one :func:`check` established: the diagnostics, and each stage's output up to
    the stage that stopped the run (``plan`` only when there are no errors)."""

    path: str
    diagnostics: tuple[Diagnostic, ...]
    loaded: LoadedProtocol | None = None
    chemistry: ResolvedChemistry | None = None
    deck: DeckSpec | None = None
    facts: DeckFacts | None = None
    plan: Plan | None = None
    deck_path: str | None = None
    # warnings the protocol acknowledged (settings.acknowledge), kept out of ``diagnostics``
    acknowledged: tuple[Acknowledged, ...] = ()

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    def input_files(self) -> list[str]:
        """Every file the protocol was compiled from, as absolute paths: the protocol, its CSV
        libraries and conditions table, the deck layout and its simulator profiles (what a run's
        journal records and ``resume`` compares, and what a cache entry depends on)."""
        paths = [self.path]
        if self.loaded is not None:
            paths += [lib.source_file for lib in self.loaded.libraries.values() if lib.source_file]
            design = self.loaded.design
            if design is not None and design.table_file:  # a conditions table is an input too
                paths.append(design.table_file)
        if self.deck_path:
            paths.append(self.deck_path)
        if self.deck is not None:
            paths += self.deck.profile_files()
        return list(dict.fromkeys(os.path.abspath(p) for p in paths))


def safe_check(
    path: str, *, deck_override: str | None = None, warnings: WarningPolicy | None = None
) -> CheckResult:
    """:func:`check`, with a bug in diazflow reported as DF000 on the file, never a traceback.

    The last line of defence for every command that reads a protocol (validate, compile, run,
    report): the user sees which file and that it is not their fault.
    """
    from diazflow.diagnostics import internal_error

    try:
        return check(path, deck_override=deck_override, warnings=warnings)
    except Exception as exc:  # noqa: BLE001 - any bug at all
        shown = display_path(path)
        return CheckResult(shown, internal_error(shown, exc))


def display_path(path: str) -> str:
    """Paths in diagnostics and plans: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except (ValueError, OSError):  # another drive (Windows); a working directory since deleted
        return path
    return path if rel.startswith("..") else rel


def resolve_deck_path(loaded: LoadedProtocol, deck_override: str | None) -> str | None:
    """The layout file a protocol runs on: ``--deck`` over ``deck:``; a bare name is built-in."""
    from diazflow.deck.builtin import builtin_deck_path, is_builtin_reference

    reference = deck_override or loaded.protocol.deck
    if reference is None:
        return None
    if is_builtin_reference(reference):
        builtin = builtin_deck_path(reference)
        if builtin is not None:
            return str(builtin)
    if deck_override:
        return deck_override
    return os.path.normpath(os.path.join(loaded.directory, reference))


def _missing_deck_hint(deck_path: str) -> str:
    from diazflow.deck.builtin import builtin_deck_names, is_builtin_reference
    from diazflow.diagnostics import did_you_mean

    names = builtin_deck_names()
    stem = os.path.splitext(os.path.basename(deck_path))[0]
    close = did_you_mean(stem, names)
    built_in = f"built-in decks: {', '.join(names)} (`diazflow decks`)"
    if close:
        return f"did you mean the built-in deck '{close}'? {built_in}"
    if is_builtin_reference(deck_path):
        return f"{built_in}; or give the path of a layout file"
    return f"paths in 'deck:' are relative to the protocol file; {built_in}"


def check(
    path: str, *, deck_override: str | None = None, warnings: WarningPolicy | None = None
) -> CheckResult:
    """Run every check of spec §4 on one protocol file, and compile it if it is valid.

    ``warnings`` selects, ignores or promotes warnings; the protocol's ``settings.acknowledge``
    is added to it. A promoted warning is an error: no plan is kept."""
    result = _check(path, deck_override)
    acknowledge = (
        dict(result.loaded.protocol.settings.acknowledge) if result.loaded is not None else {}
    )
    policy = warnings or WarningPolicy()
    if not acknowledge and policy == WarningPolicy():
        return result
    policy = replace(policy, acknowledged={**acknowledge, **policy.acknowledged})
    kept, acknowledged = apply_warning_policy(result.diagnostics, policy)
    plan = None if has_errors(kept) else result.plan
    return replace(result, diagnostics=tuple(kept), acknowledged=tuple(acknowledged), plan=plan)


def _check(path: str, deck_override: str | None) -> CheckResult:
    shown = display_path(path)
    result = load_protocol(shown)
    loaded = result.loaded
    if loaded is None or has_errors(result.diagnostics):
        diagnostics = list(result.diagnostics)
        if loaded is not None and any(d.code == codes.DF113.code for d in diagnostics):
            diagnostics = _wells_before_libraries(loaded, deck_override, diagnostics)
        return CheckResult(shown, tuple(sort_unique(diagnostics)), loaded)
    reporter = loaded.reporter()
    reporter.extend(result.diagnostics)

    def stop(
        chemistry: ResolvedChemistry | None = None,
        deck: DeckSpec | None = None,
        deck_path: str | None = None,
        facts: DeckFacts | None = None,
        plan: Plan | None = None,
    ) -> CheckResult:
        return CheckResult(
            shown, tuple(reporter.sorted()), loaded, chemistry, deck, facts, plan, deck_path
        )

    from diazflow.chemistry.resolve import resolve

    chem = resolve(loaded, reporter)
    if chem is None or reporter.has_errors:
        return stop(chem)

    deck_path = _deck_path(loaded, deck_override, reporter)
    if deck_path is None:
        return stop(chem)
    deck = _load_deck(deck_path, deck_override, reporter)
    if deck is None:
        return stop(chem, deck_path=deck_path)

    from diazflow.binding import bind
    from diazflow.compiler import compile_plan
    from diazflow.compiler.facts import deck_facts

    facts = deck_facts(deck)
    binding = bind(loaded, chem, facts, reporter)
    if binding is None:
        return stop(chem, deck, deck_path, facts)
    # compile even after binding errors: the scheduler's deck and timing checks (ranges,
    # cooling, tips, windows) are findings in their own right, and validate reports them all
    plan, compile_diags = compile_plan(loaded, chem, binding.facts, deck_path)
    reporter.extend(compile_diags)
    return stop(chem, deck, deck_path, facts, None if reporter.has_errors else plan)


def _wells_before_libraries(
    loaded: LoadedProtocol, deck_override: str | None, diagnostics: list[Diagnostic]
) -> list[Diagnostic]:
    """Reaction wells the deck's labware does not have (DF524) instead of the library members
    missing for them (DF113): ``A1:H13`` on a 96-well block is one mistake in ``vessels.wells``,
    not eight in the library.  The deck is read only for this; its own problems are reported
    when the protocol gets that far."""
    from diazflow.binding.vessel import wells_outside
    from diazflow.compiler.facts import deck_facts

    deck_path = resolve_deck_path(loaded, deck_override)
    scratch = loaded.reporter()
    deck = _load_deck(deck_path, deck_override, scratch) if deck_path else None
    vessel = deck_facts(deck).labware.get(loaded.protocol.vessels.labware) if deck else None
    if vessel is None:
        return diagnostics
    reporter = loaded.reporter()
    if not wells_outside(loaded, vessel, reporter):
        return diagnostics
    return [d for d in diagnostics if d.code != codes.DF113.code] + reporter.diagnostics


def _deck_path(loaded: LoadedProtocol, deck_override: str | None, reporter: Reporter) -> str | None:
    """The layout file to load, as shown in diagnostics; None with DF525 when there is none."""
    deck_path = resolve_deck_path(loaded, deck_override)
    if deck_path is None:
        reporter.error(
            ("name",),
            codes.DF525,
            "no deck layout: the protocol has no 'deck:' and no --deck was given",
            "add 'deck: starlet_chem' (a built-in deck, see `diazflow decks`) or pass --deck",
            key=True,
        )
        return None
    return display_path(deck_path)


def _load_deck(deck_path: str, deck_override: str | None, reporter: Reporter) -> DeckSpec | None:
    """The deck layout, or None with DF5xx reported (DF525 when the file does not exist)."""
    from diazflow.deck import DeckLayoutError, load_deck

    try:
        return load_deck(deck_path)
    except DeckLayoutError as exc:
        reporter.extend(exc.diagnostics)
    except FileNotFoundError:
        where = ("deck",) if deck_override is None else ("name",)
        reporter.error(
            where,
            codes.DF525,
            f"deck layout '{deck_path}' does not exist",
            _missing_deck_hint(deck_path),
            key=deck_override is not None,
        )
    return None
