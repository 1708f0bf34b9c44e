"""batteryarchive.org time-series download (``*_timeseries.csv``).

Header: ``Date_Time, Test_Time (s), Cycle_Index, Current (A), Voltage (V), Charge_Capacity (Ah),
Discharge_Capacity (Ah), Charge_Energy (Wh), Discharge_Energy (Wh), Environment_Temperature (C),
Cell_Temperature (C)``. Battery Archive already stores positive current as charge and SI units; its
``Date_Time`` is naive local time of the lab, read in the metadata's timezone. Its capacity and energy
counters are copied from the source instrument, so their reset scope is not known: they map to the
test-wide BDF names and per-cycle values are taken as max − min within each cycle.
"""

from __future__ import annotations

from pathlib import Path

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead
from connectors.tabular import ColumnRule, header_keys, stream_headed_csv

NAME = "batteryarchive_timeseries"
PARSER_VERSION = "1"

RULES: dict[str, ColumnRule] = {
    "date_time": ColumnRule("unix_time_second", "time", kind="text"),
    "test_time": ColumnRule("test_time_second", "time", "s"),
    "cycle_index": ColumnRule("cycle_count", "count"),
    "current": ColumnRule("current_ampere", "current", "a"),
    "voltage": ColumnRule("voltage_volt", "voltage", "v"),
    "charge_capacity": ColumnRule("charging_capacity_ah", "capacity", "ah"),
    "discharge_capacity": ColumnRule("discharging_capacity_ah", "capacity", "ah"),
    "charge_energy": ColumnRule("charging_energy_wh", "energy", "wh"),
    "discharge_energy": ColumnRule("discharging_energy_wh", "energy", "wh"),
    "environment_temperature": ColumnRule("ambient_temperature_celsius", "temperature", "c"),
    "cell_temperature": ColumnRule("surface_temperature_celsius", "temperature", "c"),
}


class BatteryArchiveTimeseries(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        line = head.first_line
        keys = header_keys(line)
        return "Test_Time (s)" in line and {"test_time", "cycle_index", "current", "voltage"} <= keys

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        return stream_headed_csv(
            path,
            RULES,
            format_name=NAME,
            parser_version=PARSER_VERSION,
            timezone=timezone,
            chunk_rows=chunk_rows,
            counters=("cycle_count",),
            # Battery Archive names its downloads <cell_id>_timeseries.csv.
            metadata={"cell_id": path.name.removesuffix(".csv").removesuffix("_timeseries")},
        )


CONNECTOR = BatteryArchiveTimeseries()
