"""What a cached result depends on besides the files a check read: diazflow's own code and data,
the libraries that shape diagnostics and plans, the Python running them, and the environment.

Everything here runs on a cache hit, before any stage is imported: plain ``os`` and ``hashlib``
only (``importlib.metadata`` alone costs ~50 ms to import, so library versions are read from the
names of the ``*.dist-info`` directories on ``sys.path``, in import order).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from functools import lru_cache

# the libraries whose version can change a diagnostic's words or a plan's numbers: pydantic (the
# schema messages), PyYAML (syntax errors, positions), RDKit (structures), pint (the units outside
# diazflow's table), chemicals/thermo (the property data), PyLabRobot (deck geometry), numpy (pint)
SHAPING_DISTRIBUTIONS = (
    "pydantic",
    "pydantic_core",
    "pyyaml",
    "rdkit",
    "pint",
    "numpy",
    "chemicals",
    "thermo",
    "pylabrobot",
)

# environment variables that only steer the cache, the run (not its check) or the printing of
# results: every other DIAZFLOW_* variable is part of the key (a new one is safe by default)
NOT_SHAPING_ENV = frozenset(
    {
        "DIAZFLOW_CACHE_DIR",
        "DIAZFLOW_CACHE_MAX_MB",
        "DIAZFLOW_NO_CACHE",
        "DIAZFLOW_TIMINGS",
        "DIAZFLOW_NO_FAST_EXIT",
        "DIAZFLOW_JOURNAL_SYNC",
        "DIAZFLOW_INJECT_FAULT",
        "DIAZFLOW_TEST_CRASH",
        "DIAZFLOW_TEST_OP_DELAY",
        "DIAZFLOW_ORD_CREATOR",
    }
)

MISSING = "missing"
DIRECTORY = "dir"
SPECIAL = "special"  # a FIFO, device or socket: never hashed (a FIFO would block), never cached
_CHUNK = 1 << 20


def file_state(path: str) -> str:
    """What a result could have read at ``path``: the SHA-256 of a regular file's bytes,
    ``missing``, ``dir``, ``special``, or ``error:<errno>`` when it cannot be read (a later
    ``chmod`` changes the state, so the result is recomputed)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    except OSError as exc:
        return f"error:{exc.errno}"
    if stat.S_ISDIR(st.st_mode):
        return DIRECTORY
    if not stat.S_ISREG(st.st_mode):
        return SPECIAL
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        return f"error:{exc.errno}"
    return digest.hexdigest()


def package_root() -> str:
    import diazflow

    return os.path.dirname(os.path.abspath(diazflow.__file__))


def package_data_roots() -> list[str]:
    """The folders of diazflow's code and shipped data: the package, and in a source checkout
    (editable install) the repository's ``deck_layouts/`` and ``simulators/`` beside ``src/``
    (``diazflow.deck.builtin`` finds them the same way; a wheel has them inside the package)."""
    root = package_root()
    roots = [root]
    checkout = os.path.dirname(os.path.dirname(root))
    if not os.path.isdir(os.path.join(root, "deck_layouts")):
        roots += [os.path.join(checkout, name) for name in ("deck_layouts", "simulators")]
    return [r for r in roots if os.path.isdir(r)]


def package_digest() -> str:
    """SHA-256 over every file of diazflow's code and data (names and bytes; bytecode left out):
    an edit to any module, rule table or built-in deck changes it.  ~5 ms for ~110 files."""
    digest = hashlib.sha256()
    for root in package_data_roots():
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode("utf-8", "surrogateescape"))
                digest.update(b"\0" + file_state(path).encode() + b"\0")
    return digest.hexdigest()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def distribution_versions(names: tuple[str, ...] = SHAPING_DISTRIBUTIONS) -> dict[str, str]:
    """``{name: version}`` of the installed distributions that Python would import first (the
    first ``*.dist-info``/``*.egg-info`` on ``sys.path``); ``absent`` for one not installed."""
    wanted = {_canonical(n): n for n in names}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for item in listing:
            if not item.endswith((".dist-info", ".egg-info")):
                continue
            name, _, rest = item.rpartition(".")[0].partition("-")
            key = _canonical(name)
            if key in wanted and wanted[key] not in found:
                found[wanted[key]] = rest.split("-")[0]
    return {n: found.get(n, "absent") for n in names}


def shaping_environment() -> dict[str, str]:
    """The ``DIAZFLOW_*`` variables that are not known to leave a check's result alone."""
    return {
        k: v
        for k, v in sorted(os.environ.items())
        if k.startswith("DIAZFLOW_") and k not in NOT_SHAPING_ENV
    }


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """One digest of everything but the inputs: diazflow's files, the shaping libraries'
    versions, the Python implementation and version.  Computed once per process."""
    parts = {
        "python": sys.version,
        "implementation": sys.implementation.name,
        "platform": sys.platform,
        "package": package_digest(),
        "distributions": distribution_versions(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
