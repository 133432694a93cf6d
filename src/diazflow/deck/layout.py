"""Deck layout files: YAML → pydantic models → an immutable :class:`DeckSpec`.

The format is documented in docs/deck-layouts.md.  :func:`load_deck` is on the path of every
``diazflow validate``: it reads the layout and the simulator profiles it names, checks every
reference and every PyLabRobot name (against the shipped list in ``plr_names.json``), and never
imports PyLabRobot.  Every problem becomes a DF5xx :class:`~diazflow.diagnostics.Diagnostic` at
the line and column of the layout (or profile) where it is written.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from diazflow import errorcodes as codes
from diazflow.deck import plr_names
from diazflow.deck.errors import (
    DeckLayoutError,
    model_field_names,
    validation_diagnostics,
)
from diazflow.deck.profiles import (
    ModuleProfile,
    RobotTimings,
    _recode,
    load_module_profile,
    load_robot_profile,
)
from diazflow.deck.spec import (
    LABWARE_ROLES,
    MATERIALS,
    MODES,
    MODULE_KINDS,
    ROBOT_KINDS,
    SHAKING_KINDS,
    BackendRecipe,
    CarrierSpec,
    DeckSpec,
    LabwareSpec,
    Location,
    ModulePlrGeometry,
    ModuleSpec,
    PipetteSpec,
    PipettingSpec,
    ReservoirSpec,
    RobotSpec,
    TipTypeSpec,
)
from diazflow.diagnostics import Reporter, did_you_mean
from diazflow.language.quantities import Dimension, QuantityError, parse_quantity
from diazflow.language.source import SourceDocument, YamlSourceError, load_yaml_file

LAYOUT_VERSION = 1
DEFAULT_FILL_LIMIT = 0.8
DEFAULT_AMBIENT = "22 degC"


# --------------------------------------------------------------------------- YAML schema

_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
Name = Field(pattern=_NAME)
QuantityText = str | int | float  # numbers are accepted here so the error can say "no unit"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class BackendRecipeModel(_Model):
    class_: str = Field(alias="class", min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


Backend = str | BackendRecipeModel


class BackendsModel(_Model):
    simulate: Backend | None = None
    chatterbox: Backend | None = None
    hardware: Backend | None = None


class RobotModel(_Model):
    kind: Literal[ROBOT_KINDS]  # type: ignore[valid-type]
    deck: str = Field(min_length=1)
    channels: int = Field(ge=1, le=96)
    parallel_channels: int | None = Field(default=None, ge=1, le=96)
    profile: str = Field(min_length=1)
    backends: BackendsModel = Field(default_factory=BackendsModel)


class EnclosureModel(_Model):
    atmosphere: Literal["air", "inert"]
    ambient: QuantityText | None = None
    description: str | None = None


class PipetteModel(_Model):
    name: str = Field(min_length=1)
    mount: Literal["left", "right"] | None = None
    channels: list[int] = Field(min_length=1)
    tips: list[str] = Field(min_length=1)


class TipTypeModel(_Model):
    max_volume: QuantityText
    min_volume: QuantityText
    racks: list[str] = Field(min_length=1)


class LocationModel(_Model):
    rails: int | None = Field(default=None, ge=1)
    slot: int | None = Field(default=None, ge=1)
    carrier: str | None = None
    site: int | None = Field(default=None, ge=0)
    coordinate: list[float] | None = Field(default=None, min_length=3, max_length=3)


class CarrierModel(_Model):
    factory: str = Field(min_length=1)
    location: LocationModel
    description: str | None = None


class OffsetModel(_Model):
    """A labware's calibration offset in mm, added to every position PyLabRobot computes for it.

    The OT-2's Labware Position Check vector, or what a STAR/EVO method teaches. More than
    10 mm in any direction is not a calibration but a wrong location.
    """

    x: float = Field(0.0, ge=-10.0, le=10.0)
    y: float = Field(0.0, ge=-10.0, le=10.0)
    z: float = Field(0.0, ge=-10.0, le=10.0)


TRAVERSAL_HEIGHT_ROBOTS = ("hamilton_starlet", "hamilton_star", "opentrons_ot2")
"""Robots whose PyLabRobot 0.2.2 backend takes a traversal height (plr.set_traversal_height)."""


class PipettingModel(_Model):
    """Where tips go relative to the wells and the liquid, in mm (docs/deck-layouts.md)."""

    bottom_clearance_mm: float = Field(1.0, ge=0.0, le=20.0)
    above_liquid_mm: float = Field(2.0, ge=0.5, le=30.0)
    immersion_mm: float = Field(2.0, ge=0.0, le=20.0)
    traversal_height_mm: float | None = Field(None, gt=0.0, le=400.0)


class LabwareModel(_Model):
    role: Literal[LABWARE_ROLES]  # type: ignore[valid-type]
    factory: str | None = None
    builtin: str | None = None
    location: LocationModel | None = None
    format: str | None = None
    material: Literal[MATERIALS] | None = None  # type: ignore[valid-type]
    max_volume: QuantityText | None = None
    dead_volume: QuantityText | None = None
    sealed: bool = False
    # the overpressure (above ambient) the closed vessels stand; only with 'sealed: true'
    pressure_rating: QuantityText | None = None
    condenser: bool = False
    description: str | None = None
    offset: OffsetModel | None = None


class ModulePlrModel(_Model):
    size: list[float] = Field(min_length=3, max_length=3)
    child_location: list[float] = Field(min_length=3, max_length=3)
    model: str | None = None


class ModuleModel(_Model):
    kind: Literal[MODULE_KINDS]  # type: ignore[valid-type]
    profile: str = Field(min_length=1)
    labware: str | list[str] | None = None
    adapter: str | None = None
    location: LocationModel | None = None
    plr: ModulePlrModel | None = None
    backends: BackendsModel = Field(default_factory=BackendsModel)
    # 'operator': the device has no PyLabRobot driver and a person does its work (the run shows
    # a checklist and waits for confirmation); only for a powder dispenser
    operated_by: Literal["robot", "operator"] = "robot"
    description: str | None = None


class DeckLayoutModel(_Model):
    diazflow_deck: Literal[1]
    name: str = Field(min_length=1)
    description: str | None = None
    robot: RobotModel
    enclosure: EnclosureModel
    fill_limit: float = Field(default=DEFAULT_FILL_LIMIT, gt=0, le=1)
    pipetting: PipettingModel = Field(default_factory=PipettingModel)
    pipettes: list[PipetteModel] = Field(min_length=1)
    tips: dict[str, TipTypeModel] = Field(min_length=1)
    carriers: dict[str, CarrierModel] = Field(default_factory=dict)
    labware: dict[str, LabwareModel] = Field(min_length=1)
    modules: dict[str, ModuleModel] = Field(default_factory=dict)


_LAYOUT_FIELDS = model_field_names(
    DeckLayoutModel,
    RobotModel,
    BackendsModel,
    BackendRecipeModel,
    EnclosureModel,
    PipettingModel,
    PipetteModel,
    TipTypeModel,
    LocationModel,
    CarrierModel,
    LabwareModel,
    ModulePlrModel,
    ModuleModel,
)
_NAME_RE = re.compile(_NAME)
_FORMAT_RE = re.compile(r"^\s*(\d{1,2})\s*[x×X]\s*(\d{1,2})\s*$")


# --------------------------------------------------------------------------- loader


def load_deck(path: str | os.PathLike) -> DeckSpec:
    """Read a deck layout and its simulator profiles; raise :class:`DeckLayoutError` if invalid.

    Raises ``FileNotFoundError`` when the file does not exist (the caller knows whether the path
    came from a protocol or the command line, and words the diagnostic accordingly).
    Results are cached until the layout or one of its profiles changes on disk, so validating
    many protocols against one deck reads it once.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    key = os.path.abspath(path)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == tuple(_stamp(f) for f, _ in cached[0]):
        return cached[1]
    spec = _Loader(path).load()
    files = [path, spec.timings.path] + [m.profile_path for m in spec.modules.values()]
    _CACHE[key] = (tuple(_stamp(f) for f in files), spec)
    return spec


