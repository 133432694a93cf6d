"""The protocol language (spec §1-3) as pydantic v2 models.

Every model forbids unknown keys and is strict, so YAML 1.1 surprises (``NO`` → False,
``1:30`` → 90) are errors rather than silent nonsense.  Quantities are validated by
:mod:`diazflow.language.quantities` and stored as :class:`Quantity` / :class:`QuantityRange`
values in canonical units.  Models are frozen: later stages read them, never change them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from diazflow import errorcodes as codes
from diazflow.language.quantities import (
    Dimension,
    Quantity,
    QuantityError,
    QuantityRange,
    parse_quantity,
    parse_quantity_or_range,
    parse_reaction_volumes,
)
from diazflow.language.units import (
    REACTION_VOLUMES_PATTERN,
    ROOM_TEMPERATURE_WORDS,
    quantity_pattern,
)
from diazflow.language.units import accepted as accepted_units
from diazflow.language.wells import Well, WellError, parse_well_selection

LANGUAGE_VERSION = 1

# --------------------------------------------------------------------------- field types


def _room_temperature(info: ValidationInfo) -> float:
    ctx = info.context or {}
    return float(ctx.get("room_temperature_c", 22.0))


ABSOLUTE_ZERO_C = -273.15
# The longest duration one step may ask for.  The longest seed route runs about 5 days in all; a
# month of one step is a typo (or '1e308 s'), and a plan must stay a timeline a person can keep.
MAX_DURATION_S = 30 * 24 * 3600.0


def check_sign(q: Quantity | QuantityRange, field: str) -> None:
    """Physical sense of a value (DF205): amounts, volumes, concentrations, speeds and rates are
    positive, durations are not negative, and no temperature is below absolute zero."""
    low = q.low if isinstance(q, QuantityRange) else q
    if not math.isfinite(low.value) or (
        isinstance(q, QuantityRange) and not math.isfinite(q.high.value)
    ):
        raise QuantityError(codes.DF206, f"{field}: '{q.text}' is not a finite number")
    dimension = low.dimension
    if dimension is Dimension.TEMPERATURE:
        if low.value < ABSOLUTE_ZERO_C:
            raise QuantityError(
                codes.DF205,
                f"{field}: {low.text} is below absolute zero",
                "temperatures are in degC, e.g. '-78 degC'",
            )
    elif dimension is Dimension.DURATION:
        high = q.high if isinstance(q, QuantityRange) else q
        if low.value < 0:
            raise QuantityError(
                codes.DF205,
                f"{field}: a duration cannot be negative ('{q.text}')",
                f"e.g. '{dimension.example}'",
            )
        if high.value > MAX_DURATION_S:
            raise QuantityError(
                codes.DF205,
                f"{field}: '{q.text}' is longer than 30 days",
                "one step lasts at most 30 days; split a longer route into stages",
            )
    elif low.value <= 0:
        raise QuantityError(
            codes.DF205,
            f"{field} must be greater than 0 (got '{q.text}')",
            f"e.g. '{dimension.example}'",
        )


def _quantity_validator(dimension: Dimension, allow_range: bool):
    def validate(value: Any, info: ValidationInfo):
        if isinstance(value, (Quantity, QuantityRange)):
            return value
        field = info.field_name or "value"
        try:
            if allow_range:
                q = parse_quantity_or_range(
                    value, dimension, field=field, room_temperature_c=_room_temperature(info)
                )
            else:
                if isinstance(value, str) and (" to " in value or _looks_like_range(value)):
                    raise QuantityError(
                        codes.DF204,
                        f"{field}: a range is not allowed here ('{value}')",
                        f"give one value, e.g. '{dimension.example}'",
                    )
                q = parse_quantity(
                    value, dimension, field=field, room_temperature_c=_room_temperature(info)
                )
            check_sign(q, field)
            return q
        except QuantityError as exc:
            raise PydanticCustomError(exc.code, exc.message, {"hint": exc.hint or ""}) from None

    return validate


def _looks_like_range(text: str) -> bool:
    body = text.strip().lstrip("+-")
    return "-" in body.split(" ")[0][1:] if body else False


def _serialize_quantity(q: Quantity | QuantityRange) -> str:
    return q.text


_QUANTITY_PATTERN = r"^\s*[-+]?[0-9.]"


def quantity_json_schema(dimension: Dimension, allow_range: bool = False) -> JsonSchemaValue:
    """A quantity field's JSON Schema: a string whose ``pattern`` admits exactly the units of the
    unit table (:mod:`diazflow.language.units`) for its dimension, as the parser does."""
    shape = "a quantity or a range" if allow_range else "a quantity"
    unit_list = ", ".join(accepted_units(dimension.value))
    described: dict[str, Any] = {
        "type": "string",
        "description": f"{shape} of {dimension.value} with a unit ({unit_list}), e.g. '{dimension.example}'",
        "examples": [dimension.example],
        "pattern": quantity_pattern(dimension.value, allow_range=allow_range),
    }
    if dimension is Dimension.TEMPERATURE:
        words = {"type": "string", "enum": list(ROOM_TEMPERATURE_WORDS)}
        return {"anyOf": [words, described]}
    return described


@dataclass(frozen=True)
class QuantityField:
    """Pydantic metadata for a quantity field: how it validates, serialises and documents itself.

    One object rather than three (validator, serialiser, JSON schema) so that the annotated types
    below need no star-unpacking in ``Annotated[...]``, which Python 3.10 cannot parse.
    """

    dimension: Dimension
    allow_range: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(
            _quantity_validator(self.dimension, self.allow_range),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialize_quantity, return_schema=core_schema.str_schema()
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return quantity_json_schema(self.dimension, self.allow_range)


Amount = Annotated[Quantity, QuantityField(Dimension.AMOUNT)]
Volume = Annotated[Quantity, QuantityField(Dimension.VOLUME)]
Concentration = Annotated[Quantity, QuantityField(Dimension.CONCENTRATION)]
Temperature = Annotated[Quantity, QuantityField(Dimension.TEMPERATURE)]
TemperatureOrRange = Annotated[
    Quantity | QuantityRange, QuantityField(Dimension.TEMPERATURE, allow_range=True)
]
Duration = Annotated[Quantity, QuantityField(Dimension.DURATION)]
DurationOrRange = Annotated[
    Quantity | QuantityRange, QuantityField(Dimension.DURATION, allow_range=True)
]
Speed = Annotated[Quantity, QuantityField(Dimension.SPEED)]


def validate_equiv(value: Any, info: ValidationInfo | None = None) -> Quantity | QuantityRange:
    """An ``equiv`` value (YAML or a library CSV cell); ``PydanticCustomError`` (DF2xx) if wrong."""
    if isinstance(value, (Quantity, QuantityRange)):
        return value
    if isinstance(value, bool):
        raise PydanticCustomError(
            codes.DF206.code, "equiv: expected a number of equivalents such as 1.05", {"hint": ""}
        )
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise PydanticCustomError(
                codes.DF206.code,
                f"equiv: {value} is not a finite number",
                {"hint": "e.g. 'equiv: 1.05'"},
            )
        q: Quantity | QuantityRange = Quantity(float(value), Dimension.EQUIV, f"{value} equiv")
    else:
        try:
            q = parse_quantity_or_range(value, Dimension.EQUIV, field="equiv")
        except QuantityError as exc:
            if exc.code == codes.DF201.code and isinstance(value, str):
                # "0.9-1.0" without a unit is still clearly equivalents
                try:
                    q = parse_quantity_or_range(value + " equiv", Dimension.EQUIV, field="equiv")
                except QuantityError as again:  # e.g. a backwards range: report that, not "no unit"
                    raise PydanticCustomError(
                        again.code, again.message, {"hint": again.hint or ""}
                    ) from None
            else:
                raise PydanticCustomError(exc.code, exc.message, {"hint": exc.hint or ""}) from None
    low = q.low.value if isinstance(q, QuantityRange) else q.value
    if low <= 0:
        raise PydanticCustomError(
            codes.DF205.code, "equiv must be greater than 0", {"hint": "e.g. 'equiv: 1.05'"}
        )
    return q


Equiv = Annotated[
    Quantity | QuantityRange,
    PlainValidator(validate_equiv),
    PlainSerializer(_serialize_quantity, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {
                    "type": "string",
                    "pattern": quantity_pattern("equiv", allow_range=True, unit_optional=True),
                },
            ],
            "description": "equivalents of the limiting reagent: 1.05, '1.05 equiv' or a range '0.9-1.0'",
        }
    ),
]


def _validate_volume_or_reaction_volumes(value: Any, info: ValidationInfo):
    multiple = parse_reaction_volumes(value)
    if multiple is not None:
        if not 0 < multiple < math.inf:
            raise PydanticCustomError(
                codes.DF205.code,
                "volume must be greater than 0",
                {"hint": "e.g. 'volume: 1 reaction volume'"},
            )
        return ReactionVolumes(multiple=multiple)
    return _quantity_validator(Dimension.VOLUME, False)(value, info)


def validate_molar_mass(value: Any, info: ValidationInfo | None = None) -> float:
    """An ``mw`` value (YAML or a library CSV cell); ``PydanticCustomError`` (DF2xx) if wrong."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            codes.DF206.code, "mw: expected a molar mass in g/mol such as 180.2", {"hint": ""}
        )
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        for suffix in ("g/mol", "g mol-1", "Da", "da"):
            if text.endswith(suffix):
                text = text[: -len(suffix)].strip()
        try:
            number = float(text)
        except ValueError:
            raise PydanticCustomError(
                codes.DF206.code,
                f"mw: cannot read '{value}' as a molar mass",
                {"hint": "write it in g/mol, e.g. 'mw: 180.2'"},
            ) from None
    else:
        raise PydanticCustomError(
            codes.DF206.code, "mw: expected a molar mass in g/mol", {"hint": "e.g. 'mw: 180.2'"}
        )
    if not 1.0 <= number <= 100_000:  # also refuses nan
        raise PydanticCustomError(
            codes.DF205.code,
            f"mw: {number} g/mol is not a plausible molar mass",
            {"hint": "molar masses are in g/mol, e.g. 180.2"},
        )
    return number


