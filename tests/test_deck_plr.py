"""The shipped decks on PyLabRobot: build, pipette with volume and tip tracking, set temperatures.

No test here may touch the network: PLR downloads Opentrons labware definitions at run time, and
diazflow must serve them from its own copies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from diazflow.deck import DeckLayoutError, load_deck
from diazflow.deck.plr import (
    PlrBuildError,
    PlrSetup,
    build_plr,
    offline_opentrons_labware,
    plr_class_exists,
)
from diazflow.deck.plr_names import DIAZFLOW_CLASSES

REPO = Path(__file__).resolve().parents[1]
DECKS = REPO / "deck_layouts"
SHIPPED = ["starlet_chem", "ot2_tempmodule", "evo150_chem"]


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def tracking():
    from pylabrobot.resources import set_tip_tracking, set_volume_tracking

    set_volume_tracking(True)
    set_tip_tracking(True)
    yield
    set_volume_tracking(False)
    set_tip_tracking(False)


def deck(name: str):
    return load_deck(str(DECKS / f"{name}.yaml"))


def run(coro):
    return asyncio.run(coro)


async def _one_transfer(setup: PlrSetup, volume: float = 100.0) -> int:
    """Tip on, fill a reservoir, aspirate, dispense into reaction_block A1, tip off."""
    spec = setup.deck_spec
    lh = setup.liquid_handler
    tip = spec.tip_for(volume)
    channel = tip.channels[0]
    reservoir = spec.reservoirs[0]
    source = setup.container(reservoir.labware, reservoir.well)
    source.tracker.set_volume(10_000)
    target = setup.container("reaction_block", "A1")

    await lh.pick_up_tips([setup.tip_spot(tip.spots()[0])], use_channels=[channel])
    assert lh.head[channel].has_tip
    await lh.aspirate([source], vols=[volume], use_channels=[channel])
    await lh.dispense([target], vols=[volume], use_channels=[channel])
    assert target.tracker.get_used_volume() == pytest.approx(volume)
    assert source.tracker.get_used_volume() == pytest.approx(10_000 - volume)
    await lh.drop_tips([setup.resources["waste"]], use_channels=[channel])
    assert not lh.head[channel].has_tip
    assert not setup.tip_spot(tip.spots()[0]).has_tip()  # the tip left the rack for good
    return channel


@pytest.mark.parametrize("name", SHIPPED)
def test_simulate_transfer_and_temperature(name, tracking):
    spec = deck(name)
    setup = build_plr(spec, "simulate")

    async def scenario():
        await setup.setup()
        channel = await _one_transfer(setup)
        calls = setup.liquid_handler.backend.calls
        assert [c.op for c in calls] == ["pick_up_tips", "aspirate", "dispense", "drop_tips"]
        assert calls[1].ops[0].volume == pytest.approx(100.0) and calls[1].use_channels == [channel]
        assert calls[2].ops[0].resource is setup.container("reaction_block", "A1")

        module_spec = spec.module_of("reaction_block")
        module = setup.module(module_spec.name)
        assert setup.resources["reaction_block"].parent in (
            module,
            setup.resources.get(f"{module_spec.name}_adapter"),
        )
        assert await module.get_temperature() == pytest.approx(spec.ambient_c)  # not PLR's 0 °C
        await module.set_temperature(40.0)
        assert await module.get_temperature() == pytest.approx(40.0)
        with pytest.raises(ValueError):
            await module.set_temperature(module_spec.max_temp_c + 5)  # PLR itself checks no range
        await setup.stop()

    run(scenario())


def test_cooling_follows_the_profile(tracking):
    async def scenario():
        starlet = build_plr(deck("starlet_chem"), "simulate")
        hcs = starlet.heater_shakers["heater_cooler_shaker"]
        await hcs.setup()
        await hcs.set_temperature(4.0)  # active cooling down to the ThermoShake's 4 °C floor
        assert await hcs.get_temperature() == 4.0
        with pytest.raises(ValueError, match="outside"):
            await hcs.set_temperature(0.0)  # no PLR-drivable STARlet device reaches 0 °C

        evo = build_plr(deck("evo150_chem"), "simulate")
        hs = evo.heater_shakers["heater_shaker"]
        await hs.setup()
        with pytest.raises(ValueError, match="active cooling"):
            await hs.set_temperature(15.0)  # from ambient, a heater cannot cool

        ot2 = build_plr(deck("ot2_tempmodule"), "simulate")
        tm = ot2.temperature_controllers["temperature_module"]
        await tm.setup()
        await tm.set_temperature(4.0)
        with pytest.raises(ValueError, match="outside"):
            await tm.set_temperature(0.0)  # "an Opentrons Temperature Module cannot reach 0 °C"

    run(scenario())


def test_shaking_within_the_profile(tracking):
    async def scenario():
        setup = build_plr(deck("starlet_chem"), "simulate")
        hcs = setup.heater_shakers["heater_cooler_shaker"]
        await hcs.setup()
        await hcs.shake(speed=600)
        assert hcs.backend.speed_rpm == 600 and hcs.backend.locked
        await hcs.stop_shaking()
        with pytest.raises(ValueError, match="rpm"):
            await hcs.shake(speed=5000)

    run(scenario())


@pytest.mark.parametrize("name", ["starlet_chem", "evo150_chem"])
def test_eight_channels_from_one_trough(name, tracking):
    """A column of 8 wells in one aspirate/dispense: 8 channels in one trough."""
    spec = deck(name)
    setup = build_plr(spec, "simulate")
    lh = setup.liquid_handler

    async def scenario():
        await setup.setup()
        tip = spec.tip_for(150)
        reservoir = spec.reservoirs[0]
        trough = setup.container(reservoir.labware, reservoir.well)
        trough.tracker.set_volume(20_000)
        column = setup.wells("reaction_block", spec.labware["reaction_block"].well_names()[:8])
        await lh.pick_up_tips(
            [setup.tip_spot(s) for s in tip.spots()[:8]], use_channels=list(range(8))
        )
        await lh.aspirate([trough] * 8, vols=[150] * 8, use_channels=list(range(8)))
        await lh.dispense(column, vols=[150] * 8, use_channels=list(range(8)))
        await lh.drop_tips([setup.resources["waste"]] * 8, use_channels=list(range(8)))
        assert [w.tracker.get_used_volume() for w in column] == [150] * 8
        assert trough.tracker.get_used_volume() == pytest.approx(20_000 - 8 * 150)

    run(scenario())


def test_ot2_channels_carry_only_their_tips(tracking):
    spec = deck("ot2_tempmodule")
    setup = build_plr(spec, "simulate")

    async def scenario():
        await setup.setup()
        small = spec.tips["tips_20"]
        with pytest.raises(RuntimeError, match="Cannot pick up tips on channels"):
            await setup.liquid_handler.pick_up_tips(
                [setup.tip_spot(small.spots()[0])], use_channels=[0]
            )
        channel = await _one_transfer(setup, volume=10.0)
        assert channel == 1  # the P20

    run(scenario())


def test_chatterbox_star_firmware(tracking):
    """The STAR chatterbox builds the real firmware strings (captured at log level 5)."""
    setup = build_plr(deck("starlet_chem"), "chatterbox")
    messages: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    logger = logging.getLogger("pylabrobot")
    handler = Capture(level=5)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(5)
    try:

        async def scenario():
            await setup.setup()
            await _one_transfer(setup)
            await setup.module("heater_cooler_shaker").set_temperature(4.0)

        run(scenario())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    firmware = [m[:4] for m in messages if m.startswith("C0")]
    assert firmware == ["C0TT", "C0TP", "C0AS", "C0DS", "C0TR"]


def test_chatterbox_ot2_http_calls(tracking):
    setup = build_plr(deck("ot2_tempmodule"), "chatterbox")

    async def scenario():
        await setup.setup()
        await _one_transfer(setup, volume=10.0)
        await setup.module("temperature_module").set_temperature(10.0)

    run(scenario())
    backend = setup.liquid_handler.backend
    names = [name for name, _args, _kwargs in backend.commands]
    assert (
        "lh.pick_up_tip" in names
        and "lh.aspirate_in_place" in names
        and "lh.dispense_in_place" in names
    )
    # the P20 (right mount, channel 1) took the 10 µL at the Opentrons default flow rate, which
    # is also what simulators/opentrons_ot2.yaml plans with
    aspirate = next(
        kwargs for name, _args, kwargs in backend.commands if name == "lh.aspirate_in_place"
    )
    assert aspirate["pipette_id"] == "chatterbox-right" and aspirate["volume"] == 10.0
    assert aspirate["flow_rate"] == pytest.approx(
        setup.deck_spec.timings.flow_rate(20).aspirate_ul_s
    )


def test_chatterbox_evo_generic(tracking, capsys):
    setup = build_plr(deck("evo150_chem"), "chatterbox")

    async def scenario():
        await setup.setup()
        await _one_transfer(setup)

    run(scenario())
    printed = capsys.readouterr().out
    assert "Aspirating:" in printed and "Dispensing:" in printed
    assert "block_well_A1" in printed  # PLR truncates resource names to 20 characters


def test_hardware_constructs_real_backends_without_connecting():
    from pylabrobot.heating_shaking import InhecoThermoshakeBackend
    from pylabrobot.liquid_handling.backends.hamilton.STAR_backend import STARBackend
    from pylabrobot.liquid_handling.backends.tecan.EVO_backend import EVOBackend

    starlet = build_plr(deck("starlet_chem"), "hardware")
    assert type(starlet.liquid_handler.backend) is STARBackend
    assert isinstance(starlet.module("heater_cooler_shaker").backend, InhecoThermoshakeBackend)
    # PyLabRobot drives no powder dispenser: the layout says the operator weighs solids in, so
    # nothing is built for it and nothing can refuse to start
    assert starlet.powder_dispenser is None and "powder_dispenser" not in starlet.machines

    # PLR 0.2.2's EVOBackend only pipettes from TecanPlates: the layout's troughs are refused
    # when the hardware set-up is built, not at the first aspiration of a run
    evo_spec = deck("evo150_chem")
    with pytest.raises(PlrBuildError) as caught:
        build_plr(evo_spec, "hardware")
    refused = caught.value.diagnostics[0]
    assert refused.code == "DF500" and "TecanPlate" in refused.message
    layout_lines = Path(evo_spec.path).read_text().splitlines()
    assert "agenbio_4_troughplate_75mL_Vb" in layout_lines[refused.line - 1]
    # without them, the rest of the deck builds PLR's own EVO backend
    tecan_only = dataclasses.replace(
        evo_spec,
        labware={n: lw for n, lw in evo_spec.labware.items() if lw.role != "reagent_reservoir"},
    )
    evo = build_plr(tecan_only, "hardware")
    assert (
        type(evo.liquid_handler.backend) is EVOBackend
        and evo.liquid_handler.backend.diti_count == 8
    )
    # a heat-only Hamilton Heater Shaker on its USB box: the deck's "no active cooling"
    from pylabrobot.heating_shaking import HamiltonHeaterShakerBackend

    assert isinstance(evo.module("heater_shaker").backend, HamiltonHeaterShakerBackend)


def test_hardware_ot2_needs_the_opentrons_client():
    from pylabrobot.liquid_handling.backends.opentrons_backend import OpentronsOT2Backend

    setup = build_plr(deck("ot2_tempmodule"), "hardware")
    assert isinstance(setup.liquid_handler.backend, OpentronsOT2Backend)
    assert setup.liquid_handler.backend.host == "169.254.10.10"
    # without the Opentrons client (the hardware extra), a clear diagnostic at the layout's line
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["ot_api"] = None  # as if opentrons-http-api-client were not installed
        from diazflow.deck import load_deck
        from diazflow.deck.plr import PlrBuildError, build_plr
        try:
            build_plr(load_deck({str(REPO / "deck_layouts" / "ot2_tempmodule.yaml")!r}), "hardware")
        except PlrBuildError as exc:
            (diag,) = exc.diagnostics
            print(diag.file, diag.line, diag.hint)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    file, line, hint = proc.stdout.split(" ", 2)
    assert file.endswith("ot2_tempmodule.yaml") and int(line) > 0
    assert "pylabrobot[opentrons]" in hint


def test_module_backends_are_injectable(tracking):
    from diazflow.deck.plr_backends import ProfiledTemperatureBackend

    spec = deck("ot2_tempmodule")
    mine = ProfiledTemperatureBackend(spec.modules["temperature_module"].profile.thermal)
    setup = build_plr(spec, "simulate", module_backends={"temperature_module": mine})
    assert setup.temperature_controllers["temperature_module"].backend is mine
    with pytest.raises(ValueError, match="not on this deck"):
        build_plr(spec, "simulate", module_backends={"cooler": mine})


def test_opentrons_labware_comes_from_the_shipped_definitions(monkeypatch):
    """PLR's own downloader is never called, and a missing definition is a clear error."""
    from pylabrobot.resources.opentrons import load as ot_load

    def no_download(*args, **kwargs):
        raise NetworkUsed("PLR tried to download an Opentrons definition")

    monkeypatch.setattr(ot_load, "_download_file", no_download)
    setup = build_plr(deck("ot2_tempmodule"), "simulate")
    rack = setup.resources["tips_20_1"]
    assert rack.num_items == 96 and rack.get_item("A1").get_tip().maximal_volume == 20
    assert setup.resources["temperature_module_adapter"].parent is setup.module(
        "temperature_module"
    )

    import pylabrobot.resources as resources

    with offline_opentrons_labware():
        with pytest.raises(FileNotFoundError, match="not shipped with diazflow"):
            resources.geb_96_tiprack_10ul("x")


