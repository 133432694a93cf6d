"""Closed-vessel pressure (DF420): a capped vial held hot against the deck's pressure rating."""

from __future__ import annotations

import re

import pytest

from diazflow.chemistry.checks import mole_fractions
from diazflow.pipeline import check
from helpers import line_of, write_protocol

# 16 septum-capped vials on the STARlet (rated 3 bar above ambient): an alkylation in DCM.
PROTOCOL = """\
diazflow: 1
name: pressure test
deck: {deck:starlet_chem}
atmosphere: inert
vessels: {labware: reaction_block, wells: A1:H2}
scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: DCM}
reagents:
  diazepane:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: DCM}
  bromide:
    name: benzyl bromide
    smiles: BrCc1ccccc1
    stock: {concentration: 1.0 M, solvent: DCM}
steps:
  - add: {reagent: diazepane, equiv: 1.0}
  - add: {reagent: bromide, equiv: 1.0}
  - add_solvent: {solvent: DCM, to_concentration: 0.2 M}
  - seal:
  - stir: {duration: 2 h, temperature: 90 °C}
  - cool: {to: 22 °C}
  - unseal:
  - offdeck: Concentrate.
"""

ROOM_C = 22.0  # the protocol's room temperature (the spec's default): the vials are capped at it
AMBIENT_BAR = 1.01325


def run(tmp_path, text):
    return check(str(write_protocol(tmp_path, text)))


def run_at(tmp_path, text):
    path = write_protocol(tmp_path, text)
    return path, check(str(path))


def pressure_findings(result):
    return [d for d in result.diagnostics if d.code == "DF420"]


def expected_bar(cas: str, celsius: float) -> float:
    """Recomputed with thermo's own choice of method: saturated air at capping, heated at
    constant volume, plus the vapour pressure at ``celsius``."""
    thermo = pytest.importorskip("thermo")
    vp = thermo.VaporPressure(CASRN=cas)
    at_capping = vp.T_dependent_property(ROOM_C + 273.15) / 1e5
    hot = vp.T_dependent_property(celsius + 273.15) / 1e5
    return (AMBIENT_BAR - at_capping) * (celsius + 273.15) / (ROOM_C + 273.15) + hot


def test_dcm_held_capped_at_90_c_warns_with_the_figure(tmp_path):
    path, result = run_at(tmp_path, PROTOCOL)
    (finding,) = pressure_findings(result)
    assert finding.severity.value == "warning"
    assert finding.line == line_of(path, "temperature: 90 °C")
    figure = float(re.search(r"about ([\d.]+) bar absolute", finding.message).group(1))
    # DCM: about 4.5 bar of vapour at 90 °C plus the air: ~5.2 bar absolute, 4.2 bar over ambient
    assert figure == pytest.approx(expected_bar("75-09-2", 90.0), abs=0.1)
    assert "90 °C" in finding.message and "DCM" in finding.message
    assert "'reaction_block' (3 bar above ambient)" in finding.message
    # the hint's temperature: the highest 5 °C step at which the estimate stays within 3 bar
    limit = int(re.search(r"heat below about (\d+) °C", finding.hint).group(1))
    assert expected_bar("75-09-2", limit) - AMBIENT_BAR <= 3.0 + 0.02
    assert expected_bar("75-09-2", limit + 5) - AMBIENT_BAR > 3.0 - 0.02


def test_far_above_the_rating_is_an_error(tmp_path):
    text = PROTOCOL.replace("DCM", "Et2O").replace("temperature: 90 °C", "temperature: 105 °C")
    (finding,) = pressure_findings(run(tmp_path, text))
    figure = float(re.search(r"about ([\d.]+) bar absolute", finding.message).group(1))
    assert figure == pytest.approx(expected_bar("60-29-7", 105.0), abs=0.15)
    assert figure - AMBIENT_BAR > 2 * 3.0
    assert finding.severity.value == "error"


def test_vented_or_open_vials_are_not_pressure_checked(tmp_path):
    vented = run(tmp_path, PROTOCOL.replace("  - seal:\n", "  - vent:\n"))
    assert pressure_findings(vented) == []
    # open at 90 °C: DF302 (DCM boils away) is the finding, not a pressure
    opened = run(tmp_path, PROTOCOL.replace("  - seal:\n", "").replace("  - unseal:\n", ""))
    assert pressure_findings(opened) == []
    assert "DF302" in {d.code for d in opened.diagnostics}


def test_below_the_rating_is_quiet(tmp_path):
    # DCM at 50 °C: ~1.6 bar of vapour + ~0.6 bar of air, about 1.2 bar over ambient (< 3 bar)
    result = run(tmp_path, PROTOCOL.replace("temperature: 90 °C", "temperature: 50 °C"))
    assert pressure_findings(result) == []
    assert expected_bar("75-09-2", 50.0) - AMBIENT_BAR < 3.0


def test_mixture_mole_fractions_come_from_the_volume_ratio():
    # handbook: DCM 1.326 g/mL, 84.93 g/mol; MeOH 0.791 g/mL, 32.04 g/mol
    dcm, meoh = 1.326 / 84.93, 0.791 / 32.04
    fractions = mole_fractions("DCM/MeOH 1:1")
    assert fractions is not None
    assert fractions["DCM"] == pytest.approx(dcm / (dcm + meoh), abs=0.005)
    fractions = mole_fractions("DCM/MeOH 3:1")
    assert fractions is not None
    assert fractions["DCM"] == pytest.approx(3 * dcm / (3 * dcm + meoh), abs=0.005)
    assert mole_fractions("DCM") == {"DCM": 1.0}
    assert mole_fractions("no such solvent") is None
