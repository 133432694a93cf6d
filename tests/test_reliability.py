"""Reliability (issue 14): the attacks of the adversarial round, one test each.

Every file-system attack runs in a temporary directory on its own copy of a project (protocol,
CSV library, deck layout, simulator profiles), never on real device nodes.  The runs are the
real ``diazflow`` command in a subprocess, as a user would type it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNTIME_PROTOCOL = REPO / "tests" / "data" / "runtime" / "starlet_dropwise_16.yaml"


# --------------------------------------------------------------------------- helpers


def cli(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diazflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def no_traceback(out: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in out.stderr + out.stdout, out.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A self-contained project: the 16-well runtime protocol with its library as a CSV file,
    the STARlet layout and the simulator profiles it reads."""
    root = tmp_path / "project"
    (root / "deck_layouts").mkdir(parents=True)
    shutil.copy(REPO / "deck_layouts" / "starlet_chem.yaml", root / "deck_layouts")
    shutil.copytree(REPO / "simulators", root / "simulators")
    text = RUNTIME_PROTOCOL.read_text(encoding="utf-8")
    text = text.replace("deck: ../../../deck_layouts/", "deck: deck_layouts/")
    text = re.sub(
        r"  halides:\n    by: column\n    items:\n[^\n]*\n[^\n]*\n",
        "  halides:\n    csv: halides.csv\n",
        text,
    )
    assert "csv: halides.csv" in text
    (root / "protocol.yaml").write_text(text, encoding="utf-8")
    rows = ["well,name,smiles"]
    for row in "ABCDEFGH":
        rows.append(f"{row}1,benzyl bromide,BrCc1ccccc1")
        rows.append(f"{row}2,4-fluorobenzyl bromide,BrCc1ccc(F)cc1")
    (root / "halides.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def completed_ops(journal: Path) -> list[int]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as c:
        return sorted(
            r[0] for r in c.execute("SELECT op_id FROM events WHERE event = 'op_completed'")
        )


def killed_run(project: Path, journal: Path, op: int = 40) -> None:
    """A run SIGKILLed by itself the moment operation ``op`` has started."""
    out = cli(
        "run",
        "protocol.yaml",
        "--journal",
        str(journal),
        "--quiet",
        cwd=project,
        env={"DIAZFLOW_TEST_CRASH": f"{op}:started"},
    )
    assert out.returncode == -signal.SIGKILL, out.stderr


def start_slow_run(project: Path, journal: Path, delay: str = "0.05") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "diazflow.cli", "run", "protocol.yaml", "--journal", str(journal)]
        + ["--quiet"],
        cwd=project,
        env={**os.environ, "DIAZFLOW_TEST_OP_DELAY": delay},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_ops(journal, 3, proc)
    return proc


def wait_for_ops(journal: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if len(completed_ops(journal)) >= n:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.02)
    raise AssertionError(f"the run did not reach {n} operations (exit {proc.poll()})")


# --------------------------------------------------------------------------- journals: the lock


