"""Libraries (spec §1, §4): inline by column / row / well and CSV files; a library missing a used
well is DF113 at the library's key; a broken CSV points at its own line."""

from __future__ import annotations

import pytest

from conftest import BASE_PROTOCOL, PROTOCOLS
from diazflow.diagnostics import format_text
from diazflow.language.loader import load_protocol
from diazflow.language.wells import all_wells, parse_well

CSV_PROTOCOL = PROTOCOLS / "boc_diazepane_csv_library.yaml"
CSV_NAME = "libraries/aldehydes_96.csv"


def items_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("      - {name:")]


def load_ok(path):
    result = load_protocol(str(path))
    assert result.ok, format_text(result.diagnostics)
    return result.loaded


def the(result, code):
    hits = [d for d in result.diagnostics if d.code == code]
    assert hits, format_text(result.diagnostics)
    return hits


def test_inline_by_column_places_one_item_per_column():
    loaded = load_ok(BASE_PROTOCOL)
    lib = loaded.libraries["aldehydes"]
    assert lib.by == "column"
    items = items_of(BASE_PROTOCOL.read_text())
    assert len(items) == 12
    assert set(lib.members) == set(all_wells(8, 12))
    for well, member in lib.members.items():
        assert f"{{name: {member.name}," in items[well.column - 1]
    assert lib.members[parse_well("C5")].name == "4-(trifluoromethyl)benzaldehyde"
    assert lib.members[parse_well("H11")].equiv.value == 1.2
    assert lib.members[parse_well("A1")].equiv is None
    origin_file, line, _ = lib.members[parse_well("B2")].origin
    assert (
        origin_file == str(BASE_PROTOCOL)
        and BASE_PROTOCOL.read_text().splitlines()[line - 1] == items[1]
    )


def test_inline_by_column_missing_a_column(variant):
    last = items_of(BASE_PROTOCOL.read_text())[-1] + "\n"
    v = variant(last, "")
    result = load_protocol(str(v.path))
    (d,) = the(result, "DF113")
    assert (d.line, d.column) == v.at("aldehydes:")
    assert "8 used well(s): A12, B12, C12, D12, E12, F12, G12, H12" in d.message
    assert "11 item(s), one per column" in d.hint and "column(s) 12" in d.hint


def test_inline_by_row(variant):
    v = variant("    by: column\n", "    by: row\n")
    lib = load_ok(v.path).libraries["aldehydes"]
    items = items_of(v.text)
    assert lib.members[parse_well("C7")].name in items[2]  # row C → third item


def test_inline_by_row_missing_rows(variant):
    items = items_of(BASE_PROTOCOL.read_text())
    v = variant("    by: column\n", "    by: row\n")
    text = v.text
    for line in items[6:]:
        text = text.replace(line + "\n", "")
    v.path.write_text(text)
    result = load_protocol(str(v.path))
    (d,) = the(result, "DF113")
    assert d.line == text[: text.index("  aldehydes:")].count("\n") + 1
    assert "24 used well(s)" in d.message  # rows G and H of 12 columns
    assert "row(s) G, H" in d.hint


def test_only_the_wells_a_step_uses_need_a_member(variant):
    # the library reagent goes to column 1 only: one item is enough
    items = items_of(BASE_PROTOCOL.read_text())
    v = variant(
        "{reagent: aldehyde, equiv: 1.05}", "{reagent: aldehyde, equiv: 1.05, wells: A1:H1}"
    )
    text = v.text
    for line in items[1:]:
        text = text.replace(line + "\n", "")
    v.path.write_text(text)
    loaded = load_ok(v.path)
    assert set(loaded.libraries["aldehydes"].members) == set(all_wells(8, 1))


def test_inline_by_well(variant):
    by_well = "    by: well\n    items:\n" + "".join(
        f"      {w.name}: {{name: aldehyde {w.name}, smiles: O=Cc1ccccc1}}\n"
        for w in all_wells(8, 12)
        if w.name != "D7"
    )
    start = BASE_PROTOCOL.read_text().index("    by: column\n")
    end = BASE_PROTOCOL.read_text().index("\nsteps:")
    v = variant(BASE_PROTOCOL.read_text()[start:end], by_well.rstrip("\n"))
    result = load_protocol(str(v.path))
    (d,) = the(result, "DF113")
    assert (d.line, d.column) == v.at("aldehydes:")
    assert "1 used well(s): D7" in d.message


def test_inline_by_well_with_a_bad_well_name(variant):
    v = variant(
        "    by: column\n    items:\n",
        "    by: well\n    items:\n      Q0: {name: nothing, smiles: C}\n",
    )
    text = v.text
    for line in items_of(text):  # drop the list items: the mapping holds only the bad well
        text = text.replace(line + "\n", "")
    v.path.write_text(text)
    result = load_protocol(str(v.path))
    (d,) = the(result, "DF111")
    assert (d.line, d.column) == (text[: text.index("Q0:")].count("\n") + 1, 7)


