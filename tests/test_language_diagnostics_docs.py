"""Every diagnostic code that the source can emit is documented in docs/diagnostics.md.

A code counts as documented when the page has a ``### DFnnn`` heading for it.  Codes are collected
from every ``DFnnn`` in the package's Python files and data files (hazard rules live in YAML).
"""

from __future__ import annotations

import re

import pytest

from conftest import REPO

SRC = REPO / "src" / "diazflow"
DOC = REPO / "docs" / "diagnostics.md"
CODE = re.compile(r"\bDF\d{3}\b")
HEADING = re.compile(r"^###\s+(DF\d{3})\b", re.MULTILINE)


def emitted_codes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in {".py", ".yaml", ".yml", ".json"} or "__pycache__" in path.parts:
            continue
        for code in set(CODE.findall(path.read_text(encoding="utf-8", errors="replace"))):
            found.setdefault(code, []).append(str(path.relative_to(REPO)))
    return found


def documented_codes() -> set[str]:
    return set(HEADING.findall(DOC.read_text(encoding="utf-8")))


EMITTED = emitted_codes()


def test_the_language_codes_are_found():
    assert {"DF101", "DF102", "DF103", "DF201", "DF206"} <= set(EMITTED)


@pytest.mark.parametrize("code", sorted(EMITTED))
def test_emitted_code_is_documented(code):
    assert code in documented_codes(), (
        f"{code} (used in {', '.join(EMITTED[code])}) has no '### {code}' entry in docs/diagnostics.md"
    )


def test_documented_language_codes_are_still_emitted():
    stale = sorted(c for c in documented_codes() if c[:3] in ("DF1", "DF2") and c not in EMITTED)
    assert not stale, f"documented but no longer emitted: {stale}"


def test_each_code_is_documented_once():
    headings = HEADING.findall(DOC.read_text(encoding="utf-8"))
    assert len(headings) == len(set(headings)), sorted(c for c in headings if headings.count(c) > 1)


def test_family_sections_exist():
    text = DOC.read_text(encoding="utf-8")
    for family in ("DF1xx", "DF2xx", "DF3xx", "DF4xx", "DF5xx", "DF6xx"):
        assert re.search(rf"^## {family}\b", text, re.MULTILINE), family
