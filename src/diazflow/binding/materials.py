"""Which labware each solvent sits in, and whether its material tolerates the solvent (DF304)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.chemistry import materials
from diazflow.chemistry.checks import solvent_components
from diazflow.diagnostics import Severity
from diazflow.language import models as m

if TYPE_CHECKING:
    from diazflow.chemistry.resolve import ResolvedChemistry
    from diazflow.compiler.facts import DeckFacts, LabwareFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol


@dataclass(frozen=True)
class SolventUse:
    """A solvent in a labware, and the place in the protocol that puts it there."""

    path: tuple
    """YAML path that a DF304 about this use points at."""
    labware: str
    material: str | None
    """The labware's material from the deck layout; None when the layout does not say."""
    solvent: str
    """As written: a single solvent or a mixture (``MeOH/CHCl3 1:1``)."""


def solvent_uses(
    loaded: LoadedProtocol, chem: ResolvedChemistry, facts: DeckFacts, vessel: LabwareFacts
) -> Iterator[SolventUse]:
    """Every labware a solvent sits in: the reaction vessel (one use per stage's solvent), stock
    plates and reservoirs, neat liquids in reservoirs, added solvents, and sample plates."""
    p = loaded.protocol
    yield SolventUse(("vessels", "labware"), vessel.name, vessel.material, p.scale.solvent)
    for stage in chem.stages[1:]:
        path = loaded.step_path(stage.first_step, "scale", "solvent")
        yield SolventUse(path, vessel.name, vessel.material, stage.solvent)
    yield from _stock_uses(loaded, facts)
    for rid, r in p.reagents.items():
        if r.neat and r.name:  # a neat liquid sits in a reservoir as itself
            yield from _in_reservoir(facts, ("reagents", rid, "neat"), r.name)
    for i, step in enumerate(p.steps):
        _, params = m.step_params(step)
        match params:
            case m.AddSolventParams(solvent=solvent):
                yield from _in_reservoir(facts, loaded.step_path(i, "solvent"), solvent)
            case m.SampleParams(into=into) if into in facts.labware:
                lw = facts.labware[into]
                solvent = chem.stage_of_step(i).solvent
                yield SolventUse(loaded.step_path(i, "into"), lw.name, lw.material, solvent)


def _stock_uses(loaded: LoadedProtocol, facts: DeckFacts) -> Iterator[SolventUse]:
    """Stock solutions: a library's on the building-block plate, one with a ``source`` in that
    labware, any other common stock in a reservoir."""
    bb = facts.labware.get("building_blocks")
    for rid, r in loaded.protocol.reagents.items():
        if r.supplied is not None:  # a commercial solution, poured into a reservoir
            where: tuple = ("reagents", rid, "supplied", "solvent")
            yield from _in_reservoir(facts, where, r.supplied.solvent)
            continue
        if r.stock is None:
            continue
        if r.library and bb is not None and not r.stock.source:
            path: tuple = ("reagents", rid, "stock", "solvent")
            yield SolventUse(path, bb.name, bb.material, r.stock.solvent)
        elif r.stock.source and r.stock.source in facts.labware:
            lw = facts.labware[r.stock.source]
            path = ("reagents", rid, "stock", "source")
            yield SolventUse(path, lw.name, lw.material, r.stock.solvent)
        elif not r.library:
            yield from _in_reservoir(facts, ("reagents", rid, "stock", "solvent"), r.stock.solvent)


def _in_reservoir(facts: DeckFacts, path: tuple, solvent: str) -> Iterator[SolventUse]:
    """A common reagent or solvent goes to the deck's reagent reservoirs (all one material)."""
    for position in facts.reservoirs[:1]:
        lw = facts.labware.get(position.split(":", 1)[0])
        if lw is not None:
            yield SolventUse(path, lw.name, lw.material, solvent)


@dataclass
class _MaterialFinding:
    """One material that does not (or only briefly) tolerates one solvent, and where."""

    first: SolventUse
    """The first use: the DF304 points at it."""
    solvent: str
    verdict: materials.Compatibility
    labware: list[str]
    """Every labware of this material the solvent sits in, in the order of first use."""


def material_checks(uses: Iterable[SolventUse], reporter: Reporter) -> None:
    """DF304 for each material and solvent it does not (or only briefly) tolerate: one finding
    naming every labware of that material the solvent sits in, at the first use (a DCE protocol
    puts DCE in a trough and on the stock plate: one warning, not two)."""
    found: dict[tuple[str, str], _MaterialFinding] = {}
    for use in uses:
        if not use.material:
            continue
        for part in solvent_components(use.solvent):
            key = (use.material.lower(), part.lower())
            if key in found:
                if use.labware not in found[key].labware:
                    found[key].labware.append(use.labware)
                continue
            verdict = materials.compatibility(use.material, part)
            if verdict is not None and verdict.rating != "ok":
                found[key] = _MaterialFinding(use, part, verdict, [use.labware])
    for finding in found.values():
        severity = Severity.ERROR if finding.verdict.rating == "incompatible" else Severity.WARNING
        word = "does not tolerate" if severity is Severity.ERROR else "tolerates only briefly"
        reporter.report(
            finding.first.path,
            codes.DF304,
            f"{finding.first.material} ({_quoted_names(finding.labware)}) {word} {finding.solvent}"
            f" ({finding.verdict.source})",
            "use glass or PTFE labware for this solvent, or another solvent"
            if severity is Severity.ERROR
            else "keep contact short, or use glass labware",
            severity=severity,
        )


def _quoted_names(names: list[str]) -> str:
    """'a', 'a' and 'b', 'a', 'b' and 'c'."""
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
