"""Vessel closure over the protocol: open, capped or vented at every step (DF530-DF532).

Every protocol starts with the reaction vessels open.  Only ``seal:`` (capped), ``vent:``
(vented: vent needles through the caps), ``unseal:`` (open) and ``offdeck: {vent: true}``
(vented) change the state.  A tip or the powder head cannot go through a cap, so a step that puts
something into the vessels needs them open (DF530); a labware the layout does not declare
``sealed: true`` takes no caps (DF531); a closure step that leaves the state as it was is a
warning (DF532): it costs the operator a pause and says the author lost track of the caps.

The timeline computed here is what the temperature checks (DF302/DF303) and the hazard walk
(DF403) read, and what the compiler turns into ``set_closure`` operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from diazflow import errorcodes as codes
from diazflow.language import models as m

if TYPE_CHECKING:
    from diazflow.compiler.facts import LabwareFacts
    from diazflow.diagnostics import Reporter
    from diazflow.language.loader import LoadedProtocol

OPEN: m.Closure = "open"
CAPPED: m.Closure = "capped"
VENTED: m.Closure = "vented"


@dataclass(frozen=True)
class ClosureTimeline:
    """The closure of the reaction vessels while each step runs (a closure step: after it)."""

    during: tuple[m.Closure, ...]
    changed_at: tuple[int | None, ...]
    """For each step, the index of the step that last changed the closure (None: the start)."""

    def at(self, step: int) -> m.Closure:
        return self.during[step]


def closure_change(params: m.StepParams) -> m.Closure | None:
    """The closure a step leaves the vessels in, or None for a step that does not change it."""
    match params:
        case m.SealParams() | m.VentParams() | m.UnsealParams():
            return params.closure
        case m.OffdeckParams(vent=True):
            return VENTED
    return None


def needs_open(
    params: m.StepParams, protocol: m.Protocol, solids_by_hand: bool = False
) -> str | None:
    """What a step puts into the vessels when it needs them open (a tip, a solid, the operator's
    hands); None for a step that does not reach into the vessels, and for a solid the operator
    weighs in by hand (``dispense: manual``, or any solid when the deck's powder dispenser is the
    operator's job): they uncap each vial for its own portion and recap it (the per-vial time of
    simulators/operator.yaml counts that), so capped or vented vials stay closed but for it."""
    match params:
        case m.AddParams(reagent=rid) | m.QuenchParams(reagent=rid) | m.AdjustPhParams(reagent=rid):
            reagent = protocol.reagents.get(rid)
            if reagent is None or reagent.solid is None:
                return "a tip"
            by_hand = solids_by_hand or reagent.solid.dispense == "manual"
            return None if by_hand else "a solid"
        case m.AddSolventParams() | m.SampleParams():
            return "a tip"
        case m.StageParams():
            return "the stage's starting material (the operator re-plates it)"
    return None


def closure_timeline(loaded: LoadedProtocol) -> ClosureTimeline:
    """The closure at every step, as written (whether the labware can be capped is checked by
    :func:`closure_checks`)."""
    state: m.Closure = OPEN
    changed: int | None = None
    during: list[m.Closure] = []
    changed_at: list[int | None] = []
    for i, step in enumerate(loaded.protocol.steps):
        _, params = m.step_params(step)
        new = closure_change(params)
        if new is not None:
            state, changed = new, i
        during.append(state)
        changed_at.append(changed)
    return ClosureTimeline(tuple(during), tuple(changed_at))


def closure_checks(
    loaded: LoadedProtocol, vessel: LabwareFacts, reporter: Reporter, solids_by_hand: bool = False
) -> ClosureTimeline:
    """DF530-DF532 over the steps; returns the timeline the other checks use.  On a labware that
    takes no caps every closure step is DF531 and the vessels stay open."""
    timeline = closure_timeline(loaded)
    if not vessel.sealed:
        for i, step in enumerate(loaded.protocol.steps):
            _, params = m.step_params(step)
            if closure_change(params) is not None:
                reporter.error(
                    loaded.step_path(i),
                    codes.DF531,
                    f"'{vessel.name}' takes no caps: the deck layout does not declare it 'sealed: true', so it cannot be capped, vented or uncapped",
                    "remove the step, or use a deck whose reaction vessels take septum caps (starlet_chem.yaml)",
                    key=True,
                )
        return ClosureTimeline(tuple(OPEN for _ in timeline.during), timeline.changed_at)
    previous: m.Closure = OPEN
    for i, step in enumerate(loaded.protocol.steps):
        kind, params = m.step_params(step)
        state = timeline.at(i)
        if closure_change(params) is not None and state == previous:
            reporter.warn(
                loaded.step_path(i),
                codes.DF532,
                f"'{kind}' leaves '{vessel.name}' {state}, as it already was{_before(loaded, timeline, i)}",
                "remove the step; the closure changes only at 'seal:' (capped), 'vent:' (vented) and 'unseal:' (open)",
                key=True,
            )
        what = needs_open(params, loaded.protocol, solids_by_hand)
        if what is not None and state != OPEN:
            reporter.error(
                loaded.step_path(i),
                codes.DF530,
                f"'{kind}' puts {what} into '{vessel.name}', which is {state} at this step{_since(loaded, timeline, i)}: nothing gets through a cap",
                "add 'unseal:' before this step (no deck here has a tool that pierces septa)",
                key=True,
            )
        previous = state
    return timeline


def _since(loaded: LoadedProtocol, timeline: ClosureTimeline, step: int) -> str:
    """' (since line N)': where the closure was last changed before or at ``step``."""
    changed = timeline.changed_at[step]
    if changed is None:
        return ""
    return f" (since line {loaded.step_line(changed)})"


def _before(loaded: LoadedProtocol, timeline: ClosureTimeline, step: int) -> str:
    """Where the closure was set before ``step``, or that the vessels start open."""
    if step > 0 and timeline.changed_at[step - 1] is not None:
        return _since(loaded, timeline, step - 1)
    return " (every protocol starts with the vessels open)"
