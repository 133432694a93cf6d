"""Designs: a condition screen declared by factors, or read from a conditions table, expanded into
the ordinary steps with ``wells:`` (docs/language.md "Designs").

The expansion works on the YAML data before the models see it, so everything after the language
stage (chemistry, binding, compiler, runtime) reads plain steps and needs no change.  A step whose
fields are written ``{factor: NAME}`` becomes one step per level (per combination of levels when it
names several factors), each with ``wells:`` = the step's wells ∩ the level's wells.  The expanded
document keeps every position of the original: an expanded step's fields point at the line of the
step they came from, so later diagnostics land where the chemist wrote the step.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from diazflow import errorcodes as codes
from diazflow.diagnostics import Position, Reporter, did_you_mean, listing
from diazflow.language import models as m
from diazflow.language.source import (
    HasNul,
    NotUtf8,
    SourceDocument,
    TooLarge,
    Unreadable,
    read_text_file,
)
from diazflow.language.wells import Well, WellError, parse_well, parse_well_selection

MAX_TABLE_BYTES = 4 * 1024 * 1024
"""The same limit as a library CSV: a conditions table is one row per well."""

WELL_STEPS = frozenset({"add", "add_solvent", "quench", "sample"})
"""The steps that take ``wells:``: only their per-well fields can vary from well to well."""

BLOCK_WIDE_FIELDS = frozenset(
    {
        ("add", "keep_below"),
        ("quench", "stir"),
        ("sample", "at"),
        ("sample", "every"),
        ("sample", "volume"),
        ("sample", "diluent"),
    }
)
"""Fields of a per-well step that still belong to the whole block: a temperature asserted during
an addition, the stir after a quench, the sample round (a sample step samples during the step
before it, so it cannot be split into several steps)."""

NOT_A_FACTOR = frozenset({"wells", "into", "portionwise"})
"""Fields a factor can never fill: the wells are what a level gives, the sample plate is one."""

BLOCK_REASON = (
    "temperature, time and shaking are the block's: every well on one block is stirred, heated "
    "and timed together"
)

CONDITION_SEPARATOR = "/"
"""A factor design's condition id is its levels in the order the factors are declared, joined by
this (``K2CO3/MeCN``); wells with the same levels are replicates of one condition."""


@dataclass(frozen=True)
class Condition:
    """One condition of a design: its id, its level of each factor, and the wells that run it."""

    id: str
    levels: Mapping[str, str]  # factor -> level label
    wells: tuple[Well, ...]
    origin: tuple[str, int, int] | None  # a conditions table's file, line, column


@dataclass(frozen=True)
class LoadedDesign:
    factors: tuple[str, ...]
    conditions: tuple[Condition, ...]
    table_file: str | None  # the conditions table as shown in diagnostics, for a table design
    source_steps: tuple[int, ...]
    """For each expanded step, the index of the step it came from in the protocol file."""

    @property
    def by_well(self) -> dict[Well, Condition]:
        return {w: c for c in self.conditions for w in c.wells}


@dataclass
class _Level:
    label: str
    value: str
    wells: set[Well]
    origin: tuple[str, int, int]
    conditions: list[str] = field(default_factory=list)  # condition ids (table designs)


@dataclass
class _Factors:
    """The design read into factors and levels, before any step is expanded."""

    names: list[str]
    levels: dict[str, list[_Level]]
    conditions: list[Condition]
    table_file: str | None


# --------------------------------------------------------------------------- reading the design


def _reaction_wells(data: Mapping[str, Any]) -> tuple[Well, ...] | None:
    vessels = data.get("vessels")
    if not isinstance(vessels, dict):
        return None
    try:
        return parse_well_selection(vessels.get("wells"))
    except WellError:
        return None


def reading_order(wells: Sequence[Well]) -> list[Well]:
    """A1, A2, ..., A12, B1, ...: the order a conditions table's rows fill the wells."""
    return sorted(wells, key=lambda w: (w.row, w.column))


