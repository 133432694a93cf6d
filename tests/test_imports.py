"""What a command imports and starts (issue 19): ``validate`` never imports PyLabRobot, pint or
numpy (the unit table converts every unit a valid protocol writes), the command line starts no
OpenBLAS threads for the numpy that PyLabRobot brings into a run, and the garbage collector waits
until a run starts (diazflow/collection.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from conftest import REPO

PROBE = """
import atexit, gc, os, sys
def report():
    threads = len(os.listdir('/proc/self/task'))
    loaded = ','.join(m for m in ('pylabrobot', 'pint', 'numpy') if m in sys.modules)
    sys.stderr.write('PROBE %s %d\\n' % (loaded or '-', threads))
    sys.stderr.write('GC %d %d\\n' % (gc.isenabled(), gc.get_freeze_count()))
atexit.register(report)
sys.argv = ['diazflow'] + sys.argv[1:]
from diazflow.cli import main
main()
"""

PLATE = str(REPO / "workflows" / "n4_direct_alkylation.yaml")


def _probe(args: list[str], env: dict[str, str]) -> tuple[set[str], int]:
    """The modules of interest a command loaded and the threads it had at exit."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("PROBE "))
    loaded, threads = line.split()[1:]
    return set(loaded.split(",")) - {"-"}, int(threads)


def _without_blas_setting() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}


def test_validate_imports_no_pylabrobot_no_pint_no_numpy():
    loaded, threads = _probe(["validate", PLATE], _without_blas_setting())
    assert loaded == set()
    assert threads == 1


def test_compile_imports_no_pylabrobot_no_pint_no_numpy(tmp_path):
    loaded, _ = _probe(["compile", PLATE, "-o", str(tmp_path / "plan.json")], os.environ.copy())
    assert loaded == set()


def test_a_simulated_run_starts_no_blas_threads(tmp_path):
    journal = str(tmp_path / "run.sqlite")
    args = ["run", PLATE, "--backend", "simulate", "--journal", journal, "--quiet"]
    loaded, threads = _probe(args, _without_blas_setting())
    assert loaded == {"pylabrobot", "numpy"}  # PyLabRobot imports numpy; pint stays out
    assert threads == 1


def test_a_users_blas_thread_setting_is_kept(tmp_path):
    # two threads asked for: the command line does not override the user's choice
    journal = str(tmp_path / "run.sqlite")
    args = ["run", PLATE, "--backend", "simulate", "--journal", journal, "--quiet"]
    loaded, threads = _probe(args, {**os.environ, "OPENBLAS_NUM_THREADS": "2"})
    assert "numpy" in loaded and threads == 2


def _collector_state(args: list[str]) -> tuple[bool, int]:
    """Whether the collector ran at a command's exit, and how many objects it had frozen."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("GC "))
    enabled, frozen = line.split()[1:]
    return enabled == "1", int(frozen)


def test_a_run_collects_garbage_once_started_up(tmp_path):
    journal = str(tmp_path / "run.sqlite")
    enabled, frozen = _collector_state(["run", PLATE, "--journal", journal, "--quiet"])
    # start-up's heap (modules, models, the deck) is frozen; the run itself is collected as usual
    assert enabled
    assert frozen > 100_000


def test_validate_defers_collection_to_its_exit():
    enabled, frozen = _collector_state(["validate", PLATE])
    assert not enabled and frozen == 0


def test_library_use_keeps_pythons_collector_policy():
    from diazflow import collection

    assert gc.isenabled()
    collection.settle()  # without defer(): nothing to undo, nothing frozen
    assert gc.isenabled() and gc.get_freeze_count() == 0
