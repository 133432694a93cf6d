"""Liquid classes and tip heights: chosen from the liquid, carried by the plan, applied on the
robot (STAR firmware parameters), and checked by the simulator (no tip in a reaction mixture)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from diazflow.chemistry import liquid_classes
from diazflow.chemistry.properties import lookup
from diazflow.compiler.plan import Aspirate, Dispense, Sample

REPO = Path(__file__).resolve().parents[1]
DCE_WORKFLOW = REPO / "workflows" / "n4_reductive_amination_stab.yaml"
SCRIPT = REPO / "scripts" / "build_liquid_class_data.py"


def checked(path: Path):
    from diazflow.pipeline import check

    result = check(str(path))
    assert result.plan is not None, [str(d) for d in result.diagnostics if d.is_error]
    return result


@pytest.fixture(scope="module")
def dce():
    return checked(DCE_WORKFLOW)


# --------------------------------------------------------------------------- data


def test_shipped_hamilton_table_matches_the_installed_pylabrobot():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import build_liquid_class_data as build
    finally:
        sys.path.pop(0)
    shipped = (REPO / "src/diazflow/chemistry/data/hamilton_liquid_classes.json").read_text()
    assert build.dumps(build.extract()) == shipped


def test_shipped_well_geometry_matches_the_installed_pylabrobot():
    from diazflow.deck import geometry

    shipped = Path(geometry.GEOMETRY_FILE).read_text()
    assert geometry.dumps(geometry.generate()) == shipped


def test_geometry_interpolates_pylabrobots_own_height_function():
    import pylabrobot.resources as plr

    from diazflow.deck.geometry import well_geometry

    well = plr.cor_96_wellplate_2mL_Vb(name="p").get_well("A1")
    g = well_geometry("cor_96_wellplate_2mL_Vb")
    assert g is not None and not g.approximate
    for volume in (10.0, 77.0, 250.0, 999.0, 1700.0):
        assert g.height_of(volume) == pytest.approx(
            well.compute_height_from_volume(volume), abs=0.15
        )


# --------------------------------------------------------------------------- choice


def test_a_table_liquid_gets_its_own_class():
    lc = liquid_classes.choose("water", 1000)
    assert (lc.basis, lc.derived, lc.distance) == ("WATER", False, 0.0)
    assert lc.plr_class == "HighVolume_Water_DispenseJet_Empty"
    assert not lc.volatile and not lc.pre_wetting


def test_dcm_derives_from_chloroform_and_is_pipetted_as_volatile():
    lc = liquid_classes.choose("DCM", 1000)
    assert lc.basis == "CHLOROFORM" and lc.derived
    assert lc.name == "dichloromethane 1000 uL jet"
    assert lc.volatile and lc.pre_wetting and lc.transport_air_ul >= 10
    # the distance, recomputed from the property data by hand
    dcm, chcl3 = lookup("dichloromethane"), lookup("chloroform")
    assert dcm is not None and chcl3 is not None
    expected = (
        abs(math.log(dcm.vapour_pressure_kpa / chcl3.vapour_pressure_kpa))
        + abs(math.log(dcm.viscosity_mpa_s / chcl3.viscosity_mpa_s))
        + abs(dcm.density_g_ml - chcl3.density_g_ml) / 0.2
        + abs(math.log(dcm.surface_tension_mn_m / chcl3.surface_tension_mn_m))
    )
    assert lc.distance == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("solvent", ["DCM", "DCE", "THF", "TFA", "MeOH", "MeCN", "chloroform"])
def test_volatile_solvents_carry_transport_air_on_every_tip(solvent):
    for tip in liquid_classes.TIP_SIZES_UL:
        lc = liquid_classes.choose(solvent, tip)
        assert lc.volatile, (solvent, tip)
        assert lc.transport_air_ul >= liquid_classes.VOLATILE_TRANSPORT_AIR_UL[tip]


def test_the_class_name_round_trips():
    lc = liquid_classes.choose("1,4-dioxane", 300)
    assert liquid_classes.find(lc.name) == lc


def test_an_unknown_liquid_has_no_class():
    with pytest.raises(liquid_classes.UnknownLiquid):
        liquid_classes.choose("Solvesso 150", 300)


def test_an_unknown_solvent_is_df311_at_its_step(variant):
    from diazflow.pipeline import check

    v = variant(
        "  - add_solvent: {solvent: DCE, to_concentration: 0.2 M}\n",
        "  - add_solvent: {solvent: house solvent, to_concentration: 0.2 M}\n",
    )
    result = check(str(v.path), deck_override="starlet_chem")
    found = [d for d in result.diagnostics if d.code == "DF311"]
    assert len(found) == 1 and "house solvent" in found[0].message
    assert (found[0].line, found[0].column) == v.at("house solvent")
    assert result.plan is None


# --------------------------------------------------------------------------- the plan


def test_every_transfer_names_its_class_and_a_height_per_channel(dce):
    transfers = [op for op in dce.plan.operations if isinstance(op, (Aspirate, Dispense))]
    assert transfers
    for op in transfers:
        assert len(op.height_mm) == len(op.wells) == len(op.volumes_uL)
        liquid_classes.find(op.liquid_class)  # a real class
    names = {op.liquid_class for op in transfers}
    assert any(n.startswith("1,2-dichloroethane") for n in names)
    assert any(n.startswith("water") for n in names)  # the NaHCO3 quench


def test_dispenses_stay_above_the_surface_pylabrobot_computes(dce):
    """Recompute every reaction well's volume from the plan's own dispenses and samples, and the
    surface height with PyLabRobot's geometry of the vessel: each dispense is above it."""
    import pylabrobot.resources as plr

    well = plr.cor_96_wellplate_2mL_Vb(name="v").get_well("A1")
    volume: dict[str, float] = defaultdict(float)
    checked_dispenses = 0
    for op in sorted(dce.plan.operations, key=lambda o: (o.t, o.id)):
        if isinstance(op, Dispense):
            for w, v, h in zip(op.wells, op.volumes_uL, op.height_mm, strict=True):
                volume[w] += v
                assert h > well.compute_height_from_volume(volume[w]) + 1.0, (op.id, w)
                checked_dispenses += 1
        elif isinstance(op, Sample):
            for w, v in zip(op.wells, op.volumes_uL, strict=True):
                volume[w] -= v
    assert checked_dispenses > 96


