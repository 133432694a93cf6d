"""The stage's entry point: :func:`bind` runs the checks in order and returns a :class:`Binding`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from diazflow.binding.closure import ClosureTimeline, closure_checks
from diazflow.binding.design import design_checks
from diazflow.binding.hazards import gases_by_step, hazard_checks, hazard_tags
from diazflow.binding.materials import SolventUse, material_checks, solvent_uses
from diazflow.binding.pressure import pressure_checks
from diazflow.binding.vessel import bind_vessel
from diazflow.chemistry import checks

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import DeckFacts, LabwareFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol


@dataclass(frozen=True)
class Binding:
    """A protocol bound to a deck: what the compiler needs, and the facts the checks established.

    A binding exists even when the chemistry on the deck has errors (a solvent that freezes, a
    plate a solvent dissolves): the compiler's own findings are worth reporting alongside them.
    """

    facts: DeckFacts
    """The deck, as the compiler sees it."""
    vessel: LabwareFacts
    """The reaction labware (``vessels.labware``), known to be on the deck with every well."""
    solvent_uses: tuple[SolventUse, ...]
    """Every labware a solvent sits in (reaction vessel, stock plates, reservoirs, sample plates)."""
    hazard_tags: Mapping[str, frozenset[str]]
    """Reagent id → hazard tags; a library reagent has the tags of all its members."""
    closures: ClosureTimeline
    """The reaction vessels' closure (open, capped, vented) while each step runs."""


def bind(
    loaded: LoadedProtocol, chem: ResolvedChemistry, facts: DeckFacts, reporter: Reporter
) -> Binding | None:
    """Check the protocol against the deck; None when the reaction labware or its wells are not
    on the deck (DF510, DF524), since no other check means anything then."""
    vessel = bind_vessel(loaded, chem, facts, reporter)
    if vessel is None:
        return None
    design_checks(loaded, chem, facts, vessel, reporter)
    checks.unknown_solvent_checks(loaded, chem, reporter)
    closures = closure_checks(loaded, vessel, reporter, facts.powder_by_operator)
    checks.temperature_checks(
        loaded,
        chem,
        reporter,
        vessel=vessel.name,
        closures=closures.during,
        sealable=vessel.sealed,
        condenser=vessel.condenser,
    )
    uses = tuple(solvent_uses(loaded, chem, facts, vessel))
    material_checks(uses, reporter)
    tags = hazard_tags(loaded, chem)
    hazard_checks(loaded, chem, facts, closures, tags, reporter)
    gases = gases_by_step(loaded, chem, facts, tags)
    pressure_checks(loaded, chem, vessel, closures, reporter, gases)
    return Binding(
        facts=facts,
        vessel=vessel,
        solvent_uses=uses,
        hazard_tags=MappingProxyType(tags),
        closures=closures,
    )
