"""Hazard tags and rules (DF4xx) from data/hazards.yaml, on realistic reagents and protocols."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from diazflow.chemistry import hazards
from diazflow.chemistry.hazards import (
    HazardContext,
    HazardDataError,
    classify,
    evaluate,
    parse_hazard_data,
    solvent_tags,
)
from diazflow.pipeline import check
from helpers import line_of, write_protocol

# --------------------------------------------------------------------------- real reagents

STAB = "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"
NABH3CN = "[Na+].[BH3-]C#N"
NABH4 = "[Na+].[BH4-]"
NAH = "[Na+].[H-]"
TFA = "OC(=O)C(F)(F)F"
ACOH = "CC(=O)O"
NAHCO3 = "[Na+].OC([O-])=O"
K2CO3 = "[K+].[K+].[O-]C([O-])=O"
CS2CO3 = "[Cs+].[Cs+].[O-]C([O-])=O"
BOC2O = "CC(C)(C)OC(=O)OC(=O)OC(C)(C)C"
BOC_DIAZEPANE = "CC(C)(C)OC(=O)N1CCCNCC1"  # tert-butyl 1,4-diazepane-1-carboxylate
METHYL_DIAZEPANE = "CN1CCCNCC1"
CUI = "[Cu]I"
DMG = "CN(C)CC(=O)O"  # N,N-dimethylglycine, the CuI ligand
PD2DBA3 = "O=C(/C=C/c1ccccc1)/C=C/c1ccccc1.O=C(/C=C/c1ccccc1)/C=C/c1ccccc1.O=C(/C=C/c1ccccc1)/C=C/c1ccccc1.[Pd].[Pd]"
# Grubbs 2nd generation: the phosphine written as a dative bond so that P keeps valence 3
GRUBBS_II = "Cc1cc(C)c(N2CCN(c3c(C)cc(C)cc3C)C2=[Ru](Cl)(Cl)(=Cc2ccccc2)<-P(C2CCCCC2)(C2CCCCC2)C2CCCCC2)c(C)c1"
HOVEYDA_GRUBBS_II = "CC(C)Oc1ccccc1C=[Ru](Cl)(Cl)=C1N(c2c(C)cc(C)cc2C)CCN1c1c(C)cc(C)cc1C"
BENZYL_BROMIDE = "BrCc1ccccc1"


@pytest.mark.parametrize(
    "smiles,expected",
    [
        (STAB, {"borohydride", "triacetoxyborohydride"}),
        (NABH3CN, {"borohydride", "cyanoborohydride"}),
        ("N#C[BH3-].[Na+]", {"borohydride", "cyanoborohydride"}),
        (NABH4, {"borohydride"}),
        (NAH, {"sodium_hydride", "water_reactive", "needs_inert_atmosphere"}),
        ("[NaH]", {"sodium_hydride", "water_reactive", "needs_inert_atmosphere"}),
        (TFA, {"acid", "strong_acid", "tfa"}),
        (ACOH, {"acid"}),
        ("CS(=O)(=O)O", {"acid", "strong_acid"}),
        ("Cl", {"acid", "strong_acid"}),  # HCl
        (NAHCO3, {"bicarbonate"}),  # its OH must not make it a carboxylic acid
        (K2CO3, {"carbonate"}),
        (BOC2O, {"boc_anhydride"}),
        (BOC_DIAZEPANE, {"boc_protected"}),
        ("CC(C)(C)OC(=O)CBr", {"tert_butyl_ester", "alkylating_agent"}),
        (METHYL_DIAZEPANE, set()),
        (CUI, {"copper", "needs_inert_atmosphere"}),
        (PD2DBA3, {"palladium", "needs_inert_atmosphere"}),
        ("CC(=O)O[Pd]OC(C)=O", {"palladium", "needs_inert_atmosphere"}),
        (GRUBBS_II, {"ruthenium_carbene", "needs_inert_atmosphere"}),
        (HOVEYDA_GRUBBS_II, {"ruthenium_carbene", "needs_inert_atmosphere"}),
        ("O", {"aqueous", "protic_solvent"}),
        ("CO", {"protic_solvent"}),
        ("CC(C)(C)O", {"protic_solvent"}),
        ("OCCN1CCCNCC1", set()),  # a substrate with an OH is not a protic solvent
        ("ClCCl", {"halomethane_solvent"}),  # DCM
        (BENZYL_BROMIDE, {"alkylating_agent"}),
        ("CI", {"alkylating_agent"}),
        (DMG, {"acid"}),
    ],
)
def test_classify_real_smiles(smiles, expected):
    assert classify(smiles, None) == frozenset(expected)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("sodium triacetoxyborohydride", {"borohydride", "triacetoxyborohydride"}),
        ("STAB", {"borohydride", "triacetoxyborohydride"}),
        ("NaBH(OAc)₃", {"borohydride", "triacetoxyborohydride"}),
        ("sodium cyanoborohydride", {"borohydride", "cyanoborohydride"}),
        ("NaBH₃CN", {"borohydride", "cyanoborohydride"}),
        (
            "sodium hydride (60 % dispersion in mineral oil)",
            {"sodium_hydride", "water_reactive", "needs_inert_atmosphere"},
        ),
        ("NaH", {"sodium_hydride", "water_reactive", "needs_inert_atmosphere"}),
        ("saturated aqueous sodium bicarbonate", {"bicarbonate", "aqueous", "protic_solvent"}),
        ("sat. aq. NaHCO3", {"bicarbonate", "aqueous", "protic_solvent"}),
        ("sodium hydrogen carbonate", {"bicarbonate"}),
        ("saturated aqueous sodium carbonate", {"carbonate", "aqueous", "protic_solvent"}),
        ("saturated aqueous ammonium chloride", {"aqueous", "protic_solvent", "nh_amine"}),
        ("4 M HCl in 1,4-dioxane", {"acid", "strong_acid", "peroxide_former"}),
        ("trifluoroacetic acid", {"acid", "strong_acid", "tfa"}),
        ("glacial acetic acid", {"acid"}),
        ("Boc2O", {"boc_anhydride"}),
        ("(Boc)2O", {"boc_anhydride"}),
        ("di-tert-butyl dicarbonate", {"boc_anhydride"}),
        ("1-Boc-1,4-diazepane", {"boc_protected"}),
        ("Grubbs catalyst, 2nd generation", {"ruthenium_carbene", "needs_inert_atmosphere"}),
        ("Pd2(dba)3", {"palladium", "needs_inert_atmosphere"}),
        ("CuI", {"copper", "needs_inert_atmosphere"}),
        ("water", {"aqueous", "protic_solvent"}),
        ("MeOH", {"protic_solvent"}),
        ("isopropanol", {"protic_solvent"}),
        ("DMF", {"dmf_dmac"}),
        ("DCE", set()),
        ("cumene", set()),  # "Cu" inside a word is not copper
        ("sodium naphthalenide", set()),  # "NaH" only as a formula token
        ("1-methyl-1,4-diazepane", set()),
    ],
)
def test_classify_by_name(name, expected):
    assert classify(None, name) == frozenset(expected)


def test_classify_unions_smiles_and_name_and_survives_a_bad_smiles():
    assert classify(NAHCO3, "saturated aqueous sodium bicarbonate") == {
        "bicarbonate",
        "aqueous",
        "protic_solvent",
    }
    assert classify("C1CC(", "sodium hydride") == {
        "sodium_hydride",
        "water_reactive",
        "needs_inert_atmosphere",
    }
    assert classify("CCO junk", None) == frozenset()  # not silently ethanol
    assert classify(None, None) == frozenset()


def test_solvent_tags():
    assert solvent_tags(["MeOH/CHCl3 1:1"]) == {"protic_solvent", "halomethane_solvent"}
    assert solvent_tags(["DMF"]) == {"dmf_dmac"}
    assert solvent_tags(["THF"]) == {"peroxide_former"}
    assert solvent_tags(["toluene"]) == frozenset()
    assert solvent_tags(["DCE", "water"]) == {"aqueous", "protic_solvent"}
    assert solvent_tags("water") == {"aqueous", "protic_solvent"}  # one name, not its characters
    assert solvent_tags("MeOH/CHCl3 1:1") == {"protic_solvent", "halomethane_solvent"}


WATER_REACTIVE = {"water_reactive", "needs_inert_atmosphere"}


@pytest.mark.parametrize(
    "smiles,name,expected",
    [
        # the SMILES alone decides (names are the fallback for reagents given without one)
        ("[Li+].[AlH4-]", None, {"aluminium_hydride", *WATER_REACTIVE}),
        ("CC(C)C[AlH]CC(C)C", None, {"aluminium_hydride", *WATER_REACTIVE}),  # DIBAL-H
        ("[Li]CCCC", None, {"organolithium", *WATER_REACTIVE}),  # n-BuLi, covalent
        ("[Li+].CCC[CH2-]", None, {"organolithium", *WATER_REACTIVE}),  # n-BuLi, ionic
        ("CC(C)N([Li])C(C)C", None, {"organolithium", *WATER_REACTIVE}),  # LDA
        ("Br[Mg]c1ccccc1", None, {"grignard", *WATER_REACTIVE}),  # PhMgBr
        ("C[Mg]Cl", None, {"grignard", *WATER_REACTIVE}),
        ("[Mg+2].[Br-].[Br-]", None, set()),  # MgBr2 is no Grignard reagent
        ("CC(=O)Cl", None, {"acid_halide"}),
        ("O=C(Cl)c1ccccc1", None, {"acid_halide"}),
        ("CCOC(=O)Cl", None, {"acid_halide"}),  # ethyl chloroformate
        ("ClCc1ccccc1", None, {"alkylating_agent"}),  # benzyl chloride is not an acid chloride
        ("CC(=O)OC(C)=O", None, {"carboxylic_anhydride"}),
        ("O=C1CCC(=O)O1", None, {"carboxylic_anhydride"}),  # succinic anhydride
        ("O=S(=O)(OS(=O)(=O)C(F)(F)F)C(F)(F)F", None, {"carboxylic_anhydride"}),  # Tf2O
        (BOC2O, None, {"boc_anhydride"}),  # a dicarbonate, not an acylating anhydride
        ("[Na+].[N-]=[N+]=[N-]", None, {"azide", "azide_salt"}),
        ("[N-]=[N+]=NCc1ccccc1", None, {"azide", "covalent_azide"}),  # benzyl azide
        ("C[Si](C)(C)N=[N+]=[N-]", None, {"azide", "azide_salt"}),  # TMSN3
        ("CC(C)(C)N=C=O", None, {"isocyanate"}),
        ("S=C=Nc1ccccc1", None, {"isocyanate"}),  # phenyl isothiocyanate
        ("CN(C)C=O", None, {"dmf_dmac"}),
        ("CC(=O)N(C)C", None, {"dmf_dmac"}),
        ("CN(C)C(=O)c1ccccc1", None, set()),  # a substrate amide is not the solvent
        ("CS(C)=O", None, {"dmso"}),
        # names, for reagents given without a SMILES
        (None, "lithium aluminium hydride", {"aluminium_hydride", *WATER_REACTIVE}),
        (None, "LiAlH4", {"aluminium_hydride", *WATER_REACTIVE}),
        (None, "DIBAL-H (1 M in toluene)", {"aluminium_hydride", *WATER_REACTIVE}),
        (None, "n-BuLi (2.5 M in hexanes)", {"organolithium", *WATER_REACTIVE}),
        (None, "n-butyllithium", {"organolithium", *WATER_REACTIVE}),
        (None, "iPrMgCl", {"grignard", *WATER_REACTIVE}),
        (None, "phenylmagnesium bromide", {"grignard", *WATER_REACTIVE}),
        (None, "MgBr2", set()),
        (None, "benzoyl chloride", {"acid_halide"}),
        (None, "acetic anhydride", {"carboxylic_anhydride"}),
        (None, "Boc anhydride", {"boc_anhydride"}),
        (None, "sodium azide", {"azide", "azide_salt"}),
        (None, "phenyl isocyanate", {"isocyanate"}),
        (None, "DMSO", {"dmso"}),
        # issue 15: azides, peroxide formers, oxidants (SMILES first, names as the fallback)
        ("O=P(N=[N+]=[N-])(Oc1ccccc1)Oc1ccccc1", None, {"azide", "covalent_azide"}),  # DPPA
        ("Cc1ccc(S(=O)(=O)N=[N+]=[N-])cc1", None, {"azide", "covalent_azide"}),  # TsN3
        (None, "benzyl azide", {"azide", "covalent_azide"}),
        (None, "trimethylsilyl azide", {"azide", "azide_salt"}),
        ("C1CCOC1", None, {"peroxide_former"}),  # THF
        ("C1COCCO1", None, {"peroxide_former"}),  # 1,4-dioxane
        ("CCOCC", None, {"peroxide_former"}),
        ("CC(C)OC(C)C", None, {"peroxide_former"}),  # diisopropyl ether
        ("COC(C)(C)C", None, set()),  # MTBE forms no peroxides to speak of
        ("NC1CCOC1", None, set()),  # tetrahydrofuran-3-amine: a substrate, not the solvent
        (None, "diethyl ether", {"peroxide_former"}),
        ("OO", None, {"strong_oxidant"}),  # H2O2
        ("O=C(OO)c1cccc(Cl)c1", None, {"strong_oxidant"}),  # mCPBA
        ("[K+].[O-]S(=O)(=O)OO", None, {"strong_oxidant"}),  # oxone's KHSO5
        ("[K+].[O-][Mn](=O)(=O)=O", None, {"strong_oxidant"}),  # KMnO4
        ("[Na+].[O-]Cl", None, {"strong_oxidant", "hypochlorite"}),  # NaOCl
        ("CC(C)(C)OO", None, {"strong_oxidant"}),  # TBHP: its OH is on O, no alcohol
        ("[Na+].[O-]Cl(=O)(=O)=O", None, set()),  # perchlorate: not a hypochlorite SMARTS
        ("ClC1=CC=CC=C1", None, set()),  # an aryl chloride is nothing here
        (
            None,
            "sodium hypochlorite (bleach, 10-15 % aq.)",
            {"strong_oxidant", "hypochlorite", "aqueous", "protic_solvent"},
        ),
        (None, "mCPBA", {"strong_oxidant"}),
        ("[NH4+].[Cl-]", None, {"nh_amine"}),  # NH4Cl
        ("N", None, {"nh_amine"}),  # ammonia
        ("CC(C)=O", None, {"ketone_solvent"}),  # acetone
        ("ClC(Cl)Cl", None, {"halomethane_solvent"}),  # chloroform
    ],
)
def test_classify_reactive_reagent_classes(smiles, name, expected):
    assert classify(smiles, name) == frozenset(expected)


@pytest.mark.parametrize(
    "smiles,name",
    [
        ("CC1(C)OB(c2ccccc2)OC1(C)C", "phenylboronic acid pinacol ester"),
        (None, "phenylboronic acid pinacol ester"),
        (None, "4-methoxyphenylboronic acid"),
        (None, "acetic acid ethyl ester"),
        ("OB(O)c1ccccc1", "phenylboronic acid"),
    ],
)
def test_boronic_acids_and_esters_are_not_bronsted_acids(smiles, name):
    """The issue's false alarm: "acid" in an ester's (or a boronic acid's) name is no proton
    source.  SMILES and name stay a union (a name adds "aqueous" to a solute's SMILES); the name
    pattern excludes esters and boronic/boric acids instead."""
    assert "acid" not in classify(smiles, name)


# --------------------------------------------------------------------------- protocols


def reagents(**smiles_or_names: tuple[str | None, str | None]) -> dict[str, frozenset[str]]:
    return {rid: classify(smiles, name) for rid, (smiles, name) in smiles_or_names.items()}


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def rules(findings) -> set[str]:
    return {f.rule for f in findings}


# Seed 002, method 2: intramolecular reductive amination, NaBH3CN in MeOH at pH 5-6 (AcOH), Na2CO3 quench.
CYANOBOROHYDRIDE_PROTOCOL = dict(
    reagents=reagents(
        nabh3cn=(NABH3CN, "sodium cyanoborohydride"),
        acoh=(ACOH, "acetic acid"),
        na2co3=(None, "saturated aqueous sodium carbonate"),
    ),
    solvents=solvent_tags(["MeOH"]),
    quench_reagents=frozenset({"na2co3"}),
)

# Seed 000, protocol A: reductive amination with STAB and AcOH in DCE, NaHCO3 quench.
STAB_PROTOCOL = dict(
    reagents=reagents(
        diazepane=(METHYL_DIAZEPANE, "1-methyl-1,4-diazepane"),
        aldehyde=("O=Cc1ccccc1", "benzaldehyde"),
        acoh=(ACOH, "acetic acid"),
        stab=(STAB, "sodium triacetoxyborohydride"),
        nahco3=(None, "saturated aqueous sodium bicarbonate"),
    ),
    solvents=solvent_tags(["DCE"]),
    quench_reagents=frozenset({"nahco3"}),
)

# Seed 001: NaH in DMF at 0 °C on mono-Boc-1,4-diazepane, then alkyl halide, quench with water.
SODIUM_HYDRIDE_PROTOCOL = dict(
    reagents=reagents(
        substrate=(BOC_DIAZEPANE, "1-Boc-1,4-diazepane"),
        nah=(NAH, "sodium hydride (60 % in oil)"),
        halide=(BENZYL_BROMIDE, "benzyl bromide"),
        water=("O", "water"),
    ),
    solvents=solvent_tags(["DMF"]),
    quench_reagents=frozenset({"water"}),
)

# Seed 003: intramolecular Goldberg coupling, CuI / N,N-dimethylglycine / Cs2CO3 in dioxane, 100 °C, inert.
COPPER_PROTOCOL = dict(
    reagents=reagents(
        cui=(CUI, "CuI"),
        dmg=(DMG, "N,N-dimethylglycine"),
        cs2co3=(CS2CO3, "Cs2CO3"),
        substrate=("NC(=O)C1CCN1Cc1ccccc1Br", None),
    ),
    solvents=solvent_tags(["1,4-dioxane"]),
)

# Seed 000, protocol B: direct alkylation, K2CO3 in MeCN, alkyl halide dropwise at 0 °C; no quench on deck.
ALKYLATION_PROTOCOL = dict(
    reagents=reagents(
        diazepane=(METHYL_DIAZEPANE, None),
        k2co3=(K2CO3, "K2CO3"),
        halide=(BENZYL_BROMIDE, "benzyl bromide"),
    ),
    solvents=solvent_tags(["MeCN"]),
)


class TestDF401CyanoborohydrideAndAcid:
    def test_nabh3cn_with_acetic_acid_warns_hcn(self):
        findings = evaluate(HazardContext(**CYANOBOROHYDRIDE_PROTOCOL, deck_inert=True))
        assert codes(findings) == ["DF401"]
        (f,) = findings
        assert f.reagents == ("acoh", "nabh3cn")
        assert "'nabh3cn'" in f.message and "'acoh'" in f.message and "HCN" in f.message
        assert "STAB" in f.hint and f.why and f.severity == "warning"

    def test_acidic_quench_of_nabh3cn_also_warns(self):
        ctx = HazardContext(
            reagents=reagents(nabh3cn=(NABH3CN, None), hcl=(None, "1 M aqueous HCl")),
            quench_reagents=frozenset({"hcl"}),
            deck_inert=True,
        )
        assert codes(evaluate(ctx)) == ["DF401"]

    def test_nabh3cn_without_acid_is_quiet(self):
        ctx = HazardContext(
            reagents=reagents(nabh3cn=(NABH3CN, None), amine=(METHYL_DIAZEPANE, None)),
            solvents=solvent_tags(["MeOH"]),
            deck_inert=True,
        )
        assert evaluate(ctx) == []

    def test_stab_with_acetic_acid_is_not_an_hcn_hazard(self):
        findings = evaluate(HazardContext(**STAB_PROTOCOL, vessel_sealed=False))
        assert "DF401" not in codes(findings)


class TestDF402SodiumHydrideAndProtonSources:
    def test_aqueous_quench_of_sodium_hydride(self):
        findings = evaluate(HazardContext(**SODIUM_HYDRIDE_PROTOCOL, deck_inert=True))
        assert codes(findings) == ["DF402"]
        assert findings[0].rule == "sodium_hydride_aqueous_quench"
        assert findings[0].reagents == ("nah", "water")

    def test_sodium_hydride_in_methanol(self):
        ctx = HazardContext(
            reagents=reagents(nah=(NAH, None), substrate=(BOC_DIAZEPANE, None)),
            solvents=solvent_tags(["MeOH"]),
            deck_inert=True,
        )
        findings = evaluate(ctx)
        assert (
            codes(findings) == ["DF402"] and findings[0].rule == "sodium_hydride_in_protic_solvent"
        )
        assert findings[0].reagents == ("nah",)

    def test_sodium_hydride_in_dry_dmf_without_quench_is_quiet(self):
        ctx = HazardContext(
            reagents=reagents(nah=(NAH, None), substrate=(BOC_DIAZEPANE, None)),
            solvents=solvent_tags(["DMF"]),
            deck_inert=True,
        )
        assert evaluate(ctx) == []

    def test_sodium_borohydride_in_methanol_is_not_df402(self):
        # Seed 003: NaBH4 in MeOH/CHCl3 is the normal way to run it.
        ctx = HazardContext(
            reagents=reagents(nabh4=(NABH4, "NaBH4")), solvents=solvent_tags(["MeOH/CHCl3 1:1"])
        )
        assert evaluate(ctx) == []


class TestDF403GasInASealedVessel:
    def test_stab_quenched_with_bicarbonate_in_sealed_vials(self):
        findings = evaluate(HazardContext(**STAB_PROTOCOL, vessel_sealed=True, deck_inert=True))
        assert set(codes(findings)) == {"DF403"}
        assert rules(findings) == {"sealed_hydride_quench", "sealed_acid_neutralised_by_carbonate"}
        hydride = next(f for f in findings if f.rule == "sealed_hydride_quench")
        assert hydride.reagents == ("nahco3", "stab")
        assert "'stab'" in hydride.message and "'nahco3'" in hydride.message

    def test_same_quench_in_an_open_plate_is_quiet(self):
        assert evaluate(HazardContext(**STAB_PROTOCOL, vessel_sealed=False)) == []

    def test_tfa_boc_removal_in_sealed_vials(self):
        ctx = HazardContext(
            reagents=reagents(substrate=(BOC_DIAZEPANE, None), tfa=(TFA, "TFA")),
            solvents=solvent_tags(["DCM"]),
            vessel_sealed=True,
            deck_inert=True,
        )
        findings = evaluate(ctx)
        assert codes(findings) == ["DF403"] and findings[0].rule == "sealed_tert_butyl_deprotection"
        assert "isobutylene" in findings[0].message

    def test_hcl_in_dioxane_boc_removal_in_sealed_vials(self):
        ctx = HazardContext(
            reagents=reagents(substrate=(BOC_DIAZEPANE, None), hcl=(None, "4 M HCl in dioxane")),
            vessel_sealed=True,
            deck_inert=True,
        )
        assert rules(evaluate(ctx)) == {"sealed_tert_butyl_deprotection"}

    def test_boc_removal_in_open_vessels_is_quiet(self):
        ctx = HazardContext(
            reagents=reagents(substrate=(BOC_DIAZEPANE, None), tfa=(TFA, None)), vessel_sealed=False
        )
        assert evaluate(ctx) == []

    def test_boc_substrate_with_a_weak_acid_only_is_quiet(self):
        ctx = HazardContext(
            reagents=reagents(
                substrate=(BOC_DIAZEPANE, None), acoh=(ACOH, None), aldehyde=("O=Cc1ccccc1", None)
            ),
            vessel_sealed=True,
            deck_inert=True,
        )
        assert evaluate(ctx) == []

    def test_boc_protection_releases_co2(self):
        # Seed 001: Boc2O added dropwise to 2 equiv of 1,4-diazepane at 0 °C.
        ctx = HazardContext(
            reagents=reagents(diamine=("C1CNCCNC1", "1,4-diazepane"), boc2o=(BOC2O, "Boc2O")),
            solvents=solvent_tags(["DCM"]),
            vessel_sealed=True,
            deck_inert=True,
        )
        assert rules(evaluate(ctx)) == {"sealed_boc_protection"}

    def test_sodium_hydride_in_sealed_vials(self):
        ctx = HazardContext(
            reagents=reagents(nah=(NAH, None), substrate=(BOC_DIAZEPANE, None)),
            solvents=solvent_tags(["DMF"]),
            vessel_sealed=True,
            deck_inert=True,
        )
        assert rules(evaluate(ctx)) == {"sealed_sodium_hydride"}

    def test_carbonate_alkylation_without_quench_is_quiet(self):
        assert (
            evaluate(HazardContext(**ALKYLATION_PROTOCOL, vessel_sealed=True, deck_inert=True))
            == []
        )

    def test_acid_quench_of_a_carbonate_mixture(self):
        ctx = HazardContext(
            reagents={**ALKYLATION_PROTOCOL["reagents"], "hcl": classify(None, "1 M aqueous HCl")},
            quench_reagents=frozenset({"hcl"}),
            vessel_sealed=True,
            deck_inert=True,
        )
        assert rules(evaluate(ctx)) == {"sealed_carbonate_neutralised_by_acid"}


class TestDF404InertAtmosphere:
    def test_copper_coupling_on_a_deck_without_enclosure(self):
        findings = evaluate(HazardContext(**COPPER_PROTOCOL, deck_inert=False))
        assert codes(findings) == ["DF404"]
        assert findings[0].reagents == ("cui",) and "inert" in findings[0].message

    def test_copper_coupling_in_an_inert_enclosure_is_quiet(self):
        # Cs2CO3 with the amino-acid ligand in a sealed vial is not flagged: no quench, no gas rule.
        assert evaluate(HazardContext(**COPPER_PROTOCOL, deck_inert=True, vessel_sealed=True)) == []

    @pytest.mark.parametrize("catalyst", [PD2DBA3, GRUBBS_II, HOVEYDA_GRUBBS_II, NAH])
    def test_air_sensitive_reagents(self, catalyst):
        ctx = HazardContext(reagents={"cat": classify(catalyst, None)}, deck_inert=False)
        assert codes(evaluate(ctx)) == ["DF404"]

    def test_stab_does_not_need_an_inert_deck(self):
        assert evaluate(HazardContext(**STAB_PROTOCOL, deck_inert=False)) == []

    def test_requested_inert_atmosphere_alone_is_not_a_hazard(self):
        """Asking for inert gas on an air deck is the deck check DF522 (an error), not a warning."""
        ctx = HazardContext(
            **ALKYLATION_PROTOCOL, deck_inert=False, atmosphere_requested_inert=True
        )
        assert evaluate(ctx) == []

    def test_required_is_reported_once_when_also_requested(self):
        ctx = HazardContext(**COPPER_PROTOCOL, deck_inert=False, atmosphere_requested_inert=True)
        assert rules(evaluate(ctx)) == {"inert_atmosphere_required"}


# --------------------------------------------------------------------------- output shape


def test_labels_name_reagents_in_messages():
    ctx = HazardContext(
        **CYANOBOROHYDRIDE_PROTOCOL,
        deck_inert=True,
        labels={"nabh3cn": "sodium cyanoborohydride", "acoh": "acetic acid"},
    )
    (f,) = evaluate(ctx)
    assert f.message.startswith("'nabh3cn' (sodium cyanoborohydride) and 'acoh' (acetic acid)")


def test_findings_are_sorted_and_deterministic():
    ctx = HazardContext(
        reagents=reagents(
            nah=(NAH, None), substrate=(BOC_DIAZEPANE, None), tfa=(TFA, None), water=("O", None)
        ),
        quench_reagents=frozenset({"water"}),
        vessel_sealed=True,
        deck_inert=False,
    )
    first = evaluate(ctx)
    assert first == evaluate(ctx)
    assert codes(first) == sorted(codes(first))
    assert {"DF402", "DF403", "DF404"} <= set(codes(first))
    assert all(isinstance(f, hazards.HazardFinding) for f in first)


def test_findings_are_frozen():
    (f,) = evaluate(HazardContext(**CYANOBOROHYDRIDE_PROTOCOL, deck_inert=True))
    with pytest.raises(AttributeError):
        f.code = "DF499"  # type: ignore[misc]


# --------------------------------------------------------------------------- the data file

_MINIMAL = """
version: 1
tags:
  acid: {description: acids, smarts: ["[CX3](=O)[OX2H1]"]}
rules:
  - id: r
    code: DF499
    title: t
    when: {reagents: {any_of: [acid]}, as: acids}
    message: "{acids} present"
    why: w
    hint: h
"""


def test_minimal_rule_file_parses_and_evaluates():
    data = parse_hazard_data(_MINIMAL)
    ctx = HazardContext(reagents={"a": frozenset({"acid"})})
    (f,) = evaluate(ctx, data)
    assert (f.code, f.message, f.reagents) == ("DF499", "'a' present", ("a",))


def test_above_celsius_holds_only_strictly_above_a_known_temperature():
    data = parse_hazard_data(
        _MINIMAL.replace(
            "when: {reagents: {any_of: [acid]}, as: acids}",
            "when: {above_celsius: 50, reagents: {any_of: [acid]}, as: acids}",
        )
    )
    acid = {"a": frozenset({"acid"})}
    assert evaluate(HazardContext(reagents=acid, temperature_c=50.5), data)
    assert not evaluate(HazardContext(reagents=acid, temperature_c=50.0), data)
    assert not evaluate(HazardContext(reagents=acid), data)


@pytest.mark.parametrize(
    "change,error",
    [
        (("any_of: [acid]", "any_of: [acidd]"), "unknown tag"),
        (("code: DF499", "code: DF301"), "not DF4xx"),
        (
            (
                "when: {reagents: {any_of: [acid]}, as: acids}",
                "when: {stock_solution: true, reagents: {any_of: [acid]}, as: acids}",
            ),
            "stock_solution rule's code 'DF499' is not DF3xx",
        ),
        (
            (
                "when: {reagents: {any_of: [acid]}, as: acids}",
                "when: {above_celsius: hot, reagents: {any_of: [acid]}, as: acids}",
            ),
            "expected a number",
        ),
        (('"{acids} present"', '"{acid} present"'), "not bound"),
        (("    hint: h\n", "    hint: h\n    hnit: h\n"), "unknown key"),
        (("    title: t\n", "    title: t\n    title: u\n"), "duplicate key"),
        (
            ("when: {reagents: {any_of: [acid]}, as: acids}", "when: {vessel_sealed: yes please}"),
            "true or false",
        ),
        (("description: acids,", r"description: acids, names: ['(a)cid \1'],"), "back-reference"),
    ],
)
def test_malformed_rule_files_are_rejected(change, error):
    old, new = change
    assert old in _MINIMAL
    with pytest.raises(HazardDataError, match=error):
        parse_hazard_data(_MINIMAL.replace(old, new))


def test_a_name_matches_a_tag_when_any_of_its_patterns_matches():
    # the patterns are searched as one alternation: each still keeps its own scoped flags
    data = parse_hazard_data(
        _MINIMAL.replace(
            "description: acids,", "description: acids, names: ['(?-i:AcOH)', 'acid'],"
        )
    )
    (acid,) = data.tags.values()
    assert acid.any_name is not None
    each = [re.compile(p, re.IGNORECASE) for p in ("(?-i:AcOH)", "acid")]
    for text, expected in (("AcOH", True), ("acoh", False), ("Acetic ACID", True), ("base", False)):
        assert bool(acid.any_name.search(text)) is expected
        assert any(p.search(text) for p in each) is expected


def test_shipped_rules_cover_their_codes():
    data = hazards.hazard_data()
    assert {r.code for r in data.rules} == {
        *("DF313", "DF401", "DF402", "DF403", "DF404"),
        *("DF410", "DF411", "DF412", "DF413"),
        *("DF414", "DF415", "DF416", "DF417", "DF418", "DF419"),
    }
    # the stage rules warn, but for diazidomethane (DF415: no safe way to run it on a deck);
    # a reagent that reacts with its own stock solvent is an error
    assert {r.code for r in data.rules if not r.about_stock and r.severity == "error"} == {"DF415"}
    assert {(r.code, r.severity) for r in data.rules if r.about_stock} == {("DF313", "error")}
    # every SMARTS in the file compiles
    assert hazards._compiled_smarts()


def test_hazards_module_depends_on_no_other_diazflow_module():
    source = Path(hazards.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    # molecules is a leaf (RDKit only): the SMILES the amounts parse is the one hazards classify
    allowed = {"diazflow.diagnostics", "diazflow.chemistry.molecules"}
    assert {m for m in imported if m.startswith("diazflow")} <= allowed


# --------------------------------------------------------------------------- DF410-DF413


def test_aluminium_hydride_organolithium_and_grignard_in_methanol_are_df410():
    for rid, smiles in (
        ("lah", "[Li+].[AlH4-]"),
        ("buli", "[Li]CCCC"),
        ("phmgbr", "Br[Mg]c1ccccc1"),
    ):
        findings = evaluate(
            HazardContext(
                reagents=reagents(**{rid: (smiles, None)}),
                solvents=solvent_tags("MeOH"),
                deck_inert=True,
            )
        )
        assert codes(findings) == ["DF410"], rid
        assert findings[0].rule == "water_reactive_in_protic_solvent" and findings[0].reagents == (
            rid,
        )


def test_lithium_aluminium_hydride_aqueous_quench_is_df410_and_dry_thf_without_quench_is_quiet():
    # an ester reduction: LiAlH4 in THF, then a water quench
    protocol = dict(
        reagents=reagents(
            ester=("COC(=O)c1ccccc1", "methyl benzoate"),
            lah=("[Li+].[AlH4-]", "LiAlH4"),
            water=("O", "water"),
        ),
        solvents=solvent_tags("THF"),
        deck_inert=True,
    )
    findings = evaluate(HazardContext(**protocol, quench_reagents=frozenset({"water"})))
    assert codes(findings) == ["DF410"] and findings[0].rule == "water_reactive_protic_quench"
    assert findings[0].reagents == ("lah", "water")
    dry = {**protocol, "reagents": {k: v for k, v in protocol["reagents"].items() if k != "water"}}
    assert evaluate(HazardContext(**dry)) == []


def test_acid_chloride_and_anhydride_in_alcohol_or_water_are_df411():
    for rid, smiles, solvent in (
        ("bzcl", "O=C(Cl)c1ccccc1", "MeOH"),
        ("ac2o", "CC(=O)OC(C)=O", "water"),
        ("ethyl_chloroformate", "CCOC(=O)Cl", "EtOH"),
    ):
        findings = evaluate(
            HazardContext(
                reagents=reagents(amine=(METHYL_DIAZEPANE, None), **{rid: (smiles, None)}),
                solvents=solvent_tags(solvent),
            )
        )
        assert codes(findings) == ["DF411"], rid
        assert findings[0].reagents == (rid,)
    # the everyday amide coupling: benzoyl chloride and triethylamine in DCM
    dry = HazardContext(
        reagents=reagents(
            amine=(METHYL_DIAZEPANE, None),
            bzcl=("O=C(Cl)c1ccccc1", "benzoyl chloride"),
            tea=("CCN(CC)CC", "triethylamine"),
        ),
        solvents=solvent_tags("DCM"),
    )
    assert evaluate(dry) == []
    # Boc2O in methanol is an ordinary Boc protection, not an acylating anhydride in alcohol
    boc = HazardContext(
        reagents=reagents(amine=(METHYL_DIAZEPANE, None), boc2o=(BOC2O, "Boc2O")),
        solvents=solvent_tags("MeOH"),
    )
    assert evaluate(boc) == []


class TestDF412SodiumHydrideInDmfOrDmsoHeated:
    def ctx(self, solvent: str, temperature_c: float | None) -> HazardContext:
        # seed 001 stage B without its water quench
        return HazardContext(
            reagents=reagents(
                substrate=(BOC_DIAZEPANE, None), nah=(NAH, None), halide=(BENZYL_BROMIDE, None)
            ),
            solvents=solvent_tags(solvent),
            deck_inert=True,
            temperature_c=temperature_c,
        )

    @pytest.mark.parametrize("solvent", ["DMF", "DMSO", "DMAc", "N,N-dimethylacetamide"])
    def test_above_50_degrees(self, solvent):
        findings = evaluate(self.ctx(solvent, 60.0))
        assert codes(findings) == ["DF412"] and findings[0].reagents == ("nah",)
        assert "Org. Process Res. Dev. 2019, 23, 2210" in findings[0].why

    def test_at_or_below_50_degrees_or_in_thf_is_quiet(self):
        assert evaluate(self.ctx("DMF", 50.0)) == []  # "above 50 °C"
        assert evaluate(self.ctx("DMF", 4.0)) == []
        assert evaluate(self.ctx("DMF", None)) == []  # temperature not considered
        # NaH in refluxing THF is ordinary (heating THF open is DF417, another matter)
        assert "DF412" not in codes(evaluate(self.ctx("THF", 66.0)))


def test_grubbs_catalyst_in_dmso_is_df413_and_in_dcm_is_quiet():
    protocol = dict(
        reagents=reagents(
            diene=("C=CCN(CC=C)C(=O)OC(C)(C)C", "N-Boc-diallylamine"),
            grubbs=(GRUBBS_II, "Grubbs II"),
        ),
        deck_inert=True,
    )
    findings = evaluate(HazardContext(**protocol, solvents=solvent_tags("DMSO")))
    assert codes(findings) == ["DF413"] and findings[0].reagents == ("grubbs",)
    assert evaluate(HazardContext(**protocol, solvents=solvent_tags("DCM"))) == []


def test_sodium_borohydride_with_acid_in_a_sealed_vessel_is_df403():
    protocol = dict(
        reagents=reagents(nabh4=(NABH4, "NaBH4"), acoh=(ACOH, "acetic acid")),
        solvents=solvent_tags("THF"),
        deck_inert=True,
    )
    findings = evaluate(HazardContext(**protocol, vessel_sealed=True))
    assert codes(findings) == ["DF403"] and findings[0].rule == "sealed_borohydride_with_acid"
    assert findings[0].reagents == ("acoh", "nabh4")
    assert evaluate(HazardContext(**protocol, vessel_sealed=False)) == []
    # STAB with acetic acid, capped, is the everyday reductive amination: not this rule
    stab = HazardContext(
        reagents=reagents(stab=(STAB, None), acoh=(ACOH, None)),
        solvents=solvent_tags("DCE"),
        vessel_sealed=True,
    )
    assert evaluate(stab) == []


# --------------------------------------------------------------------------- through the pipeline

NAH_ALKYLATION = """\
diazflow: 1
name: N-alkylation with NaH in DMF
deck: {deck:starlet_chem}
atmosphere: inert
vessels: {labware: reaction_block, wells: A1:A8}
scale: {limiting: substrate, amount: 50 umol, concentration: 0.2 M, solvent: DMF}
reagents:
  substrate:
    name: tert-butyl 1,4-diazepane-1-carboxylate
    smiles: CC(C)(C)OC(=O)N1CCCNCC1
    stock: {concentration: 1.0 M, solvent: DMF}
  nah:
    name: sodium hydride, 60 % dispersion in mineral oil
    smiles: "[Na+].[H-]"
    mw: 40.0
    solid: {dispense: powder}
  halide:
    name: benzyl bromide
    smiles: BrCc1ccccc1
    stock: {concentration: 1.0 M, solvent: DMF}
steps:
  - add: {reagent: substrate, equiv: 1.0}
  - add_solvent: {solvent: DMF, volume: 145 uL}
  - cool: {to: 4 degC}
  - add: {reagent: nah, equiv: 1.2}
  - stir: {duration: 30 min, temperature: 4 degC}
  - add: {reagent: halide, equiv: 1.1}
  - stir: {duration: 12 h, temperature: rt}
"""


def _pipeline(tmp_path, text):
    path = write_protocol(tmp_path, text)
    return path, check(str(path))


def test_nah_alkylation_in_cold_dmf_passes_and_heated_is_df412_at_the_heating_step(tmp_path):
    _, cold = _pipeline(tmp_path, NAH_ALKYLATION)
    assert not [d for d in cold.diagnostics if d.code.startswith("DF4")], [
        str(d) for d in cold.diagnostics
    ]
    heated_text = NAH_ALKYLATION.replace(
        "  - stir: {duration: 12 h, temperature: rt}\n",
        "  - stir: {duration: 12 h, temperature: 60 degC}\n",
    )
    path, heated = _pipeline(tmp_path, heated_text)
    found = [d for d in heated.diagnostics if d.code == "DF412"]
    assert len(found) == 1 and not found[0].is_error
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "temperature: 60 degC" in lines[found[0].line - 1]


# --------------------------------------------------------------------------- DF313


@pytest.mark.parametrize(
    "smiles,solvent,rule",
    [
        (STAB, "water", "stab_stock_in_protic_solvent"),
        (STAB, "MeOH", "stab_stock_in_protic_solvent"),
        (NAH, "EtOH", "water_reactive_stock_in_protic_solvent"),
        ("[Li+].[AlH4-]", "water", "water_reactive_stock_in_protic_solvent"),
        ("[Li]CCCC", "isopropanol", "water_reactive_stock_in_protic_solvent"),
        ("Br[Mg]c1ccccc1", "MeOH", "water_reactive_stock_in_protic_solvent"),
        ("CC(=O)Cl", "MeOH", "acylating_stock_in_protic_solvent"),
        ("CC(=O)OC(C)=O", "water", "acylating_stock_in_protic_solvent"),
        ("O=C=Nc1ccccc1", "MeOH", "isocyanate_stock_in_protic_solvent"),
        (STAB, "MeOH/DCM", "stab_stock_in_protic_solvent"),  # a mixture with an alcohol in it
    ],
)
def test_reagent_reacting_with_its_stock_solvent_is_a_df313_error(smiles, solvent, rule):
    findings = hazards.evaluate_stock("r", classify(smiles, None), solvent)
    assert [(f.code, f.severity, f.rule) for f in findings] == [("DF313", "error", rule)]


@pytest.mark.parametrize(
    "smiles,solvent",
    [
        (STAB, "DCE"),  # the way STAB stocks are made
        (STAB, "THF"),
        (NABH4, "MeOH"),  # NaBH4 in MeOH is the reduction itself (seed 003), not a stock rule
        ("O=C(Cl)c1ccccc1", "DCM"),
        ("[Li]CCCC", "hexane"),
        (ACOH, "DCE"),
        (NAHCO3, "water"),
    ],
)
def test_stocks_in_a_solvent_they_survive_are_quiet(smiles, solvent):
    assert hazards.evaluate_stock("r", classify(smiles, None), solvent) == []


def test_stock_rules_never_fire_on_a_stage():
    # STAB with MeOH as the reaction solvent is the stage's business, not DF313
    ctx = HazardContext(reagents=reagents(stab=(STAB, None)), solvents=solvent_tags("MeOH"))
    assert "DF313" not in codes(evaluate(ctx))


STAB_STOCK = """\
diazflow: 1
name: Reductive amination with a STAB stock
deck: {deck:starlet_chem}
atmosphere: inert
vessels: {labware: reaction_block, wells: A1:A8}
scale: {limiting: amine, amount: 50 umol, concentration: 0.2 M, solvent: DCE}
reagents:
  amine:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: DCE}
  aldehyde:
    name: benzaldehyde
    smiles: O=Cc1ccccc1
    stock: {concentration: 1.0 M, solvent: DCE}
  stab:
    name: sodium triacetoxyborohydride
    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"
    stock: {concentration: 0.5 M, solvent: THF}
steps:
  - add: {reagent: amine, equiv: 1.0}
  - add: {reagent: aldehyde, equiv: 1.05}
  - add: {reagent: stab, equiv: 1.4}
  - stir: {duration: 4 h, temperature: rt}
"""


def test_stab_stock_in_methanol_is_df313_at_the_stock_solvent(tmp_path):
    _, fine = _pipeline(tmp_path, STAB_STOCK)
    assert "DF313" not in [d.code for d in fine.diagnostics], [str(d) for d in fine.diagnostics]
    path, bad = _pipeline(
        tmp_path,
        STAB_STOCK.replace(
            "stock: {concentration: 0.5 M, solvent: THF}",
            "stock: {concentration: 0.5 M, solvent: MeOH}",
        ),
    )
    found = [d for d in bad.diagnostics if d.code == "DF313"]
    assert len(found) == 1 and found[0].is_error
    line = path.read_text(encoding="utf-8").splitlines()[found[0].line - 1]
    assert "solvent: MeOH" in line
    assert line.index("solvent:") == found[0].column - 1  # at the key, as every hazard finding


# --------------------------------------------------------------------------- where a finding is


def _at(path: Path, diagnostic) -> str:
    """The source line a diagnostic points at, from its column on (so the key it names leads)."""
    line = path.read_text(encoding="utf-8").splitlines()[diagnostic.line - 1]
    return line[diagnostic.column - 1 :]


CYANO_AMINATION = """\
diazflow: 1
name: Reductive amination with NaBH3CN in MeOH
deck: {deck:starlet_chem}
vessels: {labware: reaction_block, wells: A1:A8}
scale: {limiting: amine, amount: 50 umol, concentration: 0.2 M, solvent: MeOH}
reagents:
  amine:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: MeOH}
  aldehyde:
    name: benzaldehyde
    smiles: O=Cc1ccccc1
    stock: {concentration: 1.0 M, solvent: MeOH}
  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}
  nabh3cn:
    name: sodium cyanoborohydride
    smiles: "[Na+].[BH3-]C#N"
    stock: {concentration: 1.0 M, solvent: MeOH}
  nahco3:
    name: saturated aqueous sodium bicarbonate
    stock: {solvent: water}