MolarMass = Annotated[
    float,
    PlainValidator(validate_molar_mass),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "molar mass in g/mol"}
    ),
]


def _plain_number(value: Any, field: str, suffixes: tuple[str, ...], example: str) -> float:
    """A number, or a number followed by one of ``suffixes`` (DF206 otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PydanticCustomError(
            codes.DF206.code, f"{field}: expected a number such as {example}", {"hint": ""}
        )
    text = str(value).strip()
    for suffix in suffixes:
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip()
            break
    try:
        number = float(text)
    except ValueError:
        raise PydanticCustomError(
            codes.DF206.code, f"{field}: cannot read '{value}'", {"hint": f"e.g. '{example}'"}
        ) from None
    if not math.isfinite(number):
        raise PydanticCustomError(
            codes.DF206.code, f"{field}: '{value}' is not a finite number", {"hint": ""}
        )
    return number


def validate_density(value: Any, info: ValidationInfo | None = None) -> float:
    """A liquid's density in g/mL: ``0.92``, ``0.92 g/mL`` or ``0.92 g/cm3``."""
    number = _plain_number(
        value, "density", ("g/mL", "g/ml", "g/cm3", "g cm-3", "kg/L"), "density: 0.92 g/mL"
    )
    if not 0.1 <= number <= 25.0:
        raise PydanticCustomError(
            codes.DF205.code,
            f"density: {number:g} g/mL is not the density of a liquid",
            {"hint": "densities are in g/mL, e.g. 'density: 0.92 g/mL' (water 1.00, DCM 1.33)"},
        )
    return number


