"""Chemistry (DF3xx), hazard (DF4xx) and deck (DF5xx) checks on realistic protocols.

Each check has a protocol that triggers it and a close variant that does not; the position of
the finding is checked against the line the defect is on.
"""

from __future__ import annotations

import pytest

from diazflow.pipeline import check
from helpers import (
    ACOH_STOCK,
    ALDEHYDES_12,
    NAHCO3_BLOCK,
    codes,
    error_codes,
    inline_library,
    line_of,
    method_a_protocol,
    write_protocol,
)

# A realistic 96-well reductive amination (seed note 000, Method A) on the STARlet: valid as is.
BASE = method_a_protocol(
    "N4 reductive amination (STAB), 96 wells",
    """\
  - add: {reagent: diazepane, equiv: 1.0}
  - add_solvent: {solvent: DCE, volume: 70 uL}
  - add: {reagent: aldehyde, equiv: 1.05}
  - add: {reagent: acoh, equiv: 1.0}
  - stir: {duration: 15 min}
  - add: {reagent: stab, equiv: 1.4}
  - stir: {duration: 1-4 h}
  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}
  - offdeck: Extract with DCM (3x), dry over Na2SO4 and concentrate.
""",
    header="atmosphere: inert\n",
    acoh=ACOH_STOCK,
    nahco3=NAHCO3_BLOCK,
)

# Method C (Michael addition in MeOH at RT) on the OT-2: valid as is.
OT2 = """\
diazflow: 1
name: Michael addition on the OT-2
deck: {deck:ot2_tempmodule}
vessels: {labware: reaction_block, wells: A1:H3}
scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}
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
  - hold: {duration: 2-12 h, temperature: 25 degC}
"""


def run(tmp_path, text, old=None, new=None, name="protocol.yaml"):
    if old is not None:
        assert old in text, old
        text = text.replace(old, new)
    path = write_protocol(tmp_path, text, name)
    return path, check(str(path))


def find(result, code):
    found = [d for d in result.diagnostics if d.code == code]
    assert found, f"{code} not in {[str(d) for d in result.diagnostics]}"
    return found[0]


def test_bases_are_valid(tmp_path):
    for text in (BASE, OT2):
        _, result = run(tmp_path, text)
        assert result.ok, [str(d) for d in result.diagnostics if d.is_error]
        assert result.plan is not None


# --------------------------------------------------------------------------- DF3xx chemistry


def test_df300_invalid_smiles_in_reagent_and_library(tmp_path):
    path, result = run(tmp_path, BASE, "smiles: CC(=O)O\n", "smiles: CC(=O)O)\n")
    d = find(result, "DF300")
    assert d.line == line_of(path, "smiles: CC(=O)O)")
    bad_lib = BASE.replace('smiles: "O=Cc1ccccc1"', 'smiles: "O=Cc1ccccc1 benzaldehyde"')
    _, result = run(tmp_path, bad_lib)
    assert "DF300" in error_codes(result)


def test_df301_hold_below_freezing_point_of_dmso(tmp_path):
    text = BASE.replace("solvent: DCE}", "solvent: DMSO}").replace(
        "solvent: DCE,", "solvent: DMSO,"
    )
    _, ok = run(tmp_path, text)
    assert "DF301" not in codes(ok)
    path, result = run(
        tmp_path,
        text,
        "  - stir: {duration: 15 min}\n",
        "  - cool: {to: 0 degC}\n  - stir: {duration: 15 min}\n",
    )
    d = find(result, "DF301")
    assert "DMSO" in d.message and d.line == line_of(path, "cool: {to: 0 degC}")
    assert "DMF" in d.hint


def test_df302_boiling_in_an_open_plate(tmp_path):
    path, result = run(
        tmp_path,
        OT2,
        "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
        "  - heat: {to: 70 degC}\n  - hold: {duration: 2 h}\n",
    )
    d = find(result, "DF302")
    assert "methanol" in d.message.lower() or "meoh" in d.message.lower()
    assert d.line == line_of(path, "heat: {to: 70 degC}")
    _, fine = run(
        tmp_path,
        OT2,
        "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
        "  - heat: {to: 50 degC}\n  - hold: {duration: 2 h}\n",
    )
    assert "DF302" not in codes(fine) and fine.ok


