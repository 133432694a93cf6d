"""The result cache (docs/cache.md): a hit prints what the uncached command prints, byte for byte,
runs the plan into the same journal, imports none of the stages, and is impossible whenever an
input of the result changed.  Every command runs in a fresh process (the cache is switched on here
only: conftest.py switches it off for the rest of the suite); whether a command was answered from
the cache is read from its modules at exit: a hit never imports ``diazflow.pipeline``."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

PROBE = """
import atexit, json, sys
def report():
    sys.stderr.write('MODULES ' + json.dumps(sorted(sys.modules)) + '\\n')
atexit.register(report)
sys.argv = ['diazflow'] + sys.argv[1:]
from diazflow.cli import main
main()
"""
PROTOCOL = "workflows/stab.yaml"  # the shipped STAB reductive amination: one DF304 warning


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str  # without the probe's line
    modules: frozenset[str]

    @property
    def cached(self) -> bool:
        return "diazflow.pipeline" not in self.modules


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project as a user has it: a protocol, its CSV library, the deck layout and the simulator
    profiles the layout names, copied from the repository."""
    root = tmp_path / "project"
    (root / "workflows" / "libraries").mkdir(parents=True)
    shutil.copy(REPO / "workflows" / "n4_reductive_amination_stab.yaml", root / PROTOCOL)
    shutil.copy(
        REPO / "workflows" / "libraries" / "aldehydes_96.csv",
        root / "workflows" / "libraries" / "aldehydes_96.csv",
    )
    (root / "deck_layouts").mkdir()
    shutil.copy(REPO / "deck_layouts" / "starlet_chem.yaml", root / "deck_layouts")
    shutil.copytree(REPO / "simulators", root / "simulators")
    return root


