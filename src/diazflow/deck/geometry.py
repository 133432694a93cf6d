"""Well geometry: the height of the liquid surface for a volume, per PyLabRobot labware factory.

The compiler puts every dispense above the liquid surface and every aspiration just below it, so
it needs each container's height-for-volume function.  PyLabRobot has it
(``Container.compute_height_from_volume``, from the vendor's drawings), but importing
``pylabrobot.resources`` costs a good part of a second, so the functions of the factories the
shipped layouts use are sampled ahead of time into ``plr_geometry.json``::

    python -m diazflow.deck.geometry --write

Any other factory is sampled from the installed PyLabRobot when a layout names it.  A container
PyLabRobot gives no height function is treated as a straight-walled box or cylinder of its
inner size: ``approximate`` says so.  ``tests/test_heights.py`` checks the file against
PyLabRobot.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from diazflow.deck.derived_geometry import attach_height_functions

GEOMETRY_FILE = os.path.join(os.path.dirname(__file__), "plr_geometry.json")

SAMPLES = 96
"""Intervals of the sampled height-for-volume curve (piecewise linear between them)."""


@dataclass(frozen=True)
class WellGeometry:
    depth_mm: float  # from the cavity bottom to the top of the well
    max_volume_ul: float
    volumes_ul: tuple[float, ...]  # increasing, from 0
    heights_mm: tuple[float, ...]  # of the liquid surface above the cavity bottom
    approximate: bool = False  # no height function in PyLabRobot: straight walls assumed

    def height_of(self, volume_ul: float) -> float:
        """Liquid height above the cavity bottom for ``volume_ul``; linear beyond the table."""
        v = max(0.0, volume_ul)
        vs, hs = self.volumes_ul, self.heights_mm
        i = min(max(bisect.bisect_right(vs, v) - 1, 0), len(vs) - 2)
        v0, v1, h0, h1 = vs[i], vs[i + 1], hs[i], hs[i + 1]
        return h0 + (h1 - h0) * (v - v0) / (v1 - v0) if v1 > v0 else h0


def _first_container(resource: Any) -> Any:
    """The container liquid goes into: the resource itself (a trough), or its first well."""
    from pylabrobot.resources import Container

    if isinstance(resource, Container):
        return resource
    for child in resource.children:
        found = _first_container(child)
        if found is not None:
            return found
    return None


def sample_factory(factory: str) -> WellGeometry | None:
    """Sample a PyLabRobot factory's container (imports PyLabRobot); None if it has none."""
    import pylabrobot.resources as plr

    from diazflow.deck.plr import fast_name_checks

    make = getattr(plr, factory, None)
    if make is None:
        return None
    with fast_name_checks():  # PLR's own check is quadratic: 1536 wells took ~1 s
        resource = make(name="geometry")
    attach_height_functions(resource, factory)  # PLR has none for it: diazflow's model
    container = _first_container(resource)
    if container is None or not container.max_volume or container.max_volume == math.inf:
        return None
    depth = float(container.get_size_z())
    try:
        depth -= float(container.material_z_thickness)
    except NotImplementedError:
        pass  # unknown floor thickness: the outer height is the best bound there is
    max_volume = float(container.max_volume)
    approximate = not container.supports_compute_height_volume_functions()
    if approximate:
        x, y = float(container.get_size_x()), float(container.get_size_y())
        circular = "circle" in str(getattr(container, "cross_section_type", "")).lower()
        area = math.pi * x * y / 4 if circular else x * y
        volumes = [max_volume * i / SAMPLES for i in range(SAMPLES + 1)]
        heights = [v / area for v in volumes]  # 1 µL = 1 mm³
    else:
        # Sampled evenly in height, not volume: a V- or round-bottomed well's surface rises
        # steeply over its first microlitres, which a volume grid would flatten.
        heights, volumes = [], []
        for i in range(SAMPLES + 1):
            h = depth * i / SAMPLES
            try:
                volumes.append(float(container.compute_volume_from_height(h)))
            except ValueError:  # beyond the vendor's curve
                break
            heights.append(h)
    return WellGeometry(
        depth_mm=round(depth, 3),
        max_volume_ul=round(max_volume, 3),
        volumes_ul=tuple(round(v, 3) for v in volumes),
        heights_mm=tuple(round(h, 3) for h in heights),
        approximate=approximate,
    )


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Any]:
    with open(GEOMETRY_FILE, encoding="utf-8") as fh:
        return dict(json.load(fh)["factories"])


@lru_cache(maxsize=256)
def well_geometry(factory: str) -> WellGeometry | None:
    """The geometry of a factory's container: from the shipped file, else from PyLabRobot."""
    entry = _shipped().get(factory)
    if entry is None:
        return sample_factory(factory)
    return WellGeometry(
        depth_mm=entry["depth_mm"],
        max_volume_ul=entry["max_volume_ul"],
        volumes_ul=tuple(entry["volumes_ul"]),
        heights_mm=tuple(entry["heights_mm"]),
        approximate=entry.get("approximate", False),
    )


def shipped_factories() -> list[str]:
    """Liquid-holding factories the shipped deck layouts and examples name."""
    from diazflow.deck.builtin import builtin_layouts_dir
    from diazflow.deck.layout import load_deck

    folder = builtin_layouts_dir()
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("examples/*.yaml"))
    factories: set[str] = set()
    for path in paths:
        spec = load_deck(str(path))
        for lw in spec.labware.values():
            if lw.plr_factory and lw.role not in ("tips", "waste"):
                factories.add(lw.plr_factory)
    return sorted(factories)


def generate() -> dict[str, Any]:
    import pylabrobot

    out: dict[str, Any] = {}
    for factory in shipped_factories():
        g = sample_factory(factory)
        if g is None:
            continue
        out[factory] = {
            "depth_mm": g.depth_mm,
            "max_volume_ul": g.max_volume_ul,
            "approximate": g.approximate,
            "volumes_ul": list(g.volumes_ul),
            "heights_mm": list(g.heights_mm),
        }
    return {
        "generated_by": "python -m diazflow.deck.geometry --write",
        "pylabrobot": pylabrobot.__version__,
        "factories": out,
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1) + "\n"


if __name__ == "__main__":
    if "--write" in sys.argv:
        with open(GEOMETRY_FILE, "w", encoding="utf-8") as fh:
            fh.write(dumps(generate()))
        print(f"wrote {GEOMETRY_FILE}")
    else:
        print(dumps(generate()))
