"""Where each reagent sits on the deck before the run: reservoirs and the building-block plates.

Library members go on the ``building_blocks`` plates (every labware of that role, in name order).
First choice, **8-channel columns**: the stock for reaction well (row r, column c) sits in row r of
its source column, so an 8-channel head aspirates a whole column at once. Reaction columns whose
members are identical row by row share a source column (``by: row`` libraries: one source column
serves the whole plate) as long as the source wells hold enough; ``by: well`` and ``by: column``
libraries need one source column per reaction column.

When the plates have too few columns for that (the 8 × 12 grid: a ``by: column`` library of 12
members and a ``by: row`` library of 8 need 13), the libraries that save the most columns are
**compacted**: one source well per member (more where its volume needs), packed column by column.
Such a reagent is aspirated one channel at a time (the channels still dispense together): the cost
is the extra aspirations, which the compiler states in the plan's warnings. Only a plan whose
source wells cannot fit even compacted is refused (DF519, with the counts needed and available).
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
    # library reagents compacted to one source well per member: aspirated one channel at a time
    single_channel: frozenset[str] = frozenset()

    def source(self, reagent: str, well: Well) -> SourceSpot:
        return self.sources[reagent][well]


def place_reagents(
    loaded: LoadedProtocol, chem: ResolvedChemistry, deck: DeckFacts, reporter: Reporter
) -> Placement | None:
    """Assign every pipetted reagent a source; report DF510/DF518/DF519/DF521 to ``reporter``."""
    placer = _Placer(loaded, chem, deck, reporter)
    return placer.run()


@dataclass(frozen=True)
class _LibraryLayout:
    """One library reagent's two possible layouts on the building-block plates."""

    rid: str
    library: str
    # 8-channel: one source column per chunk of reaction columns sharing a member vector
    columns: list[tuple[tuple, list[int]]]
    # compacted: one source well per chunk of reaction wells sharing a member
    wells: list[list[Well]]
    rows: int

    @property
    def compact_columns(self) -> int:
        return math.ceil(len(self.wells) / self.rows)

    @property
    def saving(self) -> int:
        return len(self.columns) - self.compact_columns


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
        self.single_channel: set[str] = set()
        # every source column of the building-block plates, in the order they are used
        self.plates = sorted(
            (lw for lw in deck.labware.values() if lw.role == "building_blocks"),
            key=lambda lw: (lw.name != "building_blocks", lw.name),
        )
        self.slots = [(bb, c) for bb in self.plates for c in range(bb.columns)]
        self.next_slot = 0

    def run(self) -> Placement | None:
        mark = self.reporter.count()
        libraries: list[str] = []
        for rid in self.p.reagents:
            if rid not in self.drawn:
                continue
            reagent = self.chem.reagents[rid]
            if reagent.source_labware:
                self._place_on_source_plate(rid, reagent.source_labware)
            elif reagent.library is not None:
                libraries.append(rid)
        if libraries and not self._place_libraries(libraries):
            return None
        if not self._place_in_reservoirs():
            return None
        if self.reporter.errors_since(mark):
            return None
        return Placement(self.sources, self.demand, frozenset(self.single_channel))

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

    def _place_libraries(self, rids: list[str]) -> bool:
        """Every library on the building-block plates: 8-channel columns where they fit, the
        libraries that save most compacted to one well per member where they do not."""
        if not self.plates:
            self.reporter.error(
                ("reagents", rids[0], "library"),
                codes.DF519,
                "the deck has no 'building_blocks' plate for library stocks",
                "add a 96 deep-well plate named building_blocks to the deck layout, or give 'stock.source'",
            )
            return True
        bb = self.plates[0]
        capacity = bb.max_volume_ul * self.deck.fill_limit - bb.dead_volume_ul
        layouts = [self._layout(rid, capacity, bb.rows) for rid in rids]
        # a column for each common liquid the troughs cannot take (_place_on_block)
        commons = [r for r in self.drawn if r not in self.sources and r not in rids]
        reserved = max(0, len(commons) - len(self.deck.reservoirs))
        budget = max(0, len(self.slots) - reserved)
        needed = sum(len(lay.columns) for lay in layouts)
        # a source column holds one member per reaction row: a plate with more rows than the
        # building-block plate (384 wells: 16 against 8) can only be served one well per member
        for lay in layouts:
            if max(w.row for w in self.drawn[lay.rid]) >= bb.rows:
                self.single_channel.add(lay.rid)
                needed -= lay.saving
        for lay in sorted(layouts, key=lambda x: -x.saving):
            if lay.rid in self.single_channel:
                continue
            if needed <= budget or lay.saving <= 0:
                break
            self.single_channel.add(lay.rid)
            needed -= lay.saving
        if needed > len(self.slots):
            wells = sum(len(lay.wells) for lay in layouts)
            available = sum(bb.rows * bb.columns for bb in self.plates)
            self.reporter.error(
                ("reagents", rids[-1], "library"),
                codes.DF519,
                f"the library stocks need {needed} source columns ({wells} wells even at one well per member) but the building-block plates have {len(self.slots)} ({available} wells)",
                "use fewer wells or members, more concentrated stocks (fewer wells per member), or add a building-block plate to the deck layout",
            )
            return False
        for lay in layouts:
            self.sources[lay.rid] = {}
            if lay.rid in self.single_channel:
                self._fill_compact(lay)
            else:
                for key, chunk in lay.columns:
                    self._fill_source_column(lay.rid, lay.library, key, chunk)
            self._check_building_block_wells(lay.rid)
        return True

    def _layout(self, rid: str, capacity: float, rows: int) -> _LibraryLayout:
        library = self.chem.reagents[rid].library or ""
        columns = [
            (key, chunk)
            for key, cols in self._column_classes(rid, library)
            for chunk in self._chunks(rid, key, cols, capacity)
        ]
        by_member: dict[str, list[Well]] = {}
        for well in sorted(self.drawn[rid]):
            sub = self.chem.members.get((library, well))
            by_member.setdefault(sub.name if sub else "?", []).append(well)
        wells: list[list[Well]] = []
        for member_wells in by_member.values():
            wells.append([])
            load = 0.0
            for w in member_wells:
                if wells[-1] and load + self.drawn[rid][w] > capacity:
                    wells.append([])
                    load = 0.0
                wells[-1].append(w)
                load += self.drawn[rid][w]
        return _LibraryLayout(rid, library, columns, wells, rows)

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

    def _take_column(self) -> tuple[LabwareFacts, int]:
        slot = self.slots[self.next_slot]
        self.next_slot += 1
        return slot

    def _fill_source_column(self, rid: str, library: str, key: tuple, chunk: list[int]) -> None:
        bb, column = self._take_column()
        for c in chunk:
            for r, _name in key:
                well = Well(c, r)
                if well not in self.drawn[rid]:
                    continue
                self._draw(rid, library, well, SourceSpot(bb.name, f"{row_letter(r)}{column + 1}"))

    def _fill_compact(self, lay: _LibraryLayout) -> None:
        """One source well per member (per chunk of its wells), column by column from row A."""
        bb, column = self._take_column()
        row = 0
        for member_wells in lay.wells:
            if row >= bb.rows:
                bb, column = self._take_column()
                row = 0
            spot = SourceSpot(bb.name, f"{row_letter(row)}{column + 1}")
            for well in member_wells:
                self._draw(lay.rid, lay.library, well, spot)
            row += 1

    def _draw(self, rid: str, library: str, well: Well, spot: SourceSpot) -> None:
        self.sources[rid][well] = spot
        sub = self.chem.members.get((library, well))
        name, total = self.demand.get((rid, spot), (sub.name if sub else "?", 0.0))
        self.demand[(rid, spot)] = (name, total + self.drawn[rid][well])

    def _check_building_block_wells(self, rid: str) -> None:
        for (r_id, spot), (name, total) in self.demand.items():
            bb = self.deck.labware.get(spot.labware)
            if r_id != rid or bb is None:
                continue
            holds = bb.max_volume_ul * self.deck.fill_limit
            if total + bb.dead_volume_ul > holds:
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
        # More common liquids than troughs: the smallest volumes go to free building-block
        # columns (a well's dead volume is 50 µL, a trough's millilitres: a catalyst stock is
        # wasted least there); the rest keep their troughs in protocol order.
        n_common = len(common)
        overflow = len(common) - len(reservoirs)
        if overflow > 0:
            smallest = sorted(common, key=lambda r: (sum(self.drawn[r].values()), r))[:overflow]
            placed = [rid for rid in smallest if self._place_on_block(rid)]
            common = [rid for rid in common if rid not in placed]
        for rid in common:
            path = ("reagents", rid) if rid in self.p.reagents else ("steps",)
            if not reservoirs:
                self.reporter.error(
                    path,
                    codes.DF518,
                    f"no reagent reservoir left for '{rid}' ({len(self.deck.reservoirs)} on this deck, {n_common} common reagents and solvents to place) and no free column on the building-block plates",
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

    def _place_on_block(self, rid: str) -> bool:
        """A common reagent when the troughs are taken: a free building-block column filled with
        it in every row (8 channels aspirate it as from a trough); False when none is free."""
        if not self.plates:
            return False
        reagent = self.chem.reagents.get(rid)
        name = reagent.substance.name if reagent and reagent.substance else rid.split(":", 1)[-1]
        bb = self.plates[0]
        capacity = bb.max_volume_ul * self.deck.fill_limit - bb.dead_volume_ul
        key = tuple(sorted({(w.row, name) for w in self.drawn[rid]}))
        columns = sorted({w.column for w in self.drawn[rid]})
        chunks = self._chunks(rid, key, columns, capacity)
        if self.next_slot + len(chunks) > len(self.slots):
            return False
        self.sources[rid] = {}
        for chunk in chunks:
            plate, column = self._take_column()
            for c in chunk:
                for r, _ in key:
                    well = Well(c, r)
                    if well not in self.drawn[rid]:
                        continue
                    spot = SourceSpot(plate.name, f"{row_letter(r)}{column + 1}")
                    self.sources[rid][well] = spot
                    _, total = self.demand.get((rid, spot), (name, 0.0))
                    self.demand[(rid, spot)] = (name, total + self.drawn[rid][well])
        self._check_building_block_wells(rid)
        return True