_CACHE: dict[str, tuple[tuple, DeckSpec]] = {}


def _stamp(path: str) -> tuple[str, tuple[int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return path, (-1, -1)
    return path, (st.st_mtime_ns, st.st_size)


class _Loader:
    def __init__(self, path: str):
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))
        # positions come from the document once it is parsed (load replaces this reporter)
        self.reporter = Reporter(path)
        self.doc: SourceDocument | None = None
        self.unknown_names: set[str] = set()  # reported once; later checks skip them

    # ---- helpers

    def quantity(
        self,
        path: tuple,
        text: Any,
        dimension: Dimension,
        *,
        minimum: float | None = None,
        positive: bool = False,
    ) -> float:
        field = ".".join(str(p) for p in path)
        try:
            value = parse_quantity(text, dimension, field=field).value
        except QuantityError as exc:
            self.reporter.error(path, codes.DF500, exc.message, exc.hint)
            return math.nan
        if positive and not value > 0:
            self.reporter.error(path, codes.DF500, f"{field} must be greater than 0, got '{text}'")
        elif minimum is not None and value < minimum:
            self.reporter.error(
                path, codes.DF500, f"{field} must be at least {minimum:g}, got '{text}'"
            )
        return value

    def resolve(self, relative: str) -> str:
        return os.path.normpath(os.path.join(self.directory, relative))

    def check_plr_name(self, path: tuple, name: str, what: str) -> None:
        """A factory (``cor_96_wellplate_2mL_Vb``) or class path (``pylabrobot.x.Y``) must exist."""
        if plr_names.is_allowed_name(name):
            return
        known = plr_names.known_names()
        if "." in name and not name.startswith(("pylabrobot.", "diazflow.")):
            self.unknown_names.add(name)
            self.reporter.error(
                path,
                codes.DF501,
                f"'{name}' is not a PyLabRobot or diazflow {what}; a deck layout may not name it",
                "name a PyLabRobot backend, or register your own class through the "
                f"'{plr_names.BACKEND_ENTRY_POINT_GROUP}' entry point (docs/deck-layouts.md)",
            )
            return
        pool = [n for n in known if ("." in n) == ("." in name)] + (
            [*plr_names.DIAZFLOW_CLASSES] if name.startswith("diazflow.") else []
        )
        close = did_you_mean(name, pool, cutoff=0.7)
        if close is None and "." in name:
            tail = name.rsplit(".", 1)[-1]
            close = next((n for n in sorted(known) if n.rsplit(".", 1)[-1] == tail), None)
        hint = (
            f"did you mean '{close}'?"
            if close
            else f"see the names PyLabRobot {plr_names.plr_version()} exports (python -m diazflow.deck.plr_names)"
        )
        self.unknown_names.add(name)
        self.reporter.error(path, codes.DF501, f"unknown PyLabRobot {what} '{name}'", hint)

    def recipe(self, path: tuple, value: Any) -> BackendRecipe:
        if isinstance(value, str):
            self.check_plr_name(path, value, "class")
            return BackendRecipe(value, MappingProxyType({}), path)
        self.check_plr_name(path + ("class",), value.class_, "class")
        return BackendRecipe(
            value.class_, MappingProxyType(self.recipe_args(path + ("args",), value.args)), path
        )

    def recipe_args(self, path: tuple, args: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments stay plain YAML values, except nested ``{class: ..., args: ...}`` recipes."""
        out: dict[str, Any] = {}
        for key, value in args.items():
            if isinstance(value, dict) and "class" in value:
                unknown = set(value) - {"class", "args"}
                if unknown:
                    self.reporter.error(
                        path + (key, sorted(unknown)[0]),
                        codes.DF500,
                        f"unknown key '{sorted(unknown)[0]}' in a backend recipe",
                        "a recipe has 'class' and optional 'args'",
                        key=True,
                    )
                    continue
                if not isinstance(value["class"], str) or not isinstance(
                    value.get("args", {}), dict
                ):
                    self.reporter.error(
                        path + (key,),
                        codes.DF500,
                        "a backend recipe is {class: 'module.Class', args: {...}}",
                    )
                    continue
                self.check_plr_name(path + (key, "class"), value["class"], "class")
                out[key] = BackendRecipe(
                    value["class"],
                    MappingProxyType(self.recipe_args(path + (key, "args"), value.get("args", {}))),
                    path + (key,),
                )
            else:
                out[key] = value
        return out

    def backends(self, path: tuple, model: BackendsModel) -> Mapping[str, BackendRecipe]:
        out = {}
        for mode in MODES:
            value = getattr(model, mode)
            if value is not None:
                out[mode] = self.recipe(path + (mode,), value)
        return MappingProxyType(out)

    def location(
        self, path: tuple, loc: LocationModel, *, allow: tuple[str, ...]
    ) -> Location | None:
        given = [
            k for k in ("rails", "slot", "carrier", "coordinate") if getattr(loc, k) is not None
        ]
        if len(given) != 1:
            what = " and ".join(given) if given else "nothing"
            self.reporter.error(
                path,
                codes.DF500,
                f"a location needs exactly one of rails, slot, carrier (+ site) or coordinate; got {what}",
                "e.g. location: {rails: 7}, {slot: 3}, {carrier: plate_carrier, site: 0}",
            )
            return None
        kind = given[0]
        if kind not in allow:
            self.reporter.error(
                path + (kind,),
                codes.DF500,
                f"'{kind}' is not a valid location here",
                f"use one of: {', '.join(allow)}",
                key=True,
            )
            return None
        if kind == "carrier":
            if loc.site is None:
                self.reporter.error(
                    path,
                    codes.DF500,
                    "a carrier location needs a 'site' (0 is the front-most site)",
                    f"location: {{carrier: {loc.carrier}, site: 0}}",
                )
                return None
            return Location("carrier", carrier=loc.carrier, site=loc.site)
        if loc.site is not None:
            self.reporter.error(
                path + ("site",), codes.DF500, "'site' only goes with 'carrier'", key=True
            )
        if kind == "rails":
            return Location("rails", rails=loc.rails)
        if kind == "slot":
            return Location("slot", slot=loc.slot)
        return Location(
            "coordinate", coordinate=_triple(loc.coordinate) if loc.coordinate else None
        )

    # ---- main

    def load(self) -> DeckSpec:
        try:
            self.doc = load_yaml_file(self.path)
        except YamlSourceError as exc:
            raise DeckLayoutError([_recode(d) for d in exc.diagnostics]) from None
        self.reporter = Reporter(self.doc.filename, self.doc)
        data = self.doc.data
        if not isinstance(data, dict):
            self.reporter.error(
                (),
                codes.DF500,
                "a deck layout must be a YAML mapping",
                "start from one of the files in deck_layouts/",
            )
            raise DeckLayoutError(self.reporter.diagnostics)
        try:
            model = DeckLayoutModel.model_validate(data)
        except ValidationError as exc:
            raise DeckLayoutError(
                validation_diagnostics(self.doc, exc.errors(include_url=False), _LAYOUT_FIELDS)
            ) from None
        spec = self.build(model)
        if self.reporter.diagnostics:
            raise DeckLayoutError(self.reporter.sorted())
        assert spec is not None
        return spec

    def build(self, m: DeckLayoutModel) -> DeckSpec | None:
        ambient_text = m.enclosure.ambient if m.enclosure.ambient is not None else DEFAULT_AMBIENT
        ambient = self.quantity(("enclosure", "ambient"), ambient_text, Dimension.TEMPERATURE)

        # robot
        r = m.robot
        self.check_plr_name(("robot", "deck"), r.deck, "deck")
        parallel = r.parallel_channels if r.parallel_channels is not None else r.channels
        if parallel > r.channels:
            self.reporter.error(
                ("robot", "parallel_channels"),
                codes.DF500,
                f"parallel_channels ({parallel}) is more than channels ({r.channels})",
            )
        if m.pipetting.traversal_height_mm is not None and r.kind not in TRAVERSAL_HEIGHT_ROBOTS:
            self.reporter.error(
                ("pipetting", "traversal_height_mm"),
                codes.DF500,
                f"PyLabRobot's {r.kind} backend has no traversal height to set",
                "remove 'traversal_height_mm' (the backend keeps its own)",
            )
        for mode in ("chatterbox", "hardware"):
            if getattr(r.backends, mode) is None:
                self.reporter.error(
                    ("robot", "backends"),
                    codes.DF500,
                    f"robot.backends has no '{mode}' backend",
                    f"add '{mode}: <PyLabRobot backend class path>' (docs/deck-layouts.md)",
                    key=True,
                )
        robot = RobotSpec(
            r.kind,
            r.deck,
            r.channels,
            parallel,
            self.resolve(r.profile),
            self.backends(("robot", "backends"), r.backends),
        )
        timings = self.robot_profile(("robot", "profile"), robot.profile_path)

        # every resource name lives in one PyLabRobot namespace
        owners: dict[str, tuple] = {}
        for section in ("carriers", "labware", "modules"):
            for name in getattr(m, section):
                path = (section, name)
                if not _NAME_RE.match(str(name)):
                    self.reporter.error(
                        path,
                        codes.DF500,
                        f"'{name}' is not a valid name",
                        "names are letters, digits and '_', starting with a letter",
                        key=True,
                    )
                if name in owners:
                    self.reporter.error(
                        path,
                        codes.DF500,
                        f"'{name}' is already the name of an entry in {owners[name][0]}",
                        "every carrier, labware and module needs its own name (they share PyLabRobot's namespace)",
                        key=True,
                    )
                owners.setdefault(name, path)

        carriers = self.carriers(m)
        modules = self.modules(m, ambient)
        labware = self.labware(m, carriers, modules)
        tip_types = self.tip_types(m, labware)
        pipettes = self.pipettes(m, tip_types)
        self.check_occupancy(m, labware, modules)

        if "reaction_block" not in m.labware:
            self.reporter.error(
                ("labware",),
                codes.DF500,
                "the deck has no 'reaction_block'",
                "protocols put their reactions in 'reaction_block': name the reaction vessels so (role: reaction)",
                key=True,
            )
        if not any(lw.role == "waste" for lw in m.labware.values()):
            self.reporter.error(
                ("labware",),
                codes.DF500,
                "the deck has no waste (role: waste) for used tips",
                "add e.g. 'waste: {role: waste, builtin: trash}'",
                key=True,
            )

        reservoirs = tuple(
            ReservoirSpec(lw.name, w, lw.max_volume_ul, lw.dead_volume_ul)
            for lw in labware.values()
            if lw.role == "reagent_reservoir"
            for w in lw.well_names()
        )
        if self.reporter.diagnostics:
            return None
        # channels a tip type can use come from the pipettes that take it
        tip_types_with_channels = tuple(
            sorted(
                (
                    replace(
                        t,
                        channels=tuple(
                            sorted({c for p in pipettes if t.name in p.tips for c in p.channels})
                        ),
                    )
                    for t in tip_types
                ),
                key=lambda t: (t.max_volume_ul, t.name),
            )
        )
        return DeckSpec(
            path=self.path,
            name=m.name,
            description=m.description,
            robot=robot,
            timings=timings,  # type: ignore[arg-type]
            pipettes=pipettes,
            tip_types=tip_types_with_channels,
            labware=MappingProxyType(labware),
            carriers=MappingProxyType(carriers),
            modules=MappingProxyType(modules),
            reservoirs=reservoirs,
            atmosphere=m.enclosure.atmosphere,
            ambient_c=ambient,
            fill_limit=m.fill_limit,
            pipetting=PipettingSpec(
                bottom_clearance_mm=m.pipetting.bottom_clearance_mm,
                above_liquid_mm=m.pipetting.above_liquid_mm,
                immersion_mm=m.pipetting.immersion_mm,
                traversal_height_mm=m.pipetting.traversal_height_mm,
            ),
            source=self.doc,
        )

    def robot_profile(self, path: tuple, profile_path: str) -> RobotTimings | None:
        if not os.path.exists(profile_path):
            self.reporter.error(
                path,
                codes.DF500,
                f"simulator profile '{profile_path}' does not exist",
                "paths are relative to the layout file, e.g. ../simulators/hamilton_starlet.yaml",
            )
            return None
        try:
            return load_robot_profile(profile_path)
        except DeckLayoutError as exc:
            self.reporter.extend(exc.diagnostics)
            self.reporter.error(
                path,
                codes.DF500,
                f"simulator profile '{os.path.basename(profile_path)}' is invalid (see the errors in that file)",
            )
            return None

    def module_profile(
        self, path: tuple, profile_path: str, ambient: float
    ) -> ModuleProfile | None:
        if not os.path.exists(profile_path):
            self.reporter.error(
                path,
                codes.DF500,
                f"simulator profile '{profile_path}' does not exist",
                "paths are relative to the layout file, e.g. ../simulators/<device>.yaml",
            )
            return None
        try:
            return load_module_profile(
                profile_path, ambient_c=None if math.isnan(ambient) else ambient
            )
        except DeckLayoutError as exc:
            self.reporter.extend(exc.diagnostics)
            self.reporter.error(
                path,
                codes.DF500,
                f"simulator profile '{os.path.basename(profile_path)}' is invalid (see the errors in that file)",
            )
            return None

    def carriers(self, m: DeckLayoutModel) -> dict[str, CarrierSpec]:
        out = {}
        for name, c in m.carriers.items():
            path = ("carriers", name)
            self.check_plr_name(path + ("factory",), c.factory, "carrier factory")
            loc = self.location(
                path + ("location",), c.location, allow=("rails", "slot", "coordinate")
            )
            if loc is not None:
                out[name] = CarrierSpec(name, c.factory, loc, path)
        return out

    def modules(self, m: DeckLayoutModel, ambient: float) -> dict[str, ModuleSpec]:
        out = {}
        for name, mod in m.modules.items():
            path = ("modules", name)
            profile = self.module_profile(path + ("profile",), self.resolve(mod.profile), ambient)
            held = [mod.labware] if isinstance(mod.labware, str) else list(mod.labware or [])
            for i, lw in enumerate(held):
                if lw not in m.labware:
                    sub = path + ("labware",) + ((i,) if isinstance(mod.labware, list) else ())
                    close = did_you_mean(lw, m.labware)
                    self.reporter.error(
                        sub,
                        codes.DF500,
                        f"module '{name}' holds '{lw}', which is not in labware",
                        f"did you mean '{close}'?" if close else "declare it under labware:",
                    )
            if mod.adapter is not None:
                self.check_plr_name(path + ("adapter",), mod.adapter, "adapter factory")
            location: Location | None = None
            if mod.operated_by == "operator" and mod.kind != "powder_dispenser":
                self.reporter.error(
                    path + ("operated_by",),
                    codes.DF500,
                    f"only a powder dispenser can be operated by the operator, not a {mod.kind}",
                    "remove 'operated_by', or describe the work as an offdeck step",
                )
            if mod.operated_by == "operator" and mod.backends.hardware is not None:
                self.reporter.error(
                    path + ("backends", "hardware"),
                    codes.DF500,
                    "an operator-run device has no hardware backend",
                    "remove backends.hardware (the operator does this device's work)",
                )
            if mod.kind == "powder_dispenser":
                for key in ("location", "plr", "labware", "adapter"):
                    if getattr(mod, key) is not None:
                        self.reporter.error(
                            path + (key,),
                            codes.DF500,
                            f"a powder dispenser is not a deck resource in PyLabRobot 0.2.2: it has no '{key}'",
                            "remove it",
                            key=True,
                        )
            else:
                if mod.location is None:
                    self.reporter.error(
                        path,
                        codes.DF500,
                        f"module '{name}' has no location",
                        "add e.g. location: {slot: 3} (OT-2) or {carrier: shaker_carrier, site: 0} (STARlet)",
                        key=True,
                    )
                else:
                    location = self.location(
                        path + ("location",),
                        mod.location,
                        allow=("rails", "slot", "carrier", "coordinate"),
                    )
                if mod.plr is None:
                    self.reporter.error(
                        path,
                        codes.DF500,
                        f"module '{name}' needs its 'plr' footprint (size and child_location in mm)",
                        "e.g. plr: {size: [193.5, 89.2, 84.0], child_location: [0, 0, 80.1]}",
                        key=True,
                    )
            if profile is None:
                continue
            kind_ok = self.check_module_kind(
                path, mod.kind, profile, operator_run=mod.operated_by == "operator"
            )
            if not kind_ok:
                continue
            thermal, shaker = profile.thermal, profile.shaker
            geometry = (
                ModulePlrGeometry(
                    _triple(mod.plr.size), _triple(mod.plr.child_location), mod.plr.model
                )
                if mod.plr
                else None
            )
            out[name] = ModuleSpec(
                name=name,
                kind=mod.kind,
                profile_path=profile.path,
                profile=profile,
                labware=tuple(held),
                adapter=mod.adapter,
                location=location,
                plr=geometry,
                backends=self.backends(path + ("backends",), mod.backends),
                min_temp_c=thermal.min_c if thermal else None,
                max_temp_c=thermal.max_c if thermal else None,
                active_cooling=bool(thermal and thermal.active_cooling),
                can_shake=shaker is not None,
                shake_rpm_min=shaker.min_rpm if shaker else None,
                shake_rpm_max=shaker.max_rpm if shaker else None,
                default_rpm=shaker.default_rpm if shaker else None,
                heating_rate_c_per_min=thermal.heating_rate_c_per_min if thermal else None,
                cooling_rate_c_per_min=thermal.cooling_rate_c_per_min if thermal else None,
                settle_tolerance_c=thermal.settle_tolerance_c if thermal else None,
                operator_run=mod.operated_by == "operator",
                yaml_path=path,
            )
        return out

    def check_module_kind(
        self, path: tuple, kind: str, profile: ModuleProfile, *, operator_run: bool = False
    ) -> bool:
        """The kind written in the layout must match what the profile describes."""
        base = os.path.basename(profile.path)
        problems = []
        if operator_run and profile.weighing is None:
            # the operator does this device's work: the profile says how long a person takes
            problems.append(
                f"an operator-run {kind} names an operator profile (kind: operator, e.g. ../simulators/operator.yaml), not '{base}'"
            )
        if not operator_run and profile.weighing is not None:
            problems.append(
                f"profile '{base}' describes the operator, not a {kind}: declare 'operated_by: operator', or name the device's profile"
            )
        if kind == "powder_dispenser" and not operator_run and profile.powder is None:
            problems.append(f"profile '{base}' describes no powder dispenser")
        if kind != "powder_dispenser" and profile.powder is not None:
            problems.append(f"profile '{base}' describes a powder dispenser, not a {kind}")
        if kind in SHAKING_KINDS and profile.shaker is None:
            problems.append(f"a {kind} needs a 'shaker' section in its profile '{base}'")
        if kind not in SHAKING_KINDS and profile.shaker is not None:
            problems.append(
                f"profile '{base}' describes a shaker; use kind heater_shaker or heater_cooler_shaker"
            )
        if (
            kind in ("temperature_controller", "heater_shaker", "heater_cooler_shaker")
            and profile.thermal is None
        ):
            problems.append(f"a {kind} needs a 'thermal' section in its profile '{base}'")
        if (
            kind == "heater_cooler_shaker"
            and profile.thermal is not None
            and not profile.thermal.active_cooling
        ):
            problems.append(
                f"a heater_cooler_shaker cools actively, but profile '{base}' says active_cooling: false"
            )
        if (
            kind == "heater_shaker"
            and profile.thermal is not None
            and profile.thermal.active_cooling
        ):
            problems.append(f"profile '{base}' cools actively: use kind heater_cooler_shaker")
        for p in problems:
            self.reporter.error(path + ("kind",), codes.DF500, p)
        return not problems

    def labware(
        self,
        m: DeckLayoutModel,
        carriers: Mapping[str, CarrierSpec],
        modules: Mapping[str, ModuleSpec],
    ) -> dict[str, LabwareSpec]:
        held_by: dict[str, str] = {}
        for mod_name, mod in m.modules.items():
            for held in [mod.labware] if isinstance(mod.labware, str) else list(mod.labware or []):
                if held in held_by:
                    self.reporter.error(
                        ("modules", mod_name, "labware"),
                        codes.DF500,
                        f"'{held}' already sits on module '{held_by[held]}'",
                    )
                held_by.setdefault(held, mod_name)
        out: dict[str, LabwareSpec] = {}
        for name, lw in m.labware.items():
            path = ("labware", name)
            location = self.labware_location(path, name, lw, carriers, held_by)
            if lw.factory is not None:
                self.check_plr_name(path + ("factory",), lw.factory, "labware factory")
            rows, columns = self.format(path, lw)
            needs_volume = lw.role not in ("tips", "waste")
            if lw.max_volume is None:
                if needs_volume:
                    self.reporter.error(
                        path,
                        codes.DF500,
                        f"labware '{name}' ({lw.role}) needs 'max_volume' (per well, e.g. '2 mL')",
                        key=True,
                    )
                max_volume = 0.0
            else:
                max_volume = self.quantity(
                    path + ("max_volume",), lw.max_volume, Dimension.VOLUME, positive=True
                )
            dead = (
                0.0
                if lw.dead_volume is None
                else self.quantity(
                    path + ("dead_volume",), lw.dead_volume, Dimension.VOLUME, minimum=0.0
                )
            )
            if dead >= max_volume > 0:
                self.reporter.error(
                    path + ("dead_volume",),
                    codes.DF500,
                    f"dead_volume ({dead:g} µL) is not less than max_volume ({max_volume:g} µL)",
                )
            if lw.material is None and lw.role in (
                "reaction",
                "building_blocks",
                "reagent_reservoir",
                "samples",
            ):
                self.reporter.error(
                    path,
                    codes.DF500,
                    f"labware '{name}' ({lw.role}) needs its 'material' (one of {', '.join(MATERIALS)})",
                    "the chemistry checks compare solvents with the material",
                    key=True,
                )
            if (lw.sealed or lw.condenser) and lw.role in ("tips", "waste"):
                self.reporter.error(
                    path + ("sealed" if lw.sealed else "condenser",),
                    codes.DF500,
                    f"'{'sealed' if lw.sealed else 'condenser'}' makes no sense for {lw.role}",
                    key=True,
                )
            pressure_rating = self.pressure_rating(path, name, lw)
            out[name] = LabwareSpec(
                name=name,
                role=lw.role,
                plr_factory=lw.factory,
                rows=rows,
                columns=columns,
                max_volume_ul=max_volume,
                material=lw.material,
                sealed=lw.sealed,
                pressure_rating_bar=pressure_rating,
                condenser=lw.condenser,
                dead_volume_ul=dead,
                module=held_by.get(name),
                location=location or Location("builtin", builtin="?"),
                tip_type=None,
                description=lw.description,
                offset_mm=(lw.offset.x, lw.offset.y, lw.offset.z) if lw.offset else (0.0, 0.0, 0.0),
                yaml_path=path,
            )
        return out

    def pressure_rating(self, path: tuple, name: str, lw: LabwareModel) -> float | None:
        """The closed vessels' rating in bar above ambient; only a labware that takes caps has one."""
        if lw.pressure_rating is None:
            return None
        if not lw.sealed:
            self.reporter.error(
                path + ("pressure_rating",),
                codes.DF500,
                f"'pressure_rating' on '{name}', which takes no caps (no 'sealed: true')",
                "a pressure rating belongs to vessels that can be closed; add 'sealed: true' or remove it",
                key=True,
            )
            return None
        return self.quantity(
            path + ("pressure_rating",), lw.pressure_rating, Dimension.PRESSURE, positive=True
        )

    def labware_location(
        self,
        path: tuple,
        name: str,
        lw: LabwareModel,
        carriers: Mapping[str, CarrierSpec],
        held_by: Mapping[str, str],
    ) -> Location | None:
        if lw.builtin is not None:
            if lw.factory is not None or lw.location is not None or name in held_by:
                self.reporter.error(
                    path + ("builtin",),
                    codes.DF500,
                    "a builtin resource (one the PyLabRobot deck already has) takes no factory, location or module",
                    key=True,
                )
            return Location("builtin", builtin=lw.builtin)
        if lw.factory is None:
            self.reporter.error(
                path,
                codes.DF500,
                f"labware '{name}' needs a 'factory' (a PyLabRobot resource factory) or 'builtin'",
                "e.g. factory: cor_96_wellplate_2mL_Vb",
                key=True,
            )
        if name in held_by:
            if lw.location is not None:
                self.reporter.error(
                    path + ("location",),
                    codes.DF500,
                    f"'{name}' sits on module '{held_by[name]}'; it takes no location of its own",
                    "remove 'location', or take it off the module",
                    key=True,
                )
            return Location("module", module=held_by[name])
        if lw.location is None:
            self.reporter.error(
                path,
                codes.DF500,
                f"labware '{name}' has no location",
                "add location: {carrier: ..., site: N}, {rails: N}, {slot: N}, or list it under a module's labware",
                key=True,
            )
            return None
        loc = self.location(
            path + ("location",), lw.location, allow=("rails", "slot", "carrier", "coordinate")
        )
        if loc is not None and loc.kind == "carrier" and loc.carrier not in carriers:
            close = did_you_mean(str(loc.carrier), carriers)
            self.reporter.error(
                path + ("location", "carrier"),
                codes.DF500,
                f"carrier '{loc.carrier}' is not declared under carriers",
                f"did you mean '{close}'?" if close else "declare it under carriers:",
            )
        return loc

    def format(self, path: tuple, lw: LabwareModel) -> tuple[int, int]:
        if lw.format is None:
            if lw.role == "tips":
                return 8, 12
            if lw.role == "waste":
                return 1, 1
            self.reporter.error(
                path,
                codes.DF500,
                "labware needs its 'format' (rows x columns, e.g. '8x12'; a single trough is '1x1')",
                key=True,
            )
            return 0, 0
        match = _FORMAT_RE.match(lw.format)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            self.reporter.error(
                path + ("format",),
                codes.DF500,
                f"format '{lw.format}' is not rows x columns",
                "e.g. '8x12' for a 96-well plate, '1x12' for a 12-column reservoir, '1x1' for one trough",
            )
            return 0, 0
        return int(match.group(1)), int(match.group(2))

    def tip_types(self, m: DeckLayoutModel, labware: dict[str, LabwareSpec]) -> list[TipTypeSpec]:
        out = []
        rack_owner: dict[str, str] = {}
        for name, t in m.tips.items():
            path = ("tips", name)
            if not _NAME_RE.match(str(name)):
                self.reporter.error(
                    path, codes.DF500, f"'{name}' is not a valid tip type name", key=True
                )
            max_v = self.quantity(
                path + ("max_volume",), t.max_volume, Dimension.VOLUME, positive=True
            )
            min_v = self.quantity(
                path + ("min_volume",), t.min_volume, Dimension.VOLUME, positive=True
            )
            if min_v > max_v:
                self.reporter.error(
                    path + ("min_volume",),
                    codes.DF500,
                    f"min_volume ({min_v:g} µL) is above max_volume ({max_v:g} µL)",
                )
            factories = set()
            shapes = set()
            for i, rack in enumerate(t.racks):
                lw = labware.get(rack)
                if lw is None:
                    close = did_you_mean(
                        rack,
                        [n for n, spec in m.labware.items() if spec.role == "tips"]
                        or list(m.labware),
                    )
                    self.reporter.error(
                        path + ("racks", i),
                        codes.DF500,
                        f"tip rack '{rack}' is not in labware",
                        f"did you mean '{close}'?"
                        if close
                        else "declare it under labware: with role: tips",
                    )
                    continue
                if lw.role != "tips":
                    self.reporter.error(
                        path + ("racks", i),
                        codes.DF500,
                        f"'{rack}' is a {lw.role} labware, not a tip rack (role: tips)",
                    )
                    continue
                if rack in rack_owner:
                    self.reporter.error(
                        path + ("racks", i),
                        codes.DF500,
                        f"rack '{rack}' is already listed under tip type '{rack_owner[rack]}'",
                    )
                    continue
                rack_owner[rack] = name
                if lw.plr_factory not in self.unknown_names:
                    factories.add(lw.plr_factory)
                shapes.add((lw.rows, lw.columns))
                labware[rack] = _with_tip_type(lw, name)
            if len(factories) > 1:
                self.reporter.error(
                    path + ("racks",),
                    codes.DF500,
                    f"tip type '{name}' mixes rack factories ({', '.join(sorted(map(str, factories)))})",
                    "one tip type, one rack factory: split it into two tip types",
                )
            rows, columns = sorted(shapes)[0] if shapes else (0, 0)
            if len(shapes) > 1:
                self.reporter.error(
                    path + ("racks",),
                    codes.DF500,
                    f"tip type '{name}' mixes rack formats",
                    "one tip type, one rack format",
                )
            out.append(
                TipTypeSpec(
                    name,
                    max_v,
                    min_v,
                    tuple(t.racks),
                    next(iter(factories), "") or "",
                    rows * columns,
                    (),
                    rows,
                    columns,
                    path,
                )
            )
        for name, lw_model in m.labware.items():
            if lw_model.role == "tips" and name not in rack_owner:
                self.reporter.error(
                    ("labware", name),
                    codes.DF500,
                    f"tip rack '{name}' belongs to no tip type",
                    "list it under tips: <type>: racks:",
                    key=True,
                )
        return out

    def pipettes(self, m: DeckLayoutModel, tip_types: list[TipTypeSpec]) -> tuple[PipetteSpec, ...]:
        names = {t.name for t in tip_types}
        seen_channels: dict[int, str] = {}
        covered: set[str] = set()
        out = []
        for i, p in enumerate(m.pipettes):
            path = ("pipettes", i)
            for j, c in enumerate(p.channels):
                if not 0 <= c < m.robot.channels:
                    self.reporter.error(
                        path + ("channels", j),
                        codes.DF500,
                        f"channel {c} does not exist: the robot has channels 0-{m.robot.channels - 1}",
                    )
                elif c in seen_channels:
                    self.reporter.error(
                        path + ("channels", j),
                        codes.DF500,
                        f"channel {c} already belongs to pipette '{seen_channels[c]}'",
                    )
                seen_channels.setdefault(c, p.name)
            for j, tip in enumerate(p.tips):
                if tip not in names:
                    close = did_you_mean(tip, names)
                    self.reporter.error(
                        path + ("tips", j),
                        codes.DF500,
                        f"tip type '{tip}' is not declared under tips",
                        f"did you mean '{close}'?" if close else None,
                    )
                covered.add(tip)
            out.append(PipetteSpec(p.name, tuple(p.channels), tuple(p.tips), p.mount))
        for t in tip_types:
            if t.name not in covered:
                self.reporter.error(
                    ("tips", t.name),
                    codes.DF500,
                    f"no pipette takes tip type '{t.name}'",
                    "list it under a pipette's tips:",
                    key=True,
                )
        return tuple(out)

    def check_occupancy(
        self,
        m: DeckLayoutModel,
        labware: Mapping[str, LabwareSpec],
        modules: Mapping[str, ModuleSpec],
    ) -> None:
        """Two things at one slot, rails position or carrier site is a layout error."""
        taken: dict[tuple, str] = {}

        def claim(key: tuple, who: str, path: tuple) -> None:
            if key in taken:
                self.reporter.error(
                    path,
                    codes.DF500,
                    f"'{who}' and '{taken[key]}' are both placed at {_describe_key(key)}",
                )
            taken.setdefault(key, who)

        for name, c in m.carriers.items():
            if c.location.slot is not None:
                claim(("slot", c.location.slot), name, ("carriers", name, "location"))
        for name, mod in modules.items():
            module_loc = mod.location
            if module_loc is None:
                continue
            loc = module_loc
            if loc.kind == "slot":
                claim(("slot", loc.slot), name, ("modules", name, "location"))
            elif loc.kind == "carrier":
                claim(("carrier", loc.carrier, loc.site), name, ("modules", name, "location"))
                if loc.carrier not in m.carriers:
                    close = did_you_mean(str(loc.carrier), m.carriers)
                    self.reporter.error(
                        ("modules", name, "location", "carrier"),
                        codes.DF500,
                        f"carrier '{loc.carrier}' is not declared under carriers",
                        f"did you mean '{close}'?" if close else None,
                    )
        for name, lw in labware.items():
            loc = lw.location
            if loc.kind == "slot":
                claim(("slot", loc.slot), name, ("labware", name, "location"))
            elif loc.kind == "carrier":
                claim(("carrier", loc.carrier, loc.site), name, ("labware", name, "location"))


def _triple(values: list[float]) -> tuple[float, float, float]:
    """A three-element list the schema has checked (min_length = max_length = 3) as a tuple."""
    x, y, z = values
    return (float(x), float(y), float(z))


def _describe_key(key: tuple) -> str:
    if key[0] == "slot":
        return f"slot {key[1]}"
    return f"carrier '{key[1]}' site {key[2]}"


def _with_tip_type(lw: LabwareSpec, tip_type: str) -> LabwareSpec:
    return replace(lw, tip_type=tip_type)
