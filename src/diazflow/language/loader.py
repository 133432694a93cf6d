"""Load a protocol file: YAML with positions → pydantic models → cross-reference checks.

The result is a :class:`LoadedProtocol` (immutable) plus every diagnostic found; nothing here
raises for bad input.  Later stages (chemistry, deck, compiler) take a ``LoadedProtocol``.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Tag, ValidationError
from pydantic_core import PydanticCustomError

from diazflow import errorcodes as codes
from diazflow.diagnostics import (
    Diagnostic,
    Position,
    Reporter,
    Severity,
    did_you_mean,
    listing,
    sort_unique,
)
from diazflow.errorcodes import ErrorCode
from diazflow.language import models as m
from diazflow.language.design import LoadedDesign, expand_design, factor_steps_without_design
from diazflow.language.quantities import Dimension, Quantity, QuantityError, parse_quantity
from diazflow.language.source import (
    HasNul,
    NotUtf8,
    SourceDocument,
    TooLarge,
    Unreadable,
    YamlSourceError,
    load_yaml_file,
    read_text_file,
)
from diazflow.language.validation_errors import TYPE_WORDS as _TYPE_WORDS
from diazflow.language.validation_errors import describe_value as _describe
from diazflow.language.validation_errors import source_path as _source_path
from diazflow.language.wells import Well, WellError, parse_well, row_letter


@dataclass(frozen=True)
class LibraryMember:
    """One building block of a library, as placed in one reaction well."""

    name: str
    smiles: str | None
    mw: float | None
    equiv: Any  # Quantity | QuantityRange | None: per-well override of the step's equiv
    origin: tuple[str, int, int]  # (file, line, column) where the member was written
    concentration: Quantity | None = None  # this member's stock concentration (M or mg/mL)


@dataclass(frozen=True)
class LoadedLibrary:
    name: str
    by: str
    members: Mapping[Well, LibraryMember]  # reaction well → member
    source_file: str | None  # CSV path, when the library came from a file


@dataclass(frozen=True)
class LoadedProtocol:
    path: str  # as given by the user (used in diagnostics)
    directory: str  # where relative paths (deck, CSV) are resolved from
    source: SourceDocument
    protocol: m.Protocol
    libraries: Mapping[str, LoadedLibrary] = field(default_factory=dict)
    design: LoadedDesign | None = None
    """A design's conditions by well (docs/language.md "Designs"); ``source`` then holds the
    expanded steps, each positioned at the step of the file it came from."""

    def diagnostic(
        self,
        path: tuple,
        code: ErrorCode | str,
        message: str,
        hint: str | None = None,
        *,
        severity: Severity = Severity.ERROR,
        key: bool = False,
    ) -> Diagnostic:
        return self.source.diagnostic(path, code, message, hint, severity=severity, key=key)

    def reporter(self) -> Reporter:
        """A reporter that places findings in this protocol's file."""
        return Reporter(self.source.filename, self.source)

    def step_path(self, index: int, *rest: Any) -> tuple:
        kind = m.step_kind(self.protocol.steps[index])
        return ("steps", index, kind) + tuple(rest)

    def step_line(self, index: int) -> int:
        return self.source.position(("steps", index), key=False)[0]

    @property
    def reaction_wells(self) -> tuple[Well, ...]:
        return self.protocol.vessels.wells


@dataclass(frozen=True)
class LoadResult:
    loaded: LoadedProtocol | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.loaded is not None and not any(d.is_error for d in self.diagnostics)


# --------------------------------------------------------------------------- pydantic → diagnostics


def _all_field_names() -> list[str]:
    names: set[str] = set()
    models: list[type[BaseModel]] = [
        m.Protocol,
        m.Vessels,
        m.Scale,
        m.Stock,
        m.Solid,
        m.Reagent,
        m.LibraryItem,
        m.Library,
        m.Settings,
        m.PortionwiseSpec,
        m.OffdeckParams,
        m.StageParams,
    ]
    for model in models:
        names.update(model.model_fields)
    for step_model in m.STEP_MODELS.values():
        names.update(step_model.model_fields)
        params = step_model.model_fields[next(iter(step_model.model_fields))].annotation
        if isinstance(params, type) and issubclass(params, BaseModel):
            names.update(params.model_fields)
    names.update(m.AddParams.model_fields, m.QuenchParams.model_fields, m.SampleParams.model_fields)
    return sorted(names)


