"""The runtime (issue 6): clocks, simulated devices, the executor, journals, faults and resuming.

Test protocols live in tests/data/runtime/ (small plates so that the file runs in well under
two minutes); subprocess tests run the real CLI, in-process tests call diazflow.runtime directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from diazflow.runtime.clock import RealClock, ScaledClock, VirtualClock, make_clock
from diazflow.runtime.faults import FaultPlan

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "runtime"
STARLET = DATA / "starlet_dropwise_16.yaml"
OT2 = DATA / "ot2_heat_4.yaml"


# --------------------------------------------------------------------------- helpers


def cli(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diazflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def journal_json(path: Path, cwd: Path) -> dict:
    out = cli("journal", str(path), "--json", cwd=cwd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def checked(path: Path):
    from diazflow.pipeline import check

    result = check(str(path))
    assert result.plan is not None, [str(d) for d in result.diagnostics if d.is_error]
    return result


@pytest.fixture(scope="module")
def starlet():
    return checked(STARLET)


@pytest.fixture(scope="module")
def ot2():
    return checked(OT2)


def first_op(plan, kind: str, **where):
    for op in sorted(plan.operations, key=lambda o: (o.t, o.id)):
        if op.op == kind and all(getattr(op, k) == v for k, v in where.items()):
            return op
    raise AssertionError(f"no {kind} operation with {where}")


def plan_uL(plan) -> dict[str, dict[str, float]]:
    return {w: {r: a.uL for r, a in wp.reagents.items() if a.uL} for w, wp in plan.wells.items()}


def assert_dispensed_equals_plan(state: dict, plan) -> None:
    want = plan_uL(plan)
    assert set(state["dispensed_uL"]) == set(want)
    for well, per in want.items():
        got = state["dispensed_uL"][well]
        assert set(got) == set(per), well
        for reagent, ul in per.items():
            assert got[reagent] == pytest.approx(ul, rel=1e-9, abs=1e-9), (well, reagent)


def exactly_once(journal_path: Path) -> tuple[Counter, Counter]:
    """Per operation, how often it completed; per (operation, action), how often a device did it."""
    with sqlite3.connect(journal_path) as c:
        done = Counter(
            op
            for op, event, data in c.execute(
                "SELECT op_id, event, data FROM events WHERE op_id IS NOT NULL"
            )
            if event == "op_completed"
            or (event == "op_resolved" and json.loads(data or "{}").get("done"))
        )
        actions = Counter(
            (op, a)
            for op, a, kind in c.execute("SELECT op_id, action, kind FROM device_log")
            if not kind.endswith(":started")
        )
    return done, actions


def run_in_process(result, tmp_path: Path, name: str = "run.sqlite", **kwargs):
    from diazflow.runtime.runner import run_plan

    messages: list[str] = []
    outcome = run_plan(
        result, journal_path=str(tmp_path / name), quiet=True, notify=messages.append, **kwargs
    )
    return outcome, messages


def new_journal(result, path: str | Path):
    """A fresh journal for a checked protocol's plan, as ``run`` creates one (simulate)."""
    from diazflow.runtime.journal import Journal

    return Journal.create(
        str(path),
        plan_json=result.plan.to_json(),
        protocol_path=result.path,
        deck_path=result.deck_path,
        vessel_labware="reaction_block",
        backend="simulate",
        speed=None,
    )


def state_of(path: Path) -> dict:
    from diazflow.runtime.runner import journal_state

    return journal_state(str(path)).to_json()


# --------------------------------------------------------------------------- clocks


def test_virtual_clock_runs_a_day_of_sleeps_instantly():
    clock = VirtualClock()

    async def day():
        for _ in range(24 * 60):  # a minute at a time
            await clock.sleep(60)
        await clock.sleep_until(clock.now() - 5)  # never backwards

    t = time.perf_counter()
    asyncio.run(day())
    assert clock.now() == pytest.approx(86400)
    assert time.perf_counter() - t < 0.2


def test_scaled_and_real_clocks_follow_the_wall_clock():
    clock = ScaledClock(200, start_at=100.0)
    t = time.perf_counter()
    asyncio.run(clock.sleep(4.0))  # 4 plan-seconds = 20 ms
    wall = time.perf_counter() - t
    assert 0.015 < wall < 0.5
    assert clock.now() >= 104.0
    assert RealClock().speed == 1 and not RealClock().virtual
    assert (
        make_clock(None).virtual
        and isinstance(make_clock(5), ScaledClock)
        and isinstance(make_clock(None, hardware=True), RealClock)
    )
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_a_day_long_plan_simulates_without_waiting_for_it(tmp_path):
    from diazflow.pipeline import check

    protocol = tmp_path / "day.yaml"
    protocol.write_text(
        OT2.read_text().replace("hold: {duration: 30 min}", "hold: {duration: 24 h}")
    )
    result = check(str(protocol), deck_override=str(REPO / "deck_layouts" / "ot2_tempmodule.yaml"))
    assert result.plan is not None and result.plan.makespan_s > 24 * 3600
    outcome, _ = run_in_process(result, tmp_path)
    assert outcome.exit_code == 0, outcome.message
    # the virtual clock never sleeps: a day of plan takes seconds at most even on a loaded
    # machine (how fast exactly is bench/bench_run.py's to measure)
    assert outcome.timings["execute_s"] < 60.0
    assert state_of(Path(outcome.journal_path))["clock_s"] == pytest.approx(result.plan.makespan_s)


