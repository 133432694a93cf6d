"""The compiled plan (spec §6): operations on a timeline, per-well amounts, stocks to prepare.

Modelled on Opentrons' protocol engine: every operation is a pydantic model with its parameters.
The plan is the contract between the compiler, the runtime and the report; its JSON form is
byte-for-byte deterministic (fixed key order, floats rounded to milliseconds / nanolitres).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PLAN_VERSION = 1


def r3(x: float) -> float:
    """Round for the plan: 1 ms, 1 nL, 1 µg.  ``+ 0.0`` turns -0.0 into 0.0 for stable bytes."""
    return round(float(x), 3) + 0.0


# --------------------------------------------------------------------------- operations
#
# One model per kind of operation, told apart by ``op`` (Opentrons' ``Command`` union).  The field
# order is the plan's JSON key order, the same for every kind: the common fields, then the kind's
# own in the order reagent, substances, channels, wells, volumes_uL, liquid_class, height_mm, mg,
# tips, tip_type, return_tips, celsius, ramp_s, rpm, closure, into, message, aliquot, aliquots,
# manual.  Optional fields are
# left out of the JSON when None.


class OperationBase(BaseModel):
    """One thing one device does, from ``t`` for ``duration`` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    t: float
    duration: float
    device: str
    op: str  # each kind narrows it to its own literal: the union's discriminator
    step: int = Field(description="index of the protocol step (0-based)")
    line: int = Field(description="line of the step in the protocol file")

    @property
    def end(self) -> float:
        return self.t + self.duration


class PickUpTips(OperationBase):
    op: Literal["pick_up_tips"] = "pick_up_tips"
    channels: list[int]
    tips: list[str] = Field(description="tip spots, RACK:WELL")
    tip_type: str


class DropTips(OperationBase):
    op: Literal["drop_tips"] = "drop_tips"
    channels: list[int]
    tips: list[str] = Field(description="tip spots, RACK:WELL")
    return_tips: bool | None = Field(
        None, description="put the tips back in their spots for reuse by the same reagent"
    )


class Aspirate(OperationBase):
    op: Literal["aspirate"] = "aspirate"
    reagent: str
    channels: list[int]
    wells: list[str] = Field(description="source positions, LABWARE:WELL")
    volumes_uL: list[float]
    liquid_class: str = Field(description="the pipetting parameter set (docs/liquid-classes.md)")
    height_mm: list[float] = Field(
        description="per channel, tip height above the well bottom: below the surface it leaves"
    )
    aliquot: int | None = Field(
        None, description="dropwise/portionwise: which aliquot (1-based) of how many"
    )
    aliquots: int | None = None


class Dispense(OperationBase):
    op: Literal["dispense"] = "dispense"
    reagent: str
    substances: list[str] = Field(description="what each channel carries (library members)")
    channels: list[int]
    wells: list[str] = Field(description="reaction wells")
    volumes_uL: list[float]
    liquid_class: str = Field(description="the pipetting parameter set (docs/liquid-classes.md)")
    height_mm: list[float] = Field(
        description="per channel, tip height above the well bottom: above the surface it leaves"
    )
    aliquot: int | None = Field(
        None, description="dropwise/portionwise: which aliquot (1-based) of how many"
    )
    aliquots: int | None = None


class DispensePowder(OperationBase):
    op: Literal["dispense_powder"] = "dispense_powder"
    reagent: str
    substances: list[str]
    wells: list[str] = Field(description="reaction wells")
    mg: list[float]
    message: str | None = Field(None, description="what the operator weighs in (manual)")
    aliquot: int | None = Field(
        None, description="portionwise: which portion (1-based) of how many"
    )
    aliquots: int | None = None
    manual: bool | None = Field(None, description="done by the operator (weighed in by hand)")


class SetTemperature(OperationBase):
    op: Literal["set_temperature"] = "set_temperature"
    celsius: float
    ramp_s: float | None = Field(None, description="a controlled ramp over this time")


class WaitTemperature(OperationBase):
    op: Literal["wait_temperature"] = "wait_temperature"
    celsius: float


class Shake(OperationBase):
    op: Literal["shake"] = "shake"
    rpm: float | None = None


class StopShaking(OperationBase):
    op: Literal["stop_shaking"] = "stop_shaking"


class Wait(OperationBase):
    op: Literal["wait"] = "wait"


class Prompt(OperationBase):
    op: Literal["prompt"] = "prompt"
    message: str
    refill: list[str] | None = Field(
        None,
        description="stock positions an earlier stage drew on that the operator sets out again, "
        "freshly made, at this (a later stage's) prompt",
    )


class SetClosure(OperationBase):
    """The operator caps, vents or uncaps the reaction vessels (a manual pause, like a prompt)."""

    op: Literal["set_closure"] = "set_closure"
    closure: Literal["open", "capped", "vented"] = Field(
        description="the vessels' closure from the end of this operation on"
    )
    into: str = Field(description="the reaction labware")
    message: str
    manual: Literal[True] = True


class Sample(OperationBase):
    op: Literal["sample"] = "sample"
    channels: list[int]
    wells: list[str] = Field(description="reaction wells sampled")
    volumes_uL: list[float]
    message: str = Field(description="the sample positions, LABWARE:WELL, comma-separated")
    into: str = Field(description="the labware the samples go into")
    diluent: str | None = Field(
        None, description="what each sample well holds before the aliquot: diluent or quench"
    )

    @property
    def targets(self) -> list[str]:
        """The sample positions, one per channel."""
        return [x.strip() for x in self.message.split(",") if x.strip()]


