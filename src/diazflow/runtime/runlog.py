"""What a run says as it goes: one line per step and per operator action (issue 17).

``diazflow run`` writes this log when its stdout is not a terminal (a file, a pipe, CI) or with
``--log``; on a terminal the progress bar (:mod:`diazflow.runtime.progress`) takes the same step
descriptions.  Each line has the plan time (``T+h:mm``, or the clock time when the run was given
``--start``), the wall time it was written and what happens::

    T+3:34  [21:02:11]  step 5 (line 47): add halide dropwise to 96 wells, 11 aliquots over 30 min
    T+17:07 [21:02:13]  operator: Work-up (note 000 Method B): filter off the inorganic solids ...
                        confirmed automatically (simulation)

Everything is read from the plan (a resumed run has nothing else), never from the protocol.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from diazflow.compiler.plan import (
    Dispense,
    DispensePowder,
    Prompt,
    Sample,
    SetClosure,
    SetTemperature,
    Shake,
)
from diazflow.runtime.progress import NullProgress

if TYPE_CHECKING:
    from diazflow.compiler.plan import Operation, Plan, StepSummary

HOLD_KINDS = ("stir", "hold", "wait", "reflux")
ADD_KINDS = ("add", "quench", "add_solvent")


def format_duration(seconds: float) -> str:
    """``45 s``, ``50 min``, ``12 h``, ``1 h 30 min``: how a chemist says a time span."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if rest == 0 else f"{hours} h {rest} min"


