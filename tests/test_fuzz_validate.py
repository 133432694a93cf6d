"""Property-based tests: whatever a protocol file contains, validation answers with diagnostics.

Valid protocols are mutated structurally (keys deleted, values replaced by other types, units
corrupted) and textually (characters inserted, deleted, replaced); for every mutant
``load_protocol`` and ``pipeline.check`` must return (never raise, never hang), and every
diagnostic must be well formed.  Derandomized so CI sees the same examples every run.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PROTOCOLS, REPO
from diazflow.diagnostics import Diagnostic, Severity
from diazflow.language.loader import load_protocol_document
from diazflow.language.source import YamlSourceError, load_yaml

BASES = {p.name: p.read_text(encoding="utf-8") for p in sorted(PROTOCOLS.glob("*.yaml"))}
BASE_DATA = {name: yaml.safe_load(text) for name, text in BASES.items()}
CODE_PREFIXES = ("DF1", "DF2", "DF3", "DF4", "DF5", "DF6")
PER_EXAMPLE_S = 2.0  # a generous bound; a typical example takes a few milliseconds

FUZZ = settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,  # timing is asserted explicitly below, with a bound that survives a busy CI box
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def check_diagnostics(diags, filename: str) -> None:
    for d in diags:
        assert isinstance(d, Diagnostic)
        assert d.code.startswith(CODE_PREFIXES) and len(d.code) == 5, d
        assert isinstance(d.severity, Severity)
        assert d.message and isinstance(d.message, str)
        assert d.line >= 0 and d.column >= 0
        assert d.file == filename or d.file.endswith(".csv"), d


def validate_text(text: str, name: str = "fuzz.yaml"):
    """Load a protocol from text as ``load_protocol`` would (libraries resolve next to the bases)."""
    start = time.perf_counter()
    try:
        source = load_yaml(text, name)
    except YamlSourceError as exc:
        diags = exc.diagnostics
        assert diags and all(d.is_error for d in diags)
        loaded = None
    else:
        result = load_protocol_document(source, str(PROTOCOLS / name))
        diags = result.diagnostics
        loaded = result.loaded
        if loaded is None:
            assert any(d.is_error for d in diags), "no protocol and no error"
    elapsed = time.perf_counter() - start
    assert elapsed < PER_EXAMPLE_S, f"validation took {elapsed:.2f} s"
    check_diagnostics(diags, name)
    return loaded, diags


# --------------------------------------------------------------------------- strategies

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "rt",
            "NO",
            "1:30",
            "A1:H12",
            "H12:A1",
            "Z99",
            "1-4 h",
            "-10 to -5 degC",
            "25 C",
            "0 M",
            "1e999 uL",
            "~",
            "[",
            "{",
            "*a",
            "&a x",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)

units = [
    "umol",
    "mmol",
    "uL",
    "µL",
    "mL",
    "L",
    "M",
    "mM",
    "min",
    "h",
    "s",
    "degC",
    "°C",
    "K",
    "rpm",
    "uL/min",
    "equiv",
    "eq",
    "C",
    "m",
    "N",
    "reaction volume",
    "",
    "x",
    "kg",
    "%",
]
numbers = st.one_of(
    st.integers(min_value=-1000, max_value=10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["0", "-0", ".5", "1.", "1e3", "1e-400", "nan", "inf", "--1", "+-2", "1,5", "½"]
    ),
)
quantity_text = st.one_of(
    st.builds(lambda n, u: f"{n} {u}".strip(), numbers, st.sampled_from(units)),
    st.builds(
        lambda a, b, u, sep: f"{a}{sep}{b} {u}",
        numbers,
        numbers,
        st.sampled_from(units),
        st.sampled_from(["-", " - ", " to ", "–", "--", " to-"]),
    ),
    st.text(alphabet="0123456789 .-+eE°CuLmMinhsrtpqv/", max_size=15),
)


def paths_of(data, prefix=()):
    """Every path into a nested structure (mapping keys and list indexes)."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append(prefix + (key,))
            out.extend(paths_of(value, prefix + (key,)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.append(prefix + (index,))
            out.extend(paths_of(value, prefix + (index,)))
    return out


def quantity_paths(data, prefix=()):
    """Paths of string values that look like quantities (start with a digit or sign, or 'rt')."""
    return [
        p
        for p in paths_of(data, prefix)
        if isinstance(get(data, p), str)
        and (get(data, p)[:1] in "0123456789-+." or get(data, p) == "rt")
    ]


def get(data, path):
    for part in path:
        data = data[part]
    return data


def set_at(data, path, value):
    parent = get(data, path[:-1])
    parent[path[-1]] = value


def delete_at(data, path):
    parent = get(data, path[:-1])
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])