def test_df303_reflux_needs_a_sealed_or_condensed_vessel(tmp_path):
    _, result = run(
        tmp_path,
        OT2,
        "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
        "  - reflux: {duration: 12-24 h}\n",
    )
    assert "DF303" in error_codes(result)
    # the STARlet's vials take septum caps, but start open: reflux needs a 'seal:' first
    uncapped = BASE.replace("  - offdeck:", "  - reflux: {duration: 2 h}\n  - offdeck:")
    path, open_vials = run(tmp_path, uncapped)
    d = find(open_vials, "DF303")
    assert d.is_error and "open at this step" in d.message and "'seal:'" in d.hint
    assert d.line == line_of(path, "reflux:")
    vented = BASE.replace("  - offdeck:", "  - vent:\n  - reflux: {duration: 2 h}\n  - offdeck:")
    _, vented_vials = run(tmp_path, vented)  # vent needles let the boiling solvent out
    assert "vented at this step" in find(vented_vials, "DF303").message
    sealed = BASE.replace("  - offdeck:", "  - seal:\n  - reflux: {duration: 2 h}\n  - offdeck:")
    _, ok = run(tmp_path, sealed)
    assert "DF303" not in codes(ok) and ok.ok
    reflux = [op for op in ok.plan.operations if op.op == "set_temperature" and op.celsius > 80]
    assert reflux and reflux[0].celsius == pytest.approx(83.5, abs=0.6)  # DCE boils at 83.5 °C


def test_df304_solvent_versus_labware_material(tmp_path):
    # DCM samples into the OT-2's polystyrene sample plate: polystyrene dissolves in DCM
    text = OT2.replace("solvent: MeOH}", "solvent: DCM}").replace("solvent: MeOH,", "solvent: DCM,")
    text = text.replace(
        "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
        "  - hold: {duration: 2 h, temperature: 25 degC}\n  - sample: {volume: 20 uL, into: sample_plate, at: [1 h]}\n",
    )
    path, result = run(tmp_path, text)
    errors = [d for d in result.diagnostics if d.code == "DF304" and d.is_error]
    assert errors and "polystyrene" in errors[0].message
    assert errors[0].line == line_of(path, "into: sample_plate")
    _, fine = run(
        tmp_path,
        OT2.replace(
            "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
            "  - hold: {duration: 2 h, temperature: 25 degC}\n  - sample: {volume: 20 uL, into: sample_plate, at: [1 h]}\n",
        ),
    )
    assert not [d for d in fine.diagnostics if d.code == "DF304" and d.is_error]


def test_df305_solid_given_as_neat_liquid(tmp_path):
    path, result = run(tmp_path, BASE, "    solid: {dispense: powder}\n", "    neat: true\n")
    d = find(result, "DF305")
    assert d.is_error and "solid" in d.message
    assert d.line == line_of(path, "neat: true")


def test_df307_solution_without_concentration_used_by_equiv(tmp_path):
    _, result = run(
        tmp_path,
        BASE,
        "  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}",
        "  - quench: {reagent: nahco3, equiv: 3, stir: 20 min}",
    )
    assert "DF307" in error_codes(result)


def test_df308_unknown_solvent_is_a_warning(tmp_path):
    _, result = run(
        tmp_path,
        BASE,
        "  - add_solvent: {solvent: DCE, volume: 70 uL}",
        "  - add_solvent: {solvent: Dichloroethene-X, volume: 70 uL}",
    )
    d = find(result, "DF308")
    assert not d.is_error


def test_df309_no_molecular_weight(tmp_path):
    # a solid is dispensed by mass: without SMILES or mw there is no mass to dispense
    text = BASE.replace(
        'name: sodium triacetoxyborohydride\n    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"\n',
        "name: house reductant\n",
    )
    _, result = run(tmp_path, text)
    assert "DF309" in error_codes(result)
    _, fixed = run(
        tmp_path, text.replace("name: house reductant\n", "name: house reductant\n    mw: 211.94\n")
    )
    assert "DF309" not in codes(fixed) and fixed.ok


def test_df310_to_concentration_already_exceeded(tmp_path):
    _, result = run(
        tmp_path,
        BASE,
        "  - add: {reagent: acoh, equiv: 1.0}\n",
        "  - add: {reagent: acoh, equiv: 1.0}\n  - add_solvent: {solvent: DCE, to_concentration: 0.5 M}\n",
    )
    assert "DF310" in error_codes(result)


# --------------------------------------------------------------------------- DF4xx hazards (warnings)


def test_df401_cyanoborohydride_with_acid(tmp_path):
    text = BASE.replace(
        'smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"', 'smiles: "[Na+].[BH3-]C#N"'
    ).replace("name: sodium triacetoxyborohydride", "name: sodium cyanoborohydride")
    _, result = run(tmp_path, text)
    d = find(result, "DF401")
    assert not d.is_error and "HCN" in (
        d.message + d.hint + "HCN" if "cyanide" in d.message.lower() else d.message + d.hint
    )
    _, no_acid = run(tmp_path, text.replace("  - add: {reagent: acoh, equiv: 1.0}\n", ""))
    assert "DF401" not in codes(no_acid)


