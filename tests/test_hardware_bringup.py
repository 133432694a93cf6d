"""Hardware bring-up: the devices of the shipped decks start the way the real ones must.

The OT-2 is driven over HTTP by PyLabRobot's real backend and the real Opentrons client
(``ot_api``) against a stand-in for the robot-server on 127.0.0.1 that answers as robot-server
8.1 does (shapes from Opentrons' HTTP API, checked by hand against the real server, see
``docs/hardware.md``) and keeps every request: the test reads that transcript.  The Inheco control
box is a stand-in at PLR's HID boundary (``send_command``), recording the firmware strings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import ot_api  # the real Opentrons HTTP client (opentrons-http-api-client, in the test extra)
import pytest

from conftest import REPO
from diazflow.compiler.plan import Aspirate, Dispense, Sample


class FakeRobotServer:
    """Answers the robot-server endpoints PyLabRobot's OT-2 set-up uses; records each request."""

    def __init__(self, api_version: str, modules: list[dict[str, Any]]):
        self.api_version = api_version
        self.modules = modules
        self.requests: list[tuple[str, str, Any]] = []
        self.commands: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def _reply(self, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, None))
                self._reply(server.get(self.path))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length)) if length else None
                server.requests.append(("POST", self.path, data))
                self._reply(server.post(self.path, data))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def get(self, path: str) -> Any:
        if path == "/health":
            return {"name": "fake-ot2", "api_version": self.api_version, "robot_model": "OT-2"}
        if path == "/pipettes":
            return {
                "left": {"name": "p300_single_gen2", "model": "p300_single_v2.1"},
                "right": {"name": "p20_single_gen2", "model": "p20_single_v2.2"},
            }
        if path == "/modules":
            return {"data": self.modules}
        if "/commands/" in path:
            command_id = path.rsplit("/", 1)[1]
            return {"data": self.commands[command_id]}
        raise AssertionError(f"unexpected GET {path}")

    def post(self, path: str, data: Any) -> Any:
        if path == "/runs":
            return {"data": {"id": "run-1"}}
        if path == "/robot/home":
            return {"message": "Homing robot."}
        if path.endswith("/commands"):
            command_id = f"cmd-{next(self._ids)}"
            command = data["data"]
            result: dict[str, Any] = {}
            if command["commandType"] == "loadPipette":
                result = {"pipetteId": f"pipette-{command['params']['mount']}"}
            elif command["commandType"] == "loadModule":
                result = {"moduleId": command["params"]["moduleId"], "model": "temperatureModuleV2"}
            self.commands[command_id] = {"id": command_id, "status": "succeeded", "result": result}
            return {"data": {"id": command_id}}
        raise AssertionError(f"unexpected POST {path}")

    def commands_posted(self) -> list[dict[str, Any]]:
        return [data["data"] for method, path, data in self.requests if path.endswith("/commands")]

    def __enter__(self) -> FakeRobotServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


TEMPERATURE_MODULE = {
    "id": "tm-42",
    "serialNumber": "TDV21P20201224",
    "moduleModel": "temperatureModuleV2",
    "moduleType": "temperatureModuleType",
    "data": {"status": "idle", "currentTemperature": 23.5},
}


def _ot2_hardware(port: int):
    from diazflow.deck import load_deck
    from diazflow.deck.plr import build_plr

    spec = load_deck(str(REPO / "deck_layouts" / "ot2_tempmodule.yaml"))
    setup = build_plr(spec, "hardware")
    # the layout names the robot's address; the stand-in listens on this machine
    ot_api.set_host("127.0.0.1")
    ot_api.set_port(port)
    return setup


def test_ot2_loads_its_temperature_module_into_the_run_at_set_up():
    from diazflow.deck.plr_hardware import OT2Backend, OT2TemperatureModuleBackend

    with FakeRobotServer("10.0.0", [TEMPERATURE_MODULE]) as robot:
        setup = _ot2_hardware(robot.port)
        assert isinstance(setup.liquid_handler.backend, OT2Backend)
        module_backend = setup.module("temperature_module").backend
        assert isinstance(module_backend, OT2TemperatureModuleBackend)
        asyncio.run(setup.setup())
        loads = [c for c in robot.commands_posted() if c["commandType"] == "loadModule"]
        # the module of the layout (slot 3, GEN2), found by its model among the connected ones
        assert loads == [
            {
                "commandType": "loadModule",
                "params": {
                    "location": {"slotName": "3"},
                    "model": "temperatureModuleV2",
                    "moduleId": "tm-42",
                },
                "intent": "setup",
            }
        ]
        # it is loaded after the run exists and the pipettes are loaded, into that run
        order = [c["commandType"] for c in robot.commands_posted()]
        assert order == ["loadPipette", "loadPipette", "loadModule"]
        assert all(
            path.startswith("/runs/run-1/") for _, path, _ in robot.requests if "commands" in path
        )
        # a Peltier module: cooling below the current temperature is allowed
        assert module_backend.supports_active_cooling


