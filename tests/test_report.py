"""The HTML report, tested as a person would use it: made by the CLI, opened in a real browser.

Headless Chromium (Debian's ``chromium``; .ci/run installs it) loads the report from a file:// URL
with networking disabled; ``--dump-dom`` gives the DOM after the page's script has drawn the
timeline, the temperature profile and the plate map, and ``--screenshot`` a PNG that must not be
blank.  Nothing here is skipped: without Chromium the browser tests fail and say how to install it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from diazflow.compiler.plan import Aspirate, Dispense, DispensePowder, Operation, Plan
from diazflow.pipeline import check
from diazflow.report import load_journal, render_html, report_for, report_from_journal
from diazflow.report.model import parse_start
from helpers import ACOH_NEAT, NAHCO3_FLOW, REPO, method_a_protocol, write_protocol


def _aliquot(op: Operation) -> int | None:
    """Which aliquot of a dropwise or portionwise addition an operation is (None: not one)."""
    return op.aliquot if isinstance(op, (Aspirate, Dispense, DispensePowder)) else None


DIAZFLOW = [sys.executable, "-c", "from diazflow.cli import main; main()"]

# A realistic 96-well protocol: aldehyde library added dropwise at 4 °C (the block's floor), STAB weighed in (the
# STARlet's powder dispenser is operator-run),
# a monitoring sample, a quench and an off-deck work-up.
DROPWISE = method_a_protocol(
    "N4 reductive amination, aldehyde added dropwise at 4 degC",
    """\
  - offdeck: Pierce each septum with a vent needle.
  - add: {reagent: diazepane, equiv: 1.0}
  - add_solvent: {solvent: DCE, volume: 40 uL}
  - cool: {to: 4 degC}
  - add: {reagent: aldehyde, equiv: 1.05, dropwise: 30-60 min, keep_below: 5 degC}
  - add: {reagent: acoh, equiv: 1.0}
  - warm: {to: rt}
  - stir: {duration: 15 min}
  - add: {reagent: stab, equiv: 1.4}
  - stir: {duration: 1-4 h}
  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}
  - quench: {reagent: nahco3, volume: 1 reaction volume, stir: 20 min}
  - offdeck: Extract with DCM (3x), wash with brine, dry over Na2SO4 and concentrate.