Density = Annotated[
    float,
    PlainValidator(validate_density),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string"}],
            "description": "density of the neat liquid in g/mL, e.g. '0.92 g/mL'",
        }
    ),
]


def validate_purity(value: Any, info: ValidationInfo | None = None) -> float:
    """A purity or assay as a fraction: ``99 %`` → 0.99; a bare number is a fraction (0.99)."""
    percent = isinstance(value, str) and value.strip().endswith("%")
    number = _plain_number(value, "purity", ("%",), "purity: 99 %")
    fraction = number / 100.0 if percent else number
    if not 0.0 < fraction <= 1.0:
        raise PydanticCustomError(
            codes.DF205.code,
            f"purity: '{value}' is not between 0 and 100 %",
            {"hint": "e.g. 'purity: 95 %' (a 60 % NaH dispersion in oil: 'purity: 60 %')"},
        )
    return fraction


Purity = Annotated[
    float,
    PlainValidator(validate_purity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string"}],
            "description": "mass fraction of the named substance in what is weighed or measured: '95 %'",
        }
    ),
]

# No named groups: the same text is the JSON Schema's pattern (ECMA-262 spells them differently)
_NORMALITY_PATTERN = r"^\s*([0-9]*\.?[0-9]+)\s*N\s*$"
_PERCENT_PATTERN = r"^\s*([0-9]*\.?[0-9]+)\s*%\s*(?:\(?w/v\)?)?\s*$"
_NORMALITY = re.compile(_NORMALITY_PATTERN)
_PERCENT = re.compile(_PERCENT_PATTERN)
STOCK_CONCENTRATION_PATTERN = "|".join(
    f"(?:{pattern})"
    for pattern in (
        quantity_pattern(Dimension.CONCENTRATION.value),
        quantity_pattern(Dimension.MASS_CONCENTRATION.value),
        _NORMALITY_PATTERN,
        _PERCENT_PATTERN,
    )
)
"""A stock ``concentration`` as :func:`validate_stock_concentration` reads it: molar or by mass
with a unit of the unit table, normal (``0.4 N``) or w/v (``10 %``); each branch anchored."""


def validate_stock_concentration(value: Any, info: ValidationInfo | None = None) -> Quantity:
    """A stock's concentration: molar (``0.5 M``, ``200 mM``), normal (``0.4 N``: equivalents per
    litre, read as M of the reagent as declared), by mass (``152 mg/mL``, ``50 g/L``) or as a
    weight/volume percentage (``10 %`` = 10 g per 100 mL = 100 mg/mL)."""
    if isinstance(value, Quantity):
        return value
    if isinstance(value, str):
        normal = _NORMALITY.match(value)
        if normal:
            return _positive(Quantity(float(normal[1]), Dimension.CONCENTRATION, value.strip()))
        percent = _PERCENT.match(value)
        if percent:
            grams_per_100_ml = float(percent[1])
            return _positive(
                Quantity(grams_per_100_ml * 10.0, Dimension.MASS_CONCENTRATION, value.strip())
            )
    try:
        q = parse_quantity(value, Dimension.CONCENTRATION, field="concentration")
    except QuantityError as molar:
        if molar.code != codes.DF202.code:
            raise PydanticCustomError(
                molar.code, molar.message, {"hint": molar.hint or ""}
            ) from None
        try:
            q = parse_quantity(value, Dimension.MASS_CONCENTRATION, field="concentration")
        except QuantityError:
            raise PydanticCustomError(
                molar.code,
                molar.message,
                {
                    "hint": "a stock concentration is molar ('0.5 M'), normal ('0.4 N'), by mass ('152 mg/mL') or w/v ('10 %')"
                },
            ) from None
    return _positive(q)


def _positive(q: Quantity) -> Quantity:
    if q.value <= 0:
        raise PydanticCustomError(
            codes.DF205.code, "concentration must be greater than 0", {"hint": "e.g. '0.5 M'"}
        )
    return q


StockConcentration = Annotated[
    Quantity,
    PlainValidator(validate_stock_concentration),
    PlainSerializer(_serialize_quantity, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "molar ('0.5 M'), normal ('0.4 N'), by mass ('152 mg/mL') or w/v ('10 %')",
            "examples": ["0.5 M", "152 mg/mL", "10 %", "0.4 N"],
            "pattern": STOCK_CONCENTRATION_PATTERN,
        }
    ),
]


def validate_amount_or_mass(value: Any, info: ValidationInfo) -> Quantity:
    """An addition's ``amount``: of substance (``50 umol``) or a mass weighed (``9.1 mg``)."""
    if isinstance(value, Quantity):
        return value
    try:
        q = parse_quantity(value, Dimension.AMOUNT, field="amount")
    except QuantityError as amount:
        if amount.code != codes.DF202.code:
            raise PydanticCustomError(
                amount.code, amount.message, {"hint": amount.hint or ""}
            ) from None
        try:
            q = parse_quantity(value, Dimension.MASS, field="amount")
        except QuantityError:
            try:
                parse_quantity(value, Dimension.VOLUME, field="amount")
                hint = f"for a volume write 'volume: {str(value).strip()}'"
            except QuantityError:
                hint = "an amount of substance ('50 umol') or a mass ('9.1 mg')"
            raise PydanticCustomError(amount.code, amount.message, {"hint": hint}) from None
    if q.value <= 0:
        raise PydanticCustomError(
            codes.DF205.code, "amount must be greater than 0", {"hint": "e.g. '50 umol'"}
        )
    return q


