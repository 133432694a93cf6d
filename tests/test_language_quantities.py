"""Spec §2 quantities: parsed to the right canonical values, and every bad quantity is a DF2xx error
that names the field and points at the value."""

from __future__ import annotations

import math

import pytest

from conftest import BASE_PROTOCOL, PROTOCOLS
from diazflow.diagnostics import format_text
from diazflow.language.loader import load_protocol
from diazflow.language.models import ReactionVolumes, step_params
from diazflow.language.quantities import (
    Dimension,
    Quantity,
    QuantityError,
    QuantityRange,
    parse_quantity,
    parse_quantity_or_range,
    parse_reaction_volumes,
    span,
)

# Conversion factors written out here, independently of pint.
UL_PER_ML = 1000.0
UL_PER_L = 1_000_000.0
S_PER_MIN = 60.0
S_PER_H = 3600.0
UMOL_PER_MMOL = 1000.0


@pytest.mark.parametrize(
    "text, dimension, expected",
    [
        ("50 umol", Dimension.AMOUNT, 50.0),
        ("50 µmol", Dimension.AMOUNT, 50.0),
        ("50umol", Dimension.AMOUNT, 50.0),
        ("0.05 mmol", Dimension.AMOUNT, 0.05 * UMOL_PER_MMOL),
        ("1.5 mL", Dimension.VOLUME, 1.5 * UL_PER_ML),
        ("250 uL", Dimension.VOLUME, 250.0),
        ("250 µL", Dimension.VOLUME, 250.0),
        ("250 μL", Dimension.VOLUME, 250.0),  # Greek mu, not the micro sign
        ("0.001 L", Dimension.VOLUME, 0.001 * UL_PER_L),
        ("30 min", Dimension.DURATION, 30 * S_PER_MIN),
        ("2 h", Dimension.DURATION, 2 * S_PER_H),
        ("2 hr", Dimension.DURATION, 2 * S_PER_H),
        ("45 s", Dimension.DURATION, 45.0),
        ("0.2 M", Dimension.CONCENTRATION, 0.2),
        ("200 mM", Dimension.CONCENTRATION, 0.2),
        ("0 degC", Dimension.TEMPERATURE, 0.0),
        ("0 °C", Dimension.TEMPERATURE, 0.0),
        ("-78 °C", Dimension.TEMPERATURE, -78.0),
        ("25 ℃", Dimension.TEMPERATURE, 25.0),
        ("300 K", Dimension.TEMPERATURE, 300 - 273.15),
        ("300 rpm", Dimension.SPEED, 300.0),
        ("10 Hz", Dimension.SPEED, 600.0),  # cycles per second, not pint's 10/(2π) rpm
        ("5 1/s", Dimension.SPEED, 300.0),
        ("5 uL/min", Dimension.FLOW, 5 / S_PER_MIN),
        ("12.5 mg", Dimension.MASS, 12.5),
        ("1.05 equiv", Dimension.EQUIV, 1.05),
        ("1.05 eq", Dimension.EQUIV, 1.05),
    ],
)
def test_quantities_parse_to_canonical_values(text, dimension, expected):
    q = parse_quantity(text, dimension)
    assert isinstance(q, Quantity)
    assert q.dimension is dimension
    assert q.value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert q.text == text.strip()


@pytest.mark.parametrize(
    "text, dimension, low, high",
    [
        ("30-60 min", Dimension.DURATION, 30 * S_PER_MIN, 60 * S_PER_MIN),
        ("30 to 60 min", Dimension.DURATION, 30 * S_PER_MIN, 60 * S_PER_MIN),
        ("30 – 60 min", Dimension.DURATION, 30 * S_PER_MIN, 60 * S_PER_MIN),  # en dash
        ("1-4 h", Dimension.DURATION, 1 * S_PER_H, 4 * S_PER_H),
        ("30 min to 2 h", Dimension.DURATION, 30 * S_PER_MIN, 2 * S_PER_H),
        ("-10 to -5 degC", Dimension.TEMPERATURE, -10.0, -5.0),
        ("-10 to 5 °C", Dimension.TEMPERATURE, -10.0, 5.0),
        ("0-5 degC", Dimension.TEMPERATURE, 0.0, 5.0),
        ("0.9-1.1 equiv", Dimension.EQUIV, 0.9, 1.1),
    ],
)
def test_ranges_parse_to_low_and_high(text, dimension, low, high):
    r = parse_quantity_or_range(text, dimension)
    assert isinstance(r, QuantityRange)
    assert span(r) == (pytest.approx(low), pytest.approx(high))
    assert r.text == text


