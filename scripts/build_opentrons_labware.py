"""Write the Opentrons custom labware definitions the Opentrons export embeds (docs/opentrons-export.md).

PyLabRobot's ``cor_96_wellplate_2mL_Vb`` (the OT-2 deck's reaction block and building-block plate)
has no Opentrons definition.  Its definition is written from PyLabRobot's own geometry, so the
heights in a plan (above the cavity bottom, computed from PLR's geometry) mean the same on the
robot: well centres, cavity bottom (PLR's well bottom plus its material thickness) and depth.

    python scripts/build_opentrons_labware.py      # rewrites src/diazflow/export/labware/*.json

Run it again only when PyLabRobot's geometry changes (a PyLabRobot upgrade).
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "diazflow" / "export" / "labware"

# How far the plate's bottom sits above the adapter's bottom on Opentrons' 96 deep-well
# Temperature Module adapter: Opentrons' measured value for its NEST 96 deep-well plate (the
# plate's skirt sits over the adapter's block).  Labware Position Check corrects the rest.
DEEP_WELL_ADAPTER_Z_MM = 16.1


def definition(factory_name: str, load_name: str, display_name: str) -> dict:
    import pylabrobot.resources as plr

    plate = getattr(plr, factory_name)("plate")
    rows, columns = plate.num_items_y, plate.num_items_x
    names = [[f"{chr(65 + r)}{c + 1}" for r in range(rows)] for c in range(columns)]
    wells = {}
    for column in names:
        for name in column:
            well = plate.get_item(name)
            thickness = float(well.material_z_thickness or 0.0)
            entry: dict = {
                "depth": round(float(well.get_size_z()) - thickness, 3),
                "totalLiquidVolume": round(float(well.max_volume), 2),
                "shape": "rectangular",
                "xDimension": round(float(well.get_size_x()), 3),
                "yDimension": round(float(well.get_size_y()), 3),
                "x": round(float(well.location.x) + float(well.get_size_x()) / 2, 3),
                "y": round(float(well.location.y) + float(well.get_size_y()) / 2, 3),
                "z": round(float(well.location.z) + thickness, 3),
            }
            wells[name] = entry
    bottom = {"V": "v", "U": "u", "FLAT": "flat"}[well.bottom_type.name]
    return {
        "ordering": names,
        "brand": {"brand": "Corning", "brandId": []},
        "metadata": {
            "displayName": display_name,
            "displayCategory": "wellPlate",
            "displayVolumeUnits": "µL",
            "tags": ["diazflow", f"PyLabRobot {factory_name}"],
        },
        "dimensions": {
            "xDimension": round(float(plate.get_size_x()), 3),
            "yDimension": round(float(plate.get_size_y()), 3),
            "zDimension": round(float(plate.get_size_z()), 3),
        },
        "wells": wells,
        "groups": [{"metadata": {"wellBottomShape": bottom}, "wells": sum(names, [])}],
        "parameters": {
            "format": "96Standard",
            "quirks": [],
            "isTiprack": False,
            "isMagneticModuleCompatible": False,
            "loadName": load_name,
        },
        "namespace": "custom_beta",
        "version": 1,
        "schemaVersion": 2,
        "cornerOffsetFromSlot": {"x": 0, "y": 0, "z": 0},
        "stackingOffsetWithLabware": {
            "opentrons_96_deep_well_temp_mod_adapter": {"x": 0, "y": 0, "z": DEEP_WELL_ADAPTER_Z_MM}
        },
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    made = {
        "diazflow_cor_96_wellplate_2ml_vb": definition(
            "cor_96_wellplate_2mL_Vb",
            "diazflow_cor_96_wellplate_2ml_vb",
            "Corning 96 Deep Well Plate 2 mL V-bottom (diazflow, from PyLabRobot)",
        )
    }
    for name, data in made.items():
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
