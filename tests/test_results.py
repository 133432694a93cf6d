"""``diazflow results``: analytical results imported onto a simulated run of a shipped 96-well
workflow, stored with the journal (never changing the run's own records), drawn in its report and
written out joined with the plan's design.

Expected values are computed here from the CSV the test writes (and the workflow's own library
CSV), not by the code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO
from diazflow import errorcodes as codes
from diazflow.compiler.plan import Plan
from diazflow.diagnostics import Reporter
from diazflow.results import (
    HEADER_ALIASES,
    RunResults,
    WellResult,
    check_results,
    load_results,
    store_results,
)
from diazflow.runtime.journal import Journal, JournalError, JournalWriteError

WORKFLOW = REPO / "workflows" / "n4_reductive_amination_stab.yaml"
LIBRARY = REPO / "workflows" / "libraries" / "aldehydes_96.csv"
ROWS = "ABCDEFGH"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diazflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory) -> Path:
    """One simulated run of the shipped 96-well reductive amination; tests copy its journal."""
    workdir = tmp_path_factory.mktemp("run")
    out = cli("run", str(WORKFLOW), "--quiet", "--journal", "run.journal.sqlite", cwd=workdir)
    assert out.returncode == 0, out.stdout + out.stderr
    return workdir / "run.journal.sqlite"


@pytest.fixture
def journal(simulated_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run.journal.sqlite"
    shutil.copyfile(simulated_run, copy)
    return copy


def plate_wells() -> list[tuple[str, int, int]]:
    """(name, row index, column) of every well of a 96-well plate, column by column."""
    return [(f"{ROWS[r]}{c}", r, c) for c in range(1, 13) for r in range(8)]


def analysis() -> dict[str, dict[str, float | str | None]]:
    """Made-up LC-MS results for every well, by well name; a few cells left empty."""
    table: dict[str, dict[str, float | str | None]] = {}
    for i, (name, r, c) in enumerate(plate_wells()):
        table[name] = {
            "yield_pct": None if name == "D7" else round((i * 37) % 100 + 0.25 * (r % 4), 2),
            "conversion_pct": round(100 - (i * 13) % 90, 1),
            "area_pct": round((i * 7) % 100 + 0.5, 1),
            "purity_pct": 99.0 if c == 1 else None,
            "mz": 205.17 if r == 0 else None,
            "comment": "dark, viscous" if name == "C3" else None,
        }
    return table


def write_analysis(path: Path, table: dict[str, dict[str, float | str | None]]) -> str:
    """The results as an LC-MS export: spelt headers, zero-padded wells, a '%' on some values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["Well ID", "Yield (%)", "Conversion %", "Area%", "Purity (%)", "m/z", "Comments"]
    )
    for name, values in table.items():
        padded = f"{name[0]}{int(name[1:]):02d}"

        def cell(key: str, percent: bool = False, values: dict = values) -> str:
            value = values[key]
            if value is None:
                return ""
            return f"{value}%" if percent else str(value)

        writer.writerow(
            [
                padded,
                cell("yield_pct"),
                cell("conversion_pct", percent=name.endswith("2")),
                cell("area_pct"),
                cell("purity_pct"),
                cell("mz"),
                cell("comment"),
            ]
        )
    path.write_text(out.getvalue(), encoding="utf-8")
    return out.getvalue()


