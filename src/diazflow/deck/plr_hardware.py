"""PyLabRobot 0.2.2 hardware backends, with what they need to start on a real robot.

Each class here is PyLabRobot's own driver, subclassed only where 0.2.2 cannot bring the device
up or drive it as the vendor documents (found against Opentrons' real robot-server on simulated
hardware, and in PLR's source; ``/work/shared/notes/real-robots.md``, ``docs/hardware.md``):

* :class:`OT2Backend` — ``OpentronsOT2Backend`` whose robot software version compares as a
  version: PLR compares it as a string, so a robot on 10.0.0 counts as older than 7.1.0 and every
  tip drop into the fixed trash fails.
* :class:`OT2Backend` and :class:`OT2ChatterboxBackend` also draw an air gap after aspirating a
  volatile liquid (``air_gap_ul``, from its liquid class) and expel it with the dispense: PLR's
  backend ignores air gaps, and DCM or methanol drip from an OT-2 tip without one.  Opentrons'
  own ``air_gap`` does the same: an ``aspirateInPlace`` above the well.
* :class:`OT2TemperatureModuleBackend` — ``OpentronsTemperatureModuleBackend`` that loads the
  module into the robot-server's run at set-up (without it every module command fails with
  ``ModuleNotLoadedError``), finds the module's id itself when the layout gives none, and says that
  the Temperature Module GEN2 cools (a Peltier module, 4-95 °C: Opentrons, "Temperature Module
  GEN2" specifications); PLR says it cannot, and then refuses every setpoint below the current
  temperature.
* :class:`ThermoshakeBackend` — ``InhecoThermoshakeBackend`` that sets up (and stops) its Inheco
  TEC control box: the box is not a PLR machine, nothing else connects it, and the first command
  fails with ``RuntimeError: Call setup() first``.  It also sends shaker speeds as whole rpm (PLR
  formats a float as ``1SSR600.0``, which the firmware does not read).
* :class:`HamiltonHeaterShakerBackend` — PLR's ``HamiltonHeaterShakerBackend`` that sets up (and
  stops) its USB ``HamiltonHeaterShakerBox``: PLR's backend only initialises the plate lock and
  the drive, and PyLabRobot's docs say to call the box's ``setup()`` first ("call .setup() once
  for the control box, and then HeaterShaker.setup()"); nothing in a built deck would.

Imported only when a chatterbox or hardware deck is built (it imports PyLabRobot and, at set-up, the drivers of
the ``hardware`` extra).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from packaging.version import InvalidVersion, Version
from pylabrobot.heating_shaking.backend import HeaterShakerBackend
from pylabrobot.heating_shaking.hamilton_backend import (
    HamiltonHeaterShakerBackend as PlrHamiltonHeaterShakerBackend,
)
from pylabrobot.heating_shaking.inheco.thermoshake_backend import InhecoThermoshakeBackend
from pylabrobot.liquid_handling.backends.opentrons_backend import OpentronsOT2Backend
from pylabrobot.liquid_handling.backends.opentrons_chatterbox import (
    OpentronsOT2ChatterboxBackend,
)
from pylabrobot.temperature_controlling.opentrons_backend import (
    OpentronsTemperatureModuleBackend,
)

# Opentrons module models as the robot-server names them (GET /modules "moduleModel").
OT2_TEMPERATURE_MODULE_MODELS = ("temperatureModuleV1", "temperatureModuleV2")


class RobotSoftwareVersion(str):
    """A version string that compares as a version (``"10.0.0" > "7.1.0"``).

    PLR stores the robot's ``api_version`` and compares it with ``>=`` against a string constant;
    this keeps it a ``str`` for everything else PLR does with it.
    """

    def _version(self) -> Version | None:
        try:
            return Version(str(self))
        except InvalidVersion:
            return None

    def _compare(self, other: object) -> tuple[Version, Version] | None:
        mine = self._version()
        try:
            theirs = Version(str(other))
        except InvalidVersion:
            return None
        return None if mine is None else (mine, theirs)

    def __ge__(self, other: object) -> bool:
        pair = self._compare(other)
        return str.__ge__(self, str(other)) if pair is None else pair[0] >= pair[1]

    def __gt__(self, other: object) -> bool:
        pair = self._compare(other)
        return str.__gt__(self, str(other)) if pair is None else pair[0] > pair[1]

    def __le__(self, other: object) -> bool:
        pair = self._compare(other)
        return str.__le__(self, str(other)) if pair is None else pair[0] <= pair[1]

    def __lt__(self, other: object) -> bool:
        pair = self._compare(other)
        return str.__lt__(self, str(other)) if pair is None else pair[0] < pair[1]

    __hash__ = str.__hash__


class _OT2AirGaps(OpentronsOT2Backend):
    """Air gaps on the OT-2: after PLR's aspiration the tip is at traversal height above the
    well, so a further ``aspirateInPlace`` there draws air; the dispense then expels liquid and
    air together (a dispense of the liquid alone would leave that much liquid in the tip)."""

    async def aspirate(
        self, ops: list[Any], use_channels: list[int], air_gap_ul: list[float] | None = None
    ) -> None:
        await super().aspirate(ops, use_channels)
        air = (air_gap_ul or [0.0])[0]
        if air > 0:
            pipette_id = self._get_liquid_pipette(ops)
            self._ot.lh.aspirate_in_place(
                volume=air,
                flow_rate=ops[0].flow_rate
                or self._get_default_aspiration_flow_rate(self.get_pipette_name(pipette_id)),
                pipette_id=pipette_id,
            )

    async def dispense(
        self, ops: list[Any], use_channels: list[int], air_gap_ul: list[float] | None = None
    ) -> None:
        gaps = air_gap_ul or [0.0] * len(ops)
        with_air = [
            dataclasses.replace(op, volume=op.volume + g) for op, g in zip(ops, gaps, strict=True)
        ]
        await super().dispense(with_air, use_channels)


class OT2ChatterboxBackend(_OT2AirGaps, OpentronsOT2ChatterboxBackend):
    """PLR's OT-2 chatterbox (the real backend on a recording transport), with air gaps."""


