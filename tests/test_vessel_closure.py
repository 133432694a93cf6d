"""Vessel closure: the `seal`, `vent` and `unseal` steps, the checks that read the state at each
step (DF530-DF532, DF302/DF303, DF403), the plan's `set_closure` operations, and the runtime's
lid on PyLabRobot's deck."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from diazflow.compiler.plan import Dispense, SetClosure
from diazflow.language.loader import load_protocol
from diazflow.language.models import SealParams, UnsealParams, VentParams, step_params
from diazflow.pipeline import check
from helpers import codes, error_codes, line_of, write_protocol

# 16 vials on the STARlet: a Michael addition in MeCN (no gas, bp 81.6 °C), all liquids.
PROTOCOL = """\
diazflow: 1
name: closure test
deck: {deck:starlet_chem}
atmosphere: inert
vessels: {labware: reaction_block, wells: A1:H2}
scale: {limiting: diazepane, amount: 50 umol, concentration: 0.2 M, solvent: MeCN}
reagents:
  diazepane:
    name: 1-methyl-1,4-diazepane
    smiles: CN1CCCNCC1
    stock: {concentration: 1.0 M, solvent: MeCN}
  acrylate:
    name: methyl acrylate
    smiles: C=CC(=O)OC
    stock: {concentration: 1.0 M, solvent: MeCN}
steps:
  - add: {reagent: diazepane, equiv: 1.0}
  - add: {reagent: acrylate, equiv: 1.0}
  - add_solvent: {solvent: MeCN, to_concentration: 0.2 M}
  - seal:
  - stir: {duration: 2 h}
  - offdeck: Concentrate.
