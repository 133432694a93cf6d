"""``diazflow run`` / ``resume`` / ``journal``: build the devices, open the journal, run the plan.

:class:`Run` is one run of a plan (device set-up and tear-down, PLR's process-wide state, the
run, failures and interrupts); :func:`run_plan` and :func:`resume_run` create or reopen the
journal around it.  The CLI (``diazflow.cli``) parses options and prints; everything else is
here so that tests and the benchmark can run plans in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import importlib
import io
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from diazflow.exitcodes import EXIT_OK, EXIT_RUN_FAILED
from diazflow.runtime.clock import Clock, make_clock
from diazflow.runtime.faults import FaultPlan
from diazflow.runtime.journal import (
    Journal,
    JournalError,
    JournalWriteError,
    commit_interval_for,
    sha256_file,
    synchronous_for,
)
from diazflow.runtime.progress import NullProgress
from diazflow.runtime.signals import RunInterrupted, active_guard, signal_name, stop_signals

if TYPE_CHECKING:
    from diazflow.compiler.plan import Operation, Plan
    from diazflow.deck.plr import PlrSetup
    from diazflow.deck.spec import DeckSpec
    from diazflow.runtime.executor import Executor, RunFailed
    from diazflow.runtime.simulated import ActionContext
    from diazflow.runtime.visualizer import VisualizerHandle

BACKENDS = ("simulate", "chatterbox", "hardware")
PLR_IO_LEVEL = 5  # PLR's LOG_LEVEL_IO: the firmware / HTTP commands its backends send


class UsageError(Exception):
    """A problem with the command line or the files it names (exit 2)."""


@dataclass
class RunOutcome:
    exit_code: int
    journal_path: str | None
    message: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    in_flight_messages: list[str] = field(default_factory=list)


def default_journal_path(protocol_path: str, directory: str = "runs") -> str:
    stem = os.path.splitext(os.path.basename(protocol_path))[0]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(directory, f"{stem}-{stamp}.journal.sqlite")
    n = 2
    while os.path.exists(path):
        path = os.path.join(directory, f"{stem}-{stamp}-{n}.journal.sqlite")
        n += 1
    return path


def commands_path_for(journal_path: str) -> str:
    return journal_path + ".commands.txt"


def changed_inputs(recorded: dict[str, str | None]) -> list[str]:
    """The recorded input files whose content is not what the run was compiled from."""
    return [path for path, digest in recorded.items() if sha256_file(path) != digest]


# --------------------------------------------------------------------------- PLR's process-wide state


@contextlib.contextmanager
def plr_tracking() -> Iterator[None]:
    """PLR's volume and tip tracking on for the duration of a run.

    Both switches are module-global in PLR: they are put back as they were, since tests (and any
    program embedding diazflow) share one process.
    """
    from pylabrobot.resources import (
        does_tip_tracking,
        does_volume_tracking,
        set_tip_tracking,
        set_volume_tracking,
    )

    volume, tip = does_volume_tracking(), does_tip_tracking()
    set_volume_tracking(True)
    set_tip_tracking(True)
    try:
        yield
    finally:
        set_volume_tracking(volume)
        set_tip_tracking(tip)


class _PlrIoHandler(logging.Handler):
    """Passes the records PLR logs at its IO level (5) to a transcript."""

    def __init__(self, transcript: CommandTranscript):
        super().__init__(level=PLR_IO_LEVEL)
        self.transcript = transcript

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == PLR_IO_LEVEL:
            self.transcript.write(record.getMessage())


class CommandTranscript:
    """The firmware / HTTP commands a chatterbox produced, appended to ``<journal>.commands.txt``.

    A context manager: leaving it closes the file and puts the ``pylabrobot`` logger (its level,
    and the levels of its other handlers) back as :meth:`capture_plr_io` found it.
    """

    def __init__(self, path: str):
        self.path = path
        # held here and written out by flush() just before every journal commit
        # (Journal.before_commit) and on close -- never by a full buffer in between: the file
        # holds the commands of every committed record, and of the records a killed run had not
        # committed at most those of the commit it was making (which resume does again)
        self.fh = open(path, "a", encoding="utf-8")
        self._held: list[str] = []
        self.lines = 0
        self.handler: logging.Handler | None = None
        self._saved_levels: list[tuple[logging.Logger | logging.Handler, int]] = []

    def __enter__(self) -> CommandTranscript:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, text: str) -> None:
        for line in text.splitlines():
            self._held.append(line + "\n")
            self.lines += 1

    def flush(self) -> None:
        if self._held:
            self.fh.write("".join(self._held))
            self._held.clear()
        self.fh.flush()

    def capture_plr_io(self) -> None:
        """PLR logs every command its chatterboxes build at level 5 (LOG_LEVEL_IO) on 'pylabrobot':
        the STAR's firmware strings (C0TP…, C0AS…) and the OT-2's HTTP-level calls."""
        logger = logging.getLogger("pylabrobot")
        self.handler = _PlrIoHandler(self)
        self._saved_levels.append((logger, logger.level))
        logger.addHandler(self.handler)
        if logger.getEffectiveLevel() > PLR_IO_LEVEL:
            logger.setLevel(PLR_IO_LEVEL)
        # PLR's own console handler (if any) must not print the IO trace
        for h in logger.handlers:
            if h is not self.handler and h.level < logging.INFO:
                self._saved_levels.append((h, h.level))
                h.setLevel(logging.INFO)

    def close(self) -> None:
        if self.handler is not None:
            logging.getLogger("pylabrobot").removeHandler(self.handler)
            self.handler = None
        for target, level in reversed(self._saved_levels):
            target.setLevel(level)
        self._saved_levels.clear()
        try:
            self.flush()
        finally:
            self.fh.close()

    def printed(self) -> contextlib.AbstractContextManager[object]:
        """What a chatterbox prints (instead of logging) inside this context goes to the transcript."""
        return _PrintsTo(self)


class _PrintsTo(contextlib.redirect_stdout):
    def __init__(self, transcript: CommandTranscript):
        self._buffer = io.StringIO()
        self._transcript = transcript
        super().__init__(self._buffer)

    def __exit__(self, *exc):
        result = super().__exit__(*exc)
        if self._buffer.getvalue():
            self._transcript.write(self._buffer.getvalue().rstrip("\n"))
        return result


# --------------------------------------------------------------------------- building the devices


def build_labels(setup: PlrSetup) -> dict[int, str]:
    """PLR resource → ``LABWARE:WELL`` (what the journal records), by object identity."""
    labels: dict[int, str] = {}
    spec = setup.deck_spec
    for name, lw in spec.labware.items():
        resource = setup.resources.get(name)
        if resource is None:
            continue
        if lw.role == "tips":
            for w in lw.well_names():
                with contextlib.suppress(Exception):
                    labels[id(setup.tip_spot(f"{name}:{w}"))] = f"{name}:{w}"
        elif lw.role == "waste":
            labels[id(resource)] = name
        else:
            for w in lw.well_names():
                with contextlib.suppress(Exception):
                    labels[id(setup.container(name, w))] = f"{name}:{w}"
    return labels


class ResourceLabels:
    """The journal's name of a PLR resource: ``LABWARE:WELL`` where the deck layout has one."""

    def __init__(self, setup: PlrSetup):
        self._labels = build_labels(setup)

    def __call__(self, resource: Any) -> str:
        label = self._labels.get(id(resource))
        return label if label is not None else getattr(resource, "name", None) or str(resource)


