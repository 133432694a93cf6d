"""Simulated devices on the executor's clock, fault injection, and the gate around real backends.

* :class:`SimulatedTemperatureControllerBackend` / :class:`SimulatedHeaterShakerBackend` — PLR
  backends whose block temperature follows the module's :class:`~diazflow.deck.profiles.ThermalModel`
  in *plan time* read from the executor's clock (linear ramps at the profile's heating/cooling
  rates, passive relaxation towards ambient without active cooling), refuse set-points and speeds
  outside the profile's range, and fail on demand (``temperature_timeout``: the heater stalls;
  ``connection_lost``: every later call fails).
* :class:`SimulatedLiquidHandlerBackend` — PLR's chatterbox (via diazflow's silent
  ``RecordingLiquidHandlerBackend``) that reports every action to the executor (the device's own
  record, persisted in the journal) and can fail a tip pick-up or lose its connection.
* :class:`SimulatedPowderDispenserBackend` — records mg per well and reports the dose as dispensed.
* :class:`GatedLiquidHandlerBackend` / :class:`GatedPowderDispenserBackend` — the same reporting,
  muting and fault injection, wrapped around any other PLR liquid-handling or powder backend
  (STAR/OT-2 chatterboxes, real hardware backends).

Every device action goes through an :class:`ActionContext` shared with the executor: it numbers the
actions of the current operation, says whether an action is *live* (sent to the device) or
*replayed* (a resumed run re-applying, without the device, what the journal says already happened),
and receives the device's report of each live action.
"""

from __future__ import annotations

import contextlib
import inspect
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pylabrobot.heating_shaking.backend import HeaterShakerBackend
from pylabrobot.powder_dispensing.backend import (
    DispenseResults,
    PowderDispense,
    PowderDispenserBackend,
)
from pylabrobot.temperature_controlling.backend import TemperatureControllerBackend

from diazflow.deck.plr_backends import RecordingLiquidHandlerBackend
from diazflow.deck.profiles import ShakerModel, ThermalModel
from diazflow.runtime.clock import Clock
from diazflow.runtime.faults import (
    ConnectionLostFault,
    FaultPlan,
    SetpointOutOfRangeError,
    TipPickupFault,
)

# --------------------------------------------------------------------------- action bookkeeping


@dataclass
class ActionContext:
    """What the executor is doing now, as the devices see it.

    ``live_from``: actions of the current operation numbered below it are replayed (their effect on
    PLR's trackers is applied, nothing is sent to a device); ``replaying`` replays a whole operation.
    ``on_action(op_id, index, device, kind, data)`` receives the report of each live action.
    """

    faults: FaultPlan = field(default_factory=FaultPlan)
    on_action: Callable[[int, int, str, str, dict], None] | None = None
    label_of: Callable[[Any], str] = lambda resource: getattr(resource, "name", str(resource))
    op_id: int | None = None
    next_action: int = 0
    live_from: int = 0
    replaying: bool = False
    transcript: Callable[[str], None] | None = None  # chatterbox command capture

    def start_op(self, op_id: int, *, live_from: int = 0, replaying: bool = False) -> None:
        self.op_id = op_id
        self.next_action = 0
        self.live_from = live_from
        self.replaying = replaying
        self.faults.current_op = None if replaying else op_id

    def idle(self) -> None:
        """Between operations (setup, safe state): everything is live, nothing is recorded."""
        self.op_id = None
        self.next_action = 0
        self.live_from = 0
        self.replaying = False
        self.faults.current_op = None

    @property
    def live(self) -> bool:
        """Whether the device calls of the current moment reach the device (no numbering)."""
        return not self.replaying and (self.op_id is None or self.next_action >= self.live_from)

    def begin(self) -> tuple[int, bool]:
        """Number the next action of the operation; True if it is live."""
        k = self.next_action
        self.next_action += 1
        live = not self.replaying and k >= self.live_from
        return k, live

    def report(self, index: int, device: str, kind: str, data: dict) -> None:
        if self.on_action is not None and self.op_id is not None:
            self.on_action(self.op_id, index, device, kind, data)


