"""Simulator profiles: how long a device takes to do things, and how a heated block behaves.

A profile is a YAML file in ``simulators/`` (format in docs/deck-layouts.md).  Every number is
written as ``{value: "<quantity>", source: "<where it comes from>"}`` so that each one can be
traced to a datasheet, to PyLabRobot's defaults, or is marked as an ``estimate``.  The compiler
(planned durations) and the runtime simulator (virtual devices) both read the frozen dataclasses
returned here, so a plan and its simulated run agree.

Four kinds of profile:

* ``liquid_handler`` → :class:`RobotTimings` (tip handling, aspirate/dispense, moves);
* ``thermal_module`` → :class:`ModuleProfile` with a :class:`ThermalModel` and, for shakers, a
  :class:`ShakerModel`;
* ``powder_dispenser`` → :class:`ModuleProfile` with :class:`PowderTimings`;
* ``operator`` → :class:`ModuleProfile` with :class:`WeighingTimings`: a person doing the work of
  a device PyLabRobot cannot drive (solids weighed in by hand).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from diazflow import errorcodes as codes
from diazflow.deck.errors import (
    DeckLayoutError,
    model_field_names,
    validation_diagnostics,
)
from diazflow.diagnostics import Diagnostic, Reporter
from diazflow.language.quantities import Dimension, QuantityError, parse_quantity
from diazflow.language.source import SourceDocument, YamlSourceError, load_yaml_file

PROFILE_VERSION = 1

# --------------------------------------------------------------------------- frozen results


@dataclass(frozen=True)
class FlowRate:
    """Default plunger speeds for one tip size (µL/s)."""

    tip_volume_ul: float
    aspirate_ul_s: float
    dispense_ul_s: float


@dataclass(frozen=True)
class RobotTimings:
    """Per-operation durations of a liquid handler (seconds), from a ``liquid_handler`` profile.

    An aspirate or dispense takes a fixed part (z moves, liquid-level detection, settling) plus
    volume / flow rate, where the flow rate belongs to the smallest listed tip size that is at
    least the tip in use.
    """

    path: str
    device: str
    tip_pick_up_s: float
    tip_drop_s: float
    aspirate_fixed_s: float
    dispense_fixed_s: float
    move_s: float
    flow_rates: tuple[FlowRate, ...]  # sorted by tip volume
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def flow_rate(self, tip_max_ul: float) -> FlowRate:
        for rate in self.flow_rates:
            if rate.tip_volume_ul >= tip_max_ul - 1e-9:
                return rate
        return self.flow_rates[-1]

    def aspirate_seconds(self, volume_ul: float, tip_max_ul: float) -> float:
        return self.aspirate_fixed_s + volume_ul / self.flow_rate(tip_max_ul).aspirate_ul_s

    def dispense_seconds(self, volume_ul: float, tip_max_ul: float) -> float:
        return self.dispense_fixed_s + volume_ul / self.flow_rate(tip_max_ul).dispense_ul_s


@dataclass(frozen=True)
class ThermalModel:
    """A temperature-controlled block: range, ramp rates and settling.

    Model (deliberately simple, and the same in the compiler and the runtime simulator):

    * heating, and cooling on a module with active cooling, is a linear ramp at
      ``heating_rate_c_per_min`` / ``cooling_rate_c_per_min``;
    * without active cooling the block relaxes towards ``ambient_c`` exponentially with time
      constant ``passive_cooling_tau_s`` and stops at the target (the heater holds it) — a target
      below ambient is never reached;
    * the block counts as "at temperature" once within ``settle_tolerance_c`` of the target, and
      the plan then waits ``settle_s`` more for the vials to follow the block.
    """

    min_c: float
    max_c: float
    heating_rate_c_per_min: float
    cooling_rate_c_per_min: float
    active_cooling: bool
    settle_tolerance_c: float
    settle_s: float
    passive_cooling_tau_s: float
    ambient_c: float
    set_temperature_s: float  # command round trip

    def in_range(self, celsius: float) -> bool:
        return self.min_c - 1e-9 <= celsius <= self.max_c + 1e-9

    def can_reach(self, target_c: float, from_c: float | None = None) -> bool:
        """Whether the block can get to (and hold) ``target_c`` from ``from_c`` (default: ambient)."""
        return math.isfinite(
            self.ramp_seconds(self.ambient_c if from_c is None else from_c, target_c)
        )

    def _passive_seconds(self, from_c: float, target_c: float) -> float:
        # T(t) = amb + (from - amb) exp(-t / tau); first time T <= target + tolerance
        reach = target_c + self.settle_tolerance_c
        if from_c <= reach:
            return 0.0
        if reach <= self.ambient_c:
            return math.inf
        return self.passive_cooling_tau_s * math.log(
            (from_c - self.ambient_c) / (reach - self.ambient_c)
        )

    def ramp_seconds(self, from_c: float, to_c: float) -> float:
        """Seconds from ``set_temperature(to_c)`` until the vessel is at ``to_c`` and settled.

        ``math.inf`` when the module cannot get there (outside its range, or below ambient
        without active cooling).  0 when already within tolerance.
        """
        if not self.in_range(to_c):
            return math.inf
        delta = to_c - from_c
        if abs(delta) <= self.settle_tolerance_c:
            return 0.0
        if delta > 0:
            ramp = (delta - self.settle_tolerance_c) / self.heating_rate_c_per_min * 60.0
        elif self.active_cooling:
            ramp = (-delta - self.settle_tolerance_c) / self.cooling_rate_c_per_min * 60.0
        else:
            ramp = self._passive_seconds(from_c, to_c)
            if not math.isfinite(ramp):
                return math.inf
        return ramp + self.settle_s

    def temperature_at(self, t_seconds: float, from_c: float, target_c: float) -> float:
        """Block temperature ``t_seconds`` after ``set_temperature(target_c)``, starting at ``from_c``.

        The target is clamped to the module's range (the device would refuse or saturate).
        """
        target = min(max(target_c, self.min_c), self.max_c)
        t = max(0.0, t_seconds)
        if target >= from_c:
            return min(target, from_c + self.heating_rate_c_per_min * t / 60.0)
        if self.active_cooling:
            return max(target, from_c - self.cooling_rate_c_per_min * t / 60.0)
        floor = max(target, self.ambient_c) if from_c > self.ambient_c else from_c
        passive = self.ambient_c + (from_c - self.ambient_c) * math.exp(
            -t / self.passive_cooling_tau_s
        )
        return max(floor, passive)

    def idle_temperature_at(self, t_seconds: float, from_c: float) -> float:
        """Block temperature after the module is switched off (relaxes to ambient)."""
        t = max(0.0, t_seconds)
        return self.ambient_c + (from_c - self.ambient_c) * math.exp(
            -t / self.passive_cooling_tau_s
        )


@dataclass(frozen=True)
class ShakerModel:
    min_rpm: float
    max_rpm: float
    default_rpm: float
    motion: str  # orbital | linear | ...
    start_s: float
    stop_s: float

    def in_range(self, rpm: float) -> bool:
        return self.min_rpm - 1e-9 <= rpm <= self.max_rpm + 1e-9


@dataclass(frozen=True)
class PowderTimings:
    dose_fixed_s: float  # per dose: move, open, settle, tare
    per_mg_s: float  # seconds per mg dispensed
    min_dose_mg: float
    max_dose_mg: float

    def dose_seconds(self, mg: float) -> float:
        return self.dose_fixed_s + mg * self.per_mg_s


@dataclass(frozen=True)
class WeighingTimings:
    """The operator weighing one portion of a solid into each of a set of wells (seconds)."""

    per_step_s: float  # once per portion round: fetch the solid, tare, open and close the enclosure
    per_well_portion_s: float  # one portion into one well

    def round_seconds(self, wells: int) -> float:
        """One portion into each of ``wells`` wells."""
        return self.per_step_s + wells * self.per_well_portion_s


@dataclass(frozen=True)
class ModuleProfile:
    path: str
    kind: str  # thermal_module | powder_dispenser | operator
    device: str
    thermal: ThermalModel | None
    shaker: ShakerModel | None
    powder: PowderTimings | None
    weighing: WeighingTimings | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def with_ambient(self, ambient_c: float) -> ModuleProfile:
        """The same device in a room (or enclosure) at ``ambient_c``."""
        if self.thermal is None or self.thermal.ambient_c == ambient_c:
            return self
        return replace(self, thermal=replace(self.thermal, ambient_c=ambient_c))


# --------------------------------------------------------------------------- YAML schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Scalar = str | int | float


class Sourced(_Model):
    """A number with its provenance: a datasheet, PyLabRobot's defaults, or ``estimate: why``."""

    value: Scalar
    source: str = Field(min_length=3)


