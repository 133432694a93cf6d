"""The one-way pipeline: load → validate → resolve chemistry → bind to the deck → compile.

Each stage lives in its own subpackage and returns immutable data plus diagnostics; this module
only strings them together and stops at the first stage whose errors make the next meaningless.
The CLI's ``validate`` and ``compile`` both call :func:`check`, so whatever ``validate`` accepts
compiles (spec §5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from diazflow import errorcodes as codes
from diazflow.diagnostics import Diagnostic, Severity, has_errors, sort_unique
from diazflow.language import models as m
from diazflow.language.loader import LoadedProtocol, load_protocol


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
    if deck_override:
        return deck_override
    if loaded.protocol.deck is None:
        return None
    return os.path.normpath(os.path.join(loaded.directory, loaded.protocol.deck))


def check(path: str, *, deck_override: str | None = None) -> CheckResult:
    """Run every check of spec §4 on one protocol file, and compile it if it is valid."""
    shown = display_path(path)
    result = load_protocol(shown)
    diags = list(result.diagnostics)
    loaded = result.loaded
    if loaded is None or has_errors(diags):
        return CheckResult(shown, tuple(sort_unique(diags)), loaded)

    from diazflow.chemistry.resolve import resolve_chemistry

    chem, chem_diags = resolve_chemistry(loaded)
    diags.extend(chem_diags)
    if chem is None or has_errors(diags):
        return CheckResult(shown, tuple(sort_unique(diags)), loaded, chem)

    deck_path = resolve_deck_path(loaded, deck_override)
    if deck_path is None:
        diags.append(
            loaded.diagnostic(
                ("name",),
                codes.DF525,
                "no deck layout: the protocol has no 'deck:' and no --deck was given",
                "add 'deck: ../deck_layouts/starlet_chem.yaml' or pass --deck",
                key=True,
            )
        )
        return CheckResult(shown, tuple(sort_unique(diags)), loaded, chem)

    from diazflow.deck import DeckLayoutError, load_deck

    deck_path = display_path(deck_path)
    try:
        deck = load_deck(deck_path)
    except DeckLayoutError as exc:
        diags.extend(exc.diagnostics)
        return CheckResult(shown, tuple(sort_unique(diags)), loaded, chem, deck_path=deck_path)
    except FileNotFoundError:
        where = ("deck",) if deck_override is None else ("name",)
        diags.append(
            loaded.diagnostic(
                where,
                codes.DF525,
                f"deck layout '{deck_path}' does not exist",
                "paths in 'deck:' are relative to the protocol file; see deck_layouts/",
                key=deck_override is not None,
            )
        )
        return CheckResult(shown, tuple(sort_unique(diags)), loaded, chem, deck_path=deck_path)

    from diazflow.compiler.facts import deck_facts

    facts = deck_facts(deck)
    deck_diags = _deck_checks(loaded, chem, facts)
    diags.extend(deck_diags)
    blocking = {
        codes.DF510.code,
        codes.DF524.code,
    }  # without the vessel (or its wells) nothing further makes sense
    if loaded.protocol.vessels.labware not in facts.labware or any(
        d.code in blocking for d in deck_diags
    ):
        return CheckResult(
            shown, tuple(sort_unique(diags)), loaded, chem, deck, facts, deck_path=deck_path
        )
    diags.extend(_chemistry_checks(loaded, chem, facts))
    # compile even after chemistry errors: the scheduler's deck and timing checks (ranges,
    # cooling, tips, windows) are findings in their own right, and validate reports them all

    from diazflow.compiler import compile_plan

    plan, compile_diags = compile_plan(loaded, chem, facts, display_path(deck_path))
    diags.extend(compile_diags)
    if has_errors(diags):
        plan = None
    return CheckResult(shown, tuple(sort_unique(diags)), loaded, chem, deck, facts, plan, deck_path)


def _deck_checks(loaded: LoadedProtocol, chem, facts) -> list[Diagnostic]:
    """DF5xx checks that need only the deck and the per-well volumes."""
    from diazflow.language.wells import check_in_format

    p = loaded.protocol
    out: list[Diagnostic] = []
    vessel = facts.labware.get(p.vessels.labware)
    if vessel is None:
        out.append(
            loaded.diagnostic(
                ("vessels", "labware"),
                codes.DF510,
                f"labware '{p.vessels.labware}' is not on the deck ({os.path.basename(facts.path)})",
                f"labware on this deck: {', '.join(sorted(facts.labware))}",
            )
        )
        return out
    outside = check_in_format(p.vessels.wells, vessel.rows, vessel.columns)
    if outside:
        out.append(
            loaded.diagnostic(
                ("vessels", "wells"),
                codes.DF524,
                f"well(s) {', '.join(w.name for w in outside[:6])} do not exist on '{vessel.name}' ({vessel.rows}×{vessel.columns})",
                f"wells run from A1 to {chr(ord('A') + vessel.rows - 1)}{vessel.columns}",
            )
        )
        return out
    if p.atmosphere == "inert" and facts.atmosphere != "inert":
        out.append(
            loaded.diagnostic(
                ("atmosphere",),
                codes.DF522,
                f"the protocol needs an inert atmosphere but the deck ({os.path.basename(facts.path)}) runs in {facts.atmosphere}",
                "use a deck with an inert-gas enclosure (starlet_chem.yaml)",
            )
        )
    limit = vessel.max_volume_ul * facts.fill_limit
    for step_index in sorted(chem.volumes_after_step):
        volumes = chem.volumes_after_step[step_index]
        over = [(w, v) for w, v in volumes.items() if v > limit + 1e-6]
        if over:
            well, volume = max(over, key=lambda wv: wv[1])
            out.append(
                loaded.diagnostic(
                    loaded.step_path(step_index),
                    codes.DF516,
                    f"{len(over)} well(s) overfilled: {well.name} holds {volume:.0f} µL after this step, above {facts.fill_limit:.0%} of {vessel.max_volume_ul:.0f} µL ({limit:.0f} µL)",
                    "use a smaller scale, more concentrated stocks, or a smaller quench volume",
                    key=True,
                )
            )
            break
    return out


def _chemistry_checks(loaded: LoadedProtocol, chem, facts) -> list[Diagnostic]:
    from diazflow.chemistry import checks

    p = loaded.protocol
    vessel = facts.labware[p.vessels.labware]
    out = checks.unknown_solvent_diagnostics(loaded, chem)
    out += checks.temperature_checks(
        loaded, chem, vessel=vessel.name, sealed=vessel.sealed, condenser=vessel.condenser
    )
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
    out += checks.material_checks(loaded, uses)
    out += _hazard_diagnostics(loaded, chem, facts, vessel)
    return out


def _in_reservoir(facts, path: tuple, solvent: str) -> list[tuple[tuple, str, str | None, str]]:
    """A common reagent or solvent goes to the deck's reagent reservoirs (all one material)."""
    for position in facts.reservoirs[:1]:
        lw = facts.labware.get(position.split(":", 1)[0])
        if lw is not None:
            return [(path, lw.name, lw.material, solvent)]
    return []


