"""An Open Reaction Database dataset from a run journal (``diazflow export --to ord``).

One ``Reaction`` per reaction well (and per stage of a multi-stage protocol), built from what
the run *did*: the amounts are the device
records of the journal (``device_log``: each dispense's µL per channel, each powder dose's mg),
not the plan's; times are the plan times at which the devices acted.  The identities (SMILES,
names) come from the protocol the run was compiled from, re-read from the path the journal
recorded and checked against the SHA-256 recorded when the run started (DF544 if it changed);
the vessel and the robot from the deck layout.  The mapping, field by field, and what ORD cannot
hold: docs/ord-export.md.

``ord_schema`` (the ``ord`` extra, Python 3.11+) is imported only here, inside the functions that
build messages: ``run`` and ``validate`` never import it (tests/test_imports.py).
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from diazflow import __version__
from diazflow import errorcodes as codes
from diazflow.compiler.plan import (
    Dispense,
    DispensePowder,
    Operation,
    Plan,
    Sample,
    SetClosure,
    SetTemperature,
    Shake,
    StockPlan,
    WaitTemperature,
)
from diazflow.diagnostics import WHOLE_FILE, Diagnostic, Reporter, has_errors, internal_error

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.deck.spec import DeckSpec
    from diazflow.language.loader import LoadedProtocol
    from diazflow.results import RunResults

SOLVENT_PREFIX = "solvent:"  # chemistry.resolve.SOLVENT_PREFIX (not imported: it pulls in RDKit)
CATALYST_MAX_EQUIV = 0.2
"""A reagent at most this many equivalents of the limiting reagent whose structure holds a
transition metal is a catalyst (Pd, Ru, Cu...); every other non-limiting reagent is a reagent."""
TRANSITION_METALS = frozenset(
    "Sc Ti V Cr Mn Fe Co Ni Cu Zn Y Zr Nb Mo Ru Rh Pd Ag Cd Hf Ta W Re Os Ir Pt Au Hg".split()
)
_ELEMENT = re.compile(r"\[([A-Z][a-z]?)")
ANALYSIS_KEY = "LCMS"
"""The one analysis imported results are reported against (diazflow results: an LC-MS table)."""


class CreatorError(ValueError):
    """``--creator`` is not 'Name <e-mail>' (a usage error, exit 2)."""


@dataclass(frozen=True)
class Creator:
    """Who writes the record: ORD requires a name and an e-mail address for ``record_created``."""

    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Creator:
        found = re.fullmatch(r"\s*(.*?)\s*<\s*([^<>\s]+@[^<>\s]+\.[a-z]{2,})\s*>\s*", text)
        if not found or not found.group(1):
            raise CreatorError(
                f"--creator '{text}' is not 'Name <e-mail>', e.g. 'Ada Lovelace <ada@example.org>'"
            )
        return cls(found.group(1), found.group(2))


@dataclass(frozen=True)
class OrdExport:
    path: str  # the journal, as shown in diagnostics
    dataset: Any | None  # ord_schema.proto.dataset_pb2.Dataset, None when there are errors
    diagnostics: tuple[Diagnostic, ...]
    inputs: tuple[str, ...]  # files read: never overwritten by -o

    def encoded(self, binary: bool) -> bytes | str:
        """The dataset as protobuf text format (``.pbtxt``) or binary wire format (``.pb``)."""
        assert self.dataset is not None
        if binary:
            return bytes(self.dataset.SerializeToString(deterministic=True))
        from google.protobuf import text_format

        return str(text_format.MessageToString(self.dataset))


# --------------------------------------------------------------------------- what the run did


@dataclass
class WellAddition:
    """One step's addition of one reagent to one well, as the devices recorded it."""

    step: int
    reagent: str
    substance: str
    first_s: float
    last_s: float
    ul: float = 0.0
    mg: float = 0.0
    aliquots: int = 0
    liquid_class: str | None = None
    manual: bool = False
    device: str = ""


@dataclass
class RunRecord:
    """What the export reads from a journal."""

    plan: Plan
    vessel: str
    status: str
    backend: str
    created: float
    updated: float
    plan_sha256: str
    protocol_path: str
    deck_path: str
    inputs: dict[str, str | None]
    additions: dict[str, list[WellAddition]] = field(default_factory=dict)
    completed: dict[int, dict] = field(default_factory=dict)
    completed_at: dict[int, float] = field(default_factory=dict)
    results: RunResults | None = None


def read_run(journal_path: str) -> RunRecord:
    """The journal's plan, status, device records and results (raises ``JournalError``)."""
    from diazflow.results import read_results
    from diazflow.runtime.journal import Journal

    with Journal.open(journal_path, read_only=True) as journal:
        state = journal.state()
        info = journal.info()
        plan = Plan.from_json(info.plan_json)
        record = RunRecord(
            plan=plan,
            vessel=info.vessel_labware,
            status=state.status,
            backend=info.backend,
            created=info.created,
            updated=info.updated,
            plan_sha256=info.plan_sha256,
            protocol_path=info.protocol_path,
            deck_path=info.deck_path,
            inputs=journal.recorded_inputs(),
        )
        completed, _, _ = journal.op_status()
        record.completed = completed
        for _seq, op_id, event, clock_t, _data in journal.events():
            if event == "op_completed" and op_id is not None:
                record.completed_at[op_id] = clock_t
        record.additions = _additions(plan, info.vessel_labware + ":", journal.device_log())
        record.results = read_results(journal.conn, journal_path)
    return record


