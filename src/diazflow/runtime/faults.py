"""Device faults, real or injected, and the plan of faults a test injects.

A fault is an exception a device raises during an operation.  The executor turns any of them into
a safe stop (heaters off, cooling kept, shaking stopped), a journal with status ``failed``, a
one-line message and exit code 3.

Faults are injected for testing with ``--inject-fault OP_ID:KIND`` (hidden CLI option, repeatable)
or the environment variable ``DIAZFLOW_INJECT_FAULT="12:tip_not_picked_up,40:connection_lost"``.
The simulated devices (and the gate around chatterbox/hardware backends) raise them when the
executor reaches that operation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

FAULT_KINDS = ("tip_not_picked_up", "temperature_timeout", "connection_lost")


class DeviceFault(Exception):
    """A device could not do what it was asked; ``kind`` is one of :data:`FAULT_KINDS` or ``device_error``."""

    kind = "device_error"

    def __init__(self, message: str, *, device: str | None = None, injected: bool = False):
        super().__init__(message)
        self.message = message
        self.device = device
        self.injected = injected


class TipPickupFault(DeviceFault):
    kind = "tip_not_picked_up"


class TemperatureTimeoutFault(DeviceFault):
    kind = "temperature_timeout"


class ConnectionLostFault(DeviceFault):
    kind = "connection_lost"


class SetpointOutOfRangeError(DeviceFault, ValueError):
    """A module refused a temperature or speed outside its range."""

    kind = "setpoint_out_of_range"


@dataclass
class FaultPlan:
    """``{op_id: kind}``: which fault to raise at which operation.

    ``current_op`` is set by the executor before each operation; devices ask :meth:`at` whether they
    should fail now.  A fault fires once (``fired`` keeps the ids), so a resumed run — a new
    process with an empty plan — does not fail again.
    """

    faults: dict[int, str] = field(default_factory=dict)
    current_op: int | None = None
    fired: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        for op_id, kind in self.faults.items():
            if kind not in FAULT_KINDS:
                raise ValueError(
                    f"unknown fault kind '{kind}' for operation {op_id}: use one of {', '.join(FAULT_KINDS)}"
                )

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...] | None, env: str | None = None) -> FaultPlan:
        """``["12:tip_not_picked_up", ...]`` plus the comma-separated environment variable."""
        items: list[str] = list(specs or ())
        env = os.environ.get("DIAZFLOW_INJECT_FAULT") if env is None else env
        if env:
            items.extend(x for x in env.split(",") if x.strip())
        faults: dict[int, str] = {}
        for item in items:
            op, sep, kind = item.strip().partition(":")
            if not sep or not op.strip().isdigit():
                raise ValueError(f"a fault is OP_ID:KIND (e.g. 12:tip_not_picked_up), not '{item}'")
            faults[int(op)] = kind.strip()
        return cls(faults)

    def __bool__(self) -> bool:
        return bool(self.faults)

    def at(self, kind: str) -> bool:
        """Whether the current operation should fail with ``kind`` (marks it fired)."""
        op = self.current_op
        if op is None or self.faults.get(op) != kind or op in self.fired:
            return False
        self.fired.add(op)
        return True