def test_aspirations_follow_the_falling_level_of_the_source(dce):
    heights = defaultdict(list)
    for op in sorted(dce.plan.operations, key=lambda o: (o.t, o.id)):
        if isinstance(op, Aspirate):
            for w, h in zip(op.wells, op.height_mm, strict=True):
                heights[w].append(h)
    trough = heights["reagent_trough_1:A1"]
    assert len(trough) > 8
    assert all(b <= a + 1e-9 for a, b in zip(trough, trough[1:], strict=False))
    assert trough[-1] >= 1.0  # never below the bottom clearance


# --------------------------------------------------------------------------- on the robot


def _firmware(line: str) -> dict[str, list[int]]:
    """``C0ASid0003at0 0tm1 1...`` → {"at": [0, 0], "tm": [1, 1], ...} (one value per channel)."""
    return {
        key: [int(x) for x in values.split()]
        for key, values in re.findall(r"([a-z]{2})([0-9 ]+)", line[4:])
    }


def test_star_firmware_shows_a_volatile_class_and_jet_dispenses_above_the_liquid(tmp_path, dce):
    journal = tmp_path / "star.sqlite"
    out = subprocess.run(
        [sys.executable, "-m", "diazflow.cli", "run", str(DCE_WORKFLOW), "--backend"]
        + ["chatterbox", "--journal", str(journal), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = Path(str(journal) + ".commands.txt").read_text().splitlines()
    aspirates = [_firmware(x) for x in lines if x.startswith("C0AS")]
    dispenses = [_firmware(x) for x in lines if x.startswith("C0DS")]
    ops = sorted(dce.plan.operations, key=lambda o: (o.t, o.id))
    plan_aspirates = [op for op in ops if isinstance(op, (Aspirate, Sample))]
    plan_dispenses = [op for op in ops if isinstance(op, (Dispense, Sample))]
    assert len(aspirates) == len(plan_aspirates) and len(dispenses) == len(plan_dispenses)

    dce_aspirations = 0
    for fw, op in zip(aspirates, plan_aspirates, strict=True):
        if isinstance(op, Aspirate) and op.liquid_class.startswith("1,2-dichloroethane"):
            n = len(op.wells)
            # transport air (0.1 µL) and pre-wetting: the volatile-solvent practice
            assert all(ta >= 50 for ta in fw["ta"][:n]), fw["ta"]
            assert any(oa > 0 for oa in fw["oa"][:n]), fw["oa"]
            dce_aspirations += 1
    assert dce_aspirations > 0

    for fw, op in zip(dispenses, plan_dispenses, strict=True):
        if not isinstance(op, Dispense):
            continue
        n = len(op.wells)
        assert all(mode in (0, 1) for mode in fw["dm"][:n]), fw["dm"]  # jet, not surface (2/3)
        # zl (dispense height) above zx (the cavity bottom) by the plan's height, in 0.1 mm
        for zl, zx, h in zip(fw["zl"][:n], fw["zx"][:n], op.height_mm, strict=True):
            assert (zl - zx) / 10 == pytest.approx(h, abs=0.11)


def test_the_simulator_fails_a_dispense_that_would_touch_the_mixture(tmp_path, dce):
    from diazflow.runtime.runner import run_plan

    ops = list(dce.plan.operations)
    # the second addition to the first wells, lowered to 1 mm: the first is already in the well
    dispenses = [i for i, op in enumerate(ops) if isinstance(op, Dispense)]
    target = dispenses[len(dispenses) // 2]
    low = ops[target]
    ops[target] = low.model_copy(update={"height_mm": [1.0] * len(low.wells)})
    plan = dce.plan.model_copy(update={"operations": ops})
    outcome = run_plan(
        dataclasses.replace(dce, plan=plan),
        journal_path=str(tmp_path / "low.sqlite"),
        quiet=True,
        notify=lambda _: None,
    )
    assert outcome.exit_code == 3
    assert "touch the reaction mixture" in (outcome.message or "")
    assert f"operation {low.id} " in (outcome.message or "")


def test_simulated_backend_receives_the_heights_and_flow_rates(tmp_path):
    """On the OT-2 (no Hamilton classes) the class's flow rates and the heights are passed."""
    from diazflow.deck.plr_backends import RecordingLiquidHandlerBackend
    from diazflow.runtime.runner import run_plan

    result = checked(REPO / "workflows" / "n4_michael_addition.yaml")
    seen: list = []
    original = RecordingLiquidHandlerBackend.dispense

    async def spy(self, ops, use_channels, **kwargs):
        seen.extend(ops)
        await original(self, ops, use_channels, **kwargs)

    RecordingLiquidHandlerBackend.dispense = spy  # type: ignore[method-assign]
    try:
        outcome = run_plan(
            result, journal_path=str(tmp_path / "ot2.sqlite"), quiet=True, notify=lambda _: None
        )
    finally:
        RecordingLiquidHandlerBackend.dispense = original  # type: ignore[method-assign]
    assert outcome.exit_code == 0, outcome.message
    planned = [
        h
        for op in sorted(result.plan.operations, key=lambda o: (o.t, o.id))
        if isinstance(op, Dispense)
        for h in op.height_mm
    ]
    heights = [op.liquid_height for op in seen if op.liquid_height is not None]
    assert heights[: len(planned)] == pytest.approx(planned)
    assert all(op.flow_rate is not None and op.flow_rate > 0 for op in seen)


def test_plan_json_has_the_fields_in_its_documented_order(dce):
    data = json.loads(dce.plan.to_json())
    aspirate = next(o for o in data["operations"] if o["op"] == "aspirate")
    keys = list(aspirate)
    assert keys.index("volumes_uL") < keys.index("liquid_class") < keys.index("height_mm")


def test_the_layouts_traversal_height_reaches_the_star(tmp_path):
    import asyncio

    from diazflow.deck import load_deck
    from diazflow.deck.builtin import builtin_deck_path
    from diazflow.deck.plr import build_plr
    from diazflow.deck.spec import PipettingSpec

    spec = load_deck(str(builtin_deck_path("starlet_chem")))
    spec = dataclasses.replace(spec, pipetting=PipettingSpec(traversal_height_mm=200.0))
    setup = build_plr(spec, "chatterbox")
    asyncio.run(setup.setup())
    try:
        assert setup.liquid_handler.backend._channel_traversal_height == 200.0
    finally:
        asyncio.run(setup.stop())


def test_a_traversal_height_the_evo_cannot_take_is_refused(tmp_path):
    from diazflow.deck import DeckLayoutError, load_deck
    from diazflow.deck.builtin import builtin_deck_path

    text = Path(str(builtin_deck_path("evo150_chem"))).read_text()
    (tmp_path / "layouts").mkdir()
    layout = tmp_path / "layouts" / "evo.yaml"
    layout.write_text(text + "pipetting: {traversal_height_mm: 150}\n")
    (tmp_path / "simulators").mkdir()  # the layout names its profiles as ../simulators/...
    for profile in (REPO / "simulators").glob("*.yaml"):
        (tmp_path / "simulators" / profile.name).write_text(profile.read_text())
    with pytest.raises(DeckLayoutError) as caught:
        load_deck(str(layout))
    assert any("traversal height" in d.message for d in caught.value.diagnostics)


def test_ot2_draws_an_air_gap_for_methanol_and_expels_it_with_the_liquid(tmp_path):
    """Read the OT-2 chatterbox transcript of the Michael addition in MeOH (the note's first
    choice; the shipped workflow uses EtOH, which is not volatile enough for an air gap): after
    each liquid aspiration, at traversal height, an air gap of the class's transport air; each
    dispense expels the planned volume plus that air."""
    sys.path.insert(0, str(REPO / "scripts"))
    import update_golden

    text = (REPO / "workflows" / "n4_michael_addition.yaml").read_text(encoding="utf-8")
    text = text.replace("solvent: EtOH", "solvent: MeOH")
    text = text.replace("../deck_layouts/", f"{REPO}/deck_layouts/")
    text = text.replace("csv: libraries/", f"csv: {REPO}/workflows/libraries/")
    variant = tmp_path / "michael_meoh.yaml"
    variant.write_text(text, encoding="utf-8")
    result = checked(variant)
    lc = liquid_classes.choose("MeOH", 300)
    assert lc.volatile
    lines = update_golden.transcript(str(variant)).splitlines()
    volume = re.compile(r"volume=([0-9.]+)")
    planned = [
        v
        for op in sorted(result.plan.operations, key=lambda o: (o.t, o.id))
        if isinstance(op, Dispense)
        for v in op.volumes_uL
    ]
    dispensed = [float(volume.search(x)[1]) for x in lines if x.startswith("lh.dispense_in_place")]
    air = [
        float(volume.search(b)[1])
        for a, b in zip(lines, lines[2:], strict=False)
        if a.startswith("lh.aspirate_in_place") and b.startswith("lh.aspirate_in_place")
    ]
    assert len(air) == len(planned) and all(0 < a <= lc.transport_air_ul for a in air)
    assert dispensed == pytest.approx([p + a for p, a in zip(planned, air, strict=True)])


def test_pipette_like_gives_an_unknown_solvent_a_known_liquids_class(variant):
    from diazflow.pipeline import check

    v = variant(
        "  - add_solvent: {solvent: DCE, to_concentration: 0.2 M}\n",
        "  - add_solvent: {solvent: house solvent, to_concentration: 0.2 M, pipette_like: THF}\n",
    )
    result = check(str(v.path), deck_override="starlet_chem")
    assert not [d for d in result.diagnostics if d.code == "DF311"]
    assert result.plan is not None
    classes = {
        op.liquid_class
        for op in result.plan.operations
        if isinstance(op, Aspirate) and op.reagent == "solvent:house solvent"
    }
    assert classes and all(c.startswith("tetrahydrofuran ") for c in classes)


def test_pipette_like_an_unknown_liquid_is_df311_with_a_suggestion(variant):
    from diazflow.pipeline import check

    v = variant(
        "    stock: {concentration: 1.0 M, solvent: DCE}\n",
        "    stock: {concentration: 1.0 M, solvent: DCE}\n    pipette_like: dichlormethane\n",
    )
    result = check(str(v.path), deck_override="starlet_chem")
    found = [d for d in result.diagnostics if d.code == "DF311"]
    assert len(found) == 1
    assert (found[0].line, found[0].column) == v.at("dichlormethane")
    assert "dichloromethane" in (found[0].hint or "")
