"""Where each reagent sits on the deck before the run: reservoirs and the building-block plate.

Library members go on ``building_blocks`` so that an 8-channel head can aspirate a whole column
at once: the stock for reaction well (row r, column c) always sits in row r of its source column.
Reaction columns whose members are identical row by row share a source column (``by: row``
libraries: one source column serves the whole plate) as long as the source wells hold enough;
``by: well`` and ``by: column`` libraries need one source column per reaction column.
Common reagents, solvents and quench solutions each get a reservoir.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from diazflow import errorcodes as codes
from diazflow.chemistry.resolve import ResolvedChemistry
from diazflow.compiler.facts import DeckFacts, LabwareFacts
from diazflow.language.loader import LoadedProtocol
from diazflow.language.wells import Well, row_letter


@dataclass(frozen=True)
class SourceSpot:
    labware: str
    well: str

    def __str__(self) -> str:
        return f"{self.labware}:{self.well}"


@dataclass(frozen=True)
class Placement:
    """reagent id → reaction well → where it is aspirated from; plus what to fill where."""

    sources: Mapping[str, Mapping[Well, SourceSpot]]
    # (reagent, spot) → (substance, µL drawn from it during the run)
    demand: Mapping[tuple[str, SourceSpot], tuple[str, float]]

    def source(self, reagent: str, well: Well) -> SourceSpot:
        return self.sources[reagent][well]


def _common_key(reagent: str) -> str:
    return reagent


def place_reagents(
    loaded: LoadedProtocol, chem: ResolvedChemistry, deck: DeckFacts, diag
) -> Placement | None:
    """Assign every pipetted reagent a source; report DF518/DF519/DF521 through ``diag``."""
    p = loaded.protocol
    # µL drawn per (reagent, reaction well) over the whole run
    drawn: dict[str, dict[Well, float]] = {}
    for a in chem.additions:
        if a.ul > 0:
            drawn.setdefault(a.reagent, {}).setdefault(a.well, 0.0)
            drawn[a.reagent][a.well] += a.ul

    sources: dict[str, dict[Well, SourceSpot]] = {}
    demand: dict[tuple[str, SourceSpot], tuple[str, float]] = {}
    ok = True

    # ---- library members (and stocks whose wells are given by stock.source)
    bb = deck.labware.get("building_blocks")
    next_column = 0
    for rid in p.reagents:
        reagent = chem.reagents[rid]
        if rid not in drawn:
            continue
        if reagent.source_labware:
            lw = deck.labware.get(reagent.source_labware)
            if lw is None:
                diag(
                    ("reagents", rid, "stock", "source"),
                    codes.DF510,
                    f"stock source '{reagent.source_labware}' is not on the deck",
                    f"labware on this deck: {', '.join(sorted(deck.labware))}",
                )
                ok = False
                continue
            sources[rid] = {}
            for well, ul in drawn[rid].items():
                spot = SourceSpot(lw.name, well.name)
                sources[rid][well] = spot
                sub = (
                    chem.members.get((reagent.library, well))
                    if reagent.library
                    else reagent.substance
                )
                demand[(rid, spot)] = (sub.name if sub else rid, ul)
            continue
        if reagent.library is None:
            continue
        if bb is None:
            diag(
                ("reagents", rid, "library"),
                codes.DF519,
                "the deck has no 'building_blocks' plate for library stocks",
                "add a 96 deep-well plate named building_blocks to the deck layout, or give 'stock.source'",
            )
            ok = False
            continue
        capacity = bb.max_volume_ul * deck.fill_limit - bb.dead_volume_ul
        # group reaction columns by their member vector (row → member name)
        by_column: dict[int, dict[int, str]] = {}
        for well in drawn[rid]:
            sub = chem.members.get((reagent.library, well))
            by_column.setdefault(well.column, {})[well.row] = sub.name if sub else "?"
        classes: dict[tuple, list[int]] = {}
        for column in sorted(by_column):
            key = tuple(sorted(by_column[column].items()))
            classes.setdefault(key, []).append(column)
        sources[rid] = {}
        for key, columns in sorted(classes.items(), key=lambda kv: kv[1][0]):
            # split the reaction columns of one class over as many source columns as volume needs
            per_column_need = {
                c: max(drawn[rid].get(Well(c, r), 0.0) for r, _ in key) for c in columns
            }
            chunks: list[list[int]] = [[]]
            load = 0.0
            for c in columns:
                need = per_column_need[c]
                if chunks[-1] and load + need > capacity:
                    chunks.append([])
                    load = 0.0
                chunks[-1].append(c)
                load += need
            for chunk in chunks:
                if next_column >= bb.columns:
                    diag(
                        ("reagents", rid, "library"),
                        codes.DF519,
                        f"the building-block plate has {bb.columns} columns, not enough for every library stock (needed more for '{rid}')",
                        "use fewer wells, a 'by: row' library, or give the library stocks on their own plate with 'stock.source'",
                    )
                    return None
                for c in chunk:
                    for r, _name in key:
                        well = Well(c, r)
                        if well not in drawn[rid]:
                            continue
                        spot = SourceSpot(bb.name, f"{row_letter(r)}{next_column + 1}")
                        sources[rid][well] = spot
                        sub = chem.members.get((reagent.library, well))
                        name, total = demand.get((rid, spot), (sub.name if sub else "?", 0.0))
                        demand[(rid, spot)] = (name, total + drawn[rid][well])
                next_column += 1
        for (r_id, spot), (name, total) in demand.items():
            if r_id == rid and total + bb.dead_volume_ul > bb.max_volume_ul * deck.fill_limit:
                diag(
                    ("reagents", rid),
                    codes.DF521,
                    f"{name} needs {total + bb.dead_volume_ul:.0f} µL in {spot}, more than the {bb.max_volume_ul * deck.fill_limit:.0f} µL a building-block well holds",
                    "use a more concentrated stock or fewer wells",
                )
                ok = False

    # ---- common reagents and solvents → reservoirs
    reservoirs = list(deck.reservoirs)
    common = [rid for rid in drawn if rid not in sources]
    for rid in common:
        if not reservoirs:
            path = ("reagents", rid) if rid in p.reagents else ("steps",)
            diag(
                path,
                codes.DF518,
                f"no reagent reservoir left for '{rid}' ({len(deck.reservoirs)} on this deck, {len(common)} common reagents and solvents to place)",
                "use a deck with more troughs, or combine reagents into one stock",
            )
            return None
        position = reservoirs.pop(0)
        labware, _, well_name = position.partition(":")
        spot = SourceSpot(labware, well_name)
        total = sum(drawn[rid].values())
        sources[rid] = {w: spot for w in drawn[rid]}
        reagent = chem.reagents.get(rid)
        name = reagent.substance.name if reagent and reagent.substance else rid.split(":", 1)[-1]
        demand[(rid, spot)] = (name, total)
        limit = deck.reservoir_max_ul.get(position, math.inf)
        dead = deck.reservoir_dead_ul.get(position, 0.0)
        if total + dead > limit:
            path = ("reagents", rid) if rid in p.reagents else ("steps",)
            diag(
                path,
                codes.DF521,
                f"'{rid}' needs {total + dead:.0f} µL in {position}, more than its {limit:.0f} µL",
                "use a more concentrated stock or fewer wells",
            )
            ok = False
    return Placement(sources, demand) if ok else None


def source_labware(deck: DeckFacts, spot: SourceSpot) -> LabwareFacts | None:
    return deck.labware.get(spot.labware)