""",
    header="description: 96 wells, 12 aldehydes by column; dropwise addition at 4 degC, STAB as a powder.\n",
    acoh=ACOH_NEAT,
    nahco3=NAHCO3_FLOW,
)

# The same chemistry with every addition spread over hours: thousands of aliquot operations.
LONG_DROPWISE = (
    DROPWISE.replace(
        "dropwise: 30-60 min, keep_below: 5 degC", "dropwise: 5-6 h, keep_below: 5 degC"
    )
    .replace(
        "- add: {reagent: diazepane, equiv: 1.0}",
        "- add: {reagent: diazepane, equiv: 1.0, dropwise: 4-5 h}",
    )
    .replace(
        "acoh: {name: acetic acid, smiles: CC(=O)O, neat: true}",
        "acoh: {name: acetic acid, smiles: CC(=O)O, stock: {concentration: 1.0 M, solvent: DCE}}",
    )
    .replace(
        "- add: {reagent: acoh, equiv: 1.0}", "- add: {reagent: acoh, equiv: 1.0, dropwise: 4-5 h}"
    )
)

START = "2026-11-22T09:00"


# --------------------------------------------------------------------------- helpers


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "headless Chromium is needed to test the HTML report and is not installed: run 'apt-get install -y chromium' as root (.ci/run does this)",
        pytrace=False,
    )


def _browser(url: str, tmp: Path, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess:
    profile = tmp / f"chromium-profile-{os.getpid()}-{len(list(tmp.glob('chromium-profile-*')))}"
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--window-size=1400,2400",
        *extra,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def dump_dom(html: Path, tmp: Path, fragment: str = "") -> str:
    out = _browser(
        html.resolve().as_uri() + fragment, tmp, "--dump-dom", "--virtual-time-budget=3000"
    ).stdout
    assert 'data-ready="1"' in out, "the report's script did not finish drawing:\n" + out[:2000]
    return out


def screenshot(html: Path, tmp: Path, png: Path) -> Path:
    _browser(html.resolve().as_uri(), tmp, f"--screenshot={png}", "--hide-scrollbars")
    assert png.exists(), "chromium wrote no screenshot"
    return png


def assert_nonblank_png(path: Path, min_size: tuple[int, int] = (300, 200)) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    img = mpimg.imread(str(path))
    h, w = img.shape[:2]
    assert w >= min_size[0] and h >= min_size[1], f"{path}: {w}×{h} is too small"
    rgb = img[..., :3].astype(float)
    assert rgb.std() > 0.05, f"{path} looks blank (pixel std {rgb.std():.3f})"
    not_white = (rgb.min(axis=2) < 0.9).mean()
    assert not_white > 0.03, f"{path} is almost all white ({not_white:.1%} of pixels drawn)"
    colourful = ((rgb.max(axis=2) - rgb.min(axis=2)) > 0.25).mean()
    assert colourful > 0.005, f"{path} has no coloured bars or wells ({colourful:.2%})"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        DIAZFLOW + list(args), capture_output=True, text=True, cwd=cwd or REPO, timeout=120
    )


def payload(html_text: str) -> dict:
    m = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html_text, re.S
    )
    assert m, "no embedded report data"
    return json.loads(m.group(1))


class _Tags(HTMLParser):
    """Every start tag with its attributes (to look for external resources)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_self_contained(html_text: str) -> None:
    lowered = html_text.lower()
    assert "http://" not in lowered and "https://" not in lowered, (
        "the report references a web address"
    )
    assert (
        "//cdn" not in lowered
        and "@import" not in lowered
        and "url(" not in re.sub(r"url\(#[\w-]+\)", "", lowered)
    )
    parser = _Tags()
    parser.feed(html_text)
    for tag, attrs in parser.tags:
        assert tag not in ("link", "iframe", "img", "object", "embed"), (
            f"external resource tag <{tag}>"
        )
        if tag == "script":
            assert "src" not in attrs, "a script is loaded from elsewhere"
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith("#"), f"<{tag} {key}={value!r}> leaves the page"


def count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


def simulate_journal(
    plan: Plan,
    path: Path,
    *,
    stop_after: int | None = None,
    fail_op: int | None = None,
    short_well: str | None = None,
    delay_s: float = 0.0,
) -> Path:
    """Write a journal the way the runtime does (its own Journal API), for a run that completes,
    is interrupted (``stop_after`` operations, then in flight) or fails at ``fail_op``."""
    from diazflow.runtime.journal import Journal

    j = Journal.create(
        str(path),
        plan_json=plan.to_json(),
        protocol_path=plan.protocol,
        deck_path=plan.deck,
        vessel_labware="reaction_block",
        backend="simulate",
        speed=None,
    )
    j.event(None, "run_started", 0.0)
    ops = sorted(plan.operations, key=lambda o: (o.t, o.id))
    offset = 0.0
    for n, op in enumerate(ops):
        start = op.t + offset
        j.op_started(op.id, start, offset)
        if stop_after is not None and n >= stop_after:
            j.flush(start)  # killed while this operation was in flight
            j.close()
            return path
        if op.op in ("dispense", "sample"):
            rows = []
            for ch, well, v in zip(
                op.channels or [], op.wells or [], op.volumes_uL or [], strict=False
            ):
                at = well if ":" in well else f"reaction_block:{well}"
                rows.append(
                    {"channel": ch, "at": at, "uL": v * (0.8 if well == short_well else 1.0)}
                )
            j.device_action(op.id, 0, "liquid_handler", op.op, start, {"channels": rows})
        if op.id == fail_op:
            j.event(
                op.id,
                "op_failed",
                start + 1.0,
                {
                    "kind": "tip_pickup",
                    "message": "liquid_handler: tip not picked up on channel(s) 3 (injected fault)",
                },
            )
            j.set_status(
                "failed",
                f"operation {op.id} ({op.op}, step {op.step}, line {op.line}) failed: tip not picked up on channel(s) 3",
            )
            j.close()
            return path
        if op.op in ("pick_up_tips", "aspirate", "dispense", "drop_tips"):
            offset += delay_s
        data: dict = {}
        if op.op == "wait_temperature":
            data = {"celsius_reached": (op.celsius or 0) + 0.3, "waited_s": op.duration}
        elif op.op == "set_temperature":
            data = {"setpoint_c": op.celsius, "from_c": 22.0}
        blocking = op.op not in ("shake", "wait", "set_temperature", "stop_shaking")
        j.op_completed(
            op.id,
            start
            + (op.duration if blocking else 0.0)
            + (delay_s if blocking and op.device == "liquid_handler" else 0.0),
            data,
            defer=True,
        )
    j.event(None, "run_complete", ops[-1].end + offset, status="complete")
    j.close()
    return path


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def dropwise(workdir) -> Path:
    return write_protocol(workdir, DROPWISE, "dropwise.yaml")


