"""Exports of a compiled plan to other robots' own formats (docs/opentrons-export.md).

``export_opentrons(plan, deck, reporter, protocol_name=...)`` writes an Opentrons Protocol API v2
Python file for a plan compiled on an OT-2 deck, or reports DF540-DF542 and returns None.
No PyLabRobot here: the export reads the plan and the :class:`~diazflow.deck.spec.DeckSpec`.
"""

from diazflow.export.opentrons import API_LEVEL, export_opentrons

__all__ = ["API_LEVEL", "export_opentrons"]