def _additions(
    plan: Plan, prefix: str, rows: Iterable[tuple[int, int, str, str, float, dict]]
) -> dict[str, list[WellAddition]]:
    """Per reaction well, its additions in order: the device records of the dispenses and powder
    doses, summed per (step, reagent): a dropwise addition's aliquots are one addition."""
    ops: dict[int, Operation] = {op.id: op for op in plan.operations}
    found: dict[tuple[str, int, str], WellAddition] = {}
    for op_id, _action, device, kind, clock_t, data in rows:
        op = ops.get(op_id)
        match op:
            case Dispense() if kind == "dispense":
                for row in data.get("channels", ()):
                    at = str(row.get("at", ""))
                    if not at.startswith(prefix) or "uL" not in row:
                        continue
                    well = at[len(prefix) :]
                    add = _addition(found, op, well, clock_t, device)
                    add.ul += float(row["uL"])
                    add.liquid_class = op.liquid_class
            case DispensePowder() if kind == "dispense_powder":
                for row in data.get("doses", ()):
                    at = str(row.get("at", ""))
                    well = at[len(prefix) :] if at.startswith(prefix) else at
                    add = _addition(found, op, well, clock_t, device)
                    add.mg += float(row["mg"])
                    add.manual = bool(op.manual)
    out: dict[str, list[WellAddition]] = {}
    for (well, _step, _reagent), add in found.items():
        out.setdefault(well, []).append(add)
    for adds in out.values():
        adds.sort(key=lambda a: (a.first_s, a.step))
    return out


def _addition(
    found: dict[tuple[str, int, str], WellAddition],
    op: Dispense | DispensePowder,
    well: str,
    clock_t: float,
    device: str,
) -> WellAddition:
    key = (well, op.step, op.reagent)
    add = found.get(key)
    if add is None:
        substance = op.substances[op.wells.index(well)] if well in op.wells else op.reagent
        add = found[key] = WellAddition(
            op.step, op.reagent, substance, clock_t, clock_t, device=device
        )
    add.first_s = min(add.first_s, clock_t)
    add.last_s = max(add.last_s, clock_t)
    add.aliquots += 1
    return add


# --------------------------------------------------------------------------- checks


def check_run(run: RunRecord, journal_shown: str, reporter: Reporter) -> None:
    """DF543 (not complete), DF544 (a source file changed), DF545 (no results), DF546 (simulated)."""
    from diazflow.runtime.runner import changed_inputs

    journal = reporter.for_file(journal_shown)
    if run.status != "complete":
        done = len(run.completed)
        phrase = {"failed": "failed", "interrupted": "was interrupted"}.get(
            run.status, "is still running"
        )
        journal.error(
            WHOLE_FILE,
            codes.DF543,
            f"the run {phrase} ({done} of {len(run.plan.operations)} operations done): an ORD "
            "dataset records finished reactions only",
            f"finish it with 'diazflow resume {journal_shown}', then export it",
        )
    for path in changed_inputs(_read_again(run)):
        what = "is missing" if not os.path.exists(path) else "changed since the run"
        reporter.for_file(_shown(path)).error(
            WHOLE_FILE,
            codes.DF544,
            f"this file {what}: the dataset's structures and names are read from the files the "
            "run was compiled from, as they were then",
            "restore the file as it was when the run started (the journal keeps its SHA-256), "
            "then export again",
        )
    if run.results is None:
        journal.warn(
            WHOLE_FILE,
            codes.DF545,
            "no results were imported into this run: every reaction's outcome holds only its "
            "reaction time (ORD warns: no products or conversion)",
            f"import the analysis first: diazflow results {journal_shown} RESULTS.csv",
        )
    if run.backend != "hardware":
        journal.warn(
            WHOLE_FILE,
            codes.DF546,
            f"the run was not on a robot (backend '{run.backend}'): the amounts are what "
            "simulated devices recorded, not an experiment",
            "export the journal of a run with --backend hardware for a dataset of real "
            "reactions; this one is marked as simulated in every reaction's metadata",
        )


def _read_again(run: RunRecord) -> dict[str, str | None]:
    """The recorded inputs the export reads again: the protocol, its library CSVs and the deck
    layout (not the simulator profiles: their timings are not in the dataset)."""
    wanted = {os.path.abspath(run.protocol_path), os.path.abspath(run.deck_path)}
    return {
        path: digest
        for path, digest in run.inputs.items()
        if path in wanted or path.lower().endswith(".csv")
    }


def _shown(path: str) -> str:
    from diazflow.pipeline import display_path

    return display_path(path)


# --------------------------------------------------------------------------- the export


def ord_from_journal(journal_path: str, creator: Creator) -> OrdExport:
    """The dataset of a run journal; a bug in diazflow is DF000, never a traceback.  A file that
    is not a journal raises ``JournalError`` (a usage error)."""
    from diazflow.runtime.journal import JournalError

    shown = _shown(journal_path)
    try:
        return _export(journal_path, shown, creator)
    except JournalError:
        raise
    except Exception as exc:  # noqa: BLE001 - any bug at all
        diagnostics = internal_error(shown, exc, yours="your run", send="the journal")
        return OrdExport(shown, None, diagnostics, (journal_path,))