def build_devices(
    deck_spec: DeckSpec,
    backend: str,
    clock: Clock,
    ctx: ActionContext,
    transcript: CommandTranscript | None,
) -> PlrSetup:
    """The PLR setup for ``backend`` with diazflow's simulated modules, gates and capture.

    Constructs only; nothing connects (``await setup.setup()`` does).  Run it inside
    :func:`plr_tracking` (the executor relies on PLR's trackers).
    """
    from diazflow.deck import build_plr
    from diazflow.runtime.simulated import (
        GatedLiquidHandlerBackend,
        GatedPowderDispenserBackend,
        SimulatedLiquidHandlerBackend,
        SimulatedPowderDispenserBackend,
    )

    module_backends = (
        simulated_module_backends(deck_spec, clock, ctx) if backend != "hardware" else {}
    )
    setup = build_plr(deck_spec, backend, module_backends)
    lh = setup.liquid_handler
    if backend == "simulate":
        lh.backend = SimulatedLiquidHandlerBackend(
            num_channels=lh.backend.num_channels,
            channel_tip_volumes=lh.backend.channel_tip_volumes,
            ctx=ctx,
        )
    else:
        ctx.transcript = transcript.write if transcript is not None else None
        lh.backend = GatedLiquidHandlerBackend(
            lh.backend,
            "liquid_handler",
            ctx,
            capture_stdout=backend == "chatterbox",
            record_started=backend == "hardware",
        )
        powder = setup.powder_dispenser
        if powder is not None and not isinstance(powder.backend, SimulatedPowderDispenserBackend):
            powder.backend = GatedPowderDispenserBackend(
                powder.backend,
                deck_spec.powder_dispenser or "powder_dispenser",
                ctx,
                record_started=backend == "hardware",
            )
        if transcript is not None:
            transcript.capture_plr_io()
    ctx.label_of = ResourceLabels(setup)
    return setup


