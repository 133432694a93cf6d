"""The compiler, checked independently of the code that made the plan.

Expected amounts are computed here from first principles (equiv × scale / concentration), and plan
properties (even dropwise spacing, order of quench and hold, temperature before keep_below
additions) are read off the operations list, not from the scheduler's internals.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from collections import defaultdict

import pytest
import yaml

from conftest import REPO
from diazflow.pipeline import check
from helpers import (
    ACOH_NEAT,
    ALDEHYDES_12,
    NAHCO3_FLOW,
    error_codes,
    method_a_protocol,
    write_protocol,
)

STAB_DROPWISE = method_a_protocol(
    "N4 reductive amination, aldehyde added dropwise at 0 degC",
    """\
  - add: {reagent: diazepane, equiv: 1.0}
  - add_solvent: {solvent: DCE, volume: 40 uL}
  - cool: {to: 4 degC}
  - add: {reagent: aldehyde, equiv: 1.05, dropwise: 30-60 min, keep_below: 5 degC}
  - add: {reagent: acoh, equiv: 1.0}
  - warm: {to: rt}
  - stir: {duration: 15 min}
  - add: {reagent: stab, equiv: 1.4}
  - stir: {duration: 1-4 h}
  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}
  - offdeck: Extract with DCM (3x), wash with brine, dry over Na2SO4 and concentrate.
""",
    acoh=ACOH_NEAT,
    nahco3=NAHCO3_FLOW,
)


@pytest.fixture(scope="module")
def stab_plan(tmp_path_factory):
    path = write_protocol(tmp_path_factory.mktemp("stab"), STAB_DROPWISE)
    result = check(str(path))
    assert result.ok, [str(d) for d in result.diagnostics]
    return result.plan


def _dispensed(plan):
    """(well, reagent) → µL / mg summed over the plan's dispense operations."""
    ul: dict[tuple[str, str], float] = defaultdict(float)
    mg: dict[tuple[str, str], float] = defaultdict(float)
    for op in plan.operations:
        if op.op == "dispense":
            for well, v in zip(op.wells, op.volumes_uL, strict=False):
                ul[(well, op.reagent)] += v
        elif op.op == "dispense_powder":
            for well, m in zip(op.wells, op.mg, strict=False):
                mg[(well, op.reagent)] += m
    return ul, mg


def test_per_well_amounts_match_hand_calculation(stab_plan):
    ul, mg = _dispensed(stab_plan)
    # by hand: 50 µmol limiting; 1.0 M diazepane → 50 µL; 1.05 equiv of a 0.5 M aldehyde → 105 µL;
    # AcOH: 50 µmol × 60.05 g/mol = 3.0025 mg, density ≈ 1.049 g/mL → ≈ 2.86 µL;
    # STAB: 1.4 × 50 µmol × 211.94 g/mol = 14.836 mg.
    for well in stab_plan.wells:
        assert ul[(well, "diazepane")] == pytest.approx(50.0, abs=0.01)
        assert ul[(well, "aldehyde")] == pytest.approx(105.0, abs=0.01)
        assert ul[(well, "acoh")] == pytest.approx(3.0025 / 1.049, rel=0.01)
        assert mg[(well, "stab")] == pytest.approx(1.4 * 50 * 211.94 / 1000, rel=1e-3)
        before_quench = 50 + 40 + 105 + ul[(well, "acoh")]
        assert ul[(well, "nahco3")] == pytest.approx(before_quench, rel=1e-3)
        entry = stab_plan.wells[well]
        for reagent, amount in entry.reagents.items():
            if amount.uL:
                assert ul[(well, reagent)] == pytest.approx(amount.uL, abs=0.01 * 8)
        assert entry.final_volume_uL == pytest.approx(2 * before_quench, rel=1e-3)


def test_library_member_per_column(stab_plan):
    by_well = {}
    for op in stab_plan.operations:
        if op.op == "dispense" and op.reagent == "aldehyde":
            for well, sub in zip(op.wells, op.substances, strict=False):
                by_well.setdefault(well, set()).add(sub)
    for well, subs in by_well.items():
        column = int(well[1:])
        assert subs == {ALDEHYDES_12[column - 1][0]}


