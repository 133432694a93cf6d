"""The progress bar of ``diazflow run`` / ``resume``: current step, plan time, ETA.

Shown only when stdout is a terminal and ``--quiet`` is not given.  The bar's total is the plan's
makespan in plan seconds and its position the executor's clock, so rich's ETA is wall time for
any clock (virtual, scaled or real).
"""

from __future__ import annotations

import sys
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

        self.plan = plan
        self.steps = {s.step: s.kind for s in plan.steps}
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

    def update(self, op: Operation | None, now: float, done: int, total: int) -> None:
        if self.task is None:
            return
        if op is None:
            description = f"done: {done}/{total} operations"
        else:
            kind = self.steps.get(op.step, "?")
            description = f"step {op.step + 1} {kind:<10} op {done + 1}/{total} {op.op:<16}"
        self.progress.update(
            self.task,
            description=description,
            completed=min(now, self.makespan),
            clock=self._clock(now),
        )

    def tick(self, now: float) -> None:
        if self.task is not None:
            self.progress.update(
                self.task, completed=min(now, self.makespan), clock=self._clock(now)
            )

    def pause(self) -> None:
        self.progress.stop()

    def resume(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


def make_progress(plan: Plan, clock_label: str, quiet: bool) -> NullProgress:
    if quiet or not sys.stdout.isatty():
        return NullProgress()
    return RunProgress(plan, clock_label)
