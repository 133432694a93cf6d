"""How a plan's liquid class and tip heights become PyLabRobot arguments, robot by robot.

PyLabRobot 0.2.2 applies pipetting parameters differently on each backend (docs/liquid-classes.md,
docs/hardware-research.md §1-3):

* **Hamilton STAR(let)**: the class itself (``hamilton_liquid_classes``, looked up in PyLabRobot's
  table by its *nominal* tip size, because the backend's own lookup by tip capacity never finds
  the 50 and 300 µL classes), jet mode, and the volatile-solvent overrides the class table has no
  field for (``pre_wetting_volume``) or that diazflow raises (``transport_air_volume``,
  ``swap_speed``).  They reach the firmware as ``C0AS``/``C0DS`` parameters.
* **Opentrons OT-2 and Tecan EVO**: flow rates (``flow_rates``): the class's flow rates relative
  to water scale the robot's defaults (the EVO backend hard-codes water's Tecan class otherwise).
  On the OT-2 a volatile liquid also gets an air gap (``air_gap_ul``, taken by diazflow's
  ``OT2Backend``/``OT2ChatterboxBackend``: PLR's backend ignores air gaps and blow-out).

Every backend gets ``liquid_height`` (the plan's ``height_mm``: above the cavity bottom).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from diazflow.chemistry.liquid_classes import LiquidClass, pre_wetting_ul
from diazflow.deck.spec import HAMILTON_ROBOT_KINDS


def hamilton_class(lc: LiquidClass, tip: Any) -> Any:
    """PyLabRobot's Hamilton class that ``lc`` is (or derives from), for this tip."""
    return _hamilton_class(lc, bool(getattr(tip, "has_filter", False)))


@lru_cache(maxsize=256)
def _hamilton_class(lc: LiquidClass, has_filter: bool) -> Any:
    # PLR's table look-up is a dictionary read that returns its own shared class object: asked
    # once per (class, filter) instead of once per channel of every aspirate and dispense
    from pylabrobot.liquid_handling.liquid_classes.hamilton import get_star_liquid_class
    from pylabrobot.resources.liquid import Liquid

    def find(with_filter: bool) -> Any:
        return get_star_liquid_class(
            tip_volume=lc.tip_ul,
            is_core=False,
            is_tip=True,
            has_filter=with_filter,
            liquid=Liquid[lc.basis],
            jet=True,
            blow_out=lc.blow_out,
        )

    # a filter tip uses its own class where the table has one, the standard tip's otherwise
    found = find(has_filter) or find(False)
    if found is None:
        raise LookupError(f"PyLabRobot has no Hamilton class {lc.plr_class} for {lc.name}")
    return found


def aspirate_arguments(
    robot_kind: str,
    lc: LiquidClass,
    tips: Sequence[Any],
    volumes: Sequence[float],
    heights: Sequence[float],
    default_flow: tuple[float, float],
) -> dict[str, Any]:
    """Keyword arguments for ``LiquidHandler.aspirate`` beyond resources, volumes and channels."""
    n = len(volumes)
    args: dict[str, Any] = {"liquid_height": list(heights)}
    match robot_kind:
        case kind if kind in HAMILTON_ROBOT_KINDS:
            classes = [hamilton_class(lc, t) for t in tips]
            # the firmware fills the tip with the *corrected* volume plus the transport air, or
            # plus the pre-wetting volume (STARBackend refuses either peak above the capacity)
            room = [
                float(t.maximal_volume) - hlc.compute_corrected_volume(v)
                for t, hlc, v in zip(tips, classes, volumes, strict=True)
            ]
            args.update(
                hamilton_liquid_classes=classes,
                jet=[True] * n,
                blow_out=[lc.blow_out] * n,
                transport_air_volume=[max(0.0, min(lc.transport_air_ul, r)) for r in room],
                pre_wetting_volume=[
                    round(min(pre_wetting_ul(lc, v), max(0.0, r)), 1)
                    for v, r in zip(volumes, room, strict=True)
                ],
                swap_speed=[lc.aspiration_swap_speed_mm_s] * n,
            )
        case "opentrons_ot2":
            aspirate_rate, _ = lc.flow_rates(*default_flow)
            args["flow_rates"] = [aspirate_rate] * n
            args["air_gap_ul"] = _ot2_air_gaps(lc, tips, volumes)
        case _:
            aspirate_rate, _ = lc.flow_rates(*default_flow)
            args["flow_rates"] = [aspirate_rate] * n
    return args


def _ot2_air_gaps(lc: LiquidClass, tips: Sequence[Any], volumes: Sequence[float]) -> list[float]:
    """The class's transport air as an air gap, for volatile liquids only, within the tip."""
    if not lc.volatile:
        return [0.0] * len(volumes)
    return [
        round(max(0.0, min(lc.transport_air_ul, float(t.maximal_volume) - v)), 2)
        for t, v in zip(tips, volumes, strict=True)
    ]


def dispense_arguments(
    robot_kind: str,
    lc: LiquidClass,
    tips: Sequence[Any],
    volumes: Sequence[float],
    heights: Sequence[float],
    default_flow: tuple[float, float],
) -> dict[str, Any]:
    """Keyword arguments for ``LiquidHandler.dispense``: a jet dispense from ``heights``."""
    n = len(volumes)
    args: dict[str, Any] = {"liquid_height": list(heights)}
    match robot_kind:
        case kind if kind in HAMILTON_ROBOT_KINDS:
            # the same class as the aspiration: a class per call would correct the volume with a
            # different curve and blow out different air (PLR looks them up independently)
            args.update(
                hamilton_liquid_classes=[hamilton_class(lc, t) for t in tips],
                jet=[True] * n,
                blow_out=[lc.blow_out] * n,
            )
        case "opentrons_ot2":
            _, dispense_rate = lc.flow_rates(*default_flow)
            args["flow_rates"] = [dispense_rate] * n
            args["air_gap_ul"] = _ot2_air_gaps(lc, tips, volumes)  # expelled with the liquid
        case _:
            _, dispense_rate = lc.flow_rates(*default_flow)
            args["flow_rates"] = [dispense_rate] * n
    return args