def cache_env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DIAZFLOW_NO_CACHE"}
    env.update(DIAZFLOW_CACHE_DIR=str(cache), NO_COLOR="1", PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


def diazflow(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Outcome:
    """One ``diazflow`` command in a fresh process, with the cache in ``cwd/../cache``."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env or cache_env(cwd.parent / "cache"),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    lines = proc.stderr.splitlines(keepends=True)
    probe = next(x for x in lines if x.startswith("MODULES "))
    modules = frozenset(json.loads(probe.split(" ", 1)[1]))
    stderr = "".join(x for x in lines if x is not probe)
    assert "Traceback" not in stderr, stderr[-3000:]
    return Outcome(proc.returncode, proc.stdout, stderr, modules)


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "results-v1").glob("*.json"))


def without_times(text: str) -> str:
    """JUnit's ``time`` attributes: the seconds spent, which no two runs share."""
    return re.sub(r'time="[0-9.]+"', 'time="T"', text)


# --------------------------------------------------------------------------- a hit is the same


@pytest.mark.parametrize("output_format", ["text", "json", "github", "junit"])
def test_a_validate_hit_prints_what_the_check_printed(project, output_format):
    miss = diazflow(project, "validate", PROTOCOL, "--format", output_format)
    hit = diazflow(project, "validate", PROTOCOL, "--format", output_format)
    assert not miss.cached and hit.cached
    assert (hit.returncode, hit.stderr) == (miss.returncode, miss.stderr)
    if output_format == "junit":
        assert without_times(hit.stdout) == without_times(miss.stdout)
    else:
        assert hit.stdout == miss.stdout
    assert miss.returncode == 0 and "DF304" in miss.stdout  # a warning, kept as data


def test_a_broken_protocol_is_cached_with_its_errors(project):
    path = project / PROTOCOL
    path.write_text(path.read_text().replace("  - stir:", "  - stirr:", 1))
    miss = diazflow(project, "validate", PROTOCOL, "--format", "json")
    hit = diazflow(project, "validate", PROTOCOL, "--format", "json")
    assert not miss.cached and hit.cached
    assert miss.returncode == hit.returncode == 1
    assert hit.stdout == miss.stdout
    found = json.loads(hit.stdout)["files"][0]["diagnostics"]
    assert any(d["severity"] == "error" and d["line"] > 0 for d in found), found


@pytest.mark.parametrize("output_format", ["text", "json", "github", "junit"])
def test_a_compile_hit_writes_the_same_plan_and_prints_the_same(project, output_format):
    args = ("compile", PROTOCOL, "-o", "plan.json", "--format", output_format)
    miss = diazflow(project, *args)
    written = (project / "plan.json").read_bytes()
    (project / "plan.json").unlink()
    hit = diazflow(project, *args)
    assert not miss.cached and hit.cached
    assert (project / "plan.json").read_bytes() == written
    uncached = subprocess.run(  # and the file the plain pipeline writes
        [sys.executable, "-m", "diazflow", "compile", PROTOCOL, "-o", "plain.json", "--no-cache"],
        cwd=project,
        env=cache_env(project.parent / "cache"),
        capture_output=True,
    )
    assert uncached.returncode == 0
    assert (project / "plain.json").read_bytes() == written
    assert (hit.returncode, hit.stderr) == (miss.returncode, miss.stderr) == (0, "")
    assert without_times(hit.stdout) == without_times(miss.stdout)


def test_compile_with_start_keys_on_the_start(project):
    early = ("compile", PROTOCOL, "--start", "2026-12-07 09:00")
    late = ("compile", PROTOCOL, "--start", "2026-12-07 18:00")
    first = diazflow(project, *early)
    other = diazflow(project, *late)
    again = diazflow(project, *early)
    assert not first.cached and not other.cached and again.cached
    assert again.stdout == first.stdout and other.stdout != first.stdout


def journal_rows(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows without the wall-clock columns (and the process id in run_started)."""
    wall = {"created", "updated", "wall", "wall_s", "started", "finished"}
    tables: dict[str, list[tuple]] = {}
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in names:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            rows = []
            for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                values = dict(zip(columns, row, strict=True))
                if values.get("event") == "run_started":
                    data = json.loads(values["data"])
                    data.pop("pid")
                    values["data"] = data
                rows.append(tuple((k, v) for k, v in values.items() if k not in wall))
            tables[table] = rows
    return tables


def test_a_run_hit_writes_the_journal_an_uncached_run_writes(project):
    common = ("--backend", "simulate", "--quiet", "--format", "json")
    miss = diazflow(project, "run", PROTOCOL, "--journal", "miss.sqlite", *common)
    hit = diazflow(project, "run", PROTOCOL, "--journal", "hit.sqlite", *common)
    plain = diazflow(project, "run", PROTOCOL, "--journal", "plain.sqlite", *common, "--no-cache")
    assert not miss.cached and hit.cached and not plain.cached
    assert miss.returncode == hit.returncode == plain.returncode == 0
    assert hit.stderr == miss.stderr == plain.stderr  # the diagnostics, as JSON
    assert hit.stdout.replace("hit.sqlite", "J") == miss.stdout.replace("miss.sqlite", "J")
    rows = journal_rows(project / "hit.sqlite")
    assert rows == journal_rows(project / "miss.sqlite") == journal_rows(project / "plain.sqlite")
    # the journal's record of the inputs is the real one: each file's SHA-256 now
    import hashlib

    started = next(r for r in rows["events"] if dict(r)["event"] == "run_started")
    inputs = dict(started)["data"]["inputs"]
    assert os.path.realpath(project / PROTOCOL) in {os.path.realpath(p) for p in inputs}
    assert len(inputs) == 6  # protocol, library, deck, three simulator profiles
    for path, digest in inputs.items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest


# --------------------------------------------------------------------------- a hit imports nothing


STAGES = ("diazflow.pipeline", "diazflow.language.models", "diazflow.chemistry", "rdkit")


def imported(outcome: Outcome, prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in outcome.modules if m.startswith(prefixes)}


def test_validate_and_compile_hits_import_no_stage_and_no_pydantic(project):
    for args in (("validate", PROTOCOL), ("compile", PROTOCOL, "-o", "plan.json")):
        diazflow(project, *args)
        hit = diazflow(project, *args)
        assert hit.cached
        heavy = STAGES + ("diazflow.compiler", "diazflow.deck", "pydantic", "yaml", "pint")
        assert imported(hit, heavy) == set(), args


def test_a_run_hit_imports_only_the_plan_models_and_the_deck(project):
    args = ("run", PROTOCOL, "--quiet")
    diazflow(project, *args, "--journal", "a.sqlite")
    hit = diazflow(project, *args, "--journal", "b.sqlite")
    assert hit.cached and hit.returncode == 0
    assert (
        imported(hit, STAGES + ("diazflow.binding",))
        - {
            "diazflow.chemistry",  # the pipetting classes the liquid handler reads
            "diazflow.chemistry.liquid_classes",
            "diazflow.chemistry.properties",
        }
        == set()
    )
    assert imported(hit, ("diazflow.compiler",)) == {"diazflow.compiler", "diazflow.compiler.plan"}


def test_a_hardware_run_checks_the_protocol_from_scratch(project):
    # an entry exists (a simulated run stored it); the real robot's run still checks afresh
    args = ("run", PROTOCOL, "--quiet")
    diazflow(project, *args, "--journal", "a.sqlite")
    assert diazflow(project, *args, "--journal", "b.sqlite").cached
    hardware = diazflow(project, *args, "--backend", "hardware", "--journal", "c.sqlite")
    assert not hardware.cached
    assert "Traceback" not in hardware.stderr
    # no robot here: it stops at its drivers or its connection, after the fresh check
    assert hardware.returncode in (2, 3), hardware.stderr


# --------------------------------------------------------------------------- every input is in it


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _first_library_row(project: Path) -> None:
    csv = project / "workflows" / "libraries" / "aldehydes_96.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace(",", ",x", 1)  # the first member's second column changes
    csv.write_text("".join(lines), encoding="utf-8")


CHANGES = {
    "protocol bytes": lambda p: _edit(p / PROTOCOL, "diazflow: 1", "diazflow: 1  # edited"),
    "a library CSV row": _first_library_row,
    "the deck layout": lambda p: _edit(
        p / "deck_layouts" / "starlet_chem.yaml", "diazflow_deck: 1", "diazflow_deck: 1 # edited"
    ),
    "a simulator profile": lambda p: (p / "simulators" / "hamilton_starlet.yaml").write_text(
        (p / "simulators" / "hamilton_starlet.yaml").read_text() + "# edited\n"
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_changed_input_file_is_a_miss(project, change):
    first = diazflow(project, "validate", PROTOCOL, "--format", "json")
    assert not first.cached
    CHANGES[change](project)
    after = diazflow(project, "validate", PROTOCOL, "--format", "json")
    plain = diazflow(project, "validate", PROTOCOL, "--format", "json", "--no-cache")
    assert not after.cached
    assert after.stdout == plain.stdout and after.returncode == plain.returncode
    assert diazflow(project, "validate", PROTOCOL, "--format", "json").cached  # stored again


def test_a_library_edit_that_breaks_the_protocol_is_reported_not_hidden(project):
    assert diazflow(project, "validate", PROTOCOL).returncode == 0
    csv = project / "workflows" / "libraries" / "aldehydes_96.csv"
    header, first, *rest = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    smiles = header.strip().split(",").index("smiles")
    cells = first.rstrip("\n").split(",")
    cells[smiles] = "C1CC(("  # no structure
    csv.write_text("".join([header, ",".join(cells) + "\n", *rest]), encoding="utf-8")
    after = diazflow(project, "validate", PROTOCOL)
    assert not after.cached and after.returncode == 1


OPTIONS = [
    ("--deck", "deck_layouts/starlet_chem.yaml"),
    ("--ignore", "DF304"),
    ("--select", "DF6"),
    ("--error", "DF304"),
    ("--warnings-as-errors",),
]


@pytest.mark.parametrize("option", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_an_option_that_changes_the_findings_is_part_of_the_key(project, option):
    diazflow(project, "validate", PROTOCOL)
    with_option = diazflow(project, "validate", PROTOCOL, *option)
    plain = diazflow(project, "validate", PROTOCOL, *option, "--no-cache")
    assert not with_option.cached
    assert (with_option.stdout, with_option.returncode) == (plain.stdout, plain.returncode)
    assert diazflow(project, "validate", PROTOCOL, *option).cached


def test_the_environment_and_the_working_directory_are_part_of_the_key(project):
    cache = project.parent / "cache"
    diazflow(project, "validate", PROTOCOL)
    assert diazflow(project, "validate", PROTOCOL).cached
    env = cache_env(cache, DIAZFLOW_SOMETHING_NEW="1")
    assert not diazflow(project, "validate", PROTOCOL, env=env).cached
    # from another directory the diagnostics name the files differently
    elsewhere = diazflow(project / "workflows", "validate", "stab.yaml", env=cache_env(cache))
    assert not elsewhere.cached and "workflows/" not in elsewhere.stdout


def test_a_missing_file_that_appears_is_a_miss(project):
    csv = project / "workflows" / "libraries" / "aldehydes_96.csv"
    kept = csv.read_bytes()
    csv.unlink()
    missing = diazflow(project, "validate", PROTOCOL)
    assert missing.returncode == 1 and diazflow(project, "validate", PROTOCOL).cached
    csv.write_bytes(kept)
    found = diazflow(project, "validate", PROTOCOL)
    assert not found.cached and found.returncode == 0


def test_a_missing_simulator_profile_that_appears_is_a_miss(project):
    profile = project / "simulators" / "operator.yaml"
    kept = profile.read_bytes()
    profile.unlink()
    assert diazflow(project, "validate", PROTOCOL).returncode == 1
    assert diazflow(project, "validate", PROTOCOL).cached
    profile.write_bytes(kept)
    found = diazflow(project, "validate", PROTOCOL)
    assert not found.cached and found.returncode == 0


def test_a_change_to_diazflows_own_code_is_a_miss(project, tmp_path):
    """A copy of the package on PYTHONPATH (ahead of the editable install): one edited module."""
    copy = tmp_path / "copy"
    shutil.copytree(
        REPO / "src" / "diazflow",
        copy / "src" / "diazflow",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for data in ("deck_layouts", "simulators"):
        shutil.copytree(REPO / data, copy / data)
    env = cache_env(project.parent / "cache", PYTHONPATH=str(copy / "src"))
    assert not diazflow(project, "validate", PROTOCOL, env=env).cached
    assert diazflow(project, "validate", PROTOCOL, env=env).cached
    module = copy / "src" / "diazflow" / "chemistry" / "hazards.py"
    module.write_text(module.read_text() + "\n# edited\n")
    assert not diazflow(project, "validate", PROTOCOL, env=env).cached


def test_library_versions_and_the_python_version_are_in_the_fingerprint(tmp_path, monkeypatch):
    from diazflow.cache import fingerprint

    before = fingerprint.code_fingerprint.__wrapped__()
    assert fingerprint.distribution_versions()["pydantic"] != "absent"
    site = tmp_path / "site"
    (site / "pydantic-99.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    assert fingerprint.distribution_versions()["pydantic"] == "99.0"
    assert fingerprint.code_fingerprint.__wrapped__() != before
    monkeypatch.setattr(sys, "path", sys.path[1:])
    assert fingerprint.code_fingerprint.__wrapped__() == before
    monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    assert fingerprint.code_fingerprint.__wrapped__() != before


def test_the_package_digest_follows_files_not_bytecode(tmp_path, monkeypatch):
    from diazflow.cache import fingerprint

    package = tmp_path / "src" / "diazflow"
    (package / "__pycache__").mkdir(parents=True)
    (package / "deck_layouts").mkdir()
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(fingerprint, "package_root", lambda: str(package))
    first = fingerprint.package_digest()
    (package / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert fingerprint.package_digest() == first
    (package / "a.py").write_text("x = 2\n")
    second = fingerprint.package_digest()
    assert second != first
    (package / "b.json").write_text("{}")  # a new data file
    assert fingerprint.package_digest() not in (first, second)


# --------------------------------------------------------------------------- robustness


def test_no_cache_and_the_environment_variable_write_nothing(project):
    cache = project.parent / "cache"
    diazflow(project, "validate", PROTOCOL, "--no-cache")
    diazflow(project, "validate", PROTOCOL, env=cache_env(cache, DIAZFLOW_NO_CACHE="1"))
    assert not cache.exists() or entries(cache) == []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "valid JSON, wrong shape"])
def test_a_damaged_entry_is_a_miss_and_is_rewritten(project, damage):
    cache = project.parent / "cache"
    first = diazflow(project, "validate", PROTOCOL, "--format", "json")
    [entry] = entries(cache)
    raw = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"\x00\xff" * 100)
    elif damage == "empty":
        entry.write_bytes(b"")
    else:
        import hashlib

        body = json.dumps({"key": entry.stem, "deps": [], "result": {}}).encode()
        entry.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    again = diazflow(project, "validate", PROTOCOL, "--format", "json")
    assert not again.cached and again.stdout == first.stdout and again.returncode == 0
    assert diazflow(project, "validate", PROTOCOL, "--format", "json").cached


def test_two_processes_storing_the_same_key_at_once(project):
    cache = project.parent / "cache"
    command = [sys.executable, "-m", "diazflow", "validate", PROTOCOL, "--format", "json"]
    procs = [
        subprocess.Popen(
            command, cwd=project, env=cache_env(cache), stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1]
    assert len(entries(cache)) == 1
    assert list((cache / "results-v1").glob(".tmp-*")) == []
    hit = diazflow(project, "validate", PROTOCOL, "--format", "json")
    assert hit.cached and hit.stdout == outputs[0]


WRITER = """
import sys
from diazflow.cache.store import EntryStore
store = EntryStore(sys.argv[1])
payload = {"deps": [], "result": {"n": list(range(2000))}}
bad = 0
for _ in range(150):
    store.write("k" * 64, payload)
    got = store.read("k" * 64)
    if got is not None and got["result"] != payload["result"]:
        bad += 1
print(bad)
"""


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    assert [p.communicate(timeout=300)[0].strip() for p in procs] == ["0", "0"]


def test_the_cache_is_bounded_and_evicts_the_least_recently_used(tmp_path, monkeypatch):
    from diazflow.cache.store import EntryStore

    store = EntryStore(str(tmp_path))
    payload = {"deps": [], "result": {"text": "x" * 40_000}}
    for n in range(5):
        store.write(f"{n:064d}", payload)
        os.utime(store.path(f"{n:064d}"), ns=(n * 10**9, n * 10**9))
    assert store.read(f"{0:064d}") is not None  # read: now the most recently used
    monkeypatch.setenv("DIAZFLOW_CACHE_MAX_MB", str(100_000 / 1024 / 1024))
    store.write(f"{9:064d}", payload)
    kept = sorted(p.stem for p in (tmp_path / "results-v1").glob("*.json"))
    assert kept == [f"{0:064d}", f"{9:064d}"]


def test_a_fifo_protocol_is_not_cached_and_does_not_hang(project):
    fifo = project / "workflows" / "pipe.yaml"
    os.mkfifo(fifo)
    outcome = diazflow(project, "validate", "workflows/pipe.yaml")
    assert outcome.returncode == 1 and not outcome.cached
    assert entries(project.parent / "cache") == []


# --------------------------------------------------------------------------- what the entry keeps


WORKFLOWS = sorted((REPO / "workflows").glob("*.yaml"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
def test_the_entry_rebuilds_the_written_plan_and_the_journal_inputs(workflow):
    """What a hit derives without the pipeline equals what the pipeline gives: the plan file
    (``Plan.to_json``) from the compact copy, the journal's plan after a parse, the run's
    input files (the ones the journal records)."""
    from diazflow.cache import CheckedPlan, check_plan
    from diazflow.compiler.plan import Plan
    from diazflow.pipeline import check

    result = check(str(workflow))
    assert result.plan is not None
    compact = result.plan.to_journal_json()
    entry = CheckedPlan(result.path, (), (), compact, None, (), result.deck_path, None)
    assert entry.written_plan() == result.plan.to_json()
    assert Plan.from_json(compact).to_journal_json() == compact
    checked = check_plan(
        str(workflow), None, None, None, use_cache=False, extra=lambda r: [], summary=str
    )
    assert list(checked.inputs) == result.input_files()


def test_a_cache_folder_others_can_write_to_is_neither_read_nor_written(tmp_path):
    from diazflow.cache.store import EntryStore

    store = EntryStore(str(tmp_path))
    store.write("a" * 64, {"deps": [], "result": {}})
    assert store.read("a" * 64) is not None
    os.chmod(store.root, 0o777)  # as a folder someone else prepared in /tmp would be
    assert store.read("a" * 64) is None
    store.write("b" * 64, {"deps": [], "result": {}})
    assert not Path(store.path("b" * 64)).exists()
    os.chmod(store.root, 0o700)
    os.chmod(tmp_path, 0o777)  # its parent writable by anyone, and not sticky
    assert store.read("a" * 64) is None
    os.chmod(tmp_path, 0o1777)  # sticky, like /tmp: the folder cannot be replaced
    assert store.read("a" * 64) is not None
    os.chmod(tmp_path, 0o700)


def test_a_missing_deck_layout_that_appears_is_a_miss(project):
    layout = project / "deck_layouts" / "starlet_chem.yaml"
    moved = project / "deck_layouts" / "kept.yaml"
    layout.rename(moved)
    missing = diazflow(project, "validate", PROTOCOL, "--format", "json")
    assert missing.returncode == 1 and "DF525" in missing.stdout
    assert diazflow(project, "validate", PROTOCOL).cached
    moved.rename(layout)
    found = diazflow(project, "validate", PROTOCOL)
    assert not found.cached and found.returncode == 0


def test_acknowledged_warnings_are_listed_on_a_hit_as_on_a_miss(project):
    _edit(
        project / PROTOCOL,
        "  room_temperature: 22 degC",
        "  room_temperature: 22 degC\n  acknowledge:\n    DF304: glass troughs for the DCE stocks",
    )
    miss = diazflow(project, "validate", PROTOCOL)
    hit = diazflow(project, "validate", PROTOCOL)
    assert not miss.cached and hit.cached
    assert "DF304 (1 warning): glass troughs for the DCE stocks" in miss.stderr
    assert (hit.returncode, hit.stdout, hit.stderr) == (miss.returncode, miss.stdout, miss.stderr)


@pytest.mark.parametrize("output_format", ["text", "github", "junit"])
def test_a_run_hit_prints_what_a_miss_prints(project, output_format):
    common = ("--quiet", "--format", output_format)
    miss = diazflow(project, "run", PROTOCOL, "--journal", "miss.sqlite", *common)
    hit = diazflow(project, "run", PROTOCOL, "--journal", "hit.sqlite", *common)
    assert not miss.cached and hit.cached
    assert (hit.returncode, hit.stderr) == (miss.returncode, miss.stderr)
    assert "DF304" in hit.stderr
    assert hit.stdout.replace("hit.sqlite", "J") == miss.stdout.replace("miss.sqlite", "J")


def test_a_cache_folder_inside_the_project_still_sees_the_projects_files(project):
    """DIAZFLOW_CACHE_DIR may be the project itself: only the cache's own folders are left out
    of an entry's dependencies."""
    env = cache_env(project)
    csv = project / "workflows" / "libraries" / "aldehydes_96.csv"
    kept = csv.read_bytes()
    csv.unlink()
    assert diazflow(project, "validate", PROTOCOL, env=env).returncode == 1
    assert diazflow(project, "validate", PROTOCOL, env=env).cached
    csv.write_bytes(kept)
    found = diazflow(project, "validate", PROTOCOL, env=env)
    assert not found.cached and found.returncode == 0
    assert len(entries(project)) == 1


def test_a_protocol_whose_check_loads_pint_is_stored_on_the_first_run(project):
    """An unknown unit loads pint, which makes its unit cache in the cache folder during the
    check: a folder that changed is no reason not to store (only a file that changed is)."""
    _edit(project / PROTOCOL, "amount: 50 umol", "amount: 50 furlongs")
    first = diazflow(project, "validate", PROTOCOL)
    assert first.returncode == 1 and "DF202" in first.stdout
    again = diazflow(project, "validate", PROTOCOL)
    assert again.cached and again.stdout == first.stdout