def test_deleting_files_beside_a_live_journal_does_not_let_a_second_run_in(project):
    journal = project / "live.sqlite"
    proc = start_slow_run(project, journal)
    try:
        # the old lock was a separate '<journal>.lock' file: deleting it let a resume run alongside
        lock_file = project / "live.sqlite.lock"
        if lock_file.exists():
            lock_file.unlink()
        out = cli("resume", str(journal), "--quiet", cwd=project)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "in use by a running diazflow process" in out.stderr
        state = json.loads(cli("journal", str(journal), "--json", cwd=project).stdout)
        assert state["status"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert json.loads(cli("journal", str(journal), "--json", cwd=project).stdout)["status"] == (
        "interrupted"
    )


# --------------------------------------------------------------------------- journals: one file


def test_a_killed_runs_journal_copied_alone_keeps_every_completed_operation(project, tmp_path):
    journal = project / "killed.sqlite"
    killed_run(project, journal, op=40)
    done = completed_ops(journal)
    assert len(done) >= 30
    copy_dir = tmp_path / "elsewhere"
    copy_dir.mkdir()
    shutil.copy(journal, copy_dir / "copy.sqlite")  # the database file only, no sidecar
    assert completed_ops(copy_dir / "copy.sqlite") == done
    # and resuming the copy finishes the run without repeating one of them
    out = cli("resume", str(copy_dir / "copy.sqlite"), "--quiet", cwd=project)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(copy_dir / "copy.sqlite") as c:
        completions = [
            r[0] for r in c.execute("SELECT op_id FROM events WHERE event = 'op_completed'")
        ]
    assert len(completions) == len(set(completions))


# --------------------------------------------------------------------------- journals: --journal X


def test_journal_path_never_touches_files_that_are_not_its_own(project):
    target = project / "x.sqlite"
    lock = project / "x.sqlite.lock"
    lock.write_text("somebody else's file\n")
    out = cli("run", "protocol.yaml", "--journal", str(target), "--quiet", cwd=project)
    assert out.returncode == 0, out.stderr
    assert lock.read_text() == "somebody else's file\n"

    planted = project / "y.sqlite-wal"
    planted.write_bytes(b"not yours")
    out = cli("run", "protocol.yaml", "--journal", str(project / "y.sqlite"), cwd=project)
    assert out.returncode == 2 and "y.sqlite-wal" in out.stderr
    no_traceback(out)
    assert planted.read_bytes() == b"not yours" and not (project / "y.sqlite").exists()

    dangling = project / "z.sqlite"
    dangling.symlink_to(project / "nowhere" / "target.sqlite")
    out = cli("run", "protocol.yaml", "--journal", str(dangling), cwd=project)
    assert out.returncode == 2 and "symbolic link" in out.stderr
    assert not (project / "nowhere").exists()


@pytest.fixture
def small_tmpfs(tmp_path: Path, request):
    """A small tmpfs (256 KiB, or the test's ``tmpfs_size`` mark); only root can mount one,
    elsewhere the test is skipped."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mark = request.node.get_closest_marker("tmpfs_size")
    size = mark.args[0] if mark else "256k"
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def new_journal_at(path: Path, project: Path, plan_json: str = "{}"):
    from diazflow.runtime.journal import Journal

    return Journal.create(
        str(path),
        plan_json=plan_json,
        protocol_path=str(project / "protocol.yaml"),
        deck_path=str(project / "deck_layouts" / "starlet_chem.yaml"),
        vessel_labware="reaction_block",
        backend="simulate",
        speed=None,
    )


def test_a_journal_whose_creation_failed_does_not_block_its_path(project, small_tmpfs):
    from diazflow.runtime.journal import JournalError

    path = small_tmpfs / "full.sqlite"
    with pytest.raises(JournalError, match="cannot create the journal"):
        new_journal_at(path, project, plan_json="x" * 400_000)  # larger than the disk
    assert sorted(os.listdir(small_tmpfs)) == []
    new_journal_at(path, project).close()  # the path is free again


# --------------------------------------------------------------------------- journals: foreign files


def test_journal_refuses_foreign_files_without_touching_them(tmp_path):
    foreign = tmp_path / "notes.db"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE notes (text TEXT)")
        c.execute("INSERT INTO notes VALUES ('mine')")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for path in (foreign, empty):
        before = path.read_bytes()
        for command in (("journal", str(path)), ("resume", str(path))):
            out = cli(*command, cwd=tmp_path)
            assert out.returncode == 2, (command, out.stderr)
            assert "is not a diazflow journal" in out.stderr
            no_traceback(out)
        assert path.read_bytes() == before  # not switched to WAL, not made a database
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "notes.db"]


# --------------------------------------------------------------------------- journals: resume


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    "edited",
    [
        ("protocol.yaml", "room_temperature: 22 degC", "room_temperature: 23 degC"),
        ("halides.csv", "A1,benzyl bromide", "A1,benzyl chloride"),
        ("simulators/starlet_heater_cooler_shaker.yaml", "\n", "\n# edited\n"),
    ],
    ids=["protocol", "csv-library", "simulator-profile"],
)
def test_resume_refuses_a_changed_input_unless_told_to_use_the_recorded_plan(project, edited):
    journal = project / "changed.sqlite"
    killed_run(project, journal, op=25)
    name, old, new = edited
    _edit(project / name, old, new)
    out = cli("resume", str(journal), "--quiet", cwd=project)
    assert out.returncode == 2, out.stdout + out.stderr
    assert name.split("/")[-1] in out.stderr and "--use-recorded-plan" in out.stderr
    no_traceback(out)
    assert completed_ops(journal) == list(range(len(completed_ops(journal))))  # untouched
    out = cli("resume", "--use-recorded-plan", str(journal), "--quiet", cwd=project)
    assert out.returncode == 0, out.stderr
    state = json.loads(cli("journal", str(journal), "--json", cwd=project).stdout)
    assert state["status"] == "complete"


# --------------------------------------------------------------------------- journals: damage


def _finished_journal(project: Path, name: str) -> Path:
    journal = project / name
    out = cli("run", "protocol.yaml", "--journal", str(journal), "--quiet", cwd=project)
    assert out.returncode == 0, out.stderr
    return journal


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 8, len(data), 997):  # past page 1 (the header stays valid)
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_events(path: Path) -> None:
    with sqlite3.connect(path) as c:
        c.execute("DROP TABLE events")


def _bad_json(path: Path) -> None:
    with sqlite3.connect(path) as c:
        c.execute("UPDATE events SET data = '{not json' WHERE event = 'op_completed'")


def _bad_plan(path: Path) -> None:
    with sqlite3.connect(path) as c:
        c.execute("UPDATE run SET plan_json = '{\"operations\": 7}'")


@pytest.mark.parametrize(
    "damage",
    [_flip_bytes, _drop_events, _bad_json, _bad_plan],
    ids=["flipped-bytes", "missing-table", "bad-json", "bad-plan"],
)
def test_a_damaged_journal_is_an_error_message_with_exit_2(project, damage):
    journal = _finished_journal(project, f"{damage.__name__}.sqlite")
    with sqlite3.connect(journal) as c:  # so that resume has something to do
        c.execute("UPDATE run SET status = 'running'")
    damage(journal)
    for command in (
        ("journal", str(journal)),
        ("journal", str(journal), "--json"),
        ("resume", str(journal), "--quiet"),
        ("report", str(journal), "-o", str(project / "r.html")),
    ):
        out = cli(*command, cwd=project)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        assert "damaged" in out.stderr or "not a diazflow journal" in out.stderr, out.stderr
        no_traceback(out)


def test_reading_a_journal_changes_nothing_and_works_in_a_read_only_place(project, tmp_path):
    journal = _finished_journal(project, "done.sqlite")
    before = (journal.read_bytes(), sorted(os.listdir(project)))
    assert cli("journal", str(journal), "--json", cwd=project).returncode == 0
    assert cli("report", str(journal), "-o", str(tmp_path / "r.html"), cwd=project).returncode == 0
    assert (journal.read_bytes(), sorted(os.listdir(project))) == before
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (a 0555 directory stops only non-root)")
    place = tmp_path / "ro"
    place.mkdir()
    shutil.copy(journal, place / "done.sqlite")
    if subprocess.run(["mount", "--bind", str(place), str(place)]).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(place)], check=True)
        out = cli("journal", str(place / "done.sqlite"), "--json", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["status"] == "complete"
    finally:
        subprocess.run(["umount", "-l", str(place)], check=False)


# --------------------------------------------------------------------------- signals


def _events(journal: Path) -> list[str]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as c:
        return [r[0] for r in c.execute("SELECT event FROM events ORDER BY seq")]


def _wait_for_event(journal: Path, event: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if event in _events(journal):
                return
        except sqlite3.Error:
            pass
        time.sleep(0.005)
    raise AssertionError(f"no {event} in the journal (exit {proc.poll()})")


@pytest.mark.parametrize("phase", ["set-up", "running"])
@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT], ids=lambda s: s.name
)
def test_every_stop_signal_ends_the_run_journalled_with_128_plus_its_number(project, sig, phase):
    journal = project / f"{sig.name}-{phase}.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "diazflow.cli", "run", "protocol.yaml", "--journal", str(journal)]
        + ["--quiet"],
        cwd=project,
        # the virtual clock (no --speed); slowed so that the signal lands inside the run
        env={**os.environ, "DIAZFLOW_TEST_OP_DELAY": "0.03"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if phase == "set-up":
        _wait_for_event(journal, "run_started", proc)  # PyLabRobot is being imported and built
    else:
        wait_for_ops(journal, 3, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, out + err
    assert "Traceback" not in err
    assert f"run interrupted by {sig.name}" in err
    assert f"continue with: diazflow resume {journal}" in err
    events = _events(journal)
    assert events[-1] == "run_interrupted"
    if phase == "running":
        assert "safe_state" in events
    state = json.loads(cli("journal", str(journal), "--json", cwd=project).stdout)
    assert state["status"] == "interrupted"


def test_a_second_ctrl_c_waits_for_the_safe_state_and_the_run_resumes(project):
    journal = project / "twice.sqlite"
    proc = start_slow_run(project, journal)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "aborted" not in err and "Traceback" not in err
    events = _events(journal)
    assert events[-2:] == ["safe_state", "run_interrupted"]
    out = cli("resume", str(journal), "--quiet", cwd=project)
    assert out.returncode == 0, out.stderr
    done = completed_ops(journal)
    assert len(done) == len(set(done))


def test_a_signal_while_the_protocol_is_checked_ends_the_command_with_nothing_run(project):
    proc = subprocess.Popen(
        [sys.executable, "-m", "diazflow.cli", "run", "protocol.yaml", "--journal", "c.sqlite"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # once the command catches SIGTERM (Linux: /proc/PID/status), it is importing the pipeline
    # or checking the protocol: no journal yet
    deadline = time.monotonic() + 30
    while not _catches(proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert not (project / "c.sqlite").exists()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    assert "Traceback" not in err


def _catches(pid: int, sig: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
    return bool(caught & (1 << (sig - 1)))


# --------------------------------------------------------------------------- I/O errors


def test_a_journal_write_that_fails_mid_run_stops_it_safely_with_exit_3(
    project, tmp_path, monkeypatch
):
    """ENOSPC injected at the journal's write of a device record (works without root)."""
    import errno

    from diazflow.pipeline import check
    from diazflow.runtime import journal as journal_module
    from diazflow.runtime.journal import Journal
    from diazflow.runtime.runner import run_plan

    result = check(str(project / "protocol.yaml"))
    assert result.plan is not None
    write = Journal.device_action.__wrapped__  # the write itself, inside its error handling
    calls = {"n": 0}

    def device_action(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 20:  # once: the disk then has room for the failure record
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "device_action", journal_module._writing(device_action))
    messages: list[str] = []
    journal = tmp_path / "enospc.sqlite"
    outcome = run_plan(result, journal_path=str(journal), quiet=True, notify=messages.append)
    assert outcome.exit_code == 3
    assert "cannot write the journal" in outcome.message
    assert "No space left on device" in outcome.message
    assert "safe state" in outcome.message  # the block was cooling: it stays cold
    events = _events(journal)
    assert events[-2:] == ["safe_state", "run_failed"]  # this disk still takes the record
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("enospc")) == [
        "enospc.sqlite"
    ]


