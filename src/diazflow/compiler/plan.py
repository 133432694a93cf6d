"""The compiled plan (spec §6): operations on a timeline, per-well amounts, stocks to prepare.

Modelled on Opentrons' protocol engine: every operation is a pydantic model with its parameters.
The plan is the contract between the compiler, the runtime and the report; its JSON form is
byte-for-byte deterministic (fixed key order, floats rounded to milliseconds / nanolitres).
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PLAN_VERSION = 1

OpKind = Literal[
    "pick_up_tips",
    "drop_tips",
    "aspirate",
    "dispense",
    "dispense_powder",
    "set_temperature",
    "wait_temperature",
    "shake",
    "stop_shaking",
    "wait",
    "prompt",
    "sample",
]


def r3(x: float) -> float:
    """Round for the plan: 1 ms, 1 nL, 1 µg.  ``+ 0.0`` turns -0.0 into 0.0 for stable bytes."""
    return round(float(x), 3) + 0.0


class Operation(BaseModel):
    """One thing one device does, from ``t`` for ``duration`` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    t: float
    duration: float
    device: str
    op: OpKind
    step: int = Field(description="index of the protocol step (0-based)")
    line: int = Field(description="line of the step in the protocol file")
    reagent: str | None = None
    substances: list[str] | None = Field(
        None, description="what each channel carries (library members)"
    )
    channels: list[int] | None = None
    wells: list[str] | None = Field(
        None, description="reaction wells, or LABWARE:WELL for other labware"
    )
    volumes_uL: list[float] | None = None
    mg: list[float] | None = None
    tips: list[str] | None = Field(None, description="tip spots, RACK:WELL")
    tip_type: str | None = None
    return_tips: bool | None = Field(
        None,
        description="drop_tips puts the tips back in their spots for reuse by the same reagent",
    )
    celsius: float | None = None
    ramp_s: float | None = Field(
        None, description="set_temperature: a controlled ramp over this time"
    )
    rpm: float | None = None
    message: str | None = None
    into: str | None = None
    aliquot: int | None = Field(
        None, description="dropwise/portionwise: which aliquot (1-based) of how many"
    )
    aliquots: int | None = None
    target_ph: str | None = None
    manual: bool | None = Field(
        None, description="dispense_powder done by the operator (weighed in by hand)"
    )

    @property
    def end(self) -> float:
        return self.t + self.duration


class WellAmount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    umol: float | None = None
    uL: float | None = None
    mg: float | None = None
    substance: str | None = None


class WellPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reagents: dict[str, WellAmount]
    final_volume_uL: float
    max_volume_uL: float
    reaction_time_s: float | None = Field(
        None, description="from the well's last addition to its quench (or the end)"
    )


class StockPlan(BaseModel):
    """What the operator prepares and where it goes before pressing start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reagent: str
    substance: str
    form: Literal["stock", "neat", "solvent", "solid"]
    solvent: str | None = None
    concentration_M: float | None = None
    location: str
    wells: list[str] | None = None
    volume_uL: float
    dead_volume_uL: float
    weigh_mg: float | None = Field(None, description="solute to weigh for volume_uL of stock")
    solvent_uL: float | None = Field(
        None, description="make up to volume_uL with the solvent (about this much)"
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
                self.model_dump(mode="json", exclude_none=True), indent=1, ensure_ascii=False
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.model_validate_json(text)
