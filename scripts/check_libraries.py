#!/usr/bin/env python3
"""Check the building-block libraries under workflows/libraries/ (and the SMILES in workflows/*.yaml).

For every ``workflows/libraries/*.csv``:

* the header is ``well,name,smiles`` with only the optional extra columns ``equiv`` and ``mw``;
* every well name is a well of a 96-well plate (A-H, 1-12) and appears once;
* every row has a name, names are unique (case-insensitive);
* every SMILES parses *strictly* with RDKit (``parseName=False``, ``allowCXSMILES=False``, so
  ``"CCO junk"`` is an error rather than ethanol) and sanitises;
* no two rows are the same compound (same canonical SMILES, isomeric);
* ``equiv`` (if given) is a positive number, ``mw`` (if given) a plausible molar mass.

For every ``workflows/*.yaml`` (when PyYAML is installed): each reagent's ``smiles`` and each inline
library item's ``smiles`` parse strictly, inline libraries have no duplicate compounds, and every
``csv:`` a library names exists.  A CSV that no workflow uses is reported as a warning.

Exit status: 0 when clean, 1 when any problem was found (each is printed as ``file:line: message``).

Usage: python scripts/check_libraries.py [--root DIR] [--quiet]
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import re
import sys

WELL = re.compile(r"^([A-H])([1-9]|1[0-2])$")
ALLOWED_COLUMNS = ("well", "name", "smiles", "equiv", "mw")


def _rdkit():
    try:
        from rdkit import Chem, RDLogger
    except ImportError:  # pragma: no cover - the project depends on rdkit
        sys.exit("check_libraries: RDKit is not installed (pip install rdkit)")
    RDLogger.DisableLog("rdApp.*")
    params = Chem.SmilesParserParams()
    params.parseName = False
    params.allowCXSMILES = False
    return Chem, params


Chem, PARAMS = _rdkit()


def parse_smiles(smiles: str) -> tuple[str | None, str | None]:
    """(canonical SMILES, None) or (None, reason)."""
    text = smiles.strip()
    if not text:
        return None, "empty SMILES"
    if text != smiles:
        return None, "SMILES has leading/trailing whitespace"
    if any(c.isspace() for c in text):
        return None, "SMILES contains whitespace (a name after the SMILES?)"
    from rdkit import rdBase

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text, PARAMS)
    if mol is None:
        return None, "RDKit cannot parse it"
    return Chem.MolToSmiles(mol), None


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: error: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: warning: {message}")


def check_csv(path: str, rel: str, report: Report) -> int:
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    if text.startswith("\ufeff"):
        report.error(f"{rel}:1", "file starts with a byte-order mark")
        text = text[1:]
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    if header[:3] != ["well", "name", "smiles"]:
        report.error(
            f"{rel}:1", f"header must start with well,name,smiles (got {','.join(header)})"
        )
    for column in header:
        if column not in ALLOWED_COLUMNS:
            report.error(
                f"{rel}:1", f"unknown column '{column}' (allowed: {', '.join(ALLOWED_COLUMNS)})"
            )
    if len(set(header)) != len(header):
        report.error(f"{rel}:1", "a column is repeated")
    wells: dict[str, int] = {}
    names: dict[str, int] = {}
    canon: dict[str, tuple[int, str]] = {}
    rows = 0
    for line_no, row in enumerate(reader, start=2):
        where = f"{rel}:{line_no}"
        if None in row:
            report.error(where, "more fields than columns (an unquoted comma in a name?)")
        values = {k: (v or "") for k, v in row.items() if k is not None}
        if not any(v.strip() for v in values.values()):
            report.error(where, "empty row")
            continue
        rows += 1
        well = values.get("well", "")
        if not WELL.match(well):
            report.error(where, f"'{well}' is not a well of a 96-well plate (A1..H12)")
        elif well in wells:
            report.error(where, f"well {well} is listed twice (first on line {wells[well]})")
        else:
            wells[well] = line_no
        name = values.get("name", "")
        if not name.strip():
            report.error(where, "no name")
        elif name != name.strip() or "  " in name:
            report.error(where, f"name '{name}' has stray whitespace")
        else:
            key = name.lower()
            if key in names:
                report.error(where, f"name '{name}' repeats line {names[key]}")
            names.setdefault(key, line_no)
        smiles = values.get("smiles", "")
        canonical, reason = parse_smiles(smiles)
        if canonical is None:
            report.error(where, f"invalid SMILES '{smiles}' for '{name}': {reason}")
        elif canonical in canon:
            first_line, first_name = canon[canonical]
            report.error(
                where,
                f"'{name}' is the same compound as '{first_name}' (line {first_line}): {canonical}",
            )
        else:
            canon[canonical] = (line_no, name)
        for column, low, high in (("equiv", 0.0, 100.0), ("mw", 1.0, 100000.0)):
            raw = values.get(column, "").strip()
            if raw:
                try:
                    number = float(raw)
                except ValueError:
                    report.error(where, f"{column} '{raw}' is not a number")
                    continue
                if not low < number <= high:
                    report.error(where, f"{column} {number} is out of range")
    if rows == 0:
        report.error(f"{rel}:1", "no rows")
    return rows


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


def check_workflows(root: str, report: Report) -> set[str]:
    """Strict SMILES in the workflow files; returns the CSV files they reference (absolute)."""
    used: set[str] = set()
    try:
        import yaml
    except ImportError:
        report.warn(
            os.path.join(root, "workflows"), "PyYAML not installed: workflow files not checked"
        )
        return used
    for path in sorted(glob.glob(os.path.join(root, "workflows", "*.yaml"))):
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            report.error(rel, f"not valid YAML: {exc}")
            continue
        if not isinstance(doc, dict):
            report.error(rel, "not a mapping")
            continue
        for rid, reagent in (doc.get("reagents") or {}).items():
            if isinstance(reagent, dict) and reagent.get("smiles") is not None:
                smiles = str(reagent["smiles"])
                canonical, reason = parse_smiles(smiles)
                if canonical is None:
                    report.error(
                        f"{rel}:{_line_of(text, smiles)}",
                        f"reagent '{rid}': invalid SMILES '{smiles}': {reason}",
                    )
        for lname, lib in (doc.get("libraries") or {}).items():
            if not isinstance(lib, dict):
                continue
            if lib.get("csv"):
                csv_path = os.path.normpath(os.path.join(os.path.dirname(path), str(lib["csv"])))
                used.add(csv_path)
                if not os.path.exists(csv_path):
                    report.error(
                        f"{rel}:{_line_of(text, str(lib['csv']))}",
                        f"library '{lname}': {lib['csv']} does not exist",
                    )
            items = lib.get("items")
            entries = list(items.values()) if isinstance(items, dict) else list(items or [])
            seen: dict[str, str] = {}
            for item in entries:
                if not isinstance(item, dict) or item.get("smiles") is None:
                    continue
                smiles = str(item["smiles"])
                canonical, reason = parse_smiles(smiles)
                where = f"{rel}:{_line_of(text, smiles)}"
                if canonical is None:
                    report.error(
                        where,
                        f"library '{lname}' item '{item.get('name')}': invalid SMILES '{smiles}': {reason}",
                    )
                elif canonical in seen:
                    report.error(
                        where,
                        f"library '{lname}': '{item.get('name')}' is the same compound as '{seen[canonical]}'",
                    )
                else:
                    seen[canonical] = str(item.get("name"))
    return used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir),
        help="repository root (default: the parent of scripts/)",
    )
    parser.add_argument("--quiet", action="store_true", help="print problems only")
    args = parser.parse_args(argv)
    root = os.path.normpath(args.root)
    report = Report()
    files = sorted(glob.glob(os.path.join(root, "workflows", "libraries", "*.csv")))
    if not files:
        report.error(os.path.join("workflows", "libraries"), "no *.csv libraries found")
    counts = {}
    for path in files:
        counts[os.path.relpath(path, root)] = check_csv(path, os.path.relpath(path, root), report)
    used = check_workflows(root, report)
    if used:
        for path in files:
            if os.path.normpath(path) not in used:
                report.warn(os.path.relpath(path, root), "no workflow uses this library")
    for line in report.errors + report.warnings:
        print(line)
    if not args.quiet:
        for rel, n in counts.items():
            print(f"{rel}: {n} compound(s)")
        print(
            f"{len(files)} librar{'y' if len(files) == 1 else 'ies'}, {sum(counts.values())} compounds: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
