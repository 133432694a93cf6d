"""Shared fixtures.  Keep this file small: helpers used by one test module live in that module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# ord-schema 0.9 (the 'ord' extra) supports Python 3.11+ only, so on 3.10 there is no ORD export
# to test: test_cli_ux.py checks the one-line refusal a 3.10 user gets instead.
collect_ignore = ["test_export_ord.py"] if sys.version_info < (3, 11) else []
REPO = TESTS.parent

# The suite tests the real pipeline: the result cache (docs/cache.md) is off for every command the
# tests run, in process or in a subprocess; tests/test_cache.py switches it on where it tests it.
os.environ["DIAZFLOW_NO_CACHE"] = "1"
PROTOCOLS = TESTS / "data" / "protocols"
BASE_PROTOCOL = PROTOCOLS / "reductive_amination.yaml"  # valid; inline library by column


def locate(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the ``nth`` occurrence of ``needle`` in ``text``."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


@dataclass(frozen=True)
class Variant:
    """A protocol written to a temporary directory (with a copy of the test libraries)."""

    path: Path
    text: str

    def at(self, needle: str, nth: int = 0) -> tuple[int, int]:
        return locate(self.text, needle, nth)


@pytest.fixture
def protocol_dir(tmp_path: Path) -> Path:
    """A temporary directory holding a copy of tests/data/protocols/libraries/."""
    shutil.copytree(PROTOCOLS / "libraries", tmp_path / "libraries")
    return tmp_path


@pytest.fixture
def write_protocol(protocol_dir: Path):
    """``write_protocol(text, name="protocol.yaml") -> Variant``."""

    def write(text: str | bytes, name: str = "protocol.yaml") -> Variant:
        path = protocol_dir / name
        if isinstance(text, bytes):
            path.write_bytes(text)
            return Variant(path, text.decode("utf-8", "replace"))
        path.write_text(text, encoding="utf-8")
        return Variant(path, text)

    return write


@pytest.fixture
def variant(write_protocol):
    """``variant(old, new, base=BASE_PROTOCOL, count=1) -> Variant``: a valid protocol with one
    text edit; the test then asks ``v.at(needle)`` where the defect is, instead of hard-coding
    line numbers that would drift when the base protocol changes."""

    def make(
        old: str, new: str, base: Path = BASE_PROTOCOL, count: int = 1, name: str = "protocol.yaml"
    ) -> Variant:
        text = base.read_text(encoding="utf-8")
        assert text.count(old) >= count, f"{old!r} is not in {base.name}"
        return write_protocol(text.replace(old, new, count), name)

    return make


def diazflow_command() -> list[str]:
    """The installed ``diazflow`` script next to this interpreter, else ``python -m diazflow.cli``."""
    script = Path(sys.executable).with_name("diazflow.exe" if os.name == "nt" else "diazflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "diazflow.cli"]


@pytest.fixture
def run_diazflow():
    """``run_diazflow(*args, cwd=None) -> CompletedProcess`` in a fresh process (text mode)."""

    def run(
        *args: str, cwd: str | Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        env = dict(os.environ, NO_COLOR="1", PYTHONIOENCODING="utf-8")
        return subprocess.run(
            [*diazflow_command(), *map(str, args)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
        )

    return run
