"""Stocks with more than one solute (issue 16): a premixed catalyst and ligand, a substrate with
its internal standard.  Every expected figure is computed here from the protocol's YAML text and
the molar masses (RDKit through diazflow's SMILES reader only for the masses): µmol of a solute in
a well = µL of the stock dispensed × its concentration; mg to weigh = M × µL × MW / 1000 / purity.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diazflow.chemistry.molecules import parse_smiles
from diazflow.pipeline import check
from test_hte import HTE, checked, delivered, simulate, with_deck

PREMIXED = HTE / "premixed_stocks.yaml"


def quantity(text: str) -> float:
    number, _, unit = str(text).partition(" ")
    return float(number) / (100.0 if unit == "%" else 1.0)


def test_each_solute_of_a_premixed_stock_reaches_every_well_in_proportion(tmp_path):
    doc = yaml.safe_load(PREMIXED.read_text(encoding="utf-8"))
    result = checked(PREMIXED)
    umol = quantity(doc["scale"]["amount"])
    equiv = {s["add"]["reagent"]: s["add"]["equiv"] for s in doc["steps"] if "add" in s}
    got = delivered(result, simulate(result, tmp_path))
    assert len(got) == 48
    for rid in ("arbr", "pd"):
        stock = doc["reagents"][rid]["stock"]
        ul = equiv[rid] * umol / quantity(stock["concentration"])  # µL of the stock per well
        for sid, solute in stock["solutes"].items():
            expected = ul * quantity(solute["concentration"])  # µmol of the solute per well
            for well, plan in result.plan.wells.items():
                amount = plan.reagents[rid]
                assert amount.solutes == {solute["name"]: pytest.approx(expected, abs=1e-6)}
                # the deck dispensed that stock volume into the well
                assert got[well][doc["reagents"][rid]["name"]] == pytest.approx(ul, abs=1e-6)
            assert sid  # each solute was checked
    # 20 µmol × 0.02 equiv of the precatalyst in 20 µL: 0.4 µmol of XPhos with it
    assert result.plan.wells["A1"].reagents["pd"].solutes == {"XPhos": pytest.approx(0.4)}
    assert result.plan.wells["A1"].reagents["arbr"].solutes == {"dodecane": pytest.approx(4.0)}


def test_the_stock_list_says_what_to_weigh_of_each_solute(tmp_path):
    doc = yaml.safe_load(PREMIXED.read_text(encoding="utf-8"))
    result = checked(PREMIXED)
    stocks = {s.reagent: s for s in result.plan.stocks}
    for rid in ("arbr", "pd"):
        stock = stocks[rid]
        given = doc["reagents"][rid]["stock"]["solutes"]
        assert [s.solute for s in stock.solutes or []] == list(given)
        for plan_solute, (_sid, solute) in zip(stock.solutes or [], given.items(), strict=True):
            mw = parse_smiles(solute["smiles"]).mw
            purity = quantity(solute.get("purity", "100 %"))
            mg = quantity(solute["concentration"]) * stock.volume_uL * mw / 1000 / purity
            assert plan_solute.weigh_mg == pytest.approx(mg, abs=1e-3)
    # single-solute stocks carry no 'solutes' key at all: their plans (and goldens) are unchanged
    assert stocks["morpholine"].solutes is None
    assert "solutes" not in stocks["morpholine"].model_dump(exclude_none=True)
    assert "solutes" not in result.plan.wells["A1"].reagents["dbu"].model_dump(exclude_none=True)
    # XPhos: 0.02 M in 3960 µL, 476.7 g/mol, 98 %: 38.5 mg; the CLI's stock list says so
    assert stocks["pd"].solutes[0].weigh_mg == pytest.approx(
        0.02 * 3960 * 476.73 / 1000 / 0.98, 1e-3
    )


def test_the_cli_stock_list_names_the_other_solutes(tmp_path):
    path = with_deck(PREMIXED, tmp_path)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "diazflow.cli",
            "compile",
            str(path),
            "-o",
            str(tmp_path / "p.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    line = next(x for x in out.splitlines() if "XPhos Pd G3 (0.02 M" in x)
    assert "with XPhos (0.02 M): weigh 38.5 mg of 98 % material, dissolved together" in line
    # the report's stock table says the same
    html = tmp_path / "report.html"
    report = subprocess.run(
        [sys.executable, "-m", "diazflow.cli", "report", str(path), "-o", str(html)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    assert "with XPhos (0.02 M): weigh 38.5 mg of 98 % material" in html.read_text("utf-8")


BASE = """diazflow: 1
name: premixed stock diagnostics
deck: {deck}
vessels: {{labware: reaction_block, wells: A1:H1}}
scale: {{limiting: amine, amount: 20 umol, concentration: 0.1 M, solvent: MeCN}}
reagents:
  amine:
    name: morpholine
    smiles: C1COCCN1
    stock: {{concentration: 1.0 M, solvent: MeCN}}
{reagents}
steps:
  - add: {{reagent: amine, equiv: 1.0}}
  - add: {{reagent: mix, equiv: 1.0}}
  - add_solvent: {{solvent: MeCN, to_concentration: 0.1 M}}
