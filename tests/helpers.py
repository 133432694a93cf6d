"""Shared helpers for tests that build protocols from text and run them through the pipeline."""

from __future__ import annotations

import os
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
        text = text.replace("{deck:%s}" % deck, str(DECKS / f"{deck}.yaml"))
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
