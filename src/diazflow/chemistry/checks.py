"""Solvent checks: unknown solvents (DF308) and, given the vessel, temperatures (DF301-DF303).

Temperatures are followed step by step the way the compiler will run them: the block starts at
room temperature, ``cool``/``heat``/``warm`` change it, ``stir``/``hold`` may set it, ``reflux``
means the boiling point of the stage's solvent.  A temperature range is checked at both ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from diazflow import errorcodes as codes
from diazflow.chemistry import mixtures, properties
from diazflow.chemistry.resolve import ResolvedChemistry
from diazflow.diagnostics import Reporter, did_you_mean
from diazflow.language import models as m
from diazflow.language.loader import LoadedProtocol
from diazflow.language.models import Closure
from diazflow.language.quantities import Quantity, QuantityRange


def solvent_components(solvent: str) -> list[str]:
    """``MeOH/CHCl3 1:1`` → ``["MeOH", "CHCl3"]``; a single solvent → itself."""
    text = solvent.strip()
    head = text.split(" ")[0] if "/" in text.split(" ")[0] else text
    parts = [p.strip() for p in head.split("/")] if "/" in head else [text]
    return [p for p in parts if p]


_RATIO = re.compile(r"^\d+(?:\.\d+)?(?::\d+(?:\.\d+)?)+$")


def volume_ratio(solvent: str) -> list[float]:
    """``MeOH/CHCl3 3:1`` → ``[3.0, 1.0]``, one volume per component of
    :func:`solvent_components`; equal volumes when no ratio (or one of the wrong length) is
    written."""
    parts = solvent_components(solvent)
    words = solvent.strip().split()
    if len(parts) > 1 and len(words) > 1 and _RATIO.match(words[1]):
        ratio = [float(v) for v in words[1].split(":")]
        if len(ratio) == len(parts):
            return ratio
    return [1.0] * len(parts)


def mole_fractions(solvent: str) -> dict[str, float] | None:
    """Component → mole fraction of a solvent as written ("DMSO/water 1:1" by volume, with the
    components' densities at 20 °C and molar masses); None when one of them is not known."""
    moles: dict[str, float] = {}
    for part, volume in zip(solvent_components(solvent), volume_ratio(solvent), strict=True):
        props = properties.lookup(part)
        if props is None or props.density_g_ml is None or props.mw is None:
            return None
        moles[part] = moles.get(part, 0.0) + volume * props.density_g_ml / props.mw
    total = sum(moles.values())
    if total <= 0:  # "MeOH/CHCl3 0:0"
        return None
    return {part: n / total for part, n in moles.items()}


@dataclass(frozen=True)
class SolventFacts:
    """The freezing and boiling point of a solvent, or of one component of a mixture the table
    has no figures for; for a mixture's own figures (bubble point and solid-liquid equilibrium)
    the composition and where each figure comes from."""

    name: str
    melting_point_c: float | None
    boiling_point_c: float | None
    composition: str | None = None  # a mixture's mole fractions, for the message
    melting_source: str | None = None
    boiling_source: str | None = None


def mixture_facts(solvent: str) -> SolventFacts | None:
    """One SolventFacts for a binary mixture the table knows (DF301/DF302 then judge the mixture,
    not its components); None otherwise."""
    if len(solvent_components(solvent)) < 2:
        return None
    fractions = mole_fractions(solvent)
    points = mixtures.binary_points(fractions) if fractions is not None else None
    if points is None:
        return None
    return SolventFacts(
        solvent,
        points.freezing_point_c,
        points.bubble_point_c,
        points.composition(),
        points.freezing_source,
        points.bubble_source,
    )


def solvent_facts(solvent: str) -> list[SolventFacts]:
    """The mixture as one, when the mixture table knows it; otherwise each component."""
    mixture = mixture_facts(solvent)
    if mixture is not None:
        return [mixture]
    out = []
    for part in solvent_components(solvent):
        props = properties.lookup(part)
        out.append(
            SolventFacts(
                part,
                props.melting_point_c if props else None,
                props.boiling_point_c if props else None,
            )
        )
    return out


def reflux_temperature(solvent: str) -> float | None:
    """A mixture refluxes at its bubble point; one the table does not know, at (about) its
    lowest-boiling component's boiling point."""
    bps = [f.boiling_point_c for f in solvent_facts(solvent) if f.boiling_point_c is not None]
    return min(bps) if bps else None


def unknown_solvent_checks(
    loaded: LoadedProtocol, chem: ResolvedChemistry, reporter: Reporter
) -> None:
    """DF308: every solvent named anywhere that the property data does not know."""
    for path, solvent in _named_solvents(loaded, chem):
        for part in solvent_components(solvent):
            if properties.lookup(part) is None:
                hint = "the freezing/boiling-point and material checks are skipped for it"
                close = did_you_mean(part, properties.known_names())
                if close:
                    hint = f"did you mean '{close}'? Otherwise " + hint
                reporter.warn(
                    path, codes.DF308, f"solvent '{part}' is not in the property data", hint
                )


def _named_solvents(loaded: LoadedProtocol, chem: ResolvedChemistry) -> Iterator[tuple[tuple, str]]:
    """(YAML path, solvent as written) for the scale, each stage, each stock and each added
    solvent."""
    yield (("scale", "solvent"), loaded.protocol.scale.solvent)
    for stage in chem.stages[1:]:
        yield (loaded.step_path(stage.first_step, "scale", "solvent"), stage.solvent)
    for rid, r in loaded.protocol.reagents.items():
        if r.stock is not None:
            yield (("reagents", rid, "stock", "solvent"), r.stock.solvent)
    for i, step in enumerate(loaded.protocol.steps):
        _, params = m.step_params(step)
        if isinstance(params, m.AddSolventParams):
            yield (loaded.step_path(i, "solvent"), params.solvent)


def temperature_checks(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    reporter: Reporter,
    *,
    vessel: str,
    closures: Sequence[Closure],
    sealable: bool,
    condenser: bool,
) -> None:
    """DF301-DF303: the reaction solvent freezing or boiling at the temperatures reached, and
    DF308 (an error here) for a reflux whose solvent has no known boiling point.  ``closures``
    is the vessels' closure while each step runs: only capped vessels (or a condenser) keep a
    boiling solvent in; vent needles let it out as an open vial does."""
    walk = _TemperatureWalk(
        loaded,
        chem,
        reporter,
        vessel=vessel,
        closures=closures,
        sealable=sealable,
        condenser=condenser,
    )
    for i, step in enumerate(loaded.protocol.steps):
        kind, params = m.step_params(step)
        match params:
            case m.SealParams() | m.VentParams() | m.UnsealParams() | m.OffdeckParams(vent=True):
                # opening or venting a hot vessel lets a boiling solvent out from this step on
                walk.check(i, (), [walk.current], f"'{kind}'")
            case m.TemperatureChangeParams(to=to):
                temps = _ends(to)
                walk.check(i, ("to",), temps, kind)
                walk.current = (temps[0] + temps[-1]) / 2
            case m.StirParams(temperature=temperature) | m.HoldParams(temperature=temperature):
                if temperature is not None:
                    walk.current = temperature.value
                rest: tuple = ("temperature",) if temperature is not None else ()
                walk.check(i, rest, [walk.current], kind)
            case m.AddParams() | m.AdjustPhParams() | m.QuenchParams():
                walk.check(i, (), [walk.current], "addition")
            case m.RefluxParams():
                walk.reflux(i)


def _source(facts: SolventFacts, *, bubble: bool = False) -> str:
    """ ", bubble point at x(methanol) 0.66, x(chloroform) 0.34: thermo ..." after a mixture's
    figure."""
    if facts.composition is None:
        return ""
    if bubble:
        return f", bubble point at {facts.composition}: {facts.boiling_source}"
    return f", solid-liquid equilibrium at {facts.composition}: {facts.melting_source}"


def _ends(q: Quantity | QuantityRange) -> list[float]:
    """Both ends of a temperature range; a single temperature once."""
    return [q.low.value, q.high.value] if isinstance(q, QuantityRange) else [q.value]


class _TemperatureWalk:
    """The block temperature, followed step by step, and the checks made at each step."""

    def __init__(
        self,
        loaded: LoadedProtocol,
        chem: ResolvedChemistry,
        reporter: Reporter,
        *,
        vessel: str,
        closures: Sequence[Closure],
        sealable: bool,
        condenser: bool,
    ):
        self.loaded = loaded
        self.chem = chem
        self.reporter = reporter
        self.vessel = vessel
        self.closures = closures
        self.sealable = sealable
        self.condenser = condenser
        self.current = loaded.protocol.room_temperature_c

    def closed(self, step: int) -> bool:
        """Capped or condensed at this step: a solvent above its boiling point stays in."""
        return self.condenser or self.closures[step] == "capped"

    def boil_hint(self, step: int) -> str:
        if self.sealable:
            return f"add 'seal:' before this step ('{self.vessel}' is {self.closures[step]} here; vent needles let the vapour out too)"
        return "use a deck whose reaction vessels take septum caps or have a condenser (e.g. starlet_chem.yaml)"

    def check(self, step: int, rest: tuple, temps: Iterable[float], what: str) -> None:
        """DF301/DF302, at most once per solvent component."""
        path = self.loaded.step_path(step, *rest)
        solvent = self.chem.stage_of_step(step).solvent
        for facts in solvent_facts(solvent):
            for t in temps:
                if facts.melting_point_c is not None and t <= facts.melting_point_c:
                    self.reporter.error(
                        path,
                        codes.DF301,
                        f"{what} at {t:g} °C is at or below the freezing point of {facts.name} ({facts.melting_point_c:.1f} °C{_source(facts)})",
                        f"use a solvent that stays liquid (DMF mp -61 °C, MeCN mp -45 °C), or stay above {facts.melting_point_c:.0f} °C",
                    )
                    break
                if (
                    facts.boiling_point_c is not None
                    and t >= facts.boiling_point_c
                    and not self.closed(step)
                ):
                    self.reporter.error(
                        path,
                        codes.DF302,
                        f"{what} at {t:g} °C is at or above the boiling point of {facts.name} ({facts.boiling_point_c:.1f} °C{_source(facts, bubble=True)}) in '{self.vessel}', which is {self.closures[step]} at this step and has no condenser",
                        f"stay below {facts.boiling_point_c:.0f} °C, or {self.boil_hint(step)}",
                    )
                    break

    def reflux(self, step: int) -> None:
        """DF303 in an open vessel; DF308 without a boiling point (the compiler then has no
        temperature to heat to, so this is an error, not the unknown-solvent warning)."""
        solvent = self.chem.stage_of_step(step).solvent
        if not self.closed(step):
            self.reporter.error(
                self.loaded.step_path(step),
                codes.DF303,
                f"reflux in '{self.vessel}', which is {self.closures[step]} at this step and has no condenser: the {solvent} would boil away",
                f"{self.boil_hint(step)}, or heat below the boiling point",
                key=True,
            )
        bp = reflux_temperature(solvent)
        if bp is None:
            self.reporter.error(
                self.loaded.step_path(step),
                codes.DF308,
                f"the boiling point of '{solvent}' is not known, so reflux has no temperature",
                "use a solvent the property data knows, or 'heat: {to: ...}' with a hold",
            )
        else:
            self.current = bp
