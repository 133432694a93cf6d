"""Immutable capability facts of a deck, as loaded from a layout file.

These are what the compiler's checks and the scheduler read (volumes, ranges, tips, channels);
:func:`diazflow.deck.plr.build_plr` turns the same facts into PyLabRobot objects.  Nothing here
imports PyLabRobot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from diazflow.deck.profiles import (
    ModuleProfile,
    RobotTimings,
    ShakerModel,
    ThermalModel,
    WeighingTimings,
    default_operator_weighing,
)
from diazflow.language.source import SourceDocument
from diazflow.language.wells import row_letter

ROBOT_KINDS = (
    "hamilton_starlet",
    "hamilton_star",
    "opentrons_ot2",
    "tecan_evo100",
    "tecan_evo150",
    "tecan_evo200",
)

HAMILTON_ROBOT_KINDS = frozenset({"hamilton_starlet", "hamilton_star"})
"""Robots that pipette with Hamilton's liquid classes themselves (as firmware parameters)."""
LABWARE_ROLES = (
    "reaction",
    "building_blocks",
    "reagent_reservoir",
    "samples",
    "tips",
    "waste",
    "other",
)
MATERIALS = (
    "glass",
    "polypropylene",
    "polystyrene",
    "polyethylene",
    "ptfe",
    "cyclic_olefin",
    "polycarbonate",
    "aluminium",
    "stainless_steel",
)
MODULE_KINDS = (
    "temperature_controller",
    "heater_shaker",
    "heater_cooler_shaker",
    "shaker",
    "powder_dispenser",
)
SHAKING_KINDS = ("heater_shaker", "heater_cooler_shaker", "shaker")
THERMAL_KINDS = ("temperature_controller", "heater_shaker", "heater_cooler_shaker")
MODES = ("simulate", "chatterbox", "hardware")


def well_names(rows: int, columns: int) -> tuple[str, ...]:
    """``A1, B1, ..., H1, A2, ...``: column-major, the order an 8-channel head walks a plate."""
    return tuple(f"{row_letter(r)}{c}" for c in range(1, columns + 1) for r in range(rows))


@dataclass(frozen=True)
class BackendRecipe:
    """How to construct a PyLabRobot backend: a class path and keyword arguments.

    Arguments may themselves be recipes (``{class: ..., args: ...}``), e.g. an Inheco control box
    passed to a Thermoshake backend.  Nothing is constructed until :func:`build_plr`.
    """

    class_path: str
    args: Mapping[str, Any] = field(default_factory=dict)
    yaml_path: tuple = field(default=(), compare=False, repr=False)  # where it is written


@dataclass(frozen=True)
class Location:
    """Where a resource sits: exactly one of rails, slot, carrier site, coordinate, module, builtin."""

    kind: str  # rails | slot | carrier | coordinate | module | builtin
    rails: int | None = None
    slot: int | None = None
    carrier: str | None = None
    site: int | None = None
    coordinate: tuple[float, float, float] | None = None
    module: str | None = None
    builtin: str | None = None

    def __str__(self) -> str:
        if self.kind == "rails":
            return f"rails {self.rails}"
        if self.kind == "slot":
            return f"slot {self.slot}"
        if self.kind == "carrier":
            return f"{self.carrier} site {self.site}"
        if self.kind == "coordinate":
            return f"({', '.join(f'{v:g}' for v in self.coordinate or ())}) mm"
        if self.kind == "module":
            return f"on {self.module}"
        return f"the deck's own '{self.builtin}'"


