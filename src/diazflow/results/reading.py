"""Reading a results CSV as LC-MS software exports it, and checking it against a run.

Everything wrong is a diagnostic at the CSV's own line and column (DF700-DF711), never an
exception; nothing is stored unless the whole file is right (``import_results``).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import math
import os
import re
from collections.abc import Collection
from dataclasses import dataclass

from diazflow import errorcodes as codes
from diazflow.diagnostics import WHOLE_FILE, Position, Reporter, did_you_mean, listing
from diazflow.language.wells import well_key
from diazflow.results.models import PERCENT_METRICS, RunResults, WellResult

MAX_RESULTS_BYTES = 16 * 1024 * 1024
"""A 1536-well plate's results are well under 1 MiB; anything larger is the wrong file."""

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "well": ("well", "Well ID", "Well Position", "Position", "Vial", "Vial Position"),
    "conversion_pct": ("conversion_pct", "Conversion (%)", "Conversion %", "Conversion", "Conv."),
    "yield_pct": ("yield_pct", "Yield (%)", "Yield %", "Yield", "Assay yield (%)"),
    "area_pct": (
        "area_pct",
        "Area%",
        "Area (%)",
        "Product area (%)",
        "Peak area (%)",
        "UV area (%)",
    ),
    "purity_pct": ("purity_pct", "Purity (%)", "Purity %", "Purity", "UV purity (%)"),
    "mz": ("mz", "m/z", "Observed mass", "Observed m/z", "Found mass", "Mass found"),
    "comment": ("comment", "Comments", "Notes", "Note", "Remark"),
}
"""THE table of column names a results CSV may use, by the field each one fills (documented in
docs/results.md, which a test keeps equal to this).  A header matches a spelling whatever its case,
spaces, underscores and brackets: ``YIELD_%``, ``yield %`` and ``Yield (%)`` are one spelling."""

RESULT_FIELDS = ("conversion_pct", "yield_pct", "area_pct", "purity_pct", "mz", "comment")