def _export(journal_path: str, shown: str, creator: Creator) -> OrdExport:
    run = read_run(journal_path)
    reporter = Reporter(shown)
    check_run(run, shown, reporter)
    inputs = (journal_path, *run.inputs)
    if has_errors(reporter.diagnostics):
        return OrdExport(shown, None, tuple(reporter.sorted()), inputs)
    sources = _sources(run, reporter)
    if sources is None:
        return OrdExport(shown, None, tuple(reporter.sorted()), inputs)
    loaded, chem, deck = sources
    dataset = build_dataset(run, loaded, chem, deck, creator, os.path.basename(journal_path))
    errors = validation_errors(dataset)
    if errors:
        # the run and its files passed every check above: a dataset ORD rejects is a gap in
        # this mapping, never written (its warnings are expected: docs/ord-export.md)
        reporter.error(
            WHOLE_FILE,
            codes.DF000,
            f"internal error: ord_schema rejects the dataset ({len(errors)} errors), e.g. "
            + "; ".join(errors[:3]),
            "this is a bug in diazflow's ORD export, not in your run; please report it with the "
            "journal",
        )
        return OrdExport(shown, None, tuple(reporter.sorted()), inputs)
    return OrdExport(shown, dataset, tuple(reporter.sorted()), inputs)


def validation_errors(dataset: Any) -> list[str]:
    """What ``ord_schema.validations`` finds wrong with the dataset (its warnings are left out)."""
    from ord_schema import validations

    return list(validations.validate_message(dataset, raise_on_error=False).errors)


def _sources(
    run: RunRecord, reporter: Reporter
) -> tuple[LoadedProtocol, ResolvedChemistry, DeckSpec] | None:
    """The protocol (loaded, its chemistry resolved) and the deck layout the run was compiled
    from; their own diagnostics when they no longer load (a newer diazflow, say)."""
    from diazflow.chemistry.resolve import resolve_chemistry
    from diazflow.deck import DeckLayoutError, load_deck
    from diazflow.language.loader import load_protocol

    result = load_protocol(run.protocol_path)
    if not result.ok or result.loaded is None:
        reporter.extend(result.diagnostics)
        return None
    chem, diagnostics = resolve_chemistry(result.loaded)
    if chem is None:
        reporter.extend(diagnostics)
        return None
    try:
        deck = load_deck(run.deck_path)
    except DeckLayoutError as exc:
        reporter.extend(exc.diagnostics)
        return None
    return result.loaded, chem, deck


def _iso(timestamp: float | datetime.datetime) -> str:
    """ORD's DateTime: an ISO 8601 time with its UTC offset."""
    moment = (
        timestamp
        if isinstance(timestamp, datetime.datetime)
        else datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    )
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def build_dataset(
    run: RunRecord,
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    deck: DeckSpec,
    creator: Creator,
    journal_name: str,
    now: datetime.datetime | None = None,
) -> Any:
    """The ``Dataset``: one ``Reaction`` per reaction well of the plan (and stage), in plate
    order."""
    from ord_schema.proto import dataset_pb2

    context = _Context(run, loaded, chem, deck, creator, journal_name, now)
    protocol = loaded.protocol
    dataset = dataset_pb2.Dataset(
        name=protocol.name,
        description=(
            f"The reactions of {len(run.plan.wells)} wells of the diazflow protocol "
            f"'{os.path.basename(run.protocol_path)}' run on {deck.name} (backend "
            f"'{run.backend}', journal {journal_name}). "
            + " ".join((protocol.description or "").split())
        ).strip(),
    )
    for well in run.plan.wells:
        dataset.reactions.extend(context.reactions(well))
    return dataset


# --------------------------------------------------------------------------- one reaction