def test_build_errors_point_into_the_layout(tmp_path):
    (tmp_path / "deck_layouts").mkdir()
    shutil.copytree(REPO / "simulators", tmp_path / "simulators")
    path = tmp_path / "deck_layouts" / "starlet_chem.yaml"
    text = (DECKS / "starlet_chem.yaml").read_text()
    path.write_text(
        text.replace(
            "location: {carrier: plate_carrier, site: 1}",
            "location: {carrier: plate_carrier, site: 7}",
        )
    )
    with pytest.raises(DeckLayoutError) as info:
        build_plr(load_deck(str(path)), "simulate")
    (diag,) = info.value.diagnostics
    assert diag.code == "DF500" and "has sites 0-4, not 7" in diag.message
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "site: 7" in text)
    assert diag.line == line

    path.write_text(
        text.replace(
            "    format: 8x12\n    material: polypropylene\n    max_volume: 360 uL",
            "    format: 8x8\n    material: polypropylene\n    max_volume: 360 uL",
        )
    )
    with pytest.raises(DeckLayoutError, match="is 8x12 in PLR"):
        build_plr(load_deck(str(path)), "simulate")

    path.write_text(text.replace("max_volume: 360 uL", "max_volume: 3 mL"))
    with pytest.raises(DeckLayoutError, match="holds 360 µL per well in PLR"):
        build_plr(load_deck(str(path)), "simulate")


