"""Outputs never damage what the user owns: devices, FIFOs, directories, symlinks and the command's
own inputs are refused (exit 2, no traceback), permissions are kept, nothing partial is left, and a
planted symlink at a temporary name cannot redirect a write."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from conftest import REPO
from diazflow.outputs import OutputError, check_output_path, write_output


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    """A seed workflow with its library, naming a built-in deck, in a directory of its own."""
    (tmp_path / "libraries").mkdir()
    shutil.copy2(
        REPO / "workflows" / "libraries" / "michael_acceptors_24.csv", tmp_path / "libraries"
    )
    text = (REPO / "workflows" / "n4_michael_addition.yaml").read_text()
    path = tmp_path / "michael.yaml"
    path.write_text(re.sub(r"(?m)^deck: .*$", "deck: ot2_tempmodule", text))
    return path


def _listing(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_writes_a_new_file_with_the_umask_mode(tmp_path):
    target = tmp_path / "plan.json"
    write_output(str(target), "{}\n")
    assert target.read_text() == "{}\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert _listing(tmp_path) == {"plan.json"}


def test_keeps_the_mode_of_an_existing_file(tmp_path):
    target = tmp_path / "secret.json"
    target.write_text("old")
    target.chmod(0o600)
    write_output(str(target), "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_refuses_fifo_directory_and_symlink(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    real = tmp_path / "real.txt"
    real.write_text("keep me")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    for path, words in ((fifo, "not a regular file"), (tmp_path, "a directory"), (link, "link")):
        with pytest.raises(OutputError) as info:
            write_output(str(path), "x")
        assert words in info.value.message
    assert real.read_text() == "keep me" and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert link.is_symlink()


def test_refuses_an_input_also_through_another_name(tmp_path):
    source = tmp_path / "protocol.yaml"
    source.write_text("diazflow: 1\n")
    (tmp_path / "sub").mkdir()
    other_name = tmp_path / "sub" / ".." / "protocol.yaml"
    hard_link = tmp_path / "hard.yaml"
    os.link(source, hard_link)
    for path in (source, other_name, hard_link):
        with pytest.raises(OutputError, match="input of this command"):
            check_output_path(str(path), [str(source)])
    assert source.read_text() == "diazflow: 1\n"


def test_a_planted_symlink_at_the_old_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    # the name the previous implementation used, predictable from the pid
    (tmp_path / f".out.json.tmp-{os.getpid()}").symlink_to(victim)
    write_output(str(tmp_path / "out.json"), "plan")
    assert victim.read_text() == "precious"
    assert (tmp_path / "out.json").read_text() == "plan"


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "plan.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputError, match="No space left"):
        write_output(str(target), "new")
    assert target.read_text() == "old"
    assert _listing(tmp_path) == {"plan.json"}


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        write_output(str(tmp_path / "no" / "such" / "plan.json"), "x")
    assert _listing(tmp_path) == set()


def test_cli_refuses_to_overwrite_inputs_and_special_files(workflow, run_diazflow, tmp_path):
    library = workflow.parent / "libraries" / "michael_acceptors_24.csv"
    protocol_before = workflow.read_text()
    library_before = library.read_text()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    attempts = [
        ("compile", str(workflow), "-o", str(workflow)),
        ("compile", str(workflow), "-o", str(library)),
        ("report", str(workflow), "-o", str(workflow)),
        ("compile", str(workflow), "-o", str(fifo)),
        ("schema", "-o", str(fifo)),
    ]
    for args in attempts:
        proc = run_diazflow(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: "), proc.stderr
    assert workflow.read_text() == protocol_before and library.read_text() == library_before
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    # the same command with a good output path works
    good = run_diazflow("compile", str(workflow), "-o", str(tmp_path / "plan.json"), cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert (tmp_path / "plan.json").read_text().startswith("{")


def test_compile_refuses_to_overwrite_a_simulator_profile_the_deck_reads(run_diazflow, tmp_path):
    # every file the plan was compiled from is an input -o must not replace, the deck's
    # simulator profiles too (they shape its timings), not only the protocol, libraries and deck
    for folder in ("workflows", "deck_layouts", "simulators"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    profile = tmp_path / "simulators" / "hamilton_starlet.yaml"
    before = profile.read_text()
    workflow = tmp_path / "workflows" / "n4_reductive_amination_stab.yaml"
    proc = run_diazflow("compile", str(workflow), "-o", str(profile), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is an input of this command" in proc.stderr
    assert profile.read_text() == before
