"""Well names and well selections (``A1``, ``A1:H12``, ``["A1", "B3:B6"]``).

Wells are ordered column-major (A1, B1, ..., H1, A2, ...) everywhere in diazflow because that is
how an 8-channel head walks a plate: one column per aspirate/dispense cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diazflow import errorcodes as codes
from diazflow.errorcodes import ErrorCode

_WELL = re.compile(r"^(?P<row>[A-Z]{1,2})(?P<col>[0-9]{1,2})$")


class WellError(ValueError):
    def __init__(self, code: ErrorCode, message: str, hint: str | None = None):
        super().__init__(message)
        self.code: str = code.code  # the string, as pydantic's error type and in tests
        self.message = message
        self.hint = hint


@dataclass(frozen=True, order=True)
class Well:
    column: int  # 1-based; first for column-major ordering
    row: int  # 0-based (A = 0)

    @property
    def name(self) -> str:
        return f"{row_letter(self.row)}{self.column}"

    def __str__(self) -> str:
        return self.name


def row_letter(index: int) -> str:
    """0 → ``A``, 25 → ``Z``, 26 → ``AA``: the row names of every plate format (1536 has 32 rows)."""
    if index < 26:
        return chr(ord("A") + index)
    return chr(ord("A") + index // 26 - 1) + chr(ord("A") + index % 26)


def well_key(name: str) -> tuple[int, int]:
    """(row, column), 0-based, of a well name such as ``H12``; unreadable names sort last."""
    match = _WELL.match(name.strip().upper())
    if not match:
        return (10**6, 10**6)
    return (row_index(match.group("row")), int(match.group("col")) - 1)


def row_index(letters: str) -> int:
    if len(letters) == 1:
        return ord(letters) - ord("A")
    return (ord(letters[0]) - ord("A") + 1) * 26 + ord(letters[1]) - ord("A")


def parse_well(text: str) -> Well:
    m = _WELL.match(text.strip()) if isinstance(text, str) else None
    if not m or int(m.group("col")) < 1:
        raise WellError(
            codes.DF111,
            f"'{text}' is not a well name",
            "well names are a row letter and a column number, e.g. 'A1' or 'H12'",
        )
    return Well(int(m.group("col")), row_index(m.group("row")))


def parse_well_selection(value: object) -> tuple[Well, ...]:
    """Expand a selection to wells in column-major order, without duplicates."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise WellError(
            codes.DF111, "wells must be a range like 'A1:H12', a well name, or a list of them"
        )
    wells: set[Well] = set()
    for item in items:
        if not isinstance(item, str):
            raise WellError(
                codes.DF111, f"{item!r} is not a well name or range", 'quote well names: "A1"'
            )
        if ":" in item:
            first_text, _, last_text = item.partition(":")
            first, last = parse_well(first_text), parse_well(last_text)
            if first.row > last.row or first.column > last.column:
                raise WellError(
                    codes.DF111,
                    f"well range '{item}' runs backwards",
                    f"write the top-left well first, e.g. '{first_text if first < last else last_text}:...'",
                )
            wells.update(
                Well(c, r)
                for c in range(first.column, last.column + 1)
                for r in range(first.row, last.row + 1)
            )
        else:
            wells.add(parse_well(item))
    return tuple(sorted(wells))


def check_in_format(wells: tuple[Well, ...], rows: int, columns: int) -> list[Well]:
    """The wells that do not exist on a ``rows`` × ``columns`` plate."""
    return [w for w in wells if w.row >= rows or w.column > columns]


def all_wells(rows: int, columns: int) -> tuple[Well, ...]:
    return tuple(Well(c, r) for c in range(1, columns + 1) for r in range(rows))