AmountOrMass = Annotated[
    Quantity,
    PlainValidator(validate_amount_or_mass),
    PlainSerializer(_serialize_quantity, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "an amount of substance ('50 umol') or a mass to weigh ('9.1 mg')",
            "examples": ["50 umol", "9.1 mg"],
        }
    ),
]


def _validate_wells(value: Any, info: ValidationInfo) -> tuple[Well, ...]:
    if isinstance(value, tuple) and all(isinstance(w, Well) for w in value):
        return value
    try:
        return parse_well_selection(value)
    except WellError as exc:
        raise PydanticCustomError(exc.code, exc.message, {"hint": exc.hint or ""}) from None


WellSelection = Annotated[
    tuple[Well, ...],
    PlainValidator(_validate_wells),
    PlainSerializer(lambda wells: [w.name for w in wells], return_type=list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
            "description": "a well ('A1'), a range ('A1:H12'), or a list of wells and ranges",
            "examples": ["A1:H12", ["A1", "B3:B6"]],
        }
    ),
]

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$", max_length=64)]
MAX_TEXT_CHARS = 4000
"""The longest name, message or SMILES a protocol may hold (YAML and CSV alike): RDKit takes
quadratic time on long SMILES and crashed (SIGSEGV) on a 20,000-character one."""
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, arbitrary_types_allowed=True
    )


# --------------------------------------------------------------------------- top-level parts


class ReactionVolumes(_Model):
    """``N reaction volume`` in a quench: a multiple of the well's volume before the quench."""

    multiple: float


class Vessels(_Model):
    labware: Identifier = Field(
        description="a labware name from the deck layout, e.g. reaction_block"
    )
    wells: WellSelection


class Scale(_Model):
    limiting: Identifier = Field(description="the reagent whose amount is 1.0 equiv")
    amount: Amount = Field(description="amount of the limiting reagent per well")
    concentration: Concentration = Field(description="target concentration of the limiting reagent")
    solvent: Text = Field(
        description="the reaction solvent (name or abbreviation: DCE, MeCN, DMF, ...)"
    )


class CoSolute(_Model):
    """Another compound dissolved in the same stock (a premixed catalyst and ligand, a base and
    an additive): the stock holds it at its own concentration, so each well gets what the
    stock's volume carries."""

    name: Text
    smiles: Text | None = None
    mw: MolarMass | None = Field(None, description="molar mass override in g/mol")
    concentration: StockConcentration = Field(description="its concentration in the stock")
    purity: Purity | None = Field(
        None, description="mass fraction of the compound in what is weighed or measured"
    )


class Stock(_Model):
    concentration: StockConcentration | None = Field(
        None, description="omit for a solution used by volume only"
    )
    solvent: Text
    source: Identifier | None = Field(
        None, description="a labware whose wells hold this stock well-for-well"
    )
    solutes: dict[Identifier, CoSolute] | None = Field(
        None,
        description="the stock's other solutes, by id, each with its own concentration (a "
        "premixed stock); equiv and amounts of the step are of the reagent itself",
    )


class Supplied(_Model):
    """A commercial solution used as bought ("4 M HCl in dioxane"): nothing is weighed or made up."""

    concentration: StockConcentration
    solvent: Text


class Solid(_Model):
    dispense: Literal["powder", "manual"] = Field(
        description="powder dispenser on the deck, or weighed in by the operator"
    )


class Reagent(_Model):
    name: Text | None = None
    smiles: Text | None = None
    mw: MolarMass | None = Field(None, description="molar mass override in g/mol")
    library: Identifier | None = Field(None, description="identity varies per well: a library name")
    stock: Stock | None = None
    neat: bool = Field(
        False, description="pipetted as the pure liquid (density from property data or 'density')"
    )
    supplied: Supplied | None = Field(
        None, description="a commercial solution used as supplied: no weighing, volume per well"
    )
    solid: Solid | None = None
    density: Density | None = Field(
        None, description="g/mL of the neat liquid (overrides the property data)"
    )
    purity: Purity | None = Field(
        None,
        description="mass fraction of the substance in what is weighed or measured: '95 %', "
        "a 60 % NaH dispersion in oil '60 %'; amounts are corrected for it",
    )
    preloaded: bool = Field(
        False, description="already in the wells when the stage starts (put there by the operator)"
    )
    pipette_like: Text | None = Field(
        None,
        description="pipette this reagent with the liquid class of another liquid (one diazflow "
        "knows, e.g. 'THF'), for a stock solvent or neat liquid it has no data on",
    )

    @model_validator(mode="after")
    def _one_form(self) -> Reagent:
        forms = [
            f
            for f, on in (
                ("stock", self.stock is not None),
                ("neat", self.neat),
                ("supplied", self.supplied is not None),
                ("solid", self.solid is not None),
                ("preloaded", self.preloaded),
            )
            if on
        ]
        if len(forms) != 1:
            if not forms:
                raise PydanticCustomError(
                    codes.DF116.code,
                    "a reagent needs exactly one form: 'stock', 'neat: true', 'supplied', 'solid' or 'preloaded: true'",
                    {"hint": "e.g. 'stock: {concentration: 0.5 M, solvent: DCE}' for a solution"},
                )
            raise PydanticCustomError(
                codes.DF116.code,
                f"a reagent has one form, not {' and '.join(forms)}",
                {"hint": "keep only one of them"},
            )
        if self.library is None and self.name is None and self.smiles is None:
            raise PydanticCustomError(
                codes.DF102.code,
                "a reagent needs a 'name' (and usually 'smiles'), or 'library'",
                {"hint": "e.g. 'name: acetic acid' and 'smiles: CC(=O)O'"},
            )
        self._form_keys_apply()
        if self.library is not None and (self.smiles is not None or self.mw is not None):
            raise PydanticCustomError(
                codes.DF116.code,
                "a library reagent takes its SMILES and mw from the library, not from the reagent",
                {"hint": "remove 'smiles'/'mw' or the 'library' key"},
            )
        return self

    def _form_keys_apply(self) -> None:
        """DF119: 'density' and 'purity' only where they change an amount."""
        if self.density is not None and not self.neat:
            raise PydanticCustomError(
                codes.DF119.code,
                "'density' is for a neat liquid ('neat: true'); it changes no amount of another form",
                {"hint": "remove 'density', or declare the reagent 'neat: true'"},
            )
        if self.purity is not None and (
            self.preloaded
            or self.supplied is not None
            or (self.stock and not self.stock.concentration)
        ):
            form = (
                "a preloaded reagent"
                if self.preloaded
                else "a solution used as supplied (its concentration is the assay)"
                if self.supplied is not None
                else "a stock used by volume only"
            )
            raise PydanticCustomError(
                codes.DF119.code,
                f"'purity' changes nothing for {form}",
                {"hint": "remove 'purity'; give the assay as the solution's concentration"},
            )