def _from_factors(source: SourceDocument, design: m.Design, reporter: Reporter) -> _Factors | None:
    assert design.factors is not None
    levels: dict[str, list[_Level]] = {}
    ok = True
    for name, spec in design.factors.items():
        seen: dict[Well, str] = {}
        for label, level in spec.items():
            path = ("design", "factors", name, label)
            line, column = source.position(path, key=True)
            wells, value = (
                (level.wells, level.value) if isinstance(level, m.DesignLevel) else (level, label)
            )
            twice = sorted(w for w in wells if w in seen)
            if twice:
                ok = False
                reporter.error(
                    path,
                    codes.DF122,
                    f"factor '{name}': well(s) {listing([w.name for w in twice])} are in level "
                    f"'{label}' and in level '{seen[twice[0]]}'",
                    "a well runs one level of each factor: make the levels' wells disjoint",
                    key=True,
                )
            seen.update((w, label) for w in wells if w not in seen)
            levels.setdefault(name, []).append(
                _Level(label, value, set(wells), (source.filename, line, column))
            )
    if not ok:
        return None
    names = list(design.factors)
    return _Factors(names, levels, _factor_conditions(names, levels), None)


def _factor_conditions(names: list[str], levels: dict[str, list[_Level]]) -> list[Condition]:
    """Wells grouped by their levels; the id is the levels joined in factor order."""
    by_levels: dict[tuple[tuple[str, str], ...], list[Well]] = {}
    wells = sorted({w for lv in levels.values() for level in lv for w in level.wells})
    for well in wells:
        key = tuple(
            (name, level.label)
            for name in names
            for level in levels.get(name, [])
            if well in level.wells
        )
        by_levels.setdefault(key, []).append(well)
    return [
        Condition(CONDITION_SEPARATOR.join(label for _, label in key), dict(key), tuple(ws), None)
        for key, ws in by_levels.items()
    ]


