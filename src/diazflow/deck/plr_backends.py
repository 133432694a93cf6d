"""PyLabRobot backends diazflow ships for ``simulate`` and ``chatterbox`` runs.

Imported only by :mod:`diazflow.deck.plr` when a deck is built (it imports PyLabRobot).

* :class:`RecordingLiquidHandlerBackend` — PLR's generic chatterbox, silent, keeping every
  operation as PLR's own ``standard`` dataclasses; it also refuses tips a channel cannot carry
  (the OT-2's P20 takes 20 µL tips only), like the real backends do;
* :class:`ProfiledTemperatureBackend` / :class:`ProfiledHeaterShakerBackend` — what PLR's
  temperature chatterbox should be: it starts at ambient (PLR's starts at 0 °C), cools only
  when the device's profile says it can (PLR's never can), and refuses temperatures and speeds
  outside the profile's range (PLR checks none).  Setpoints are reached at once: the runtime
  simulator replaces these with backends on a virtual clock;
* :class:`RecordingPowderDispenserBackend` — records doses and reports them as dispensed;
* :class:`IdentityCheckLiquidHandler` — PLR's ``LiquidHandler`` with a deck-membership check by
  identity, 100× cheaper than PLR's (see the class).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pylabrobot.heating_shaking.backend import HeaterShakerBackend
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.liquid_handling.backends.backend import LiquidHandlerBackend
from pylabrobot.liquid_handling.backends.chatterbox import LiquidHandlerChatterboxBackend
from pylabrobot.powder_dispensing.backend import (
    DispenseResults,
    PowderDispense,
    PowderDispenserBackend,
)
from pylabrobot.resources import Resource, Tip
from pylabrobot.temperature_controlling.backend import TemperatureControllerBackend

from diazflow.deck.profiles import ShakerModel, ThermalModel


@dataclass
class RecordedCall:
    """One call a backend received: ``op`` is the backend method, ``ops`` PLR's standard objects."""

    op: str
    ops: Any
    use_channels: list[int] | None = None
    kwargs: dict = field(default_factory=dict)


class RecordingLiquidHandlerBackend(LiquidHandlerChatterboxBackend):
    """A silent chatterbox that keeps what it was asked to do in :attr:`calls`."""

    def __init__(
        self,
        num_channels: int = 8,
        channel_tip_volumes: Mapping[int, Collection[float]] | None = None,
        verbose: bool = False,
    ):
        """``channel_tip_volumes``: channel → the PLR ``Tip.maximal_volume`` values it can carry
        (missing channel = any tip)."""
        super().__init__(num_channels=num_channels)
        self.calls: list[RecordedCall] = []
        self.verbose = verbose
        self._channel_tip_volumes = {
            c: frozenset(v) for c, v in (channel_tip_volumes or {}).items()
        }

    @property
    def channel_tip_volumes(self) -> Mapping[int, frozenset[float]]:
        """Channel → the tip volumes it can carry, for channels that do not take every tip."""
        return self._channel_tip_volumes

    async def setup(self):
        await LiquidHandlerBackend.setup(self)
        if self.verbose:
            print("Setting up the liquid handler.")

    async def stop(self):
        pass

    def _record(self, op: str, ops: Any, use_channels: list[int] | None = None, **kwargs) -> None:
        self.calls.append(
            RecordedCall(
                op, ops, list(use_channels) if use_channels is not None else None, dict(kwargs)
            )
        )

    async def pick_up_tips(self, ops, use_channels, **backend_kwargs):
        self._record("pick_up_tips", ops, use_channels, **backend_kwargs)
        if self.verbose:
            await super().pick_up_tips(ops, use_channels, **backend_kwargs)

    async def drop_tips(self, ops, use_channels, **backend_kwargs):
        self._record("drop_tips", ops, use_channels, **backend_kwargs)
        if self.verbose:
            await super().drop_tips(ops, use_channels, **backend_kwargs)

    async def aspirate(self, ops, use_channels, **backend_kwargs):
        self._record("aspirate", ops, use_channels, **backend_kwargs)
        if self.verbose:
            await super().aspirate(ops, use_channels, **backend_kwargs)

    async def dispense(self, ops, use_channels, **backend_kwargs):
        self._record("dispense", ops, use_channels, **backend_kwargs)
        if self.verbose:
            await super().dispense(ops, use_channels, **backend_kwargs)

    async def pick_up_tips96(self, pickup, **backend_kwargs):
        self._record("pick_up_tips96", pickup, **backend_kwargs)

    async def drop_tips96(self, drop, **backend_kwargs):
        self._record("drop_tips96", drop, **backend_kwargs)

    async def aspirate96(self, aspiration, **backend_kwargs):
        self._record("aspirate96", aspiration, **backend_kwargs)

    async def dispense96(self, dispense, **backend_kwargs):
        self._record("dispense96", dispense, **backend_kwargs)

    async def pick_up_resource(self, pickup):
        self._record("pick_up_resource", pickup)

    async def move_picked_up_resource(self, move):
        self._record("move_picked_up_resource", move)

    async def drop_resource(self, drop):
        self._record("drop_resource", drop)

    def can_pick_up_tip(self, channel_idx: int, tip: Tip) -> bool:
        if not 0 <= channel_idx < self.num_channels:
            return False
        allowed = self._channel_tip_volumes.get(channel_idx)
        return allowed is None or tip.maximal_volume in allowed


