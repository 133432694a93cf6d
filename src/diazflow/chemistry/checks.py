"""Chemistry checks that need to know the vessel (DF301-DF304) and the hazard rules (DF4xx).

Temperatures are followed step by step the way the compiler will run them: the block starts at
room temperature, ``cool``/``heat``/``warm`` change it, ``stir``/``hold`` may set it, ``reflux``
means the boiling point of the stage's solvent.  A temperature range is checked at both ends.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from diazflow import errorcodes as codes
from diazflow.chemistry import properties
from diazflow.chemistry.resolve import ResolvedChemistry
from diazflow.diagnostics import Reporter, Severity
from diazflow.language import models as m
from diazflow.language.loader import LoadedProtocol
from diazflow.language.quantities import QuantityRange


def solvent_components(solvent: str) -> list[str]:
    """``MeOH/CHCl3 1:1`` → ``["MeOH", "CHCl3"]``; a single solvent → itself."""
    text = solvent.strip()
    head = text.split(" ")[0] if "/" in text.split(" ")[0] else text
    parts = [p.strip() for p in head.split("/")] if "/" in head else [text]
    return [p for p in parts if p]


@dataclass(frozen=True)
class SolventFacts:
    name: str
    melting_point_c: float | None
    boiling_point_c: float | None


def solvent_facts(solvent: str) -> list[SolventFacts]:
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
    """A mixture refluxes at (about) its lowest-boiling component's boiling point."""
    bps = [f.boiling_point_c for f in solvent_facts(solvent) if f.boiling_point_c is not None]
    return min(bps) if bps else None


def unknown_solvent_checks(
    loaded: LoadedProtocol, chem: ResolvedChemistry, reporter: Reporter
) -> None:
    """DF308: every solvent named anywhere that the property data does not know."""
    places: list[tuple[tuple, str]] = [(("scale", "solvent"), loaded.protocol.scale.solvent)]
    for stage in chem.stages[1:]:
        places.append((loaded.step_path(stage.first_step, "scale", "solvent"), stage.solvent))
    for rid, r in loaded.protocol.reagents.items():
        if r.stock is not None:
            places.append((("reagents", rid, "stock", "solvent"), r.stock.solvent))
    for i, step in enumerate(loaded.protocol.steps):
        kind, params = m.step_params(step)
        if kind == "add_solvent":
            places.append((loaded.step_path(i, "solvent"), params.solvent))
    for path, solvent in places:
        for part in solvent_components(solvent):
            if properties.lookup(part) is None:
                hint = "the freezing/boiling-point and material checks are skipped for it"
                close = difflib.get_close_matches(part, properties.known_names(), n=1, cutoff=0.6)
                if close:
                    hint = f"did you mean '{close[0]}'? Otherwise " + hint
                reporter.warn(
                    path, codes.DF308, f"solvent '{part}' is not in the property data", hint
                )


def temperature_checks(
    loaded: LoadedProtocol,
    chem: ResolvedChemistry,
    reporter: Reporter,
    *,
    vessel: str,
    sealed: bool,
    condenser: bool,
) -> None:
    """DF301-DF303: the reaction solvent freezing or boiling at the temperatures reached."""
    p = loaded.protocol
    closed = sealed or condenser
    current = p.room_temperature_c

    def check(step: int, rest: tuple, temps: Iterable[float], what: str) -> None:
        solvent = chem.stage_of_step(step).solvent
        for facts in solvent_facts(solvent):
            for t in temps:
                if facts.melting_point_c is not None and t <= facts.melting_point_c:
                    reporter.error(
                        loaded.step_path(step, *rest),
                        codes.DF301,
                        f"{what} at {t:g} °C is at or below the freezing point of {facts.name} ({facts.melting_point_c:.1f} °C)",
                        f"use a solvent that stays liquid (DMF mp -61 °C, MeCN mp -45 °C), or stay above {facts.melting_point_c:.0f} °C",
                    )
                    break
                if facts.boiling_point_c is not None and t >= facts.boiling_point_c and not closed:
                    reporter.error(
                        loaded.step_path(step, *rest),
                        codes.DF302,
                        f"{what} at {t:g} °C is at or above the boiling point of {facts.name} ({facts.boiling_point_c:.1f} °C) in '{vessel}', which is neither sealed nor condensed",
                        f"stay below {facts.boiling_point_c:.0f} °C, or use sealed vials / a condenser (deck layout: sealed: true)",
                    )
                    break

    def ends(q) -> list[float]:
        return [q.low.value, q.high.value] if isinstance(q, QuantityRange) else [q.value]

    for i, step in enumerate(p.steps):
        kind, params = m.step_params(step)
        if kind in ("cool", "heat", "warm"):
            temps = ends(params.to)
            check(i, ("to",), temps, kind)
            current = (temps[0] + temps[-1]) / 2
        elif kind in ("stir", "hold"):
            if params.temperature is not None:
                current = params.temperature.value
            check(i, ("temperature",) if params.temperature is not None else (), [current], kind)
        elif kind in ("add", "adjust_ph", "quench"):
            check(i, (), [current], "addition")
        elif kind == "reflux":
            solvent = chem.stage_of_step(i).solvent
            if not closed:
                reporter.error(
                    loaded.step_path(i),
                    codes.DF303,
                    f"reflux in '{vessel}', which is neither sealed nor fitted with a condenser: the {solvent} would boil away",
                    "use a deck whose reaction vessels are sealed vials or have a condenser (e.g. starlet_chem.yaml), or heat below the boiling point",
                    key=True,
                )
            bp = reflux_temperature(solvent)
            if bp is not None:
                current = bp


def material_checks(uses: Iterable[tuple[tuple, str, str | None, str]], reporter: Reporter) -> None:
    """DF304 for each ``uses``: (YAML path, labware name, its material, solvent in it)."""
    from diazflow.chemistry import materials

    seen: set[tuple[str, str]] = set()
    for path, labware, material, solvent in uses:
        if not material:
            continue
        for part in solvent_components(solvent):
            if (labware, part.lower()) in seen:
                continue
            verdict = materials.compatibility(material, part)
            if verdict is None or verdict.rating == "ok":
                continue
            seen.add((labware, part.lower()))
            severity = Severity.ERROR if verdict.rating == "incompatible" else Severity.WARNING
            word = "does not tolerate" if severity is Severity.ERROR else "tolerates only briefly"
            reporter.report(
                path,
                codes.DF304,
                f"{material} ('{labware}') {word} {part} ({verdict.source})",
                "use glass or PTFE labware for this solvent, or another solvent"
                if severity is Severity.ERROR
                else "keep contact short, or use glass labware",
                severity=severity,
            )
