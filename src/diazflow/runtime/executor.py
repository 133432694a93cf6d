"""Run a compiled plan on a PyLabRobot setup, journalled, on a clock the executor owns.

Operations run in order of ``(t, id)``; each starts at its planned ``t`` (plus any delay carried
over from an operation that overran, so that holds keep their planned length).  Operations that
take time on a device — liquid handling, powder, waiting for a temperature, operator prompts —
block; ``shake``, ``wait`` and ``set_temperature`` start something and return, and the time passes
while the executor waits for the next operation's ``t`` (the scheduler lets the liquid handler take
samples while the block shakes).

The executor never calls PLR's sleeping helpers (``wait_for_temperature``, ``shake(duration=)``):
it polls the module on its own clock.  A controlled ramp (``set_temperature`` with ``ramp_s``) is
driven by stepping the set-point while waiting.

Resuming (:meth:`Executor.restore`) replays the journal: completed operations go through the same
handlers with the devices muted, so PLR's volume and tip trackers and the simulated modules end
up where the run left them, without a single command reaching a device.  An operation that was
in flight is settled from the device's own record of its actions (simulation) or by asking the
operator (hardware).  See docs/runtime.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from diazflow.chemistry.liquid_classes import LiquidClass, UnknownLiquid
from diazflow.chemistry.liquid_classes import find as find_liquid_class
from diazflow.compiler.plan import (
    Aspirate,
    Dispense,
    DispensePowder,
    DropTips,
    Operation,
    OperationBase,
    PickUpTips,
    Plan,
    Prompt,
    Sample,
    SetClosure,
    SetTemperature,
    Shake,
    StopShaking,
    Wait,
    WaitTemperature,
)
from diazflow.deck.plr_pipetting import aspirate_arguments, dispense_arguments
from diazflow.runtime.clock import Clock, VirtualClock
from diazflow.runtime.faults import DeviceFault, TemperatureTimeoutFault
from diazflow.runtime.journal import Journal, JournalError
from diazflow.runtime.simulated import (
    ActionContext,
    SimulatedPowderDispenserBackend,
    SimulatedTemperatureControllerBackend,
)

BLOCKING = (
    PickUpTips,
    DropTips,
    Aspirate,
    Dispense,
    Sample,
    DispensePowder,
    WaitTemperature,
    Prompt,
    SetClosure,
)
"""Operations that hold their device until done: an overrun delays the rest of the plan."""

ChannelOperation = PickUpTips | DropTips | Aspirate | Dispense | Sample


class RunFailed(Exception):
    """The run stopped; ``message`` is the one line the operator sees."""

    def __init__(
        self,
        message: str,
        op: Operation | None = None,
        cause: BaseException | None = None,
        kind: str = "error",
    ):
        super().__init__(message)
        self.message = message
        self.op = op
        self.cause = cause
        self.kind = kind
        self.safe_state: list[str] = []


@dataclass
class ExecutorOptions:
    simulated: bool = (
        True  # prompts answered automatically, in-flight operations settled from device records
    )
    temperature_timeout_factor: float = (
        1.5  # wait_temperature fails after factor × planned duration + grace
    )
    temperature_timeout_grace_s: float = 60.0
    poll_s: float = 1.0  # plan seconds between temperature polls
    ramp_step_s: float = 30.0  # plan seconds between set-point steps of a controlled ramp
    heartbeat_wall_s: float = (
        5.0  # real-time runs: how often the journal learns how far the clock got
    )
    op_delay_wall_s: float = (
        0.0  # test hook (DIAZFLOW_TEST_OP_DELAY): wall time spent in each operation
    )
    ask: Callable[[str], bool] | None = None  # hardware: yes/no question to the operator
    confirm: Callable[[str], None] | None = (
        None  # hardware: wait for the operator to confirm a prompt
    )
    notify: Callable[[str], None] = print  # messages for the operator (in-flight reports, restores)
    crash_at: tuple[int, str] | None = None  # test hook (DIAZFLOW_TEST_CRASH=OP_ID:started|action)


@dataclass
class ModuleState:
    target: float | None = None  # the plan's current target (°C)
    rpm: float = 0.0
    ramp: tuple[float, float, float, float] | None = None  # (from °C, to °C, t0, ramp_s)


class Executor:
    def __init__(
        self,
        plan: Plan,
        setup: Any,
        clock: Clock,
        journal: Journal,
        ctx: ActionContext,
        vessel_labware: str,
        options: ExecutorOptions | None = None,
        progress: Any = None,
    ):
        self.plan = plan
        self.setup = setup
        self.lh = setup.liquid_handler
        self.clock = clock
        self.journal = journal
        self.ctx = ctx
        self.vessel = vessel_labware
        self.options = options or ExecutorOptions()
        self.progress = progress
        self.ops = sorted(plan.operations, key=lambda o: (o.t, o.id))
        self.by_id = {op.id: op for op in plan.operations}
        self.offset = 0.0
        self.done: set[int] = set()
        self.live_from: dict[int, int] = {}  # in-flight operations that continue from an action
        self.channel_map: dict[int, int] = {}
        self.tip_type: dict[int, str] = {}  # channel → the layout's tip type it carries
        self.touched_reaction: set[int] = set()  # channels whose tip has been in a reaction well
        self.modules: dict[str, ModuleState] = {name: ModuleState() for name in setup.machines}
        self._containers: dict[str, Any] = {}
        self._reports: list[dict] = []
        self._last_heartbeat = time.monotonic()
        self.makespan = max((op.end for op in plan.operations), default=0.0)
        self.step_kind = {s.step: s.kind for s in plan.steps}
        ctx.on_action = self._on_action

    # ------------------------------------------------------------------ resources

    def container(self, ref: str) -> Any:
        """A reaction well (``A1``) or ``LABWARE:WELL`` → PLR container."""
        found = self._containers.get(ref)
        if found is None:
            labware, sep, well = ref.partition(":")
            if not sep:
                labware, well = self.vessel, ref
            try:
                found = self.setup.container(labware, well)
            except KeyError as exc:
                raise RunFailed(f"'{ref}' is not on the deck ({exc})") from None
            self._containers[ref] = found
        return found

    def fill_stocks(self) -> None:
        """Put every liquid stock of the plan into PLR's volume trackers (what the operator prepared)."""
        totals: dict[str, float] = {}
        for stock in self.plan.stocks:
            if stock.form == "solid":
                continue
            totals[stock.location] = totals.get(stock.location, 0.0) + stock.volume_uL
        for location, volume in totals.items():
            c = self.container(location)
            c.tracker.set_volume(volume)

    # ------------------------------------------------------------------ device reports

    def _on_action(self, op_id: int, index: int, device: str, kind: str, data: dict) -> None:
        self.journal.device_action(op_id, index, device, kind, self.clock.now(), data)
        if not kind.endswith(":started"):
            self._reports.append({"device": device, "kind": kind, **data})
            self._crash_hook(op_id, "action")

    def _crash_hook(self, op_id: int, where: str) -> None:
        """Test hook: ``DIAZFLOW_TEST_CRASH=OP_ID:started|action`` kills this process (SIGKILL)
        right after the operation's start, or its first device action, is in the journal."""
        if self.options.crash_at == (op_id, where):
            import os
            import signal

            self.journal.flush(self.clock.now())  # a crash after the start was made durable
            os.kill(os.getpid(), signal.SIGKILL)

    # ------------------------------------------------------------------ main loop

    async def run(self) -> None:
        """Run every operation not yet done; raise :class:`RunFailed` on a fault (after the safe state)."""
        total = len(self.ops)
        for op in self.ops:
            if op.id in self.done:
                continue
            due = op.t + self.offset
            await self._sleep_until(due)
            now = self.clock.now()
            self.journal.op_started(op.id, now, self.offset, defer=self.options.simulated)
            self._crash_hook(op.id, "started")
            if self.progress is not None:
                self.progress.update(op, now, len(self.done), total)
            live_from = self.live_from.pop(op.id, 0)
            self.ctx.start_op(op.id, live_from=live_from)
            self._reports = []
            delay = self.options.op_delay_wall_s
            if delay:
                time.sleep(delay / 2)
            try:
                payload = await self._perform(op, False)
            except RunFailed as exc:
                exc.op = exc.op or op
                await self._fail(op, exc)
            except DeviceFault as exc:
                await self._fail(op, RunFailed(exc.message, op, exc, kind=exc.kind))
            except (KeyboardInterrupt, SystemExit, JournalError):
                raise  # a journal that cannot be written stops the run (runner: exit 3)
            except Exception as exc:  # PLR's own errors: NoTipError, TooLittleLiquidError, ...
                await self._fail(op, RunFailed(f"{type(exc).__name__}: {exc}", op, exc))
            finally:
                self.ctx.idle()
            if delay:
                time.sleep(delay / 2)
            end = self.clock.now()
            if isinstance(op, BLOCKING) and not self.clock.virtual:
                overrun = end - (due + op.duration)
                if overrun > 0:
                    self.offset += overrun
            if self._reports:
                payload = {**payload, "device": self._reports}
            self.done.add(op.id)
            self.journal.op_completed(op.id, end, payload, defer=True)
        await self._sleep_until(self.makespan + self.offset)
        self.journal.flush(self.clock.now())
        if self.progress is not None:
            self.progress.update(None, self.clock.now(), len(self.done), total)

    async def _sleep_until(self, t: float) -> None:
        clock = self.clock
        if clock.virtual:
            await clock.sleep_until(t)
            return
        if clock.now() < t:
            self.journal.flush(clock.now())
        while True:
            now = clock.now()
            if now >= t:
                return
            step = min(t - now, self.options.heartbeat_wall_s * clock.speed)
            await clock.sleep(step)
            if self.progress is not None:
                self.progress.tick(clock.now())
            if time.monotonic() - self._last_heartbeat >= self.options.heartbeat_wall_s:
                self.journal.heartbeat(clock.now())
                self._last_heartbeat = time.monotonic()

    async def _fail(self, op: Operation, failure: RunFailed) -> None:
        where = f"operation {op.id} ({op.op}, step {op.step + 1}, line {op.line})"
        with contextlib.suppress(JournalError):  # the safe state comes first
            self.journal.event(
                op.id,
                "op_failed",
                self.clock.now(),
                {"kind": failure.kind, "message": failure.message},
            )
        safe = await self.safe_state()
        failure.message = f"{where} failed: {failure.message}"
        failure.safe_state = safe
        raise failure

    # ------------------------------------------------------------------ safe state

    async def safe_state(self) -> list[str]:
        """Heaters off, cooling kept, shaking stopped; what was done is journalled and returned."""
        self.ctx.idle()
        ambient = self.setup.deck_spec.ambient_c
        actions: list[str] = []
        data: list[dict] = []
        for name, machine in self.setup.machines.items():
            if machine is self.setup.powder_dispenser:
                continue
            spec = self.setup.deck_spec.modules[name]
            state = self.modules[name]
            shaking = state.rpm > 0 or getattr(machine.backend, "speed_rpm", 0.0) > 0
            if spec.can_shake and shaking:
                try:
                    await machine.stop_shaking()
                    state.rpm = 0.0
                    actions.append(f"{name} shaking stopped")
                    data.append({"device": name, "action": "stop_shaking"})
                except Exception as exc:
                    actions.append(f"{name} unreachable, stop its shaker by hand ({_short(exc)})")
            if spec.thermal is not None:
                target = getattr(machine, "target_temperature", None)
                target = state.target if target is None else target
                tol = spec.settle_tolerance_c or 0.5
                if target is None:
                    continue
                if target < ambient - tol:
                    actions.append(f"{name} cooling kept at {target:.1f} °C")
                    data.append({"device": name, "action": "keep_cooling", "celsius": target})
                    continue
                try:
                    await machine.deactivate()
                    actions.append(f"{name} heater off")
                    data.append({"device": name, "action": "deactivate"})
                except Exception as exc:
                    actions.append(
                        f"{name} unreachable, switch its heater off by hand ({_short(exc)})"
                    )
        with contextlib.suppress(JournalError):  # the devices are safe whatever the disk says
            self.journal.event(
                None, "safe_state", self.clock.now(), {"actions": data, "summary": actions}
            )
        return actions

    # ------------------------------------------------------------------ restoring from a journal

    async def restore(self) -> list[str]:
        """Rebuild the deck state from the journal; returns what the operator is told.

        Completed operations (and safe-state actions) are replayed in journal order with the devices
        muted.  In-flight operations are settled: an action the device recorded is replayed, the
        rest will run; on hardware, an action that was sent but not confirmed is put to the operator.
        """
        j = self.journal
        info = j.info()
        started_at: dict[int, float] = {}
        replay_clock = VirtualClock(0.0)
        run_clock = self.clock
        self._set_module_clock(replay_clock)
        self.clock = replay_clock
        try:
            for _seq, op_id, event, clock_t, data in j.events():
                if event == "op_started" and op_id is not None:
                    started_at[op_id] = clock_t
                elif (
                    event in ("op_completed", "op_resolved")
                    and op_id in self.by_id
                    and op_id not in self.done
                ):
                    if event == "op_resolved" and not (data or {}).get("done"):
                        continue
                    replay_clock.set(started_at.get(op_id, clock_t))
                    await self._replay(self.by_id[op_id])
                    self.done.add(op_id)
                elif event == "safe_state":
                    replay_clock.set(clock_t)
                    await self._replay_safe_state(data or {})
            messages = await self._settle_in_flight(started_at, replay_clock)
        finally:
            self.clock = run_clock
            self._set_module_clock(run_clock)
            self.ctx.idle()
        self.offset = info.offset_s
        messages += await self._reassert_modules()
        return messages

    def _set_module_clock(self, clock: Clock) -> None:
        for machine in self.setup.machines.values():
            backend = getattr(machine, "backend", None)
            if isinstance(
                backend, (SimulatedTemperatureControllerBackend, SimulatedPowderDispenserBackend)
            ):
                backend.clock = clock

    async def _replay(self, op: Operation, live_from: int | None = None) -> None:
        self.ctx.start_op(op.id, replaying=True)
        try:
            await self._perform(op, True)
        finally:
            self.ctx.idle()

    async def _replay_safe_state(self, data: dict) -> None:
        self.ctx.start_op(-1, replaying=True)
        try:
            for action in data.get("actions", ()):
                machine = self.setup.machines.get(action.get("device"))
                if machine is None or not self._touch(machine, True):
                    continue
                if action["action"] == "deactivate":
                    await machine.deactivate()
                    # the plan's target stays: resuming re-asserts it
                elif action["action"] == "stop_shaking":
                    await machine.stop_shaking()
        finally:
            self.ctx.idle()

    async def _settle_in_flight(
        self, started_at: dict[int, float], replay_clock: VirtualClock
    ) -> list[str]:
        completed, in_flight, _ = self.journal.op_status()
        failed = {
            op_id for _s, op_id, event, _c, _d in self.journal.events() if event == "op_failed"
        }
        messages: list[str] = []
        for op_id in in_flight:
            op = self.by_id.get(op_id)
            if op is None or op_id in self.done:
                continue
            records = self.journal.device_log(op_id)
            done = sorted(
                {a for (_o, a, _d, kind, _c, _x) in records if not kind.endswith(":started")}
            )
            sent = sorted({a for (_o, a, _d, kind, _c, _x) in records if kind.endswith(":started")})
            n_done = 0
            while n_done in done:
                n_done += 1
            expected = _expected_actions(op)
            what = describe_op(op)
            if n_done < expected and n_done in sent:
                # hardware: the command went out, the device never confirmed it
                question = f"operation {op.id} ({what}) was interrupted after its command was sent to the robot. Did it happen?"
                if self.options.ask is not None and self.options.ask(question):
                    n_done += 1
                    source = "the operator says it happened"
                else:
                    source = "the operator says it did not happen"
            elif self.options.simulated:
                source = "the simulated device's record"
            else:
                source = "the device log"
            how = "failed" if op_id in failed else "was in flight when the run stopped"
            if expected and n_done >= expected:
                replay_clock.set(started_at.get(op_id, replay_clock.now()))
                await self._replay(op)
                self.done.add(op_id)
                self.journal.event(
                    op_id,
                    "op_resolved",
                    replay_clock.now(),
                    {"done": True, "actions_done": n_done, "source": source},
                )
                messages.append(
                    f"operation {op.id} ({what}) {how}: {source} shows it was done; it is not repeated"
                )
            elif n_done > 0:
                self.live_from[op_id] = n_done
                self.journal.event(
                    op_id,
                    "op_resolved",
                    replay_clock.now(),
                    {"done": False, "actions_done": n_done, "source": source},
                )
                messages.append(
                    f"operation {op.id} ({what}) {how}: {source} shows {n_done} of its {expected} actions done; it continues from there"
                )
            else:
                self.journal.event(
                    op_id,
                    "op_resolved",
                    replay_clock.now(),
                    {"done": False, "actions_done": 0, "source": source},
                )
                if expected:
                    messages.append(
                        f"operation {op.id} ({what}) {how}: {source} shows nothing was done; it runs again"
                    )
                else:
                    messages.append(f"operation {op.id} ({what}) {how}; it is issued again")
        return messages

    async def _reassert_modules(self) -> list[str]:
        """After a replay, put every module back in the state the plan has reached (a safe stop
        switched heaters off; real devices may have been power-cycled)."""
        messages = []
        self.ctx.idle()
        for name, state in self.modules.items():
            machine = self.setup.machines[name]
            backend = getattr(machine, "backend", None)
            simulated = isinstance(backend, SimulatedTemperatureControllerBackend)
            if state.target is not None:
                if (
                    not isinstance(backend, SimulatedTemperatureControllerBackend)
                    or backend.target_c is None
                    or abs(backend.target_c - self._setpoint(name, state)) > 1e-9
                ):
                    await self._set_setpoint(machine, self._setpoint(name, state))
                    messages.append(
                        f"{name}: temperature set to {self._setpoint(name, state):g} °C again"
                    )
            if state.rpm > 0:
                if not simulated or getattr(backend, "speed_rpm", 0.0) != state.rpm:
                    await machine.shake(speed=state.rpm)
                    messages.append(f"{name}: shaking at {state.rpm:g} rpm again")
        if messages:
            self.journal.event(None, "restored", self.clock.now(), {"actions": messages})
        return messages

    # ------------------------------------------------------------------ channels and tips

    def _channels(self, op: ChannelOperation) -> list[int]:
        positions = op.tips if isinstance(op, (PickUpTips, DropTips)) else op.wells
        channels = list(op.channels or range(len(positions)))
        if isinstance(op, PickUpTips) and op.tip_type:
            tip_type = self.setup.deck_spec.tips.get(op.tip_type)
            allowed = (
                list(tip_type.channels) if tip_type is not None and tip_type.channels else None
            )
            if allowed and not set(channels) <= set(allowed):
                if len(channels) > len(allowed):
                    raise RunFailed(
                        f"{len(channels)} channels needed for {op.tip_type} tips, but only channel(s) {allowed} carry them"
                    )
                for i, c in enumerate(channels):
                    self.channel_map[c] = allowed[i]
            else:
                for c in channels:
                    self.channel_map[c] = c
        return [self.channel_map.get(c, c) for c in channels]

    # ------------------------------------------------------------------ handlers (op, replay) → report

    async def _perform(self, op: Operation, replay: bool) -> dict:
        """Carry out one operation (or, replaying, bring the trackers and simulations up to date
        with it); returns what goes into the journal."""
        match op:
            case PickUpTips():
                return await self._pick_up_tips(op)
            case DropTips():
                return await self._drop_tips(op)
            case Aspirate():
                return await self._aspirate(op)
            case Dispense():
                return await self._dispense(op)
            case Sample():
                return await self._sample(op)
            case DispensePowder():
                return await self._dispense_powder(op)
            case SetTemperature():
                return await self._set_temperature(op, replay)
            case WaitTemperature():
                return await self._wait_temperature(op, replay)
            case Shake():
                return await self._shake(op, replay)
            case StopShaking():
                return await self._stop_shaking(op, replay)
            case Wait():
                return await self._wait(op, replay)
            case Prompt():
                return await self._prompt(op, replay)
            case SetClosure():
                return await self._set_closure(op, replay)

    def _offsets(self, refs: list[str]) -> dict[str, Any]:
        """PLR's ``offsets=`` for positions on calibrated labware (layout ``offset:``), or nothing.

        ``refs`` are reaction wells (``A1``), ``LABWARE:WELL`` or tip spots ``RACK:WELL``.  With no
        calibration the call is left as it was, so an uncalibrated deck's commands do not change.
        """
        from pylabrobot.resources import Coordinate

        labware = self.setup.deck_spec.labware
        vectors = []
        for ref in refs:
            name, sep, _ = ref.partition(":")
            spec = labware.get(name if sep else self.vessel)
            vectors.append(spec.offset_mm if spec is not None else (0.0, 0.0, 0.0))
        if not any(any(v) for v in vectors):
            return {}
        return {"offsets": [Coordinate(*v) for v in vectors]}

    async def _pick_up_tips(self, op: PickUpTips) -> dict:
        spots = [self.setup.tip_spot(s) for s in op.tips]
        channels = self._channels(op)
        await self.lh.pick_up_tips(spots, use_channels=channels, **self._offsets(op.tips))
        for c in channels:
            self.tip_type[c] = op.tip_type
            self.touched_reaction.discard(c)
        return {"channels": channels}

    async def _drop_tips(self, op: DropTips) -> dict:
        channels = self._channels(op)
        if op.return_tips:
            spots = [self.setup.tip_spot(s) for s in op.tips]
            await self.lh.drop_tips(
                spots, use_channels=channels, allow_nonzero_volume=True, **self._offsets(op.tips)
            )
            where = "returned"
        else:
            await self._discard(channels)
            where = "trash"
        for c in op.channels:
            self.channel_map.pop(c, None)
        return {"channels": channels, "to": where}

    async def _discard(self, channels: list[int]) -> None:
        """Drop tips into the layout's waste (``role: waste``); PLR's ``discard_tips`` only knows
        the deck's own trash area, which PLR's EVO deck does not have."""
        waste = self._waste()
        if waste is None:
            await self.lh.discard_tips(use_channels=channels, allow_nonzero_volume=True)
            return
        from pylabrobot.liquid_handling.channel_positioning import compute_channel_offsets

        offsets = compute_channel_offsets(waste, num_channels=len(channels), spread="tight")
        await self.lh.drop_tips(
            [waste] * len(channels),
            use_channels=channels,
            offsets=offsets,
            allow_nonzero_volume=True,
        )

    def _waste(self) -> Any:
        if not hasattr(self, "_waste_resource"):
            from pylabrobot.resources import Trash

            found = None
            for name, lw in self.setup.deck_spec.labware.items():
                resource = self.setup.resources.get(name)
                if lw.role == "waste" and isinstance(resource, Trash):
                    found = resource
                    break
            self._waste_resource = found
        return self._waste_resource

    def _check_aspirate(
        self, containers: list[Any], volumes: list[float], channels: list[int]
    ) -> None:
        """PLR 0.2.2 leaves a container's pending volume changed when the tip-side check of an
        aspirate fails; check both sides first so a failure leaves the trackers intact."""
        from pylabrobot.resources import does_volume_tracking

        if not does_volume_tracking():
            return
        need: dict[int, float] = {}
        for c, v in zip(containers, volumes, strict=False):
            need[id(c)] = need.get(id(c), 0.0) + v
        for c in {id(c): c for c in containers}.values():
            have = c.tracker.get_used_volume()
            if need[id(c)] > have + 1e-6:
                raise RunFailed(
                    f"{_label(self, c)} holds {have:.3f} µL, the aspirate needs {need[id(c)]:.3f} µL"
                )
        for channel, v in zip(channels, volumes, strict=False):
            tip = self.lh.head[channel].get_tip()
            if tip.tracker.get_used_volume() + v > tip.maximal_volume + 1e-6:
                raise RunFailed(
                    f"channel {channel}: {v:.3f} µL does not fit in its {tip.maximal_volume:g} µL tip"
                )

    def _pipetting(
        self, op: Aspirate | Dispense, channels: list[int]
    ) -> tuple[LiquidClass, list[Any], tuple[float, float]]:
        """The operation's liquid class, the tips on its channels, and the robot's default
        (water) flow rates for that tip size."""
        try:
            lc = find_liquid_class(op.liquid_class)
        except UnknownLiquid:
            raise RunFailed(f"the plan names an unknown liquid class '{op.liquid_class}'") from None
        if len(op.height_mm) != len(op.wells):
            raise RunFailed(f"{len(op.wells)} wells but {len(op.height_mm)} heights in the plan")
        tips = [self.lh.head[c].get_tip() for c in channels]
        tip_type = self.setup.deck_spec.tips.get(self.tip_type.get(channels[0], ""))
        tip_ul = tip_type.max_volume_ul if tip_type is not None else float(tips[0].maximal_volume)
        rate = self.setup.deck_spec.timings.flow_rate(tip_ul)
        return lc, tips, (rate.aspirate_ul_s, rate.dispense_ul_s)

    async def _aspirate(self, op: Aspirate) -> dict:
        channels = self._channels(op)
        containers = [self.container(w) for w in op.wells]
        volumes = [float(v) for v in op.volumes_uL]
        self._check_aspirate(containers, volumes, channels)
        for c, ref in zip(channels, op.wells, strict=False):
            if c in self.touched_reaction:
                raise RunFailed(
                    f"channel {c}: its tip has been in a reaction mixture and would now go into the stock at {ref}"
                )
        lc, tips, defaults = self._pipetting(op, channels)
        kwargs = aspirate_arguments(
            self.setup.deck_spec.robot_kind, lc, tips, volumes, op.height_mm, defaults
        )
        await self.lh.aspirate(
            containers, vols=volumes, use_channels=channels, **kwargs, **self._offsets(op.wells)
        )
        return {}

    def _check_above_liquid(self, op: Dispense, containers: list[Any], channels: list[int]) -> None:
        """A dispense into a reaction well must leave the tip above the liquid: the simulator
        fails a plan whose tip would touch the reaction mixture (a real robot would contaminate
        the tip and carry the mixture back to the stock)."""
        from pylabrobot.resources import does_volume_tracking

        if not does_volume_tracking():
            return
        adding: dict[int, float] = {}
        for ref, c, v, h, channel in zip(
            op.wells, containers, op.volumes_uL, op.height_mm, channels, strict=False
        ):
            if ":" in ref or not c.supports_compute_height_volume_functions():
                continue  # not a reaction well, or a vessel without a height function
            adding[id(c)] = adding.get(id(c), 0.0) + float(v)
            after = c.tracker.get_used_volume() + adding[id(c)]
            try:
                surface = float(c.compute_height_from_volume(after))
            except ValueError:  # beyond the vendor's curve: over-full, reported elsewhere
                continue
            if h < surface - 1e-6:
                self.touched_reaction.add(channel)
                raise RunFailed(
                    f"dispense into {ref} at {h:.2f} mm: the liquid will stand {surface:.2f} mm high, so the tip would touch the reaction mixture"
                )

    async def _dispense(self, op: Dispense) -> dict:
        channels = self._channels(op)
        containers = [self.container(w) for w in op.wells]
        volumes = [float(v) for v in op.volumes_uL]
        lc, tips, defaults = self._pipetting(op, channels)
        self._check_above_liquid(op, containers, channels)
        kwargs = dispense_arguments(
            self.setup.deck_spec.robot_kind, lc, tips, volumes, op.height_mm, defaults
        )
        await self.lh.dispense(
            containers, vols=volumes, use_channels=channels, **kwargs, **self._offsets(op.wells)
        )
        return {}

    async def _sample(self, op: Sample) -> dict:
        channels = self._channels(op)
        sources = [self.container(w) for w in op.wells]
        targets_refs = op.targets
        if len(targets_refs) != len(sources):
            raise RunFailed(
                f"sample: {len(sources)} wells but {len(targets_refs)} sample positions in the operation's message"
            )
        volumes = [float(v) for v in op.volumes_uL]
        self._check_aspirate(sources, volumes, channels)
        self.touched_reaction.update(channels)  # a sample is drawn from the mixture itself
        await self.lh.aspirate(
            sources, vols=volumes, use_channels=channels, **self._offsets(list(op.wells))
        )
        await self.lh.dispense(
            [self.container(t) for t in targets_refs],
            vols=volumes,
            use_channels=channels,
            **self._offsets(list(targets_refs)),
        )
        return {"into": targets_refs}

    async def _dispense_powder(self, op: DispensePowder) -> dict:
        wells = list(op.wells)
        mg = [float(x) for x in op.mg]
        names = list(op.substances or [op.reagent] * len(wells))
        by_hand = op.manual or op.device == "operator" or self.setup.powder_dispenser is None
        if not by_hand:  # the operator uncaps each vial for its portion; a dispenser cannot
            self._refuse_if_capped(f"dispense {op.reagent} powder into")
        if by_hand:
            # the operator weighs the solid in; their confirmation is the device's report
            k, live = self.ctx.begin()
            if live:
                if not self.options.simulated and self.options.confirm is not None:
                    self.options.confirm(
                        op.message or f"Weigh {op.reagent} into {', '.join(wells)}"
                    )
                self.ctx.report(
                    k,
                    "operator",
                    "dispense_powder",
                    {
                        "doses": [
                            {"at": f"{self.vessel}:{w}", "powder": n, "mg": m}
                            for w, n, m in zip(wells, names, mg, strict=False)
                        ]
                    },
                )
            return {"manual": True}
        from pylabrobot.resources import Powder

        containers = [self.container(w) for w in wells]
        results = await self.setup.powder_dispenser.dispense(
            containers, [Powder(n) for n in names], mg
        )
        return {
            "mg_reported": [
                float(r.get("actual_amount", m)) for r, m in zip(results or [], mg, strict=False)
            ]
        }

    def _module(self, op: OperationBase) -> Any:
        machine = self.setup.machines.get(op.device)
        if machine is None:
            raise RunFailed(f"the deck has no module '{op.device}'")
        return machine

    def _touch(self, machine: Any, replay: bool) -> bool:
        """Whether a module call goes ahead: always live; in a replay only on a simulated module
        (its state is the simulation's), never on a real device (it kept its own state)."""
        return not replay or isinstance(
            getattr(machine, "backend", None), SimulatedTemperatureControllerBackend
        )

    def _setpoint(self, name: str, state: ModuleState) -> float:
        if state.ramp is None:
            return state.target  # type: ignore[return-value]
        return _ramp_setpoint(state.ramp, self.clock.now())

    async def _set_setpoint(self, machine: Any, celsius: float) -> None:
        current = await machine.get_temperature()
        if celsius < current and not machine.backend.supports_active_cooling:
            # PLR's frontend refuses to "cool" without active cooling unless passive=True, and then
            # never tells the device: set the lower set-point on the backend and let the block relax
            machine.target_temperature = celsius
            await machine.backend.set_temperature(celsius)
        else:
            await machine.set_temperature(celsius)

    async def _set_temperature(self, op: SetTemperature, replay: bool) -> dict:
        machine = self._module(op)
        state = self.modules[op.device]
        target = float(op.celsius)
        spec = self.setup.deck_spec.modules[op.device]
        if spec.thermal is not None and not spec.thermal.in_range(target):
            raise RunFailed(
                f"{op.device}: {target:g} °C is outside the module's range ({spec.thermal.min_c:g} to {spec.thermal.max_c:g} °C)"
            )
        touch = self._touch(machine, replay)
        current = await machine.get_temperature() if touch else target
        state.target = target
        state.ramp = (current, target, self.clock.now(), float(op.ramp_s)) if op.ramp_s else None
        setpoint = self._setpoint(op.device, state)
        if touch:
            await self._set_setpoint(machine, setpoint)
        return {"setpoint_c": round(setpoint, 3), "from_c": round(current, 3)}

    async def _wait_temperature(self, op: WaitTemperature, replay: bool) -> dict:
        machine = self._module(op)
        state = self.modules[op.device]
        target = float(op.celsius)
        if replay:
            state.ramp = None
            return {}
        spec = self.setup.deck_spec.modules[op.device]
        tol = (spec.settle_tolerance_c if spec.settle_tolerance_c is not None else 0.5) + 1e-9
        clock = self.clock
        start = clock.now()
        timeout = (
            op.duration * self.options.temperature_timeout_factor
            + self.options.temperature_timeout_grace_s
        )
        deadline = start + timeout
        poll = (
            self.options.poll_s if clock.virtual else max(self.options.poll_s, 0.01 * clock.speed)
        )
        ramp_step = self.options.ramp_step_s
        last_setpoint = self._setpoint(op.device, state)
        block: SimulatedTemperatureControllerBackend | None = None  # read directly (see below)
        while True:
            if state.ramp is not None:
                if block is not None and clock.virtual:
                    # the polls before the next set-point is due only read the block (unused
                    # while the ramp runs): go to that poll (or the deadline) without them
                    due = _quiet_ramp_polls(
                        state.ramp, clock.now(), last_setpoint, target, deadline, poll, ramp_step
                    )
                    await clock.sleep_until(due)
                setpoint = self._setpoint(op.device, state)
                if abs(setpoint - last_setpoint) >= 0.1 or (
                    setpoint == target and last_setpoint != target
                ):
                    await self._set_setpoint(machine, setpoint)
                    last_setpoint = setpoint
                if setpoint == target:
                    state.ramp = None
            if block is None:
                temperature = await machine.get_temperature()
                block = _simulated_block(machine, clock)
            elif state.ramp is None and clock.virtual:
                # no set-point left to send: the polls up to the settled block (or the deadline)
                # are a function of time alone, walked without the event loop
                reached_at, temperature = _quiet_polls(
                    block.state.at, clock.now(), target, tol, deadline, poll
                )
                await clock.sleep_until(reached_at)
            else:
                temperature = block.temperature()
            if state.ramp is None and abs(temperature - target) <= tol:
                break
            now = clock.now()
            if now >= deadline:
                raise TemperatureTimeoutFault(
                    f"{op.device} did not reach {target:g} °C within {timeout / 60:.1f} min (planned {op.duration / 60:.1f} min): the block is at {temperature:.1f} °C",
                    device=op.device,
                )
            step = min(poll, deadline - now)
            if state.ramp is not None:
                step = min(step, ramp_step)
            if clock.virtual:
                await clock.sleep(step)
            else:
                await self._sleep_until(now + step)
        return {"celsius_reached": round(temperature, 3), "waited_s": round(clock.now() - start, 3)}

    async def _shake(self, op: Shake, replay: bool) -> dict:
        machine = self._module(op)
        spec = self.setup.deck_spec.modules[op.device]
        rpm = float(op.rpm if op.rpm is not None else (spec.default_rpm or 0.0))
        if self._touch(machine, replay):
            await machine.shake(
                speed=rpm
            )  # no duration: PLR would sleep; stop_shaking is its own op
        self.modules[op.device].rpm = rpm
        return {"rpm": rpm}

    async def _stop_shaking(self, op: StopShaking, replay: bool) -> dict:
        machine = self._module(op)
        if self._touch(machine, replay):
            await machine.stop_shaking()
            if getattr(machine.backend, "supports_locking", False):
                await machine.unlock_plate()
        self.modules[op.device].rpm = 0.0
        return {}

    async def _wait(self, op: Wait, replay: bool) -> dict:
        machine = self.setup.machines.get(op.device)
        if machine is not None and not replay and hasattr(machine, "get_temperature"):
            # a hold on a module: check it is still there (a lost connection shows here, not hours later)
            await machine.get_temperature()
        return {"until_s": round(op.end + self.offset, 3)}

    async def _prompt(self, op: Prompt, replay: bool) -> dict:
        report: dict = {}
        if self.step_kind.get(op.step) == "stage":
            # a new stage: the operator has worked the previous one up off-deck and puts the
            # isolated intermediate back into the vessels, so what the wells held is gone (the
            # plan's final volumes count the last stage only)
            for well in self.plan.wells:
                self.container(well).tracker.set_volume(0.0)
            report["wells_emptied"] = True
        if replay:
            return report
        return {**report, "answer": self._confirm(op.message)}

    def _confirm(self, message: str) -> str:
        """Ask the operator (the simulator answers itself); returns the answer for the journal."""
        if self.options.simulated or self.options.confirm is None:
            return "confirmed (simulation)"
        if self.progress is not None:
            self.progress.pause()
        try:
            self.options.confirm(message)
        finally:
            if self.progress is not None:
                self.progress.resume()
        return "confirmed by the operator"

    # ------------------------------------------------------------------ vessel closure

    async def _set_closure(self, op: SetClosure, replay: bool) -> dict:
        """The operator caps, vents or uncaps the reaction vessels.  On PyLabRobot's deck a capped
        or vented block carries a ``Lid`` (a tip cannot pass a septum with a vent needle in it
        either), so PLR's own lid check refuses any aspirate or dispense into it; uncapping
        removes it.  Replaying brings the lid up to date without asking."""
        lidded = self._mirror_closure(op.into, op.closure != "open")
        report: dict = {"closure": op.closure, "lid": lidded}
        if replay:
            return report
        return {**report, "answer": self._confirm(op.message)}

    def _refuse_if_capped(self, action: str) -> None:
        """PLR's lid check guards pipetting only; a solid cannot pass a cap either."""
        resource = self.setup.resources.get(self.vessel)
        if resource is not None and getattr(resource, "has_lid", lambda: False)():
            raise RunFailed(f"cannot {action} '{self.vessel}': it has a lid (capped)")

    def _mirror_closure(self, labware: str, capped: bool) -> bool:
        """Put a lid on (or take it off) the labware's PLR resource; whether it has one now."""
        from pylabrobot.resources import Lid
        from pylabrobot.resources.lid import Liddable

        resource = self.setup.resources.get(labware)
        if not isinstance(resource, Liddable):
            raise RunFailed(f"'{labware}' cannot carry caps on PyLabRobot's deck")
        if capped and not resource.has_lid():
            # septum caps stand about 10 mm above the vials; PLR wants a nonzero nesting depth
            caps = Lid(
                name=f"{labware}_caps",
                size_x=resource.get_size_x(),
                size_y=resource.get_size_y(),
                size_z=10.0,
                nesting_z_height=2.0,
            )
            resource.assign_child_resource(caps)
        elif not capped and resource.has_lid():
            lid = resource.lid
            assert lid is not None  # has_lid() said so
            resource.unassign_child_resource(lid)
        return resource.has_lid()

    # ------------------------------------------------------------------ the end

    def verify(self) -> list[str]:
        """The deck must hold what the plan says: every reaction well's volume (PLR tracker) equals
        ``wells[w].final_volume_uL`` within 1e-6 relative; powder doses (device records) equal the
        plan's mg."""
        problems: list[str] = []
        for well, wp in self.plan.wells.items():
            have = self.container(well).tracker.get_used_volume()
            want = wp.final_volume_uL
            if abs(have - want) > 1e-6 * max(abs(want), 1.0):
                problems.append(f"{well} holds {have:.6f} µL, the plan says {want:.6f} µL")
        # only the powder records: the plan is in hand, and the rest of the journal is not needed
        dispensed_mg = self.journal.dispensed_mg(self.plan)
        for well, wp in self.plan.wells.items():
            for reagent, amount in wp.reagents.items():
                if amount.mg is None:
                    continue
                got = dispensed_mg.get(well, {}).get(reagent, 0.0)
                if abs(got - amount.mg) > 1e-6 * max(amount.mg, 1.0):
                    problems.append(
                        f"{well} received {got:.4f} mg of {reagent}, the plan says {amount.mg:.4f} mg"
                    )
        return problems


