#!/usr/bin/env python
"""Extract solvent and reagent properties from chemicals/thermo into a committed JSON file.

``diazflow validate`` must start in well under a second, but importing ``chemicals``/``thermo``
and touching their databases costs several seconds and ~400 MB.  So the few hundred numbers the
compiler needs are extracted here, once, into ``src/diazflow/chemistry/data/properties.json``,
each value with the library method it came from.  ``tests/test_properties.py`` re-runs
:func:`extract` against the installed libraries and fails if the shipped file has drifted.

Usage::

    python scripts/build_property_data.py            # rewrite properties.json
    python scripts/build_property_data.py --check    # exit 1 if the file is out of date
    python scripts/build_property_data.py --report   # also print where the library's sources disagree

Policy (see docs/chemistry-data.md):

* melting/boiling points: the library's default ranking of data sources, but never ``JOBACK``
  (a group-contribution estimate that gives 1-methyl-1,4-diazepane a melting point of 33 °C and
  would make a liquid look like a solid);
* liquid density and vapour pressure at 20 °C: measured-data correlations first
  (:data:`MEASURED_DENSITY_METHODS`, :data:`MEASURED_VAPOUR_PRESSURE_METHODS`), valid at 20 °C;
  otherwise the library's best estimate, marked ``"estimate": true``; none for substances that are
  solid at 20 °C;
* the vapour-pressure curve (``vapour_pressure_curve``): the same method as the 20 °C value,
  sampled from -20 to 160 °C where it is valid;
* :data:`OVERRIDES` replace a library value that is known to be wrong, with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "src" / "diazflow" / "chemistry" / "data" / "properties.json"

FORMAT_VERSION = 1
T_REFERENCE_K = 293.15  # 20 °C: densities and vapour pressures are tabulated here
# The vapour-pressure curve (closed-vessel pressure): every 10 °C from -20 to 160 °C (the devices
# reach -10..105 °C), 5 significant digits (interpolation error dominates below that).
CURVE_RANGE_C = (-20, 160)
CURVE_STEP_C = 10
CURVE_SIGNIFICANT = 5

# Rounding of the stored values; the consistency test compares at this precision.
DIGITS = {
    "mw": 3,
    "melting_point_c": 2,
    "boiling_point_c": 2,
    "density_g_ml": 4,
    "vapour_pressure_kpa": 4,
    "viscosity_mpa_s": 4,
    "surface_tension_mn_m": 3,
}


@dataclass(frozen=True)
class Compound:
    cas: str
    name: str  # the canonical name diazflow prints
    kind: str  # "solvent" | "liquid reagent" | "solid reagent": what we expect; data decides


@dataclass(frozen=True)
class Override:
    """Replace one library value.  Either ``method`` (take that library method's value instead of
    the default one) or ``value`` with ``source`` (a handbook/catalogue value typed in here)."""

    reason: str
    method: str | None = None
    value: float | str | None = None
    source: str | None = None


# CAS numbers are given explicitly: name resolution in chemicals has traps ("TEA" is
# tetraethylammonium, "N-Methyl-2-pyrrolidone" with a capital N resolves to the nitride ion).
COMPOUNDS: tuple[Compound, ...] = (
    # --- solvents
    Compound("7732-18-5", "water", "solvent"),
    Compound("67-56-1", "methanol", "solvent"),
    Compound("64-17-5", "ethanol", "solvent"),
    Compound("67-63-0", "isopropanol", "solvent"),
    Compound("75-65-0", "tert-butanol", "solvent"),
    Compound("75-05-8", "acetonitrile", "solvent"),
    Compound("68-12-2", "N,N-dimethylformamide", "solvent"),
    Compound("127-19-5", "N,N-dimethylacetamide", "solvent"),
    Compound("872-50-4", "N-methyl-2-pyrrolidone", "solvent"),
    Compound("67-68-5", "dimethyl sulfoxide", "solvent"),
    Compound("75-09-2", "dichloromethane", "solvent"),
    Compound("107-06-2", "1,2-dichloroethane", "solvent"),
    Compound("67-66-3", "chloroform", "solvent"),
    Compound("109-99-9", "tetrahydrofuran", "solvent"),
    Compound("96-47-9", "2-methyltetrahydrofuran", "solvent"),
    Compound("123-91-1", "1,4-dioxane", "solvent"),
    Compound("60-29-7", "diethyl ether", "solvent"),
    Compound("1634-04-4", "tert-butyl methyl ether", "solvent"),
    Compound("108-88-3", "toluene", "solvent"),
    Compound("95-47-6", "o-xylene", "solvent"),
    Compound("141-78-6", "ethyl acetate", "solvent"),
    Compound("67-64-1", "acetone", "solvent"),
    Compound("110-54-3", "hexane", "solvent"),
    Compound("142-82-5", "heptane", "solvent"),
    Compound("110-86-1", "pyridine", "solvent"),
    # reference liquids of PyLabRobot's Hamilton liquid-class table (chemistry/liquid_classes.py)
    Compound("111-87-5", "1-octanol", "liquid reagent"),
    Compound("56-81-5", "glycerol", "liquid reagent"),
    # --- liquid reagents (pipetted neat)
    Compound("64-19-7", "acetic acid", "liquid reagent"),
    Compound("76-05-1", "trifluoroacetic acid", "liquid reagent"),
    Compound("75-75-2", "methanesulfonic acid", "liquid reagent"),
    Compound("121-44-8", "triethylamine", "liquid reagent"),
    Compound("7087-68-5", "N,N-diisopropylethylamine", "liquid reagent"),
    Compound("110-91-8", "morpholine", "liquid reagent"),
    Compound("110-89-4", "piperidine", "liquid reagent"),
    Compound("107-15-3", "ethylenediamine", "liquid reagent"),
    Compound("505-66-8", "1,4-diazepane", "solid reagent"),  # homopiperazine, mp ~42 °C
    Compound("4318-37-0", "1-methyl-1,4-diazepane", "liquid reagent"),
    Compound("112275-50-0", "tert-butyl 1,4-diazepane-1-carboxylate", "liquid reagent"),
    Compound("96-33-3", "methyl acrylate", "liquid reagent"),
    Compound("140-88-5", "ethyl acrylate", "liquid reagent"),
    Compound("107-13-1", "acrylonitrile", "liquid reagent"),
    Compound("100-39-0", "benzyl bromide", "liquid reagent"),
    Compound("106-95-6", "allyl bromide", "liquid reagent"),
    Compound("74-88-4", "methyl iodide", "liquid reagent"),
    Compound("105-36-2", "ethyl bromoacetate", "liquid reagent"),
    Compound("109-65-9", "1-bromobutane", "liquid reagent"),
    Compound("109-64-8", "1,3-dibromopropane", "liquid reagent"),
    Compound("100-52-7", "benzaldehyde", "liquid reagent"),
    Compound("90-02-8", "salicylaldehyde", "liquid reagent"),
    Compound("75-07-0", "acetaldehyde", "liquid reagent"),  # boils at 20 °C
    Compound("7188-38-7", "tert-butyl isocyanide", "liquid reagent"),
    Compound("931-53-3", "cyclohexyl isocyanide", "liquid reagent"),
    Compound("10340-91-7", "benzyl isocyanide", "liquid reagent"),
    # --- solids (weighed or powder-dispensed; listed so that "neat" on them is caught)
    Compound("24424-99-5", "di-tert-butyl dicarbonate", "solid reagent"),  # mp ~23 °C
    Compound("584-08-7", "potassium carbonate", "solid reagent"),
    Compound("534-17-8", "cesium carbonate", "solid reagent"),
    Compound("497-19-8", "sodium carbonate", "solid reagent"),
    Compound("144-55-8", "sodium bicarbonate", "solid reagent"),
    Compound("1310-73-2", "sodium hydroxide", "solid reagent"),
    Compound("865-48-5", "sodium tert-butoxide", "solid reagent"),
    Compound("7646-69-7", "sodium hydride", "solid reagent"),
    Compound("16940-66-2", "sodium borohydride", "solid reagent"),
    Compound("25895-60-7", "sodium cyanoborohydride", "solid reagent"),
    Compound("56553-60-7", "sodium triacetoxyborohydride", "solid reagent"),
    Compound("7681-65-4", "copper(I) iodide", "solid reagent"),
    Compound("1118-68-9", "N,N-dimethylglycine", "solid reagent"),
    Compound("3375-31-3", "palladium(II) acetate", "solid reagent"),
    Compound("51364-51-3", "tris(dibenzylideneacetone)dipalladium(0)", "solid reagent"),
    Compound("12125-02-9", "ammonium chloride", "solid reagent"),
    Compound("7647-14-5", "sodium chloride", "solid reagent"),
    Compound("7757-82-6", "sodium sulfate", "solid reagent"),
    Compound("7681-82-5", "sodium iodide", "solid reagent"),
    Compound("7681-11-0", "potassium iodide", "solid reagent"),
    Compound("104-15-4", "p-toluenesulfonic acid", "solid reagent"),
    Compound("79-08-3", "bromoacetic acid", "solid reagent"),
    Compound("79-11-8", "chloroacetic acid", "solid reagent"),
)

OVERRIDES: dict[tuple[str, str], Override] = {
    # ---- structures: chemicals drops the hydrogens on anionic boron, so formula and MW are short
    ("25895-60-7", "smiles"): Override(
        value="[Na+].[BH3-]C#N",
        source="structure of NaBH3CN (H3B-CN anion)",
        reason="chemicals gives '[B-]C#N.[Na+]' (formula CBNNa, MW 59.82): the three B-H hydrogens are missing; NaBH3CN is 62.84 g/mol",
    ),
    ("56553-60-7", "smiles"): Override(
        value="[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O",
        source="structure of NaBH(OAc)3",
        reason="chemicals gives '[B-](OC(=O)C)(OC(=O)C)OC(=O)C.[Na+]' (MW 210.93): the B-H hydrogen is missing; STAB is 211.94 g/mol",
    ),
    # ---- boiling points
    ("7087-68-5", "boiling_point_c"): Override(
        method="WEBBOOK",
        reason="the default source (CRC_ORG) gives 114 °C; NIST WebBook (126.6 °C) and Yaws (126.5 °C) agree with the catalogue bp of DIPEA (126-127 °C)",
    ),
    ("100-39-0", "boiling_point_c"): Override(
        method="WEBBOOK",
        reason="the default source (CRC_ORG) gives 191 °C; NIST WebBook gives 198.3 °C, CAS Common Chemistry and Yaws 201 °C, the Merck Index 198-199 °C",
    ),
    ("90-02-8", "boiling_point_c"): Override(
        method="WEBBOOK",
        reason="the default source (CRC_ORG) gives 208 °C; NIST WebBook, CAS Common Chemistry and Yaws give 196.5-197 °C, the catalogue bp of salicylaldehyde",
    ),
    # ---- melting points
    ("16940-66-2", "melting_point_c"): Override(
        value=400.0,
        source="CRC Handbook of Chemistry and Physics: NaBH4 melts with decomposition at about 400 °C",
        reason="the default source (COMMON_CHEMISTRY) gives 36 °C, WIKIDATA 505 °C; 36 °C is not the melting point of NaBH4",
    ),
    ("56553-60-7", "melting_point_c"): Override(
        value=116.0,
        source="Sigma-Aldrich catalogue (sodium triacetoxyborohydride): mp 116-120 °C (dec.)",
        reason="the library has no melting point for STAB; without one a 'neat: true' STAB would not be caught as a solid",
    ),
    # ---- liquid densities where thermo has no measured correlation and its estimate is off
    ("76-05-1", "density_g_ml"): Override(
        value=1.489,
        source="CRC Handbook of Chemistry and Physics / Sigma-Aldrich: 1.489 g/mL at 20 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 1.594, 7 % high",
    ),
    ("7087-68-5", "density_g_ml"): Override(
        value=0.742,
        source="Sigma-Aldrich catalogue (N,N-diisopropylethylamine): 0.742 g/mL at 25 °C",
        reason="no measured correlation in thermo; the estimates range 0.69-0.88 g/mL",
    ),
    ("100-39-0", "density_g_ml"): Override(
        value=1.438,
        source="Sigma-Aldrich catalogue (benzyl bromide): 1.438 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 1.386, 4 % low",
    ),
    ("872-50-4", "density_g_ml"): Override(
        value=1.028,
        source="Sigma-Aldrich catalogue (1-methyl-2-pyrrolidinone): 1.028 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 0.989, 4 % low",
    ),
    ("96-47-9", "density_g_ml"): Override(
        value=0.854,
        source="Sigma-Aldrich catalogue (2-methyltetrahydrofuran): 0.854 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 0.919, 8 % high",
    ),
    ("4318-37-0", "density_g_ml"): Override(
        value=0.91,
        source="Sigma-Aldrich catalogue (1-methylhomopiperazine): 0.91 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 0.964, 6 % high",
    ),
    ("112275-50-0", "density_g_ml"): Override(
        value=1.016,
        source="Sigma-Aldrich catalogue (1-Boc-hexahydro-1,4-diazepine): 1.016 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 1.071, 5 % high",
    ),
    ("110-91-8", "density_g_ml"): Override(
        value=0.996,
        source="Sigma-Aldrich catalogue (morpholine): 0.996 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 1.035, 4 % high",
    ),
    ("74-88-4", "density_g_ml"): Override(
        value=2.28,
        source="Sigma-Aldrich catalogue (iodomethane): 2.28 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 2.076, 9 % low",
    ),
    ("109-65-9", "density_g_ml"): Override(
        value=1.276,
        source="Sigma-Aldrich catalogue (1-bromobutane): 1.276 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 1.230, 4 % low",
    ),
    ("109-64-8", "density_g_ml"): Override(
        value=1.989,
        source="Sigma-Aldrich catalogue (1,3-dibromopropane): 1.989 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 1.899, 5 % low",
    ),
    ("105-36-2", "density_g_ml"): Override(
        value=1.506,
        source="Sigma-Aldrich catalogue (ethyl bromoacetate): 1.506 g/mL at 25 °C",
        reason="no measured correlation in thermo; its estimate (MMSNM0) gives 1.481, 2 % low",
    ),
    ("75-75-2", "density_g_ml"): Override(
        value=1.481,
        source="Sigma-Aldrich catalogue (methanesulfonic acid): 1.481 g/mL at 25 °C",
        reason="the library's mp (20.0 °C) puts it at the edge of solid, so no liquid density is extracted; it is pipetted neat at room temperature (estimate MMSNM0 would give 1.417, 4 % low)",
    ),
}

# Measured-data correlations, in thermo's own ranking order.  Estimation methods (MMSNM0,
# RACKETT, YEN_WOODS_SAT, ...) were off by up to 9 % against handbook values; VDI_TABULAR gave
# 1.10 g/mL for acetic acid and 0.92 for o-xylene at 20 °C (handbook 1.049, 0.880), so it is left out.
MEASURED_DENSITY_METHODS = (
    "HEOS_FIT",
    "DIPPR_PERRY_8E",
    "VDI_PPDS",
    "COOLPROP",
    "CRC_INORG_L",
    "CRC_INORG_L_CONST",
)

# Our own order, not thermo's: thermo ranks ANTOINE_WEBBOOK above LANDOLT, and the WebBook Antoine
# set for TFA gives 1.2 kPa at 20 °C (inside its stated range!) where the true value is ~11 kPa;
# WAGNER_MCGARRY gives 5.9 kPa for triethylamine where DIPPR/VDI give 7.2.  Curated fits first.
MEASURED_VAPOUR_PRESSURE_METHODS = (
    "IAPWS_PSAT",
    "HEOS_FIT",
    "COOLPROP",
    "DIPPR_PERRY_8E",
    "VDI_PPDS",
    "WAGNER_MCGARRY",
    "WAGNER_POLING",
    "ANTOINE_EXTENDED_POLING",
    "ANTOINE_POLING",
    "LANDOLT",
    "ANTOINE_WEBBOOK",
)

# Correlations that estimate a liquid's viscosity or surface tension from other properties (not
# fits to measured data for this compound); a value from one of them is marked "estimate".
ESTIMATION_METHODS = frozenset(
    {
        "LETSOU_STIEL",
        "PRZEDZIECKI_SRIDHAR",
        "MIQUEU",
        "BROCK_BIRD",
        "PITZER_SIGMA",
        "SASTRI_RAO",
        "ZUO_STENBY",
        "HAKIM_STEINBERG_STIEL",
        "ALEEM",
    }
)

# Group-contribution estimates are never used for phase-change temperatures.
EXCLUDED_PHASE_CHANGE_METHODS = frozenset({"JOBACK"})

# --------------------------------------------------------------------------- extraction


def library_versions() -> dict[str, str]:
    import chemicals
    import rdkit
    import thermo

    return {
        "chemicals": chemicals.__version__,
        "thermo": thermo.__version__,
        "rdkit": rdkit.__version__,
    }


def _round(field: str, value: float) -> float:
    return round(float(value), DIGITS[field])


def _entry(
    field: str, value: float, source: str, *, estimate: bool = False, reason: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": _round(field, value), "source": source}
    if estimate:
        entry["estimate"] = True
    if reason:
        entry["reason"] = reason
    return entry


def _override_entry(field: str, cas: str, library_value: Any) -> dict[str, Any] | None:
    """The entry for an override with a typed-in value, or None when there is no such override."""
    ov = OVERRIDES.get((cas, field))
    if ov is None or ov.value is None:
        return None
    entry = _entry(field, float(ov.value), f"override: {ov.source}", reason=ov.reason)
    if library_value is not None:
        entry["library_value"] = library_value
    return entry


def _phase_change(
    cas: str, field: str, methods_fn, value_fn, label: str, *, below_c: float | None = None
) -> dict[str, Any] | None:
    """Melting or boiling point in °C from the library's ranking of sources, JOBACK excluded.

    ``below_c``: for melting points, the boiling point.  Several sources file a boiling point
    under the melting point (COMMON_CHEMISTRY gives DIPEA mp 127 °C, tert-butyl isocyanide
    149 °C; WEBBOOK gives TFA 186 °C); a melting point at or above the boiling point is skipped.
    """
    methods = [m for m in methods_fn(cas) if m not in EXCLUDED_PHASE_CHANGE_METHODS]
    ov = OVERRIDES.get((cas, field))
    if ov is not None and ov.method is not None:
        if ov.method not in methods:
            raise ValueError(
                f"{cas} {field}: override method {ov.method} not available (have {methods})"
            )
        default = methods[0]
        k = value_fn(cas, method=ov.method)
        entry = _entry(
            field,
            k - 273.15,
            f"override: chemicals.phase_change.{label}: {ov.method}",
            reason=ov.reason,
        )
        entry["library_value"] = {
            "value": _round(field, value_fn(cas, method=default) - 273.15),
            "source": f"chemicals.phase_change.{label}: {default}",
        }
        return entry
    if ov is not None and ov.value is not None:
        library = (
            {
                "value": _round(field, value_fn(cas, method=methods[0]) - 273.15),
                "source": f"chemicals.phase_change.{label}: {methods[0]}",
            }
            if methods
            else None
        )
        return _override_entry(field, cas, library)
    skipped = []
    for method in methods:
        celsius = value_fn(cas, method=method) - 273.15
        if below_c is not None and celsius >= below_c:
            skipped.append(
                {
                    "value": _round(field, celsius),
                    "source": f"chemicals.phase_change.{label}: {method}",
                    "why": "not below the boiling point",
                }
            )
            continue
        entry = _entry(field, celsius, f"chemicals.phase_change.{label}: {method}")
        if skipped:
            entry["skipped"] = skipped
        return entry
    return None


def _critical_inputs(cas: str, mw: float, tb_k: float | None) -> dict[str, Any]:
    from chemicals import acentric, critical

    def safe(fn):
        try:
            return fn(cas)
        except (
            KeyError,
            ValueError,
        ):  # chemicals 1.5 returns None for unknown CAS; older versions raised
            return None

    return {
        "CASRN": cas,
        "MW": mw,
        "Tb": tb_k,
        "Tc": safe(critical.Tc),
        "Pc": safe(critical.Pc),
        "Vc": safe(critical.Vc),
        "Zc": safe(critical.Zc),
        "omega": safe(acentric.omega),
    }


def _density(cas: str, mw: float, tb_k: float | None) -> dict[str, Any] | None:
    """Liquid density in g/mL at 20 °C, preferring measured-data correlations."""
    from thermo import VolumeLiquid

    inputs = _critical_inputs(cas, mw, tb_k)
    vl = VolumeLiquid(**inputs)
    for method in vl.ranked_methods:
        if (
            method in MEASURED_DENSITY_METHODS
            and method in vl.all_methods
            and vl.test_method_validity(T_REFERENCE_K, method)
        ):
            vm = vl.calculate(T_REFERENCE_K, method)  # m³/mol
            if vm:
                return _entry(
                    "density_g_ml", mw / vm / 1e6, f"thermo.VolumeLiquid at 293.15 K: {method}"
                )
    if vl.method is None:
        return None
    vm = vl.calculate(T_REFERENCE_K, vl.method)
    if not vm:
        return None
    return _entry(
        "density_g_ml",
        mw / vm / 1e6,
        f"thermo.VolumeLiquid at 293.15 K: {vl.method}",
        estimate=True,
    )


def _vapour_pressure_method(cas: str, tb_k: float | None) -> tuple[Any, str, bool] | None:
    """(thermo.VaporPressure, method, estimate): the measured-data correlation valid at 20 °C
    ranked first, else the library's own choice (then an estimate)."""
    from thermo import VaporPressure

    inputs = _critical_inputs(cas, 0.0, tb_k)
    vp = VaporPressure(CASRN=cas, Tb=tb_k, Tc=inputs["Tc"], Pc=inputs["Pc"], omega=inputs["omega"])
    for method in MEASURED_VAPOUR_PRESSURE_METHODS:
        if method in vp.all_methods and vp.test_method_validity(T_REFERENCE_K, method):
            if vp.calculate(T_REFERENCE_K, method):
                return vp, method, False
    if vp.method is None or not vp.calculate(T_REFERENCE_K, vp.method):
        return None
    return vp, vp.method, True


