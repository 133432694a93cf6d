"""Evaporation (compiler/evaporation.py): the diffusion model against closed-form arithmetic,
the figures of the issue-15 audit, DF610/DF611/DF612 on protocols that trigger them and on
realistic ones that do not, and the `place:` step in the plan."""

from __future__ import annotations

import math

import pytest

from diazflow.chemistry import properties
from diazflow.compiler.evaporation import evaporated_ul, evaporation, liquid_components
from diazflow.compiler.plan import Prompt
from diazflow.deck.geometry import WellGeometry, well_geometry
from diazflow.pipeline import check
from helpers import codes, error_codes, line_of, write_protocol

R = 8.314462618
P_KPA = 101.325


def cylinder(radius_mm: float, depth_mm: float) -> WellGeometry:
    """A straight-walled well: volume = π r² h, sampled every millimetre."""
    area = math.pi * radius_mm**2
    heights = tuple(float(h) for h in range(int(depth_mm) + 1))
    return WellGeometry(depth_mm, area * depth_mm, tuple(area * h for h in heights), heights)


def stefan_ul_per_s(solvent: str, celsius: float, resistance_per_m: float) -> float:
    """The Stefan-tube rate written out from the data, independently of the module."""
    props = properties.lookup(solvent)
    p = props.vapour_pressure_kpa_at(celsius)
    d = props.air_diffusivity_cm2_s_at(celsius) * 1e-4
    c = P_KPA * 1000 / (R * (celsius + 273.15))
    mol_per_s = c * d * math.log(P_KPA / (P_KPA - p)) / resistance_per_m
    return mol_per_s * props.mw / props.density_g_ml * 1000


@pytest.mark.parametrize("solvent", ["MeOH", "MeCN", "DCM", "water"])
def test_short_loss_is_the_stefan_rate_through_the_column_and_the_opening(solvent):
    radius, depth, volume = 4.0, 40.0, 500.0
    g = cylinder(radius, depth)
    area = math.pi * radius**2  # mm²
    column = depth - volume / area  # mm of air above the liquid
    resistance = (column / area + 1 / (4 * radius)) * 1000  # m⁻¹
    expected = stefan_ul_per_s(solvent, 22.0, resistance) * 60
    got = evaporated_ul(g, liquid_components(solvent), volume, 22.0, 60)
    assert got == pytest.approx(expected, rel=0.01)


def test_long_loss_follows_the_falling_level_in_closed_form():
    """dV/dt = -k/R(V) with R(V) = (d - V/A)/A + e for a cylinder integrates to a quadratic."""
    radius, depth = 4.0, 40.0
    g = cylinder(radius, depth)
    area, e = math.pi * radius**2, 1 / (4 * radius)
    k = stefan_ul_per_s("MeOH", 22.0, 1000.0)  # µL/s through 1 mm⁻¹
    v0, seconds = 800.0, 8 * 3600

    def g_of(v: float) -> float:  # ∫ R dv
        return (depth / area + e) * v - v**2 / (2 * area**2)

    target = g_of(v0) - k * seconds
    # solve g_of(v) = target for v in [0, v0]
    a, b, c = -1 / (2 * area**2), depth / area + e, -target
    v = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    got = evaporated_ul(g, liquid_components("MeOH"), v0, 22.0, seconds)
    assert got == pytest.approx(v0 - v, rel=0.005)


def test_audit_figures_methanol_deep_well_dries_in_about_nine_hours_at_25_c():
    """Issue 15: 'a 200 µL MeOH well in the open OT-2 plate is dry after about 9 h' (25 °C)."""
    g = well_geometry("cor_96_wellplate_2mL_Vb")
    meoh = liquid_components("MeOH")
    assert evaporated_ul(g, meoh, 200, 25.0, 8 * 3600) < 200
    assert evaporated_ul(g, meoh, 200, 25.0, 10 * 3600) == pytest.approx(200)


def test_audit_figures_mecn_stock_concentrates_by_a_fifth_in_an_hour_and_a_half():
    """Issue 15: 145 µL of 0.5 M halide in MeCN standing ~1.5 h delivers ~1.2x the amount."""
    g = well_geometry("cor_96_wellplate_2mL_Vb")
    lost = evaporated_ul(g, liquid_components("MeCN"), 145, 22.0, 5400)
    assert 1.12 < 145 / (145 - lost) < 1.35


def test_mixture_evaporates_each_component_by_raoult():
    g = cylinder(4.0, 40.0)
    mixed = evaporated_ul(g, liquid_components("DMSO/water 1:1"), 500, 22.0, 60)
    water = evaporated_ul(g, liquid_components("water"), 500, 22.0, 60)
    assert 0 < mixed < water  # water's mole fraction is below 1, DMSO hardly evaporates


def test_unknown_solvent_evaporates_nothing_rather_than_a_false_alarm():
    assert liquid_components("unobtainium") == ()


# --------------------------------------------------------------------------- protocols

PROTOCOL = """\
diazflow: 1
name: evaporation test
deck: {deck:starlet_chem}
atmosphere: inert
vessels: {labware: reaction_block, wells: A1:H2}
scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: MeCN}
reagents:
  diazepane:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: MeCN}
  halide:
    name: benzyl bromide
    smiles: BrCc1ccccc1
    stock: {concentration: 0.5 M, solvent: MeCN}
steps:
  - add: {reagent: diazepane, equiv: 1.0}
  - add_solvent: {solvent: MeCN, to_concentration: 0.2 M}
  - wait: {duration: 10 min}
  - add: {reagent: halide, equiv: 0.95}
  - seal:
  - stir: {duration: 12 h}
  - offdeck: Concentrate.
"""