class LibraryItem(_Model):
    name: Text
    smiles: Text | None = None
    mw: MolarMass | None = None
    equiv: Equiv | None = None
    concentration: StockConcentration | None = Field(
        None, description="this member's stock concentration (overrides the reagent's stock)"
    )


class Library(_Model):
    csv: Text | None = Field(
        None, description="a CSV file (relative to the protocol): well,name,smiles[,equiv][,mw]"
    )
    by: Literal["well", "row", "column"] = "well"
    items: list[LibraryItem] | dict[str, LibraryItem] | None = None

    @model_validator(mode="after")
    def _csv_or_items(self) -> Library:
        if (self.csv is None) == (self.items is None):
            raise PydanticCustomError(
                codes.DF116.code,
                "a library has either 'csv' or 'items'",
                {"hint": "e.g. 'csv: libraries/aldehydes_96.csv'"},
            )
        if self.csv is not None and self.by != "well":
            raise PydanticCustomError(
                codes.DF116.code,
                "a CSV library is one row per well ('by: well')",
                {"hint": "use inline 'items' for 'by: row' or 'by: column'"},
            )
        if self.by == "well" and isinstance(self.items, list):
            raise PydanticCustomError(
                codes.DF103.code,
                "'by: well' items are a mapping from well to item",
                {"hint": "items: {A1: {name: ..., smiles: ...}}"},
            )
        if self.by != "well" and isinstance(self.items, dict):
            raise PydanticCustomError(
                codes.DF103.code,
                f"'by: {self.by}' items are a list, one per {self.by}",
                {"hint": "items: [{name: ..., smiles: ...}, ...]"},
            )
        return self


class DesignLevel(_Model):
    """A level of a factor whose value differs from its label: ``{wells: A1:D12, value: k2co3}``."""

    wells: WellSelection
    value: Text = Field(
        description="what a step field given as {factor: NAME} becomes in these wells: a reagent "
        "id, a solvent name or a quantity ('2.0', '400 uL')"
    )


class Design(_Model):
    """A condition screen (docs/language.md "Designs"): factors whose levels are sets of wells, or
    a conditions table (one row per well, as an optimiser writes it).  Step fields written as
    ``{factor: NAME}`` expand to one step per level, each with ``wells:`` its level's wells."""

    factors: dict[Identifier, dict[Text, WellSelection | DesignLevel]] | None = Field(
        None,
        description="factor -> {level label: wells, or {wells, value}}; a well is in at most one "
        "level of a factor",
    )
    table: Text | None = Field(
        None,
        description="a CSV of conditions, relative to this file: condition_id, optional well, "
        "one column per factor; rows go to the reaction wells in order A1, A2, ... without a "
        "well column",
    )
    values: dict[Identifier, dict[Text, Text]] | None = Field(
        None,
        description="with a table: factor -> {level as written in the table: the value it stands "
        "for}, e.g. {base: {K2CO3: k2co3_stock}}",
    )
    units: dict[Identifier, Text] | None = Field(
        None,
        description="with a table: the unit a factor's bare numbers are in, e.g. {temperature: "
        "degC, cat_loading: equiv}",
    )

    ignore: list[Text] | None = Field(
        None,
        description="with a table: columns that are not factors (an optimiser's objective or "
        "priority columns), left out of each well's conditions",
    )

    @model_validator(mode="after")
    def _factors_or_table(self) -> Design:
        if (self.factors is None) == (self.table is None):
            raise PydanticCustomError(
                codes.DF116.code,
                "a design has either 'factors' or 'table'",
                {"hint": "e.g. 'factors: {base: {K2CO3: A1:D12, Cs2CO3: E1:H12}}'"},
            )
        if self.factors is not None and (self.values or self.units or self.ignore):
            raise PydanticCustomError(
                codes.DF116.code,
                "'values', 'units' and 'ignore' go with a conditions 'table'",
                {"hint": "give a level's value as {wells: ..., value: ...}"},
            )
        return self


WorkingHours = Annotated[
    str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
]
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEK_WORKDAYS: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")


