"""The results of a run in its report: a heat map of the plate per metric, the outcome by factor
(each library's members, each design factor's levels, each condition) and the best wells.

Drawn here as static HTML (tables with coloured cells), not by the page's script: it prints,
reads without JavaScript, and a test can read each well's value from the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from diazflow.compiler.plan import Plan
from diazflow.language.wells import row_letter
from diazflow.results.models import METRIC_LABELS, PERCENT_METRICS, RunResults, WellResult
from diazflow.results.table import design_factors, library_reagents

BEST_WELLS = 10

# viridis at 0, 25, 50, 75 and 100 %: perceptually even, readable in grey and by the colour-blind
_STOPS = (
    (0x44, 0x01, 0x54),
    (0x3B, 0x52, 0x8B),
    (0x21, 0x91, 0x8C),
    (0x5E, 0xC9, 0x62),
    (0xFD, 0xE7, 0x25),
)

RESULTS_CSS = """
table.heatmap { border-collapse: separate; border-spacing: 2px; margin: 6px 0 14px; }
table.heatmap th { font-weight: 600; color: var(--muted); padding: 0 4px; font-size: 12px; }
table.heatmap td { width: 46px; height: 30px; text-align: center; font-size: 12px;
  font-variant-numeric: tabular-nums; border-radius: 4px; }