class DeviceLink:
    """A device's connection: lost for good once a ``connection_lost`` fault fires on it."""

    def __init__(self, name: str, ctx: ActionContext):
        self.name = name
        self.ctx = ctx
        self.connected = True

    def check(self) -> None:
        if not self.connected:
            raise ConnectionLostFault(f"{self.name}: no connection to the device", device=self.name)
        if self.ctx.faults.at("connection_lost"):
            self.connected = False
            raise ConnectionLostFault(
                f"{self.name}: connection lost (injected fault)", device=self.name, injected=True
            )


def _lh_report(
    kind: str, ops: Any, use_channels: list[int], label_of: Callable[[Any], str]
) -> dict:
    """What a liquid-handling backend was asked to do, as plain data for the journal."""
    rows = []
    for op, channel in zip(ops, use_channels, strict=False):
        row: dict[str, Any] = {"channel": channel, "at": label_of(op.resource)}
        volume = getattr(op, "volume", None)
        if volume is not None and kind in ("aspirate", "dispense"):
            row["uL"] = float(volume)
        rows.append(row)
    return {"channels": rows}


# --------------------------------------------------------------------------- thermal modules


class _ThermalState:
    """Block temperature in plan time: a ramp (or relaxation) from ``from_c`` started at ``t0``."""

    def __init__(self, thermal: ThermalModel, now: float):
        self.thermal = thermal
        self.from_c = thermal.ambient_c
        self.t0 = now
        self.target: float | None = None  # None: switched off
        self.stalled_at: float | None = None  # a failed heater: the temperature stops moving

    def at(self, now: float) -> float:
        if self.stalled_at is not None:
            return self.stalled_at
        dt = now - self.t0
        if self.target is None:
            return self.thermal.idle_temperature_at(dt, self.from_c)
        return self.thermal.temperature_at(dt, self.from_c, self.target)

    def set(self, target: float | None, now: float) -> None:
        self.from_c = self.at(now)
        self.t0 = now
        self.target = target


class SimulatedTemperatureControllerBackend(TemperatureControllerBackend):
    """A temperature controller whose block follows its thermal model on the executor's clock."""

    def __init__(
        self, name: str, thermal: ThermalModel, clock: Clock, ctx: ActionContext | None = None
    ):
        super().__init__()
        self.name = name
        self.thermal = thermal
        self.clock = clock
        self.ctx = ctx or ActionContext()
        self.link = DeviceLink(name, self.ctx)
        self.state = _ThermalState(thermal, clock.now())
        self.log: list[
            tuple[float, str, Any]
        ] = []  # (plan time, action, value) for tests and reports

    # ---- PLR backend interface

    @property
    def supports_active_cooling(self) -> bool:
        return self.thermal.active_cooling

    async def setup(self):
        if self.ctx.live:
            self.link.check()

    async def stop(self):
        pass

    def _live_check(self) -> bool:
        live = self.ctx.live
        if live:
            self.link.check()
        return live

    async def set_temperature(self, temperature: float):
        if not self.thermal.in_range(temperature):
            raise SetpointOutOfRangeError(
                f"{self.name}: {temperature:g} °C is outside the module's range ({self.thermal.min_c:g} to {self.thermal.max_c:g} °C)",
                device=self.name,
            )
        live = self._live_check()
        now = self.clock.now()
        self.state.set(float(temperature), now)
        if live and self.ctx.faults.at("temperature_timeout"):
            self.state.stalled_at = self.state.at(now)
        self.log.append((now, "set_temperature", float(temperature)))

    async def get_current_temperature(self) -> float:
        live = self._live_check()
        now = self.clock.now()
        if live and self.ctx.faults.at("temperature_timeout"):
            self.state.stalled_at = self.state.at(now)
        return self.state.at(now)

    async def deactivate(self):
        self._live_check()
        now = self.clock.now()
        self.state.set(None, now)
        self.state.stalled_at = None
        self.log.append((now, "deactivate", None))

    # ---- for the executor

    @property
    def target_c(self) -> float | None:
        return self.state.target

    def temperature(self) -> float:
        return self.state.at(self.clock.now())


