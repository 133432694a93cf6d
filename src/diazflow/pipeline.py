"""The one-way pipeline: load → validate → resolve chemistry → bind to the deck → compile.

Each stage lives in its own subpackage and returns immutable data plus diagnostics; this module
only strings them together and stops at the first stage whose errors make the next meaningless.
The CLI's ``validate`` and ``compile`` both call :func:`check`, so whatever ``validate`` accepts
compiles (spec §5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from diazflow import errorcodes as codes
from diazflow.diagnostics import Diagnostic, Reporter, Severity, has_errors, sort_unique
from diazflow.language import models as m
from diazflow.language.loader import LoadedProtocol, load_protocol

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import DeckFacts, LabwareFacts
    from diazflow.deck.spec import DeckSpec


@dataclass(frozen=True)
class CheckResult:
    path: str
    diagnostics: tuple[Diagnostic, ...]
    loaded: LoadedProtocol | None = None
    chemistry: Any = None  # ResolvedChemistry
    deck: Any = None  # DeckSpec
    facts: Any = None  # compiler.facts.DeckFacts
    plan: Any = None  # compiler.plan.Plan
    deck_path: str | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def display_path(path: str) -> str:
    """Paths in diagnostics and plans: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
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
    from diazflow.deck.errors import did_you_mean

    names = builtin_deck_names()
    stem = os.path.splitext(os.path.basename(deck_path))[0]
    close = did_you_mean(stem, names)
    built_in = f"built-in decks: {', '.join(names)} (`diazflow decks`)"
    if close:
        return f"did you mean the built-in deck '{close}'? {built_in}"
    if is_builtin_reference(deck_path):
        return f"{built_in}; or give the path of a layout file"
    return f"paths in 'deck:' are relative to the protocol file; {built_in}"


def check(path: str, *, deck_override: str | None = None) -> CheckResult:
    """Run every check of spec §4 on one protocol file, and compile it if it is valid."""
    shown = display_path(path)
    result = load_protocol(shown)
    loaded = result.loaded
    if loaded is None or has_errors(result.diagnostics):
        return CheckResult(shown, tuple(sort_unique(result.diagnostics)), loaded)
    reporter = loaded.reporter()
    reporter.extend(result.diagnostics)

    def stop(**stages: Any) -> CheckResult:
        return CheckResult(shown, tuple(reporter.sorted()), loaded, **stages)

    from diazflow.chemistry.resolve import resolve

    chem = resolve(loaded, reporter)
    if chem is None or reporter.has_errors:
        return stop(chemistry=chem)

    deck_path = resolve_deck_path(loaded, deck_override)
    if deck_path is None:
        reporter.error(
            ("name",),
            codes.DF525,
            "no deck layout: the protocol has no 'deck:' and no --deck was given",
            "add 'deck: starlet_chem' (a built-in deck, see `diazflow decks`) or pass --deck",
            key=True,
        )
        return stop(chemistry=chem)
    deck_path = display_path(deck_path)
    deck = _load_deck(loaded, deck_path, deck_override, reporter)
    if deck is None:
        return stop(chemistry=chem, deck_path=deck_path)

    from diazflow.compiler.facts import deck_facts

    facts = deck_facts(deck)
    if not _deck_checks(loaded, chem, facts, reporter):
        return stop(chemistry=chem, deck=deck, facts=facts, deck_path=deck_path)
    _chemistry_checks(loaded, chem, facts, reporter)
    # compile even after chemistry errors: the scheduler's deck and timing checks (ranges,
    # cooling, tips, windows) are findings in their own right, and validate reports them all

    from diazflow.compiler import compile_plan

    plan, compile_diags = compile_plan(loaded, chem, facts, display_path(deck_path))
    reporter.extend(compile_diags)
    if reporter.has_errors:
        plan = None
    return stop(chemistry=chem, deck=deck, facts=facts, plan=plan, deck_path=deck_path)


def _load_deck(
    loaded: LoadedProtocol, deck_path: str, deck_override: str | None, reporter: Reporter
) -> DeckSpec | None:
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


