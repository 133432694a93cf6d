"""``wait_temperature`` polls a simulated block once per simulated second; after the first poll
of a wait has gone through PyLabRobot (and any injected fault has had its chance to fire) the
executor reads the block's model directly (runtime/executor.py, ``_simulated_block``, ``_quiet_polls``): the
journal is the same as when every poll goes through PLR."""

from __future__ import annotations

from pathlib import Path

from diazflow.compiler.plan import WaitTemperature
from diazflow.runtime.faults import FaultPlan
from helpers import journal_rows

REPO = Path(__file__).resolve().parents[1]
# cools to 4 °C, then warms to 22 °C as a controlled ramp over 60 min
WORKFLOW = REPO / "workflows" / "n4_direct_alkylation.yaml"


def _run(
    journal: Path, monkeypatch, direct: bool, fault: str | None = None
) -> tuple[list[tuple], list[tuple], int]:
    """Events (without wall time and the process id) and device records of a simulated run,
    and how many temperature reads went through PLR's frontend."""
    from pylabrobot.temperature_controlling.temperature_controller import TemperatureController

    import diazflow.runtime.executor as executor
    from diazflow.pipeline import check
    from diazflow.runtime.runner import run_plan

    reads = 0
    original = TemperatureController.get_temperature

    async def counted(self):
        nonlocal reads
        reads += 1
        return await original(self)

    monkeypatch.setattr(TemperatureController, "get_temperature", counted)
    if not direct:
        monkeypatch.setattr(executor, "_simulated_block", lambda machine, clock: None)
    result = check(str(WORKFLOW))
    assert result.plan is not None
    faults = None
    if fault is not None:  # on the first wait for a temperature
        first = next(op for op in result.plan.operations if isinstance(op, WaitTemperature))
        faults = FaultPlan({first.id: fault})
    outcome = run_plan(
        result, journal_path=str(journal), quiet=True, notify=lambda _: None, faults=faults
    )
    assert outcome.exit_code == (0 if fault is None else 3), outcome.message
    events, records = journal_rows(journal)
    return events, records, reads


def test_direct_reads_of_a_simulated_block_give_the_same_journal(tmp_path, monkeypatch):
    direct = _run(tmp_path / "direct.sqlite", monkeypatch, True)
    monkeypatch.undo()
    through_plr = _run(tmp_path / "plr.sqlite", monkeypatch, False)
    assert direct[:2] == through_plr[:2]
    waits = [e for e in direct[0] if e[2] == "op_completed" and "celsius_reached" in (e[4] or "")]
    assert len(waits) >= 2
    # every poll went through PLR without the direct reading: thousands, against a few per wait
    assert through_plr[2] > 1000
    assert direct[2] < through_plr[2] / 20


def test_a_block_that_stalls_times_out_the_same_way(tmp_path, monkeypatch):
    direct = _run(tmp_path / "direct.sqlite", monkeypatch, True, "temperature_timeout")
    monkeypatch.undo()
    through_plr = _run(tmp_path / "plr.sqlite", monkeypatch, False, "temperature_timeout")
    assert direct[:2] == through_plr[:2]
    failed = [e for e in direct[0] if e[2] == "op_failed"]
    assert len(failed) == 1 and "did not reach" in failed[0][4]