class _Context:
    """Everything one reaction is built from, looked up once for the whole plate."""

    def __init__(
        self,
        run: RunRecord,
        loaded: LoadedProtocol,
        chem: ResolvedChemistry,
        deck: DeckSpec,
        creator: Creator,
        journal_name: str,
        now: datetime.datetime | None,
    ):
        from diazflow.language import models as m

        self.run = run
        self.loaded = loaded
        self.chem = chem
        self.deck = deck
        self.creator = creator
        self.journal_name = journal_name
        self.now = now or datetime.datetime.now(datetime.timezone.utc)
        self.steps = [m.step_params(step) for step in loaded.protocol.steps]
        self.stocks: dict[tuple[str, str], StockPlan] = {
            (s.reagent, s.substance): s for s in run.plan.stocks
        }
        self.wells = {w.name: w for w in chem.wells}
        self.limiting = {stage.scale.limiting for stage in chem.stages}
        self.ops = run.plan.operations

    # ---- identities

    def smiles(self, reagent: str, substance: str, well: str) -> str | None:
        from diazflow.chemistry import properties

        if reagent.startswith(SOLVENT_PREFIX):
            props = properties.lookup(substance)
            return props.smiles if props is not None else None
        resolved = self.chem.reagents.get(reagent)
        if resolved is None:
            return None
        if resolved.library is not None:
            member = self.chem.members.get((resolved.library, self.wells[well]))
            return member.smiles if member is not None else None
        return resolved.substance.smiles if resolved.substance is not None else None

    def solvent_smiles(self, solvent: str) -> str | None:
        from diazflow.chemistry import properties

        props = properties.lookup(solvent)
        return props.smiles if props is not None else None

    def role(self, add: WellAddition, well: str) -> int:
        """REACTANT for the limiting reagent and library members (the building blocks that
        vary per well), SOLVENT for an add_solvent, CATALYST for a transition-metal compound at
        most 0.2 equiv, REAGENT for everything else."""
        from ord_schema.proto import reaction_pb2

        roles = reaction_pb2.ReactionRole
        if add.reagent.startswith(SOLVENT_PREFIX):
            return roles.SOLVENT
        resolved = self.chem.reagents.get(add.reagent)
        if add.reagent in self.limiting or (resolved is not None and resolved.library):
            return roles.REACTANT
        smiles = self.smiles(add.reagent, add.substance, well) or ""
        amount = self.run.plan.wells[well].reagents.get(add.reagent)
        equiv = (amount.umol or 0.0) / self._limiting_umol(add.step) if amount else None
        metal = any(e in TRANSITION_METALS for e in _ELEMENT.findall(smiles))
        if metal and equiv is not None and equiv <= CATALYST_MAX_EQUIV:
            return roles.CATALYST
        return roles.REAGENT

    def _limiting_umol(self, step: int) -> float:
        return self.chem.stage_of_step(step).limiting_umol or 1.0

    # ---- the reaction

    def reactions(self, well: str) -> list[Any]:
        """The well's reactions: one per stage of the protocol that did something in it (one for
        a protocol without ``stage:`` steps).  A stage whose limiting reagent is preloaded (the
        operator put back the worked-up product of the stage before) names the earlier stage's
        reaction as where that compound was made."""
        out: list[Any] = []
        previous: str | None = None
        for n in range(len(self.chem.stages)):
            steps = self._stage_steps(n)
            additions = [a for a in self.run.additions.get(well, []) if a.step in steps]
            preloaded = self._preloaded(n)
            if not additions and preloaded is None:
                continue
            final = n + 1 == len(self.chem.stages)
            reaction = self.reaction(well, n, additions, preloaded, previous, final)
            if len(self.chem.stages) > 1:
                reaction.reaction_id = _reaction_id(self.run.plan_sha256, well, n)
                previous = reaction.reaction_id
            out.append(reaction)
        return out

    def _preloaded(self, stage: int) -> str | None:
        """The stage's limiting reagent when it is preloaded (no device puts it in the wells)."""
        reagent = self.chem.reagents.get(self.chem.stages[stage].scale.limiting)
        return reagent.id if reagent is not None and reagent.form == "preloaded" else None

    def _stage_start(self, stage: int) -> float:
        """When the stage begins: its ``stage`` step's prompt (0 for the protocol's own)."""
        first = self.chem.stages[stage].first_step
        starts = {s.step: s.start for s in self.run.plan.steps}
        return starts.get(first, 0.0) if stage else 0.0

    def _stage_steps(self, stage: int) -> range:
        stages = self.chem.stages
        last = stages[stage + 1].first_step if stage + 1 < len(stages) else len(self.steps)
        return range(stages[stage].first_step, last)

    def reaction(
        self,
        well: str,
        stage: int,
        additions: list[WellAddition],
        preloaded: str | None,
        previous: str | None,
        final: bool,
    ) -> Any:
        from ord_schema.proto import reaction_pb2

        reaction = reaction_pb2.Reaction()
        start = self._stage_start(stage) if preloaded else additions[0].first_s
        quench_steps = {i for i, (kind, _) in enumerate(self.steps) if kind == "quench"}
        offset = 1 if preloaded else 0
        order = {
            step: n + 1 + offset
            for n, step in enumerate(
                sorted({a.step for a in additions if a.step not in quench_steps})
            )
        }
        if preloaded:
            self.preloaded_input(reaction, preloaded, stage, well, previous)
        counts: dict[str, int] = {}
        for add in additions:
            counts[add.reagent] = counts.get(add.reagent, 0) + 1
        for add in additions:
            if add.step in quench_steps:
                continue
            key = _input_key(add, counts)
            reaction.inputs[key].CopyFrom(self.reaction_input(add, well, start, order[add.step]))
        end = self._reaction_end(additions, quench_steps, stage)
        self.setup(reaction.setup, well)
        self.conditions(reaction.conditions, start, end)
        self.notes(reaction.notes, stage)
        for add in additions:
            if add.step in quench_steps:
                self.quench(reaction, add, well)
        self.offdeck_workups(reaction, start, self._stage_steps(stage))
        self.observations(reaction, well, start, self._stage_steps(stage))
        added = [a.last_s for a in additions if a.step not in quench_steps]
        self.outcome(
            reaction.outcomes.add(), well, None if final else end - max(added, default=start)
        )
        self.provenance(reaction.provenance)
        return reaction

    def preloaded_input(
        self, reaction: Any, reagent: str, stage: int, well: str, previous: str | None
    ) -> None:
        """The preloaded limiting reagent: the stage's amount, placed by the operator."""
        from ord_schema.proto import reaction_pb2

        resolved = self.chem.reagents[reagent]
        member = (
            self.chem.members.get((resolved.library, self.wells[well]))
            if resolved.library
            else resolved.substance
        )
        name = member.name if member is not None else reagent
        smiles = member.smiles if member is not None else None
        item = reaction.inputs[reagent]
        item.addition_order = 1
        compound = _compound(item, name, smiles, reaction_pb2.ReactionRole.REACTANT)
        compound.is_limiting = True
        compound.amount.moles.CopyFrom(_moles_umol(self.chem.stages[stage].limiting_umol))
        if previous is not None:
            compound.preparations.add(
                type=reaction_pb2.CompoundPreparation.SYNTHESIZED,
                reaction_id=previous,
                details="the product of the stage before, worked up and put back into this "
                "vial by the operator (the amount the protocol says: no device weighed it)",
            )
        item.addition_time.CopyFrom(_time_min(0.0))
        item.addition_device.type = item.addition_device.CUSTOM
        item.addition_device.details = "placed in the vial by the operator before the stage"

    def _reaction_end(
        self, additions: list[WellAddition], quench_steps: set[int], stage: int
    ) -> float:
        """The start of the quench, else of the stage's first off-deck step after its additions
        (the work-up), else of the next stage, else the end of the plan."""
        from diazflow.language import models as m

        quenched = [a.first_s for a in additions if a.step in quench_steps]
        if quenched:
            return min(quenched)
        last = max((a.last_s for a in additions), default=0.0)
        starts = {s.step: s.start for s in self.run.plan.steps}
        workups = [
            starts[i]
            for i in self._stage_steps(stage)
            if isinstance(self.steps[i][1], m.OffdeckParams) and starts.get(i, -1.0) >= last
        ]
        if workups:
            return min(workups)
        if stage + 1 < len(self.chem.stages):
            return self._stage_start(stage + 1)
        return self.run.plan.makespan_s

    def reaction_input(self, add: WellAddition, well: str, start: float, order: int) -> Any:
        from ord_schema.proto import reaction_pb2

        item = reaction_pb2.ReactionInput(addition_order=order)
        self.components(item, add, well, self.role(add, well))
        item.addition_time.CopyFrom(_time_min(add.first_s - start))
        self.addition_speed(item, add)
        self.addition_device(item, add)
        return item

    def components(self, item: Any, add: WellAddition, well: str, role: int) -> None:
        """The solute (µmol from the dispensed µL × the stock's concentration) and the solvent
        (the dispensed µL) of a stock; a neat liquid by volume, a solid by mass; a solution with
        no stated concentration as itself, by volume."""
        from ord_schema.proto import reaction_pb2

        roles = reaction_pb2.ReactionRole
        stock = self.stocks.get((add.reagent, add.substance))
        smiles = self.smiles(add.reagent, add.substance, well)
        if add.mg > 0:
            compound = _compound(item, add.substance, smiles, role)
            compound.amount.mass.CopyFrom(_mass_mg(add.mg))
        elif stock is not None and stock.concentration_M and stock.solvent:
            solute = _compound(item, add.substance, smiles, role)
            solute.amount.moles.CopyFrom(_moles_umol(add.ul * stock.concentration_M))
            solvent = _compound(
                item, stock.solvent, self.solvent_smiles(stock.solvent), roles.SOLVENT
            )
            solvent.amount.volume.CopyFrom(_volume_ul(add.ul))
            solvent.amount.volume_includes_solutes = True
        else:
            compound = _compound(item, add.substance, smiles, role)
            compound.amount.volume.CopyFrom(_volume_ul(add.ul))
            if stock is not None and stock.solvent:
                compound.amount.volume_includes_solutes = True
        if add.reagent in self.limiting:
            item.components[0].is_limiting = True

    def addition_speed(self, item: Any, add: WellAddition) -> None:
        from diazflow.language import models as m

        speed = item.addition_speed
        _, params = self.steps[add.step]
        if isinstance(params, m.AddParams | m.QuenchParams) and params.dropwise is not None:
            speed.type = speed.DROPWISE
            speed.details = f"{add.aliquots} aliquots, {params.dropwise.text} asked for"
        elif isinstance(params, m.AddParams) and params.portionwise is not None:
            speed.type = speed.PORTIONWISE
            speed.details = f"{add.aliquots} portions, over {params.portionwise.over.text}"
        else:
            speed.type = speed.ALL_AT_ONCE
        if add.last_s > add.first_s:
            item.addition_duration.CopyFrom(_time_min(add.last_s - add.first_s))

    def addition_device(self, item: Any, add: WellAddition) -> None:
        device = item.addition_device
        device.type = device.CUSTOM
        if add.mg > 0:
            device.details = (
                "weighed in by hand by the operator"
                if add.manual
                else f"powder dispenser '{add.device}'"
            )
        else:
            device.details = (
                f"{self.deck.robot.kind} pipetting channel (PyLabRobot), liquid class "
                f"'{add.liquid_class}'"
            )

    # ---- setup, conditions, notes

    def closures(self) -> list[SetClosure]:
        return [op for op in self.ops if isinstance(op, SetClosure)]

    def setup(self, setup: Any, well: str) -> None:
        from ord_schema.proto import reaction_pb2

        labware = self.deck.labware[self.run.vessel]
        vessel = setup.vessel
        material = (labware.material or "").lower()
        vessel.type = vessel.VIAL if material == "glass" else vessel.WELL_PLATE
        vessel.details = labware.description or labware.name
        materials = {
            "glass": reaction_pb2.VesselMaterial.GLASS,
            "polypropylene": reaction_pb2.VesselMaterial.POLYPROPYLENE,
        }
        vessel.material.type = materials.get(material, reaction_pb2.VesselMaterial.CUSTOM)
        if vessel.material.type == reaction_pb2.VesselMaterial.CUSTOM:
            vessel.material.details = material or "not stated in the deck layout"
        vessel.volume.CopyFrom(_volume_ul(labware.max_volume_ul))
        vessel.vessel_id = f"{labware.name}:{well}"
        vessel.position = well
        found = re.fullmatch(r"([A-Z]+)(\d+)", well)
        if found:
            vessel.row, vessel.col = found.group(1), found.group(2)
        states = {op.closure for op in self.closures()}
        if states & {"capped", "vented"}:
            vessel.attachments.add(type=reaction_pb2.VesselAttachment.SEPTUM)
        if "vented" in states:
            vessel.attachments.add(type=reaction_pb2.VesselAttachment.VENT_NEEDLE)
        setup.is_automated = True
        setup.automation_platform = f"{self.deck.name} ({self.deck.robot.kind}, PyLabRobot)"
        for key, value, what in (
            ("diazflow_plan_sha256", self.run.plan_sha256, "SHA-256 of the plan the run executed"),
            ("diazflow_protocol", os.path.basename(self.run.protocol_path), "the protocol file"),
            ("diazflow_journal", self.journal_name, "the run journal (SQLite)"),
        ):
            setup.automation_code[key].string_value = value
            setup.automation_code[key].description = what
        setup.environment.type = setup.environment.CUSTOM
        setup.environment.details = (
            f"liquid handler deck '{self.deck.name}', {self.deck.atmosphere} atmosphere"
        )

    def conditions(self, conditions: Any, start: float, end: float) -> None:
        self.temperature(conditions, start, end)
        self.stirring(conditions.stirring, start, end)
        self.pressure(conditions.pressure, start, end)
        if any(kind == "reflux" for kind, _ in self.steps):
            conditions.reflux = True

    def temperature(self, conditions: Any, start: float, end: float) -> None:
        from ord_schema.proto import reaction_pb2

        temp = conditions.temperature
        sets = [op for op in self.ops if isinstance(op, SetTemperature)]
        rt = self.loaded.protocol.room_temperature_c
        if not sets:
            temp.control.type = temp.control.AMBIENT
            temp.setpoint.CopyFrom(_celsius(rt))
            return
        module = sets[0].device
        temp.control.type = temp.control.CUSTOM
        kind = self.deck.modules[module].kind if module in self.deck.modules else module
        temp.control.details = f"{kind} '{module}' under the reaction vessels"
        held = _longest_setpoint(sets, start, end, rt)
        temp.setpoint.CopyFrom(_celsius(held))
        for op in self.ops:
            if isinstance(op, WaitTemperature) and op.id in self.run.completed:
                reached = self.run.completed[op.id].get("celsius_reached")
                at = self.run.completed_at.get(op.id, op.end)
                if reached is None or at < start:
                    continue
                measured = temp.measurements.add(
                    type=reaction_pb2.TemperatureConditions.TemperatureMeasurement.CUSTOM,
                    details="block temperature the module reported when its set point was reached",
                )
                measured.time.CopyFrom(_time_min(at - start))
                measured.temperature.CopyFrom(_celsius(float(reached)))
        program = _program(sets, start, end)
        if len({round(c, 3) for _, c, _ in program}) > 1:
            conditions.conditions_are_dynamic = True
            conditions.details = "block set points (time from the first addition): " + "; ".join(
                f"{_clock(t)} {c:g} °C" + (f" (ramp over {ramp / 60:g} min)" if ramp else "")
                for t, c, ramp in program
            )

    def stirring(self, stirring: Any, start: float, end: float) -> None:
        shakes = [op for op in self.ops if isinstance(op, Shake) and op.t < end and op.end > start]
        if not shakes:
            stirring.type = stirring.NONE
            return
        longest = max(shakes, key=lambda op: min(op.end, end) - max(op.t, start))
        stirring.type = stirring.AGITATION
        stirring.details = f"orbital shaking of the block on '{longest.device}'"
        if longest.rpm:
            stirring.rate.rpm = int(round(longest.rpm))

    def pressure(self, pressure: Any, start: float, end: float) -> None:
        atmosphere = pressure.atmosphere
        if self.loaded.protocol.atmosphere == "inert" or self.deck.atmosphere == "inert":
            atmosphere.type = atmosphere.CUSTOM
            atmosphere.details = f"inert gas (N2 or Ar) of the enclosure of '{self.deck.name}'" + (
                "" if self.loaded.protocol.atmosphere == "inert" else " (the protocol asks air)"
            )
        else:
            atmosphere.type = atmosphere.AIR
        closure = _longest_closure(self.closures(), start, end)
        control = pressure.control
        if closure == "capped":
            control.type = control.SEALED
        elif closure == "vented":
            control.type = control.CUSTOM
            control.details = "septum caps pierced by vent needles: gas escapes"
        else:
            control.type = control.AMBIENT

    def notes(self, notes: Any, stage: int) -> None:
        from diazflow.language import models as m

        protocol = self.loaded.protocol
        params = self.steps[self.chem.stages[stage].first_step][1] if stage else None
        notes.procedure_details = " ".join(
            x
            for x in (
                f"diazflow protocol '{protocol.name}'.",
                f"Stage {params.name}." if isinstance(params, m.StageParams) else "",
                f"Reference: {protocol.reference}." if protocol.reference else "",
            )
            if x
        )

    # ---- workups, observations, outcome, provenance

    def quench(self, reaction: Any, add: WellAddition, well: str) -> None:
        from ord_schema.proto import reaction_pb2

        from diazflow.language import models as m

        workup = reaction.workups.add(type=reaction_pb2.ReactionWorkup.ADDITION)
        workup.details = f"quench with {add.substance} (diazflow step {add.step + 1})"
        workup.is_automated = True
        self.components(workup.input, add, well, reaction_pb2.ReactionRole.WORKUP)
        self.addition_device(workup.input, add)
        _, params = self.steps[add.step]
        if isinstance(params, m.QuenchParams) and params.stir is not None:
            stir = reaction.workups.add(type=reaction_pb2.ReactionWorkup.STIRRING)
            stir.details = f"stir after the quench ({params.stir.text} asked for)"
            stir.is_automated = True
            shakes = [op for op in self.ops if isinstance(op, Shake) and op.step == add.step]
            stir.stirring.type = stir.stirring.AGITATION
            if shakes:
                stir.duration.CopyFrom(_time_min(shakes[0].duration))
                if shakes[0].rpm:
                    stir.stirring.rate.rpm = int(round(shakes[0].rpm))

    def offdeck_workups(self, reaction: Any, start: float, steps: range) -> None:
        """The operator's off-deck steps of the stage after its first addition, in order: ORD's
        workups."""
        from ord_schema.proto import reaction_pb2

        from diazflow.language import models as m

        step_start = {s.step: s.start for s in self.run.plan.steps}
        for i in steps:
            _kind, params = self.steps[i]
            if not isinstance(params, m.OffdeckParams) or step_start.get(i, 0.0) < start:
                continue
            workup = reaction.workups.add(type=reaction_pb2.ReactionWorkup.CUSTOM)
            workup.details = " ".join(params.message.split())
            workup.is_automated = False
            if params.duration is not None:
                workup.duration.CopyFrom(_time_min(params.duration.value))

    def observations(self, reaction: Any, well: str, start: float, steps: range) -> None:
        """Samples taken from the well during the stage (for monitoring): an observation each."""
        for op in self.ops:
            if not isinstance(op, Sample) or op.step not in steps or well not in op.wells:
                continue
            if op.id not in self.run.completed:
                continue
            index = op.wells.index(well)
            target = op.targets[index] if index < len(op.targets) else op.into
            observation = reaction.observations.add()
            observation.time.CopyFrom(_time_min(max(0.0, op.t - start)))
            observation.comment = (
                f"{op.volumes_uL[index]:g} µL sampled into {target} for analysis"
                + (f" ({op.diluent})" if op.diluent else "")
            )

    def outcome(self, outcome: Any, well: str, stage_time_s: float | None) -> None:
        """The reaction time; the imported results for the well's last (or only) stage, which
        ``stage_time_s`` None marks (an earlier stage's time is computed from its records)."""
        from ord_schema.proto import reaction_pb2

        if stage_time_s is not None:
            outcome.reaction_time.CopyFrom(_time_h(stage_time_s))
            return
        reaction_time = self.run.plan.wells[well].reaction_time_s
        if reaction_time is not None:
            outcome.reaction_time.CopyFrom(_time_h(reaction_time))
        results = self.run.results
        found = results.wells.get(well) if results is not None else None
        if results is None or found is None:
            return
        analysis = outcome.analyses[ANALYSIS_KEY]
        analysis.type = reaction_pb2.Analysis.LCMS
        analysis.details = (
            f"results imported into the run journal from '{results.source}' "
            f"(SHA-256 {results.sha256}) on {_iso(results.imported)}"
            + (f"; comment: {found.comment}" if found.comment else "")
        )
        if found.conversion_pct is not None:
            outcome.conversion.value = found.conversion_pct
        measured = [
            (reaction_pb2.ProductMeasurement.YIELD, found.yield_pct, None),
            (reaction_pb2.ProductMeasurement.AREA, found.area_pct, "product peak area %"),
            (reaction_pb2.ProductMeasurement.PURITY, found.purity_pct, None),
        ]
        if all(value is None for _, value, _ in measured) and found.mz is None:
            return
        product = outcome.products.add(
            reaction_role=reaction_pb2.ReactionRole.PRODUCT, is_desired_product=True
        )
        product.identifiers.add(
            type=reaction_pb2.CompoundIdentifier.NAME,
            value=f"desired product of well {well} (structure not recorded by diazflow)",
        )
        for kind, value, details in measured:
            if value is None:
                continue
            measurement = product.measurements.add(type=kind, analysis_key=ANALYSIS_KEY)
            measurement.percentage.value = value
            if details:
                measurement.details = details
        if found.mz is not None:
            measurement = product.measurements.add(
                type=reaction_pb2.ProductMeasurement.CUSTOM,
                analysis_key=ANALYSIS_KEY,
                details="observed m/z of the product peak",
            )
            measurement.float_value.value = found.mz

    def provenance(self, provenance: Any) -> None:
        provenance.experiment_start.value = _iso(self.run.created)
        created = provenance.record_created
        created.time.value = _iso(self.now)
        created.person.name = self.creator.name
        created.person.email = self.creator.email
        created.details = f"diazflow {__version__} export --to ord of {self.journal_name}"
        for key, value in _metadata(self.run).items():
            provenance.reaction_metadata[key].string_value = value