@pytest.fixture(scope="module")
def dropwise_plan(dropwise) -> Plan:
    result = check(str(dropwise))
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics if d.is_error]
    return result.plan


@pytest.fixture(scope="module")
def cli_report(workdir, dropwise) -> dict:
    """``diazflow report WORKFLOW -o ... --png DIR --start ...``, run once for several tests."""
    out = workdir / "dropwise.html"
    pngs = workdir / "png"
    proc = run_cli("report", str(dropwise), "-o", str(out), "--png", str(pngs), "--start", START)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        "html": out,
        "png": pngs,
        "stdout": proc.stdout,
        "text": out.read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def cli_dom(cli_report, workdir) -> str:
    return dump_dom(cli_report["html"], workdir)


# --------------------------------------------------------------------------- the workflow report


def test_cli_writes_one_self_contained_html_file(cli_report, dropwise_plan):
    text = cli_report["text"]
    assert "report written to" in cli_report["stdout"]
    assert text.startswith("<!DOCTYPE html>")
    assert_self_contained(text)
    data = payload(text)
    assert len(data["ops"]) == len(dropwise_plan.operations)
    assert len(data["plate"]["wells"]) == 96
    assert data["start"] == START
    lanes = [lane["label"] for lane in data["lanes"]]
    assert lanes[0] == "operator"
    assert [x for x in lanes if x.startswith("LH channel")] == [f"LH channel {c}" for c in range(8)]
    # STAB is weighed in by the operator (the STARlet's dispenser has no driver): no own lane
    assert "powder dispenser" not in lanes and "heater cooler shaker" in lanes


def test_browser_draws_timeline_plate_map_and_tables(cli_dom, dropwise_plan):
    dom = cli_dom
    gantt = re.search(r'<svg id="gantt".*?</svg>', dom, re.S).group(0)
    assert count(r"<rect[^>]*class=\"(?:op|agg)", gantt) > 20, "the timeline has no bars"
    for label in (
        "operator",
        "LH channel 0",
        "LH channel 7",
        "heater cooler shaker",
    ):
        assert f">{label}</text>" in gantt
    # the temperature profile is a line through 0 °C
    temp = re.search(r'<svg id="temp".*?</svg>', dom, re.S).group(0)
    assert "<polyline" in temp and "0 °C" in temp
    # 96 wells with content: each names its aldehyde and amounts
    plate = re.search(r'<svg id="platemap".*?</svg>', dom, re.S).group(0)
    wells = re.findall(
        r'<g class="well used[^"]*" data-well="([A-H]\d+)"><circle[^>]*fill="([^"]+)"[^>]*/?>(?:</circle>)?<title>(.*?)</title>',
        plate,
        re.S,
    )
    assert len(wells) == 96
    assert len({w for w, _, _ in wells}) == 96
    a1 = next(t for w, _, t in wells if w == "A1")
    assert "benzaldehyde" in a1 and "µmol" in a1 and "final volume" in a1
    assert len({fill for _, fill, _ in wells}) == 12, "one colour per aldehyde (12 columns)"
    # stock list, operator timeline, steps, diagnostics
    covered = [int(n) for n in re.findall(r'<tr class="stock" data-n="(\d+)">', dom)]
    assert sum(covered) == len(dropwise_plan.stocks), "every stock position is in the list"
    assert len(covered) < len(dropwise_plan.stocks), "identical stocks in a column share a row"
    assert (
        count(
            r"<tr class=\"(?:blocking|optional|)\">",
            re.search(r'<table class="data" id="operator-table">.*?</table>', dom, re.S).group(0),
        )
        >= 4
    )
    assert (
        count(r"<tr>", re.search(r'id="step-table">.*?</table>', dom, re.S).group(0))
        == len(dropwise_plan.steps) + 1
    )
    # the protocol's warnings (DF306: it runs at 0.25 M; its vials stay open, so no DF403)
    assert 'id="diag-table"' in dom and "DF306" in dom
    # the page's script writes the same clock times as the static table
    assert '<td class="time abs" data-t="0.0">Sun 22 Nov 09:00</td>' in dom


