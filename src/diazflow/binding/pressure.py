"""Closed-vessel pressure (DF420): a capped vessel held or heated above its pressure rating.

At every step at which the reaction vessels are capped (not vented) and held, stirred, heated
or refluxed, the pressure inside a vial is estimated as

* the vapour pressure of the reaction solvent at the step's temperature (Raoult's law for a
  mixture: each component's vapour pressure times its mole fraction, the mole fractions from the
  volume ratio written in the solvent, ``MeOH/CHCl3 1:1``, with the components' densities and
  molar masses; equal volumes when no ratio is written), from the vapour-pressure curves in
  ``properties.json`` (thermo, sampled ahead of time), plus
* the air caught in the headspace at capping: at ambient pressure less the solvent's vapour
  pressure at the capping temperature, heated at constant volume (ideal gas, p ∝ T).

* the gas the chemistry evolves (issue 15), from the ``gas:`` stoichiometry of the hazard rules
  (H2 from a borohydride with acid, CO2 from Boc2O, isobutylene + CO2 from a Boc deprotection,
  ...; see :class:`EvolvedGasModel`), ideal gas in the headspace: the vessel's volume (the
  labware's well geometry) less the liquid in the well after the step (the chemistry's per-well
  volumes), in the well where it comes to the most.

The air's share needs no headspace volume (constant volume: its pressure scales with T alone).
Not counted: gas that dissolves in the liquid (CO2 does, H2 hardly: the estimate is high), the
dissolved reagents' own vapour pressure and their lowering of the solvent's, the liquid's
thermal expansion, and non-ideal mixing.  The layout's ``pressure_rating`` is an overpressure
(bar above ambient): above it the finding is a warning, above twice it an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.binding.closure import CAPPED
from diazflow.chemistry import properties
from diazflow.chemistry.checks import mole_fractions, reflux_temperature
from diazflow.language import models as m
from diazflow.language.quantities import QuantityRange

if TYPE_CHECKING:
    from diazflow.binding.closure import ClosureTimeline
    from diazflow.chemistry.hazards import EvolvedGas
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import LabwareFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol

AMBIENT_BAR = 1.01325
GAS_CONSTANT = 8.314462618  # J/(mol K)
ERROR_FACTOR = 2.0
"""An overpressure above this many times the rating is an error, not a warning."""


@dataclass(frozen=True)
class GasShare:
    """One evolved gas in the headspace of the well where the gases come to the most."""

    species: str
    bar: float
    umol: float
    source: str  # the reagents it comes from, e.g. "'nabh4' (sodium borohydride) + 'acoh'"


@dataclass(frozen=True)
class VesselPressure:
    """The estimate at one temperature, in bar absolute."""

    total_bar: float
    vapour_bar: float
    air_bar: float
    gases: tuple[GasShare, ...] = ()
    well: str | None = None  # the well the gases were computed for
    headspace_ul: float | None = None

    @property
    def over_ambient_bar(self) -> float:
        return self.total_bar - AMBIENT_BAR


def solvent_vapour_bar(solvent: str, celsius: float) -> float | None:
    """Raoult's law over the solvent's components at ``celsius``; None when a component's vapour
    pressure is not known there."""
    fractions = mole_fractions(solvent)
    if fractions is None:
        return None
    total_kpa = 0.0
    for part, fraction in fractions.items():
        props = properties.lookup(part)
        kpa = props.vapour_pressure_kpa_at(celsius) if props else None
        if kpa is None:
            return None
        total_kpa += fraction * kpa
    return total_kpa / 100.0


def vessel_pressure(solvent: str, capped_at_c: float, celsius: float) -> VesselPressure | None:
    """The pressure in a vial capped at ``capped_at_c`` (at ambient pressure) and now at
    ``celsius``."""
    vapour_then = solvent_vapour_bar(solvent, capped_at_c)
    vapour_now = solvent_vapour_bar(solvent, celsius)
    if vapour_then is None or vapour_now is None:
        return None
    air_then = max(AMBIENT_BAR - vapour_then, 0.0)
    air_now = air_then * (celsius + 273.15) / (capped_at_c + 273.15)
    return VesselPressure(air_now + vapour_now, vapour_now, air_now)


def _step_temperatures(params: m.StepParams, current: float, solvent: str) -> list[float] | None:
    """The temperatures a step holds the vessels at (None: the step neither holds nor heats)."""
    match params:
        case m.TemperatureChangeParams(to=to):
            return [to.low.value, to.high.value] if isinstance(to, QuantityRange) else [to.value]
        case m.StirParams(temperature=temperature) | m.HoldParams(temperature=temperature):
            return [temperature.value if temperature is not None else current]
        case m.RefluxParams():
            bp = reflux_temperature(solvent)
            return [bp] if bp is not None else None
    return None


def _takes_time(params: m.StepParams) -> bool:
    """A step during which the chemistry runs (and its gas comes off); additions are instants."""
    match params:
        case (
            m.StirParams()
            | m.HoldParams()
            | m.RefluxParams()
            | m.TemperatureChangeParams()
            | m.QuenchParams()
        ):
            return True
    return False


GasKey = tuple[int, str, str]  # (stage index, rule id, species)


class EvolvedGasModel:
    """Which gases are in the capped vessels at a step, and how much pressure they make.

    A rule's gas comes off during the first step that takes time (stir, hold, heat, reflux, a
    quench) at or after the step at which the rule first holds; it counts at a capped step only
    when that step lies in the same capped period (after the ``seal:`` that capped the vessels),
    so a Boc2O reaction stirred open for 2 h before capping adds nothing.  Amounts are the
    rule's ``gas:`` stoichiometry times the reagents' µmol in the well; two rules giving the same
    gas from the same reagents (NaBH4 with MeOH and with AcOH) count once, the larger."""

    def __init__(
        self,
        loaded: LoadedProtocol,
        chem: ResolvedChemistry,
        vessel: LabwareFacts,
        gases: Mapping[int, Sequence[EvolvedGas]],
    ):
        self.chem = chem
        self.preloaded = {rid for rid, r in loaded.protocol.reagents.items() if r.preloaded}
        self.gases = gases
        self.labels = {rid: r.name for rid, r in loaded.protocol.reagents.items() if r.name}
        self.volume_ul = vessel.geometry.max_volume_ul if vessel.geometry else vessel.max_volume_ul
        self.released_at: dict[GasKey, int] = {}
        steps = loaded.protocol.steps
        for n, stage in enumerate(chem.stages):
            end = chem.stages[n + 1].first_step if n + 1 < len(chem.stages) else len(steps)
            timed = [
                i for i in range(stage.first_step, end) if _takes_time(m.step_params(steps[i])[1])
            ]
            for i in range(stage.first_step, end):
                for gas in gases.get(i, ()):
                    key = (stage.index, gas.rule, gas.species)
                    if key not in self.released_at:
                        self.released_at[key] = next((k for k in timed if k >= i), i)

    def at(
        self, step: int, capped_from: int, celsius: float
    ) -> tuple[tuple[GasShare, ...], str | None, float | None]:
        """The gases released since ``capped_from`` up to ``step``, in the well where their
        pressure at ``celsius`` is highest, with that well and its headspace (µL)."""
        stage = self.chem.stage_of_step(step).index
        present = [
            gas
            for gas in self.gases.get(step, ())
            if capped_from <= self.released_at.get((stage, gas.rule, gas.species), -1) <= step
        ]
        if not present:
            return (), None, None
        volumes = self.chem.volumes_after_step.get(step, {})
        best: tuple[tuple[GasShare, ...], str | None, float | None] = ((), None, None)
        best_bar = 0.0
        for well in self.chem.wells:
            headspace = self.volume_ul - volumes.get(well, 0.0)
            if headspace <= 0:
                continue
            shares = self._shares(present, well, step, headspace, celsius)
            total = sum(share.bar for share in shares)
            if total > best_bar:
                best_bar, best = total, (shares, str(well), headspace)
        return best

    def _shares(
        self,
        present: Sequence[EvolvedGas],
        well: object,
        step: int,
        headspace_ul: float,
        celsius: float,
    ) -> tuple[GasShare, ...]:
        kept: dict[tuple[str, tuple[str, ...]], GasShare] = {}
        for gas in present:
            umol = self._umol(gas, well, step)
            if umol is None:
                continue
            bar = umol * 1e-6 * GAS_CONSTANT * (celsius + 273.15) / (headspace_ul * 1e-9) / 1e5
            source = " + ".join(_describe(group, self.labels) for group, _ in gas.per)
            key = (gas.species, gas.per[0][0])
            if key not in kept or kept[key].bar < bar:
                kept[key] = GasShare(gas.species, bar, umol, source)
        return tuple(sorted(kept.values(), key=lambda share: -share.bar))

    def _umol(self, gas: EvolvedGas, well: object, step: int) -> float | None:
        """µmol of gas in ``well``: the smallest of (mol/mol × the group's µmol) over the known
        groups (the limiting partner); None when no group's amount is known."""
        amounts = []
        stage = self.chem.stage_of_step(step)
        for group, per_mol in gas.per:
            additions = [
                a
                for a in self.chem.additions
                if a.reagent in group and a.well == well and stage.first_step <= a.step <= step
            ]
            if any(a.umol is None for a in additions):
                continue
            umol = sum(a.umol or 0.0 for a in additions)
            if stage.scale.limiting in group and stage.scale.limiting in self.preloaded:
                umol += stage.limiting_umol  # in the vial before the stage starts, not added
            if umol > 0:
                amounts.append(per_mol * umol)
        return min(amounts) if amounts else None


def _describe(ids: Sequence[str], labels: Mapping[str, str]) -> str:
    return ", ".join(f"'{rid}' ({labels[rid]})" if rid in labels else f"'{rid}'" for rid in ids)


def pressure_checks(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    vessel: LabwareFacts,
    closures: ClosureTimeline,
    reporter: Reporter,
    gases: Mapping[int, Sequence[EvolvedGas]] | None = None,
) -> list[tuple[int, VesselPressure, float]]:
    """DF420 at every capped hold or heat above the vessel's rating; returns every estimate made
    (step index, pressure, °C), the highest of each step, for reports and tests.  ``gases``:
    step index → the gases of the hazard rules that hold there
    (:func:`diazflow.binding.hazards.gases_by_step`)."""
    rating = vessel.pressure_rating_bar
    model = EvolvedGasModel(loaded, chem, vessel, gases or {})
    current = loaded.protocol.room_temperature_c
    temperature_before: list[float] = []
    estimates: list[tuple[int, VesselPressure, float]] = []
    for i, step in enumerate(loaded.protocol.steps):
        kind, params = m.step_params(step)
        temperature_before.append(current)
        solvent = chem.stage_of_step(i).solvent
        temps = _step_temperatures(params, current, solvent)
        if temps is not None:
            current = (temps[0] + temps[-1]) / 2  # a range: its middle, as the block walks
        if temps is None or closures.at(i) != CAPPED:
            continue
        changed = closures.changed_at[i]
        capped_at = temperature_before[changed] if changed is not None else current
        found = []
        for t in temps:
            pressure = vessel_pressure(solvent, capped_at, t)
            if pressure is not None:
                found.append((_with_gas(pressure, model.at(i, changed or 0, t)), t))
        if not found:
            continue
        pressure, celsius = max(found, key=lambda pt: pt[0].total_bar)
        estimates.append((i, pressure, celsius))
        if rating is None or pressure.over_ambient_bar <= rating:
            continue
        far = pressure.over_ambient_bar > ERROR_FACTOR * rating
        report = reporter.error if far else reporter.warn
        report(
            loaded.step_path(i),
            codes.DF420,
            f"'{kind}' at {celsius:g} °C in capped '{vessel.name}': about {pressure.total_bar:.1f} bar "
            f"absolute ({pressure.over_ambient_bar:.1f} bar above ambient: {solvent} vapour "
            f"{pressure.vapour_bar:.2f} bar + air capped at {capped_at:g} °C {pressure.air_bar:.2f} bar"
            f"{_gas_parts(pressure)}), above the rating of '{vessel.name}' ({rating:g} bar above ambient)"
            + (f" more than {ERROR_FACTOR:g}-fold" if far else ""),
            _hint(pressure, solvent, capped_at, rating),
            key=True,
        )
    return estimates


def _with_gas(
    pressure: VesselPressure, found: tuple[tuple[GasShare, ...], str | None, float | None]
) -> VesselPressure:
    shares, well, headspace = found
    if not shares:
        return pressure
    return replace(
        pressure,
        total_bar=pressure.total_bar + sum(share.bar for share in shares),
        gases=shares,
        well=well,
        headspace_ul=headspace,
    )


def _gas_parts(pressure: VesselPressure) -> str:
    """ " + H2 0.90 bar (45 µmol from 'nabh4' + 'acoh'), in A1's 1.3 mL of headspace"."""
    if not pressure.gases:
        return ""
    parts = "".join(
        f" + {share.species} {share.bar:.2f} bar ({share.umol:.0f} µmol from {share.source})"
        for share in pressure.gases
    )
    return (
        f"{parts}, in {pressure.well}'s {(pressure.headspace_ul or 0) / 1000:.2f} mL of headspace"
    )


def _hint(pressure: VesselPressure, solvent: str, capped_at: float, rating: float) -> str:
    if pressure.gases:
        return (
            "keep the vials vented ('vent:' rather than 'seal:') until the gas has come off, "
            "or scale down so the headspace can take it"
        )
    return (
        f"heat below about {_rated_temperature(solvent, capped_at, rating):g} °C, use a "
        "higher-boiling solvent, or vessels rated for the pressure ('vent:' lets the "
        "solvent boil off instead)"
    )


def _rated_temperature(solvent: str, capped_at_c: float, rating_bar: float) -> float:
    """The highest whole 5 °C at which the estimate stays within the rating (for the hint)."""
    best = capped_at_c
    for celsius in range(int(capped_at_c // 5 * 5), 161, 5):
        pressure = vessel_pressure(solvent, capped_at_c, celsius)
        if pressure is None or pressure.over_ambient_bar > rating_bar:
            break
        best = celsius
    return best