"""


@pytest.mark.parametrize(
    ("reagents", "code", "where", "words"),
    [
        # the reagent itself listed again as a solute (same SMILES, another name)
        (
            """  mix:
    name: triethylamine
    smiles: CCN(CC)CC
    stock:
      concentration: 1.0 M
      solvent: MeCN
      solutes: {tea: {name: TEA, smiles: N(CC)(CC)CC, concentration: 1.0 M}}""",
            "DF321",
            "reagents.mix.stock.solutes.tea",
            "the reagent 'mix' itself again",
        ),
        # other solutes in a stock used by volume only
        (
            """  mix:
    name: triethylamine
    smiles: CCN(CC)CC
    stock:
      solvent: MeCN
      solutes: {acid: {name: acetic acid, smiles: CC(=O)O, concentration: 1.0 M}}""",
            "DF322",
            "reagents.mix.stock.solutes",
            "used by volume only",
        ),
        # cyanoborohydride and acetic acid in one bottle: HCN before it is ever dispensed
        (
            """  mix:
    name: sodium cyanoborohydride
    smiles: "[Na+].[BH3-]C#N"
    stock:
      concentration: 1.0 M
      solvent: MeCN
      solutes: {acid: {name: acetic acid, smiles: CC(=O)O, concentration: 1.0 M}}""",
            "DF323",
            "reagents.mix.stock.solutes",
            "react together in the bottle",
        ),
        # triethylamine 5 M (69 % of the volume) and toluene 4 M (43 %): no room for MeCN
        (
            """  mix:
    name: triethylamine
    smiles: CCN(CC)CC
    stock:
      concentration: 5.0 M
      solvent: MeCN
      solutes: {tol: {name: toluene, smiles: Cc1ccccc1, concentration: 4.0 M}}""",
            "DF324",
            "reagents.mix.stock.solutes",
            "no room for the solvent",
        ),
        # acetic acid premixed and added on its own as well
        (
            """  mix:
    name: triethylamine
    smiles: CCN(CC)CC
    stock:
      concentration: 1.0 M
      solvent: MeCN
      solutes: {acid: {name: AcOH, smiles: OC(C)=O, concentration: 0.5 M}}
  acoh:
    name: acetic acid
    smiles: CC(=O)O
    neat: true""",
            "DF325",
            "reagents.mix.stock.solutes.acid",
            "also the reagent 'acoh'",
        ),
        # a solute the stock solvent destroys: STAB in methanol, as for a stock's own reagent
        (
            """  mix:
    name: acetic acid
    smiles: CC(=O)O
    stock:
      concentration: 1.0 M
      solvent: MeOH
      solutes:
        stab:
          name: sodium triacetoxyborohydride
          smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"
          concentration: 0.1 M""",
            "DF313",
            "reagents.mix.stock.solutes.stab",
            "sodium triacetoxyborohydride",
        ),
        # a liquid solute more concentrated than the neat liquid (triethylamine: 7.2 M)
        (
            """  mix:
    name: acetic acid
    smiles: CC(=O)O
    stock:
      concentration: 0.1 M
      solvent: MeCN
      solutes: {tea: {name: triethylamine, smiles: CCN(CC)CC, concentration: 8.0 M}}""",
            "DF312",
            "reagents.mix.stock.solutes.tea.concentration",
            "more concentrated than neat triethylamine",
        ),
    ],
)
def test_an_inconsistent_premixed_stock_has_its_diagnostic(
    tmp_path: Path, reagents: str, code: str, where: str, words: str
):
    deck = Path(__file__).resolve().parents[1] / "deck_layouts" / "starlet_chem.yaml"
    path = tmp_path / "premix.yaml"
    path.write_text(BASE.format(deck=deck, reagents=reagents), encoding="utf-8")
    result = check(str(path))
    found = [d for d in result.diagnostics if d.code == code]
    assert found, [str(d) for d in result.diagnostics]
    text = path.read_text(encoding="utf-8").splitlines()
    for d in found:
        assert d.line is not None and d.column is not None and d.hint
    assert any(words in d.message for d in found), [d.message for d in found]
    # reported at the key the problem is in: its line in the file
    key = where.rsplit(".", 1)[-1]
    assert any(key + ":" in text[d.line - 1] for d in found), [
        (d.line, text[d.line - 1]) for d in found
    ]


def test_a_premixed_stock_evaporates_like_any_stock_and_carries_its_solutes_with_it():
    """The stock loses solvent only, so each solute's concentration rises by the same factor:
    the drift evaporation computes for the reagent is the drift of every solute it carries."""
    from diazflow.compiler.evaporation import evaporation

    result = checked(PREMIXED)
    assert result.loaded and result.chemistry and result.facts and result.plan
    report = evaporation(result.plan, result.loaded, result.chemistry, result.facts)
    drifts = {d.reagent: d for d in report.stocks if d.well == "A1"}
    # dioxane (4 kPa at 20 °C) leaves the open troughs: the premixed stocks drift up like the rest
    for rid in ("arbr", "pd", "morpholine"):
        assert drifts[rid].drift > 0, rid
        assert drifts[rid].solvent == "1,4-dioxane"