class ProfiledTemperatureBackend(TemperatureControllerBackend):
    """A temperature controller that behaves as its profile says, reaching setpoints at once."""

    def __init__(self, thermal: ThermalModel, verbose: bool = False):
        super().__init__()
        self.thermal = thermal
        self.verbose = verbose
        self.current_c = thermal.ambient_c
        self.target_c: float | None = None
        self.calls: list[RecordedCall] = []

    @property
    def supports_active_cooling(self) -> bool:
        return self.thermal.active_cooling

    def _log(self, op: str, **kwargs) -> None:
        self.calls.append(RecordedCall(op, None, kwargs=kwargs))
        if self.verbose:
            print(
                f"{type(self).__name__}.{op}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
            )

    async def setup(self):
        self._log("setup")

    async def stop(self):
        self._log("stop")

    async def set_temperature(self, temperature: float):
        if not self.thermal.in_range(temperature):
            raise ValueError(
                f"{temperature:g} °C is outside this module's range "
                f"({self.thermal.min_c:g} to {self.thermal.max_c:g} °C)"
            )
        self._log("set_temperature", celsius=temperature)
        self.target_c = temperature
        self.current_c = temperature

    async def get_current_temperature(self) -> float:
        return self.current_c

    async def deactivate(self):
        self._log("deactivate")
        self.target_c = None
        self.current_c = self.thermal.ambient_c


class ProfiledHeaterShakerBackend(HeaterShakerBackend, ProfiledTemperatureBackend):
    """A heater-shaker (or heater-cooler-shaker) per its profile; shakes without a clock."""

    def __init__(self, thermal: ThermalModel, shaker: ShakerModel, verbose: bool = False):
        ProfiledTemperatureBackend.__init__(self, thermal, verbose=verbose)
        self.shaker = shaker
        self.speed_rpm = 0.0
        self.locked = False

    async def start_shaking(self, speed: float):
        if not self.shaker.in_range(speed):
            raise ValueError(
                f"{speed:g} rpm is outside this shaker's range ({self.shaker.min_rpm:g}-{self.shaker.max_rpm:g} rpm)"
            )
        self._log("start_shaking", rpm=speed)
        self.speed_rpm = speed

    async def stop_shaking(self):
        self._log("stop_shaking")
        self.speed_rpm = 0.0

    @property
    def supports_locking(self) -> bool:
        return True

    async def lock_plate(self):
        self._log("lock_plate")
        self.locked = True

    async def unlock_plate(self):
        self._log("unlock_plate")
        self.locked = False


class RecordingPowderDispenserBackend(PowderDispenserBackend):
    """Reports every dose as dispensed exactly; keeps (resource name, powder, mg) in :attr:`doses`."""

    def __init__(self, verbose: bool = False):
        super().__init__()
        self.verbose = verbose
        self.doses: list[tuple[str, str, float]] = []

    async def setup(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def dispense(
        self, dispense_parameters: list[PowderDispense], **backend_kwargs
    ) -> list[DispenseResults]:
        results = []
        for d in dispense_parameters:
            self.doses.append((d.resource.name, d.powder.name, d.amount))
            if self.verbose:
                print(f"Dispensing {d.amount:g} mg of {d.powder.name} into {d.resource.name}")
            results.append(DispenseResults(actual_amount=d.amount))
        return results


class IdentityCheckLiquidHandler(LiquidHandler):
    """PLR's ``LiquidHandler``, checking that the resources of an operation are on the deck by
    identity first.

    PLR 0.2.2 checks every tip spot of a pick-up or drop with ``Resource.__eq__``, which compares
    absolute sizes through rotation matrices up the resource tree: ~0.7 ms per spot, 6 ms per
    8-channel tip operation.  The same check by identity costs microseconds; ``==`` remains the
    fallback, so the outcome is PLR's.
    """

    def _assert_resources_exist(self, resources: Sequence[Resource]) -> None:
        for resource in resources:
            found = self.deck.get_resource(resource.name)
            if found is not resource and not found == resource:
                raise ValueError(f"Resource {resource} is not assigned to the deck.")
