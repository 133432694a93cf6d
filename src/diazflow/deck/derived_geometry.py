"""Height-for-volume functions for PyLabRobot plates that ship without them.

PyLabRobot 0.2.2 defines no ``compute_height_from_volume`` / ``compute_volume_from_height`` for any
of its 384-well plates (docs/hardware-research.md §9), but diazflow puts every dispense above the
liquid and every aspiration just below it, and the simulator checks that no tip touches a reaction
mixture: both need the liquid surface.  This module models such wells from PyLabRobot's own
dimensions with PyLabRobot's own shape functions (``pylabrobot.resources.height_volume_functions``)
and attaches them to the plate's wells, for the geometry sampler (``deck/geometry.py``) and for
``build_plr`` (so the simulator's surface check and PLR's volume tracking use the same curve).

Only a labware listed in :data:`DERIVED_WELLS` is touched; a factory PyLabRobot gives functions is
left as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConeOnCylinder:
    """A round well: a cylinder of ``diameter_mm`` standing on an inverted cone of the same
    diameter, ``depth_mm`` deep in all (cavity bottom to rim), holding ``volume_ul`` when full.

    The cone's height follows from the three: V = A·(depth − 2·h_cone/3), A = π·d²/4.
    """

    diameter_mm: float
    depth_mm: float
    volume_ul: float

    @property
    def cone_mm(self) -> float:
        area = math.pi * self.diameter_mm**2 / 4
        return 1.5 * (self.depth_mm - self.volume_ul / area)

    @property
    def cylinder_mm(self) -> float:
        return self.depth_mm - self.cone_mm

    def height_of(self, volume_ul: float) -> float:
        from pylabrobot.resources.height_volume_functions import (
            calculate_liquid_height_in_container_2segments_round_vbottom as height,
        )

        return float(height(self.diameter_mm, self.cone_mm, self.cylinder_mm, volume_ul))

    def volume_of(self, height_mm: float) -> float:
        from pylabrobot.resources.height_volume_functions import (
            calculate_liquid_volume_container_2segments_round_vbottom as volume,
        )

        return float(volume(self.diameter_mm, self.cone_mm, self.cylinder_mm, height_mm))


DERIVED_WELLS: dict[str, ConeOnCylinder] = {
    # Bio-Rad Hard-Shell 384-well PCR plate (polypropylene wells): PyLabRobot gives each well a
    # 3.10 mm round opening, 9.35 mm high over a 1 mm floor (so 8.35 mm deep) and a V bottom, and
    # names the plate for 50 µL, Bio-Rad's rated well volume.  PLR's max_volume (70.6 µL) is a
    # full-depth cylinder of that diameter, which a V-bottomed well cannot hold; a cylinder over a
    # cone that holds 50 µL has a 2.59 mm cone (a 62° point), which is the model.
    "biorad_384_wellplate_50uL_Vb": ConeOnCylinder(diameter_mm=3.10, depth_mm=8.35, volume_ul=50.0),
}


def derived_well(factory: str | None) -> ConeOnCylinder | None:
    return DERIVED_WELLS.get(factory or "")


def attach_height_functions(resource: Any, factory: str | None) -> bool:
    """Give every well of ``resource`` (a PLR plate) the derived functions of its factory, when
    PyLabRobot has none; True when it did."""
    model = derived_well(factory)
    if model is None:
        return False
    from pylabrobot.resources import Container

    wells = [resource] if isinstance(resource, Container) else list(resource.get_all_items())
    for well in wells:
        if well.supports_compute_height_volume_functions():
            continue
        # PLR's Container keeps the two functions it was built with in these attributes; a Well
        # takes them only as constructor arguments, and the factory has already built the wells
        height_fn: Callable[[float], float] = model.height_of
        volume_fn: Callable[[float], float] = model.volume_of
        well._compute_height_from_volume = height_fn
        well._compute_volume_from_height = volume_fn
        # what the modelled well holds, for PLR's volume tracking too (it refuses overfills)
        well.max_volume = model.volume_ul
        well.tracker.max_volume = model.volume_ul
    return True