_FIELD_NAMES = _all_field_names()


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _union_label(tp: Any) -> set[str]:
    """The names pydantic uses in an error's ``loc`` for one member of a union."""
    labels: set[str] = set()
    if typing.get_origin(tp) is typing.Annotated:
        for meta in typing.get_args(tp)[1:]:
            if isinstance(meta, Tag):
                labels.add(meta.tag)
    inner = _unwrap(tp)
    if isinstance(inner, type):
        labels.add(inner.__name__)
    else:
        labels.add(
            str(inner)
            .replace("typing.", "")
            .replace(" ", "")
            .replace("diazflow.language.models.", "")
        )
    return labels


def _allowed_keys(loc: tuple) -> set[str] | None:
    """The keys of the model at a pydantic ``loc`` (so 'did you mean' suggests a key that is
    allowed *there*), or None when the location cannot be resolved."""
    tp: Any = m.Protocol
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field_info = tp.model_fields.get(part) if isinstance(part, str) else None
            if field_info is None:
                return None
            tp = field_info.annotation
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            labelled = [a for a in members if part in _union_label(a)]
            if labelled:
                tp = labelled[0]
                continue
            models = [
                a
                for a in members
                if isinstance(_unwrap(a), type) and issubclass(_unwrap(a), BaseModel)
            ]
            if len(models) == 1:  # Optional[Model]: pydantic adds no label
                tp = _unwrap(models[0])
                tp = _descend_model(tp, part)
                if tp is None:
                    return None
                continue
            return None
        if origin in (list, tuple):
            tp = typing.get_args(tp)[0]
            continue
        if origin is dict:
            tp = typing.get_args(tp)[1]
            continue
        return None
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        models = [
            _unwrap(a)
            for a in typing.get_args(tp)
            if isinstance(_unwrap(a), type) and issubclass(_unwrap(a), BaseModel)
        ]
        tp = models[0] if len(models) == 1 else None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return set(tp.model_fields)
    return None


def _descend_model(model: type[BaseModel], part: Any) -> Any:
    info = model.model_fields.get(part) if isinstance(part, str) else None
    return None if info is None else info.annotation


def _yaml_trap_hint(value: Any, expected: str) -> str | None:
    if isinstance(value, bool) and expected == "a string":
        return 'YAML 1.1 reads yes/no/on/off as booleans: quote the text, e.g. "NO"'
    if isinstance(value, (int, float)) and not isinstance(value, bool) and expected == "a string":
        return "quote the text"
    if value is None:
        return "the value is empty; write it after the colon"
    return None


def _custom_error_diagnostic(
    source: SourceDocument, kind: str, path: tuple, value: Any, err: Mapping[str, Any]
) -> Diagnostic:
    """A PydanticCustomError raised by the models with a DFnnn code as its type."""
    ctx = err.get("ctx") or {}
    message = err["msg"]
    hint = ctx.get("hint") or None
    if kind == codes.DF115.code and isinstance(value, dict) and len(value) > 1:
        message = f"a step must have exactly one kind, got {', '.join(map(str, value))}"
        hint = "split it into separate steps, one per list item"
    elif kind == codes.DF115.code and isinstance(value, dict) and len(value) == 1:
        tag = str(next(iter(value)))
        close = did_you_mean(tag, m.STEP_MODELS, cutoff=0.5)
        hint = f"did you mean '{close}'?" if close else "step kinds: " + ", ".join(m.STEP_MODELS)
        return source.diagnostic(path + (tag,), kind, f"unknown step kind '{tag}'", hint, key=True)
    # a check of a whole mapping (exactly-one-of, a reagent's form) points at the mapping's key
    return source.diagnostic(path, kind, message, hint, key=isinstance(value, dict))


def _unknown_key_diagnostic(source: SourceDocument, loc: tuple, path: tuple) -> Diagnostic:
    key = loc[-1] if loc else "?"
    allowed = _allowed_keys(loc[:-1])
    close = did_you_mean(str(key), sorted(allowed) if allowed else _FIELD_NAMES)
    if close and close != key:
        hint = f"did you mean '{close}'?"
    elif allowed:
        hint = "allowed here: " + ", ".join(sorted(allowed))
    else:
        hint = "remove it; see `diazflow schema` for the keys allowed here"
    parent = ".".join(str(p) for p in path[:-1] if not isinstance(p, int)) or "the protocol"
    return source.diagnostic(path, codes.DF101, f"unknown key '{key}' in {parent}", hint, key=True)