class SimulatedHeaterShakerBackend(HeaterShakerBackend, SimulatedTemperatureControllerBackend):
    """A heater-shaker or heater-cooler-shaker: thermal model plus a shaker with a speed range."""

    def __init__(
        self,
        name: str,
        thermal: ThermalModel,
        shaker: ShakerModel,
        clock: Clock,
        ctx: ActionContext | None = None,
    ):
        SimulatedTemperatureControllerBackend.__init__(self, name, thermal, clock, ctx)
        self.shaker = shaker
        self.speed_rpm = 0.0
        self.locked = False

    async def start_shaking(self, speed: float):
        if not self.shaker.in_range(speed):
            raise SetpointOutOfRangeError(
                f"{self.name}: {speed:g} rpm is outside the shaker's range ({self.shaker.min_rpm:g}-{self.shaker.max_rpm:g} rpm)",
                device=self.name,
            )
        self._live_check()
        self.speed_rpm = float(speed)
        self.log.append((self.clock.now(), "start_shaking", float(speed)))

    async def stop_shaking(self):
        self._live_check()
        self.speed_rpm = 0.0
        self.log.append((self.clock.now(), "stop_shaking", None))

    @property
    def supports_locking(self) -> bool:
        return True

    async def lock_plate(self):
        self._live_check()
        self.locked = True

    async def unlock_plate(self):
        self._live_check()
        self.locked = False


# --------------------------------------------------------------------------- liquid handler


class SimulatedLiquidHandlerBackend(RecordingLiquidHandlerBackend):
    """PLR's chatterbox (silent, recording) that reports each action and fails on demand.

    A subclass of diazflow's ``RecordingLiquidHandlerBackend``, itself a subclass of PLR's
    ``LiquidHandlerChatterboxBackend``, so it keeps the per-channel tip restrictions of the deck.
    """

    def __init__(
        self,
        num_channels: int = 8,
        channel_tip_volumes=None,
        ctx: ActionContext | None = None,
        name: str = "liquid_handler",
    ):
        super().__init__(num_channels=num_channels, channel_tip_volumes=channel_tip_volumes)
        self.name = name
        self.ctx = ctx or ActionContext()
        self.link = DeviceLink(name, self.ctx)

    async def setup(self):
        self.link.check()
        await super().setup()

    async def _act(self, kind: str, ops, use_channels, parent) -> None:
        k, live = self.ctx.begin()
        if not live:
            return
        self.link.check()
        if kind == "pick_up_tips":
            _maybe_tip_fault(self.name, self.ctx, ops, use_channels)
        await parent(ops, use_channels)
        self.ctx.report(k, self.name, kind, _lh_report(kind, ops, use_channels, self.ctx.label_of))

    async def pick_up_tips(self, ops, use_channels, **backend_kwargs):
        await self._act("pick_up_tips", ops, use_channels, super().pick_up_tips)

    async def drop_tips(self, ops, use_channels, **backend_kwargs):
        await self._act("drop_tips", ops, use_channels, super().drop_tips)

    async def aspirate(self, ops, use_channels, **backend_kwargs):
        await self._act("aspirate", ops, use_channels, super().aspirate)

    async def dispense(self, ops, use_channels, **backend_kwargs):
        await self._act("dispense", ops, use_channels, super().dispense)


def _maybe_tip_fault(name: str, ctx: ActionContext, ops: Any, use_channels: Any) -> None:
    """An injected ``tip_not_picked_up`` fault of this operation fires here."""
    if ctx.faults.at("tip_not_picked_up"):
        spots = _span([ctx.label_of(op.resource) for op in ops])
        raise TipPickupFault(
            f"{name}: tip not picked up on channel(s) {_channels(use_channels)} from {spots} (injected fault)",
            device=name,
            injected=True,
        )


