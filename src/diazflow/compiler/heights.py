"""Tip heights: every dispense above the liquid, every aspiration just below its surface.

Runs over the finished schedule in time order, following the volume in every well it touches:
the stocks start with what the operator puts in (the plan's stock volumes), reaction wells start
empty.  Heights are above the cavity bottom (PyLabRobot's ``liquid_height``), from the well
geometry of the labware (:mod:`diazflow.deck.geometry`) and the deck's pipetting clearances:

* a dispense into a reaction well is a free (jet) dispense ``above_liquid_mm`` above the surface
  it leaves behind, so the tip never touches the reaction mixture, and never above the rim;
* an aspiration goes ``immersion_mm`` below the surface it leaves behind (the tip stays in the
  liquid to the end), never lower than ``bottom_clearance_mm``.
"""

from __future__ import annotations

from collections.abc import Iterable

from diazflow.compiler.facts import DeckFacts
from diazflow.compiler.plan import Aspirate, Dispense, Operation, Sample, StockPlan, r3
from diazflow.deck.geometry import WellGeometry


def labware_and_key(ref: str, vessel: str) -> tuple[str, str]:
    """(labware, LABWARE:WELL) of a plan position; a bare well name is a reaction well."""
    labware, sep, _ = ref.partition(":")
    return (labware, ref) if sep else (vessel, f"{vessel}:{ref}")


class _Levels:
    def __init__(self, deck: DeckFacts, vessel: str, stocks: Iterable[StockPlan]):
        self.deck = deck
        self.vessel = vessel
        self.volume: dict[str, float] = {}
        for stock in stocks:
            if stock.form != "solid":
                self.volume[stock.location] = self.volume.get(stock.location, 0.0) + stock.volume_uL

    def geometry(self, labware: str) -> WellGeometry | None:
        facts = self.deck.labware.get(labware)
        return facts.geometry if facts is not None else None

    def take(self, ref: str, volume: float) -> float:
        """Aspirate ``volume`` from ``ref``: the height the tip goes to."""
        labware, key = labware_and_key(ref, self.vessel)
        left = self.volume.get(key, 0.0) - volume
        self.volume[key] = left
        clearance = self.deck.pipetting.bottom_clearance_mm
        g = self.geometry(labware)
        if g is None:
            return clearance
        return r3(max(clearance, g.height_of(left) - self.deck.pipetting.immersion_mm))

    def give(self, ref: str, volume: float) -> float:
        """Dispense ``volume`` into ``ref``: the height the tip dispenses from."""
        labware, key = labware_and_key(ref, self.vessel)
        after = self.volume.get(key, 0.0) + volume
        self.volume[key] = after
        g = self.geometry(labware)
        clearance = self.deck.pipetting.above_liquid_mm
        if g is None:
            return clearance
        return r3(min(g.depth_mm, g.height_of(after) + clearance))


def assign_heights(
    operations: list[Operation], stocks: Iterable[StockPlan], deck: DeckFacts, vessel: str
) -> list[Operation]:
    """The operations (in time order) with ``height_mm`` set on every aspirate and dispense."""
    levels = _Levels(deck, vessel, stocks)
    out: list[Operation] = []
    for op in operations:
        match op:
            case Aspirate():
                heights = [levels.take(w, v) for w, v in zip(op.wells, op.volumes_uL, strict=True)]
                out.append(op.model_copy(update={"height_mm": heights}))
            case Dispense():
                heights = [levels.give(w, v) for w, v in zip(op.wells, op.volumes_uL, strict=True)]
                out.append(op.model_copy(update={"height_mm": heights}))
            case Sample():
                for w, t, v in zip(op.wells, op.targets, op.volumes_uL, strict=False):
                    levels.take(w, v)
                    levels.give(t, v)
                out.append(op)
            case _:
                out.append(op)
    return out
