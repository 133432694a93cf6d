"""Produce the DF3xx-DF7xx examples of docs/diagnostics.md by running the real checks.

    python scripts/diagnostic_examples.py            # print every example block (markdown)
    python scripts/diagnostic_examples.py DF301 DF6  # only these ids (a prefix selects several)
    python scripts/diagnostic_examples.py --write    # rewrite the generated blocks in the page
    python scripts/diagnostic_examples.py --check    # exit 1 if the page is out of date

Each example is one of the base protocols in tests/data/protocols/examples/ with a few text
edits (the same edits tests/test_checks.py and tests/test_compiler.py make).  The script copies
the variant to ``workflows/<base>.yaml`` in a scratch directory that also holds copies of
deck_layouts/ and simulators/ (so ``deck: ../deck_layouts/...`` resolves there just as it does in
the repository), runs ``diazflow validate workflows/<base>.yaml`` in a fresh process, and keeps
the diagnostics with the example's code (and any codes it also asks to show).  It fails if the
expected code does not appear, or appears with the other severity, so a changed check cannot leave
a stale example behind.  The base protocols' own warnings (DF304, DF403, DF306) are left out of
the other examples.

In docs/diagnostics.md a generated block sits between ``<!-- example: ID -->`` and
``<!-- /example -->``; the hazard rules listed under each DF4xx code sit between
``<!-- hazard-rules: DF4nn -->`` and ``<!-- /hazard-rules -->`` and come from
src/diazflow/chemistry/data/hazards.yaml.  Everything outside the markers is written by hand.
``--write`` replaces only what is inside the markers.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASES = REPO / "tests" / "data" / "protocols" / "examples"
DOC = REPO / "docs" / "diagnostics.md"
HAZARDS = REPO / "src" / "diazflow" / "chemistry" / "data" / "hazards.yaml"

STARLET = "amination_starlet.yaml"  # 96-well reductive amination (STAB) on the STARlet
OT2 = "michael_ot2.yaml"  # 24-well Michael addition in MeOH on the OT-2
DROPWISE = "amination_dropwise.yaml"  # the amination with a dropwise aldehyde addition at 4 °C (the STARlet block floor)
DESIGN = "design_screen.yaml"  # an 8-condition base x solvent screen declared by factors (STARlet)
PROJECT = "/path/to/project"  # shown instead of the scratch directory where diazflow prints an absolute path

ORD_EXPORT = (  # `diazflow export --to ord` of an example run's journal
    "export",
    "--to",
    "ord",
    "-o",
    "dataset.pbtxt",
    "--creator",
    "Ada Lovelace <ada@example.org>",
)

EXAMPLE_BEGIN = re.compile(
    r"^<!-- example: (\S+) -->\n.*?^<!-- /example -->\n", re.MULTILINE | re.DOTALL
)
RULES_BEGIN = re.compile(
    r"^<!-- hazard-rules: (DF[34]\d\d) -->\n.*?^<!-- /hazard-rules -->\n", re.MULTILINE | re.DOTALL
)


@dataclass(frozen=True)
class Example:
    id: str  # marker id in the page: the code, or the code and a suffix ("DF307-neat")
    base: str  # file name in tests/data/protocols/examples/
    edits: tuple[tuple[str, str], ...] = ()  # (old, new): each old must occur in the base
    severity: str = "error"
    snippet: str | None = None  # YAML shown; by default the changed lines and their parent keys
    show: tuple[str, ...] = ()  # further codes to show alongside
    deck_edits: tuple[tuple[str, str], ...] = ()  # edits to a copy of a shipped deck layout,
    deck_base: str = "ot2_tempmodule"  # ... this one,
    deck_name: str = "my_ot2"  # ... written as deck_layouts/<deck_name>.yaml
    files: dict[str, str] = field(default_factory=dict)  # more files next to the protocol
    command: tuple[str, ...] = ("validate",)  # the diazflow command run on the protocol
    # `diazflow run` the protocol first with these further arguments (None: no run); the command
    # then runs on the run's journal, after the edits of `after_run` to the protocol
    run: tuple[str, ...] | None = None
    after_run: tuple[tuple[str, str], ...] = ()
    # DF7xx: the base is run (simulated) and this results CSV checked against its journal
    results_csv: str | None = None
    run_args: tuple[str, ...] = ()  # more options for that run (a fault to make it fail)

    @property
    def code(self) -> str:
        return self.id.split("-")[0]


ADDITIVES = [  # DF518: an additive screen, one additive per pair of columns
    ("tea", "triethylamine", "CCN(CC)CC"),
    ("dipea", "N,N-diisopropylethylamine", "CCN(C(C)C)C(C)C"),
    ("nmm", "N-methylmorpholine", "CN1CCOCC1"),
    ("pyr", "pyridine", "c1ccncc1"),
    ("lut", "2,6-lutidine", "Cc1cccc(C)n1"),
    ("dbu", "DBU", "C1CCC2=NCCCN2CC1"),
]
# each additive at four stock concentrations, one per quarter of its pair of columns: 24 common
# stocks, more than the 8 troughs and the free building-block columns hold
ADDITIVE_LEVELS = (("025", "0.25 M"), ("05", "0.5 M"), ("1", "1.0 M"), ("2", "2.0 M"))
ADDITIVE_REAGENTS = "".join(
    f'  {rid}_{tag}: {{name: "{name}", smiles: "{smiles}", stock: {{concentration: {c}, solvent: DCE}}}}\n'
    for rid, name, smiles in ADDITIVES
    for tag, c in ADDITIVE_LEVELS
)
ADDITIVE_STEPS = "".join(
    f"  - add: {{reagent: {rid}_{tag}, equiv: 1.0, wells: {'ABCDEFGH'[2 * (k % 4)]}{2 * i + 1 + k // 4}:{'ABCDEFGH'[2 * (k % 4) + 1]}{2 * i + 2}}}\n"
    for i, (rid, _, _) in enumerate(ADDITIVES)
    for k, (tag, _) in enumerate(ADDITIVE_LEVELS)
)

FACTOR_DESIGN = "design:\n  factors:\n    base: {dbu: A1:D2, tea: E1:H2}\n    solvent: {MeCN: A1:H1, DMF: A2:H2}\n"
TABLE_DESIGN = "design:\n  table: conditions.csv\n  values: {base: {DBU: dbu, TEA: tea}}\n"


def table_example(
    ident: str, csv_text: str, edits: tuple[tuple[str, str], ...] = (), **kwargs
) -> Example:
    """A design example whose conditions come from ``conditions.csv`` (shown under the YAML)."""
    shown = "".join(f"#   {line}\n" for line in csv_text.splitlines())
    yaml_lines = TABLE_DESIGN + "".join(new for _, new in edits if new.strip())
    return Example(
        ident,
        DESIGN,
        ((FACTOR_DESIGN, TABLE_DESIGN), *edits),
        snippet=yaml_lines + "# conditions.csv:\n" + shown,
        files={"conditions.csv": csv_text},
        **kwargs,
    )


TEMPERATURE_STEP = (
    "  - stir: {duration: 4 h, temperature: rt}\n",
    "  - stir: {duration: 4 h, temperature: {factor: temp}}\n",
)
BASE_EQUIV_STEP = (
    "  - add: {reagent: {factor: base}, equiv: 2.0}\n",
    "  - add: {reagent: {factor: base}, equiv: {factor: base_equiv}}\n",
)
DESIGN_EXAMPLES: list[Example] = [
    Example("DF120", DESIGN, (("{factor: base}, equiv", "{factor: bases}, equiv"),)),
    Example("DF121", DESIGN, (("tea: E1:H2}", "tea: E1:G2}"),)),
    Example("DF122", DESIGN, (("tea: E1:H2}", "tea: D1:H2}"),)),
    table_example(
        "DF123",
        "condition_id,base,solvent,temp\nc1,DBU,MeCN,25 degC\nc2,TEA,DMF,25 degC\nc3,DBU,DMF,60 degC\n",
        (TEMPERATURE_STEP,),
    ),
    table_example(
        "DF124",
        "condition_id,base,solvent\nc1,DBU,MeCN\nc2,TEA,DMF\nc2,DBU,DMF\n",
        severity="error",
    ),
    table_example(
        "DF125",
        "condition_id,base,solvent\n"
        + "".join(f"c{i},{'DBU' if i % 2 else 'TEA'},MeCN\n" for i in range(1, 6)),
        (
            (
                "vessels: {labware: reaction_block, wells: A1:H2}\n",
                "vessels: {labware: reaction_block, wells: A1:A4}\n",
            ),
        ),
    ),
    Example(
        "DF126",
        DESIGN,
        (("volume: 300 uL}", "volume: 300 uL, wells: {factor: solvent}}"),),
    ),
    Example(
        "DF127",
        DESIGN,
        (("    solvent: {MeCN", "    stirring: {slow: A1:H1, fast: A2:H2}\n    solvent: {MeCN"),),
        severity="warning",
    ),
    table_example(
        "DF128",
        "condition_id,base,solvent,base_equiv\nc1,DBU,MeCN,2.0\nc2,TEA,DMF,two\n",
        (BASE_EQUIV_STEP,),
    ),
    table_example(
        "DF528",
        "condition_id,base,solvent,base_equiv\nc1,DBU,MeCN,2.0\nc2,TEA,DMF,0.01\n",
        (BASE_EQUIV_STEP,),
    ),
    table_example(
        "DF529",
        "condition_id,base,solvent,solvent_volume\nc1,DBU,MeCN,300 uL\nc2,TEA,DMF,1600 uL\n",
        (
            (
                "  - add_solvent: {solvent: {factor: solvent}, volume: 300 uL}\n",
                "  - add_solvent: {solvent: {factor: solvent}, volume: {factor: solvent_volume}}\n",
            ),
        ),
    ),
]

EXAMPLES: list[Example] = [
    # ------------------------------------------------------------------ DF3xx chemistry
    Example("DF300", STARLET, (("    smiles: CC(=O)O\n", "    smiles: CC(=O)O)\n"),)),
    Example("DF300-library", STARLET, (("smiles: O=Cc1ccc(Cl)cc1}", "smiles: O=Cc1ccc(Cl)cc}"),)),
    Example(
        "DF301",
        DROPWISE,
        (("DCE", "dioxane"),),
        snippet="scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: dioxane}\n"
        "# ... every stock and the add_solvent step in dioxane too\n"
        "  - cool: {to: 4 degC}\n"
        "  - add: {reagent: aldehyde, equiv: 1.05, dropwise: 30-60 min, keep_below: 5 degC}\n",
    ),
    Example(
        "DF302",
        OT2,
        (
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - heat: {to: 70 degC}\n  - hold: {duration: 2 h}\n",
            ),
        ),
    ),
    Example(
        "DF303",
        OT2,
        (
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - reflux: {duration: 12-24 h}\n",
            ),
        ),
    ),
    Example(
        "DF304",
        OT2,
        (
            ("MeOH", "DCM"),
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - hold: {duration: 2 h, temperature: 25 degC}\n  - sample: {volume: 20 uL, into: sample_plate, at: [1 h]}\n",
            ),
        ),
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: DCM}\n"
        "# ... both stocks in DCM too\n"
        "  - hold: {duration: 2 h, temperature: 25 degC}\n"
        "  - sample: {volume: 20 uL, into: sample_plate, at: [1 h]}\n",
    ),
    Example(
        "DF304-warning",
        STARLET,
        (),
        severity="warning",
        snippet="deck: ../deck_layouts/starlet_chem.yaml   # troughs and building-block plate: polypropylene\n"
        "reagents:\n  diazepane:\n    stock: {concentration: 1.0 M, solvent: DCE}\n  aldehyde:\n    library: aldehydes\n    stock: {concentration: 0.5 M, solvent: DCE}\n",
    ),
    Example("DF305", STARLET, (("    solid: {dispense: powder}\n", "    neat: true\n"),)),
    Example(
        "DF305-volume",
        STARLET,
        (("  - add: {reagent: stab, equiv: 1.4}", "  - add: {reagent: stab, volume: 15 uL}"),),
    ),
    Example(
        "DF306",
        STARLET,
        (("  - add_solvent: {solvent: DCE, volume: 70 uL}\n", ""),),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: DCE}\n"
        "steps:\n"
        "  - add: {reagent: diazepane, equiv: 1.0}\n"
        "  # (no add_solvent step)\n"
        "  - add: {reagent: aldehyde, equiv: 1.05}\n"
        "  - add: {reagent: acoh, equiv: 1.0}\n",
    ),
    Example(
        "DF307-neat",
        DROPWISE,
        (
            (
                "  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}",
                "  acid: {name: propionic acid, smiles: CCC(=O)O, neat: true}",
            ),
            ("{reagent: acoh,", "{reagent: acid,"),
        ),
        snippet="  acid: {name: propionic acid, smiles: CCC(=O)O, neat: true}\n",
    ),
    Example(
        "DF307-stock",
        STARLET,
        (
            (
                "  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}",
                "  - quench: {reagent: nahco3, equiv: 3, stir: 20 min}",
            ),
        ),
    ),
    Example(
        "DF308",
        OT2,
        (("solvent: MeOH}\nreagents", "solvent: methanole}\nreagents"),),
        severity="warning",
    ),
    Example(
        "DF308-reflux",
        STARLET,
        (
            ("solvent: DCE}\nreagents", "solvent: CPME}\nreagents"),
            ("  - stir: {duration: 1-4 h}\n", "  - reflux: {duration: 1-4 h}\n"),
        ),
        snippet="scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: CPME}\n  - reflux: {duration: 1-4 h}\n",
        show=("DF308",),
    ),
    Example(
        "DF309",
        STARLET,
        (
            (
                'name: sodium triacetoxyborohydride\n    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"\n',
                "name: house reductant\n",
            ),
        ),
        snippet="  stab:\n    name: house reductant\n    solid: {dispense: powder}\n",
    ),
    Example(
        "DF310",
        STARLET,
        (
            (
                "  - add: {reagent: acoh, equiv: 1.0}\n",
                "  - add: {reagent: acoh, equiv: 1.0}\n  - add_solvent: {solvent: DCE, to_concentration: 0.5 M}\n",
            ),
        ),
    ),
    Example(
        "DF311",
        STARLET,
        (
            (
                "  - add_solvent: {solvent: DCE, volume: 70 uL}\n",
                "  - add_solvent: {solvent: Solvesso 150, volume: 70 uL}\n",
            ),
        ),
    ),
    Example(
        "DF312",
        STARLET,
        (
            (
                "    stock: {concentration: 2.0 M, solvent: DCE}\n",
                "    stock: {concentration: 20 M, solvent: DCE}\n",
            ),
        ),
    ),
    Example(
        "DF320",
        STARLET,
        (
            (
                "    stock: {concentration: 2.0 M, solvent: DCE}\n",
                "    neat: true\n    density: 1.30 g/mL       # acetic acid is 1.047 g/mL\n",
            ),
        ),
        severity="warning",
    ),
    Example(
        "DF313",
        STARLET,
        (
            (
                'OC(C)=O"\n    solid: {dispense: powder}\n',
                'OC(C)=O"\n    stock: {concentration: 0.5 M, solvent: MeOH}\n',
            ),
        ),
        snippet='  stab:\n    name: sodium triacetoxyborohydride\n    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"\n    stock: {concentration: 0.5 M, solvent: MeOH}\n',
    ),
    # premixed stocks (stock.solutes): the acetic acid stock of the base protocol with a second solute
    Example(
        "DF321",
        STARLET,
        (
            (
                "    stock: {concentration: 2.0 M, solvent: DCE}\n  stab:\n",
                "    stock:\n      concentration: 2.0 M\n      solvent: DCE\n      solutes:\n"
                "        acetic: {name: glacial acetic acid, smiles: OC(C)=O, concentration: 1.0 M}\n"
                "  stab:\n",
            ),
        ),
    ),
    Example(
        "DF322",
        STARLET,
        (
            (
                "    stock: {solvent: water}\n",
                "    stock:\n      solvent: water\n      solutes:\n"
                '        nacl: {name: sodium chloride, smiles: "[Na+].[Cl-]", concentration: 0.5 M}\n',
            ),
        ),
    ),
    Example(
        "DF323",
        STARLET,
        (
            (
                "    stock: {concentration: 2.0 M, solvent: DCE}\n  stab:\n",
                "    stock:\n      concentration: 2.0 M\n      solvent: DCE\n      solutes:\n"
                '        nabh3cn: {name: sodium cyanoborohydride, smiles: "[Na+].[BH3-]C#N", concentration: 1.0 M}\n'
                "  stab:\n",
            ),
        ),
    ),
    Example(
        "DF324",
        STARLET,
        (
            (
                "    stock: {concentration: 2.0 M, solvent: DCE}\n  stab:\n",
                "    stock:\n      concentration: 10 M\n      solvent: DCE\n      solutes:\n"
                "        tea: {name: triethylamine, smiles: CCN(CC)CC, concentration: 6.0 M}\n"
                "  stab:\n",
            ),
        ),
    ),
    Example(
        "DF325",
        STARLET,
        (
            (
                "    stock: {concentration: 1.0 M, solvent: DCE}\n  aldehyde:\n",
                "    stock:\n      concentration: 1.0 M\n      solvent: DCE\n      solutes:\n"
                "        acid: {name: AcOH, smiles: CC(=O)O, concentration: 1.0 M}\n"
                "  aldehyde:\n",
            ),
        ),
        severity="warning",
    ),
    # ------------------------------------------------------------------ DF4xx hazards
    Example(
        "DF401",
        STARLET,
        (
            ("  stab:\n", "  nabh3cn:\n"),
            ("{reagent: stab,", "{reagent: nabh3cn,"),
            ("name: sodium triacetoxyborohydride", "name: sodium cyanoborohydride"),
            ('smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"', 'smiles: "[Na+].[BH3-]C#N"'),
        ),
        severity="warning",
        snippet="  acoh:\n    name: acetic acid\n    smiles: CC(=O)O\n    stock: {concentration: 2.0 M, solvent: DCE}\n"
        '  nabh3cn:\n    name: sodium cyanoborohydride\n    smiles: "[Na+].[BH3-]C#N"\n    solid: {dispense: powder}\n',
    ),
    Example(
        "DF402",
        STARLET,
        (
            ("  stab:\n", "  nah:\n"),
            ("{reagent: stab,", "{reagent: nah,"),
            (
                'name: sodium triacetoxyborohydride\n    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"',
                'name: sodium hydride\n    smiles: "[Na+].[H-]"',
            ),
        ),
        severity="warning",
        snippet='  nah:\n    name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: powder}\n'
        "  - add: {reagent: nah, equiv: 1.4}\n  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}\n",
    ),
    Example(
        "DF402-solvent",
        OT2,
        (
            (
                "  acrylate:\n",
                '  nah:\n    name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: manual}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: nah, equiv: 1.2}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
            ),
        ),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}\n"
        'reagents:\n  nah:\n    name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: manual}\n'
        "  - add: {reagent: nah, equiv: 1.2}\n",
    ),
    Example(
        "DF403",
        STARLET,
        (("  - offdeck: Extract", "  - seal:\n  - stir: {duration: 1 h}\n  - offdeck: Extract"),),
        severity="warning",
        snippet="deck: ../deck_layouts/starlet_chem.yaml   # reaction_block: vials that take septum caps (sealed: true)\n"
        "  - add: {reagent: acoh, equiv: 1.0}\n  - add: {reagent: stab, equiv: 1.4}\n  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}\n"
        "  - seal:\n  - stir: {duration: 1 h}\n",
    ),
    Example(
        "DF420",
        STARLET,
        (
            ("0.2 M, solvent: DCE}", "0.2 M, solvent: DCM}"),
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - seal:\n  - stir: {duration: 1-4 h, temperature: 90 degC}\n  - cool: {to: 22 degC}\n  - unseal:\n",
            ),
        ),
        severity="warning",
        snippet="deck: ../deck_layouts/starlet_chem.yaml   # reaction_block: septum vials, pressure_rating: 3 bar\n"
        "scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: DCM}\n"
        "  - seal:\n  - stir: {duration: 1-4 h, temperature: 90 degC}\n",
    ),
    Example(
        "DF403-nabh4",
        OT2,
        (
            ("ot2_tempmodule", "starlet_chem"),
            (
                "  acrylate:\n",
                '  nabh4:\n    name: sodium borohydride\n    smiles: "[Na+].[BH4-]"\n    solid: {dispense: manual}\n  acrylate:\n',
            ),
            ("  - hold:", "  - add: {reagent: nabh4, equiv: 2.0}\n  - seal:\n  - hold:"),
        ),
        severity="warning",
        snippet="deck: ../deck_layouts/starlet_chem.yaml\nscale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}\n"
        'reagents:\n  nabh4:\n    name: sodium borohydride\n    smiles: "[Na+].[BH4-]"\n    solid: {dispense: manual}\n'
        "  - add: {reagent: nabh4, equiv: 2.0}\n  - seal:\n",
    ),
    Example(
        "DF410",
        OT2,
        (
            (
                "  acrylate:\n",
                '  lah:\n    name: lithium aluminium hydride\n    smiles: "[Li+].[AlH4-]"\n    solid: {dispense: manual}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: lah, equiv: 1.0}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
            ),
        ),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}\n"
        'reagents:\n  lah:\n    name: lithium aluminium hydride\n    smiles: "[Li+].[AlH4-]"\n    solid: {dispense: manual}\n'
        "  - add: {reagent: lah, equiv: 1.0}\n",
    ),
    Example(
        "DF411",
        OT2,
        (
            (
                "  acrylate:\n    name: methyl acrylate\n    smiles: C=CC(=O)OC\n    stock: {concentration: 1.0 M, solvent: MeOH}\n",
                "  acrylate:\n    name: benzoyl chloride\n    smiles: O=C(Cl)c1ccccc1\n    stock: {concentration: 1.0 M, solvent: MeCN}\n",
            ),
        ),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}\n"
        "  acrylate:\n    name: benzoyl chloride\n    smiles: O=C(Cl)c1ccccc1\n    stock: {concentration: 1.0 M, solvent: MeCN}\n",
    ),
    Example(
        "DF412",
        OT2,
        (
            ("solvent: MeOH", "solvent: DMF"),
            (
                "  acrylate:\n",
                '  nah:\n    name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: manual}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: nah, equiv: 1.2}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
            ),
            ("temperature: 25 degC", "temperature: 60 degC"),
        ),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: DMF}\n"
        'reagents:\n  nah:\n    name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: manual}\n'
        "  - add: {reagent: nah, equiv: 1.2}\n  - add: {reagent: acrylate, equiv: 1.05}\n  - hold: {duration: 2-12 h, temperature: 60 degC}\n",
    ),
    Example(
        "DF413",
        OT2,
        (
            ("solvent: MeOH", "solvent: DMSO"),
            (
                "  acrylate:\n",
                "  grubbs:\n    name: Grubbs catalyst, 2nd generation\n    mw: 848.97\n    solid: {dispense: manual}\n  acrylate:\n",
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: acrylate, equiv: 1.05}\n  - add: {reagent: grubbs, equiv: 0.05}\n",
            ),
        ),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: DMSO}\n"
        "reagents:\n  grubbs:\n    name: Grubbs catalyst, 2nd generation\n    mw: 848.97\n    solid: {dispense: manual}\n"
        "  - add: {reagent: grubbs, equiv: 0.05}\n",
    ),
    Example(
        "DF414",
        OT2,
        (
            (
                "  acrylate:\n",
                '  nan3:\n    name: sodium azide\n    smiles: "[Na+].[N-]=[N+]=[N-]"\n    solid: {dispense: manual}\n  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: acrylate, equiv: 1.05}\n  - add: {reagent: nan3, equiv: 1.5}\n  - add: {reagent: acoh, equiv: 1.0}\n",
            ),
        ),
        severity="warning",
        snippet='reagents:\n  nan3:\n    name: sodium azide\n    smiles: "[Na+].[N-]=[N+]=[N-]"\n    solid: {dispense: manual}\n  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}\n  - add: {reagent: nan3, equiv: 1.5}\n  - add: {reagent: acoh, equiv: 1.0}\n',
    ),
    Example(
        "DF415",
        OT2,
        (
            (
                "  acrylate:\n",
                '  nan3:\n    name: sodium azide\n    smiles: "[Na+].[N-]=[N+]=[N-]"\n    solid: {dispense: manual}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: acrylate, equiv: 1.05}\n  - add: {reagent: nan3, equiv: 1.5}\n  - add_solvent: {solvent: DCM, volume: 50 uL}\n",
            ),
        ),
        severity="error",
        snippet='reagents:\n  nan3:\n    name: sodium azide\n    smiles: "[Na+].[N-]=[N+]=[N-]"\n    solid: {dispense: manual}\n  - add: {reagent: nan3, equiv: 1.5}\n  - add_solvent: {solvent: DCM, volume: 50 uL}\n',
    ),
    Example(
        "DF416",
        OT2,
        (
            ("solvent: MeOH", "solvent: DMSO"),
            (
                "  acrylate:\n",
                '  azide:\n    name: benzyl azide\n    smiles: "[N-]=[N+]=NCc1ccccc1"\n    stock: {concentration: 1.0 M, solvent: DMSO}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: acrylate, equiv: 1.05}\n  - add: {reagent: azide, equiv: 1.0}\n",
            ),
            ("temperature: 25 degC", "temperature: 90 degC"),
        ),
        severity="warning",
        snippet='scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: DMSO}\nreagents:\n  azide:\n    name: benzyl azide\n    smiles: "[N-]=[N+]=NCc1ccccc1"\n    stock: {concentration: 1.0 M, solvent: DMSO}\n  - add: {reagent: azide, equiv: 1.0}\n  - hold: {duration: 2-12 h, temperature: 90 degC}\n',
    ),
    Example(
        "DF417",
        OT2,
        (
            ("solvent: MeOH", "solvent: THF"),
            ("temperature: 25 degC", "temperature: 50 degC"),
        ),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: THF}\n  - hold: {duration: 2-12 h, temperature: 50 degC}\n",
    ),
    Example(
        "DF418",
        OT2,
        (
            (
                "  acrylate:\n",
                '  nabh4:\n    name: sodium borohydride\n    smiles: "[Na+].[BH4-]"\n    solid: {dispense: manual}\n  mcpba:\n    name: 3-chloroperbenzoic acid (mCPBA)\n    smiles: O=C(OO)c1cccc(Cl)c1\n    solid: {dispense: manual}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: acrylate, equiv: 1.05}\n  - add: {reagent: nabh4, equiv: 1.0}\n  - add: {reagent: mcpba, equiv: 1.2}\n",
            ),
        ),
        severity="warning",
        snippet='reagents:\n  nabh4:\n    name: sodium borohydride\n    smiles: "[Na+].[BH4-]"\n    solid: {dispense: manual}\n  mcpba:\n    name: 3-chloroperbenzoic acid (mCPBA)\n    smiles: O=C(OO)c1cccc(Cl)c1\n    solid: {dispense: manual}\n  - add: {reagent: nabh4, equiv: 1.0}\n  - add: {reagent: mcpba, equiv: 1.2}\n',
    ),
    Example(
        "DF419",
        OT2,
        (
            (
                "  acrylate:\n",
                '  bleach:\n    name: sodium hypochlorite\n    smiles: "[Na+].[O-]Cl"\n    stock: {concentration: 1.0 M, solvent: water}\n  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: acrylate, equiv: 1.05}\n  - add: {reagent: acoh, equiv: 1.0}\n  - add: {reagent: bleach, equiv: 1.2}\n",
            ),
        ),
        severity="warning",
        snippet='reagents:\n  bleach:\n    name: sodium hypochlorite\n    smiles: "[Na+].[O-]Cl"\n    stock: {concentration: 1.0 M, solvent: water}\n  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}\n  - add: {reagent: acoh, equiv: 1.0}\n  - add: {reagent: bleach, equiv: 1.2}\n',
    ),
    Example(
        "DF430",
        OT2,
        (
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - hold: {duration: 2-12 h, temperature: 70 degC}\n  - sample: {volume: 10 uL, into: sample_plate, at: [1 h], diluent: 100 uL MeCN}\n",
            ),
        ),
        severity="warning",
        snippet="scale: {limiting: diazepane, amount: 100 umol, concentration: 0.5 M, solvent: MeOH}\n  - hold: {duration: 2-12 h, temperature: 70 degC}\n  - sample: {volume: 10 uL, into: sample_plate, at: [1 h], diluent: 100 uL MeCN}\n",
    ),
    Example(
        "DF431",
        OT2,
        (
            (
                "  acrylate:\n",
                '  nabh3cn:\n    name: sodium cyanoborohydride\n    smiles: "[Na+].[BH3-]C#N"\n    stock: {concentration: 1.0 M, solvent: MeOH}\n  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: acrylate, equiv: 1.05}\n  - add: {reagent: acoh, equiv: 1.0}\n  - add: {reagent: nabh3cn, equiv: 1.5}\n",
            ),
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}\n",
            ),
        ),
        severity="warning",
        snippet="  - add: {reagent: acoh, equiv: 1.0}\n  - add: {reagent: nabh3cn, equiv: 1.5}\n  - hold: {duration: 2-12 h, temperature: 25 degC}\n  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}\n",
    ),
    Example(
        "DF404",
        STARLET,
        (
            ("starlet_chem", "evo150_chem"),
            ("atmosphere: inert\n", ""),
            ("  stab:\n", "  nah:\n"),
            ("{reagent: stab,", "{reagent: nah,"),
            (
                'name: sodium triacetoxyborohydride\n    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"\n    solid: {dispense: powder}',
                'name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: manual}',
            ),
        ),
        severity="warning",
        snippet='deck: ../deck_layouts/evo150_chem.yaml   # no inert-gas enclosure\nreagents:\n  nah:\n    name: sodium hydride\n    smiles: "[Na+].[H-]"\n    solid: {dispense: manual}\n',
    ),
    # ------------------------------------------------------------------ DF5xx deck and robot
    Example(
        "DF500",
        OT2,
        (("ot2_tempmodule.yaml", "my_ot2.yaml"),),
        deck_edits=(("    sealed: true ", "    seald: true "),),
        snippet="deck: ../deck_layouts/my_ot2.yaml\n# in deck_layouts/my_ot2.yaml, a copy of ot2_tempmodule.yaml:\nlabware:\n  reaction_block:\n    seald: true\n",
    ),
    Example(
        "DF500-unit",
        OT2,
        (("ot2_tempmodule.yaml", "my_ot2.yaml"),),
        deck_edits=(("    max_volume: 360 uL", "    max_volume: 360"),),
        snippet="deck: ../deck_layouts/my_ot2.yaml\n# in deck_layouts/my_ot2.yaml:\nlabware:\n  sample_plate:\n    max_volume: 360\n",
    ),
    Example(
        "DF501",
        OT2,
        (("ot2_tempmodule.yaml", "my_ot2.yaml"),),
        deck_edits=(("factory: cor_96_wellplate_360uL_Fb", "factory: cor_96_wellplate_360ul_Fb"),),
        snippet="deck: ../deck_layouts/my_ot2.yaml\n# in deck_layouts/my_ot2.yaml:\nlabware:\n  sample_plate:\n    factory: cor_96_wellplate_360ul_Fb\n",
    ),
    Example("DF510", STARLET, (("labware: reaction_block", "labware: reaction_blok"),)),
    Example(
        "DF510-sample",
        STARLET,
        (
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: lcms_plate, at: [1 h]}\n",
            ),
        ),
    ),
    Example(
        "DF510-source",
        STARLET,
        (
            (
                "    stock: {concentration: 0.5 M, solvent: DCE}",
                "    stock: {concentration: 0.5 M, solvent: DCE, source: aldehyde_plate}",
            ),
        ),
    ),
    Example(
        "DF511",
        STARLET,
        (
            ("labware: reaction_block", "labware: sample_plate"),
            ("amount: 50 umol", "amount: 10 umol"),
            ("  - stir: {duration: 15 min}\n", "  - cool: {to: 10 degC}\n"),
        ),
        snippet="vessels: {labware: sample_plate, wells: A1:H12}\nscale: {limiting: diazepane, amount: 10 umol, concentration: 0.2 M, solvent: DCE}\n  - cool: {to: 10 degC}\n",
    ),
    Example(
        "DF512",
        OT2,
        (
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - cool: {to: 0 degC}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
            ),
        ),
    ),
    Example(
        "DF513",
        OT2,
        (
            ("ot2_tempmodule", "evo150_chem"),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - cool: {to: 10 degC}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
            ),
        ),
        snippet="deck: ../deck_layouts/evo150_chem.yaml   # reaction block on a heater-shaker\n  - cool: {to: 10 degC}\n",
    ),
    Example(
        "DF514",
        OT2,
        (
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}",
                "  - stir: {duration: 2-12 h, temperature: 25 degC}",
            ),
        ),
    ),
    Example(
        "DF515",
        OT2,
        (
            (
                "  acrylate:\n",
                '  k2co3:\n    name: potassium carbonate\n    smiles: "[K+].[K+].[O-]C([O-])=O"\n    solid: {dispense: powder}\n  acrylate:\n',
            ),
            (
                "  - add: {reagent: acrylate, equiv: 1.05}\n",
                "  - add: {reagent: k2co3, equiv: 2.0}\n  - add: {reagent: acrylate, equiv: 1.05}\n",
            ),
        ),
    ),
    Example("DF516", STARLET, (("volume: 1 reaction volume", "volume: 6 reaction volumes"),)),
    Example(
        "DF517",
        STARLET,
        (("  - add: {reagent: acoh, equiv: 1.0}", "  - add: {reagent: acoh, equiv: 0.01}"),),
    ),
    Example(
        "DF517-portions",
        STARLET,
        (
            (
                "  - add: {reagent: acoh, equiv: 1.0}",
                "  - add: {reagent: acoh, equiv: 1.0, portionwise: {portions: 30, over: 30 min}}",
            ),
        ),
    ),
    Example(
        "DF518",
        STARLET,
        (
            ("libraries:\n", ADDITIVE_REAGENTS + "libraries:\n"),
            ("  - stir: {duration: 15 min}\n", ADDITIVE_STEPS + "  - stir: {duration: 15 min}\n"),
        ),
        snippet="reagents:\n"
        + "".join(ADDITIVE_REAGENTS.splitlines(keepends=True)[:4])
        + "  # ... 24 additive stocks in all\n"
        + "".join(ADDITIVE_STEPS.splitlines(keepends=True)[:4])
        + "  # ... one step per stock\n",
    ),
    Example(
        "DF519",
        STARLET,
        (
            (
                "  acoh:\n",
                "  aldehyde_b:\n    library: more_aldehydes\n    stock: {concentration: 0.5 M, solvent: DCE}\n  acoh:\n",
            ),
            ("libraries:\n", "libraries:\n  more_aldehydes: {csv: aldehydes_96.csv}\n"),
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - stir: {duration: 1 h}\n  - add: {reagent: aldehyde_b, equiv: 1.0}\n  - stir: {duration: 1-4 h}\n",
            ),
        ),
        snippet="  aldehyde_b:              # a second aldehyde in every well: 94 different ones\n    library: more_aldehydes\n    stock: {concentration: 0.5 M, solvent: DCE}\n"
        "libraries:\n  more_aldehydes: {csv: aldehydes_96.csv}\n"
        "  - add: {reagent: aldehyde_b, equiv: 1.0}\n",
        files={
            "aldehydes_96.csv": (
                REPO / "tests" / "data" / "protocols" / "libraries" / "aldehydes_96.csv"
            ).read_text(encoding="utf-8")
        },
    ),
    Example(
        "DF520",
        STARLET,
        (
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - stir: {duration: 1-4 h}\n"
                + "  - add: {reagent: aldehyde, equiv: 0.1}\n  - stir: {duration: 1 h}\n" * 5,
            ),
        ),
    ),
    Example("DF521", STARLET, (("volume: 1 reaction volume", "volume: 3 reaction volumes"),)),
    Example(
        "DF522",
        OT2,
        (
            (
                "name: Michael addition on the OT-2\n",
                "name: Michael addition on the OT-2\natmosphere: inert\n",
            ),
        ),
    ),
    Example(
        "DF523",
        STARLET,
        (
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: sample_plate, at: [1 h, 2 h]}\n",
            ),
        ),
    ),
    Example("DF524", OT2, (("wells: A1:H3", "wells: A1:J3"),)),
    Example(
        "DF525",
        OT2,
        (("deck: ../deck_layouts/ot2_tempmodule.yaml\n", ""),),
        snippet="# (no 'deck:' line)\nname: Michael addition on the OT-2\n",
    ),
    Example(
        "DF525-path",
        OT2,
        (("deck: ../deck_layouts/ot2_tempmodule.yaml", "deck: deck_layouts/ot2_tempmodule.yaml"),),
    ),
    Example(
        "DF526",
        STARLET,
        (("  - stir: {duration: 15 min}", "  - stir: {duration: 15 min, speed: 3000 rpm}"),),
    ),
    Example(
        "DF527",
        STARLET,
        (
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: reaction_block, at: [1 h]}\n",
            ),
        ),
    ),
    Example("DF530", STARLET, (("  - quench:", "  - seal:\n  - quench:"),)),
    Example(
        "DF531",
        OT2,
        (
            ("ot2_tempmodule.yaml", "my_ot2.yaml"),
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - seal:\n  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
            ),
        ),
        deck_edits=(
            ("    sealed: true ", "    sealed: false "),
            ("    pressure_rating: 0.2 bar\n", ""),
        ),
        snippet="deck: ../deck_layouts/my_ot2.yaml   # reaction_block: 'sealed: false'\nsteps:\n  - seal:\n",
    ),
    Example(
        "DF532",
        STARLET,
        (("  - quench:", "  - unseal:\n  - quench:"),),
        severity="warning",
    ),
    # DF540-DF542: `diazflow export --to opentrons` (the protocol compiles; the export refuses)
    Example(
        "DF540",
        STARLET,
        command=("export", "--to", "opentrons", "-o", "protocol.py"),
        snippet="deck: ../deck_layouts/starlet_chem.yaml\n"
        "# diazflow export --to opentrons workflows/amination_starlet.yaml -o protocol.py\n",
    ),
    Example(
        "DF541",
        OT2,
        (("deck: ../deck_layouts/ot2_tempmodule.yaml", "deck: ../deck_layouts/my_ot2.yaml"),),
        deck_edits=(
            (
                "factory: cor_96_wellplate_360uL_Fb  # Corning 96-well flat bottom",
                "factory: Thermo_TS_96_wellplate_1200ul_Rb",
            ),
        ),
        command=("export", "--to", "opentrons", "-o", "protocol.py"),
        snippet="# deck_layouts/my_ot2.yaml\n"
        "  sample_plate:\n"
        "    role: samples\n"
        "    factory: Thermo_TS_96_wellplate_1200ul_Rb\n",
    ),
    Example(
        "DF542",
        OT2,
        (
            ("deck: ../deck_layouts/ot2_tempmodule.yaml", "deck: ../deck_layouts/my_ot2.yaml"),
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - stir: {duration: 2-12 h, temperature: 40 degC}\n",
            ),
        ),
        # the example OT-2 deck with a Heater-Shaker (deck_layouts/examples/), moved next to
        # the shipped ones
        deck_base="examples/ot2_heater_shaker",
        deck_edits=(("../../simulators/", "../simulators/"),),
        command=("export", "--to", "opentrons", "-o", "protocol.py"),
        snippet="deck: ../deck_layouts/my_ot2.yaml   # a copy of examples/ot2_heater_shaker.yaml\n"
        "  - stir: {duration: 2-12 h, temperature: 40 degC}\n",
    ),
    # DF543-DF546: `diazflow export --to ord` of the journal of a run of the protocol
    Example(
        "DF543",
        STARLET,
        run=("--inject-fault", "20:connection_lost"),
        command=ORD_EXPORT,
        snippet="# diazflow run workflows/amination_starlet.yaml --journal run.journal.sqlite\n"
        "#   (the robot's connection lost at operation 20: the run fails, exit 3)\n"
        "# diazflow export --to ord run.journal.sqlite -o dataset.pbtxt --creator ...\n",
    ),
    Example(
        "DF544",
        STARLET,
        run=(),
        after_run=(("amount: 50 umol", "amount: 40 umol"),),
        command=ORD_EXPORT,
        snippet="# diazflow run workflows/amination_starlet.yaml --journal run.journal.sqlite\n"
        "# then, before the export, the protocol is edited:\n"
        "scale: {limiting: diazepane, amount: 40 umol, ...}   # was 50 umol in the run\n",
    ),
    Example(
        "DF545",
        STARLET,
        run=(),
        severity="warning",
        command=ORD_EXPORT,
        snippet="# diazflow run workflows/amination_starlet.yaml --journal run.journal.sqlite\n"
        "# diazflow export --to ord run.journal.sqlite -o dataset.pbtxt --creator ...\n"
        "#   (no 'diazflow results' import in between)\n",
    ),
    Example(
        "DF546",
        STARLET,
        run=(),
        severity="warning",
        command=ORD_EXPORT,
        snippet="# diazflow run workflows/amination_starlet.yaml --journal run.journal.sqlite\n"
        "#   (--backend simulate, the default)\n"
        "# diazflow export --to ord run.journal.sqlite -o dataset.pbtxt --creator ...\n",
    ),
    # ------------------------------------------------------------------ DF6xx timing
    Example("DF601", DROPWISE, (("dropwise: 30-60 min", "dropwise: 2-3 min"),)),
    Example(
        "DF602",
        DROPWISE,
        (
            (
                "- add: {reagent: stab, equiv: 1.4}",
                "- add: {reagent: stab, equiv: 1.4, portionwise: {portions: 5, over: 10-15 min}}",
            ),
            ("deck: ../deck_layouts/starlet_chem.yaml", "deck: ../deck_layouts/my_starlet.yaml"),
        ),
        # the shipped STARlet's dispenser is operator-run; this copy's is driven by the robot
        deck_edits=(
            ("    operated_by: operator\n", ""),
            ("../simulators/operator.yaml", "../simulators/powder_dispenser.yaml"),
        ),
        deck_base="starlet_chem",
        deck_name="my_starlet",
    ),
    Example("DF603", DROPWISE, (("- cool: {to: 4 degC}", "- cool: {to: 4 degC, over: 2 min}"),)),
    Example(
        "DF604",
        DROPWISE,
        (
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - stir: {duration: 1-4 h}\n  - sample: {volume: 5 uL, into: sample_plate, at: [5 h]}\n",
            ),
        ),
    ),
    Example(
        "DF604-interval",
        OT2,
        (
            (
                "  - hold: {duration: 2-12 h, temperature: 25 degC}\n",
                "  - hold: {duration: 10 min, temperature: 25 degC}\n  - sample: {volume: 10 uL, into: sample_plate, every: 3 min}\n",
            ),
        ),
    ),
    Example(
        "DF604-dropwise",
        DROPWISE,
        (
            (
                "- add: {reagent: acoh, equiv: 1.0}",
                "- add: {reagent: acoh, equiv: 0.5, dropwise: 10 min}",
            ),
        ),
    ),
    Example(
        "DF605",
        DROPWISE,
        (("  - cool: {to: 4 degC}\n", ""),),
        snippet="  - add_solvent: {solvent: DCE, volume: 40 uL}\n  # (no cool step)\n  - add: {reagent: aldehyde, equiv: 1.05, dropwise: 30-60 min, keep_below: 5 degC}\n",
    ),
    Example(
        "DF606",
        DROPWISE,
        (
            (
                "- add: {reagent: stab, equiv: 1.4}",
                "- add: {reagent: stab, equiv: 1.4, dropwise: 10 min}",
            ),
        ),
    ),
    Example(
        "DF610",
        STARLET,
        (
            (
                "  - add: {reagent: aldehyde, equiv: 1.05}\n",
                "  - wait: {duration: 3 h}\n  - add: {reagent: aldehyde, equiv: 1.05}\n",
            ),
        ),
        severity="warning",
    ),
    Example(
        "DF611",
        STARLET,
        (
            (
                "  - stir: {duration: 1-4 h}\n",
                "  - stir: {duration: 1-4 h}   # the vials stay open\n",
            ),
        ),
        severity="warning",
    ),
    Example(
        "DF612",
        STARLET,
        (
            (
                "  - add: {reagent: acoh, equiv: 1.0}\n",
                "  - add: {reagent: acoh, equiv: 1.0}\n  - place: {reagents: [aldehyde]}\n",
            ),
        ),
    ),
    Example(
        "DF620",
        STARLET,
        severity="warning",
        command=("compile", "--quiet", "--start", "2026-12-07 16:00"),
        snippet='# diazflow compile workflows/amination_starlet.yaml --start "2026-12-07 16:00"  (a Monday)\nsettings:  # the defaults\n  working_hours: "08:00-18:00"\n  working_days: [Mon, Tue, Wed, Thu, Fri]\n',
    ),
    # ------------------------------------------------------------------ DF7xx results
    Example("DF700", STARLET, results_csv=""),
    Example("DF701", STARLET, results_csv="Sample,Yield (%)\nA1,55\n"),
    Example("DF702", STARLET, results_csv="Well,Retention time (min)\nA1,1.42\n", show=("DF703",)),
    Example(
        "DF703",
        STARLET,
        results_csv="Well,Yield (%),Retention time (min)\nA1,55,1.42\n",
        severity="warning",
    ),
    Example("DF704", STARLET, results_csv="Well,Yield (%),yield_pct\nA1,55,55\n"),
    Example("DF705", STARLET, results_csv="Well,Yield (%)\nA1,55\nblank 1,0\n"),
    Example("DF706", STARLET, results_csv="Well,Yield (%)\nA1,55\nI1,40\n"),
    Example("DF707", STARLET, results_csv="Well ID,Yield (%)\nA01,55\nB01,61\nA1,57\n"),
    Example(
        "DF708",
        STARLET,
        results_csv='Well,Conversion (%),Yield (%)\nA1,n.d.,\nB1,95,"71,5"\n',
    ),
    Example("DF709", STARLET, results_csv="Well,Yield (%)\nA1,55\nB1,104.2\n"),
    Example("DF710", STARLET, results_csv="Well,Yield (%),Comment\nA1,55,dark, viscous\n"),
    Example(
        "DF711",
        STARLET,
        results_csv="Well,Yield (%),Comment\nA1,55,\nB1,,\n",
        severity="warning",
    ),
    Example(
        "DF712",
        STARLET,
        results_csv="Well,Yield (%)\nA1,55\n",
        run_args=("--inject-fault", "40:connection_lost"),
        severity="warning",
    ),
]
EXAMPLES += DESIGN_EXAMPLES  # issue 16/20: condition screens by factors, conditions tables


# --------------------------------------------------------------------------- running


def diazflow_command() -> list[str]:
    script = Path(sys.executable).with_name("diazflow.exe" if os.name == "nt" else "diazflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "diazflow.cli"]


def apply(text: str, edits: tuple[tuple[str, str], ...], what: str) -> str:
    for old, new in edits:
        if old not in text:
            raise SystemExit(f"{what}: {old!r} is not in the text")
        text = text.replace(old, new)
    return text


def workspace(root: Path) -> None:
    """deck_layouts/ and simulators/ copied next to workflows/, as in the repository."""
    for name in ("deck_layouts", "simulators"):
        shutil.copytree(REPO / name, root / name)
    (root / "workflows").mkdir()


def in_workflows(text: str) -> str:
    """The base files sit four levels below the repository; in workflows/ the deck is one up."""
    return text.replace("deck: ../../../../deck_layouts/", "deck: ../deck_layouts/")


def validate(
    root: Path,
    relative: str,
    command: tuple[str, ...] = ("validate",),
    ok: tuple[int, ...] = (0, 1),
) -> str:
    env = dict(os.environ, NO_COLOR="1", PYTHONIOENCODING="utf-8", COLUMNS="200")
    proc = subprocess.run(
        [*diazflow_command(), *command, relative],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    if proc.returncode not in ok:
        raise SystemExit(
            f"diazflow {' '.join(command)} {relative} failed ({proc.returncode}):\n{proc.stderr}"
        )
    return proc.stdout


def diagnostics(output: str) -> list[tuple[str, str, str]]:
    """(code, severity, text with its hint line) for each diagnostic printed."""
    out: list[tuple[str, str, str]] = []
    for line in output.splitlines():
        found = re.search(r": (error|warning) (DF\d{3}): ", line)
        if found and not line.startswith(" "):
            out.append((found.group(2), found.group(1), line))
        elif line.startswith("  ") and out:
            code, severity, text = out[-1]
            out[-1] = (code, severity, text + "\n" + line)
    return out


JOURNAL = "run.journal.sqlite"  # where an example's simulated run is journalled (results, ORD)


def run_results(root: Path, relative: str, example: Example) -> str:
    """Run the base protocol (simulated), then ``diazflow results --check`` its journal."""
    run = [*diazflow_command(), "run", "--quiet", "--journal", JOURNAL, *example.run_args, relative]
    proc = subprocess.run(run, cwd=root, capture_output=True, text=True, timeout=300)
    if proc.returncode not in (0, 3):  # 3: a run that failed, as an example may ask for
        raise SystemExit(
            f"{example.id}: {' '.join(run)} failed ({proc.returncode}):\n{proc.stderr}"
        )
    (root / "results.csv").write_text(example.results_csv or "", encoding="utf-8")
    return validate(root, "results.csv", ("results", "--check", JOURNAL))


def run_example(example: Example) -> tuple[str, str]:
    """(YAML snippet, the diagnostics shown) for one example."""
    with tempfile.TemporaryDirectory(prefix="diazflow-example-") as tmp:
        root = Path(tmp)
        workspace(root)
        base = in_workflows((BASES / example.base).read_text(encoding="utf-8"))
        text = apply(base, example.edits, example.id)
        if example.deck_edits:
            deck = root / "deck_layouts" / f"{example.deck_name}.yaml"
            deck.write_text(
                apply(
                    (REPO / "deck_layouts" / f"{example.deck_base}.yaml").read_text(
                        encoding="utf-8"
                    ),
                    example.deck_edits,
                    example.id,
                ),
                encoding="utf-8",
            )
        for name, content in example.files.items():
            (root / "workflows" / name).write_text(content, encoding="utf-8")
        relative = f"workflows/{example.base}"
        (root / relative).write_text(text, encoding="utf-8")
        if example.run is not None:
            # a run that fails (an injected fault) exits 3 and keeps its journal
            validate(root, relative, ("run", "--quiet", "--journal", JOURNAL, *example.run), (0, 3))
            (root / relative).write_text(
                apply(text, example.after_run, example.id), encoding="utf-8"
            )
            output = validate(root, JOURNAL, example.command)
        elif example.results_csv is not None:
            output = run_results(root, relative, example)
        else:
            output = validate(root, relative, example.command)
        for prefix in {
            str(root),
            os.path.realpath(root),
        }:  # absolute paths (deck layouts) do not depend on the scratch directory
            output = output.replace(prefix + os.sep, PROJECT + "/")
        found = diagnostics(output)
    wanted = [d for d in found if d[0] == example.code]
    if not wanted:
        raise SystemExit(
            f"{example.id}: {example.code} was not reported; got {[d[0] for d in found]}"
        )
    if not any(sev == example.severity for _, sev, _ in wanted):
        raise SystemExit(
            f"{example.id}: expected {example.code} as {example.severity}, got {[s for _, s, _ in wanted]}"
        )
    shown = [d[2] for d in found if d[0] == example.code or d[0] in example.show]
    if example.results_csv is not None:
        return example.results_csv, "\n".join(shown)
    return example.snippet or changed_lines(base, text), "\n".join(shown)


def changed_lines(before: str, after: str) -> str:
    """The lines an edit added, each with its parent keys (a step is shown without 'steps:')."""
    old, new = before.splitlines(), after.splitlines()
    added: set[int] = set()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            added.update(range(j1, j2))
    keep = set(added)
    for i in sorted(added):
        indent = _indent(new[i])
        if new[i].lstrip().startswith("- ") and indent <= 2:
            continue
        for j in range(i - 1, -1, -1):
            if new[j].strip() and _indent(new[j]) < indent and not new[j].lstrip().startswith("#"):
                keep.add(j)
                indent = _indent(new[j])
                if indent == 0:
                    break
    return "".join(new[i] + "\n" for i in sorted(keep))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def example_block(example: Example, snippet: str, shown: str) -> str:
    base = f"[`{example.base}`](../tests/data/protocols/examples/{example.base})"
    if example.results_csv is not None:
        return (
            f"<!-- example: {example.id} -->\n"
            f"After a simulated run of {base} "
            f"(`diazflow run --journal {JOURNAL}{''.join(' ' + a for a in example.run_args)}`), "
            f"`diazflow results --check {JOURNAL} results.csv` with this `results.csv`:\n\n"
            f"```csv\n{snippet}```\n\n"
            f"```\n{shown}\n```\n"
            "<!-- /example -->\n"
        )
    return (
        f"<!-- example: {example.id} -->\n"
        f"In {base}:\n\n"
        f"```yaml\n{snippet}```\n\n"
        f"```\n{shown}\n```\n"
        "<!-- /example -->\n"
    )


def rules_block(code: str) -> str:
    import yaml

    data = yaml.safe_load(HAZARDS.read_text(encoding="utf-8"))
    lines = [f"<!-- hazard-rules: {code} -->\n"]
    rules = [r for r in data["rules"] if r["code"] == code]
    if not rules:
        raise SystemExit(f"no rule in hazards.yaml has code {code}")
    lines.append("| rule (id in hazards.yaml) | hazard | why |\n|---|---|---|\n")
    for rule in rules:
        why = " ".join(str(rule["why"]).split()).replace("|", "\\|")
        lines.append(f"| `{rule['id']}` | {rule['title']} | {why} |\n")
    lines.append("<!-- /hazard-rules -->\n")
    return "".join(lines)


def generate(ids: list[str]) -> dict[str, str]:
    selected = [e for e in EXAMPLES if not ids or any(e.id == i or e.id.startswith(i) for i in ids)]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(run_example, selected))
    return {
        e.id: example_block(e, snippet, shown)
        for e, (snippet, shown) in zip(selected, results, strict=False)
    }


def rewrite(doc: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """The page with every generated block replaced; and the example ids without a marker."""
    used: set[str] = set()

    def example(match: re.Match) -> str:
        ident = match.group(1)
        if ident not in blocks:
            known = {e.id for e in EXAMPLES}
            if ident not in known:
                raise SystemExit(f"docs/diagnostics.md has a marker for unknown example '{ident}'")
            return match.group(0)
        used.add(ident)
        return blocks[ident]

    doc = EXAMPLE_BEGIN.sub(example, doc)
    doc = RULES_BEGIN.sub(lambda m: rules_block(m.group(1)), doc)
    return doc, sorted(set(blocks) - used)


def registry_problems() -> list[str]:
    """Examples and the code registry agree: each DF3xx-DF6xx code has one, each names a code."""
    from diazflow.errorcodes import REGISTRY

    shown = {example.code for example in EXAMPLES}
    problems = [
        f"example {e.id} names no registered code" for e in EXAMPLES if e.code not in REGISTRY
    ]
    problems += [
        f"{code} is registered but has no example"
        for code in sorted(REGISTRY)
        if code[2] in "34567" and code not in shown
    ]
    return problems


def main() -> int:
    problems = registry_problems()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="example ids or prefixes (default: all)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--write", action="store_true", help="rewrite the generated blocks in docs/diagnostics.md"
    )
    group.add_argument(
        "--check", action="store_true", help="exit 1 if docs/diagnostics.md is out of date"
    )
    args = parser.parse_args()
    blocks = generate(args.ids)
    if not (args.write or args.check):
        for block in blocks.values():
            print(block)
        return 0
    doc = DOC.read_text(encoding="utf-8")
    new, missing = rewrite(doc, blocks)
    for ident in missing:
        print(
            f"warning: no '<!-- example: {ident} -->' marker in docs/diagnostics.md",
            file=sys.stderr,
        )
    if args.check:
        if new != doc:
            print(
                "docs/diagnostics.md is out of date: run python scripts/diagnostic_examples.py --write",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != doc:
        DOC.write_text(new, encoding="utf-8")
        print(f"rewrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