@pytest.mark.tmpfs_size("4m")
def test_a_full_disk_mid_run_is_exit_3_without_a_traceback_and_resumes(project, small_tmpfs):
    journal = small_tmpfs / "run.sqlite"
    proc = start_slow_run(project, journal, delay="0.03")
    filler = small_tmpfs / "filler"
    with open(filler, "wb", buffering=0) as fh:  # fill the disk while the run writes its journal
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, out + err
    assert "Traceback" not in err
    assert "cannot write the journal" in err and "full" in err
    assert f"continue with: diazflow resume {journal}" in err
    assert sorted(os.listdir(small_tmpfs)) == ["filler", "run.sqlite"]  # no temporary files
    filler.unlink()
    out = cli("resume", str(journal), "--quiet", cwd=project)
    assert out.returncode == 0, out.stderr
    done = completed_ops(journal)
    assert len(done) == len(set(done))


# --------------------------------------------------------------------------- input limits


@pytest.mark.parametrize("which", ["protocol", "csv", "deck"])
def test_a_fifo_as_an_input_is_refused_without_reading_it(project, which):
    fifo = project / f"fifo.{'csv' if which == 'csv' else 'yaml'}"
    os.mkfifo(fifo)
    target = "protocol.yaml"
    if which == "protocol":
        target = fifo.name
    elif which == "csv":
        _edit(project / "protocol.yaml", "csv: halides.csv", "csv: fifo.csv")
    else:
        _edit(project / "protocol.yaml", "deck: deck_layouts/starlet_chem.yaml", "deck: fifo.yaml")
    for command in ("validate", "compile"):
        out = cli(command, target, cwd=project, timeout=60)  # a FIFO used to block forever
        assert out.returncode == 1, (command, out.stdout, out.stderr)
        assert "not a regular file" in out.stdout + out.stderr
        no_traceback(out)


