"""The PyLabRobot names a deck layout may use, without importing PyLabRobot.

``load_deck`` must stay fast (``diazflow validate`` starts in well under a second) and importing
``pylabrobot.resources`` alone costs ~0.2 s, so the names are read from ``plr_names.json``, a list
generated from the installed PyLabRobot:

* every public name of ``pylabrobot.resources`` (labware factories, carriers, decks);
* ``module.Name`` for the public classes and functions of the subpackages that hold backends and
  machines (liquid-handling backends, temperature control, heating/shaking, powder dispensing)
  and of ``pylabrobot.resources.*``.

Regenerate after upgrading PyLabRobot::

    python -m diazflow.deck.plr_names --write

``tests/test_deck_layout.py`` checks that the shipped list matches the installed PyLabRobot.
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache

NAMES_FILE = os.path.join(os.path.dirname(__file__), "plr_names.json")

_SUBPACKAGES = (
    "pylabrobot.liquid_handling.backends",
    "pylabrobot.temperature_controlling",
    "pylabrobot.heating_shaking",
    "pylabrobot.shaking",
    "pylabrobot.powder_dispensing",
    "pylabrobot.resources",
)


@lru_cache(maxsize=1)
def _data() -> dict:
    with open(NAMES_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def known_names() -> frozenset[str]:
    return _names()


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(_data()["names"])


def plr_version() -> str:
    """The PyLabRobot version the shipped list was generated from."""
    return _data()["pylabrobot"]


# Backends and machines diazflow ships (diazflow.deck.plr_backends imports PyLabRobot, so these
# are listed here for load-time checks; tests/test_deck_plr.py checks that each exists).
DIAZFLOW_CLASSES = frozenset(
    {
        "diazflow.deck.plr_backends.RecordingLiquidHandlerBackend",
        "diazflow.deck.plr_backends.ProfiledTemperatureBackend",
        "diazflow.deck.plr_backends.ProfiledHeaterShakerBackend",
        "diazflow.deck.plr_backends.RecordingPowderDispenserBackend",
        "diazflow.deck.plr_hardware.OT2Backend",
        "diazflow.deck.plr_hardware.OT2ChatterboxBackend",
        "diazflow.deck.plr_hardware.OT2TemperatureModuleBackend",
        "diazflow.deck.plr_hardware.ThermoshakeBackend",
        "diazflow.deck.plr_hardware.HamiltonHeaterShakerBackend",
    }
)


# Backend classes other packages offer to deck layouts: in their pyproject.toml,
#   [project.entry-points."diazflow.backends"]
#   my_shaker = "my_lab.devices:MyShakerBackend"
# A layout then names it by its class path, "my_lab.devices.MyShakerBackend".
BACKEND_ENTRY_POINT_GROUP = "diazflow.backends"


def registered_classes() -> frozenset[str]:
    """Class paths registered through the ``diazflow.backends`` entry point."""
    from importlib.metadata import entry_points

    return frozenset(
        ep.value.replace(":", ".") for ep in entry_points(group=BACKEND_ENTRY_POINT_GROUP)
    )


def is_allowed_name(name: str) -> bool:
    """Whether a layout may name ``name`` (and ``build_plr`` construct it): PyLabRobot's own
    names, diazflow's classes, or a class registered through the entry point.  A layout travels
    with protocols and ``run`` imports and calls what it names: nothing else may be named."""
    return name in known_names() or name in DIAZFLOW_CLASSES or name in registered_classes()


def generate() -> dict:
    """Walk the installed PyLabRobot (imports it) and list the names; see the module docstring."""
    import importlib
    import inspect
    import pkgutil

    import pylabrobot
    import pylabrobot.resources as resources

    names = {n for n in dir(resources) if not n.startswith("_")}
    modules: set[str] = set()
    for package_name in _SUBPACKAGES:
        package = importlib.import_module(package_name)
        modules.add(package_name)
        for info in pkgutil.walk_packages(
            package.__path__, package_name + ".", onerror=lambda _name: None
        ):
            if info.name.rsplit(".", 1)[-1].endswith("_tests") or ".tests" in info.name:
                continue
            modules.add(info.name)
    for module_name in sorted(modules):
        try:
            module = importlib.import_module(module_name)
        except Exception:  # deprecated shims raise on import (pylabrobot.resources.falcon)
            continue
        for attr in dir(module):
            if attr.startswith("_"):
                continue
            value = getattr(module, attr)
            if (inspect.isclass(value) or inspect.isfunction(value)) and getattr(
                value, "__module__", ""
            ).startswith("pylabrobot"):
                names.add(f"{module_name}.{attr}")
    return {"pylabrobot": pylabrobot.__version__, "names": sorted(names)}


def main(argv: list[str]) -> int:
    data = generate()
    text = json.dumps(data, indent=0, ensure_ascii=True) + "\n"
    if "--write" in argv:
        with open(NAMES_FILE, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(
            f"wrote {len(data['names'])} names from pylabrobot {data['pylabrobot']} to {NAMES_FILE}"
        )
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
