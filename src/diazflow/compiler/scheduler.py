"""Lower every protocol step to timed operations and schedule them (spec §3, §6).

The schedule is plate-synchronous: a step starts when the previous one has finished in every
well, so a plate-wide temperature change waits for the last addition, and holds count from the
moment the last well is ready.  Inside a step the liquid handler works column by column with all
its channels; dropwise and portionwise additions are interleaved across the plate so that every
well gets the same addition profile (see docs/compiler.md for the aliquot rule).

Tip policy (docs/compiler.md): every dispense is a jet dispense from above the liquid (heights are
set by :mod:`diazflow.compiler.heights` once the schedule is complete), so a tip never touches a
reaction mixture.  Every transfer is pipetted with the liquid class of what it moves
(:mod:`diazflow.chemistry.liquid_classes`), whose flow rates time it.  A common reagent keeps one set of tips for a whole step;
library members get one tip each, parked in its rack spot between the aliquots of a dropwise
addition and discarded afterwards; nothing that has been in one stock goes into another.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from diazflow import errorcodes as codes
from diazflow.chemistry.checks import solvent_components
from diazflow.chemistry.liquid_classes import (
    LiquidClass,
    UnknownLiquid,
    known_liquids,
    pre_wetting_ul,
)
from diazflow.chemistry.liquid_classes import choose as choose_liquid_class
from diazflow.chemistry.properties import lookup
from diazflow.chemistry.resolve import (
    SOLVENT_PREFIX,
    Addition,
    ResolvedChemistry,
    ResolvedReagent,
)
from diazflow.compiler.facts import DeckFacts, ModuleFacts, TipType
from diazflow.compiler.heights import assign_heights
from diazflow.compiler.placement import Placement, SourceSpot
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
    StepSummary,
    StockPlan,
    StockSolutePlan,
    StopShaking,
    Wait,
    WaitTemperature,
    WellAmount,
    WellPlan,
    r3,
)
from diazflow.diagnostics import Diagnostic, Reporter, did_you_mean
from diazflow.language import models as m
from diazflow.language.loader import LoadedProtocol
from diazflow.language.quantities import Quantity, QuantityRange
from diazflow.language.wells import Well, row_letter

MIN_DROPWISE_ALIQUOTS = 4
"""Fewer aliquots than this is not a dropwise addition any more, just a split one."""

MAX_DROPWISE_ALIQUOTS = 60
"""More aliquots than this buys nothing chemically and only wears the robot."""

LIQUID_HANDLER = "liquid_handler"
OPERATOR = "operator"
CLOCK = "clock"


def resolve_duration(q: Quantity | QuantityRange, policy: str) -> float:
    if isinstance(q, QuantityRange):
        return q.high.value if policy == "upper" else q.low.value
    return q.value


def resolve_temperature(q: Quantity | QuantityRange) -> float:
    """A temperature range is run at its midpoint; checks use its ends."""
    if isinstance(q, QuantityRange):
        return (q.low.value + q.high.value) / 2
    return q.value


def window(q: Quantity | QuantityRange) -> tuple[float, float]:
    if isinstance(q, QuantityRange):
        return q.low.value, q.high.value
    return q.value, q.value


class _Tips:
    """Hands out tip spots in rack order and counts them per tip type."""

    def __init__(self, deck: DeckFacts):
        self.next_index: dict[str, int] = {t.name: 0 for t in deck.tips}
        self.exhausted: set[str] = set()

    def take(self, tip: TipType, count: int) -> list[str]:
        start = self.next_index[tip.name]
        spots = [
            tip.spots[(start + i) % len(tip.spots)] if tip.spots else f"{tip.name}:{start + i}"
            for i in range(count)
        ]
        if start + count > len(tip.spots):
            self.exhausted.add(tip.name)
        self.next_index[tip.name] = start + count
        return spots

    def remaining(self, tip: TipType) -> int:
        return len(tip.spots) - self.next_index[tip.name]

    def used(self) -> dict[str, int]:
        return {name: n for name, n in sorted(self.next_index.items()) if n}


@dataclass(frozen=True)
class _Delivery:
    """How a reagent goes in: at once, dropwise over a window, or in portions; and the temperature
    the vessel must stay below meanwhile.  Each step kind says which of these it allows."""

    dropwise: Quantity | QuantityRange | None = None
    portionwise: m.PortionwiseSpec | None = None
    keep_below: Quantity | None = None


@dataclass(frozen=True)
class _Spread:
    """A dropwise or portionwise addition of one reagent: what goes where, over which window."""

    rid: str
    wells: list[Well]
    volume: dict[Well, float]
    source: Mapping[Well, SourceSpot]
    per_member: bool
    lo: float
    hi: float
    portions: int | None  # portionwise: fixed; dropwise: as many as the window allows

    @property
    def vmin(self) -> float:
        return min(self.volume.values())

    @property
    def vmax(self) -> float:
        return max(self.volume.values())


UNCLASSIFIED = "(none)"
"""The liquid class of a transfer whose liquid has none (DF311 is reported; no plan is written)."""

UNNUMBERED = -1
"""The id of an operation until the finished schedule numbers them in time order."""


@dataclass
class _Scheduler:
    loaded: LoadedProtocol
    chem: ResolvedChemistry
    deck: DeckFacts
    placement: Placement
    reporter: Reporter
    ops: list[Operation] = field(default_factory=list)
    now: float = 0.0
    temperature: float = 22.0
    tips: _Tips = field(init=False)
    steps: list[StepSummary] = field(default_factory=list)
    last_addition_end: dict[Well, float] = field(default_factory=dict)
    quench_starts: dict[Well, list[float]] = field(default_factory=dict)  # every quench's start
    sampled_ul: dict[Well, float] = field(default_factory=dict)
    sample_wells_used: int = 0
    warnings: list[str] = field(default_factory=list)
    no_class_reported: set[str] = field(default_factory=set)
    placed: dict[str, tuple[float, int]] = field(default_factory=dict)  # 'place:' (t, step)
    # compacted libraries (one source well per member): the time their one-channel aspirations add
    single_channel_s: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tips = _Tips(self.deck)

    # ------------------------------------------------------------------ basics

    @property
    def p(self) -> m.Protocol:
        return self.loaded.protocol

    @property
    def policy(self) -> str:
        return self.p.settings.duration_policy

    @property
    def module(self) -> ModuleFacts | None:
        return self.deck.module_of(self.p.vessels.labware)

    @property
    def largest_tip(self) -> TipType:
        tip = self.deck.largest_tip
        assert tip is not None, "a deck layout declares at least one tip type (its schema says so)"
        return tip

    @property
    def block_device(self) -> str:
        return self.module.name if self.module else CLOCK

    def error(
        self,
        step: int,
        rest: tuple,
        code: codes.ErrorCode,
        message: str,
        hint: str | None = None,
    ) -> None:
        """An error at ``rest`` inside step ``step`` (e.g. ``("temperature",)``)."""
        self.reporter.error(self.loaded.step_path(step, *rest), code, message, hint)

    def line(self, step: int) -> int:
        return self.loaded.step_line(step)

    def emit(self, op: Operation) -> float:
        """Add an operation to the schedule; returns when it ends."""
        self.ops.append(op)
        return op.end

    # ------------------------------------------------------------------ liquid handling timings

    def t_aspirate(self, volumes: list[float], tip: TipType, lc: LiquidClass | None) -> float:
        tm = self.deck.timings
        if lc is None:
            return tm.move_s + tm.aspirate_seconds(max(volumes), tip.max_ul)
        rate, _ = self.deck.flow_rates(lc, tip.max_ul)
        v = max(volumes)
        # pre-wetting aspirates and dispenses its volume once before the real aspiration
        rinse = 2 * min(pre_wetting_ul(lc, v), max(0.0, tip.max_ul - v))
        return tm.move_s + tm.aspirate_fixed_s + (v + rinse) / rate

    def t_dispense(self, volumes: list[float], tip: TipType, lc: LiquidClass | None) -> float:
        tm = self.deck.timings
        if lc is None:
            return tm.move_s + tm.dispense_seconds(max(volumes), tip.max_ul)
        _, rate = self.deck.flow_rates(lc, tip.max_ul)
        return tm.move_s + tm.dispense_fixed_s + max(volumes) / rate

    # ------------------------------------------------------------------ liquid classes

    def liquid_of(self, rid: str) -> str | None:
        """What is pipetted for a reagent: its stock's solvent, the neat liquid, or the solvent
        of an ``add_solvent``; for a mixture, its most volatile component (what drips first)."""
        if rid.startswith(SOLVENT_PREFIX):
            name = rid[len(SOLVENT_PREFIX) :]
        else:
            reagent = self.chem.reagents.get(rid)
            if reagent is None:
                return None
            if reagent.form == "neat" and reagent.substance is not None:
                return reagent.substance.name
            if reagent.solvent is None:
                return None
            name = reagent.solvent
        components = solvent_components(name)
        known = [(lookup(c), c) for c in components]
        volatile = [(p.vapour_pressure_kpa or 0.0, c) for p, c in known if p is not None]
        if len(components) > 1 and volatile:
            return max(volatile)[1]
        return components[0] if components else name

    def pipette_like(self, step: int, rid: str) -> tuple[str, tuple] | None:
        """The protocol's ``pipette_like:`` for this transfer, and where it is written."""
        if rid.startswith(SOLVENT_PREFIX):
            _, params = m.step_params(self.p.steps[step])
            if isinstance(params, m.AddSolventParams) and params.pipette_like:
                return params.pipette_like, self.loaded.step_path(step, "pipette_like")
            return None
        reagent = self.p.reagents.get(rid)
        if reagent is not None and reagent.pipette_like:
            return reagent.pipette_like, ("reagents", rid, "pipette_like")
        return None

    def liquid_class(self, step: int, rid: str, tip: TipType) -> LiquidClass | None:
        """The class for pipetting reagent ``rid`` with ``tip``; DF311 once if there is none."""
        chosen = self.pipette_like(step, rid)
        liquid = chosen[0] if chosen else self.liquid_of(rid)
        if liquid is None:
            return None
        try:
            return choose_liquid_class(liquid, tip.max_ul)
        except UnknownLiquid:
            if rid not in self.no_class_reported:
                self.no_class_reported.add(rid)
                path = (
                    chosen[1]
                    if chosen
                    else self.loaded.step_path(
                        step, "solvent" if rid.startswith(SOLVENT_PREFIX) else "reagent"
                    )
                )
                hint = _known_liquid_hint(liquid)
                if not chosen:
                    hint += "; or say which known liquid it pipettes like ('pipette_like: THF')"
                self.reporter.error(
                    path,
                    codes.DF311,
                    f"no liquid class for '{liquid}': nothing is known of how it pipettes",
                    hint,
                )
            return None

    def t_pick(self) -> float:
        return self.deck.timings.pick_up_s + self.deck.timings.move_s

    def t_drop(self) -> float:
        return self.deck.timings.drop_s + self.deck.timings.move_s

    def groups(self, wells: list[Well]) -> list[list[Well]]:
        """Column by column, at most one well per channel per cycle.  On a plate whose rows are
        closer than the channels can be (384 wells, 4.5 mm), a column is taken in interleaved
        passes, one per residue of the row stride: rows A, C, ..., O, then B, D, ..., P."""
        channels = max(1, self.deck.channels)
        stride = self.deck.row_stride(self.p.vessels.labware)
        out: list[list[Well]] = []
        by_pass: dict[tuple[int, int], list[Well]] = {}
        for w in wells:
            by_pass.setdefault((w.column, w.row % stride), []).append(w)
        for key in sorted(by_pass):
            ws = sorted(by_pass[key])
            for i in range(0, len(ws), channels):
                out.append(ws[i : i + channels])
        return out

    # ------------------------------------------------------------------ liquid handler operations

    def pick_up(
        self, t: float, step: int, tip: TipType, tips: list[str], channels: list[int]
    ) -> float:
        return self.emit(
            PickUpTips(
                id=UNNUMBERED,
                t=t,
                duration=self.t_pick(),
                device=LIQUID_HANDLER,
                step=step,
                line=self.line(step),
                channels=channels,
                tips=tips,
                tip_type=tip.name,
            )
        )

    def drop(
        self,
        t: float,
        step: int,
        tips: list[str],
        channels: list[int],
        return_tips: bool | None = None,
    ) -> float:
        return self.emit(
            DropTips(
                id=UNNUMBERED,
                t=t,
                duration=self.t_drop(),
                device=LIQUID_HANDLER,
                step=step,
                line=self.line(step),
                channels=channels,
                tips=tips,
                return_tips=return_tips,
            )
        )

    def transfer(
        self,
        t: float,
        step: int,
        rid: str,
        tip: TipType,
        group: list[Well],
        sources: list[str],
        part: list[float],
        aliquot: int | None = None,
        aliquots: int | None = None,
    ) -> float:
        """Aspirate ``part`` from the sources and dispense it into the wells of ``group``."""
        channels = tip.channel_list(len(group))
        volumes = [r3(v) for v in part]
        lc = self.liquid_class(step, rid, tip)
        class_name = lc.name if lc is not None else UNCLASSIFIED
        # A compacted library has one source well per member: channels cannot share a well, so
        # each aspirates on its own; they still dispense together.
        draws = (
            [
                ([c], [src], [v], [p])
                for c, src, v, p in zip(channels, sources, volumes, part, strict=True)
            ]
            if rid in self.placement.single_channel and len(channels) > 1
            else [(channels, sources, volumes, part)]
        )
        for draw_channels, draw_sources, draw_volumes, draw_part in draws:
            t = self.emit(
                Aspirate(
                    id=UNNUMBERED,
                    t=t,
                    duration=self.t_aspirate(draw_part, tip, lc),
                    device=LIQUID_HANDLER,
                    step=step,
                    line=self.line(step),
                    reagent=rid,
                    channels=draw_channels,
                    wells=draw_sources,
                    volumes_uL=draw_volumes,
                    liquid_class=class_name,
                    height_mm=[],  # set by assign_heights once the whole schedule is known
                    aliquot=aliquot,
                    aliquots=aliquots,
                )
            )
        if len(draws) > 1:
            self.single_channel_s[rid] = self.single_channel_s.get(rid, 0.0) + (
                sum(self.t_aspirate(d[3], tip, lc) for d in draws) - self.t_aspirate(part, tip, lc)
            )
        return self.emit(
            Dispense(
                id=UNNUMBERED,
                t=t,
                duration=self.t_dispense(part, tip, lc),
                device=LIQUID_HANDLER,
                step=step,
                line=self.line(step),
                reagent=rid,
                substances=self.substances(rid, group),
                channels=channels,
                wells=[w.name for w in group],
                volumes_uL=volumes,
                liquid_class=class_name,
                height_mm=[],  # set by assign_heights
                aliquot=aliquot,
                aliquots=aliquots,
            )
        )

    # ------------------------------------------------------------------ temperature

    def temperature_error(self, step: int, target: float, rest: tuple) -> bool:
        """Report why the block cannot reach ``target``; False when it can."""
        module = self.module
        if module is None or not module.controls_temperature:
            self.error(
                step,
                rest,
                codes.DF511,
                f"'{self.p.vessels.labware}' does not sit on a temperature module",
                "place the reaction labware on a temperature module in the deck layout",
            )
            return True
        ambient = self.deck.ambient_c
        if target < ambient - module.settle_tolerance_c and not module.active_cooling:
            # checked before the range: "cannot cool" is the reason, whatever the range says
            self.error(
                step,
                rest,
                codes.DF513,
                f"{module.name} cannot cool below ambient ({ambient:g} °C) to {target:g} °C: it has no active cooling",
                "use a deck with a cooling module (e.g. starlet_chem.yaml), or run the step at room temperature",
            )
            return True
        if not (module.min_c <= target <= module.max_c):
            self.error(
                step,
                rest,
                codes.DF512,
                f"{target:g} °C is outside the range of {module.name} ({module.min_c:g} to {module.max_c:g} °C)",
                _range_hint(module, target),
            )
            return True
        return False

    def change_temperature(
        self, step: int, target: float, over: float | None, rest: tuple = ("to",)
    ) -> float:
        module = self.module
        # On an error the plan is discarded, but later steps are checked as if the block had got
        # there, so one impossible set-point does not cascade into follow-on errors.
        previous, self.temperature = self.temperature, target
        if self.temperature_error(step, target, rest) or module is None:
            return self.now
        physical = module.ramp_seconds(previous, target)
        ramp = physical
        if over is not None:
            if over + 1e-9 < physical:
                self.error(
                    step,
                    rest[:-1] + ("over",),
                    codes.DF603,
                    f"{module.name} needs at least {physical / 60:.1f} min to go from {previous:g} to {target:g} °C, longer than 'over: {over / 60:g} min'",
                    f"allow 'over: {math.ceil(physical / 60)} min' or more",
                )
            ramp = max(over, physical)
        t = self.emit(
            SetTemperature(
                id=UNNUMBERED,
                t=self.now,
                duration=self.deck.timings.set_temperature_s,
                device=module.name,
                step=step,
                line=self.line(step),
                celsius=r3(target),
                ramp_s=r3(over) if over else None,
            )
        )
        return self.emit(
            WaitTemperature(
                id=UNNUMBERED,
                t=t,
                duration=ramp,
                device=module.name,
                step=step,
                line=self.line(step),
                celsius=r3(target),
            )
        )

    def shake(
        self, step: int, start: float, duration: float, rpm: float | None, rest: tuple
    ) -> float:
        module = self.module
        if module is None or not module.can_shake:
            where = module.name if module else self.p.vessels.labware
            self.error(
                step,
                rest,
                codes.DF514,
                f"'{self.p.vessels.labware}' sits on {where}, which cannot mix: stirring needs a shaker",
                "use a heater-shaker or heater-cooler-shaker module, or use 'hold' (no mixing)",
            )
            return start + duration
        speed = rpm if rpm is not None else module.default_rpm
        low, high = module.rpm_min, module.rpm_max
        if speed is not None and low is not None and high is not None and not low <= speed <= high:
            # the run would have the shaker refuse it: validate must say so first
            self.error(
                step,
                ("speed",) if rpm is not None else rest,
                codes.DF526,
                f"{speed:g} rpm is outside {module.name}'s range of {low:g}-{high:g} rpm",
                f"give a speed between {low:g} and {high:g} rpm, or leave it out "
                f"({module.default_rpm:g} rpm)"
                if module.default_rpm
                else f"give a speed between {low:g} and {high:g} rpm",
            )
            return start + duration
        t = self.emit(
            Shake(
                id=UNNUMBERED,
                t=start,
                duration=duration,
                device=module.name,
                step=step,
                line=self.line(step),
                rpm=r3(speed) if speed else None,
            )
        )
        return self.emit(
            StopShaking(
                id=UNNUMBERED,
                t=t,
                duration=self.deck.timings.shake_stop_s,
                device=module.name,
                step=step,
                line=self.line(step),
            )
        )

    def wait(self, step: int, duration: float, device: str) -> float:
        return self.emit(
            Wait(
                id=UNNUMBERED,
                t=self.now,
                duration=duration,
                device=device,
                step=step,
                line=self.line(step),
            )
        )

    def prompt(
        self, step: int, duration: float, message: str, refill: list[str] | None = None
    ) -> float:
        return self.emit(
            Prompt(
                id=UNNUMBERED,
                t=self.now,
                duration=duration,
                device=OPERATOR,
                step=step,
                line=self.line(step),
                message=message,
                refill=refill,
            )
        )

    # ------------------------------------------------------------------ additions

    def additions_of(self, step: int, rid: str) -> list[Addition]:
        return [a for a in self.chem.additions_for_step(step) if a.reagent == rid]

    def add_reagent(
        self, step: int, rid: str, delivery: _Delivery, additions: list[Addition]
    ) -> float:
        """Put one reagent into its wells: a solid by powder or by hand, a liquid by pipette."""
        reagent = self.chem.reagents.get(rid)
        if reagent is not None and reagent.form == "solid":
            return self.add_solid(step, rid, delivery, additions)
        return self.add_liquid(step, rid, delivery, additions)

    def check_keep_below(self, step: int, keep_below: Quantity) -> None:
        tol = self.module.settle_tolerance_c if self.module else 0.0
        if self.temperature + tol > keep_below.value:
            self.error(
                step,
                ("keep_below",),
                codes.DF605,
                f"the addition must stay below {keep_below.value:g} °C but the block is at {self.temperature:g} °C (±{tol:g} °C)",
                _keep_below_hint(self.module, keep_below.value),
            )

    def add_liquid(
        self, step: int, rid: str, delivery: _Delivery, additions: list[Addition]
    ) -> float:
        """Pipette one reagent into its wells, at once or dropwise/portionwise."""
        volume: dict[Well, float] = {}
        for a in additions:
            volume[a.well] = volume.get(a.well, 0.0) + a.ul
        wells = sorted(volume)
        if not wells:
            return self.now
        source = self.placement.sources.get(rid, {})
        # a fresh tip per well only where the wells get different substances (library members);
        # one stock spread over a building-block column (placement._place_on_block) keeps its tips
        per_member_tips = (
            len({source.get(w) for w in wells}) > 1 and len(set(self.substances(rid, wells))) > 1
        )
        if delivery.keep_below is not None:
            self.check_keep_below(step, delivery.keep_below)
        if delivery.dropwise is not None:
            lo, hi = window(delivery.dropwise)
            spread = _Spread(rid, wells, volume, source, per_member_tips, lo, hi, None)
            return self.add_spread(step, spread, ("dropwise",))
        if delivery.portionwise is not None:
            lo, hi = window(delivery.portionwise.over)
            portions = delivery.portionwise.portions
            spread = _Spread(rid, wells, volume, source, per_member_tips, lo, hi, portions)
            return self.add_spread(step, spread, ("portionwise",))
        return self.add_at_once(step, rid, wells, volume, source, per_member_tips)

    def pick_tip(
        self, step: int, volumes: list[float], rest: tuple = ("reagent",), needed: int = 0
    ) -> TipType | None:
        """The smallest tip type that takes every volume and still has ``needed`` tips left.

        Falling back to a larger tip when the small ones run out is what an operator would do; only
        when no type can serve the step is it an error (DF520, reported once at the end).
        """
        lo, hi = min(volumes), max(volumes)
        fitting = _tips_taking(self.deck.tips, lo, hi)
        for tip in fitting:
            if self.tips.remaining(tip) >= needed:
                return tip
        if fitting:
            return fitting[0]  # runs out: DF520 is reported with the count needed
        smallest = self.deck.smallest_min_ul
        if lo < smallest - 1e-9:
            self.error(
                step,
                rest,
                codes.DF517,
                f"{lo:.2f} µL is below the smallest volume this deck's tips handle ({smallest:g} µL)",
                "use a more dilute stock, a larger scale, or a deck with smaller tips",
            )
            return None
        return self.deck.largest_tip

    def transfers(self, tip: TipType, v: float) -> int:
        return max(1, math.ceil(v / tip.max_ul - 1e-9))

    def substances(self, rid: str, wells: list[Well]) -> list[str]:
        reagent = self.chem.reagents.get(rid)
        if reagent is None:
            return [rid.split(":", 1)[-1]] * len(wells)
        if reagent.library:
            return [self.chem.members[(reagent.library, w)].name for w in wells]
        return [reagent.substance.name if reagent.substance else rid] * len(wells)

    def tips_needed(self, per_member: bool, wells: list[Well]) -> int:
        """A tip per library member, or one set of tips (a channel each) for a common reagent."""
        return len(wells) if per_member else min(self.deck.channels, len(wells))

    def add_at_once(
        self,
        step: int,
        rid: str,
        wells: list[Well],
        volume: dict[Well, float],
        source: Mapping[Well, SourceSpot],
        per_member: bool,
    ) -> float:
        vols = [volume[w] for w in wells]
        cap = self.deck.largest_tip.max_ul if self.deck.largest_tip else max(vols)
        tip = self.pick_tip(
            step,
            [min(min(vols), cap)] + [min(v, cap) for v in vols],
            needed=self.tips_needed(per_member, wells),
        )
        if tip is None:
            return self.now
        t = self.now
        held: list[str] | None = None
        for group in self.groups(wells):
            channels = tip.channel_list(len(group))
            n = max(self.transfers(tip, volume[w]) for w in group)
            if per_member or held is None:
                held = self.tips.take(
                    tip, len(group) if per_member else min(self.deck.channels, len(wells))
                )
                t = self.pick_up(t, step, tip, held, tip.channel_list(len(held)))
            for k in range(n):
                part = [_aliquot(volume[w], n, k) for w in group]
                t = self.transfer(t, step, rid, tip, group, [str(source[w]) for w in group], part)
            for w in group:
                self.last_addition_end[w] = t
            if per_member:
                t = self.drop(t, step, held, channels)
        if not per_member and held is not None:
            t = self.drop(t, step, held, tip.channel_list(len(held)))
        return t

    def spread_round_s(self, step: int, spread: _Spread, available: list[TipType], n: int) -> float:
        """How long one round of aliquot ``1/n`` over the whole plate takes."""
        fitting = _tips_taking(available or self.deck.tips, spread.vmin / n, spread.vmax / n)
        tip = fitting[0] if fitting else self.largest_tip
        part = [spread.vmax / n]
        lc = self.liquid_class(step, spread.rid, tip)
        cycle = self.t_aspirate(part, tip, lc) + self.t_dispense(part, tip, lc)
        if spread.per_member:
            cycle += self.t_pick() + self.t_drop()
        return cycle * len(self.groups(spread.wells))

    def spread_count(
        self, step: int, spread: _Spread, available: list[TipType], rest: tuple
    ) -> int | None:
        """How many aliquots: the fixed number of portions, or as many as the window allows between
        MIN_ and MAX_DROPWISE_ALIQUOTS (docs/compiler.md); None after reporting why none fit."""
        smallest = available[0].min_ul if available else self.deck.smallest_min_ul
        if spread.portions is not None:
            n = spread.portions
            if spread.vmin / n < smallest:
                self.error(
                    step,
                    rest,
                    codes.DF517,
                    f"{n} portions of {spread.vmin:.2f} µL are {spread.vmin / n:.2f} µL each, below the smallest volume this deck's tips handle ({smallest:g} µL)",
                    "use fewer portions or a more dilute stock",
                )
                return None
            return n
        largest = self.deck.largest_tip.max_ul if self.deck.largest_tip else spread.vmax
        n_by_volume = (
            int(math.floor(spread.vmin / smallest + 1e-9))
            if smallest > 0
            else MAX_DROPWISE_ALIQUOTS
        )
        if n_by_volume < 2:
            self.error(
                step,
                rest,
                codes.DF604,
                f"{spread.vmin:.2f} µL per well is too little to add dropwise: an aliquot must be at least {smallest:g} µL",
                "use a more dilute stock so the volume can be split, or drop 'dropwise'",
            )
            return None
        n_needed_for_tip = math.ceil(spread.vmax / largest - 1e-9)
        n_min = min(max(min(MIN_DROPWISE_ALIQUOTS, n_by_volume), n_needed_for_tip), n_by_volume)
        r = self.spread_round_s(step, spread, available, n_min)
        duration = max(spread.lo, n_min * r)
        if duration > spread.hi + 1e-9:
            self.infeasible(step, rest, len(spread.wells), n_min, r, spread.lo, spread.hi)
            return None
        return min(
            n_by_volume, MAX_DROPWISE_ALIQUOTS, max(n_min, int(math.floor(duration / r + 1e-9)))
        )

    def add_spread(self, step: int, spread: _Spread, rest: tuple) -> float:
        """Dropwise / portionwise: n even aliquots per well, interleaved over the plate."""
        # The smallest tip type that still has enough tips for this step sets the smallest aliquot
        # (a parked tip per library member, or one set of tips for a common reagent).
        needed = self.tips_needed(spread.per_member, spread.wells)
        available = [
            t
            for t in sorted(self.deck.tips, key=lambda t: t.max_ul)
            if self.tips.remaining(t) >= needed
        ]
        n = self.spread_count(step, spread, available, rest)
        if n is None:
            return self.now
        r = self.spread_round_s(step, spread, available, n)
        duration = max(spread.lo, n * r)
        if duration > spread.hi + 1e-9:
            self.infeasible(step, rest, len(spread.wells), n, r, spread.lo, spread.hi)
            return self.now
        tip = self.pick_tip(step, [spread.volume[w] / n for w in spread.wells], rest, needed=needed)
        if tip is None:
            return self.now
        return self.emit_spread(step, spread, tip, n, duration, r)

    def emit_spread(
        self, step: int, spread: _Spread, tip: TipType, n: int, duration: float, round_s: float
    ) -> float:
        # Aliquot k of every well starts at t0 + k·Δ (+ its group's place in the round); the last
        # round ends exactly when the window does: Δ = (D − R) / (n − 1) ≥ R because D ≥ n·R.
        interval = (duration - round_s) / (n - 1) if n > 1 else duration
        groups = self.groups(spread.wells)
        t0 = self.now
        parked: dict[int, list[str]] = {}
        held: list[str] | None = None
        end = t0
        for k in range(n):
            t = max(t0 + k * interval, end)
            for gi, group in enumerate(groups):
                channels = tip.channel_list(len(group))
                if spread.per_member:
                    if gi not in parked:
                        parked[gi] = self.tips.take(tip, len(group))
                    t = self.pick_up(t, step, tip, parked[gi], channels)
                elif held is None:
                    held = self.tips.take(tip, min(self.deck.channels, len(spread.wells)))
                    t = self.pick_up(t, step, tip, held, tip.channel_list(len(held)))
                part = [_aliquot(spread.volume[w], n, k) for w in group]
                sources = [str(spread.source[w]) for w in group]
                t = self.transfer(t, step, spread.rid, tip, group, sources, part, k + 1, n)
                for w in group:
                    self.last_addition_end[w] = t
                if spread.per_member:
                    # parked between aliquots, discarded after the last
                    t = self.drop(t, step, parked[gi], channels, None if k == n - 1 else True)
            end = t
        end = max(end, t0 + duration)  # a single-aliquot "window" still lasts the window
        if held is not None:
            end = self.drop(end, step, held, tip.channel_list(len(held)))
        return end

    def infeasible(
        self, step: int, rest: tuple, wells: int, n: int, round_s: float, lo: float, hi: float
    ) -> None:
        need = n * round_s
        channels = self.deck.channels
        self.error(
            step,
            rest,
            codes.DF601,
            f"the robot cannot add {n} aliquots to each of {wells} wells within {hi / 60:g} min: one round over the plate takes {round_s / 60:.1f} min with {channels} channel(s), so it needs {need / 60:.0f} min",
            f"allow at least {math.ceil(need / 60)} min, use fewer wells, or a deck with more channels",
        )

    def add_solid(
        self, step: int, rid: str, delivery: _Delivery, additions: list[Addition]
    ) -> float:
        mg = {a.well: a.mg or 0.0 for a in additions}
        if not mg:
            return self.now
        if delivery.dropwise is not None:
            self.error(
                step,
                ("dropwise",),
                codes.DF606,
                f"'{rid}' is a solid and cannot be added dropwise",
                "use 'portionwise: {portions: N, over: ...}'",
            )
            return self.now
        if self.chem.reagents[rid].dispense == "manual" or self.deck.powder_by_operator:
            # weighed in by hand: asked for by the protocol, or the deck's dispenser has no driver
            return self.add_solid_by_hand(step, rid, mg, delivery.portionwise)
        return self.add_solid_by_dispenser(step, rid, mg, delivery.portionwise)

    def add_solid_by_hand(
        self, step: int, rid: str, mg: dict[Well, float], portionwise: m.PortionwiseSpec | None
    ) -> float:
        """The operator weighs the solid into every well, one round over the plate per portion.

        A round takes the operator profile's set-up plus its time per well (``Timings.weigh_round_s``,
        from ``simulators/operator.yaml``); portions are spread over the protocol's window like the
        powder dispenser's, and the robot waits while the block is being weighed into.  Each round is
        one operator step whose message is the checklist: what goes into which well, done by when.
        """
        wells = sorted(mg)
        n = portionwise.portions if portionwise else 1
        round_s = self.deck.timings.weigh_round_s(len(wells))
        lo, hi = window(portionwise.over) if portionwise else (0.0, math.inf)
        duration = max(lo, n * round_s)
        if duration > hi + 1e-9:
            self.error(
                step,
                ("portionwise",),
                codes.DF602,
                f"weighing by hand, the operator needs {math.ceil(n * round_s / 60)} min for {n} portions in each of {len(wells)} wells ({round_s / 60:.0f} min per round over the plate), longer than {hi / 60:g} min",
                f"allow at least {math.ceil(n * round_s / 60)} min, use fewer portions or fewer wells",
            )
            return self.now
        interval = (duration - round_s) / (n - 1) if n > 1 else duration
        reagent = self.chem.reagents[rid]
        what = reagent.substance.name if reagent.substance else rid
        names = self.substances(rid, wells)
        end = self.now
        for k in range(n):
            t = max(self.now + k * interval, end)
            amounts = [_aliquot(mg[w], n, k) for w in wells]
            end = self.emit(
                DispensePowder(
                    id=UNNUMBERED,
                    t=t,
                    duration=round_s,
                    device=OPERATOR,
                    step=step,
                    line=self.line(step),
                    reagent=rid,
                    substances=names,
                    wells=[w.name for w in wells],
                    mg=amounts,
                    manual=True,
                    message=_weighing_checklist(
                        what, rid, self.p.vessels.labware, wells, amounts, (k + 1, n), t + round_s
                    ),
                    aliquot=k + 1 if n > 1 else None,
                    aliquots=n if n > 1 else None,
                )
            )
        for w in wells:
            self.last_addition_end[w] = end
        return max(end, self.now + duration)

    def add_solid_by_dispenser(
        self, step: int, rid: str, mg: dict[Well, float], portionwise: m.PortionwiseSpec | None
    ) -> float:
        device = self.deck.powder_dispenser
        if device is None:
            self.error(
                step,
                ("reagent",),
                codes.DF515,
                f"'{rid}' is dispensed as a powder but the deck has no powder dispenser",
                "declare it 'solid: {dispense: manual}' so the operator weighs it in",
            )
            return self.now
        wells = sorted(mg)
        n = portionwise.portions if portionwise else 1
        tm = self.deck.timings

        def dose_time(w: Well) -> float:
            return tm.powder_dose_s + tm.powder_per_mg_s * mg[w] / n

        round_s = sum(dose_time(w) for w in wells)
        lo, hi = window(portionwise.over) if portionwise else (0.0, math.inf)
        duration = max(lo, n * round_s)
        if duration > hi + 1e-9:
            self.error(
                step,
                ("portionwise",),
                codes.DF602,
                f"the powder dispenser needs {math.ceil(n * round_s / 60)} min for {n} portions in each of {len(wells)} wells ({round_s / 60:.1f} min per round), longer than {hi / 60:g} min",
                f"allow at least {math.ceil(n * round_s / 60)} min, use fewer portions or fewer wells",
            )
            return self.now
        interval = (duration - round_s) / (n - 1) if n > 1 else duration
        end = self.now
        for k in range(n):
            t = max(self.now + k * interval, end)
            for w in wells:
                t = self.emit(
                    DispensePowder(
                        id=UNNUMBERED,
                        t=t,
                        duration=dose_time(w),
                        device=device,
                        step=step,
                        line=self.line(step),
                        reagent=rid,
                        substances=self.substances(rid, [w]),
                        wells=[w.name],
                        mg=[_aliquot(mg[w], n, k)],
                        aliquot=k + 1 if n > 1 else None,
                        aliquots=n if n > 1 else None,
                    )
                )
                self.last_addition_end[w] = t
            end = t
        return max(end, self.now + duration)

    # ------------------------------------------------------------------ samples

    def sample_times(self, params: m.SampleParams, span: float) -> list[float]:
        if params.at:
            return [q.value for q in params.at]
        assert params.every is not None  # the model requires one of 'at' and 'every'
        every = params.every.value
        return [every * k for k in range(1, int(span // every) + 1)]

    def take_samples(self, step: int, params: m.SampleParams) -> None:
        prev = self.steps[-1] if self.steps else None
        if prev is None:
            self.error(
                step,
                (),
                codes.DF604,
                "a sample step samples during the previous step, but there is none",
                "put the sample step after a stir or hold",
            )
            return
        span = prev.end - prev.start
        times = self.sample_times(params, span)
        target = self.deck.labware.get(params.into)
        if target is None:
            self.error(
                step,
                ("into",),
                codes.DF510,
                f"'{params.into}' is not on the deck",
                f"labware on this deck: {', '.join(sorted(self.deck.labware))}",
            )
            return
        if target.role != "samples":
            # the reaction block, a reservoir, a rack: samples would land in wells that hold
            # something else (into the reaction block: the neighbouring column's reactions)
            plates = [lw.name for lw in self.deck.labware.values() if lw.role == "samples"]
            self.error(
                step,
                ("into",),
                codes.DF527,
                f"'{params.into}' is the deck's {target.role.replace('_', ' ')} labware, not a sample plate",
                f"sample into {' or '.join(repr(p) for p in plates)}"
                if plates
                else "this deck layout has no labware with role 'samples'",
            )
            return
        wells = list(params.wells or self.chem.wells)
        capacity = target.rows * target.columns
        needed = len(wells) * len(times)
        if self.sample_wells_used + needed > capacity:
            self.error(
                step,
                ("into",),
                codes.DF523,
                f"{len(times)} sample(s) of {len(wells)} wells need {needed} positions but '{params.into}' has {capacity - self.sample_wells_used} left",
                "sample fewer time points or fewer wells",
            )
            return
        tip = self.pick_tip(
            step, [params.volume.value], ("volume",), needed=len(wells) * len(times)
        )
        if tip is None:
            return
        # the liquid handler cannot sample while it still works on the previous step (an
        # add_solvent's tips are still on): a sample waits until it is free
        last_end = max(
            (op.end for op in self.ops if op.device == LIQUID_HANDLER), default=-math.inf
        )
        previous_start = -math.inf
        for at in times:
            if at > span + 1e-9:
                self.error(
                    step,
                    ("at",) if params.at else ("every",),
                    codes.DF604,
                    f"a sample at {at / 60:g} min falls after the previous step ends ({span / 60:g} min)",
                    "sample within the step's duration",
                )
                return
            t = prev.start + at
            if t < last_end and previous_start == -math.inf:
                t = last_end  # the first sample: after the liquid handler's last operation
            if t < last_end:
                interval = t - previous_start
                self.error(
                    step,
                    ("every",) if params.every else ("at",),
                    codes.DF604,
                    f"taking {len(wells)} samples takes {(last_end - previous_start) / 60:.1f} min, longer than the {interval / 60:.1f} min until the next sample",
                    "sample less often or fewer wells",
                )
                return
            previous_start = t
            last_end = self.sample_round(step, params, t, tip, target.rows, wells)
        # the next step needs the liquid handler after the last sample (a sample after an
        # add_solvent ends after that step did)
        self.now = max(self.now, last_end)

    def sample_round(
        self,
        step: int,
        params: m.SampleParams,
        t: float,
        tip: TipType,
        rows: int,
        wells: list[Well],
    ) -> float:
        """One time point: every well sampled, column by column, into the next free positions."""
        for group in self.groups(wells):
            channels = tip.channel_list(len(group))
            spots = self.tips.take(tip, len(group))
            into = []
            for _ in group:
                i = self.sample_wells_used
                into.append(f"{params.into}:{row_letter(i % rows)}{i // rows + 1}")
                self.sample_wells_used += 1
            t = self.pick_up(t, step, tip, spots, channels)
            vols = [params.volume.value] * len(group)
            t = self.emit(
                Sample(
                    id=UNNUMBERED,
                    t=t,
                    # a sample is drawn from the reaction mixture: the robot's default parameters
                    duration=self.t_aspirate(vols, tip, None) + self.t_dispense(vols, tip, None),
                    device=LIQUID_HANDLER,
                    step=step,
                    line=self.line(step),
                    channels=channels,
                    wells=[w.name for w in group],
                    volumes_uL=[r3(v) for v in vols],
                    into=params.into,
                    message=",".join(into),
                )
            )
            t = self.drop(t, step, spots, channels)
            for w in group:
                self.sampled_ul[w] = self.sampled_ul.get(w, 0.0) + params.volume.value
        return t

    # ------------------------------------------------------------------ the steps

    def run(self) -> None:
        self.temperature = self.deck.ambient_c
        for i, step in enumerate(self.p.steps):
            kind, params = m.step_params(step)
            start = self.now
            detail = self.lower(i, params)
            end = self.now
            if isinstance(params, m.SampleParams):
                # samples are taken during the step before: the summary spans the samples, not
                # the instant after that step (the step table showed them after the stir)
                taken = [op for op in self.ops if op.step == i]
                if taken:
                    start = min(op.t for op in taken)
                    end = max(op.end for op in taken)
            self.steps.append(
                StepSummary(
                    step=i,
                    kind=kind,
                    line=self.line(i),
                    start=r3(start),
                    end=r3(end),
                    detail=detail,
                )
            )

    def lower(self, step: int, params: m.StepParams) -> str | None:
        """Schedule one step's operations from ``self.now`` on and move ``self.now`` to its end;
        returns the detail for the step's summary, if any."""
        match params:
            case m.AddParams():
                self.lower_add(step, params)
            case m.AddSolventParams():
                self.lower_add_solvent(step, params)
            case m.QuenchParams():
                self.lower_quench(step, params)
            case m.AdjustPhParams():
                return self.lower_adjust_ph(step, params)
            case m.TemperatureChangeParams():
                self.lower_temperature_change(step, params)
            case m.StirParams():
                self.lower_stir(step, params)
            case m.HoldParams():
                self.lower_hold(step, params)
            case m.RefluxParams():
                return self.lower_reflux(step, params)
            case m.WaitParams():
                self.now = self.wait(step, params.duration.value, CLOCK)
            case m.OffdeckParams(vent=True):
                duration = params.duration.value if params.duration is not None else 0.0
                self.now = self.set_closure(step, "vented", duration, params.message)
            case m.OffdeckParams():
                duration = params.duration.value if params.duration is not None else 0.0
                self.now = self.prompt(step, duration, params.message)
            case m.SealParams() | m.VentParams() | m.UnsealParams():
                self.lower_closure(step, params)
            case m.StageParams() | m.PlaceParams():
                self.lower_setup(step, params)
            case m.SampleParams():
                # samples are taken during the previous step: the clock does not move
                self.take_samples(step, params)
        return None

    def lower_add(self, step: int, params: m.AddParams) -> None:
        delivery = _Delivery(params.dropwise, params.portionwise, params.keep_below)
        additions = self.additions_of(step, params.reagent)
        self.now = self.add_reagent(step, params.reagent, delivery, additions)

    def lower_add_solvent(self, step: int, params: m.AddSolventParams) -> None:
        rid = f"{SOLVENT_PREFIX}{params.solvent}"
        additions = self.additions_of(step, rid)
        if not additions:
            return
        self.now = self.add_at_once(
            step,
            rid,
            sorted({a.well for a in additions}),
            {a.well: a.ul for a in additions},
            self.placement.sources.get(rid, {}),
            False,
        )

    def lower_quench(self, step: int, params: m.QuenchParams) -> None:
        additions = self.additions_of(step, params.reagent)
        end = self.add_reagent(step, params.reagent, _Delivery(params.dropwise), additions)
        # each well's reaction ends when the quench reaches it (one quench per stage)
        starts: dict[str, float] = {}
        for op in self.ops:
            if op.step == step and isinstance(op, (Dispense, DispensePowder)):
                for w in op.wells:
                    starts.setdefault(w, op.t)
        for a in additions:
            self.quench_starts.setdefault(a.well, []).append(starts.get(a.well.name, self.now))
        if params.stir is not None:
            end = self.shake(step, end, resolve_duration(params.stir, self.policy), None, ("stir",))
        self.now = end

    def lower_adjust_ph(self, step: int, params: m.AdjustPhParams) -> str:
        additions = self.additions_of(step, params.reagent)
        self.now = self.add_reagent(step, params.reagent, _Delivery(), additions)
        low, high = params.target
        return f"target pH {low:g}" + (f"-{high:g}" if high != low else "")

    def lower_temperature_change(self, step: int, params: m.TemperatureChangeParams) -> None:
        target = resolve_temperature(params.to)
        over = params.over.value if params.over else None
        self.now = self.change_temperature(step, target, over)
        if params.then_stir is not None:
            duration = resolve_duration(params.then_stir, self.policy)
            self.now = self.shake(step, self.now, duration, None, ("then_stir",))

    def reach_temperature(self, step: int, temperature: Quantity | None) -> None:
        """Stir and hold may name their temperature: change to it first when the block is not there."""
        if temperature is not None and abs(temperature.value - self.temperature) > 1e-9:
            self.now = self.change_temperature(step, temperature.value, None, ("temperature",))

    def lower_stir(self, step: int, params: m.StirParams) -> None:
        self.reach_temperature(step, params.temperature)
        self.now = self.shake(
            step,
            self.now,
            resolve_duration(params.duration, self.policy),
            params.speed.value if params.speed else None,
            ("duration",),
        )

    def lower_hold(self, step: int, params: m.HoldParams) -> None:
        self.reach_temperature(step, params.temperature)
        duration = resolve_duration(params.duration, self.policy)
        self.now = self.wait(step, duration, self.block_device)

    def lower_reflux(self, step: int, params: m.RefluxParams) -> str | None:
        bp = self.reflux_temperature(step)
        if bp is None:
            return None
        self.now = self.change_temperature(step, bp, None, ("duration",))
        duration = resolve_duration(params.duration, self.policy)
        if self.module is not None and self.module.can_shake:
            self.now = self.shake(step, self.now, duration, None, ("duration",))
        else:
            self.now = self.wait(step, duration, self.block_device)
        return f"reflux at {bp:.1f} °C"

    def lower_stage(self, step: int, params: m.StageParams) -> None:
        self.sampled_ul = {}  # the operator re-plates: earlier samples left with the old contents
        limiting = params.scale.limiting
        reagent = self.p.reagents.get(limiting)
        what = reagent.name if reagent and reagent.name else limiting
        vessels = self.p.vessels.labware
        if reagent is not None and reagent.preloaded:
            message = f"Stage '{params.name}': place {params.scale.amount.text} of {what} in each well of {vessels}"
        else:
            # the robot dispenses the limiting reagent itself: the operator only gives it clean,
            # open vials (telling them to place it too doubled the amount, issue 15)
            message = f"Stage '{params.name}': put clean, empty vials in {vessels}; the robot adds {params.scale.amount.text} of {what} to each from its stock"
        fresh = self.restocked_at(step)
        if fresh:
            # a stock an earlier stage drew on has stood open since: the operator sets it out
            # again, freshly made (the evaporation model counts from here, DF610)
            message += f"; refill with fresh stock: {', '.join(fresh)}"
        self.now = self.prompt(step, 0.0, message, refill=fresh or None)

    def restocked_at(self, step: int) -> list[str]:
        """The source positions an earlier stage drew on that the stage starting at ``step``
        draws on again."""
        stages = self.chem.stages
        index = next(i for i, st in enumerate(stages) if st.first_step == step)
        end = stages[index + 1].first_step if index + 1 < len(stages) else len(self.p.steps)
        used_before = {ref for op in self.ops if isinstance(op, Aspirate) for ref in op.wells}
        again = set()
        for i in range(step, end):
            for a in self.chem.additions_for_step(i):
                spot = self.placement.sources.get(a.reagent, {}).get(a.well)
                if spot is not None and str(spot) in used_before:
                    again.add(str(spot))
        return sorted(again)

    def lower_setup(self, step: int, params: m.StageParams | m.PlaceParams) -> None:
        """The operator sets the deck up: a new stage's vials, or stocks put out now."""
        match params:
            case m.StageParams():
                self.lower_stage(step, params)
            case m.PlaceParams():
                self.lower_place(step, params)

    def lower_place(self, step: int, params: m.PlaceParams) -> None:
        """The operator puts the named stocks on the deck now (DF612 when nothing is to put)."""
        where = []
        for j, rid in enumerate(params.reagents):
            spots = sorted({str(spot) for spot in self.placement.sources.get(rid, {}).values()})
            if not spots:
                self.error(
                    step,
                    ("reagents", j),
                    codes.DF612,
                    f"'{rid}' has no stock or neat liquid on the deck to put out",
                    "name only reagents the robot pipettes from a stock, neat liquid or solvent "
                    "(solids are weighed in, preloaded reagents are in the wells)",
                )
                continue
            self.placed.setdefault(rid, (self.now, step))
            labware = sorted({spot.partition(":")[0] for spot in spots})
            where.append(
                f"{rid} ({len(spots)} position{'s' if len(spots) > 1 else ''} in "
                f"{', '.join(labware)})"
            )
        message = params.message or f"Put out the freshly made stocks of {'; '.join(where)}"
        self.now = self.prompt(step, 0.0, message)

    # ------------------------------------------------------------------ vessel closure

    def lower_closure(
        self, step: int, params: m.SealParams | m.VentParams | m.UnsealParams
    ) -> None:
        before = next((op.closure for op in reversed(self.ops) if isinstance(op, SetClosure)), None)
        change = (before or "open", params.closure)
        n = len(self.p.vessels.wells)
        if params.duration is not None:
            duration = params.duration.value
        else:
            duration = n * CLOSURE_SECONDS_PER_VIAL.get(change, 0.0)
        message = params.message or closure_message(change, n, self.p.vessels.labware)
        self.now = self.set_closure(step, params.closure, duration, message)

    def set_closure(self, step: int, closure: m.Closure, duration: float, message: str) -> float:
        return self.emit(
            SetClosure(
                id=UNNUMBERED,
                t=self.now,
                duration=duration,
                device=OPERATOR,
                step=step,
                line=self.line(step),
                closure=closure,
                into=self.p.vessels.labware,
                message=message,
            )
        )

    def reflux_temperature(self, step: int) -> float | None:
        from diazflow.chemistry.checks import reflux_temperature

        solvent = self.chem.stage_of_step(step).solvent
        # a mixture refluxes at its lowest-boiling component; with no boiling point the binding
        # stage has reported DF308 (chemistry.checks.temperature_checks) and no plan is kept
        return reflux_temperature(solvent)


def _known_liquid_hint(liquid: str) -> str:
    close = did_you_mean(liquid, known_liquids())
    hint = "use a liquid diazflow knows the properties of (docs/liquid-classes.md)"
    return f"did you mean '{close}'? Otherwise {hint}" if close else hint


# The operator's time per vial for a closure step without a duration, by (before, after).
# Estimates for 2 mL vials in a 96-position block inside a glove-box enclosure: screwing on a septum
# cap takes about 5 s a vial (96 vials: 8 min); pushing a vent needle through a septum, or
# unscrewing a cap (with its needle), about 3 s; pulling a needle out about 2 s.
CLOSURE_SECONDS_PER_VIAL: Mapping[tuple[m.Closure, m.Closure], float] = {
    ("open", "capped"): 5.0,
    ("open", "vented"): 8.0,
    ("capped", "vented"): 3.0,
    ("vented", "capped"): 2.0,
    ("capped", "open"): 3.0,
    ("vented", "open"): 3.0,
}


def closure_message(change: tuple[m.Closure, m.Closure], n: int, labware: str) -> str:
    """What the operator is asked to do at a closure step that gives no message."""
    vials = f"the {n} reaction vial(s) of {labware}"
    match change:
        case (before, after) if before == after:
            return f"Check that {vials} are {after}"
        case ("open", "capped"):
            return f"Cap {vials} with septum caps"
        case ("open", "vented"):
            return f"Cap {vials} with septum caps and push a vent needle through each cap"
        case ("capped", "vented"):
            return f"Push a vent needle through the cap of each of {vials}"
        case ("vented", "capped"):
            return f"Pull the vent needles out of the caps of {vials}"
        case _:
            return f"Take the caps off {vials}"


def _tips_taking(tips, lo: float, hi: float) -> list[TipType]:
    """Tip types, smallest first, that pipette every volume between ``lo`` and ``hi`` µL."""
    return [
        t
        for t in sorted(tips, key=lambda t: t.max_ul)
        if t.min_ul <= lo + 1e-9 and hi <= t.max_ul + 1e-9
    ]


def _aliquot(total: float, n: int, k: int) -> float:
    """Aliquot k (0-based) of n: equal parts rounded to 1 nL, the last takes the remainder, so the
    rounded aliquots in the plan add up exactly to the rounded amount in ``wells`` (spec §6)."""
    part = r3(total / n)
    return part if k < n - 1 else r3(r3(total) - part * (n - 1))


def _plan_clock(seconds: float) -> str:
    """A time in the plan as the operator reads it: hours and minutes after the start."""
    minutes = math.ceil(seconds / 60 - 1e-9)
    return f"T+{minutes // 60}:{minutes % 60:02d}"


def _weighing_checklist(
    what: str,
    rid: str,
    labware: str,
    wells: list[Well],
    amounts: list[float],
    portion: tuple[int, int],
    done_by: float,
) -> str:
    """The operator's checklist for one round of weighing: what, into which well, by when."""
    k, n = portion
    part = f" (portion {k} of {n})" if n > 1 else ""
    if len(set(amounts)) == 1:
        into = f"{amounts[0]:.2f} mg into each of {_well_set(wells)}"
    else:
        into = "; ".join(f"{w.name} {a:.2f} mg" for w, a in zip(wells, amounts, strict=True))
    return (
        f"Weigh {what} ({rid}) by hand{part} into {labware}, done by {_plan_clock(done_by)}: "
        f"{into}, {sum(amounts):.1f} mg in all. Confirm when every well has its portion."
    )


def _well_set(wells: list[Well]) -> str:
    """``A1:H12 (96 wells)`` when the wells fill that rectangle, else every name."""
    rows = {w.row for w in wells}
    columns = {w.column for w in wells}
    full = (
        len(wells)
        == len(rows) * len(columns)
        == (max(rows) - min(rows) + 1) * (max(columns) - min(columns) + 1)
    )
    if full and len(wells) > 1:
        first = Well(min(columns), min(rows))
        last = Well(max(columns), max(rows))
        return f"{first.name}:{last.name} ({len(wells)} wells)"
    return ", ".join(w.name for w in wells)


def _keep_below_hint(module: ModuleFacts | None, limit: float) -> str:
    """Cool 5 °C below the limit, but not below what the block reaches (its floor)."""
    if module is None or not module.controls_temperature:
        return (
            f"add 'cool: {{to: {limit - 5:g} degC}}' before this step, on a deck whose block cools"
        )
    target = max(limit - 5, module.min_c)
    if target + module.settle_tolerance_c >= limit:
        return (
            f"{module.name} goes down to {module.min_c:g} °C (±{module.settle_tolerance_c:g} °C) and "
            f"cannot keep the vials below {limit:g} °C: raise keep_below, or add in an ice bath "
            "as an offdeck step"
        )
    return f"add 'cool: {{to: {target:g} degC}}' before this step"


def _range_hint(module: ModuleFacts, target: float) -> str:
    # The floors and ceilings are the real devices' (simulators/*.yaml cite the vendors): no
    # shipped deck goes below 4 °C or above 105 °C, so the useful advice is what a chemist does.
    if target < module.min_c:
        warmest = module.min_c + module.settle_tolerance_c
        ice = (
            f" (it holds {module.min_c:g} ± {module.settle_tolerance_c:g} °C: an ice-bath '0 °C' kept below 5 °C is met)"
            if warmest < 5.0
            else ""
        )
        return (
            f"{module.name}'s floor is {module.min_c:g} °C and no built-in deck goes lower: run the step at "
            f"{module.min_c:g} degC if the chemistry allows it{ice}, or cool in an ice or cryo bath as "
            "an offdeck step"
        )
    return (
        f"{module.name}'s ceiling is {module.max_c:g} °C: run the step at {module.max_c:g} degC or "
        "lower (a sealed vial does not need the solvent's boiling point), or use a hotter module"
    )


# --------------------------------------------------------------------------- assembling the plan


@dataclass
class _Total:
    """One reagent's amounts in one well, summed over the plan."""

    substance: str
    umol: float | None = None
    ul: float = 0.0
    mg: float | None = None
    solutes: dict[str, float] = field(default_factory=dict)  # a premixed stock's others: µmol


def _well_plans(s: _Scheduler, makespan: float) -> dict[str, WellPlan]:
    out: dict[str, WellPlan] = {}
    # each well's reaction starts when its last reagent (not the quench) is in
    quench_steps = {
        i for i, st in enumerate(s.p.steps) if isinstance(m.step_params(st)[1], m.QuenchParams)
    }
    last_add: dict[str, float] = {}
    for op in s.ops:
        if isinstance(op, (Dispense, DispensePowder)) and op.step not in quench_steps:
            for name in op.wells:
                if last_add.get(name, -1.0) < op.end:
                    last_add[name] = op.end
    per_well: dict[Well, dict[str, _Total]] = {}
    last_stage_start = s.chem.stages[-1].first_step  # a stage starts from emptied wells
    in_last_stage: dict[Well, float] = {}
    for a in s.chem.additions:
        total = per_well.setdefault(a.well, {}).setdefault(a.reagent, _Total(a.substance))
        if a.umol is not None:
            total.umol = (total.umol or 0.0) + a.umol
        # each step's dispenses add up to that step's amount rounded to 1 nL (see _aliquot), so
        # the plan sums rounded per-step amounts: plan, dispenses and the simulated deck agree
        total.ul += r3(a.ul)
        if a.step >= last_stage_start:
            in_last_stage[a.well] = in_last_stage.get(a.well, 0.0) + r3(a.ul)
        if a.mg is not None:
            total.mg = (total.mg or 0.0) + a.mg
        for name, umol in a.co_umol:
            total.solutes[name] = total.solutes.get(name, 0.0) + umol
    design = s.loaded.design.by_well if s.loaded.design is not None else {}
    for well in s.chem.wells:
        reagents = {}
        for rid, e in sorted(per_well.get(well, {}).items()):
            reagents[rid] = WellAmount(
                umol=r3(e.umol) if e.umol is not None else None,
                uL=r3(e.ul) if e.ul else None,
                mg=r3(e.mg) if e.mg is not None else None,
                substance=e.substance,
                solutes={k: r3(v) for k, v in e.solutes.items()} if e.solutes else None,
            )
        reaction_time = None
        if well.name in last_add:
            # until the first quench after the last addition: an earlier stage's quench does not
            # end the reaction of a later stage (that made reaction times negative)
            ends = [q for q in s.quench_starts.get(well, []) if q >= last_add[well.name] - 1e-9]
            reaction_time = r3(min(ends, default=makespan) - last_add[well.name])
        out[well.name] = WellPlan(
            reagents=reagents,
            final_volume_uL=r3(in_last_stage.get(well, 0.0) - s.sampled_ul.get(well, 0.0)),
            max_volume_uL=r3(s.chem.max_volume(well)),
            reaction_time_s=reaction_time,
            condition_id=design[well].id if well in design else None,
            conditions=dict(design[well].levels) if well in design else None,
        )
    return out


def _stocks(s: _Scheduler) -> list[StockPlan]:
    out: list[StockPlan] = []
    for (rid, spot), (name, total) in sorted(
        s.placement.demand.items(),
        key=lambda kv: (kv[0][1].labware, _well_order(kv[0][1].well), kv[0][0]),
    ):
        lw = s.deck.labware.get(spot.labware)
        position = f"{spot.labware}:{spot.well}"
        dead = s.deck.reservoir_dead_ul.get(position, lw.dead_volume_ul if lw else 0.0)
        volume = total + dead
        reagent = s.chem.reagents.get(rid)
        if reagent is None:  # a solvent top-up
            out.append(
                StockPlan(
                    reagent=rid,
                    substance=name,
                    form="solvent",
                    location=position,
                    volume_uL=r3(volume),
                    dead_volume_uL=r3(dead),
                )
            )
            continue
        mw = None
        if reagent.library:
            member = next(
                (
                    sub
                    for (lib, w), sub in s.chem.members.items()
                    if lib == reagent.library and sub.name == name
                ),
                None,
            )
            mw = member.mw if member else None
        elif reagent.substance:
            mw = reagent.substance.mw
        weigh = solvent_ul = measure = None
        concentration = reagent.concentration_for(name)
        if reagent.form == "stock" and concentration and mw and not reagent.supplied:
            # µmol → mg of the substance; of a 95 % material, 1/0.95 of that
            weigh = concentration * volume * mw / 1000.0 / reagent.purity
            solvent_ul = volume
            if reagent.solute_density_g_ml:
                measure = weigh / reagent.solute_density_g_ml  # mg / (g/mL) = µL
                solvent_ul = volume - measure  # about: volumes of mixing liquids do not add
        co_solutes = (
            _co_solute_plans(reagent, volume)
            if reagent.form == "stock" and not reagent.supplied
            else []
        )
        co_liquid_ul = sum(c.measure_uL or 0.0 for c in co_solutes)  # room they take up
        out.append(
            StockPlan(
                reagent=rid,
                substance=name,
                form="neat"
                if reagent.form == "neat"
                else "supplied"
                if reagent.supplied
                else "stock",
                solvent=reagent.solvent,
                concentration_M=concentration,
                purity=reagent.purity if reagent.purity < 1.0 else None,
                location=position,
                volume_uL=r3(volume),
                dead_volume_uL=r3(dead),
                weigh_mg=r3(weigh) if weigh is not None else None,
                measure_uL=r3(measure) if measure is not None else None,
                solvent_uL=r3(solvent_ul - co_liquid_ul) if solvent_ul is not None else None,
                solutes=co_solutes or None,
            )
        )
    # solids: what to weigh for the powder dispenser or by hand
    totals: dict[str, float] = {}
    for a in s.chem.additions:
        if a.mg:
            totals[a.reagent] = totals.get(a.reagent, 0.0) + a.mg
    for rid, mg in sorted(totals.items()):
        reagent = s.chem.reagents[rid]
        # an operator-run dispenser is no machine to load: the operator weighs each well
        where = (
            (s.deck.powder_dispenser or "powder_dispenser")
            if reagent.dispense == "powder" and not s.deck.powder_by_operator
            else "operator (weigh into each well)"
        )
        out.append(
            StockPlan(
                reagent=rid,
                substance=reagent.substance.name if reagent.substance else rid,
                form="solid",
                location=where,
                volume_uL=0.0,
                dead_volume_uL=0.0,
                weigh_mg=r3(mg),
                purity=reagent.purity if reagent.purity < 1.0 else None,
            )
        )
    return out


def _co_solute_plans(reagent: ResolvedReagent, volume_ul: float) -> list[StockSolutePlan]:
    """What to weigh (or measure) of each of a premixed stock's other solutes for its volume."""
    out = []
    for cs in reagent.co_solutes:
        if cs.concentration_m is None:
            continue
        weigh = measure = None
        if cs.substance.mw:
            # µmol → mg of the compound; of a 95 % material, 1/0.95 of that
            weigh = cs.concentration_m * volume_ul * cs.substance.mw / 1000.0 / cs.purity
            if cs.liquid_density_g_ml:
                measure = weigh / cs.liquid_density_g_ml  # mg / (g/mL) = µL
        out.append(
            StockSolutePlan(
                solute=cs.id,
                substance=cs.substance.name,
                concentration_M=cs.concentration_m,
                weigh_mg=r3(weigh) if weigh is not None else None,
                measure_uL=r3(measure) if measure is not None else None,
                purity=cs.purity if cs.purity < 1.0 else None,
            )
        )
    return out


def _with_first_use(s: _Scheduler, stocks: list[StockPlan]) -> list[StockPlan]:
    """Each stock with when the run first draws on it, the stage that does, and when it is put
    out: at its 'place:' step, else at the start of that stage (DF612 when the run draws on it
    before its 'place:' step)."""
    first: dict[str, Operation] = {}
    for op in sorted(s.ops, key=lambda o: o.t):
        match op:
            case Aspirate():
                for ref in op.wells:
                    first.setdefault(ref, op)
            case DispensePowder():
                first.setdefault(f"powder:{op.reagent}", op)
            case _:
                pass
    out = []
    for stock in stocks:
        key = f"powder:{stock.reagent}" if stock.form == "solid" else stock.location
        used = first.get(key)
        if used is None:
            out.append(stock)
            continue
        stage = s.chem.stage_of_step(used.step).index
        placed = s.placed.get(stock.reagent)
        if placed is None:
            placed_s = s.steps[s.chem.stages[stage].first_step].start if stage else 0.0
        else:
            placed_s = placed[0]
        update = {"stage": stage, "first_use_s": r3(used.t), "placed_s": r3(placed_s)}
        out.append(stock.model_copy(update=update))
    return out


def _check_drawn_after_placed(s: _Scheduler) -> None:
    """DF612 for a reagent the run draws on before its 'place:' step puts it out."""
    first: dict[str, Aspirate] = {}
    for op in s.ops:
        if isinstance(op, Aspirate) and (op.reagent not in first or op.t < first[op.reagent].t):
            first[op.reagent] = op
    for rid, (placed_s, place_step) in sorted(s.placed.items()):
        used = first.get(rid)
        if used is None or used.t >= placed_s:
            continue
        params = m.step_params(s.p.steps[place_step])[1]
        assert isinstance(params, m.PlaceParams)
        s.error(
            place_step,
            ("reagents", params.reagents.index(rid)),
            codes.DF612,
            f"'{rid}' is put out here, but step {used.step + 1} (line {used.line}) draws on it "
            "before",
            "move the 'place:' step before the first step that uses the reagent",
        )


def _well_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    letters = "".join(ch for ch in name if ch.isalpha())
    return (int(digits) if digits else 0, letters)


def schedule(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    deck: DeckFacts,
    placement: Placement,
    deck_display: str,
) -> tuple[Plan | None, list[Diagnostic]]:
    s = _Scheduler(loaded, chem, deck, placement, loaded.reporter())
    s.run()
    _check_drawn_after_placed(s)
    for name in sorted(s.tips.exhausted):
        tip = next(t for t in deck.tips if t.name == name)
        s.reporter.error(
            ("steps",),
            codes.DF520,
            f"the run needs {s.tips.next_index[name]} {name} tips but the deck holds {len(tip.spots)}",
            "add tip racks of this type to the deck layout, use fewer wells, or fewer aliquots/samples that need these tips",
            key=True,
        )
    if s.reporter.has_errors:
        return None, s.reporter.diagnostics
    s.warnings.extend(_single_channel_notes(s))
    ops = sorted(s.ops, key=lambda o: (o.t, _device_order(o.device), o.step))
    # round start and end (not the duration) so back-to-back operations stay back to back
    operations: list[Operation] = [
        o.model_copy(update={"id": i, "t": r3(o.t), "duration": r3(r3(o.end) - r3(o.t))})
        for i, o in enumerate(ops)
    ]
    stocks = _with_first_use(s, _stocks(s))
    operations = assign_heights(operations, stocks, deck, loaded.protocol.vessels.labware)
    makespan = max((op.end for op in operations), default=0.0)
    lower_bound = compute_lower_bound(operations, loaded.protocol, s.policy)
    plan = Plan(
        protocol=loaded.path,
        deck=deck_display,
        vessel_labware=loaded.protocol.vessels.labware,
        makespan_s=r3(makespan),
        lower_bound_s=r3(lower_bound),
        wells=_well_plans(s, makespan),
        stocks=stocks,
        tips_used=s.tips.used(),
        steps=s.steps,
        warnings=sorted(set(s.warnings)),
        operations=operations,
    )
    return plan, s.reporter.diagnostics


def _single_channel_notes(s: _Scheduler) -> list[str]:
    """What compacting a library to one source well per member costs (placement.py)."""
    notes = []
    for rid in sorted(s.placement.single_channel):
        spots = {spot for (r, spot) in s.placement.demand if r == rid}
        notes.append(
            f"'{rid}': the building-block plates have no room for an 8-channel source column per "
            f"reaction column, so its stocks sit in {len(spots)} wells, one per member, and each "
            f"channel aspirates on its own: +{s.single_channel_s.get(rid, 0.0) / 60:.1f} min"
        )
    return notes


def compute_lower_bound(operations: list[Operation], protocol: m.Protocol, policy: str) -> float:
    """A time no schedule of these operations can beat, computed from the operations alone.

    Two bounds, the larger wins: (1) the liquid handler's total busy time; (2) the chain of steps —
    steps follow one another over the plate, and within a step each device works sequentially, so a
    step takes at least its busiest device's time, and a dropwise/portionwise addition at least the
    lower end of its window.  Samples are left out of the chain: they run during the previous step.
    """
    lh_busy = sum(op.duration for op in operations if op.device == LIQUID_HANDLER)
    busy: dict[int, dict[str, float]] = {}
    for op in operations:
        busy.setdefault(op.step, {}).setdefault(op.device, 0.0)
        busy[op.step][op.device] += op.duration
    chain = 0.0
    for index, step in enumerate(protocol.steps):
        _, params = m.step_params(step)
        if isinstance(params, m.SampleParams):
            continue
        step_min = max(busy.get(index, {}).values(), default=0.0)
        spread = _spread_window(params)
        if spread is not None:
            step_min = max(step_min, window(spread)[0])
        chain += step_min
    return max(lh_busy, chain)


def _spread_window(params: m.StepParams) -> Quantity | QuantityRange | None:
    """The window a dropwise or portionwise addition is spread over, if the step is one."""
    match params:
        case m.AddParams(dropwise=None, portionwise=m.PortionwiseSpec(over=over)):
            return over
        case m.AddParams(dropwise=dropwise) | m.QuenchParams(dropwise=dropwise):
            return dropwise
        case _:
            return None


def _device_order(device: str) -> int:
    return {OPERATOR: 0, LIQUID_HANDLER: 2, CLOCK: 3}.get(device, 1)