def header_key(text: str) -> str:
    """A header reduced to what tells spellings apart: lower case, '%' as 'pct', every run of
    other punctuation and spaces as one space (``Yield (%)`` -> ``yield pct``)."""
    text = text.strip().lower().replace("%", " pct ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


_BY_KEY: dict[str, str] = {}
for _field, _spellings in HEADER_ALIASES.items():
    for _spelling in _spellings:
        if _BY_KEY.setdefault(header_key(_spelling), _field) != _field:
            raise ValueError(f"results header '{_spelling}' names two fields")

_WELL = re.compile(r"^([A-Za-z]{1,2})0*([1-9][0-9]{0,2})$")


def normalise_well(text: str) -> str | None:
    """``A01`` -> ``A1``, ``h12`` -> ``H12``; None when ``text`` is not a well name."""
    match = _WELL.match(text.strip())
    if not match:
        return None
    return f"{match.group(1).upper()}{int(match.group(2))}"


@dataclass(frozen=True)
class _Columns:
    """Which CSV column (0-based) holds each field."""

    by_field: dict[str, int]
    header: list[str]


class ResultsReader:
    """One results CSV checked against one run's reaction wells."""

    def __init__(self, path: str, wells: Collection[str], reporter: Reporter, shown: str):
        self.path = path
        self.wells = wells
        self.reporter = reporter.for_file(shown)
        self.raw = b""
        self.lines: list[str] = []
        self.delimiter = ","  # or the tab or semicolon some exports use (from the header line)

    # ---- the file

    def _text(self) -> str | None:
        from diazflow.language.source import open_regular_file

        try:
            with open_regular_file(self.path) as fh:
                self.raw = fh.read(MAX_RESULTS_BYTES + 1)
        except OSError as exc:
            self._unreadable(WHOLE_FILE, f"cannot read the results: {exc.strerror or exc}")
            return None
        if len(self.raw) > MAX_RESULTS_BYTES:
            self._unreadable(
                WHOLE_FILE,
                f"the results file is larger than {MAX_RESULTS_BYTES // 1024 // 1024} MiB",
            )
            return None
        try:
            # Excel writes UTF-8 with a byte-order mark; some LC-MS software UTF-16 with one
            utf16 = self.raw.startswith((b"\xff\xfe", b"\xfe\xff"))
            text = self.raw.decode("utf-16" if utf16 else "utf-8-sig")
        except UnicodeDecodeError as exc:
            line = self.raw[: exc.start].count(b"\n") + 1
            self._unreadable(
                Position(line, 1),
                f"the results file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            )
            return None
        if "\x00" in text:
            line = text[: text.index("\x00")].count("\n") + 1
            self._unreadable(Position(line, 1), "the results file is not text (it has NUL bytes)")
            return None
        if not text.strip():
            self._unreadable(WHOLE_FILE, "the results file is empty")
            return None
        self.lines = text.splitlines()
        return text

    def _unreadable(self, where: Position, message: str) -> None:
        self.reporter.error(
            where,
            codes.DF700,
            message,
            "export the results as CSV (UTF-8 text, one row per well, a header row first)",
        )

    # ---- the header

    def _columns(self, header: list[str]) -> _Columns | None:
        by_field: dict[str, int] = {}
        for index, name in enumerate(header):
            at = Position(1, self._column_of(1, index))
            field = _BY_KEY.get(header_key(name))
            if field is None:
                if name.strip():
                    self._unknown_column(at, name)
                continue
            if field in by_field:
                first = header[by_field[field]]
                self.reporter.error(
                    at,
                    codes.DF704,
                    f"columns '{first}' and '{name}' are both the {_label(field)}",
                    "keep one of them: both would fill the same result",
                )
                return None
            by_field[field] = index
        if "well" not in by_field:
            self.reporter.error(
                Position(1, 1),
                codes.DF701,
                "the results have no well column",
                f"name the column of well names 'well' (also accepted: "
                f"{', '.join(HEADER_ALIASES['well'][1:])})",
            )
            return None
        if not any(f in by_field for f in RESULT_FIELDS):
            self.reporter.error(
                Position(1, 1),
                codes.DF702,
                "the results have no result column",
                "columns are well plus any of conversion_pct, yield_pct, area_pct, purity_pct, "
                "mz, comment (see docs/results.md for the spellings accepted)",
            )
            return None
        return _Columns(by_field, header)

    def _unknown_column(self, at: Position, name: str) -> None:
        spellings = [s for names in HEADER_ALIASES.values() for s in names]
        close = did_you_mean(name, spellings)
        self.reporter.warn(
            at,
            codes.DF703,
            f"column '{name}' is not a result diazflow knows; it is ignored",
            f"did you mean '{close}'?"
            if close
            else "known columns: well, conversion_pct, yield_pct, area_pct, purity_pct, mz, "
            "comment (and the spellings in docs/results.md)",
        )

    def _column_of(self, line: int, index: int) -> int:
        """The 1-based character column where field ``index`` starts on ``line``."""
        if not 0 < line <= len(self.lines):
            return 1
        text, field, quoted = self.lines[line - 1], 0, False
        for position, char in enumerate(text):
            if field == index:
                return position + 1
            if char == '"':
                quoted = not quoted
            elif char == self.delimiter and not quoted:
                field += 1
        return len(text) + 1 if field == index else 1

    # ---- the rows

    def read(self) -> dict[str, WellResult] | None:
        """Results by well, in the plate's order; None if anything in the file is an error."""
        mark = self.reporter.count()
        text = self._text()
        if text is None:
            return None
        first = self.lines[0] if self.lines else ""
        self.delimiter = next((d for d in (",", "\t", ";") if d in first), ",")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
        try:
            header = next(reader)
            columns = self._columns(header)
            if columns is None:
                return None
            rows: dict[str, WellResult] = {}
            first_line: dict[str, int] = {}
            line = reader.line_num
            for cells in reader:
                start, line = line + 1, reader.line_num
                result = self._row(start, cells, columns)
                if result is None:
                    continue
                if result.well in first_line:
                    self._duplicate(start, columns, result.well, first_line[result.well])
                    continue
                first_line[result.well] = start
                rows[result.well] = result
        except csv.Error as exc:
            self._unreadable(Position(reader.line_num, 1), f"the results are not valid CSV: {exc}")
            return None
        if self.reporter.errors_since(mark):
            return None
        return {w: rows[w] for w in sorted(rows, key=_plate_order)}

    def _duplicate(self, line: int, columns: _Columns, well: str, first: int) -> None:
        self.reporter.error(
            Position(line, self._column_of(line, columns.by_field["well"])),
            codes.DF707,
            f"well {well} is listed twice (first on line {first})",
            "one row per well: average replicate injections before importing, or keep one",
        )

    def _row(self, line: int, cells: list[str], columns: _Columns) -> WellResult | None:
        if not any(c.strip() for c in cells):
            return None  # a blank line
        if len(cells) > len(columns.header):
            self.reporter.error(
                Position(line, self._column_of(line, len(columns.header))),
                codes.DF710,
                f"the row has {len(cells)} cells; the header has {len(columns.header)}",
                'quote a comment that holds the delimiter: "dark, viscous"',
            )
            return None
        cell = {
            f: (cells[i].strip() if i < len(cells) else "") for f, i in columns.by_field.items()
        }
        well = self._well(line, cell["well"], columns.by_field["well"])
        if well is None:
            return None
        values: dict[str, float | str | None] = {}
        ok = True
        for field in RESULT_FIELDS:
            text = cell.get(field, "")
            if field == "comment":
                values[field] = text or None
                continue
            number = self._number(line, columns, field, text)
            ok = ok and number is not False
            values[field] = number if isinstance(number, float) else None
        if not ok:
            return None
        if all(v is None for v in values.values()):
            self.reporter.warn(
                Position(line, self._column_of(line, columns.by_field["well"])),
                codes.DF711,
                f"well {well} has no result on this line; it is left out",
                "leave the well out of the file, or write why in a comment column",
            )
            return None
        return WellResult(well=well, csv_line=line, **values)  # type: ignore[arg-type]

    def _well(self, line: int, text: str, index: int) -> str | None:
        at = Position(line, self._column_of(line, index))
        well = normalise_well(text)
        if well is None:
            self.reporter.error(
                at,
                codes.DF705,
                f"'{text}' is not a well name" if text else "the row has no well",
                "a well is a row letter and a column number: A1, A01 or H12",
            )
            return None
        if well not in self.wells:
            ordered = sorted(self.wells, key=_plate_order)
            self.reporter.error(
                at,
                codes.DF706,
                f"well {well} is not one of the run's {len(ordered)} reaction wells",
                f"the run's reaction wells are {listing(ordered, 8)}; is this the results file "
                "of another plate?",
            )
            return None
        return well

    def _number(self, line: int, columns: _Columns, field: str, text: str) -> float | None | bool:
        """The cell's number, None for a blank cell, False after reporting a bad one."""
        if not text:
            return None
        at = Position(line, self._column_of(line, columns.by_field[field]))
        percent = field in PERCENT_METRICS
        digits = text[:-1].strip() if percent and text.endswith("%") else text
        try:
            value = float(digits)
        except ValueError:
            value = None
        header = columns.header[columns.by_field[field]]
        if value is None or not math.isfinite(value) or (field == "mz" and value <= 0):
            what = "a positive number" if field == "mz" else "a number"
            hint = (
                "write a decimal point, not a comma: 85.3"
                if re.fullmatch(r"-?\d+,\d+", digits)
                else "leave the cell empty when there is no result"
            )
            self.reporter.error(
                at, codes.DF708, f"'{text}' in column '{header}' is not {what}", hint
            )
            return False
        if percent and not 0.0 <= value <= 100.0:
            self.reporter.error(
                at,
                codes.DF709,
                f"a {_label(field)} of {value:g} % (column '{header}') is outside 0-100",
                "a percentage is between 0 and 100; correct a calibration that gives more, "
                "or leave the cell empty",
            )
            return False
        return value


_NAMES = {
    "well": "well",
    "conversion_pct": "conversion",
    "yield_pct": "yield",
    "area_pct": "product area",
    "purity_pct": "purity",
    "mz": "observed m/z",
    "comment": "comment",
}


def _label(field: str) -> str:
    return _NAMES[field]


def _plate_order(well: str) -> tuple[int, int]:
    """Column-major, as diazflow orders wells everywhere (A1, B1, ..., H1, A2, ...)."""
    row, column = well_key(well)
    return (column, row)


def read_results_csv(
    path: str, wells: Collection[str], reporter: Reporter, *, shown: str | None = None
) -> tuple[dict[str, WellResult] | None, bytes]:
    """(results by well or None if the file has errors, the bytes read) for the run's ``wells``."""
    reader = ResultsReader(path, wells, reporter, shown or path)
    return reader.read(), reader.raw


def check_results(journal_path: str, csv_path: str, reporter: Reporter) -> RunResults | None:
    """The results in ``csv_path`` checked against the reaction wells of the run in
    ``journal_path`` (from the plan the journal holds); None if the CSV has errors.  Nothing is
    written (``JournalError`` for a journal that cannot be read)."""
    from diazflow.compiler.plan import Plan
    from diazflow.runtime.journal import Journal

    with Journal.open(journal_path, read_only=True) as journal:
        plan = Plan.from_json(journal.info().plan_json)
    wells, raw = read_results_csv(csv_path, plan.wells, reporter, shown=csv_path)
    if wells is None:
        return None
    return RunResults(
        source=os.path.basename(csv_path),
        sha256=hashlib.sha256(raw).hexdigest(),
        imported=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0),
        wells=wells,
    )


def import_results(
    journal_path: str, csv_path: str, reporter: Reporter, *, store: bool = True
) -> RunResults | None:
    """Check ``csv_path`` against the run and (``store``) replace the journal's results with it,
    all or nothing; None, with diagnostics and nothing written, if the CSV has errors."""
    from diazflow.results.store import store_results

    results = check_results(journal_path, csv_path, reporter)
    if results is not None and store:
        store_results(journal_path, results)
    return results