def run(tmp_path, old=None, new=None):
    text = PROTOCOL
    if old is not None:
        assert old in text, old
        text = text.replace(old, new)
    path = write_protocol(tmp_path, text)
    return path, check(str(path))


def test_a_realistic_capped_protocol_does_not_warn(tmp_path):
    _, result = run(tmp_path)
    assert result.plan is not None
    assert not {"DF610", "DF611", "DF612"} & set(codes(result)), [
        str(d) for d in result.diagnostics
    ]


def test_a_stock_left_standing_drifts_df610_at_the_step_that_draws_it(tmp_path):
    path, result = run(tmp_path, "  - wait: {duration: 10 min}\n", "  - wait: {duration: 4 h}\n")
    found = [d for d in result.diagnostics if d.code == "DF610"]
    assert found and all(not d.is_error for d in found)
    halide = [d for d in found if "benzyl bromide" in d.message]
    assert halide and halide[0].line == line_of(path, "reagent: halide, equiv")
    # the first draw recomputed: the full trough open at 22 °C from the start until then
    report = evaporation(result.plan, result.loaded, result.chemistry, result.facts)
    drifts = [s for s in report.stocks if s.reagent == "halide"]
    first = min(drifts, key=lambda s: s.last_draw_s)
    stock = next(s for s in result.plan.stocks if s.location == first.location)
    trough = result.facts.labware[stock.location.partition(":")[0]].geometry
    lost = evaporated_ul(
        trough, liquid_components("MeCN"), stock.volume_uL, 22.0, first.last_draw_s
    )
    assert first.drift == pytest.approx(stock.volume_uL / (stock.volume_uL - lost) - 1, rel=0.01)
    worst = max(drifts, key=lambda s: s.drift)
    assert worst.drift >= first.drift > 0.05
    assert f"{worst.drift:.0%}" in halide[0].message


def test_place_puts_the_stock_out_late_and_the_drift_goes(tmp_path):
    path, result = run(
        tmp_path,
        "  - wait: {duration: 10 min}\n",
        "  - wait: {duration: 4 h}\n  - place: {reagents: [halide]}\n",
    )
    assert "DF610" not in [d.code for d in result.diagnostics if "benzyl" in d.message]
    prompts = [op for op in result.plan.operations if isinstance(op, Prompt)]
    placed = [op for op in prompts if "halide" in op.message]
    assert placed and placed[0].line == line_of(path, "- place:")
    for stock in result.plan.stocks:
        if stock.reagent == "halide":
            assert stock.placed_s == pytest.approx(placed[0].t)
            assert stock.placed_s >= 4 * 3600
        elif stock.form != "solid":
            assert stock.placed_s == 0.0


def test_place_after_the_first_draw_is_df612(tmp_path):
    path, result = run(
        tmp_path,
        "  - seal:\n",
        "  - place: {reagents: [halide]}\n  - seal:\n",
    )
    assert "DF612" in error_codes(result)
    d = next(d for d in result.diagnostics if d.code == "DF612")
    assert d.line == line_of(path, "- place:")
    assert result.plan is None


def test_place_of_an_undeclared_reagent_is_df108(tmp_path):
    _, result = run(tmp_path, "  - seal:\n", "  - place: {reagents: [halid]}\n  - seal:\n")
    assert "DF108" in error_codes(result)


def test_open_vials_through_a_long_stir_are_df611_at_that_stir(tmp_path):
    path, result = run(tmp_path, "  - seal:\n", "")
    d = next(d for d in result.diagnostics if d.code == "DF611")
    assert not d.is_error
    assert d.line == line_of(path, "- stir: {duration: 12 h}")
    report = evaporation(result.plan, result.loaded, result.chemistry, result.facts)
    assert report.worst_well is not None and report.worst_well.fraction > 0.05


def test_a_higher_threshold_silences_a_small_drift(tmp_path):
    text_old, text_new = (
        "  - offdeck: Concentrate.\n",
        ("  - offdeck: Concentrate.\nsettings: {drift_threshold_pct: 90}\n"),
    )
    _, result = run(tmp_path, text_old, text_new)
    assert "DF611" not in codes(result)
    _, result = run(tmp_path, "  - seal:\n", "")
    assert "DF611" in codes(result)


def test_a_later_stage_refills_the_stocks_it_draws_on_again(tmp_path):
    text = PROTOCOL.replace(
        "  - offdeck: Concentrate.\n",
        "  - offdeck: Concentrate.\n"
        "  - stage: {name: B, scale: {limiting: diazepane, amount: 50 umol, "
        "concentration: 0.2 M, solvent: MeCN}}\n"
        "  - add: {reagent: diazepane, equiv: 1.0}\n"
        "  - add_solvent: {solvent: MeCN, to_concentration: 0.2 M}\n"
        "  - seal:\n  - stir: {duration: 1 h}\n",
    ).replace(
        "  - offdeck: Concentrate.\n  - stage", "  - unseal:\n  - offdeck: Concentrate.\n  - stage"
    )
    path = write_protocol(tmp_path, text)
    result = check(str(path))
    assert result.plan is not None, [str(d) for d in result.diagnostics]
    stage_prompt = next(
        op for op in result.plan.operations if isinstance(op, Prompt) and "Stage 'B'" in op.message
    )
    assert "refill with fresh stock" in stage_prompt.message
    # the plan names the refilled positions on the prompt (what the evaporation walk reads)
    assert stage_prompt.refill and stage_prompt.message.endswith(", ".join(stage_prompt.refill))
    assert "DF610" not in codes(result), [str(d) for d in result.diagnostics]