"""


def run(tmp_path, text, old=None, new=None):
    if old is not None:
        assert old in text, old
        text = text.replace(old, new)
    path = write_protocol(tmp_path, text)
    return path, check(str(path))


def find(result, code):
    found = [d for d in result.diagnostics if d.code == code]
    assert found, f"{code} not in {[str(d) for d in result.diagnostics]}"
    return found[0]


# --------------------------------------------------------------------------- language


def test_closure_steps_parse_bare_as_text_and_as_mappings(tmp_path):
    text = PROTOCOL.replace(
        "  - seal:\n",
        "  - seal:\n  - vent: Push a needle through each cap\n"
        "  - unseal: {message: Caps off, duration: 2 min}\n  - seal: {}\n",
    )
    path = write_protocol(tmp_path, text)
    result = load_protocol(str(path))
    assert result.ok, [str(d) for d in result.diagnostics]
    steps = [step_params(s) for s in result.loaded.protocol.steps[3:7]]
    assert [kind for kind, _ in steps] == ["seal", "vent", "unseal", "seal"]
    seal, vent, unseal, again = (params for _, params in steps)
    assert isinstance(seal, SealParams) and seal.message is None and seal.closure == "capped"
    assert isinstance(vent, VentParams) and vent.message == "Push a needle through each cap"
    assert vent.closure == "vented"
    assert isinstance(unseal, UnsealParams) and unseal.closure == "open"
    assert unseal.duration is not None and unseal.duration.value == 120.0
    assert again == SealParams()


def test_closure_step_errors_have_positions(tmp_path):
    path = write_protocol(tmp_path, PROTOCOL.replace("  - seal:\n", "  - seal: {mesage: x}\n"))
    result = load_protocol(str(path))
    d = next(d for d in result.diagnostics if d.code == "DF101")
    assert "mesage" in d.message and d.line == line_of(path, "mesage")
    assert d.column == line_text(path, "mesage").index("mesage") + 1
    path = write_protocol(tmp_path, PROTOCOL.replace("  - seal:\n", "  - vent: {duration: 5}\n"))
    d = next(d for d in load_protocol(str(path)).diagnostics if d.code == "DF201")
    assert d.line == line_of(path, "duration: 5")


def line_text(path, needle: str) -> str:
    return next(line for line in path.read_text().splitlines() if needle in line)


def test_schema_knows_the_closure_steps():
    from diazflow.language.schema import protocol_json_schema

    schema = protocol_json_schema()
    steps = {ref["$ref"] for ref in schema["properties"]["steps"]["items"]["oneOf"]}
    for kind, model in (("seal", "SealStep"), ("vent", "VentStep"), ("unseal", "UnsealStep")):
        assert f"#/$defs/{model}" in steps
        value = schema["$defs"][model]["properties"][kind]["anyOf"]
        assert {"type": "null"} in value and {
            "type": "string",
            "minLength": 1,
            "maxLength": 4000,
        } in value
        params = schema["$defs"][model.replace("Step", "Params")]
        assert set(params["properties"]) == {"message", "duration"}
        assert params["additionalProperties"] is False


# --------------------------------------------------------------------------- checks


def test_protocol_with_a_seal_is_clean(tmp_path):
    _, result = run(tmp_path, PROTOCOL)
    assert result.ok and not [d for d in result.diagnostics if d.code.startswith("DF53")]


def test_addition_into_capped_vials_is_an_error_at_the_step(tmp_path):
    path, result = run(
        tmp_path,
        PROTOCOL,
        "  - stir: {duration: 2 h}\n",
        "  - stir: {duration: 2 h}\n  - add: {reagent: acrylate, equiv: 0.1}\n",
    )
    d = find(result, "DF530")
    assert d.is_error and result.plan is None
    assert d.line == line_of(path, "equiv: 0.1") and d.column == 5  # at the step's key
    assert "capped" in d.message and f"since line {line_of(path, '- seal:')}" in d.message
    assert "unseal:" in d.hint
    # uncapping first makes it fine
    _, fine = run(
        tmp_path,
        PROTOCOL,
        "  - stir: {duration: 2 h}\n",
        "  - stir: {duration: 2 h}\n  - unseal:\n  - add: {reagent: acrylate, equiv: 0.1}\n",
    )
    assert "DF530" not in codes(fine) and fine.ok


def test_solid_by_hand_into_vented_vials_is_fine_a_sample_while_capped_is_not(tmp_path):
    """On the STARlet the operator weighs solids in by hand, uncapping each vial for its portion
    and recapping it; a tip still cannot pass a cap."""
    text = PROTOCOL.replace(
        "  acrylate:\n",
        '  k2co3: {name: potassium carbonate, smiles: "[K+].[K+].[O-]C([O-])=O", solid: {dispense: powder}}\n  acrylate:\n',
    )
    path, result = run(
        tmp_path,
        text,
        "  - seal:\n  - stir: {duration: 2 h}\n",
        "  - vent:\n  - add: {reagent: k2co3, equiv: 1.0}\n  - seal:\n  - stir: {duration: 2 h}\n"
        "  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}\n",
    )
    found = [d for d in result.diagnostics if d.code == "DF530"]
    assert [d.line for d in found] == [line_of(path, "sample:")]
    assert "a tip" in found[0].message and "capped" in found[0].message


def test_a_solid_for_a_driven_powder_dispenser_needs_open_vials(tmp_path):
    """needs_open: only the operator's hands pass a cap (no shipped deck drives a dispenser)."""
    from diazflow.binding.closure import needs_open
    from diazflow.language.models import AddParams

    loaded = load_protocol(str(write_protocol(tmp_path, POWDER_FIRST))).loaded
    assert loaded is not None
    protocol = loaded.protocol
    add = next(p for _, p in map(step_params, protocol.steps) if isinstance(p, AddParams))
    assert needs_open(add, protocol, solids_by_hand=False) == "a solid"
    assert needs_open(add, protocol, solids_by_hand=True) is None


def test_a_sample_reads_the_closure_of_the_step_it_samples_during(tmp_path):
    # the sample is taken during the open stir, before the vials are capped: fine
    _, result = run(
        tmp_path,
        PROTOCOL,
        "  - seal:\n  - stir: {duration: 2 h}\n",
        "  - stir: {duration: 2 h}\n  - sample: {volume: 5 uL, into: sample_plate, at: [1 h]}\n"
        "  - seal:\n",
    )
    assert "DF530" not in codes(result) and result.ok


def test_reflux_needs_capped_vials(tmp_path):
    path, open_vials = run(tmp_path, PROTOCOL, "  - seal:\n", "  - reflux: {duration: 1 h}\n")
    d = find(open_vials, "DF303")
    assert d.line == line_of(path, "reflux:") and "open at this step" in d.message
    _, vented = run(tmp_path, PROTOCOL, "  - seal:\n", "  - vent:\n  - reflux: {duration: 1 h}\n")
    assert "vented at this step" in find(vented, "DF303").message
    _, capped = run(tmp_path, PROTOCOL, "  - seal:\n", "  - seal:\n  - reflux: {duration: 1 h}\n")
    assert "DF303" not in codes(capped) and capped.ok


