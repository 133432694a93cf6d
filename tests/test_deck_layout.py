"""Deck layouts and simulator profiles: the facts the checks rely on, and the errors users see."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from diazflow.deck import (
    DeckLayoutError,
    load_deck,
    load_module_profile,
    load_robot_profile,
    plr_names,
)
from diazflow.deck import layout as layout_module
from diazflow.deck.spec import well_names

REPO = Path(__file__).resolve().parents[1]
DECKS = REPO / "deck_layouts"
SIMULATORS = REPO / "simulators"
SHIPPED = ["starlet_chem", "ot2_tempmodule", "evo150_chem"]


def deck(name: str):
    return load_deck(str(DECKS / f"{name}.yaml"))


# --------------------------------------------------------------------------- the shipped decks


def test_starlet_facts():
    d = deck("starlet_chem")
    assert d.robot_kind == "hamilton_starlet" and d.robot.plr_deck == "STARLetDeck"
    assert d.channels == 8 and d.parallel_channels == 8
    assert d.atmosphere == "inert"
    assert d.has_powder_dispenser and d.powder_dispenser == "powder_dispenser"
    assert d.fill_limit == pytest.approx(0.8)
    assert d.ambient_c == pytest.approx(22.0)

    block = d.labware["reaction_block"]
    assert (block.rows, block.columns, block.wells) == (8, 12, 96)
    assert block.material == "glass" and block.sealed and not block.condenser
    assert block.max_volume_ul == pytest.approx(2000.0)
    assert block.usable_volume_ul(d.fill_limit) == pytest.approx(1600.0)
    assert block.plr_factory == "cor_96_wellplate_2mL_Vb"

    module = d.module_of("reaction_block")
    assert module is not None and module.name == "heater_cooler_shaker"
    assert module.kind == "heater_cooler_shaker"
    # an Inheco ThermoShake (the layout's hardware backend): 4-105 °C (Inheco, via PyLabRobot's
    # docs), 100-2000 rpm (Inheco; PLR 0.2.2 asserts at most 2000), not the spec's -10..110 °C
    assert (module.min_temp_c, module.max_temp_c) == (4.0, 105.0)
    assert module.active_cooling and module.can_shake
    assert (module.shake_rpm_min, module.shake_rpm_max) == (100.0, 2000.0)
    assert module.shake_rpm_min < module.default_rpm < module.shake_rpm_max
    assert module.labware == ("reaction_block",)
    assert module.thermal.can_reach(4.0) and not module.thermal.can_reach(0.0)
    assert not module.thermal.can_reach(-10.0) and not module.thermal.can_reach(110.0)
    assert module.backends["hardware"].class_path == "diazflow.deck.plr_hardware.ThermoshakeBackend"
    sources = module.profile.sources
    assert "Inheco ThermoShake" in sources["thermal.min_temperature"]
    assert "thermoshake_backend.py:36" in sources["shaker.max_speed"]

    assert [t.name for t in d.tip_types] == ["tips_50", "tips_300", "tips_1000"]
    assert [t.max_volume_ul for t in d.tip_types] == [50.0, 300.0, 1000.0]
    assert d.tips["tips_50"].total == 4 * 96 and d.tips["tips_300"].total == 3 * 96
    assert d.tips["tips_300"].channels == tuple(range(8))
    assert (
        d.tip_for(0.5) is None
        and d.tip_for(1.0).name == "tips_50"
        and d.tip_for(120).name == "tips_300"
    )
    assert d.tip_for(1000).name == "tips_1000" and d.tip_for(1001) is None
    assert d.smallest_volume_ul == 1.0 and d.largest_volume_ul == 1000.0

    assert d.reservoir_positions == tuple(f"reagent_trough_{i}:A1" for i in range(1, 9))
    assert all(r.max_volume_ul == 60000.0 and r.dead_volume_ul == 3000.0 for r in d.reservoirs)
    assert d.labware["building_blocks"].material == "polypropylene"
    assert d.labware["waste"].location.builtin == "trash"


def test_ot2_facts():
    d = deck("ot2_tempmodule")
    assert d.robot_kind == "opentrons_ot2" and d.robot.plr_deck == "OTDeck"
    assert d.channels == 2 and d.parallel_channels == 1
    assert d.atmosphere == "air" and not d.has_powder_dispenser and d.powder_dispenser is None

    block = d.labware["reaction_block"]
    assert block.material == "polypropylene" and block.sealed and not block.condenser  # a cap mat
    assert block.pressure_rating_bar == 0.2
    assert block.max_volume_ul == 2000.0 and block.module == "temperature_module"
    assert d.labware["sample_plate"].material == "polystyrene"
    assert (d.labware["sample_plate"].rows, d.labware["sample_plate"].columns) == (8, 12)

    module = d.module_of("reaction_block")
    assert module.kind == "temperature_controller" and not module.can_shake
    assert (module.min_temp_c, module.max_temp_c) == (4.0, 95.0)
    assert module.adapter.endswith("opentrons_96_deep_well_temp_mod_adapter")
    # "an Opentrons Temperature Module cannot reach 0 °C" (spec §4)
    assert not module.thermal.can_reach(0.0) and module.thermal.can_reach(4.0)

    # the P20 (right mount, channel 1) carries 20 µL tips, the P300 (left, channel 0) 300 µL tips
    assert d.tips["tips_20"].channels == (1,) and d.tips["tips_300"].channels == (0,)
    assert (d.tips["tips_20"].min_volume_ul, d.tips["tips_300"].min_volume_ul) == (1.0, 20.0)
    assert d.tip_for(15).name == "tips_20" and d.tip_for(25).name == "tips_300"
    assert [p.mount for p in d.pipettes] == ["left", "right"]

    assert d.reservoir_positions == tuple(f"reagent_reservoir:A{i}" for i in range(1, 13))
    assert d.reservoirs[0].max_volume_ul == 15000.0 and d.reservoirs[0].dead_volume_ul == 1000.0


def test_evo150_facts():
    d = deck("evo150_chem")
    assert d.robot_kind == "tecan_evo150" and d.channels == 8
    assert d.atmosphere == "air" and not d.has_powder_dispenser
    block = d.labware["reaction_block"]
    assert block.material == "glass" and block.sealed and block.max_volume_ul == 2000.0
    module = d.module_of("reaction_block")
    assert module.kind == "heater_shaker" and module.can_shake and not module.active_cooling
    # a Hamilton Heater Shaker on its own USB box: heat only, up to 105 °C (PLR asserts <= 105)
    assert module.max_temp_c == 105.0
    assert (module.shake_rpm_min, module.shake_rpm_max) == (100.0, 2000.0)
    assert (
        module.backends["hardware"].class_path
        == "diazflow.deck.plr_hardware.HamiltonHeaterShakerBackend"
    )
    assert "hamilton_backend.py:197" in module.profile.sources["thermal.max_temperature"]
    # no active cooling: nothing below ambient, ever
    assert not module.thermal.can_reach(d.ambient_c - 2)
    assert math.isinf(module.ramp_seconds(60.0, 10.0))
    assert [t.name for t in d.tip_types] == ["tips_200", "tips_1000"]
    assert len(d.reservoirs) == 8 and d.reservoirs[0].position == "reagent_troughs_1:A1"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_decks_name_the_spec_resources(name):
    d = deck(name)
    for required in ("reaction_block", "building_blocks", "sample_plate"):
        assert required in d.labware
    assert d.labware["reaction_block"].role == "reaction"
    assert d.labware["building_blocks"].role == "building_blocks"
    assert (d.labware["building_blocks"].rows, d.labware["building_blocks"].columns) == (8, 12)
    assert d.labware["sample_plate"].role == "samples"
    assert d.reservoirs and d.tip_types
    assert d.labware_with_role("waste")
    assert d.module_of("reaction_block") is not None
    assert d.timings.device and d.timings.flow_rates
    assert os.path.samefile(d.path, DECKS / f"{name}.yaml")


def test_well_names_are_column_major():
    assert well_names(8, 12)[:9] == ("A1", "B1", "C1", "D1", "E1", "F1", "G1", "H1", "A2")
    assert well_names(1, 12)[-1] == "A12"
    d = deck("starlet_chem")
    assert d.labware["reaction_block"].well_names()[-1] == "H12"
    spots = d.tips["tips_50"].spots()
    assert spots[0] == "tips_50_1:A1" and spots[96] == "tips_50_2:A1" and len(spots) == 4 * 96


def test_deck_spec_is_immutable():
    d = deck("starlet_chem")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.channels = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        d.labware["x"] = None  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.labware["reaction_block"].sealed = False  # type: ignore[misc]


# --------------------------------------------------------------------------- profiles


@pytest.mark.parametrize("profile", sorted(p.name for p in SIMULATORS.glob("*.yaml")))
def test_every_profile_number_has_a_source(profile):
    path = SIMULATORS / profile
    text = path.read_text()
    kind = re.search(r"^kind: (\w+)", text, re.M).group(1)
    loaded = (
        load_robot_profile(str(path))
        if kind == "liquid_handler"
        else load_module_profile(str(path))
    )
    assert loaded.sources, "no sourced values"
    for name, source in loaded.sources.items():
        assert len(source) > 5, f"{profile}: {name} has no real source"
    # every {value: ...} in the file carries a source (the schema requires it; this keeps it so)
    assert text.count("value:") == text.count("source:")


def test_robot_timings():
    t = load_robot_profile(str(SIMULATORS / "opentrons_ot2.yaml"))
    assert t.flow_rate(20).aspirate_ul_s == pytest.approx(3.78)
    assert t.flow_rate(300).aspirate_ul_s == pytest.approx(46.43)
    assert t.flow_rate(10).tip_volume_ul == 20  # smallest listed tip at least as large
    assert t.aspirate_seconds(20, 20) == pytest.approx(t.aspirate_fixed_s + 20 / 3.78)
    assert t.dispense_seconds(150, 300) == pytest.approx(t.dispense_fixed_s + 150 / 92.86)
    assert "PLR" in t.sources["flow_rates.0.aspirate"]


def test_thermal_model_ramps_and_settles():
    hcs = load_module_profile(str(SIMULATORS / "starlet_heater_cooler_shaker.yaml")).thermal
    assert hcs.active_cooling and hcs.settle_tolerance_c == 0.5
    # heating 22 → 62 °C at 4 °C/min: (40 - 0.5) / 4 min, plus settling
    assert hcs.ramp_seconds(22, 62) == pytest.approx((40 - 0.5) / 4 * 60 + hcs.settle_s)
    assert hcs.ramp_seconds(22, 22.3) == 0.0
    assert hcs.ramp_seconds(22, 4) == pytest.approx((18 - 0.5) / 2 * 60 + hcs.settle_s)
    assert math.isinf(hcs.ramp_seconds(22, 106)) and math.isinf(hcs.ramp_seconds(22, 3))
    assert math.isinf(hcs.ramp_seconds(22, 0))  # the ThermoShake's floor is 4 °C
    for start, target in [(22, 62), (22, 4), (80, 25), (4, 105)]:
        t = hcs.ramp_seconds(start, target) - hcs.settle_s
        assert abs(hcs.temperature_at(t, start, target) - target) <= hcs.settle_tolerance_c + 1e-9
        assert hcs.temperature_at(t + 3600, start, target) == pytest.approx(target)
        halfway = hcs.temperature_at(t / 2, start, target)
        assert min(start, target) < halfway < max(start, target)


def test_thermal_model_passive_cooling():
    hs = load_module_profile(str(SIMULATORS / "evo150_heater_shaker.yaml"), ambient_c=22.0).thermal
    assert not hs.active_cooling
    # cooling 80 → 40 °C follows the exponential relaxation to ambient
    t = hs.ramp_seconds(80, 40) - hs.settle_s
    expected = hs.passive_cooling_tau_s * math.log((80 - 22) / (40 + 0.5 - 22))
    assert t == pytest.approx(expected)
    assert hs.temperature_at(t, 80, 40) == pytest.approx(40.5)
    assert hs.temperature_at(10 * t, 80, 40) == pytest.approx(40.0)  # the heater holds the target
    assert math.isinf(hs.ramp_seconds(80, 10))  # below ambient: never
    assert hs.temperature_at(1e6, 80, 10) == pytest.approx(22.0, abs=1e-6)
    assert hs.idle_temperature_at(0, 80) == 80 and hs.idle_temperature_at(1e6, 80) == pytest.approx(
        22.0
    )


def test_deck_ambient_overrides_the_profile():
    example = load_deck(str(DECKS / "examples" / "ot2_heater_shaker.yaml"))
    assert example.ambient_c == 21.0
    assert example.modules["heater_shaker"].profile.thermal.ambient_c == 21.0


def test_shaker_model():
    sh = load_module_profile(str(SIMULATORS / "opentrons_heater_shaker.yaml")).shaker
    assert (sh.min_rpm, sh.max_rpm) == (200.0, 3000.0) and sh.motion == "orbital"
    assert sh.in_range(200) and not sh.in_range(100)


def test_operator_profile_times_weighing_by_hand():
    p = load_module_profile(str(SIMULATORS / "operator.yaml"))
    assert p.kind == "operator" and p.powder is None and p.thermal is None
    assert p.weighing is not None
    # 10 min set-up and 2 min a well, as written in the profile
    assert (p.weighing.per_step_s, p.weighing.per_well_portion_s) == (600.0, 120.0)
    assert p.weighing.round_seconds(96) == 600.0 + 96 * 120.0
    assert "estimate" in p.sources["weighing.per_well_portion"]
    # the STARlet's operator-run dispenser names it; a deck without one uses the shipped file
    assert deck("starlet_chem").weighing == p.weighing
    assert deck("evo150_chem").weighing == p.weighing


def test_an_operator_run_dispenser_names_an_operator_profile(tmp_path):
    path = _copy_deck(tmp_path)
    _break(path, "../simulators/operator.yaml", "../simulators/powder_dispenser.yaml")
    with pytest.raises(DeckLayoutError) as info:
        load_deck(str(path))
    assert any(
        "operator-run powder_dispenser names an operator profile" in d.message
        for d in info.value.diagnostics
    )
    # and a robot-run dispenser cannot be timed as a person
    (tmp_path / "robot").mkdir()
    path = _copy_deck(tmp_path / "robot")
    _break(path, "    operated_by: operator\n", "")
    with pytest.raises(DeckLayoutError) as info:
        load_deck(str(path))
    assert any("describes the operator" in d.message for d in info.value.diagnostics)


def test_powder_profile():
    p = load_module_profile(str(SIMULATORS / "powder_dispenser.yaml"))
    assert p.kind == "powder_dispenser" and p.thermal is None and p.powder is not None
    assert p.powder.dose_seconds(10) == pytest.approx(
        p.powder.dose_fixed_s + 10 * p.powder.per_mg_s
    )


# --------------------------------------------------------------------------- broken layouts


def _copy_deck(tmp_path: Path, name: str = "starlet_chem") -> Path:
    """A copy of a shipped deck (with its profiles) that a test may break."""
    (tmp_path / "deck_layouts").mkdir()
    shutil.copytree(SIMULATORS, tmp_path / "simulators")
    target = tmp_path / "deck_layouts" / f"{name}.yaml"
    shutil.copy(DECKS / f"{name}.yaml", target)
    return target


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _line_col(path: Path, needle: str, *, after: str | None = None) -> tuple[int, int]:
    lines = path.read_text().splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    for i in range(start, len(lines)):
        if needle in lines[i]:
            return i + 1, lines[i].index(needle) + 1
    raise AssertionError(needle)


def _errors(path: Path):
    with pytest.raises(DeckLayoutError) as info:
        load_deck(str(path))
    return info.value.diagnostics


def test_unknown_key_points_at_the_key(tmp_path):
    path = _copy_deck(tmp_path)
    _break(path, "    sealed: true ", "    seald: true ")
    (d,) = _errors(path)
    assert (
        d.code == "DF500"
        and "unknown key 'seald'" in d.message
        and "labware.reaction_block" in d.message
    )
    assert d.hint == "did you mean 'sealed'?"
    assert (d.line, d.column) == _line_col(path, "seald")
    assert d.file == str(path)


def test_pressure_rating_of_the_capped_vials(tmp_path):
    assert deck("starlet_chem").labware["reaction_block"].pressure_rating_bar == 3.0
    assert deck("evo150_chem").labware["reaction_block"].pressure_rating_bar == 3.0
    assert deck("ot2_tempmodule").labware["reaction_block"].pressure_rating_bar == 0.2  # cap mat
    path = _copy_deck(tmp_path)
    _break(path, "pressure_rating: 3 bar", "pressure_rating: 45 psi")
    # 45 psi = 45 × 6894.76 Pa = 3.103 bar
    rating = load_deck(str(path)).labware["reaction_block"].pressure_rating_bar
    assert rating == pytest.approx(3.1026, abs=1e-3)


def test_pressure_rating_needs_caps(tmp_path):
    path = _copy_deck(tmp_path)
    _break(
        path,
        "max_volume: 2 mL\n    dead_volume: 50 uL",
        "max_volume: 2 mL\n    pressure_rating: 2 bar\n    dead_volume: 50 uL",
    )
    (d,) = _errors(path)
    assert (
        d.code == "DF500" and "'pressure_rating'" in d.message and "'building_blocks'" in d.message
    )
    assert (d.line, d.column) == _line_col(path, "pressure_rating: 2 bar")


def test_bad_unit_points_at_the_value(tmp_path):
    path = _copy_deck(tmp_path)
    _break(path, "max_volume: 2 mL\n    sealed", "max_volume: 2 mLL\n    sealed")
    (d,) = _errors(path)
    assert d.code == "DF500" and "unknown unit 'mLL'" in d.message
    assert "did you mean 'mL'" in (d.hint or "")
    assert (d.line, d.column) == _line_col(path, "2 mLL")


def test_wrong_dimension_and_missing_unit(tmp_path):
    path = _copy_deck(tmp_path, "ot2_tempmodule")
    _break(path, "max_volume: 360 uL", "max_volume: 360 min")
    _break(path, "dead_volume: 1 mL ", "dead_volume: 1000 ")
    diags = _errors(path)
    assert [d.code for d in diags] == ["DF500", "DF500"]
    assert "is not a volume" in diags[0].message and (diags[0].line, diags[0].column) == _line_col(
        path, "360 min"
    )
    assert "has no unit" in diags[1].message and (diags[1].line, diags[1].column) == _line_col(
        path, "1000", after="dead_volume: 1000"
    )


def test_missing_reaction_block(tmp_path):
    path = _copy_deck(tmp_path, "ot2_tempmodule")
    text = path.read_text().replace("reaction_block", "reaction_plate")
    path.write_text(text)
    (d,) = _errors(path)
    assert d.code == "DF500" and "no 'reaction_block'" in d.message
    assert (d.line, d.column) == _line_col(path, "labware:")


def test_unknown_plr_factory_with_suggestion(tmp_path):
    path = _copy_deck(tmp_path)
    _break(path, "factory: hamilton_96_tiprack_50uL,", "factory: hamilton_96_tiprack_50ul,")
    _break(path, "STARChatterboxBackend", "STARChaterboxBackend")
    diags = _errors(path)
    assert {d.code for d in diags} == {"DF501"}
    tip = next(d for d in diags if "tiprack" in d.message)
    assert tip.hint == "did you mean 'hamilton_96_tiprack_50uL'?"
    assert (tip.line, tip.column) == _line_col(path, "hamilton_96_tiprack_50ul")
    backend = next(d for d in diags if "Chaterbox" in d.message)
    assert "STARChatterboxBackend" in backend.hint


def test_reference_errors(tmp_path):
    path = _copy_deck(tmp_path)
    _break(
        path,
        "location: {carrier: plate_carrier, site: 1}",
        "location: {carrier: plate_carier, site: 1}",
    )
    _break(
        path,
        "racks: [tips_50_1, tips_50_2, tips_50_3, tips_50_4]",
        "racks: [tips_50_1, tips_50_5, tips_50_3, tips_50_4]",
    )
    _break(path, "labware: reaction_block\n", "labware: reaction_blok\n")
    messages = [d.message for d in _errors(path)]
    assert any("carrier 'plate_carier' is not declared" in m for m in messages)
    assert any("tip rack 'tips_50_5' is not in labware" in m for m in messages)
    assert any("holds 'reaction_blok'" in m for m in messages)
    assert any("tips_50_2' belongs to no tip type" in m for m in messages)


def test_two_things_in_one_place(tmp_path):
    path = _copy_deck(tmp_path, "ot2_tempmodule")
    _break(path, "location: {slot: 6}", "location: {slot: 5}")
    (d,) = _errors(path)
    assert "'sample_plate' and 'building_blocks' are both placed at slot 5" in d.message


def test_invalid_profile_is_reported_in_the_profile(tmp_path):
    path = _copy_deck(tmp_path)
    profile = tmp_path / "simulators" / "starlet_heater_cooler_shaker.yaml"
    _break(profile, "heating_rate: {value: 4 degC/min", "heating_rate: {value: 4 degC")
    diags = _errors(path)
    in_profile = next(d for d in diags if d.file == str(profile))
    assert in_profile.code == "DF500" and "is not a rate" in in_profile.message
    assert (in_profile.line, in_profile.column) == _line_col(
        profile, "4 degC", after="heating_rate"
    )
    in_layout = next(d for d in diags if d.file == str(path))
    assert "is invalid" in in_layout.message


def test_bad_values_in_profiles_are_reported_at_the_value(tmp_path):
    path = _copy_deck(tmp_path)
    robot = tmp_path / "simulators" / "hamilton_starlet.yaml"
    _break(robot, "- tip_volume: 50 uL", "- tip_volume: 50 uLL")
    module = tmp_path / "simulators" / "starlet_heater_cooler_shaker.yaml"
    text = module.read_text()
    tolerance = re.search(r"(\w*tolerance): \{value: ([^,]+),", text)
    assert tolerance, "the module profile has a tolerance"
    _break(
        module,
        f"{tolerance.group(1)}: {{value: {tolerance.group(2)},",
        f"{tolerance.group(1)}: {{value: -2 degC,",
    )
    diags = _errors(path)
    in_robot = next(d for d in diags if d.file == str(robot))
    assert in_robot.code == "DF500" and "uLL" in in_robot.message
    assert (in_robot.line, in_robot.column) == _line_col(robot, "50 uLL")
    in_module = next(d for d in diags if d.file == str(module))
    assert in_module.code == "DF500" and "must not be negative" in in_module.message


def test_profile_kind_must_match_module_kind(tmp_path):
    path = _copy_deck(tmp_path, "evo150_chem")
    _break(path, "kind: heater_shaker", "kind: heater_cooler_shaker")
    (d,) = _errors(path)
    assert "cools actively" in d.message


def test_yaml_syntax_error_is_a_layout_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("diazflow_deck: 1\nrobot: {kind: opentrons_ot2\n")
    (d,) = _errors(path)
    assert d.code == "DF500" and "YAML syntax error" in d.message and d.line >= 2


def test_every_error_is_reported_not_only_the_first(tmp_path):
    path = _copy_deck(tmp_path)
    _break(
        path,
        "max_volume: 60 mL\n    dead_volume: 3 mL        #",
        "max_volume: 60 mLL\n    dead_volume: 3 mL        #",
    )
    _break(path, "channels: 8\n", "channels: 8\n  parallel_channels: 9\n")
    assert len(_errors(path)) == 2


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_deck(str(tmp_path / "nope.yaml"))


def test_cache_sees_profile_changes(tmp_path):
    path = _copy_deck(tmp_path)
    first = load_deck(str(path))
    assert load_deck(str(path)) is first
    profile = tmp_path / "simulators" / "starlet_heater_cooler_shaker.yaml"
    _break(profile, "max_temperature: {value: 105 degC", "max_temperature: {value: 100 degC")
    os.utime(profile, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert load_deck(str(path)).modules["heater_cooler_shaker"].max_temp_c == 100.0


# --------------------------------------------------------------------------- a user's own deck


def test_doc_example_is_the_shipped_example_and_loads():
    """docs/deck-layouts.md shows deck_layouts/examples/ot2_heater_shaker.yaml verbatim."""
    doc = (REPO / "docs" / "deck-layouts.md").read_text()
    example = (DECKS / "examples" / "ot2_heater_shaker.yaml").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    assert example in blocks, "docs/deck-layouts.md must quote the example file verbatim"
    d = load_deck(str(DECKS / "examples" / "ot2_heater_shaker.yaml"))
    hs = d.module_of("reaction_block")
    assert hs.kind == "heater_shaker" and hs.can_shake and not hs.active_cooling
    assert (hs.min_temp_c, hs.max_temp_c, hs.shake_rpm_min, hs.shake_rpm_max) == (
        37.0,
        95.0,
        200.0,
        3000.0,
    )
    assert d.robot.backends.get("simulate") is None  # the default recording backend is used


def test_a_new_module_kind_needs_no_code(tmp_path):
    """A user's own cooling module: a new profile and a new layout entry, nothing else."""
    shutil.copytree(SIMULATORS, tmp_path / "simulators")
    (tmp_path / "deck_layouts").mkdir()
    profile = (SIMULATORS / "opentrons_temperature_module_gen2.yaml").read_text()
    profile = profile.replace("value: 4 degC, source", "value: -20 degC, source").replace(
        "device: Opentrons Temperature Module GEN2", "device: my chiller"
    )
    (tmp_path / "simulators" / "my_chiller.yaml").write_text(profile)
    layout = (
        (DECKS / "ot2_tempmodule.yaml")
        .read_text()
        .replace("opentrons_temperature_module_gen2.yaml", "my_chiller.yaml")
    )
    (tmp_path / "deck_layouts" / "cold_ot2.yaml").write_text(layout)
    d = load_deck(str(tmp_path / "deck_layouts" / "cold_ot2.yaml"))
    assert d.module_of("reaction_block").min_temp_c == -20.0
    assert d.module_of("reaction_block").profile.device == "my chiller"