Operation = Annotated[
    PickUpTips
    | DropTips
    | Aspirate
    | Dispense
    | DispensePowder
    | SetTemperature
    | WaitTemperature
    | Shake
    | StopShaking
    | Wait
    | Prompt
    | SetClosure
    | Sample,
    Field(discriminator="op"),
]
"""Any one operation; ``match`` on its type to read the fields of its kind."""


class WellAmount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    umol: float | None = None
    uL: float | None = None
    mg: float | None = None
    substance: str | None = None
    solutes: dict[str, float] | None = Field(
        None, description="a premixed stock's other solutes: substance -> µmol in the well"
    )


class WellPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reagents: dict[str, WellAmount]
    final_volume_uL: float
    max_volume_uL: float
    reaction_time_s: float | None = Field(
        None, description="from the well's last addition to its quench (or the end)"
    )
    condition_id: str | None = Field(
        None,
        description="the design's id of the condition this well runs (a conditions table's "
        "condition_id), which results are reported against",
    )
    conditions: dict[str, str] | None = Field(
        None, description="the design's factors and this well's level of each (factor -> level)"
    )


class StockSolutePlan(BaseModel):
    """One of a premixed stock's other solutes: what to weigh (or measure) of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    solute: str  # its id under the reagent's stock.solutes
    substance: str
    concentration_M: float
    weigh_mg: float | None = Field(None, description="to weigh for the stock's volume_uL")
    measure_uL: float | None = Field(
        None, description="a liquid: the volume to measure (weigh_mg is its mass, a check)"
    )
    purity: float | None = None

    def describe(self) -> str:
        """``XPhos (0.02 M): weigh 17.1 mg`` for the stock list."""
        material = f" of {self.purity * 100:g} % material" if self.purity else ""
        if self.measure_uL and self.weigh_mg:
            what = f"measure {self.measure_uL:.1f} µL ({self.weigh_mg:.1f} mg{material})"
        elif self.weigh_mg:
            what = f"weigh {self.weigh_mg:.1f} mg{material}"
        else:
            what = "no molar mass: amount unknown"
        return f"{self.substance} ({self.concentration_M:.4g} M): {what}"


def co_solutes_text(solutes: list[StockSolutePlan] | None) -> str:
    """The other solutes of a premixed stock, to append to its line in a stock list."""
    if not solutes:
        return ""
    return "; with " + "; ".join(s.describe() for s in solutes) + ", dissolved together"


class StockPlan(BaseModel):
    """What the operator prepares and where it goes: before pressing start for stage 0, before a
    later stage's prompt for what only that stage uses (a stock made from an earlier stage's product
    cannot be made before the run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reagent: str
    substance: str
    form: Literal["stock", "supplied", "neat", "solvent", "solid"] = Field(
        description="supplied: a commercial solution used as bought (nothing to weigh)"
    )
    solvent: str | None = None
    concentration_M: float | None = None
    location: str
    wells: list[str] | None = None
    volume_uL: float
    dead_volume_uL: float
    weigh_mg: float | None = Field(None, description="solute to weigh for volume_uL of stock")
    measure_uL: float | None = Field(
        None, description="a liquid solute: the volume to measure (weigh_mg is its mass, a check)"
    )
    solvent_uL: float | None = Field(
        None, description="make up to volume_uL with the solvent (about this much)"
    )
    purity: float | None = Field(
        None,
        description="mass fraction of the substance in the material weighed or measured (the "
        "reagent's purity/assay); weigh_mg and volumes are already corrected for it",
    )
    stage: int = Field(
        0,
        description="the stage (0: the protocol's own) whose run first draws on it: prepare it then",
    )
    first_use_s: float | None = Field(None, description="when the run first draws on it (s)")
    placed_s: float | None = Field(
        None,
        description="when the operator puts it on the deck (s): it stands open from then",
    )
    solutes: list[StockSolutePlan] | None = Field(
        None, description="a premixed stock's other solutes (the substance is the first)"
    )


class StepSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step: int
    kind: str
    line: int
    start: float
    end: float
    detail: str | None = None


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    diazflow_plan: int = PLAN_VERSION
    protocol: str
    deck: str
    vessel_labware: str = Field(
        description="the deck labware whose wells the plan's reaction wells are"
    )
    makespan_s: float
    lower_bound_s: float
    wells: dict[str, WellPlan]
    stocks: list[StockPlan]
    tips_used: dict[str, int]
    steps: list[StepSummary]
    warnings: list[str]
    operations: list[Operation]

    def to_json(self) -> str:
        return (
            json.dumps(
                self.model_dump(mode="json", exclude_none=True),
                indent=1,
                ensure_ascii=False,
                allow_nan=False,  # a plan never holds Infinity or NaN: that is not JSON
            )
            + "\n"
        )

    def to_journal_json(self) -> str:
        """The same JSON document as :meth:`to_json`, compact, from pydantic's compiled serializer:
        the copy a run journal keeps (read back with :meth:`from_json`, never reviewed as a file).
        ``indent=1`` makes Python's ``json`` fall back to its pure-Python encoder, several times
        slower on a plan of a thousand operations; the written plan keeps that layout (goldens)."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.model_validate_json(text)