def _error_to_diagnostic(source: SourceDocument, err: Mapping[str, Any]) -> Diagnostic:
    kind = err["type"]
    loc = tuple(err.get("loc", ()))
    path = _source_path(source, loc)
    value = err.get("input")
    ctx = err.get("ctx") or {}
    where = ".".join(str(p) for p in path if not isinstance(p, int)) or "document"
    if kind.startswith("DF"):
        return _custom_error_diagnostic(source, kind, path, value, err)
    if kind == "extra_forbidden":
        return _unknown_key_diagnostic(source, loc, path)
    if kind == "missing":
        key = loc[-1] if loc else "?"
        # at the key of the mapping that lacks it (``scale:``), not at its first child
        return source.diagnostic(
            path, codes.DF102, f"missing key '{key}' in {where}", f"add '{key}: ...'", key=True
        )
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", "?")
        close = did_you_mean(str(tag), m.STEP_MODELS, cutoff=0.5)
        hint = f"did you mean '{close}'?" if close else "step kinds: " + ", ".join(m.STEP_MODELS)
        return source.diagnostic(
            path + (tag,) if path + (tag,) in source.key_positions else path,
            codes.DF115,
            f"unknown step kind '{tag}'",
            hint,
            key=True,
        )
    if kind == "literal_error":
        if path == ("diazflow",):
            shown = (
                value
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else _describe(value)
            )
            return source.diagnostic(
                path,
                codes.DF107,
                f"unsupported language version {shown}",
                f"this diazflow reads version {m.LANGUAGE_VERSION}: 'diazflow: {m.LANGUAGE_VERSION}'",
            )
        return source.diagnostic(
            path,
            codes.DF103,
            f"{where}: {_describe(value)} is not allowed; expected {ctx.get('expected', '')}",
            None,
        )
    if kind in ("too_short",):
        return source.diagnostic(path, codes.DF102, f"{where} must not be empty", None)
    if kind in ("string_pattern_mismatch",):
        return source.diagnostic(
            path,
            codes.DF103,
            f"{where}: {_describe(value)} is not a valid name",
            "names are letters, digits, '_' or '-', starting with a letter",
        )
    if kind in ("string_too_long", "string_too_short"):
        return source.diagnostic(path, codes.DF103, f"{where}: {err['msg'].lower()}", None)
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return source.diagnostic(
            path, codes.DF205, f"{where}: {err['msg'].lower()} (got {_describe(value)})", None
        )
    expected = _TYPE_WORDS.get(kind)
    if expected:
        return source.diagnostic(
            path,
            codes.DF103,
            f"{where}: expected {expected}, got {_describe(value)}",
            _yaml_trap_hint(value, expected),
        )
    return source.diagnostic(path, codes.DF103, f"{where}: {err['msg']}", None)


def _validation_diagnostics(source: SourceDocument, exc: ValidationError) -> list[Diagnostic]:
    errors = exc.errors(include_url=False)
    found = [
        (_source_path(source, e.get("loc", ())), e["type"], _error_to_diagnostic(source, e))
        for e in errors
    ]
    # A union (offdeck: text | mapping; library items: list | mapping) reports one error per
    # branch.  Keep the most specific: an error inside a value beats "wrong type" for the value
    # itself, a DF code or an unknown key beats a generic type error at the same place, and
    # several "expected X" for one value become one "expected X or Y".
    paths = [path for path, _, _ in found]
    kept: list[tuple[tuple, str, Diagnostic]] = []
    for path, kind, d in found:
        if kind in _TYPE_WORDS and any(
            len(q) > len(path) and q[: len(path)] == path for q in paths
        ):
            continue
        kept.append((path, kind, d))
    by_place: dict[tuple, list[tuple[tuple, str, Diagnostic]]] = {}
    for item in kept:
        by_place.setdefault(item[0], []).append(item)
    out: list[Diagnostic] = []
    for group in by_place.values():
        specific = [d for _, _, d in group if d.code != codes.DF103.code]
        if specific:
            out.extend(specific)
            continue
        type_errors = [(path, kind, d) for path, kind, d in group if kind in _TYPE_WORDS]
        if len(type_errors) > 1:
            path, _, first = type_errors[0]
            words = list(dict.fromkeys(_TYPE_WORDS[kind] for _, kind, _ in type_errors))
            where = ".".join(str(p) for p in path if not isinstance(p, int)) or "document"
            value = _value_at(source, path)
            message = f"{where}: expected {' or '.join(words)}, got {_describe(value)}"
            out.append(
                Diagnostic(
                    first.file,
                    first.line,
                    first.column,
                    codes.DF103.code,
                    Severity.ERROR,
                    message,
                    first.hint,
                )
            )
            out.extend(d for _, kind, d in group if kind not in _TYPE_WORDS)
        else:
            out.extend(d for _, _, d in group)
    return [_with_yaml_hint(source, d, path) for d, path in _paths_of(out, found)]