def _vapour_pressure(cas: str, tb_k: float | None) -> dict[str, Any] | None:
    """Vapour pressure in kPa at 20 °C, preferring measured-data correlations valid at 20 °C."""
    chosen = _vapour_pressure_method(cas, tb_k)
    if chosen is None:
        return None
    vp, method, estimate = chosen
    return _entry(
        "vapour_pressure_kpa",
        vp.calculate(T_REFERENCE_K, method) / 1000,
        f"thermo.VaporPressure at 293.15 K: {method}",
        estimate=estimate,
    )


def _vapour_pressure_curve(cas: str, tb_k: float | None) -> dict[str, Any] | None:
    """The vapour pressure (kPa) of the same method as the 20 °C value, sampled every
    :data:`CURVE_STEP_C` over :data:`CURVE_RANGE_C` where the method is valid (below the
    critical point); diazflow interpolates ln P against 1/T between the samples."""
    chosen = _vapour_pressure_method(cas, tb_k)
    if chosen is None:
        return None
    vp, method, estimate = chosen
    low, high = CURVE_RANGE_C
    temperatures, pressures = [], []
    for celsius in range(low, high + 1, CURVE_STEP_C):
        kelvin = celsius + 273.15
        if not vp.test_method_validity(kelvin, method):
            continue
        pa = vp.calculate(kelvin, method)
        if pa and pa > 0:
            temperatures.append(float(celsius))
            pressures.append(float(f"{pa / 1000:.{CURVE_SIGNIFICANT}g}"))
    if len(temperatures) < 2:
        return None
    curve: dict[str, Any] = {
        "t_c": temperatures,
        "kpa": pressures,
        "source": f"thermo.VaporPressure: {method}",
    }
    if estimate:
        curve["estimate"] = True
    return curve


