"""The package works outside this repository: a wheel, built as a user's pip would build it, holds
the code, the built-in deck layouts, the simulator profiles, the data and the licences, and its
``diazflow`` validates, compiles and lists decks from an empty directory with no repository near."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import diazflow
from conftest import REPO

# What a wheel is built from: the files a clean clone has (nothing generated, no caches).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src", "deck_layouts", "simulators")
DATA_SUFFIXES = {".json", ".yaml", ".csv"}


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy2(source, dest / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    _copy_sources(tree)
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with the setuptools of this environment (the test extra), offline
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(tree),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (built,) = out.glob("diazflow-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed (not editable) into a directory of its own, dependencies from here."""
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
        + ["--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return target


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _expected_files() -> set[str]:
    """Every module and data file of the source tree, where the wheel must carry it."""
    expected = set()
    src = REPO / "src" / "diazflow"
    for path in src.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix == ".py" or path.suffix in DATA_SUFFIXES or path.name == "py.typed":
            expected.add("diazflow/" + path.relative_to(src).as_posix())
    for folder in ("deck_layouts", "simulators"):
        for path in (REPO / folder).rglob("*.yaml"):
            expected.add(f"diazflow/{folder}/" + path.relative_to(REPO / folder).as_posix())
    return expected


def test_wheel_holds_code_decks_profiles_and_data(wheel):
    names = _names(wheel)
    missing = sorted(_expected_files() - names)
    assert not missing, f"not in the wheel: {missing}"
    # the layouts and profiles sit side by side, so '../simulators/x.yaml' resolves inside it
    assert "diazflow/deck_layouts/starlet_chem.yaml" in names
    assert "diazflow/simulators/hamilton_starlet.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "workflows/", "bench/"))]


def test_wheel_carries_the_licences_and_metadata(wheel):
    names = _names(wheel)
    dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    licences = {n for n in names if n.startswith(f"{dist_info}/licenses/")}
    assert any(n.endswith("/LICENSE") for n in licences), licences
    # the Opentrons labware definitions are Apache-2.0: their licence travels with them
    assert any(n.endswith("LICENSE-opentrons-shared-data") for n in licences), licences
    assert "diazflow/deck/opentrons_labware/LICENSE-opentrons-shared-data" in names
    with zipfile.ZipFile(wheel) as zf:
        meta = Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        mit = zf.read(next(n for n in licences if n.endswith("/LICENSE"))).decode()
    assert meta["Version"] == diazflow.__version__
    assert meta["License-Expression"] == "MIT" and "MIT License" in mit
    assert meta["Requires-Python"] == ">=3.10"
    assert any("Programming Language :: Python :: 3.10" == c for c in meta.get_all("Classifier"))
    assert meta.get_all("Project-URL")


def _run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(installed))
    return subprocess.run(
        [sys.executable, "-m", "diazflow", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_installed_wheel_works_from_an_empty_directory(installed, tmp_path):
    # a protocol that lives anywhere: a copy of a seed workflow and its library, no deck nearby
    work = tmp_path / "elsewhere"
    (work / "libraries").mkdir(parents=True)
    text = (REPO / "workflows" / "n4_reductive_amination_stab.yaml").read_text()
    text = re.sub(r"(?m)^deck: .*$", "deck: starlet_chem", text)
    (work / "stab.yaml").write_text(text)
    shutil.copy2(REPO / "workflows" / "libraries" / "aldehydes_96.csv", work / "libraries")
    env = dict(os.environ, PYTHONPATH=str(installed))
    where = subprocess.run(
        [sys.executable, "-c", "import diazflow; print(diazflow.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr

    version = _run_installed(installed, work, "--version")
    assert version.returncode == 0 and diazflow.__version__ in version.stdout

    decks = _run_installed(installed, work, "decks", "--json")
    assert decks.returncode == 0, decks.stderr
    listed = {row["name"]: row for row in json.loads(decks.stdout)}
    assert set(listed) >= {"starlet_chem", "ot2_tempmodule", "evo150_chem"}
    assert listed["starlet_chem"]["robot"] == "hamilton_starlet"
    assert Path(listed["starlet_chem"]["path"]).is_relative_to(installed)
    assert {m["kind"] for m in listed["ot2_tempmodule"]["modules"]} == {"temperature_controller"}

    # the protocol names its deck by name; --deck takes a name too
    for args in (["validate", "stab.yaml"], ["validate", "--deck", "ot2_tempmodule", "stab.yaml"]):
        proc = _run_installed(installed, work, *args)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "does not exist" not in proc.stdout, proc.stdout
    assert _run_installed(installed, work, "validate", "stab.yaml").returncode == 0

    compiled = _run_installed(installed, work, "compile", "stab.yaml", "-o", "plan.json")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    plan = json.loads((work / "plan.json").read_text())
    assert len(plan["wells"]) == 96

    unknown = _run_installed(installed, work, "validate", "--deck", "starlet", "stab.yaml")
    assert unknown.returncode == 1 and "DF525" in unknown.stdout
    assert "did you mean the built-in deck 'starlet_chem'" in unknown.stdout
