"""Solvent mixtures: bubble and freezing points from the shipped table (DF301/DF302), re-derived
from thermo here (FlashVL with modified UNIFAC; Schröder-van Laar), and the issue-15 cases."""

from __future__ import annotations

import json
import math
import sys

import pytest

from diazflow.chemistry import mixtures, properties
from diazflow.chemistry.checks import mole_fractions, reflux_temperature, volume_ratio
from diazflow.pipeline import check
from helpers import REPO, line_of, write_protocol

sys.path.insert(0, str(REPO / "scripts"))
import build_mixture_data  # noqa: E402

TABLE = json.loads((REPO / "src/diazflow/chemistry/data/mixtures.json").read_text(encoding="utf-8"))


def thermo_bubble_point_c(cas: list[str], zs: list[float]) -> float:
    """Directly with thermo's flash, as its documentation sets it up: an ideal gas over a
    GibbsExcessLiquid with Dortmund UNIFAC activity coefficients, flashed at 1 atm, VF = 0."""
    from thermo import (
        UNIFAC,
        ChemicalConstantsPackage,
        FlashVL,
        GibbsExcessLiquid,
        IdealGas,
    )
    from thermo.unifac import DOUFIP2016, DOUFSG

    constants, correlations = ChemicalConstantsPackage.from_IDs(cas)
    activity = UNIFAC.from_subgroups(
        T=300.0,
        xs=zs,
        chemgroups=constants.UNIFAC_Dortmund_groups,
        version=1,
        interaction_data=DOUFIP2016,
        subgroups=DOUFSG,
    )
    liquid = GibbsExcessLiquid(
        VaporPressures=correlations.VaporPressures,
        HeatCapacityGases=correlations.HeatCapacityGases,
        VolumeLiquids=correlations.VolumeLiquids,
        GibbsExcessModel=activity,
        equilibrium_basis="Psat",
        caloric_basis="Psat",
        T=300.0,
        P=101325.0,
        zs=zs,
    )
    gas = IdealGas(HeatCapacityGases=correlations.HeatCapacityGases, T=300.0, P=101325.0, zs=zs)
    flasher = FlashVL(constants, correlations, liquid=liquid, gas=gas)
    return flasher.flash(P=101325.0, VF=0, zs=zs).T - 273.15


def cas_fractions(solvent: str) -> tuple[list[str], list[float]]:
    fractions = mole_fractions(solvent)
    assert fractions is not None
    cas = [properties.lookup(name).cas for name in fractions]  # type: ignore[union-attr]
    return cas, list(fractions.values())


# --------------------------------------------------------------------------- the table


def test_ratio_parser_and_mole_fractions_by_hand():
    assert volume_ratio("MeOH/CHCl3 3:1") == [3.0, 1.0]
    assert volume_ratio("MeOH/CHCl3") == [1.0, 1.0]
    assert volume_ratio("MeOH/CHCl3 1:2:3") == [1.0, 1.0]  # wrong length: equal volumes
    assert mole_fractions("MeOH/CHCl3 0:0") is None  # no liquid at all: no fractions
    # DMSO/water 1:1 by volume, with the densities and molar masses of the data file
    dmso, water = properties.lookup("DMSO"), properties.lookup("water")
    n_dmso = dmso.density_g_ml / dmso.mw  # type: ignore[union-attr,operator]
    n_water = water.density_g_ml / water.mw  # type: ignore[union-attr,operator]
    fractions = mole_fractions("DMSO/water 1:1")
    assert fractions is not None
    assert fractions["DMSO"] == pytest.approx(n_dmso / (n_dmso + n_water))
    assert 0.19 < fractions["DMSO"] < 0.21  # 1.10 g/mL / 78.13 vs 1.00 / 18.02