class SourcedFlag(_Model):
    value: bool
    source: str = Field(min_length=3)


class _FlowRateModel(_Model):
    tip_volume: str
    aspirate: Sourced
    dispense: Sourced


class _RobotTimingsModel(_Model):
    tip_pick_up: Sourced
    tip_drop: Sourced
    aspirate_fixed: Sourced
    dispense_fixed: Sourced
    move: Sourced


class _ThermalModelModel(_Model):
    min_temperature: Sourced
    max_temperature: Sourced
    active_cooling: SourcedFlag
    heating_rate: Sourced
    cooling_rate: Sourced
    settle_tolerance: Sourced
    settle_time: Sourced
    passive_cooling_time_constant: Sourced
    ambient: Sourced
    set_temperature_command: Sourced


class _ShakerModelModel(_Model):
    min_speed: Sourced
    max_speed: Sourced
    default_speed: Sourced
    motion: Literal["orbital", "linear", "double_orbital"]
    start: Sourced
    stop: Sourced


class _PowderModel(_Model):
    dose_fixed: Sourced
    per_mg: Sourced
    min_dose: Sourced
    max_dose: Sourced


class _WeighingModel(_Model):
    per_step: Sourced
    per_well_portion: Sourced


class _ProfileModel(_Model):
    diazflow_profile: Literal[1]
    kind: Literal["liquid_handler", "thermal_module", "powder_dispenser", "operator"]
    device: str = Field(min_length=1)
    notes: str | None = None
    timings: _RobotTimingsModel | None = None
    flow_rates: list[_FlowRateModel] | None = Field(default=None, min_length=1)
    thermal: _ThermalModelModel | None = None
    shaker: _ShakerModelModel | None = None
    powder: _PowderModel | None = None
    weighing: _WeighingModel | None = None