def test_every_control_works_in_the_browser(cli_report, workdir):
    """The page drives its own controls (#selftest): colour modes, zoom buttons, sliders, wheel,
    drag, go-to, hover and click on an operation and a well, highlight, start time."""
    dom = dump_dom(cli_report["html"], workdir, "#selftest")
    assert re.search(r'data-selftest="([^"]*)"', dom).group(1) == "ok"


def test_screenshot_is_not_blank(cli_report, workdir):
    png = screenshot(cli_report["html"], workdir, workdir / "report.png")
    assert_nonblank_png(png, (1400, 2400))


def test_png_option_writes_timeline_and_plate_map(cli_report):
    for name in ("timeline.png", "platemap.png"):
        path = cli_report["png"] / name
        assert str(path) in cli_report["stdout"]
        assert_nonblank_png(path, (800, 300))


def test_stock_list_says_what_to_weigh_and_where(cli_report, dropwise_plan):
    text = cli_report["text"]
    table = re.search(r'id="stock-table">.*?</table>', text, re.S).group(0)
    diazepane = next(s for s in dropwise_plan.stocks if s.reagent == "diazepane")
    row = next(
        r for r in re.findall(r'<tr class="stock".*?</tr>', table, re.S) if diazepane.location in r
    )
    # a liquid solute is measured by volume, its mass given as a check
    assert diazepane.measure_uL is not None and diazepane.weigh_mg is not None
    assert f"measure {diazepane.measure_uL:.0f} µL ({diazepane.weigh_mg:.1f} mg)" in row
    assert "with DCE" in row and f"{diazepane.volume_uL:.0f}" in row
    # the library column: one row for the 8 wells of benzaldehyde, with a one-batch recipe
    benz = [s for s in dropwise_plan.stocks if s.substance == "benzaldehyde"]
    assert len(benz) == 8
    row = next(
        r for r in re.findall(r'<tr class="stock".*?</tr>', table, re.S) if "benzaldehyde" in r
    )
    assert (
        "building_blocks:A1–H1" in row and "(8 wells, each)" in row and "one batch for all 8" in row
    )
    assert f"{benz[0].weigh_mg * 8:.2f}" in row
    stab = next(s for s in dropwise_plan.stocks if s.reagent == "stab")
    assert stab.location in table and f"{stab.weigh_mg:.1f}" in table
    # where each labware goes on the deck (from the deck layout)
    assert "plate_carrier site 0 (rails 15)" in table


def test_operator_timeline_gives_clock_times(cli_report, dropwise_plan):
    table = re.search(r'id="operator-table">.*?</table>', cli_report["text"], re.S).group(0)
    rows = re.findall(
        r"<tr class=\"([^\"]*)\"><td class=\"time\">([^<]+)</td><td class=\"time abs\" data-t=\"([^\"]+)\">([^<]+)</td><td><b>([^<]+)</b>",
        table,
    )
    assert rows[0][1:] == (
        "+0:00:00",
        "0.0",
        "Sun 22 Nov 09:00",
        "Set up the deck and start the run",
    )
    prompts = [op for op in dropwise_plan.operations if op.op == "prompt"]
    workup = prompts[-1]
    from datetime import datetime, timedelta

    expected = (datetime(2026, 11, 22, 9, 0) + timedelta(seconds=workup.t)).strftime(
        "%a %d %b %H:%M"
    )
    assert any(r[2] == str(workup.t) and r[3] == expected and r[0] == "blocking" for r in rows)
    assert any("Samples ready in sample_plate" in r[4] and r[0] == "optional" for r in rows)