def _step_index(plan, kind, nth=0):
    return [s.step for s in plan.steps if s.kind == kind][nth]


def test_dropwise_aliquots_even_and_inside_window(stab_plan):
    step = 3
    summary = next(s for s in stab_plan.steps if s.step == step)
    times = defaultdict(list)
    for op in stab_plan.operations:
        if op.step == step and op.op == "dispense":
            for well in op.wells:
                times[well].append((op.t, op.end))
    assert len(times) == 96
    counts = {len(v) for v in times.values()}
    assert len(counts) == 1 and counts.pop() >= 4
    for well, spans in times.items():
        starts = [t for t, _ in spans]
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        assert max(gaps) - min(gaps) < 0.01, well  # even intervals
        assert starts[0] >= summary.start - 1e-6
        assert spans[-1][1] <= summary.start + 60 * 60 + 1e-6  # inside the 30-60 min window
    # every well gets the same profile: the same gap everywhere
    # (the same up to the plan's 1 ms rounding of each start)
    all_gaps = [spans[1][0] - spans[0][0] for spans in times.values()]
    assert max(all_gaps) - min(all_gaps) <= 0.002 + 1e-9


def test_keep_below_additions_only_after_block_is_cold(stab_plan):
    cool_waits = [
        op for op in stab_plan.operations if op.op == "wait_temperature" and op.celsius == 4.0
    ]
    assert cool_waits, "the block must be cooled and waited for"
    cold_from = cool_waits[0].end
    warm_set = min(
        op.t for op in stab_plan.operations if op.op == "set_temperature" and op.celsius > 4
    )
    for op in stab_plan.operations:
        if op.step == 3 and op.op in ("aspirate", "dispense"):
            assert cold_from <= op.t and op.end <= warm_set


def test_quench_after_the_hold(stab_plan):
    hold_end = max(op.end for op in stab_plan.operations if op.op == "shake" and op.step == 8)
    quench = [op for op in stab_plan.operations if op.step == 9 and op.op == "dispense"]
    assert quench and min(op.t for op in quench) >= hold_end - 1e-6
    # 1-4 h resolved to the upper end (default duration_policy)
    shakes = [op for op in stab_plan.operations if op.op == "shake" and op.step == 8]
    assert sum(op.duration for op in shakes) == pytest.approx(4 * 3600)


def test_no_device_does_two_things_at_once(stab_plan):
    by_device = defaultdict(list)
    for op in stab_plan.operations:
        by_device[op.device].append(op)
    for device, ops in by_device.items():
        ops.sort(key=lambda o: (o.t, o.id))
        for a, b in zip(ops, ops[1:], strict=False):
            assert b.t >= a.end - 1e-6, (device, a, b)


def test_tip_policy_no_tip_touches_two_stocks(stab_plan):
    """Follow each tip: between pick-up and final drop it aspirates from one source only."""
    holding: dict[int, str] = {}
    source_of_tip: dict[str, set] = defaultdict(set)
    for op in sorted(stab_plan.operations, key=lambda o: (o.t, o.id)):
        if op.device != "liquid_handler":
            continue
        if op.op == "pick_up_tips":
            for ch, spot in zip(op.channels, op.tips, strict=False):
                holding[ch] = spot
        elif op.op == "aspirate":
            for ch, src in zip(op.channels, op.wells, strict=False):
                source_of_tip[holding[ch]].add((op.reagent, src))
        elif op.op == "drop_tips":
            for ch in op.channels:
                holding.pop(ch, None)
    for spot, sources in source_of_tip.items():
        assert len(sources) == 1, (spot, sources)


def test_reaction_times_recorded_per_well(stab_plan):
    times = [w.reaction_time_s for w in stab_plan.wells.values()]
    assert all(t is not None and t > 4 * 3600 for t in times)


def test_lower_bound_is_a_bound(stab_plan):
    assert 0 < stab_plan.lower_bound_s <= stab_plan.makespan_s
    assert stab_plan.makespan_s / stab_plan.lower_bound_s < 1.10