def _metadata(run: RunRecord) -> Mapping[str, str]:
    return {
        "diazflow_version": __version__,
        "plan_sha256": run.plan_sha256,
        "run_backend": run.backend + ("" if run.backend == "hardware" else " (not a real robot)"),
        "run_status": run.status,
        "run_created": _iso(run.created),
        "run_updated": _iso(run.updated),
    }


# --------------------------------------------------------------------------- small pieces


def _reaction_id(plan_sha256: str, well: str, stage: int) -> str:
    """A stable ``ord-`` + 32 hex digits id (ORD's format) for one stage of one well, so that a
    later stage can name the reaction that made its starting material."""
    import hashlib

    digest = hashlib.sha256(f"{plan_sha256}:{well}:{stage}".encode()).hexdigest()
    return f"ord-{digest[:32]}"


def _input_key(add: WellAddition, counts: Mapping[str, int]) -> str:
    name = (
        f"{add.reagent[len(SOLVENT_PREFIX) :]} (solvent)"
        if add.reagent.startswith(SOLVENT_PREFIX)
        else add.reagent
    )
    return name if counts[add.reagent] == 1 else f"{name} (step {add.step + 1})"


def _compound(item: Any, name: str, smiles: str | None, role: int) -> Any:
    from ord_schema.proto import reaction_pb2

    compound = item.components.add(reaction_role=role)
    if smiles:
        compound.identifiers.add(type=reaction_pb2.CompoundIdentifier.SMILES, value=smiles)
    compound.identifiers.add(type=reaction_pb2.CompoundIdentifier.NAME, value=name)
    return compound