def test_timeline_zooms_to_one_dropwise_round(cli_report, workdir, dropwise_plan):
    data = payload(cli_report["text"])
    (first_round,) = data["rounds"]
    assert first_round["step"] == 4
    a, b = first_round["start"], first_round["end"]
    dom = dump_dom(cli_report["html"], workdir, f"#view={a - 1},{b + 1}")
    gantt = re.search(r'<svg id="gantt"[^>]*>', dom).group(0)
    assert 'data-aggregates="0"' in gantt, "one round must be drawn operation by operation"
    drawn = {int(i) for i in re.findall(r'class="op plan" data-i="(\d+)"', dom)}
    in_round = {
        op.id
        for op in dropwise_plan.operations
        if op.device == "liquid_handler" and op.t < b + 1 and op.end > a - 1
    }
    assert in_round <= drawn
    assert any(
        isinstance(op, Dispense) and op.aliquot == 1
        for op in dropwise_plan.operations
        if op.id in drawn
    )
    # zoomed out, the same operations are aggregated into blocks
    assert (
        int(
            re.search(
                r'data-aggregates="(\d+)"',
                re.search(r'<svg id="gantt"[^>]*>', dump_dom(cli_report["html"], workdir)).group(0),
            ).group(1)
        )
        > 0
    )


def test_temperature_profile_ramps_during_waits(dropwise_plan):
    report = report_for_plan(dropwise_plan)
    (device,) = report.temperature_series()
    series = report.temperature_series()[device]
    block = series["block"]
    assert block[0] == [0.0, 22.0]
    wait = next(op for op in dropwise_plan.operations if op.op == "wait_temperature")
    assert [wait.t, 22.0] in block and [wait.end, 4.0] in block
    assert series["setpoint"][0][1] == 4.0
    assert block[-1][0] == dropwise_plan.makespan_s


def report_for_plan(plan: Plan):
    from diazflow.report import report_from_plan

    return report_from_plan(plan, source_path="plan.json")


