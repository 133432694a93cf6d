"""Per-well amounts of the seed chemistry, against the arithmetic a chemist does by hand.

Molar masses in these tests come from atomic weights typed here (IUPAC standard atomic weights,
C 12.011, H 1.008, N 14.007, O 15.999, Br 79.904, K 39.098, B 10.81, Na 22.990, F 18.998), not from
RDKit, so that the check is independent of the code under test.
"""

from __future__ import annotations

import pytest

from diazflow.chemistry.resolve import resolve_chemistry
from diazflow.language.loader import load_protocol
from diazflow.language.wells import parse_well
from helpers import ALDEHYDES_12, WORKFLOWS, inline_library, write_protocol

AW = {
    "C": 12.011,
    "H": 1.008,
    "N": 14.007,
    "O": 15.999,
    "Br": 79.904,
    "K": 39.098,
    "B": 10.81,
    "Na": 22.990,
    "F": 18.998,
}


def mw(**atoms: int) -> float:
    return sum(AW[el] * n for el, n in atoms.items())


def _resolve(path):
    result = load_protocol(str(path))
    assert result.ok, [str(d) for d in result.diagnostics]
    chem, diags = resolve_chemistry(result.loaded)
    assert chem is not None and not [d for d in diags if d.is_error], [str(d) for d in diags]
    return result.loaded, chem, diags


def _per_well(chem, reagent):
    out = {}
    for a in chem.additions:
        if a.reagent == reagent:
            prev = out.get(a.well.name, (0.0, 0.0, 0.0))
            out[a.well.name] = (prev[0] + (a.umol or 0), prev[1] + a.ul, prev[2] + (a.mg or 0))
    return out


def test_method_a_reductive_amination_at_plate_scale():
    loaded, chem, _ = _resolve(WORKFLOWS / "n4_reductive_amination_stab.yaml")
    scale = loaded.protocol.scale.amount.value
    assert scale == 50.0  # µmol per well, as the workflow says
    assert len(chem.wells) == 96
    diazepane = _per_well(chem, "diazepane")
    aldehyde = _per_well(chem, "aldehyde")
    acoh = _per_well(chem, "acoh")
    stab = _per_well(chem, "stab")
    stab_mw = mw(C=6, H=10, B=1, Na=1, O=6)  # NaBH(OAc)3, 211.94 g/mol
    for well in chem.wells:
        w = well.name
        assert diazepane[w][1] == pytest.approx(50.0 / 1.0)  # 50 µmol of a 1.0 M stock → 50 µL
        assert aldehyde[w][0] == pytest.approx(1.05 * 50.0)  # 52.5 µmol
        assert aldehyde[w][1] == pytest.approx(52.5 / 0.5)  # 52.5 µmol of a 0.5 M stock → 105 µL
        assert acoh[w][1] == pytest.approx(50.0 / 2.0)  # 2.0 M AcOH in DCE → 25 µL
        assert stab[w][2] == pytest.approx(1.4 * 50.0 * stab_mw / 1000.0, rel=1e-4)  # 14.84 mg
        assert stab[w][1] == 0.0  # a solid adds no pipetted volume
    # reaction volume before the quench: 50 + 70 (DCE) + 105 + 25 µL = 250 µL (0.2 M); quench = 1 reaction volume
    quench = _per_well(chem, "nahco3")
    for well in chem.wells:
        before = 50 + 70 + 105 + 25
        assert quench[well.name][1] == pytest.approx(before)
        assert chem.final_volume(well) == pytest.approx(2 * before)


def test_method_b_direct_alkylation_at_plate_scale():
    loaded, chem, _ = _resolve(WORKFLOWS / "n4_direct_alkylation.yaml")
    halide = _per_well(chem, "halide")
    k2co3 = _per_well(chem, "k2co3")
    k2co3_mw = mw(K=2, C=1, O=3)  # 138.2 g/mol
    benzyl_bromide = chem.members[("alkyl_halides", parse_well("A1"))]
    assert benzyl_bromide.name == "benzyl bromide"
    assert benzyl_bromide.mw == pytest.approx(mw(C=7, H=7, Br=1), rel=1e-4)  # 171.04
    for well in chem.wells:
        # 0.9-1.0 equiv resolves to the midpoint 0.95 → 47.5 µmol of a 0.5 M stock = 95 µL
        assert halide[well.name][0] == pytest.approx(0.95 * 50)
        assert halide[well.name][1] == pytest.approx(47.5 / 0.5)
        assert k2co3[well.name][2] == pytest.approx(
            2.0 * 50 * k2co3_mw / 1000, rel=1e-4
        )  # 13.82 mg
    assert chem.final_volume(parse_well("A1")) == pytest.approx(105 + 50 + 95)  # 250 µL → 0.2 M


NEAT = """\
diazflow: 1
name: neat liquids by density
vessels: {labware: reaction_block, wells: A1:H12}
scale: {limiting: amine, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}
reagents:
  amine: {name: ethylenediamine, smiles: NCCN, neat: true}
  acrylate: {name: methyl acrylate, smiles: C=CC(=O)OC, neat: true}
steps:
  - add: {reagent: amine, equiv: 1.0}
  - add_solvent: {solvent: MeOH, to_concentration: 0.5 M}
  - add: {reagent: acrylate, equiv: 1.0, dropwise: 1-2 h}
"""


