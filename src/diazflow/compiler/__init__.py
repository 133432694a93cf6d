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
        plan = _with_diluents(loaded, plan)
        from diazflow.compiler.evaporation import evaporation_checks

        evaporation_checks(plan, loaded, chem, facts, reporter)
    return plan, reporter.diagnostics + schedule_diags


def _with_diluents(loaded, plan: Plan) -> Plan:
    """Each sample operation says what its sample wells hold (the step's ``diluent:``)."""
    from diazflow.compiler.plan import Sample
    from diazflow.language import models as m

    diluents = {}
    for i, step in enumerate(loaded.protocol.steps):
        _, params = m.step_params(step)
        if isinstance(params, m.SampleParams) and params.diluent is not None:
            diluents[i] = params.diluent
    if not diluents:
        return plan
    operations = [
        op.model_copy(update={"diluent": diluents[op.step]})
        if isinstance(op, Sample) and op.step in diluents
        else op
        for op in plan.operations
    ]
    return plan.model_copy(update={"operations": operations})


__all__ = ["compile_plan", "Plan", "Operation"]