def _simulated_block(machine: Any, clock: Clock) -> SimulatedTemperatureControllerBackend | None:
    """A simulated block whose temperature the wait may read without going through PLR, once a
    first ``get_temperature`` of the operation has gone through it: its model at the clock's
    time is the number ``get_current_temperature`` returns.  What that call does besides is the
    link's check and the injected faults, which fire at the operation's first device call or
    never, so the later polls of a wait (one per simulated second: ~4,500 for the 96-well plate)
    skip PLR's frontend, the coroutine and the fault look-ups.  None for any other backend (or
    one on another clock)."""
    backend = getattr(machine, "backend", None)
    if isinstance(backend, SimulatedTemperatureControllerBackend) and backend.clock is clock:
        return backend
    return None


def _ramp_setpoint(ramp: tuple[float, float, float, float], now: float) -> float:
    """The set-point of a controlled ramp ``(from °C, to °C, t0, ramp_s)`` at plan time ``now``."""
    start, end, t0, ramp_s = ramp
    frac = 1.0 if ramp_s <= 0 else min(1.0, max(0.0, (now - t0) / ramp_s))
    return start + (end - start) * frac


def _quiet_ramp_polls(
    ramp: tuple[float, float, float, float],
    t: float,
    last_setpoint: float,
    target: float,
    deadline: float,
    poll: float,
    ramp_step: float,
) -> float:
    """The time of the first poll from ``t`` on at which ``_wait_temperature`` sends a set-point
    or ends the ramp, or of the poll at the deadline; the polls before it only read the block,
    whose temperature is not used while the ramp runs.  The same additions to the clock as the
    loop's, so the same floating-point times."""
    while True:
        setpoint = _ramp_setpoint(ramp, t)
        if abs(setpoint - last_setpoint) >= 0.1 or setpoint == target or t >= deadline:
            return t
        t += min(poll, deadline - t, ramp_step)