_PROFILE_FIELDS = model_field_names(
    _ProfileModel,
    _RobotTimingsModel,
    _FlowRateModel,
    _ThermalModelModel,
    _ShakerModelModel,
    _PowderModel,
    _WeighingModel,
    Sourced,
)

_REQUIRED_SECTIONS = {
    "liquid_handler": ("timings", "flow_rates"),
    "thermal_module": ("thermal",),
    "powder_dispenser": ("powder",),
    "operator": ("weighing",),
}
_FORBIDDEN_SECTIONS = {
    "liquid_handler": ("thermal", "shaker", "powder", "weighing"),
    "thermal_module": ("timings", "flow_rates", "powder", "weighing"),
    "powder_dispenser": ("timings", "flow_rates", "thermal", "shaker", "weighing"),
    "operator": ("timings", "flow_rates", "thermal", "shaker", "powder"),
}


class _Reader:
    """Parses the sourced quantities of one profile, collecting diagnostics with positions."""

    def __init__(self, doc: SourceDocument):
        self.doc = doc
        self.reporter = Reporter(doc.filename, doc)
        self.sources: dict[str, str] = {}

    def quantity(
        self,
        path: tuple,
        item: Sourced,
        dimension: Dimension,
        *,
        minimum: float | None = None,
        positive: bool = False,
    ) -> float:
        name = ".".join(str(p) for p in path)
        self.sources[name] = item.source
        try:
            value = parse_quantity(item.value, dimension, field=name).value
        except QuantityError as exc:
            self.reporter.error(path + ("value",), codes.DF500, exc.message, exc.hint)
            return math.nan
        if positive and value <= 0:
            self.reporter.error(
                path + ("value",), codes.DF500, f"{name} must be greater than 0, got '{item.value}'"
            )
        elif minimum is not None and value < minimum:
            self.reporter.error(
                path + ("value",),
                codes.DF500,
                f"{name} must be at least {minimum:g}, got '{item.value}'",
            )
        return value

    def flag(self, path: tuple, item: SourcedFlag) -> bool:
        self.sources[".".join(str(p) for p in path)] = item.source
        return item.value