# --------------------------------------------------------------------------- speed and PLR-freedom


def test_load_deck_does_not_import_pylabrobot():
    """validate must stay fast: loading a layout never imports PyLabRobot (timing: bench/)."""
    code = textwrap.dedent(
        f"""
        import sys, time, json
        from diazflow.language.quantities import Dimension, parse_quantity
        parse_quantity("1 mL", Dimension.VOLUME)   # the protocol loader has started pint already
        from diazflow.deck import load_deck
        times = []
        for name in {SHIPPED!r}:
            t = time.perf_counter()
            load_deck("deck_layouts/" + name + ".yaml")
            times.append(time.perf_counter() - t)
        print(json.dumps({{"times": times, "plr": any(m.startswith("pylabrobot") for m in sys.modules)}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["plr"] is False


def test_shipped_plr_name_list_matches_installed_pylabrobot():
    """Regenerate with `python -m diazflow.deck.plr_names --write` after upgrading PyLabRobot."""
    shipped = json.loads(Path(plr_names.NAMES_FILE).read_text())
    assert shipped == plr_names.generate()


def test_layout_schema_names_are_documented():
    doc = (REPO / "docs" / "deck-layouts.md").read_text()
    for key in sorted(layout_module._LAYOUT_FIELDS - {"class", "args"}):
        assert f"`{key}`" in doc, f"docs/deck-layouts.md does not document `{key}`"


def test_only_a_powder_dispenser_may_be_operator_run(tmp_path):
    starlet = deck("starlet_chem")
    assert starlet.modules["powder_dispenser"].operator_run
    assert not starlet.modules["heater_cooler_shaker"].operator_run
    text = (DECKS / "starlet_chem.yaml").read_text()
    anchor = "    kind: heater_cooler_shaker\n"
    assert text.count(anchor) == 1
    text = text.replace(anchor, anchor + "    operated_by: operator\n")
    text = text.replace("../simulators/", f"{SIMULATORS}/")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DeckLayoutError) as info:
        load_deck(str(path))
    messages = [d.message for d in info.value.diagnostics if d.code == "DF500"]
    assert any("only a powder dispenser can be operated by the operator" in m for m in messages)
    assert any("no hardware backend" in m for m in messages)  # and it keeps its driver


# --------------------------------------------------------------------------- classes a layout may name


STAR_HARDWARE = (
    "    hardware: pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STARBackend\n"
)


def _starlet_with_hardware(tmp_path, backend_yaml: str):
    text = (DECKS / "starlet_chem.yaml").read_text()
    assert text.count(STAR_HARDWARE) == 1
    text = text.replace(STAR_HARDWARE, backend_yaml).replace("../simulators/", f"{SIMULATORS}/")
    path = tmp_path / "layout.yaml"
    path.write_text(text)
    return path, text


def test_a_layout_cannot_name_arbitrary_code(tmp_path):
    marker = tmp_path / "pwned"
    path, text = _starlet_with_hardware(
        tmp_path,
        f"    hardware:\n      class: os.system\n      args: {{command: 'touch {marker}'}}\n",
    )
    with pytest.raises(DeckLayoutError) as info:
        load_deck(str(path))
    (diag,) = [d for d in info.value.diagnostics if d.code == "DF501"]
    assert "'os.system' is not a PyLabRobot or diazflow class" in diag.message
    assert diag.line == text.splitlines().index("      class: os.system") + 1
    assert not marker.exists()


def test_build_refuses_a_class_outside_the_allow_list_even_in_a_spec(tmp_path):
    import dataclasses

    from diazflow.deck.plr import PlrBuildError, build_plr
    from diazflow.deck.spec import BackendRecipe

    marker = tmp_path / "pwned"
    spec = deck("starlet_chem")
    evil = BackendRecipe("os.system", {"command": f"touch {marker}"})
    robot = dataclasses.replace(spec.robot, backends={**spec.robot.backends, "hardware": evil})
    with pytest.raises(PlrBuildError) as info:
        build_plr(dataclasses.replace(spec, robot=robot), "hardware")
    assert any(d.code == "DF501" for d in info.value.diagnostics)
    assert not marker.exists()


def test_a_class_registered_through_the_entry_point_is_allowed(tmp_path, monkeypatch):
    from diazflow.deck import plr_names

    mine = "my_lab.devices.MyStarBackend"
    path, _ = _starlet_with_hardware(tmp_path, f"    hardware: {mine}\n")
    with pytest.raises(DeckLayoutError):
        load_deck(str(path))
    monkeypatch.setattr(plr_names, "registered_classes", lambda: frozenset({mine}))
    spec = load_deck(str(path))
    assert spec.robot.backends["hardware"].class_path == mine
