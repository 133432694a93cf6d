"""The units a protocol may write, per dimension: ONE table for the parser and the JSON Schema.

:func:`diazflow.language.quantities.parse_quantity` accepts a unit only when it is listed here for
the field's dimension (converted by this table's factors; pint is never asked to guess), and
:func:`quantity_pattern` turns the same table into the regular expression the JSON Schema gives
every quantity field, so that an editor underlines ``amount: 50 mL`` exactly when ``validate``
rejects it.  The two cannot drift: there is nothing else to edit.

Plain data with no pint import: the parser converts every unit listed here with
:data:`CONVERSIONS` (a factor and an offset to the canonical unit) and loads pint only to explain a
unit the table does not list.  Each entry is the unit as written (case matters: ``M`` is molar,
``m`` is not accepted) mapped to the spelling pint reads.  ``tests/test_language_units.py`` checks
that pint converts every entry to its dimension, and to the value the table gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

# The dimension names of :class:`diazflow.language.quantities.Dimension` (its values); kept as
# strings so this module imports nothing.
UNITS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "amount": {
            "mol": "mol",
            "mmol": "mmol",
            "umol": "umol",
            "µmol": "umol",
            "μmol": "umol",
            "nmol": "nmol",
        },
        "volume": {
            "L": "L",
            "l": "L",
            "mL": "mL",
            "ml": "mL",
            "uL": "uL",
            "ul": "uL",
            "µL": "uL",
            "μL": "uL",
            "µl": "uL",
            "μl": "uL",
            "nL": "nL",
            "nl": "nL",
        },
        "mass": {
            "g": "g",
            "mg": "mg",
            "ug": "ug",
            "µg": "ug",
            "μg": "ug",
            "kg": "kg",
        },
        "duration": {
            "s": "s",
            "sec": "s",
            "secs": "s",
            "second": "s",
            "seconds": "s",
            "min": "min",
            "mins": "min",
            "minute": "min",
            "minutes": "min",
            "h": "h",
            "hr": "h",
            "hrs": "h",
            "hour": "h",
            "hours": "h",
            "d": "day",
            "day": "day",
            "days": "day",
        },
        "temperature": {
            "degC": "degC",
            "°C": "degC",
            "℃": "degC",
            "°c": "degC",
            "C°": "degC",
            "K": "K",
        },
        "concentration": {
            "M": "M",
            "mM": "mM",
            "uM": "uM",
            "µM": "uM",
            "μM": "uM",
            "nM": "nM",
            "mol/L": "mol/L",
            "mmol/L": "mmol/L",
            "mmol/mL": "mmol/mL",
        },
        "mass concentration": {
            "mg/mL": "mg/mL",
            "mg/ml": "mg/mL",
            "g/L": "g/L",
            "g/l": "g/L",
            "ug/uL": "ug/uL",
            "µg/µL": "ug/uL",
            "μg/μL": "ug/uL",
            "ug/mL": "ug/mL",
            "µg/mL": "ug/mL",
            "μg/mL": "ug/mL",
        },
        "speed": {"rpm": "rpm", "Hz": "Hz", "1/s": "1/s", "1/min": "1/min"},
        "flow": {
            "uL/s": "uL/s",
            "µL/s": "uL/s",
            "μL/s": "uL/s",
            "uL/min": "uL/min",
            "µL/min": "uL/min",
            "μL/min": "uL/min",
            "mL/s": "mL/s",
            "mL/min": "mL/min",
            "mL/h": "mL/h",
        },
        "rate": {
            "degC/min": "delta_degC/min",
            "°C/min": "delta_degC/min",
            "K/min": "delta_degC/min",
            "degC/h": "delta_degC/h",
            "°C/h": "delta_degC/h",
            "K/h": "delta_degC/h",
        },
        "equiv": {
            "equiv": "equiv",
            "eq": "equiv",
            "eq.": "equiv",
            "equiv.": "equiv",
            "equivs": "equiv",
            "equivalent": "equiv",
            "equivalents": "equiv",
        },
        "pressure": {
            "bar": "bar",
            "mbar": "mbar",
            "Pa": "Pa",
            "kPa": "kPa",
            "MPa": "MPa",
            "atm": "atm",
            "psi": "psi",
        },
    }
)

# value in the dimension's canonical unit = number x factor + offset, per unit as pint spells it
# (the values of UNITS).  The canonical units are quantities.Dimension's: µmol, µL, mg, s, °C, M,
# mg/mL, rpm, µL/s, °C/min, equiv, bar.  A speed counts cycles (10 Hz is 600 rpm, not pint's 95.5:
# see quantities._revolutions_per_minute).  tests/test_language_units.py converts every entry with
# pint too and requires the same value, so parsing needs no pint for a unit listed here.
_MINUTE = 60.0
_HOUR = 3600.0
CONVERSIONS: Mapping[str, Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "amount": {"mol": (1e6, 0.0), "mmol": (1e3, 0.0), "umol": (1.0, 0.0), "nmol": (1e-3, 0.0)},
        "volume": {"L": (1e6, 0.0), "mL": (1e3, 0.0), "uL": (1.0, 0.0), "nL": (1e-3, 0.0)},
        "mass": {"kg": (1e6, 0.0), "g": (1e3, 0.0), "mg": (1.0, 0.0), "ug": (1e-3, 0.0)},
        "duration": {
            "s": (1.0, 0.0),
            "min": (_MINUTE, 0.0),
            "h": (_HOUR, 0.0),
            "day": (86400.0, 0.0),
        },
        "temperature": {"degC": (1.0, 0.0), "K": (1.0, -273.15)},
        "concentration": {
            "M": (1.0, 0.0),
            "mM": (1e-3, 0.0),
            "uM": (1e-6, 0.0),
            "nM": (1e-9, 0.0),
            "mol/L": (1.0, 0.0),
            "mmol/L": (1e-3, 0.0),
            "mmol/mL": (1.0, 0.0),
        },
        "mass concentration": {
            "mg/mL": (1.0, 0.0),
            "g/L": (1.0, 0.0),
            "ug/uL": (1.0, 0.0),
            "ug/mL": (1e-3, 0.0),
        },
        "speed": {
            "rpm": (1.0, 0.0),
            "Hz": (_MINUTE, 0.0),
            "1/s": (_MINUTE, 0.0),
            "1/min": (1.0, 0.0),
        },
        "flow": {
            "uL/s": (1.0, 0.0),
            "uL/min": (1 / _MINUTE, 0.0),
            "mL/s": (1e3, 0.0),
            "mL/min": (1e3 / _MINUTE, 0.0),
            "mL/h": (1e3 / _HOUR, 0.0),
        },
        "rate": {"delta_degC/min": (1.0, 0.0), "delta_degC/h": (_MINUTE / _HOUR, 0.0)},
        "equiv": {"equiv": (1.0, 0.0)},
        "pressure": {
            "bar": (1.0, 0.0),
            "mbar": (1e-3, 0.0),
            "Pa": (1e-5, 0.0),
            "kPa": (1e-2, 0.0),
            "MPa": (10.0, 0.0),
            "atm": (1.01325, 0.0),
            # pint: pound-force (4.4482216152605 N) per square inch (0.0254 m squared)
            "psi": (4.4482216152605 / 0.0254**2 * 1e-5, 0.0),
        },
    }
)


def to_canonical(number: float, unit: str, dimension: str) -> float | None:
    """``number`` of ``unit`` (as written) in the canonical unit of ``dimension``, when the table
    lists the unit for that dimension; else None (the caller asks pint, to say what is wrong)."""
    spelt = UNITS[dimension].get(unit)
    if spelt is None:
        return None
    factor, offset = CONVERSIONS[dimension][spelt]
    return number * factor + offset


ROOM_TEMPERATURE_WORDS = ("rt", "RT", "room temperature", "ambient")
"""What a temperature field may say instead of a number (``settings.room_temperature``)."""


def accepted(dimension: str) -> Mapping[str, str]:
    """The units (as written → as pint reads them) accepted for ``dimension``."""
    return UNITS[dimension]


def dimension_of(unit: str) -> str | None:
    """The dimension whose table lists ``unit`` as written (the first, in table order), or None."""
    for dimension, units in UNITS.items():
        if unit in units:
            return dimension
    return None


# a number as the parser reads it (quantities._NUMBER), without a JSON Schema-unfriendly group
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _alternatives(dimension: str) -> str:
    # longest first, so that 'mL/min' is not read as 'mL' and a rest
    units = sorted(UNITS[dimension], key=lambda u: (-len(u), u))
    return "(?:" + "|".join(re.escape(u) for u in units) + ")"


def quantity_pattern(
    dimension: str, *, allow_range: bool = False, unit_optional: bool = False
) -> str:
    """An ECMA-262 regular expression (JSON Schema ``pattern``) for a quantity of ``dimension``:
    ``50 umol``, ``50umol``; with ``allow_range`` also ``30-60 min``, ``30 min to 2 h``,
    ``-10 to -5 degC``; with ``unit_optional`` a bare number too (equivalents).  What it
    accepts, the parser accepts, bar the checks a pattern cannot make (a range that runs
    backwards, a value out of range)."""
    unit = _alternatives(dimension)
    last = f"(?:{unit})?" if unit_optional else unit
    single = rf"{NUMBER}\s*{last}"
    if not allow_range:
        return rf"^\s*{single}\s*$"
    dash = rf"(?:\d+\.?\d*|\.\d+)\s*(?:{unit})?\s*[-–]\s*(?:\d+\.?\d*|\.\d+)\s*{last}"
    to = rf"{NUMBER}\s*(?:{unit})?\s+to\s+{NUMBER}\s*{last}"
    return rf"^\s*(?:{single}|{dash}|{to})\s*$"


REACTION_VOLUMES_PATTERN = r"^\s*(?:(?:\d+\.?\d*|\.\d+)\s*)?(?:x\s*)?[Rr][Ee][Aa][Cc][Tt][Ii][Oo][Nn][ _][Vv][Oo][Ll][Uu][Mm][Ee][Ss]?\s*$"
"""``1 reaction volume``, ``0.5 x reaction volumes`` (the parser reads them case-insensitively)."""


def microlitres(ul: float) -> str:
    """How diazflow writes a volume, everywhere (compile, report, run log): in µL, to the
    precision a pipette or a volumetric flask gives, at most 0.5 % off: whole µL from 100 µL,
    0.1 µL from 10 µL, 0.01 µL below (``145``, ``55.0``, ``9.50``).  The number only."""
    size = abs(ul)
    if size >= 100:
        return f"{ul:.0f}"
    if size >= 10:
        return f"{ul:.1f}"
    return f"{ul:.2f}"


def format_volume(ul: float) -> str:
    """:func:`microlitres` with its unit: ``145 µL``."""
    return f"{microlitres(ul)} µL"
