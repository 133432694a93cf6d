"""Static PNG images of the timeline (with the block temperature) and the plate map.

For lab notebooks and e-mail.  matplotlib is imported lazily (``pip install diazflow[report]``)
and always with the non-interactive Agg backend.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from diazflow.compiler.plan import Plan
from diazflow.language.wells import row_letter
from diazflow.report.model import (
    OP_COLORS,
    OPERATOR,
    STATUS_COLORS,
    STATUS_LABELS,
    Report,
)

PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#17becf",
]


def _plt():
    from diazflow.extras import require

    require("report")  # MissingExtra: one line with the install command (the CLI: exit 2)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _color(i: int) -> str:
    if i < len(PALETTE):
        return PALETTE[i]
    import colorsys

    r, g, b = colorsys.hls_to_rgb(((i * 137.508) % 360) / 360, 0.42 + (i % 3) * 0.12, 0.62)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _time_unit(makespan: float) -> tuple[float, str]:
    if makespan >= 3 * 3600:
        return 3600.0, "h"
    if makespan >= 180:
        return 60.0, "min"
    return 1.0, "s"


def write_pngs(report: Report, directory: str) -> list[str]:
    """Write ``timeline.png`` and ``platemap.png`` into ``directory``; return their paths."""
    if report.plan is None:
        return []
    os.makedirs(directory, exist_ok=True)
    plt = _plt()
    out = [
        timeline_png(report, os.path.join(directory, "timeline.png"), plt),
        platemap_png(report, os.path.join(directory, "platemap.png"), plt),
    ]
    if report.journal is not None and report.journal.results is not None:
        out.append(results_png(report, os.path.join(directory, "results.png"), plt))
    return out


def _plan_of(report: Report) -> Plan:
    if report.plan is None:
        raise ValueError("the report has no plan to draw (the protocol does not compile)")
    return report.plan


def timeline_png(report: Report, path: str, plt=None) -> str:
    plan = _plan_of(report)
    plt = plt or _plt()
    from matplotlib.patches import Patch

    lanes = report.lanes()
    index = {lane.id: i for i, lane in enumerate(lanes)}
    scale, unit = _time_unit(plan.makespan_s)
    series = report.temperature_series()
    journal = report.journal
    fig_h = 1.6 + 0.32 * len(lanes) + (1.9 if series else 0)
    fig = plt.figure(figsize=(14, fig_h), dpi=110)
    if series:
        gs = fig.add_gridspec(2, 1, height_ratios=[0.32 * len(lanes) + 0.6, 1.9], hspace=0.25)
        ax = fig.add_subplot(gs[0])
        axt = fig.add_subplot(gs[1], sharex=ax)
    else:
        ax = fig.add_subplot(1, 1, 1)
        axt = None
    bars, actual, kinds_seen = _timeline_bars(report, index, scale)
    h = 0.55 if journal is None else 0.45
    for (li, color), segs in bars.items():
        ax.broken_barh(
            segs, (li - h / 2 - (0.12 if journal else 0), h), facecolors=color, linewidth=0
        )
    for (li, color), segs in actual.items():
        ax.broken_barh(segs, (li + 0.22, 0.22), facecolors=color, linewidth=0)
    marks = [
        (op.t / scale, index[OPERATOR])
        for op in report.operations
        if op.device == OPERATOR and OPERATOR in index
    ]
    if marks:
        ax.scatter(
            [m[0] for m in marks],
            [m[1] for m in marks],
            marker="D",
            s=36,
            color=OP_COLORS["prompt"],
            zorder=3,
            clip_on=False,
        )
    for s in plan.steps:
        ax.axvline(s.start / scale, color="#b9c6d6", linewidth=0.6, linestyle="--", zorder=0)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels([lane.label for lane in lanes], fontsize=8)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_xlim(0, max(plan.makespan_s, 1) / scale * 1.01)
    ax.grid(axis="x", color="#eeeeee")
    ax.set_title(
        f"{report.title} — timeline (makespan {plan.makespan_s / scale:.2f} {unit})",
        fontsize=10,
        loc="left",
        pad=24,
    )
    handles = [
        Patch(color=OP_COLORS.get(k, "#999"), label=k.replace("_", " "))
        for k in OP_COLORS
        if k in kinds_seen
    ]
    if journal is not None:
        handles += [
            Patch(color=STATUS_COLORS[s], label=f"actual: {STATUS_LABELS[s]}")
            for s in ("completed", "in_flight", "failed")
        ]
    ax.legend(
        handles=handles,
        fontsize=7,
        ncol=len(handles),
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        frameon=False,
        handlelength=1.2,
        columnspacing=1.0,
        borderaxespad=0.2,
    )
    if axt is not None:
        plt.setp(ax.get_xticklabels(), visible=False)
        _plot_temperatures(axt, series, plan.makespan_s, scale, unit)
    else:
        ax.set_xlabel(f"time from start / {unit}", fontsize=8)
    ax.tick_params(labelsize=8)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


Bars = dict[tuple[int, str], list[tuple[float, float]]]
"""(lane index, colour) → (start, width) segments: one broken_barh call each."""


def _timeline_bars(
    report: Report, index: dict[str, int], scale: float
) -> tuple[Bars, Bars, list[str]]:
    """Planned (and actual) bars per (lane, colour), and the kinds of operation in order seen."""
    journal = report.journal
    # one broken_barh call per lane and colour: thousands of operations stay fast
    bars: Bars = defaultdict(list)
    actual: Bars = defaultdict(list)
    min_w = (report.plan.makespan_s if report.plan else 0.0) / scale / 2000
    kinds_seen: list[str] = []
    for op in report.operations:
        color = OP_COLORS.get(op.op, "#999999")
        if op.op not in kinds_seen:
            kinds_seen.append(op.op)
        for lid in report.lane_ids(op):
            if lid in index:
                bars[(index[lid], color)].append((op.t / scale, max(op.duration / scale, min_w)))
                span = report.actual_span(op)
                if span is not None and journal is not None:
                    actual[
                        (index[lid], STATUS_COLORS.get(journal.status_of(op.id), "#999"))
                    ].append((span[0] / scale, max((span[1] - span[0]) / scale, min_w)))
    return bars, actual, kinds_seen


def _plot_temperatures(
    axt: Any,
    series: dict[str, dict[str, list[list[float]]]],
    makespan: float,
    scale: float,
    unit: str,
) -> None:
    """The block temperature, set-points and reported temperatures under the timeline."""
    for i, (device, s) in enumerate(sorted(series.items())):
        xs = [p[0] / scale for p in s["block"]]
        ys = [p[1] for p in s["block"]]
        axt.plot(xs, ys, color=_color(i + 2), linewidth=1.8, label=f"{device} (block)")
        if s["setpoint"]:
            sx: list[float] = []
            sy: list[float] = []
            for t, c in s["setpoint"]:
                if sx:
                    sx.append(t / scale)
                    sy.append(sy[-1])
                sx.append(t / scale)
                sy.append(c)
            sx.append(makespan / scale)
            sy.append(sy[-1])
            axt.plot(
                sx,
                sy,
                color=_color(i + 2),
                linewidth=1,
                linestyle="--",
                label=f"{device} (setpoint)",
            )
    lo, hi = axt.get_ylim()
    if hi - lo < 10:
        mid = (hi + lo) / 2
        axt.set_ylim(mid - 5, mid + 5)
    for i, (device, s) in enumerate(sorted(series.items())):
        if s.get("measured"):
            axt.scatter(
                [p[0] / scale for p in s["measured"]],
                [p[1] for p in s["measured"]],
                s=18,
                facecolors="white",
                edgecolors=_color(i + 2),
                zorder=3,
                label=f"{device} (reported)",
            )
    axt.set_ylabel("°C", fontsize=8)
    axt.legend(fontsize=7, loc="upper right", frameon=False)
    axt.set_xlabel(f"time from start / {unit}", fontsize=8)
    axt.grid(color="#eeeeee")
    axt.tick_params(labelsize=8)


def _plate_axes(ax, rows: int, cols: int) -> None:
    """Axes drawn as a plate: one unit per well, row letters down, column numbers across."""
    ax.set_xlim(-0.6, cols - 0.4)
    ax.set_ylim(rows - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.set_xticks(range(cols))
    ax.set_xticklabels([str(c + 1) for c in range(cols)], fontsize=8)
    ax.set_yticks(range(rows))
    ax.set_yticklabels([row_letter(r) for r in range(rows)], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def platemap_png(report: Report, path: str, plt=None) -> str:
    plt = plt or _plt()
    from matplotlib.patches import Circle, Patch

    plan = _plan_of(report)
    rows, cols = report.plate_rows, report.plate_cols
    status = report.well_status()
    # colour by run status for a journal, else by library member (the reagent that varies most)
    varying: dict[str, list[str]] = {}
    for wp in plan.wells.values():
        for rid, a in wp.reagents.items():
            name = a.substance or rid
            lst = varying.setdefault(rid, [])
            if name not in lst:
                lst.append(name)
    libs = {rid: names for rid, names in varying.items() if len(names) > 1}
    lib = max(libs, key=lambda r: len(libs[r])) if libs else None
    fig_w = max(6.0, cols * 0.62 + 4.8)
    fig, ax = plt.subplots(figsize=(fig_w, rows * 0.62 + 1.4), dpi=110)
    handles = []
    member_of: dict[str, int] = {}
    numbered = False
    if journal_mode := report.journal is not None:
        colors = {w: STATUS_COLORS.get(status.get(w, "not_run")) for w in plan.wells}
        for s in ("completed", "partial", "in_flight", "failed", "not_run"):
            n = sum(1 for v in status.values() if v == s)
            if n:
                handles.append(Patch(color=STATUS_COLORS[s], label=f"{STATUS_LABELS[s]} ({n})"))
        what = "run status"
    elif lib is not None:
        names = libs[lib]
        member_of = {
            w: names.index(wp.reagents[lib].substance or lib)
            for w, wp in plan.wells.items()
            if lib in wp.reagents
        }
        colors = {w: _color(i) for w, i in member_of.items()}
        numbered = len(names) > 12
        handles = [
            Patch(color=_color(i), label=f"{i + 1}  {n}" if numbered else n)
            for i, n in enumerate(names)
        ]
        what = f"library member: {lib}" + (" (numbers: see the key)" if numbered else "")
    else:
        colors = {w: "#76b7b2" for w in plan.wells}
        what = "reaction wells"
    for r in range(rows):
        for c in range(cols):
            name = f"{row_letter(r)}{c + 1}"
            used = name in plan.wells
            ax.add_patch(
                Circle(
                    (c, r),
                    0.42,
                    facecolor=colors.get(name, "#ffffff") if used else "#ffffff",
                    edgecolor="#6b7680" if used else "#cccccc",
                    linewidth=0.8,
                    linestyle="-" if used else ":",
                )
            )
            if used and cols <= 12:
                label = str(member_of[name] + 1) if numbered and name in member_of else name
                ax.text(
                    c,
                    r,
                    label,
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="#ffffff" if journal_mode or lib else "#222",
                    fontweight="bold" if label != name else "normal",
                )
    _plate_axes(ax, rows, cols)
    ax.set_title(f"{report.plate_labware} — {what}", fontsize=10, loc="left")
    if handles:
        ncol = max(1, -(-len(handles) // 34))
        ax.legend(
            handles=handles,
            fontsize=6.5,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            ncol=ncol,
            handlelength=1.0,
            labelspacing=0.25,
        )
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def results_png(report: Report, path: str, plt=None) -> str:
    """The plate as a heat map of the run's main result metric (yield, else conversion, ...),
    on the report's fixed 0-100 % viridis scale; wells without a value are grey."""
    plt = plt or _plt()
    from matplotlib.patches import Rectangle

    from diazflow.report.results_section import heat_color
    from diazflow.results import METRIC_LABELS

    plan = _plan_of(report)
    results = report.journal.results if report.journal is not None else None
    if results is None or results.main_metric is None:
        raise ValueError("the run has no percentage results to draw")
    metric = results.main_metric
    rows, cols = report.plate_rows, report.plate_cols
    fig, ax = plt.subplots(figsize=(max(6.0, cols * 0.62 + 2.4), rows * 0.62 + 1.4), dpi=110)
    for r in range(rows):
        for c in range(cols):
            name = f"{row_letter(r)}{c + 1}"
            result = results.wells.get(name)
            value = result.value(metric) if result else None
            if name not in plan.wells:
                face, text, label = "#ffffff", "#999", ""
            elif value is None:
                face, text, label = "#eeeeee", "#999", "–"
            else:
                face, text = heat_color(value / 100.0)
                label = f"{value:.0f}"
            ax.add_patch(
                Rectangle((c - 0.46, r - 0.46), 0.92, 0.92, facecolor=face, edgecolor="#ffffff")
            )
            if label and cols <= 24:
                ax.text(c, r, label, ha="center", va="center", fontsize=7, color=text)
    _plate_axes(ax, rows, cols)
    ax.set_title(
        f"{report.plate_labware} — {METRIC_LABELS[metric]} (0-100 %, {results.source})",
        fontsize=10,
        loc="left",
    )
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
