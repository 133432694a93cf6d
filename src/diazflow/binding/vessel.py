"""The reaction labware on the deck: DF510 (not there), DF524 (wells outside it), DF522
(atmosphere), DF516 (overfilled after a step)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.diagnostics import listing
from diazflow.language.wells import check_in_format, row_letter

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import DeckFacts, LabwareFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol


def bind_vessel(
    loaded: LoadedProtocol, chem: ResolvedChemistry, facts: DeckFacts, reporter: Reporter
) -> LabwareFacts | None:
    """The reaction labware, or None when it or its wells are not on the deck."""
    p = loaded.protocol
    vessel = facts.labware.get(p.vessels.labware)
    if vessel is None:
        reporter.error(
            ("vessels", "labware"),
            codes.DF510,
            f"labware '{p.vessels.labware}' is not on the deck ({os.path.basename(facts.path)})",
            f"labware on this deck: {', '.join(sorted(facts.labware))}",
        )
        return None
    if wells_outside(loaded, vessel, reporter):
        return None
    if p.atmosphere == "inert" and facts.atmosphere != "inert":
        reporter.error(
            ("atmosphere",),
            codes.DF522,
            f"the protocol needs an inert atmosphere but the deck ({os.path.basename(facts.path)}) runs in {facts.atmosphere}",
            "use a deck with an inert-gas enclosure (starlet_chem.yaml)",
        )
    fill_check(loaded, chem, facts, vessel, reporter)
    return vessel


def fill_check(
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


def wells_outside(loaded: LoadedProtocol, vessel: LabwareFacts, reporter: Reporter) -> bool:
    """DF524 at ``vessels.wells`` for reaction wells the labware does not have; True if any."""
    outside = check_in_format(loaded.protocol.vessels.wells, vessel.rows, vessel.columns)
    if outside:
        reporter.error(
            ("vessels", "wells"),
            codes.DF524,
            f"well(s) {listing([w.name for w in outside])} do not exist on '{vessel.name}' ({vessel.rows}×{vessel.columns})",
            f"wells run from A1 to {row_letter(vessel.rows - 1)}{vessel.columns}",
        )
    return bool(outside)