def test_a_huge_smiles_in_a_csv_library_is_a_diagnostic_not_a_crash(project):
    _edit(project / "halides.csv", "A1,benzyl bromide,BrCc1ccccc1", "A1,polymer," + "C" * 20_000)
    out = cli("validate", "protocol.yaml", cwd=project, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr  # was -11 (SIGSEGV inside RDKit)
    assert "DF205" in out.stdout and "20000 characters" in out.stdout


@pytest.mark.parametrize(
    "edit",
    [
        ("at: [30 min]", "at: []"),
        (
            "stir: {duration: 1 h, temperature: rt}",
            "stir: {duration: 1 h, temperature: 25 delta_degC}",
        ),
    ],
    ids=["sample-at-empty", "delta-temperature"],
)
def test_run_reports_what_validate_reports_without_a_traceback(project, edit):
    _edit(project / "protocol.yaml", *edit)
    validate = cli("validate", "protocol.yaml", cwd=project)
    run = cli("run", "protocol.yaml", "--journal", "x.sqlite", "--quiet", cwd=project)
    assert validate.returncode == 1 and run.returncode == 1, run.stderr
    no_traceback(run)
    codes_of = {
        line.split()[2].rstrip(":") for line in validate.stdout.splitlines() if ": error " in line
    }
    assert codes_of and "DF000" not in codes_of, validate.stdout  # proper diagnostics, not bugs
    assert all(code in run.stderr for code in codes_of), (codes_of, run.stderr)
    assert not (project / "x.sqlite").exists()


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "latin-1"},
        {"LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},
    ],
    ids=["latin-1", "C-locale"],
)
def test_8_bit_consoles_get_every_command_s_output(project, env):
    env = {k: v for k, v in env.items()}
    out = cli("compile", "protocol.yaml", cwd=project, env=env)
    assert out.returncode == 0, out.stderr
    assert "prepare before start" in out.stdout
    journal = project / "l.sqlite"
    killed_run(project, journal, op=40)
    out = cli("resume", str(journal), "--quiet", cwd=project, env=env)
    assert out.returncode == 0, out.stderr
    assert "run complete" in out.stdout