def _hazard_diagnostics(loaded: LoadedProtocol, chem, facts, vessel) -> list[Diagnostic]:
    """Hazard rules (DF4xx warnings), evaluated stage by stage.

    A stage starts after an off-deck work-up, so the solvent of an earlier stage is gone: NaH in
    the THF stage of the Ugi route must not be blamed on the methanol of the Ugi stage.
    """
    from diazflow.chemistry import hazards
    from diazflow.chemistry.checks import solvent_components

    p = loaded.protocol
    tags: dict[str, frozenset[str]] = {}
    for rid, r in p.reagents.items():
        if r.library:
            member_tags: set[str] = set()
            for (lib, _well), sub in chem.members.items():
                if lib == r.library:
                    member_tags |= hazards.classify(sub.smiles, sub.name)
            tags[rid] = frozenset(member_tags)
        else:
            tags[rid] = frozenset(hazards.classify(r.smiles, r.name))
    findings: dict[tuple[str, str], tuple[str, Diagnostic]] = {}
    labels = {rid: r.name for rid, r in p.reagents.items() if r.name}

    def evaluate(used: set[str], quench: set[str], solvents: set[str], sealed: bool) -> None:
        solvent_names = set(solvents)
        for rid in (
            used - quench
        ):  # a quench's water is the quench rule's business, not the solvent's
            stock = p.reagents[rid].stock if rid in p.reagents else None
            if stock is not None:
                solvent_names.update(solvent_components(stock.solvent))
        ctx = hazards.HazardContext(
            reagents={rid: tags[rid] for rid in sorted(used) if rid in tags},
            solvents=hazards.solvent_tags(sorted(solvent_names)),
            quench_reagents=frozenset(quench),
            vessel_sealed=sealed,
            deck_inert=facts.atmosphere == "inert",
            atmosphere_requested_inert=p.atmosphere == "inert",
            labels=labels,
        )
        for finding in hazards.evaluate(ctx):
            rid = next((r for r in finding.reagents if r in p.reagents), None)
            path = ("reagents", rid) if rid else ("name",)
            key = (finding.code, finding.message)
            if key not in findings:
                severity = Severity.ERROR if finding.severity == "error" else Severity.WARNING
                findings[key] = (
                    finding.code,
                    loaded.diagnostic(
                        path,
                        finding.code,
                        finding.message,
                        finding.hint,
                        severity=severity,
                        key=True,
                    ),
                )

    vented = (
        False  # an off-deck step with 'vent: true' opens the sealed vessels for the rest of the run
    )
    for n, stage in enumerate(chem.stages):
        end = chem.stages[n + 1].first_step if n + 1 < len(chem.stages) else len(p.steps)
        limiting = p.reagents.get(stage.scale.limiting)
        used = (
            {stage.scale.limiting} if limiting is not None and limiting.preloaded else set()
        )  # others arrive with their step
        quench: set[str] = set()
        solvents = set(solvent_components(stage.solvent))
        for step in p.steps[stage.first_step : end]:
            kind, params = m.step_params(step)
            if kind == "offdeck" and getattr(params, "vent", False) and not vented:
                # what happened before the vent happened in a sealed vessel
                evaluate(used, quench, solvents, vessel.sealed)
                vented = True
            rid = getattr(params, "reagent", None)
            if rid in p.reagents:
                used.add(rid)
                if kind == "quench":
                    quench.add(rid)
            if kind == "add_solvent":
                solvents.update(solvent_components(params.solvent))
        evaluate(used, quench, solvents, vessel.sealed and not vented)
    return [d for _, d in findings.values()]