# --------------------------------------------------------------------------- simulated modules


def test_simulated_heater_cooler_follows_its_thermal_model(starlet):
    from diazflow.runtime.faults import SetpointOutOfRangeError
    from diazflow.runtime.simulated import SimulatedHeaterShakerBackend

    module = starlet.deck.modules["heater_cooler_shaker"]
    thermal = module.thermal
    clock = VirtualClock()
    dev = SimulatedHeaterShakerBackend("hcs", thermal, module.shaker, clock)

    async def scenario():
        assert await dev.get_current_temperature() == pytest.approx(thermal.ambient_c)
        await dev.set_temperature(4.0)  # active cooling at the profile's rate, to its 4 °C floor
        await clock.sleep(60)
        assert await dev.get_current_temperature() == pytest.approx(
            thermal.ambient_c - thermal.cooling_rate_c_per_min
        )
        await clock.sleep(3600)
        assert await dev.get_current_temperature() == pytest.approx(4.0)
        await dev.set_temperature(40.0)
        await clock.sleep(60)
        assert await dev.get_current_temperature() == pytest.approx(
            4.0 + thermal.heating_rate_c_per_min
        )
        with pytest.raises(SetpointOutOfRangeError):
            await dev.set_temperature(thermal.max_c + 1)
        with pytest.raises(SetpointOutOfRangeError):
            await dev.set_temperature(0.0)  # the ThermoShake does not reach 0 °C
        with pytest.raises(SetpointOutOfRangeError):
            await dev.start_shaking(module.shaker.max_rpm * 2)
        await dev.start_shaking(600)
        assert dev.speed_rpm == 600
        await clock.sleep(3600)
        assert await dev.get_current_temperature() == pytest.approx(40.0)
        await dev.deactivate()  # relaxes towards ambient
        before = await dev.get_current_temperature()
        await clock.sleep(600)
        after = await dev.get_current_temperature()
        assert thermal.ambient_c < after < before

    asyncio.run(scenario())


def test_a_heater_without_active_cooling_cools_passively():
    """The EVO's heater-shaker has no active cooling: a lower set-point is reached by relaxing
    towards ambient (PLR's frontend refuses it unless ``passive=True``, and then never tells the
    device; the executor sets the backend directly)."""
    import math

    from pylabrobot.heating_shaking import HeaterShaker
    from pylabrobot.resources import Coordinate

    from diazflow.deck import load_deck
    from diazflow.runtime.executor import Executor
    from diazflow.runtime.simulated import SimulatedHeaterShakerBackend

    module = load_deck(str(REPO / "deck_layouts" / "evo150_chem.yaml")).modules["heater_shaker"]
    thermal = module.thermal
    assert not thermal.active_cooling
    clock = VirtualClock()
    backend = SimulatedHeaterShakerBackend("hs", thermal, module.shaker, clock)
    machine = HeaterShaker(
        name="hs", size_x=1, size_y=1, size_z=1, backend=backend, child_location=Coordinate(0, 0, 0)
    )

    async def scenario():
        await machine.setup()
        await Executor._set_setpoint(None, machine, 60.0)
        await clock.sleep(3600)
        assert await machine.get_temperature() == pytest.approx(60.0)
        with pytest.raises(ValueError):
            await machine.set_temperature(30.0)  # PLR's own refusal
        await Executor._set_setpoint(None, machine, 30.0)
        assert machine.target_temperature == 30.0 and backend.target_c == 30.0
        tau = thermal.passive_cooling_tau_s
        await clock.sleep(tau)
        expected = thermal.ambient_c + (60.0 - thermal.ambient_c) * math.exp(-1)
        assert await machine.get_temperature() == pytest.approx(expected)
        await clock.sleep(10 * tau)
        assert await machine.get_temperature() == pytest.approx(
            30.0
        )  # the heater holds the set-point

    asyncio.run(scenario())


def test_fault_plan_parsing():
    plan = FaultPlan.parse(["3:tip_not_picked_up"], env="7:connection_lost, 9:temperature_timeout")
    assert plan.faults == {3: "tip_not_picked_up", 7: "connection_lost", 9: "temperature_timeout"}
    with pytest.raises(ValueError):
        FaultPlan.parse(["x:tip_not_picked_up"], env="")
    with pytest.raises(ValueError):
        FaultPlan.parse(["3:meteor_strike"], env="")
    plan.current_op = 3
    assert plan.at("tip_not_picked_up") and not plan.at("tip_not_picked_up")  # fires once


