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
from diazflow.diagnostics import Reporter
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


def place_reagents(
    loaded: LoadedProtocol, chem: ResolvedChemistry, deck: DeckFacts, reporter: Reporter
) -> Placement | None:
    """Assign every pipetted reagent a source; report DF510/DF518/DF519/DF521 to ``reporter``."""
    placer = _Placer(loaded, chem, deck, reporter)
    return placer.run()


class _Placer:
    """The state of one placement: what is drawn, where it comes from, how much each spot needs."""

    def __init__(
        self, loaded: LoadedProtocol, chem: ResolvedChemistry, deck: DeckFacts, reporter: Reporter
    ):
        self.p = loaded.protocol
        self.chem = chem
        self.deck = deck
        self.reporter = reporter
        # µL drawn per (reagent, reaction well) over the whole run
        self.drawn: dict[str, dict[Well, float]] = {}
        for a in chem.additions:
            if a.ul > 0:
                self.drawn.setdefault(a.reagent, {}).setdefault(a.well, 0.0)
                self.drawn[a.reagent][a.well] += a.ul
        self.sources: dict[str, dict[Well, SourceSpot]] = {}
        self.demand: dict[tuple[str, SourceSpot], tuple[str, float]] = {}
        self.next_column = 0  # the next free column of the building-block plate

    def run(self) -> Placement | None:
        mark = self.reporter.count()
        for rid in self.p.reagents:
            if rid not in self.drawn:
                continue
            reagent = self.chem.reagents[rid]
            if reagent.source_labware:
                self._place_on_source_plate(rid, reagent.source_labware)
            elif reagent.library is not None and not self._place_library(rid, reagent.library):
                return None
        if not self._place_in_reservoirs():
            return None
        if self.reporter.errors_since(mark):
            return None
        return Placement(self.sources, self.demand)

    def _place_on_source_plate(self, rid: str, labware: str) -> None:
        """A stock whose wells are given by ``stock.source``: same well name as the reaction."""
        lw = self.deck.labware.get(labware)
        if lw is None:
            self.reporter.error(
                ("reagents", rid, "stock", "source"),
                codes.DF510,
                f"stock source '{labware}' is not on the deck",
                f"labware on this deck: {', '.join(sorted(self.deck.labware))}",
            )
            return
        reagent = self.chem.reagents[rid]
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

    def _place_library(self, rid: str, library: str) -> bool:
        """Library members on ``building_blocks``; False when the plate is full (stop placing)."""
        bb = self.deck.labware.get("building_blocks")
        if bb is None:
            self.reporter.error(
                ("reagents", rid, "library"),
                codes.DF519,
                "the deck has no 'building_blocks' plate for library stocks",
                "add a 96 deep-well plate named building_blocks to the deck layout, or give 'stock.source'",
            )
            return True
        capacity = bb.max_volume_ul * self.deck.fill_limit - bb.dead_volume_ul
        self.sources[rid] = {}
        for key, columns in self._column_classes(rid, library):
            for chunk in self._chunks(rid, key, columns, capacity):
                if self.next_column >= bb.columns:
                    self.reporter.error(
                        ("reagents", rid, "library"),
                        codes.DF519,
                        f"the building-block plate has {bb.columns} columns, not enough for every library stock (needed more for '{rid}')",
                        "use fewer wells, a 'by: row' library, or give the library stocks on their own plate with 'stock.source'",
                    )
                    return False
                self._fill_source_column(rid, library, bb, key, chunk)
                self.next_column += 1
        self._check_building_block_wells(rid, bb)
        return True

    def _column_classes(self, rid: str, library: str) -> list[tuple[tuple, list[int]]]:
        """Reaction columns grouped by their member vector (row → member name), first column first."""
        by_column: dict[int, dict[int, str]] = {}
        for well in self.drawn[rid]:
            sub = self.chem.members.get((library, well))
            by_column.setdefault(well.column, {})[well.row] = sub.name if sub else "?"
        classes: dict[tuple, list[int]] = {}
        for column in sorted(by_column):
            key = tuple(sorted(by_column[column].items()))
            classes.setdefault(key, []).append(column)
        return sorted(classes.items(), key=lambda kv: kv[1][0])

    def _chunks(self, rid: str, key: tuple, columns: list[int], capacity: float) -> list[list[int]]:
        """Split the reaction columns of one class over as many source columns as volume needs."""
        per_column_need = {
            c: max(self.drawn[rid].get(Well(c, r), 0.0) for r, _ in key) for c in columns
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
        return chunks

    def _fill_source_column(
        self, rid: str, library: str, bb: LabwareFacts, key: tuple, chunk: list[int]
    ) -> None:
        for c in chunk:
            for r, _name in key:
                well = Well(c, r)
                if well not in self.drawn[rid]:
                    continue
                spot = SourceSpot(bb.name, f"{row_letter(r)}{self.next_column + 1}")
                self.sources[rid][well] = spot
                sub = self.chem.members.get((library, well))
                name, total = self.demand.get((rid, spot), (sub.name if sub else "?", 0.0))
                self.demand[(rid, spot)] = (name, total + self.drawn[rid][well])

    def _check_building_block_wells(self, rid: str, bb: LabwareFacts) -> None:
        holds = bb.max_volume_ul * self.deck.fill_limit
        for (r_id, spot), (name, total) in self.demand.items():
            if r_id == rid and total + bb.dead_volume_ul > holds:
                self.reporter.error(
                    ("reagents", rid),
                    codes.DF521,
                    f"{name} needs {total + bb.dead_volume_ul:.0f} µL in {spot}, more than the {holds:.0f} µL a building-block well holds",
                    "use a more concentrated stock or fewer wells",
                )

    def _place_in_reservoirs(self) -> bool:
        """Common reagents and solvents, one reservoir each; False when they run out."""
        reservoirs = list(self.deck.reservoirs)
        common = [rid for rid in self.drawn if rid not in self.sources]
        for rid in common:
            path = ("reagents", rid) if rid in self.p.reagents else ("steps",)
            if not reservoirs:
                self.reporter.error(
                    path,
                    codes.DF518,
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
                self.reporter.error(
                    path,
                    codes.DF521,
                    f"'{rid}' needs {total + dead:.0f} µL in {position}, more than its {limit:.0f} µL",
                    "use a more concentrated stock or fewer wells",
                )
        return True