def _read_document(path: str) -> tuple[SourceDocument, _ProfileModel]:
    try:
        doc = load_yaml_file(path)
    except YamlSourceError as exc:
        raise DeckLayoutError([_recode(d) for d in exc.diagnostics]) from None
    if not isinstance(doc.data, dict):
        raise DeckLayoutError(
            [
                doc.diagnostic(
                    (),
                    "a simulator profile must be a YAML mapping",
                    "start from one of the files in simulators/",
                )
            ]
        )
    try:
        model = _ProfileModel.model_validate(doc.data)
    except ValidationError as exc:
        raise DeckLayoutError(
            validation_diagnostics(doc, exc.errors(include_url=False), _PROFILE_FIELDS)
        ) from None
    problems = []
    for section in _REQUIRED_SECTIONS[model.kind]:
        if getattr(model, section) is None:
            problems.append(
                doc.diagnostic(
                    ("kind",), codes.DF500, f"a {model.kind} profile needs a '{section}' section"
                )
            )
    for section in _FORBIDDEN_SECTIONS[model.kind]:
        if getattr(model, section) is not None:
            problems.append(
                doc.diagnostic(
                    (section,),
                    f"a {model.kind} profile has no '{section}' section",
                    "remove it, or change 'kind'",
                    key=True,
                )
            )
    if problems:
        raise DeckLayoutError(problems)
    return doc, model


def _recode(d: Diagnostic) -> Diagnostic:
    """YAML-level problems (DF100, DF104, ...) in a layout or profile are layout errors (DF500)."""
    from dataclasses import replace as _replace

    return _replace(d, code=codes.DF500.code, message=f"{d.message} [{d.code}]")


def _file_key(path: str) -> tuple[str, int, int]:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real, -1, -1
    return real, st.st_mtime_ns, st.st_size


def load_robot_profile(path: str) -> RobotTimings:
    """Read a ``liquid_handler`` profile; raise :class:`DeckLayoutError` (DF500) if it is invalid."""
    return _load_robot_profile(path, _file_key(path))


