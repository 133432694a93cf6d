"""Which labware materials tolerate which solvents (data/materials.json, stdlib only).

A rating is ``"ok"``, ``"limited"`` (some effect after days of contact: warn) or
``"incompatible"`` (immediate damage: the plate crazes, cracks or dissolves)::

    >>> compatibility("polystyrene", "DCM").rating
    'incompatible'
    >>> compatibility("PP", "THF").rating
    'limited'

Materials are matched by name or alias ("PS", "PP", "HDPE", "COC", "borosilicate", "Teflon"),
solvents through :func:`diazflow.chemistry.properties.lookup` (so "DCM", "CH2Cl2" and
"dichloromethane" are the same row).  Unknown material or solvent: ``None``, meaning "no data",
not "fine".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from diazflow.chemistry.properties import lookup, normalize_name

RATINGS = ("ok", "limited", "incompatible")


@dataclass(frozen=True)
class Compatibility:
    rating: str  # one of RATINGS
    source: str  # short citation, fit for a diagnostic message
    note: str | None = None  # why, or that the rating is by analogy
    material: str = ""  # canonical material name
    solvent: str = ""  # canonical solvent name


@dataclass(frozen=True)
class _Material:
    name: str
    source: str
    citation: str
    note: str | None


@dataclass(frozen=True)
class _Table:
    materials: Mapping[str, _Material]  # canonical name -> material
    material_names: Mapping[str, str]  # normalized name or alias -> canonical name
    ratings: Mapping[str, Mapping[str, tuple[str, str | None]]]  # CAS -> material -> (rating, note)


@lru_cache(maxsize=1)
def _table() -> _Table:
    text = (
        resources.files("diazflow.chemistry")
        .joinpath("data")
        .joinpath("materials.json")
        .read_text(encoding="utf-8")
    )
    data = json.loads(text)
    materials: dict[str, _Material] = {}
    names: dict[str, str] = {}
    for name, spec in data["materials"].items():
        materials[name] = _Material(name, spec["source"], spec["citation"], spec.get("note"))
        for alias in (name, *spec.get("aliases", ())):
            names[normalize_name(alias)] = name

    ratings: dict[str, Mapping[str, tuple[str, str | None]]] = {}
    for cas, row in data["solvents"].items():
        per_material: dict[str, tuple[str, str | None]] = {}
        for material, cell in row.items():
            if material == "name":
                continue
            if material not in materials:
                raise ValueError(
                    f"materials.json: solvent {cas} rates unknown material '{material}'"
                )
            rating, note = (
                (cell, None) if isinstance(cell, str) else (cell["rating"], cell.get("note"))
            )
            if rating not in RATINGS:
                raise ValueError(
                    f"materials.json: {cas} / {material}: rating '{rating}' is not one of {RATINGS}"
                )
            per_material[material] = (rating, note)
        ratings[cas] = MappingProxyType(per_material)
    return _Table(MappingProxyType(materials), MappingProxyType(names), MappingProxyType(ratings))


def canonical_material(material: str) -> str | None:
    """``"PS"`` → ``"polystyrene"``; None if the material is not in the table."""
    return _table().material_names.get(normalize_name(material))


def compatibility(material: str, solvent_name: str) -> Compatibility | None:
    """How ``material`` stands up to ``solvent_name`` (a name, abbreviation or CAS number).

    None when the material or the solvent is unknown, or the pair is not rated.
    """
    table = _table()
    canonical = canonical_material(material)
    props = lookup(solvent_name)
    if canonical is None or props is None:
        return None
    cell = table.ratings.get(props.cas, {}).get(canonical)
    if cell is None:
        return None
    rating, note = cell
    return Compatibility(
        rating=rating,
        source=table.materials[canonical].source,
        note=note,
        material=canonical,
        solvent=props.name,
    )


def citation(material: str) -> str | None:
    """The full citation behind a material's ratings."""
    canonical = canonical_material(material)
    return _table().materials[canonical].citation if canonical else None
