"""Build PyLabRobot objects from a :class:`~diazflow.deck.spec.DeckSpec`.

``build_plr(deck, mode)`` returns a :class:`PlrSetup`: the ``LiquidHandler`` with its backend for
``simulate``, ``chatterbox`` or ``hardware``, PLR's deck with every carrier, labware and module
the layout names, the modules as PLR machines, and a map from layout names to PLR resources.
Nothing connects to a device here: ``await setup.setup()`` does that.

PyLabRobot is imported inside the functions of this module only, so importing diazflow (and
``diazflow validate``) stays fast.  See docs/pylabrobot.md for the PLR traps handled here
(Opentrons labware downloads, Tecan rails, the temperature chatterbox).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from diazflow import errorcodes as codes
from diazflow.deck import plr_names
from diazflow.deck.derived_geometry import attach_height_functions
from diazflow.deck.errors import DeckLayoutError
from diazflow.deck.spec import MODES, BackendRecipe, DeckSpec, Location, ModuleSpec
from diazflow.diagnostics import Diagnostic, Severity, did_you_mean

OPENTRONS_LABWARE_DIR = os.path.join(os.path.dirname(__file__), "opentrons_labware")


class PlrBuildError(DeckLayoutError):
    """The layout is valid on paper but PyLabRobot cannot build it (DF500/DF501 diagnostics)."""


@dataclass
class PlrSetup:
    """The PyLabRobot side of a deck.  Frozen-ish: the fields are not meant to be reassigned."""

    deck_spec: DeckSpec
    mode: str
    liquid_handler: (
        Any  # diazflow.deck.plr_backends.IdentityCheckLiquidHandler (PLR's LiquidHandler)
    )
    deck: Any  # pylabrobot.resources.Deck
    resources: Mapping[
        str, Any
    ]  # layout name → PLR resource (labware, carriers, modules, tip racks)
    temperature_controllers: Mapping[str, Any]  # modules that only control temperature
    heater_shakers: Mapping[str, Any]  # heater-shakers and heater-cooler-shakers
    powder_dispenser: Any | None
    machines: Mapping[str, Any] = field(default_factory=dict)  # every module by layout name
    # (labware, well) -> PLR container: PLR's get_well("A1") searches a list of every well name
    # (1536 for a 1536-well plate) on each call, and a plate's wells never change
    _containers: dict[tuple[str, str], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # labware name -> {identifier: item}, made once per labware (see _item)
    _items: dict[str, dict[str, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def lh(self) -> Any:
        return self.liquid_handler

    def labware(self, name: str) -> Any:
        return self.resources[name]

    def container(self, labware: str, well: str = "A1") -> Any:
        """The PLR container at ``labware:well``; a single trough is its own (only) well ``A1``."""
        found = self._containers.get((labware, well))
        if found is not None:
            return found
        resource = self.resources[labware]
        if hasattr(resource, "get_well"):
            found = self._item(labware, well, "get_well")
        elif well != "A1":
            raise KeyError(
                f"'{labware}' is a single container: its only position is A1, not {well}"
            )
        else:
            found = resource
        self._containers[(labware, well)] = found
        return found

    def wells(self, labware: str, names: list[str]) -> list[Any]:
        return [self.container(labware, w) for w in names]

    def tip_spot(self, position: str) -> Any:
        """``RACK:WELL`` (as in :meth:`TipTypeSpec.spots`) → PLR TipSpot."""
        rack, _, spot = position.partition(":")
        return self._item(rack, spot, "get_item")

    def _item(self, labware: str, identifier: str, method: str) -> Any:
        """``resources[labware].get_well(identifier)`` / ``.get_item(identifier)``.

        PLR's ``ItemizedResource.get_item("B3")`` makes the list of every identifier of the
        labware and searches it, on every call: labelling the 1536 wells of a plate (and each
        tip spot of each rack) was quadratic.  Its answer is ``children[i]`` for the position
        ``i`` of the identifier in ``_ordering``; that pairing is made once per labware here,
        for the classes whose method is PLR's own (any other, and an identifier not in it,
        asks PLR)."""
        resource = self.resources[labware]
        items = self._items.get(labware)
        if items is None:
            from pylabrobot.resources.itemized_resource import ItemizedResource
            from pylabrobot.resources.plate import Plate

            plrs_own = getattr(type(resource), method, None) in (
                ItemizedResource.get_item,
                Plate.get_well,
            )
            ordering = getattr(resource, "_ordering", None) if plrs_own else None
            items = dict(zip(ordering, resource.children, strict=False)) if ordering else {}
            self._items[labware] = items
        found = items.get(identifier)
        return found if found is not None else getattr(resource, method)(identifier)

    def module(self, name: str) -> Any:
        return self.machines[name]

    async def setup(self) -> None:
        """Connect (or pretend to): the liquid handler, then every module, then the powder dispenser.

        PLR's ``LiquidHandler.setup()`` does not set up the other machines on its deck.  The
        order matters on the OT-2: the liquid handler creates the robot-server run the modules
        are then loaded into.  A device that fails raises :class:`DeviceSetupError` naming it.
        """
        await _set_up("the liquid handler", self.liquid_handler)
        height = self.deck_spec.pipetting.traversal_height_mm
        if height is not None:
            set_traversal_height(self.liquid_handler.backend, height)
        for name, machine in self.machines.items():
            if machine is not self.powder_dispenser:
                await _set_up(f"module '{name}'", machine)
        if self.powder_dispenser is not None:
            await _set_up("the powder dispenser", self.powder_dispenser)

    async def stop(self) -> None:
        for machine in self.machines.values():
            with contextlib.suppress(Exception):
                if getattr(machine, "setup_finished", True):
                    await machine.stop()
        with contextlib.suppress(Exception):
            await self.liquid_handler.stop()


def set_traversal_height(backend: Any, height_mm: float) -> None:
    """The layout's ``pipetting.traversal_height_mm`` on the backends that take one: the STAR's
    minimum channel traversal height (``th``/``te`` in its firmware commands), the OT-2's
    ``traversal_height`` (robot-frame z of its ``moveToCoordinates``).  The layout check refuses
    it for robots without such a setting (the EVO in PyLabRobot 0.2.2)."""
    from pylabrobot.liquid_handling.backends.hamilton.STAR_backend import STARBackend

    match backend:
        case STARBackend():
            backend.set_minimum_channel_traversal_height(height_mm)
        case _ if hasattr(backend, "traversal_height"):  # OpentronsOT2Backend (optional extra)
            backend.traversal_height = height_mm
        case _:
            pass  # the simulator's recording backend: nothing travels


class DeviceSetupError(Exception):
    """A device did not come up (unreachable, refused, missing driver): which one, and why."""

    def __init__(self, device: str, cause: BaseException):
        detail = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        super().__init__(
            f"set-up of {device} failed: {type(cause).__name__}: {detail}".rstrip(": ")
        )
        self.device = device
        self.cause = cause


async def _set_up(device: str, machine: Any) -> None:
    try:
        await machine.setup()
    except Exception as exc:  # any driver's error: the run must stop in a known state
        raise DeviceSetupError(device, exc) from exc


def build_plr(
    deck: DeckSpec, mode: str = "simulate", module_backends: Mapping[str, object] | None = None
) -> PlrSetup:
    """Construct the PyLabRobot objects for ``deck`` in ``mode`` (simulate | chatterbox | hardware).

    ``module_backends`` replaces the backend of a module by name (the runtime passes backends on a
    virtual clock).  Backends are constructed but never connected; ``hardware`` therefore works
    without the robot, except where PLR's own constructor needs an optional package (the OT-2
    backends need ``pylabrobot[opentrons]``), which becomes a :class:`PlrBuildError` with a hint.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    from diazflow.deck.plr_cache import remembered_rotation_matrices

    # carriers' and labware's absolute sizes and the Hamilton deck's checks rotate corners: the
    # same few (zero) rotation matrices, built once (deck/plr_cache.py)
    with remembered_rotation_matrices():
        return _Builder(deck, mode, dict(module_backends or {})).build()