@lru_cache(maxsize=64)
def _load_robot_profile(path: str, _key: tuple) -> RobotTimings:
    doc, model = _read_document(path)
    if model.kind != "liquid_handler":
        raise DeckLayoutError(
            [
                doc.diagnostic(
                    ("kind",),
                    f"expected a liquid_handler profile, this one is '{model.kind}'",
                    "the robot's profile: names a file with 'kind: liquid_handler'",
                )
            ]
        )
    r = _Reader(doc)
    t = model.timings
    assert t is not None and model.flow_rates is not None
    D = Dimension.DURATION
    values = {
        name: r.quantity(("timings", name), getattr(t, name), D, minimum=0.0)
        for name in ("tip_pick_up", "tip_drop", "aspirate_fixed", "dispense_fixed", "move")
    }
    rates = []
    for i, fr in enumerate(model.flow_rates):
        try:
            tip = parse_quantity(fr.tip_volume, Dimension.VOLUME, field="tip_volume").value
        except QuantityError as exc:
            r.reporter.error(("flow_rates", i, "tip_volume"), codes.DF500, exc.message, exc.hint)
            tip = math.nan
        asp = r.quantity(("flow_rates", i, "aspirate"), fr.aspirate, Dimension.FLOW, positive=True)
        disp = r.quantity(("flow_rates", i, "dispense"), fr.dispense, Dimension.FLOW, positive=True)
        rates.append(FlowRate(tip, asp, disp))
    if r.reporter.diagnostics:
        raise DeckLayoutError(r.reporter.diagnostics)
    rates.sort(key=lambda f: f.tip_volume_ul)
    return RobotTimings(
        path=path,
        device=model.device,
        tip_pick_up_s=values["tip_pick_up"],
        tip_drop_s=values["tip_drop"],
        aspirate_fixed_s=values["aspirate_fixed"],
        dispense_fixed_s=values["dispense_fixed"],
        move_s=values["move"],
        flow_rates=tuple(rates),
        sources=MappingProxyType(dict(r.sources)),
    )


def load_module_profile(path: str, *, ambient_c: float | None = None) -> ModuleProfile:
    """Read a ``thermal_module``, ``powder_dispenser`` or ``operator`` profile.

    ``ambient_c`` (the deck's room or enclosure temperature) replaces the profile's own ambient.
    """
    profile = _load_module_profile(path, _file_key(path))
    return profile if ambient_c is None else profile.with_ambient(ambient_c)