def test_df402_sodium_hydride_with_aqueous_quench(tmp_path):
    text = BASE.replace(
        'name: sodium triacetoxyborohydride\n    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"',
        'name: sodium hydride\n    smiles: "[Na+].[H-]"',
    )
    _, result = run(tmp_path, text)
    assert "DF402" in codes(result)
    _, fine = run(tmp_path, BASE)
    assert "DF402" not in codes(fine)


def test_df403_gas_evolution_in_sealed_vials(tmp_path):
    # the vials start open: STAB and its NaHCO3 quench give their gas off into the enclosure
    _, open_vials = run(tmp_path, BASE)
    assert "DF403" not in codes(open_vials)
    # capping the quenched mixture and stirring on holds the CO2 and H2 in the vials
    capped = BASE.replace(
        "  - offdeck: Extract", "  - seal:\n  - stir: {duration: 1 h}\n  - offdeck: Extract"
    )
    path, result = run(tmp_path, capped)
    d = find(result, "DF403")
    assert not d.is_error and d.line == line_of(path, "- seal:")
    _, open_plate = run(tmp_path, OT2)  # nothing gas-evolving, open plate
    assert "DF403" not in codes(open_plate)


def test_df404_inert_atmosphere_needed_but_deck_has_none(tmp_path):
    text = BASE.replace(
        'name: sodium triacetoxyborohydride\n    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"\n    solid: {dispense: powder}',
        'name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: manual}',
    )
    text = text.replace("{deck:starlet_chem}", "{deck:evo150_chem}").replace(
        "atmosphere: inert\n", ""
    )
    _, result = run(tmp_path, text)
    assert "DF404" in codes(result)
    _, on_starlet = run(tmp_path, text.replace("{deck:evo150_chem}", "{deck:starlet_chem}"))
    assert "DF404" not in codes(on_starlet)


# --------------------------------------------------------------------------- DF5xx deck and robot


def test_df510_labware_not_on_deck(tmp_path):
    path, result = run(tmp_path, BASE, "labware: reaction_block", "labware: reaction_blok")
    d = find(result, "DF510")
    assert d.line == line_of(path, "reaction_blok") and "reaction_block" in d.hint


def test_df511_vessel_not_on_a_temperature_module(tmp_path):
    _, result = run(tmp_path, BASE, "labware: reaction_block", "labware: building_blocks")
    assert "DF511" not in codes(result)  # no temperature step: fine
    text = BASE.replace("labware: reaction_block", "labware: sample_plate").replace(
        "amount: 50 umol", "amount: 10 umol"
    )
    _, result = run(tmp_path, text, "  - stir: {duration: 15 min}\n", "  - cool: {to: 10 degC}\n")
    assert "DF511" in error_codes(result)


def test_df512_temperature_outside_module_range(tmp_path):
    path, result = run(
        tmp_path,
        OT2,
        "  - add: {reagent: acrylate, equiv: 1.05}\n",
        "  - cool: {to: 0 degC}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
    )
    d = find(result, "DF512")
    assert "4" in d.message and d.line == line_of(path, "cool: {to: 0 degC}")
    _, fine = run(
        tmp_path,
        OT2,
        "  - add: {reagent: acrylate, equiv: 1.05}\n",
        "  - cool: {to: 4 degC}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
    )
    assert fine.ok


def test_df513_no_active_cooling(tmp_path):
    text = OT2.replace("{deck:ot2_tempmodule}", "{deck:evo150_chem}")
    _, result = run(
        tmp_path,
        text,
        "  - add: {reagent: acrylate, equiv: 1.05}\n",
        "  - cool: {to: 10 degC}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
    )
    assert "DF513" in error_codes(result)
    _, fine = run(
        tmp_path,
        text,
        "  - add: {reagent: acrylate, equiv: 1.05}\n",
        "  - heat: {to: 40 degC}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
    )
    assert fine.ok, [str(d) for d in fine.diagnostics if d.is_error]


def test_df514_stir_without_a_shaker(tmp_path):
    _, result = run(
        tmp_path,
        OT2,
        "  - hold: {duration: 2-12 h, temperature: 25 degC}",
        "  - stir: {duration: 2-12 h, temperature: 25 degC}",
    )
    d = find(result, "DF514")
    assert "hold" in d.hint