def test_resources_map_every_layout_name():
    for name in SHIPPED:
        spec = deck(name)
        setup = build_plr(spec, "simulate")
        for key in (
            list(spec.labware)
            + list(spec.carriers)
            + [m for m in spec.modules if spec.modules[m].kind != "powder_dispenser"]
        ):
            assert key in setup.resources, (name, key)
        assert setup.deck is setup.liquid_handler.deck
        # a machine only for a dispenser the robot drives; an operator-run one has none
        robot_powder = spec.has_powder_dispenser and not any(
            m.operator_run for m in spec.modules.values() if m.kind == "powder_dispenser"
        )
        assert (setup.powder_dispenser is not None) == robot_powder


def test_example_deck_builds(tracking):
    spec = load_deck(str(DECKS / "examples" / "ot2_heater_shaker.yaml"))
    setup = build_plr(spec, "simulate")

    async def scenario():
        await setup.setup()
        await _one_transfer(setup)
        hs = setup.heater_shakers["heater_shaker"]
        await hs.set_temperature(60.0)
        await hs.shake(speed=1000)

    run(scenario())
    with pytest.raises(PlrBuildError, match="no hardware backend"):
        build_plr(spec, "hardware")


def test_shipped_diazflow_classes_exist():
    for path in DIAZFLOW_CLASSES:
        assert plr_class_exists(path), path