class Settings(_Model):
    room_temperature: Temperature | None = Field(
        None, description="what 'rt' means (default 22 degC)"
    )
    duration_policy: Literal["upper", "lower"] = Field(
        "upper", description="how a stir/hold range like 1-4 h is resolved"
    )
    drift_threshold_pct: Annotated[float, Field(gt=0, le=100)] = Field(
        5.0,
        description="warn when evaporation changes a delivered amount or a well's volume by "
        "more than this many percent (DF610, DF611)",
    )
    acknowledge: dict[Annotated[str, StringConstraints(pattern=r"^DF\d{3}$")], Text] = Field(
        default_factory=dict,
        description="warnings this protocol acknowledges, code → the reason: "
        "{DF304: 'glass troughs in use'}; kept out of the findings, listed in the summary",
    )
    working_hours: WorkingHours = Field(
        "08:00-18:00",
        description="when an operator is at the robot, HH:MM-HH:MM; with --start, operator actions outside them are warned about (DF620)",
    )
    working_days: list[Weekday] = Field(
        default_factory=lambda: list(WEEK_WORKDAYS),
        min_length=1,
        description="the days an operator is at the robot",
    )


# --------------------------------------------------------------------------- steps


class PortionwiseSpec(_Model):
    portions: Annotated[int, Field(ge=1, le=1000)]
    over: DurationOrRange


class AddParams(_Model):
    reagent: Identifier
    equiv: Equiv | None = None
    amount: AmountOrMass | None = None
    volume: Volume | None = None
    dropwise: DurationOrRange | None = Field(
        None, description="spread each well's volume over this time as even aliquots"
    )
    portionwise: PortionwiseSpec | None = None
    keep_below: Temperature | None = Field(
        None, description="the vessel must stay below this temperature during the addition"
    )
    wells: WellSelection | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> AddParams:
        given = [k for k in ("equiv", "amount", "volume") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                codes.DF116.code,
                "an addition needs exactly one of 'equiv', 'amount' or 'volume'"
                + (f" (got {', '.join(given)})" if given else ""),
                {"hint": "e.g. 'equiv: 1.05'"},
            )
        if self.dropwise is not None and self.portionwise is not None:
            raise PydanticCustomError(
                codes.DF116.code,
                "an addition is either 'dropwise' or 'portionwise'",
                {"hint": "keep one of them"},
            )
        return self


class AddSolventParams(_Model):
    solvent: Text
    volume: Volume | None = None
    to_concentration: Concentration | None = None
    pipette_like: Text | None = Field(
        None,
        description="pipette the solvent with the liquid class of another liquid diazflow knows",
    )
    wells: WellSelection | None = Field(
        None, description="only these reaction wells (default: every reaction well)"
    )

    @model_validator(mode="after")
    def _one(self) -> AddSolventParams:
        if (self.volume is None) == (self.to_concentration is None):
            raise PydanticCustomError(
                codes.DF116.code,
                "add_solvent needs exactly one of 'volume' or 'to_concentration'",
                {"hint": "e.g. 'to_concentration: 0.2 M'"},
            )
        return self


class StirParams(_Model):
    duration: DurationOrRange
    temperature: Temperature | None = None
    speed: Speed | None = None


class HoldParams(_Model):
    duration: DurationOrRange
    temperature: Temperature | None = None


class TemperatureChangeParams(_Model):
    to: TemperatureOrRange
    over: Duration | None = Field(None, description="a controlled ramp over this time")
    then_stir: DurationOrRange | None = None


class RefluxParams(_Model):
    duration: DurationOrRange


class QuenchParams(_Model):
    reagent: Identifier
    volume: (
        Annotated[
            Quantity | ReactionVolumes,
            PlainValidator(_validate_volume_or_reaction_volumes),
            WithJsonSchema(
                {
                    "anyOf": [
                        quantity_json_schema(Dimension.VOLUME),
                        {"type": "string", "pattern": REACTION_VOLUMES_PATTERN},
                    ],
                    "description": "a volume ('200 uL') or a multiple of the reaction volume ('1 reaction volume')",
                }
            ),
        ]
        | None
    ) = None
    equiv: Equiv | None = None
    dropwise: DurationOrRange | None = None
    stir: DurationOrRange | None = None
    wells: WellSelection | None = Field(
        None, description="only these reaction wells (default: every reaction well)"
    )

    @model_validator(mode="after")
    def _one(self) -> QuenchParams:
        if (self.volume is None) == (self.equiv is None):
            raise PydanticCustomError(
                codes.DF116.code,
                "a quench needs exactly one of 'volume' or 'equiv'",
                {"hint": "e.g. 'volume: 1 reaction volume'"},
            )
        return self


class SampleParams(_Model):
    volume: Volume
    into: Identifier
    at: list[Duration] | None = None
    every: Duration | None = None
    wells: WellSelection | None = Field(
        None, description="only these reaction wells (default: every reaction well)"
    )
    diluent: Text | None = Field(
        None,
        description="what each sample well holds before the aliquot goes in, the diluent or "
        "quench (e.g. '100 uL MeCN', '50 uL sat. aq. NaHCO3'); printed on the plan and the report",
    )

    @model_validator(mode="after")
    def _one(self) -> SampleParams:
        if (self.at is None) == (self.every is None):
            raise PydanticCustomError(
                codes.DF116.code,
                "a sample needs exactly one of 'at' or 'every'",
                {"hint": "e.g. 'every: 1 h'"},
            )
        if self.at is not None and not self.at:
            raise PydanticCustomError(
                codes.DF102.code,
                "'at' lists no time to take a sample",
                {"hint": "e.g. 'at: [30 min, 2 h]', or leave the sample step out"},
            )
        return self


class WaitParams(_Model):
    duration: Duration


class OffdeckParams(_Model):
    message: Text
    duration: Duration | None = None
    vent: bool = Field(
        False,
        description="the operator vents the vessels here (caps with vent needles), as a 'vent:' step "
        "with this message does: they are vented from this step on",
    )


class PlaceParams(_Model):
    """The operator puts these reagents' stocks on the deck now, freshly made, instead of before
    the start of their stage: a stock stands open (and loses solvent, DF610) only from here."""

    reagents: list[Identifier] = Field(
        min_length=1, description="the reagents whose stocks (or neat liquids) are put out now"
    )
    message: Text | None = Field(
        None, description="what the operator is told (default: which stocks go where)"
    )