def test_boiling_needs_capped_vials_and_opening_hot_vials_is_reported(tmp_path):
    hot = "  - seal:\n  - heat: {to: 90 degC}\n"  # MeCN boils at 81.6 °C
    _, capped = run(tmp_path, PROTOCOL, "  - seal:\n", hot)
    assert "DF302" not in codes(capped) and capped.ok
    path, opened = run(tmp_path, PROTOCOL, "  - seal:\n", hot + "  - unseal:\n")
    d = find(opened, "DF302")
    assert d.line == line_of(path, "- unseal:") and "'unseal' at 90 °C" in d.message
    _, open_heat = run(tmp_path, PROTOCOL, "  - seal:\n", "  - heat: {to: 90 degC}\n")
    assert "open at this step" in find(open_heat, "DF302").message


def test_redundant_closure_step_warns_and_uncappable_labware_refuses(tmp_path):
    path, twice = run(tmp_path, PROTOCOL, "  - seal:\n", "  - seal:\n  - seal:\n")
    d = find(twice, "DF532")
    assert not d.is_error and twice.ok
    assert d.line == line_of(path, "- seal:") + 1 and "already" in d.message
    _, first_unseal = run(tmp_path, PROTOCOL, "  - seal:\n", "  - unseal:\n")
    assert "starts with the vessels open" in find(first_unseal, "DF532").message
    # a plate without caps: the OT-2 layout with its cap mat taken away
    from helpers import DECKS, REPO

    (tmp_path / "layouts").mkdir()
    (tmp_path / "simulators").mkdir()
    for profile in (REPO / "simulators").glob("*.yaml"):
        (tmp_path / "simulators" / profile.name).write_text(profile.read_text())
    deck = (
        (DECKS / "ot2_tempmodule.yaml")
        .read_text()
        .replace("    sealed: true ", "    sealed: false ")
    )
    deck = deck.replace("    pressure_rating: 0.2 bar\n", "")
    assert "sealed: false" in deck and "pressure_rating" not in deck
    (tmp_path / "layouts" / "open_ot2.yaml").write_text(deck)
    text = PROTOCOL.replace("{deck:starlet_chem}", str(tmp_path / "layouts" / "open_ot2.yaml"))
    path, ot2 = run(tmp_path, text)
    d = find(ot2, "DF531")
    assert d.is_error and d.line == line_of(path, "- seal:") and "sealed: true" in d.message
    assert "DF530" not in codes(ot2)  # the plate stays open: the later steps are not blamed


def test_gas_while_capped_warns_at_the_seal_and_venting_clears_it(tmp_path):
    boc = PROTOCOL.replace(
        "  acrylate:\n    name: methyl acrylate\n    smiles: C=CC(=O)OC\n",
        "  acrylate:\n    name: di-tert-butyl dicarbonate\n    smiles: CC(C)(C)OC(=O)OC(=O)OC(C)(C)C\n",
    )
    path, capped = run(tmp_path, boc)
    d = find(capped, "DF403")
    assert not d.is_error and d.line == line_of(path, "- seal:") and "carbon dioxide" in d.message
    _, vented = run(tmp_path, boc, "  - seal:\n", "  - vent:\n")
    assert "DF403" not in codes(vented) and vented.ok
    # capped, then vented at once: no step holds the gas
    _, at_once = run(tmp_path, boc, "  - seal:\n", "  - seal:\n  - vent:\n")
    assert "DF403" not in codes(at_once)
    # a protocol that ends capped leaves the gas in
    _, ends = run(
        tmp_path,
        boc,
        "  - seal:\n  - stir: {duration: 2 h}\n  - offdeck: Concentrate.\n",
        "  - stir: {duration: 2 h}\n  - seal:\n",
    )
    assert "DF403" in codes(ends)


# --------------------------------------------------------------------------- plan


def test_the_plan_has_a_closure_operation_at_the_step(tmp_path):
    path, result = run(
        tmp_path,
        PROTOCOL,
        "  - seal:\n",
        "  - seal:\n  - vent: {message: Vent now, duration: 90 s}\n",
    )
    assert result.ok
    closures = [op for op in result.plan.operations if isinstance(op, SetClosure)]
    assert [op.closure for op in closures] == ["capped", "vented"]
    seal, vent = closures
    # it starts when the additions are done (the last tips dropped)
    additions_end = max(op.end for op in result.plan.operations if op.step < seal.step)
    assert seal.t == pytest.approx(additions_end, abs=1e-3)
    assert [op.op for op in result.plan.operations if op.step < seal.step][-1] == "drop_tips"
    # 16 vials at 5 s a cap; then the step's own 90 s
    assert seal.duration == pytest.approx(16 * 5.0) and seal.device == "operator" and seal.manual
    assert "Cap the 16 reaction vial(s) of reaction_block" in seal.message
    assert vent.t == pytest.approx(seal.end) and vent.duration == 90.0
    assert vent.message == "Vent now" and vent.line == line_of(path, "Vent now")
    stir = next(op for op in result.plan.operations if op.op == "shake")
    assert stir.t >= vent.end - 1e-9
    assert json.loads(result.plan.to_json())["operations"][seal.id]["op"] == "set_closure"


