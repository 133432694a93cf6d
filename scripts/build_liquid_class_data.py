#!/usr/bin/env python
"""Extract the jet-mode classes of PyLabRobot's Hamilton liquid-class table into a JSON file.

The compiler chooses a liquid class for every aspiration and dispense and times them with its
flow rates, but importing PyLabRobot costs a large part of a second, so the numbers it needs are
extracted here, once, into ``src/diazflow/chemistry/data/hamilton_liquid_classes.json``.  The run
looks the same classes up in the installed PyLabRobot (with their calibration curves);
``tests/test_liquid_classes.py`` re-runs :func:`extract` and fails if the shipped file has drifted.

Only what diazflow uses is extracted: independent channels (not the CoRe 96 head), standard
(non-filter) tips of 50, 300 and 1000 µL, jet mode (a free dispense from above the liquid; surface
mode would put the tip into the reaction mixture), "empty" (blow-out) and "part" variants.

Usage::

    python scripts/build_liquid_class_data.py           # rewrite the file
    python scripts/build_liquid_class_data.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "src" / "diazflow" / "chemistry" / "data" / "hamilton_liquid_classes.json"

TIP_VOLUMES = (50, 300, 1000)

# The table's pure liquids, with the CAS number under which properties.json holds them.
REFERENCE_LIQUIDS = {
    "WATER": "7732-18-5",
    "METHANOL": "67-56-1",
    "ETHANOL": "64-17-5",
    "ACETONITRILE": "75-05-8",
    "DMSO": "67-68-5",
    "CHLOROFORM": "67-66-3",
    "OCTANOL": "111-87-5",
    "GLYCERIN": "56-81-5",
}

FIELDS = (
    "aspiration_flow_rate",
    "aspiration_air_transport_volume",
    "aspiration_blow_out_volume",
    "aspiration_swap_speed",
    "aspiration_settling_time",
    "dispense_flow_rate",
    "dispense_air_transport_volume",
    "dispense_blow_out_volume",
    "dispense_swap_speed",
    "dispense_settling_time",
    "dispense_stop_back_volume",
)


def extract() -> dict[str, Any]:
    import pylabrobot
    from pylabrobot.liquid_handling.liquid_classes.hamilton import star
    from pylabrobot.resources.liquid import Liquid

    names = {id(v): k for k, v in vars(star).items() if isinstance(v, star.HamiltonLiquidClass)}
    classes: dict[str, Any] = {}
    for liquid, cas in REFERENCE_LIQUIDS.items():
        per_tip: dict[str, Any] = {}
        for tip in TIP_VOLUMES:
            for blow_out in (True, False):  # "empty" first: every diazflow transfer empties the tip
                key = (tip, False, True, False, Liquid[liquid], True, blow_out)
                hlc = star.star_mapping.get(key)
                if hlc is None:
                    continue
                params = hlc.serialize()
                per_tip[str(tip)] = {
                    "plr_class": names.get(id(hlc), "?"),
                    "blow_out": blow_out,
                    **{f: float(params[f]) for f in FIELDS},
                }
                break
        classes[liquid] = {"cas": cas, "tips": per_tip}
    return {
        "format": 1,
        "generated_by": "scripts/build_liquid_class_data.py",
        "source": "pylabrobot.liquid_handling.liquid_classes.hamilton.star.star_mapping "
        "(independent channels, standard tips, jet mode)",
        "pylabrobot": pylabrobot.__version__,
        "liquids": classes,
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = dumps(extract())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO)} is out of date: run {__file__}", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(REPO)} is up to date")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