def _paths_of(
    diags: list[Diagnostic], found: list[tuple[tuple, str, Diagnostic]]
) -> list[tuple[Diagnostic, tuple]]:
    by_place = {(d.line, d.column): path for path, _, d in found}
    return [(d, by_place.get((d.line, d.column), ())) for d in diags]


def _value_at(source: SourceDocument, path: tuple) -> Any:
    value: Any = source.data
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _with_yaml_hint(source: SourceDocument, d: Diagnostic, path: tuple) -> Diagnostic:
    """Name the YAML 1.1 trap when a value was read as something other than what was written:
    ``1:30`` (sexagesimal: 90), ``NO`` (false), ``012`` (octal: 10), ``2024-01-01`` (a date)."""
    raw = source.raw_scalars.get(path)
    if raw is None or d.code not in (codes.DF103.code, codes.DF201.code, codes.DF206.code):
        return d
    value = _value_at(source, path)
    fix = (
        f'quote it: "{raw}"'
        if d.code == codes.DF103.code
        else "write it with its unit, e.g. '90 min' for a time"
    )
    if value is None:
        return d  # "the value is empty" is already the specific hint
    if isinstance(value, bool):
        hint = f'YAML 1.1 reads {raw} as {str(value).lower()}; quote it: "{raw}"'
    elif isinstance(value, (int, float)) and ":" in raw:
        hint = f"YAML 1.1 reads {raw} as the number {value} (base 60); {fix}"
    elif isinstance(value, int) and raw.lstrip("+-").startswith("0") and str(value) != raw:
        hint = f"YAML 1.1 reads {raw} as the number {value}; {fix}"
    elif isinstance(value, (datetime.date, datetime.datetime)):
        hint = f'YAML reads {raw} as a date; quote it: "{raw}"'
    else:
        return d
    if d.code == codes.DF103.code and isinstance(value, bool):
        message = d.message.replace(
            _describe(value), f"{raw} (read by YAML as {str(value).lower()})"
        )
        return Diagnostic(d.file, d.line, d.column, d.code, d.severity, message, hint)
    message = d.message
    if str(value) in message and raw not in message:
        message = (
            message.replace(repr(value), raw, 1).replace(str(value), raw, 1)
            + f" (read by YAML as {value})"
        )
    return Diagnostic(d.file, d.line, d.column, d.code, d.severity, message, hint)


# --------------------------------------------------------------------------- cross references


def _unknown_reagent(
    reporter: Reporter, path: tuple, rid: str, declared: list[str], what: str = "reagent"
) -> None:
    close = did_you_mean(rid, declared, cutoff=0.5)
    hint = (
        f"did you mean '{close}'?"
        if close
        else f"declare it under 'reagents:' (declared: {', '.join(declared)})"
    )
    reporter.error(path, codes.DF108, f"{what} '{rid}' is not declared under 'reagents'", hint)


def _unknown_library(reporter: Reporter, path: tuple, name: str, declared: list[str]) -> None:
    close = did_you_mean(name, declared, cutoff=0.5)
    hint = f"did you mean '{close}'?" if close else "declare it under 'libraries:'"
    reporter.error(path, codes.DF109, f"library '{name}' is not declared", hint)


def _case_duplicates(reporter: Reporter, reagent_ids: list[str]) -> None:
    """DF110: ids are case-insensitive, so 'NaBH4' and 'nabh4' are the same reagent twice."""
    lowered: dict[str, str] = {}
    for rid in reagent_ids:
        other = lowered.get(rid.lower())
        if other is not None:
            reporter.error(
                ("reagents", rid),
                codes.DF110,
                f"reagent id '{rid}' duplicates '{other}' (ids are case-insensitive)",
                "give each reagent a distinct id",
                key=True,
            )
        lowered[rid.lower()] = rid


def _reference_checks(loaded: LoadedProtocol, reporter: Reporter) -> None:
    """DF108-DF110, DF112, DF117: the names and wells steps refer to are declared."""
    p = loaded.protocol
    reagent_ids = list(p.reagents)
    _case_duplicates(reporter, reagent_ids)
    scales: list[tuple[tuple, m.Scale]] = [(("scale",), p.scale)]
    for i, step in enumerate(p.steps):
        _, params = m.step_params(step)
        if isinstance(params, m.StageParams):
            scales.append((loaded.step_path(i, "scale"), params.scale))
    for path, scale in scales:
        # a library reagent can be limiting (e.g. amino-ketone precursors): fine
        if scale.limiting not in p.reagents:
            _unknown_reagent(
                reporter, path + ("limiting",), scale.limiting, reagent_ids, "scale.limiting"
            )
    for rid, reagent in p.reagents.items():
        if reagent.library is not None and reagent.library not in p.libraries:
            _unknown_library(
                reporter, ("reagents", rid, "library"), reagent.library, list(p.libraries)
            )
        if reagent.preloaded and not any(s.limiting == rid for _, s in scales):
            reporter.error(
                ("reagents", rid, "preloaded"),
                codes.DF117,
                f"preloaded reagent '{rid}' is not the limiting reagent of any stage",
                "a preloaded reagent is the starting material the operator puts into the wells: name it in a stage's scale.limiting",
            )
    for i, step in enumerate(p.steps):
        _step_reference_checks(loaded, i, step, reporter)