@dataclass(frozen=True)
class LabwareSpec:
    name: str
    role: str  # one of LABWARE_ROLES
    plr_factory: str | None  # None for a builtin deck resource (e.g. the STARlet's trash)
    rows: int
    columns: int
    max_volume_ul: float  # per well; 0 for tips and waste
    material: str | None
    sealed: bool
    pressure_rating_bar: float | None  # overpressure the closed vessels stand (sealed only)
    condenser: bool
    dead_volume_ul: float  # per well
    module: str | None  # the module it sits on
    location: Location
    tip_type: str | None = None  # for tip racks
    description: str | None = None
    # calibration (x, y, z) in mm, applied to every position on this labware (layout 'offset:')
    offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaml_path: tuple = field(default=(), compare=False, repr=False)

    def well_names(self) -> tuple[str, ...]:
        return well_names(self.rows, self.columns)

    @property
    def wells(self) -> int:
        return self.rows * self.columns

    def usable_volume_ul(self, fill_limit: float) -> float:
        """What one well may hold under the deck's fill limit."""
        return self.max_volume_ul * fill_limit


@dataclass(frozen=True)
class TipTypeSpec:
    name: str
    max_volume_ul: float  # largest volume pipetted with one tip
    min_volume_ul: float  # smallest volume pipetted accurately
    racks: tuple[str, ...]  # labware names, in the order tips are used
    plr_factory: str  # of the racks
    per_rack: int
    channels: tuple[int, ...]  # channels that can carry this tip
    rack_rows: int = 8
    rack_columns: int = 12
    yaml_path: tuple = field(default=(), compare=False, repr=False)

    @property
    def total(self) -> int:
        return self.per_rack * len(self.racks)

    @property
    def count(self) -> int:
        return self.total

    def spots(self) -> tuple[str, ...]:
        """Every tip as ``RACK:WELL``, racks in order, column-major within a rack."""
        names = well_names(self.rack_rows, self.rack_columns)
        return tuple(f"{rack}:{w}" for rack in self.racks for w in names)

    def accepts(self, volume_ul: float) -> bool:
        return self.min_volume_ul - 1e-9 <= volume_ul <= self.max_volume_ul + 1e-9


@dataclass(frozen=True)
class PipetteSpec:
    name: str
    channels: tuple[int, ...]
    tips: tuple[str, ...]  # tip type names
    mount: str | None = None


@dataclass(frozen=True)
class ModulePlrGeometry:
    """Footprint of a module as a PyLabRobot ResourceHolder (mm)."""

    size: tuple[float, float, float]
    child_location: tuple[float, float, float]
    model: str | None = None


@dataclass(frozen=True)
class ModuleSpec:
    name: str
    kind: str  # one of MODULE_KINDS
    profile_path: str
    profile: ModuleProfile
    labware: tuple[str, ...]  # what sits on it
    adapter: str | None  # PLR factory of an adapter between the module and its labware
    location: Location | None  # None for devices that are not deck resources (powder dispenser)
    plr: ModulePlrGeometry | None
    backends: Mapping[str, BackendRecipe]
    # flattened facts (None where the module has no such capability)
    min_temp_c: float | None
    max_temp_c: float | None
    active_cooling: bool
    can_shake: bool
    shake_rpm_min: float | None
    shake_rpm_max: float | None
    default_rpm: float | None
    heating_rate_c_per_min: float | None
    cooling_rate_c_per_min: float | None
    settle_tolerance_c: float | None
    # no PyLabRobot driver: the operator does this device's work (layout 'operated_by: operator')
    operator_run: bool = False
    yaml_path: tuple = field(default=(), compare=False, repr=False)

    @property
    def thermal(self) -> ThermalModel | None:
        return self.profile.thermal

    @property
    def shaker(self) -> ShakerModel | None:
        return self.profile.shaker

    @property
    def controls_temperature(self) -> bool:
        return self.profile.thermal is not None

    def ramp_seconds(self, from_c: float, to_c: float) -> float:
        if self.profile.thermal is None:
            raise ValueError(f"module '{self.name}' ({self.kind}) does not control temperature")
        return self.profile.thermal.ramp_seconds(from_c, to_c)


@dataclass(frozen=True)
class ReservoirSpec:
    """One reagent reservoir position (a trough, or one column of a multi-trough plate)."""

    labware: str
    well: str
    max_volume_ul: float
    dead_volume_ul: float

    @property
    def position(self) -> str:
        return f"{self.labware}:{self.well}"


