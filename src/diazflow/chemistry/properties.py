"""Physical properties of solvents and reagents, from the shipped data file (stdlib only).

The numbers come from ``chemicals``/``thermo`` but are extracted ahead of time by
``scripts/build_property_data.py`` into ``data/properties.json``, because importing those
libraries costs seconds and ``diazflow validate`` must start fast.  This module never imports
them.  Names are resolved through ``data/aliases.json`` (lab abbreviations: DCM, TEA, STAB, ...),
the canonical names, the library's common/IUPAC names, and CAS numbers::

    >>> lookup("DCM").boiling_point_c
    39.8
    >>> lookup("TEA").name          # not tetraethylammonium
    'triethylamine'

Matching ignores case, accents ("Hünig's base"), subscript digits ("Na₂CO₃"), typographic
dashes/apostrophes, and a leading grade word ("anhydrous DMF", "glacial acetic acid").
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

PROPERTY_FIELDS = (
    "mw",
    "melting_point_c",
    "boiling_point_c",
    "density_g_ml",
    "vapour_pressure_kpa",
    "viscosity_mpa_s",
    "surface_tension_mn_m",
)

# Words that qualify a grade, not a substance: "anhydrous DMF" is DMF.
_GRADE_WORDS = (
    "anhydrous",
    "dry",
    "dried",
    "glacial",
    "absolute",
    "neat",
    "degassed",
    "extra dry",
    "reagent grade",
    "hplc grade",
)
_GRADE_PREFIX = re.compile(r"^(?:(?:{})\s+)+".format("|".join(re.escape(w) for w in _GRADE_WORDS)))
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
_APOSTROPHES = dict.fromkeys(map(ord, "\u2018\u2019\u02bc\u2032`"), "'")
_CAS = re.compile(r"^\d{2,7}-\d{2}-\d$")


@dataclass(frozen=True)
class ChemicalProperties:
    """One compound.  Any value may be None (unknown, or not meaningful: a solid has no liquid
    density).  ``sources`` maps each known field to where its value came from, e.g.
    ``"chemicals.phase_change.Tm: OPEN_NTBKM"`` or ``"override: ..."``; ``estimated`` names the
    fields whose value is a correlation estimate rather than measured data."""

    cas: str
    name: str
    mw: float | None  # g/mol
    melting_point_c: float | None
    boiling_point_c: float | None
    density_g_ml: float | None  # liquid, at 20 °C
    vapour_pressure_kpa: float | None  # at 20 °C
    sources: Mapping[str, str]
    smiles: str | None = None
    formula: str | None = None
    inchikey: str | None = None
    kind: str | None = None  # "solvent" | "liquid reagent" | "solid reagent"
    estimated: frozenset[str] = frozenset()
    viscosity_mpa_s: float | None = None  # liquid, at 20 °C
    surface_tension_mn_m: float | None = None  # at 20 °C
    vapour_pressure_curve: tuple[tuple[float, float], ...] = ()
    """(°C, kPa) samples of the vapour pressure, ascending; its source is
    ``sources["vapour_pressure_curve"]``."""
    air_diffusivity_curve: tuple[tuple[float, float], ...] = ()
    """(°C, cm²/s) samples of the vapour's diffusion coefficient in air at 1 atm, ascending
    (evaporation); its source is ``sources["air_diffusivity_curve"]``."""

    def vapour_pressure_kpa_at(self, celsius: float) -> float | None:
        """The vapour pressure at ``celsius``: ln P interpolated linearly in 1/T between the two
        samples around it (Clausius-Clapeyron: exact for a constant heat of vaporisation, within
        0.5 % over the 10 °C steps stored).  None outside the sampled range: no extrapolation."""
        curve = self.vapour_pressure_curve
        if not curve or not curve[0][0] <= celsius <= curve[-1][0]:
            return None
        for (t_low, p_low), (t_high, p_high) in zip(curve, curve[1:], strict=False):
            if t_low <= celsius <= t_high:
                x, x_low, x_high = (1 / (t + 273.15) for t in (celsius, t_low, t_high))
                fraction = (x - x_low) / (x_high - x_low)
                return math.exp(math.log(p_low) + fraction * (math.log(p_high) - math.log(p_low)))
        return curve[-1][1]

    def air_diffusivity_cm2_s_at(self, celsius: float) -> float | None:
        """The vapour's diffusion coefficient in air at ``celsius`` (1 atm), linear between the
        samples (it grows about as T^1.75, 1.2 % per 10 °C step of curvature at most).  None
        outside the sampled range."""
        curve = self.air_diffusivity_curve
        if not curve or not curve[0][0] <= celsius <= curve[-1][0]:
            return None
        for (t_low, d_low), (t_high, d_high) in zip(curve, curve[1:], strict=False):
            if t_low <= celsius <= t_high:
                return d_low + (d_high - d_low) * (celsius - t_low) / (t_high - t_low)
        return curve[-1][1]

    def is_solid_at(self, celsius: float) -> bool:
        """True when the melting point is known and above ``celsius``."""
        return self.melting_point_c is not None and self.melting_point_c > celsius


def normalize_name(text: str) -> str:
    """The form names are compared in: NFKC (subscripts to digits), accents dropped, case-folded,
    unified dashes and apostrophes, single spaces, no leading grade word."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.translate(_DASHES).translate(_APOSTROPHES).casefold()
    text = " ".join(text.split())
    return _GRADE_PREFIX.sub("", text)