def _step_reference_checks(loaded: LoadedProtocol, i: int, step: Any, reporter: Reporter) -> None:
    p = loaded.protocol
    _, params = m.step_params(step)
    if isinstance(params, m.PlaceParams):
        for j, placed in enumerate(params.reagents):
            if placed not in p.reagents:
                path = loaded.step_path(i, "reagents", j)
                _unknown_reagent(reporter, path, placed, list(p.reagents))
        return
    rid = params.reagent if isinstance(params, m.ReagentStepParams) else None
    if rid is not None and rid not in p.reagents:
        _unknown_reagent(reporter, loaded.step_path(i, "reagent"), rid, list(p.reagents))
    elif rid is not None and p.reagents[rid].preloaded:
        reporter.error(
            loaded.step_path(i, "reagent"),
            codes.DF117,
            f"'{rid}' is preloaded (put into the wells by the operator) and cannot be added",
            "remove the step, or declare the reagent as a stock, neat liquid or solid",
        )
    wells = m.step_wells(params)
    if wells:
        reaction_wells = set(p.vessels.wells)
        outside = [w.name for w in wells if w not in reaction_wells]
        if outside:
            reporter.error(
                loaded.step_path(i, "wells"),
                codes.DF112,
                f"well(s) {listing(outside)} are not reaction wells of this protocol",
                f"vessels.wells is {_selection_text(p.vessels.wells)}",
            )


def _raw_reference_checks(source: SourceDocument, reporter: Reporter) -> None:
    """DF108/DF109/DF110 on the raw YAML data, for a file whose schema errors stopped the models.

    Only names that are plainly strings are checked; anything malformed was reported already.
    """
    data = source.data
    reagents = data.get("reagents") if isinstance(data, dict) else None
    if not isinstance(reagents, dict):
        return
    ids = [rid for rid in reagents if isinstance(rid, str)]
    libraries = data.get("libraries")
    library_names = (
        [n for n in libraries if isinstance(n, str)] if isinstance(libraries, dict) else []
    )

    def check_reagent(path: tuple, rid: Any, what: str = "reagent") -> None:
        if isinstance(rid, str) and rid not in reagents:
            _unknown_reagent(reporter, path, rid, ids, what)

    _case_duplicates(reporter, ids)
    for rid, reagent in reagents.items():
        lib = reagent.get("library") if isinstance(reagent, dict) else None
        if isinstance(lib, str) and lib not in library_names:
            _unknown_library(reporter, ("reagents", rid, "library"), lib, library_names)
    scale = data.get("scale")
    if isinstance(scale, dict):
        check_reagent(("scale", "limiting"), scale.get("limiting"), "scale.limiting")
    steps = data.get("steps")
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if not (isinstance(step, dict) and len(step) == 1):
            continue
        kind, params = next(iter(step.items()))
        if not isinstance(params, dict):
            continue
        check_reagent(("steps", i, kind, "reagent"), params.get("reagent"))
        if kind == "stage" and isinstance(params.get("scale"), dict):
            check_reagent(
                ("steps", i, kind, "scale", "limiting"),
                params["scale"].get("limiting"),
                "scale.limiting",
            )


def _selection_text(wells: tuple[Well, ...]) -> str:
    if not wells:
        return "empty"
    return f"{wells[0].name}…{wells[-1].name} ({len(wells)} wells)"


# --------------------------------------------------------------------------- libraries

MAX_CSV_BYTES = 4 * 1024 * 1024


def _mark_invalid(text: str, invalid: set[Well]) -> None:
    try:
        invalid.add(parse_well(text))
    except WellError:
        pass


_CSV_COLUMNS = ("well", "name", "smiles", "equiv", "mw", "concentration")