def run_records(path: Path) -> dict[str, list[tuple]]:
    """Every row of what the run recorded: the run record, its events and the device log."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("run", "events", "device_log")
        }
    finally:
        conn.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- import


def test_import_stores_every_well_as_the_csv_says(journal: Path, tmp_path: Path):
    table = analysis()
    results_csv = tmp_path / "lcms export.csv"
    write_analysis(results_csv, table)
    out = cli("results", str(journal), str(results_csv), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "96 wells with results" in out.stdout
    stored = load_results(str(journal))
    assert stored is not None
    assert stored.source == "lcms export.csv"
    assert stored.sha256 == sha256(results_csv)
    assert list(stored.wells) == [name for name, _, _ in plate_wells()]
    for line, (name, values) in enumerate(table.items(), start=2):
        result = stored.wells[name]
        assert result.well == name and result.csv_line == line
        for key, value in values.items():
            assert getattr(result, key) == value, (name, key)
    assert stored.metrics == ("yield_pct", "conversion_pct", "area_pct", "purity_pct", "mz")
    best = max((v["yield_pct"], n) for n, v in table.items() if v["yield_pct"] is not None)
    assert stored.main_metric == "yield_pct" and stored.best(1)[0].well == best[1]


def test_import_never_changes_what_the_run_recorded(journal: Path, tmp_path: Path):
    before = run_records(journal)
    state_before = cli("journal", str(journal), "--json", cwd=tmp_path).stdout
    write_analysis(tmp_path / "results.csv", analysis())
    assert cli("results", str(journal), "results.csv", cwd=tmp_path).returncode == 0
    assert run_records(journal) == before
    assert cli("journal", str(journal), "--json", cwd=tmp_path).stdout == state_before
    # the journal's own checks still accept the file, as a journal of the same run
    with Journal.open(str(journal), read_only=True) as opened:
        assert Plan.from_json(opened.info().plan_json).vessel_labware == "reaction_block"
    # resuming a complete run says so and changes nothing either
    resumed = cli("resume", str(journal), "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert load_results(str(journal)) is not None


def test_reimport_replaces_the_previous_results(journal: Path, tmp_path: Path):
    (tmp_path / "first.csv").write_text("well,yield_pct\nA1,10\nB1,20\n", encoding="utf-8")
    (tmp_path / "second.csv").write_text("well,conversion_pct\nH12,80\n", encoding="utf-8")
    assert cli("results", str(journal), "first.csv", cwd=tmp_path).returncode == 0
    assert cli("results", str(journal), "second.csv", cwd=tmp_path).returncode == 0
    stored = load_results(str(journal))
    assert stored is not None and stored.source == "second.csv"
    assert {w: r.conversion_pct for w, r in stored.wells.items()} == {"H12": 80.0}


def test_check_and_a_failed_import_write_nothing(journal: Path, tmp_path: Path):
    (tmp_path / "good.csv").write_text("well,yield_pct\nA1,10\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("well,yield_pct\nA1,10\nB1,140\n", encoding="utf-8")
    before = sha256(journal)
    checked = cli("results", "--check", str(journal), "good.csv", cwd=tmp_path)
    assert checked.returncode == 0 and "nothing stored" in checked.stdout
    assert sha256(journal) == before and load_results(str(journal)) is None
    failed = cli("results", str(journal), "bad.csv", cwd=tmp_path)
    assert failed.returncode == 1 and "DF709" in failed.stdout
    assert sha256(journal) == before
    assert cli("results", str(journal), "good.csv", cwd=tmp_path).returncode == 0
    stored = sha256(journal)
    assert cli("results", str(journal), "bad.csv", cwd=tmp_path).returncode == 1
    assert sha256(journal) == stored  # the previous results are kept, byte for byte


def test_a_write_that_fails_half_way_keeps_the_previous_results(journal: Path):
    """The rows go in after the old ones are deleted, in one transaction: a failure (here a
    well twice, which the table's UNIQUE refuses) rolls the deletion back too."""
    import datetime

    when = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
    first = RunResults(
        source="first.csv",
        sha256="0" * 64,
        imported=when,
        wells={"A1": WellResult(well="A1", yield_pct=12.0, csv_line=2)},
    )
    store_results(str(journal), first)
    broken = RunResults(
        source="broken.csv",
        sha256="1" * 64,
        imported=when,
        wells={
            "B1": WellResult(well="B1", yield_pct=1.0, csv_line=2),
            "B1 again": WellResult(well="B1", yield_pct=2.0, csv_line=3),
        },
    )
    with pytest.raises(JournalWriteError):
        store_results(str(journal), broken)
    assert load_results(str(journal)) == first


def test_results_are_refused_while_the_run_holds_its_journal(journal: Path):
    with Journal.open(str(journal)) as running:
        running.lock()
        with pytest.raises(JournalError, match="in use"):
            store_results(
                str(journal),
                RunResults(
                    source="x.csv", sha256="0" * 64, imported="2026-12-01T00:00:00Z", wells={}
                ),
            )


def test_a_file_that_is_not_a_journal_is_a_usage_error(tmp_path: Path):
    (tmp_path / "not.sqlite").write_text("hello", encoding="utf-8")
    (tmp_path / "results.csv").write_text("well,yield_pct\nA1,10\n", encoding="utf-8")
    out = cli("results", "not.sqlite", "results.csv", cwd=tmp_path)
    assert out.returncode == 2 and "not a diazflow journal" in out.stderr


# --------------------------------------------------------------------------- diagnostics


def position(text: str, line: int, cell: int) -> tuple[int, int]:
    """(line, 1-based character column) where cell ``cell`` (0-based) of ``line`` starts, for the
    plain comma-separated lines of these tests."""
    fields = text.splitlines()[line - 1].split(",")
    return line, sum(len(f) + 1 for f in fields[:cell]) + 1


CASES = [
    # (id, csv text, code, severity, line, cell)
    ("empty", "", codes.DF700, "error", 0, None),
    ("no well column", "Sample,Yield (%)\nA1,55\n", codes.DF701, "error", 1, 0),
    ("no result column", "Well,Retention time\nA1,1.4\n", codes.DF702, "error", 1, 0),
    ("unknown column", "Well,Yield (%),Retention time\nA1,55,1.4\n", codes.DF703, "warning", 1, 2),
    ("same result twice", "Well,Yield (%),yield_pct\nA1,55,55\n", codes.DF704, "error", 1, 2),
    ("not a well", "Well,Yield (%)\nA1,55\nblank,0\n", codes.DF705, "error", 3, 0),
    ("not a reaction well", "Well,Yield (%)\nA1,55\nI1,40\n", codes.DF706, "error", 3, 0),
    ("well twice", "Well ID,Yield (%)\nA01,55\nB1,3\nA1,57\n", codes.DF707, "error", 4, 0),
    ("not a number", "Well,Conversion (%)\nA1,n.d.\n", codes.DF708, "error", 2, 1),
    ("not finite", "Well,Yield (%)\nA1,nan\n", codes.DF708, "error", 2, 1),
    ("m/z not positive", "Well,m/z\nA1,-5\n", codes.DF708, "error", 2, 1),
    ("over 100", "Well,Yield (%)\nA1,104.2\n", codes.DF709, "error", 2, 1),
    ("below 0", "Well,Purity (%)\nA1,-1\n", codes.DF709, "error", 2, 1),
    ("more cells", "Well,Yield (%),Comment\nA1,55,dark,viscous\n", codes.DF710, "error", 2, 3),
    ("no result", "Well,Yield (%),Comment\nA1,55,\nB1,,\n", codes.DF711, "warning", 3, 0),
]


@pytest.mark.parametrize(
    ("text", "code", "severity", "line", "cell"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_problem_is_a_diagnostic_at_its_line_and_column(
    simulated_run: Path, tmp_path: Path, text, code, severity, line, cell
):
    path = tmp_path / "results.csv"
    path.write_text(text, encoding="utf-8")
    reporter = Reporter(str(path))
    results = check_results(str(simulated_run), str(path), reporter)
    found = [d for d in reporter.diagnostics if d.code == code.code]
    assert found, [(d.code, d.message) for d in reporter.diagnostics]
    diagnostic = found[0]
    assert diagnostic.severity.value == severity
    assert diagnostic.file == str(path) and diagnostic.hint
    expected = (0, 0) if cell is None else position(text, line, cell)
    assert (diagnostic.line, diagnostic.column) == expected
    assert (results is None) == (severity == "error")


def test_a_warning_alone_still_imports(journal: Path, tmp_path: Path):
    (tmp_path / "results.csv").write_text(
        "Well,Yield (%),Retention time\nA1,55,1.4\n", encoding="utf-8"
    )
    out = cli("results", str(journal), "results.csv", cwd=tmp_path)
    assert out.returncode == 0 and "DF703" in out.stdout
    stored = load_results(str(journal))
    assert stored is not None and stored.wells["A1"].yield_pct == 55.0


def test_tab_and_semicolon_exports_and_utf16(simulated_run: Path, tmp_path: Path):
    for name, data in (
        ("tab.csv", b"Well\tYield %\nA01\t55\n"),
        ("semicolon.csv", b"Well;Yield %\nA01;55\n"),
        ("utf16.csv", "Well,Yield %\r\nA01,55\r\n".encode("utf-16")),
        ("bom.csv", "\ufeffWell,Yield %\nA01,55\n".encode()),
    ):
        (tmp_path / name).write_bytes(data)
        reporter = Reporter(name)
        results = check_results(str(simulated_run), str(tmp_path / name), reporter)
        assert results is not None, (name, reporter.diagnostics)
        assert results.wells["A1"].yield_pct == 55.0


def test_the_documented_alias_table_is_the_one_the_reader_uses():
    doc = (REPO / "docs" / "results.md").read_text(encoding="utf-8")
    section = doc.split("<!-- aliases -->")[1].split("<!-- /aliases -->")[0]
    documented: dict[str, tuple[str, ...]] = {}
    for row in section.strip().splitlines()[2:]:
        field, spellings = (c.strip() for c in row.strip("|").split("|"))
        documented[field.strip("`")] = tuple(re.findall(r"`([^`]+)`", spellings))
    assert documented == HEADER_ALIASES


# --------------------------------------------------------------------------- the report


class _HeatMaps(HTMLParser):
    """The cells of each ``table.heatmap`` (by metric) and the rows of ``#best-wells``."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, list[dict[str, str | None]]] = {}
        self.metric: str | None = None
        self.best: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "heatmap" in (a.get("class") or ""):
            self.metric = a["data-metric"]
            self.cells[self.metric] = []
        elif tag == "td" and self.metric is not None:
            self.cells[self.metric].append(a)
        elif tag == "tr" and a.get("data-well") and self.metric is None:
            self.best.append(a["data-well"])

    def handle_endtag(self, tag):
        if tag == "table":
            self.metric = None


def test_report_draws_a_heat_map_of_the_plate_from_the_csv(journal: Path, tmp_path: Path):
    table = analysis()
    write_analysis(tmp_path / "results.csv", table)
    assert cli("results", str(journal), "results.csv", cwd=tmp_path).returncode == 0
    out = cli("report", str(journal), "-o", "report.html", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    parsed = _HeatMaps()
    parsed.feed(page)
    assert set(parsed.cells) == {"yield_pct", "conversion_pct", "area_pct", "purity_pct"}
    for metric, cells in parsed.cells.items():
        assert len(cells) == 96  # the 8 x 12 reaction block, every well a reaction well
        by_well = {c["data-well"]: c for c in cells}
        assert set(by_well) == {name for name, _, _ in plate_wells()}
        for name, values in table.items():
            value = values[metric]
            if value is None:
                assert "data-value" not in by_well[name] and by_well[name]["class"] == "none"
            else:
                assert float(by_well[name]["data-value"] or "nan") == value, (metric, name)
    ranked = sorted(
        (n for n in table if table[n]["yield_pct"] is not None),
        key=lambda n: -float(table[n]["yield_pct"] or 0),
    )
    assert parsed.best == ranked[:10]
    library = {row["well"]: row["name"] for row in csv.DictReader(LIBRARY.open())}
    assert f"aldehyde: {library[ranked[0]]}" in page
    assert "library member: aldehyde" in page  # the outcome by library member


# --------------------------------------------------------------------------- results out


def test_out_writes_the_results_joined_with_the_plan(journal: Path, tmp_path: Path):
    table = analysis()
    write_analysis(tmp_path / "results.csv", table)
    out = cli("results", str(journal), "results.csv", "--out", "table.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = list(csv.DictReader((tmp_path / "table.csv").open(encoding="utf-8")))
    library = {row["well"]: row["name"] for row in csv.DictReader(LIBRARY.open())}
    # no design in this workflow: the key is the well; the library is the aldehyde
    assert list(rows[0]) == [
        "well",
        "aldehyde",
        "conversion_pct",
        "yield_pct",
        "area_pct",
        "purity_pct",
        "mz",
        "comment",
    ]
    assert [r["well"] for r in rows] == list(table)
    for r in rows:
        expected = table[r["well"]]
        assert r["aldehyde"] == library[r["well"]]
        for key in ("conversion_pct", "yield_pct", "area_pct", "purity_pct", "mz"):
            assert (float(r[key]) if r[key] else None) == expected[key], (r["well"], key)
        assert (r["comment"] or None) == expected["comment"]


def test_results_out_are_keyed_by_condition_id_with_a_design(simulated_run: Path):
    """A plan whose wells carry a design (what wip-design fills): condition_id and each factor
    lead the table; replicate wells of one condition are one level in the outcome by factor."""
    from diazflow.report.results_section import factor_outcomes
    from diazflow.results.table import design_rows

    with Journal.open(str(simulated_run), read_only=True) as opened:
        plan = Plan.from_json(opened.info().plan_json)
    temperatures = {1: "25 degC", 2: "40 degC"}
    wells = {
        name: wp.model_copy(
            update={
                "condition_id": f"c{(int(name[1:]) - 1) % 2 + 1}",
                "conditions": {"temperature": temperatures[(int(name[1:]) - 1) % 2 + 1]},
            }
        )
        for name, wp in plan.wells.items()
    }
    designed = plan.model_copy(update={"wells": wells})
    results = RunResults(
        source="r.csv",
        sha256="0" * 64,
        imported="2026-12-01T00:00:00Z",
        wells={
            "A1": WellResult(well="A1", yield_pct=10.0, csv_line=2),
            "B1": WellResult(well="B1", yield_pct=30.0, csv_line=3),
            "A2": WellResult(well="A2", yield_pct=80.0, csv_line=4),
        },
    )
    header, rows = design_rows(designed, results)
    assert header[:4] == ["condition_id", "temperature", "well", "aldehyde"]
    assert [r[:3] for r in rows] == [
        ["c1", "25 degC", "A1"],
        ["c1", "25 degC", "B1"],
        ["c2", "40 degC", "A2"],
    ]
    outcomes = dict(factor_outcomes(designed, results))
    by_level = {o.level: o for o in outcomes["design factor: temperature"]}
    assert by_level["25 degC"].mean["yield_pct"] == 20.0
    assert by_level["25 degC"].best["yield_pct"] == 30.0
    assert [o.level for o in outcomes["condition"]] == ["c2", "c1"]  # best mean first


def test_report_with_results_in_the_browser_and_as_png(journal: Path, tmp_path: Path):
    """The page's own self-test still passes with the results section, the screenshot is not
    blank, and --png adds results.png."""
    from test_report import assert_nonblank_png, dump_dom, screenshot

    write_analysis(tmp_path / "results.csv", analysis())
    assert cli("results", str(journal), "results.csv", cwd=tmp_path).returncode == 0
    out = cli("report", str(journal), "-o", "report.html", "--png", "png", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(os.listdir(tmp_path / "png")) == ["platemap.png", "results.png", "timeline.png"]
    dom = dump_dom(tmp_path / "report.html", tmp_path, "#selftest")
    assert 'data-selftest="ok"' in dom
    assert dom.count('<table class="heatmap"') == 4
    assert_nonblank_png(screenshot(tmp_path / "report.html", tmp_path, tmp_path / "report.png"))
    assert_nonblank_png(tmp_path / "png" / "results.png")