def _span(labels: list[str]) -> str:
    """``tips_50_1:A2…H2`` for a run of spots on one rack."""
    if len(labels) <= 2:
        return ", ".join(labels)
    first, last = labels[0], labels[-1]
    rack, _, _ = first.partition(":")
    if last.startswith(rack + ":"):
        return f"{first}…{last.partition(':')[2]}"
    return f"{first}…{last}"


def _channels(channels) -> str:
    channels = list(channels)
    if len(channels) > 2 and channels == list(range(channels[0], channels[-1] + 1)):
        return f"{channels[0]}-{channels[-1]}"
    return ",".join(str(c) for c in channels)


# --------------------------------------------------------------------------- powder dispenser


class SimulatedPowderDispenserBackend(PowderDispenserBackend):
    """Doses exactly what it is asked; keeps mg per well (``dispensed_mg``) and reports each dose."""

    def __init__(self, name: str = "powder_dispenser", ctx: ActionContext | None = None):
        super().__init__()
        self.name = name
        self.ctx = ctx or ActionContext()
        self.link = DeviceLink(name, self.ctx)
        self.dispensed_mg: dict[str, float] = {}

    async def setup(self) -> None:
        if self.ctx.live:
            self.link.check()

    async def stop(self) -> None:
        pass

    async def dispense(
        self, dispense_parameters: list[PowderDispense], **backend_kwargs
    ) -> list[DispenseResults]:
        k, live = self.ctx.begin()
        if live:
            self.link.check()
        results = []
        rows = []
        for d in dispense_parameters:
            label = self.ctx.label_of(d.resource)
            self.dispensed_mg[label] = self.dispensed_mg.get(label, 0.0) + float(d.amount)
            rows.append({"at": label, "powder": d.powder.name, "mg": float(d.amount)})
            results.append(DispenseResults(actual_amount=float(d.amount)))
        if live:
            self.ctx.report(k, self.name, "dispense_powder", {"doses": rows})
        return results


# --------------------------------------------------------------------------- other backends


class _Gate:
    """Numbering, muting, fault injection and reporting of one device's actions.

    ``capture_stdout`` sends what a chatterbox prints to the command transcript;
    ``record_started`` (hardware) reports an action before it is sent as well as after, so that a
    resumed run knows which action may have happened.
    """

    def __init__(self, name: str, ctx: ActionContext, capture_stdout: bool, record_started: bool):
        self.name = name
        self.ctx = ctx
        self.link = DeviceLink(name, ctx)
        self.capture_stdout = capture_stdout
        self.record_started = record_started

    async def send(self, call: Awaitable[Any]) -> Any:
        if not (self.capture_stdout and self.ctx.transcript is not None):
            return await call
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            result = await call
        if buffer.getvalue():
            self.ctx.transcript(buffer.getvalue().rstrip("\n"))
        return result


