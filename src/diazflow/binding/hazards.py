"""The hazard rules (DF4xx) walked stage by stage over the protocol's steps.

A stage starts after an off-deck work-up, so the solvent of an earlier stage is gone: NaH in the
THF stage of the Ugi route must not be blamed on the methanol of the Ugi stage.  The rules
themselves live in :mod:`diazflow.chemistry.hazards`; this module decides what each evaluation
sees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.binding.closure import CAPPED, ClosureTimeline, closure_change
from diazflow.chemistry import hazards
from diazflow.chemistry.checks import solvent_components, solvent_facts
from diazflow.diagnostics import Severity
from diazflow.language import models as m
from diazflow.language.quantities import QuantityRange
from diazflow.language.wells import Well

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry, Stage
    from diazflow.compiler.facts import DeckFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol


def hazard_tags(loaded: LoadedProtocol, chem: ResolvedChemistry) -> dict[str, frozenset[str]]:
    """Reagent id → hazard tags; a library reagent has the tags of all its members."""
    tags: dict[str, frozenset[str]] = {}
    members = member_tags(loaded, chem)
    for rid, r in loaded.protocol.reagents.items():
        if r.library:
            tags[rid] = frozenset().union(*members.get(rid, {}).values())
        else:
            tags[rid] = frozenset(hazards.classify(r.smiles, r.name))
        # a premixed stock brings its other solutes into every well it goes to
        tags[rid] = tags[rid].union(*co_solute_tags(r).values())
    return tags


def co_solute_tags(r: m.Reagent) -> dict[str, frozenset[str]]:
    """A premixed stock's other solutes (``stock.solutes``): id → hazard tags."""
    solutes = r.stock.solutes if r.stock is not None and r.stock.solutes else {}
    return {sid: frozenset(hazards.classify(cs.smiles, cs.name)) for sid, cs in solutes.items()}


def member_tags(
    loaded: LoadedProtocol, chem: ResolvedChemistry
) -> dict[str, dict[str, frozenset[str]]]:
    """Library reagent id → member label → the member's tags, in well order.  A member that sits
    in several wells (a by-row or by-column library) is one label, named by its first well:
    ``'B7' (tert-butyl piperazine-1-carboxylate)`` or ``'A7' (..., 8 wells)``."""
    out: dict[str, dict[str, frozenset[str]]] = {}
    for rid, r in loaded.protocol.reagents.items():
        if not r.library:
            continue
        wells_of: dict[tuple[str, str | None], list[Well]] = {}
        for (lib, well), sub in sorted(chem.members.items(), key=lambda item: item[0][1]):
            if lib == r.library:
                wells_of.setdefault((sub.name, sub.smiles), []).append(well)
        labels: dict[str, frozenset[str]] = {}
        for (name, smiles), wells in sorted(wells_of.items(), key=lambda item: min(item[1])):
            first = min(wells, key=lambda w: (w.row, w.column))
            extent = f", {len(wells)} wells" if len(wells) > 1 else ""
            labels[f"'{first.name}' ({name}{extent})"] = hazards.classify(smiles, name)
        out[rid] = labels
    return out


@dataclass
class _Seen:
    """What one stage has put in the vessel so far."""

    used: set[str]
    solvents: set[str]
    quench: set[str] = field(default_factory=set)


