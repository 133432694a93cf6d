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
