"""A compiled plan for an OT-2 deck as an Opentrons Protocol API v2 Python file.

The file does what ``diazflow run`` would do, in the plan's order, with the plan's volumes, tips,
liquid classes (explicit flow rates and air gaps, scaled by ``deck.plr_pipetting`` exactly as the
runtime scales them) and heights; ``protocol.delay()`` keeps the plan's gaps between operations
(assuming each operation takes the plan's duration), holds are delays, operator steps pauses.
The output depends only on the plan and the deck: the same inputs give the same bytes.

apiLevel 2.20 (:data:`API_LEVEL`): the newest level an OT-2 on robot software 8.0/8.1 accepts
(2.21 needs 8.2), with everything the export uses (adapters on modules 2.15, liquids 2.14,
``start_set_temperature`` 2.3).  Up to 2.21 ``air_gap()`` is an ``aspirate`` 5 mm above the well,
which is what the runtime's OT-2 backend does too.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources

from diazflow import __version__
from diazflow import errorcodes as codes
from diazflow.chemistry.liquid_classes import LiquidClass, UnknownLiquid
from diazflow.chemistry.liquid_classes import find as find_liquid_class
from diazflow.compiler.plan import (
    Aspirate,
    Dispense,
    DispensePowder,
    DropTips,
    Operation,
    PickUpTips,
    Plan,
    Prompt,
    Sample,
    SetClosure,
    SetTemperature,
    Shake,
    StockPlan,
    StopShaking,
    Wait,
    WaitTemperature,
)
from diazflow.deck.plr_pipetting import aspirate_arguments, dispense_arguments
from diazflow.deck.spec import DeckSpec, LabwareSpec, ModuleSpec, PipetteSpec
from diazflow.diagnostics import Position, Reporter

API_LEVEL = "2.20"
OT2_ROBOT_KIND = "opentrons_ot2"
MIN_DELAY_S = 0.1
RAMP_STEP_S = 30.0  # seconds between set points of a controlled ramp (the runtime's ramp_step_s)  # gaps shorter than this are rounding in the plan (1 ms), not waits


@dataclass(frozen=True)
class OfficialLabware:
    """An Opentrons labware definition the robot already has."""

    load_name: str


@dataclass(frozen=True)
class CustomLabware:
    """A definition shipped in ``export/labware/`` and embedded in the protocol file."""

    load_name: str


LABWARE: dict[str, OfficialLabware | CustomLabware] = {
    # PyLabRobot factory -> Opentrons definition (docs/opentrons-export.md, "Labware")
    "cor_96_wellplate_2mL_Vb": CustomLabware("diazflow_cor_96_wellplate_2ml_vb"),
    "cor_96_wellplate_360uL_Fb": OfficialLabware("corning_96_wellplate_360ul_flat"),
    "nest_12_troughplate_15000uL_Vb": OfficialLabware("nest_12_reservoir_15ml"),
    "opentrons_96_tiprack_10ul": OfficialLabware("opentrons_96_tiprack_10ul"),
    "opentrons_96_tiprack_20ul": OfficialLabware("opentrons_96_tiprack_20ul"),
    "opentrons_96_tiprack_300ul": OfficialLabware("opentrons_96_tiprack_300ul"),
    "opentrons_96_tiprack_1000ul": OfficialLabware("opentrons_96_tiprack_1000ul"),
    "opentrons_96_filtertiprack_20ul": OfficialLabware("opentrons_96_filtertiprack_20ul"),
    "opentrons_96_filtertiprack_200ul": OfficialLabware("opentrons_96_filtertiprack_200ul"),
    "opentrons_96_filtertiprack_1000ul": OfficialLabware("opentrons_96_filtertiprack_1000ul"),
}
ADAPTERS = {"opentrons_96_deep_well_temp_mod_adapter": "opentrons_96_deep_well_temp_mod_adapter"}
TEMPERATURE_MODULES = {
    # PyLabRobot model (layout ``plr: model:``) -> Opentrons load name
    "temperatureModuleV2": "temperature module gen2",
    "temperatureModuleV1": "temperature module",
}
LIQUID_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def custom_definition(load_name: str) -> dict:
    """A shipped custom labware definition (``scripts/build_opentrons_labware.py`` writes them)."""
    folder = resources.files("diazflow.export").joinpath("labware")
    data: dict = json.loads(folder.joinpath(f"{load_name}.json").read_text(encoding="utf-8"))
    return data


def plan_sha256(plan: Plan) -> str:
    return hashlib.sha256(plan.to_json().encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- checks


def export_opentrons(
    plan: Plan, deck: DeckSpec, reporter: Reporter, *, protocol_name: str
) -> str | None:
    """The Opentrons protocol for ``plan`` on ``deck``, or None with DF540-DF542 reported."""
    mark = reporter.count()
    deck_reporter = reporter.for_file(deck.path, deck.source)
    if deck.robot.kind != OT2_ROBOT_KIND:
        deck_reporter.error(
            ("robot", "kind"),
            codes.DF540,
            f"an Opentrons protocol runs on an Opentrons OT-2; deck '{deck.name}' is a "
            f"'{deck.robot.kind}'",
            "compile for an OT-2 deck (--deck ot2_tempmodule), or run this deck with `diazflow run`",
        )
        return None
    _check_labware(deck, deck_reporter)
    _check_modules(deck, deck_reporter)
    protocol_reporter = reporter.for_file(plan.protocol)
    refused: set[type] = set()
    for op in plan.operations:
        if type(op) not in refused and _refuse_operation(op, protocol_reporter):
            refused.add(type(op))  # one finding per kind of operation, at its first use
    if reporter.errors_since(mark):
        return None
    return _Writer(plan, deck, protocol_name).text()


def _check_labware(deck: DeckSpec, reporter: Reporter) -> None:
    for name, lw in deck.labware.items():
        if lw.location.kind == "builtin":
            continue  # the OT-2's fixed trash
        if lw.plr_factory not in LABWARE:
            reporter.error(
                lw.yaml_path + ("factory",),
                codes.DF541,
                f"labware '{name}' ({lw.plr_factory}) has no Opentrons labware definition "
                "diazflow knows",
                f"use one of {', '.join(sorted(LABWARE))}, or add its definition to "
                "diazflow.export.opentrons.LABWARE",
            )
        elif lw.location.kind not in ("slot", "module"):
            reporter.error(
                lw.yaml_path + ("location",),
                codes.DF541,
                f"labware '{name}' stands at a {lw.location.kind}; an Opentrons protocol places "
                "labware in deck slots 1-11 or on a module",
                "give it 'location: {slot: N}'",
            )


def _check_modules(deck: DeckSpec, reporter: Reporter) -> None:
    for name, mod in deck.modules.items():
        if mod.location is None:
            continue  # not a deck resource (a powder dispenser the plan does not use on an OT-2)
        model = mod.plr.model if mod.plr is not None else None
        if mod.kind != "temperature_controller" or model not in TEMPERATURE_MODULES:
            reporter.error(
                mod.yaml_path + ("kind",),
                codes.DF542,
                f"module '{name}' ({mod.kind}{f', {model}' if model else ''}) cannot be written "
                "into an Opentrons protocol yet: the export knows the Temperature Module GEN1 "
                "and GEN2",
                "run this deck with `diazflow run`",
            )
        elif mod.adapter is not None and mod.adapter.rsplit(".", 1)[-1] not in ADAPTERS:
            reporter.error(
                mod.yaml_path + ("adapter",),
                codes.DF541,
                f"adapter {mod.adapter} of module '{name}' has no Opentrons definition diazflow "
                "knows",
                f"use {', '.join(sorted(ADAPTERS))}",
            )


def _refuse_operation(op: Operation, reporter: Reporter) -> bool:
    """Report an operation the Opentrons protocol cannot express; True if it did."""
    where = Position(op.line, 1)
    match op:
        case Shake() | StopShaking():
            reporter.error(
                where,
                codes.DF542,
                f"operation {op.id} ({op.op}) needs a shaker; the export drives no shaking module",
                "run it with `diazflow run`, which drives the shaker through PyLabRobot",
            )
        case DispensePowder(manual=manual) if not manual and op.device != "operator":
            reporter.error(
                where,
                codes.DF542,
                f"operation {op.id} doses {op.reagent} with a powder dispenser; an OT-2 has none",
                "weigh the solid in by hand (an operator step)",
            )
        case _:
            return False
    return True


# --------------------------------------------------------------------------- writing


def _identifier(name: str, taken: set[str]) -> str:
    """A Python identifier for a layout name (layout names may hold '-', spaces, digits first)."""
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit() or ident in ("protocol", "json", "protocol_api"):
        ident = f"lw_{ident}"
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def _num(x: float) -> str:
    """A number as the file writes it: at most 3 decimals, the same text for the same value."""
    return repr(round(float(x), 3) + 0.0)


@dataclass(frozen=True)
class _Tip:
    """What ``deck.plr_pipetting`` reads of a tip: its capacity."""

    maximal_volume: float


@dataclass
class _PipetteState:
    ident: str
    spec: PipetteSpec
    tip_ul: float = 0.0
    air_ul: float = 0.0  # the air gap in the tip, expelled with the next dispense
    flow: dict[str, float] = field(default_factory=dict)


class _Writer:
    def __init__(self, plan: Plan, deck: DeckSpec, protocol_name: str):
        self.plan = plan
        self.deck = deck
        self.protocol_name = protocol_name
        self.lines: list[str] = []
        self.taken: set[str] = set()
        self.labware: dict[str, str] = {}  # layout name -> identifier
        self.pipettes: dict[str, _PipetteState] = {}
        self.by_channel: dict[int, _PipetteState] = {}
        self.custom: dict[str, dict] = {}
        self.modules: dict[str, str] = {}  # module name -> identifier
        self.clock = 0.0
        self.step: int | None = None
        self.setpoints: dict[str, float] = {}  # module -> its last set point
        self.ramps: dict[str, tuple[float, float, float, float]] = {}  # from, to, t0, ramp_s
        self.hold: tuple[str, float] | None = None  # the hold (and its end) delays are part of

    # ------------------------------------------------------------------ the file

    def text(self) -> str:
        liquids = [st for st in self.plan.stocks if st.form != "solid" and ":" in st.location]
        # What stands on the deck at the start is loaded with the labware; a stock put out later
        # (a 'place:' step, a later stage's prompt) is loaded when it is put out, after the
        # operator's pause, so the App's liquid set-up does not list it among the start's.
        at_start = [st for st in liquids if not st.placed_s]
        later = sorted(
            ((st.placed_s or 0.0, i) for i, st in enumerate(liquids) if st.placed_s),
            reverse=True,
        )
        body = list(self._deck_lines()) + list(self._liquid_lines(liquids, at_start))
        for op in self.plan.operations:
            # a pause at the moment of placing comes first; anything else at that moment after
            placed_now = []
            while later and (
                later[-1][0] < op.t or (later[-1][0] == op.t and not isinstance(op, Prompt))
            ):
                placed_now.append(liquids[later.pop()[1]])
            body += self._liquid_lines(liquids, placed_now)
            body += self._operation(op)
        end = self._delay_until(self.plan.makespan_s)  # a hold that ends the plan
        if end:
            body += ["", "# the end of the plan", *end]
        out = [*self._header(), "", "", "def run(protocol: protocol_api.ProtocolContext) -> None:"]
        out += [f"    {line}" if line else "" for line in body]
        if self.custom:
            out += ["", "", "# Custom labware definitions (no Opentrons definition exists)."]
            blob = json.dumps(self.custom, sort_keys=True, separators=(",", ":"))
            out += [f"CUSTOM_LABWARE = json.loads({blob!r})"]
        return "\n".join(out) + "\n"

    def _header(self) -> list[str]:
        plan = self.plan
        metadata = {
            "protocolName": self.protocol_name,
            "author": f"diazflow {__version__}",
            "description": (
                f"Exported by diazflow {__version__} from {plan.protocol} compiled on "
                f"{plan.deck}; {len(plan.wells)} wells, makespan {plan.makespan_s:.0f} s. "
                "Run Labware Position Check before the run."
            ),
            "source": plan.protocol,
            "deck": plan.deck,
            "diazflowVersion": __version__,
            "planSha256": plan_sha256(plan),
        }
        lines = [
            f'"""{self.protocol_name}: an Opentrons Protocol API v2 protocol written by diazflow.',
            "",
            f"Source: {plan.protocol} (deck {plan.deck}). Written by `diazflow export --to "
            "opentrons`; do not edit",
            "by hand: export again from the workflow. See docs/opentrons-export.md.",
            '"""',
            "",
            "import json",
            "",
            "from opentrons import protocol_api",
            "",
            "metadata = {",
        ]
        lines += [f"    {key!r}: {value!r}," for key, value in metadata.items()]
        lines += ["}", f'requirements = {{"robotType": "OT-2", "apiLevel": "{API_LEVEL}"}}']
        return lines

    def _deck_lines(self) -> Iterator[str]:
        yield "# Deck"
        modules: dict[str, str] = {}
        for name, mod in sorted(self.deck.modules.items()):
            if mod.location is None or mod.location.slot is None:
                continue
            ident = _identifier(name, self.taken)
            modules[name] = self.modules[name] = ident
            yield (
                f"{ident} = protocol.load_module({self._module_load_name(mod)!r}, "
                f"{mod.location.slot})"
            )
            if mod.adapter is not None:
                adapter = ADAPTERS[mod.adapter.rsplit(".", 1)[-1]]
                yield f"{ident}_adapter = {ident}.load_adapter({adapter!r})"
                modules[name] = f"{ident}_adapter"
        for name, lw in sorted(self.deck.labware.items(), key=lambda kv: _slot_order(kv[1])):
            if lw.location.kind == "builtin":
                continue
            ident = _identifier(name, self.taken)
            self.labware[name] = ident
            parent = (
                modules[lw.location.module]
                if lw.location.kind == "module" and lw.location.module
                else None
            )
            yield f"{ident} = {self._load_labware(lw, parent)}"
        for pip in self.deck.pipettes:
            ident = _identifier(pip.name, self.taken)
            state = _PipetteState(ident, pip)
            self.pipettes[pip.name] = state
            for channel in pip.channels:
                self.by_channel[channel] = state
            racks = [
                self.labware[rack]
                for tip_name in pip.tips
                for t in self.deck.tip_types
                if t.name == tip_name
                for rack in t.racks
            ]
            yield (
                f"{ident} = protocol.load_instrument({pip.name!r}, {pip.mount!r}, "
                f"tip_racks=[{', '.join(racks)}])"
            )

    def _module_load_name(self, mod: ModuleSpec) -> str:
        assert mod.plr is not None and mod.plr.model is not None  # checked: a temperature module
        return TEMPERATURE_MODULES[mod.plr.model]

    def _load_labware(self, lw: LabwareSpec, parent: str | None) -> str:
        assert lw.plr_factory is not None  # checked: only the builtin trash has no factory
        found = LABWARE[lw.plr_factory]
        label = lw.name
        on = parent or "protocol"
        match found:
            case CustomLabware(load_name=load_name):
                self.custom[load_name] = custom_definition(load_name)
                where = "" if parent else f"{lw.location.slot}, "
                return (
                    f"{on}.load_labware_from_definition(CUSTOM_LABWARE[{load_name!r}], "
                    f"{where}label={label!r})"
                )
            case OfficialLabware(load_name=load_name):
                where = "" if parent else f", {lw.location.slot}"
                return f"{on}.load_labware({load_name!r}{where}, label={label!r})"

    def _liquid_lines(self, liquids: list[StockPlan], loaded: list[StockPlan]) -> list[str]:
        """Stocks as Opentrons liquids, so the App shows what goes into which well: ``liquids``
        numbers them (the same liquid id and colour wherever one is loaded), ``loaded`` are the
        ones put on the deck at this point."""
        if not loaded:
            return []
        first = loaded[0].placed_s
        lines = [
            "",
            "# Stocks the operator puts on the deck before the start (plan 'stocks')"
            if not first
            else f"# Stocks the operator has just put on the deck (plan 'stocks', at {first:g} s)",
        ]
        for stock in loaded:
            i = liquids.index(stock)
            labware, _, well = stock.location.partition(":")
            what = stock.substance + (
                f" ({stock.concentration_M:g} M in {stock.solvent})"
                if stock.concentration_M
                else f" ({stock.form})"
            )
            colour = LIQUID_COLOURS[i % len(LIQUID_COLOURS)]
            lines.append(
                f"liquid_{i} = protocol.define_liquid({what!r}, "
                f"description={stock.reagent!r}, display_color={colour!r})"
            )
            lines.append(
                f"{self.labware[labware]}[{well!r}].load_liquid(liquid_{i}, "
                f"{_num(stock.volume_uL)})"
            )
        return lines

    # ------------------------------------------------------------------ operations

    def _operation(self, op: Operation) -> list[str]:
        lines = self._step_header(op)
        lines += self._delay_until(op.t)
        match op:
            case PickUpTips():
                lines += self._pick_up(op)
            case DropTips():
                lines += self._drop(op)
            case Aspirate():
                lines += self._aspirate(op)
            case Dispense():
                lines += self._dispense(op)
            case Sample():
                lines += self._sample(op)
            case SetTemperature():
                lines += self._set_temperature(op)
            case WaitTemperature():
                lines += self._ramp_steps(op)
                lines.append(f"{self.modules[op.device]}.await_temperature({_num(op.celsius)})")
            case Wait():
                # as in the runtime, a hold is only time: operations inside it (samples) start
                # at their own times, and the delay before the next one waits out the rest
                self.hold = (f"hold on {op.device} (step {op.step + 1}, {op.duration:g} s)", op.end)
                lines.append(f"# op {op.id}: {self.hold[0]}")
                self.clock = max(self.clock, op.t)
                return lines
            case Prompt() | SetClosure() | DispensePowder():
                lines.append(f"protocol.pause({self._operator_message(op)!r})")
            case Shake() | StopShaking():  # refused by _refuse_operation
                raise AssertionError(f"operation {op.id} cannot be exported")
        self.clock = max(self.clock, op.end)
        return lines

    def _set_temperature(self, op: SetTemperature) -> list[str]:
        start = self.setpoints.get(op.device, self.deck.ambient_c)
        self.setpoints[op.device] = op.celsius
        if not op.ramp_s:
            return [f"{self.modules[op.device]}.start_set_temperature({_num(op.celsius)})"]
        # a controlled ramp: as in the runtime, the set point moves while the plan waits for the
        # temperature (from the previous set point here; the runtime reads the block's)
        self.ramps[op.device] = (start, op.celsius, op.t, op.ramp_s)
        return [
            f"# op {op.id}: ramp from {start:g} to {op.celsius:g} °C over {op.ramp_s:g} s, a set "
            f"point every {RAMP_STEP_S:g} s"
        ]

    def _ramp_steps(self, op: WaitTemperature) -> list[str]:
        ramp = self.ramps.pop(op.device, None)
        if ramp is None:
            return []
        start, target, t0, ramp_s = ramp
        module = self.modules[op.device]
        n = max(1, math.ceil(ramp_s / RAMP_STEP_S - 1e-9))
        steps = [
            (t0 + ramp_s * k / n, round(start + (target - start) * k / n, 2))
            for k in range(1, n + 1)
        ]
        past = [celsius for t, celsius in steps if t <= self.clock]
        future = [(t, celsius) for t, celsius in steps if t > self.clock]
        lines = [f"{module}.start_set_temperature({_num(past[-1])})"] if past else []
        if future:
            lines += self._delay_until(future[0][0])
            lines.append(f"{module}.start_set_temperature({_num(future[0][1])})")
        if len(future) > 1:
            interval = ramp_s / n
            lines += [
                f"for celsius in [{', '.join(_num(c) for _, c in future[1:])}]:",
                f"    protocol.delay(seconds={_num(interval)})",
                f"    {module}.start_set_temperature(celsius)",
            ]
            self.clock = future[-1][0]
        return lines

    def _step_header(self, op: Operation) -> list[str]:
        if op.step == self.step:
            return []
        self.step = op.step
        summary = next((s for s in self.plan.steps if s.step == op.step), None)
        kind = summary.kind if summary is not None else "step"
        text = f"step {op.step + 1} ({kind}), {self.plan.protocol} line {op.line}"
        return ["", f"# {text}", f"protocol.comment({text!r})"]

    def _delay_until(self, t: float) -> list[str]:
        gap, start = t - self.clock, self.clock
        self.clock = max(self.clock, t)
        if gap < MIN_DELAY_S:
            return []
        hold = self.hold[0] if self.hold is not None and start < self.hold[1] else None
        msg = f", msg={hold!r}" if hold else ""
        return [f"protocol.delay(seconds={_num(gap)}{msg})"]

    def _operator_message(self, op: Prompt | SetClosure | DispensePowder) -> str:
        match op:
            case DispensePowder():
                return op.message or f"Weigh {op.reagent} into {', '.join(op.wells)}"
            case _:
                return op.message

    def _well(self, ref: str) -> str:
        labware, sep, well = ref.partition(":")
        if not sep:
            labware, well = self.plan.vessel_labware, ref
        return f"{self.labware[labware]}[{well!r}]"

    def _pick_up(self, op: PickUpTips) -> list[str]:
        lines = []
        carrier = next(p for p in self.pipettes.values() if op.tip_type in p.spec.tips)
        tip_type = next(t for t in self.deck.tip_types if t.name == op.tip_type)
        for channel, spot in zip(op.channels, op.tips, strict=True):
            # the runtime moves a channel to the pipette that carries the tip type; so do we
            self.by_channel[channel] = carrier
            carrier.tip_ul = tip_type.max_volume_ul
            carrier.air_ul = 0.0
            lines.append(f"{carrier.ident}.pick_up_tip({self._well(spot)})")
        return lines

    def _drop(self, op: DropTips) -> list[str]:
        lines = []
        for channel, spot in zip(op.channels, op.tips, strict=True):
            pip = self.by_channel[channel]
            where = self._well(spot) if op.return_tips else ""
            lines.append(f"{pip.ident}.drop_tip({where})")
        return lines

    def _liquid_class(self, name: str) -> LiquidClass:
        try:
            return find_liquid_class(name)
        except UnknownLiquid:
            raise ValueError(f"the plan names an unknown liquid class '{name}'") from None

    def _set_flow(self, pip: _PipetteState, kind: str, rate: float) -> list[str]:
        rate = round(float(rate), 2)
        if pip.flow.get(kind) == rate:
            return []
        pip.flow[kind] = rate
        return [f"{pip.ident}.flow_rate.{kind} = {_num(rate)}"]

    def _default_flow(self, pip: _PipetteState) -> tuple[float, float]:
        rate = self.deck.timings.flow_rate(pip.tip_ul)
        return rate.aspirate_ul_s, rate.dispense_ul_s

    def _aspirate(self, op: Aspirate) -> list[str]:
        lc = self._liquid_class(op.liquid_class)
        lines = [f"# op {op.id}: aspirate {op.reagent} ({op.liquid_class})"]
        for channel, ref, volume, height in zip(
            op.channels, op.wells, op.volumes_uL, op.height_mm, strict=True
        ):
            pip = self.by_channel[channel]
            args = aspirate_arguments(
                OT2_ROBOT_KIND,
                lc,
                [_Tip(pip.tip_ul)],
                [volume],
                [height],
                self._default_flow(pip),
            )
            lines += self._set_flow(pip, "aspirate", args["flow_rates"][0])
            lines.append(
                f"{pip.ident}.aspirate({_num(volume)}, {self._well(ref)}.bottom(z={_num(height)}))"
            )
            air = float(args["air_gap_ul"][0])
            if air > 0:
                lines.append(f"{pip.ident}.air_gap({_num(air)})")
                pip.air_ul += round(air, 3)
        return lines

    def _dispense(self, op: Dispense) -> list[str]:
        lc = self._liquid_class(op.liquid_class)
        lines = [f"# op {op.id}: dispense {op.reagent} ({op.liquid_class})"]
        for channel, ref, volume, height in zip(
            op.channels, op.wells, op.volumes_uL, op.height_mm, strict=True
        ):
            pip = self.by_channel[channel]
            args = dispense_arguments(
                OT2_ROBOT_KIND,
                lc,
                [_Tip(pip.tip_ul)],
                [volume],
                [height],
                self._default_flow(pip),
            )
            lines += self._set_flow(pip, "dispense", args["flow_rates"][0])
            # the air gap drawn after the aspirate leaves with the liquid, as in the runtime
            total = round(float(volume) + pip.air_ul, 3)
            pip.air_ul = 0.0
            lines.append(
                f"{pip.ident}.dispense({_num(total)}, {self._well(ref)}.bottom(z={_num(height)}))"
            )
        return lines

    def _sample(self, op: Sample) -> list[str]:
        """The runtime's sample: draw from the reaction well, put it into the sample plate, at
        the robot's default (water) rates and the layout's bottom clearance."""
        lines = [f"# op {op.id}: sample into {op.into}"]
        clearance = _num(self.deck.pipetting.bottom_clearance_mm)
        for channel, ref, target, volume in zip(
            op.channels, op.wells, op.targets, op.volumes_uL, strict=True
        ):
            pip = self.by_channel[channel]
            aspirate_rate, dispense_rate = self._default_flow(pip)
            lines += self._set_flow(pip, "aspirate", aspirate_rate)
            lines.append(
                f"{pip.ident}.aspirate({_num(volume)}, {self._well(ref)}.bottom(z={clearance}))"
            )
            lines += self._set_flow(pip, "dispense", dispense_rate)
            lines.append(
                f"{pip.ident}.dispense({_num(volume)}, {self._well(target)}.bottom(z={clearance}))"
            )
        return lines


def _slot_order(lw: LabwareSpec) -> tuple[int, str]:
    """Labware in the order of their slots (modules' labware after the modules they sit on)."""
    slot = lw.location.slot if lw.location.slot is not None else 99
    return (slot, lw.name)