def _deck_checks(
    loaded: LoadedProtocol, chem: ResolvedChemistry, facts: DeckFacts, reporter: Reporter
) -> bool:
    """DF5xx checks that need only the deck and the per-well volumes.

    False when the reaction labware (or its wells) is not on the deck: nothing further makes sense.
    """
    from diazflow.language.wells import check_in_format

    p = loaded.protocol
    vessel = facts.labware.get(p.vessels.labware)
    if vessel is None:
        reporter.error(
            ("vessels", "labware"),
            codes.DF510,
            f"labware '{p.vessels.labware}' is not on the deck ({os.path.basename(facts.path)})",
            f"labware on this deck: {', '.join(sorted(facts.labware))}",
        )
        return False
    outside = check_in_format(p.vessels.wells, vessel.rows, vessel.columns)
    if outside:
        reporter.error(
            ("vessels", "wells"),
            codes.DF524,
            f"well(s) {', '.join(w.name for w in outside[:6])} do not exist on '{vessel.name}' ({vessel.rows}×{vessel.columns})",
            f"wells run from A1 to {chr(ord('A') + vessel.rows - 1)}{vessel.columns}",
        )
        return False
    if p.atmosphere == "inert" and facts.atmosphere != "inert":
        reporter.error(
            ("atmosphere",),
            codes.DF522,
            f"the protocol needs an inert atmosphere but the deck ({os.path.basename(facts.path)}) runs in {facts.atmosphere}",
            "use a deck with an inert-gas enclosure (starlet_chem.yaml)",
        )
    _fill_check(loaded, chem, facts, vessel, reporter)
    return True


def _fill_check(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    facts: DeckFacts,
    vessel: LabwareFacts,
    reporter: Reporter,
) -> None:
    """DF516 at the first step after which wells hold more than the fill limit."""
    limit = vessel.max_volume_ul * facts.fill_limit
    for step_index in sorted(chem.volumes_after_step):
        volumes = chem.volumes_after_step[step_index]
        over = [(w, v) for w, v in volumes.items() if v > limit + 1e-6]
        if over:
            well, volume = max(over, key=lambda wv: wv[1])
            reporter.error(
                loaded.step_path(step_index),
                codes.DF516,
                f"{len(over)} well(s) overfilled: {well.name} holds {volume:.0f} µL after this step, above {facts.fill_limit:.0%} of {vessel.max_volume_ul:.0f} µL ({limit:.0f} µL)",
                "use a smaller scale, more concentrated stocks, or a smaller quench volume",
                key=True,
            )
            return


def _chemistry_checks(
    loaded: LoadedProtocol, chem: ResolvedChemistry, facts: DeckFacts, reporter: Reporter
) -> None:
    """The chemistry on this deck: solvents (DF308), temperatures, materials, hazards."""
    from diazflow.chemistry import checks

    vessel = facts.labware[loaded.protocol.vessels.labware]
    checks.unknown_solvent_checks(loaded, chem, reporter)
    checks.temperature_checks(
        loaded, chem, reporter, vessel=vessel.name, sealed=vessel.sealed, condenser=vessel.condenser
    )
    checks.material_checks(_solvent_uses(loaded, chem, facts, vessel), reporter)
    _hazard_checks(loaded, chem, facts, vessel, reporter)


def _solvent_uses(
    loaded: LoadedProtocol, chem: ResolvedChemistry, facts: DeckFacts, vessel: LabwareFacts
) -> list[tuple[tuple, str, str | None, str]]:
    """(YAML path, labware, its material, solvent) for every labware a solvent sits in."""
    p = loaded.protocol
    uses: list[tuple[tuple, str, str | None, str]] = [
        (("vessels", "labware"), vessel.name, vessel.material, p.scale.solvent)
    ]
    for stage in chem.stages[1:]:
        uses.append(
            (
                loaded.step_path(stage.first_step, "scale", "solvent"),
                vessel.name,
                vessel.material,
                stage.solvent,
            )
        )
    bb = facts.labware.get("building_blocks")
    for rid, r in p.reagents.items():
        if r.stock is None:
            continue
        if r.library and bb is not None and not r.stock.source:
            uses.append(
                (("reagents", rid, "stock", "solvent"), bb.name, bb.material, r.stock.solvent)
            )
        elif r.stock.source and r.stock.source in facts.labware:
            lw = facts.labware[r.stock.source]
            uses.append(
                (("reagents", rid, "stock", "source"), lw.name, lw.material, r.stock.solvent)
            )
        elif not r.library:
            uses.extend(
                _in_reservoir(facts, ("reagents", rid, "stock", "solvent"), r.stock.solvent)
            )
    for rid, r in p.reagents.items():
        if r.neat and r.name:  # a neat liquid sits in a reservoir as itself
            uses.extend(_in_reservoir(facts, ("reagents", rid, "neat"), r.name))
    for i, step in enumerate(p.steps):
        kind, params = m.step_params(step)
        if kind == "add_solvent":
            uses.extend(_in_reservoir(facts, loaded.step_path(i, "solvent"), params.solvent))
        if kind == "sample" and params.into in facts.labware:
            lw = facts.labware[params.into]
            uses.append(
                (loaded.step_path(i, "into"), lw.name, lw.material, chem.stage_of_step(i).solvent)
            )
    return uses


