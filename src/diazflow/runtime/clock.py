"""Clocks: the runtime owns time, PyLabRobot does not.

PLR 0.2.2 has no clock abstraction (``TemperatureController.wait_for_temperature`` polls
``time.time()`` and ``Shaker.shake(duration=)`` sleeps with ``asyncio.sleep``), so the executor
never calls those helpers: it waits on one of these clocks and asks the devices for their state.

All clocks measure *plan time*: seconds from the start of the run, the same time base as the
plan's ``t``.  A resumed run starts its clock where the journal left off (``start_at``).

* :class:`VirtualClock` — instant: ``sleep`` just moves time forward.  A 24 h plan costs only the
  bookkeeping (microseconds per sleep).
* :class:`ScaledClock` — real time ``speed`` times faster (``--speed N``).
* :class:`RealClock` — wall-clock time (hardware runs).
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    """Plan time in seconds; ``sleep``/``sleep_until`` are the only ways the executor waits."""

    virtual = False
    speed: float = 1.0

    def now(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def sleep_until(self, t: float) -> None:
        delta = t - self.now()
        if delta > 0:
            await self.sleep(delta)


class VirtualClock(Clock):
    """Simulated time that jumps: ``sleep(3600)`` returns at once with ``now()`` one hour later."""

    virtual = True
    speed = float("inf")

    # Awaiting a coroutine that never suspends does not return to the event loop, so a run on
    # this clock would only see Ctrl-C / SIGTERM (event-loop signal handlers) after its last
    # operation.  Suspending once every YIELD_EVERY_S of wall time lets them in; every sleep
    # would cost ~10 µs × thousands of temperature polls.
    YIELD_EVERY_S = 0.02

    def __init__(self, start_at: float = 0.0):
        self._t = float(start_at)
        self._yielded_at = time.monotonic()

    def now(self) -> float:
        return self._t

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._t += seconds
        await self._let_the_loop_in()

    async def sleep_until(self, t: float) -> None:
        if t > self._t:
            self._t = t
        await self._let_the_loop_in()

    async def _let_the_loop_in(self) -> None:
        now = time.monotonic()
        if now - self._yielded_at >= self.YIELD_EVERY_S:
            self._yielded_at = now
            await asyncio.sleep(0)

    def set(self, t: float) -> None:
        """Move to ``t`` (used while replaying a journal; time never runs backwards in a run)."""
        self._t = float(t)


class ScaledClock(Clock):
    """Real time, ``speed`` times faster: ``ScaledClock(60)`` runs an hour-long plan in a minute."""

    def __init__(self, speed: float = 1.0, start_at: float = 0.0):
        if not speed > 0:
            raise ValueError(f"speed must be positive, not {speed!r}")
        self.speed = float(speed)
        self._origin = float(start_at)
        self._m0 = time.monotonic()

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._m0) * self.speed

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds / self.speed)


class RealClock(ScaledClock):
    """Wall-clock time, for hardware."""

    def __init__(self, start_at: float = 0.0):
        super().__init__(1.0, start_at)


def make_clock(speed: float | None, start_at: float = 0.0, *, hardware: bool = False) -> Clock:
    """``speed`` None → virtual (simulation) or real (hardware); a number → scaled real time."""
    if hardware:
        return RealClock(start_at)
    if speed is None:
        return VirtualClock(start_at)
    if speed == 1:
        return RealClock(start_at)
    return ScaledClock(speed, start_at)
