"""The binding stage on its own: what :func:`diazflow.binding.bind` returns, when it stops, and that
the codes it owns (DF308 for a reflux without a boiling point) no longer come from the compiler."""

from __future__ import annotations

import dataclasses

import pytest

from diazflow.binding import Binding, SolventUse, bind
from diazflow.chemistry.resolve import resolve
from diazflow.compiler import compile_plan
from diazflow.compiler.facts import deck_facts
from diazflow.deck import load_deck
from diazflow.language.loader import load_protocol
from diazflow.pipeline import check
from helpers import DECKS, WORKFLOWS, line_of, method_a_protocol, write_protocol

STEPS = """\
  - add: {reagent: diazepane, equiv: 1.0}
  - add: {reagent: aldehyde, equiv: 1.05}
  - add: {reagent: stab, equiv: 1.4}
  - reflux: {duration: 2 h}
"""


def _stages_up_to_binding(path: str):
    loaded = load_protocol(path).loaded
    assert loaded is not None
    reporter = loaded.reporter()
    chem = resolve(loaded, reporter)
    assert chem is not None
    facts = deck_facts(load_deck(str(DECKS / "starlet_chem.yaml")))
    return loaded, chem, facts, reporter


def test_bind_returns_the_vessel_the_solvent_uses_and_the_hazard_tags():
    loaded, chem, facts, reporter = _stages_up_to_binding(
        str(WORKFLOWS / "n4_reductive_amination_stab.yaml")
    )
    binding = bind(loaded, chem, facts, reporter)
    assert isinstance(binding, Binding)
    assert binding.facts is facts
    assert binding.vessel.name == loaded.protocol.vessels.labware
    first = binding.solvent_uses[0]
    assert first == SolventUse(
        ("vessels", "labware"),
        binding.vessel.name,
        binding.vessel.material,
        loaded.protocol.scale.solvent,
    )
    assert set(binding.hazard_tags) == set(loaded.protocol.reagents)
    # immutable: later stages share one binding
    with pytest.raises(dataclasses.FrozenInstanceError):
        binding.vessel = binding.vessel
    with pytest.raises(TypeError):
        binding.hazard_tags["x"] = frozenset()


def test_bind_stops_when_the_reaction_labware_is_not_on_the_deck(tmp_path):
    text = method_a_protocol("binding", STEPS).replace(
        "vessels: {labware: reaction_block", "vessels: {labware: no_such_block"
    )
    path = write_protocol(tmp_path, text)
    loaded, chem, facts, reporter = _stages_up_to_binding(str(path))
    assert bind(loaded, chem, facts, reporter) is None
    assert [d.code for d in reporter.diagnostics if d.is_error] == ["DF510"]
    # the pipeline stops there: the deck is known, there is no plan
    result = check(str(path))
    assert result.facts is not None and result.plan is None
    assert [d.code for d in result.diagnostics if d.is_error] == ["DF510"]


def test_reflux_without_a_boiling_point_is_df308_from_binding_not_the_compiler(tmp_path):
    text = method_a_protocol("binding", STEPS).replace(
        "concentration: 0.2 M, solvent: DCE}", "concentration: 0.2 M, solvent: Frobnitol}"
    )
    path = write_protocol(tmp_path, text)
    result = check(str(path))
    df308 = [d for d in result.diagnostics if d.code == "DF308"]
    # the unknown-solvent warning where the solvent is named, the error where reflux needs it
    assert sorted((d.line, d.severity.value) for d in df308) == [
        (line_of(path, "solvent: Frobnitol"), "warning"),
        (line_of(path, "- reflux:"), "error"),
    ]
    assert result.plan is None
    loaded, chem, facts, _ = _stages_up_to_binding(str(path))
    _, compile_diagnostics = compile_plan(loaded, chem, facts, "starlet_chem.yaml")
    assert "DF308" not in [d.code for d in compile_diagnostics]