def _time_min(seconds: float) -> Any:
    from ord_schema.proto import reaction_pb2

    return reaction_pb2.Time(value=round(seconds / 60.0, 4), units=reaction_pb2.Time.MINUTE)


def _time_h(seconds: float) -> Any:
    from ord_schema.proto import reaction_pb2

    return reaction_pb2.Time(value=round(seconds / 3600.0, 4), units=reaction_pb2.Time.HOUR)


def _celsius(value: float) -> Any:
    from ord_schema.proto import reaction_pb2

    return reaction_pb2.Temperature(value=value, units=reaction_pb2.Temperature.CELSIUS)


def _volume_ul(value: float) -> Any:
    from ord_schema.proto import reaction_pb2

    return reaction_pb2.Volume(value=round(value, 3), units=reaction_pb2.Volume.MICROLITER)


def _moles_umol(value: float) -> Any:
    from ord_schema.proto import reaction_pb2

    return reaction_pb2.Moles(value=round(value, 4), units=reaction_pb2.Moles.MICROMOLE)


def _mass_mg(value: float) -> Any:
    from ord_schema.proto import reaction_pb2

    return reaction_pb2.Mass(value=round(value, 4), units=reaction_pb2.Mass.MILLIGRAM)


def _clock(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    minutes = int(round(abs(seconds) / 60.0))
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


def _program(
    sets: list[SetTemperature], start: float, end: float
) -> list[tuple[float, float, float | None]]:
    """(time from ``start``, °C, ramp s) of the set points in force during [start, end]: the last
    one before the start and every one up to the end."""
    before = [op for op in sets if op.t <= start]
    during = [op for op in sets if start < op.t < end]
    chosen = ([before[-1]] if before else []) + during
    return [(op.t - start, op.celsius, op.ramp_s) for op in chosen]


def _longest_setpoint(sets: list[SetTemperature], start: float, end: float, rt: float) -> float:
    """The set point the block held longest between ``start`` and ``end`` (room temperature
    before the first set point)."""
    held: dict[float, float] = {}
    points = [(0.0, rt)] + [(op.t, op.celsius) for op in sets]
    for n, (t, celsius) in enumerate(points):
        until = points[n + 1][0] if n + 1 < len(points) else end
        span = min(until, end) - max(t, start)
        if span > 0:
            held[celsius] = held.get(celsius, 0.0) + span
    return max(held, key=lambda c: held[c]) if held else points[-1][1]


def _longest_closure(closures: list[SetClosure], start: float, end: float) -> str:
    """The vessels' closure for the longest part of [start, end] (open before the first change)."""
    held: dict[str, float] = {}
    points = [(0.0, "open")] + [(op.end, str(op.closure)) for op in closures]
    for n, (t, closure) in enumerate(points):
        until = points[n + 1][0] if n + 1 < len(points) else end
        span = min(until, end) - max(t, start)
        if span > 0:
            held[closure] = held.get(closure, 0.0) + span
    return max(held, key=lambda c: held[c]) if held else "open"