steps:
  - add: {reagent: amine, equiv: 1.0}
  - add: {reagent: aldehyde, equiv: 1.05}
  - add: {reagent: acoh, equiv: 1.5}
  - add: {reagent: nabh3cn, equiv: 1.5}
  - stir: {duration: 12 h, temperature: rt}
  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}
"""


def test_hcn_warning_is_at_the_add_that_brings_cyanoborohydride_and_acid_together(tmp_path):
    path, result = _pipeline(tmp_path, CYANO_AMINATION)
    found = [d for d in result.diagnostics if d.code == "DF401"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    # the NaBH3CN comes second: its add step, at the 'reagent:' key
    assert _at(path, found[0]).startswith("reagent: nabh3cn, equiv: 1.5}")
    # the other way round, the acid's addition is where they meet
    swapped = CYANO_AMINATION.replace(
        "  - add: {reagent: acoh, equiv: 1.5}\n  - add: {reagent: nabh3cn, equiv: 1.5}\n",
        "  - add: {reagent: nabh3cn, equiv: 1.5}\n  - add: {reagent: acoh, equiv: 1.5}\n",
    )
    path, result = _pipeline(tmp_path, swapped)
    found = [d for d in result.diagnostics if d.code == "DF401"]
    assert len(found) == 1 and _at(path, found[0]).startswith("reagent: acoh, equiv: 1.5}")
    assert found[0].line == line_of(path, "- add: {reagent: acoh")


def test_a_quench_hazard_is_at_the_quench_step(tmp_path):
    text = NAH_ALKYLATION + "  - quench: {reagent: water, volume: 200 uL, stir: 10 min}\n"
    text = text.replace(
        "steps:\n", "  water: {name: water, smiles: O, stock: {solvent: water}}\nsteps:\n"
    )
    path, result = _pipeline(tmp_path, text)
    found = [d for d in result.diagnostics if d.code == "DF402"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    assert found[0].line == line_of(path, "- quench: {reagent: water")
    assert _at(path, found[0]).startswith("reagent: water")


def test_a_protic_solvent_added_to_sodium_hydride_is_reported_at_add_solvent(tmp_path):
    text = NAH_ALKYLATION.replace(
        "  - add: {reagent: halide, equiv: 1.1}\n",
        "  - add_solvent: {solvent: MeOH, volume: 50 uL}\n  - add: {reagent: halide, equiv: 1.1}\n",
    )
    path, result = _pipeline(tmp_path, text)
    found = [d for d in result.diagnostics if d.code == "DF402"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    assert _at(path, found[0]).startswith("solvent: MeOH")


BOC_LIBRARY_DEPROTECTION = """\
diazflow: 1
name: TFA deprotection of a small amine library in capped vials
deck: {deck:starlet_chem}
vessels: {labware: reaction_block, wells: A1:A3}
scale: {limiting: amine, amount: 50 umol, concentration: 0.2 M, solvent: DCM}
reagents:
  amine:
    library: amines
    stock: {concentration: 0.5 M, solvent: DCM}
  tfa: {name: trifluoroacetic acid, smiles: OC(=O)C(F)(F)F, neat: true}
