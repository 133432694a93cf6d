"""The report's content, computed once in Python and shared by the HTML and PNG renderers.

A :class:`Report` holds everything the report shows: timeline lanes and operations, the block's
temperature profile, the plate map, the stock list, the operator's timeline, diagnostics and,
for a journal, what actually happened.  :meth:`Report.payload` is the JSON embedded in the HTML
page (short keys: a 96-well dropwise plan has ~10^4 operations).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from diazflow.compiler.plan import (
    Aspirate,
    Dispense,
    DispensePowder,
    DropTips,
    Operation,
    PickUpTips,
    Plan,
    Prompt,
    Sample,
    SetClosure,
    SetTemperature,
    Shake,
    StockPlan,
    StopShaking,
    Wait,
    WaitTemperature,
    WellPlan,
    co_solutes_text,
)
from diazflow.diagnostics import Diagnostic
from diazflow.language.wells import well_key
from diazflow.report.journal import BACKGROUND_OPS, JournalView, OpRecord

LIQUID_HANDLER = "liquid_handler"
OPERATOR = "operator"
CLOCK = "clock"
MODULE_OPS = (SetTemperature, WaitTemperature, Shake, StopShaking)

OP_COLORS = {
    "aspirate": "#4e79a7",
    "dispense": "#59a14f",
    "pick_up_tips": "#b7b7b7",
    "drop_tips": "#8c8c8c",
    "dispense_powder": "#9c6b30",
    "set_temperature": "#e15759",
    "wait_temperature": "#f28e2b",
    "shake": "#b07aa1",
    "stop_shaking": "#7b4f73",
    "wait": "#d4d4d4",
    "prompt": "#d3306b",
    "set_closure": "#6b4fd3",
    "sample": "#17becf",
}
STATUS_COLORS = {
    "completed": "#2e9e4f",
    "in_flight": "#f0a500",
    "failed": "#d62728",
    "partial": "#8fd19e",
    "pending": "#d9d9d9",
    "not_run": "#d9d9d9",
}
STATUS_LABELS = {
    "completed": "completed",
    "in_flight": "in flight",
    "failed": "failed",
    "partial": "partly done",
    "pending": "not run",
    "not_run": "not run",
}

CLOSURE_TITLES = {"capped": "Cap the vials", "vented": "Vent the vials", "open": "Uncap the vials"}
"""What the operator does at a ``set_closure`` operation, by the closure it leaves."""

PAYLOAD_KEYS = {
    "reagent": "r",
    "substances": "sb",
    "channels": "c",
    "wells": "w",
    "volumes_uL": "u",
    "mg": "m",
    "tip_type": "tt",
    "celsius": "C",
    "ramp_s": "ramp",
    "rpm": "rpm",
    "closure": "cl",
    "message": "msg",
    "into": "into",
    "aliquot": "al",
    "aliquots": "als",
    "manual": "man",
    "return_tips": "ret",
}
"""The fields of an operation's own kind in the page's JSON, under short keys."""


def channels_of(op: Operation) -> list[int]:
    """The liquid handler's channels an operation uses (none for other devices)."""
    match op:
        case PickUpTips() | DropTips() | Aspirate() | Dispense() | Sample():
            return op.channels
        case _:
            return []


def wells_of(op: Operation) -> list[str]:
    """The wells (or LABWARE:WELL positions) an operation works on."""
    match op:
        case Aspirate() | Dispense() | DispensePowder() | Sample():
            return op.wells
        case _:
            return []


def reagent_of(op: Operation) -> str | None:
    match op:
        case Aspirate() | Dispense() | DispensePowder():
            return op.reagent
        case _:
            return None


def aliquots_of(op: Operation) -> tuple[int | None, int | None]:
    """(aliquot, of how many) for a dropwise or portionwise addition; (None, None) otherwise."""
    match op:
        case Aspirate() | Dispense() | DispensePowder():
            return op.aliquot, op.aliquots
        case _:
            return None, None


# --------------------------------------------------------------------------- formatting helpers


def fmt_duration(seconds: float | None) -> str:
    """``1h02m03s``, ``12m05s``, ``7.5 s``."""
    if seconds is None:
        return "–"
    neg = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = f"{seconds:.1f} s" if seconds % 1 else f"{seconds:.0f} s"
    else:
        s = int(round(seconds))
        h, rest = divmod(s, 3600)
        mnt, sec = divmod(rest, 60)
        text = f"{h}h{mnt:02d}m{sec:02d}s" if h else f"{mnt}m{sec:02d}s"
    return ("−" if neg else "") + text


