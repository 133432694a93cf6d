"""What a results import holds: one :class:`WellResult` per analysed well, and the
:class:`RunResults` of one import (which file, its SHA-256, when).

These are the names other stages (the report, the ORD export) read; keep them stable.
"""

from __future__ import annotations

import datetime

from pydantic import BaseModel, ConfigDict, Field

PERCENT_METRICS: tuple[str, ...] = ("yield_pct", "conversion_pct", "area_pct", "purity_pct")
"""The percentage metrics (0-100), in the order that picks a run's main metric: the first one the
results have is what "best wells" are ranked by (an isolated or assay yield says more than a
conversion, which says more than a UV area, which says more than a purity)."""

METRICS: tuple[str, ...] = (*PERCENT_METRICS, "mz")
"""Every numeric result column; ``mz`` (observed mass) is a number, not a percentage."""

METRIC_LABELS: dict[str, str] = {
    "yield_pct": "Yield (%)",
    "conversion_pct": "Conversion (%)",
    "area_pct": "Product area (%)",
    "purity_pct": "Purity (%)",
    "mz": "Observed m/z",
}
"""How a chemist reads each metric (report headings, summaries)."""


class WellResult(BaseModel):
    """The analytical result of one reaction well, as its CSV row gave it (blank cells: None)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    well: str = Field(description="the reaction well, normalised ('A01' is stored as 'A1')")
    conversion_pct: float | None = None
    yield_pct: float | None = None
    area_pct: float | None = Field(None, description="product peak area %, e.g. UV at 254 nm")
    purity_pct: float | None = None
    mz: float | None = Field(None, description="observed mass (m/z) of the product peak")
    comment: str | None = None
    csv_line: int = Field(description="the 1-based line of the results CSV this row came from")

    def value(self, metric: str) -> float | None:
        """The value of one of :data:`METRICS` (None when the cell was blank)."""
        match metric:
            case "conversion_pct":
                return self.conversion_pct
            case "yield_pct":
                return self.yield_pct
            case "area_pct":
                return self.area_pct
            case "purity_pct":
                return self.purity_pct
            case "mz":
                return self.mz
        raise ValueError(f"not a result metric: {metric!r}")


class RunResults(BaseModel):
    """One import of analytical results into a run's journal (a re-import replaces it whole)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="the results file's name (its base name, as imported)")
    sha256: str = Field(description="SHA-256 of the results file's bytes")
    imported: datetime.datetime = Field(description="when it was imported (UTC)")
    wells: dict[str, WellResult] = Field(description="results by well, in the plate's order")

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics (of :data:`METRICS`, in that order) at least one well has a value for."""
        return tuple(m for m in METRICS if any(r.value(m) is not None for r in self.wells.values()))

    @property
    def main_metric(self) -> str | None:
        """The percentage metric best wells are ranked by (see :data:`PERCENT_METRICS`)."""
        present = self.metrics
        return next((m for m in PERCENT_METRICS if m in present), None)

    def best(self, limit: int = 10) -> list[WellResult]:
        """The ``limit`` wells with the highest main metric (ties: plate order), best first."""
        metric = self.main_metric
        if metric is None:
            return []
        ranked = [r for r in self.wells.values() if r.value(metric) is not None]
        ranked.sort(key=lambda r: -(r.value(metric) or 0.0))  # sort is stable: plate order
        return ranked[:limit]