@st.composite
def structural_mutants(draw):
    name = draw(st.sampled_from(sorted(BASE_DATA)))
    data = copy.deepcopy(BASE_DATA[name])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = paths_of(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["delete", "replace", "replace", "swap_type", "rename"]))
        if action == "delete":
            delete_at(data, path)
        elif action == "replace":
            set_at(data, path, draw(values))
        elif action == "swap_type":
            current = get(data, path)
            swapped = (
                [current] if not isinstance(current, list) else (current[0] if current else {})
            )
            if isinstance(current, dict):
                swapped = list(current.items()) if draw(st.booleans()) else str(current)
            set_at(data, path, swapped)
        elif action == "rename" and isinstance(path[-1], str):
            parent = get(data, path[:-1])
            parent[draw(st.text(min_size=1, max_size=12))] = parent.pop(path[-1])
    return name, data


@st.composite
def unit_mutants(draw):
    name = draw(st.sampled_from(sorted(BASE_DATA)))
    data = copy.deepcopy(BASE_DATA[name])
    paths = quantity_paths(data)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4, unique=True)):
        set_at(data, path, draw(quantity_text))
    return name, data


@st.composite
def text_mutants(draw):
    name = draw(st.sampled_from(sorted(BASES)))
    text = BASES[name]
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(
            st.one_of(
                st.text(max_size=4),
                st.sampled_from(
                    [
                        ":",
                        " ",
                        "\n",
                        "\t",
                        "-",
                        "[",
                        "]",
                        "{",
                        "}",
                        "'",
                        '"',
                        "&a ",
                        "*a",
                        "!!",
                        "#",
                        "|",
                        ">",
                        "%",
                        "@",
                        "`",
                        "\x00",
                        "\ufeff",
                    ]
                ),
            )
        )
        if action == "insert":
            text = text[:position] + chunk + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(min_value=1, max_value=20)) :]
        else:
            text = text[:position] + chunk + text[position + len(chunk) :]
    return name, text


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------- properties


@FUZZ
@given(structural_mutants())
def test_structural_mutants_never_raise(mutant):
    name, data = mutant
    validate_text(dump(data), name)


@FUZZ
@given(unit_mutants())
def test_corrupted_quantities_never_raise(mutant):
    name, data = mutant
    loaded, diags = validate_text(dump(data), name)
    if loaded is None:
        assert any(d.code.startswith(("DF1", "DF2")) for d in diags)


@FUZZ
@given(text_mutants())
def test_garbled_text_never_raises(mutant):
    name, text = mutant
    validate_text(text, name)


@settings(FUZZ, max_examples=100)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    start = time.perf_counter()
    try:
        source = load_yaml(data, "bytes.yaml")
    except YamlSourceError as exc:
        check_diagnostics(exc.diagnostics, "bytes.yaml")
    else:
        result = load_protocol_document(source, str(PROTOCOLS / "bytes.yaml"))
        check_diagnostics(result.diagnostics, "bytes.yaml")
    assert time.perf_counter() - start < PER_EXAMPLE_S


@settings(FUZZ, max_examples=60)
@given(
    st.one_of(
        structural_mutants().map(lambda m: (m[0], dump(m[1]))),
        unit_mutants().map(lambda m: (m[0], dump(m[1]))),
        text_mutants(),
    )
)
def test_pipeline_check_never_raises(tmp_path_factory, mutant):
    """The whole pipeline (later stages included) on files: diagnostics, never an exception."""
    from diazflow.pipeline import check

    name, text = mutant
    directory = Path(tmp_path_factory.getbasetemp()) / "fuzz-pipeline"
    if not (directory / "libraries").exists():
        import shutil

        shutil.copytree(PROTOCOLS / "libraries", directory / "libraries")
    path = directory / name
    path.write_text(text, encoding="utf-8")
    deck = (
        REPO / "deck_layouts" / "starlet_chem.yaml"
    )  # so mutants reach the deck and schedule stages
    start = time.perf_counter()
    result = check(str(path), deck_override=str(deck) if deck.exists() else None)
    assert time.perf_counter() - start < 10 * PER_EXAMPLE_S
    for d in result.diagnostics:
        assert isinstance(d, Diagnostic) and d.code.startswith(CODE_PREFIXES) and d.message
