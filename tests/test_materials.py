"""Labware material × solvent compatibility data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diazflow.chemistry import materials, properties
from diazflow.chemistry.materials import Compatibility, compatibility

DATA = Path(__file__).resolve().parent.parent / "src" / "diazflow" / "chemistry" / "data"

# Spec §4: "a solvent the vessel's material does not tolerate (DCM, DCE, THF, toluene, DMF in polystyrene)"
POLYSTYRENE_DISSOLVERS = [
    "DCM",
    "DCE",
    "chloroform",
    "THF",
    "toluene",
    "xylene",
    "DMF",
    "acetone",
    "ethyl acetate",
    "dioxane",
]


@pytest.mark.parametrize("solvent", POLYSTYRENE_DISSOLVERS)
def test_polystyrene_does_not_tolerate_organic_solvents(solvent):
    verdict = compatibility("polystyrene", solvent)
    assert verdict is not None, solvent
    assert verdict.rating == "incompatible"
    assert "Nalgene" in verdict.source


@pytest.mark.parametrize("solvent", ["DCM", "chloroform", "toluene", "THF"])
def test_polypropylene_is_limited_with_swelling_solvents(solvent):
    assert compatibility("polypropylene", solvent).rating == "limited"


@pytest.mark.parametrize(
    "solvent", ["water", "MeOH", "EtOH", "MeCN", "DMF", "DMSO", "acetone", "EtOAc", "NMP"]
)
def test_polypropylene_is_fine_with_most_solvents(solvent):
    assert compatibility("polypropylene", solvent).rating == "ok"


@pytest.mark.parametrize("material", ["glass", "PTFE"])
def test_glass_and_ptfe_tolerate_every_solvent(material):
    for props in properties.all_compounds():
        if props.kind == "solvent":
            assert compatibility(material, props.cas).rating == "ok", props.name


def test_polystyrene_tolerates_water_and_alcohols():
    for solvent in ("water", "methanol", "ethanol", "isopropanol"):
        assert compatibility("PS", solvent).rating == "ok", solvent
    dmso = compatibility("PS", "DMSO")
    assert dmso.rating == "limited" and "DMSO" in dmso.note


def test_cyclic_olefin_is_attacked_by_nonpolar_solvents_only():
    for solvent in ("hexane", "toluene", "DCM", "chloroform"):
        assert compatibility("COC", solvent).rating == "incompatible", solvent
    for solvent in ("water", "methanol", "DMSO", "acetone"):
        assert compatibility("cyclic olefin copolymer", solvent).rating == "ok", solvent


def test_names_and_aliases_resolve():
    a = compatibility("PS", "CH2Cl2")
    b = compatibility("Polystyrene", "dichloromethane")
    c = compatibility("polystyrene", "75-09-2")
    assert (
        a
        == b
        == c
        == Compatibility("incompatible", a.source, None, "polystyrene", "dichloromethane")
    )
    assert compatibility("HDPE", "THF").material == "polyethylene"
    assert compatibility("borosilicate glass", "DMF").rating == "ok"
    assert compatibility("Teflon", "DCM").rating == "ok"


def test_unknown_material_or_solvent_is_none_not_ok():
    assert compatibility("LDPE", "DCM") is None  # deliberately not an alias of HDPE
    assert compatibility("unobtainium", "DCM") is None
    assert compatibility("polystyrene", "unobtainium") is None
    assert compatibility("polystyrene", "TFA") is None  # a reagent, not rated as a solvent


def test_by_analogy_ratings_say_so():
    verdict = compatibility("polystyrene", "2-MeTHF")
    assert verdict.rating == "incompatible" and "analogy" in verdict.note


def test_every_material_has_a_citation_and_every_solvent_row_is_a_known_solvent():
    data = json.loads((DATA / "materials.json").read_text(encoding="utf-8"))
    for name, spec in data["materials"].items():
        assert spec["source"] and spec["citation"], name
        assert materials.citation(name) == spec["citation"]
    for cas, row in data["solvents"].items():
        props = properties.lookup(cas)
        assert props is not None, cas
        assert row["name"] == props.name, cas
        assert set(row) - {"name"} == set(data["materials"]), (
            f"{props.name}: every material is rated"
        )


def test_every_solvent_in_the_property_data_is_rated():
    data = json.loads((DATA / "materials.json").read_text(encoding="utf-8"))
    solvents = {p.cas for p in properties.all_compounds() if p.kind == "solvent"}
    assert solvents == set(data["solvents"])


def test_df304_once_per_material_and_solvent_naming_every_labware():
    """The DCE reductive amination puts DCE in a reagent trough (its common stocks) and on the
    building-block plate (the aldehyde library), both polypropylene on the STARlet deck: one
    DF304 naming both, not one per labware (issue 16: the warnings buried the hazards)."""
    import yaml

    from diazflow.pipeline import check

    repo = DATA.parents[3]
    deck = yaml.safe_load((repo / "deck_layouts" / "starlet_chem.yaml").read_text())["labware"]
    assert deck["reagent_trough_1"]["material"] == "polypropylene"
    assert deck["building_blocks"]["material"] == "polypropylene"

    result = check(str(repo / "workflows" / "n4_reductive_amination_stab.yaml"))
    df304 = [d for d in result.diagnostics if d.code == "DF304"]
    assert len(df304) == 1
    assert df304[0].message.startswith(
        "polypropylene ('reagent_trough_1' and 'building_blocks') tolerates only briefly DCE"
    )
    assert not df304[0].is_error and result.plan is not None
