"""Shared helpers for tests that build protocols from text and run them through the pipeline."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DECKS = REPO / "deck_layouts"
WORKFLOWS = REPO / "workflows"

ALDEHYDES_12 = [
    ("benzaldehyde", "O=Cc1ccccc1"),
    ("4-fluorobenzaldehyde", "O=Cc1ccc(F)cc1"),
    ("4-chlorobenzaldehyde", "O=Cc1ccc(Cl)cc1"),
    ("4-bromobenzaldehyde", "O=Cc1ccc(Br)cc1"),
    ("4-methylbenzaldehyde", "O=Cc1ccc(C)cc1"),
    ("4-methoxybenzaldehyde", "O=Cc1ccc(OC)cc1"),
    ("thiophene-2-carboxaldehyde", "O=Cc1cccs1"),
    ("furfural", "O=Cc1ccco1"),
    ("cyclohexanecarboxaldehyde", "O=CC1CCCCC1"),
    ("isobutyraldehyde", "CC(C)C=O"),
    ("pyridine-3-carboxaldehyde", "O=Cc1cccnc1"),
    ("2-naphthaldehyde", "O=Cc1ccc2ccccc2c1"),
]


def inline_library(items: list[tuple[str, str]], by: str = "column") -> str:
    rows = ", ".join(f'{{name: "{n}", smiles: "{s}"}}' for n, s in items)
    return f"{{by: {by}, items: [{rows}]}}"


def write_protocol(tmp_path: Path, body: str, name: str = "protocol.yaml") -> Path:
    """Write a protocol; ``{deck:NAME}`` in the text becomes the absolute path of a shipped deck."""
    text = textwrap.dedent(body)
    for deck in ("starlet_chem", "ot2_tempmodule", "evo150_chem"):
        text = text.replace(f"{{deck:{deck}}}", str(DECKS / f"{deck}.yaml"))
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def codes(result) -> list[str]:
    return [d.code for d in result.diagnostics]


def error_codes(result) -> list[str]:
    return [d.code for d in result.diagnostics if d.is_error]


def line_of(path: os.PathLike, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (so tests do not hard-code numbers)."""
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


ACOH_NEAT = "  acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}\n"
ACOH_STOCK = "  acoh:\n    name: acetic acid\n    smiles: CC(=O)O\n    stock: {concentration: 2.0 M, solvent: DCE}\n"
NAHCO3_FLOW = "  nahco3: {name: saturated aqueous sodium bicarbonate, stock: {solvent: water}}\n"
NAHCO3_BLOCK = (
    "  nahco3:\n    name: saturated aqueous sodium bicarbonate\n    stock: {solvent: water}\n"
)


def method_a_protocol(
    name: str, steps: str, *, header: str = "", acoh: str = ACOH_NEAT, nahco3: str = NAHCO3_FLOW
) -> str:
    """Seed note 000 Method A (STAB reductive amination) on the STARlet with 12 aldehydes by column.

    The reagents are shared by the compiler, check and report tests; each test brings its own
    steps (and the acetic acid as neat liquid or stock).  ``{deck:...}`` is filled in by
    :func:`write_protocol`.
    """
    return (
        "diazflow: 1\n"
        f"name: {name}\n" + header + "deck: {deck:starlet_chem}\n"
        "vessels: {labware: reaction_block, wells: A1:H12}\n"
        "scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: DCE}\n"
        "reagents:\n"
        "  diazepane:\n"
        "    name: 1-methyl-1,4-diazepane\n"
        "    smiles: CN1CCCNCC1\n"
        "    stock: {concentration: 1.0 M, solvent: DCE}\n"
        "  aldehyde:\n"
        "    library: aldehydes\n"
        "    stock: {concentration: 0.5 M, solvent: DCE}\n" + acoh + "  stab:\n"
        "    name: sodium triacetoxyborohydride\n"
        '    smiles: "[Na+].CC(=O)O[BH-](OC(C)=O)OC(C)=O"\n'
        "    solid: {dispense: powder}\n" + nahco3 + "libraries:\n"
        f"  aldehydes: {inline_library(ALDEHYDES_12)}\n"
        "steps:\n" + steps
    )


def journal_rows(journal: Path | str) -> tuple[list[tuple], list[tuple]]:
    """A run journal's events and device records, without the wall-clock column and the
    ``run_started`` event (it holds the process id): what two equivalent runs share row by row."""
    with contextlib.closing(sqlite3.connect(journal)) as conn:
        events = conn.execute(
            "SELECT seq, op_id, event, clock_t, data FROM events"
            " WHERE event != 'run_started' ORDER BY seq"
        ).fetchall()
        records = conn.execute(
            "SELECT seq, op_id, action, device, kind, clock_t, data FROM device_log ORDER BY seq"
        ).fetchall()
    return events, records
