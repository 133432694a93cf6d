"""The report page's stylesheet and script, inlined into every report (no network, no CDN).

Kept as Python strings so they ship with the package without package-data configuration.
The script reads the JSON in ``<script id="report-data" type="application/json">`` and renders
the timeline, the temperature profile and the plate map into inline SVG.
"""

CSS = r"""
:root { --fg:#1d232a; --muted:#5f6b76; --line:#d9dee3; --bg:#ffffff; --panel:#f5f7f9; --accent:#2b6cb0; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 14px; color: var(--fg); background: var(--bg); }
body { margin: 0 auto; padding: 16px 24px 40px; max-width: 1600px; }
h1 { font-size: 1.55rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1rem; margin: 14px 0 4px; }
.meta { color: var(--muted); }
.meta { display: flex; flex-wrap: wrap; gap: 2px 16px; }
.meta span { white-space: nowrap; }
nav { margin: 10px 0; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
.banner { border-radius: 6px; padding: 10px 14px; margin: 12px 0; border-left: 6px solid; }
.banner strong { font-size: 1.1rem; }
.banner ul { margin: 4px 0 0; padding-left: 20px; }
.banner-ok { background: #e8f6ec; border-color: #2e9e4f; }
.banner-warning { background: #fff6e0; border-color: #f0a500; }
.banner-error { background: #fdeaea; border-color: #d62728; }
.banner-info { background: #e8f0fb; border-color: #2b6cb0; }
.controls { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; margin: 6px 0; padding: 6px 8px; background: var(--panel); border-radius: 6px; }
.controls label { color: var(--muted); }
.controls button { font: inherit; padding: 2px 10px; border: 1px solid #b8c2cc; border-radius: 4px; background: #fff; cursor: pointer; }
.controls button:hover { background: #eef3f8; }
.controls select, .controls input { font: inherit; }
.controls input[type=range] { width: 180px; vertical-align: middle; }
#span-label { font-variant-numeric: tabular-nums; color: var(--muted); }
svg { display: block; font-family: inherit; }
#gantt, #temp { width: 100%; user-select: none; touch-action: none; cursor: grab; }
#gantt.dragging, #temp.dragging { cursor: grabbing; }
#gantt text, #temp text, #platemap text { font-size: 10.5px; fill: #333; }
#gantt .lane-label { font-size: 11.5px; fill: #222; }
#gantt .bar-label { font-size: 10px; fill: #fff; pointer-events: none; }
#gantt .step-label { font-size: 10.5px; fill: #333; pointer-events: none; }
#gantt rect.op:hover, #gantt polygon.op:hover { stroke: #000; stroke-width: 1; }
#gantt rect.agg { cursor: zoom-in; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 6px 0; color: var(--muted); font-size: 12.5px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -2px; border: 1px solid rgba(0,0,0,.15); }
.details { background: var(--panel); border-radius: 6px; padding: 8px 12px; min-height: 40px; font-size: 13px; }
.details table { border-collapse: collapse; }
.details td, .details th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
.plate-row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.plate-row .details { flex: 1 1 360px; }
#platemap .well { cursor: pointer; }
#platemap .well circle { stroke: #6b7680; stroke-width: 1; }
#platemap .well.empty circle { fill: #fff; stroke: #ccd3da; stroke-dasharray: 2 2; }
#platemap .well.selected circle { stroke: #000; stroke-width: 3; }
#platemap .well.hl circle { stroke: #d3306b; stroke-width: 3; }
table.data { border-collapse: collapse; width: 100%; margin: 6px 0; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
table.data th { background: var(--panel); font-weight: 600; position: sticky; top: 0; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
table.data tr.blocking td:first-child { border-left: 4px solid #d3306b; }
table.data tr.optional td { color: var(--muted); }
.sev-error { color: #b31d1d; font-weight: 600; }
.sev-warning { color: #a06800; font-weight: 600; }
.st { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; color: #fff; }
.st-completed { background: #2e9e4f; } .st-in_flight { background: #f0a500; } .st-failed { background: #d62728; } .st-pending, .st-not_run { background: #9aa5b1; } .st-partial { background: #6fbf85; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
details > summary { cursor: pointer; margin: 6px 0; font-weight: 600; }
.hint { color: var(--muted); }
#tooltip { position: fixed; pointer-events: none; background: rgba(29,35,42,.95); color: #fff; padding: 6px 9px; border-radius: 5px; font-size: 12px; max-width: 460px; z-index: 10; display: none; line-height: 1.35; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
@media print {
  .controls, nav, #tooltip { display: none !important; }
  body { max-width: none; padding: 0; }
  section { break-inside: avoid-page; }
}
"""

