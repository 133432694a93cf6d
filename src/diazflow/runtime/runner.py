"""``diazflow run`` / ``resume`` / ``journal``: build the devices, open the journal, run the plan.

The CLI (``diazflow.cli``) parses options and prints; everything else is here so that tests and
the benchmark can run plans in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import io
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diazflow.runtime.faults import FaultPlan
from diazflow.runtime.journal import Journal, JournalError, sha256_file

BACKENDS = ("simulate", "chatterbox", "hardware")
EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_RUN_FAILED = 0, 1, 2, 3


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


# --------------------------------------------------------------------------- building the devices


class CommandTranscript:
    """The firmware / HTTP commands a chatterbox produced, appended to ``<journal>.commands.txt``."""

    def __init__(self, path: str):
        self.path = path
        self.fh = open(path, "a", encoding="utf-8", buffering=1)
        self.lines = 0
        self.handler: logging.Handler | None = None

    def write(self, text: str) -> None:
        for line in text.splitlines():
            self.fh.write(line + "\n")
            self.lines += 1

    def capture_plr_io(self) -> None:
        """PLR logs every command its chatterboxes build at level 5 (LOG_LEVEL_IO) on 'pylabrobot':
        the STAR's firmware strings (C0TP…, C0AS…) and the OT-2's HTTP-level calls."""
        transcript = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.levelno == 5:
                    transcript.write(record.getMessage())

        logger = logging.getLogger("pylabrobot")
        self.handler = _Handler(level=5)
        self._old_level = logger.level
        logger.addHandler(self.handler)
        if logger.getEffectiveLevel() > 5:
            logger.setLevel(5)
        # PLR's own console handler (if any) must not print the IO trace
        for h in logger.handlers:
            if h is not self.handler and h.level < logging.INFO:
                h.setLevel(logging.INFO)

    def close(self) -> None:
        if self.handler is not None:
            logger = logging.getLogger("pylabrobot")
            logger.removeHandler(self.handler)
            logger.setLevel(self._old_level)
            self.handler = None
        self.fh.close()


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


def build_labels(setup: Any) -> dict[int, str]:
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


def build_runtime(
    deck_spec: Any, backend: str, clock: Any, ctx: Any, transcript: CommandTranscript | None
) -> Any:
    """The PLR setup for ``backend`` with diazflow's simulated modules, gates and capture."""
    from pylabrobot.resources import set_tip_tracking, set_volume_tracking

    from diazflow.deck import build_plr
    from diazflow.runtime.simulated import (
        SimulatedHeaterShakerBackend,
        SimulatedLiquidHandlerBackend,
        SimulatedPowderDispenserBackend,
        SimulatedTemperatureControllerBackend,
        gate_backend,
    )

    set_volume_tracking(True)
    set_tip_tracking(True)
    module_backends: dict[str, Any] = {}
    if backend in ("simulate", "chatterbox"):
        for name, mod in deck_spec.modules.items():
            if mod.kind == "powder_dispenser":
                module_backends[name] = SimulatedPowderDispenserBackend(name, ctx)
            elif mod.thermal is not None and mod.can_shake and mod.shaker is not None:
                module_backends[name] = SimulatedHeaterShakerBackend(
                    name, mod.thermal, mod.shaker, clock, ctx
                )
            elif mod.thermal is not None:
                module_backends[name] = SimulatedTemperatureControllerBackend(
                    name, mod.thermal, clock, ctx
                )
    setup = build_plr(deck_spec, backend, module_backends)
    lh = setup.liquid_handler
    if backend == "simulate":
        original = lh.backend
        lh.backend = SimulatedLiquidHandlerBackend(
            num_channels=original.num_channels,
            channel_tip_volumes=getattr(original, "_channel_tip_volumes", None),
            ctx=ctx,
        )
    else:
        ctx.transcript = transcript.write if transcript is not None else None
        gate_backend(
            lh.backend,
            "liquid_handler",
            ctx,
            capture_stdout=backend == "chatterbox",
            record_started=backend == "hardware",
        )
        if setup.powder_dispenser is not None and not isinstance(
            setup.powder_dispenser.backend, SimulatedPowderDispenserBackend
        ):
            gate_backend(
                setup.powder_dispenser.backend,
                setup.deck_spec.powder_dispenser or "powder_dispenser",
                ctx,
                record_started=backend == "hardware",
            )
        if transcript is not None:
            transcript.capture_plr_io()
    _fast_resource_check(lh)
    labels = build_labels(setup)

    def label_of(resource: Any) -> str:
        label = labels.get(id(resource))
        return label if label is not None else getattr(resource, "name", None) or str(resource)

    ctx.label_of = label_of
    return setup