# --------------------------------------------------------------------------- end to end


def test_simulate_run_on_the_command_line(tmp_path):
    journal = tmp_path / "run.sqlite"
    out = cli("run", str(STARLET), "--journal", str(journal), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"journal: {journal}"
    assert "\x1b[" not in out.stdout and "━" not in out.stdout  # no progress bar without a terminal
    state = journal_json(journal, tmp_path)
    plan = checked(STARLET).plan
    assert state["status"] == "complete" and state["in_flight"] == []
    assert state["completed"] == sorted(op.id for op in plan.operations)
    assert_dispensed_equals_plan(state, plan)
    for well, wp in plan.wells.items():
        assert state["dispensed_mg"][well]["k2co3"] == pytest.approx(wp.reagents["k2co3"].mg)
    done, actions = exactly_once(journal)
    assert set(done.values()) == {1}
    assert set(actions.values()) == {1}
    text = cli("journal", str(journal), cwd=tmp_path)
    assert "status      complete" in text.stdout


def test_simulated_run_reports_what_the_devices_did(starlet, tmp_path):
    outcome, messages = run_in_process(starlet, tmp_path)
    assert outcome.exit_code == 0, outcome.message
    assert messages[0].startswith("journal: ")
    from diazflow.runtime.journal import Journal

    j = Journal.open(outcome.journal_path)
    events = {(op, ev): data for _s, op, ev, _c, data in j.events()}
    cool = first_op(starlet.plan, "wait_temperature", celsius=4.0)
    reached = events[(cool.id, "op_completed")]["celsius_reached"]
    assert (
        abs(reached - 4.0) <= starlet.deck.modules["heater_cooler_shaker"].settle_tolerance_c + 1e-9
    )
    dispense = first_op(starlet.plan, "dispense", reagent="halide")
    report = events[(dispense.id, "op_completed")]["device"][0]
    assert (
        report["kind"] == "dispense"
        and [row["uL"] for row in report["channels"]] == dispense.volumes_uL
    )
    assert [row["at"] for row in report["channels"]] == [
        f"reaction_block:{w}" for w in dispense.wells
    ]
    # a controlled ramp ('warm: over 30 min') takes its planned time, not the module's full speed
    warm = first_op(starlet.plan, "set_temperature", celsius=22.0)
    wait = next(
        op for op in starlet.plan.operations if op.op == "wait_temperature" and op.t > warm.t
    )
    assert events[(wait.id, "op_completed")]["waited_s"] == pytest.approx(warm.ramp_s, abs=3.0)
    j.close()


def test_star_chatterbox_keeps_the_firmware_commands(tmp_path):
    journal = tmp_path / "star.sqlite"
    out = cli(
        "run",
        str(STARLET),
        "--backend",
        "chatterbox",
        "--journal",
        str(journal),
        "--quiet",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    commands = Path(str(journal) + ".commands.txt").read_text().splitlines()
    plan = checked(STARLET).plan
    kinds = Counter(op.op for op in plan.operations)
    prefixes = Counter(line[:4] for line in commands)
    assert prefixes["C0TP"] == kinds["pick_up_tips"]
    assert prefixes["C0TR"] == kinds["drop_tips"]
    assert prefixes["C0AS"] == kinds["aspirate"] + kinds["sample"]
    assert prefixes["C0DS"] == kinds["dispense"] + kinds["sample"]
    aspirate = next(line for line in commands if line.startswith("C0AS"))
    assert "tm1 1 1 1 1 1 1 1" in aspirate  # all eight channels
    state = journal_json(journal, tmp_path)
    assert state["status"] == "complete"
    assert_dispensed_equals_plan(state, plan)


def test_ot2_chatterbox_uses_the_p20_for_small_volumes(ot2, tmp_path):
    outcome, _ = run_in_process(ot2, tmp_path, backend="chatterbox")
    assert outcome.exit_code == 0, outcome.message
    calls = Path(outcome.journal_path + ".commands.txt").read_text()
    assert "lh.pick_up_tip(" in calls and "lh.aspirate_in_place(volume=11.0" in calls
    # the plan says channel 0 for its 20 µL tips; only the right mount (P20) carries them
    assert "pipette_id='chatterbox-right'" in calls and "pipette_id='chatterbox-left'" in calls
    assert_dispensed_equals_plan(state_of(Path(outcome.journal_path)), ot2.plan)


def test_evo_generic_chatterbox_prints_into_the_transcript(tmp_path, capsys):
    """The EVO's chatterbox is PLR's generic one, which prints tables; they belong in the
    transcript, not on the terminal.  Its deck has no trash area: tips go to the layout's waste."""
    from diazflow.pipeline import check

    protocol = tmp_path / "evo.yaml"
    text = STARLET.read_text()
    for old, new in (
        ("cool: {to: 4 degC}", "heat: {to: 40 degC}"),
        (", keep_below: 5 degC", ""),
        ("warm: {to: rt, over: 30 min}", "cool: {to: 30 degC}"),
        ("  - add: {reagent: k2co3, equiv: 2.0}\n", ""),
    ):
        text = text.replace(old, new)
    protocol.write_text(text)
    result = check(str(protocol), deck_override=str(REPO / "deck_layouts" / "evo150_chem.yaml"))
    assert result.plan is not None, [d.message for d in result.diagnostics if d.is_error]
    capsys.readouterr()
    outcome, _ = run_in_process(result, tmp_path, backend="chatterbox")
    assert outcome.exit_code == 0, outcome.message
    printed = capsys.readouterr()
    assert "Picking up tips" not in printed.out and "Setting up" not in printed.out
    transcript = Path(outcome.journal_path + ".commands.txt").read_text()
    assert transcript.count("Picking up tips:") == sum(
        op.op == "pick_up_tips" for op in result.plan.operations
    )
    assert "wash_waste" in transcript


def test_scaled_speed_run(ot2, tmp_path):
    t = time.perf_counter()
    outcome, _ = run_in_process(ot2, tmp_path, speed=60000.0)
    assert outcome.exit_code == 0, outcome.message
    assert time.perf_counter() - t >= ot2.plan.makespan_s / 60000.0
    assert state_of(Path(outcome.journal_path))["status"] == "complete"


# --------------------------------------------------------------------------- faults


def test_tip_fault_stops_safely_with_one_line_and_exit_3(tmp_path):
    plan = checked(STARLET).plan
    during_cooling = next(op for op in plan.operations if op.op == "pick_up_tips" and op.step == 4)
    journal = tmp_path / "tip.sqlite"
    out = cli(
        "run",
        str(STARLET),
        "--journal",
        str(journal),
        "--inject-fault",
        f"{during_cooling.id}:tip_not_picked_up",
        cwd=tmp_path,
    )
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    # the protocol's own warnings (its halide stocks stand open through the K2CO3 weighing,
    # DF610) come first, each with its hint; the fault is one line after them
    lines = [
        line
        for line in out.stderr.strip().splitlines()
        if ": warning DF" not in line and not line.startswith("  hint:")
    ]
    assert len(lines) == 1 and lines[0].startswith(
        f"error: operation {during_cooling.id} (pick_up_tips"
    )
    assert "tip not picked up" in lines[0] and "cooling kept at 4.0 °C" in lines[0]
    state = journal_json(journal, tmp_path)
    assert state["status"] == "failed" and state["in_flight"] == [during_cooling.id]
    # resume: the pick-up never happened (the simulated device has no record of it) → it runs again
    out = cli("resume", str(journal), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        f"operation {during_cooling.id} (pick_up_tips, step {during_cooling.step + 1}) failed: the simulated device's record shows nothing was done; it runs again"
        in out.stdout
    )
    state = journal_json(journal, tmp_path)
    assert state["status"] == "complete"
    assert_dispensed_equals_plan(state, plan)
    done, actions = exactly_once(journal)
    assert set(done.values()) == {1} and set(actions.values()) == {1}


def _safe_state(journal: str) -> dict:
    from diazflow.runtime.journal import Journal

    j = Journal.open(journal)
    try:
        return [data for _s, _op, ev, _c, data in j.events() if ev == "safe_state"][-1]
    finally:
        j.close()


def test_temperature_timeout_keeps_cooling_and_resumes(starlet, tmp_path):
    wait = first_op(starlet.plan, "wait_temperature", celsius=4.0)
    outcome, _ = run_in_process(
        starlet, tmp_path, faults=FaultPlan({wait.id: "temperature_timeout"})
    )
    assert outcome.exit_code == 3
    assert (
        f"operation {wait.id} (wait_temperature" in outcome.message
        and "did not reach 4 °C" in outcome.message
    )
    safe = _safe_state(outcome.journal_path)
    assert {"device": "heater_cooler_shaker", "action": "keep_cooling", "celsius": 4.0} in safe[
        "actions"
    ]
    assert state_of(Path(outcome.journal_path))["status"] == "failed"
    from diazflow.runtime.runner import resume_run

    messages: list[str] = []
    again = resume_run(outcome.journal_path, quiet=True, notify=messages.append)
    assert again.exit_code == 0, again.message
    assert any(
        f"operation {wait.id} (wait_temperature" in m and "issued again" in m for m in messages
    )
    assert state_of(Path(outcome.journal_path))["status"] == "complete"


def test_connection_lost_while_shaking_and_hot_switches_heater_off(starlet, tmp_path):
    sample = first_op(starlet.plan, "sample")  # during the stir at room temperature
    shake = first_op(starlet.plan, "shake")
    assert shake.t < sample.t < shake.end
    outcome, _ = run_in_process(starlet, tmp_path, faults=FaultPlan({sample.id: "connection_lost"}))
    assert outcome.exit_code == 3 and "connection lost" in outcome.message
    actions = _safe_state(outcome.journal_path)["actions"]
    assert {"device": "heater_cooler_shaker", "action": "stop_shaking"} in actions
    assert {"device": "heater_cooler_shaker", "action": "deactivate"} in actions
    from diazflow.runtime.runner import resume_run

    messages: list[str] = []
    again = resume_run(outcome.journal_path, quiet=True, notify=messages.append)
    assert again.exit_code == 0, again.message
    # the safe stop switched the block off and stopped the shaker: resuming puts both back
    assert "heater_cooler_shaker: temperature set to 22 °C again" in messages
    assert "heater_cooler_shaker: shaking at 600 rpm again" in messages
    done, actions = exactly_once(Path(outcome.journal_path))
    assert set(done.values()) == {1} and set(actions.values()) == {1}


def test_connection_lost_to_a_module_is_reported_as_unreachable(starlet, tmp_path):
    set_temperature = first_op(starlet.plan, "set_temperature", celsius=4.0)
    outcome, _ = run_in_process(
        starlet, tmp_path, faults=FaultPlan({set_temperature.id: "connection_lost"})
    )
    assert outcome.exit_code == 3
    assert "heater_cooler_shaker: connection lost" in outcome.message


def test_verification_catches_a_deck_that_differs_from_the_plan(starlet, tmp_path):
    from diazflow.runtime.clock import VirtualClock
    from diazflow.runtime.executor import Executor
    from diazflow.runtime.runner import build_devices, plr_tracking
    from diazflow.runtime.simulated import ActionContext

    with plr_tracking():
        journal = new_journal(starlet, tmp_path / "v.sqlite")
        clock = VirtualClock()
        ctx = ActionContext()
        setup = build_devices(starlet.deck, "simulate", clock, ctx, None)
        executor = Executor(starlet.plan, setup, clock, journal, ctx, "reaction_block")

        async def go():
            await setup.setup()
            executor.fill_stocks()
            await executor.run()

        asyncio.run(go())
        assert executor.verify() == []
        well = executor.container("B2")
        well.tracker.remove_liquid(1.0)
        well.tracker.commit()
        problems = executor.verify()
        assert len(problems) == 1 and problems[0].startswith("B2 holds")
        journal.close()


def test_hardware_backends_are_built_and_gated_without_connecting(starlet, tmp_path):
    from pylabrobot.heating_shaking import InhecoThermoshakeBackend
    from pylabrobot.liquid_handling.backends.hamilton.STAR_backend import STARBackend

    from diazflow.runtime.runner import build_devices, plr_tracking
    from diazflow.runtime.simulated import (
        ActionContext,
        GatedLiquidHandlerBackend,
    )

    with plr_tracking():
        setup = build_devices(starlet.deck, "hardware", RealClock(), ActionContext(), None)
    backend = setup.liquid_handler.backend
    # gated (journalled, muted on replay), and otherwise the STAR backend itself
    assert isinstance(backend, GatedLiquidHandlerBackend)
    assert isinstance(backend.wrapped, STARBackend) and backend.gate.record_started
    assert backend.setup_finished is backend.wrapped.setup_finished is False  # forwarded
    hcs = setup.machines["heater_cooler_shaker"]
    assert isinstance(hcs.backend, InhecoThermoshakeBackend)
    assert setup.powder_dispenser is None  # operator-run on this deck: no machine to gate
    assert not setup.liquid_handler.setup_finished


def test_hardware_without_its_extra_is_refused_before_the_journal(ot2, tmp_path, monkeypatch):
    from diazflow.extras import MissingExtra

    monkeypatch.setitem(sys.modules, "ot_api", None)  # None in sys.modules: import fails
    with pytest.raises(MissingExtra, match=r"pip install 'diazflow\[hardware\]'"):
        run_in_process(ot2, tmp_path, backend="hardware")
    assert not list(tmp_path.glob("*.sqlite"))


def test_hardware_without_its_driver_fails_cleanly(ot2, tmp_path, monkeypatch):
    from pylabrobot.liquid_handling.backends import opentrons_backend

    # the extra's modules import (as if installed), but PLR's backend still finds no driver
    monkeypatch.setattr("diazflow.extras.require", lambda name, modules=None: None)

    # what PyLabRobot does when the Opentrons client (the hardware extra) is not installed
    monkeypatch.setattr(opentrons_backend, "USE_OT", False)
    monkeypatch.setattr(
        opentrons_backend,
        "_OT_IMPORT_ERROR",
        ImportError("No module named 'ot_api'"),
        raising=False,
    )
    outcome, _ = run_in_process(ot2, tmp_path, backend="hardware")
    assert outcome.exit_code == 3
    assert outcome.message.startswith("cannot build the deck for 'hardware'")
    assert state_of(Path(outcome.journal_path))["status"] == "failed"


def test_speed_is_refused_for_hardware(ot2, tmp_path):
    from diazflow.runtime.runner import UsageError

    with pytest.raises(UsageError):
        run_in_process(ot2, tmp_path, backend="hardware", speed=10.0)
    out = cli(
        "run",
        str(OT2),
        "--backend",
        "hardware",
        "--speed",
        "10",
        "--journal",
        str(tmp_path / "x.sqlite"),
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "--speed cannot be used" in out.stderr


# --------------------------------------------------------------------------- crashes and resuming


def test_a_dispense_the_device_recorded_is_not_repeated(tmp_path):
    plan = checked(STARLET).plan
    dispense = first_op(plan, "dispense", reagent="halide")
    journal = tmp_path / "crash.sqlite"
    out = cli(
        "run",
        str(STARLET),
        "--journal",
        str(journal),
        env={"DIAZFLOW_TEST_CRASH": f"{dispense.id}:action"},
        cwd=tmp_path,
    )
    assert out.returncode == -signal.SIGKILL
    state = journal_json(journal, tmp_path)
    assert state["status"] == "interrupted" and state["in_flight"] == [dispense.id]
    assert state["dispensed_uL"]["A1"]["halide"] == pytest.approx(
        dispense.volumes_uL[0]
    )  # the device did it
    out = cli("resume", str(journal), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        f"operation {dispense.id} (dispense halide A1…H1" in out.stdout
        and "shows it was done; it is not repeated" in out.stdout
    )
    state = journal_json(journal, tmp_path)
    assert_dispensed_equals_plan(state, plan)
    done, actions = exactly_once(journal)
    assert set(done.values()) == {1} and actions[(dispense.id, 0)] == 1


def test_a_dispense_that_never_reached_the_device_runs_again(tmp_path):
    plan = checked(STARLET).plan
    dispense = first_op(plan, "dispense", reagent="diazepane")
    journal = tmp_path / "crash.sqlite"
    out = cli(
        "run",
        str(STARLET),
        "--journal",
        str(journal),
        env={"DIAZFLOW_TEST_CRASH": f"{dispense.id}:started"},
        cwd=tmp_path,
    )
    assert out.returncode == -signal.SIGKILL
    out = cli("resume", str(journal), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "shows nothing was done; it runs again" in out.stdout
    assert_dispensed_equals_plan(journal_json(journal, tmp_path), plan)


def test_a_half_done_sample_continues_with_its_second_action(tmp_path):
    plan = checked(STARLET).plan
    sample = first_op(plan, "sample")
    journal = tmp_path / "crash.sqlite"
    out = cli(
        "run",
        str(STARLET),
        "--journal",
        str(journal),
        env={"DIAZFLOW_TEST_CRASH": f"{sample.id}:action"},
        cwd=tmp_path,
    )
    assert out.returncode == -signal.SIGKILL
    out = cli("resume", str(journal), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "shows 1 of its 2 actions done; it continues from there" in out.stdout
    done, actions = exactly_once(journal)
    assert actions[(sample.id, 0)] == 1 and actions[(sample.id, 1)] == 1 and done[sample.id] == 1


def test_hardware_asks_the_operator_about_a_command_that_was_sent(starlet, tmp_path):
    """On hardware the gate records an action before sending it; an unconfirmed one is a question."""
    from diazflow.runtime.clock import VirtualClock
    from diazflow.runtime.executor import Executor, ExecutorOptions
    from diazflow.runtime.runner import build_devices, plr_tracking
    from diazflow.runtime.simulated import ActionContext

    dispense = first_op(starlet.plan, "dispense", reagent="diazepane")
    path = str(tmp_path / "hw.sqlite")
    journal = new_journal(starlet, path)
    ops = sorted(starlet.plan.operations, key=lambda o: (o.t, o.id))
    with journal, plr_tracking():
        # a first "process" runs up to the dispense, sends it and dies before the robot answers
        clock = VirtualClock()
        ctx = ActionContext()
        setup = build_devices(starlet.deck, "simulate", clock, ctx, None)
        first = Executor(starlet.plan, setup, clock, journal, ctx, "reaction_block")
        first.ops = [op for op in ops if op.t < dispense.t]

        async def go(executor, s):
            await s.setup()
            executor.fill_stocks()
            await executor.run()

        asyncio.run(go(first, setup))
        journal.op_started(dispense.id, dispense.t, 0.0)
        journal.device_action(
            dispense.id, 0, "liquid_handler", "dispense:started", dispense.t, {"channels": []}
        )
        for answer, expect_done in ((True, True), (False, False)):
            questions: list[str] = []
            clock = VirtualClock(dispense.t)
            ctx = ActionContext()
            setup = build_devices(starlet.deck, "simulate", clock, ctx, None)
            options = ExecutorOptions(
                simulated=False, ask=lambda q, a=answer, asked=questions: asked.append(q) or a
            )
            second = Executor(starlet.plan, setup, clock, journal, ctx, "reaction_block", options)

            async def restore(executor=second, s=setup):
                await s.setup()
                executor.fill_stocks()
                return await executor.restore()

            messages = asyncio.run(restore())
            assert (
                len(questions) == 1
                and "was interrupted after its command was sent to the robot" in questions[0]
            )
            assert (dispense.id in second.done) is expect_done
            if expect_done:
                assert "the operator says it happened" in messages[-1]
                well = second.container(dispense.wells[0]).tracker.get_used_volume()
                assert well >= dispense.volumes_uL[0]
                # a later resume must not settle it again: drop the "done" resolution for the second pass
                journal.conn.execute("DELETE FROM events WHERE event = 'op_resolved'")


def test_killed_at_random_moments_resumes_every_operation_exactly_once(tmp_path):
    """SIGKILL the run (and its resumes) at random points; the journal must let the last resume
    finish with every operation done exactly once and every well holding what the plan says."""
    plan = checked(STARLET).plan
    journal = tmp_path / "kill.sqlite"
    rng = random.Random(int(os.environ.get("DIAZFLOW_KILL_SEED", "6")))
    env = {**os.environ, "DIAZFLOW_TEST_OP_DELAY": "0.003"}

    def completed() -> int:
        try:
            with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as c:
                return c.execute(
                    "SELECT COUNT(*) FROM events WHERE event = 'op_completed'"
                ).fetchone()[0]
        except sqlite3.Error:
            return -1

    command = [
        sys.executable,
        "-m",
        "diazflow.cli",
        "run",
        str(STARLET),
        "--journal",
        str(journal),
        "--quiet",
    ]
    kills = 0
    states = []
    while True:
        proc = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        target = max(completed(), 0) + rng.randint(10, 40) if kills < 3 else None
        killed = False
        while proc.poll() is None:
            if target is not None and completed() >= target:
                time.sleep(rng.uniform(0.0, 0.004))
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
        out, err = proc.communicate(timeout=60)
        if not killed:
            break
        kills += 1
        states.append(state_of(journal))
        command = [sys.executable, "-m", "diazflow.cli", "resume", str(journal), "--quiet"]
    assert proc.returncode == 0, err
    assert kills == 3
    assert all(s["status"] == "interrupted" for s in states)
    assert all(len(s["in_flight"]) <= 1 for s in states)
    final = state_of(journal)
    assert final["status"] == "complete"
    assert final["completed"] == sorted(op.id for op in plan.operations)
    assert_dispensed_equals_plan(final, plan)
    done, actions = exactly_once(journal)
    assert set(done.values()) == {1}, [op for op, n in done.items() if n != 1]
    assert set(actions.values()) == {1}, [a for a, n in actions.items() if n != 1]
    with sqlite3.connect(journal) as c:
        resumed = c.execute("SELECT COUNT(*) FROM events WHERE event = 'run_resumed'").fetchone()[0]
    assert resumed == 3


def test_resume_refuses_a_running_or_complete_journal(starlet, tmp_path):
    from diazflow.runtime.journal import Journal, JournalError

    outcome, _ = run_in_process(starlet, tmp_path)
    out = cli("resume", outcome.journal_path, cwd=tmp_path)
    assert out.returncode == 0 and "already complete" in out.stdout
    j = Journal.open(outcome.journal_path)
    j.lock()
    try:
        other = Journal.open(outcome.journal_path)
        with pytest.raises(JournalError):
            other.lock()
        assert other.is_live()
        other.close()
    finally:
        j.close()
    out = cli("run", str(STARLET), "--journal", outcome.journal_path, cwd=tmp_path)
    assert out.returncode == 2 and "already exists" in out.stderr


# --------------------------------------------------------------------------- plans the deck must match


def test_dropwise_aliquots_add_up_to_the_well_amount(tmp_path):
    """95 µL in 15 aliquots: the aliquots are rounded to 1 nL, the last one takes the remainder, so
    the deck after the run holds exactly what the plan says (a mismatch would fail with exit 3)."""
    from diazflow.pipeline import check

    protocol = tmp_path / "rounding.yaml"
    protocol.write_text(
        STARLET.read_text().replace("equiv: 0.96, dropwise", "equiv: 0.95, dropwise")
    )
    result = check(str(protocol), deck_override=str(REPO / "deck_layouts" / "starlet_chem.yaml"))
    assert result.plan is not None
    outcome, _ = run_in_process(result, tmp_path)
    assert outcome.exit_code == 0, outcome.message


def _staged(tmp_path: Path, with_sample: bool):
    from diazflow.pipeline import check

    protocol = tmp_path / "staged.yaml"
    text = STARLET.read_text().replace(
        "  - offdeck: Filter off the solids and concentrate the filtrate.",
        """  - offdeck: Filter off the solids and concentrate the filtrate.
  - stage:
      name: second step
      scale: {limiting: product, amount: 40 umol, concentration: 0.2 M, solvent: MeCN}
  - add_solvent: {solvent: MeCN, volume: 200 uL}""",
    )
    text = text.replace(
        "reagents:\n",
        "reagents:\n  product:\n    name: the alkylated diazepane\n    smiles: CN1CCCN(Cc2ccccc2)CC1\n    preloaded: true\n",
        1,
    )
    if not with_sample:
        text = "\n".join(line for line in text.splitlines() if "sample:" not in line) + "\n"
    protocol.write_text(text)
    result = check(str(protocol), deck_override=str(REPO / "deck_layouts" / "starlet_chem.yaml"))
    assert result.plan is not None, [d.message for d in result.diagnostics if d.is_error]
    assert any(s.kind == "stage" for s in result.plan.steps)
    return result


def test_a_new_stage_empties_the_wells(tmp_path):
    """A ``stage`` step means the operator worked the previous stage up off-deck and put the
    isolated intermediate back: the runtime forgets what the wells held before."""
    outcome, _ = run_in_process(_staged(tmp_path, with_sample=False), tmp_path)
    assert outcome.exit_code == 0, outcome.message


def test_samples_of_an_earlier_stage_do_not_change_the_last_stage(tmp_path):
    outcome, _ = run_in_process(_staged(tmp_path, with_sample=True), tmp_path)
    assert outcome.exit_code == 0, outcome.message


def test_an_injected_fault_must_be_able_to_happen(starlet, tmp_path):
    from diazflow.runtime.runner import UsageError

    wait = first_op(starlet.plan, "wait_temperature")
    with pytest.raises(UsageError, match="cannot happen"):
        run_in_process(starlet, tmp_path, faults=FaultPlan({wait.id: "tip_not_picked_up"}))
    with pytest.raises(UsageError, match="no operation"):
        run_in_process(
            starlet, tmp_path, name="other.sqlite", faults=FaultPlan({10**6: "connection_lost"})
        )


def test_run_visualize_serves_the_live_deck_view(tmp_path):
    """`diazflow run --visualize` starts PyLabRobot's Visualizer on localhost and still completes."""
    import subprocess

    protocol = REPO / "tests" / "data" / "runtime" / "starlet_dropwise_16.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "diazflow.cli",
            "run",
            str(protocol),
            "--visualize",
            "--quiet",
            "--journal",
            str(tmp_path / "j.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "visualizer: http://127.0.0.1:" in proc.stdout


# --------------------------------------------------------------------------- the run object


def test_a_run_leaves_pylabrobots_process_state_as_it_found_it(starlet, tmp_path):
    """PLR's tracking switches and the 'pylabrobot' logger are process-wide: a run (complete or
    failed) puts them back, and its command transcript is closed."""
    import logging

    from pylabrobot.resources import does_tip_tracking, does_volume_tracking

    logger = logging.getLogger("pylabrobot")

    def process_state():
        return does_volume_tracking(), does_tip_tracking(), logger.level, list(logger.handlers)

    before = process_state()
    outcome, _ = run_in_process(starlet, tmp_path, backend="chatterbox")
    assert outcome.exit_code == 0, outcome.message
    assert process_state() == before
    assert "C0TP" in (tmp_path / "run.sqlite.commands.txt").read_text()
    pick_up = first_op(starlet.plan, "pick_up_tips")
    outcome, _ = run_in_process(
        starlet,
        tmp_path,
        name="failed.sqlite",
        backend="chatterbox",
        faults=FaultPlan({pick_up.id: "tip_not_picked_up"}),
    )
    assert outcome.exit_code == 3 and "tip not picked up" in outcome.message
    assert process_state() == before


def test_run_outside_its_context_is_refused(starlet, tmp_path):
    from diazflow.runtime.runner import Run

    with new_journal(starlet, tmp_path / "r.sqlite") as journal:
        with pytest.raises(RuntimeError, match="inside 'with Run"):
            Run(starlet.plan, starlet.deck, journal).execute()


def test_the_runtime_does_not_import_the_report_package():
    for path in (REPO / "src" / "diazflow" / "runtime").glob("*.py"):
        assert "diazflow.report" not in path.read_text(), path.name


def test_sigterm_interrupts_the_run_into_its_safe_state(tmp_path):
    """SIGTERM (like Ctrl-C) cancels the run: safe state, ``run_interrupted``, exit 143, the journal
    stays resumable (status ``interrupted``)."""
    journal = tmp_path / "term.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "diazflow.cli", "run", str(STARLET), "--journal", str(journal)]
        + ["--quiet"],
        cwd=tmp_path,
        env={**os.environ, "DIAZFLOW_TEST_OP_DELAY": "0.01"},  # a virtual clock, slowed down
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    started = 0
    while started < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        with contextlib.suppress(sqlite3.Error):
            with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as c:
                started = c.execute(
                    "SELECT COUNT(*) FROM events WHERE event = 'op_completed'"
                ).fetchone()[0]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, out + err  # 143: the shell's convention
    assert "error: run interrupted by SIGTERM" in err
    events = [
        row[0] for row in sqlite3.connect(journal).execute("SELECT event FROM events ORDER BY seq")
    ]
    assert events[-1] == "run_interrupted" and "safe_state" in events
    assert journal_json(journal, tmp_path)["status"] == "interrupted"