def test_room_temperature_is_resolved_by_diazflow_not_pint():
    # pint would read "rt" as a rontometric ton and "25 C" as coulombs
    assert parse_quantity("rt", Dimension.TEMPERATURE).value == 22.0
    assert parse_quantity("RT", Dimension.TEMPERATURE, room_temperature_c=19.5).value == 19.5
    with pytest.raises(QuantityError) as exc:
        parse_quantity("25 C", Dimension.TEMPERATURE)
    assert exc.value.code == "DF203" and "degC" in exc.value.hint


def test_n_reaction_volumes():
    assert parse_reaction_volumes("1 reaction volume") == 1.0
    assert parse_reaction_volumes("0.5 reaction volumes") == 0.5
    assert parse_reaction_volumes("reaction volume") == 1.0
    assert parse_reaction_volumes("250 uL") is None


def _steps(result):
    return [step_params(s) for s in result.loaded.protocol.steps]


def test_base_protocol_values_are_canonical():
    result = load_protocol(str(BASE_PROTOCOL))
    assert result.ok, format_text(result.diagnostics)
    p = result.loaded.protocol
    assert p.scale.amount.value == 50.0  # µmol
    assert p.scale.concentration.value == 0.2  # M
    assert p.reagents["diazepane"].stock.concentration.value == 1.0
    steps = _steps(result)
    kinds = [k for k, _ in steps]
    add_diazepane = steps[0][1]
    assert add_diazepane.equiv.value == 1.0 and add_diazepane.equiv.dimension is Dimension.EQUIV
    stir = steps[kinds.index("stir")][1]
    assert stir.duration.value == 15 * S_PER_MIN
    assert stir.temperature.value == 22.0  # rt with settings.room_temperature: 22 degC
    assert stir.speed.value == 600.0
    stab = steps[5][1]
    assert stab.reagent == "stab" and stab.equiv.value == 1.4
    long_stir = steps[6][1]
    assert span(long_stir.duration) == (1 * S_PER_H, 4 * S_PER_H)
    quench = steps[7][1]
    assert quench.volume == ReactionVolumes(multiple=1.0)
    assert quench.stir.value == 20 * S_PER_MIN
    assert p.settings.duration_policy == "upper"
    member = result.loaded.libraries["aldehydes"].members
    assert len(member) == 96


def test_extension_protocol_values_are_canonical():
    result = load_protocol(str(PROTOCOLS / "nabh3cn_staged.yaml"))
    assert result.ok, format_text(result.diagnostics)
    p = result.loaded.protocol
    assert p.atmosphere == "inert"
    assert p.room_temperature_c == 21.0
    steps = dict((k, v) for k, v in reversed(_steps(result)))  # first of each kind
    assert steps["cool"].to.value == 4.0
    assert steps["cool"].over.value == 20 * S_PER_MIN
    assert span(steps["add"].amount) == (25.0, 25.0)
    assert steps["hold"].temperature.value == 4.0
    assert steps["warm"].to.value == 21.0  # rt = settings.room_temperature (21 °C)
    assert span(steps["warm"].then_stir) == (1 * S_PER_H, 2 * S_PER_H)
    assert steps["adjust_ph"].target == (5.0, 6.0)
    assert steps["stage"].scale.amount.value == 20.0
    assert p.reagents["imine"].preloaded is True
    assert steps["quench"].volume.value == 200.0
    assert p.settings.duration_policy == "lower"
    ketone_add = [v for k, v in _steps(result) if k == "add"][1]
    assert span(ketone_add.dropwise) == (30 * S_PER_MIN, 60 * S_PER_MIN)
    assert ketone_add.keep_below.value == 5.0
    members = result.loaded.libraries["ketones"].members
    by_name = {w.name: m for w, m in members.items()}
    assert by_name["F1"].name == "2-butanone" and by_name["F1"].equiv.value == 1.5  # '1.5 equiv'
    assert span(by_name["G2"].equiv) == (1.2, 1.6)  # '1.2-1.6' → a range of equivalents
    assert by_name["D4"].mw == 99.13


