"""A design's conditions against the deck (DF528, DF529): a condition whose volume no tip on the
deck can pipette, or whose well it overfills, is named by its condition id, at its row of the
conditions table (or at the step, for a design by factors), so an optimiser's batch can be
corrected condition by condition."""

from __future__ import annotations

from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.diagnostics import Position, listing
from diazflow.language.design import Condition

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import DeckFacts, LabwareFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol


def _where(loaded: LoadedProtocol, reporter: Reporter, condition: Condition, step: int | None):
    """(reporter, place) for a finding about one condition: its table row, else the step."""
    if condition.origin is not None:
        file, line, column = condition.origin
        return reporter.for_file(file), Position(line, column)
    return reporter, (loaded.step_path(step) if step is not None else ("design",))


def _label(condition: Condition) -> str:
    levels = ", ".join(f"{factor}={level}" for factor, level in condition.levels.items())
    return f"condition {condition.id} ({levels})"


def design_checks(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    facts: DeckFacts,
    vessel: LabwareFacts,
    reporter: Reporter,
) -> None:
    if loaded.design is None:
        return
    by_well = loaded.design.by_well
    smallest = facts.smallest_min_ul
    too_small: dict[str, tuple[Condition, int, dict[tuple[str, float], list[str]]]] = {}
    for a in chem.additions:
        condition = by_well.get(a.well)
        if condition is None or a.mg is not None or not 0 < a.ul < smallest - 1e-9:
            continue
        entry = too_small.setdefault(condition.id, (condition, a.step, {}))
        entry[2].setdefault((a.substance, round(a.ul, 2)), []).append(a.well.name)
    for condition, step, by_volume in too_small.values():
        what = [
            f"{ul:.2f} µL of {substance} (into {listing(wells, 4)})"
            for (substance, ul), wells in by_volume.items()
        ]
        at, where = _where(loaded, reporter, condition, step)
        at.error(
            where,
            codes.DF528,
            f"{_label(condition)}: {listing(what, 4)} is below the smallest volume this deck's "
            f"tips handle ({smallest:g} µL)",
            "drop or change this condition (more reagent, a more dilute stock), or run the batch "
            "on a deck with smaller tips",
        )
    limit = vessel.max_volume_ul * facts.fill_limit
    for condition in loaded.design.conditions:
        fullest = max(condition.wells, key=chem.max_volume, default=None)
        if fullest is None or chem.max_volume(fullest) <= limit + 1e-6:
            continue
        at, where = _where(loaded, reporter, condition, None)
        at.error(
            where,
            codes.DF529,
            f"{_label(condition)}: well {fullest.name} would hold "
            f"{chem.max_volume(fullest):.0f} µL, above {facts.fill_limit:.0%} of "
            f"{vessel.max_volume_ul:.0f} µL ({limit:.0f} µL)",
            "drop or change this condition (less solvent, a smaller scale)",
        )
