"""Pipetting liquid classes: how each liquid is aspirated and dispensed (stdlib only).

A liquid class is the parameter set a liquid handler pipettes one liquid with: flow rates,
transport air, pre-wetting, blow-out, settling and swap (retract) speeds.  PyLabRobot ships
Hamilton's table of them (``pylabrobot.liquid_handling.liquid_classes.hamilton.star``) for a few
pure liquids: water, methanol, ethanol, acetonitrile, DMSO, chloroform, octanol, glycerin.  The
jet-mode classes diazflow uses are extracted ahead of time into
``data/hamilton_liquid_classes.json`` (``scripts/build_liquid_class_data.py``), so that choosing a
class never imports PyLabRobot.

The class for a liquid and a tip size is:

* the table's own class when the liquid is in the table and the table has a jet class for the tip
  size ("empty", i.e. with blow-out, preferred: every diazflow transfer empties the tip);
* otherwise the class of the *nearest* table liquid that has a jet class for the tip size, by the
  distance :func:`property_distance` over vapour pressure, viscosity, density and surface tension
  at 20 °C (``properties.json``, from ``chemicals``/``thermo``).  Such a class is *derived*: its
  calibration curve belongs to another liquid and must be checked gravimetrically on the robot;
* a liquid with a vapour pressure of at least :data:`VOLATILE_KPA` is *volatile* and gets
  Hamilton's volatile-solvent practice on top (the comment block of the chloroform class in
  PyLabRobot's table): at least :data:`VOLATILE_TRANSPORT_AIR_UL` of transport air, pre-wetting of
  the tip, and a fast swap speed.

Each class has a stable name, ``"<liquid> <tip> uL jet"`` (``"dichloromethane 300 uL jet"``),
which is what a plan's ``aspirate`` and ``dispense`` carry; :func:`find` turns it back into the
class.  See docs/liquid-classes.md.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from diazflow.chemistry.properties import ChemicalProperties, lookup

TIP_SIZES_UL = (50, 300, 1000)
"""The tip sizes of the table diazflow uses; a tip uses the class of the next size up."""

VOLATILE_KPA = 8.0
"""Vapour pressure at 20 °C from which a liquid is pipetted as volatile.  Hamilton's classes for
acetonitrile (9.6 kPa), methanol (13 kPa) and chloroform (21 kPa) all carry 10 µL or more of
transport air; 1,2-dichloroethane (8.2 kPa) drips from air-displacement tips as they do."""

VOLATILE_TRANSPORT_AIR_UL = {50: 5.0, 300: 10.0, 1000: 10.0}
"""Transport air for a volatile liquid: the chloroform class's 10 µL, and 5 µL for 50 µL tips
(their capacity is 65 µL, so more air would cost usable volume)."""

VOLATILE_SWAP_SPEED_MM_S = 100.0
"""The chloroform and methanol jet classes retract from the liquid at 100 mm/s."""

PRE_WETTING_MAX_UL = 99.9
"""The STAR firmware's limit on the pre-wetting volume (``oa``, 0.1 µL units, three digits)."""

_VAPOUR_FLOOR_KPA = 1e-3  # glycerol's 0 kPa must not make the logarithm infinite


@dataclass(frozen=True)
class LiquidClass:
    name: str
    liquid: str  # canonical name of the liquid pipetted
    tip_ul: int  # the table's tip size
    basis: str  # the PyLabRobot ``Liquid`` whose Hamilton class this is or derives from
    plr_class: str  # the name of that class in PyLabRobot's table
    blow_out: bool  # jet "empty" (with blow-out air) rather than jet "part"
    derived: bool  # the basis is another liquid: its calibration curve needs checking
    distance: float  # property distance to the basis (0 for the table's own liquids)
    volatile: bool
    aspiration_flow_ul_s: float
    dispense_flow_ul_s: float
    transport_air_ul: float
    pre_wetting: bool
    aspiration_swap_speed_mm_s: float
    dispense_swap_speed_mm_s: float
    aspiration_settling_s: float
    dispense_settling_s: float
    water_aspiration_flow_ul_s: float  # water's class for the same tip size: robots with their
    water_dispense_flow_ul_s: float  # own default rates scale them by this class's ratio

    def flow_rates(self, default_aspirate: float, default_dispense: float) -> tuple[float, float]:
        """Flow rates on a robot whose defaults are water's (OT-2, EVO): the defaults scaled by
        how much faster or slower this class is than water's on a Hamilton (never faster)."""
        return (
            default_aspirate
            * min(1.0, self.aspiration_flow_ul_s / self.water_aspiration_flow_ul_s),
            default_dispense * min(1.0, self.dispense_flow_ul_s / self.water_dispense_flow_ul_s),
        )


def pre_wetting_ul(lc: LiquidClass, volume_ul: float) -> float:
    """How much to pre-wet the tip with before aspirating ``volume_ul``: the volume itself (a
    volatile liquid saturates the tip's air cushion with its vapour, so it stops dripping), within
    the STAR firmware's limit; the robot trims it to what the tip holds besides the volume."""
    if not lc.pre_wetting:
        return 0.0
    return min(volume_ul, PRE_WETTING_MAX_UL)


