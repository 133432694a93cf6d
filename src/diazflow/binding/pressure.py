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

The headspace volume drops out (constant volume: the air's pressure scales with T alone).  Not
counted: gas the chemistry evolves (H2, CO2, ethylene; issue 15), the dissolved reagents' own
vapour pressure and their lowering of the solvent's, the liquid's thermal expansion, and
non-ideal mixing.  The layout's ``pressure_rating`` is an overpressure (bar above ambient): above
it the finding is a warning, above twice it an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.binding.closure import CAPPED
from diazflow.chemistry import properties
from diazflow.chemistry.checks import mole_fractions, reflux_temperature
from diazflow.language import models as m
from diazflow.language.quantities import QuantityRange

if TYPE_CHECKING:
    from diazflow.binding.closure import ClosureTimeline
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import LabwareFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol

AMBIENT_BAR = 1.01325
ERROR_FACTOR = 2.0
"""An overpressure above this many times the rating is an error, not a warning."""


@dataclass(frozen=True)
class VesselPressure:
    """The estimate at one temperature, in bar absolute."""

    total_bar: float
    vapour_bar: float
    air_bar: float

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


def pressure_checks(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    vessel: LabwareFacts,
    closures: ClosureTimeline,
    reporter: Reporter,
) -> list[tuple[int, VesselPressure, float]]:
    """DF420 at every capped hold or heat above the vessel's rating; returns every estimate made
    (step index, pressure, °C), the highest of each step, for reports and tests."""
    rating = vessel.pressure_rating_bar
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
        found = [(p, t) for t in temps if (p := vessel_pressure(solvent, capped_at, t))]
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
            f"{pressure.vapour_bar:.2f} bar + air capped at {capped_at:g} °C {pressure.air_bar:.2f} bar), "
            f"above the rating of '{vessel.name}' ({rating:g} bar above ambient)"
            + (f" more than {ERROR_FACTOR:g}-fold" if far else ""),
            f"heat below about {_rated_temperature(solvent, capped_at, rating):g} °C, use a "
            "higher-boiling solvent, or vessels rated for the pressure ('vent:' lets the "
            "solvent boil off instead)",
            key=True,
        )
    return estimates


def _rated_temperature(solvent: str, capped_at_c: float, rating_bar: float) -> float:
    """The highest whole 5 °C at which the estimate stays within the rating (for the hint)."""
    best = capped_at_c
    for celsius in range(int(capped_at_c // 5 * 5), 161, 5):
        pressure = vessel_pressure(solvent, capped_at_c, celsius)
        if pressure is None or pressure.over_ambient_bar > rating_bar:
            break
        best = celsius
    return best