Closure = Literal["open", "capped", "vented"]
"""The state of the reaction vessels' closure at a moment of the run."""


class ClosureParams(_Model):
    """A change of the reaction vessels' closure, made by the operator (no shipped deck has a
    robot that caps vials: PyLabRobot 0.2.2 has no capper).  The run pauses until it is confirmed.
    Every protocol starts with the vessels open; ``seal``, ``vent`` and ``unseal`` change that."""

    message: Text | None = Field(
        None, description="what the operator is told (default: a sentence naming the labware)"
    )
    duration: Duration | None = Field(
        None,
        description="the operator's time (default: an estimate per vial, see docs/language.md)",
    )

    closure: ClassVar[Closure]
    """The state of the vessels after the step."""


class SealParams(ClosureParams):
    """Cap the reaction vessels (septum caps or a cap mat): nothing gets in or out."""

    closure: ClassVar[Closure] = "capped"


class VentParams(ClosureParams):
    """Pierce the caps with vent needles: gas escapes, still no tip or powder gets in."""

    closure: ClassVar[Closure] = "vented"


class UnsealParams(ClosureParams):
    """Take the caps off: the vessels are open again (under the enclosure's gas, if any)."""

    closure: ClassVar[Closure] = "open"


def _validate_ph(value: Any, info: ValidationInfo) -> tuple[float, float]:
    if isinstance(value, bool):
        raise PydanticCustomError(
            codes.DF206.code, "target: expected a pH such as 5.5 or a range '5-6'", {"hint": ""}
        )
    if isinstance(value, (int, float)):
        low = high = float(value)
    elif isinstance(value, str):
        parts = value.replace(" to ", "-").split("-")
        try:
            nums = [float(p) for p in parts if p.strip()]
        except ValueError:
            raise PydanticCustomError(
                codes.DF206.code,
                f"target: cannot read '{value}' as a pH",
                {"hint": "e.g. 'target: 5-6'"},
            ) from None
        if len(nums) not in (1, 2):
            raise PydanticCustomError(
                codes.DF206.code,
                f"target: cannot read '{value}' as a pH",
                {"hint": "e.g. 'target: 5-6'"},
            )
        low, high = nums[0], nums[-1]
    else:
        raise PydanticCustomError(
            codes.DF206.code, "target: expected a pH such as 5.5 or a range '5-6'", {"hint": ""}
        )
    if not (0 <= low <= high <= 14):
        raise PydanticCustomError(
            codes.DF204.code,
            f"target: pH {value} is not a range within 0-14",
            {"hint": "e.g. 'target: 5-6'"},
        )
    return (low, high)


class AdjustPhParams(_Model):
    """Add a fixed amount of acid or base chosen to bring the mixture into a pH window.

    The robot cannot measure pH: the amount is the chemist's, the target is recorded in the plan
    and shown to the operator so a spot check can confirm it.
    """

    reagent: Identifier
    target: Annotated[
        tuple[float, float],
        PlainValidator(_validate_ph),
        PlainSerializer(
            lambda t: f"{t[0]:g}" if t[0] == t[1] else f"{t[0]:g}-{t[1]:g}", return_type=str
        ),
        WithJsonSchema(
            {
                "anyOf": [{"type": "number"}, {"type": "string"}],
                "description": "pH or pH range, e.g. '5-6'",
            }
        ),
    ]
    equiv: Equiv | None = None
    amount: Amount | None = None
    volume: Volume | None = None

    @model_validator(mode="after")
    def _one(self) -> AdjustPhParams:
        given = [k for k in ("equiv", "amount", "volume") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                codes.DF116.code,
                "adjust_ph needs exactly one of 'equiv', 'amount' or 'volume'",
                {"hint": "e.g. 'equiv: 2.0'"},
            )
        return self


class StageParams(_Model):
    """Start a new stage (e.g. the next day, after an off-deck purification) with its own scale."""

    name: Text
    scale: Scale


class StepBase(_Model):
    """A step: a mapping with one key, which names the step's kind, holding its parameters."""

    @property
    def kind(self) -> str:
        return next(iter(type(self).model_fields))

    @property
    def params(self) -> StepParams:
        """The step's parameters; each kind of step narrows the type to its own model."""
        raise NotImplementedError


class AddStep(StepBase):
    add: AddParams

    @property
    def params(self) -> AddParams:
        return self.add


class AddSolventStep(StepBase):
    add_solvent: AddSolventParams

    @property
    def params(self) -> AddSolventParams:
        return self.add_solvent


class StirStep(StepBase):
    stir: StirParams

    @property
    def params(self) -> StirParams:
        return self.stir


class HoldStep(StepBase):
    hold: HoldParams

    @property
    def params(self) -> HoldParams:
        return self.hold


class CoolStep(StepBase):
    cool: TemperatureChangeParams

    @property
    def params(self) -> TemperatureChangeParams:
        return self.cool


class HeatStep(StepBase):
    heat: TemperatureChangeParams

    @property
    def params(self) -> TemperatureChangeParams:
        return self.heat


class WarmStep(StepBase):
    warm: TemperatureChangeParams

    @property
    def params(self) -> TemperatureChangeParams:
        return self.warm


class RefluxStep(StepBase):
    reflux: RefluxParams

    @property
    def params(self) -> RefluxParams:
        return self.reflux


class QuenchStep(StepBase):
    quench: QuenchParams

    @property
    def params(self) -> QuenchParams:
        return self.quench


class SampleStep(StepBase):
    sample: SampleParams

    @property
    def params(self) -> SampleParams:
        return self.sample


class WaitStep(StepBase):
    wait: WaitParams

    @property
    def params(self) -> WaitParams:
        return self.wait