def simulated_module_backends(
    deck_spec: DeckSpec, clock: Clock, ctx: ActionContext
) -> dict[str, object]:
    """Modules on the executor's clock (``simulate`` and ``chatterbox``: PLR has no clock)."""
    from diazflow.runtime.simulated import (
        SimulatedHeaterShakerBackend,
        SimulatedPowderDispenserBackend,
        SimulatedTemperatureControllerBackend,
    )

    backends: dict[str, object] = {}
    for name, mod in deck_spec.modules.items():
        if mod.kind == "powder_dispenser":
            backends[name] = SimulatedPowderDispenserBackend(name, ctx)
        elif mod.thermal is not None and mod.can_shake and mod.shaker is not None:
            backends[name] = SimulatedHeaterShakerBackend(name, mod.thermal, mod.shaker, clock, ctx)
        elif mod.thermal is not None:
            backends[name] = SimulatedTemperatureControllerBackend(name, mod.thermal, clock, ctx)
    return backends


# --------------------------------------------------------------------------- running


def _env_float(name: str, default: float = 0.0) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _crash_at() -> tuple[int, str] | None:
    value = os.environ.get("DIAZFLOW_TEST_CRASH", "")
    op, sep, where = value.partition(":")
    if sep and op.strip().isdigit() and where.strip() in ("started", "action"):
        return int(op), where.strip()
    return None


def _operator_confirm(message: str) -> None:
    import click

    click.echo(f"\n[operator] {message}")
    click.prompt("press Enter when done", default="", show_default=False)


def _operator_ask(question: str) -> bool:
    import click

    return click.confirm(f"\n[operator] {question}", default=False)