def test_neat_liquid_volume_from_density(tmp_path):
    loaded, chem, diags = _resolve(write_protocol(tmp_path, NEAT))
    amine = _per_well(chem, "amine")["A1"]
    acrylate = _per_well(chem, "acrylate")["A1"]
    # ethylenediamine: 100 µmol × 60.10 g/mol = 6.010 mg; ρ(20 °C) ≈ 0.899 g/mL (CRC) → 6.69 µL
    assert amine[1] == pytest.approx(6.010 / 0.899, rel=0.01)
    # methyl acrylate: 100 µmol × 86.09 g/mol = 8.609 mg; ρ ≈ 0.956 g/mL → 9.01 µL
    assert acrylate[1] == pytest.approx(8.609 / 0.956, rel=0.01)
    # add_solvent tops up to 100 µmol / 0.5 M = 200 µL before the acrylate
    solvent = _per_well(chem, "solvent:MeOH")["A1"]
    assert amine[1] + solvent[1] == pytest.approx(200.0)


def test_library_equiv_override_from_the_table(tmp_path):
    library = tmp_path / "lib.csv"
    rows = ["well,name,smiles,equiv"] + [
        f"{r}{c},{n},{s},{'2.0' if (r, c) == ('A', 1) else ''}"
        for c, (n, s) in enumerate(ALDEHYDES_12, start=1)
        for r in "AB"
    ]
    library.write_text("\n".join(rows) + "\n")
    body = """\
diazflow: 1
name: override
vessels: {labware: reaction_block, wells: A1:B12}
scale: {limiting: amine, amount: 50 umol, concentration: 0.2 M, solvent: DCE}
reagents:
  amine: {name: "1-methyl-1,4-diazepane", smiles: CN1CCCNCC1, stock: {concentration: 1.0 M, solvent: DCE}}
  aldehyde: {library: aldehydes, stock: {concentration: 0.5 M, solvent: DCE}}
libraries:
  aldehydes: {csv: lib.csv}
steps:
  - add: {reagent: amine, equiv: 1.0}
  - add: {reagent: aldehyde, equiv: 1.05}
"""
    _, chem, _ = _resolve(write_protocol(tmp_path, body))
    per = _per_well(chem, "aldehyde")
    assert per["A1"][0] == pytest.approx(100.0)  # the table's 2.0 equiv wins
    assert per["B1"][0] == pytest.approx(52.5)


def test_concentration_warning_when_volume_misses_target(tmp_path):
    body = f"""\
diazflow: 1
name: too concentrated
vessels: {{labware: reaction_block, wells: A1:H12}}
scale: {{limiting: amine, amount: 50 umol, concentration: 0.05 M, solvent: DCE}}
reagents:
  amine: {{name: "1-methyl-1,4-diazepane", smiles: CN1CCCNCC1, stock: {{concentration: 1.0 M, solvent: DCE}}}}
  aldehyde: {{library: aldehydes, stock: {{concentration: 0.5 M, solvent: DCE}}}}
libraries:
  aldehydes: {inline_library(ALDEHYDES_12)}
steps:
  - add: {{reagent: amine, equiv: 1.0}}
  - add: {{reagent: aldehyde, equiv: 1.0}}
"""
    _, chem, diags = _resolve(write_protocol(tmp_path, body))
    warnings = [d for d in diags if d.code == "DF306"]
    assert len(warnings) == 1 and not warnings[0].is_error
    # 150 µL for 50 µmol = 0.333 M against 0.05 M asked for
    assert "0.333 M" in warnings[0].message
    fixed = body.replace(
        "  - add: {reagent: aldehyde, equiv: 1.0}\n",
        "  - add: {reagent: aldehyde, equiv: 1.0}\n  - add_solvent: {solvent: DCE, to_concentration: 0.05 M}\n",
    )
    _, chem2, diags2 = _resolve(write_protocol(tmp_path, fixed, "fixed.yaml"))
    assert not [d for d in diags2 if d.code == "DF306"]
    assert chem2.final_volume(parse_well("A1")) == pytest.approx(1000.0)


def test_a_stock_above_the_neat_liquids_molarity_is_df312(variant):
    from diazflow.pipeline import check

    v = variant(
        "    stock: {concentration: 1.0 M, solvent: DCE}\n",
        "    stock: {concentration: 9.5 M, solvent: DCE}\n",
    )
    result = check(str(v.path), deck_override="starlet_chem")
    found = [d for d in result.diagnostics if d.code == "DF312"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    assert (found[0].line, found[0].column) == v.at("9.5 M")
    # 1-methyl-1,4-diazepane: 0.91 g/mL (Sigma-Aldrich), C6H14N2 114.19 g/mol → 7.97 M neat
    assert "7.97 M" in found[0].message


def test_a_liquid_solute_is_measured_by_volume(variant):
    """The stock list gives a liquid solute's volume, recomputed here from its mass and the
    catalogue density; the solvent makes up the rest."""
    from diazflow.pipeline import check

    result = check(str(variant("", "").path), deck_override="starlet_chem")
    assert result.plan is not None
    stock = next(s for s in result.plan.stocks if s.substance == "1-methyl-1,4-diazepane")
    mw_diazepane = mw(C=6, H=14, N=2)
    assert stock.weigh_mg == pytest.approx(
        stock.concentration_M * stock.volume_uL * mw_diazepane / 1000, rel=1e-4
    )
    assert stock.measure_uL == pytest.approx(stock.weigh_mg / 0.91, rel=1e-3)
    assert stock.solvent_uL == pytest.approx(stock.volume_uL - stock.measure_uL, abs=1e-3)
    solid = [s for s in result.plan.stocks if s.form == "solid"]
    assert solid and all(s.measure_uL is None for s in solid)