def test_offdeck_vent_becomes_a_closure_operation(tmp_path):
    vent = "  - offdeck: {message: Needles in, vent: true}\n"
    _, result = run(tmp_path, PROTOCOL, "  - offdeck: Concentrate.\n", vent)
    ops = [op for op in result.plan.operations if isinstance(op, SetClosure)]
    assert [(op.closure, op.message) for op in ops][-1] == ("vented", "Needles in")


# --------------------------------------------------------------------------- runtime


def test_closure_is_journaled_and_the_lid_mirrors_it(tmp_path):
    from diazflow.runtime.runner import run_plan

    _, result = run(tmp_path, PROTOCOL, "  - offdeck: Concentrate.\n", "  - unseal:\n")
    journal = tmp_path / "run.sqlite"
    outcome = run_plan(result, journal_path=str(journal), quiet=True, notify=lambda _m: None)
    assert outcome.exit_code == 0, outcome.message
    closure_ids = {op.id: op.closure for op in result.plan.operations if isinstance(op, SetClosure)}
    with sqlite3.connect(journal) as c:
        rows = [
            (op_id, data)
            for op_id, data in c.execute(
                "SELECT op_id, data FROM events WHERE event = 'op_completed'"
            )
            if op_id in closure_ids
        ]
    reports = {op_id: json.loads(data) for op_id, data in rows}
    assert reports == {
        op_id: {
            "closure": closure,
            "lid": closure != "open",
            "answer": "confirmed (simulation)",
        }
        for op_id, closure in closure_ids.items()
    }


POWDER_FIRST = PROTOCOL.replace(
    "  acrylate:\n",
    '  k2co3: {name: potassium carbonate, smiles: "[K+].[K+].[O-]C([O-])=O", solid: {dispense: powder}}\n  acrylate:\n',
).replace("steps:\n", "steps:\n  - add: {reagent: k2co3, equiv: 1.0}\n")


@pytest.mark.parametrize(("text", "kind"), [(PROTOCOL, Dispense)], ids=["tip"])
def test_an_addition_into_the_lidded_block_fails_in_the_simulator(tmp_path, text, kind):
    """A plan that pipettes after the caps went on (as an edited plan could) is refused on the
    deck by PyLabRobot's own lid check.  (A solid weighed in by hand is not: the operator uncaps
    each vial; the executor refuses only a driven dispenser's dose into a lidded block.)"""
    from diazflow.runtime.clock import VirtualClock
    from diazflow.runtime.executor import Executor, RunFailed
    from diazflow.runtime.runner import build_devices, plr_tracking
    from diazflow.runtime.simulated import ActionContext
    from test_runtime import new_journal

    _, result = run(tmp_path, text)
    plan = result.plan
    seal = next(op for op in plan.operations if isinstance(op, SetClosure))
    first = min((op for op in plan.operations if isinstance(op, kind)), key=lambda op: op.t)
    # move the seal to just before the first addition of that kind
    moved = seal.model_copy(update={"t": first.t - 1e-3, "duration": 0.0})
    edited = plan.model_copy(
        update={"operations": [moved if op.id == seal.id else op for op in plan.operations]}
    )
    with plr_tracking():
        journal = new_journal(result, tmp_path / "lid.sqlite")
        clock = VirtualClock()
        ctx = ActionContext()
        setup = build_devices(result.deck, "simulate", clock, ctx, None)
        executor = Executor(edited, setup, clock, journal, ctx, "reaction_block")

        async def go():
            await setup.setup()
            executor.fill_stocks()
            await executor.run()

        with pytest.raises((RunFailed, ValueError), match="lid"):
            asyncio.run(go())
        assert setup.resources["reaction_block"].has_lid()
        journal.close()


def test_workflows_stay_clean():
    import glob

    from helpers import REPO

    for path in sorted(glob.glob(str(REPO / "workflows" / "*.yaml"))):
        result = check(path)
        assert not error_codes(result), path
        assert not {"DF403", "DF530", "DF531", "DF532"} & set(codes(result)), path