def fmt_offset(seconds: float) -> str:
    """A time since the start: ``+0:00``, ``+1:02:03``."""
    s = int(round(seconds))
    h, rest = divmod(abs(s), 3600)
    mnt, sec = divmod(rest, 60)
    sign = "-" if s < 0 else "+"
    return f"{sign}{h}:{mnt:02d}:{sec:02d}"


def fmt_clock(start: datetime | None, seconds: float) -> str | None:
    if start is None:
        return None
    when = start + timedelta(seconds=seconds)
    return when.strftime("%a %d %b %H:%M")


def fmt_num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def fmt_mg(x: float | None) -> str:
    """A mass to weigh: 0.01 mg below 100 mg, 0.1 mg above."""
    if x is None:
        return "–"
    return f"{x:.1f}" if x >= 100 else f"{x:.2f}"


def fmt_volume(ul: float) -> str:
    """``155 µL``: the one rule for volumes (:func:`diazflow.language.units.format_volume`)."""
    from diazflow.language.units import format_volume

    return format_volume(ul)


def fmt_ul(ul: float | None) -> str:
    """A volume in a µL column: the same rule, without the unit."""
    from diazflow.language.units import microlitres

    return "–" if ul is None else microlitres(ul)


def compress_wells(names: list[str]) -> str:
    """``A1–H1, A3`` for wells listed column by column."""
    if not names:
        return ""
    keys = [well_key(n) for n in names]
    runs: list[list[int]] = [[0, 0]]
    for i in range(1, len(names)):
        (r0, c0), (r1, c1) = keys[i - 1], keys[i]
        if c1 == c0 and r1 == r0 + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(names[a] if a == b else f"{names[a]}–{names[b]}" for a, b in runs)


def parse_start(text: str | None) -> datetime | None:
    """``2026-11-22T09:00`` (or with seconds / a space instead of T); ``None`` for no text."""
    from diazflow.wallclock import parse_start as parse

    return parse(text) if text else None


def plate_format_for(wells: Iterable[str]) -> tuple[int, int]:
    """The smallest standard plate format holding these wells."""
    keys = [well_key(w) for w in wells]
    rows = max((k[0] for k in keys), default=0) + 1
    cols = max((k[1] for k in keys), default=0) + 1
    for r, c in ((2, 3), (3, 4), (4, 6), (6, 8), (8, 12), (16, 24), (32, 48)):
        if rows <= r and cols <= c:
            return r, c
    return rows, cols


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Lane:
    id: str
    label: str
    kind: str  # operator | channel | lh | powder | module | clock | other


@dataclass(frozen=True)
class OperatorEvent:
    t: float
    title: str
    detail: str = ""
    kind: str = "prompt"  # setup | prompt | manual | samples | end
    blocking: bool = False  # the run waits for the operator
    step: int | None = None
    line: int | None = None
    status: str | None = None  # journal: completed | pending | in_flight