@pytest.mark.parametrize(
    "written, expected",
    [
        ("1.0", 1.0),
        ("1", 1.0),
        ('"1.05"', 1.05),
        ('"1.05 equiv"', 1.05),
        ("1.05 eq", 1.05),
        ("0.9-1.1", (0.9, 1.1)),
        ("0.9 to 1.1", (0.9, 1.1)),
    ],
)
def test_equiv_numbers_and_strings(variant, written, expected):
    v = variant("{reagent: acoh, equiv: 1.0}", f"{{reagent: acoh, equiv: {written}}}")
    result = load_protocol(str(v.path))
    assert result.ok, format_text(result.diagnostics)
    equiv = _steps(result)[2][1].equiv
    got = span(equiv) if isinstance(expected, tuple) else equiv.value
    assert (
        got == (pytest.approx(expected[0]), pytest.approx(expected[1]))
        if isinstance(expected, tuple)
        else got == pytest.approx(expected)
    )


def test_portionwise_and_dropwise(variant):
    v = variant(
        "{reagent: stab, equiv: 1.4}",
        "{reagent: stab, equiv: 1.4, portionwise: {portions: 3, over: 10-15 min}}",
    )
    result = load_protocol(str(v.path))
    assert result.ok, format_text(result.diagnostics)
    stab = _steps(result)[5][1]
    assert stab.portionwise.portions == 3
    assert span(stab.portionwise.over) == (10 * S_PER_MIN, 15 * S_PER_MIN)
    v = variant(
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: 1.0, dropwise: 2 h}",
        name="dropwise.yaml",
    )
    result = load_protocol(str(v.path))
    assert result.ok, format_text(result.diagnostics)
    assert _steps(result)[2][1].dropwise.value == 2 * S_PER_H


@pytest.mark.parametrize(
    "written, multiple",
    [("1 reaction volume", 1.0), ("2.5 reaction volumes", 2.5), ("0.5 x reaction volume", 0.5)],
)
def test_quench_in_reaction_volumes(variant, written, multiple):
    v = variant("volume: 1 reaction volume,", f"volume: {written},")
    result = load_protocol(str(v.path))
    assert result.ok, format_text(result.diagnostics)
    assert _steps(result)[7][1].volume == ReactionVolumes(multiple=multiple)