def hazard_checks(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    facts: DeckFacts,
    closures: ClosureTimeline,
    tags: Mapping[str, frozenset[str]],
    reporter: Reporter,
) -> None:
    """Evaluate the hazard rules step by step, each stage on what it has put in the vessel so
    far, and report each finding at the step where it happens: the ``add`` (or ``quench``,
    ``add_solvent``) that brings its parties together, the step that heats past a temperature,
    or the ``seal:`` that traps a gas.

    A mixture that evolves gas is a hazard only while capped: a ``seal:`` directly followed by
    ``vent:`` or ``unseal:`` holds the gas for no time at all, so the closure steps themselves
    are not evaluated; a protocol that ends capped leaves the mixture capped, and is.  A finding
    that needs the seal is reported at the ``seal:`` step that capped the vessels.  The rules
    that need heat (``above_celsius``) are evaluated at every step that sets a temperature, on
    what the stage holds by then, and reported at that step."""
    walk = _HazardWalk(loaded, facts, tags, member_tags(loaded, chem), reporter)
    p = loaded.protocol
    vessel_c = p.room_temperature_c  # the block holds the last temperature set
    walk.evaluate_stocks()
    for n, stage in enumerate(chem.stages):
        end = chem.stages[n + 1].first_step if n + 1 < len(chem.stages) else len(p.steps)
        seen = _stage_start(loaded, stage)
        walk.start_stage(n)
        if seen.used:  # a preloaded limiting reagent meets the stage's solvent
            walk.evaluate(seen, _stage_solvent_path(loaded, stage))
        for i in range(stage.first_step, end):
            _, params = m.step_params(p.steps[i])
            arrival = _arrival(params, seen, p.reagents)
            if arrival is not None:
                walk.evaluate(seen, loaded.step_path(i, arrival))
            temperature = _step_temperature(params)
            if temperature is not None:
                capped = closures.at(i) == CAPPED
                walk.evaluate_hot(seen, temperature, loaded.step_path(i), capped)
                vessel_c = temperature
            if isinstance(params, m.SampleParams):
                walk.check_sample(seen, vessel_c, params, loaded.step_path(i))
            capped_through = closures.at(i) == CAPPED and (
                closure_change(params) is None or i == len(p.steps) - 1
            )
            if capped_through:
                walk.evaluate_capped(seen, loaded.step_path(closures.changed_at[i] or 0))


def _arrival(params: object, seen: _Seen, reagents: Mapping[str, m.Reagent]) -> str | None:
    """Record what the step puts in the vessel; the key of the step to report a finding at
    (``reagent`` or ``solvent``), or None when the step adds nothing."""
    match params:
        case m.AddParams(reagent=rid) | m.AdjustPhParams(reagent=rid):
            if rid in reagents:
                seen.used.add(rid)
                return "reagent"
        case m.QuenchParams(reagent=rid):
            if rid in reagents:
                seen.used.add(rid)
                seen.quench.add(rid)
                return "reagent"
        case m.AddSolventParams(solvent=solvent):
            seen.solvents.update(solvent_components(solvent))
            return "solvent"
    return None


def _stage_solvent_path(loaded: LoadedProtocol, stage: Stage) -> tuple:
    if stage.index == 0:
        return ("scale", "solvent")
    return loaded.step_path(stage.first_step, "scale", "solvent")


def _step_temperature(params: object) -> float | None:
    """The highest temperature a step brings the vessel to, when it sets one (°C).  A reflux is
    at the boiling point of whatever is in the vessel: hotter than any threshold the rules use."""
    match params:
        case m.StirParams(temperature=t) | m.HoldParams(temperature=t) if t is not None:
            return t.value
        case m.TemperatureChangeParams(to=to):
            return to.high.value if isinstance(to, QuantityRange) else to.value
        case m.RefluxParams():
            return math.inf
    return None


def _stage_start(loaded: LoadedProtocol, stage: Stage) -> _Seen:
    """The preloaded limiting reagent is there from the start; others arrive with their step."""
    limiting = loaded.protocol.reagents.get(stage.scale.limiting)
    used = {stage.scale.limiting} if limiting is not None and limiting.preloaded else set()
    return _Seen(used=used, solvents=set(solvent_components(stage.solvent)))