# --------------------------------------------------------------------------- name resolution


def resolve_name(name: str) -> Any:
    """``cor_96_wellplate_2mL_Vb`` (from ``pylabrobot.resources``) or ``module.path.Name``."""
    if "." not in name:
        import pylabrobot.resources as resources

        return getattr(resources, name)
    module_name, _, attr = name.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


@contextlib.contextmanager
def offline_opentrons_labware(directory: str = OPENTRONS_LABWARE_DIR) -> Iterator[None]:
    """Serve PLR's Opentrons labware definitions from ``directory`` instead of GitHub.

    PLR 0.2.2 downloads every Opentrons tip rack, tube rack and adapter definition from
    raw.githubusercontent.com at construction time (caching it in ``/tmp/<name>.json``).  Inside
    this context the download function reads ``<directory>/<name>.json`` and never touches the
    network; a definition that is not shipped is an error that says so.
    """
    from pylabrobot.resources.opentrons import load as ot_load

    def from_disk(ot_name: str, force_download: bool = False) -> dict:
        path = os.path.join(directory, f"{ot_name}.json")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"Opentrons labware definition '{ot_name}' is not shipped with diazflow (PyLabRobot would "
                f"download it from GitHub); add {ot_name}.json from the opentrons-shared-data package "
                f"(labware/definitions/2/{ot_name}/1.json) to {directory}"
            )
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)

    original = ot_load._download_ot_resource_file
    ot_load._download_ot_resource_file = from_disk
    try:
        yield
    finally:
        ot_load._download_ot_resource_file = original