class OT2Backend(_OT2AirGaps):
    """PLR's OT-2 backend, with the robot software version compared as a version."""

    ot_api_version: str | None  # set by PLR's set-up from GET /health

    async def setup(self, skip_home: bool = False) -> None:
        await super().setup(skip_home=skip_home)
        if self.ot_api_version is not None:
            self.ot_api_version = RobotSoftwareVersion(self.ot_api_version)


def _ot_api() -> Any:
    import ot_api  # the Opentrons HTTP client of the hardware extra (pylabrobot[opentrons])

    return ot_api


class OT2TemperatureModuleBackend(OpentronsTemperatureModuleBackend):
    """PLR's OT-2 Temperature Module backend, loaded into the run and allowed to cool.

    ``slot`` and ``model`` come from the deck layout (the module's ``location`` and ``plr.model``);
    ``opentrons_id`` is optional: with one module of that model connected, set-up finds it.
    """

    opentrons_id: str

    def __init__(
        self, slot: int, model: str = "temperatureModuleV2", opentrons_id: str | None = None
    ):
        super().__init__(opentrons_id=opentrons_id or "")
        self.slot = slot
        self.model = model

    @property
    def supports_active_cooling(self) -> bool:
        return True

    async def setup(self) -> None:
        """After the OT-2 backend's set-up (which creates the run): load the module into the run."""
        await super().setup()
        api = _ot_api()
        if not self.opentrons_id:
            self.opentrons_id = self._find_module_id(api.modules.list_connected_modules())
        api.modules.load_module(slot=self.slot, model=self.model, module_id=self.opentrons_id)

    def _find_module_id(self, connected: list[dict[str, Any]]) -> str:
        matches = [m for m in connected if m.get("moduleModel") == self.model]
        if len(matches) != 1:
            found = ", ".join(str(m.get("moduleModel")) for m in connected) or "none"
            raise RuntimeError(
                f"expected one connected {self.model}, found {len(matches)} (connected: {found}); "
                "set opentrons_id in the deck layout"
            )
        return str(matches[0]["id"])

    def serialize(self) -> dict[str, Any]:
        return {**super().serialize(), "slot": self.slot, "model": self.model}


class _ConnectsItsBox(HeaterShakerBackend):
    """A heater-shaker backend whose control box (PLR's ``interface``) is no PLR machine, so
    nothing else connects it: set it up before the device and stop it after."""

    interface: Any

    async def setup(self) -> None:
        await self.interface.setup()
        await super().setup()

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            await self.interface.stop()


class ThermoshakeBackend(_ConnectsItsBox, InhecoThermoshakeBackend):
    """PLR's Inheco ThermoShake backend that connects its TEC control box itself."""

    async def set_shaker_speed(self, speed: float) -> None:
        await super().set_shaker_speed(int(round(speed)))


class HamiltonHeaterShakerBackend(_ConnectsItsBox, PlrHamiltonHeaterShakerBackend):
    """PLR's Hamilton Heater Shaker backend that connects its Heater Shaker Box itself."""
