"""The unit table (language/units.py): every entry is a unit pint converts to its dimension."""

from __future__ import annotations

import pytest

from diazflow.language import units
from diazflow.language.quantities import Dimension, parse_quantity, unit_registry


def test_every_dimension_has_a_table_and_the_table_names_only_dimensions():
    assert set(units.UNITS) == {d.value for d in Dimension}


@pytest.mark.parametrize(
    ("dimension", "unit"), [(d, u) for d, table in units.UNITS.items() for u in table]
)
def test_pint_reads_every_entry_as_its_dimension(dimension, unit):
    ureg = unit_registry()
    canonical = ureg.Unit(Dimension(dimension).canonical_unit)
    assert ureg.Unit(units.UNITS[dimension][unit]).dimensionality == canonical.dimensionality
    parse_quantity(f"2 {unit}", Dimension(dimension))  # and the parser takes it as written


def test_a_unit_pint_knows_but_the_table_does_not_list_is_refused():
    from diazflow.language.quantities import QuantityError

    assert "fortnight" not in units.UNITS["duration"]
    with pytest.raises(QuantityError) as refused:
        parse_quantity("1 fortnight", Dimension.DURATION)
    assert refused.value.code == "DF203" and "min" in (refused.value.hint or "")


def test_conversions_are_pints():
    assert parse_quantity("1.5 mL", Dimension.VOLUME).value == 1500.0
    assert parse_quantity("2 hours", Dimension.DURATION).value == 7200.0
    assert parse_quantity("300 K", Dimension.TEMPERATURE).value == pytest.approx(26.85)
    assert parse_quantity("10 Hz", Dimension.SPEED).value == 600.0


def _pint_canonical(number: float, spelt: str, dimension: Dimension) -> float:
    """The reference: pint's conversion of ``number spelt`` to the dimension's canonical unit.
    A speed counts cycles (10 Hz is 600 rpm); pint's rpm carries an angle, so a unit with one
    converts through turns and one without through 1/min."""
    ureg = unit_registry()
    quantity = ureg.Quantity(number, ureg.Unit(spelt))
    if dimension is Dimension.SPEED:
        angled = "radian" in str(quantity.to_base_units().units)
        return float(quantity.to("turn / minute" if angled else "1 / minute").magnitude)
    return float(quantity.to(ureg.Unit(dimension.canonical_unit)).magnitude)


def test_every_spelling_pint_reads_has_a_conversion_and_nothing_else_does():
    for dimension, table in units.UNITS.items():
        assert set(table.values()) == set(units.CONVERSIONS[dimension]), dimension


NUMBERS = (0.0, 1.0, 2.0, 0.1, 0.35, 1.05, 2.5, 7.3, 12.5, 22.0, 37.0, 150.0, 273.15, 1e-3, 4e4)


@pytest.mark.parametrize(
    ("dimension", "unit"), [(d, u) for d, table in units.UNITS.items() for u in table]
)
def test_the_tables_conversion_is_pints(dimension, unit):
    dim = Dimension(dimension)
    for number in NUMBERS + tuple(-n for n in NUMBERS if n):
        pint_value = _pint_canonical(number, units.UNITS[dimension][unit], dim)
        converted = units.to_canonical(number, unit, dimension)
        assert converted == pytest.approx(pint_value, rel=1e-12, abs=1e-12)
        expected = float(f"{pint_value:.12g}")
        # and what the parser stores (12 significant digits) is exactly what pint gives
        assert parse_quantity(f"{number!r} {unit}", dim).value == expected, (number, unit)


def test_a_valid_protocol_is_parsed_without_pint():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from diazflow.language.quantities import Dimension, parse_quantity\n"
        "assert parse_quantity('300 K', Dimension.TEMPERATURE).value == 26.85\n"
        "assert parse_quantity('1.5 mL/min', Dimension.FLOW).value == 25.0\n"
        "print('pint' in sys.modules, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    ("text", "dimension", "code"),
    [
        ("25 C", Dimension.TEMPERATURE, "DF203"),  # coulombs to pint: ambiguous
        ("5 m", Dimension.DURATION, "DF203"),
        ("1 fortnight", Dimension.DURATION, "DF203"),  # pint knows it, a protocol does not
        ("1 parsec", Dimension.VOLUME, "DF202"),  # a length, not a volume
        ("3 frobs", Dimension.VOLUME, "DF203"),  # nobody knows it
        ("25 delta_degC", Dimension.TEMPERATURE, "DF203"),
    ],
)
def test_units_the_table_does_not_list_are_explained_by_pint(text, dimension, code):
    from diazflow.language.quantities import QuantityError

    with pytest.raises(QuantityError) as refused:
        parse_quantity(text, dimension)
    assert refused.value.code == code