@contextlib.contextmanager
def fast_name_checks() -> Iterator[None]:
    """Make PLR's duplicate-name check linear while a deck is built.

    ``Resource._check_naming_conflicts`` compares every node of the tree with every node of the
    resource being assigned, recursively: building the STARlet deck (≈2,000 resources) made ~860,000
    calls and took ~0.5 s.  This version raises the same ``ValueError`` on a duplicate from a set
    of the names in each tree (PLR calls the check on the root of the tree being assigned into).
    The set is kept between assignments, so filling a 1536-well plate costs 1536 look-ups instead
    of a walk of the growing plate per well: the resources checked into a tree are added to its set
    at the next check once they are seen to be in it (an assignment that failed after the check is
    not), and any unassignment (which PLR also does when reassigning) drops every set.
    """
    from pylabrobot.resources.resource import Resource

    def walk(resource: Any) -> Iterator[Any]:
        stack = [resource]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children)

    # id(root) -> (root, the names in its tree, resources checked into it since)
    trees: dict[int, tuple[Any, set[str], list[Any]]] = {}

    def names_in(root: Any) -> tuple[set[str], list[Any]]:
        entry = trees.get(id(root))
        if entry is not None and entry[0] is root:
            _, names, checked = entry
            if all(resource.get_root() is root for resource in checked):
                for resource in checked:
                    names.update(node.name for node in walk(resource))
                checked.clear()
                return names, checked
        names, checked = {node.name for node in walk(root)}, []
        trees[id(root)] = (root, names, checked)
        return names, checked

    def check(self: Any, resource: Any) -> None:
        names, checked = names_in(self)
        for node in walk(resource):
            if node.name in names:
                raise ValueError(f"Resource with name '{node.name}' already exists in the tree.")
        checked.append(resource)

    def unassign_child_resource(self: Any, resource: Any) -> None:
        trees.clear()
        original_unassign(self, resource)

    original_check = Resource._check_naming_conflicts
    original_unassign = Resource.unassign_child_resource
    Resource._check_naming_conflicts = check
    Resource.unassign_child_resource = unassign_child_resource
    try:
        yield
    finally:
        Resource._check_naming_conflicts = original_check
        Resource.unassign_child_resource = original_unassign


# --------------------------------------------------------------------------- builder