def test_df515_powder_without_a_dispenser(tmp_path):
    text = OT2.replace(
        "  acrylate:\n",
        '  k2co3:\n    name: potassium carbonate\n    smiles: "[K+].[K+].[O-]C([O-])=O"\n    solid: {dispense: powder}\n  acrylate:\n',
    )
    text = text.replace(
        "  - add: {reagent: acrylate, equiv: 1.05}\n",
        "  - add: {reagent: k2co3, equiv: 2.0}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
    )
    _, result = run(tmp_path, text)
    d = find(result, "DF515")
    assert "manual" in d.hint
    _, fine = run(tmp_path, text.replace("dispense: powder", "dispense: manual"))
    assert fine.ok
    manual = [op for op in fine.plan.operations if op.op == "dispense_powder"]
    assert manual and all(op.device == "operator" for op in manual)


def test_df516_well_overfilled(tmp_path):
    path, result = run(tmp_path, BASE, "volume: 1 reaction volume", "volume: 6 reaction volumes")
    d = find(result, "DF516")
    assert d.line == line_of(path, "reaction volumes")
    _, fine = run(tmp_path, BASE, "volume: 1 reaction volume", "volume: 2 reaction volumes")
    assert "DF516" not in codes(fine)


def test_df517_volume_below_smallest_tip(tmp_path):
    _, result = run(
        tmp_path,
        BASE,
        "stock: {concentration: 0.5 M, solvent: DCE}",
        "stock: {concentration: 100 M, solvent: DCE}",  # the aldehydes: no neat-molarity limit known
    )
    assert "DF517" in error_codes(result)


def test_df518_not_enough_reservoirs(tmp_path):
    def with_extra(n: int) -> str:
        extra = "".join(
            f"  r{i}: {{name: acetic acid, smiles: CC(=O)O, stock: {{concentration: 2.0 M, solvent: DCE}}}}\n"
            for i in range(n)
        )
        adds = "".join(f"  - add: {{reagent: r{i}, equiv: 0.1}}\n" for i in range(n))
        return BASE.replace("libraries:\n", extra + "libraries:\n").replace(
            "  - stir: {duration: 15 min}\n", adds + "  - stir: {duration: 15 min}\n"
        )

    # 8 more than the troughs take: they go to free building-block columns (the aldehydes are
    # compacted to one well each to make room)
    _, result = run(tmp_path, with_extra(8))
    assert "DF518" not in codes(result) and result.plan is not None
    on_block = {s.reagent for s in result.plan.stocks if s.location.startswith("building_blocks:")}
    assert len(on_block - {"aldehyde"}) >= 3
    # 30 more: the troughs and the block's 12 columns cannot hold them all
    _, result = run(tmp_path, with_extra(30))
    assert "DF518" in error_codes(result)


def test_df519_only_when_the_library_stocks_cannot_fit_even_one_well_per_member(tmp_path):
    # 12 aldehydes scattered over 96 wells: compacted to one source well per member, two library
    # reagents need 24 wells: they fit (issue 16: no refusal of a layout that fits)
    rows = ["well,name,smiles"]
    for c in range(1, 13):
        for r in "ABCDEFGH":
            n, s = ALDEHYDES_12[(c + ord(r)) % 12]
            rows.append(f"{r}{c},{n},{s}")
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    text = BASE.replace(inline_library(ALDEHYDES_12), "{csv: a.csv}")
    text = text.replace(
        "  acoh:\n",
        "  aldehyde2:\n    library: aldehydes\n    stock: {concentration: 0.5 M, solvent: DCE}\n  acoh:\n",
    )
    text = text.replace(
        "  - add: {reagent: acoh, equiv: 1.0}\n",
        "  - add: {reagent: aldehyde2, equiv: 0.05}\n  - add: {reagent: acoh, equiv: 1.0}\n",
    )
    _, result = run(tmp_path, text)
    assert "DF519" not in codes(result)
    assert result.plan is not None
    assert len({s.location for s in result.plan.stocks if "building_blocks" in s.location}) == 24
    # 96 different members in each well for both reagents: 192 source wells, the plate has 96
    rows = ["well,name,smiles"] + [
        f"{r}{c},aldehyde {r}{c},O=Cc1ccc({'C' * (c + 1)})cc1" + ("F" if r in "ACEG" else "")
        for c in range(1, 13)
        for r in "ABCDEFGH"
    ]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    _, result = run(tmp_path, text)
    df519 = [d for d in result.diagnostics if d.code == "DF519"]
    assert len(df519) == 1
    assert "192 wells" in df519[0].message and "(96 wells)" in df519[0].message