AIR_CAS = "132259-10-0"
DIFFUSIVITY_DATABASES = ("Magalhães", "Poling")
"""Lennard-Jones parameters from these tables are data; any other method is a correlation."""


def _lennard_jones(cas: str, critical: dict[str, Any]) -> tuple[float, float, str, bool] | None:
    """(ε/k in K, σ in Å, the methods, whether estimated) from chemicals.lennard_jones: its
    tables first (Magalhães et al. 2013, Poling et al. 2001), else its critical-point
    correlations."""
    from chemicals.lennard_jones import (
        Stockmayer,
        Stockmayer_methods,
        molecular_diameter,
        molecular_diameter_methods,
    )

    epsilon_args = {k: critical[k] for k in ("Tc", "Zc", "omega")}
    sigma_args = {k: critical[k] for k in ("Tc", "Pc", "Vc", "Zc", "omega")}
    epsilon_methods = Stockmayer_methods(cas, **epsilon_args)
    sigma_methods = molecular_diameter_methods(cas, **sigma_args)
    if not epsilon_methods or not sigma_methods:
        return None
    epsilon = Stockmayer(cas, **epsilon_args, method=epsilon_methods[0])
    sigma = molecular_diameter(cas, **sigma_args, method=sigma_methods[0])
    if not epsilon or not sigma:
        return None
    estimate = not all(
        m.startswith(DIFFUSIVITY_DATABASES) for m in (epsilon_methods[0], sigma_methods[0])
    )
    return epsilon, sigma, f"ε/k {epsilon_methods[0]}, σ {sigma_methods[0]}", estimate