def _read_json(filename: str) -> Any:
    return json.loads(
        resources.files("diazflow.chemistry")
        .joinpath("data")
        .joinpath(filename)
        .read_text(encoding="utf-8")
    )


def _value(entry: Mapping[str, Any] | None) -> float | None:
    return None if entry is None else entry["value"]


def _record_to_properties(record: Mapping[str, Any]) -> ChemicalProperties:
    present = {f: record[f] for f in PROPERTY_FIELDS if record.get(f) is not None}
    curve = record.get("vapour_pressure_curve")
    if curve is not None:
        present["vapour_pressure_curve"] = curve
    diffusivity = record.get("air_diffusivity_curve")
    if diffusivity is not None:
        present["air_diffusivity_curve"] = diffusivity
    return ChemicalProperties(
        cas=record["cas"],
        name=record["name"],
        mw=_value(record.get("mw")),
        melting_point_c=_value(record.get("melting_point_c")),
        boiling_point_c=_value(record.get("boiling_point_c")),
        density_g_ml=_value(record.get("density_g_ml")),
        vapour_pressure_kpa=_value(record.get("vapour_pressure_kpa")),
        viscosity_mpa_s=_value(record.get("viscosity_mpa_s")),
        surface_tension_mn_m=_value(record.get("surface_tension_mn_m")),
        vapour_pressure_curve=tuple(zip(curve["t_c"], curve["kpa"], strict=True)) if curve else (),
        air_diffusivity_curve=(
            tuple(zip(diffusivity["t_c"], diffusivity["cm2_s"], strict=True)) if diffusivity else ()
        ),
        sources=MappingProxyType({f: e["source"] for f, e in present.items()}),
        smiles=record.get("smiles"),
        formula=record.get("formula"),
        inchikey=record.get("inchikey"),
        kind=record.get("kind"),
        estimated=frozenset(f for f, e in present.items() if e.get("estimate")),
    )


@dataclass(frozen=True)
class _Database:
    by_cas: Mapping[str, ChemicalProperties]
    by_name: Mapping[str, str]  # normalized name -> CAS
    by_inchikey: Mapping[str, str]
    by_skeleton: Mapping[str, tuple[str, ...]]  # first InChIKey block -> CAS numbers
    display_names: tuple[str, ...]  # canonical names and aliases as written, for hints
    libraries: Mapping[str, str]