# (id, old, new, code, needle, fragment of message or hint)
BAD = [
    ("bare-number", "  amount: 50 umol", "  amount: 50", "DF201", "50\n", "amount"),
    ("bare-number-duration", "stir: 20 min}", "stir: 20}", "DF201", "20}", "stir"),
    ("range-without-unit", "{duration: 1-4 h}", "{duration: 1-4}", "DF201", "1-4}", "no unit"),
    ("wrong-dimension", "  amount: 50 umol", "  amount: 5 mL", "DF202", "5 mL", "is not an amount"),
    ("wrong-dimension-speed", "speed: 600 rpm", "speed: 10 uL/min", "DF202", "10 uL/min", "speed"),
    (
        "wrong-dimension-equiv",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: 1.0 mL}",
        "DF202",
        "1.0 mL",
        "equiv",
    ),
    (
        "unknown-unit",
        "  amount: 50 umol",
        "  amount: 50 zorkmol",
        "DF203",
        "50 zorkmol",
        "unknown unit 'zorkmol'",
    ),
    (
        "unknown-unit-typo",
        "  concentration: 0.2 M\n",
        "  concentration: 0.2 Mol/Lx\n",
        "DF203",
        "0.2 Mol/Lx",
        "concentration",
    ),
    ("25-C", "temperature: rt, speed", "temperature: 25 C, speed", "DF203", "25 C", "degC"),
    ("30-m", "{duration: 15 min,", "{duration: 30 m,", "DF203", "30 m,", "min"),
    (
        "backwards-range",
        "{duration: 1-4 h}",
        "{duration: 4-1 h}",
        "DF204",
        "4-1 h",
        "runs backwards",
    ),
    (
        "backwards-to-range",
        "{duration: 1-4 h}",
        "{duration: 4 h to 30 min}",
        "DF204",
        "4 h to 30 min",
        "runs backwards",
    ),
    (
        "backwards-equiv-range",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: 1.1-0.9}",
        "DF204",
        "1.1-0.9",
        "runs backwards",
    ),
    (
        "negative-range-with-dash",
        "{duration: 1-4 h}",
        "{duration: 1 h, temperature: 0 degC}\n  - cool: {to: -10--5 degC}",
        "DF204",
        "-10--5 degC",
        "'to'",
    ),
    (
        "range-not-allowed",
        "  amount: 50 umol",
        "  amount: 40-50 umol",
        "DF204",
        "40-50 umol",
        "range is not allowed",
    ),
    (
        "negative-amount",
        "  amount: 50 umol",
        "  amount: -50 umol",
        "DF205",
        "-50 umol",
        "greater than 0",
    ),
    (
        "zero-concentration",
        "  concentration: 0.2 M\n",
        "  concentration: 0 M\n",
        "DF205",
        "0 M\n",
        "greater than 0",
    ),
    ("negative-duration", "{duration: 1-4 h}", "{duration: -5 min}", "DF205", "-5 min", "negative"),
    ("endless-duration", "{duration: 1-4 h}", "{duration: 1e308 s}", "DF205", "1e308 s", "30 days"),
    ("month-long-range", "{duration: 1-4 h}", "{duration: 1-800 h}", "DF205", "1-800 h", "30 days"),
    (
        "below-absolute-zero",
        "temperature: rt, speed",
        "temperature: -300 degC, speed",
        "DF205",
        "-300 degC",
        "absolute zero",
    ),
    (
        "zero-equiv",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: 0}",
        "DF205",
        "0}\n  - add_solvent",
        "greater than 0",
    ),
    (
        "zero-reaction-volumes",
        "volume: 1 reaction volume,",
        "volume: 0 reaction volume,",
        "DF205",
        "0 reaction volume",
        "greater than 0",
    ),
    (
        "not-a-quantity",
        "  amount: 50 umol",
        "  amount: lots",
        "DF206",
        "lots",
        "cannot read 'lots'",
    ),
    (
        "list-for-quantity",
        "  amount: 50 umol",
        "  amount: [50 umol]",
        "DF206",
        "[50 umol]",
        "expected a quantity",
    ),
    (
        "nan-equiv",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: .nan}",
        "DF206",
        ".nan",
        "finite",
    ),
    (
        "infinite-temperature",
        "temperature: rt, speed",
        "temperature: 1e999 degC, speed",
        "DF206",
        "1e999 degC",
        "finite",
    ),
    (
        "column-after-non-ascii",
        "{duration: 1-4 h}",
        "{duration: 1 h}\n  - cool: {to: 0 °C, over: 10-20 min}",
        "DF204",
        "10-20 min",
        "range is not allowed",
    ),
    (
        "bool-equiv",
        "{reagent: acoh, equiv: 1.0}",
        "{reagent: acoh, equiv: true}",
        "DF206",
        "true}",
        "equiv",
    ),
]


@pytest.mark.parametrize(
    "old, new, code, needle, fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_quantities_are_reported_at_the_value(variant, old, new, code, needle, fragment):
    v = variant(old, new)
    result = load_protocol(str(v.path))
    assert not result.ok
    position = v.at(needle)
    hits = [d for d in result.diagnostics if d.code == code and (d.line, d.column) == position]
    assert hits, f"no {code} at {position}:\n{format_text(result.diagnostics)}"
    d = hits[0]
    assert fragment in f"{d.message} {d.hint or ''}", format_text([d])


def test_room_temperature_setting_changes_rt(variant):
    v = variant("  room_temperature: 22 degC", "  room_temperature: 25 °C")
    result = load_protocol(str(v.path))
    assert result.ok
    assert _steps(result)[4][1].temperature.value == 25.0


def test_a_bare_number_names_the_field():
    with pytest.raises(QuantityError) as exc:
        parse_quantity(50, Dimension.AMOUNT, field="amount")
    assert exc.value.code == "DF201"
    assert exc.value.message.startswith("amount:")
    assert "50 umol" in exc.value.hint


def test_infinite_and_nan_numbers_are_refused():
    for text in ("1e999 uL", "nan uL", "inf uL"):
        with pytest.raises(QuantityError) as exc:
            parse_quantity(text, Dimension.VOLUME)
        assert exc.value.code == "DF206"
    assert math.isfinite(parse_quantity("1e3 uL", Dimension.VOLUME).value)
