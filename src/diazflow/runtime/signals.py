"""How ``run`` and ``resume`` stop on a signal: SIGINT, SIGTERM, SIGHUP and SIGQUIT alike.

One handler for the whole command (:func:`stop_signals`).  What a signal does depends on where the
command is:

- before the run's event loop (checking the protocol, creating the journal, building the devices)
  the handler raises :class:`RunInterrupted` where the program is; ``run_plan``/``resume_run``
  journal ``run_interrupted`` if the journal exists;
- while the plan runs, it cancels the run's task (at its next ``await``), so that the run puts the
  deck in its safe state and journals it;
- while the safe state is being reached, or after the run ended, a further signal (a second
  Ctrl-C) is noted and otherwise ignored: the safe state is always finished.

The exit code of an interrupted command is ``128 + signal number`` (the shell's convention):
130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 131 for SIGQUIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def exit_code_for(signum: int) -> int:
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class RunInterrupted(BaseException):
    """A stop signal arrived outside the run's event loop.  A ``BaseException`` (like
    ``KeyboardInterrupt``) so that no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.signum)


class SignalGuard:
    """The state of the stop-signal handler of one command (see the module)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._shield = 0
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._saved: dict[int, Any] = {}

    @property
    def exit_code(self) -> int | None:
        return exit_code_for(self.signum) if self.signum is not None else None

    def _handle(self, signum: int, _frame: object) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if not first or self._shield:
            return  # the safe state (or the end of the run) is being reached: let it finish
        if self._task is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
            return
        raise RunInterrupted(signum)

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            self._saved[sig] = signal.getsignal(sig)
            signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._saved.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, handler)
        self._saved.clear()

    @contextlib.contextmanager
    def cancelling(self, task: asyncio.Task[Any]) -> Iterator[None]:
        """A signal cancels ``task`` (inside the run's event loop); one that came before the task
        was registered cancels it at once."""
        self._task, self._loop = task, asyncio.get_running_loop()
        if self.signum is not None and not self._shield:
            task.cancel()
        try:
            yield
        finally:
            self._task = self._loop = None

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """Signals do not interrupt what runs inside (the safe state, the last journal entries)."""
        self._shield += 1
        try:
            yield
        finally:
            self._shield -= 1

    def shield_forever(self) -> None:
        """The run is over: from now on signals only get noted."""
        self._shield += 1


_ACTIVE: SignalGuard | None = None


def active_guard() -> SignalGuard:
    """The guard of the current command, or an inert one (nothing installed)."""
    return _ACTIVE if _ACTIVE is not None else SignalGuard()


@contextlib.contextmanager
def stop_signals() -> Iterator[SignalGuard]:
    """Install the stop-signal handler for the duration (re-entrant: an inner use shares the
    outer guard).  Only the main thread can install signal handlers; elsewhere nothing is."""
    global _ACTIVE
    if _ACTIVE is not None:
        yield _ACTIVE
        return
    guard = SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    guard.install()
    _ACTIVE = guard
    try:
        yield guard
    finally:
        _ACTIVE = None
        guard.restore()