@pytest.mark.parametrize(
    ("solvent", "azeotrope_c"),
    [
        # minimum-boiling azeotropes, CRC Handbook (azeotropic data): 53.5 and 87.8 °C
        ("MeOH/CHCl3 1:1", 53.5),
        ("dioxane/water 1:1", 87.8),
    ],
)
def test_bubble_points_against_thermo_and_the_literature(solvent, azeotrope_c):
    fractions = mole_fractions(solvent)
    assert fractions is not None
    points = mixtures.binary_points(fractions)
    assert points is not None
    cas, zs = cas_fractions(solvent)
    expected = thermo_bubble_point_c(cas, zs)
    # linear interpolation between grid points of the table: within 0.3 °C of thermo here
    assert points.bubble_point_c == pytest.approx(expected, abs=0.3)
    # the lowest bubble point over the table's compositions is the azeotrope's
    pair = TABLE["pairs"]["|".join(sorted(cas))]
    assert min(pair["bubble_point_c"]) == pytest.approx(azeotrope_c, abs=1.0)
    # and the mixture boils below both of its components
    assert points.bubble_point_c < min(properties.lookup(c).boiling_point_c for c in cas)  # type: ignore[union-attr,type-var]


def test_a_sample_of_the_table_is_rederived_from_thermo():
    """Every 13th pair, at x = 0.25 and 0.75: the shipped number is what thermo computes."""
    keys = sorted(k for k, v in TABLE["pairs"].items() if not v.get("partially_miscible"))
    grid = TABLE["x_first"]
    for key in keys[::13]:
        cas = key.split("|")
        for x in (0.25, 0.75):
            i = grid.index(x)
            expected = thermo_bubble_point_c(cas, [x, 1 - x])
            assert TABLE["pairs"][key]["bubble_point_c"][i] == pytest.approx(expected, abs=0.02)


def test_freezing_point_by_schroeder_van_laar_by_hand():
    """DMSO/water 1:1: solve ln(x gamma) = -dHfus/R (1/T - 1/Tm) for each component with
    thermo's UNIFAC gammas and scipy, independently of the build script's loop."""
    from chemicals import Hfus
    from scipy.optimize import brentq
    from thermo import UNIFAC
    from thermo.unifac import DOUFIP2016, DOUFSG

    fractions = mole_fractions("DMSO/water 1:1")
    assert fractions is not None
    x = [fractions["DMSO"], fractions["water"]]
    cas = ["67-68-5", "7732-18-5"]
    groups = [{67: 1}, {16: 1}]  # DMSO, H2O (Dortmund subgroups)
    activity = UNIFAC.from_subgroups(
        T=273.15, xs=x, chemgroups=groups, version=1, interaction_data=DOUFIP2016, subgroups=DOUFSG
    )
    melting_k = [properties.lookup(c).melting_point_c + 273.15 for c in cas]  # type: ignore[operator,union-attr]
    temperatures = []
    for i in range(2):

        def f(t: float, i: int = i) -> float:
            gamma = activity.to_T_xs(t, x).gammas()[i]
            return math.log(x[i] * gamma) + Hfus(cas[i]) / 8.314462618 * (1 / t - 1 / melting_k[i])

        temperatures.append(brentq(f, 150.0, melting_k[i]) if f(150.0) > 0 else -math.inf)
    expected_c = max(temperatures) - 273.15
    points = mixtures.binary_points(fractions)
    assert points is not None and points.freezing_point_c is not None
    # the table's grid is 0.05 in mole fraction; the liquidus is curved here
    assert points.freezing_point_c == pytest.approx(expected_c, abs=3.0)
    # and far below DMSO's own 18.4 °C (the issue-15 false error): literature about -40 °C
    assert points.freezing_point_c < -30


def test_partially_miscible_pairs_have_no_figures():
    assert mixtures.binary_points(mole_fractions("hexane/water 1:1")) is None  # type: ignore[arg-type]
    assert frozenset({"110-54-3", "7732-18-5"}) in mixtures.partially_miscible_pairs()
    # then a reflux falls back on the lower-boiling component
    assert reflux_temperature("hexane/water 1:1") == properties.lookup("hexane").boiling_point_c  # type: ignore[union-attr]