@dataclass(frozen=True)
class StockRow:
    """One stock to prepare, or several identical ones (same substance and amount) side by side."""

    location: str  # "reagent_trough_1:A1" or "building_blocks:A1–H1"
    positions: tuple[str, ...]  # every LABWARE:WELL this row covers
    place: str  # where on the deck the labware sits
    reagent: str
    substance: str
    form: str
    prepare: str
    volume_uL: float  # per position
    dead_volume_uL: float  # per position
    weigh_mg: float | None  # per position
    solvent: str | None
    concentration_M: float | None

    @property
    def count(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class Banner:
    level: str  # ok | warning | error | info
    title: str
    lines: tuple[str, ...] = ()


@dataclass
class Report:
    title: str
    source_kind: str  # workflow | plan | journal
    source_path: str
    plan: Plan | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    journal: JournalView | None = None
    start: datetime | None = None
    plate_labware: str = "reaction_block"
    plate_rows: int = 8
    plate_cols: int = 12
    ambient_c: float = 22.0
    labware_places: dict[str, str] = field(default_factory=dict)
    protocol_name: str | None = None
    description: str | None = None
    reference: str | None = None

    # ------------------------------------------------------------------ derived

    @property
    def operations(self) -> list[Operation]:
        return list(self.plan.operations) if self.plan else []

    def op_status(self, op_id: int) -> str:
        return self.journal.status_of(op_id) if self.journal else "pending"

    def lanes(self) -> list[Lane]:
        """One lane per device; the liquid handler gets one lane per channel it uses."""
        ops = self.operations
        channels = sorted({c for op in ops if op.device == LIQUID_HANDLER for c in channels_of(op)})
        lh_plain = any(op.device == LIQUID_HANDLER and not channels_of(op) for op in ops)
        devices = []
        for op in ops:
            if op.device not in devices and op.device not in (LIQUID_HANDLER,):
                devices.append(op.device)
        powder = {
            op.device for op in ops if isinstance(op, DispensePowder) and op.device != OPERATOR
        }
        modules = {op.device for op in ops if isinstance(op, MODULE_OPS)}
        lanes = []
        if OPERATOR in devices:
            lanes.append(Lane(OPERATOR, "operator", "operator"))
        lanes += [Lane(f"ch{c}", f"LH channel {c}", "channel") for c in channels]
        if lh_plain:
            lanes.append(Lane(LIQUID_HANDLER, "liquid handler", "lh"))
        for d in sorted(powder):
            lanes.append(Lane(d, d.replace("_", " "), "powder"))
        for d in sorted(modules - powder):
            lanes.append(Lane(d, d.replace("_", " "), "module"))
        seen = {lane.id for lane in lanes}
        for d in devices:
            if d not in seen and d != CLOCK:
                lanes.append(Lane(d, d.replace("_", " "), "other"))
        if CLOCK in devices:
            lanes.append(Lane(CLOCK, "clock (waits)", "clock"))
        return lanes

    @staticmethod
    def lane_ids(op: Operation) -> list[str]:
        if op.device == LIQUID_HANDLER:
            channels = channels_of(op)
            return [f"ch{c}" for c in channels] if channels else [LIQUID_HANDLER]
        return [op.device]

    def step_labels(self) -> dict[int, str]:
        """``add aldehyde (dropwise, 12 aliquots)`` for each step, from its operations."""
        if self.plan is None:
            return {}
        first: dict[int, Operation] = {}
        aliquots: dict[int, int] = {}
        for op in self.plan.operations:
            if isinstance(op, LABELLING_OPS) and op.step not in first:
                first[op.step] = op
            _, of = aliquots_of(op)
            if of:
                aliquots[op.step] = max(aliquots.get(op.step, 0), of)
        out = {}
        for s in self.plan.steps:
            first_op = first.get(s.step)
            what = s.kind + (_what_op_does(first_op) if first_op is not None else "")
            if s.step in aliquots:
                what += f" ({aliquots[s.step]} aliquots)"
            if s.detail:
                what += f" — {s.detail}"
            out[s.step] = what
        return out

    def temperature_series(self) -> dict[str, dict[str, list[list[float]]]]:
        """Per temperature device: the setpoint (steps) and the modelled block temperature.

        The block starts at ambient; a ``wait_temperature`` ramps it linearly from its previous
        value to the target over the operation's duration; otherwise it holds.
        """
        out: dict[str, dict[str, list[list[float]]]] = {}
        end = self.plan.makespan_s if self.plan else 0.0
        for device in sorted({op.device for op in self.operations if isinstance(op, MODULE_OPS)}):
            block = [[0.0, self.ambient_c]]
            setpoint: list[list[float]] = []
            current = self.ambient_c
            for op in self.operations:
                if op.device != device:
                    continue
                match op:
                    case SetTemperature():
                        setpoint.append([op.t, op.celsius])
                    case WaitTemperature():
                        block.append([op.t, current])
                        block.append([op.end, op.celsius])
                        current = op.celsius
            block.append([max(end, block[-1][0]), current])
            out[device] = {
                "block": _dedupe(block),
                "setpoint": setpoint,
                "measured": self._measured(device),
            }
        return out

    def _measured(self, device: str) -> list[list[float]]:
        """For a journal: block temperatures the module reported (when set, when reached)."""
        if self.journal is None:
            return []
        points = []
        for op in self.operations:
            rec = self.journal.records.get(op.id)
            if op.device != device or rec is None or not isinstance(rec.reported, dict):
                continue
            if (
                isinstance(op, SetTemperature)
                and rec.started is not None
                and isinstance(rec.reported.get("from_c"), (int, float))
            ):
                points.append([rec.started, float(rec.reported["from_c"])])
            elif (
                isinstance(op, WaitTemperature)
                and rec.completed is not None
                and isinstance(rec.reported.get("celsius_reached"), (int, float))
            ):
                points.append([rec.completed, float(rec.reported["celsius_reached"])])
        return points

    def actual_span(self, op: Operation) -> tuple[float, float] | None:
        """When the operation actually ran (journal).  Background operations (shake, wait) return at
        once and their time passes while later operations run: they span their planned duration."""
        if self.journal is None:
            return None
        rec = self.journal.records.get(op.id)
        if rec is None or rec.started is None:
            return None
        last = self.journal.last_time
        if rec.completed is None:
            return rec.started, max(rec.started, last)
        end = rec.completed
        if isinstance(op, BACKGROUND_OPS) and rec.status == "completed":
            end = max(end, min(rec.started + op.duration, max(last, end)))
        return rec.started, end

    def well_status(self) -> dict[str, str]:
        """For a journal: each reaction well completed / partial / in flight / failed / not run."""
        if self.journal is None or self.plan is None:
            return {}
        touched: dict[str, list[str]] = {}
        ordered = sorted(self.plan.operations, key=lambda o: (o.t, o.id))
        for i, op in enumerate(ordered):
            st = self.journal.status_of(op.id)
            if isinstance(op, (Dispense, DispensePowder, Sample)):
                for w in op.wells:
                    if ":" not in w:
                        touched.setdefault(w, []).append(st)
            elif st in ("failed", "in_flight") and op.device == LIQUID_HANDLER:
                # a tip pick-up or an aspirate that failed: the wells it was meant for
                nxt = next(
                    (
                        o
                        for o in ordered[i + 1 :]
                        if o.device == op.device
                        and o.step == op.step
                        and isinstance(o, (Dispense, Sample))
                    ),
                    None,
                )
                for w in wells_of(nxt) if nxt else []:
                    if ":" not in w:
                        touched.setdefault(w, []).append(st)
        out = {}
        for w in self.plan.wells:
            sts = touched.get(w, [])
            if "failed" in sts:
                out[w] = "failed"
            elif "in_flight" in sts:
                out[w] = "in_flight"
            elif sts and all(s == "completed" for s in sts):
                out[w] = "completed"
            elif any(s == "completed" for s in sts):
                out[w] = "partial"
            else:
                out[w] = "not_run"
        return out

    def stock_rows(self) -> list[StockRow]:
        """What to prepare, in the plan's order; identical stocks in neighbouring wells share a row."""
        groups: list[list] = []
        for st in self.plan.stocks if self.plan else []:
            key = (
                st.location.split(":", 1)[0],
                st.reagent,
                st.substance,
                st.form,
                st.solvent,
                st.concentration_M,
                st.volume_uL,
                st.dead_volume_uL,
                st.weigh_mg,
            )
            if groups and groups[-1][0] == key and ":" in st.location:
                groups[-1][1].append(st)
            else:
                groups.append([key, [st]])
        rows = []
        for _key, items in groups:
            s = items[0]
            labware = s.location.split(":", 1)[0]
            n = len(items)
            prepare = _prepare_text(s, n)
            positions = tuple(x.location for x in items)
            label = (
                s.location
                if n == 1
                else f"{labware}:{compress_wells([p.split(':', 1)[1] for p in positions])}"
            )
            rows.append(
                StockRow(
                    location=label,
                    positions=positions,
                    place=self.labware_places.get(labware, ""),
                    reagent=s.reagent,
                    substance=s.substance,
                    form=s.form,
                    prepare=prepare,
                    volume_uL=s.volume_uL,
                    dead_volume_uL=s.dead_volume_uL,
                    weigh_mg=s.weigh_mg,
                    solvent=s.solvent,
                    concentration_M=s.concentration_M,
                )
            )
        return rows

    def operator_events(self) -> list[OperatorEvent]:
        """When the operator needs to be at the robot."""
        if self.plan is None:
            return []
        plan = self.plan
        events = [self._setup_event(plan)]
        events += self._operator_op_events(plan)
        events += self._sample_events(plan)
        events.append(
            OperatorEvent(
                plan.makespan_s,
                "Run ends",
                "the reactions are quenched and the block is idle: collect the plate for work-up",
                "end",
                False,
                status=self._status_at(plan.makespan_s),
            )
        )
        events.sort(
            key=lambda e: (
                e.t,
                {"setup": 0, "prompt": 1, "manual": 1, "samples": 2, "end": 3}[e.kind],
            )
        )
        return events

    def _setup_event(self, plan: Plan) -> OperatorEvent:
        n_liquid = sum(1 for s in plan.stocks if s.form != "solid")
        solids = [s for s in plan.stocks if s.form == "solid"]
        tips = ", ".join(f"{n} × {name}" for name, n in plan.tips_used.items())
        setup = (
            [f"{n_liquid} stock/solvent position(s) filled (see 'Prepare before start')"]
            if n_liquid
            else []
        )
        for s in solids:
            if "operator" in s.location:
                setup.append(
                    f"{s.substance}: {fmt_mg(s.weigh_mg)} mg in total ready to weigh in by hand"
                )
            else:
                setup.append(f"{s.substance}: {fmt_mg(s.weigh_mg)} mg loaded in {s.location}")
        if tips:
            setup.append(f"tips: {tips}")
        setup.append(f"{len(plan.wells)} reaction vessel(s) in {self.plate_labware}")
        return OperatorEvent(
            0.0,
            "Set up the deck and start the run",
            "; ".join(setup),
            "setup",
            True,
            status=self._status_at(0.0),
        )

    def _operator_op_events(self, plan: Plan) -> list[OperatorEvent]:
        """Prompts, and solids weighed in by hand (one event per portion, for all wells)."""
        events: list[OperatorEvent] = []
        manual_seen: set[tuple[int, int | None]] = set()
        for op in plan.operations:
            if op.device != OPERATOR:
                continue
            st = self.op_status(op.id) if self.journal else None
            match op:
                case Prompt():
                    title, detail, kind = "Operator step", op.message, "prompt"
                case SetClosure():
                    title = f"{CLOSURE_TITLES[op.closure]} ({op.into})"
                    detail, kind = op.message, "prompt"
                case DispensePowder():
                    if (op.step, op.aliquot) in manual_seen:
                        continue
                    manual_seen.add((op.step, op.aliquot))
                    portion = f" (portion {op.aliquot} of {op.aliquots})" if op.aliquots else ""
                    title = f"Weigh {op.reagent} into the wells by hand{portion}"
                    detail, kind = op.message or "", "manual"
                case _:
                    title, detail, kind = op.op.replace("_", " "), "", "prompt"
            events.append(OperatorEvent(op.t, title, detail, kind, True, op.step, op.line, st))
        return events

    def _sample_events(self, plan: Plan) -> list[OperatorEvent]:
        """When each round of samples is ready (the run does not wait for them)."""
        events: list[OperatorEvent] = []
        samples: dict[int, list[Sample]] = {}
        for op in plan.operations:
            if isinstance(op, Sample):
                samples.setdefault(op.step, []).append(op)
        for step, ops in sorted(samples.items()):
            # group sampling rounds: ops less than 10 min apart belong to the same time point
            rounds: list[list[Sample]] = []
            for op in sorted(ops, key=lambda o: o.t):
                if rounds and op.t - rounds[-1][-1].end < 600:
                    rounds[-1].append(op)
                else:
                    rounds.append([op])
            for r in rounds:
                n = sum(len(o.wells) for o in r)
                events.append(
                    OperatorEvent(
                        r[-1].end,
                        f"Samples ready in {r[0].into or 'sample plate'}",
                        f"{n} sample(s) taken (step {step + 1}, line {r[0].line}){_held_in(r[0])}; take them for LC-MS / TLC if you monitor the run (optional, the run goes on)",
                        "samples",
                        False,
                        step,
                        r[0].line,
                        self._round_status(r),
                    )
                )
        return events

    def _round_status(self, ops: list[Sample]) -> str | None:
        if not self.journal:
            return None
        sts = {self.op_status(o.id) for o in ops}
        if sts == {"completed"}:
            return "completed"
        return "pending" if sts == {"pending"} else "in_flight"

    def _status_at(self, t: float) -> str | None:
        if self.journal is None or self.plan is None:
            return None
        if t <= 0:
            return "completed" if self.journal.records else "pending"
        return "completed" if self.journal.status == "complete" else "pending"

    def step_rows(self) -> list[dict[str, Any]]:
        """Planned (and actual) start and end of each protocol step."""
        if self.plan is None:
            return []
        labels = self.step_labels()
        by_step: dict[int, list[Operation]] = {}
        for op in self.plan.operations:
            by_step.setdefault(op.step, []).append(op)
        rows = []
        for s in self.plan.steps:
            row: dict[str, Any] = {
                "step": s.step,
                "line": s.line,
                "label": labels.get(s.step, s.kind),
                "start": s.start,
                "end": s.end,
                "ops": len(by_step.get(s.step, [])),
            }
            if self.journal is not None:
                recs = [self.journal.records.get(op.id) for op in by_step.get(s.step, [])]
                recs_present = [r for r in recs if r is not None]
                starts = [r.started for r in recs_present if r.started is not None]
                ends = [r.completed for r in recs_present if r.completed is not None]
                row["done"] = sum(1 for r in recs_present if r.status == "completed")
                row["failed"] = sum(1 for r in recs_present if r.status == "failed")
                row["in_flight"] = sum(1 for r in recs_present if r.status == "in_flight")
                row["actual_start"] = min(starts) if starts else None
                row["actual_end"] = max(ends) if ends and row["done"] == row["ops"] else None
            rows.append(row)
        return rows

    def volume_deviations(
        self, tolerance: float = 0.02, floor_uL: float = 0.5
    ) -> list[tuple[str, str, float, float]]:
        """(well, reagent, planned µL, reported µL) where a completed well got a different volume."""
        if self.journal is None or self.plan is None:
            return []
        planned: dict[tuple[str, str], float] = {}
        for op in self.plan.operations:
            if isinstance(op, Dispense) and self.journal.status_of(op.id) == "completed":
                for w, v in zip(op.wells, op.volumes_uL, strict=False):
                    if ":" not in w:
                        planned[(w, op.reagent)] = planned.get((w, op.reagent), 0.0) + v
        out = []
        for (w, r), v in sorted(planned.items(), key=lambda kv: (well_key(kv[0][0]), kv[0][1])):
            got = self.journal.dispensed_uL.get(w, {}).get(r)
            if got is None:
                continue
            if abs(got - v) > max(floor_uL, tolerance * v):
                out.append((w, r, v, got))
        return out

    def banner(self) -> Banner:
        errors = [d for d in self.diagnostics if d.is_error]
        warnings = [d for d in self.diagnostics if not d.is_error]
        if self.plan is None:
            return Banner(
                "error",
                f"The protocol does not compile: {len(errors)} error(s)",
                tuple(f"{d.file}:{d.line}:{d.column}: {d.code} {d.message}" for d in errors[:5]),
            )
        if self.journal is None:
            lines = [
                f"{len(self.plan.wells)} wells, {len(self.plan.operations)} operations, makespan {fmt_duration(self.plan.makespan_s)}"
            ]
            if warnings or self.plan.warnings:
                lines.append(
                    f"{len(warnings) + len(self.plan.warnings)} warning(s): read 'Diagnostics' before you start"
                )
            return Banner(
                "warning" if warnings or self.plan.warnings else "ok",
                "Plan: not run yet" if self.source_kind != "journal" else "Plan",
                tuple(lines),
            )
        j = self.journal
        failed = [r for r in j.records.values() if r.status == "failed"]
        lines = self._journal_lines(self.plan, j, failed)
        devs = self.volume_deviations()
        if devs:
            w, r, v, got = devs[0]
            lines.append(
                f"{len(devs)} well/reagent volume(s) differ from the plan, e.g. {w} {r}: planned {v:.1f} µL, reported {got:.1f} µL"
            )
        late = self.max_delay()
        if late is not None and late > 60:
            lines.append(f"the run fell behind the plan by up to {fmt_duration(late)}")
        if j.status == "complete" and not failed and not devs:
            return Banner("ok", "Run complete: nothing went wrong", tuple(lines))
        if j.status == "complete":
            return Banner("warning", "Run complete, with deviations", tuple(lines))
        if j.status == "failed" or failed:
            lines.append(
                f"the journal is kept: continue with 'diazflow resume {j.path}' once the fault is fixed"
            )
            return Banner("error", "Run failed", tuple(lines))
        if j.status == "running":
            return Banner("info", "Run in progress", tuple(lines))
        lines.append(f"continue with 'diazflow resume {j.path}'")
        return Banner("warning", "Run interrupted", tuple(lines))

    def _journal_lines(self, plan: Plan, j: JournalView, failed: list[OpRecord]) -> list[str]:
        """What the journal says: operations done, in flight and failed, and the runtime's error."""
        n = len(plan.operations)
        done = sum(1 for r in j.records.values() if r.status == "completed")
        flight = [r for r in j.records.values() if r.status == "in_flight"]
        ops = {op.id: op for op in plan.operations}
        lines = [f"{done} of {n} operations completed"]
        if flight:
            lines.append(
                "in flight when the journal stopped: "
                + ", ".join(_describe(ops.get(r.id), r.id) for r in flight[:4])
            )
        if failed:
            lines.append(
                "failed: "
                + ", ".join(
                    _describe(ops.get(r.id), r.id) + (f" — {r.error}" if r.error else "")
                    for r in failed[:4]
                )
            )
        if j.error:
            extra = j.error
            for r in failed:
                if (
                    r.error and r.error in extra
                ):  # the runtime's message repeats the failure: keep the rest
                    extra = extra.split(r.error, 1)[1].lstrip(" ;,.")
            if extra:
                lines.append(f"runtime: {extra}")
        return lines

    def max_delay(self) -> float | None:
        if self.journal is None or self.plan is None:
            return None
        delays = [
            rec.started - op.t
            for op in self.plan.operations
            if (rec := self.journal.records.get(op.id)) and rec.started is not None
        ]
        return max(delays) if delays else None

    # ------------------------------------------------------------------ JSON for the page

    def payload(self) -> dict[str, Any]:
        lanes = self.lanes()
        lane_index = {lane.id: i for i, lane in enumerate(lanes)}
        ops_out = []
        for op in self.operations:
            d: dict[str, Any] = {
                "i": op.id,
                "t": op.t,
                "d": op.duration,
                "o": op.op,
                "v": op.device,
                "s": op.step,
                "l": [lane_index[x] for x in self.lane_ids(op) if x in lane_index],
            }
            own = op.model_dump(exclude_none=True)
            for key, short in PAYLOAD_KEYS.items():
                if key in own:
                    d[short] = own[key]
            if self.journal is not None:
                rec = self.journal.records.get(op.id)
                d["st"] = rec.status if rec else "pending"
                span = self.actual_span(op)
                if rec is not None:
                    if span is not None:
                        d["a"] = round(span[0], 3)
                        if rec.completed is not None:
                            d["ae"] = round(span[1], 3)
                    if rec.error:
                        d["err"] = rec.error
                    if rec.reported:
                        d["rep"] = rec.reported
            ops_out.append(d)
        wells = {}
        status = self.well_status()
        for name, wp in self.plan.wells.items() if self.plan else []:
            w: dict[str, Any] = {
                "reagents": {
                    rid: {k: v for k, v in amt.model_dump().items() if v is not None}
                    for rid, amt in wp.reagents.items()
                },
                "final": wp.final_volume_uL,
                "max": wp.max_volume_uL,
                "rt": wp.reaction_time_s,
            }
            w.update(_design_fields(wp))
            if self.journal is not None:
                w["status"] = status.get(name, "not_run")
                w["actual"] = self.journal.dispensed_uL.get(name, {})
                w["actual_mg"] = self.journal.dispensed_mg.get(name, {})
            wells[name] = w
        steps = [
            {
                "step": r["step"],
                "line": r["line"],
                "label": r["label"],
                "start": r["start"],
                "end": r["end"],
            }
            for r in self.step_rows()
        ]
        rounds = []
        if self.plan:
            first_round: dict[int, list[float]] = {}
            for op in self.plan.operations:
                aliquot, of = aliquots_of(op)
                if aliquot == 1 and of and of > 1:
                    round_span = first_round.setdefault(op.step, [op.t, op.end])
                    round_span[0] = min(round_span[0], op.t)
                    round_span[1] = max(round_span[1], op.end)
            labels = self.step_labels()
            rounds = [
                {
                    "step": s,
                    "label": f"step {s + 1}: first aliquot round of {labels.get(s, '')}",
                    "start": a,
                    "end": b,
                }
                for s, (a, b) in sorted(first_round.items())
            ]
        return {
            "title": self.title,
            "kind": self.source_kind,
            "makespan": self.plan.makespan_s if self.plan else 0.0,
            "start": self.start.isoformat(timespec="minutes") if self.start else None,
            "lanes": [{"id": lane.id, "label": lane.label, "kind": lane.kind} for lane in lanes],
            "ops": ops_out,
            "steps": steps,
            "rounds": rounds,
            "temperature": self.temperature_series(),
            "plate": {
                "labware": self.plate_labware,
                "rows": self.plate_rows,
                "cols": self.plate_cols,
                "wells": wells,
            },
            "colors": {"op": OP_COLORS, "status": STATUS_COLORS},
            "statusLabels": STATUS_LABELS,
            "journal": None
            if self.journal is None
            else {
                "status": self.journal.status,
                "last": self.journal.last_time,
                "path": self.journal.path,
                "clock": self.journal.clock,
                "backend": self.journal.backend,
            },
        }


def _describe(op: Operation | None, op_id: int) -> str:
    if op is None:
        return f"operation {op_id}"
    what = f"#{op.id} {op.op}"
    reagent, wells = reagent_of(op), wells_of(op)
    if reagent:
        what += f" {reagent}"
    if wells:
        what += " → " + ",".join(wells[:4]) + ("…" if len(wells) > 4 else "")
    return what + f" (step {op.step + 1}, line {op.line})"


LABELLING_OPS = (
    Dispense,
    DispensePowder,
    SetTemperature,
    Shake,
    Prompt,
    SetClosure,
    Sample,
    Wait,
)
"""The kinds whose first operation in a step names what the step does."""


def _what_op_does(op: Operation) -> str:
    """`` aldehyde``, `` to 0 °C``, `` 600 rpm``: what a step's first operation adds to its label."""
    match op:
        case Dispense() | DispensePowder():
            return f" {op.reagent.replace('solvent:', '')}" if op.reagent else ""
        case SetTemperature():
            return f" to {op.celsius:g} °C"
        case Shake() if op.rpm:
            return f" {op.rpm:g} rpm"
        case SetClosure():
            return f" ({op.closure})"
        case _:
            return ""


def _dedupe(points: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for p in points:
        if out and math.isclose(out[-1][0], p[0]) and math.isclose(out[-1][1], p[1]):
            continue
        out.append(p)
    return out


def _prepare_text(s: StockPlan, n: int) -> str:
    """What the operator does to make a stock (``n`` identical neighbouring wells share it)."""
    if s.form == "solid":
        prepare = f"weigh {fmt_mg(s.weigh_mg)} mg in total" + (
            " into the powder dispenser's hopper"
            if "operator" not in s.location
            else ", to be weighed into the wells by hand (see the operator's timeline)"
        )
    elif s.form == "solvent":
        prepare = f"fill with {s.substance}"
    elif s.form == "supplied":
        conc = f"{s.concentration_M:.4g} M " if s.concentration_M else ""
        prepare = f"use as supplied ({conc}in {s.solvent}): {fmt_volume(s.volume_uL)} on hand, nothing to weigh"
    elif s.form == "neat":
        prepare = f"neat {s.substance}"
    elif s.weigh_mg and s.measure_uL:  # a liquid solute: measured by volume
        conc = f"{s.concentration_M:.4g} M " if s.concentration_M else ""
        prepare = f"measure {fmt_volume(s.measure_uL)} ({fmt_mg(s.weigh_mg)} mg), make up to {fmt_volume(s.volume_uL)} with {s.solvent} ({conc}in {s.solvent})"
        if n > 1:
            prepare = f"per well: {prepare}; or one batch for all {n}: measure {fmt_volume(s.measure_uL * n)}, make up to {fmt_volume(s.volume_uL * n)} and put {fmt_volume(s.volume_uL)} into each"
    elif s.weigh_mg:
        conc = f"{s.concentration_M:.4g} M " if s.concentration_M else ""
        prepare = f"weigh {fmt_mg(s.weigh_mg)} mg, dissolve in {s.solvent} and make up to {fmt_volume(s.volume_uL)} ({conc}in {s.solvent})"
        if n > 1:
            prepare = f"per well: {prepare}; or one batch for all {n}: weigh {fmt_mg(s.weigh_mg * n)} mg, make up to {fmt_volume(s.volume_uL * n)} and put {fmt_volume(s.volume_uL)} into each"
    elif s.concentration_M:
        prepare = f"{s.concentration_M:.4g} M in {s.solvent}, {fmt_volume(s.volume_uL)}"
    else:
        prepare = f"{s.substance}" + (f" ({s.solvent})" if s.solvent else "")
    if s.purity:
        prepare += f" (of {s.purity * 100:g} % material: amounts corrected)"
    prepare += co_solutes_text(s.solutes)  # a premixed stock: what else to weigh
    if s.stage:  # not before the start: a later stage (often from an earlier one's product)
        prepare += f"; for stage {s.stage + 1}, first needed at {fmt_duration(s.first_use_s)}"
    if s.placed_s:  # at its stage's prompt or a 'place:' step: open from then
        prepare += f"; put out at {fmt_duration(s.placed_s)}"
    return prepare


def _held_in(op: Sample) -> str:
    """What the sample wells hold before the aliquot goes in, as the protocol says."""
    return f" into sample wells holding {op.diluent}" if op.diluent else ""


def _design_fields(wp: WellPlan) -> dict[str, Any]:
    """A designed well's condition id (``cid``) and levels (``cond``) for the page; none else."""
    out: dict[str, Any] = {}
    if wp.condition_id is not None:
        out["cid"] = wp.condition_id
    if wp.conditions:
        out["cond"] = wp.conditions
    return out
