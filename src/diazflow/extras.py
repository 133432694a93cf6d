"""Optional extras (``pyproject.toml`` ``[project.optional-dependencies]``) and what needs them.

A command that needs an extra calls :func:`require` before it does any work; a missing module is a
:class:`MissingExtra`, which the CLI prints as one line with the install command and exit 2 (a
usage error: the installation, not the protocol, is wrong).  The modules are imported, not only
looked up, because an installed package can still fail at import (``hid`` without the native
``hidapi`` library).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    name: str
    purpose: str  # what the user asked for that needs it, for the message
    modules: tuple[str, ...]  # importable names the extra's packages provide
    # the oldest Python its packages support: below it the extra installs nothing, and the
    # install command would not help
    min_python: tuple[int, int] | None = None

    @property
    def install_command(self) -> str:
        return f"pip install 'diazflow[{self.name}]'"


EXTRAS: dict[str, Extra] = {
    extra.name: extra
    for extra in (
        # pylabrobot[usb,hid,opentrons]: PyUSB and libusb for the Hamilton STAR(let), the Hamilton
        # heater-shaker box and the Tecan EVO; hid for the Inheco TEC control box; the Opentrons
        # HTTP client for the OT-2 and its modules.  One extra for every robot: all or nothing.
        Extra("hardware", "--backend hardware", ("usb", "libusb_package", "hid", "ot_api")),
        Extra("report", "PNG output (report --png)", ("matplotlib",)),
        # ord-schema 0.9 supports Python 3.11+ only (its pyproject's requires-python)
        Extra("ord", "export --to ord", ("ord_schema",), min_python=(3, 11)),
    )
}


class MissingExtra(Exception):
    """An optional extra a command needs is not installed (exit 2)."""

    def __init__(self, extra: Extra, module: str, python: tuple[int, int] | None = None):
        self.extra = extra
        self.module = module
        if python is not None and extra.min_python is not None and python < extra.min_python:
            oldest = ".".join(map(str, extra.min_python))
            message = (
                f"{extra.purpose} needs Python {oldest} or later (the '{extra.name}' extra's "
                f"packages support no older Python); this is Python {python[0]}.{python[1]}"
            )
        else:
            message = (
                f"{extra.purpose} needs the '{extra.name}' extra (module '{module}' cannot be "
                f"imported): {extra.install_command}"
            )
        super().__init__(message)


def require(name: str, modules: Iterable[str] | None = None) -> None:
    """Raise :class:`MissingExtra` unless every module of the extra ``name`` imports (or only
    ``modules`` of it: what one deck's drivers need)."""
    extra = EXTRAS[name]
    for module in extra.modules if modules is None else modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtra(extra, module, python=python_version()) from None


def python_version() -> tuple[int, int]:
    """The running Python's (major, minor)."""
    return sys.version_info[0], sys.version_info[1]


# Which driver modules a hardware backend class needs, by a word in its class path (PyLabRobot's
# or diazflow's subclass of it).  A class matching none needs none of the extra: its own import
# error, if any, stops the run at set-up (exit 3, the journal says why).
_DRIVERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("opentrons", ("ot_api",)),  # OpentronsOT2Backend, OpentronsTemperatureModuleBackend
    ("OT2", ("ot_api",)),  # diazflow.deck.plr_hardware.OT2Backend, OT2TemperatureModuleBackend
    ("Inheco", ("hid",)),  # the TEC control box
    ("Thermoshake", ("hid",)),
    ("hamilton", ("usb", "libusb_package")),  # STARBackend, the heater-shaker box
    ("Hamilton", ("usb", "libusb_package")),
    ("tecan", ("usb", "libusb_package")),  # EVOBackend talks through PLR's USB layer
)


def hardware_drivers(class_paths: Iterable[str]) -> tuple[str, ...]:
    """The modules of the ``hardware`` extra that backends of these classes import."""
    needed: dict[str, None] = {}
    for path in class_paths:
        for word, modules in _DRIVERS:
            if word in path:
                needed.update(dict.fromkeys(modules))
    return tuple(needed)