def _fast_resource_check(lh: Any) -> None:
    """PLR 0.2.2 checks that every tip spot of a pick-up/drop is on the deck with ``Resource.__eq__``,
    which compares absolute sizes through rotation matrices up the resource tree: ~0.7 ms per spot,
    6 ms per 8-channel tip operation.  The same check by identity costs microseconds."""
    deck = lh.deck

    def assert_resources_exist(resources) -> None:
        for resource in resources:
            found = deck.get_resource(resource.name)
            if found is not resource and not found == resource:
                raise ValueError(f"Resource {resource} is not assigned to the deck.")

    lh._assert_resources_exist = assert_resources_exist


# --------------------------------------------------------------------------- running


def _tracking() -> tuple[bool, bool]:
    from pylabrobot.resources import does_tip_tracking, does_volume_tracking

    return does_volume_tracking(), does_tip_tracking()


def _restore_tracking(state: tuple[bool, bool]) -> None:
    """PLR's tracking switches are module-global: leave them as they were (tests share a process)."""
    from pylabrobot.resources import set_tip_tracking, set_volume_tracking

    set_volume_tracking(state[0])
    set_tip_tracking(state[1])


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


def execute(
    *,
    plan: Any,
    deck_spec: Any,
    journal: Journal,
    backend: str,
    speed: float | None,
    quiet: bool,
    faults: FaultPlan,
    resume: bool,
    clock_start: float = 0.0,
    notify: Callable[[str], None] = _print,
    timings: dict[str, float] | None = None,
    visualize: bool = False,
) -> RunOutcome:
    """Run (or resume) ``plan`` on freshly built devices; returns the exit code and message.

    ``visualize`` serves PyLabRobot's Visualizer on localhost for a live view of the deck (useful
    with ``--speed`` or on hardware: a virtual-clock run is over in a second).
    """
    t_import = time.perf_counter()
    from diazflow.runtime.clock import make_clock
    from diazflow.runtime.executor import Executor, ExecutorOptions, RunFailed  # imports PyLabRobot
    from diazflow.runtime.progress import make_progress
    from diazflow.runtime.simulated import ActionContext

    timings = timings if timings is not None else {}
    timings["import_plr_s"] = time.perf_counter() - t_import
    info = journal.info()
    hardware = backend == "hardware"
    clock = make_clock(speed, clock_start, hardware=hardware)
    ctx = ActionContext(faults=faults)
    transcript = (
        CommandTranscript(info.commands_path)
        if backend == "chatterbox" and info.commands_path
        else None
    )
    tracking = _tracking()
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"pylabrobot\.")
            setup = build_runtime(deck_spec, backend, clock, ctx, transcript)
    except Exception as exc:  # PlrBuildError (a missing optional package, a PLR refusal), ...
        if transcript is not None:
            transcript.close()
        _restore_tracking(tracking)
        text = (
            "; ".join(f"{d.message}" for d in getattr(exc, "diagnostics", ()))
            or f"{type(exc).__name__}: {exc}"
        )
        message = f"cannot build the deck for '{backend}': {text}"
        journal.event(
            None,
            "run_failed",
            clock.now(),
            {"kind": "build", "message": message},
            status="failed",
            message=message,
        )
        return RunOutcome(EXIT_RUN_FAILED, journal.path, message, timings)
    timings["build_plr_s"] = time.perf_counter() - t0
    options = ExecutorOptions(
        simulated=not hardware,
        op_delay_wall_s=_env_float("DIAZFLOW_TEST_OP_DELAY"),
        crash_at=_crash_at(),
        ask=_operator_ask if hardware else None,
        confirm=_operator_confirm if hardware else None,
        notify=notify,
    )
    progress = make_progress(
        plan,
        "virtual" if clock.virtual else ("real" if hardware or speed == 1 else f"×{speed:g}"),
        quiet,
    )
    executor = Executor(plan, setup, clock, journal, ctx, info.vessel_labware, options, progress)

    def chatter():
        """What a chatterbox prints outside an operation (setup, stop) goes to its transcript."""
        if transcript is None:
            return contextlib.nullcontext()
        return _PrintsTo(transcript)

    async def main() -> RunOutcome:
        t = time.perf_counter()
        ctx.idle()
        with chatter():
            await setup.setup()
        executor.fill_stocks()
        viewer = None
        if visualize:
            from diazflow.report.live import start_visualizer_async

            try:
                viewer = await start_visualizer_async(setup.liquid_handler)
                notify(f"visualizer: {viewer.url}")
            except Exception as exc:  # a viewer must never stop a run
                notify(f"visualizer not started: {exc}")
        timings["setup_s"] = time.perf_counter() - t
        messages: list[str] = []
        if resume:
            t = time.perf_counter()
            messages = await executor.restore()
            timings["restore_s"] = time.perf_counter() - t
            for m in messages:
                notify(m)
        progress.start()
        t = time.perf_counter()
        try:
            await executor.run()
        finally:
            progress.stop()
            timings["execute_s"] = time.perf_counter() - t
            if viewer is not None:
                with contextlib.suppress(Exception):
                    viewer.stop()
        t = time.perf_counter()
        problems = executor.verify()
        timings["verify_s"] = time.perf_counter() - t
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            message = f"the deck does not hold what the plan says: {problems[0]}{more}"
            journal.event(
                None,
                "run_failed",
                clock.now(),
                {"kind": "verification", "problems": problems[:50]},
                status="failed",
                message=message,
            )
            return RunOutcome(EXIT_RUN_FAILED, journal.path, message, timings, messages)
        journal.event(
            None,
            "run_complete",
            clock.now(),
            {"makespan_s": clock.now()},
            status="complete",
            message=None,
        )
        with contextlib.suppress(Exception), chatter():
            await setup.stop()
        return RunOutcome(EXIT_OK, journal.path, None, timings, messages)

    async def guarded() -> RunOutcome:
        # Ctrl-C / SIGTERM cancel the run task at its next await; the handler below then puts
        # the deck in its safe state (asyncio's own SIGINT handling would skip that)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, task.cancel)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
                pass
        try:
            return await main()
        except asyncio.CancelledError:
            if hasattr(task, "uncancel"):
                task.uncancel()
            return await interrupted()
        except RunFailed as failure:
            safe = "; safe state: " + ", ".join(failure.safe_state) if failure.safe_state else ""
            message = f"{failure.message}{safe}"
            journal.event(
                None,
                "run_failed",
                clock.now(),
                {
                    "kind": failure.kind,
                    "op": failure.op.id if failure.op else None,
                    "message": failure.message,
                    "safe_state": failure.safe_state,
                },
                status="failed",
                message=message,
            )
            with contextlib.suppress(Exception), chatter():
                await setup.liquid_handler.stop()
            return RunOutcome(EXIT_RUN_FAILED, journal.path, message, timings)
        except KeyboardInterrupt:
            return await interrupted()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def interrupted() -> RunOutcome:
        progress.stop()
        try:
            safe = await executor.safe_state()
        except Exception:  # pragma: no cover - best effort
            safe = []
        message = "run interrupted" + ("; safe state: " + ", ".join(safe) if safe else "")
        journal.event(None, "run_interrupted", clock.now(), {"safe_state": safe}, message=message)
        return RunOutcome(EXIT_RUN_FAILED, journal.path, message, timings)

    try:
        with warnings.catch_warnings():
            # PLR warns about its own Tecan tip definitions on every tip it makes
            warnings.filterwarnings("ignore", category=UserWarning, module=r"pylabrobot\.")
            return asyncio.run(guarded())
    finally:
        if transcript is not None:
            transcript.close()
        _restore_tracking(tracking)