def test_plan_json_input_and_invalid_protocol(tmp_path, dropwise):
    plan_json = tmp_path / "plan.json"
    assert run_cli("compile", str(dropwise), "-o", str(plan_json)).returncode == 0
    out = tmp_path / "from-plan.html"
    proc = run_cli("report", str(plan_json), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    data = payload(out.read_text(encoding="utf-8"))
    assert data["kind"] == "plan" and len(data["plate"]["wells"]) == 96
    # a protocol that does not compile: exit 1, and the report shows where and why
    broken = write_protocol(
        tmp_path, DROPWISE.replace("to: 4 degC}", "to: -40 degC}"), "broken.yaml"
    )
    bad = tmp_path / "broken.html"
    proc = run_cli("report", str(broken), "-o", str(bad))
    assert proc.returncode == 1
    text = bad.read_text(encoding="utf-8")
    assert 'class="banner banner-error"' in text and "DF512" in text
    line = next(i for i, s in enumerate(broken.read_text().splitlines(), 1) if "-40 degC" in s)
    assert re.search(rf"broken\.yaml:{line}:\d+", text)
    assert "hint:" in text
    assert_self_contained(text)


def test_bad_start_time_is_a_usage_error(dropwise, tmp_path):
    proc = run_cli(
        "report", str(dropwise), "-o", str(tmp_path / "x.html"), "--start", "next tuesday"
    )
    assert proc.returncode == 2 and "--start" in proc.stderr
    assert parse_start("2026-11-22 09:00").hour == 9


# --------------------------------------------------------------------------- thousands of operations


def test_ten_thousand_operations_render_aggregated(workdir):
    protocol = write_protocol(workdir, LONG_DROPWISE, "long.yaml")
    result = check(str(protocol))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    plan = result.plan
    # a two-day campaign: the same plate twice, back to back
    shift = plan.makespan_s
    second = [
        op.model_copy(update={"id": op.id + len(plan.operations), "t": round(op.t + shift, 3)})
        for op in plan.operations
    ]
    big = plan.model_copy(
        update={"operations": list(plan.operations) + second, "makespan_s": 2 * shift}
    )
    assert len(big.operations) >= 10_000
    from diazflow.report import report_from_plan

    out = workdir / "big.html"
    out.write_text(render_html(report_from_plan(big, source_path=str(protocol))), encoding="utf-8")
    assert out.stat().st_size < 8_000_000
    dom = dump_dom(out, workdir, "#bench")
    body = re.search(r"<body[^>]*>", dom).group(0)
    # the page measures its own first render and a zoom/pan redraw; how fast they must be is a
    # benchmark's business (a timed assertion here fails on a loaded CI machine), that they ran
    # to the end is this test's
    assert float(re.search(r'data-render-ms="([\d.]+)"', body).group(1)) > 0
    assert float(re.search(r'data-bench-ms="([\d.]+)"', body).group(1)) > 0
    gantt = re.search(r'<svg id="gantt"[^>]*>', dom).group(0)
    rects = int(re.search(r'data-rects="(\d+)"', gantt).group(1))
    assert rects < 4000, f"{rects} SVG elements for the whole run: operations are not aggregated"


# --------------------------------------------------------------------------- journals


@pytest.fixture(scope="module")
def journals(workdir, dropwise_plan) -> dict[str, Path]:
    n = len(dropwise_plan.operations)
    first_dropwise = min(op.id for op in dropwise_plan.operations if _aliquot(op) == 1)
    fail = next(
        op
        for op in sorted(dropwise_plan.operations, key=lambda o: (o.t, o.id))
        if op.op == "pick_up_tips" and op.t > dropwise_plan.operations[first_dropwise].t + 600
    )
    return {
        "complete": simulate_journal(dropwise_plan, workdir / "complete.journal", delay_s=0.2),
        "interrupted": simulate_journal(
            dropwise_plan, workdir / "interrupted.journal", stop_after=n // 3
        ),
        "failed": simulate_journal(
            dropwise_plan, workdir / "failed.journal", fail_op=fail.id, short_well="B1"
        ),
    }


def test_journal_complete_run(journals, dropwise_plan):
    view = load_journal(journals["complete"])
    assert view.status == "complete"
    assert len(view.records) == len(dropwise_plan.operations)
    report = report_from_journal(view)
    banner = report.banner()
    assert banner.level == "ok" and "nothing went wrong" in banner.title
    assert set(report.well_status().values()) == {"completed"}
    # planned vs actual: the liquid handler ran 0.2 s per operation slower than planned
    rows = report.step_rows()
    assert all(r["done"] == r["ops"] for r in rows)
    assert report.max_delay() > 1.0


def test_journal_failed_run_says_what_went_wrong(journals, workdir, dropwise_plan):
    out = workdir / "failed.html"
    proc = run_cli(
        "report", str(journals["failed"]), "-o", str(out), cwd=workdir
    )  # not where the plan was compiled
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert "plate_carrier site 0 (rails 15)" in text, "the deck layout is found from the journal"
    assert_self_contained(text)
    assert 'class="banner banner-error"' in text and "Run failed" in text
    assert "tip not picked up" in text
    assert "B1" in re.search(r'id="deviation-table">.*?</table>', text, re.S).group(0), (
        "the short dispense into B1 is listed"
    )
    data = payload(text)
    statuses = {op["st"] for op in data["ops"]}
    assert {"completed", "failed", "pending"} <= statuses
    well_states = [w["status"] for w in data["plate"]["wells"].values()]
    failed_op = next(
        op
        for op in dropwise_plan.operations
        if op.id == next(o["i"] for o in data["ops"] if o["st"] == "failed")
    )
    assert failed_op.op == "pick_up_tips"
    assert well_states.count("failed") == len(failed_op.channels), (
        "the wells the failed tip pick-up was meant for"
    )
    assert well_states.count("partial") == 96 - len(failed_op.channels), (
        "the dropwise addition is half done everywhere else"
    )
    dom = dump_dom(out, workdir)
    assert count(r'<rect class="op act"', dom) > 0, "no actual (journal) bars in the timeline"
    assert "journal ends" in dom
    assert re.search(r'<circle class="measured"', dom), "reported block temperatures are drawn"
    plate = re.search(r'<svg id="platemap".*?</svg>', dom, re.S).group(0)
    assert count(r'class="well used', plate) == 96
    assert (
        "#d62728" in plate and "#8fd19e" in plate
    )  # the wells of the failed operation, and partly done ones


def test_journal_interrupted_run(journals, workdir):
    view = load_journal(journals["interrupted"])
    assert view.status == "interrupted"
    flight = [r for r in view.records.values() if r.status == "in_flight"]
    assert len(flight) == 1
    report = report_from_journal(view)
    banner = report.banner()
    assert banner.level == "warning" and "interrupted" in banner.title
    assert any("diazflow resume" in line for line in banner.lines)
    assert view.status_of(flight[0].id) == "in_flight"
    states = set(report.well_status().values())
    assert "completed" not in states and {"partial", "not_run"} & states
    out = workdir / "interrupted.html"
    out.write_text(render_html(report), encoding="utf-8")
    dom = dump_dom(out, workdir, "#selftest")
    assert re.search(r'data-selftest="([^"]*)"', dom).group(1) == "ok"
    assert count(r'<rect class="op act"', dom) > 0
    png = screenshot(out, workdir, workdir / "interrupted.png")
    assert_nonblank_png(png, (1400, 2400))


def test_journal_png(journals, tmp_path):
    from diazflow.report import write_pngs

    report = report_from_journal(load_journal(journals["failed"]))
    for path in write_pngs(report, str(tmp_path / "png")):
        assert_nonblank_png(Path(path), (800, 300))


def test_real_run_with_a_fault_end_to_end(workdir, dropwise, dropwise_plan):
    """``diazflow run`` (simulated devices, a tip pick-up that fails), then ``diazflow report``."""
    ordered = sorted(dropwise_plan.operations, key=lambda o: (o.t, o.id))
    first_round = min(op.t for op in ordered if _aliquot(op) == 1)
    fault = next(op for op in ordered if op.op == "pick_up_tips" and op.t > first_round + 600)
    journal = workdir / "real-run.journal"
    run = run_cli(
        "run",
        str(dropwise),
        "--journal",
        str(journal),
        "--quiet",
        "--inject-fault",
        f"{fault.id}:tip_not_picked_up",
    )
    assert run.returncode == 3, run.stdout + run.stderr
    out = workdir / "real-run.html"
    proc = run_cli("report", str(journal), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert (
        "Run failed" in text and f"#{fault.id} pick_up_tips" in text and "tip not picked up" in text
    )
    data = payload(text)
    failed = [o["i"] for o in data["ops"] if o["st"] == "failed"]
    assert failed == [fault.id]
    done = {o["i"] for o in data["ops"] if o["st"] == "completed"}
    assert done == {op.id for op in ordered[: ordered.index(fault)]}
    states = [w["status"] for w in data["plate"]["wells"].values()]
    assert states.count("failed") == len(fault.channels)
    # the devices' own record: every completed dispense is in the reported volumes
    reported = sum(v for w in data["plate"]["wells"].values() for v in w["actual"].values())
    planned = sum(
        sum(op.volumes_uL) for op in ordered[: ordered.index(fault)] if op.op == "dispense"
    )
    assert reported == pytest.approx(planned, rel=1e-6)


def test_report_for_detects_the_input_kind(journals, dropwise):
    assert report_for(str(journals["complete"])).source_kind == "journal"
    assert report_for(str(dropwise)).source_kind == "workflow"


# --------------------------------------------------------------------------- live visualizer


def test_live_visualizer_serves_on_localhost_and_stops():
    import asyncio
    import urllib.request

    from pylabrobot.liquid_handling import LiquidHandler
    from pylabrobot.liquid_handling.backends.chatterbox import LiquidHandlerChatterboxBackend
    from pylabrobot.resources import STARLetDeck
    from websockets.sync.client import connect

    from diazflow.runtime.visualizer import start_visualizer

    lh = LiquidHandler(backend=LiquidHandlerChatterboxBackend(num_channels=8), deck=STARLetDeck())
    asyncio.run(lh.setup())
    handle = start_visualizer(lh)
    try:
        assert handle.host == "127.0.0.1" and handle.url.startswith("http://127.0.0.1:")
        page = urllib.request.urlopen(handle.url, timeout=5).read().decode()
        assert "PyLabRobot Visualizer" in page and str(handle.ws_port) in page
        with connect(f"ws://127.0.0.1:{handle.ws_port}", open_timeout=5) as ws:
            ws.send(json.dumps({"event": "ready"}))
            message = json.loads(ws.recv(timeout=5))
            assert message["event"] == "set_root_resource"
            assert message["data"]["resource"]["name"] == lh.name
    finally:
        handle.stop()
    assert not handle.running
    for port in (handle.fs_port, handle.ws_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    # the deck no longer calls into the stopped visualizer
    assert not lh.deck._resource_state_updated_callbacks
    asyncio.run(lh.stop())
