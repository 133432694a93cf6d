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

from diazflow.binding.closure import CAPPED, ClosureTimeline, closure_change
from diazflow.chemistry import hazards
from diazflow.chemistry.checks import solvent_components
from diazflow.diagnostics import Severity
from diazflow.language import models as m
from diazflow.language.quantities import QuantityRange

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry, Stage
    from diazflow.compiler.facts import DeckFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol


def hazard_tags(loaded: LoadedProtocol, chem: ResolvedChemistry) -> dict[str, frozenset[str]]:
    """Reagent id → hazard tags; a library reagent has the tags of all its members."""
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
    """Evaluate the hazard rules at the end of each stage, and the sealed-vessel rules (DF403) at
    every step the vessels spend capped with what is in them by then.

    A mixture that evolves gas is a hazard only while capped: a ``seal:`` directly followed by
    ``vent:`` or ``unseal:`` holds the gas for no time at all, so the closure steps themselves
    are not evaluated; a protocol that ends capped leaves the mixture capped, and is.  A finding
    that needs the seal is reported at the ``seal:`` step that capped the vessels.  The rules
    that need heat (``above_celsius``) are evaluated at every step that sets a temperature, on
    what the stage holds by then, and reported at that step."""
    walk = _HazardWalk(loaded, facts, tags, reporter)
    p = loaded.protocol
    walk.evaluate_stocks()
    for n, stage in enumerate(chem.stages):
        end = chem.stages[n + 1].first_step if n + 1 < len(chem.stages) else len(p.steps)
        seen = _stage_start(loaded, stage)
        for i in range(stage.first_step, end):
            _, params = m.step_params(p.steps[i])
            _see(seen, params, p.reagents)
            temperature = _step_temperature(params)
            if temperature is not None:
                walk.evaluate_hot(seen, temperature, loaded.step_path(i))
            capped_through = closures.at(i) == CAPPED and (
                closure_change(params) is None or i == len(p.steps) - 1
            )
            if capped_through:
                walk.evaluate_capped(seen, loaded.step_path(closures.changed_at[i] or 0))
        walk.evaluate(seen)


def _see(seen: _Seen, params: object, reagents: Mapping[str, object]) -> None:
    """What a step puts in the vessel."""
    match params:
        case m.AddParams(reagent=rid) | m.AdjustPhParams(reagent=rid):
            if rid in reagents:
                seen.used.add(rid)
        case m.QuenchParams(reagent=rid):
            if rid in reagents:
                seen.used.add(rid)
                seen.quench.add(rid)
        case m.AddSolventParams(solvent=solvent):
            seen.solvents.update(solvent_components(solvent))


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
    """Evaluates the hazard rules on what a stage has seen so far; reports each finding once."""

    def __init__(
        self,
        loaded: LoadedProtocol,
        facts: DeckFacts,
        tags: Mapping[str, frozenset[str]],
        reporter: Reporter | None,
    ):
        self.p = loaded.protocol
        self.facts = facts
        self.reporter = reporter
        self.tags = tags
        self.labels = {rid: r.name for rid, r in self.p.reagents.items() if r.name}
        self.reported: set[tuple[str, str]] = set()

    def context(
        self, seen: _Seen, sealed: bool, temperature_c: float | None = None
    ) -> hazards.HazardContext:
        solvent_names = set(seen.solvents)
        # a quench's water is the quench rule's business, not the solvent's
        for rid in seen.used - seen.quench:
            stock = self.p.reagents[rid].stock if rid in self.p.reagents else None
            if stock is not None:
                solvent_names.update(solvent_components(stock.solvent))
        return hazards.HazardContext(
            reagents={rid: self.tags[rid] for rid in sorted(seen.used) if rid in self.tags},
            solvents=hazards.solvent_tags(sorted(solvent_names)),
            quench_reagents=frozenset(seen.quench),
            vessel_sealed=sealed,
            deck_inert=self.facts.atmosphere == "inert",
            atmosphere_requested_inert=self.p.atmosphere == "inert",
            labels=self.labels,
            temperature_c=temperature_c,
        )

    def evaluate(self, seen: _Seen) -> None:
        """The rules on what the stage has seen, in vessels that are not capped; each finding
        is reported at the reagent it blames."""
        for finding in hazards.evaluate(self.context(seen, sealed=False)):
            blamed = next((r for r in finding.reagents if r in self.p.reagents), None)
            self.report(finding, ("reagents", blamed) if blamed else ("name",))

    def evaluate_capped(self, seen: _Seen, seal_path: tuple) -> None:
        """The findings that hold only because the vessels are capped, reported at the
        ``seal:`` step that capped them."""
        open_findings = set(hazards.evaluate(self.context(seen, sealed=False)))
        for finding in hazards.evaluate(self.context(seen, sealed=True)):
            if finding not in open_findings:
                self.report(finding, seal_path)

    def evaluate_stocks(self) -> None:
        """DF3xx: each reagent against its own stock solvent, reported at that solvent."""
        for rid, reagent in self.p.reagents.items():
            if reagent.stock is None or rid not in self.tags:
                continue
            components = solvent_components(reagent.stock.solvent)
            for finding in hazards.evaluate_stock(rid, self.tags[rid], components, self.labels):
                self.report(finding, ("reagents", rid, "stock", "solvent"))

    def evaluate_hot(self, seen: _Seen, temperature_c: float, step_path: tuple) -> None:
        """The findings that hold only because of the temperature this step reaches, reported at
        the step (open vessels: the sealed-vessel rules are evaluated while capped)."""
        cold_findings = set(hazards.evaluate(self.context(seen, sealed=False)))
        for finding in hazards.evaluate(
            self.context(seen, sealed=False, temperature_c=temperature_c)
        ):
            if finding not in cold_findings:
                self.report(finding, step_path)

    def report(self, finding: hazards.HazardFinding, path: tuple) -> None:
        if (finding.code, finding.message) in self.reported:
            return
        self.reported.add((finding.code, finding.message))
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
    walk = _HazardWalk(loaded, facts, tags, reporter=None)
    p = loaded.protocol
    out: dict[int, list[hazards.EvolvedGas]] = {}
    for n, stage in enumerate(chem.stages):
        end = chem.stages[n + 1].first_step if n + 1 < len(chem.stages) else len(p.steps)
        seen = _stage_start(loaded, stage)
        for i in range(stage.first_step, end):
            _, params = m.step_params(p.steps[i])
            _see(seen, params, p.reagents)
            ctx = walk.context(seen, sealed=True, temperature_c=_step_temperature(params))
            out[i] = hazards.evolved_gases(ctx)
    return out
