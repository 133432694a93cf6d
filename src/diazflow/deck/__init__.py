"""Deck layouts, device capabilities and simulator profiles, on PyLabRobot.

* :func:`load_deck` reads a layout (``deck_layouts/*.yaml``) into an immutable :class:`DeckSpec`
  — fast, and without importing PyLabRobot;
* :mod:`diazflow.deck.profiles` reads the timing and thermal profiles in ``simulators/``;
* :func:`build_plr` (in :mod:`diazflow.deck.plr`) turns a :class:`DeckSpec` into PyLabRobot
  objects (LiquidHandler, deck, modules) for ``simulate``, ``chatterbox`` or ``hardware``.

Formats: docs/deck-layouts.md.  PyLabRobot notes: docs/pylabrobot.md.
"""

from diazflow.deck.errors import DeckLayoutError
from diazflow.deck.layout import load_deck
from diazflow.deck.profiles import (
    ModuleProfile,
    PowderTimings,
    RobotTimings,
    ShakerModel,
    ThermalModel,
    load_module_profile,
    load_robot_profile,
)
from diazflow.deck.spec import (
    BackendRecipe,
    CarrierSpec,
    DeckSpec,
    LabwareSpec,
    Location,
    ModuleSpec,
    PipetteSpec,
    ReservoirSpec,
    RobotSpec,
    TipTypeSpec,
    well_names,
)

__all__ = [
    "BackendRecipe",
    "CarrierSpec",
    "DeckLayoutError",
    "DeckSpec",
    "LabwareSpec",
    "Location",
    "ModuleProfile",
    "ModuleSpec",
    "PipetteSpec",
    "PlrSetup",
    "PowderTimings",
    "ReservoirSpec",
    "RobotSpec",
    "RobotTimings",
    "ShakerModel",
    "ThermalModel",
    "TipTypeSpec",
    "build_plr",
    "load_deck",
    "load_module_profile",
    "load_robot_profile",
    "well_names",
]


def __getattr__(name: str):
    # build_plr lives next to the PyLabRobot code; importing diazflow.deck must stay PLR-free
    if name in ("build_plr", "PlrSetup", "PlrBuildError"):
        from diazflow.deck import plr

        return getattr(plr, name)
    raise AttributeError(f"module 'diazflow.deck' has no attribute {name!r}")
