"""SMILES → formula and molecular weight with RDKit, parsed strictly.

RDKit's default parser treats text after a space as the molecule's name, so ``"CCO junk!!"`` would
quietly be ethanol; we turn name parsing and CXSMILES off so that is an error.  RDKit reports
problems on its log instead of raising: we capture the log to put its reason in the diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Molecule:
    smiles: str
    canonical_smiles: str
    formula: str
    mw: float  # g/mol, average masses


class SmilesError(ValueError):
    pass


MAX_SMILES_CHARS = 4000  # language.models.MAX_TEXT_CHARS: what a protocol can hold


@lru_cache(maxsize=1)
def _parser():
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    params = Chem.SmilesParserParams()
    params.parseName = False
    params.allowCXSMILES = False
    return Chem, params


@lru_cache(maxsize=4096)
def rdkit_molecule(text: str) -> Any | None:
    """RDKit's molecule for a stripped SMILES, parsed strictly, once per process; ``None`` when
    RDKit refuses it or it is longer than :data:`MAX_SMILES_CHARS` (RDKit takes quadratic time on
    long SMILES and crashed on a 20,000-character one).  Callers only read the molecule."""
    if not text or len(text) > MAX_SMILES_CHARS:
        return None
    Chem, params = _parser()
    from rdkit import rdBase

    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(text, params)


@lru_cache(maxsize=4096)
def parse_smiles(smiles: str) -> Molecule:
    """A :class:`Molecule`, or :class:`SmilesError` with RDKit's reason."""
    Chem, _ = _parser()
    from rdkit.Chem import rdMolDescriptors  # not Descriptors: it imports 15 ms of Python

    text = smiles.strip()
    if not text:
        raise SmilesError("empty SMILES")
    if len(text) > MAX_SMILES_CHARS:
        raise SmilesError(f"{len(text)} characters: longer than {MAX_SMILES_CHARS}")
    mol = rdkit_molecule(text)
    if mol is None:
        reason = _reason(text, Chem)
        raise SmilesError(reason)
    return Molecule(
        smiles=text,
        canonical_smiles=Chem.MolToSmiles(mol),
        formula=rdMolDescriptors.CalcMolFormula(mol),
        mw=float(rdMolDescriptors._CalcMolWt(mol)),  # what Descriptors.MolWt calls
    )


def _reason(text: str, Chem) -> str:
    """Ask RDKit once more, with its error log captured, for why the SMILES failed."""
    from rdkit import RDLogger, rdBase

    if " " in text:
        return "contains a space (a SMILES has no spaces; put the name under 'name:')"
    RDLogger.EnableLog("rdApp.error")
    try:
        with rdBase.CaptureErrorLog() as cap:
            params = Chem.SmilesParserParams()
            params.parseName = False
            params.allowCXSMILES = False
            Chem.MolFromSmiles(text, params)
        log = str(getattr(cap, "messages", "") or "")
    finally:
        RDLogger.DisableLog("rdApp.*")
    for line in log.splitlines():
        line = line.split("] ", 1)[-1].strip()
        if line.startswith("SMILES Parse Error:"):
            line = line[len("SMILES Parse Error:") :].strip()
        if (
            line
            and not line.startswith("check for mistakes")
            and "~" not in line
            and not line.startswith("Failed parsing")
        ):
            return line
    return "RDKit cannot parse it"