def _air_diffusivity_curve(cas: str, mw: float, tb_k: float | None) -> dict[str, Any] | None:
    """The binary diffusion coefficient of the vapour in air (cm²/s at 1 atm), sampled like the
    vapour-pressure curve, for the evaporation model (compiler/evaporation.py).

    Chapman-Enskog (Bird, Stewart & Lightfoot, Transport Phenomena, 2nd ed., eq. 17.3-12) with
    the Lennard-Jones parameters and the Neufeld-Janzen-Aziz collision integral of
    ``chemicals.lennard_jones`` and the combining rules σ_AB = (σ_A + σ_B)/2, ε_AB = √(ε_A ε_B).
    chemicals 1.5 has no gas-diffusivity correlation of its own.  The estimate is low for polar
    vapours (water -24 %, ethanol -19 %, methanol -11 % against measured values at 25 °C; DCM
    -5 %, toluene +1 %): docs/chemistry-data.md."""
    import math

    from chemicals.air import lemmon2000_air_MW
    from chemicals.lennard_jones import collision_integral_Neufeld_Janzen_Aziz

    air_critical = {"Tc": None, "Pc": None, "Vc": None, "Zc": None, "omega": None}
    solute = _lennard_jones(cas, _critical_inputs(cas, mw, tb_k))
    air = _lennard_jones(AIR_CAS, air_critical)
    if solute is None or air is None:
        return None
    eps_a, sigma_a, methods, estimate = solute
    eps_b, sigma_b, _, _ = air
    eps_ab = math.sqrt(eps_a * eps_b)
    sigma_ab = (sigma_a + sigma_b) / 2
    low, high = CURVE_RANGE_C
    temperatures, values = [], []
    for celsius in range(low, high + 1, CURVE_STEP_C):
        kelvin = celsius + 273.15
        omega = collision_integral_Neufeld_Janzen_Aziz(kelvin / eps_ab, 1, 1)
        d = (
            0.0018583
            * math.sqrt(kelvin**3 * (1 / mw + 1 / lemmon2000_air_MW))
            / (sigma_ab**2 * omega)
        )
        temperatures.append(float(celsius))
        values.append(float(f"{d:.{CURVE_SIGNIFICANT}g}"))
    curve: dict[str, Any] = {
        "t_c": temperatures,
        "cm2_s": values,
        "source": f"Chapman-Enskog with chemicals.lennard_jones ({methods})",
    }
    if estimate:
        curve["estimate"] = True
    return curve