class GatedLiquidHandlerBackend:
    """Any PLR liquid-handling backend (the STAR and OT-2 chatterboxes, real robots), made to behave
    like :class:`SimulatedLiquidHandlerBackend` towards the executor: replayed actions are not sent,
    live ones are reported, injected faults fire.

    A wrapper rather than a subclass: the wrapped class comes from the deck layout.  Every other
    attribute is the wrapped backend's.  The gated methods take ``**backend_kwargs``, so PLR's
    frontend passes its keyword arguments through unfiltered and the wrapped method checks them.
    """

    def __init__(
        self,
        wrapped: Any,
        name: str,
        ctx: ActionContext,
        *,
        capture_stdout: bool = False,
        record_started: bool = False,
    ):
        self.wrapped = wrapped
        self.gate = _Gate(name, ctx, capture_stdout, record_started)

    def __getattr__(self, attribute: str) -> Any:
        # only reached for what the wrapper itself does not define
        return getattr(self.wrapped, attribute)

    async def _act(
        self, kind: str, method: Callable[..., Awaitable[Any]], ops: Any, use_channels: Any, kwargs
    ) -> Any:
        gate = self.gate
        k, live = gate.ctx.begin()
        if not live:
            return None
        gate.link.check()
        if kind == "pick_up_tips":
            _maybe_tip_fault(gate.name, gate.ctx, ops, use_channels)
        data = _lh_report(kind, ops, use_channels, gate.ctx.label_of)
        if gate.record_started:
            gate.ctx.report(k, gate.name, kind + ":started", data)
        result = await gate.send(method(ops=ops, use_channels=use_channels, **kwargs))
        gate.ctx.report(k, gate.name, kind, data)
        return result

    async def pick_up_tips(self, ops, use_channels, **backend_kwargs):
        return await self._act(
            "pick_up_tips", self.wrapped.pick_up_tips, ops, use_channels, backend_kwargs
        )

    async def drop_tips(self, ops, use_channels, **backend_kwargs):
        return await self._act(
            "drop_tips", self.wrapped.drop_tips, ops, use_channels, backend_kwargs
        )

    async def aspirate(self, ops, use_channels, **backend_kwargs):
        return await self._act("aspirate", self.wrapped.aspirate, ops, use_channels, backend_kwargs)

    async def dispense(self, ops, use_channels, **backend_kwargs):
        return await self._act("dispense", self.wrapped.dispense, ops, use_channels, backend_kwargs)


_LIQUID_HANDLING_METHODS = ("pick_up_tips", "drop_tips", "aspirate", "dispense")


def _signature_computed_once(cls: type, names: tuple[str, ...]) -> None:
    """PyLabRobot's ``LiquidHandler._check_args`` calls ``inspect.signature`` on the backend's
    method for every pick-up, drop, aspirate and dispense, and Python builds a signature from
    scratch each time (~10 % of a simulated run's execution).  A function's ``__signature__`` is
    what ``inspect.signature`` returns for it: computed once here, the same signature."""
    for name in names:
        function = cls.__dict__[name]
        function.__signature__ = inspect.signature(function)


class GatedPowderDispenserBackend:
    """A PLR powder-dispenser backend other than the simulated one (the deck layout's), gated like
    :class:`GatedLiquidHandlerBackend`; the doses reported are what the device says it dispensed."""

    def __init__(
        self, wrapped: Any, name: str, ctx: ActionContext, *, record_started: bool = False
    ):
        self.wrapped = wrapped
        self.gate = _Gate(name, ctx, capture_stdout=False, record_started=record_started)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.wrapped, attribute)

    async def dispense(
        self, dispense_parameters: list[PowderDispense], **backend_kwargs
    ) -> list[DispenseResults]:
        gate = self.gate
        k, live = gate.ctx.begin()
        if not live:
            return [DispenseResults(actual_amount=float(d.amount)) for d in dispense_parameters]
        gate.link.check()
        doses = [
            {"at": gate.ctx.label_of(d.resource), "powder": d.powder.name, "mg": float(d.amount)}
            for d in dispense_parameters
        ]
        if gate.record_started:
            gate.ctx.report(k, gate.name, "dispense_powder:started", {"doses": doses})
        results = await gate.send(self.wrapped.dispense(dispense_parameters, **backend_kwargs))
        for dose, result in zip(doses, results or (), strict=False):
            if isinstance(result, dict) and "actual_amount" in result:
                dose["mg"] = float(result["actual_amount"])
        gate.ctx.report(k, gate.name, "dispense_powder", {"doses": doses})
        return results


_signature_computed_once(SimulatedLiquidHandlerBackend, _LIQUID_HANDLING_METHODS)
_signature_computed_once(GatedLiquidHandlerBackend, _LIQUID_HANDLING_METHODS)