def test_by_well_items_must_be_a_mapping(variant):
    v = variant("    by: column\n", "    by: well\n")
    result = load_protocol(str(v.path))
    (d,) = the(result, "DF103")
    assert "mapping from well to item" in d.message


def test_csv_library_loads_every_well():
    loaded = load_ok(CSV_PROTOCOL)
    lib = loaded.libraries["aldehydes"]
    rows = (PROTOCOLS / CSV_NAME).read_text().splitlines()[1:]
    assert len(lib.members) == len(rows) == 96
    for number, row in enumerate(rows, start=2):
        well, name, smiles, equiv = next(__import__("csv").reader([row]))
        member = lib.members[parse_well(well)]
        assert (member.name, member.smiles) == (name, smiles)
        assert member.origin[1:] == (number, 1)
        assert (member.equiv.value if member.equiv else "") == (float(equiv) if equiv else "")


def csv_variant(variant, protocol_dir, edit):
    v = variant("x", "x", base=CSV_PROTOCOL)
    csv_path = protocol_dir / CSV_NAME
    csv_path.write_bytes(edit(csv_path.read_bytes()))
    return v, csv_path


def test_csv_missing_a_used_well(variant, protocol_dir):
    v, _ = csv_variant(
        variant,
        protocol_dir,
        lambda b: b"\n".join(line for line in b.split(b"\n") if not line.startswith(b"H12,")),
    )
    result = load_protocol(str(v.path))
    (d,) = the(result, "DF113")
    assert (d.line, d.column) == v.at("aldehydes:")
    assert "H12" in d.message


@pytest.mark.parametrize(
    "edit, code, line, fragment",
    [
        (
            lambda b: b.replace(b"well,name,smiles,equiv", b"well,nom,smiles,equiv"),
            "DF118",
            1,
            "missing column(s) name",
        ),
        (
            lambda b: b.replace(b"well,name,smiles,equiv", b"well,name,smiles,equiv,notes"),
            "DF118",
            1,
            "unknown column(s) notes",
        ),
        (lambda b: b.replace(b"\nC1,", b"\nC0,"), "DF111", 4, "'C0' is not a well name"),
        (lambda b: b.replace(b"\nB1,", b"\nA1,"), "DF104", 3, "A1 is listed twice"),
        (lambda b: b.replace(b"A1,2-fluorobenzaldehyde,", b"A1,,"), "DF102", 2, "no name"),
        (
            lambda b: b.replace(
                b"A1,2-fluorobenzaldehyde,O=Cc1ccccc1F,",
                b"A1,2-fluorobenzaldehyde,O=Cc1ccccc1F,lots",
            ),
            "DF206",
            2,
            "'lots'",
        ),
        (
            lambda b: b.replace(
                b"A1,2-fluorobenzaldehyde,O=Cc1ccccc1F,", b"A1,2-fluorobenzaldehyde,O=Cc1ccccc1F,-1"
            ),
            "DF205",
            2,
            "greater than 0",
        ),
        (
            lambda b: b.replace(
                b"A1,2-fluorobenzaldehyde,O=Cc1ccccc1F,",
                b"A1,2-fluorobenzaldehyde,O=Cc1ccccc1F,,extra",
            ),
            "DF118",
            2,
            "more fields",
        ),
        (
            lambda b: b.replace(
                b"B1,2-chlorobenzaldehyde", "B1,2-chlorobenzaldéhyde".encode("latin-1")
            ),
            "DF118",
            3,
            "not UTF-8",
        ),
    ],
    ids=[
        "header",
        "extra-column",
        "bad-well",
        "duplicate-well",
        "no-name",
        "bad-equiv",
        "negative-equiv",
        "too-many-fields",
        "latin-1",
    ],
)
def test_broken_csv_points_at_its_line(variant, protocol_dir, edit, code, line, fragment):
    v, csv_path = csv_variant(variant, protocol_dir, edit)
    result = load_protocol(str(v.path))
    hits = [d for d in result.diagnostics if d.code == code]
    assert hits, format_text(result.diagnostics)
    d = hits[0]
    assert d.file.endswith(CSV_NAME) and d.line == line, format_text([d])
    assert fragment in d.message
    # a row that is present but wrong is not also reported as a missing well
    if code in ("DF102", "DF206", "DF205", "DF118") and line > 1:
        assert "DF113" not in [x.code for x in result.diagnostics], format_text(result.diagnostics)


def test_csv_with_byte_order_mark(variant, protocol_dir):
    v, _ = csv_variant(variant, protocol_dir, lambda b: b"\xef\xbb\xbf" + b)
    load_ok(v.path)


def test_missing_csv_file(variant):
    v = variant(f"csv: {CSV_NAME}", "csv: libraries/nope.csv", base=CSV_PROTOCOL)
    result = load_protocol(str(v.path))
    (d,) = the(result, "DF118")
    assert (d.line, d.column) == v.at("libraries/nope.csv")
    assert "relative to the protocol" in d.hint
