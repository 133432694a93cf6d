"""What a command imports and starts (issue 19): ``validate`` never imports PyLabRobot, pint or
numpy (the unit table converts every unit a valid protocol writes), and the command line starts no
OpenBLAS threads for the numpy that PyLabRobot brings into a run."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

PROBE = """
import atexit, os, sys
def report():
    threads = len(os.listdir('/proc/self/task'))
    loaded = ','.join(m for m in ('pylabrobot', 'pint', 'numpy') if m in sys.modules)
    sys.stderr.write('PROBE %s %d\\n' % (loaded or '-', threads))
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