class OffdeckStep(StepBase):
    offdeck: Text | OffdeckParams

    @property
    def params(self) -> OffdeckParams:
        """An ``offdeck`` step given as bare text is its message."""
        if isinstance(self.offdeck, str):
            return OffdeckParams(message=self.offdeck)
        return self.offdeck


_C = TypeVar("_C", bound=ClosureParams)


def _closure_params(value: str | _C | None, model: type[_C]) -> _C:
    """A closure step given bare (``- seal:``) or as text (``- seal: Cap with a mat``)."""
    if value is None:
        return model()
    if isinstance(value, str):
        return model(message=value)
    return value


class SealStep(StepBase):
    seal: Text | SealParams | None

    @property
    def params(self) -> SealParams:
        return _closure_params(self.seal, SealParams)


class VentStep(StepBase):
    vent: Text | VentParams | None

    @property
    def params(self) -> VentParams:
        return _closure_params(self.vent, VentParams)


class UnsealStep(StepBase):
    unseal: Text | UnsealParams | None

    @property
    def params(self) -> UnsealParams:
        return _closure_params(self.unseal, UnsealParams)


class PlaceStep(StepBase):
    place: PlaceParams

    @property
    def params(self) -> PlaceParams:
        return self.place


class AdjustPhStep(StepBase):
    adjust_ph: AdjustPhParams

    @property
    def params(self) -> AdjustPhParams:
        return self.adjust_ph


class StageStep(StepBase):
    stage: StageParams

    @property
    def params(self) -> StageParams:
        return self.stage


TaggedStep = (
    Annotated[AddStep, Tag("add")]
    | Annotated[AddSolventStep, Tag("add_solvent")]
    | Annotated[StirStep, Tag("stir")]
    | Annotated[HoldStep, Tag("hold")]
    | Annotated[CoolStep, Tag("cool")]
    | Annotated[HeatStep, Tag("heat")]
    | Annotated[WarmStep, Tag("warm")]
    | Annotated[RefluxStep, Tag("reflux")]
    | Annotated[QuenchStep, Tag("quench")]
    | Annotated[SampleStep, Tag("sample")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[OffdeckStep, Tag("offdeck")]
    | Annotated[SealStep, Tag("seal")]
    | Annotated[VentStep, Tag("vent")]
    | Annotated[UnsealStep, Tag("unseal")]
    | Annotated[AdjustPhStep, Tag("adjust_ph")]
    | Annotated[StageStep, Tag("stage")]
    | Annotated[PlaceStep, Tag("place")]
)
"""Every kind of step, each tagged with its kind for pydantic's discriminator."""

STEP_MODELS: dict[str, type[StepBase]] = {
    tag.tag: model for model, tag in (get_args(tagged) for tagged in get_args(TaggedStep))
}
"""Step model by kind, in the order of :data:`TaggedStep`."""


def step_kind(value: Any) -> str | None:
    """The discriminator: a step is a one-key mapping whose key names its kind."""
    if isinstance(value, dict):
        if len(value) == 1:
            return next(iter(value))
        return None
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    return None


Step = Annotated[
    TaggedStep,
    Discriminator(
        step_kind,
        custom_error_type=codes.DF115.code,
        custom_error_message="a step is a mapping with exactly one key naming its kind",
        custom_error_context={
            "hint": "e.g. '- add: {reagent: x, equiv: 1.0}'; kinds: " + ", ".join(STEP_MODELS)
        },
    ),
]


class Protocol(_Model):
    """A whole protocol file (spec §1)."""

    diazflow: Literal[1] = Field(description="language version")
    name: Text
    description: Text | None = None
    reference: Text | None = None
    deck: Text | None = Field(None, description="default deck layout, relative to this file")
    atmosphere: Literal["air", "inert"] = Field(
        "air", description="'inert' when the chemistry needs N2/Ar (NaH, Pd/Cu, Grubbs)"
    )
    vessels: Vessels
    scale: Scale
    reagents: dict[Identifier, Reagent] = Field(min_length=1)
    libraries: dict[Identifier, Library] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    settings: Settings = Field(default_factory=Settings)
    design: Design | None = Field(
        None,
        description="a condition screen: factors or a conditions table; steps use a factor's "
        "levels as '{factor: NAME}' (expanded into one step per level)",
    )

    @property
    def room_temperature_c(self) -> float:
        return self.settings.room_temperature.value if self.settings.room_temperature else 22.0


StepParams = (
    AddParams
    | AddSolventParams
    | StirParams
    | HoldParams
    | TemperatureChangeParams
    | RefluxParams
    | QuenchParams
    | SampleParams
    | WaitParams
    | OffdeckParams
    | SealParams
    | VentParams
    | UnsealParams
    | AdjustPhParams
    | StageParams
    | PlaceParams
)
"""The parameters of any one step; ``match`` on the type to lower or check a step."""

ReagentStepParams = AddParams | AdjustPhParams | QuenchParams
"""The parameters of a step that adds a declared reagent (``params.reagent``) to the wells."""


def step_wells(params: StepParams) -> tuple[Well, ...] | None:
    """The reaction wells a step acts on when it names them (``wells:``); None: every well."""
    match params:
        case AddParams() | AddSolventParams() | QuenchParams() | SampleParams():
            return params.wells
    return None


def step_params(step: BaseModel) -> tuple[str, StepParams]:
    """(kind, params) of a step model.  ``cool``, ``heat`` and ``warm`` share their parameters, so
    the kind is returned with them; an ``offdeck`` step given as bare text comes back as
    :class:`OffdeckParams` with that message."""
    if not isinstance(step, StepBase):
        raise TypeError(f"not a step: {type(step).__name__}")
    return step.kind, step.params
