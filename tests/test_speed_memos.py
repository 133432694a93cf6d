"""Speed-ups that must not change what is computed (issue 19)."""

from __future__ import annotations

import inspect
import types

import pytest

from diazflow.runtime.simulated import GatedLiquidHandlerBackend, SimulatedLiquidHandlerBackend


def _fresh_signature(function: types.FunctionType) -> inspect.Signature:
    """The signature Python builds from the code itself (a copy of the function has no
    ``__signature__`` to return)."""
    copy = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    assert not hasattr(copy, "__signature__")
    return inspect.signature(copy)


@pytest.mark.parametrize("cls", [SimulatedLiquidHandlerBackend, GatedLiquidHandlerBackend])
@pytest.mark.parametrize("name", ["pick_up_tips", "drop_tips", "aspirate", "dispense"])
def test_the_backend_signatures_pylabrobot_checks_are_the_methods_own(cls, name):
    function = cls.__dict__[name]
    assert "__signature__" in function.__dict__  # computed once, at import
    assert inspect.signature(function) == _fresh_signature(function)
    # what PyLabRobot's LiquidHandler._check_args asks for: the bound method, without self
    bound = getattr(cls.__new__(cls), name)
    assert list(inspect.signature(bound).parameters) == ["ops", "use_channels", "backend_kwargs"]


@pytest.mark.parametrize("liquid", ["water", "methanol", "DCM", "DMSO", "acetonitrile", "THF"])
@pytest.mark.parametrize("tip_ul", [50, 300, 1000])
@pytest.mark.parametrize("has_filter", [False, True])
def test_the_hamilton_class_is_plrs_own_table_entry(liquid, tip_ul, has_filter):
    from pylabrobot.liquid_handling.liquid_classes.hamilton import get_star_liquid_class
    from pylabrobot.resources.liquid import Liquid

    from diazflow.chemistry.liquid_classes import choose
    from diazflow.deck.plr_pipetting import hamilton_class

    lc = choose(liquid, tip_ul)
    tip = types.SimpleNamespace(has_filter=has_filter)

    def plr(with_filter: bool):
        return get_star_liquid_class(
            tip_volume=lc.tip_ul,
            is_core=False,
            is_tip=True,
            has_filter=with_filter,
            liquid=Liquid[lc.basis],
            jet=True,
            blow_out=lc.blow_out,
        )

    expected = plr(has_filter) or plr(False)
    assert expected is not None
    for _ in range(2):  # asked again: the same object, not a copy
        assert hamilton_class(lc, tip) is expected