class _Builder:
    def __init__(self, spec: DeckSpec, mode: str, module_backends: dict[str, object]):
        self.spec = spec
        self.mode = mode
        self.module_backends = module_backends
        self.diags: list[Diagnostic] = []
        self.resources: dict[str, Any] = {}
        self.powder: Any | None = None
        unknown = sorted(set(module_backends) - set(spec.modules))
        if unknown:
            raise ValueError(
                f"module_backends names modules not on this deck: {', '.join(unknown)} (modules: {', '.join(spec.modules)})"
            )

    # ---- diagnostics

    def diagnostic(
        self, path: tuple, code: codes.ErrorCode, message: str, hint: str | None = None
    ) -> Diagnostic:
        if self.spec.source is not None:
            return self.spec.source.diagnostic(path, code, message, hint)
        return Diagnostic(self.spec.path, 0, 0, code.code, Severity.ERROR, message, hint)

    def fail(
        self,
        path: tuple,
        message: str,
        hint: str | None = None,
        code: codes.ErrorCode = codes.DF500,
    ) -> PlrBuildError:
        return PlrBuildError([self.diagnostic(path, code, message, hint)])

    @contextlib.contextmanager
    def at(self, path: tuple, what: str) -> Iterator[None]:
        """Turn a PLR exception while building ``what`` into a diagnostic at ``path``."""
        try:
            yield
        except PlrBuildError:
            raise
        except Exception as exc:  # PLR raises ValueError, AssertionError, RuntimeError, ...
            raise self.fail(
                path, f"PyLabRobot cannot {what}: {type(exc).__name__}: {exc}", _hint_for(exc)
            ) from exc

    def check_evo_labware(self) -> None:
        """PyLabRobot 0.2.2's ``EVOBackend`` computes z from a ``TecanPlate``'s EVOware values
        (``z_start``/``z_dispense``/``z_max``) and refuses anything else: a trough or a plate of
        another vendor would fail at its first aspiration, hours into a run.  Refuse it here."""
        from pylabrobot.resources.tecan import TecanPlate

        for name, lw in self.spec.labware.items():
            if lw.role in ("tips", "waste") or lw.plr_factory is None:
                continue
            resource = self.resources.get(name)
            if resource is not None and not isinstance(resource, TecanPlate):
                raise self.fail(
                    lw.yaml_path + ("factory",),
                    f"PyLabRobot's EVO backend pipettes only from Tecan plates (TecanPlate); "
                    f"'{name}' ({lw.plr_factory}) is a {type(resource).__name__}",
                    "define the labware as a TecanPlate with the z values of its EVOware labware "
                    "definition (docs/hardware.md, Tecan EVO)",
                )

    def lookup(self, path: tuple, name: str, what: str) -> Any:
        try:
            return resolve_name(name)
        except (ImportError, AttributeError):
            pass
        import pylabrobot.resources as resources

        if "." in name:
            close = None
        else:
            close = did_you_mean(
                name, [n for n in dir(resources) if not n.startswith("_")], cutoff=0.7
            )
        hint = (
            f"did you mean '{close}'?"
            if close
            else "check the name against docs/pylabrobot.md and PyLabRobot's resource library"
        )
        raise self.fail(path, f"unknown PyLabRobot {what} '{name}'", hint, code=codes.DF501)

    # ---- construction

    def construct(
        self, recipe: BackendRecipe, what: str, inject: Mapping[str, Any] | None = None
    ) -> Any:
        """Build a backend from its recipe; nested recipes in the arguments are built first.

        ``inject`` supplies arguments the layout cannot spell (the module's thermal model) or
        should not have to repeat (the OT-2 pipette names), if the constructor takes them.
        """
        if not plr_names.is_allowed_name(recipe.class_path):
            raise self.fail(
                recipe.yaml_path,
                f"'{recipe.class_path}' is not a PyLabRobot or diazflow class; not constructed",
                "a deck layout may name only PyLabRobot's, diazflow's or registered classes",
                code=codes.DF501,
            )
        cls = self.lookup(recipe.yaml_path, recipe.class_path, "class")
        if not inspect.isclass(cls):
            raise self.fail(
                recipe.yaml_path, f"'{recipe.class_path}' is not a class", code=codes.DF501
            )
        args = {
            k: (self.construct(v, what) if isinstance(v, BackendRecipe) else v)
            for k, v in recipe.args.items()
        }
        params: Mapping[str, inspect.Parameter]
        try:
            params = inspect.signature(cls).parameters
        except (TypeError, ValueError):
            params = {}
        for key, value in (inject or {}).items():
            if key in params and key not in args:
                args[key] = value
        with self.at(recipe.yaml_path, f"construct {recipe.class_path} for {what}"):
            return cls(**args)

    def build(self) -> PlrSetup:
        spec = self.spec
        deck_factory = self.lookup(("robot", "deck"), spec.robot.plr_deck, "deck")
        with self.at(("robot", "deck"), f"create the deck {spec.robot.plr_deck}"):
            deck = deck_factory()
        self.deck = deck
        if self.mode != "hardware":
            # HamiltonDeck logs a warning for resources taller than its z limits, walking the whole
            # tree on every assignment (0.23 s of a 0.33 s STARlet build).  It only warns; keep it
            # for real robots, skip it in simulation.
            # (PLR registers it in HamiltonDeck.__init__; deregistering is PLR's public API)
            check = getattr(deck, "_check_safe_z_height", None)
            if check is not None:
                with contextlib.suppress(ValueError):  # not registered
                    deck.deregister_did_assign_resource_callback(check)

        with offline_opentrons_labware(), fast_name_checks():
            machines = self.build_modules()
            carriers = self.build_carriers(machines)
            self.build_labware(carriers, machines)

            for name, carrier in carriers.items():
                self.place(
                    deck,
                    carrier,
                    spec.carriers[name].location,
                    spec.carriers[name].yaml_path + ("location",),
                    name,
                )
            for name, machine in machines.items():
                mod = spec.modules[name]
                if mod.location is not None and mod.location.kind != "carrier":
                    self.place(deck, machine, mod.location, mod.yaml_path + ("location",), name)
            for name, lw in spec.labware.items():
                if lw.location.kind in ("rails", "slot", "coordinate"):
                    self.place(
                        deck, self.resources[name], lw.location, lw.yaml_path + ("location",), name
                    )
        for name, lw in spec.labware.items():
            if lw.location.kind == "builtin":
                if not deck.has_resource(lw.location.builtin):
                    builtins = [
                        c.name
                        for c in deck.get_all_children()
                        if c.parent is deck or c.name in ("trash", "wash_waste")
                    ]
                    raise self.fail(
                        lw.yaml_path + ("builtin",),
                        f"{spec.robot.plr_deck} has no resource '{lw.location.builtin}'",
                        f"resources this deck has: {', '.join(sorted(builtins)[:12])}",
                    )
                self.resources[name] = deck.get_resource(lw.location.builtin)
        self.check_geometry()
        if self.mode == "hardware" and spec.robot.kind == "tecan_evo150":
            self.check_evo_labware()

        from diazflow.deck.plr_backends import IdentityCheckLiquidHandler

        lh_backend = self.build_lh_backend()
        with self.at(("robot", "backends", self.mode), "create the LiquidHandler"):
            lh = IdentityCheckLiquidHandler(backend=lh_backend, deck=deck)
        powder = self.powder
        all_machines = dict(machines)
        if powder is not None:
            assert spec.powder_dispenser is not None  # the layout names the module it built
            all_machines[spec.powder_dispenser] = powder
        temperature_controllers = {
            n: m for n, m in machines.items() if spec.modules[n].kind == "temperature_controller"
        }
        heater_shakers = {
            n: m
            for n, m in machines.items()
            if spec.modules[n].kind in ("heater_shaker", "heater_cooler_shaker", "shaker")
        }
        return PlrSetup(
            deck_spec=spec,
            mode=self.mode,
            liquid_handler=lh,
            deck=deck,
            resources=MappingProxyType(dict(self.resources)),
            temperature_controllers=MappingProxyType(temperature_controllers),
            heater_shakers=MappingProxyType(heater_shakers),
            powder_dispenser=powder,
            machines=MappingProxyType(all_machines),
        )

    def build_lh_backend(self) -> Any:
        spec = self.spec
        recipe = spec.robot.backends.get(self.mode)
        if recipe is None:
            if self.mode != "simulate":
                raise self.fail(
                    ("robot", "backends"),
                    f"the layout names no '{self.mode}' backend for the robot",
                    f"add robot.backends.{self.mode}: <PyLabRobot backend class path>",
                )
            recipe = BackendRecipe(
                "diazflow.deck.plr_backends.RecordingLiquidHandlerBackend",
                {},
                ("robot", "backends"),
            )
        inject: dict[str, Any] = {"num_channels": spec.robot.channels}
        for pipette in spec.pipettes:
            if pipette.mount in ("left", "right"):
                inject[f"{pipette.mount}_pipette_name"] = pipette.name
        if recipe.class_path == "diazflow.deck.plr_backends.RecordingLiquidHandlerBackend":
            inject["channel_tip_volumes"] = self.channel_tip_volumes()
        backend = self.construct(recipe, "the robot", inject)
        try:  # real backends (and the OT-2 chatterbox) learn their channels in setup()
            channels = backend.num_channels
        except Exception:
            channels = None
        if channels and channels != spec.robot.channels:
            raise self.fail(
                ("robot", "channels"),
                f"the {self.mode} backend has {channels} channels, the layout says {spec.robot.channels}",
            )
        return backend

    def channel_tip_volumes(self) -> dict[int, set[float]]:
        """Channel → PLR tip volumes it may carry, where a channel does not take every tip type."""
        all_types = {t.name for t in self.spec.tip_types}
        out: dict[int, set[float]] = {}
        for pipette in self.spec.pipettes:
            if set(pipette.tips) == all_types:
                continue
            volumes = set()
            for tip_name in pipette.tips:
                tip_type = self.spec.tips[tip_name]
                rack = self.resources[tip_type.racks[0]]
                volumes.add(rack.get_item(0).make_tip().maximal_volume)
            for channel in pipette.channels:
                out[channel] = volumes
        return out

    def build_modules(self) -> dict[str, Any]:
        from pylabrobot.resources import Coordinate

        machines: dict[str, Any] = {}
        for name, mod in self.spec.modules.items():
            if mod.operator_run:
                continue  # no driver, no machine: the operator does its work (the run asks)
            backend = self.module_backend(mod)
            if mod.kind == "powder_dispenser":
                from pylabrobot.powder_dispensing import PowderDispenser

                with self.at(mod.yaml_path, f"create the powder dispenser '{name}'"):
                    self.powder = PowderDispenser(backend=backend)
                continue
            assert mod.plr is not None
            if mod.can_shake:
                from pylabrobot.heating_shaking import HeaterShaker as machine_class
            else:
                from pylabrobot.temperature_controlling import (
                    TemperatureController as machine_class,
                )
            size, child = mod.plr.size, mod.plr.child_location
            with self.at(mod.yaml_path + ("plr",), f"create the module '{name}'"):
                machine = machine_class(
                    name=name,
                    size_x=size[0],
                    size_y=size[1],
                    size_z=size[2],
                    backend=backend,
                    child_location=Coordinate(*child),
                    model=mod.plr.model or mod.kind,
                )
            machines[name] = machine
            self.resources[name] = machine
        return machines

    def module_backend(self, mod: ModuleSpec) -> Any:
        if mod.name in self.module_backends:
            return self.module_backends[mod.name]
        recipe = mod.backends.get(self.mode)
        inject: dict[str, Any] = {"thermal": mod.profile.thermal, "shaker": mod.profile.shaker}
        # the OT-2 module backend loads itself into the run at its deck slot, as its model
        if mod.location is not None and mod.location.slot is not None:
            inject["slot"] = mod.location.slot
        if mod.plr is not None and mod.plr.model:
            inject["model"] = mod.plr.model
        if recipe is not None:
            return self.construct(recipe, f"module '{mod.name}'", inject)
        if self.mode == "hardware":
            raise self.fail(
                mod.yaml_path + ("backends",),
                f"module '{mod.name}' has no hardware backend",
                f"add modules.{mod.name}.backends.hardware: {{class: <PyLabRobot backend>, args: {{...}}}}",
            )
        from diazflow.deck import plr_backends

        if mod.kind == "powder_dispenser":
            return plr_backends.RecordingPowderDispenserBackend()
        assert mod.profile.thermal is not None
        if mod.can_shake:
            assert mod.profile.shaker is not None
            return plr_backends.ProfiledHeaterShakerBackend(mod.profile.thermal, mod.profile.shaker)
        return plr_backends.ProfiledTemperatureBackend(mod.profile.thermal)

    def build_carriers(self, machines: dict[str, Any]) -> dict[str, Any]:
        carriers: dict[str, Any] = {}
        for name, carrier in self.spec.carriers.items():
            factory = self.lookup(
                carrier.yaml_path + ("factory",), carrier.plr_factory, "carrier factory"
            )
            held = {
                m.location.site: machines[n]
                for n, m in self.spec.modules.items()
                if m.location is not None
                and m.location.kind == "carrier"
                and m.location.carrier == name
                and n in machines
            }
            kwargs: dict[str, Any] = {}
            if held:
                # Hamilton's MFX carriers take their modules at construction
                if "modules" not in inspect.signature(factory).parameters:
                    first = next(
                        n
                        for n, m in self.spec.modules.items()
                        if m.location is not None and m.location.carrier == name
                    )
                    raise self.fail(
                        self.spec.modules[first].yaml_path + ("location",),
                        f"carrier '{name}' ({carrier.plr_factory}) cannot hold modules",
                        "use a module carrier such as MFX_CAR_L4_SHAKER, or place the module on rails/slot/coordinate",
                    )
                kwargs["modules"] = held
            with self.at(
                carrier.yaml_path + ("factory",), f"create carrier '{name}' ({carrier.plr_factory})"
            ):
                carriers[name] = factory(name, **kwargs)
            self.resources[name] = carriers[name]
        return carriers

    def build_labware(self, carriers: dict[str, Any], machines: dict[str, Any]) -> None:
        for name, lw in self.spec.labware.items():
            if lw.plr_factory is None:
                continue
            factory = self.lookup(lw.yaml_path + ("factory",), lw.plr_factory, "labware factory")
            with self.at(
                lw.yaml_path + ("factory",), f"create labware '{name}' ({lw.plr_factory})"
            ):
                resource = factory(name)
            attach_height_functions(resource, lw.plr_factory)  # where PLR defines none
            self.resources[name] = resource
            if lw.location.kind == "carrier":
                assert lw.location.carrier is not None  # a carrier location names its carrier
                carrier = carriers[lw.location.carrier]
                sites = getattr(carrier, "sites", {})
                if lw.location.site not in sites:
                    raise self.fail(
                        lw.yaml_path + ("location", "site"),
                        f"carrier '{lw.location.carrier}' ({self.spec.carriers[lw.location.carrier].plr_factory}) has sites 0-{len(sites) - 1}, not {lw.location.site}",
                    )
                with self.at(lw.yaml_path + ("location",), f"put '{name}' on {lw.location}"):
                    carrier[lw.location.site] = resource
            elif lw.location.kind == "module":
                assert lw.location.module is not None  # a module location names its module
                mod = self.spec.modules[lw.location.module]
                machine = machines[mod.name]
                holder = machine
                if mod.adapter is not None:
                    adapter_factory = self.lookup(
                        mod.yaml_path + ("adapter",), mod.adapter, "adapter factory"
                    )
                    with self.at(
                        mod.yaml_path + ("adapter",), f"create the adapter of '{mod.name}'"
                    ):
                        holder = adapter_factory(f"{mod.name}_adapter")
                        machine.assign_child_resource(holder)
                    self.resources[f"{mod.name}_adapter"] = holder
                with self.at(mod.yaml_path + ("labware",), f"put '{name}' on module '{mod.name}'"):
                    holder.assign_child_resource(resource)

    def place(self, deck: Any, resource: Any, location: Location, path: tuple, name: str) -> None:
        """Put a carrier, module or labware on the deck at rails, a slot or a coordinate."""
        from pylabrobot.resources import Coordinate

        with self.at(path, f"place '{name}' at {location}"):
            if location.kind == "slot":
                if not hasattr(deck, "assign_child_at_slot"):
                    raise self.fail(
                        path + ("slot",),
                        f"{self.spec.robot.plr_deck} has no slots",
                        "use rails: N (Hamilton, Tecan) or coordinate: [x, y, z]",
                    )
                deck.assign_child_at_slot(resource, location.slot)
            elif location.kind == "rails":
                if not hasattr(deck, "num_rails") or hasattr(deck, "assign_child_at_slot"):
                    raise self.fail(
                        path + ("rails",),
                        f"{self.spec.robot.plr_deck} has no rails",
                        "use slot: N on an Opentrons deck",
                    )
                rails = location.rails
                if rails is None or not 1 <= rails <= deck.num_rails:
                    raise self.fail(
                        path + ("rails",),
                        f"rails must be 1-{deck.num_rails} on {self.spec.robot.plr_deck}, not {rails}",
                    )
                deck.assign_child_resource(resource, **_rails_placement(deck, resource, rails))
            else:
                assert location.coordinate is not None  # the last kind placed here: coordinate
                deck.assign_child_resource(resource, location=Coordinate(*location.coordinate))

    def check_geometry(self) -> None:
        """The layout's facts must agree with the PLR definitions they are built from."""
        for name, lw in self.spec.labware.items():
            resource = self.resources.get(name)
            if resource is None or lw.location.kind == "builtin":
                continue
            path = lw.yaml_path
            if lw.role == "tips":
                count = getattr(resource, "num_items", None)
                if count is not None and count != lw.wells:
                    raise self.fail(
                        path + ("factory",),
                        f"tip rack '{name}' holds {count} tips in PLR, the layout says {lw.rows}x{lw.columns}",
                    )
                continue
            if hasattr(resource, "num_items_x"):
                plr_rows, plr_cols = resource.num_items_y, resource.num_items_x
                first = resource.get_item(0)
            else:  # a single container (trough)
                plr_rows, plr_cols, first = 1, 1, resource
            if (plr_rows, plr_cols) != (lw.rows, lw.columns):
                raise self.fail(
                    path + ("format",),
                    f"'{name}' is {plr_rows}x{plr_cols} in PLR ({lw.plr_factory}), the layout says {lw.rows}x{lw.columns}",
                    f"format: {plr_rows}x{plr_cols}",
                )
            plr_max = getattr(first, "max_volume", None)
            if plr_max is not None and lw.max_volume_ul > plr_max * 1.01:
                raise self.fail(
                    path + ("max_volume",),
                    f"'{name}' holds {plr_max:g} µL per well in PLR ({lw.plr_factory}), less than the layout's {lw.max_volume_ul:g} µL",
                    "PLR's volume tracking would refuse fills the checks allow: lower max_volume or use a larger labware definition",
                )


