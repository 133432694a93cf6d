"""What a command imports and starts (issue 19): ``validate`` never imports PyLabRobot, and the
command line starts no OpenBLAS threads for the numpy that pint brings in."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

PROBE = """
import atexit, os, sys
def report():
    threads = len(os.listdir('/proc/self/task'))
    sys.stderr.write('PROBE %s %s %d\\n' % ('pylabrobot' in sys.modules, 'numpy' in sys.modules, threads))
atexit.register(report)
sys.argv = ['diazflow', 'validate', sys.argv[1]]
from diazflow.cli import main
main()
"""


def _probe(env: dict[str, str]) -> tuple[bool, bool, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "workflows" / "n4_direct_alkylation.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("PROBE "))
    plr, numpy, threads = line.split()[1:]
    return plr == "True", numpy == "True", int(threads)


def test_validate_imports_no_pylabrobot_and_starts_no_blas_threads():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    plr, numpy, threads = _probe(env)
    assert not plr
    assert numpy  # pint imports it: the thread setting matters
    assert threads == 1


def test_a_users_blas_thread_setting_is_kept():
    # two threads asked for: the command line does not override the user's choice
    plr, numpy, threads = _probe({**os.environ, "OPENBLAS_NUM_THREADS": "2"})
    assert numpy and threads == 2