libraries:
  amines:
    by: well
    items:
      A1: {name: 1-methylpiperazine, smiles: CN1CCNCC1}
      A2: {name: tert-butyl piperazine-1-carboxylate, smiles: CC(C)(C)OC(=O)N1CCNCC1}
      A3: {name: morpholine, smiles: C1COCCN1}
steps:
  - add: {reagent: amine, equiv: 1.0}
  - add_solvent: {solvent: DCM, volume: 100 uL}
  - add: {reagent: tfa, equiv: 10}
  - seal: Cap the vials.
  - stir: {duration: 2 h, temperature: rt}
"""


def test_a_library_finding_names_the_member_that_triggers_it(tmp_path):
    path, result = _pipeline(tmp_path, BOC_LIBRARY_DEPROTECTION)
    found = [d for d in result.diagnostics if d.code == "DF403"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    assert found[0].line == line_of(path, "- seal: Cap the vials.")
    assert "member 'A2' (tert-butyl piperazine-1-carboxylate)" in found[0].message
    assert "library 'amines'" in found[0].message
    assert "morpholine" not in found[0].message and "methylpiperazine" not in found[0].message
    # without the Boc member no well makes gas: no finding at all
    quiet = BOC_LIBRARY_DEPROTECTION.replace(
        "tert-butyl piperazine-1-carboxylate, smiles: CC(C)(C)OC(=O)N1CCNCC1",
        "piperidine, smiles: C1CCNCC1",
    )
    _, result = _pipeline(tmp_path, quiet)
    assert "DF403" not in [d.code for d in result.diagnostics]


def test_members_in_different_wells_do_not_make_a_hazard_together():
    # a library of amines, one Boc-protected and one as its hydrochloride: no well holds both,
    # so capping them is no Boc deprotection (the union of the library's tags said it was)
    boc = classify(BOC_DIAZEPANE, "1-Boc-1,4-diazepane")
    salt = classify("Cl.CN1CCNCC1", "1-methylpiperazine hydrochloride")
    assert "boc_protected" in boc and "strong_acid" in salt
    ctx = HazardContext(
        reagents={"amine": boc | salt},
        members={"amine": {"'A1' (Boc)": boc, "'A2' (HCl salt)": salt}},
        solvents=solvent_tags("DCM"),
        vessel_sealed=True,
        deck_inert=True,
    )
    assert evaluate(ctx) == []
    # with TFA from outside the library the Boc member alone is named
    both = HazardContext(
        reagents={"amine": boc | salt, "tfa": classify(TFA, None)},
        members=ctx.members,
        solvents=solvent_tags("DCM"),
        vessel_sealed=True,
        deck_inert=True,
    )
    (finding,) = evaluate(both)
    assert finding.rule == "sealed_tert_butyl_deprotection"
    assert finding.members == (("amine", ("'A1' (Boc)",)),)
    assert "member 'A1' (Boc)" in finding.message


# --------------------------------------------------------------------------- DF414-DF419


NAN3 = "[Na+].[N-]=[N+]=[N-]"
BENZYL_AZIDE = "[N-]=[N+]=NCc1ccccc1"
MCPBA = "O=C(OO)c1cccc(Cl)c1"
NAOCL = "[Na+].[O-]Cl"


class TestAzides:
    def test_sodium_azide_with_acid_is_df414_hydrazoic_acid(self):
        findings = evaluate(
            HazardContext(
                reagents=reagents(nan3=(NAN3, "sodium azide"), nh4cl=("[NH4+].[Cl-]", None)),
                solvents=solvent_tags("DMF"),
            )
        )
        assert findings == []  # the usual SN2 azidation with NH4Cl as buffer: no free acid
        findings = evaluate(
            HazardContext(
                reagents=reagents(nan3=(NAN3, "sodium azide"), acoh=(ACOH, "acetic acid")),
                solvents=solvent_tags("DMF"),
            )
        )
        assert [(f.code, f.rule, f.toxic_gas) for f in findings] == [
            ("DF414", "azide_with_acid", "hydrazoic acid (HN3)")
        ]

    @pytest.mark.parametrize("solvent", ["DCM", "CH2Cl2", "chloroform", "DMF/DCM 1:1"])
    def test_sodium_azide_in_dcm_or_chloroform_is_a_df415_error(self, solvent):
        ctx = HazardContext(reagents=reagents(nan3=(NAN3, None)), solvents=solvent_tags(solvent))
        assert [(f.code, f.severity) for f in evaluate(ctx)] == [("DF415", "error")]

    @pytest.mark.parametrize("solvent", ["DMF", "DMSO", "MeCN", "DCE"])
    def test_sodium_azide_in_an_ordinary_azidation_solvent_is_quiet(self, solvent):
        ctx = HazardContext(reagents=reagents(nan3=(NAN3, None)), solvents=solvent_tags(solvent))
        assert evaluate(ctx) == []

    def test_organic_azide_heated_above_80_is_df416(self):
        def ctx(t):
            return HazardContext(
                reagents=reagents(
                    azide=(BENZYL_AZIDE, "benzyl azide"), alkyne=("C#Cc1ccccc1", None)
                ),
                solvents=solvent_tags("toluene"),
                temperature_c=t,
            )

        assert codes(evaluate(ctx(110.0))) == ["DF416"]
        assert evaluate(ctx(60.0)) == []  # a CuAAC click at 60 °C
        assert evaluate(ctx(None)) == []


class TestPeroxideFormers:
    @pytest.mark.parametrize(
        "solvent", ["THF", "1,4-dioxane", "diethyl ether", "diisopropyl ether"]
    )
    def test_heated_open_is_df417(self, solvent):
        ctx = HazardContext(
            reagents=reagents(amine=(METHYL_DIAZEPANE, None)),
            solvents=solvent_tags(solvent),
            temperature_c=60.0,
        )
        assert codes(evaluate(ctx)) == ["DF417"]

    def test_capped_cool_or_not_an_ether_is_quiet(self):
        base = dict(reagents=reagents(amine=(METHYL_DIAZEPANE, None)))
        assert (
            evaluate(HazardContext(**base, solvents=solvent_tags("THF"), temperature_c=22.0)) == []
        )
        capped = HazardContext(
            **base, solvents=solvent_tags("THF"), temperature_c=60.0, vessel_sealed=True
        )
        assert evaluate(capped) == []
        toluene = HazardContext(**base, solvents=solvent_tags("toluene"), temperature_c=100.0)
        assert evaluate(toluene) == []


class TestOxidants:
    def test_mcpba_with_a_borohydride_is_df418(self):
        ctx = HazardContext(
            reagents=reagents(mcpba=(MCPBA, "mCPBA"), nabh4=(NABH4, "NaBH4")),
            solvents=solvent_tags("DCM"),
        )
        assert [f.rule for f in evaluate(ctx)] == ["oxidant_with_reducing_agent"]

    @pytest.mark.parametrize(
        "oxidant,solvent",
        [("OO", "acetone"), ("[K+].[O-][Mn](=O)(=O)=O", "DMSO"), (MCPBA, "DMF")],
    )
    def test_oxidant_in_an_oxidisable_solvent_is_df418(self, oxidant, solvent):
        ctx = HazardContext(reagents=reagents(ox=(oxidant, None)), solvents=solvent_tags(solvent))
        assert [f.rule for f in evaluate(ctx)] == ["oxidant_with_oxidisable_solvent"]

    def test_mcpba_n_oxidation_in_dcm_is_quiet(self):
        ctx = HazardContext(
            reagents=reagents(mcpba=(MCPBA, "mCPBA"), amine=(METHYL_DIAZEPANE, None)),
            solvents=solvent_tags("DCM"),
            quench_reagents=frozenset({"thio"}),
        )
        assert evaluate(ctx) == []

    def test_bleach_with_ammonium_chloride_or_acid_is_df419(self):
        amine = HazardContext(
            reagents=reagents(bleach=(NAOCL, "bleach"), nh4cl=("[NH4+].[Cl-]", None)),
            solvents=solvent_tags("water"),
        )
        (finding,) = evaluate(amine)
        assert (finding.code, finding.rule) == ("DF419", "hypochlorite_with_amine")
        assert finding.toxic_gas and "NCl3" in finding.toxic_gas
        acid = HazardContext(
            reagents=reagents(bleach=(NAOCL, "bleach"), acoh=(ACOH, None)),
            solvents=solvent_tags("water"),
        )
        assert [(f.code, f.rule) for f in evaluate(acid)] == [("DF419", "hypochlorite_with_acid")]

    def test_buffered_tempo_bleach_oxidation_is_quiet(self):
        # the Anelli oxidation: NaOCl, TEMPO, KBr, NaHCO3 buffer, DCM/water
        ctx = HazardContext(
            reagents=reagents(
                bleach=(NAOCL, None),
                tempo=("CC1(C)CCCC(C)(C)N1[O]", "TEMPO"),
                kbr=("[K+].[Br-]", None),
                nahco3=(NAHCO3, None),
                alcohol=("OCc1ccccc1", "benzyl alcohol"),
            ),
            solvents=solvent_tags(["DCM", "water"]),
        )
        assert evaluate(ctx) == []


def test_isocyanate_with_water_in_a_sealed_vessel_is_df403_and_open_is_quiet():
    protocol = dict(
        reagents=reagents(
            nco=("O=C=Nc1ccccc1", "phenyl isocyanate"),
            amine=(METHYL_DIAZEPANE, None),
            water=("O", "water"),
        ),
        quench_reagents=frozenset({"water"}),
        solvents=solvent_tags("DCM"),
    )
    sealed = evaluate(HazardContext(**protocol, vessel_sealed=True))
    assert [(f.code, f.rule) for f in sealed] == [("DF403", "sealed_isocyanate_with_water")]
    assert evaluate(HazardContext(**protocol)) == []
    # the urea formation itself, capped and without water, gives no gas
    dry = dict(protocol, reagents={k: v for k, v in protocol["reagents"].items() if k != "water"})
    assert evaluate(HazardContext(**dry, vessel_sealed=True)) == []


AZIDATION = """\
diazflow: 1
name: SN2 azidation of benzyl bromides with sodium azide
deck: {deck:starlet_chem}
vessels: {labware: reaction_block, wells: A1:A8}
scale: {limiting: halide, amount: 50 umol, concentration: 0.2 M, solvent: DMF}
reagents:
  halide:
    name: benzyl bromide
    smiles: BrCc1ccccc1
    stock: {concentration: 1.0 M, solvent: DMF}
  nan3:
    name: sodium azide
    smiles: "[Na+].[N-]=[N+]=[N-]"
    solid: {dispense: powder}
