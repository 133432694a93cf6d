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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from diazflow.chemistry.resolve import ResolvedChemistry, ResolvedReagent
from diazflow.compiler.facts import DeckFacts, LabwareFacts
from diazflow.language.loader import LoadedProtocol
from diazflow.language.models import Protocol
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
    # µL drawn per (reagent, reaction well) over the whole run
    drawn: dict[str, dict[Well, float]] = {}
    for a in chem.additions:
        if a.ul > 0:
            drawn.setdefault(a.reagent, {}).setdefault(a.well, 0.0)
            drawn[a.reagent][a.well] += a.ul
    placer = _Placer(loaded.protocol, chem, deck, diag, drawn)
    # library members (and stocks whose wells are given by stock.source) first, then the
    # common reagents and solvents
    for rid in loaded.protocol.reagents:
        reagent = chem.reagents[rid]
        if rid not in drawn:
            continue
        if reagent.source_labware:
            placer.from_source_labware(rid, reagent, reagent.source_labware)
        elif reagent.library is not None and not placer.on_building_blocks(
            rid, reagent, reagent.library
        ):
            return None
    if not placer.in_reservoirs():
        return None
    return Placement(placer.sources, placer.demand) if placer.ok else None


@dataclass
class _Placer:
    p: Protocol
    chem: ResolvedChemistry
    deck: DeckFacts
    diag: Callable[..., None]
    drawn: dict[str, dict[Well, float]]
    sources: dict[str, dict[Well, SourceSpot]] = field(default_factory=dict)
    demand: dict[tuple[str, SourceSpot], tuple[str, float]] = field(default_factory=dict)
    ok: bool = True  # False after an error that still lets the other reagents be placed
    next_column: int = 0  # the next free column of the building-block plate

    def from_source_labware(self, rid: str, reagent: ResolvedReagent, labware: str) -> None:
        """A stock given per well on its own labware ('stock.source')."""
        lw = self.deck.labware.get(labware)
        if lw is None:
            self.diag(
                ("reagents", rid, "stock", "source"),
                "DF510",
                f"stock source '{labware}' is not on the deck",
                f"labware on this deck: {', '.join(sorted(self.deck.labware))}",
            )
            self.ok = False
            return
        self.sources[rid] = {}
        for well, ul in self.drawn[rid].items():
            spot = SourceSpot(lw.name, well.name)
            self.sources[rid][well] = spot
            sub = (
                self.chem.members.get((reagent.library, well))
                if reagent.library
                else reagent.substance
            )
            self.demand[(rid, spot)] = (sub.name if sub else rid, ul)

    def on_building_blocks(self, rid: str, reagent: ResolvedReagent, library: str) -> bool:
        """Library members in columns of the building-block plate; False when it is full."""
        bb = self.deck.labware.get("building_blocks")
        if bb is None:
            self.diag(
                ("reagents", rid, "library"),
                "DF519",
                "the deck has no 'building_blocks' plate for library stocks",
                "add a 96 deep-well plate named building_blocks to the deck layout, or give 'stock.source'",
            )
            self.ok = False
            return True
        drawn = self.drawn[rid]
        # group reaction columns by their member vector (row → member name)
        by_column: dict[int, dict[int, str]] = {}
        for well in drawn:
            sub = self.chem.members.get((library, well))
            by_column.setdefault(well.column, {})[well.row] = sub.name if sub else "?"
        classes: dict[tuple, list[int]] = {}
        for column in sorted(by_column):
            key = tuple(sorted(by_column[column].items()))
            classes.setdefault(key, []).append(column)
        self.sources[rid] = {}
        for key, columns in sorted(classes.items(), key=lambda kv: kv[1][0]):
            for chunk in self.chunks(bb, drawn, key, columns):
                if self.next_column >= bb.columns:
                    self.diag(
                        ("reagents", rid, "library"),
                        "DF519",
                        f"the building-block plate has {bb.columns} columns, not enough for every library stock (needed more for '{rid}')",
                        "use fewer wells, a 'by: row' library, or give the library stocks on their own plate with 'stock.source'",
                    )
                    return False
                self.fill_column(rid, library, bb, key, chunk)
                self.next_column += 1
        self.check_building_block_volumes(rid, bb)
        return True

    def chunks(
        self, bb: LabwareFacts, drawn: dict[Well, float], key: tuple, columns: list[int]
    ) -> list[list[int]]:
        """Split the reaction columns of one class over as many source columns as volume needs."""
        capacity = bb.max_volume_ul * self.deck.fill_limit - bb.dead_volume_ul
        per_column_need = {c: max(drawn.get(Well(c, r), 0.0) for r, _ in key) for c in columns}
        chunks: list[list[int]] = [[]]
        load = 0.0
        for c in columns:
            need = per_column_need[c]
            if chunks[-1] and load + need > capacity:
                chunks.append([])
                load = 0.0
            chunks[-1].append(c)
            load += need
        return chunks

    def fill_column(
        self, rid: str, library: str, bb: LabwareFacts, key: tuple, chunk: list[int]
    ) -> None:
        """One source column serves the reaction columns of ``chunk``, row by row."""
        drawn = self.drawn[rid]
        for c in chunk:
            for r, _name in key:
                well = Well(c, r)
                if well not in drawn:
                    continue
                spot = SourceSpot(bb.name, f"{row_letter(r)}{self.next_column + 1}")
                self.sources[rid][well] = spot
                sub = self.chem.members.get((library, well))
                name, total = self.demand.get((rid, spot), (sub.name if sub else "?", 0.0))
                self.demand[(rid, spot)] = (name, total + drawn[well])

    def check_building_block_volumes(self, rid: str, bb: LabwareFacts) -> None:
        holds = bb.max_volume_ul * self.deck.fill_limit
        for (r_id, spot), (name, total) in self.demand.items():
            if r_id == rid and total + bb.dead_volume_ul > holds:
                self.diag(
                    ("reagents", rid),
                    "DF521",
                    f"{name} needs {total + bb.dead_volume_ul:.0f} µL in {spot}, more than the {holds:.0f} µL a building-block well holds",
                    "use a more concentrated stock or fewer wells",
                )
                self.ok = False

    def in_reservoirs(self) -> bool:
        """Common reagents and solvents, one reservoir each; False when there are too few."""
        reservoirs = list(self.deck.reservoirs)
        common = [rid for rid in self.drawn if rid not in self.sources]
        for rid in common:
            path = ("reagents", rid) if rid in self.p.reagents else ("steps",)
            if not reservoirs:
                self.diag(
                    path,
                    "DF518",
                    f"no reagent reservoir left for '{rid}' ({len(self.deck.reservoirs)} on this deck, {len(common)} common reagents and solvents to place)",
                    "use a deck with more troughs, or combine reagents into one stock",
                )
                return False
            position = reservoirs.pop(0)
            labware, _, well_name = position.partition(":")
            spot = SourceSpot(labware, well_name)
            total = sum(self.drawn[rid].values())
            self.sources[rid] = {w: spot for w in self.drawn[rid]}
            reagent = self.chem.reagents.get(rid)
            name = (
                reagent.substance.name if reagent and reagent.substance else rid.split(":", 1)[-1]
            )
            self.demand[(rid, spot)] = (name, total)
            limit = self.deck.reservoir_max_ul.get(position, math.inf)
            dead = self.deck.reservoir_dead_ul.get(position, 0.0)
            if total + dead > limit:
                self.diag(
                    path,
                    "DF521",
                    f"'{rid}' needs {total + dead:.0f} µL in {position}, more than its {limit:.0f} µL",
                    "use a more concentrated stock or fewer wells",
                )
                self.ok = False
        return True


def source_labware(deck: DeckFacts, spot: SourceSpot) -> LabwareFacts | None:
    return deck.labware.get(spot.labware)
