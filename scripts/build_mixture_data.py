#!/usr/bin/env python
"""Tabulate the bubble point and freezing point of every binary mixture of the shipped solvents.

A protocol may write its solvent as a mixture (``MeOH/CHCl3 1:1``, ``DMSO/water 1:1``).  Such a
mixture neither boils at its lowest-boiling component's boiling point (MeOH/CHCl3 is a
minimum-boiling azeotrope, 53.5 °C) nor freezes at its highest-melting component's melting point
(DMSO/water 1:1 stays liquid far below DMSO's 18.4 °C).  Both figures come from thermo with the
modified UNIFAC (Dortmund) activity model; importing thermo costs about a second and loading its
databases a few more, and thermo is not a runtime dependency, so the figures are computed here,
once, for every pair of ``kind: solvent`` compounds in properties.json, over a grid of mole
fractions, and shipped in ``src/diazflow/chemistry/data/mixtures.json``.
``diazflow.chemistry.mixtures`` interpolates in it; ``tests/test_mixtures.py`` re-derives a
sample of the table, and the issue-15 cases at their exact composition, from thermo.

* **Bubble point** at 101.325 kPa: ``thermo.FlashVL`` with a ``GibbsExcessLiquid`` whose activity
  coefficients are ``thermo.unifac.UNIFAC`` (Dortmund subgroups and the 2016 interaction
  parameters) and an ideal gas (modified Raoult's law: ``P = sum x_i gamma_i Psat_i(T)``).
* **Freezing point** (solid-liquid equilibrium, each component crystallising pure): the
  Schröder-van Laar equation with the activity coefficient,
  ``ln(x_i gamma_i(T)) = -dHfus_i / R (1/T - 1/Tm_i)``, solved for T for each component; the
  mixture starts to freeze at the highest of these.  ``dHfus`` from ``chemicals.Hfus``, ``Tm``
  from properties.json (the figure the single-solvent check uses).

Usage::

    python scripts/build_mixture_data.py            # rewrite mixtures.json (~2 min)
    python scripts/build_mixture_data.py --check    # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "src" / "diazflow" / "chemistry" / "data"
PROPERTIES = DATA / "properties.json"
OUTPUT = DATA / "mixtures.json"

FORMAT_VERSION = 1
PRESSURE_PA = 101325.0
GRID_STEPS = 20
"""Mole fraction of the first component in 1/20 steps (0, 0.05, ..., 1)."""
EDGE = 1e-6
"""The pure ends are computed at 1 - EDGE: the flash needs every component present."""
LOWEST_K = 150.0
"""Freezing is searched down to this temperature; below it the mixture is tabulated as 'stays
liquid down to at least -123 °C' (null).  UNIFAC is not meant for such temperatures anyway."""
R = 8.314462618
BUBBLE_SCAN_K = 2.0
MISCIBILITY_POINTS = 400
MISCIBILITY_K = (293.15, 323.15)
"""A pair whose liquid splits in two at either temperature is tabulated as partially miscible,
without figures: a single-liquid model gives nonsense there (hexane/water 'boils' at -26 °C)."""

BUBBLE_SOURCE = "thermo, modified UNIFAC (Dortmund), modified Raoult bubble point"
FREEZING_SOURCE = "Schröder-van Laar with modified UNIFAC (Dortmund), dHfus from chemicals"


@dataclass(frozen=True)
class Solvent:
    cas: str
    name: str
    melting_k: float


def shipped_solvents() -> list[Solvent]:
    compounds = json.loads(PROPERTIES.read_text(encoding="utf-8"))["compounds"]
    out = []
    for cas, record in compounds.items():
        if record.get("kind") != "solvent" or record.get("melting_point_c") is None:
            continue
        out.append(Solvent(cas, record["name"], record["melting_point_c"]["value"] + 273.15))
    return sorted(out, key=lambda s: s.cas)


def grid() -> list[float]:
    return [i / GRID_STEPS for i in range(GRID_STEPS + 1)]