def test_reflux_of_a_mixture_is_its_bubble_point():
    points = mixtures.binary_points(mole_fractions("MeOH/CHCl3 1:1"))  # type: ignore[arg-type]
    assert points is not None
    assert reflux_temperature("MeOH/CHCl3 1:1") == pytest.approx(points.bubble_point_c)


def test_build_script_table_is_up_to_date_for_one_pair():
    a, b = sorted(
        (s for s in build_mixture_data.shipped_solvents() if s.cas in ("67-56-1", "67-66-3")),
        key=lambda s: s.cas,
    )
    assert build_mixture_data.tabulate_pair(a, b) == TABLE["pairs"][f"{a.cas}|{b.cas}"]


# --------------------------------------------------------------------------- the protocols

# Method C (Michael addition at RT) on the OT-2, open plate, in a solvent mixture.
OT2 = """\
diazflow: 1
name: Michael addition in a mixture
deck: {deck:ot2_tempmodule}
vessels: {labware: reaction_block, wells: A1:H3}
scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: SOLVENT}
reagents:
  diazepane:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: MeOH}
  acrylate:
    name: methyl acrylate
    smiles: C=CC(=O)OC
    stock: {concentration: 1.0 M, solvent: MeOH}
steps:
  - add: {reagent: diazepane, equiv: 1.0}
  - add: {reagent: acrylate, equiv: 1.05}
  - heat: {to: TEMP}
  - hold: {duration: 2 h}
"""


def run(tmp_path, solvent: str, temperature: str):
    text = OT2.replace("SOLVENT", solvent).replace("TEMP", temperature)
    path = write_protocol(tmp_path, text)
    return path, check(str(path))


def findings(result, code):
    return [d for d in result.diagnostics if d.code == code]


def test_meoh_chcl3_boils_at_58_in_an_open_plate(tmp_path):
    path, result = run(tmp_path, "MeOH/CHCl3 1:1", "58 degC")
    d = findings(result, "DF302")[0]
    assert d.line == line_of(path, "heat: {to: 58 degC}")
    points = mixtures.binary_points(mole_fractions("MeOH/CHCl3 1:1"))  # type: ignore[arg-type]
    assert points is not None
    assert f"({points.bubble_point_c:.1f} °C, bubble point at x(methanol) 0.66" in d.message
    assert "thermo" in d.message and "UNIFAC" in d.message
    # neither component boils at 58 °C on its own (MeOH 64.5, CHCl3 61.2 °C)
    _, cooler = run(tmp_path, "MeOH/CHCl3 1:1", "45 degC")
    assert not findings(cooler, "DF302")


def test_dioxane_water_boils_at_90_open(tmp_path):
    path, result = run(tmp_path, "dioxane/water 1:1", "90 degC")
    d = findings(result, "DF302")[0]
    assert d.line == line_of(path, "heat: {to: 90 degC}")
    assert "dioxane/water 1:1" in d.message and "bubble point" in d.message
    _, cooler = run(tmp_path, "dioxane/water 1:1", "80 degC")
    assert not findings(cooler, "DF302")


def test_dmso_water_at_10_is_not_frozen(tmp_path):
    _, result = run(tmp_path, "DMSO/water 1:1", "10 degC")
    assert not findings(result, "DF301")
    # DMSO alone freezes at 18.4 °C: still refused
    _, neat = run(tmp_path, "DMSO", "10 degC")
    assert findings(neat, "DF301")
    # the mixture freezes too, far lower
    path, frozen = run(tmp_path, "DMSO/water 1:4", "-20 degC")
    points = mixtures.binary_points(mole_fractions("DMSO/water 1:4"))  # type: ignore[arg-type]
    assert points is not None and points.freezing_point_c is not None
    assert points.freezing_point_c > -20
    d = findings(frozen, "DF301")[0]
    assert d.line == line_of(path, "heat: {to: -20 degC}")
    assert f"({points.freezing_point_c:.1f} °C, solid-liquid equilibrium at" in d.message
