"""The deck layouts that ship with diazflow, found by name (``--deck starlet_chem``).

In the repository they live at the top level (``deck_layouts/``, ``simulators/``); the wheel
carries them as the packages ``diazflow.deck_layouts`` and ``diazflow.simulators`` (see
``[tool.setuptools.package-dir]`` in pyproject.toml), side by side as in the repository, so the
layouts' relative profile paths (``../simulators/...``) hold in both.  A deck reference that is a
bare name (no directory, no ``.yaml``) means a built-in layout; anything else is a path.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

LAYOUT_SUFFIXES = (".yaml", ".yml")


def builtin_layouts_dir() -> Path:
    """The directory of the built-in layouts, in an installed wheel or in a source checkout."""
    packaged = Path(str(resources.files("diazflow"))) / "deck_layouts"
    if packaged.is_dir():
        return packaged
    # a source checkout (editable install, or PYTHONPATH=src): the repository's own folder
    return Path(__file__).resolve().parents[3] / "deck_layouts"


def builtin_deck_names() -> tuple[str, ...]:
    """Names of the built-in layouts (the file names without ``.yaml``), sorted."""
    directory = builtin_layouts_dir()
    if not directory.is_dir():
        return ()
    return tuple(
        sorted(p.stem for p in directory.iterdir() if p.suffix in LAYOUT_SUFFIXES and p.is_file())
    )


def is_builtin_reference(reference: str) -> bool:
    """A bare name such as ``starlet_chem``: no directory part and no YAML suffix."""
    return (
        os.sep not in reference and "/" not in reference and not reference.endswith(LAYOUT_SUFFIXES)
    )


def builtin_deck_path(name: str) -> Path | None:
    """The layout file of the built-in deck ``name``, or None if there is no such deck."""
    if not name or not is_builtin_reference(name):
        return None
    directory = builtin_layouts_dir()
    for suffix in LAYOUT_SUFFIXES:
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None
