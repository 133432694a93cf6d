"""The operator's day: clock times of the operator actions of a plan started at a given time, the
ones outside working hours (DF620) and the earliest start that avoids them.

An operator action (:func:`diazflow.runtime.runlog.is_operator_action`: a prompt, a cap change, a
solid weighed in by hand) needs a person from its start to its end (a manual weigh-in lasts as long
as the plan gives it).  It is inside working hours when it starts and ends on one working day
(``settings.working_days``, default Mon-Fri) within ``settings.working_hours`` (default
08:00-18:00).  Only ``compile``, ``run`` and ``report`` given ``--start`` know the clock, so the
check runs there, after :func:`diazflow.pipeline.check`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.diagnostics import Diagnostic, Position, Reporter

if TYPE_CHECKING:
    from diazflow.compiler.plan import Operation, Plan
    from diazflow.language.models import Settings

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SEARCH_STEP = _dt.timedelta(minutes=15)  # candidate start times: on the quarter hour
SEARCH_SPAN = _dt.timedelta(days=14)  # how far ahead the earliest good start is looked for


@dataclass(frozen=True)
class WorkingTime:
    opens: _dt.time
    closes: _dt.time
    days: frozenset[int]  # datetime.weekday(): Monday 0

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingTime:
        opens, closes = settings.working_hours.split("-")
        return cls(
            _dt.time.fromisoformat(opens),
            _dt.time.fromisoformat(closes),
            frozenset(WEEKDAYS.index(day) for day in settings.working_days),
        )

    def describe(self) -> str:
        days = [WEEKDAYS[d] for d in sorted(self.days)]
        span = f"{days[0]}-{days[-1]}" if _consecutive(sorted(self.days)) else ", ".join(days)
        return f"{self.opens:%H:%M}-{self.closes:%H:%M} {span}"

    def covers(self, begin: _dt.datetime, end: _dt.datetime) -> bool:
        """Whether someone working these hours is there from ``begin`` to ``end``."""
        return (
            begin.weekday() in self.days
            and begin.date() == end.date()
            and self.opens <= begin.time()
            and end.time() <= self.closes
        )


def _consecutive(days: list[int]) -> bool:
    return days == list(range(days[0], days[0] + len(days)))


def operator_actions(plan: Plan) -> list[Operation]:
    from diazflow.runtime.runlog import is_operator_action

    return [op for op in plan.operations if is_operator_action(op)]


def outside(actions: list[Operation], start: _dt.datetime, hours: WorkingTime) -> list[Operation]:
    """The actions that fall outside working hours when the run starts at ``start``."""
    return [
        op
        for op in actions
        if not hours.covers(
            start + _dt.timedelta(seconds=op.t), start + _dt.timedelta(seconds=op.end)
        )
    ]


def best_start(
    actions: list[Operation], start: _dt.datetime, hours: WorkingTime
) -> tuple[_dt.datetime, int]:
    """The first quarter hour at or after ``start`` (within two weeks) with the fewest operator
    actions outside working hours, and how many: ``(start, 0)`` when one avoids them all."""
    minute = (start.minute // 15) * 15
    candidate = start.replace(minute=minute, second=0, microsecond=0)
    if candidate < start:
        candidate += SEARCH_STEP
    best = (candidate, len(outside(actions, candidate, hours)))
    while candidate <= start + SEARCH_SPAN and best[1]:
        late = len(outside(actions, candidate, hours))
        if late < best[1]:
            best = (candidate, late)
        candidate += SEARCH_STEP
    return best


def clock(start: _dt.datetime, seconds: float) -> str:
    return (start + _dt.timedelta(seconds=seconds)).strftime("%a %Y-%m-%d %H:%M")


def check_working_hours(
    plan: Plan, start: _dt.datetime, settings: Settings, reporter: Reporter
) -> list[Diagnostic]:
    """DF620 for each operator action outside working hours, at its step (``reporter`` places
    ``("steps", i)``: a protocol's reporter gives the step's line), with the earliest start time
    that avoids them all.  Returns the new diagnostics (also added to ``reporter``)."""
    mark = reporter.count()
    hours = WorkingTime.from_settings(settings)
    actions = operator_actions(plan)
    late = outside(actions, start, hours)
    if not late:
        return []
    better, still = best_start(actions, start, hours)
    flag = f'(--start "{better:%Y-%m-%d %H:%M}")'
    if still == 0:
        hint = (
            f"start at {better:%a %Y-%m-%d %H:%M} {flag}: every operator action then falls "
            f"within working hours ({hours.describe()})"
        )
    else:
        fewer = (
            f"; the fewest outside, {still}, from {better:%a %Y-%m-%d %H:%M} {flag}"
            if still < len(late)
            else ""
        )
        hint = (
            f"no start within {SEARCH_SPAN.days} days puts all {len(actions)} operator actions "
            f"within working hours ({hours.describe()}){fewer}; widen settings.working_hours or "
            "working_days, or shorten the holds between the operator's actions"
        )
    for op in late:
        where = ("steps", op.step) if reporter.source is not None else Position(op.line, 1)
        what = {"dispense_powder": "weigh-in", "set_closure": "cap change"}.get(
            op.op, "operator step"
        )
        span = (
            f"from {clock(start, op.t)} to {(start + _dt.timedelta(seconds=op.end)):%H:%M}"
            if op.duration >= 60
            else f"at {clock(start, op.t)}"
        )
        reporter.warn(
            where,
            codes.DF620,
            f"the {what} of step {op.step + 1} falls outside working hours ({hours.describe()}): "
            f"{span} when started at {start:%a %Y-%m-%d %H:%M}",
            hint,
        )
    return reporter.diagnostics[mark:]