class _HazardWalk:
    """Evaluates the hazard rules on what a stage has seen so far and reports each finding once,
    at the first step where it holds: a later step reports the same rule again only when it
    brings in a reagent the rule's earlier report in this stage did not name."""

    def __init__(
        self,
        loaded: LoadedProtocol,
        facts: DeckFacts,
        tags: Mapping[str, frozenset[str]],
        members: Mapping[str, Mapping[str, frozenset[str]]],
        reporter: Reporter | None,
    ):
        self.p = loaded.protocol
        self.facts = facts
        self.reporter = reporter
        self.tags = tags
        self.members = members
        self.labels = {rid: r.name for rid, r in self.p.reagents.items() if r.name}
        for rid, r in self.p.reagents.items():
            if r.library:
                self.labels[rid] = f"library '{r.library}'"
        self.stage = 0
        self.covered: dict[tuple[int, str], set[str]] = {}  # (stage, rule) → reagents reported
        self.toxic_gases: dict[int, dict[str, str]] = {}  # stage → toxic gas → its code

    def start_stage(self, index: int) -> None:
        self.stage = index

    def context(
        self, seen: _Seen, sealed: bool, temperature_c: float | None = None
    ) -> hazards.HazardContext:
        solvent_names = set(seen.solvents)
        # a quench's water is the quench rule's business, not the solvent's
        for rid in seen.used - seen.quench:
            r = self.p.reagents.get(rid)
            solution = (r.stock or r.supplied) if r is not None else None
            if solution is not None:
                solvent_names.update(solvent_components(solution.solvent))
        return hazards.HazardContext(
            reagents={rid: self.tags[rid] for rid in sorted(seen.used) if rid in self.tags},
            solvents=hazards.solvent_tags(sorted(solvent_names)),
            quench_reagents=frozenset(seen.quench),
            vessel_sealed=sealed,
            deck_inert=self.facts.atmosphere == "inert",
            atmosphere_requested_inert=self.p.atmosphere == "inert",
            labels=self.labels,
            temperature_c=temperature_c,
            members={rid: self.members[rid] for rid in seen.used if rid in self.members},
        )

    def evaluate(self, seen: _Seen, step_path: tuple) -> None:
        """The rules on what the stage holds after a step added to it, in vessels that are not
        capped, reported at that step; the toxic gases they release are remembered for the
        stage's samples."""
        for finding in hazards.evaluate(self.context(seen, sealed=False)):
            if finding.toxic_gas:
                self.toxic_gases.setdefault(self.stage, {})[finding.toxic_gas] = finding.code
            self.report(finding, step_path)

    def check_sample(
        self, seen: _Seen, vessel_c: float, params: m.SampleParams, step_path: tuple
    ) -> None:
        """DF430: a sample drawn from a vessel at or above its solvent's boiling point; DF431: a
        sample drawn while the stage releases a toxic gas (the aliquot carries it out of the
        vessel into an open plate)."""
        assert self.reporter is not None, "a walk without a reporter only computes"
        held = f"; the sample wells hold {params.diluent}" if params.diluent else ""
        boiling = self.lowest_boiling(seen)
        if boiling is not None and vessel_c >= boiling[1]:
            at = "at reflux" if math.isinf(vessel_c) else f"at {vessel_c:g} °C"
            self.reporter.report(
                step_path,
                codes.DF430,
                f"sampling {at} from a vessel whose {boiling[0]} boils at {boiling[1]:.1f} °C "
                "(property data): the aliquot boils in the tip, so the volume drawn is short "
                f"and solvent vapour escapes{held}",
                f"sample during a step below {boiling[1] - 10:.0f} °C (cool first, or sample the "
                "step before the heating), or dilute each aliquot into a cold solvent ("
                "'diluent: 100 uL cold MeCN')",
                severity=Severity.WARNING,
                key=True,
            )
        gases = self.toxic_gases.get(self.stage, {})
        if gases:
            what = ", ".join(f"{gas} ({code})" for gas, code in sorted(gases.items()))
            self.reporter.report(
                step_path,
                codes.DF431,
                f"sampling while the vessel releases {what}: each aliquot carries the gas out "
                f"of the vessel into an open sample plate{held}",
                "quench each aliquot where it lands ('diluent:' naming a quench that destroys "
                "the gas's source, e.g. '50 uL sat. aq. NaHCO3' for HCN or HN3 from acid, "
                "aqueous thiosulfate for hypochlorite), and handle the plate in a fume hood; "
                "or sample before the hazardous reagent goes in",
                severity=Severity.WARNING,
                key=True,
            )

    def lowest_boiling(self, seen: _Seen) -> tuple[str, float] | None:
        """(name, °C) of the lowest-boiling solvent in the vessel: the reaction solvent, added
        solvents and the stock solvents of the reagents added (not the quench solutions)."""
        names = set(seen.solvents)
        for rid in seen.used - seen.quench:
            stock = self.p.reagents[rid].stock if rid in self.p.reagents else None
            if stock is not None:
                names.update(solvent_components(stock.solvent))
        known = [
            (name, f.boiling_point_c)
            for name in sorted(names)
            for f in solvent_facts(name)
            if f.boiling_point_c is not None
        ]
        return min(known, key=lambda item: item[1]) if known else None

    def evaluate_capped(self, seen: _Seen, seal_path: tuple) -> None:
        """The findings that hold only because the vessels are capped, reported at the
        ``seal:`` step that capped them."""
        open_rules = {f.rule for f in hazards.evaluate(self.context(seen, sealed=False))}
        for finding in hazards.evaluate(self.context(seen, sealed=True)):
            if finding.rule not in open_rules:
                self.report(finding, seal_path)

    def evaluate_stocks(self) -> None:
        """DF3xx: each reagent against its own stock solvent, reported at that solvent."""
        for rid, reagent in self.p.reagents.items():
            if reagent.stock is None or rid not in self.tags:
                continue
            components = solvent_components(reagent.stock.solvent)
            solutes = co_solute_tags(reagent)
            own = (
                frozenset().union(*self.members.get(rid, {}).values())
                if reagent.library
                else frozenset(hazards.classify(reagent.smiles, reagent.name))
            )
            for finding in hazards.evaluate_stock(
                rid, own, components, self.labels, members=self.members.get(rid)
            ):
                self.report(finding, ("reagents", rid, "stock", "solvent"))
            if not solutes:
                continue
            labels = dict(self.labels)
            assert reagent.stock.solutes is not None  # co_solute_tags found some
            labels.update({sid: cs.name for sid, cs in reagent.stock.solutes.items()})
            for sid, tags in solutes.items():  # each solute against the solvent, as the reagent
                for finding in hazards.evaluate_stock(sid, tags, components, labels):
                    self.report(finding, ("reagents", rid, "stock", "solutes", sid))
            self.solutes_react(rid, own, solutes, components, labels)

    def solutes_react(
        self,
        rid: str,
        own: frozenset[str],
        solutes: Mapping[str, frozenset[str]],
        components: list[str],
        labels: Mapping[str, str],
    ) -> None:
        """DF323: a hazard rule that holds between two solutes of one premixed stock means they
        react in the bottle, before the stock is ever dispensed."""
        ctx = hazards.HazardContext(
            reagents={rid: own, **solutes},
            solvents=hazards.solvent_tags(components),
            labels=labels,
            members={rid: self.members[rid]} if rid in self.members else {},
        )
        for finding in hazards.evaluate(ctx):
            if len(finding.reagents) < 2:
                continue  # one solute and the solvent: the stock rules' (DF313) business
            assert self.reporter is not None, "a walk without a reporter only computes"
            self.reporter.error(
                ("reagents", rid, "stock", "solutes"),
                codes.DF323,
                f"the stock of '{rid}' holds solutes that react together in the bottle: "
                f"{finding.message}",
                "make them up as separate stocks and add them one after the other",
            )

    def evaluate_hot(
        self, seen: _Seen, temperature_c: float, step_path: tuple, capped: bool
    ) -> None:
        """The findings that hold only because of the temperature this step reaches, reported at
        the step, with the vessels as capped or not as they are then (a peroxide former heated
        open is a hazard, capped it is not)."""
        cold_rules = {f.rule for f in hazards.evaluate(self.context(seen, sealed=capped))}
        for finding in hazards.evaluate(
            self.context(seen, sealed=capped, temperature_c=temperature_c)
        ):
            if finding.rule not in cold_rules:
                self.report(finding, step_path)

    def report(self, finding: hazards.HazardFinding, path: tuple) -> None:
        covered = self.covered.get((self.stage, finding.rule))
        if covered is not None and set(finding.reagents) <= covered:
            return
        self.covered[(self.stage, finding.rule)] = (covered or set()) | set(finding.reagents)
        assert self.reporter is not None, "a walk without a reporter only computes"
        self.reporter.report(
            path,
            finding.code,
            finding.message,
            finding.hint,
            severity=Severity.ERROR if finding.severity == "error" else Severity.WARNING,
            key=True,
        )


def gases_by_step(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    facts: DeckFacts,
    tags: Mapping[str, frozenset[str]],
) -> dict[int, list[hazards.EvolvedGas]]:
    """Step index → the gases of the rules (``gas:`` in hazards.yaml) that hold on what the
    step's stage has put in the vessel by the end of that step, evaluated as if capped (the
    sealed-vessel rules are the gas rules) at the step's temperature."""
    walk = _HazardWalk(loaded, facts, tags, member_tags(loaded, chem), reporter=None)
    p = loaded.protocol
    out: dict[int, list[hazards.EvolvedGas]] = {}
    for n, stage in enumerate(chem.stages):
        end = chem.stages[n + 1].first_step if n + 1 < len(chem.stages) else len(p.steps)
        seen = _stage_start(loaded, stage)
        for i in range(stage.first_step, end):
            _, params = m.step_params(p.steps[i])
            _arrival(params, seen, p.reagents)  # records what the step puts in the vessel
            ctx = walk.context(seen, sealed=True, temperature_c=_step_temperature(params))
            out[i] = hazards.evolved_gases(ctx)
    return out