def _liquid_property(cas: str, attribute: str, field: str, scale: float) -> dict[str, Any] | None:
    """Viscosity (mPa·s) or surface tension (mN/m) at 20 °C from thermo's own choice of method
    (measured-data fits rank first there); ``attribute`` names the thermo.Chemical property."""
    import thermo

    prop = getattr(thermo.Chemical(cas, T=T_REFERENCE_K), attribute)
    method = prop.method
    if method is None:
        return None
    value = prop.calculate(T_REFERENCE_K, method)
    if not value:
        return None
    return _entry(
        field,
        value * scale,
        f"thermo.{attribute} at 293.15 K: {method}",
        estimate=method in ESTIMATION_METHODS,
    )


def _rdkit_identity(smiles: str) -> tuple[str, float, str, str]:
    """(canonical SMILES, MW, formula, InChIKey) computed by RDKit from ``smiles``."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import Descriptors, rdMolDescriptors

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot parse {smiles!r}")
    return (
        Chem.MolToSmiles(mol),
        float(Descriptors.MolWt(mol)),
        rdMolDescriptors.CalcMolFormula(mol),
        Chem.MolToInchiKey(mol),
    )


def _library_names(meta, compound: Compound) -> list[str]:
    """The library's common and IUPAC names, as extra lookup keys.

    Its full synonym lists (from PubChem) are not used: they are noisy enough to be wrong
    ("lactic acid(dl)" and "ammonium methanesulfonate" are synonyms of methanesulfonic acid
    there).  Lab abbreviations live in the hand-written aliases.json instead.
    """
    names = {n.strip().lower() for n in (meta.common_name, meta.iupac_name) if n}
    names.discard(compound.name.lower())
    return sorted(names)


def extract_compound(compound: Compound) -> dict[str, Any]:
    from chemicals import phase_change
    from chemicals.identifiers import search_chemical

    cas = compound.cas
    meta = search_chemical(cas)

    smiles_override = OVERRIDES.get((cas, "smiles"))
    smiles = str(smiles_override.value) if smiles_override else meta.smiles
    canonical, rdkit_mw, rdkit_formula, inchikey = _rdkit_identity(smiles)
    if smiles_override:
        mw = _entry(
            "mw",
            rdkit_mw,
            "rdkit Descriptors.MolWt of the corrected SMILES",
            reason=smiles_override.reason,
        )
        mw["library_value"] = {
            "value": _round("mw", meta.MW),
            "source": "chemicals.identifiers.search_chemical: MW",
        }
    else:
        mw = _entry("mw", meta.MW, "chemicals.identifiers.search_chemical: MW")

    record: dict[str, Any] = {
        "cas": cas,
        "name": compound.name,
        "kind": compound.kind,
        "formula": rdkit_formula,
        "smiles": canonical,
        "inchikey": inchikey,
        "mw": mw,
    }
    tb = _phase_change(cas, "boiling_point_c", phase_change.Tb_methods, phase_change.Tb, "Tb")
    tm = _phase_change(
        cas,
        "melting_point_c",
        phase_change.Tm_methods,
        phase_change.Tm,
        "Tm",
        below_c=tb["value"] if tb else None,
    )
    record["melting_point_c"] = tm
    record["boiling_point_c"] = tb

    # Liquid-state properties only for substances that are liquid at 20 °C (a solid has no
    # "liquid density at 20 °C"; extrapolating one would invite pipetting it).  Unknown mp: try.
    liquid_at_20 = tm is None or tm["value"] < T_REFERENCE_K - 273.15
    tb_k = tb["value"] + 273.15 if tb else None
    density = vapour = curve = None
    if liquid_at_20:
        density = _density(cas, meta.MW, tb_k)
        vapour = _vapour_pressure(cas, tb_k)
        curve = _vapour_pressure_curve(cas, tb_k)
    if (cas, "density_g_ml") in OVERRIDES:
        density = _override_entry("density_g_ml", cas, density)
    record["density_g_ml"] = density
    record["vapour_pressure_kpa"] = vapour
    record["vapour_pressure_curve"] = curve
    # the vapour's diffusion in air: how fast an open liquid evaporates (compiler/evaporation.py)
    record["air_diffusivity_curve"] = (
        _air_diffusivity_curve(cas, meta.MW, tb_k) if curve is not None else None
    )
    viscosity = surface_tension = None
    if liquid_at_20:
        # for the choice of a pipetting liquid class (chemistry/liquid_classes.py)
        viscosity = _liquid_property(cas, "ViscosityLiquid", "viscosity_mpa_s", 1000.0)
        surface_tension = _liquid_property(cas, "SurfaceTension", "surface_tension_mn_m", 1000.0)
    record["viscosity_mpa_s"] = viscosity
    record["surface_tension_mn_m"] = surface_tension
    record["library_names"] = _library_names(meta, compound)
    return record


def extract() -> dict[str, Any]:
    """Everything that goes into properties.json, computed from the installed libraries."""
    for (cas, field), ov in OVERRIDES.items():
        if (ov.method is None) == (ov.value is None):
            raise ValueError(f"override {cas} {field}: give exactly one of method / value")
    known = {c.cas for c in COMPOUNDS}
    if len(known) != len(COMPOUNDS):
        raise ValueError("duplicate CAS in COMPOUNDS")
    missing = {cas for cas, _ in OVERRIDES} - known
    if missing:
        raise ValueError(f"overrides for compounds not listed: {sorted(missing)}")
    return {
        "format": FORMAT_VERSION,
        "generated_by": "scripts/build_property_data.py",
        "libraries": library_versions(),
        "conditions": {"density_temperature_c": 20.0, "vapour_pressure_temperature_c": 20.0},
        "compounds": {c.cas: extract_compound(c) for c in COMPOUNDS},
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


# --------------------------------------------------------------------------- report


def report() -> None:
    """Print, per compound, the spread of melting/boiling points across the library's sources, so
    that a maintainer sees where the default may be wrong (and an override may be due)."""
    from chemicals import phase_change

    for c in COMPOUNDS:
        for label, methods_fn, value_fn in (
            ("Tm", phase_change.Tm_methods, phase_change.Tm),
            ("Tb", phase_change.Tb_methods, phase_change.Tb),
        ):
            values = {
                m: value_fn(c.cas, method=m) - 273.15
                for m in methods_fn(c.cas)
                if m not in EXCLUDED_PHASE_CHANGE_METHODS
            }
            if len(values) > 1 and max(values.values()) - min(values.values()) > 3.0:
                shown = ", ".join(f"{m} {v:.1f}" for m, v in values.items())
                print(f"{c.name:40s} {label}: {shown}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if properties.json is out of date",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="print where the library's sources disagree by more than 3 °C",
    )
    args = parser.parse_args(argv)

    text = dumps(extract())
    if args.report:
        report()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT.relative_to(REPO)} is out of date: run python scripts/build_property_data.py",
                file=sys.stderr,
            )
            return 1
        print(f"{OUTPUT.relative_to(REPO)} is up to date")
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(text)} bytes, {len(COMPOUNDS)} compounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