def plan_time(seconds: float) -> str:
    """``T+h:mm`` from the start of the run."""
    minutes = int(max(0.0, seconds) // 60)
    return f"T+{minutes // 60}:{minutes % 60:02d}"


def clock_time(start: _dt.datetime, seconds: float) -> str:
    """The clock time ``seconds`` after ``start``: ``Mon 09:00``."""
    return (start + _dt.timedelta(seconds=seconds)).strftime("%a %H:%M")


def is_operator_action(op: Operation) -> bool:
    """A prompt, a cap change or a solid weighed in by hand: the run waits for a person."""
    match op:
        case Prompt() | SetClosure():
            return True
        case DispensePowder():
            return op.device == "operator" or bool(op.manual)
        case _:
            return False


def operator_message(op: Operation) -> str:
    """What the operator is asked to do (the plan's message)."""
    match op:
        case Prompt() | SetClosure():
            return op.message
        case DispensePowder():
            return op.message or f"weigh {op.reagent} into {len(op.wells)} wells"
        case _:
            return op.op


def _describe_addition(kind: str, ops: list[Operation], span: float) -> str:
    from diazflow.chemistry.resolve import SOLVENT_PREFIX  # add_solvent's reagent ids

    reagents: list[str] = []
    wells: set[str] = set()
    aliquots, powder, manual = 1, False, False
    for op in ops:
        match op:
            case Dispense() | DispensePowder():
                name = op.reagent.removeprefix(SOLVENT_PREFIX)
                if name not in reagents:
                    reagents.append(name)
                wells.update(op.wells)
                aliquots = max(aliquots, op.aliquots or 1)
                if isinstance(op, DispensePowder):
                    powder = True
                    manual = manual or op.device == "operator" or bool(op.manual)
    what = f"{kind} {', '.join(reagents) or '?'}"
    if aliquots > 1:
        what += " portionwise" if powder else " dropwise"
    what += f" to {len(wells)} well{'s' if len(wells) != 1 else ''}"
    if manual:
        return what + " (weighed in by the operator)"
    if aliquots > 1:
        return (
            what
            + f", {aliquots} {'portions' if powder else 'aliquots'} over {format_duration(span)}"
        )
    return what + f" ({format_duration(span)})"


def describe_step(step: StepSummary, ops: list[Operation]) -> str:
    """One line saying what a step does, from its operations."""
    span = step.end - step.start
    celsius = [op for op in ops if isinstance(op, SetTemperature)]
    if step.kind in ADD_KINDS:
        return _describe_addition(step.kind, ops, span)
    if step.kind in HOLD_KINDS:
        text = f"{step.kind} {format_duration(span)}"
        if celsius:
            text += f" at {celsius[-1].celsius:g} °C"
        rpm = [op.rpm for op in ops if isinstance(op, Shake) and op.rpm]
        if rpm:
            text += f", {rpm[0]:g} rpm"
        return text
    if celsius:
        target = celsius[-1]
        ramp = f" over {format_duration(target.ramp_s)}" if target.ramp_s else ""
        return f"{step.kind} to {target.celsius:g} °C{ramp} ({format_duration(span)} in all)"
    samples = [op for op in ops if isinstance(op, Sample)]
    if samples:
        wells = {w for op in samples for w in op.wells}
        return f"sample {len(wells)} wells into {samples[0].into}"
    if any(is_operator_action(op) for op in ops):
        return f"{step.kind}: the operator's turn"
    return f"{step.kind} ({format_duration(span)})"


class StepDescriptions:
    """Every step's one-line description, and which step the clock is in."""

    def __init__(self, plan: Plan):
        by_step: dict[int, list[Operation]] = {s.step: [] for s in plan.steps}
        for op in plan.operations:
            by_step.setdefault(op.step, []).append(op)
        self.steps = {s.step: s for s in plan.steps}
        self.text = {s.step: describe_step(s, by_step[s.step]) for s in plan.steps}

    def __getitem__(self, step: int) -> str:
        return self.text.get(step, f"step {step + 1}")

    def line_of(self, step: int) -> int | None:
        summary = self.steps.get(step)
        return summary.line if summary is not None else None

    def hold_at(self, now: float) -> tuple[int, float] | None:
        """The hold step (stir, hold, wait, reflux) under way at plan time ``now`` and the time
        it has left, or None."""
        for summary in self.steps.values():
            if summary.kind in HOLD_KINDS and summary.start <= now < summary.end:
                return summary.step, summary.end - now
        return None


def _wall_clock() -> str:
    return _dt.datetime.now().strftime("%H:%M:%S")


class RunLog(NullProgress):
    """The run log (see the module); fed by the executor like the progress bar."""

    def __init__(
        self,
        plan: Plan,
        *,
        simulated: bool,
        start: _dt.datetime | None = None,
        write: Callable[[str], None] | None = None,
        wall_clock: Callable[[], str] = _wall_clock,
    ):
        self.plan = plan
        self.steps = StepDescriptions(plan)
        self.simulated = simulated
        self.start_at = start
        self.write = write or (lambda line: print(line, file=sys.stdout, flush=True))
        self.wall_clock = wall_clock
        self.seen: set[int] = set()

    def _stamp(self, now: float) -> str:
        when = clock_time(self.start_at, now) if self.start_at else plan_time(now)
        return f"{when:<9} [{self.wall_clock()}]"

    def start(self) -> None:
        when = f", from {self.start_at:%a %Y-%m-%d %H:%M}" if self.start_at else ""
        self.write(
            f"run log: {len(self.plan.steps)} steps, {len(self.plan.operations)} operations, "
            f"{format_duration(self.plan.makespan_s)} of plan time{when}"
        )

    def update(self, op: Operation | None, now: float, done: int, total: int) -> None:
        stamp = self._stamp(now)
        if op is None:
            self.write(f"{stamp}  done: {done} of {total} operations")
            return
        if op.step not in self.seen:
            self.seen.add(op.step)
            line = self.steps.line_of(op.step)
            where = f" (line {line})" if line else ""
            self.write(f"{stamp}  step {op.step + 1}{where}: {self.steps[op.step]}")
        if is_operator_action(op):
            pad = " " * len(stamp)
            message = operator_message(op)
            if self.simulated:
                self.write(f"{stamp}  operator: {message}")
                self.write(f"{pad}  confirmed automatically (simulation)")
            else:  # the prompt itself shows the message and waits
                self.write(f"{stamp}  operator: waiting for confirmation")