@lru_cache(maxsize=64)
def _load_module_profile(path: str, _key: tuple) -> ModuleProfile:
    doc, model = _read_document(path)
    if model.kind == "liquid_handler":
        raise DeckLayoutError(
            [
                doc.diagnostic(
                    ("kind",),
                    "expected a module profile (thermal_module, powder_dispenser or operator), this one is 'liquid_handler'",
                    "a module's profile: names a device profile, not the robot's",
                )
            ]
        )
    r = _Reader(doc)
    thermal = shaker = powder = weighing = None
    if model.thermal is not None:
        th = model.thermal
        T, RATE, D = Dimension.TEMPERATURE, Dimension.RATE, Dimension.DURATION
        p = ("thermal",)
        thermal = ThermalModel(
            min_c=r.quantity(p + ("min_temperature",), th.min_temperature, T),
            max_c=r.quantity(p + ("max_temperature",), th.max_temperature, T),
            heating_rate_c_per_min=r.quantity(
                p + ("heating_rate",), th.heating_rate, RATE, positive=True
            ),
            cooling_rate_c_per_min=r.quantity(
                p + ("cooling_rate",), th.cooling_rate, RATE, positive=True
            ),
            active_cooling=r.flag(p + ("active_cooling",), th.active_cooling),
            settle_tolerance_c=_delta_temperature(
                r, p + ("settle_tolerance",), th.settle_tolerance
            ),
            settle_s=r.quantity(p + ("settle_time",), th.settle_time, D, minimum=0.0),
            passive_cooling_tau_s=r.quantity(
                p + ("passive_cooling_time_constant",),
                th.passive_cooling_time_constant,
                D,
                positive=True,
            ),
            ambient_c=r.quantity(p + ("ambient",), th.ambient, T),
            set_temperature_s=r.quantity(
                p + ("set_temperature_command",), th.set_temperature_command, D, minimum=0.0
            ),
        )
        if thermal.min_c > thermal.max_c:
            r.reporter.error(
                p + ("min_temperature", "value"),
                codes.DF500,
                f"min_temperature ({thermal.min_c:g} °C) is above max_temperature ({thermal.max_c:g} °C)",
            )
    if model.shaker is not None:
        sh = model.shaker
        p = ("shaker",)
        S, D = Dimension.SPEED, Dimension.DURATION
        shaker = ShakerModel(
            min_rpm=r.quantity(p + ("min_speed",), sh.min_speed, S, positive=True),
            max_rpm=r.quantity(p + ("max_speed",), sh.max_speed, S, positive=True),
            default_rpm=r.quantity(p + ("default_speed",), sh.default_speed, S, positive=True),
            motion=sh.motion,
            start_s=r.quantity(p + ("start",), sh.start, D, minimum=0.0),
            stop_s=r.quantity(p + ("stop",), sh.stop, D, minimum=0.0),
        )
        if not (shaker.min_rpm <= shaker.default_rpm <= shaker.max_rpm):
            r.reporter.error(
                p + ("default_speed", "value"),
                codes.DF500,
                f"default_speed {shaker.default_rpm:g} rpm is outside {shaker.min_rpm:g}-{shaker.max_rpm:g} rpm",
            )
    if model.powder is not None:
        pw = model.powder
        p = ("powder",)
        D, M = Dimension.DURATION, Dimension.MASS
        powder = PowderTimings(
            dose_fixed_s=r.quantity(p + ("dose_fixed",), pw.dose_fixed, D, minimum=0.0),
            per_mg_s=r.quantity(p + ("per_mg",), pw.per_mg, D, minimum=0.0),
            min_dose_mg=r.quantity(p + ("min_dose",), pw.min_dose, M, positive=True),
            max_dose_mg=r.quantity(p + ("max_dose",), pw.max_dose, M, positive=True),
        )
    if model.weighing is not None:
        p = ("weighing",)
        D = Dimension.DURATION
        weighing = WeighingTimings(
            per_step_s=r.quantity(p + ("per_step",), model.weighing.per_step, D, minimum=0.0),
            per_well_portion_s=r.quantity(
                p + ("per_well_portion",), model.weighing.per_well_portion, D, positive=True
            ),
        )
    if r.reporter.diagnostics:
        raise DeckLayoutError(r.reporter.diagnostics)
    return ModuleProfile(
        path=path,
        kind=model.kind,
        device=model.device,
        thermal=thermal,
        shaker=shaker,
        powder=powder,
        weighing=weighing,
        sources=MappingProxyType(dict(r.sources)),
    )


OPERATOR_PROFILE = "operator.yaml"
"""The shipped operator profile: how long weighing by hand takes where a layout names none."""


def builtin_simulators_dir() -> Path:
    """The shipped profiles, in an installed wheel or in a source checkout (beside the layouts)."""
    from diazflow.deck.builtin import builtin_layouts_dir

    return builtin_layouts_dir().parent / "simulators"


def default_operator_weighing() -> WeighingTimings:
    """Weighing by hand from the shipped ``simulators/operator.yaml``."""
    weighing = load_module_profile(str(builtin_simulators_dir() / OPERATOR_PROFILE)).weighing
    assert weighing is not None  # an operator profile requires its weighing section
    return weighing


def _delta_temperature(r: _Reader, path: tuple, item: Sourced) -> float:
    """A temperature *difference* ("0.5 degC", "0.5 K"): read as a temperature, must be >= 0."""
    name = ".".join(str(p) for p in path)
    r.sources[name] = item.source
    text = item.value
    if isinstance(text, str) and text.strip().endswith("K"):
        text = text.strip()[:-1] + "degC"  # a 0.5 K tolerance is a 0.5 °C tolerance
    try:
        value = parse_quantity(text, Dimension.TEMPERATURE, field=name).value
    except QuantityError as exc:
        r.reporter.error(path + ("value",), codes.DF500, exc.message, exc.hint)
        return math.nan
    if value < 0:
        r.reporter.error(path + ("value",), codes.DF500, f"{name} must not be negative")
    return value
