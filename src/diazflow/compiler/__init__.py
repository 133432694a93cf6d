"""The compiler: a validated, chemistry-resolved protocol on a deck → a timed :class:`Plan`.

Public surface: :func:`compile_plan`, :class:`Plan` and :class:`Operation`.
"""

from __future__ import annotations

from diazflow.compiler.plan import Operation, Plan


def compile_plan(loaded, chem, facts, deck_display: str):
    """(plan or None, diagnostics): placement of stocks, then lowering and scheduling."""
    from diazflow.compiler.placement import place_reagents
    from diazflow.compiler.scheduler import schedule

    reporter = loaded.reporter()
    placement = place_reagents(loaded, chem, facts, reporter)
    if placement is None or reporter.diagnostics:
        return None, reporter.diagnostics
    plan, schedule_diags = schedule(loaded, chem, facts, placement, deck_display)
    if plan is not None:
        from diazflow.compiler.evaporation import evaporation_checks

        evaporation_checks(plan, loaded, chem, facts, reporter)
    return plan, reporter.diagnostics + schedule_diags


__all__ = ["compile_plan", "Plan", "Operation"]
