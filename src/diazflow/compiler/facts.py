"""What the compiler needs to know about a deck, independent of the layout file format.

:func:`deck_facts` reads them off a :class:`diazflow.deck.DeckSpec` and its simulator profiles;
the compiler never touches the layout model or PyLabRobot directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from diazflow.chemistry.liquid_classes import LiquidClass
from diazflow.deck.geometry import WellGeometry, well_geometry
from diazflow.deck.spec import HAMILTON_ROBOT_KINDS, PipettingSpec

MIN_CHANNEL_SPACING_MM = 9.0


@dataclass(frozen=True)
class TipType:
    name: str
    max_ul: float
    min_ul: float
    spots: tuple[str, ...]  # "RACK:WELL" in column-major order, the order tips are used
    channels: tuple[int, ...] = ()  # the channels that carry this tip (OT-2: P20 on 1, P300 on 0)

    def channel_list(self, count: int) -> list[int]:
        """The first ``count`` channels that carry this tip (0..count-1 when not restricted)."""
        return list(self.channels[:count]) if self.channels else list(range(count))


@dataclass(frozen=True)
class LabwareFacts:
    name: str
    role: str
    rows: int
    columns: int
    max_volume_ul: float
    material: str | None
    sealed: bool
    condenser: bool
    dead_volume_ul: float
    module: str | None  # the module it sits on
    geometry: WellGeometry | None = None  # of its wells (None: tips, waste, builtin resources)
    pressure_rating_bar: float | None = None  # overpressure the capped vessels stand (bar)

    @property
    def row_pitch_mm(self) -> float:
        """Centre-to-centre distance of its rows: an SBS plate's rows span 72 mm (ANSI/SLAS
        4-2004: 9 mm for 8 rows, 4.5 mm for 16, 2.25 mm for 32)."""
        return 72.0 / self.rows if self.rows > 1 else 72.0


@dataclass(frozen=True)
class ModuleFacts:
    name: str
    kind: str
    min_c: float
    max_c: float
    active_cooling: bool
    can_shake: bool
    controls_temperature: bool
    default_rpm: float | None
    rpm_min: float | None  # the shaker's speed range (None: cannot shake)
    rpm_max: float | None
    settle_tolerance_c: float
    ramp_seconds: Callable[[float, float], float]  # (from °C, to °C) → seconds at full power


@dataclass(frozen=True)
class Timings:
    """Liquid-handler, shaker and powder timings from the simulator profiles (seconds)."""

    pick_up_s: float
    drop_s: float
    move_s: float
    aspirate_seconds: Callable[[float, float], float]  # (µL, tip max µL) → s
    dispense_seconds: Callable[[float, float], float]
    powder_dose_s: float
    powder_per_mg_s: float
    shake_stop_s: float
    set_temperature_s: float
    weigh_round_s: Callable[[int], float]  # the operator: one portion into each of N wells → s
    aspirate_fixed_s: float = 0.0
    dispense_fixed_s: float = 0.0
    default_flow_ul_s: Callable[[float], tuple[float, float]] = lambda tip_max_ul: (100.0, 100.0)
    """(aspirate, dispense) µL/s for water with a tip of this size, from the robot profile."""


@dataclass(frozen=True)
class DeckFacts:
    path: str
    robot: str
    channels: int  # channels that act together in one aspirate/dispense (OT-2: 1)
    tips: tuple[TipType, ...]
    labware: Mapping[str, LabwareFacts]
    modules: Mapping[str, ModuleFacts]
    reservoirs: tuple[str, ...]  # "LABWARE:WELL" positions for common reagents, in order of use
    reservoir_max_ul: Mapping[str, float]
    reservoir_dead_ul: Mapping[str, float]
    powder_dispenser: str | None  # device name
    powder_by_operator: bool  # the dispenser has no driver: the operator weighs solids in
    atmosphere: str
    ambient_c: float
    fill_limit: float
    timings: Timings
    pipetting: PipettingSpec = PipettingSpec()
    # the closest two channels may be in y: PyLabRobot's STARBackend refuses less than 9 mm, and
    # a Tecan LiHa's tips are 9 mm apart at their closest
    min_channel_spacing_mm: float = MIN_CHANNEL_SPACING_MM

    def row_stride(self, labware: str) -> int:
        """Take every ``n``-th row of ``labware`` in one pass, so adjacent channels are at least
        :attr:`min_channel_spacing_mm` apart (1 on a 96-well plate, 2 on a 384-well plate)."""
        lw = self.labware.get(labware)
        if lw is None or self.channels <= 1:
            return 1
        return max(1, math.ceil(self.min_channel_spacing_mm / lw.row_pitch_mm - 1e-9))

    def flow_rates(self, lc: LiquidClass, tip_max_ul: float) -> tuple[float, float]:
        """(aspirate, dispense) µL/s for this class on this robot (docs/liquid-classes.md)."""
        if self.robot in HAMILTON_ROBOT_KINDS:  # the others scale their own defaults
            return lc.aspiration_flow_ul_s, lc.dispense_flow_ul_s
        return lc.flow_rates(*self.timings.default_flow_ul_s(tip_max_ul))

    @property
    def largest_tip(self) -> TipType | None:
        return max(self.tips, key=lambda t: t.max_ul, default=None)

    @property
    def smallest_min_ul(self) -> float:
        return min((t.min_ul for t in self.tips), default=0.0)

    def module_of(self, labware: str) -> ModuleFacts | None:
        lw = self.labware.get(labware)
        if lw is None or lw.module is None:
            return None
        return self.modules.get(lw.module)


def deck_facts(spec) -> DeckFacts:
    """Read the compiler's facts off a :class:`diazflow.deck.spec.DeckSpec`."""
    timings = spec.timings
    powder = None
    powder_name = spec.powder_dispenser
    if powder_name is not None:
        powder = spec.modules[powder_name].profile.powder
    shake_stop = 0.0
    set_temperature = 0.0
    modules: dict[str, ModuleFacts] = {}
    for name, module in spec.modules.items():
        thermal = module.thermal
        shaker = module.shaker
        if shaker is not None:
            shake_stop = max(shake_stop, shaker.stop_s)
        if thermal is not None:
            set_temperature = max(set_temperature, thermal.set_temperature_s)
        modules[name] = ModuleFacts(
            name=name,
            kind=module.kind,
            min_c=module.min_temp_c if module.min_temp_c is not None else float("nan"),
            max_c=module.max_temp_c if module.max_temp_c is not None else float("nan"),
            active_cooling=module.active_cooling,
            can_shake=module.can_shake,
            controls_temperature=thermal is not None,
            default_rpm=module.default_rpm,
            rpm_min=module.shake_rpm_min,
            rpm_max=module.shake_rpm_max,
            settle_tolerance_c=module.settle_tolerance_c or 0.0,
            ramp_seconds=thermal.ramp_seconds
            if thermal is not None
            else (lambda a, b: float("inf")),
        )
    labware = {
        name: LabwareFacts(
            name=name,
            role=lw.role,
            rows=lw.rows,
            columns=lw.columns,
            max_volume_ul=lw.max_volume_ul,
            material=lw.material,
            sealed=lw.sealed,
            pressure_rating_bar=lw.pressure_rating_bar,
            condenser=lw.condenser,
            dead_volume_ul=lw.dead_volume_ul,
            module=lw.module,
            geometry=well_geometry(lw.plr_factory)
            if lw.plr_factory and lw.role not in ("tips", "waste")
            else None,
        )
        for name, lw in spec.labware.items()
    }
    tips = tuple(
        TipType(t.name, t.max_volume_ul, t.min_volume_ul, t.spots(), tuple(t.channels))
        for t in spec.tip_types
    )
    return DeckFacts(
        path=spec.path,
        robot=spec.robot.kind,
        channels=spec.robot.parallel_channels,
        tips=tips,
        labware=labware,
        modules=modules,
        reservoirs=tuple(r.position for r in spec.reservoirs),
        reservoir_max_ul={r.position: r.max_volume_ul for r in spec.reservoirs},
        reservoir_dead_ul={r.position: r.dead_volume_ul for r in spec.reservoirs},
        powder_dispenser=powder_name,
        powder_by_operator=bool(powder_name and spec.modules[powder_name].operator_run),
        atmosphere=spec.atmosphere,
        ambient_c=spec.ambient_c,
        fill_limit=spec.fill_limit,
        timings=Timings(
            pick_up_s=timings.tip_pick_up_s,
            drop_s=timings.tip_drop_s,
            move_s=timings.move_s,
            aspirate_seconds=timings.aspirate_seconds,
            dispense_seconds=timings.dispense_seconds,
            powder_dose_s=powder.dose_fixed_s if powder else 0.0,
            powder_per_mg_s=powder.per_mg_s if powder else 0.0,
            shake_stop_s=shake_stop,
            set_temperature_s=set_temperature,
            weigh_round_s=spec.weighing.round_seconds,
            aspirate_fixed_s=timings.aspirate_fixed_s,
            dispense_fixed_s=timings.dispense_fixed_s,
            default_flow_ul_s=lambda tip_max_ul: (
                timings.flow_rate(tip_max_ul).aspirate_ul_s,
                timings.flow_rate(tip_max_ul).dispense_ul_s,
            ),
        ),
        pipetting=spec.pipetting,
    )