table.heatmap td.none { background: #f2f2f2; color: #999; }
table.heatmap td.off { background: transparent; border: 1px dashed #ddd; }
.scale { display: inline-block; width: 200px; height: 10px; vertical-align: middle;
  background: linear-gradient(to right, #440154, #3b528b, #21918c, #5ec962, #fde725); }
"""


def _e(x: object) -> str:
    return escape("" if x is None else str(x), quote=True)


def heat_color(fraction: float) -> tuple[str, str]:
    """(background, text colour) for a value at ``fraction`` (0-1) of the scale."""
    f = min(max(fraction, 0.0), 1.0) * (len(_STOPS) - 1)
    i = min(int(f), len(_STOPS) - 2)
    t = f - i
    rgb = [round(a + (b - a) * t) for a, b in zip(_STOPS[i], _STOPS[i + 1], strict=True)]
    luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return "#{:02x}{:02x}{:02x}".format(*rgb), ("#000" if luminance > 140 else "#fff")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class LevelOutcome:
    """One level of a factor (a library member, a design factor's level, a condition)."""

    level: str
    wells: tuple[str, ...]  # the reaction wells at this level that have a result
    mean: dict[str, float]  # metric -> mean over those wells (metrics with a value)
    best: dict[str, float]  # metric -> max


def factor_outcomes(plan: Plan, results: RunResults) -> list[tuple[str, list[LevelOutcome]]]:
    """(factor's title, its levels, best mean of the main metric first) for every library
    (reagents whose substance varies), every design factor and, with a design, every condition."""
    factors: list[tuple[str, dict[str, str]]] = []
    for rid in library_reagents(plan):
        factors.append(
            (
                f"library member: {rid}",
                {
                    w: (a.substance or rid)
                    for w, wp in plan.wells.items()
                    if (a := wp.reagents.get(rid))
                },
            )
        )
    for factor in design_factors(plan):
        levels = {
            w: wp.conditions[factor]
            for w, wp in plan.wells.items()
            if wp.conditions and factor in wp.conditions
        }
        factors.append((f"design factor: {factor}", levels))
    conditions: dict[str, str] = {
        w: wp.condition_id for w, wp in plan.wells.items() if wp.condition_id
    }
    if conditions:
        factors.append(("condition", conditions))
    metrics = [m for m in PERCENT_METRICS if m in results.metrics]
    main = results.main_metric
    out = []
    for title, level_of in factors:
        by_level: dict[str, list[WellResult]] = {}
        for well, level in level_of.items():
            if well in results.wells:
                by_level.setdefault(level, []).append(results.wells[well])
        rows = []
        for level, wells in by_level.items():
            mean, best = {}, {}
            for metric in metrics:
                values = [v for r in wells if (v := r.value(metric)) is not None]
                if values:
                    mean[metric] = sum(values) / len(values)
                    best[metric] = max(values)
            rows.append(LevelOutcome(level, tuple(r.well for r in wells), mean, best))
        if main is not None:
            rows.sort(key=lambda o: -o.mean.get(main, -1.0))
        out.append((title, rows))
    return out


def render_results(add, plan: Plan, results: RunResults, rows: int, cols: int) -> None:
    """The section ``<section id="results">``."""
    add(f"<style>{RESULTS_CSS}</style>")
    add('<section id="results"><h2>Results</h2>')
    add(
        f'<p class="hint">{len(results.wells)} of {len(plan.wells)} reaction wells have results, '
        f"from <code>{_e(results.source)}</code> (imported {_e(results.imported.strftime('%Y-%m-%d %H:%M'))} UTC, "
        f"SHA-256 {_e(results.sha256[:12])}…). Colour scale 0–100 %: "
        '<span class="scale"></span> (dark: low, yellow: high); grey: no result; dashed: not a reaction well.</p>'
    )
    for metric in [m for m in PERCENT_METRICS if m in results.metrics]:
        _heatmap(add, plan, results, metric, rows, cols)
    _by_factor(add, plan, results)
    _best(add, plan, results)
    add("</section>")


def _heatmap(add, plan: Plan, results: RunResults, metric: str, rows: int, cols: int) -> None:
    add(f"<h3>{_e(METRIC_LABELS[metric])}</h3>")
    add(f'<table class="heatmap" data-metric="{_e(metric)}"><thead><tr><th></th>')
    add("".join(f"<th>{c + 1}</th>" for c in range(cols)) + "</tr></thead><tbody>")
    for r in range(rows):
        cells = [f"<th>{row_letter(r)}</th>"]
        for c in range(cols):
            well = f"{row_letter(r)}{c + 1}"
            result = results.wells.get(well)
            value = result.value(metric) if result else None
            if well not in plan.wells:
                cells.append('<td class="off"></td>')
            elif value is None:
                cells.append(
                    f'<td class="none" data-well="{well}" title="{well}: no result">–</td>'
                )
            else:
                background, text = heat_color(value / 100.0)
                tip = f"{well}: {METRIC_LABELS[metric]} {_fmt(value)}" + (
                    f" — {result.comment}" if result and result.comment else ""
                )
                cells.append(
                    f'<td data-well="{well}" data-value="{value!r}" title="{_e(tip)}" '
                    f'style="background:{background};color:{text}">{_fmt(value)}</td>'
                )
        add("<tr>" + "".join(cells) + "</tr>")
    add("</tbody></table>")


def _by_factor(add, plan: Plan, results: RunResults) -> None:
    outcomes = factor_outcomes(plan, results)
    if not outcomes:
        return
    metrics = [m for m in PERCENT_METRICS if m in results.metrics]
    add("<h3>Outcome by factor</h3>")
    add(
        '<p class="hint">For each library (the reagents that differ between wells) and each factor '
        "of the design: the wells with a result at each member or level, the mean and the best "
        "value; best mean first.</p>"
    )
    for title, levels in outcomes:
        head = "".join(
            f'<th class="num">mean {_e(METRIC_LABELS[m])}</th><th class="num">best</th>'
            for m in metrics
        )
        add(f"<h4>{_e(title)}</h4>")
        many = len(levels) > 12  # a 96-member library: folded, best first, so the page stays short
        if many:
            add(f"<details><summary>{len(levels)} members or levels, best mean first</summary>")
        add(
            f'<table class="data factor"><thead><tr><th>level</th><th class="num">wells</th>{head}</tr></thead><tbody>'
        )
        for o in levels:
            values = "".join(
                f'<td class="num">{_fmt(o.mean.get(m))}</td><td class="num">{_fmt(o.best.get(m))}</td>'
                for m in metrics
            )
            add(f'<tr><td>{_e(o.level)}</td><td class="num">{len(o.wells)}</td>{values}</tr>')
        add("</tbody></table>" + ("</details>" if many else ""))


def _best(add, plan: Plan, results: RunResults) -> None:
    main = results.main_metric
    best = results.best(BEST_WELLS)
    if main is None or not best:
        return
    members = library_reagents(plan)
    keyed = any(wp.condition_id for wp in plan.wells.values())
    metrics = list(results.metrics)
    add(f"<h3>Best wells by {_e(METRIC_LABELS[main].lower())}</h3>")
    head = (
        "<th>condition</th>" if keyed else ""
    ) + "<th>well</th><th>reagents (library members)</th><th>conditions</th>"
    head += (
        "".join(f'<th class="num">{_e(METRIC_LABELS[m])}</th>' for m in metrics)
        + "<th>comment</th>"
    )
    add(f'<table class="data" id="best-wells"><thead><tr><th>#</th>{head}</tr></thead><tbody>')
    for rank, r in enumerate(best, 1):
        wp = plan.wells[r.well]
        reagents = ", ".join(
            f"{rid}: {a.substance or rid}" for rid in members if (a := wp.reagents.get(rid))
        )
        conditions = ", ".join(f"{k} = {v}" for k, v in (wp.conditions or {}).items())
        cells = "".join(f'<td class="num">{_fmt(r.value(m))}</td>' for m in metrics)
        condition = f"<td>{_e(wp.condition_id)}</td>" if keyed else ""
        add(
            f'<tr data-well="{r.well}"><td>{rank}</td>{condition}<td>{r.well}</td><td>{_e(reagents)}</td>'
            f"<td>{_e(conditions)}</td>{cells}<td>{_e(r.comment)}</td></tr>"
        )
    add("</tbody></table>")