def test_ot2_with_two_modules_of_the_model_needs_an_id():
    from diazflow.deck.plr import DeviceSetupError

    second = dict(TEMPERATURE_MODULE, id="tm-43")
    with FakeRobotServer("8.1.0", [TEMPERATURE_MODULE, second]) as robot:
        setup = _ot2_hardware(robot.port)
        with pytest.raises(DeviceSetupError) as info:
            asyncio.run(setup.setup())
        assert info.value.device == "module 'temperature_module'"
        assert "expected one connected temperatureModuleV2, found 2" in str(info.value)
        assert not [c for c in robot.commands_posted() if c["commandType"] == "loadModule"]


def test_robot_software_version_compares_as_a_version():
    from pylabrobot.liquid_handling.backends import opentrons_backend

    from diazflow.deck.plr_hardware import RobotSoftwareVersion

    threshold = opentrons_backend._OT_DECK_IS_ADDRESSABLE_AREA_VERSION  # what PLR compares with
    assert "10.0.0" < threshold  # the defect: as strings, 10.0.0 is older than 7.1.0
    assert RobotSoftwareVersion("10.0.0") >= threshold
    assert RobotSoftwareVersion("8.1.0") >= threshold
    assert not RobotSoftwareVersion("7.0.2") >= threshold
    assert RobotSoftwareVersion("7.1.0") >= threshold and RobotSoftwareVersion("7.1.0") == "7.1.0"


def test_ot2_backend_keeps_the_version_as_a_version_after_set_up():
    with FakeRobotServer("10.0.0", [TEMPERATURE_MODULE]) as robot:
        setup = _ot2_hardware(robot.port)
        asyncio.run(setup.liquid_handler.setup())
        version = setup.liquid_handler.backend.ot_api_version
        assert version == "10.0.0" and version >= "7.1.0"


class RecordingControlBox:
    """The Inheco TEC control box at PLR's boundary: set-up, stop and firmware strings."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def setup(self) -> None:
        self.events.append("setup")

    async def stop(self) -> None:
        self.events.append("stop")

    async def send_command(self, command: str, **kwargs: Any) -> str:
        if "setup" not in self.events:
            raise RuntimeError("Call setup() first")  # what PLR's HID layer says
        self.events.append(command)
        return "0"


def test_thermoshake_sets_up_its_control_box_and_sends_whole_rpm():
    from diazflow.deck import load_deck
    from diazflow.deck.plr import build_plr
    from diazflow.deck.plr_hardware import ThermoshakeBackend

    spec = load_deck(str(REPO / "deck_layouts" / "starlet_chem.yaml"))
    box = RecordingControlBox()
    shaker = build_plr(spec, "hardware").module("heater_cooler_shaker").backend
    assert isinstance(shaker, ThermoshakeBackend)
    shaker.interface = box

    async def bring_up_and_shake() -> None:
        await shaker.setup()
        await shaker.start_shaking(600.0)
        await shaker.stop()

    asyncio.run(bring_up_and_shake())
    assert box.events[0] == "setup" and box.events[-1] == "stop"
    assert "1SSR600" in box.events and "1SSR600.0" not in box.events


class RecordingHeaterShakerBox:
    """The Hamilton Heater Shaker Box at PLR's boundary: set-up, stop and firmware commands."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def setup(self) -> None:
        self.events.append("setup")

    async def stop(self) -> None:
        self.events.append("stop")

    async def send_hhs_command(self, index: int, command: str, **kwargs: Any) -> str:
        if "setup" not in self.events:
            raise RuntimeError("USB device not set up")  # the box's USB connection is not open
        args = "".join(f"{key}{value}" for key, value in kwargs.items())
        self.events.append(f"T{index}{command}{args}")
        return "rd1"  # "is shaking" for PLR's start loop (RD answers ...1)


def test_evo_heater_shaker_sets_up_its_box_and_heats_within_the_device_range():
    """The EVO's Hamilton Heater Shaker: the box is set up before PLR initialises the lock and
    drive; 105 °C (the profile's ceiling, PLR's assert) goes out as TA1050, 106 °C never does."""
    from pylabrobot.heating_shaking import HamiltonHeaterShakerBackend as PlrHHS
    from pylabrobot.heating_shaking import HamiltonHeaterShakerBox

    from diazflow.deck import load_deck
    from diazflow.deck.plr import build_plr
    from diazflow.deck.plr_hardware import HamiltonHeaterShakerBackend

    spec = load_deck(str(REPO / "deck_layouts" / "evo150_chem.yaml"))
    # without the troughs EVOBackend cannot pipette from (refused when the hardware deck is built)
    spec = dataclasses.replace(
        spec, labware={n: lw for n, lw in spec.labware.items() if lw.role != "reagent_reservoir"}
    )
    shaker = build_plr(spec, "hardware").module("heater_shaker").backend
    assert isinstance(shaker, HamiltonHeaterShakerBackend) and isinstance(shaker, PlrHHS)
    assert isinstance(shaker.interface, HamiltonHeaterShakerBox) and shaker.index == 0
    assert not shaker.supports_active_cooling  # the deck's "no active cooling"
    box = RecordingHeaterShakerBox()
    shaker.interface = box
    ceiling = spec.modules["heater_shaker"].max_temp_c

    async def bring_up_heat_and_shake() -> None:
        await shaker.setup()
        await shaker.set_temperature(ceiling)
        with pytest.raises(AssertionError):
            await shaker.set_temperature(ceiling + 1)
        await shaker.start_shaking(600)
        await shaker.stop()

    asyncio.run(bring_up_heat_and_shake())
    assert box.events[:3] == ["setup", "T0LI", "T0SI"] and box.events[-1] == "stop"
    assert "T0TAta1050" in box.events and not any("ta1060" in e for e in box.events)
    assert any(e.startswith("T0SB") and "sv0600" in e for e in box.events)


