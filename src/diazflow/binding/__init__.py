"""The binding stage: a resolved protocol against one deck (spec §4, DF510-DF525 and DF3xx/DF4xx).

Binding answers "can this chemistry run on this deck?" before anything is placed or scheduled:
the reaction labware and its wells exist on the deck (DF510, DF524), the atmosphere is right
(DF522), no well overfills (DF516), the solvents stay liquid at the temperatures reached (DF301-
DF303), the labware each solvent touches tolerates it (DF304), and the hazard rules hold stage by
stage (DF4xx).

Public surface: :func:`bind` and what it returns, :class:`Binding` (with :class:`SolventUse`).
Nothing here imports PyLabRobot: binding reads :class:`~diazflow.compiler.facts.DeckFacts`.
"""

from __future__ import annotations

from diazflow.binding.bind import Binding, bind
from diazflow.binding.materials import SolventUse

__all__ = ["Binding", "SolventUse", "bind"]
