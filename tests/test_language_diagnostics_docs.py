"""The registry of diagnostic codes, the source and docs/diagnostics.md agree.

* every registered code has one ``### DFnnn — summary`` heading, with the registry's summary;
* every heading names a registered code;
* every code the source names (``codes.DFnnn``, a ``"DFnnn"`` string, a hazard rule's ``code:``,
  a ``DFnnn`` in a comment) is registered;
* no module passes a code as a string literal: call sites pass ``codes.DFnnn``.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize

import pytest

from conftest import REPO
from diazflow import errorcodes as codes
from diazflow.diagnostics import Diagnostic, Position, Reporter, Severity, has_errors

SRC = REPO / "src" / "diazflow"
DOC = REPO / "docs" / "diagnostics.md"
CODE = re.compile(r"\bDF\d{3}\b")
CODE_OBJECT = re.compile(r"\bcodes\.(DF\d{3})\b")
STRING_LITERAL = re.compile(r"""[rRuU]?(["'])(DF\d{3})\1""")
HEADING = re.compile(r"^###\s+(DF\d{3})\s+—\s+(.+?)\s*$", re.MULTILINE)


def _source_files():
    for path in sorted(SRC.rglob("*")):
        if path.suffix in {".py", ".yaml", ".yml", ".json"} and "__pycache__" not in path.parts:
            yield path, path.read_text(encoding="utf-8", errors="replace")


def named_codes() -> dict[str, list[str]]:
    """Every DFnnn in the package (code, strings, comments, data) outside the registry itself."""
    found: dict[str, list[str]] = {}
    for path, text in _source_files():
        if path.name == "errorcodes.py":
            continue
        for code in set(CODE.findall(text)):
            found.setdefault(code, []).append(str(path.relative_to(REPO)))
    return found


def string_literal_codes(text: str) -> set[str]:
    """Codes written as a whole Python string literal (``"DF511"``), not inside a docstring."""
    found = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.STRING:
            match = STRING_LITERAL.fullmatch(token.string)
            if match:
                found.add(match.group(2))
    return found


def documented() -> list[tuple[str, str]]:
    return HEADING.findall(DOC.read_text(encoding="utf-8"))


NAMED = named_codes()


def test_the_registry_holds_every_family():
    families = {code.code[:3] for code in codes.REGISTRY.values()}
    assert families == {"DF0", "DF1", "DF2", "DF3", "DF4", "DF5", "DF6", "DF7"}
    assert codes.DF511.code == "DF511" and str(codes.DF511) == "DF511"
    assert codes.DF511.stage is codes.Stage.COMPILER
    assert codes.DF403.default_severity is Severity.WARNING


@pytest.mark.parametrize("code", sorted(codes.REGISTRY))
def test_registered_code_is_documented_with_its_summary(code):
    headings = dict(documented())
    assert code in headings, f"{code} is registered but has no '### {code} — ...' heading"
    assert headings[code] == codes.REGISTRY[code].summary, (
        f"the heading of {code} in docs/diagnostics.md and its summary in errorcodes.py differ"
    )


def test_documented_codes_are_registered():
    stale = sorted(code for code, _ in documented() if code not in codes.REGISTRY)
    assert not stale, f"documented but not registered: {stale}"


def test_each_code_is_documented_once():
    headings = [code for code, _ in documented()]
    assert len(headings) == len(set(headings)), sorted(c for c in headings if headings.count(c) > 1)


@pytest.mark.parametrize("code", sorted(NAMED))
def test_code_named_in_the_source_is_registered(code):
    assert code in codes.REGISTRY, f"{code} (in {', '.join(NAMED[code])}) is not in errorcodes.py"


def test_registered_codes_are_used():
    unused = sorted(set(codes.REGISTRY) - set(NAMED))
    assert not unused, f"registered but named nowhere in src/: {unused}"


def test_no_module_passes_string_codes():
    offenders = {}
    for path, text in _source_files():
        relative = str(path.relative_to(REPO))
        if path.suffix != ".py" or path.name == "errorcodes.py":
            continue
        literals = sorted(string_literal_codes(text))
        if literals:
            offenders[relative] = literals
    assert not offenders, f"pass codes.DFnnn, not the string: {offenders}"


def test_code_objects_named_in_the_source_exist():
    # ``codes.DF999`` inside a function fails only when that line runs: check them all now
    missing = {}
    for path, text in _source_files():
        for code in set(CODE_OBJECT.findall(text)):
            if not hasattr(codes, code):
                missing.setdefault(code, []).append(str(path.relative_to(REPO)))
    assert not missing, missing


def test_every_chemistry_deck_and_timing_code_has_a_generated_example():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "diagnostic_examples", REPO / "scripts" / "diagnostic_examples.py"
    )
    assert spec and spec.loader
    examples = importlib.util.module_from_spec(spec)
    sys.modules["diagnostic_examples"] = examples  # dataclasses look their module up
    spec.loader.exec_module(examples)
    assert examples.registry_problems() == []


def test_family_sections_exist():
    text = DOC.read_text(encoding="utf-8")
    for family in ("DF1xx", "DF2xx", "DF3xx", "DF4xx", "DF5xx", "DF6xx"):
        assert re.search(rf"^## {family}\b", text, re.MULTILINE), family


# --------------------------------------------------------------------------- Diagnostic, Reporter


def test_a_diagnostic_keeps_the_code_string():
    d = Diagnostic("f.yaml", 1, 2, "DF511", Severity.ERROR, "m")
    assert d.code == "DF511" and type(d.code) is str
    assert d.to_dict()["code"] == "DF511"


def test_a_diagnostic_refuses_an_unregistered_code():
    with pytest.raises(ValueError, match="DF999"):
        Diagnostic("f.yaml", 1, 2, "DF999", Severity.ERROR, "m")


class _Positions:
    def position(self, path: tuple, *, key: bool = False) -> tuple[int, int]:
        return (len(path), 3 if key else 7)


def test_the_reporter_locates_paths_and_positions():
    reporter = Reporter("p.yaml", _Positions())
    reporter.error(("steps", 2), codes.DF511, "no module", "add one")
    reporter.warn(("steps",), codes.DF308, "unknown solvent", key=True)
    reporter.error(Position(9, 1), "DF118", "bad row")
    assert [(d.line, d.column, d.code, d.severity) for d in reporter.diagnostics] == [
        (2, 7, "DF511", Severity.ERROR),
        (1, 3, "DF308", Severity.WARNING),
        (9, 1, "DF118", Severity.ERROR),
    ]
    assert reporter.has_errors
    assert reporter.diagnostics[0].hint == "add one"


def test_report_takes_the_codes_default_severity():
    reporter = Reporter("p.yaml")
    assert reporter.report((), codes.DF306, "slow").severity is Severity.WARNING
    assert reporter.report((), codes.DF300, "bad").severity is Severity.ERROR
    assert (reporter.diagnostics[0].line, reporter.diagnostics[0].column) == (0, 0)


def test_a_reporter_for_another_file_shares_the_findings():
    reporter = Reporter("p.yaml")
    deck = reporter.for_file("deck.yaml")
    mark = reporter.count()
    deck.error((), codes.DF500, "bad deck")
    assert [d.file for d in reporter.diagnostics] == ["deck.yaml"]
    assert reporter.errors_since(mark) and has_errors(reporter.sorted())
