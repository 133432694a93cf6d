"""The same liquid handling as a diazflow plan, as an Opentrons Python protocol (API 2.20, OT-2).

Used by bench_run.py to time ``opentrons_simulate`` on the same work as a simulated diazflow run:
every tip pick-up, aspirate, dispense, sample and tip drop of the plan becomes one command of an
8-channel P300 GEN2 (the plan's 8-channel steps work a column at a time), the temperature and
shaking steps become Temperature Module commands and delays, manual steps pauses.  Sources are
mapped, in order of first use, onto the wells of 12-well reservoirs; the reaction plate is a NEST
96 deep-well plate on the module's deep-well adapter.  It is a benchmark input, not an exporter:
heights, liquid classes and flow rates are Opentrons' defaults.
"""

from __future__ import annotations

from typing import Any

HEADER = """from opentrons import protocol_api

requirements = {"robotType": "OT-2", "apiLevel": "2.20"}


def run(protocol: protocol_api.ProtocolContext):
    module = protocol.load_module("temperature module gen2", 1)
    adapter = module.load_adapter("opentrons_96_deep_well_temp_mod_adapter")
    plate = adapter.load_labware("nest_96_wellplate_2ml_deep")
    samples = protocol.load_labware("nest_96_wellplate_2ml_deep", 2)
    reservoirs = [protocol.load_labware("nest_12_reservoir_15ml", slot) for slot in (3, 6)]
    racks = [protocol.load_labware("opentrons_96_tiprack_300ul", slot) for slot in (4, 5, 7, 8, 9, 10, 11)]
    pipette = protocol.load_instrument("p300_multi_gen2", "left", tip_racks=racks)
    source_wells = [well for reservoir in reservoirs for well in reservoir.wells()]

    def pick_up():
        if not any(rack.next_tip(8) for rack in racks):
            pipette.reset_tipracks()  # the plan's tips, refilled as an operator would
        pipette.pick_up_tip()

"""


def _column_top(well: str) -> str:
    """The first row of the column of ``well`` (an 8-channel head works whole columns)."""
    return "A" + "".join(ch for ch in well if ch.isdigit())


def _volume(volumes: list[float]) -> float:
    return round(min(max(volumes), 300.0), 3)


def opentrons_protocol(plan: Any) -> str:
    """Python source of the protocol (see the module's docstring)."""
    from diazflow.compiler import plan as p

    lines: list[str] = []
    sources: dict[str, int] = {}

    def source(position: str) -> str:
        index = sources.setdefault(position, len(sources) % 24)
        return f"source_wells[{index}]"

    for op in plan.operations:
        match op:
            case p.PickUpTips():
                lines.append("pick_up()")
            case p.DropTips():
                lines.append("pipette.drop_tip()")
            case p.Aspirate():
                where = op.wells[0]
                target = source(where) if ":" in where else f'plate["{_column_top(where)}"]'
                lines.append(f"pipette.aspirate({_volume(op.volumes_uL)}, {target})")
            case p.Dispense():
                lines.append(
                    f'pipette.dispense({_volume(op.volumes_uL)}, plate["{_column_top(op.wells[0])}"])'
                )
            case p.Sample():
                volume = _volume(op.volumes_uL)
                column = _column_top(op.wells[0])
                lines.append(f'pipette.aspirate({volume}, plate["{column}"])')
                lines.append(f'pipette.dispense({volume}, samples["{column}"])')
            case p.SetTemperature():
                celsius = min(max(op.celsius, 4.0), 95.0)
                lines.append(f"module.start_set_temperature({celsius})")
            case p.WaitTemperature():
                celsius = min(max(op.celsius, 4.0), 95.0)
                lines.append(f"module.await_temperature({celsius})")
            case p.Shake() | p.Wait():
                lines.append(f"protocol.delay(seconds={round(op.duration, 3)})")
            case p.DispensePowder() | p.Prompt() | p.SetClosure():
                lines.append(f"protocol.pause({op.op!r})")
            case _:
                lines.append(f"protocol.comment({op.op!r})")
    return HEADER + "".join(f"    {line}\n" for line in lines)