def _quiet_polls(
    temperature_at: Callable[[float], float],
    t: float,
    target: float,
    tol: float,
    deadline: float,
    poll: float,
) -> tuple[float, float]:
    """``(time, temperature)`` of the first poll from ``t`` on that finds the block within
    ``tol`` of ``target``, or of the poll at the deadline: the polls ``_wait_temperature`` makes
    once no set-point is left to send, with the same additions to the clock (so the same
    floating-point times), without awaiting a sleep for each."""
    while True:
        temperature = temperature_at(t)
        if abs(temperature - target) <= tol or t >= deadline:
            return t, temperature
        t += min(poll, deadline - t)


def _expected_actions(op: Operation) -> int:
    """How many recorded device actions make up an operation (0: not recorded, just re-issued)."""
    match op:
        case Sample():
            return 2  # aspirate from the well, dispense into the sample position
        case PickUpTips() | DropTips() | Aspirate() | Dispense() | DispensePowder():
            return 1
        case _:
            return 0


def describe_op(op: Operation) -> str:
    match op:
        case Aspirate() | Dispense():
            total = sum(op.volumes_uL)
            return f"{op.op} {op.reagent} {_span(op.wells)} ({total:.1f} µL in all), step {op.step + 1}".replace(
                "  ", " "
            )
        case DispensePowder():
            return f"dispense_powder {op.reagent} {_span(op.wells)}, step {op.step + 1}"
        case SetTemperature() | WaitTemperature():
            return f"{op.op} {op.celsius:g} °C on {op.device}, step {op.step + 1}"
        case Sample():
            return f"{op.op} {_span(op.wells)}, step {op.step + 1}"
        case SetClosure():
            return f"{op.op} {op.closure} on {op.into}, step {op.step + 1}"
        case _:
            return f"{op.op}, step {op.step + 1}"


def _span(wells: list[str]) -> str:
    """``A1…H12`` for many wells, the list for one or two."""
    return f"{wells[0]}…{wells[-1]}" if len(wells) > 2 else ", ".join(wells)


def _label(executor: Executor, container: Any) -> str:
    return executor.ctx.label_of(container)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "…"
