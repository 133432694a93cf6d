"""Running compiled plans on PyLabRobot: clocks, simulated devices, the journal, the executor.

A run is :class:`diazflow.runtime.runner.Run`.  PyLabRobot is imported only by
:mod:`~.simulated`, :mod:`~.executor`, and lazily by :mod:`~.runner` and :mod:`~.visualizer`, so
``import diazflow.runtime`` stays cheap.  See docs/runtime.md.
"""

from diazflow.runtime.clock import Clock, RealClock, ScaledClock, VirtualClock, make_clock
from diazflow.runtime.faults import FAULT_KINDS, DeviceFault, FaultPlan

__all__ = [
    "Clock",
    "DeviceFault",
    "FAULT_KINDS",
    "FaultPlan",
    "RealClock",
    "ScaledClock",
    "VirtualClock",
    "make_clock",
]