def _load_library(
    directory: str,
    source: SourceDocument,
    name: str,
    lib: m.Library,
    used_wells: tuple[Well, ...],
    reporter: Reporter,
) -> LoadedLibrary | None:
    """A library's members by reaction well; None when its CSV cannot be read at all."""
    invalid: set[Well] = set()  # wells whose entry is present but wrong (already reported)
    if lib.csv is not None:
        members = _CsvLibrary(directory, source, name, lib.csv, reporter).read(invalid)
        if members is None:
            return None
    elif lib.by == "well":
        members = _members_by_well(source, name, lib, reporter)
    else:
        members = _members_by_row_or_column(source, name, lib, used_wells)
    _check_coverage(name, lib, members, invalid, used_wells, reporter)
    # the CSV's path from here (as _CsvLibrary opens it), not as the protocol writes it (relative
    # to the protocol's folder): run journals record and resume compares the file's hash by it
    source_file = os.path.normpath(os.path.join(directory, lib.csv)) if lib.csv else None
    return LoadedLibrary(name, lib.by, members, source_file)


def _members_by_well(
    source: SourceDocument, name: str, lib: m.Library, reporter: Reporter
) -> dict[Well, LibraryMember]:
    members: dict[Well, LibraryMember] = {}
    assert isinstance(lib.items, dict)  # the model checks: 'by: well' items are a mapping
    for key, item in lib.items.items():
        ipath = ("libraries", name, "items", key)
        line, col = source.position(ipath, key=True)
        try:
            well = parse_well(str(key))
        except WellError as exc:
            reporter.error(ipath, exc.code, f"library '{name}': {exc.message}", exc.hint, key=True)
            continue
        members[well] = LibraryMember(
            item.name,
            item.smiles,
            item.mw,
            item.equiv,
            (source.filename, line, col),
            item.concentration,
        )
    return members


def _members_by_row_or_column(
    source: SourceDocument, name: str, lib: m.Library, used_wells: tuple[Well, ...]
) -> dict[Well, LibraryMember]:
    members: dict[Well, LibraryMember] = {}
    assert isinstance(lib.items, list)  # the model checks: 'by: row|column' items are a list
    for index, item in enumerate(lib.items):
        line, col = source.position(("libraries", name, "items", index))
        member = LibraryMember(
            item.name,
            item.smiles,
            item.mw,
            item.equiv,
            (source.filename, line, col),
            item.concentration,
        )
        for well in used_wells:
            position = well.row if lib.by == "row" else well.column - 1
            if position == index:
                members[well] = member
    return members


def _check_coverage(
    name: str,
    lib: m.Library,
    members: Mapping[Well, LibraryMember],
    invalid: set[Well],
    used_wells: tuple[Well, ...],
    reporter: Reporter,
) -> None:
    """DF113: a used well without a member (one whose entry is wrong was reported already)."""
    missing = [w for w in used_wells if w not in members and w not in invalid]
    if not missing:
        return
    names = listing([w.name for w in missing], 8)
    if lib.by == "well":
        hint = "add a row for each of these wells, or remove them from vessels.wells"
    else:
        unit = "row" if lib.by == "row" else "column"
        needed = sorted({(w.row if lib.by == "row" else w.column - 1) for w in missing})
        labels = [row_letter(i) if lib.by == "row" else str(i + 1) for i in needed]
        shown_labels = ", ".join(labels[:12]) + (
            f" … ({len(labels)} in all)" if len(labels) > 12 else ""
        )
        hint = f"the library has {len(lib.items or ())} item(s), one per {unit}; add items for {unit}(s) {shown_labels}"
    reporter.error(
        ("libraries", name),
        codes.DF113,
        f"library '{name}' has no member for {len(missing)} used well(s): {names}",
        hint,
        key=True,
    )


