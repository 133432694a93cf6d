"""Render a :class:`~diazflow.report.model.Report` as ONE self-contained HTML file.

No network: inline CSS, vanilla JS and inline SVG, no external fonts or images.  Tables that a
chemist prints (stocks, operator timeline, steps, diagnostics) are rendered here as static HTML;
the timeline, temperature profile and plate map are drawn by the inline script from the JSON
embedded in ``<script id="report-data" type="application/json">``.
"""

from __future__ import annotations

import json
from html import escape

from diazflow import __version__
from diazflow.compiler.plan import Plan
from diazflow.language.wells import well_key
from diazflow.report.assets import CSS, JS
from diazflow.report.model import (
    STATUS_LABELS,
    Report,
    fmt_clock,
    fmt_duration,
    fmt_mg,
    fmt_num,
    fmt_offset,
    fmt_ul,
)


def _e(x) -> str:
    return escape("" if x is None else str(x), quote=True)


def _status_label(status: str | None) -> str | None:
    return STATUS_LABELS.get(status, status) if status is not None else None


def _json_for_script(data) -> str:
    """JSON that is safe inside a <script> element (no '</script', no '<!--')."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render_html(report: Report) -> str:
    plan = report.plan
    parts: list[str] = []
    add = parts.append
    add("<!DOCTYPE html>")
    add('<html lang="en"><head><meta charset="utf-8">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f'<meta name="generator" content="diazflow {_e(__version__)}">')
    add(f"<title>{_e(report.title)} — diazflow report</title>")
    add(f"<style>{CSS}</style></head><body>")
    add("<header>")
    add(f"<h1>{_e(report.title)}</h1>")
    meta = [f"<span>{_e(report.source_kind)}: <code>{_e(report.source_path)}</code></span>"]
    if plan is not None:
        if report.source_kind != "workflow":
            meta.append(f"<span>protocol: <code>{_e(plan.protocol)}</code></span>")
        meta.append(f"<span>deck: <code>{_e(plan.deck)}</code></span>")
        meta.append(f"<span>{len(plan.wells)} wells</span>")
        meta.append(f"<span>{len(plan.operations)} operations</span>")
        meta.append(f"<span>makespan {_e(fmt_duration(plan.makespan_s))}</span>")
        if plan.lower_bound_s:
            meta.append(
                f"<span>lower bound {_e(fmt_duration(plan.lower_bound_s))} (ratio {plan.makespan_s / plan.lower_bound_s:.3f})</span>"
            )
    if report.start is not None:
        meta.append(f"<span>start {_e(report.start.strftime('%a %d %b %Y %H:%M'))}</span>")
    add(f'<div class="meta">{"".join(meta)}</div>')
    if report.description:
        add(f'<p class="hint">{_e(report.description)}</p>')
    if report.reference:
        add(f'<p class="hint">Reference: {_e(report.reference)}</p>')
    add("</header>")

    banner = report.banner()
    add(
        f'<div class="banner banner-{banner.level}" id="banner"><strong>{_e(banner.title)}</strong>'
    )
    if banner.lines:
        add("<ul>" + "".join(f"<li>{_e(line)}</li>" for line in banner.lines) + "</ul>")
    add("</div>")

    sections = [
        ("timeline", "Timeline"),
        ("plate", "Plate map"),
        ("operator", "When to be at the robot"),
        ("stocks", "Prepare before start"),
        ("steps", "Steps"),
        ("diagnostics", "Diagnostics"),
    ]
    results = report.journal.results if report.journal is not None else None
    if results is not None and plan is not None:
        sections.insert(0, ("results", "Results"))
    if plan is None:
        sections = [("diagnostics", "Diagnostics")]
    add(
        "<nav>" + "".join(f'<a href="#{sid}">{_e(label)}</a>' for sid, label in sections) + "</nav>"
    )

    if plan is not None and results is not None:
        from diazflow.report.results_section import render_results

        render_results(add, plan, results, report.plate_rows, report.plate_cols)
    if plan is not None:
        _timeline(add, report)
        _plate(add, report, plan)
        _operator(add, report)
        _stocks(add, report, plan)
        _steps(add, report)
    _diagnostics(add, report)
    add(
        f"<footer>diazflow {_e(__version__)} report. Self-contained: open it offline, e-mail it, print it. Times are planned unless marked actual.</footer>"
    )
    add('<div id="tooltip"></div>')
    if plan is not None:
        add(
            f'<script type="application/json" id="report-data">{_json_for_script(report.payload())}</script>'
        )
        add(f"<script>{JS}</script>")
    add("</body></html>")
    return "\n".join(parts) + "\n"


def _timeline(add, report: Report) -> None:
    add('<section id="timeline"><h2>Timeline</h2>')
    add(
        '<p class="hint">One lane per device: the operator, each liquid-handler channel, the powder dispenser and the temperature/shaker module. Zoom from the whole run down to a single dropwise round.</p>'
    )
    add('<div class="controls">')
    add(
        '<button id="zoom-out" title="zoom out">−</button><button id="zoom-in" title="zoom in">+</button><button id="pan-left" title="earlier">←</button><button id="pan-right" title="later">→</button><button id="zoom-fit" title="whole run">fit</button>'
    )
    add('<label>zoom <input type="range" id="zoom-range" min="0" max="1000" value="0"></label>')
    add(
        '<label>position <input type="range" id="pos-range" min="0" max="1000" value="500"></label>'
    )
    add('<label>go to <select id="zoom-to"></select></label>')
    add('<label>colour by <select id="color-by"></select></label>')
    add('<button id="clear-highlight" title="clear the well highlight">clear highlight</button>')
    add('<span id="span-label"></span>')
    add("</div>")
    add('<svg id="gantt" role="img" aria-label="timeline of operations per device"></svg>')
    add('<div id="legend-ops" class="legend"></div>')
    add("<h3>Block temperature</h3>")
    add(
        '<p class="hint">Solid line: the block as planned (a wait ramps from the previous temperature to the target); dashed: the setpoint.</p>'
    )
    add('<svg id="temp" role="img" aria-label="block temperature over time"></svg>')
    add("<h3>Selected operation</h3>")
    add(
        '<div id="op-details" class="details">Click an operation in the timeline to see its wells, volumes and times here.</div>'
    )
    add("</section>")


def _plate(add, report: Report, plan: Plan) -> None:
    add(f'<section id="plate"><h2>Plate map — {_e(report.plate_labware)}</h2>')
    add(
        '<p class="hint">Each reaction well with what goes into it. Hover for a summary; click a well for amounts (µmol, µL, mg), final volume and its own reaction time.</p>'
    )
    add('<div class="controls"><label>colour by <select id="plate-color"></select></label></div>')
    add('<div class="plate-row"><svg id="platemap" role="img" aria-label="plate map"></svg>')
    add('<div id="well-details" class="details">Click a well.</div></div>')
    add('<div id="legend-plate" class="legend"></div>')
    # a static table as well: printable, searchable, and there without JavaScript
    names = sorted(plan.wells, key=well_key)
    rids = sorted({rid for w in plan.wells.values() for rid in w.reagents})
    status = report.well_status()
    add(f"<details><summary>Table: every well ({len(names)})</summary>")
    head = "".join(f"<th>{_e(r)}</th>" for r in rids)
    add(
        f'<table class="data" id="well-table"><thead><tr><th>well</th>{head}<th class="num">final µL</th><th class="num">reaction time</th>{"<th>status</th>" if report.journal else ""}</tr></thead><tbody>'
    )
    for name in names:
        wp = plan.wells[name]
        cells = []
        for rid in rids:
            a = wp.reagents.get(rid)
            if a is None:
                cells.append("<td></td>")
                continue
            amount = ", ".join(
                x
                for x in (
                    f"{fmt_num(a.umol)} µmol" if a.umol is not None else "",
                    f"{fmt_ul(a.uL)} µL" if a.uL is not None else "",
                    f"{fmt_num(a.mg, 2)} mg" if a.mg is not None else "",
                )
                if x
            )
            sub = a.substance if a.substance and a.substance != rid else ""
            cells.append(
                f'<td>{_e(sub)}{"<br>" if sub else ""}<span class="hint">{_e(amount)}</span></td>'
            )
        st = status.get(name)
        st_cell = (
            f'<td><span class="st st-{_e(st)}">{_e(_status_label(st))}</span></td>'
            if report.journal
            else ""
        )
        add(
            f'<tr><td>{_e(name)}</td>{"".join(cells)}<td class="num">{fmt_ul(wp.final_volume_uL)}</td><td class="num">{_e(fmt_duration(wp.reaction_time_s))}</td>{st_cell}</tr>'
        )
    add("</tbody></table></details></section>")


def _operator(add, report: Report) -> None:
    add('<section id="operator"><h2>When to be at the robot</h2>')
    add(
        '<p class="hint">Rows with a red edge pause the run until you confirm at the robot; the times after them move by however long you take. Grey rows are optional.</p>'
    )
    value = report.start.strftime("%Y-%m-%dT%H:%M") if report.start else ""
    add(
        f'<div class="controls"><label>start of the run <input type="datetime-local" id="start-input" value="{_e(value)}"></label><span class="hint">(or pass --start 2026-11-22T09:00)</span></div>'
    )
    jcol = "<th>status</th>" if report.journal else ""
    add(
        f'<table class="data" id="operator-table"><thead><tr><th>after start</th><th>clock time</th><th>what</th><th>details</th><th>protocol</th>{jcol}</tr></thead><tbody>'
    )
    for ev in report.operator_events():
        cls = "blocking" if ev.blocking else ("optional" if ev.kind == "samples" else "")
        where = f"step {ev.step + 1}, line {ev.line}" if ev.step is not None else ""
        clock = fmt_clock(report.start, ev.t) or "–"
        st = (
            f'<td><span class="st st-{_e(ev.status)}">{_e(_status_label(ev.status))}</span></td>'
            if report.journal
            else ""
        )
        add(
            f'<tr class="{cls}"><td class="time">{_e(fmt_offset(ev.t))}</td><td class="time abs" data-t="{ev.t}">{_e(clock)}</td><td><b>{_e(ev.title)}</b></td><td>{_e(ev.detail)}</td><td class="time">{_e(where)}</td>{st}</tr>'
        )
    add("</tbody></table></section>")


def _stocks(add, report: Report, plan: Plan) -> None:
    add('<section id="stocks"><h2>Prepare before start</h2>')
    add(
        '<p class="hint">What to weigh, what to dissolve it in, how much to make (including the dead volume the robot cannot aspirate) and where to put it on the deck.</p>'
    )
    rows = report.stock_rows()
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(
            r.location.split(":", 1)[0] if ":" in r.location else r.location, []
        ).append(r)
    add(
        '<table class="data" id="stock-table"><thead><tr><th>position</th><th>substance</th><th>reagent</th><th>prepare</th><th class="num">total µL</th><th class="num">dead µL</th><th class="num">weigh mg</th></tr></thead>'
    )
    for labware, items in groups.items():
        place = report.labware_places.get(labware, "")
        n = sum(r.count for r in items)
        add(
            f'<tbody><tr class="group"><th colspan="7">{_e(labware)}{" — " + _e(place) if place else ""} ({n} position{"s" if n != 1 else ""})</th></tr>'
        )
        for r in items:
            vol = fmt_ul(r.volume_uL) if r.form != "solid" else "–"
            dead = fmt_ul(r.dead_volume_uL) if r.form != "solid" else "–"
            each = f' <span class="hint">({r.count} wells, each)</span>' if r.count > 1 else ""
            add(
                f'<tr class="stock" data-n="{r.count}"><td><code>{_e(r.location)}</code>{each}</td><td>{_e(r.substance)}</td><td>{_e(r.reagent)}</td><td>{_e(r.prepare)}</td><td class="num">{vol}</td><td class="num">{dead}</td><td class="num">{fmt_mg(r.weigh_mg) if r.weigh_mg else "–"}</td></tr>'
            )
        add("</tbody>")
    add("</table>")
    if plan.tips_used:
        add(
            "<p>Tips: "
            + ", ".join(f"<b>{n}</b> × {_e(name)}" for name, n in plan.tips_used.items())
            + " (fresh racks in the positions of the deck layout).</p>"
        )
    add("</section>")


def _steps(add, report: Report) -> None:
    rows = report.step_rows()
    j = report.journal is not None
    add('<section id="steps"><h2>Steps</h2>')
    extra = (
        '<th class="num">actual start</th><th class="num">actual end</th><th class="num">delay</th><th class="num">done</th>'
        if j
        else ""
    )
    add(
        f'<table class="data" id="step-table"><thead><tr><th>#</th><th>step</th><th>line</th><th class="num">planned start</th><th class="num">planned end</th><th class="num">duration</th><th class="num">operations</th>{extra}</tr></thead><tbody>'
    )
    for r in rows:
        cells = ""
        if j:
            a, b = r.get("actual_start"), r.get("actual_end")
            delay = fmt_duration(a - r["start"]) if a is not None else "–"
            flag = ""
            if r.get("failed"):
                flag = f' <span class="st st-failed">{r["failed"]} failed</span>'
            elif r.get("in_flight"):
                flag = f' <span class="st st-in_flight">{r["in_flight"]} in flight</span>'
            cells = f'<td class="num">{_e(fmt_offset(a) if a is not None else "–")}</td><td class="num">{_e(fmt_offset(b) if b is not None else "–")}</td><td class="num">{_e(delay)}</td><td class="num">{r["done"]}/{r["ops"]}{flag}</td>'
        add(
            f'<tr><td>{r["step"] + 1}</td><td>{_e(r["label"])}</td><td>{r["line"]}</td><td class="num">{_e(fmt_offset(r["start"]))}</td><td class="num">{_e(fmt_offset(r["end"]))}</td><td class="num">{_e(fmt_duration(r["end"] - r["start"]))}</td><td class="num">{r["ops"]}</td>{cells}</tr>'
        )
    add("</tbody></table>")
    devs = report.volume_deviations()
    if devs:
        add(f"<h3>Volumes that differ from the plan ({len(devs)})</h3>")
        add(
            '<table class="data" id="deviation-table"><thead><tr><th>well</th><th>reagent</th><th class="num">planned µL</th><th class="num">reported µL</th></tr></thead><tbody>'
        )
        for w, reagent, v, got in devs[:200]:
            add(
                f'<tr><td>{_e(w)}</td><td>{_e(reagent)}</td><td class="num">{v:.2f}</td><td class="num">{got:.2f}</td></tr>'
            )
        add("</tbody></table>")
    add("</section>")


def _diagnostics(add, report: Report) -> None:
    diags = report.diagnostics
    protocol = report.plan.protocol if report.plan else ""
    plan_warnings = report.plan.warnings if report.plan else []
    add('<section id="diagnostics"><h2>Diagnostics</h2>')
    if not diags and not plan_warnings:
        note = (
            ""
            if report.source_kind == "workflow"
            else " (diagnostics come from compiling the protocol; this report was made from a compiled plan or journal)"
        )
        add(f"<p>No errors or warnings{_e(note)}.</p></section>")
        return
    n_err = sum(1 for d in diags if d.is_error)
    add(f"<p>{n_err} error(s), {len(diags) - n_err + len(plan_warnings)} warning(s).</p>")
    add(
        '<table class="data" id="diag-table"><thead><tr><th>severity</th><th>code</th><th>where</th><th>message</th></tr></thead><tbody>'
    )
    for d in diags:
        where = f"{d.file}:{d.line}:{d.column}" if d.line > 0 else d.file
        hint = f'<br><span class="hint">hint: {_e(d.hint)}</span>' if d.hint else ""
        sev = d.severity.value
        add(
            f'<tr class="diag"><td class="sev-{sev}">{sev}</td><td><code>{_e(d.code)}</code></td><td><code>{_e(where)}</code></td><td>{_e(d.message)}{hint}</td></tr>'
        )
    for w in plan_warnings:
        add(
            f'<tr class="diag"><td class="sev-warning">warning</td><td></td><td><code>{_e(protocol)}</code></td><td>{_e(w)}</td></tr>'
        )
    add("</tbody></table></section>")
