"""Gas evolved in capped vessels (issue 15): the hazard rules' ``gas:`` stoichiometry, ideal gas
in the headspace, added to the DF420 closed-vessel pressure; checked by hand arithmetic."""

from __future__ import annotations

import re

import pytest

from diazflow.chemistry import hazards
from diazflow.pipeline import check
from helpers import line_of, write_protocol

# NaBH4 reduction with acetic acid in THF, 16 septum-capped 2 mL vials on the STARlet
# (rated 3 bar above ambient), 100 µmol per vial in 500 µL.
PROTOCOL = """\
diazflow: 1
name: borohydride with acid, capped
deck: {deck:starlet_chem}
vessels: {labware: reaction_block, wells: A1:H2}
scale: {limiting: aldehyde, amount: 100 umol, concentration: 0.2 M, solvent: THF}
reagents:
  aldehyde:
    name: benzaldehyde
    smiles: O=Cc1ccccc1
    stock: {concentration: 1.0 M, solvent: THF}
  acoh:
    name: acetic acid
    smiles: CC(=O)O
    stock: {concentration: 2.0 M, solvent: THF}
  nabh4:
    name: sodium borohydride
    smiles: "[Na+].[BH4-]"
    solid: {dispense: powder}
steps:
  - add: {reagent: aldehyde, equiv: 1.0}
  - add: {reagent: acoh, equiv: 3.0}
  - add_solvent: {solvent: THF, to_concentration: 0.2 M}
  - add: {reagent: nabh4, equiv: 1.0}
  - seal:
  - stir: {duration: 1 h}
  - unseal:
  - offdeck: Concentrate.
"""

R = 8.314462618
ROOM_K = 22.0 + 273.15
AMBIENT_BAR = 1.01325


def vial_ul(result) -> float:
    """The reaction block's well volume, from PyLabRobot's geometry of the labware (deck data):
    Corning's 2 mL deep well holds 2.39 mL to the rim."""
    return next(
        lw for lw in result.facts.labware.values() if lw.name == "reaction_block"
    ).geometry.max_volume_ul


def run(tmp_path, text):
    path = write_protocol(tmp_path, text)
    return path, check(str(path))


def df420(result):
    return [d for d in result.diagnostics if d.code == "DF420"]


def test_rules_carry_their_gas():
    rules = {r.id: r for r in hazards.hazard_data().rules}
    assert rules["sealed_borohydride_with_acid"].gas == (
        hazards.GasRelease("H2", (("hydride", 4.0), ("acids", 1.0))),
    )
    species = {g.species for g in rules["sealed_tert_butyl_deprotection"].gas}
    assert species == {"isobutylene", "CO2"}


def test_gas_field_is_validated():
    with pytest.raises(hazards.HazardDataError, match="not bound"):
        hazards._parse_gas("rule 'x'", [{"species": "H2", "per": {"nobody": 1}}], {"hydride"})
    with pytest.raises(hazards.HazardDataError, match="species"):
        hazards._parse_gas("rule 'x'", [{"species": "N2O", "per": {"hydride": 1}}], {"hydride"})


def test_borohydride_and_acid_capped_warns_with_the_hydrogen(tmp_path):
    path, result = run(tmp_path, PROTOCOL)
    (finding,) = df420(result)
    assert finding.line == line_of(path, "stir: {duration: 1 h}")
    assert finding.severity.value == "warning"
    # by hand: H2 = min(4 x 100 µmol NaBH4, 1 x 300 µmol AcOH) = 300 µmol, in the vial less
    # the 500 µL of liquid
    headspace_ul = vial_ul(result) - 500.0
    h2_bar = 300e-6 * R * ROOM_K / (headspace_ul * 1e-9) / 1e5
    assert h2_bar == pytest.approx(3.89, abs=0.01)
    assert f"H2 {h2_bar:.2f} bar (300 µmol from 'nabh4' (sodium borohydride) + 'acoh'" in (
        finding.message
    )
    assert f"{headspace_ul / 1000:.2f} mL of headspace" in finding.message
    total = float(re.search(r"about ([\d.]+) bar absolute", finding.message).group(1))
    # THF vapour + air: 1.01325 bar at capping and at the same temperature
    assert total == pytest.approx(AMBIENT_BAR + h2_bar, abs=0.06)
    assert "vent" in finding.hint