steps:
  - add: {reagent: halide, equiv: 1.0}
  - add_solvent: {solvent: DMF, volume: 200 uL}
  - add: {reagent: nan3, equiv: 1.5}
  - stir: {duration: 4 h, temperature: 60 degC}
"""


def test_sodium_azide_meets_dcm_at_the_step_that_brings_it(tmp_path):
    path, fine = _pipeline(tmp_path, AZIDATION)
    assert not [d for d in fine.diagnostics if d.code.startswith("DF41")], [
        str(d) for d in fine.diagnostics
    ]
    path, bad = _pipeline(
        tmp_path,
        AZIDATION.replace(
            "  - stir: {duration: 4 h",
            "  - add_solvent: {solvent: DCM, volume: 100 uL}\n  - stir: {duration: 4 h",
        ),
    )
    found = [d for d in bad.diagnostics if d.code == "DF415"]
    assert len(found) == 1 and found[0].is_error
    assert _at(path, found[0]).startswith("solvent: DCM")


THF_HEATED = """\
diazflow: 1
name: Amide coupling heated in THF
deck: {deck:starlet_chem}
vessels: {labware: reaction_block, wells: A1:A8}
scale: {limiting: amine, amount: 50 umol, concentration: 0.2 M, solvent: THF}
reagents:
  amine:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: THF}
  ester:
    name: methyl benzoate
    smiles: COC(=O)c1ccccc1
    stock: {concentration: 1.0 M, solvent: THF}