class _CsvLibrary:
    """A library read from a CSV file: its problems are reported at the file's own lines."""

    def __init__(
        self, directory: str, source: SourceDocument, name: str, csv_name: str, reporter: Reporter
    ):
        self.name = name
        self.csv_name = csv_name
        self.csv_path = os.path.normpath(os.path.join(directory, csv_name))
        self.shown = (
            os.path.relpath(self.csv_path) if not os.path.isabs(csv_name) else self.csv_path
        )
        self.protocol_reporter = reporter.for_file(source.filename, source)
        self.reporter = reporter.for_file(self.shown)

    def read(self, invalid: set[Well]) -> dict[Well, LibraryMember] | None:
        """Members by well; marks wrong entries in ``invalid``; None if the file is unusable."""
        text = self._text()
        if text is None:
            return None
        reader = csv.DictReader(io.StringIO(text))
        if not self._header_ok(reader):
            return None
        rows: list[tuple[int, dict]] = []
        try:
            for row in reader:
                rows.append((reader.line_num, row))
        except csv.Error as exc:
            self.reporter.error(
                Position(reader.line_num, 1),
                codes.DF118,
                f"library '{self.name}': {exc}",
                "check the quoting on this line",
            )
        members: dict[Well, LibraryMember] = {}
        for row_no, row in rows:
            self._add_row(row_no, row, len(reader.fieldnames or ()), members, invalid)
        return members

    def _text(self) -> str | None:
        path = ("libraries", self.name, "csv")
        match read_text_file(self.csv_path, MAX_CSV_BYTES):
            case str() as text:
                return text
            case Unreadable(reason):
                self.protocol_reporter.error(
                    path,
                    codes.DF118,
                    f"cannot read library file '{self.csv_name}': {reason}",
                    "paths are relative to the protocol file",
                )
            case TooLarge(limit):
                self.protocol_reporter.error(
                    path,
                    codes.DF106,
                    f"library file '{self.csv_name}' is larger than {limit // 1024 // 1024} MiB",
                    "a library is one row per well",
                )
            case NotUtf8(line, reason, byte):
                self.reporter.error(
                    Position(line, 1),
                    codes.DF118,
                    f"library '{self.name}': file is not UTF-8 text ({reason} at byte {byte})",
                    "save the CSV as UTF-8 (in Excel: 'CSV UTF-8')",
                )
            case HasNul(line):
                self.reporter.error(
                    Position(line, 1),
                    codes.DF118,
                    f"library '{self.name}': file is not a text CSV (it contains NUL bytes)",
                    "save the library as CSV (comma-separated text)",
                )
        return None

    def _header_ok(self, reader: csv.DictReader) -> bool:
        try:
            header = [h.strip() for h in (reader.fieldnames or [])]
        except csv.Error as exc:
            self.reporter.error(
                Position(1, 1),
                codes.DF118,
                f"library '{self.name}': {exc}",
                "columns are well,name,smiles[,equiv][,mw][,concentration]",
            )
            return False
        missing = [c for c in ("well", "name") if c not in header]
        unknown = [c for c in header if c not in _CSV_COLUMNS]
        if missing or unknown:
            problem = (
                f"missing column(s) {', '.join(missing)}"
                if missing
                else f"unknown column(s) {', '.join(unknown)}"
            )
            self.reporter.error(
                Position(1, 1),
                codes.DF118,
                f"library '{self.name}': {problem}",
                "columns are well,name,smiles[,equiv][,mw][,concentration]",
            )
            return False
        return True

    def _add_row(
        self,
        row_no: int,
        raw_row: dict,
        header_length: int,
        members: dict[Well, LibraryMember],
        invalid: set[Well],
    ) -> None:
        extra = raw_row.get(None)
        row = {
            (k or "").strip(): (v if isinstance(v, str) else "").strip()
            for k, v in raw_row.items()
            if k is not None
        }
        if not any(row.values()) and not extra:
            return
        at = Position(row_no, 1)
        if extra:
            self.reporter.error(
                at,
                codes.DF118,
                f"library '{self.name}': row has more fields than the header ({header_length})",
                'quote names that contain commas: "1,3-benzodioxole-4-carbaldehyde"',
            )
            _mark_invalid(row.get("well", ""), invalid)
            return
        try:
            well = parse_well(row.get("well", ""))
        except WellError as exc:
            self.reporter.error(at, exc.code, f"library '{self.name}': {exc.message}", exc.hint)
            return
        if well in members:
            self.reporter.error(
                at,
                codes.DF104,
                f"library '{self.name}': well {well.name} is listed twice",
                "one row per well",
            )
            return
        if not row.get("name"):
            self.reporter.error(
                at, codes.DF102, f"library '{self.name}': well {well.name} has no name"
            )
            invalid.add(well)
            return
        try:
            # the same rules as in YAML
            equiv = m.validate_equiv(row["equiv"]) if row.get("equiv") else None
            mw = m.validate_molar_mass(row["mw"]) if row.get("mw") else None
            concentration = (
                m.validate_stock_concentration(row["concentration"])
                if row.get("concentration")
                else None
            )
        except PydanticCustomError as exc:
            self.reporter.error(at, exc.type, f"library '{self.name}' {well.name}: {exc}")
            invalid.add(well)
            return
        too_long = [k for k in ("name", "smiles") if len(row.get(k) or "") > m.MAX_TEXT_CHARS]
        if too_long:  # the same limit as in YAML; a SMILES this long never reaches RDKit
            self.reporter.error(
                at,
                codes.DF205,
                f"library '{self.name}' {well.name}: the {too_long[0]} has "
                f"{len(row[too_long[0]])} characters (at most {m.MAX_TEXT_CHARS})",
                "one molecule per row",
            )
            invalid.add(well)
            return
        origin = (self.shown, row_no, 1)
        members[well] = LibraryMember(
            row["name"], row.get("smiles") or None, mw, equiv, origin, concentration
        )