@lru_cache(maxsize=1)
def _database() -> _Database:
    data = _read_json("properties.json")
    aliases = _read_json("aliases.json")["aliases"]
    by_cas = {cas: _record_to_properties(rec) for cas, rec in data["compounds"].items()}

    by_name: dict[str, str] = {}
    # Lowest priority first, so that a hand-written alias wins over a library name
    # (chemicals' own alias table makes "TEA" tetraethylammonium; ours says triethylamine).
    for cas, rec in data["compounds"].items():
        for n in rec.get("library_names", ()):
            by_name[normalize_name(n)] = cas
    for cas, rec in data["compounds"].items():
        by_name[normalize_name(rec["name"])] = cas
        by_name[cas] = cas
    for alias, cas in aliases.items():
        if cas not in by_cas:
            raise ValueError(
                f"aliases.json: '{alias}' points to {cas}, which is not in properties.json"
            )
        by_name[normalize_name(alias)] = cas

    skeleton: dict[str, list[str]] = {}
    for cas, p in by_cas.items():
        if p.inchikey:
            skeleton.setdefault(p.inchikey.split("-")[0], []).append(cas)

    display = sorted({p.name for p in by_cas.values()} | set(aliases), key=str.casefold)
    return _Database(
        by_cas=MappingProxyType(by_cas),
        by_name=MappingProxyType(by_name),
        by_inchikey=MappingProxyType({p.inchikey: cas for cas, p in by_cas.items() if p.inchikey}),
        by_skeleton=MappingProxyType({k: tuple(v) for k, v in skeleton.items()}),
        display_names=tuple(display),
        libraries=MappingProxyType(dict(data.get("libraries", {}))),
    )


@lru_cache(maxsize=1024)
def lookup(name_or_alias_or_cas: str) -> ChemicalProperties | None:
    """The compound a name, lab abbreviation or CAS number stands for, or None if unknown."""
    if not name_or_alias_or_cas or not name_or_alias_or_cas.strip():
        return None
    db = _database()
    text = name_or_alias_or_cas.strip()
    if _CAS.match(text):
        return db.by_cas.get(text)
    cas = db.by_name.get(normalize_name(text))
    return db.by_cas.get(cas) if cas else None


@lru_cache(maxsize=1024)
def lookup_smiles(smiles: str) -> ChemicalProperties | None:
    """The compound with this structure (compared by InChIKey), or None.

    Imports RDKit on first use (~0.1 s); :func:`lookup` never does.  Salts match whatever the
    order of their fragments ("[Na+].[BH3-]C#N" and "N#C[BH3-].[Na+]" are the same), but the
    ionic and covalent way of writing a salt differ ("[Na+].[H-]" is found, "[NaH]" is not).
    """
    from rdkit import Chem, RDLogger, rdBase

    RDLogger.DisableLog("rdApp.*")
    params = Chem.SmilesParserParams()
    params.parseName = False  # "CCO junk" must not parse as ethanol
    params.allowCXSMILES = False
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles.strip(), params)
        if mol is None:
            return None
        key = Chem.MolToInchiKey(mol)
    db = _database()
    cas = db.by_inchikey.get(key)
    if cas is None:
        # The first block of an InChIKey hashes the main layer only (no stereo, no isotopes), so a
        # stereo-labelled SMILES finds the compound; used only when it is unambiguous.  Charges
        # are in the main layer: "[NaH]" does not find "[Na+].[H-]".
        matches = db.by_skeleton.get(key.split("-")[0], ())
        cas = matches[0] if len(matches) == 1 else None
    return db.by_cas.get(cas) if cas else None


def known_names() -> list[str]:
    """Canonical names and lab aliases, as written, for "did you mean" hints."""
    return list(_database().display_names)


def all_compounds() -> list[ChemicalProperties]:
    """Every compound in the data file, in file order."""
    return list(_database().by_cas.values())


def library_versions() -> dict[str, str]:
    """Versions of chemicals/thermo/rdkit the data file was generated with."""
    return dict(_database().libraries)