steps:
  - add: {reagent: amine, equiv: 1.0}
  - add: {reagent: ester, equiv: 1.2}
  - add_solvent: {solvent: THF, volume: 130 uL}
  - seal: Cap the vials.
  - stir: {duration: 6 h, temperature: 60 degC}
  - unseal: Take the caps off.
"""


def test_thf_heated_open_is_df417_at_the_heating_step_and_capped_is_quiet(tmp_path):
    _, capped = _pipeline(tmp_path, THF_HEATED)
    assert "DF417" not in [d.code for d in capped.diagnostics], [str(d) for d in capped.diagnostics]
    path, open_ = _pipeline(
        tmp_path,
        THF_HEATED.replace("  - seal: Cap the vials.\n", "").replace(
            "  - unseal: Take the caps off.\n", ""
        ),
    )
    found = [d for d in open_.diagnostics if d.code == "DF417"]
    assert len(found) == 1, [str(d) for d in open_.diagnostics]
    assert found[0].line == line_of(path, "- stir: {duration: 6 h, temperature: 60 degC}")


# --------------------------------------------------------------------------- samples (DF430, DF431)

HEATED_SAMPLED = """\
diazflow: 1
name: Michael addition in MeOH, warmed and sampled
deck: {deck:ot2_tempmodule}
vessels: {labware: reaction_block, wells: A1:A3}
scale: {limiting: amine, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}
reagents:
  amine:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: MeOH}
  acrylate:
    name: methyl acrylate
    smiles: C=CC(=O)OC
    stock: {concentration: 1.0 M, solvent: MeOH}
