"""The progress bar of ``diazflow run`` / ``resume``: current step, plan time, ETA.

Shown only when stdout is a terminal and neither ``--quiet`` nor ``--log`` is given (then the
run log of :mod:`diazflow.runtime.runlog` is written instead).  The bar's total is the plan's
makespan in plan seconds and its position the executor's clock, so rich's ETA is wall time for
any clock (virtual, scaled or real).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TaskID

    from diazflow.compiler.plan import Operation, Plan


def _hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


class NullProgress:
    def start(self) -> None:
        pass

    def update(self, op: Operation | None, now: float, done: int, total: int) -> None:
        pass

    def tick(self, now: float) -> None:
        pass

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def stop(self) -> None:
        pass


class RunProgress(NullProgress):
    def __init__(self, plan: Plan, clock_label: str):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from diazflow.runtime.runlog import StepDescriptions

        self.plan = plan
        self.steps = StepDescriptions(plan)
        self.current: tuple[Operation, int, int] | None = None
        self.makespan = max(plan.makespan_s, 1e-9)
        self.clock_label = clock_label
        self.console = Console(file=sys.stdout)
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[clock]}"),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            refresh_per_second=8,
        )
        self.task: TaskID | None = None

    def start(self) -> None:
        self.progress.start()
        self.task = self.progress.add_task("starting", total=self.makespan, clock=self._clock(0.0))

    def _clock(self, now: float) -> str:
        return f"{self.clock_label} {_hms(now)} / {_hms(self.makespan)}"

    def _description(self, now: float) -> str:
        """The step the clock is in: during a hold (stir 12 h, ...) the hold and its time left,
        else the step of the operation last started, named by its reagent."""
        hold = self.steps.hold_at(now)
        if hold is not None:
            step, left = hold
            return f"step {step + 1}: {self.steps[step]}, {_hms(left)} left"
        if self.current is None:
            return "starting"
        op, done, total = self.current
        return f"step {op.step + 1}: {self.steps[op.step]} (op {done + 1}/{total} {op.op})"

    def update(self, op: Operation | None, now: float, done: int, total: int) -> None:
        if self.task is None:
            return
        if op is None:
            self.current = None
            description = f"done: {done}/{total} operations"
        else:
            self.current = (op, done, total)
            description = self._description(now)
        self.progress.update(
            self.task,
            description=description,
            completed=min(now, self.makespan),
            clock=self._clock(now),
        )

    def tick(self, now: float) -> None:
        if self.task is not None:
            self.progress.update(
                self.task,
                description=self._description(now) if self.current else None,
                completed=min(now, self.makespan),
                clock=self._clock(now),
            )

    def pause(self) -> None:
        self.progress.stop()

    def resume(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


def make_progress(
    plan: Plan,
    clock_label: str,
    quiet: bool,
    *,
    log: bool = False,
    simulated: bool = True,
    start: datetime | None = None,
) -> NullProgress:
    """Nothing with ``quiet``; the run log (:mod:`diazflow.runtime.runlog`) when stdout is not a
    terminal or ``log`` is asked for; else the progress bar."""
    if quiet:
        return NullProgress()
    if log or not sys.stdout.isatty():
        from diazflow.runtime.runlog import RunLog

        return RunLog(plan, simulated=simulated, start=start)
    return RunProgress(plan, clock_label)