def test_df520_tips_run_out(tmp_path):
    text = BASE.replace(
        "  - stir: {duration: 1-4 h}\n",
        "  - stir: {duration: 1-4 h}\n" + "  - add: {reagent: aldehyde, equiv: 0.01}\n" * 12,
    )
    _, result = run(tmp_path, text)
    d = find(result, "DF520")
    assert "tips" in d.message and d.hint


def test_df521_reservoir_too_small(tmp_path):
    _, result = run(
        tmp_path,
        BASE,
        "stock: {concentration: 2.0 M, solvent: DCE}",
        "stock: {concentration: 0.01 M, solvent: DCE}",
    )
    assert "DF521" in error_codes(result) or "DF516" in error_codes(result)
    text = BASE.replace("amount: 50 umol", "amount: 10 umol").replace(
        "stock: {concentration: 2.0 M, solvent: DCE}",
        "stock: {concentration: 0.02 M, solvent: DCE}",
    )
    _, result = run(tmp_path, text)
    assert "DF521" in error_codes(result)


def test_df522_inert_atmosphere_requested_on_an_open_deck(tmp_path):
    text = OT2.replace(
        "name: Michael addition on the OT-2\n",
        "name: Michael addition on the OT-2\natmosphere: inert\n",
    )
    path, result = run(tmp_path, text)
    d = find(result, "DF522")
    assert d.line == line_of(path, "atmosphere: inert")
    _, fine = run(tmp_path, BASE)
    assert "DF522" not in codes(fine)


def test_df523_not_enough_sample_positions(tmp_path):
    _, result = run(
        tmp_path,
        BASE,
        "  - stir: {duration: 1-4 h}\n",
        "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: sample_plate, at: [1 h, 2 h]}\n",
    )
    assert "DF523" in error_codes(result)
    _, fine = run(
        tmp_path,
        BASE,
        "  - stir: {duration: 1-4 h}\n",
        "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}\n",
    )
    assert fine.ok, [str(d) for d in fine.diagnostics if d.is_error]


def test_df524_wells_outside_the_labware(tmp_path):
    _, result = run(tmp_path, OT2, "wells: A1:H3", "wells: A1:J3")
    assert "DF524" in error_codes(result)


def test_df525_deck_missing(tmp_path):
    _, result = run(tmp_path, OT2, "deck: {deck:ot2_tempmodule}\n", "")
    assert "DF525" in error_codes(result)
    _, result = run(tmp_path, OT2, "deck: {deck:ot2_tempmodule}", "deck: ../nowhere/deck.yaml")
    assert "DF525" in error_codes(result)


def test_df403_sodium_borohydride_in_methanol_in_sealed_vials(tmp_path):
    text = OT2.replace(
        "  acrylate:\n",
        '  nabh4:\n    name: sodium borohydride\n    smiles: "[Na+].[BH4-]"\n    solid: {dispense: manual}\n  acrylate:\n',
    )
    text = text.replace("  - hold:", "  - add: {reagent: nabh4, equiv: 2.0}\n  - hold:")
    _, open_plate = run(tmp_path, text)
    assert not [d for d in open_plate.diagnostics if d.code == "DF403"]
    starlet = text.replace("{deck:ot2_tempmodule}", "{deck:starlet_chem}")
    _, open_vials = run(tmp_path, starlet)  # the STARlet's vials start open too
    assert not [d for d in open_vials.diagnostics if d.code == "DF403"]
    _, sealed = run(tmp_path, starlet.replace("  - hold:", "  - seal:\n  - hold:"))
    d = [d for d in sealed.diagnostics if d.code == "DF403" and "borohydride" in d.message]
    assert d and not d[0].is_error
    _, vented = run(tmp_path, starlet.replace("  - hold:", "  - vent:\n  - hold:"))
    assert "DF403" not in codes(vented) and vented.ok


def test_df403_not_raised_once_the_operator_vents_the_vials(tmp_path):
    # capped after the quench, vented at once (the old 'offdeck: {vent: true}' form): no step
    # holds the gas in a closed vial
    vent = "  - offdeck: {message: Fit each septum with a vent needle, vent: true}\n"
    _, vented = run(
        tmp_path, BASE, "  - offdeck: Extract", "  - seal:\n" + vent + "  - offdeck: Extract"
    )
    assert "DF403" not in codes(vented) and vented.ok
    # venting after an hour's stir is too late: the gas was given off in a closed vial
    late = "  - seal:\n  - stir: {duration: 1 h}\n" + vent
    _, too_late = run(tmp_path, BASE, "  - offdeck: Extract", late + "  - offdeck: Extract")
    assert "DF403" in codes(too_late)