def check_faults(faults: FaultPlan | None, plan: Any) -> None:
    """Refuse an injected fault that could never fire (unknown operation, wrong kind of operation)."""
    if not faults:
        return
    ops = {op.id: op for op in plan.operations}
    fits = {
        "tip_not_picked_up": lambda op: op.op == "pick_up_tips",
        "temperature_timeout": lambda op: op.op in ("set_temperature", "wait_temperature"),
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
) -> RunOutcome:
    """Run a checked protocol (:class:`diazflow.pipeline.CheckResult` with a plan)."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend '{backend}': use one of {', '.join(BACKENDS)}")
    if speed is not None and not speed > 0:
        raise UsageError("--speed must be a positive number")
    if backend == "hardware" and speed not in (None, 1, 1.0):
        raise UsageError(
            "--speed cannot be used with --backend hardware: a real robot runs in real time"
        )
    started = time.perf_counter()
    plan = result.plan
    check_faults(faults, plan)
    path = journal_path or default_journal_path(result.path)
    commands = commands_path_for(path) if backend == "chatterbox" else None
    try:
        journal = Journal.create(
            path,
            plan_json=plan.to_json(),
            protocol_path=result.path,
            deck_path=result.deck_path,
            vessel_labware=result.loaded.protocol.vessels.labware,
            backend=backend,
            speed=speed,
            commands_path=commands,
            synchronous="NORMAL" if backend == "simulate" else "FULL",
        )
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    notify(f"journal: {path}")
    if commands:
        notify(f"commands: {commands}")
    timings: dict[str, float] = {"journal_create_s": time.perf_counter() - started}
    try:
        journal.event(
            None,
            "run_started",
            0.0,
            {
                "backend": backend,
                "speed": speed,
                "faults": {str(k): v for k, v in (faults or FaultPlan()).faults.items()},
                "pid": os.getpid(),
            },
        )
        outcome = execute(
            plan=plan,
            deck_spec=result.deck,
            journal=journal,
            backend=backend,
            speed=speed,
            quiet=quiet,
            faults=faults or FaultPlan(),
            resume=False,
            notify=notify,
            timings=timings,
            visualize=visualize,
        )
    finally:
        t = time.perf_counter()
        journal.close()
        timings["journal_close_s"] = time.perf_counter() - t
    return outcome


def resume_run(
    path: str,
    *,
    speed: float | None = None,
    quiet: bool = False,
    faults: FaultPlan | None = None,
    notify: Callable[[str], None] = _print,
) -> RunOutcome:
    """Continue the run of a journal (``diazflow resume``)."""
    from diazflow.compiler.plan import Plan
    from diazflow.deck import DeckLayoutError, load_deck

    try:
        journal = Journal.open(path)
        journal.lock()
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    try:
        info = journal.info()
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
        plan = Plan.from_json(info.plan_json)
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
        return execute(
            plan=plan,
            deck_spec=deck_spec,
            journal=journal,
            backend=info.backend,
            speed=run_speed,
            quiet=quiet,
            faults=faults or FaultPlan(),
            resume=True,
            clock_start=clock_start,
            notify=notify,
        )
    finally:
        journal.close()


def journal_state(path: str) -> Any:
    try:
        journal = Journal.open(path)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    try:
        return journal.state()
    finally:
        journal.conn.close()


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
