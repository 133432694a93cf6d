"""The results joined with the plan's per-well design: one row per analysed well, keyed by the
design's ``condition_id`` (the well when the plan has no design), for an optimiser (BayBE,
EDBO+) or a spreadsheet to read.

Columns, in order: ``condition_id`` (only when a well of the plan has one), each factor of the
design (``WellPlan.conditions``, in the order first met), ``well``, each reagent whose substance
varies across the plate (the library members: a reagent every well gets the same is not part of
what was screened), then every result column (blank: no value).  A well without a result is left
out: it is not a measurement.
"""

from __future__ import annotations

import csv
import io

from diazflow.compiler.plan import Plan
from diazflow.results.models import RunResults

RESULT_COLUMNS = ("conversion_pct", "yield_pct", "area_pct", "purity_pct", "mz", "comment")


def library_reagents(plan: Plan) -> list[str]:
    """The reagents whose substance differs between wells (or that only some wells get), in the
    order the plan lists them: the plate's library members."""
    reagents: dict[str, None] = {}
    for wp in plan.wells.values():
        reagents.update(dict.fromkeys(wp.reagents))
    members = []
    for rid in reagents:
        substances = {
            wp.reagents[rid].substance if rid in wp.reagents else None for wp in plan.wells.values()
        }
        if len(substances) > 1:
            members.append(rid)
    return members


def design_factors(plan: Plan) -> list[str]:
    """The design's factors, in the order the plan's wells first name them."""
    factors: dict[str, None] = {}
    for wp in plan.wells.values():
        for factor in wp.conditions or {}:
            factors.setdefault(factor, None)
    return list(factors)


def design_rows(plan: Plan, results: RunResults) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the results table (see the module's docstring)."""
    keyed = any(wp.condition_id for wp in plan.wells.values())
    factors = design_factors(plan)
    members = library_reagents(plan)
    taken = {"condition_id", "well", *RESULT_COLUMNS}
    factor_names = [f"factor:{f}" if f in taken else f for f in factors]
    taken |= set(factor_names)
    member_names = [f"reagent:{r}" if r in taken else r for r in members]
    header = (
        (["condition_id"] if keyed else [])
        + factor_names
        + ["well"]
        + member_names
        + list(RESULT_COLUMNS)
    )
    rows = []
    for well, result in results.wells.items():
        wp = plan.wells.get(well)
        if wp is None:
            continue
        conditions = wp.conditions or {}
        row = [wp.condition_id or ""] if keyed else []
        row += [conditions.get(f, "") for f in factors]
        row.append(well)
        for rid in members:
            amount = wp.reagents.get(rid)
            row.append((amount.substance or rid) if amount else "")
        for column in RESULT_COLUMNS:
            value = result.comment if column == "comment" else result.value(column)
            row.append("" if value is None else (value if isinstance(value, str) else f"{value:g}"))
        rows.append(row)
    return header, rows


def design_csv(plan: Plan, results: RunResults) -> str:
    """The results table as CSV text."""
    header, rows = design_rows(plan, results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