def test_a_device_that_does_not_come_up_stops_the_run_with_exit_3(tmp_path, run_diazflow):
    import socket
    import sqlite3

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    layout = (REPO / "deck_layouts" / "ot2_tempmodule.yaml").read_text()
    layout = layout.replace("host: 169.254.10.10, port: 31950", f"host: 127.0.0.1, port: {port}")
    layout = layout.replace("../simulators/", f"{REPO / 'simulators'}/")
    (tmp_path / "ot2.yaml").write_text(layout)
    journal = tmp_path / "run.sqlite"
    proc = run_diazflow(
        "run",
        REPO / "workflows" / "n4_michael_addition.yaml",
        "--deck",
        tmp_path / "ot2.yaml",
        "--backend",
        "hardware",
        "--journal",
        journal,
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "set-up of the liquid handler failed" in errors[0], proc.stderr
    with sqlite3.connect(journal) as db:
        status, message = db.execute("SELECT status, message FROM run").fetchone()
        events = [row[0] for row in db.execute("SELECT event FROM events ORDER BY seq")]
    assert status == "failed" and "set-up of the liquid handler failed" in message
    assert events == ["run_started", "run_failed"]  # not one operation was started


# --------------------------------------------------------------------------- calibration offsets


def _positions(line: str) -> dict[str, list[int]]:
    """``xp``, ``yp`` and ``zx`` of a STAR firmware command, per channel, in 0.1 mm."""
    import re

    out = {}
    for key in ("xp", "yp", "zx"):
        match = re.search(key + r"((?:\d+ ?)+)", line)
        assert match, (key, line[:80])
        out[key] = [int(v) for v in match.group(1).split()]
    return out


def _star_transcript(tmp_path, deck_text: str, name: str) -> tuple[list[str], Any]:
    from diazflow.pipeline import check
    from diazflow.runtime.runner import run_plan

    deck = tmp_path / f"{name}.yaml"
    deck.write_text(deck_text.replace("../simulators/", f"{REPO / 'simulators'}/"))
    protocol = REPO / "tests" / "data" / "runtime" / "starlet_dropwise_16.yaml"
    result = check(str(protocol), deck_override=str(deck))
    assert result.plan is not None, [str(d) for d in result.diagnostics if d.is_error]
    journal = tmp_path / f"{name}.sqlite"
    outcome = run_plan(result, journal_path=str(journal), quiet=True, backend="chatterbox")
    assert outcome.exit_code == 0, outcome.message
    return (tmp_path / f"{name}.sqlite.commands.txt").read_text().splitlines(), result.plan


def test_labware_offsets_move_every_position_on_that_labware(tmp_path):
    layout = (REPO / "deck_layouts" / "starlet_chem.yaml").read_text()
    anchor = "  reaction_block:\n"
    assert layout.count(anchor) == 1
    calibrated = layout.replace(
        anchor, anchor + "    offset: {x: 1.5, y: -0.5, z: 2.0}   # taught on the robot\n"
    )
    plain, plan = _star_transcript(tmp_path, layout, "plain")
    shifted, _ = _star_transcript(tmp_path, calibrated, "calibrated")
    assert len(plain) == len(shifted)

    def delta(before: str, after: str) -> set[tuple[int, int, int]]:
        p, q = _positions(before), _positions(after)
        return {
            (qx - px, qy - py, qz - pz)
            for px, qx, py, qy, pz, qz in zip(
                p["xp"], q["xp"], p["yp"], q["yp"], p["zx"], q["zx"], strict=True
            )
        }

    moves: dict[str, list[tuple[int, int, int]]] = {"C0AS": [], "C0DS": []}
    for before, after in zip(plain, shifted, strict=True):
        if before[:4] in moves:
            (d,) = delta(before, after)  # every channel moved alike
            moves[before[:4]].append(d)
    # independently of the executor: which operations touch the reaction block, from the plan
    # (additions dispense into it; samples aspirate from it and dispense into the sample plate)
    dispenses_in = sum(isinstance(op, Dispense) for op in plan.operations)
    samples = sum(isinstance(op, Sample) for op in plan.operations)
    aspirates_from_stocks = sum(isinstance(op, Aspirate) for op in plan.operations)
    offset, none = (15, -5, 20), (0, 0, 0)
    assert moves["C0DS"].count(offset) == dispenses_in and dispenses_in > 0
    assert moves["C0DS"].count(none) == samples
    assert moves["C0AS"].count(offset) == samples and samples > 0
    assert moves["C0AS"].count(none) == aspirates_from_stocks