class _Table:
    """A conditions table: problems are reported at the CSV file's own lines."""

    def __init__(
        self,
        directory: str,
        source: SourceDocument,
        design: m.Design,
        reaction_wells: tuple[Well, ...],
        reporter: Reporter,
    ):
        assert design.table is not None
        self.design = design
        self.name = design.table
        self.path = os.path.normpath(os.path.join(directory, design.table))
        self.shown = os.path.relpath(self.path) if not os.path.isabs(design.table) else self.path
        self.protocol_reporter = reporter.for_file(source.filename, source)
        self.reporter = reporter.for_file(self.shown)
        self.reaction_wells = reaction_wells
        self.ok = True

    def error(self, line: int, message: str, hint: str | None = None) -> None:
        self.ok = False
        self.reporter.error(Position(line, 1), codes.DF124, message, hint)

    def text(self) -> str | None:
        where = ("design", "table")
        match read_text_file(self.path, MAX_TABLE_BYTES):
            case str() as text:
                return text
            case Unreadable(reason):
                self.protocol_reporter.error(
                    where,
                    codes.DF124,
                    f"cannot read the conditions table '{self.name}': {reason}",
                    "the path is relative to the protocol file",
                )
            case TooLarge(limit):
                self.protocol_reporter.error(
                    where,
                    codes.DF124,
                    f"the conditions table '{self.name}' is larger than "
                    f"{limit // 1024 // 1024} MiB",
                    "a conditions table is one row per well",
                )
            case NotUtf8(line, reason, byte):
                self.error(
                    line,
                    f"the conditions table is not UTF-8 text ({reason} at byte {byte})",
                    "save it as UTF-8 CSV",
                )
            case HasNul(line):
                self.error(
                    line,
                    "the conditions table is not a text CSV (it contains NUL bytes)",
                    "save it as CSV (comma-separated text)",
                )
        return None

    def read(self) -> _Factors | None:
        text = self.text()
        if text is None:
            return None
        reader = csv.reader(io.StringIO(text))
        try:
            rows = [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            self.error(reader.line_num, f"conditions table: {exc}", "check the quoting")
            return None
        if not rows:
            self.error(1, "the conditions table is empty", "the first line names the columns")
            return None
        header = [h.strip() for h in rows[0][1]]
        if "condition_id" not in header:
            self.error(
                1,
                "the conditions table has no 'condition_id' column",
                "columns are condition_id, optionally well, then one per factor",
            )
            return None
        if len(set(header)) != len(header) or "" in header:
            self.error(1, "the conditions table's columns must have distinct, non-empty names")
            return None
        skipped = {"condition_id", "well", *(self.design.ignore or ())}
        factors = [h for h in header if h not in skipped]
        body = [(n, row) for n, row in rows[1:] if any(cell.strip() for cell in row)]
        return self._conditions(header, factors, body)

    def _wells_for(self, header: list[str], body: list[tuple[int, list[str]]]) -> list[Well | None]:
        if "well" not in header:
            order = reading_order(self.reaction_wells)
            if len(body) > len(order):
                self.ok = False
                self.protocol_reporter.error(
                    ("design", "table"),
                    codes.DF125,
                    f"the conditions table has {len(body)} conditions for "
                    f"{len(order)} reaction wells",
                    "run the rest on another plate (a second table), or add wells to vessels.wells",
                )
                return [None] * len(body)
            return list(order[: len(body)])
        index = header.index("well")
        reaction = set(self.reaction_wells)
        out: list[Well | None] = []
        taken: dict[Well, int] = {}
        for line, row in body:
            text = row[index].strip() if index < len(row) else ""
            try:
                well = parse_well(text)
            except WellError as exc:
                self.error(line, f"conditions table: {exc.message}", exc.hint)
                out.append(None)
                continue
            if well not in reaction:
                self.error(
                    line,
                    f"conditions table: well {well.name} is not a reaction well of this protocol",
                    "give a well among vessels.wells, or leave the well column out",
                )
                out.append(None)
            elif well in taken:
                self.error(
                    line,
                    f"conditions table: well {well.name} is given twice (line {taken[well]})",
                    "one condition per well",
                )
                out.append(None)
            else:
                taken[well] = line
                out.append(well)
        return out

    def _cell_value(self, factor: str, label: str) -> str:
        mapped = (self.design.values or {}).get(factor, {}).get(label)
        if mapped is not None:
            return mapped
        unit = (self.design.units or {}).get(factor)
        if unit and _is_number(label):
            return f"{label} {unit}"
        return label

    def _conditions(
        self, header: list[str], factors: list[str], body: list[tuple[int, list[str]]]
    ) -> _Factors | None:
        wells = self._wells_for(header, body)
        id_column = header.index("condition_id")
        levels: dict[str, dict[str, _Level]] = {name: {} for name in factors}
        conditions: list[Condition] = []
        ids: dict[str, int] = {}
        for (line, row), well in zip(body, wells, strict=True):
            if len(row) != len(header):
                self.error(
                    line,
                    f"conditions table: the row has {len(row)} fields, the header {len(header)}",
                    'quote a value that contains a comma: "1,4-dioxane"',
                )
                continue
            cid = row[id_column].strip()
            if not cid:
                self.error(line, "conditions table: a row without a condition_id")
                continue
            if cid in ids:
                self.error(
                    line,
                    f"conditions table: condition_id '{cid}' is given twice (line {ids[cid]})",
                    "each condition is one well; name replicates apart, e.g. c7-r1, c7-r2",
                )
                continue
            ids[cid] = line
            if well is None:
                continue
            cells = {name: row[header.index(name)].strip() for name in factors}
            for name, label in cells.items():
                if not label:
                    continue
                level = levels[name].setdefault(
                    label,
                    _Level(label, self._cell_value(name, label), set(), (self.shown, line, 1)),
                )
                level.wells.add(well)
                level.conditions.append(cid)
            present = {name: label for name, label in cells.items() if label}
            conditions.append(Condition(cid, present, (well,), (self.shown, line, 1)))
        if not self.ok:
            return None
        return _Factors(
            factors,
            {name: list(by_label.values()) for name, by_label in levels.items()},
            conditions,
            self.shown,
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- expanding the steps


def _factor_ref(value: Any) -> str | None:
    """The factor named by a field written ``{factor: NAME}``, else None."""
    if isinstance(value, dict) and len(value) == 1 and "factor" in value:
        name = value["factor"]
        return name if isinstance(name, str) else None
    return None


@dataclass
class _Expander:
    source: SourceDocument
    factors: _Factors
    reaction_wells: tuple[Well, ...]
    reporter: Reporter
    context: dict[str, Any]
    steps: list[Any] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    ok: bool = True

    def error(self, path: tuple, code: codes.ErrorCode, message: str, hint: str) -> None:
        self.ok = False
        self.reporter.error(path, code, message, hint)

    def conditions_text(self, levels: Sequence[_Level]) -> str:
        ids = [cid for level in levels for cid in level.conditions]
        return f" (conditions {listing(ids, 8)})" if ids else ""

    def expand(self, index: int, step: Any) -> None:
        kind, params = next(iter(step.items())) if isinstance(step, dict) else (None, None)
        refs = (
            {f: n for f, v in params.items() if (n := _factor_ref(v)) is not None}
            if isinstance(params, dict) and len(step) == 1
            else {}
        )
        if not refs:
            self.keep(index, step)
            return
        assert isinstance(kind, str) and isinstance(params, dict)
        base = ("steps", index, kind)
        self.used.update(refs.values())
        for fname, factor in refs.items():
            if fname in NOT_A_FACTOR:
                self.error(
                    base + (fname,),
                    codes.DF126,
                    f"'{fname}' cannot be a factor",
                    "a factor's levels give the wells; write the per-well field (reagent, "
                    "solvent, equiv, volume, ...) as {factor: NAME}",
                )
            elif factor not in self.factors.levels:
                close = did_you_mean(factor, self.factors.names, cutoff=0.5)
                self.error(
                    base + (fname, "factor"),
                    codes.DF120,
                    f"factor '{factor}' is not declared in the design",
                    f"did you mean '{close}'?"
                    if close
                    else "the design declares: " + (", ".join(self.factors.names) or "nothing"),
                )
        if not self.ok:
            return
        wells = self.step_wells(base, kind, params)
        if wells is None:
            return
        substituted = dict(params)
        per_well: dict[str, str] = {}
        for fname, factor in refs.items():
            if not self.covers(base + (fname,), fname, factor, wells):
                return
            if kind in WELL_STEPS and (kind, fname) not in BLOCK_WIDE_FIELDS:
                per_well[fname] = factor
                continue
            value = self.block_wide(base + (fname,), kind, fname, factor, wells)
            if value is None:
                return
            substituted[fname] = value
        if not per_well:
            self.keep(index, {kind: substituted})
            return
        self.combinations(index, kind, substituted, per_well, wells)

    def keep(self, index: int, step: Any) -> None:
        self.steps.append(step)
        self.origins.append(index)

    def step_wells(self, base: tuple, kind: str, params: dict) -> list[Well] | None:
        if kind in WELL_STEPS and "wells" in params and _factor_ref(params["wells"]) is None:
            try:
                chosen = set(parse_well_selection(params["wells"]))
            except WellError:
                return None  # reported by the models (DF111) on the unexpanded step
            return [w for w in self.reaction_wells if w in chosen]
        return list(self.reaction_wells)

    def covers(self, path: tuple, fname: str, factor: str, wells: list[Well]) -> bool:
        covered = {w for level in self.factors.levels[factor] for w in level.wells}
        missing = [w.name for w in wells if w not in covered]
        if missing:
            self.error(
                path,
                codes.DF121,
                f"factor '{factor}' has no level for {len(missing)} of the {len(wells)} well(s) "
                f"this step acts on: {listing(missing, 8)}",
                "give those wells a level, or limit the step with 'wells:'",
            )
            return False
        return True

    def block_wide(
        self, path: tuple, kind: str, fname: str, factor: str, wells: list[Well]
    ) -> str | None:
        """The one value a block-wide field takes, or None after DF123."""
        present = [lv for lv in self.factors.levels[factor] if lv.wells & set(wells)]
        if len(present) == 1:
            return present[0].value
        labels = ", ".join(f"'{lv.label}'{self.conditions_text([lv])}" for lv in present)
        self.error(
            path,
            codes.DF123,
            f"{kind}.{fname} takes factor '{factor}', whose levels {labels} differ between the "
            f"block's wells: {BLOCK_REASON}",
            "run each level on a plate (a protocol) of its own, or keep this field one value",
        )
        return None

    def combinations(
        self,
        index: int,
        kind: str,
        params: dict[str, Any],
        per_well: Mapping[str, str],
        wells: list[Well],
    ) -> None:
        names = list(dict.fromkeys(per_well.values()))  # each factor once, in field order
        first = len(self.steps)
        for combo in itertools.product(*(self.factors.levels[n] for n in names)):
            chosen = [w for w in wells if all(w in level.wells for level in combo)]
            if not chosen:
                continue
            by_factor = dict(zip(names, combo, strict=True))
            step = dict(params)
            for fname, factor in per_well.items():
                step[fname] = by_factor[factor].value
            step["wells"] = [w.name for w in chosen]
            if self.value_errors(index, kind, step, per_well, by_factor):
                continue
            self.keep(index, {kind: step})
        if kind == "quench" and "stir" in params:
            # the stir after a quench is the block's: once, after the last level is added
            for expanded in self.steps[first:-1]:
                expanded[kind].pop("stir", None)

    def value_errors(
        self,
        index: int,
        kind: str,
        params: dict[str, Any],
        per_well: Mapping[str, str],
        by_factor: Mapping[str, _Level],
    ) -> bool:
        """DF128 for a level whose value the field refuses ('abc' as an equiv), at the level."""
        try:
            m.STEP_MODELS[kind].model_validate({kind: params}, context=self.context)
        except ValidationError as exc:
            found = False
            for err in exc.errors(include_url=False):
                loc = tuple(err.get("loc", ()))
                fname = loc[1] if len(loc) > 1 else None
                if not isinstance(fname, str) or fname not in per_well:
                    continue
                level = by_factor[per_well[fname]]
                found = True
                self.level_error(kind, fname, per_well[fname], level, err["msg"])
            return found
        return False

    def level_error(self, kind: str, fname: str, factor: str, level: _Level, why: str) -> None:
        self.ok = False
        file, line, column = level.origin
        at = (
            self.reporter.for_file(file)
            if file != self.source.filename
            else self.reporter.for_file(file, self.source)
        )
        at.error(
            Position(line, column),
            codes.DF128,
            f"level '{level.label}' of factor '{factor}' is not a valid {kind}.{fname}"
            f"{self.conditions_text([level])}: {why}",
            "give the level a value the field takes (a reagent id, a solvent, a quantity with "
            "its unit), or map it with 'values:' / a table's 'units:'",
        )


def _remap(table: Mapping[tuple, Any], origins: list[int]) -> dict[tuple, Any]:
    """Positions of the expanded document: an expanded step has its source step's positions."""
    out: dict[tuple, Any] = {}
    by_source: dict[int, list[int]] = {}
    for new, old in enumerate(origins):
        by_source.setdefault(old, []).append(new)
    for path, value in table.items():
        if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
            for new in by_source.get(path[1], []):
                out[("steps", new) + path[2:]] = value
        else:
            out[path] = value
    return out


def _design_model(source: SourceDocument) -> m.Design | None:
    try:
        return m.Design.model_validate(source.data["design"])
    except ValidationError:
        return None  # reported by the loader with the protocol's own model


def expand_design(
    source: SourceDocument,
    directory: str,
    reporter: Reporter,
    context: dict[str, Any],
) -> tuple[SourceDocument, LoadedDesign] | None:
    """The document with its design expanded into plain steps, and the design's conditions; None
    after reporting why it cannot be expanded."""
    design = _design_model(source)
    reaction_wells = _reaction_wells(source.data)
    steps = source.data.get("steps")
    if design is None or reaction_wells is None or not isinstance(steps, list):
        return None
    if design.table is not None:
        factors = _Table(directory, source, design, reaction_wells, reporter).read()
    else:
        factors = _from_factors(source, design, reporter)
    if factors is None:
        return None
    if design.table is not None:
        # a table's rows are the plate: wells it gives no condition take no part in the run
        in_table = {w for c in factors.conditions for w in c.wells}
        reaction_wells = tuple(w for w in reaction_wells if w in in_table)
    expander = _Expander(source, factors, reaction_wells, reporter, context)
    for index, step in enumerate(steps):
        expander.expand(index, step)
    if not expander.ok:
        return None
    for name in factors.names:
        if name not in expander.used:
            where: Any = ("design", "factors", name) if design.factors else ("design", "table")
            reporter.warn(
                where,
                codes.DF127,
                f"factor '{name}' is used by no step: it is recorded with each well, but "
                "nothing in the plate varies with it",
                "write the field it sets as {factor: " + name + "}, or drop the factor",
                key=design.factors is not None,
            )
    data = dict(source.data)
    data["steps"] = expander.steps
    if design.table is not None:
        data["vessels"] = dict(data["vessels"], wells=[w.name for w in reaction_wells])
    expanded = SourceDocument(
        source.filename,
        data,
        _remap(source.key_positions, expander.origins),
        _remap(source.value_positions, expander.origins),
        _remap(source.raw_scalars, expander.origins),
    )
    loaded = LoadedDesign(
        tuple(factors.names),
        tuple(factors.conditions),
        factors.table_file,
        tuple(expander.origins),
    )
    return expanded, loaded


def factor_steps_without_design(source: SourceDocument, reporter: Reporter) -> bool:
    """DF120 for every ``{factor: NAME}`` in a protocol that declares no design; whether any."""
    steps = source.data.get("steps") if isinstance(source.data, dict) else None
    found = False
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if not (isinstance(step, dict) and len(step) == 1):
            continue
        kind, params = next(iter(step.items()))
        for fname, value in params.items() if isinstance(params, dict) else ():
            factor = _factor_ref(value)
            if factor is not None:
                found = True
                reporter.error(
                    ("steps", index, kind, fname, "factor"),
                    codes.DF120,
                    f"factor '{factor}' is used, but the protocol declares no design",
                    "declare the factor under 'design: {factors: ...}' or 'design: {table: ...}'",
                )
    return found