def test_plan_is_byte_for_byte_deterministic(tmp_path):
    path = write_protocol(tmp_path, STAB_DROPWISE)
    first = check(str(path)).plan.to_json()
    second = check(str(path)).plan.to_json()
    assert first == second
    # and in a fresh process with another hash seed
    out = tmp_path / "plan.json"
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin", **_pythonpath()}
    subprocess.run(
        [sys.executable, "-m", "diazflow.cli", "compile", str(path), "-o", str(out)],
        check=True,
        capture_output=True,
        env=env,
    )
    assert (
        hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(first.encode()).hexdigest()
    )


def _pythonpath():
    import os

    return {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


# --------------------------------------------------------------------------- DF6xx


def _variant(tmp_path, old, new, deck=None):
    text = STAB_DROPWISE.replace(old, new)
    assert text != STAB_DROPWISE
    if deck:
        text = text.replace("{deck:starlet_chem}", f"{{deck:{deck}}}")
    path = write_protocol(tmp_path, text)
    return check(str(path))


def test_df601_dropwise_window_too_short(tmp_path):
    result = _variant(tmp_path, "dropwise: 30-60 min", "dropwise: 2-3 min")
    assert "DF601" in error_codes(result)
    message = next(d for d in result.diagnostics if d.code == "DF601")
    assert "needs" in message.message and "channel" in message.message and message.hint


def test_df601_not_raised_for_a_window_the_robot_can_meet(tmp_path):
    result = _variant(tmp_path, "dropwise: 30-60 min", "dropwise: 45-90 min")
    assert result.ok


def test_df602_powder_portions_do_not_fit(tmp_path):
    # on a deck whose powder dispenser the robot drives (the shipped STARlet's is operator-run)
    layout = (REPO / "deck_layouts" / "starlet_chem.yaml").read_text()
    assert "    operated_by: operator\n" in layout
    robot_doses = tmp_path / "starlet_dispensing.yaml"
    robot_doses.write_text(
        layout.replace("    operated_by: operator\n", "")
        .replace("../simulators/operator.yaml", "../simulators/powder_dispenser.yaml")
        .replace("../simulators/", f"{REPO / 'simulators'}/")
    )
    text = STAB_DROPWISE.replace(
        "- add: {reagent: stab, equiv: 1.4}",
        "- add: {reagent: stab, equiv: 1.4, portionwise: {portions: 5, over: 10-15 min}}",
    )
    result = check(str(write_protocol(tmp_path, text)), deck_override=str(robot_doses))
    assert "DF602" in error_codes(result)


def test_df603_controlled_ramp_faster_than_module(tmp_path):
    result = _variant(tmp_path, "- cool: {to: 4 degC}", "- cool: {to: 4 degC, over: 10 s}")
    assert "DF603" in error_codes(result)
    ok = _variant(tmp_path, "- cool: {to: 4 degC}", "- cool: {to: 4 degC, over: 60 min}")
    assert ok.ok
    ramp = [op for op in ok.plan.operations if op.op == "wait_temperature" and op.celsius == 4.0][0]
    assert ramp.duration == pytest.approx(3600)


def test_df604_samples_outside_the_step(tmp_path):
    result = _variant(
        tmp_path,
        "  - stir: {duration: 1-4 h}\n",
        "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: sample_plate, at: [5 h]}\n",
    )
    assert "DF604" in error_codes(result)
    ok = _variant(
        tmp_path,
        "  - stir: {duration: 1-4 h}\n",
        "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}\n",
    )
    assert ok.ok, [str(d) for d in ok.diagnostics]
    samples = [op for op in ok.plan.operations if op.op == "sample"]
    assert len(samples) == 12 and all(op.into == "sample_plate" for op in samples)


def test_df605_keep_below_without_cooling(tmp_path):
    result = _variant(tmp_path, "  - cool: {to: 4 degC}\n", "")
    assert "DF605" in error_codes(result)


def test_df606_solid_cannot_be_dropwise(tmp_path):
    result = _variant(
        tmp_path,
        "- add: {reagent: stab, equiv: 1.4}",
        "- add: {reagent: stab, equiv: 1.4, dropwise: 10 min}",
    )
    assert "DF606" in error_codes(result)


def test_final_volumes_equal_the_dispenses_exactly(stab_plan):
    """The simulated deck is compared with final_volume_uL to 1e-6: the plan must be
    self-consistent after rounding (neat AcOH gives irregular volumes such as 2.862 µL)."""
    into: dict[str, float] = defaultdict(float)
    for op in stab_plan.operations:
        if op.op == "dispense":
            for well, v in zip(op.wells, op.volumes_uL, strict=False):
                into[well] += v
    for well, entry in stab_plan.wells.items():
        assert into[well] == pytest.approx(entry.final_volume_uL, abs=1e-9)


def test_a_dispenser_without_a_driver_is_the_operators_checklist():
    """The STARlet's powder dispenser has no PyLabRobot driver (layout: operated_by: operator):
    every solid dose is an operator step, with what to weigh into which well, by when."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    from diazflow.compiler.plan import DispensePowder

    result = check(str(REPO / "workflows" / "n4_reductive_amination_stab.yaml"))
    assert result.plan is not None
    doses = [op for op in result.plan.operations if isinstance(op, DispensePowder)]
    assert doses and all(op.device == "operator" and op.manual for op in doses)
    assert all(op.message and op.message.startswith("Weigh ") for op in doses)
    # recomputed here: 1.4 equiv of the 50 umol limiting reagent, STAB's molar mass from RDKit
    stab = Chem.MolFromSmiles("[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O")
    expected_mg = 1.4 * 50e-6 * Descriptors.MolWt(stab) * 1000
    weighed = {well: mg for op in doses for well, mg in zip(op.wells, op.mg, strict=True)}
    assert len(weighed) == 96
    assert all(mg == pytest.approx(expected_mg, rel=1e-3) for mg in weighed.values())
    # the weighing takes the operator profile's time: set-up plus 96 wells, read from the YAML here
    weighing = yaml.safe_load((REPO / "simulators" / "operator.yaml").read_text())["weighing"]
    per_step = _minutes(weighing["per_step"]["value"]) * 60
    per_well = _minutes(weighing["per_well_portion"]["value"]) * 60
    (dose,) = doses
    assert dose.duration == pytest.approx(per_step + 96 * per_well)
    # nothing of the next step starts before the operator is done
    later = [op for op in result.plan.operations if op.step > dose.step]
    assert later and min(op.t for op in later) >= dose.t + dose.duration - 1e-6
    # the checklist: what, into which wells, how much, by when (plan time, minutes rounded up)
    done_by = math.ceil((dose.t + dose.duration) / 60)
    assert f"done by T+{done_by // 60}:{done_by % 60:02d}" in dose.message
    assert f"{expected_mg:.2f} mg into each of A1:H12 (96 wells)" in dose.message
    assert f"{96 * expected_mg:.1f} mg in all" in dose.message
    # and the stock list sends the operator to the wells, not to a machine that does not exist
    (stock,) = [st for st in result.plan.stocks if st.reagent == "stab"]
    assert stock.form == "solid" and stock.location == "operator (weigh into each well)"
    assert stock.weigh_mg == pytest.approx(96 * expected_mg, rel=1e-3)


def _minutes(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"s": 1 / 60, "min": 1.0, "h": 60.0}[unit]


def test_portions_weighed_by_hand_are_spread_over_the_window(tmp_path):
    """Two portions by hand on the STARlet: each is a round over the 96 wells, the second starts
    so that it ends with the window; a window shorter than two rounds is DF602."""
    weighing = yaml.safe_load((REPO / "simulators" / "operator.yaml").read_text())["weighing"]
    round_s = (
        _minutes(weighing["per_step"]["value"])
        + 96 * _minutes(weighing["per_well_portion"]["value"])
    ) * 60
    ok = _variant(
        tmp_path,
        "- add: {reagent: stab, equiv: 1.4}",
        "- add: {reagent: stab, equiv: 1.4, portionwise: {portions: 2, over: 8 h}}",
    )
    assert ok.ok, [str(d) for d in ok.diagnostics]
    first, second = [op for op in ok.plan.operations if op.op == "dispense_powder"]
    assert len(first.wells) == len(second.wells) == 96
    assert first.duration == second.duration == pytest.approx(round_s)
    assert second.t - first.t == pytest.approx(8 * 3600 - round_s)  # the last ends with the window
    assert "(portion 2 of 2)" in second.message
    short = _variant(
        tmp_path,
        "- add: {reagent: stab, equiv: 1.4}",
        "- add: {reagent: stab, equiv: 1.4, portionwise: {portions: 2, over: 5 h}}",
    )
    (df602,) = [d for d in short.diagnostics if d.code == "DF602"]
    assert "weighing by hand" in df602.message
    assert f"{math.ceil(2 * round_s / 60)} min" in df602.message


def test_zero_degrees_is_below_the_starlet_block_floor(tmp_path):
    """The STARlet's ThermoShake goes down to the profile's floor (4 °C): 0 °C is DF512 at the
    cool step's 'to', and the hint names the floor and what to do instead."""
    profile = yaml.safe_load(
        (REPO / "simulators" / "starlet_heater_cooler_shaker.yaml").read_text()
    )
    floor = float(profile["thermal"]["min_temperature"]["value"].split()[0])
    assert floor == 4.0
    text = STAB_DROPWISE.replace("- cool: {to: 4 degC}", "- cool: {to: 0 degC}")
    path = write_protocol(tmp_path, text)
    result = check(str(path))
    (df512,) = [d for d in result.diagnostics if d.code == "DF512"]
    lines = path.read_text().splitlines()
    line = next(i for i, ln in enumerate(lines) if "- cool: {to: 0 degC}" in ln) + 1
    assert (df512.line, df512.column) == (line, lines[line - 1].index("0 degC") + 1)
    assert f"({floor:g} to 105 °C)" in df512.message
    assert f"floor is {floor:g} °C" in df512.hint and "offdeck" in df512.hint
    assert f"run the step at {floor:g} degC" in df512.hint


@pytest.mark.parametrize(
    ("speed", "rpm"),
    [
        ("3000 rpm", None),
        ("1e308 rpm", None),
        ("50 rpm", None),
        ("20 Hz", 1200.0),
        ("1200 rpm", 1200.0),
    ],
)
def test_df526_a_stirring_speed_the_shaker_would_refuse(tmp_path, speed, rpm):
    # the STARlet's heater-cooler-shaker: 100-1500 rpm (simulators/starlet_heater_cooler_shaker.yaml);
    # a frequency counts cycles: 20 Hz is 1200 rpm
    result = _variant(
        tmp_path, "  - stir: {duration: 1-4 h}", f"  - stir: {{duration: 1-4 h, speed: {speed}}}"
    )
    assert ("DF526" in error_codes(result)) is (rpm is None)
    if rpm is not None:
        assert any(op.op == "shake" and op.rpm == rpm for op in result.plan.operations)


def test_a_plan_never_serialises_a_non_finite_number():
    result = check(str(REPO / "workflows" / "n4_michael_addition.yaml"))
    assert result.plan is not None
    text = result.plan.to_json()
    assert "Infinity" not in text and "NaN" not in text
    first = result.plan.operations[0]
    broken = result.plan.model_copy(
        update={"operations": [first.model_copy(update={"duration": float("inf")})]}
    )
    with pytest.raises(ValueError, match="not JSON compliant"):
        broken.to_json()


def test_reaction_time_runs_to_the_first_quench_after_the_last_addition():
    """Multi-stage: a later stage's reaction is not ended by an earlier stage's quench (reaction
    times were negative).  Recomputed from the plan's own operations."""
    from diazflow.compiler.plan import Dispense, DispensePowder
    from diazflow.language import models as lm

    result = check(str(REPO / "workflows" / "diazepane_mono_boc_route.yaml"))
    plan = result.plan
    assert plan is not None and result.loaded is not None
    quench_steps = {
        i
        for i, st in enumerate(result.loaded.protocol.steps)
        if isinstance(lm.step_params(st)[1], lm.QuenchParams)
    }
    additions: dict[str, float] = {}
    quenches: dict[str, list[float]] = {}
    for op in plan.operations:
        if isinstance(op, (Dispense, DispensePowder)):
            for w in op.wells:
                if op.step in quench_steps:
                    quenches.setdefault(w, []).append(op.t)
                else:
                    additions[w] = max(additions.get(w, 0.0), op.end)
    # the case that went wrong: a quench before the last addition (a later stage)
    assert any(q < additions[w] for w, qs in quenches.items() for q in qs)
    for name, wp in plan.wells.items():
        end = min(
            (q for q in quenches.get(name, []) if q >= additions[name]), default=plan.makespan_s
        )
        assert wp.reaction_time_s is not None and wp.reaction_time_s > 0
        assert wp.reaction_time_s == pytest.approx(end - additions[name], abs=0.002)


def test_a_sample_step_is_summarised_when_its_samples_are_taken():
    """Samples are taken during the step before (a stir or hold): the step table shows them
    there, not after it."""
    stab_plan = check(str(REPO / "workflows" / "n4_direct_alkylation.yaml")).plan
    assert stab_plan is not None
    samples = [s for s in stab_plan.steps if s.kind == "sample"]
    assert samples
    for summary in samples:
        ops = [op for op in stab_plan.operations if op.step == summary.step]
        before = next(s for s in stab_plan.steps if s.step == summary.step - 1)
        assert summary.start == pytest.approx(min(op.t for op in ops), abs=0.002)
        assert summary.end == pytest.approx(max(op.end for op in ops), abs=0.002)
        assert before.start - 1e-6 <= summary.start < before.end


def test_a_stage_asks_the_operator_to_place_only_what_the_robot_does_not_add():
    """Stage B's limiting reagent comes from a stock the robot dispenses: telling the operator to
    place it too doubled it.  Stage C's is preloaded: the operator places it."""
    from diazflow.compiler.plan import Dispense, Prompt

    plan = check(str(REPO / "workflows" / "diazepane_mono_boc_route.yaml")).plan
    assert plan is not None
    stage_prompts = [
        op for op in plan.operations if isinstance(op, Prompt) and "Stage '" in op.message
    ]
    assert len(stage_prompts) == 2
    b, c = stage_prompts
    dispensed_b = {
        op.reagent for op in plan.operations if isinstance(op, Dispense) and op.step > b.step
    }
    assert "boc_diazepane" in dispensed_b  # stage B's limiting reagent, from its DMF stock
    assert "place" not in b.message and "the robot adds" in b.message
    assert "place 25 umol" in c.message


def test_stocks_say_which_stage_first_draws_on_them_and_when():
    """Recomputed from the plan's operations: a stock's first aspiration (a solid's first dose)
    gives its time, and the stage that contains that step its stage."""
    from diazflow.compiler.plan import Aspirate, DispensePowder

    result = check(str(REPO / "workflows" / "diazepane_mono_boc_route.yaml"))
    plan, loaded = result.plan, result.loaded
    assert plan is not None and loaded is not None
    stage_starts = [0] + [
        i for i, st in enumerate(loaded.protocol.steps) if "stage" in st.model_fields_set
    ]
    ops = sorted(plan.operations, key=lambda o: o.t)
    for stock in plan.stocks:
        if stock.form == "solid":
            first = next(
                o for o in ops if isinstance(o, DispensePowder) and o.reagent == stock.reagent
            )
        else:
            first = next(o for o in ops if isinstance(o, Aspirate) and stock.location in o.wells)
        assert stock.first_use_s == pytest.approx(first.t, abs=0.002)
        assert stock.stage == max(i for i, start in enumerate(stage_starts) if start <= first.step)
    tfa = next(s for s in plan.stocks if s.reagent == "tfa")
    assert tfa.stage == 2  # stage C's TFA is not put out at the start of a 93 h run


@pytest.mark.parametrize("name", ["n4_direct_alkylation", "diazepane_mono_boc_route"])
def test_the_journal_copy_of_a_plan_is_the_same_json_document(name):
    """A run journal keeps the plan compact (pydantic's compiled serializer); the written plan
    keeps its reviewed layout.  Both are the same document and read back to the same plan."""
    import json

    from diazflow.compiler.plan import Plan

    plan = check(str(REPO / "workflows" / f"{name}.yaml")).plan
    assert plan is not None
    written, journalled = plan.to_json(), plan.to_journal_json()
    assert "\n" not in journalled and len(journalled) < len(written)
    assert json.loads(journalled) == json.loads(written)
    assert Plan.from_json(journalled) == plan == Plan.from_json(written)