def test_vented_vials_and_open_reactions_do_not_count_gas(tmp_path):
    _, vented = run(tmp_path, PROTOCOL.replace("  - seal:\n", "  - vent:\n"))
    assert df420(vented) == []
    # the gas comes off during a stir while the vials are open; capping afterwards holds none
    opened_first = PROTOCOL.replace("  - seal:\n", "  - stir: {duration: 2 h}\n  - seal:\n")
    _, result = run(tmp_path, opened_first)
    assert df420(result) == []


def test_less_acid_less_gas_below_the_rating(tmp_path):
    # 1 equiv AcOH: 100 µmol H2, about 1.3 bar, inside 3 bar above ambient
    text = PROTOCOL.replace("equiv: 3.0}", "equiv: 1.0}")
    _, result = run(tmp_path, text)
    assert df420(result) == []
    assert 100e-6 * R * ROOM_K / ((vial_ul(result) - 500.0) * 1e-9) / 1e5 < 3.0 - 0.2


def test_each_stage_releases_its_own_gas(tmp_path):
    """Stage 1 runs vented, stage 2 repeats the reduction capped: stage 2's hydrogen counts (the
    gas is followed per stage, not only the first time its rule holds)."""
    vented = PROTOCOL.replace("  - seal:\n", "  - vent:\n").replace(
        "  - offdeck: Concentrate.\n", ""
    )
    stage_two = """\
  - offdeck:
      message: Concentrate; redissolve each crude in THF and put the vials back, open.
      duration: 1 h
  - stage:
      name: second reduction
      scale: {limiting: aldehyde, amount: 100 umol, concentration: 0.2 M, solvent: THF}
  - add: {reagent: aldehyde, equiv: 1.0}
  - add: {reagent: acoh, equiv: 3.0}
  - add_solvent: {solvent: THF, to_concentration: 0.2 M}
  - add: {reagent: nabh4, equiv: 1.0}
  - seal:
  - stir: {duration: 2 h}
  - unseal:
  - offdeck: Concentrate.
"""
    path, result = run(tmp_path, vented + stage_two)
    (finding,) = df420(result)
    assert finding.line == line_of(path, "stir: {duration: 2 h}")
    assert "H2 3.89 bar (300 µmol" in finding.message


BOC_DEPROTECTION = """\
diazflow: 1
name: Boc deprotection, capped
deck: {deck:starlet_chem}
vessels: {labware: reaction_block, wells: A1:H2}
scale: {limiting: boc_amine, amount: 150 umol, concentration: 0.2 M, solvent: DCM}
reagents:
  boc_amine:
    name: tert-butyl 1,4-diazepane-1-carboxylate
    smiles: CC(C)(C)OC(=O)N1CCCNCC1
    preloaded: true
  tfa:
    name: trifluoroacetic acid
    smiles: OC(=O)C(F)(F)F
    neat: true
steps:
  - add_solvent: {solvent: DCM, to_concentration: 0.2 M}
  - add: {reagent: tfa, equiv: 10}
  - seal:
  - stir: {duration: 1 h}
  - unseal:
  - offdeck: Concentrate.
"""


def test_preloaded_boc_substrate_gives_isobutylene_and_co2(tmp_path):
    """The preloaded limiting reagent has no addition step: its µmol come from the scale."""
    path, result = run(tmp_path, BOC_DEPROTECTION)
    (finding,) = df420(result)
    assert finding.line == line_of(path, "stir: {duration: 1 h}")
    # 150 µmol Boc: 150 µmol isobutylene + 150 µmol CO2; the liquid is the 750 µL made up to
    # 0.2 M, then 10 equiv neat TFA (1500 µmol, 114.02 g/mol, 1.489 g/mL: CRC handbook)
    liquid_ul = 750.0 + 1500e-6 * 114.02 / 1.489 * 1e3
    share = 150e-6 * R * ROOM_K / ((vial_ul(result) - liquid_ul) * 1e-9) / 1e5
    assert f"CO2 {share:.2f} bar (150 µmol from 'boc_amine'" in finding.message
    assert f"isobutylene {share:.2f} bar (150 µmol from 'boc_amine'" in finding.message
    # vented, the same deprotection is quiet
    _, vented = run(tmp_path, BOC_DEPROTECTION.replace("  - seal:\n", "  - vent:\n"))
    assert df420(vented) == []
