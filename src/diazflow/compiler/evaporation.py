"""Evaporation from open liquids (DF610, DF611): how much solvent an open well loses, and what
that does to the amounts a plan delivers.

Every liquid on the deck that stands open loses solvent: the stocks in their source wells and
troughs from the moment they are put out until the last draw, and the reaction wells whenever
they are open (not capped, not vented).  The model is diffusion-limited evaporation through the
still air of the well (a Stefan tube), the rate a liquid in an open vial loses on a bench::

    molar rate = c · D · ln(P / (P − p)) / R_path

with ``c = P / (R T)`` the molar density of the gas, ``P`` ambient pressure, ``p`` the solvent's
vapour pressure at the liquid's temperature (Raoult's law over a mixture's components, each
component evaporating at its own rate), ``D`` the vapour's diffusion coefficient in air (both
from ``properties.json``: thermo's vapour pressure, Chapman-Enskog diffusivity from chemicals'
Lennard-Jones data), and ``R_path = ∫ dz / A(z)`` the diffusion resistance of the air column
from the liquid surface to the rim (``A(z)``, the well's cross-section, is the slope of
PyLabRobot's height-for-volume curve: ``deck/geometry.py``) plus the access resistance of the
opening into the room, ``1 / (4 a)`` for an opening of radius ``a`` (Brown & Escombe 1900; the
classical end correction of diffusion out of a pore).

What the model leaves out, each making the real loss larger, so the figures are a floor: air
moving over the plate (an enclosure's N2 purge, a HEPA hood, the gantry), the evaporative
cooling that slows it is ignored in the other direction (a few °C for MeOH, DCM); a volatile
solute's own loss (neat allyl bromide, a volatile amine); a vented vial's loss through its
needle (about 0.05 mm² against 50 mm² of an open vial: counted as closed).  docs/compiler.md
has the figures behind these and the shipped workflows' results.

Stocks drift because only their solvent leaves: the concentration rises by the factor the
volume falls, and every later draw delivers that much more reagent (DF610).  A reaction well
that loses more than the threshold of its volume runs more concentrated, and may run dry
(DF611).  The threshold is ``settings.drift_threshold`` (default 5 %).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.chemistry import properties
from diazflow.chemistry.checks import mole_fractions, solvent_components
from diazflow.compiler.heights import labware_and_key
from diazflow.compiler.plan import (
    Aspirate,
    Dispense,
    Plan,
    Prompt,
    Sample,
    SetClosure,
    SetTemperature,
    StockPlan,
)
from diazflow.deck.geometry import WellGeometry
from diazflow.language import models as m

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import DeckFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol

GAS_CONSTANT = 8.314462618  # J/(mol K), CODATA 2018 (exact)
AMBIENT_KPA = 101.325
RAMP_STEP_S = 600.0
"""A temperature ramp is followed in steps of this length (the rate at each step's middle)."""


# --------------------------------------------------------------------------- the physics


@dataclass(frozen=True)
class Evaporating:
    """One volatile component of a liquid: its mole fraction and what it needs for the rate."""

    props: properties.ChemicalProperties
    mole_fraction: float


@lru_cache(maxsize=256)
def liquid_components(solvent: str) -> tuple[Evaporating, ...]:
    """The components of a solvent as written (``MeCN``, ``MeOH/CHCl3 1:1`` by volume) that have
    the data to evaporate: vapour pressure, diffusivity, density and molar mass.  A component
    without them (a salt solution's water is fine; an unknown solvent is not) is left out: it
    contributes no loss, so an unknown solvent is never a false alarm (DF308 reports it)."""
    fractions = mole_fractions(solvent) or {}
    out = []
    for part in solvent_components(solvent):
        props = properties.lookup(part)
        if props is None or props.density_g_ml is None or props.mw is None:
            continue
        if not props.vapour_pressure_curve or not props.air_diffusivity_curve:
            continue
        out.append(Evaporating(props, fractions.get(part, 1.0)))
    return tuple(out)


def rate_ul_per_s_per_resistance(components: Sequence[Evaporating], celsius: float) -> float:
    """µL/s of liquid lost through a diffusion path of resistance 1 mm⁻¹ (divide by the path's
    resistance in mm⁻¹), at ``celsius``, under 1 atm of still air."""
    kelvin = celsius + 273.15
    gas_mol_per_m3 = AMBIENT_KPA * 1000.0 / (GAS_CONSTANT * kelvin)
    total = 0.0
    for c in components:
        vapour = c.props.vapour_pressure_kpa_at(celsius)
        diffusivity = c.props.air_diffusivity_cm2_s_at(celsius)
        if vapour is None or diffusivity is None:
            continue
        # at the boiling point the Stefan log diverges: boiling is DF302's business, not a rate
        partial = min(c.mole_fraction * vapour, 0.95 * AMBIENT_KPA)
        stefan = math.log(AMBIENT_KPA / (AMBIENT_KPA - partial))
        # mol/s through 1 mm⁻¹ = 1000 m⁻¹ of resistance, D in m²/s
        mol_per_s = gas_mol_per_m3 * diffusivity * 1e-4 * stefan / 1000.0
        assert c.props.mw is not None and c.props.density_g_ml is not None  # liquid_components
        total += mol_per_s * c.props.mw / c.props.density_g_ml * 1000.0  # g → mL → µL
    return total


@dataclass(frozen=True)
class DiffusionPath:
    """The air column of one kind of well: its diffusion resistance from any liquid level to the
    room, and the time integral that turns a rate into a loss.

    A level falls as ``dV/dt = -k / R(V)`` (``k``: the liquid's rate through 1 mm⁻¹), so the time
    to go from ``V`` to ``V'`` is ``(G(V) - G(V')) / k`` with ``G(V) = ∫₀^V R(v) dv``: tabulated
    once on the well's volume samples, the loss over any time is one look-up, exact to the
    table's resolution."""

    heights_mm: tuple[float, ...]  # ascending, the bottom of each section
    cumulative: tuple[float, ...]  # ∫ dz/A from the bottom up to heights_mm[i] (mm⁻¹)
    areas_mm2: tuple[float, ...]  # the cross-section of the section above heights_mm[i]
    total_mm_inv: float  # ∫ dz/A from the bottom to the rim, plus the opening's access term
    volumes_ul: tuple[float, ...]  # the well's volume samples, ascending from 0
    resistances: tuple[float, ...]  # R at each volume sample (mm⁻¹)
    integral: tuple[float, ...]  # G at each volume sample (µL·mm⁻¹)

    def resistance(self, liquid_height_mm: float) -> float:
        """mm⁻¹ from a liquid surface at this height to the room."""
        h = max(0.0, liquid_height_mm)
        i = max(0, bisect.bisect_right(self.heights_mm, h) - 1)
        below = self.cumulative[i] + (h - self.heights_mm[i]) / self.areas_mm2[i]
        return max(self.total_mm_inv - below, 1e-9)

    def _cell(self, i: int) -> tuple[float, float, float, float]:
        """(v₀, G₀, R₀, slope of R) of the volume cell starting at sample ``i``."""
        vs, rs = self.volumes_ul, self.resistances
        return vs[i], self.integral[i], rs[i], (rs[i + 1] - rs[i]) / (vs[i + 1] - vs[i])

    def _g(self, volume: float) -> float:
        """G(V): R is linear in V within a cell, so G is quadratic there (exact)."""
        i = min(max(bisect.bisect_right(self.volumes_ul, volume) - 1, 0), len(self.volumes_ul) - 2)
        v0, g0, r0, slope = self._cell(i)
        x = volume - v0
        return g0 + r0 * x + slope * x * x / 2

    def _g_inverse(self, g: float) -> float:
        i = min(max(bisect.bisect_right(self.integral, g) - 1, 0), len(self.integral) - 2)
        v0, g0, r0, slope = self._cell(i)
        dg = g - g0
        if abs(slope) < 1e-15:
            return v0 + dg / r0
        # slope/2·x² + r0·x - dg = 0, the root that starts at x = 0
        return v0 + 2 * dg / (r0 + math.sqrt(max(r0 * r0 + 2 * slope * dg, 0.0)))

    def seconds_to_lose(self, volume_ul: float, amount_ul: float, per_resistance: float) -> float:
        """How long a well of ``volume_ul`` takes to lose ``amount_ul`` (all of it at most)."""
        left = max(volume_ul - amount_ul, 0.0)
        return (self._g(volume_ul) - self._g(left)) / per_resistance

    def lost(self, volume_ul: float, per_resistance: float, seconds: float) -> float:
        """µL an open well of ``volume_ul`` loses in ``seconds`` at ``per_resistance`` µL/s
        through 1 mm⁻¹ (all of it at most)."""
        if volume_ul <= 0 or per_resistance <= 0 or seconds <= 0:
            return 0.0
        left = self._g(volume_ul) - per_resistance * seconds
        return volume_ul if left <= 0 else volume_ul - self._g_inverse(left)


@lru_cache(maxsize=64)
def diffusion_path(geometry: WellGeometry) -> DiffusionPath | None:
    """The well's diffusion path from its height-for-volume curve: the cross-section between two
    samples is ΔV/Δh (µL per mm is mm²); above the top sample the wall is taken as straight."""
    heights, areas = [], []
    vs, hs = geometry.volumes_ul, geometry.heights_mm
    for v0, v1, h0, h1 in zip(vs, vs[1:], hs, hs[1:], strict=False):
        if h1 - h0 <= 1e-9 or v1 <= v0:
            continue
        heights.append(h0)
        areas.append((v1 - v0) / (h1 - h0))
    if not areas:
        return None
    top = hs[-1]
    if geometry.depth_mm > top:
        heights.append(top)
        areas.append(areas[-1])
    cumulative = [0.0]
    for i in range(len(heights) - 1):
        cumulative.append(cumulative[-1] + (heights[i + 1] - heights[i]) / areas[i])
    rim = max(geometry.depth_mm, top)
    column = cumulative[-1] + (rim - heights[-1]) / areas[-1]
    opening_radius = math.sqrt(areas[-1] / math.pi)
    partial = DiffusionPath(
        tuple(heights),
        tuple(cumulative),
        tuple(areas),
        column + 1 / (4 * opening_radius),
        (),
        (),
        (),
    )
    # R at the volume samples, and G by the trapezoid rule (exact: R is linear in V between
    # samples, the height being linear in V there); G increases strictly, R > 0
    volumes = [v for i, v in enumerate(vs) if i == 0 or v > vs[i - 1]]
    resistances = [partial.resistance(geometry.height_of(v)) for v in volumes]
    integral = [0.0]
    for i in range(len(volumes) - 1):
        width = volumes[i + 1] - volumes[i]
        integral.append(integral[-1] + (resistances[i] + resistances[i + 1]) / 2 * width)
    return DiffusionPath(
        partial.heights_mm,
        partial.cumulative,
        partial.areas_mm2,
        partial.total_mm_inv,
        tuple(volumes),
        tuple(resistances),
        tuple(integral),
    )


def evaporated_ul(
    geometry: WellGeometry,
    components: Sequence[Evaporating],
    volume_ul: float,
    celsius: float,
    seconds: float,
) -> float:
    """The liquid an open well of ``volume_ul`` loses in ``seconds`` at ``celsius`` (at most
    all of it)."""
    path = diffusion_path(geometry)
    if path is None:
        return 0.0
    return path.lost(volume_ul, rate_ul_per_s_per_resistance(components, celsius), seconds)


@lru_cache(maxsize=4096)
def _rate_for(solvent: str, celsius: float) -> float:
    """:func:`rate_ul_per_s_per_resistance` of a solvent as written (cached: a plan asks for
    the same few temperatures thousands of times)."""
    return rate_ul_per_s_per_resistance(liquid_components(solvent), celsius)


# --------------------------------------------------------------------------- the plan walk


@dataclass
class _Liquid:
    """One open body of liquid followed through the plan."""

    key: str  # LABWARE:WELL
    path: DiffusionPath
    solvent: str  # as written: what evaporates (liquid_components)
    module: str | None  # the temperature module it sits on
    volume: float = 0.0
    since: float = 0.0  # evaporation is counted up to this time
    factor: float = 1.0  # concentration now / as made (a stock's solute stays behind)
    lost: float = 0.0
    added: float = 0.0  # what was put in (reaction wells)
    dry_at: float | None = None  # when it ran dry
    over_at: float | None = None  # when its loss first passed the threshold (reaction wells)


@dataclass(frozen=True)
class StockDrift:
    """What one reaction well received from one reagent's stock, against the plan."""

    reagent: str
    substance: str
    location: str  # the stock, LABWARE:WELL
    well: str  # the reaction well that received it
    placed_s: float
    last_draw_s: float
    drift: float  # fraction: 0.05 is 5 % more reagent delivered than planned
    lost_ul: float  # solvent the stock lost by the last draw
    solvent: str  # what evaporated
    dry: bool  # the stock ran dry before the last draw
    step: int  # the step of the last draw


@dataclass(frozen=True)
class WellLoss:
    """What a reaction well lost while open."""

    well: str
    lost_ul: float
    added_ul: float  # what was dispensed into it
    dry_at_s: float | None
    step: int  # the step at whose end the loss was largest (or the well ran dry)

    @property
    def fraction(self) -> float:
        return self.lost_ul / self.added_ul if self.added_ul > 0 else 0.0


@dataclass(frozen=True)
class EvaporationReport:
    stocks: tuple[StockDrift, ...]
    wells: tuple[WellLoss, ...]

    @property
    def worst_stock(self) -> StockDrift | None:
        return max(self.stocks, key=lambda s: (s.dry, s.drift), default=None)

    @property
    def worst_well(self) -> WellLoss | None:
        return max(self.wells, key=lambda w: w.fraction, default=None)


@dataclass
class _Temperatures:
    """The temperature of each module's labware over time, from the plan's set points (a ramp
    is linear over its ``ramp_s``; a set point without one is taken as reached at once)."""

    ambient_c: float
    points: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    cut_cache: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def add(self, op: SetTemperature) -> None:
        ramp = op.ramp_s or 0.0
        self.points.setdefault(op.device, []).append((op.t, op.t + ramp, op.celsius))

    def pieces(self, module: str | None, t0: float, t1: float) -> Iterable[tuple[float, float]]:
        """(duration, °C) pieces of [t0, t1]: constant between set points, ramps in
        :data:`RAMP_STEP_S` steps taken at their middle."""
        cuts = self._cuts(module or "")
        inside = cuts[bisect.bisect_right(cuts, t0) : bisect.bisect_left(cuts, t1)]
        edges = [t0, *inside, t1]
        for a, b in zip(edges, edges[1:], strict=False):
            yield b - a, self.at(module, (a + b) / 2)

    def _cuts(self, module: str) -> tuple[float, ...]:
        """Every set point's start and end, and the ramp steps, in order (computed once)."""
        if module in self.cut_cache:
            return self.cut_cache[module]
        cuts: set[float] = set()
        for start, end, _ in self.points.get(module, ()):
            cuts.update((start, end))
            t = start + RAMP_STEP_S
            while t < end:
                cuts.add(t)
                t += RAMP_STEP_S
        self.cut_cache[module] = tuple(sorted(cuts))
        return self.cut_cache[module]

    def at(self, module: str | None, t: float) -> float:
        current = self.ambient_c
        for start, end, target in self.points.get(module or "", ()):
            if t < start:
                break
            if t < end:
                return current + (target - current) * (t - start) / (end - start)
            current = target
        return current


@dataclass
class _Carried:
    """What one channel's tip holds: from which stock, at what concentration factor."""

    stock: str
    factor: float


class _Walk:
    """The plan's operations in time order, with every open liquid evaporating between them."""

    def __init__(
        self,
        plan: Plan,
        loaded: LoadedProtocol,
        chem: ResolvedChemistry,
        facts: DeckFacts,
        threshold: float,
    ):
        self.plan = plan
        self.threshold = threshold
        self.chem = chem
        self.facts = facts
        self.vessel = plan.vessel_labware
        self.temps = _Temperatures(loaded.protocol.room_temperature_c)
        self.stocks: dict[str, _Liquid] = {}
        self.stock_plans: dict[str, StockPlan] = {}
        self.wells: dict[str, _Liquid] = {}
        self.finished: list[tuple[_Liquid, float]] = []  # an earlier stage's wells, and their end
        self.workups = self.workup_steps(loaded)
        self.starts = [op.t for op in plan.operations]  # for step_at
        self.vessels_open = True
        self.tips: dict[int, _Carried] = {}
        # (reagent, stock key, well) → [planned µL, delivered µL-equivalents, last draw t, step]
        self.received: dict[tuple[str, str, str], list[float]] = {}

    def key(self, ref: str) -> str:
        return labware_and_key(ref, self.vessel)[1]

    def labware(self, key: str):
        return self.facts.labware.get(key.partition(":")[0])

    def liquid(self, key: str, solvent: str, **kwargs) -> _Liquid | None:
        facts = self.labware(key)
        path = diffusion_path(facts.geometry) if facts and facts.geometry else None
        if facts is None or path is None:
            return None
        return _Liquid(key, path, solvent, facts.module, **kwargs)

    def advance(self, liquid: _Liquid, t: float, is_open: bool = True) -> None:
        """Evaporate ``liquid`` from its last time to ``t``, piece by piece of constant
        temperature."""
        if t <= liquid.since:
            return
        if is_open and liquid.volume > 0:
            start = liquid.since
            for seconds, celsius in self.temps.pieces(liquid.module, liquid.since, t):
                rate = _rate_for(liquid.solvent, round(celsius, 2))
                gone = liquid.path.lost(liquid.volume, rate, seconds)
                if gone > 0:
                    self.note_crossings(liquid, start, rate, gone)
                start += seconds
                if gone >= liquid.volume - 1e-9:
                    liquid.lost += liquid.volume
                    liquid.volume = 0.0
                    break
                if gone > 0:
                    liquid.factor *= liquid.volume / (liquid.volume - gone)
                    liquid.volume -= gone
                    liquid.lost += gone
        liquid.since = t

    def note_crossings(self, liquid: _Liquid, start: float, rate: float, gone: float) -> None:
        """When, within a piece from ``start`` in which the liquid loses ``gone``, it passes the
        threshold of what was put into it (reaction wells) and when it runs dry (only computed
        when the piece crosses one: the look-ups cost)."""
        if liquid.over_at is None and liquid.added > 0:
            still = self.threshold * liquid.added - liquid.lost
            if still <= gone:
                after = liquid.path.seconds_to_lose(liquid.volume, max(still, 0.0), rate)
                liquid.over_at = start + after
        if liquid.dry_at is None and gone >= liquid.volume - 1e-9:
            liquid.dry_at = start + liquid.path.seconds_to_lose(liquid.volume, liquid.volume, rate)

    def run(self) -> None:
        for op in self.plan.operations:
            if isinstance(op, SetTemperature):
                self.temps.add(op)
        for stock in self.plan.stocks:
            self.put_out(stock)
        for op in self.plan.operations:
            if op.step in self.workups and self.wells:
                self.take_away(op.t)
            match op:
                case Prompt(refill=[*refilled]):
                    # a later stage's prompt: the stocks it names are set out again, fresh
                    for ref in refilled:
                        self.refill(self.key(ref), op.end)
                case Aspirate():
                    self.draw(op)
                case Dispense():
                    self.fill(op)
                case Sample():
                    self.sample(op)
                case SetClosure():
                    self.close(op)
                case _:
                    pass
        self.take_away(self.plan.makespan_s)

    def put_out(self, stock: StockPlan) -> None:
        if stock.form == "solid":
            return
        key = self.key(stock.location)
        # a solution (made up or bought) loses its solvent; a neat liquid or solvent itself
        solvent = stock.solvent if stock.form in ("stock", "supplied") else stock.substance
        liquid = self.liquid(
            key, solvent or "", volume=stock.volume_uL, since=stock.placed_s or 0.0
        )
        if liquid is not None:
            self.stocks[key] = liquid
            self.stock_plans[key] = stock

    def refill(self, key: str, t: float) -> None:
        """A stock set out again, freshly made, with what is left to draw."""
        stock = self.stocks.get(key)
        if stock is None:
            return
        self.advance(stock, t)
        stock.volume += stock.lost  # made up to what it would hold had nothing evaporated
        stock.factor, stock.lost, stock.dry_at = 1.0, 0.0, None

    def draw(self, op: Aspirate) -> None:
        for channel, ref, volume in zip(op.channels, op.wells, op.volumes_uL, strict=True):
            key = self.key(ref)
            stock = self.stocks.get(key)
            if stock is None:
                self.tips.pop(channel, None)
                continue
            self.advance(stock, op.t)
            # a stock that ran dry delivers nothing: counted as its concentration before
            self.tips[channel] = _Carried(key, stock.factor)
            stock.volume = max(stock.volume - volume, 0.0)

    def fill(self, op: Dispense) -> None:
        solvent = self.chem.stage_of_step(op.step).solvent
        for channel, ref, volume in zip(op.channels, op.wells, op.volumes_uL, strict=True):
            key = self.key(ref)
            carried = self.tips.get(channel)
            if carried is not None:
                stock = self.stock_plans[carried.stock]
                entry = self.received.setdefault(
                    (stock.reagent, carried.stock, key), [0.0, 0.0, 0.0, 0.0]
                )
                factor = carried.factor if stock.form in ("stock", "supplied") else 1.0
                entry[0] += volume
                entry[1] += volume * factor
                entry[2], entry[3] = op.t, op.step
            if not key.startswith(f"{self.vessel}:"):
                continue
            well = self.wells.get(key)
            if well is None:
                well = self.liquid(key, solvent, since=op.t)
                if well is None:
                    continue
                self.wells[key] = well
            self.advance(well, op.t, self.vessels_open)
            well.solvent = solvent
            well.volume += volume
            well.added += volume

    def sample(self, op: Sample) -> None:
        for ref, volume in zip(op.wells, op.volumes_uL, strict=False):
            well = self.wells.get(self.key(ref))
            if well is not None:
                self.advance(well, op.t, self.vessels_open)
                well.volume = max(well.volume - volume, 0.0)

    def close(self, op: SetClosure) -> None:
        for well in self.wells.values():
            self.advance(well, op.end if op.closure == "open" else op.t, self.vessels_open)
        self.vessels_open = op.closure == "open"

    def workup_steps(self, loaded: LoadedProtocol) -> frozenset[int]:
        """The off-deck steps that end a stage (or the protocol): the work-up, for which the
        vessels leave the deck; a later stage starts from clean vials."""
        steps = loaded.protocol.steps
        ends = {st.first_step - 1 for st in self.chem.stages if st.first_step > 0} | {
            len(steps) - 1
        }
        out = set()
        for end in ends:
            i = end
            while i >= 0 and isinstance(m.step_params(steps[i])[1], m.OffdeckParams):
                out.add(i)
                i -= 1
        return frozenset(out)

    def take_away(self, t: float) -> None:
        """The wells go to their work-up at ``t``: what they lost so far is their figure."""
        for well in self.wells.values():
            self.advance(well, t, self.vessels_open)
            self.finished.append((well, t))
        self.wells = {}

    def step_at(self, t: float) -> int:
        """The step of the plan's last operation started by ``t``."""
        ops = self.plan.operations
        before = bisect.bisect_right(self.starts, t)
        return ops[before - 1].step if before else 0


def evaporation(
    plan: Plan, loaded: LoadedProtocol, chem: ResolvedChemistry, facts: DeckFacts
) -> EvaporationReport:
    """Every open liquid of the plan followed through time: what each reaction well received
    from each stock against the plan, and what the reaction wells lost."""
    walk = _Walk(plan, loaded, chem, facts, threshold_of(loaded))
    walk.run()
    stocks = []
    for (reagent, key, well), (planned, delivered, last, step) in sorted(walk.received.items()):
        stock, liquid = walk.stock_plans[key], walk.stocks[key]
        if planned <= 0:
            continue
        stocks.append(
            StockDrift(
                reagent=reagent,
                substance=stock.substance,
                location=key,
                well=well.partition(":")[2],
                placed_s=stock.placed_s or 0.0,
                last_draw_s=last,
                drift=delivered / planned - 1.0,
                lost_ul=liquid.lost,
                solvent=liquid.solvent,
                dry=liquid.dry_at is not None and liquid.dry_at <= last,
                step=int(step),
            )
        )
    wells = tuple(
        WellLoss(
            w.key.partition(":")[2],
            w.lost,
            w.added,
            w.dry_at,
            walk.step_at(w.over_at if w.over_at is not None else end),
        )
        for w, end in walk.finished
        if w.added > 0
    )
    return EvaporationReport(tuple(stocks), wells)


def threshold_of(loaded: LoadedProtocol) -> float:
    """The drift that is worth a warning, as a fraction (``settings.drift_threshold_pct``)."""
    return loaded.protocol.settings.drift_threshold_pct / 100.0


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def evaporation_checks(
    plan: Plan,
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    facts: DeckFacts,
    reporter: Reporter,
) -> EvaporationReport:
    """DF610 for each reagent whose delivered amount drifts above the threshold in some well,
    DF611 when reaction wells lose more than the threshold of their volume; returns the
    figures."""
    report = evaporation(plan, loaded, chem, facts)
    threshold = threshold_of(loaded)
    _report_stocks(report.stocks, threshold, loaded, reporter)
    _report_wells(report.wells, threshold, loaded, plan, reporter)
    return report


def _report_stocks(
    drifts: Iterable[StockDrift], threshold: float, loaded: LoadedProtocol, reporter: Reporter
) -> None:
    by_reagent: dict[str, list[StockDrift]] = {}
    for d in drifts:
        if d.drift > threshold or d.dry:
            by_reagent.setdefault(d.reagent, []).append(d)
    for _, found in sorted(by_reagent.items()):
        worst = max(found, key=lambda d: (d.dry, d.drift))
        wells = len({d.well for d in found})
        solvent = worst.solvent
        what = (
            f"the {worst.substance} stock in {worst.location} runs dry by evaporation before "
            f"its last draw"
            if worst.dry
            else f"well {worst.well} receives {worst.drift:.0%} more {worst.substance} than "
            f"planned ({wells} well{'s' if wells > 1 else ''} above the {threshold:.0%} "
            f"threshold): its stock in {worst.location} loses {worst.lost_ul:.0f} µL of "
            f"{solvent}"
        )
        reporter.warn(
            loaded.step_path(worst.step, "reagent"),
            codes.DF610,
            f"{what}, standing open from {_clock(worst.placed_s)} (put out) to its last draw at "
            f"{_clock(worst.last_draw_s)} (still-air diffusion: a floor on the real loss)",
            "put the stock out just before it is needed (a 'place:' step before the step "
            "that first draws on it), seal the source, or make more stock (a fuller well "
            f"loses a smaller fraction); 'settings: drift_threshold_pct' sets the {threshold:.0%}",
            key=True,
        )


def _report_wells(
    losses: Iterable[WellLoss],
    threshold: float,
    loaded: LoadedProtocol,
    plan: Plan,
    reporter: Reporter,
) -> None:
    found = [w for w in losses if w.fraction > threshold]
    if not found:
        return
    worst = max(found, key=lambda w: w.fraction)
    dry = [w for w in found if w.dry_at_s is not None]
    fate = (
        f"{len(dry)} run{'s' if len(dry) == 1 else ''} dry (well {dry[0].well} at "
        f"{_clock(min(w.dry_at_s or 0.0 for w in dry))})"
        if dry
        else f"well {worst.well} loses {worst.lost_ul:.0f} of {worst.added_ul:.0f} µL "
        f"({worst.fraction:.0%})"
    )
    reporter.warn(
        loaded.step_path(worst.step),
        codes.DF611,
        f"{len(found)} open reaction well{'s' if len(found) > 1 else ''} of "
        f"'{plan.vessel_labware}' lose more than {threshold:.0%} of their liquid to "
        f"evaporation: {fate} (still-air diffusion: a floor on the real loss)",
        "cap the vessels once the additions are done ('seal:'), and open them only to add or "
        "sample; or use a higher-boiling solvent",
        key=True,
    )