steps:
  - add: {reagent: amine, equiv: 1.0}
  - add: {reagent: acrylate, equiv: 1.05}
  - hold: {duration: 4 h, temperature: 50 degC}
  - sample: {volume: 10 uL, into: sample_plate, at: [2 h], diluent: 100 uL MeCN}
"""


def test_a_sample_from_a_vessel_above_its_solvents_boiling_point_is_df430(tmp_path):
    _, warm = _pipeline(tmp_path, HEATED_SAMPLED)  # MeOH boils at 64.7 °C
    assert "DF430" not in [d.code for d in warm.diagnostics], [str(d) for d in warm.diagnostics]
    path, hot = _pipeline(tmp_path, HEATED_SAMPLED.replace("50 degC", "70 degC"))
    found = [d for d in hot.diagnostics if d.code == "DF430"]
    assert len(found) == 1 and not found[0].is_error, [str(d) for d in hot.diagnostics]
    assert found[0].line == line_of(path, "- sample: {volume: 10 uL")
    assert "at 70 °C" in found[0].message
    # methanol boils at 64.7 °C (CRC Handbook); the figure comes from property data
    figure = re.search(r"MeOH boils at ([\d.]+) °C", found[0].message)
    assert figure and abs(float(figure.group(1)) - 64.7) < 0.5
    assert "the sample wells hold 100 uL MeCN" in found[0].message


def test_a_sample_while_hcn_is_released_is_df431_and_before_the_cyanide_is_quiet(tmp_path):
    sampled = CYANO_AMINATION.replace(
        "  - stir: {duration: 12 h, temperature: rt}\n",
        "  - stir: {duration: 12 h, temperature: rt}\n"
        "  - sample: {volume: 5 uL, into: sample_plate, at: [2 h], diluent: 50 uL sat. aq. NaHCO3}\n",
    )
    path, result = _pipeline(tmp_path, sampled)
    found = [d for d in result.diagnostics if d.code == "DF431"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    assert found[0].line == line_of(path, "- sample: {volume: 5 uL")
    assert "hydrogen cyanide (HCN) (DF401)" in found[0].message
    assert "50 uL sat. aq. NaHCO3" in found[0].message
    # the imine formation sampled before the cyanoborohydride goes in releases nothing
    early = CYANO_AMINATION.replace(
        "  - add: {reagent: acoh, equiv: 1.5}\n",
        "  - add: {reagent: acoh, equiv: 1.5}\n"
        "  - stir: {duration: 1 h, temperature: rt}\n"
        "  - sample: {volume: 5 uL, into: sample_plate, at: [30 min]}\n",
    )
    _, result = _pipeline(tmp_path, early)
    assert "DF431" not in [d.code for d in result.diagnostics], [str(d) for d in result.diagnostics]


def test_the_sample_diluent_is_on_the_plan_and_the_report(tmp_path):
    from diazflow.compiler.plan import Sample
    from diazflow.report import report_for

    path, result = _pipeline(tmp_path, HEATED_SAMPLED)
    assert result.plan is not None, [str(d) for d in result.diagnostics]
    samples = [op for op in result.plan.operations if isinstance(op, Sample)]
    assert samples and {op.diluent for op in samples} == {"100 uL MeCN"}
    events = [e for e in report_for(str(path)).operator_events() if e.kind == "samples"]
    assert events and all("holding 100 uL MeCN" in e.detail for e in events)


def test_a_by_column_library_member_is_named_by_its_first_well_and_its_wells(tmp_path):
    # by column over A1:B3: the Boc member fills column 2 (A2 and B2)
    text = BOC_LIBRARY_DEPROTECTION.replace("wells: A1:A3", "wells: A1:B3").replace(
        """    by: well
    items:
      A1: {name: 1-methylpiperazine, smiles: CN1CCNCC1}
      A2: {name: tert-butyl piperazine-1-carboxylate, smiles: CC(C)(C)OC(=O)N1CCNCC1}
      A3: {name: morpholine, smiles: C1COCCN1}""",
        """    by: column
    items:
      - {name: 1-methylpiperazine, smiles: CN1CCNCC1}
      - {name: tert-butyl piperazine-1-carboxylate, smiles: CC(C)(C)OC(=O)N1CCNCC1}
      - {name: morpholine, smiles: C1COCCN1}""",
    )
    _, result = _pipeline(tmp_path, text)
    found = [d for d in result.diagnostics if d.code == "DF403"]
    assert len(found) == 1, [str(d) for d in result.diagnostics]
    assert "member 'A2' (tert-butyl piperazine-1-carboxylate, 2 wells)" in found[0].message
