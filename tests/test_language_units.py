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
