"""Quantities with units, converted by the unit table and stored as plain floats in one canonical
unit.

A protocol writes ``50 umol``, ``0.2 M``, ``30-60 min``, ``0 °C``, ``rt``.  The unit table
(:mod:`diazflow.language.units`) lists every unit a field may write with its factor (and offset)
to the canonical unit of its :class:`Dimension` (µmol, µL, s, °C, M, ...); diazflow keeps the
result as an immutable :class:`Quantity`, so later stages do arithmetic on floats.  pint is the
reference the table is tested against and is loaded only to explain a unit the table does not
list (ambiguous, unknown, of another dimension, or not one a protocol writes): a valid protocol
never imports it, nor the numpy it brings.

pint traps handled here (see docs/libraries.md): ``Q_("0 degC")`` raises for offset units, so the
number and unit are split first; ``rt`` would parse as a rontometric ton and ``25 C`` as coulombs,
so ``rt`` is resolved by us and every parse is dimension-checked against the field it fills.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import NoReturn

from diazflow import errorcodes as codes
from diazflow.diagnostics import did_you_mean
from diazflow.errorcodes import ErrorCode
from diazflow.language import units


class Dimension(str, Enum):
    """What a field measures, with the canonical unit its value is stored in."""

    AMOUNT = "amount"  # µmol
    VOLUME = "volume"  # µL
    MASS = "mass"  # mg
    DURATION = "duration"  # s
    TEMPERATURE = "temperature"  # °C
    CONCENTRATION = "concentration"  # mol/L
    MASS_CONCENTRATION = "mass concentration"  # mg/mL (= g/L): a stock given by assay
    SPEED = "speed"  # rpm
    FLOW = "flow"  # µL/s
    RATE = "rate"  # °C/min (heating or cooling rate)
    EQUIV = "equiv"  # molar equivalents of the limiting reagent
    PRESSURE = "pressure"  # bar (deck layouts: a closed vessel's pressure rating)

    @property
    def canonical_unit(self) -> str:
        return _CANONICAL[self]

    @property
    def example(self) -> str:
        return _EXAMPLES[self]


_CANONICAL = {
    Dimension.AMOUNT: "umol",
    Dimension.VOLUME: "uL",
    Dimension.MASS: "mg",
    Dimension.DURATION: "s",
    Dimension.TEMPERATURE: "degC",
    Dimension.CONCENTRATION: "M",
    Dimension.MASS_CONCENTRATION: "mg/mL",
    Dimension.SPEED: "rpm",
    Dimension.FLOW: "uL/s",
    Dimension.RATE: "delta_degC/min",
    Dimension.EQUIV: "equiv",
    Dimension.PRESSURE: "bar",
}

_EXAMPLES = {
    Dimension.AMOUNT: "50 umol",
    Dimension.VOLUME: "250 uL",
    Dimension.MASS: "12.5 mg",
    Dimension.DURATION: "30 min",
    Dimension.TEMPERATURE: "0 degC",
    Dimension.CONCENTRATION: "0.2 M",
    Dimension.MASS_CONCENTRATION: "152 mg/mL",
    Dimension.SPEED: "600 rpm",
    Dimension.FLOW: "100 uL/s",
    Dimension.RATE: "2 degC/min",
    Dimension.EQUIV: "1.05 equiv",
    Dimension.PRESSURE: "3 bar",
}

# Units pint would accept but which in a protocol are almost always a typo for something else.
_SUSPICIOUS = {"C": "degC", "c": "degC", "m": "min", "N": "M", "n": "M", "u": "uL", "l": "L"}


class QuantityError(ValueError):
    """A quantity string that cannot become the requested quantity; ``code`` is a DF2xx code."""

    def __init__(self, code: ErrorCode, message: str, hint: str | None = None):
        super().__init__(message)
        self.code: str = code.code  # the string, as pydantic's error type and in tests
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Quantity:
    """A parsed quantity: ``value`` in the canonical unit of ``dimension``; ``text`` as written."""

    value: float
    dimension: Dimension
    text: str

    @property
    def unit(self) -> str:
        return self.dimension.canonical_unit

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class QuantityRange:
    """``30-60 min`` or ``-10 to -5 degC``: two quantities of one dimension, ``low <= high``."""

    low: Quantity
    high: Quantity
    text: str

    @property
    def dimension(self) -> Dimension:
        return self.low.dimension

    def __str__(self) -> str:
        return self.text


def span(q: Quantity | QuantityRange) -> tuple[float, float]:
    """(low, high) canonical values of a quantity or range."""
    if isinstance(q, QuantityRange):
        return q.low.value, q.high.value
    return q.value, q.value


# --------------------------------------------------------------------------- pint registry


def _cache_folder() -> str | None:
    # pint parses its unit definitions on every start (~0.2 s); its cache makes a second start
    # ~10x faster.  Keep it out of ~/.cache (may be read-only in CI); temp dir unless overridden.
    folder = os.environ.get("DIAZFLOW_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "diazflow-cache"
    )
    try:
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, "pint")
    except OSError:
        return None


@lru_cache(maxsize=1)
def unit_registry():
    import pint

    folder = _cache_folder()
    try:
        ureg: pint.UnitRegistry = (
            pint.UnitRegistry(cache_folder=folder) if folder else pint.UnitRegistry()
        )
    except Exception:  # a corrupt or unwritable cache must never stop validation
        ureg = pint.UnitRegistry()
    ureg.define("equivalent = [stoichiometry] = equiv")
    return ureg


@lru_cache(maxsize=256)
def _unit(unit_text: str):
    return unit_registry().Unit(unit_text)


@lru_cache(maxsize=32)
def _canonical_unit(dimension: Dimension):
    return unit_registry().Unit(dimension.canonical_unit)


# --------------------------------------------------------------------------- parsing

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SINGLE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>.*?)\s*$")
_RANGE_TO = re.compile(
    rf"^\s*(?P<a>{_NUMBER})\s*(?P<ua>[^\d\s+-][^\s]*)?\s+to\s+(?P<b>{_NUMBER})\s*(?P<ub>.*?)\s*$"
)
_RANGE_TAIL = re.compile(
    r"^(?:[^\d\s.+-][^\s-]*)?\s*[-–]\s*[-+]?\d"
)  # the rest of "-10--5 degC" after "-10"
_RANGE_DASH = re.compile(
    r"^\s*(?P<a>\d+\.?\d*|\.\d+)\s*(?P<ua>[^\d\s.+-][^\s-]*)?\s*[-–]\s*(?P<b>\d+\.?\d*|\.\d+)\s*(?P<ub>.*?)\s*$"
)


def _normalise_unit(unit: str) -> str:
    """How pint reads a unit as written: from the unit table (:mod:`diazflow.language.units`)
    when any dimension lists it, else with µ and °C spelt as pint spells them (only to say which
    dimension a unit the table does not list has)."""
    unit = unit.strip()
    listed = units.dimension_of(unit)
    if listed is not None:
        return units.UNITS[listed][unit]
    return unit.replace("µ", "u").replace("μ", "u").replace("°C", "degC").replace("℃", "degC")


def _to_canonical(
    number: float, unit_text: str, dimension: Dimension, original: str, field: str
) -> Quantity:
    if not math.isfinite(number):
        raise QuantityError(codes.DF206, f"{field}: '{original}' is not a finite number")
    if not unit_text:
        raise QuantityError(
            codes.DF201,
            f"{field}: '{original}' has no unit",
            f"write it with a unit of {dimension.value}, e.g. '{dimension.example}'",
        )
    unit_text = unit_text.strip()
    value = units.to_canonical(number, unit_text, dimension.value)
    if value is None:
        _refuse_unlisted_unit(unit_text, dimension, original, field)
    return Quantity(_canonical_float(value), dimension, original.strip())


def _refuse_unlisted_unit(
    unit_text: str, dimension: Dimension, original: str, field: str
) -> NoReturn:
    """A unit the table does not list for ``dimension``: pint (loaded only here) tells an
    ambiguous or unknown unit from one of another dimension or one a protocol may not write."""
    table = units.accepted(dimension.value)
    unit_name = _normalise_unit(unit_text)
    if unit_name in _SUSPICIOUS:
        meant = _SUSPICIOUS[unit_name]
        if _unit(meant).dimensionality == _canonical_unit(dimension).dimensionality:
            hint = f"did you mean '{meant}'? e.g. '{dimension.example}'"
        else:
            hint = f"write a unit of {dimension.value}, e.g. '{dimension.example}'"
        raise QuantityError(
            codes.DF203, f"{field}: unit '{unit_text}' in '{original}' is ambiguous", hint
        )
    try:
        unit = _unit(unit_name)
    except Exception:
        hint = _unit_hint(unit_text, dimension)
        raise QuantityError(
            codes.DF203, f"{field}: unknown unit '{unit_text}' in '{original}'", hint
        ) from None
    if unit.dimensionality != _canonical_unit(dimension).dimensionality:
        raise QuantityError(
            codes.DF202,
            f"{field}: '{original}' is not {_article(dimension.value)}",
            f"{field} needs {_article(dimension.value)}, e.g. '{dimension.example}'",
        )
    # pint knows it and it measures the right thing, but a protocol does not write it (units.py)
    raise QuantityError(
        codes.DF203,
        f"{field}: unit '{unit_text}' in '{original}' is not one a protocol may use for {_article(dimension.value)}",
        f"use one of {', '.join(table)}; e.g. '{dimension.example}'",
    )


def _canonical_float(value: float) -> float:
    """A converted magnitude to 12 significant digits.

    Unit conversion leaves float noise that differs between pint releases (pint 0.24 turns
    '2 mL' into 2000.0000000000002 µL, 0.25 into 2000.0); plans must not depend on which pint a
    machine has, and no quantity in a protocol is given to more than 12 digits.
    """
    return float(f"{float(value):.12g}")


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _unit_hint(unit_text: str, dimension: Dimension) -> str:

    if "reaction" in unit_text.lower():
        return "'N reaction volume' is only allowed as a quench's volume; elsewhere write a volume, e.g. '250 uL'"
    if "-" in unit_text and any(ch.isdigit() for ch in unit_text):
        return "a range with negative numbers is written with 'to', e.g. '-10 to -5 degC'"

    candidates = sorted(units.accepted(dimension.value))
    close = did_you_mean(unit_text, candidates, cutoff=0.5)
    if close:
        return f"did you mean '{close}'? e.g. '{dimension.example}'"
    return f"use a unit of {dimension.value}, e.g. '{dimension.example}'"


def parse_quantity(
    text: object,
    dimension: Dimension,
    *,
    field: str = "value",
    room_temperature_c: float = 22.0,
    allow_bare_number: bool = False,
) -> Quantity:
    """Parse one quantity (not a range) of ``dimension``; raise :class:`QuantityError` otherwise."""
    if isinstance(text, bool) or text is None:
        raise QuantityError(
            codes.DF206, f"{field}: expected a quantity such as '{dimension.example}', got {text!r}"
        )
    if isinstance(text, (int, float)):
        if allow_bare_number:
            return Quantity(float(text), dimension, f"{text} {dimension.canonical_unit}")
        raise QuantityError(
            codes.DF201,
            f"{field}: {text!r} has no unit",
            f"write it with a unit of {dimension.value}, e.g. '{dimension.example}'",
        )
    if not isinstance(text, str):
        raise QuantityError(
            codes.DF206, f"{field}: expected a quantity such as '{dimension.example}'"
        )
    stripped = text.strip()
    if dimension is Dimension.TEMPERATURE and stripped.lower() in {
        "rt",
        "room temperature",
        "ambient",
    }:
        return Quantity(room_temperature_c, dimension, stripped)
    m = _SINGLE.match(stripped)
    if not m:
        raise QuantityError(
            codes.DF206,
            f"{field}: cannot read '{text}' as {_article(dimension.value)}",
            f"write a number and a unit, e.g. '{dimension.example}'",
        )
    number = float(m.group("num"))
    unit = m.group("unit")
    if not unit and allow_bare_number:
        return Quantity(number, dimension, stripped)
    return _to_canonical(number, unit, dimension, stripped, field)


def parse_quantity_or_range(
    text: object,
    dimension: Dimension,
    *,
    field: str = "value",
    room_temperature_c: float = 22.0,
) -> Quantity | QuantityRange:
    """Parse ``30 min``, ``30-60 min``, ``30 to 60 min`` or ``-10 to -5 degC``."""
    if isinstance(text, str):
        stripped = text.strip()
        m = _RANGE_TO.match(stripped) or _RANGE_DASH.match(stripped)
        if m:
            unit_b = m.group("ub") or ""
            unit_a = m.group("ua") or unit_b
            if not unit_b:
                raise QuantityError(
                    codes.DF201,
                    f"{field}: range '{text}' has no unit",
                    "write the unit after the range, e.g. '30-60 min'",
                )
            low = _to_canonical(
                float(m.group("a")), unit_a, dimension, f"{m.group('a')} {unit_a}", field
            )
            high = _to_canonical(
                float(m.group("b")), unit_b, dimension, f"{m.group('b')} {unit_b}", field
            )
            if low.value > high.value:
                raise QuantityError(
                    codes.DF204,
                    f"{field}: range '{text}' runs backwards ({low.text} > {high.text})",
                    "write the smaller value first, e.g. '30-60 min'; for negative numbers use 'to': '-10 to -5 degC'",
                )
            return QuantityRange(low, high, stripped)
        single = _SINGLE.match(stripped)
        if single and _RANGE_TAIL.match(single.group("unit")):
            raise QuantityError(
                codes.DF204,
                f"{field}: cannot read the range '{text}'",
                "write a range with negative numbers with 'to', e.g. '-10 to -5 degC'",
            )
    return parse_quantity(text, dimension, field=field, room_temperature_c=room_temperature_c)


_REACTION_VOLUMES = re.compile(
    r"^\s*(?P<num>\d+\.?\d*|\.\d+)?\s*(?:x\s*)?reaction[ _]volumes?\s*$", re.IGNORECASE
)


def parse_reaction_volumes(text: object) -> float | None:
    """``1 reaction volume`` / ``0.5 reaction volumes`` → the multiple; otherwise None."""
    if not isinstance(text, str):
        return None
    m = _REACTION_VOLUMES.match(text)
    if not m:
        return None
    return float(m.group("num")) if m.group("num") else 1.0