class UnknownLiquid(LookupError):
    """No class can be chosen: the liquid is not in properties.json, or nothing is known of it."""


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    text = (
        resources.files("diazflow.chemistry")
        .joinpath("data")
        .joinpath("hamilton_liquid_classes.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)["liquids"]


def tip_size(tip_max_ul: float) -> int:
    """The table's tip size a tip of this capacity uses: the next size up (the largest for more)."""
    for size in TIP_SIZES_UL:
        if tip_max_ul <= size + 1e-9:
            return size
    return TIP_SIZES_UL[-1]


def property_distance(a: ChemicalProperties, b: ChemicalProperties) -> float:
    """How differently two liquids behave in an air-displacement tip, from their properties at
    20 °C: ``|ln P/P'| + |ln µ/µ'| + |ρ − ρ'| / 0.2 g/mL + |ln σ/σ'|``.  Vapour pressure drives
    dripping, viscosity the flow rates, density the weight on the air cushion, surface tension
    the droplet left at the tip.  A property unknown for either liquid is left out."""
    d = 0.0
    if a.vapour_pressure_kpa is not None and b.vapour_pressure_kpa is not None:
        d += abs(
            math.log(max(a.vapour_pressure_kpa, _VAPOUR_FLOOR_KPA))
            - math.log(max(b.vapour_pressure_kpa, _VAPOUR_FLOOR_KPA))
        )
    if a.viscosity_mpa_s and b.viscosity_mpa_s:
        d += abs(math.log(a.viscosity_mpa_s / b.viscosity_mpa_s))
    if a.density_g_ml is not None and b.density_g_ml is not None:
        d += abs(a.density_g_ml - b.density_g_ml) / 0.2
    if a.surface_tension_mn_m and b.surface_tension_mn_m:
        d += abs(math.log(a.surface_tension_mn_m / b.surface_tension_mn_m))
    return d


def _reference(basis: str) -> ChemicalProperties:
    props = lookup(_table()[basis]["cas"])
    assert props is not None, f"properties.json lacks the table liquid {basis}"
    return props


def _describable(p: ChemicalProperties) -> bool:
    return p.density_g_ml is not None or p.vapour_pressure_kpa is not None


@lru_cache(maxsize=512)
def choose(liquid: str, tip_max_ul: float) -> LiquidClass:
    """The class for pipetting ``liquid`` (a name, alias or CAS number) with tips of this
    capacity.  Raises :class:`UnknownLiquid` when nothing is known of the liquid."""
    props = lookup(liquid)
    if props is None or not _describable(props):
        raise UnknownLiquid(liquid)
    size = tip_size(tip_max_ul)
    key = str(size)
    candidates = [basis for basis, entry in _table().items() if key in entry["tips"]]
    by_distance = sorted(
        (0.0 if _table()[b]["cas"] == props.cas else property_distance(props, _reference(b)), b)
        for b in candidates
    )
    distance, basis = by_distance[0]
    row = _table()[basis]["tips"][key]
    water = _table()["WATER"]["tips"][key]
    volatile = (props.vapour_pressure_kpa or 0.0) >= VOLATILE_KPA
    transport_air = row["aspiration_air_transport_volume"]
    aspiration_swap = row["aspiration_swap_speed"]
    if volatile:
        transport_air = max(transport_air, VOLATILE_TRANSPORT_AIR_UL[size])
        aspiration_swap = max(aspiration_swap, VOLATILE_SWAP_SPEED_MM_S)
    return LiquidClass(
        name=class_name(props.name, size),
        liquid=props.name,
        tip_ul=size,
        basis=basis,
        plr_class=row["plr_class"],
        blow_out=row["blow_out"],
        derived=_table()[basis]["cas"] != props.cas,
        distance=round(distance, 3),
        volatile=volatile,
        aspiration_flow_ul_s=row["aspiration_flow_rate"],
        dispense_flow_ul_s=row["dispense_flow_rate"],
        transport_air_ul=transport_air,
        pre_wetting=volatile,
        aspiration_swap_speed_mm_s=aspiration_swap,
        dispense_swap_speed_mm_s=row["dispense_swap_speed"],
        aspiration_settling_s=row["aspiration_settling_time"],
        dispense_settling_s=row["dispense_settling_time"],
        water_aspiration_flow_ul_s=water["aspiration_flow_rate"],
        water_dispense_flow_ul_s=water["dispense_flow_rate"],
    )


_NAME = re.compile(r"^(?P<liquid>.+) (?P<tip>\d+) uL jet$")


def class_name(liquid: str, size: int) -> str:
    return f"{liquid} {size} uL jet"


def find(name: str) -> LiquidClass:
    """The class a plan names (the inverse of :func:`class_name`)."""
    match = _NAME.match(name)
    if match is None:
        raise UnknownLiquid(name)
    return choose(match["liquid"], float(match["tip"]))


def known_liquids() -> list[str]:
    """Names of the liquids a class can be chosen for (for hints)."""
    from diazflow.chemistry.properties import all_compounds

    return [p.name for p in all_compounds() if _describable(p)]