def _in_reservoir(facts, path: tuple, solvent: str) -> list[tuple[tuple, str, str | None, str]]:
    """A common reagent or solvent goes to the deck's reagent reservoirs (all one material)."""
    for position in facts.reservoirs[:1]:
        lw = facts.labware.get(position.split(":", 1)[0])
        if lw is not None:
            return [(path, lw.name, lw.material, solvent)]
    return []


def _hazard_checks(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    facts: DeckFacts,
    vessel: LabwareFacts,
    reporter: Reporter,
) -> None:
    """Hazard rules (DF4xx warnings), evaluated stage by stage.

    A stage starts after an off-deck work-up, so the solvent of an earlier stage is gone: NaH in
    the THF stage of the Ugi route must not be blamed on the methanol of the Ugi stage.
    """
    from diazflow.chemistry.checks import solvent_components

    walk = _HazardWalk(loaded, chem, facts, reporter)
    p = loaded.protocol
    vented = False  # an off-deck step with 'vent: true' opens the sealed vessels for the rest
    for n, stage in enumerate(chem.stages):
        end = chem.stages[n + 1].first_step if n + 1 < len(chem.stages) else len(p.steps)
        limiting = p.reagents.get(stage.scale.limiting)
        # the preloaded limiting reagent is there from the start; others arrive with their step
        used = {stage.scale.limiting} if limiting is not None and limiting.preloaded else set()
        quench: set[str] = set()
        solvents = set(solvent_components(stage.solvent))
        for step in p.steps[stage.first_step : end]:
            kind, params = m.step_params(step)
            if kind == "offdeck" and getattr(params, "vent", False) and not vented:
                # what happened before the vent happened in a sealed vessel
                walk.evaluate(used, quench, solvents, vessel.sealed)
                vented = True
            rid = getattr(params, "reagent", None)
            if rid in p.reagents:
                used.add(rid)
                if kind == "quench":
                    quench.add(rid)
            if kind == "add_solvent":
                solvents.update(solvent_components(params.solvent))
        walk.evaluate(used, quench, solvents, vessel.sealed and not vented)


class _HazardWalk:
    """Evaluates the hazard rules on what a stage has seen so far; reports each finding once."""

    def __init__(
        self,
        loaded: LoadedProtocol,
        chem: ResolvedChemistry,
        facts: DeckFacts,
        reporter: Reporter,
    ):
        self.p = loaded.protocol
        self.facts = facts
        self.reporter = reporter
        self.tags = _hazard_tags(loaded, chem)
        self.labels = {rid: r.name for rid, r in self.p.reagents.items() if r.name}
        self.reported: set[tuple[str, str]] = set()

    def evaluate(self, used: set[str], quench: set[str], solvents: set[str], sealed: bool) -> None:
        from diazflow.chemistry import hazards
        from diazflow.chemistry.checks import solvent_components

        solvent_names = set(solvents)
        # a quench's water is the quench rule's business, not the solvent's
        for rid in used - quench:
            stock = self.p.reagents[rid].stock if rid in self.p.reagents else None
            if stock is not None:
                solvent_names.update(solvent_components(stock.solvent))
        ctx = hazards.HazardContext(
            reagents={rid: self.tags[rid] for rid in sorted(used) if rid in self.tags},
            solvents=hazards.solvent_tags(sorted(solvent_names)),
            quench_reagents=frozenset(quench),
            vessel_sealed=sealed,
            deck_inert=self.facts.atmosphere == "inert",
            atmosphere_requested_inert=self.p.atmosphere == "inert",
            labels=self.labels,
        )
        for finding in hazards.evaluate(ctx):
            if (finding.code, finding.message) in self.reported:
                continue
            self.reported.add((finding.code, finding.message))
            blamed = next((r for r in finding.reagents if r in self.p.reagents), None)
            self.reporter.report(
                ("reagents", blamed) if blamed else ("name",),
                finding.code,
                finding.message,
                finding.hint,
                severity=Severity.ERROR if finding.severity == "error" else Severity.WARNING,
                key=True,
            )


def _hazard_tags(loaded: LoadedProtocol, chem: ResolvedChemistry) -> dict[str, frozenset[str]]:
    """Reagent id → hazard tags; a library reagent has the tags of all its members."""
    from diazflow.chemistry import hazards

    tags: dict[str, frozenset[str]] = {}
    for rid, r in loaded.protocol.reagents.items():
        if r.library:
            member_tags: set[str] = set()
            for (lib, _well), sub in chem.members.items():
                if lib == r.library:
                    member_tags |= hazards.classify(sub.smiles, sub.name)
            tags[rid] = frozenset(member_tags)
        else:
            tags[rid] = frozenset(hazards.classify(r.smiles, r.name))
    return tags
