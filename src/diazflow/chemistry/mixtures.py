"""Bubble and freezing points of binary solvent mixtures, from the shipped table (stdlib only).

``scripts/build_mixture_data.py`` computes them with thermo (modified UNIFAC activity
coefficients: a bubble-point flash at 1 atm, and solid-liquid equilibrium by Schröder-van Laar)
for every pair of the solvents in properties.json, over mole fractions 0, 0.05, ..., 1, into
``data/mixtures.json``; this module interpolates linearly between grid points and never imports
thermo (``validate`` stays fast and needs no optional extra)::

    >>> round(binary_points({"MeOH": 0.35, "CHCl3": 0.65}).bubble_point_c, 1)
    53.7
    >>> # the azeotrope (x MeOH 0.35) boils at 53.5 °C (CRC), MeOH at 64.5 °C, CHCl3 at 61.2 °C

None means *no figure*: a component unknown to properties.json, three or more components, or a
pair the model finds only partially miscible (the table then has no figures: a single-liquid
model is meaningless across a miscibility gap).  The caller falls back to per-component checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from diazflow.chemistry import properties


@dataclass(frozen=True)
class MixturePoints:
    """A binary mixture at 1 atm.  ``freezing_point_c`` None: no component crystallises above
    -123 °C (the lowest temperature the table searches)."""

    bubble_point_c: float
    freezing_point_c: float | None
    bubble_source: str
    freezing_source: str
    mole_fractions: Mapping[str, float]  # canonical name -> mole fraction

    def composition(self) -> str:
        return ", ".join(f"x({name}) {x:.2f}" for name, x in self.mole_fractions.items())


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    text = resources.files("diazflow.chemistry").joinpath("data/mixtures.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def partially_miscible_pairs() -> frozenset[frozenset[str]]:
    """The CAS pairs the table has no figures for (the model splits them into two liquids)."""
    return frozenset(
        frozenset(key.split("|"))
        for key, pair in _table()["pairs"].items()
        if pair.get("partially_miscible")
    )


def _interpolate(xs: list[float], ys: list[float | None], x: float) -> float | None:
    for i in range(1, len(xs)):
        if x <= xs[i] or i == len(xs) - 1:
            low, high = ys[i - 1], ys[i]
            if low is None or high is None:
                return None
            t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
            return low + t * (high - low)
    return None  # pragma: no cover - xs has at least two points


def binary_points(fractions: Mapping[str, float]) -> MixturePoints | None:
    """The mixture's bubble and freezing points, ``fractions`` being component name -> mole
    fraction (as ``chemistry.checks.mole_fractions`` gives them)."""
    by_cas: dict[str, float] = {}
    names: dict[str, str] = {}
    for name, x in fractions.items():
        props = properties.lookup(name)
        if props is None:
            return None
        by_cas[props.cas] = by_cas.get(props.cas, 0.0) + x
        names[props.cas] = props.name
    if len(by_cas) != 2:
        return None
    first, second = sorted(by_cas)
    table = _table()
    pair = table["pairs"].get(f"{first}|{second}")
    if pair is None or pair.get("partially_miscible"):
        return None
    x_first = by_cas[first] / (by_cas[first] + by_cas[second])
    grid = table["x_first"]
    bubble = _interpolate(grid, pair["bubble_point_c"], x_first)
    if bubble is None:
        return None
    return MixturePoints(
        bubble_point_c=bubble,
        freezing_point_c=_interpolate(grid, pair["freezing_point_c"], x_first),
        bubble_source=table["sources"]["bubble_point_c"],
        freezing_source=table["sources"]["freezing_point_c"],
        mole_fractions={names[first]: x_first, names[second]: 1 - x_first},
    )