# --------------------------------------------------------------------------- entry point


def _room_temperature_context(data: Any) -> dict[str, float]:
    try:
        text = data["settings"]["room_temperature"]
        q = parse_quantity(text, Dimension.TEMPERATURE, field="room_temperature")
        return {"room_temperature_c": q.value}
    except (KeyError, TypeError, QuantityError):
        return {"room_temperature_c": 22.0}


def load_protocol(path: str) -> LoadResult:
    """Load and check one protocol file (schema, quantities, cross references, libraries)."""
    try:
        source = load_yaml_file(path)
    except YamlSourceError as exc:
        return LoadResult(None, tuple(sort_unique(exc.diagnostics)))
    return load_protocol_document(source, path)


def load_protocol_document(source: SourceDocument, path: str) -> LoadResult:
    reporter = Reporter(source.filename, source)
    loaded = _load(source, path, reporter)
    return LoadResult(loaded, tuple(reporter.sorted()))


def _load(source: SourceDocument, path: str, reporter: Reporter) -> LoadedProtocol | None:
    data = source.data
    if data is None:
        reporter.error(
            Position(1, 1),
            codes.DF102,
            "the file is empty (no protocol in it)",
            "start with 'diazflow: 1' and 'name: ...'",
        )
        return None
    if not isinstance(data, dict):
        reporter.error(
            Position(1, 1),
            codes.DF103,
            f"a protocol is a mapping of keys, got {_describe(data)}",
            "start with 'diazflow: 1' and 'name: ...'",
        )
        return None
    directory = os.path.dirname(os.path.abspath(path))
    design: LoadedDesign | None = None
    if "design" in data:
        expanded = _expand_design(source, directory, reporter)
        if expanded is None:
            return None
        source, design = expanded
        reporter = reporter.for_file(source.filename, source)  # the same list, expanded steps
    elif factor_steps_without_design(source, reporter):
        return None
    try:
        protocol = m.Protocol.model_validate(
            source.data, context=_room_temperature_context(source.data)
        )
    except ValidationError as exc:
        # still report undeclared names, so one run shows every error (spec §5), not only the schema's
        reporter.extend(_validation_diagnostics(source, exc))
        _raw_reference_checks(source, reporter)
        return None
    loaded = LoadedProtocol(path, directory, source, protocol, design=design)
    _reference_checks(loaded, reporter)
    libraries: dict[str, LoadedLibrary] = {}
    for name, lib in protocol.libraries.items():
        users = [rid for rid, r in protocol.reagents.items() if r.library == name]
        used = _wells_using(protocol, users)
        loaded_lib = _load_library(directory, source, name, lib, used, reporter)
        if loaded_lib is not None:
            libraries[name] = loaded_lib
    return LoadedProtocol(path, directory, source, protocol, libraries, design)


class _DesignOnly(BaseModel):
    """The protocol's ``design`` alone, checked before the steps that use it are expanded."""

    model_config = ConfigDict(extra="ignore", strict=True, arbitrary_types_allowed=True)
    design: m.Design


def _expand_design(
    source: SourceDocument, directory: str, reporter: Reporter
) -> tuple[SourceDocument, LoadedDesign] | None:
    """The document with its design's steps expanded; None after reporting why it cannot be (a
    wrong design stops the load: the steps that name its factors mean nothing without it)."""
    try:
        _DesignOnly.model_validate(source.data)
    except ValidationError as exc:
        reporter.extend(_validation_diagnostics(source, exc))
        _raw_reference_checks(source, reporter)
        return None
    mark = reporter.count()
    context = _room_temperature_context(source.data)
    expanded = expand_design(source, directory, reporter, context)
    if expanded is None or reporter.errors_since(mark):
        return None
    return expanded


def _wells_using(protocol: m.Protocol, reagent_ids: list[str]) -> tuple[Well, ...]:
    """Reaction wells into which any of the reagents is added (all reaction wells if limiting)."""
    wells: set[Well] = set()
    for rid in reagent_ids:
        if any(s.limiting == rid for s in _scales(protocol)):
            wells.update(protocol.vessels.wells)
    for step in protocol.steps:
        _, params = m.step_params(step)
        if isinstance(params, m.ReagentStepParams) and params.reagent in reagent_ids:
            wells.update(m.step_wells(params) or protocol.vessels.wells)
    return tuple(sorted(wells))


def _scales(protocol: m.Protocol) -> list[m.Scale]:
    scales = [protocol.scale]
    for step in protocol.steps:
        _, params = m.step_params(step)
        if isinstance(params, m.StageParams):
            scales.append(params.scale)
    return scales