JS = r"""
"use strict";
(function () {
  var t0Render = performance.now();
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function num(x, d) { if (x === undefined || x === null) return "–"; if (Math.abs(x) >= 100) return x.toFixed(0); return x.toFixed(d === undefined ? 1 : d); }

  // ------------------------------------------------------------------ time
  var startDate = D.start ? new Date(D.start) : null;
  var DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function fmtDur(s) {
    if (s === undefined || s === null) return "–";
    var neg = s < 0; s = Math.abs(s);
    var out;
    if (s < 60) out = (s < 10 ? s.toFixed(2).replace(/0$/, "") : s.toFixed(1)) + " s";
    else { var r = Math.round(s), h = Math.floor(r / 3600), m = Math.floor((r % 3600) / 60), sec = r % 60; out = h ? h + "h" + pad(m) + "m" + pad(sec) + "s" : m + "m" + pad(sec) + "s"; }
    return (neg ? "−" : "") + out;
  }
  function fmtRel(s, fine) {
    var neg = s < 0; s = Math.abs(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var out = h + ":" + pad(m);
    if (fine) out += ":" + (fine === 2 ? (sec < 10 ? "0" : "") + sec.toFixed(1) : pad(Math.floor(sec + 1e-6)));
    return (neg ? "-" : "+") + out;
  }
  function fmtClock(s, withDay) {
    if (!startDate) return "";
    var d = new Date(startDate.getTime() + s * 1000);
    var out = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (withDay) out = DAYS[d.getDay()] + " " + pad(d.getDate()) + " " + MONTHS[d.getMonth()] + " " + out;
    return out;
  }
  function when(s) { return fmtRel(s, 1) + (startDate ? " (" + fmtClock(s, true) + ")" : ""); }

  // ------------------------------------------------------------------ colours
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#17becf"];
  function catColor(i) {
    if (i < PALETTE.length) return PALETTE[i];
    var hue = (i * 137.508) % 360, light = 42 + (i % 3) * 12;
    return "hsl(" + hue.toFixed(1) + ",62%," + light + "%)";
  }
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function ramp(f) {
    f = Math.max(0, Math.min(1, f)); var x = f * (VIRIDIS.length - 1), i = Math.min(Math.floor(x), VIRIDIS.length - 2), r = x - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + Math.round(a[0] + (b[0] - a[0]) * r) + "," + Math.round(a[1] + (b[1] - a[1]) * r) + "," + Math.round(a[2] + (b[2] - a[2]) * r) + ")";
  }

  var ops = D.ops, N = ops.length, lanes = D.lanes, L = lanes.length, J = D.journal;
  var tMax = Math.max(D.makespan, 1);
  for (var k = 0; k < N; k++) { var o = ops[k]; if (o.t + o.d > tMax) tMax = o.t + o.d; if (o.ae !== undefined && o.ae > tMax) tMax = o.ae; if (o.a !== undefined && o.a > tMax) tMax = o.a; }
  var lastT = J ? J.last : null;

  // per-lane indices, sorted by start, with a running maximum of the ends for binary search
  function buildIndex(startOf, endOf, include) {
    var idx = [], i, j;
    for (i = 0; i < L; i++) idx.push([]);
    for (i = 0; i < N; i++) { if (include && !include(ops[i])) continue; var l = ops[i].l; for (j = 0; j < l.length; j++) idx[l[j]].push(i); }
    var out = [];
    for (i = 0; i < L; i++) {
      var a = idx[i];
      a.sort(function (p, q) { return startOf(ops[p]) - startOf(ops[q]); });
      var pm = new Float64Array(a.length), m = -Infinity;
      for (j = 0; j < a.length; j++) { var e = endOf(ops[a[j]]); if (e > m) m = e; pm[j] = m; }
      out.push({ idx: Int32Array.from(a), pmax: pm });
    }
    return out;
  }
  var planIdx = buildIndex(function (o) { return o.t; }, function (o) { return o.t + o.d; });
  var actEnd = function (o) { return o.ae !== undefined ? o.ae : (lastT !== null ? Math.max(lastT, o.a) : o.a + o.d); };
  var actIdx = J ? buildIndex(function (o) { return o.a; }, actEnd, function (o) { return o.a !== undefined; }) : null;

  // colour of an operation's bar
  var colorMode = J ? "status" : "op";
  var reagentIndex = {}, nReagents = 0;
  for (k = 0; k < N; k++) { var r = ops[k].r; if (r !== undefined && reagentIndex[r] === undefined) reagentIndex[r] = nReagents++; }
  function opColor(o) {
    if (colorMode === "status") return D.colors.status[o.st || "pending"] || "#ccc";
    if (colorMode === "step") return catColor(o.s);
    if (colorMode === "reagent") return o.r !== undefined ? catColor(reagentIndex[o.r]) : "#c8c8c8";
    return D.colors.op[o.o] || "#999";
  }
  var hlWell = null;
  function touches(o, well) { var w = o.w; if (!w) return false; for (var i = 0; i < w.length; i++) if (w[i] === well) return true; return false; }

  // ------------------------------------------------------------------ view
  var view = { a: -0.01 * tMax, b: tMax * 1.01 };
  var FULL = view.b - view.a, MIN_SPAN = 0.5;
  function setView(a, b) {
    var span = Math.max(MIN_SPAN, Math.min(b - a, FULL * 4));
    var mid = (a + b) / 2;
    a = mid - span / 2; b = mid + span / 2;
    var lo = -0.05 * tMax - span * 0.5, hi = tMax * 1.05 + span * 0.5;
    if (a < lo) { b += lo - a; a = lo; }
    if (b > hi) { a -= b - hi; b = hi; }
    view.a = a; view.b = b; schedule();
  }
  function fit() { setView(-0.01 * tMax, tMax * 1.01); }
  var pending = false;
  function schedule() { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; drawAll(); }); } }

  var LABEL_W = 150, PAD_R = 12, AXIS_H = 34, STEP_H = 22, ROW_H = J ? 26 : 20, MIN_PX = 1.5;
  var gantt = $("gantt"), temp = $("temp");
  function width(svg) { return Math.max(600, Math.floor(svg.getBoundingClientRect().width || svg.parentNode.clientWidth || 1200)); }

  var STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  function ticks(a, b, px) {
    var want = (b - a) / Math.max(2, px / 105), step = STEPS[STEPS.length - 1];
    for (var i = 0; i < STEPS.length; i++) if (STEPS[i] >= want) { step = STEPS[i]; break; }
    var out = [], t = Math.ceil(a / step) * step;
    for (; t <= b; t += step) out.push(Math.round(t * 1000) / 1000);
    return { list: out, step: step };
  }

  function axis(parts, X, W, y, h, withClock) {
    var tk = ticks(view.a, view.b, W - LABEL_W - PAD_R);
    var fine = tk.step < 1 ? 2 : (tk.step < 60 ? 1 : 0);
    for (var i = 0; i < tk.list.length; i++) {
      var t = tk.list[i], x = X(t);
      if (x < LABEL_W - 0.5 || x > W - PAD_R + 0.5) continue;
      var labelOk = x < W - PAD_R - 48;
      parts.push('<line x1="' + x.toFixed(1) + '" x2="' + x.toFixed(1) + '" y1="' + y + '" y2="' + (y + h) + '" stroke="#e6e9ed"/>');
      if (!labelOk) continue;
      parts.push('<text x="' + (x + 2).toFixed(1) + '" y="12">' + esc(fmtRel(t, fine)) + "</text>");
      if (withClock && startDate) parts.push('<text x="' + (x + 2).toFixed(1) + '" y="25" fill="#777">' + esc(fmtClock(t, tk.step >= 3600 && (b2d(t)))) + "</text>");
    }
    return tk;
  }
  function b2d(t) { var d = new Date(startDate.getTime() + t * 1000); return d.getHours() === 0 && d.getMinutes() === 0; }

  var stats = { rects: 0, aggregates: 0, ms: 0, draws: 0 };

  function drawLane(parts, lane, y, h, index, startOf, endOf, X, XMAX, cls) {
    var ix = index.idx, pm = index.pmax, lo = 0, hi = ix.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (pm[mid] < view.a) lo = mid + 1; else hi = mid; }
    var agg = null;
    function flush() {
      if (!agg) return;
      var w = Math.max(agg.x1 - agg.x0, MIN_PX);
      if (agg.n === 1) {
        emit(agg.k, agg.x0, w);
      } else {
        var best = null, bn = -1;
        for (var c in agg.col) if (agg.col[c] > bn) { bn = agg.col[c]; best = c; }
        parts.push('<rect class="agg ' + cls + '" x="' + agg.x0.toFixed(1) + '" y="' + y + '" width="' + w.toFixed(1) + '" height="' + h + '" fill="' + best + '" data-t0="' + agg.t0 + '" data-t1="' + agg.t1 + '" data-n="' + agg.n + '" data-lane="' + lane + '"/>');
        stats.aggregates++;
      }
      stats.rects++;
      agg = null;
    }
    function emit(k, x0, w) {
      var o = ops[k], col = opColor(o), fade = hlWell !== null && !touches(o, hlWell);
      var op = fade ? ' opacity="0.18"' : "";
      if ((o.o === "prompt" || o.man) && cls === "plan") {
        var cy = y + h / 2, s = h / 2;
        parts.push('<polygon class="op plan" data-i="' + k + '" points="' + (x0).toFixed(1) + "," + cy + " " + (x0 + s).toFixed(1) + "," + y + " " + (x0 + Math.max(w, 0) + s).toFixed(1) + "," + y + " " + (x0 + Math.max(w, 0) + 2 * s).toFixed(1) + "," + cy + " " + (x0 + Math.max(w, 0) + s).toFixed(1) + "," + (y + h) + " " + (x0 + s).toFixed(1) + "," + (y + h) + '" fill="' + col + '"' + op + "/>");
      } else {
        var stroke = (cls === "act" && o.st === "failed") ? ' stroke="#7a0000" stroke-width="1"' : "";
        parts.push('<rect class="op ' + cls + '" data-i="' + k + '" x="' + x0.toFixed(1) + '" y="' + y + '" width="' + w.toFixed(1) + '" height="' + h + '" fill="' + (cls === "act" ? D.colors.status[o.st] || "#999" : col) + '"' + op + stroke + "/>");
        if (cls === "plan" && w > 46 && h >= 12) {
          var label = o.o.replace(/_/g, " ") + (o.r ? " " + o.r.replace("solvent:", "") : "") + (o.al ? " " + o.al + "/" + o.als : "") + (o.C !== undefined ? " " + o.C + " °C" : "") + (o.cl ? " " + o.cl : "");
          var maxChars = Math.floor((w - 6) / 5.6);
          if (maxChars >= 4) parts.push('<text class="bar-label" x="' + (x0 + 3).toFixed(1) + '" y="' + (y + h / 2 + 3.5) + '">' + esc(label.length > maxChars ? label.slice(0, maxChars - 1) + "…" : label) + "</text>");
        }
      }
      stats.rects++;
    }
    for (var j = lo; j < ix.length; j++) {
      var k = ix[j], o = ops[k], s = startOf(o);
      if (s > view.b) break;
      var e = endOf(o);
      if (e < view.a) continue;
      var x0 = X(s), x1 = X(e);
      if (x0 < LABEL_W) x0 = LABEL_W;
      if (x1 > XMAX) x1 = XMAX;
      if (x1 - x0 < MIN_PX && !(o.o === "prompt" || o.man)) {
        var col = hlWell !== null && !touches(o, hlWell) ? "#e3e3e3" : (cls === "act" ? D.colors.status[o.st] || "#999" : opColor(o));
        if (agg && x0 <= agg.x1 + 1) {
          if (x1 > agg.x1) agg.x1 = x1;
          agg.n++; agg.t1 = Math.max(agg.t1, e); agg.col[col] = (agg.col[col] || 0) + 1;
        } else {
          flush();
          agg = { x0: x0, x1: x1, n: 1, k: k, t0: s, t1: e, col: {} };
          agg.col[col] = 1;
        }
      } else {
        flush();
        emit(k, x0, Math.max(x1 - x0, MIN_PX));
      }
    }
    flush();
  }

  function drawGantt() {
    var W = width(gantt), XMAX = W - PAD_R, plotW = XMAX - LABEL_W, sc = plotW / (view.b - view.a);
    var X = function (t) { return LABEL_W + (t - view.a) * sc; };
    var H = AXIS_H + STEP_H + L * ROW_H + 6;
    var parts = [];
    stats.rects = 0; stats.aggregates = 0;
    for (var i = 0; i < L; i++) {
      var y = AXIS_H + STEP_H + i * ROW_H;
      if (i % 2 === 0) parts.push('<rect x="0" y="' + y + '" width="' + W + '" height="' + ROW_H + '" fill="#f7f9fb"/>');
    }
    axis(parts, X, W, AXIS_H - 4, H - AXIS_H + 4, true);
    // steps band
    var sy = AXIS_H;
    for (i = 0; i < D.steps.length; i++) {
      var st = D.steps[i]; if (st.end < view.a || st.start > view.b) continue;
      var x0 = Math.max(LABEL_W, X(st.start)), x1 = Math.min(XMAX, X(st.end)), w = Math.max(x1 - x0, 1);
      parts.push('<rect class="step" data-step="' + i + '" x="' + x0.toFixed(1) + '" y="' + (sy + 1) + '" width="' + w.toFixed(1) + '" height="' + (STEP_H - 3) + '" fill="' + (i % 2 ? "#dfe7f1" : "#eef2f7") + '" stroke="#b9c6d6" stroke-width="0.5"/>');
      if (w > 40) { var lab = (st.step + 1) + " " + st.label, mc = Math.floor((w - 6) / 5.8); parts.push('<text class="step-label" x="' + (x0 + 3).toFixed(1) + '" y="' + (sy + 14) + '">' + esc(lab.length > mc ? lab.slice(0, Math.max(mc - 1, 1)) + "…" : lab) + "</text>"); }
      var bx = X(st.start);
      if (bx >= LABEL_W && bx <= XMAX) parts.push('<line x1="' + bx.toFixed(1) + '" x2="' + bx.toFixed(1) + '" y1="' + (sy + STEP_H) + '" y2="' + H + '" stroke="#b9c6d6" stroke-dasharray="3 3"/>');
    }
    for (i = 0; i < L; i++) {
      var ly = AXIS_H + STEP_H + i * ROW_H;
      if (J) {
        drawLane(parts, i, ly + 3, ROW_H - 12, planIdx[i], function (o) { return o.t; }, function (o) { return o.t + o.d; }, X, XMAX, "plan");
        drawLane(parts, i, ly + ROW_H - 8, 6, actIdx[i], function (o) { return o.a; }, actEnd, X, XMAX, "act");
      } else {
        drawLane(parts, i, ly + 3, ROW_H - 6, planIdx[i], function (o) { return o.t; }, function (o) { return o.t + o.d; }, X, XMAX, "plan");
      }
    }
    if (J && J.status !== "complete" && lastT !== null) {
      var nx = X(lastT);
      if (nx >= LABEL_W && nx <= XMAX) parts.push('<line x1="' + nx + '" x2="' + nx + '" y1="' + AXIS_H + '" y2="' + H + '" stroke="#d62728" stroke-width="2"/><text x="' + (nx + 3) + '" y="' + (H - 4) + '" fill="#d62728">journal ends</text>');
    }
    // labels column on top
    parts.push('<rect x="0" y="0" width="' + LABEL_W + '" height="' + H + '" fill="#fff"/>');
    parts.push('<text class="lane-label" x="6" y="' + (AXIS_H + 15) + '" font-weight="600">steps</text>');
    for (i = 0; i < L; i++) {
      var yy = AXIS_H + STEP_H + i * ROW_H;
      parts.push('<text class="lane-label" x="6" y="' + (J ? yy + 13 : yy + ROW_H / 2 + 4) + '">' + esc(lanes[i].label) + "</text>");
      if (J) parts.push('<text x="' + (LABEL_W - 4) + '" y="' + (yy + ROW_H - 2) + '" fill="#999" font-size="8" text-anchor="end">actual</text>');
    }
    parts.push('<line x1="' + LABEL_W + '" x2="' + LABEL_W + '" y1="0" y2="' + H + '" stroke="#9aa5b1"/>');
    gantt.setAttribute("viewBox", "0 0 " + W + " " + H);
    gantt.setAttribute("width", W); gantt.setAttribute("height", H);
    gantt.innerHTML = parts.join("");
    gantt.setAttribute("data-rects", stats.rects);
    gantt.setAttribute("data-aggregates", stats.aggregates);
    return X;
  }

  // ------------------------------------------------------------------ temperature profile
  var TEMP = D.temperature || {}, tempDevices = Object.keys(TEMP);
  function valueAt(series, t) {
    if (!series.length) return null;
    if (t <= series[0][0]) return series[0][1];
    for (var i = 1; i < series.length; i++) if (series[i][0] >= t) { var a = series[i - 1], b = series[i]; return b[0] === a[0] ? b[1] : a[1] + (b[1] - a[1]) * (t - a[0]) / (b[0] - a[0]); }
    return series[series.length - 1][1];
  }
  function drawTemp() {
    if (!temp) return;
    if (!tempDevices.length) { temp.setAttribute("height", 30); temp.innerHTML = '<text x="8" y="18">No module holds the reaction vessels: they stay at ambient temperature.</text>'; return; }
    var W = width(temp), XMAX = W - PAD_R, H = 186 + 14 * tempDevices.length, top = AXIS_H, bottom = H - 14 - 14 * tempDevices.length;
    var sc = (XMAX - LABEL_W) / (view.b - view.a), X = function (t) { return LABEL_W + (t - view.a) * sc; };
    var lo = Infinity, hi = -Infinity, d, i, p;
    for (d = 0; d < tempDevices.length; d++) { var s = TEMP[tempDevices[d]]; [s.block, s.setpoint, s.measured || []].forEach(function (ser) { ser.forEach(function (q) { if (q[1] < lo) lo = q[1]; if (q[1] > hi) hi = q[1]; }); }); }
    lo = Math.floor((lo - 3) / 5) * 5; hi = Math.ceil((hi + 3) / 5) * 5; if (hi - lo < 10) hi = lo + 10;
    var Y = function (c) { return bottom - (c - lo) / (hi - lo) * (bottom - top); };
    var parts = [];
    axis(parts, X, W, top, bottom - top, true);
    var ystep = (hi - lo) > 60 ? 20 : ((hi - lo) > 25 ? 10 : 5);
    for (var c = Math.ceil(lo / ystep) * ystep; c <= hi + 1e-9; c += ystep) { parts.push('<line x1="' + LABEL_W + '" x2="' + XMAX + '" y1="' + Y(c).toFixed(1) + '" y2="' + Y(c).toFixed(1) + '" stroke="#eef0f2"/><text x="' + (LABEL_W - 6) + '" y="' + (Y(c) + 3.5).toFixed(1) + '" text-anchor="end">' + c + " °C</text>"); }
    parts.push('<clipPath id="tclip"><rect x="' + LABEL_W + '" y="0" width="' + (XMAX - LABEL_W) + '" height="' + H + '"/></clipPath>');
    for (d = 0; d < tempDevices.length; d++) {
      var ser = TEMP[tempDevices[d]], col = catColor(d + 2);
      var pts = [];
      for (i = 0; i < ser.block.length; i++) { p = ser.block[i]; pts.push(X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1)); }
      parts.push('<polyline clip-path="url(#tclip)" fill="none" stroke="' + col + '" stroke-width="2.2" points="' + pts.join(" ") + '"/>');
      var sp = [], cur = null;
      for (i = 0; i < ser.setpoint.length; i++) { p = ser.setpoint[i]; if (cur !== null) sp.push(X(p[0]).toFixed(1) + "," + Y(cur).toFixed(1)); sp.push(X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1)); cur = p[1]; }
      if (cur !== null) { sp.push(X(tMax).toFixed(1) + "," + Y(cur).toFixed(1)); parts.push('<polyline clip-path="url(#tclip)" fill="none" stroke="' + col + '" stroke-width="1.2" stroke-dasharray="5 4" points="' + sp.join(" ") + '"/>'); }
      (ser.measured || []).forEach(function (q) { var mx = X(q[0]); if (mx >= LABEL_W && mx <= XMAX) parts.push('<circle class="measured" cx="' + mx.toFixed(1) + '" cy="' + Y(q[1]).toFixed(1) + '" r="3.5" fill="#fff" stroke="' + col + '" stroke-width="2"><title>reported ' + q[1] + " °C at " + fmtRel(q[0], 1) + "</title></circle>"); });
      parts.push('<text x="' + LABEL_W + '" y="' + (bottom + 16 + d * 14) + '"><tspan font-weight="600" fill="' + col + '">' + esc(tempDevices[d].replace(/_/g, " ")) + '</tspan><tspan fill="#777">: — block, - - setpoint' + (J ? ", ○ reported" : "") + "</tspan></text>");
    }
    parts.push('<line x1="' + LABEL_W + '" x2="' + LABEL_W + '" y1="' + top + '" y2="' + bottom + '" stroke="#9aa5b1"/><line x1="' + LABEL_W + '" x2="' + XMAX + '" y1="' + bottom + '" y2="' + bottom + '" stroke="#9aa5b1"/>');
    parts.push('<line id="temp-cursor" x1="0" x2="0" y1="' + top + '" y2="' + bottom + '" stroke="#555" stroke-dasharray="2 2" visibility="hidden"/>');
    temp.setAttribute("viewBox", "0 0 " + W + " " + H); temp.setAttribute("width", W); temp.setAttribute("height", H);
    temp.innerHTML = parts.join("");
  }

  // ------------------------------------------------------------------ controls
  var zoomIn = $("zoom-range"), posIn = $("pos-range"), spanLabel = $("span-label");
  function syncControls() {
    var span = view.b - view.a;
    if (zoomIn) zoomIn.value = Math.round(1000 * Math.log(FULL / span) / Math.log(FULL / MIN_SPAN));
    if (posIn) posIn.value = Math.round(1000 * Math.max(0, Math.min(1, ((view.a + view.b) / 2) / tMax)));
    if (spanLabel) spanLabel.textContent = "showing " + fmtRel(Math.max(0, view.a), span < 120 ? 1 : 0) + " – " + fmtRel(view.b, span < 120 ? 1 : 0) + " (" + fmtDur(span) + ")";
  }
  function drawAll() {
    var t = performance.now();
    drawGantt(); drawTemp(); syncControls();
    stats.ms = performance.now() - t; stats.draws++;
    gantt.setAttribute("data-draw-ms", stats.ms.toFixed(1));
  }
  function zoomAt(t, f) { setView(t - (t - view.a) * f, t + (view.b - t) * f); }
  function on(id, ev, fn) { var el = $(id); if (el) el.addEventListener(ev, fn); }
  on("zoom-in", "click", function () { zoomAt((view.a + view.b) / 2, 0.5); });
  on("zoom-out", "click", function () { zoomAt((view.a + view.b) / 2, 2); });
  on("zoom-fit", "click", fit);
  on("pan-left", "click", function () { var s = view.b - view.a; setView(view.a - s / 2, view.b - s / 2); });
  on("pan-right", "click", function () { var s = view.b - view.a; setView(view.a + s / 2, view.b + s / 2); });
  on("zoom-range", "input", function () { var span = FULL * Math.pow(MIN_SPAN / FULL, zoomIn.value / 1000), mid = (view.a + view.b) / 2; setView(mid - span / 2, mid + span / 2); });
  on("pos-range", "input", function () { var span = view.b - view.a, mid = posIn.value / 1000 * tMax; setView(mid - span / 2, mid + span / 2); });
  on("zoom-to", "change", function (ev) { var v = ev.target.value; if (!v) { fit(); return; } var ab = v.split(","), a = +ab[0], b = +ab[1], m = Math.max((b - a) * 0.04, 0.5); setView(a - m, b + m); });
  on("color-by", "change", function (ev) { colorMode = ev.target.value; legendOps(); schedule(); });

  var zoomTo = $("zoom-to");
  if (zoomTo) {
    var opts = ['<option value="">whole run</option>'];
    D.steps.forEach(function (s) { if (s.end > s.start) opts.push('<option value="' + s.start + "," + s.end + '">step ' + (s.step + 1) + ": " + esc(s.label) + " (" + fmtDur(s.end - s.start) + ")</option>"); });
    D.rounds.forEach(function (r) { opts.push('<option value="' + r.start + "," + r.end + '">' + esc(r.label) + " (" + fmtDur(r.end - r.start) + ")</option>"); });
    zoomTo.innerHTML = opts.join("");
  }
  var colorBy = $("color-by");
  if (colorBy) {
    var co = [["op", "operation"], ["step", "step"], ["reagent", "reagent"]];
    if (J) co.unshift(["status", "status"]);
    colorBy.innerHTML = co.map(function (c) { return '<option value="' + c[0] + '"' + (c[0] === colorMode ? " selected" : "") + ">" + c[1] + "</option>"; }).join("");
  }
  function legendOps() {
    var el = $("legend-ops"); if (!el) return;
    var items = [];
    if (colorMode === "status") { ["completed", "in_flight", "failed", "pending"].forEach(function (s) { items.push([D.colors.status[s], D.statusLabels[s]]); }); }
    else if (colorMode === "op") { var seen = {}; ops.forEach(function (o) { seen[o.o] = 1; }); Object.keys(D.colors.op).forEach(function (k) { if (seen[k]) items.push([D.colors.op[k], k.replace(/_/g, " ")]); }); }
    else if (colorMode === "reagent") { Object.keys(reagentIndex).forEach(function (r) { items.push([catColor(reagentIndex[r]), r]); }); items.push(["#c8c8c8", "no reagent"]); }
    else { D.steps.forEach(function (s) { items.push([catColor(s.step), (s.step + 1) + " " + s.label]); }); }
    var extra = J ? '<span><i style="background:#fff;border-color:#999"></i>upper bar: plan, lower bar: actual (journal)</span>' : "";
    el.innerHTML = items.map(function (it) { return '<span><i style="background:' + it[0] + '"></i>' + esc(it[1]) + "</span>"; }).join("") + '<span class="hint">wheel: zoom · drag: pan · double-click: fit · click a grey block to zoom into it</span>' + extra;
  }

  // mouse: wheel zoom, drag pan, hover tooltip, click details
  var tip = $("tooltip");
  function showTip(ev, html) { tip.innerHTML = html; tip.style.display = "block"; var x = ev.clientX + 14, y = ev.clientY + 14; var r = tip.getBoundingClientRect(); if (x + r.width > window.innerWidth - 8) x = ev.clientX - r.width - 14; if (y + r.height > window.innerHeight - 8) y = ev.clientY - r.height - 14; tip.style.left = x + "px"; tip.style.top = y + "px"; }
  function hideTip() { tip.style.display = "none"; }
  function timeAt(svg, clientX) { var r = svg.getBoundingClientRect(), W = width(svg), x = (clientX - r.left) * (W / r.width); return view.a + (x - LABEL_W) / (W - PAD_R - LABEL_W) * (view.b - view.a); }

  function opSummary(o) {
    var h = "<b>#" + o.i + " " + esc(o.o.replace(/_/g, " ")) + "</b> on " + esc(o.v.replace(/_/g, " "));
    if (o.r) h += "<br>reagent: " + esc(o.r);
    if (o.al) h += "<br>aliquot " + o.al + " of " + o.als;
    if (o.w) { var parts = []; for (var i = 0; i < o.w.length && i < 8; i++) parts.push(esc(o.w[i]) + (o.u ? " " + num(o.u[i], 2) + " µL" : "") + (o.m ? " " + num(o.m[i], 2) + " mg" : "") + (o.sb ? " (" + esc(o.sb[i]) + ")" : "")); h += "<br>" + parts.join("<br>") + (o.w.length > 8 ? "<br>… " + (o.w.length - 8) + " more" : ""); }
    if (o.C !== undefined) h += "<br>" + o.C + " °C";
    if (o.rpm) h += "<br>" + o.rpm + " rpm";
    if (o.msg) h += "<br>" + esc(o.msg.length > 240 ? o.msg.slice(0, 240) + "…" : o.msg);
    h += "<br>planned " + when(o.t) + ", " + fmtDur(o.d);
    if (J) { h += "<br>status: " + esc(D.statusLabels[o.st] || o.st); if (o.a !== undefined) h += "<br>actual " + when(o.a) + (o.ae !== undefined ? ", " + fmtDur(o.ae - o.a) : "") + " (" + (o.a - o.t >= 0 ? "+" : "") + fmtDur(o.a - o.t) + " vs plan)"; if (o.err) h += '<br><span style="color:#ff9b9b">' + esc(o.err) + "</span>"; }
    var st = D.steps.filter(function (s) { return s.step === o.s; })[0];
    h += "<br>step " + (o.s + 1) + (st ? ": " + esc(st.label) + " (line " + st.line + ")" : "");
    return h;
  }
  function opDetails(k) {
    var o = ops[k], el = $("op-details");
    var rows = [["operation", "#" + o.i + " " + o.o.replace(/_/g, " ")], ["device", o.v.replace(/_/g, " ") + (o.c ? " (channels " + o.c.join(", ") + ")" : "")], ["planned", when(o.t) + " for " + fmtDur(o.d)]];
    if (J) { rows.push(["status", '<span class="st st-' + o.st + '">' + esc(D.statusLabels[o.st] || o.st) + "</span>"]); rows.push(["actual", o.a !== undefined ? when(o.a) + (o.ae !== undefined ? " for " + fmtDur(o.ae - o.a) : " (no end recorded)") : "–"]); if (o.err) rows.push(["error", esc(o.err)]); if (o.rep) rows.push(["reported", '<span class="mono">' + esc(JSON.stringify(o.rep)) + "</span>"]); }
    if (o.r) rows.push(["reagent", esc(o.r)]);
    if (o.al) rows.push(["aliquot", o.al + " of " + o.als]);
    if (o.tt) rows.push(["tips", esc(o.tt)]);
    if (o.C !== undefined) rows.push(["temperature", o.C + " °C" + (o.ramp ? " (ramp over " + fmtDur(o.ramp) + ")" : "")]);
    if (o.rpm) rows.push(["speed", o.rpm + " rpm"]);
    if (o.msg) rows.push(["message", esc(o.msg)]);
    if (o.w) rows.push(["wells", o.w.map(function (w, i) { return esc(w) + (o.u ? " " + num(o.u[i], 2) + " µL" : "") + (o.m ? " " + num(o.m[i], 2) + " mg" : "") + (o.sb ? " <span class=hint>" + esc(o.sb[i]) + "</span>" : ""); }).join("<br>")]);
    var st = D.steps.filter(function (s) { return s.step === o.s; })[0];
    rows.push(["step", (o.s + 1) + (st ? ": " + esc(st.label) + " — protocol line " + st.line : "")]);
    el.innerHTML = "<table>" + rows.map(function (r) { return "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>"; }).join("") + "</table>";
    markWells(o.w ? o.w.filter(function (w) { return w.indexOf(":") < 0; }) : []);
  }

  function bindChart(svg) {
    if (!svg) return;
    svg.addEventListener("wheel", function (ev) { ev.preventDefault(); var t = timeAt(svg, ev.clientX); zoomAt(t, Math.exp(Math.max(-3, Math.min(3, ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015))))); }, { passive: false });
    svg.addEventListener("pointerdown", function (ev) { if (ev.button !== 0) return; drag = { svg: svg, x: ev.clientX, a: view.a, b: view.b, moved: false }; });
    svg.addEventListener("click", function (ev) {
      if (drag && drag.moved) return;
      var t = ev.target;
      if (t.getAttribute && t.getAttribute("data-i") !== null) { opDetails(+t.getAttribute("data-i")); return; }
      if (t.classList && t.classList.contains("agg")) { var a = +t.getAttribute("data-t0"), b = +t.getAttribute("data-t1"), m = (b - a) * 0.1 + 0.5; setView(a - m, b + m); return; }
      if (t.getAttribute && t.getAttribute("data-step") !== null) { var s = D.steps[+t.getAttribute("data-step")]; var mm = (s.end - s.start) * 0.04 + 0.5; setView(s.start - mm, s.end + mm); }
    });
    svg.addEventListener("dblclick", function () { fit(); });
    svg.addEventListener("mousemove", function (ev) {
      if (drag && drag.moved) return;
      var t = ev.target;
      if (svg === temp) {
        var tt = timeAt(svg, ev.clientX), cur = $("temp-cursor");
        if (tt >= view.a && tt <= view.b && tempDevices.length) {
          var html = "<b>" + when(tt) + "</b>";
          tempDevices.forEach(function (dv) { var v = valueAt(TEMP[dv].block, tt); html += "<br>" + esc(dv.replace(/_/g, " ")) + ": " + (v === null ? "–" : v.toFixed(1) + " °C"); });
          showTip(ev, html);
          if (cur) { var r = svg.getBoundingClientRect(), W = width(svg), x = (ev.clientX - r.left) * (W / r.width); cur.setAttribute("x1", x); cur.setAttribute("x2", x); cur.setAttribute("visibility", "visible"); }
        } else hideTip();
        return;
      }
      if (t.getAttribute && t.getAttribute("data-i") !== null) showTip(ev, opSummary(ops[+t.getAttribute("data-i")]));
      else if (t.classList && t.classList.contains("agg")) showTip(ev, "<b>" + t.getAttribute("data-n") + " operations</b> on " + esc(lanes[+t.getAttribute("data-lane")].label) + "<br>" + fmtRel(+t.getAttribute("data-t0"), 1) + " – " + fmtRel(+t.getAttribute("data-t1"), 1) + "<br>click or zoom in to see them one by one");
      else if (t.getAttribute && t.getAttribute("data-step") !== null) { var s = D.steps[+t.getAttribute("data-step")]; showTip(ev, "<b>step " + (s.step + 1) + ": " + esc(s.label) + "</b><br>protocol line " + s.line + "<br>" + when(s.start) + " – " + when(s.end) + " (" + fmtDur(s.end - s.start) + ")<br>click to zoom to this step"); }
      else hideTip();
    });
    svg.addEventListener("mouseleave", function () { hideTip(); var cur = $("temp-cursor"); if (cur) cur.setAttribute("visibility", "hidden"); });
  }
  var drag = null;  // {svg, x, a, b, moved}: a pan in progress (shared by both charts)
  window.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x, svg = drag.svg;
    if (Math.abs(dx) > 3 && !drag.moved) { drag.moved = true; svg.classList.add("dragging"); hideTip(); }
    if (drag.moved) { var r = svg.getBoundingClientRect(), W = width(svg), dt = -dx * (W / r.width) / (W - PAD_R - LABEL_W) * (drag.b - drag.a); setView(drag.a + dt, drag.b + dt); }
  });
  window.addEventListener("pointerup", function () {
    if (!drag) return;
    var d = drag;
    d.svg.classList.remove("dragging");
    if (d.moved) setTimeout(function () { if (drag === d) drag = null; }, 0);  // swallow the click that ends a pan
    else drag = null;
  });
  bindChart(gantt); bindChart(temp);
  window.addEventListener("resize", schedule);

  // ------------------------------------------------------------------ plate map
  var P = D.plate, plate = $("platemap"), wellNames = Object.keys(P.wells);
  var plateMode = null, members = {}, memberIdx = {};
  function rowLetter(i) { var s = ""; i += 1; while (i) { var r = (i - 1) % 26; s = String.fromCharCode(65 + r) + s; i = Math.floor((i - 1) / 26); } return s; }
  // reagents whose substance differs between wells: a library, coloured by member
  var varying = [];
  (function () {
    var subs = {};
    wellNames.forEach(function (w) { var rs = P.wells[w].reagents; for (var rid in rs) { (subs[rid] = subs[rid] || {})[rs[rid].substance || rid] = 1; } });
    for (var rid in subs) if (Object.keys(subs[rid]).length > 1) varying.push(rid);
    varying.forEach(function (rid) { var list = []; wellNames.forEach(function (w) { var a = P.wells[w].reagents[rid]; var s = a ? (a.substance || rid) : null; if (s !== null && list.indexOf(s) < 0) list.push(s); }); members[rid] = list; memberIdx[rid] = {}; list.forEach(function (s, i) { memberIdx[rid][s] = i; }); });
  })();
  var plateModes = [];
  if (J) plateModes.push(["status", "run status"]);
  varying.forEach(function (rid) { plateModes.push(["member:" + rid, "library member: " + rid]); });
  plateModes.push(["reagents", "reagents added"]);
  plateModes.push(["final", "final volume"]);
  plateModes.push(["rt", "reaction time"]);
  plateMode = plateModes[0][0];
  var pm = $("plate-color");
  if (pm) { pm.innerHTML = plateModes.map(function (m) { return '<option value="' + m[0] + '">' + esc(m[1]) + "</option>"; }).join(""); pm.addEventListener("change", function (ev) { plateMode = ev.target.value; drawPlate(); }); }
  var reagentSets = {}, reagentSetList = [];
  wellNames.forEach(function (w) { var key = Object.keys(P.wells[w].reagents).sort().join(" + "); if (reagentSets[key] === undefined) { reagentSets[key] = reagentSetList.length; reagentSetList.push(key); } });
  function range(f) { var lo = Infinity, hi = -Infinity; wellNames.forEach(function (w) { var v = f(P.wells[w]); if (v !== null && v !== undefined) { if (v < lo) lo = v; if (v > hi) hi = v; } }); return [lo, hi]; }
  function wellColor(w) {
    var x = P.wells[w];
    if (plateMode === "status") return D.colors.status[x.status] || "#ddd";
    if (plateMode.indexOf("member:") === 0) { var rid = plateMode.slice(7), a = x.reagents[rid]; return a ? catColor(memberIdx[rid][a.substance || rid]) : "#fff"; }
    if (plateMode === "reagents") return catColor(reagentSets[Object.keys(x.reagents).sort().join(" + ")]);
    var f = plateMode === "final" ? function (q) { return q.final; } : function (q) { return q.rt; };
    var rg = range(f), v = f(x);
    if (v === null || v === undefined) return "#eee";
    return ramp(rg[1] > rg[0] ? (v - rg[0]) / (rg[1] - rg[0]) : 0.5);
  }
  function wellText(w) {
    var x = P.wells[w], lines = [w];
    if (x.cid !== undefined || x.cond) lines.push("condition " + (x.cid || "") + (x.cond ? " (" + Object.keys(x.cond).map(function (f) { return f + "=" + x.cond[f]; }).join(", ") + ")" : ""));
    for (var rid in x.reagents) { var a = x.reagents[rid]; lines.push(rid + ": " + (a.substance || "") + (a.umol !== undefined ? " " + num(a.umol) + " µmol" : "") + (a.uL !== undefined ? " " + num(a.uL) + " µL" : "") + (a.mg !== undefined ? " " + num(a.mg, 2) + " mg" : "")); }
    lines.push("final volume " + num(x.final) + " µL; reaction time " + fmtDur(x.rt));
    if (J) lines.push("status: " + D.statusLabels[x.status]);
    return lines;
  }
  var selectedWell = null;
  function drawPlate() {
    if (!plate) return;
    var R = P.rows, C = P.cols, cell = C > 12 ? 22 : 40, rad = cell * 0.42, ox = 28, oy = 22;
    var W = ox + C * cell + 8, H = oy + R * cell + 8, parts = [];
    parts.push('<rect x="' + (ox - 6) + '" y="' + (oy - 6) + '" width="' + (C * cell + 12) + '" height="' + (R * cell + 12) + '" rx="10" fill="#f3f5f7" stroke="#c5cdd5"/>');
    for (var c = 0; c < C; c++) parts.push('<text x="' + (ox + c * cell + cell / 2) + '" y="' + (oy - 9) + '" text-anchor="middle">' + (c + 1) + "</text>");
    for (var r = 0; r < R; r++) parts.push('<text x="' + (ox - 12) + '" y="' + (oy + r * cell + cell / 2 + 4) + '" text-anchor="middle">' + rowLetter(r) + "</text>");
    for (r = 0; r < R; r++) for (c = 0; c < C; c++) {
      var w = rowLetter(r) + (c + 1), used = P.wells[w] !== undefined, cx = ox + c * cell + cell / 2, cy = oy + r * cell + cell / 2;
      var cls = "well " + (used ? "used" : "empty") + (w === selectedWell ? " selected" : "");
      parts.push('<g class="' + cls + '" data-well="' + w + '"><circle cx="' + cx + '" cy="' + cy + '" r="' + rad.toFixed(1) + '"' + (used ? ' fill="' + wellColor(w) + '"' : "") + "/>" + (used ? "<title>" + esc(wellText(w).join("\n")) + "</title>" : "") + "</g>");
    }
    plate.setAttribute("viewBox", "0 0 " + W + " " + H); plate.setAttribute("width", W); plate.setAttribute("height", H);
    plate.innerHTML = parts.join("");
    legendPlate();
  }
  function legendPlate() {
    var el = $("legend-plate"); if (!el) return;
    var items = [];
    if (plateMode === "status") ["completed", "partial", "in_flight", "failed", "not_run"].forEach(function (s) { var n = wellNames.filter(function (w) { return P.wells[w].status === s; }).length; if (n) items.push([D.colors.status[s], D.statusLabels[s] + " (" + n + ")"]); });
    else if (plateMode.indexOf("member:") === 0) { var rid = plateMode.slice(7); members[rid].forEach(function (s, i) { if (i < 40) items.push([catColor(i), s]); }); if (members[rid].length > 40) items.push(["#fff", "… " + (members[rid].length - 40) + " more: hover a well"]); }
    else if (plateMode === "reagents") reagentSetList.forEach(function (k, i) { items.push([catColor(i), k]); });
    else { var f = plateMode === "final" ? function (q) { return q.final; } : function (q) { return q.rt; }, rg = range(f), fm = plateMode === "final" ? function (v) { return num(v) + " µL"; } : fmtDur; items.push([ramp(0), fm(rg[0])]); items.push([ramp(0.5), "…"]); items.push([ramp(1), fm(rg[1])]); }
    el.innerHTML = items.map(function (it) { return '<span><i style="background:' + it[0] + '"></i>' + esc(it[1]) + "</span>"; }).join("");
  }
  function wellDetails(w) {
    var x = P.wells[w], el = $("well-details");
    var h = "<b>" + esc(P.labware) + " " + esc(w) + "</b>" + (J ? ' <span class="st st-' + x.status + '">' + esc(D.statusLabels[x.status]) + "</span>" : "");
    if (x.cid !== undefined || x.cond) h += "<br>condition <b>" + esc(x.cid || "") + "</b>" + (x.cond ? " " + esc(Object.keys(x.cond).map(function (f) { return f + "=" + x.cond[f]; }).join(", ")) : "");
    h += '<table><tr><th>reagent</th><th>substance</th><th class="num">µmol</th><th class="num">µL</th><th class="num">mg</th>' + (J ? '<th class="num">µL reported</th>' : "") + "</tr>";
    for (var rid in x.reagents) { var a = x.reagents[rid]; h += "<tr><td>" + esc(rid) + "</td><td>" + esc(a.substance || "") + '</td><td class="num">' + num(a.umol) + '</td><td class="num">' + num(a.uL) + '</td><td class="num">' + num(a.mg, 2) + "</td>" + (J ? '<td class="num">' + num(x.actual[rid]) + "</td>" : "") + "</tr>"; }
    h += "</table>final volume <b>" + num(x.final) + " µL</b> (at most " + num(x.max) + " µL during the run) · reaction time <b>" + fmtDur(x.rt) + "</b> (from its last addition to its quench)";
    var n = 0, done = 0; for (var k = 0; k < N; k++) if (touches(ops[k], w)) { n++; if (ops[k].st === "completed") done++; }
    h += "<br>" + n + " operation(s) touch this well" + (J ? ", " + done + " completed" : "") + ' · <a href="#timeline" id="well-on-timeline">show them on the timeline</a>';
    el.innerHTML = h;
    var link = $("well-on-timeline"); if (link) link.addEventListener("click", function () { hlWell = w; schedule(); });
  }
  function markWells(list) {
    if (!plate) return;
    var set = {}; list.forEach(function (w) { set[w] = 1; });
    var gs = plate.querySelectorAll(".well"); for (var i = 0; i < gs.length; i++) gs[i].classList.toggle("hl", !!set[gs[i].getAttribute("data-well")]);
  }
  if (plate) {
    plate.addEventListener("mousemove", function (ev) { var g = ev.target.closest ? ev.target.closest(".well.used") : null; if (g) { var lines = wellText(g.getAttribute("data-well")); showTip(ev, "<b>" + esc(lines[0]) + "</b><br>" + lines.slice(1).map(esc).join("<br>")); } else hideTip(); });
    plate.addEventListener("mouseleave", hideTip);
    plate.addEventListener("click", function (ev) { var g = ev.target.closest ? ev.target.closest(".well.used") : null; if (!g) return; selectedWell = g.getAttribute("data-well"); drawPlate(); wellDetails(selectedWell); });
  }
  on("clear-highlight", "click", function () { hlWell = null; markWells([]); schedule(); });

  // ------------------------------------------------------------------ operator times
  function updateClock() {
    var cells = document.querySelectorAll("td.abs[data-t]");
    for (var i = 0; i < cells.length; i++) cells[i].textContent = startDate ? fmtClock(+cells[i].getAttribute("data-t"), true) : "–";
  }
  on("start-input", "change", function (ev) { startDate = ev.target.value ? new Date(ev.target.value) : null; updateClock(); schedule(); });

  // ------------------------------------------------------------------ first render (synchronous) + test hooks
  var m = /view=([-0-9.e]+),([-0-9.e]+)/.exec(location.hash);
  if (m) { view.a = +m[1]; view.b = +m[2]; }
  drawAll(); legendOps(); drawPlate(); updateClock();
  document.body.setAttribute("data-render-ms", (performance.now() - t0Render).toFixed(1));
  if (/bench/.test(location.hash)) {
    var tb = performance.now(), n = 0, mid = tMax / 2;
    for (var z = 0; z < 12; z++) { var span = FULL * Math.pow(0.5, z); view.a = mid - span / 2; view.b = mid + span / 2; drawAll(); n++; }
    for (z = 0; z < 12; z++) { var sp = view.b - view.a; view.a += sp / 3; view.b += sp / 3; drawAll(); n++; }
    view.a = -0.01 * tMax; view.b = tMax * 1.01; drawAll(); n++;
    document.body.setAttribute("data-bench-ms", ((performance.now() - tb) / n).toFixed(2));
  }
  if (/selftest/.test(location.hash)) selftest();
  document.body.setAttribute("data-ready", "1");

  // Drive the page as a user would (used by the tests in a headless browser): every control,
  // a click on an operation and on a well, hovering; records what broke in data-selftest.
  function selftest() {
    var log = [];
    function check(name, ok) { if (!ok) log.push(name); }
    function fire(el, type, init) { var ev = type === "wheel" ? new WheelEvent(type, init) : new MouseEvent(type, Object.assign({ bubbles: true, cancelable: true }, init || {})); el.dispatchEvent(ev); }
    function change(el, value) { el.value = value; el.dispatchEvent(new Event(el.tagName === "INPUT" ? "input" : "change", { bubbles: true })); drawAll(); }
    try {
      Array.prototype.forEach.call($("color-by").options, function (o) { change($("color-by"), o.value); check("colour by " + o.value, gantt.querySelectorAll("rect.op, rect.agg").length > 0); });
      Array.prototype.forEach.call($("plate-color").options, function (o) { change($("plate-color"), o.value); check("plate colour " + o.value, plate.querySelectorAll(".well.used circle[fill]").length === wellNames.length); });
      ["zoom-in", "zoom-in", "pan-right", "pan-left", "zoom-out", "zoom-fit"].forEach(function (id) { $(id).click(); drawAll(); });
      var span0 = view.b - view.a;
      var r = gantt.getBoundingClientRect();
      fire(gantt, "wheel", { deltaY: -300, clientX: r.left + r.width / 2, clientY: r.top + 60, bubbles: true, cancelable: true }); drawAll();
      check("wheel zooms in", view.b - view.a < span0);
      change($("zoom-range"), 600); check("zoom slider", view.b - view.a < span0 / 10);
      change($("pos-range"), 900); check("position slider", (view.a + view.b) / 2 > tMax * 0.5);
      var zt = $("zoom-to"); change(zt, zt.options[zt.options.length - 1].value); check("go to", view.b - view.a < FULL);
      var c0 = (view.a + view.b) / 2;
      fire(gantt, "pointerdown", { clientX: r.left + 400, clientY: r.top + 60, button: 0 }); fire(window, "pointermove", { clientX: r.left + 300, clientY: r.top + 60 }); fire(window, "pointerup", {}); drawAll();
      check("drag pans", (view.a + view.b) / 2 > c0);
      drag = null;
      var bar = gantt.querySelector("rect.op[data-i]");
      check("an operation is drawn", !!bar);
      if (bar) {
        var b = bar.getBoundingClientRect();
        fire(bar, "mousemove", { clientX: b.left + 1, clientY: b.top + 1 }); check("tooltip on hover", $("tooltip").style.display === "block" && $("tooltip").textContent.indexOf("planned") >= 0);
        fire(bar, "click", { clientX: b.left + 1, clientY: b.top + 1 }); check("operation details", $("op-details").textContent.indexOf("planned") >= 0);
      }
      var agg = null; change($("zoom-to"), ""); fit(); drawAll(); agg = gantt.querySelector("rect.agg");
      if (agg) { var s0 = view.b - view.a; fire(agg, "click", {}); drawAll(); check("click on a block zooms in", view.b - view.a < s0); }
      var well = plate.querySelector('.well.used[data-well="A1"] circle') || plate.querySelector(".well.used circle");
      fire(well, "click", {}); check("well details", $("well-details").textContent.indexOf("final volume") >= 0);
      var link = $("well-on-timeline"); if (link) { link.click(); drawAll(); check("well highlighted on the timeline", hlWell !== null && gantt.innerHTML.indexOf('opacity="0.18"') >= 0); }
      $("clear-highlight").click(); drawAll(); check("clear highlight", hlWell === null);
      var si = $("start-input"); si.value = "2030-01-02T08:30"; si.dispatchEvent(new Event("change")); drawAll();
      check("start time updates the clock column", document.querySelector("td.abs[data-t]").textContent.indexOf("08:30") >= 0);
      var tr = temp.getBoundingClientRect(); fire(temp, "mousemove", { clientX: tr.left + tr.width / 2, clientY: tr.top + 80 });
      check("temperature hover", !tempDevices.length || $("tooltip").textContent.indexOf("°C") >= 0);
    } catch (e) { log.push("exception: " + e.message); }
    document.body.setAttribute("data-selftest", log.length ? log.join("; ") : "ok");
  }
})();
"""