class PairModel:
    """thermo's property package, activity model and flasher for one pair of solvents."""

    def __init__(self, a: Solvent, b: Solvent):
        from chemicals import Hfus
        from thermo import (
            UNIFAC,
            ChemicalConstantsPackage,
            FlashVL,
            GibbsExcessLiquid,
            IdealGas,
        )
        from thermo.unifac import DOUFIP2016, DOUFSG

        self.solvents = (a, b)
        constants, correlations = ChemicalConstantsPackage.from_IDs([a.cas, b.cas])
        groups = constants.UNIFAC_Dortmund_groups
        if any(not g for g in groups):
            raise ValueError(f"no Dortmund UNIFAC groups for {a.name} or {b.name}")
        self.hfus = [Hfus(a.cas), Hfus(b.cas)]
        zs = [0.5, 0.5]
        self.activity = UNIFAC.from_subgroups(
            T=298.15,
            xs=zs,
            chemgroups=groups,
            version=1,
            interaction_data=DOUFIP2016,
            subgroups=DOUFSG,
        )
        liquid = GibbsExcessLiquid(
            VaporPressures=correlations.VaporPressures,
            HeatCapacityGases=correlations.HeatCapacityGases,
            VolumeLiquids=correlations.VolumeLiquids,
            GibbsExcessModel=self.activity,
            equilibrium_basis="Psat",
            caloric_basis="Psat",
            T=298.15,
            P=PRESSURE_PA,
            zs=zs,
        )
        gas = IdealGas(
            HeatCapacityGases=correlations.HeatCapacityGases, T=298.15, P=PRESSURE_PA, zs=zs
        )
        self.flasher = FlashVL(constants, correlations, liquid=liquid, gas=gas)
        self.vapour = [vp.T_dependent_property for vp in correlations.VaporPressures]
        self.pure_boiling_k = [vp.solve_property(PRESSURE_PA) for vp in correlations.VaporPressures]

    def bubble_point_c(self, x_first: float) -> float:
        """Modified Raoult's law, ``sum x_i gamma_i(T) Psat_i(T) = P``, solved for T: what
        ``FlashVL.flash(P=..., VF=0)`` computes with this liquid and an ideal gas.  Solved here
        with brentq because thermo 0.6.1's flash raises UnboundLocalError for some pairs
        (1,2-dichloroethane/toluene); tests/test_mixtures.py holds the two to each other."""
        from scipy.optimize import brentq

        x = min(max(x_first, EDGE), 1 - EDGE)
        zs = [x, 1 - x]

        def excess_pa(kelvin: float) -> float:
            gammas = self.gammas(kelvin, x)
            return (
                sum(z * g * p(kelvin) for z, g, p in zip(zs, gammas, self.vapour, strict=True))
                - PRESSURE_PA
            )

        # scanned upwards for the first sign change: a maximum-boiling azeotrope (THF/chloroform)
        # boils above both components
        low = min(self.pure_boiling_k) - 80.0
        while excess_pa(low + BUBBLE_SCAN_K) < 0:
            low += BUBBLE_SCAN_K
            if low > max(self.pure_boiling_k) + 60.0:
                raise ValueError("no bubble point within 60 K above the components'")
        return float(brentq(excess_pa, low, low + BUBBLE_SCAN_K, xtol=1e-4)) - 273.15

    def gammas(self, kelvin: float, x_first: float) -> list[float]:
        x = min(max(x_first, EDGE), 1 - EDGE)
        return list(self.activity.to_T_xs(kelvin, [x, 1 - x]).gammas())

    def splits_at(self, kelvin: float) -> bool:
        """True when the liquid separates into two phases somewhere at ``kelvin``: the Gibbs
        energy of mixing, sum x_i ln(x_i gamma_i), is not convex in x (a single-liquid bubble
        point means nothing there)."""
        xs = [i / MISCIBILITY_POINTS for i in range(1, MISCIBILITY_POINTS)]
        g = []
        for x in xs:
            gammas = self.gammas(kelvin, x)
            g.append(x * math.log(x * gammas[0]) + (1 - x) * math.log((1 - x) * gammas[1]))
        return any(g[i - 1] - 2 * g[i] + g[i + 1] < 0 for i in range(1, len(g) - 1))

    def freezing_point_c(self, x_first: float) -> float | None:
        """The highest temperature at which a pure component crystallises; None if neither does
        above LOWEST_K."""
        from scipy.optimize import brentq

        best: float | None = None
        for i, solvent in enumerate(self.solvents):
            x_i = x_first if i == 0 else 1 - x_first
            if x_i <= 0:
                continue
            if x_i >= 1:
                best = max(best or -math.inf, solvent.melting_k)
                continue

            def excess(kelvin: float, i: int = i, x_i: float = x_i, s: Solvent = solvent) -> float:
                activity = x_i * self.gammas(kelvin, x_first)[i]
                return math.log(activity) + self.hfus[i] / R * (1 / kelvin - 1 / s.melting_k)

            if excess(solvent.melting_k) >= 0:  # activity >= 1: the pure solid appears at Tm
                kelvin = solvent.melting_k
            elif solvent.melting_k <= LOWEST_K or excess(LOWEST_K) < 0:
                continue
            else:
                kelvin = brentq(excess, LOWEST_K, solvent.melting_k, xtol=1e-4)
            best = max(best or -math.inf, kelvin)
        return None if best is None else best - 273.15


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def tabulate_pair(a: Solvent, b: Solvent) -> dict[str, Any]:
    model = PairModel(a, b)
    xs = grid()
    if any(model.splits_at(kelvin) for kelvin in MISCIBILITY_K):
        return {"names": [a.name, b.name], "partially_miscible": True}
    return {
        "names": [a.name, b.name],
        "bubble_point_c": [_round(model.bubble_point_c(x)) for x in xs],
        "freezing_point_c": [_round(model.freezing_point_c(x)) for x in xs],
    }


def library_versions() -> dict[str, str]:
    import chemicals
    import thermo

    return {"chemicals": chemicals.__version__, "thermo": thermo.__version__}


def extract(progress: bool = False) -> dict[str, Any]:
    solvents = shipped_solvents()
    pairs: dict[str, Any] = {}
    for a, b in itertools.combinations(solvents, 2):
        pairs[f"{a.cas}|{b.cas}"] = tabulate_pair(a, b)
        if progress:
            print(f"{a.name} / {b.name}", file=sys.stderr)
    return {
        "format": FORMAT_VERSION,
        "generated_by": "scripts/build_mixture_data.py",
        "libraries": library_versions(),
        "pressure_kpa": PRESSURE_PA / 1000,
        "x_first": grid(),
        "sources": {"bubble_point_c": BUBBLE_SOURCE, "freezing_point_c": FREEZING_SOURCE},
        "pairs": pairs,
    }


def dumps(data: dict[str, Any]) -> str:
    """One line per pair, so that a diff shows which pair moved."""
    head = {k: v for k, v in data.items() if k != "pairs"}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "pairs": {']
    items = list(data["pairs"].items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = dumps(extract(progress=not args.check))
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO)} is out of date", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(REPO)} is up to date")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(text)} bytes, {len(data_pairs(text))} pairs)")
    return 0


def data_pairs(text: str) -> dict[str, Any]:
    return json.loads(text)["pairs"]


if __name__ == "__main__":
    sys.exit(main())
