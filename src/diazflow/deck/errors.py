"""Errors of deck layouts and simulator profiles, reported as DF5xx diagnostics.

Codes used here (documented in docs/deck-layouts.md):

* ``DF500`` the layout (or a profile it names) is not valid: YAML syntax, schema, units, references;
* ``DF501`` a PyLabRobot factory or class name that does not exist.

DF510 and above are reserved for checks of a protocol against a deck.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from diazflow import errorcodes as codes
from diazflow.diagnostics import Diagnostic, DiagnosticsError, did_you_mean
from diazflow.language.source import SourceDocument
from diazflow.language.validation_errors import TYPE_WORDS as _TYPE_WORDS
from diazflow.language.validation_errors import describe_value as _describe
from diazflow.language.validation_errors import source_path as _source_path


class DeckLayoutError(DiagnosticsError):
    """A deck layout (or one of its simulator profiles) cannot be used; carries every diagnostic."""


# --------------------------------------------------------------------------- pydantic → diagnostics


def validation_diagnostics(
    source: SourceDocument, errors: Sequence[Mapping[str, Any]], field_names: Iterable[str]
) -> list[Diagnostic]:
    """Turn ``ValidationError.errors()`` into DF500 diagnostics at the offending YAML position."""
    names = sorted(set(field_names))
    out: list[Diagnostic] = []
    for err in errors:
        kind = err["type"]
        loc = tuple(err.get("loc", ()))
        path = _source_path(source, loc)
        value = err.get("input")
        where = ".".join(str(p) for p in path if not isinstance(p, int)) or "the layout"
        if kind == "extra_forbidden":
            key = loc[-1] if loc else "?"
            close = did_you_mean(str(key), names)
            parent = (
                ".".join(str(p) for p in path[:-1] if not isinstance(p, int)) or "the top level"
            )
            hint = (
                f"did you mean '{close}'?"
                if close
                else "remove it; docs/deck-layouts.md lists the keys allowed here"
            )
            out.append(
                source.diagnostic(
                    path, codes.DF500, f"unknown key '{key}' in {parent}", hint, key=True
                )
            )
        elif kind == "missing":
            key = loc[-1] if loc else "?"
            out.append(
                source.diagnostic(
                    path, codes.DF500, f"missing key '{key}' in {where}", f"add '{key}: ...'"
                )
            )
        elif kind == "literal_error":
            expected = str((err.get("ctx") or {}).get("expected", ""))
            choices = [
                c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",") if c.strip()
            ]
            close = did_you_mean(str(value), choices) if isinstance(value, str) else None
            choice_hint = f"did you mean '{close}'?" if close else None
            out.append(
                source.diagnostic(
                    path,
                    codes.DF500,
                    f"{where}: {_describe(value)} is not allowed; expected {expected}",
                    choice_hint,
                )
            )
        elif kind == "string_pattern_mismatch":
            out.append(
                source.diagnostic(
                    path,
                    codes.DF500,
                    f"{where}: {_describe(value)} is not a valid name",
                    "names are letters, digits and '_', starting with a letter",
                )
            )
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            out.append(
                source.diagnostic(
                    path, codes.DF500, f"{where}: {err['msg'].lower()} (got {_describe(value)})"
                )
            )
        elif kind in ("too_short", "too_long"):
            out.append(source.diagnostic(path, codes.DF500, f"{where}: {err['msg'].lower()}"))
        elif kind == "value_error":
            message = str(err.get("msg", "")).removeprefix("Value error, ")
            out.append(source.diagnostic(path, codes.DF500, f"{where}: {message}"))
        elif kind in _TYPE_WORDS:
            hint = None
            if isinstance(value, bool) and _TYPE_WORDS[kind] == "a string":
                hint = "YAML reads yes/no/on/off as booleans: quote the text"
            elif value is None:
                hint = "the value is empty; write it after the colon"
            out.append(
                source.diagnostic(
                    path,
                    codes.DF500,
                    f"{where}: expected {_TYPE_WORDS[kind]}, got {_describe(value)}",
                    hint,
                )
            )
        else:
            out.append(source.diagnostic(path, codes.DF500, f"{where}: {err['msg']}"))
    # a union reports one error per branch at the same place: keep the first per position
    seen: set[tuple[int, int]] = set()
    kept = []
    for d in out:
        if (d.line, d.column) in seen:
            continue
        seen.add((d.line, d.column))
        kept.append(d)
    return kept


def model_field_names(*models: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for model in models:
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return names