# --------------------------------------------------------------------------- validate = what run accepts


def test_sampling_into_the_reaction_block_is_refused_at_validate(project):
    _edit(project / "protocol.yaml", "into: sample_plate", "into: reaction_block")
    out = cli("validate", "protocol.yaml", cwd=project)
    assert out.returncode == 1
    assert "DF527" in out.stdout and "'sample_plate'" in out.stdout  # the hint names the plate


def test_a_sample_right_after_add_solvent_runs(project):
    """The sample used to be scheduled while add_solvent's tips were still on (HasTipError at
    run time); it now waits for the liquid handler, and the next step waits for the sample."""
    _edit(
        project / "protocol.yaml",
        "  - sample: {volume: 5 uL, into: sample_plate, at: [30 min]}\n",
        "",
    )
    _edit(
        project / "protocol.yaml",
        "  - add_solvent: {solvent: MeCN, volume: 55 uL}\n",
        "  - add_solvent: {solvent: MeCN, volume: 55 uL}\n"
        "  - sample: {volume: 5 uL, into: sample_plate, at: [0 min]}\n",
    )
    out = cli("run", "protocol.yaml", "--journal", "s.sqlite", "--quiet", cwd=project)
    assert out.returncode == 0, out.stderr
    from diazflow.compiler.plan import Plan

    with sqlite3.connect(project / "s.sqlite") as c:
        plan = Plan.from_json(c.execute("SELECT plan_json FROM run").fetchone()[0])
    handler = sorted(
        (op for op in plan.operations if op.device == "liquid_handler"), key=lambda o: (o.t, o.id)
    )
    for before, after in zip(handler, handler[1:], strict=False):  # one handler: no overlap
        assert after.t >= before.t + before.duration - 1e-6, (before, after)


# --------------------------------------------------------------------------- fuzzing validate → run