def _rails_placement(deck: Any, resource: Any, rails: int) -> dict[str, Any]:
    """Keyword arguments for ``deck.assign_child_resource`` at ``rails``.

    PLR's Tecan deck computes rail positions only for Tecan resources (carriers with ``off_x``);
    a module modelled as a plain PLR machine goes where a carrier with no offset would.
    """
    try:
        from pylabrobot.resources.tecan.tecan_decks import _RAILS_WIDTH, TecanDeck
        from pylabrobot.resources.tecan.tecan_resource import TecanResource
    except ImportError:  # pragma: no cover - a PLR without Tecan support
        return {"rails": rails}
    if isinstance(deck, TecanDeck) and not isinstance(resource, TecanResource):
        from pylabrobot.resources import Coordinate

        # same formula as TecanDeck._coordinate_for_rails with off_x = off_y = 0
        return {
            "location": Coordinate(
                (rails - 1) * _RAILS_WIDTH + 100, 345 - resource.get_absolute_size_y(), 0
            )
        }
    return {"rails": rails}


def _hint_for(exc: Exception) -> str | None:
    text = str(exc)
    if "pylabrobot[opentrons]" in text or "ot_api" in text:
        return "install the Opentrons client: pip install 'pylabrobot[opentrons]' (opentrons-http-api-client)"
    if "already occupied" in text or "already assigned" in text or "already defined" in text:
        return "two things are placed at the same position, or a name is used twice"
    if "not shipped with diazflow" in text:
        return "add the definition JSON to src/diazflow/deck/opentrons_labware/"
    return None


def plr_class_exists(path: str) -> bool:
    """Whether a class path in a layout resolves (used by tests for the shipped class list)."""
    try:
        resolve_name(path)
        return True
    except (ImportError, AttributeError):
        return False
