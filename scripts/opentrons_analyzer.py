"""Make (once) the virtual environment with Opentrons' protocol analyzer and print its python.

    python scripts/opentrons_analyzer.py [VENV_DIR]

``.ci/run`` calls it and exports the printed path as ``DIAZFLOW_OPENTRONS_PYTHON``; the Opentrons
export tests call it when that variable is unset on a developer machine (under ``CI=1`` they fail
instead).  Without ``VENV_DIR`` the environment goes to
``${XDG_CACHE_HOME:-~/.cache}/diazflow/opentrons-analyzer-<hash of the requirements>``, so a change
to ``requirements/opentrons-analyzer.txt`` makes a new one.  ``DIAZFLOW_OPENTRONS_BASE_PYTHON``
chooses the interpreter (3.10-3.12; default: this one).  Concurrent callers (pytest-xdist workers)
wait for each other on a lock file.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements" / "opentrons-analyzer.txt"


def requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]


def default_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "diazflow" / f"opentrons-analyzer-{requirements_hash()}"


def ensure(venv: Path | None = None) -> Path:
    """The analyzer's python in ``venv`` (made and installed first if it is not complete)."""
    venv = Path(venv or default_dir()).resolve()
    python = venv / "bin" / "python"
    done = venv / ".diazflow-complete"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file() and done.read_text() == requirements_hash():
            return python
        base = os.environ.get("DIAZFLOW_OPENTRONS_BASE_PYTHON") or sys.executable
        # stdout carries only the python's path (.ci/run reads it): pip talks on stderr
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True, stdout=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
            check=True,
            stdout=sys.stderr,
        )
        done.write_text(requirements_hash())
    return python


if __name__ == "__main__":
    print(ensure(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