# Each knob of the runtime protocol and values a careless user might give it: plausible, extreme,
# wrong in unit or sign.  A mutant either gets diagnostics (never DF000) or runs to completion on
# the simulator: what validate accepts, run must do.
KNOBS: dict[str, tuple[str, list[str]]] = {
    "amount": ("amount: 50 umol", ["amount: 5 umol", "amount: 500 umol", "amount: 2 mmol"]),
    "concentration": ("concentration: 0.2 M", ["concentration: 0.05 M", "concentration: 2 M"]),
    "wells": ("wells: A1:H2", ["wells: A1", "wells: A1:H1", "wells: [A1, C2]", "wells: A1:B1"]),
    "solvent": (
        "add_solvent: {solvent: MeCN, volume: 55 uL}",
        [
            "add_solvent: {solvent: MeCN, volume: 1 uL}",
            "add_solvent: {solvent: MeCN, volume: 400 uL}",
            "add_solvent: {solvent: MeCN, volume: 5 mL}",
            "add_solvent: {solvent: MeCN, volume: -5 uL}",
        ],
    ),
    "cool": (
        "cool: {to: 0 degC}",
        ["cool: {to: -30 degC}", "cool: {to: 10 degC}", "cool: {to: 0 K}"],
    ),
    "dropwise": (
        "dropwise: 10-20 min",
        ["dropwise: 1-2 min", "dropwise: 2-3 h", "dropwise: 20-10 min", "dropwise: 0 min"],
    ),
    "warm": (
        "warm: {to: rt, over: 30 min}",
        ["warm: {to: rt, over: 1 min}", "warm: {to: 60 degC}"],
    ),
    "stir": (
        "stir: {duration: 1 h, temperature: rt}",
        [
            "stir: {duration: 1 min, temperature: rt}",
            "stir: {duration: 3 days, temperature: 40 degC}",
            "stir: {duration: 1 h, temperature: rt, speed: 1200 rpm}",
            "stir: {duration: 1 h, temperature: rt, speed: 5 Hz}",
        ],
    ),
    "sample": (
        "sample: {volume: 5 uL, into: sample_plate, at: [30 min]}",
        [
            "sample: {volume: 1 uL, into: sample_plate, at: [0 min, 59 min]}",
            "sample: {volume: 20 uL, into: sample_plate, every: 15 min}",
            "sample: {volume: 5 uL, into: sample_plate, at: [2 h]}",
            "sample: {volume: 5 uL, into: tips_50_1, at: [30 min]}",
        ],
    ),
    "equiv": ("equiv: 0.96", ["equiv: 0.1", "equiv: 3", "equiv: 0"]),
}


def _fuzz_settings():
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=int(os.environ.get("DIAZFLOW_FUZZ_RUNS", "30")),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def test_fuzzed_protocols_either_get_diagnostics_or_run_to_completion(project, tmp_path):
    from hypothesis import given
    from hypothesis import strategies as st

    from diazflow.pipeline import safe_check
    from diazflow.runtime.runner import run_plan

    base = (project / "protocol.yaml").read_text(encoding="utf-8")
    knob = st.sampled_from(sorted(KNOBS))
    mutants = st.dictionaries(knob, st.integers(min_value=0, max_value=3), min_size=1, max_size=3)
    counter = {"n": 0, "ran": 0}

    @_fuzz_settings()
    @given(mutants)
    def check(choice: dict[str, int]) -> None:
        text = base
        for name, index in choice.items():
            old, values = KNOBS[name]
            text = text.replace(old, values[index % len(values)])
        counter["n"] += 1
        path = project / f"fuzz{counter['n']}.yaml"
        path.write_text(text, encoding="utf-8")
        result = safe_check(str(path))
        codes = [d.code for d in result.diagnostics if d.is_error]
        assert "DF000" not in codes, (choice, [str(d) for d in result.diagnostics])
        if result.plan is None:
            assert codes, choice
            return
        started = time.monotonic()
        outcome = run_plan(
            result,
            journal_path=str(tmp_path / f"fuzz{counter['n']}.sqlite"),
            quiet=True,
            notify=lambda _line: None,
        )
        assert outcome.exit_code == 0, (choice, outcome.message)
        assert time.monotonic() - started < 60, choice
        counter["ran"] += 1

    check()
    assert counter["ran"] >= 5  # the fuzzing reached the simulator, not only the validator