@dataclass(frozen=True)
class RobotSpec:
    kind: str
    plr_deck: str
    channels: int
    parallel_channels: int  # channels that can act in one aspirate/dispense (OT-2: 1)
    profile_path: str
    backends: Mapping[str, BackendRecipe]


@dataclass(frozen=True)
class CarrierSpec:
    name: str
    plr_factory: str
    location: Location
    yaml_path: tuple = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class PipettingSpec:
    """Where tips go, in mm: never lower than ``bottom_clearance_mm`` above a cavity bottom; a
    dispense into a reaction well ``above_liquid_mm`` above the surface it leaves; an aspiration
    ``immersion_mm`` below the surface it leaves; between positions the channels travel at
    ``traversal_height_mm`` (robot frame; None keeps the backend's own)."""

    bottom_clearance_mm: float = 1.0
    above_liquid_mm: float = 2.0
    immersion_mm: float = 2.0
    traversal_height_mm: float | None = None


@dataclass(frozen=True)
class DeckSpec:
    """Everything diazflow knows about one deck, read from its layout file."""

    path: str  # the layout file, as given
    name: str
    description: str | None
    robot: RobotSpec
    timings: RobotTimings
    pipettes: tuple[PipetteSpec, ...]
    tip_types: tuple[TipTypeSpec, ...]  # smallest first
    labware: Mapping[str, LabwareSpec]
    carriers: Mapping[str, CarrierSpec]
    modules: Mapping[str, ModuleSpec]
    reservoirs: tuple[ReservoirSpec, ...]  # in order of use
    atmosphere: str  # air | inert
    ambient_c: float
    fill_limit: float
    pipetting: PipettingSpec = field(default_factory=PipettingSpec)
    source: SourceDocument | None = field(default=None, compare=False, repr=False)

    def profile_files(self) -> list[str]:
        """The simulator profiles the layout reads (its robot timings and each module's), as
        absolute paths: inputs of a plan as much as the layout itself."""
        files = [self.timings.path] + [m.profile_path for m in self.modules.values()]
        return [os.path.abspath(f) for f in files if f]

    # ---- convenience views used by the compiler's checks

    @property
    def robot_kind(self) -> str:
        return self.robot.kind

    @property
    def channels(self) -> int:
        return self.robot.channels

    @property
    def parallel_channels(self) -> int:
        return self.robot.parallel_channels

    @property
    def powder_dispenser(self) -> str | None:
        for m in self.modules.values():
            if m.kind == "powder_dispenser":
                return m.name
        return None

    @property
    def has_powder_dispenser(self) -> bool:
        return self.powder_dispenser is not None

    @property
    def weighing(self) -> WeighingTimings:
        """How long the operator takes to weigh solids in: the operator-run dispenser's profile,
        else the shipped ``simulators/operator.yaml`` (for 'solid: {dispense: manual}')."""
        for m in self.modules.values():
            if m.operator_run and m.profile.weighing is not None:
                return m.profile.weighing
        return default_operator_weighing()

    @property
    def reservoir_positions(self) -> tuple[str, ...]:
        return tuple(r.position for r in self.reservoirs)

    @property
    def tips(self) -> Mapping[str, TipTypeSpec]:
        """Tip types by name."""
        return MappingProxyType({t.name: t for t in self.tip_types})

    def tip_for(self, volume_ul: float) -> TipTypeSpec | None:
        """The smallest tip type that pipettes ``volume_ul`` in one go."""
        for tip in self.tip_types:
            if tip.accepts(volume_ul):
                return tip
        return None

    @property
    def smallest_volume_ul(self) -> float:
        return min((t.min_volume_ul for t in self.tip_types), default=0.0)

    @property
    def largest_volume_ul(self) -> float:
        return max((t.max_volume_ul for t in self.tip_types), default=0.0)

    def module_of(self, labware: str) -> ModuleSpec | None:
        lw = self.labware.get(labware)
        if lw is None or lw.module is None:
            return None
        return self.modules.get(lw.module)

    def labware_with_role(self, role: str) -> list[LabwareSpec]:
        return [lw for lw in self.labware.values() if lw.role == role]
