"""Load a protocol file: YAML with positions → pydantic models → cross-reference checks.

The result is a :class:`LoadedProtocol` (immutable) plus every diagnostic found; nothing here
raises for bad input.  Later stages (chemistry, deck, compiler) take a ``LoadedProtocol``.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pydantic import ValidationError

from diazflow.diagnostics import Diagnostic, Severity, sort_unique
from diazflow.language import models as m
from diazflow.language.quantities import Dimension, QuantityError, parse_quantity
from diazflow.language.source import SourceDocument, YamlSourceError, load_yaml_file
from diazflow.language.wells import Well, WellError, parse_well, row_letter


@dataclass(frozen=True)
class LibraryMember:
    """One building block of a library, as placed in one reaction well."""

    name: str
    smiles: str | None
    mw: float | None
    equiv: Any  # Quantity | QuantityRange | None: per-well override of the step's equiv
    origin: tuple[str, int, int]  # (file, line, column) where the member was written


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

    def diagnostic(self, path: tuple, code: str, message: str, hint: str | None = None, *, severity: Severity = Severity.ERROR, key: bool = False) -> Diagnostic:
        return self.source.diagnostic(path, code, message, hint, severity=severity, key=key)

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
    for model in [m.Protocol, m.Vessels, m.Scale, m.Stock, m.Solid, m.Reagent, m.LibraryItem, m.Library, m.Settings, m.PortionwiseSpec, m.OffdeckParams, m.StageParams]:
        names.update(model.model_fields)
    for step_model in m.STEP_MODELS.values():
        names.update(step_model.model_fields)
        params = step_model.model_fields[next(iter(step_model.model_fields))].annotation
        if isinstance(params, type):
            names.update(getattr(params, "model_fields", {}))
    names.update(m.AddParams.model_fields, m.QuenchParams.model_fields, m.SampleParams.model_fields)
    return sorted(names)


_FIELD_NAMES = _all_field_names()

_TYPE_WORDS = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
}


def _source_path(source: SourceDocument, loc: Iterable[Any]) -> tuple:
    """Map a pydantic ``loc`` onto a path that exists in the YAML (skipping union/tag labels)."""
    path: tuple = ()
    for part in loc:
        candidate = path + (part,)
        if candidate in source.value_positions or candidate in source.key_positions:
            path = candidate
    return path


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(value)


def _yaml_trap_hint(value: Any, expected: str) -> str | None:
    if isinstance(value, bool) and expected == "a string":
        return "YAML 1.1 reads yes/no/on/off as booleans: quote the text, e.g. \"NO\""
    if isinstance(value, int) and not isinstance(value, bool) and expected == "a string":
        return "YAML reads 1:30 as 90 and 012 as 10: quote the text"
    if value is None:
        return "the value is empty; write it after the colon"
    return None


def _error_to_diagnostic(source: SourceDocument, err: Mapping[str, Any]) -> Diagnostic:
    kind = err["type"]
    loc = tuple(err.get("loc", ()))
    path = _source_path(source, loc)
    value = err.get("input")
    ctx = err.get("ctx") or {}
    where = ".".join(str(p) for p in path if not isinstance(p, int)) or "document"
    if kind.startswith("DF"):
        message = err["msg"]
        hint = ctx.get("hint") or None
        if kind == "DF115" and isinstance(value, dict) and len(value) > 1:
            message = f"a step must have exactly one kind, got {', '.join(map(str, value))}"
            hint = "split it into separate steps, one per list item"
        elif kind == "DF115" and isinstance(value, dict) and len(value) == 1:
            tag = str(next(iter(value)))
            close = difflib.get_close_matches(tag, list(m.STEP_MODELS), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else "step kinds: " + ", ".join(m.STEP_MODELS)
            return source.diagnostic(path + (tag,), kind, f"unknown step kind '{tag}'", hint, key=True)
        return source.diagnostic(path, kind, message, hint)
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        close = difflib.get_close_matches(str(key), _FIELD_NAMES, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "remove it; see `diazflow schema` for the keys allowed here"
        parent = ".".join(str(p) for p in path[:-1] if not isinstance(p, int)) or "the protocol"
        return source.diagnostic(path, "DF101", f"unknown key '{key}' in {parent}", hint, key=True)
    if kind == "missing":
        key = loc[-1] if loc else "?"
        return source.diagnostic(path, "DF102", f"missing key '{key}' in {where}", f"add '{key}: ...'")
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", "?")
        close = difflib.get_close_matches(str(tag), list(m.STEP_MODELS), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else "step kinds: " + ", ".join(m.STEP_MODELS)
        return source.diagnostic(path + (tag,) if path + (tag,) in source.key_positions else path, "DF115", f"unknown step kind '{tag}'", hint, key=True)
    if kind == "literal_error":
        if path == ("diazflow",):
            return source.diagnostic(path, "DF107", f"unsupported language version {_describe(value)}", f"this diazflow reads version {m.LANGUAGE_VERSION}: 'diazflow: {m.LANGUAGE_VERSION}'")
        return source.diagnostic(path, "DF103", f"{where}: {_describe(value)} is not allowed; expected {ctx.get('expected', '')}", None)
    if kind in ("too_short",):
        return source.diagnostic(path, "DF102", f"{where} must not be empty", None)
    if kind in ("string_pattern_mismatch",):
        return source.diagnostic(path, "DF103", f"{where}: {_describe(value)} is not a valid name", "names are letters, digits, '_' or '-', starting with a letter")
    if kind in ("string_too_long", "string_too_short"):
        return source.diagnostic(path, "DF103", f"{where}: {err['msg'].lower()}", None)
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return source.diagnostic(path, "DF205", f"{where}: {err['msg'].lower()} (got {_describe(value)})", None)
    expected = _TYPE_WORDS.get(kind)
    if expected:
        return source.diagnostic(path, "DF103", f"{where}: expected {expected}, got {_describe(value)}", _yaml_trap_hint(value, expected))
    return source.diagnostic(path, "DF103", f"{where}: {err['msg']}", None)


def _validation_diagnostics(source: SourceDocument, exc: ValidationError) -> list[Diagnostic]:
    diags = [_error_to_diagnostic(source, e) for e in exc.errors(include_url=False)]
    # A union (e.g. offdeck: text | mapping) reports one error per branch at the same place; keep
    # the most specific (a DF code or an unknown key beats a generic type error).
    by_place: dict[tuple[int, int], list[Diagnostic]] = {}
    for d in diags:
        by_place.setdefault((d.line, d.column), []).append(d)
    kept: list[Diagnostic] = []
    for group in by_place.values():
        specific = [d for d in group if d.code != "DF103"] or group
        kept.extend(specific)
    return kept


# --------------------------------------------------------------------------- cross references


def _reference_diagnostics(loaded: LoadedProtocol) -> list[Diagnostic]:
    p = loaded.protocol
    out: list[Diagnostic] = []
    reagent_ids = list(p.reagents)

    def unknown_reagent(path: tuple, rid: str, what: str = "reagent") -> Diagnostic:
        close = difflib.get_close_matches(rid, reagent_ids, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"declare it under 'reagents:' (declared: {', '.join(reagent_ids)})"
        return loaded.diagnostic(path, "DF108", f"{what} '{rid}' is not declared under 'reagents'", hint)

    lowered: dict[str, str] = {}
    for rid in reagent_ids:
        other = lowered.get(rid.lower())
        if other is not None:
            out.append(loaded.diagnostic(("reagents", rid), "DF110", f"reagent id '{rid}' duplicates '{other}' (ids are case-insensitive)", "give each reagent a distinct id", key=True))
        lowered[rid.lower()] = rid

    scales: list[tuple[tuple, m.Scale]] = [(("scale",), p.scale)]
    for i, step in enumerate(p.steps):
        kind, params = m.step_params(step)
        if kind == "stage":
            scales.append((loaded.step_path(i, "scale"), params.scale))
    for path, scale in scales:
        if scale.limiting not in p.reagents:
            out.append(unknown_reagent(path + ("limiting",), scale.limiting, "scale.limiting"))
        elif p.reagents[scale.limiting].library is not None and path == ("scale",):
            pass  # a library reagent can be limiting (e.g. amino-ketone precursors): fine

    for rid, reagent in p.reagents.items():
        if reagent.library is not None and reagent.library not in p.libraries:
            close = difflib.get_close_matches(reagent.library, list(p.libraries), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else "declare it under 'libraries:'"
            out.append(loaded.diagnostic(("reagents", rid, "library"), "DF109", f"library '{reagent.library}' is not declared", hint))
        if reagent.preloaded and not any(s.limiting == rid for _, s in scales):
            out.append(loaded.diagnostic(("reagents", rid, "preloaded"), "DF117", f"preloaded reagent '{rid}' is not the limiting reagent of any stage", "a preloaded reagent is the starting material the operator puts into the wells: name it in a stage's scale.limiting"))

    for i, step in enumerate(p.steps):
        kind, params = m.step_params(step)
        rid = getattr(params, "reagent", None)
        if rid is not None and rid not in p.reagents:
            out.append(unknown_reagent(loaded.step_path(i, "reagent"), rid))
        elif rid is not None and p.reagents[rid].preloaded:
            out.append(loaded.diagnostic(loaded.step_path(i, "reagent"), "DF117", f"'{rid}' is preloaded (put into the wells by the operator) and cannot be added", "remove the step, or declare the reagent as a stock, neat liquid or solid"))
        wells = getattr(params, "wells", None)
        if wells:
            outside = [w.name for w in wells if w not in set(p.vessels.wells)]
            if outside:
                out.append(loaded.diagnostic(loaded.step_path(i, "wells"), "DF112", f"well(s) {', '.join(outside[:6])}{'…' if len(outside) > 6 else ''} are not reaction wells of this protocol", f"vessels.wells is {_selection_text(p.vessels.wells)}"))
    return out


def _selection_text(wells: tuple[Well, ...]) -> str:
    if not wells:
        return "empty"
    return f"{wells[0].name}…{wells[-1].name} ({len(wells)} wells)"


# --------------------------------------------------------------------------- libraries


def _load_library(loaded_path: str, directory: str, source: SourceDocument, name: str, lib: m.Library, used_wells: tuple[Well, ...]) -> tuple[LoadedLibrary | None, list[Diagnostic]]:
    out: list[Diagnostic] = []
    path = ("libraries", name)
    members: dict[Well, LibraryMember] = {}
    if lib.csv is not None:
        csv_path = os.path.normpath(os.path.join(directory, lib.csv))
        shown = os.path.relpath(csv_path) if not os.path.isabs(lib.csv) else csv_path
        try:
            with open(csv_path, newline="", encoding="utf-8") as fh:
                text = fh.read(4 * 1024 * 1024)
        except OSError as exc:
            return None, [source.diagnostic(path + ("csv",), "DF118", f"cannot read library file '{lib.csv}': {exc.strerror or exc}", "paths are relative to the protocol file")]
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in ("well", "name") if c not in header]
        unknown = [c for c in header if c not in ("well", "name", "smiles", "equiv", "mw")]
        if missing or unknown:
            problem = f"missing column(s) {', '.join(missing)}" if missing else f"unknown column(s) {', '.join(unknown)}"
            return None, [Diagnostic(shown, 1, 1, "DF118", Severity.ERROR, f"library '{name}': {problem}", "columns are well,name,smiles[,equiv][,mw]")]
        for row_no, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if not any(row.values()):
                continue
            origin = (shown, row_no, 1)
            try:
                well = parse_well(row.get("well", ""))
            except WellError as exc:
                out.append(Diagnostic(shown, row_no, 1, exc.code, Severity.ERROR, f"library '{name}': {exc.message}", exc.hint))
                continue
            if well in members:
                out.append(Diagnostic(shown, row_no, 1, "DF104", Severity.ERROR, f"library '{name}': well {well.name} is listed twice", "one row per well"))
                continue
            if not row.get("name"):
                out.append(Diagnostic(shown, row_no, 1, "DF102", Severity.ERROR, f"library '{name}': well {well.name} has no name", None))
                continue
            equiv = None
            if row.get("equiv"):
                try:
                    equiv = m._validate_equiv(row["equiv"], None)  # same rules as in YAML
                except Exception as exc:  # PydanticCustomError
                    out.append(Diagnostic(shown, row_no, 1, getattr(exc, "type", "DF206"), Severity.ERROR, f"library '{name}' {well.name}: {exc}", None))
                    continue
            mw = None
            if row.get("mw"):
                try:
                    mw = m._validate_molar_mass(row["mw"], None)
                except Exception as exc:
                    out.append(Diagnostic(shown, row_no, 1, getattr(exc, "type", "DF206"), Severity.ERROR, f"library '{name}' {well.name}: {exc}", None))
                    continue
            members[well] = LibraryMember(row["name"], row.get("smiles") or None, mw, equiv, origin)
    else:
        items = lib.items
        if lib.by == "well":
            for key, item in items.items():  # type: ignore[union-attr]
                ipath = path + ("items", key)
                line, col = source.position(ipath, key=True)
                try:
                    well = parse_well(str(key))
                except WellError as exc:
                    out.append(source.diagnostic(ipath, exc.code, f"library '{name}': {exc.message}", exc.hint, key=True))
                    continue
                members[well] = LibraryMember(item.name, item.smiles, item.mw, item.equiv, (source.filename, line, col))
        else:
            for index, item in enumerate(items):  # type: ignore[arg-type]
                line, col = source.position(path + ("items", index))
                member = LibraryMember(item.name, item.smiles, item.mw, item.equiv, (source.filename, line, col))
                for well in used_wells:
                    position = well.row if lib.by == "row" else well.column - 1
                    if position == index:
                        members[well] = member
    missing = [w for w in used_wells if w not in members]
    if missing:
        names = ", ".join(w.name for w in missing[:8]) + ("…" if len(missing) > 8 else "")
        if lib.by == "well":
            hint = "add a row for each of these wells, or remove them from vessels.wells"
        else:
            unit = "row" if lib.by == "row" else "column"
            needed = sorted({(w.row if lib.by == "row" else w.column - 1) for w in missing})
            labels = [row_letter(i) if lib.by == "row" else str(i + 1) for i in needed]
            hint = f"the library has {len(items)} item(s), one per {unit}; add items for {unit}(s) {', '.join(labels)}"  # type: ignore[arg-type]
        out.append(source.diagnostic(path, "DF113", f"library '{name}' has no member for {len(missing)} used well(s): {names}", hint, key=True))
    return LoadedLibrary(name, lib.by, members, lib.csv), out


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
    data = source.data
    if not isinstance(data, dict):
        return LoadResult(None, (Diagnostic(source.filename, 1, 1, "DF103", Severity.ERROR, f"a protocol is a mapping of keys, got {_describe(data)}", "start with 'diazflow: 1' and 'name: ...'"),))
    try:
        protocol = m.Protocol.model_validate(data, context=_room_temperature_context(data))
    except ValidationError as exc:
        return LoadResult(None, tuple(sort_unique(_validation_diagnostics(source, exc))))
    directory = os.path.dirname(os.path.abspath(path))
    loaded = LoadedProtocol(path, directory, source, protocol)
    diags = _reference_diagnostics(loaded)
    libraries: dict[str, LoadedLibrary] = {}
    for name, lib in protocol.libraries.items():
        users = [rid for rid, r in protocol.reagents.items() if r.library == name]
        used = _wells_using(protocol, users)
        loaded_lib, lib_diags = _load_library(path, directory, source, name, lib, used)
        diags.extend(lib_diags)
        if loaded_lib is not None:
            libraries[name] = loaded_lib
    loaded = LoadedProtocol(path, directory, source, protocol, libraries)
    return LoadResult(loaded, tuple(sort_unique(diags)))


def _wells_using(protocol: m.Protocol, reagent_ids: list[str]) -> tuple[Well, ...]:
    """Reaction wells into which any of the reagents is added (all reaction wells if limiting)."""
    wells: set[Well] = set()
    for rid in reagent_ids:
        if any(s.limiting == rid for s in _scales(protocol)):
            wells.update(protocol.vessels.wells)
    for step in protocol.steps:
        kind, params = m.step_params(step)
        if getattr(params, "reagent", None) in reagent_ids:
            wells.update(getattr(params, "wells", None) or protocol.vessels.wells)
    return tuple(sorted(wells))


def _scales(protocol: m.Protocol) -> list[m.Scale]:
    scales = [protocol.scale]
    for step in protocol.steps:
        kind, params = m.step_params(step)
        if kind == "stage":
            scales.append(params.scale)
    return scales