def _print(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class RunOptions:
    """How to run a plan: what :class:`Run` needs besides the plan, the deck and the journal."""

    backend: str = "simulate"
    speed: float | None = None  # None: a virtual clock (simulations), real time (hardware)
    quiet: bool = False  # no progress bar, no run log
    log: bool = False  # the run log (runtime.runlog) even on a terminal, instead of the bar
    start: _dt.datetime | None = None  # clock time of plan time 0: the run log says clock times
    faults: FaultPlan = field(default_factory=FaultPlan)
    resume: bool = False  # the journal has a run to continue: replay it, then settle in-flight ops
    clock_start: float = 0.0  # plan time the clock starts at (a resume: where the run stopped)
    visualize: bool = False  # serve PLR's Visualizer on localhost for a live view of the deck
    notify: Callable[[str], None] = _print  # one line for the operator (stdout)


class Run:
    """One run (or resumed run) of a plan on freshly built devices, journalled.

    ::

        with Run(plan, deck_spec, journal, RunOptions(backend="chatterbox")) as run:
            outcome = run.execute()

    Entering switches PLR's volume and tip tracking on, opens the command transcript of a
    chatterbox run and silences PLR's warnings; leaving puts all of that back (PLR's tracking
    switches, the ``pylabrobot`` logger's levels, the warnings filters), whatever happened.

    :meth:`execute` builds the devices, sets them up, runs the plan and returns a
    :class:`RunOutcome`; it never raises for a device fault.  How the run ends decides the state
    the devices are left in and what the journal says:

    - complete: ``run_complete``; every device stopped;
    - a device fault (:class:`~diazflow.runtime.executor.RunFailed`): the executor has put the deck
      in its safe state; ``run_failed``; the liquid handler stopped, modules left as they are (a
      cooled block stays cold);
    - the deck differs from the plan after the last operation: ``run_failed``;
    - Ctrl-C / SIGTERM: safe state, ``run_interrupted`` (the status stays ``running``: resumable);
    - the devices cannot be built: ``run_failed``.
    """

    def __init__(
        self,
        plan: Plan,
        deck_spec: DeckSpec,
        journal: Journal,
        options: RunOptions | None = None,
        *,
        timings: dict[str, float] | None = None,
    ):
        t = time.perf_counter()
        importlib.import_module("diazflow.runtime.executor")  # and PyLabRobot: timed here
        from diazflow.runtime.simulated import ActionContext

        self.timings = timings if timings is not None else {}
        self.timings["import_plr_s"] = time.perf_counter() - t
        self.plan = plan
        self.deck_spec = deck_spec
        self.journal = journal
        self.options = options or RunOptions()
        self.info = journal.info()
        self.hardware = self.options.backend == "hardware"
        self.clock = make_clock(
            self.options.speed, self.options.clock_start, hardware=self.hardware
        )
        self.ctx = ActionContext(faults=self.options.faults)
        self.transcript: CommandTranscript | None = None
        self.devices: PlrSetup | None = None
        self._executor: Executor | None = None
        self._progress: NullProgress | None = None
        self._viewer: VisualizerHandle | None = None
        self._restored: list[str] = []
        self._process_state: contextlib.ExitStack | None = None
        self.guard = active_guard()

    # ---- PLR's process-wide state

    def __enter__(self) -> Run:
        with contextlib.ExitStack() as stack:
            stack.enter_context(plr_tracking())
            # PLR warns about its own Tecan tip definitions on every tip it makes
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", category=UserWarning, module=r"pylabrobot\.")
            if self.options.backend == "chatterbox" and self.info.commands_path:
                self.transcript = stack.enter_context(CommandTranscript(self.info.commands_path))
                self.journal.before_commit = self.transcript.flush
                # (the transcript is closed after this: no commit may call it then)
                stack.callback(setattr, self.journal, "before_commit", None)
            self._process_state = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process_state is not None:
            self._process_state.close()
            self._process_state = None

    # ---- the run

    def execute(self) -> RunOutcome:
        """Build and set up the devices, run the plan, verify the deck; see the class."""
        if self._process_state is None:
            raise RuntimeError("Run.execute() runs inside 'with Run(...) as run:'")
        if self.devices is not None:
            raise RuntimeError("a Run executes once: make a new one (resume=True) to continue")
        t = time.perf_counter()
        try:
            self.devices = build_devices(
                self.deck_spec, self.options.backend, self.clock, self.ctx, self.transcript
            )
        except Exception as exc:  # PlrBuildError (a missing optional package, a PLR refusal), ...
            return self._build_failed(exc)
        self.timings["build_plr_s"] = time.perf_counter() - t
        self._executor = self._make_executor(self.devices)
        from diazflow import collection
        from diazflow.deck.plr_cache import cached_geometry, lazy_command_log

        collection.settle()  # the deck is built: what start-up made lives to the end

        # PLR recomputes every absolute location from scratch (rotation matrices up to the deck):
        # remember them while the resource tree does not change, and format its debug log of
        # each command only if something reads it (docs/pylabrobot.md, "Speed")
        with cached_geometry(self.devices.deck), lazy_command_log():
            return asyncio.run(self._run_guarded())

    def _make_executor(self, devices: PlrSetup) -> Executor:
        from diazflow.runtime.executor import Executor, ExecutorOptions
        from diazflow.runtime.progress import make_progress

        hardware, speed = self.hardware, self.options.speed
        options = ExecutorOptions(
            simulated=not hardware,
            op_delay_wall_s=_env_float("DIAZFLOW_TEST_OP_DELAY"),
            crash_at=_crash_at(),
            ask=_operator_ask if hardware else None,
            confirm=_operator_confirm if hardware else None,
            notify=self.options.notify,
        )
        clock_label = (
            "virtual"
            if self.clock.virtual
            else ("real" if hardware or speed == 1 else f"×{speed:g}")
        )
        self._progress = make_progress(
            self.plan,
            clock_label,
            self.options.quiet,
            log=self.options.log,
            simulated=not hardware,
            start=self.options.start,
        )
        return Executor(
            self.plan,
            devices,
            self.clock,
            self.journal,
            self.ctx,
            self.info.vessel_labware,
            options,
            self._progress,
        )

    async def _run_guarded(self) -> RunOutcome:
        from diazflow.runtime.executor import RunFailed

        task = asyncio.current_task()
        assert task is not None  # called by asyncio.run
        with self.guard.cancelling(task):
            try:
                return await self._run()
            except asyncio.CancelledError:
                if sys.version_info >= (3, 11):
                    task.uncancel()
                return await self._interrupted()
            except (KeyboardInterrupt, RunInterrupted):
                return await self._interrupted()
            except JournalWriteError as exc:
                return await self._journal_failed(exc)
            except RunFailed as failure:
                return await self._failed(failure)
            finally:
                self._stop_visualizer()

    async def _run(self) -> RunOutcome:
        assert self._executor is not None  # made by execute()
        executor = self._executor
        await self._set_up_devices(executor)
        if self.options.resume:
            t = time.perf_counter()
            self._restored = await executor.restore()
            self.timings["restore_s"] = time.perf_counter() - t
            for message in self._restored:
                self.options.notify(message)
        progress = self._progress or NullProgress()
        progress.start()
        t = time.perf_counter()
        try:
            await executor.run()
        finally:
            progress.stop()
            self.timings["execute_s"] = time.perf_counter() - t
            self._stop_visualizer()
        t = time.perf_counter()
        problems = executor.verify()
        self.timings["verify_s"] = time.perf_counter() - t
        self.guard.shield_forever()  # the run is done: a late signal does not undo it
        if problems:
            return self._verification_failed(problems)
        self.journal.event(
            None,
            "run_complete",
            self.clock.now(),
            {"makespan_s": self.clock.now()},
            status="complete",
            message=None,
        )
        await self._tear_down(stop_modules=True)
        return RunOutcome(EXIT_OK, self.journal.path, None, self.timings, self._restored)

    # ---- device set-up and tear-down

    async def _set_up_devices(self, executor: Executor) -> None:
        """Connect the devices (or pretend to), fill the stocks, start the visualizer."""
        from diazflow.deck.plr import DeviceSetupError
        from diazflow.runtime.executor import RunFailed

        assert self.devices is not None  # built by execute()
        t = time.perf_counter()
        self.ctx.idle()
        with self._chatter():
            try:
                await self.devices.setup()
            except DeviceSetupError as exc:
                # nothing has been done yet: stop what did come up, journal the failure (exit 3)
                raise RunFailed(str(exc), cause=exc, kind="setup") from exc
        executor.fill_stocks()
        if self.options.visualize:
            await self._start_visualizer(self.devices)
        self.timings["setup_s"] = time.perf_counter() - t

    async def _tear_down(self, *, stop_modules: bool) -> None:
        """Stop the devices: all of them after a complete run; after a failure only the liquid
        handler (PLR's ``HeaterShaker.stop()`` would switch a cooling block off)."""
        if self.devices is None:
            return
        with contextlib.suppress(Exception), self._chatter():
            if stop_modules:
                await self.devices.stop()
            else:
                await self.devices.liquid_handler.stop()

    def _chatter(self) -> contextlib.AbstractContextManager[object]:
        """What a chatterbox prints outside an operation (setup, stop) goes to its transcript."""
        return (
            self.transcript.printed() if self.transcript is not None else contextlib.nullcontext()
        )

    async def _start_visualizer(self, devices: PlrSetup) -> None:
        from diazflow.runtime.visualizer import start_visualizer_async

        try:
            self._viewer = await start_visualizer_async(devices.liquid_handler)
            self.options.notify(f"visualizer: {self._viewer.url}")
        except Exception as exc:  # a viewer must never stop a run
            self.options.notify(f"visualizer not started: {exc}")

    def _stop_visualizer(self) -> None:
        if self._viewer is not None:
            with contextlib.suppress(Exception):
                self._viewer.stop()
            self._viewer = None

    # ---- how a run ends other than complete

    def _build_failed(self, exc: Exception) -> RunOutcome:
        text = (
            "; ".join(f"{d.message}" for d in getattr(exc, "diagnostics", ()))
            or f"{type(exc).__name__}: {exc}"
        )
        message = f"cannot build the deck for '{self.options.backend}': {text}"
        self.journal.event(
            None,
            "run_failed",
            self.clock.now(),
            {"kind": "build", "message": message},
            status="failed",
            message=message,
        )
        return RunOutcome(EXIT_RUN_FAILED, self.journal.path, message, self.timings)

    def _verification_failed(self, problems: list[str]) -> RunOutcome:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        message = f"the deck does not hold what the plan says: {problems[0]}{more}"
        self.journal.event(
            None,
            "run_failed",
            self.clock.now(),
            {"kind": "verification", "problems": problems[:50]},
            status="failed",
            message=message,
        )
        return RunOutcome(EXIT_RUN_FAILED, self.journal.path, message, self.timings, self._restored)

    async def _failed(self, failure: RunFailed) -> RunOutcome:
        """A device fault: the executor has journalled ``op_failed`` and put the deck in its safe
        state (``failure.safe_state`` says what it did)."""
        self.guard.shield_forever()
        safe = "; safe state: " + ", ".join(failure.safe_state) if failure.safe_state else ""
        message = f"{failure.message}{safe}"
        with contextlib.suppress(JournalError):  # already failing: the message is printed anyway
            self.journal.event(
                None,
                "run_failed",
                self.clock.now(),
                {
                    "kind": failure.kind,
                    "op": failure.op.id if failure.op else None,
                    "message": failure.message,
                    "safe_state": failure.safe_state,
                },
                status="failed",
                message=message,
            )
        await self._tear_down(stop_modules=False)
        return RunOutcome(EXIT_RUN_FAILED, self.journal.path, message, self.timings)

    async def _journal_failed(self, error: JournalWriteError) -> RunOutcome:
        """The journal cannot be written (disk full, I/O error): the run stops as on a device
        fault (safe state, liquid handler stopped, exit 3); the failure is journalled if the
        journal takes it."""
        self.guard.shield_forever()
        if self._progress is not None:
            self._progress.stop()
        safe: list[str] = []
        if self._executor is not None:
            with contextlib.suppress(Exception):
                safe = await self._executor.safe_state()
        message = str(error) + ("; safe state: " + ", ".join(safe) if safe else "")
        with contextlib.suppress(JournalError):
            self.journal.event(
                None,
                "run_failed",
                self.clock.now(),
                {"kind": "journal", "message": str(error), "safe_state": safe},
                status="failed",
                message=message,
            )
        await self._tear_down(stop_modules=False)
        return RunOutcome(EXIT_RUN_FAILED, self.journal.path, message, self.timings)

    async def _interrupted(self) -> RunOutcome:
        """A stop signal (or Ctrl-C): safe state; the journal keeps status ``running``
        (resumable); exit ``128 + signal`` (3 when no signal is known)."""
        self.guard.shield_forever()  # a second Ctrl-C waits for the safe state
        if self._progress is not None:
            self._progress.stop()
        safe: list[str] = []
        if self._executor is not None:
            try:
                safe = await self._executor.safe_state()
            except Exception:  # pragma: no cover - best effort
                safe = []
        return interrupted(self.journal, self.clock.now(), self.timings, safe)


def interrupted(
    journal: Journal,
    clock_t: float,
    timings: dict[str, float],
    safe: list[str] | None = None,
    *,
    before_devices: bool = False,
) -> RunOutcome:
    """Journal ``run_interrupted`` (signals are shielded by now) and say how the command ends."""
    guard = active_guard()
    guard.shield_forever()
    if journal.conn.in_transaction:  # the signal landed between BEGIN and the statement after it
        journal.conn.execute("ROLLBACK")
    by = f" by {signal_name(guard.signum)}" if guard.signum is not None else ""
    message = f"run interrupted{by}"
    if before_devices:
        message += " before the devices were set up; nothing was done"
    if safe:
        message += "; safe state: " + ", ".join(safe)
    with contextlib.suppress(JournalError):  # a full disk must not hide the interruption
        journal.event(
            None,
            "run_interrupted",
            clock_t,
            {"safe_state": safe or [], "signal": guard.signum},
            message=message,
        )
    code = guard.exit_code if guard.exit_code is not None else EXIT_RUN_FAILED
    return RunOutcome(code, journal.path, message, timings)


def check_faults(faults: FaultPlan | None, plan: Plan) -> None:
    """Refuse an injected fault that could never fire (unknown operation, wrong kind of operation)."""
    from diazflow.compiler.plan import PickUpTips, SetTemperature, WaitTemperature

    if not faults:
        return
    ops = {op.id: op for op in plan.operations}
    fits: dict[str, Callable[[Operation], bool]] = {
        "tip_not_picked_up": lambda op: isinstance(op, PickUpTips),
        "temperature_timeout": lambda op: isinstance(op, (SetTemperature, WaitTemperature)),
        "connection_lost": lambda op: op.device not in ("clock", "operator"),
    }
    for op_id, kind in faults.faults.items():
        op = ops.get(op_id)
        if op is None:
            raise UsageError(
                f"--inject-fault {op_id}:{kind}: the plan has no operation {op_id} (0-{len(ops) - 1})"
            )
        if not fits[kind](op):
            raise UsageError(
                f"--inject-fault {op_id}:{kind}: operation {op_id} is a {op.op} on {op.device}, where {kind} cannot happen"
            )


def require_drivers(deck_spec: DeckSpec) -> None:
    """:class:`~diazflow.extras.MissingExtra` when a module of the ``hardware`` extra that this
    deck's hardware backends import is missing (an OT-2 needs the Opentrons client, not USB)."""
    from diazflow.deck.spec import BackendRecipe
    from diazflow.extras import hardware_drivers, require

    recipes: list[BackendRecipe | None] = [deck_spec.robot.backends.get("hardware")]
    recipes += [m.backends.get("hardware") for m in deck_spec.modules.values()]
    paths: list[str] = []
    while recipes:
        recipe = recipes.pop()
        if recipe is None:
            continue
        paths.append(recipe.class_path)
        recipes += [v for v in recipe.args.values() if isinstance(v, BackendRecipe)]
    require("hardware", hardware_drivers(paths))


def check_run_options(backend: str, speed: float | None) -> None:
    """Refuse a backend and speed that cannot run (:class:`UsageError`), before anything is done."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend '{backend}': use one of {', '.join(BACKENDS)}")
    if speed is not None and not speed > 0:
        raise UsageError("--speed must be a positive number")
    if backend == "hardware" and speed not in (None, 1, 1.0):
        raise UsageError(
            "--speed cannot be used with --backend hardware: a real robot runs in real time"
        )


def run_plan(
    result: Any,
    *,
    backend: str = "simulate",
    speed: float | None = None,
    journal_path: str | None = None,
    quiet: bool = False,
    faults: FaultPlan | None = None,
    notify: Callable[[str], None] = _print,
    visualize: bool = False,
    log: bool = False,
    start: _dt.datetime | None = None,
    inputs: list[str] | None = None,
    vessel_labware: str | None = None,
) -> RunOutcome:
    """Run a checked protocol (:class:`diazflow.pipeline.CheckResult` with a plan).

    ``inputs`` and ``vessel_labware``: given when the check came from the result cache
    (:mod:`diazflow.cache`), which keeps the plan and deck but not the loaded protocol; else
    taken from ``result``."""
    check_run_options(backend, speed)
    if backend == "hardware":  # before the journal: a run that cannot start leaves nothing
        require_drivers(result.deck)
    # a signal from here on ends the command cleanly (journalled once the journal exists)
    with stop_signals():
        started = time.perf_counter()
        plan = result.plan
        check_faults(faults, plan)
        path = journal_path or default_journal_path(result.path)
        commands = commands_path_for(path) if backend == "chatterbox" else None
        try:
            journal = Journal.create(
                path,
                plan_json=plan.to_journal_json(),
                protocol_path=result.path,
                deck_path=result.deck_path,
                vessel_labware=vessel_labware or result.loaded.protocol.vessels.labware,
                backend=backend,
                speed=speed,
                commands_path=commands,
                synchronous=synchronous_for(backend),
            )
        except JournalError as exc:
            raise UsageError(str(exc)) from None
        journal.set_commit_interval(commit_interval_for(backend))
        timings: dict[str, float] = {"journal_create_s": time.perf_counter() - started}
        try:
            notify(f"journal: {path}")
            if commands:
                notify(f"commands: {commands}")
            journal.event(
                None,
                "run_started",
                0.0,
                {
                    "backend": backend,
                    "speed": speed,
                    "faults": {str(k): v for k, v in (faults or FaultPlan()).faults.items()},
                    "pid": os.getpid(),
                    "inputs": {f: sha256_file(f) for f in inputs or result.input_files()},
                },
            )
            options = RunOptions(
                backend=backend,
                speed=speed,
                quiet=quiet,
                log=log,
                start=start,
                faults=faults or FaultPlan(),
                visualize=visualize,
                notify=notify,
            )
            with Run(plan, result.deck, journal, options, timings=timings) as run:
                outcome = run.execute()
        except RunInterrupted:  # before the run's event loop: nothing was done on a device
            outcome = interrupted(journal, 0.0, timings, before_devices=True)
        except JournalWriteError as exc:  # before the run's event loop: nothing was done
            outcome = RunOutcome(EXIT_RUN_FAILED, path, str(exc), timings)
        finally:
            t = time.perf_counter()
            closed = _close(journal)
            timings["journal_close_s"] = time.perf_counter() - t
        return _with_close_error(outcome, closed)


def _close(journal: Journal) -> JournalError | None:
    try:
        journal.close()
    except JournalError as exc:
        return exc
    return None


def _with_close_error(outcome: RunOutcome, error: JournalError | None) -> RunOutcome:
    """A run whose last journal entries could not be written did not end as recorded: exit 3."""
    if error is None or outcome.exit_code != EXIT_OK:
        return outcome
    return RunOutcome(EXIT_RUN_FAILED, outcome.journal_path, str(error), outcome.timings)


def resume_run(
    path: str,
    *,
    speed: float | None = None,
    quiet: bool = False,
    faults: FaultPlan | None = None,
    notify: Callable[[str], None] = _print,
    use_recorded_plan: bool = False,
    log: bool = False,
) -> RunOutcome:
    """Continue the run of a journal (``diazflow resume``).

    Refused (:class:`UsageError`) when the journal is damaged, in use, or any file the run was
    compiled from changed since, unless ``use_recorded_plan`` (then the plan in the journal runs
    as it was compiled; the deck layout must still be the one the run started with).
    """
    with stop_signals():
        return _resume(path, speed, quiet, faults, notify, use_recorded_plan, log)


def _resume(
    path: str,
    speed: float | None,
    quiet: bool,
    faults: FaultPlan | None,
    notify: Callable[[str], None],
    use_recorded_plan: bool,
    log: bool = False,
) -> RunOutcome:
    try:
        journal = Journal.open(path)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    try:
        try:
            journal.lock()
            plan, info = _readable_plan(journal)
            journal.set_synchronous(synchronous_for(info.backend))
            journal.set_commit_interval(commit_interval_for(info.backend))
        except JournalError as exc:
            raise UsageError(str(exc)) from None
        try:
            outcome = _resume_locked(
                journal,
                path,
                plan,
                info,
                speed=speed,
                quiet=quiet,
                faults=faults,
                notify=notify,
                use_recorded_plan=use_recorded_plan,
                log=log,
            )
        except JournalWriteError as exc:  # before the run's event loop: nothing was done
            outcome = RunOutcome(EXIT_RUN_FAILED, path, str(exc))
    except BaseException:
        _close(journal)
        raise
    return _with_close_error(outcome, _close(journal))


def _readable_plan(journal: Journal) -> tuple[Plan, Any]:
    """The journal's plan and run record, every event and device record read once: a damaged
    journal is refused here, before any device is touched."""
    from diazflow.compiler.plan import Plan
    from diazflow.runtime.journal import JournalDamaged

    info = journal.info()
    journal.op_status()
    journal.device_log()
    journal.recorded_inputs()
    try:
        plan = Plan.from_json(info.plan_json)
    except ValueError as exc:
        raise JournalDamaged(
            f"journal '{journal.path}' is damaged: its plan does not parse ({exc.__class__.__name__})"
        ) from None
    return plan, info


def _refuse_changed_inputs(journal: Journal, deck_spec: DeckSpec, use_recorded_plan: bool) -> None:
    recorded = journal.recorded_inputs()
    changed = changed_inputs(recorded)
    # profiles the layout reads now but the run did not record (a journal from before inputs
    # were recorded records none: nothing to compare)
    if recorded:
        changed += [p for p in deck_spec.profile_files() if p not in recorded]
    if changed and not use_recorded_plan:
        names = ", ".join(f"'{p}'" for p in changed[:5]) + (" …" if len(changed) > 5 else "")
        raise UsageError(
            f"{len(changed)} file(s) the run was compiled from changed since it started: {names}; "
            "restore them, or continue with the plan recorded in the journal: "
            f"diazflow resume --use-recorded-plan {journal.path}"
        )


def _resume_locked(
    journal: Journal,
    path: str,
    plan: Plan,
    info: Any,
    *,
    speed: float | None,
    quiet: bool,
    faults: FaultPlan | None,
    notify: Callable[[str], None],
    use_recorded_plan: bool,
    log: bool = False,
) -> RunOutcome:
    from diazflow.deck import DeckLayoutError, load_deck

    if info.status == "complete":
        notify(f"journal: {path}")
        notify("the run is already complete: nothing to resume")
        return RunOutcome(EXIT_OK, path)
    if speed is not None and info.backend == "hardware" and speed != 1:
        raise UsageError("--speed cannot be used with a hardware run")
    current = sha256_file(info.deck_path)
    if current is None:
        raise UsageError(f"the run's deck layout '{info.deck_path}' is gone")
    if info.deck_sha256 and current != info.deck_sha256:
        raise UsageError(
            f"the deck layout '{info.deck_path}' changed since the run started; restore it to resume this run"
        )
    try:
        deck_spec = load_deck(info.deck_path)
    except DeckLayoutError as exc:
        raise UsageError(f"the run's deck layout cannot be read: {exc}") from None
    _refuse_changed_inputs(journal, deck_spec, use_recorded_plan)
    if info.backend == "hardware":
        require_drivers(deck_spec)  # MissingExtra: the CLI's one line, exit 2
    check_faults(faults, plan)
    run_speed = speed if speed is not None else info.speed
    clock_start = info.clock_t
    notify(f"journal: {path}")
    completed, in_flight, _ = journal.op_status()
    notify(
        f"resuming {os.path.basename(info.protocol_path)} on '{info.backend}' at {clock_start:.1f} s of plan time: {len(completed)} of {len(plan.operations)} operations done"
        + (f", {len(in_flight)} in flight" if in_flight else "")
    )
    journal.event(
        None,
        "run_resumed",
        clock_start,
        {
            "speed": run_speed,
            "pid": os.getpid(),
            "completed": len(completed),
            "in_flight": in_flight,
        },
        status="running",
        message="",
    )
    options = RunOptions(
        backend=info.backend,
        speed=run_speed,
        quiet=quiet,
        log=log,
        faults=faults or FaultPlan(),
        resume=True,
        clock_start=clock_start,
        notify=notify,
    )
    try:
        with Run(plan, deck_spec, journal, options) as run:
            return run.execute()
    except RunInterrupted:
        return interrupted(journal, clock_start, {}, before_devices=True)


def journal_state(path: str) -> Any:
    """What a journal says (``diazflow journal``): read-only, never locks or changes it."""
    try:
        with Journal.open(path, read_only=True) as journal:
            return journal.state()
    except JournalError as exc:
        raise UsageError(str(exc)) from None


def format_state(state: Any) -> str:
    lines = [
        f"status      {state.status}",
        f"protocol    {state.protocol}",
        f"backend     {state.backend}",
        f"operations  {len(state.completed)} of {state.operations} completed"
        + (f"; in flight: {', '.join(map(str, state.in_flight))}" if state.in_flight else ""),
        f"plan time   {state.clock_t:.1f} s",
    ]
    if state.message:
        lines.append(f"message     {state.message}")
    totals: dict[str, float] = {}
    for per in state.dispensed_uL.values():
        for reagent, v in per.items():
            totals[reagent] = totals.get(reagent, 0.0) + v
    if totals:
        lines.append(
            f"dispensed   into {len(state.dispensed_uL)} wells: "
            + ", ".join(f"{r} {v:.1f} µL" for r, v in sorted(totals.items()))
        )
    mg: dict[str, float] = {}
    for per in state.dispensed_mg.values():
        for reagent, v in per.items():
            mg[reagent] = mg.get(reagent, 0.0) + v
    if mg:
        lines.append("powder      " + ", ".join(f"{r} {v:.1f} mg" for r, v in sorted(mg.items())))
    return "\n".join(lines)


def print_timings(timings: dict[str, float]) -> None:
    if os.environ.get("DIAZFLOW_TIMINGS"):
        import json

        sys.stderr.write(
            "DIAZFLOW_TIMINGS " + json.dumps({k: round(v, 4) for k, v in timings.items()}) + "\n"
        )
