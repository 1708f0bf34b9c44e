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

from connectors.base import FileHead, ReadResult, to_canonical
from connectors.errors import CorruptFile
from connectors.tabular import (
    ColumnRule,
    map_headers,
    read_header_row,
    read_mapped_table,
    split_header,
    timestamps_to_unix_seconds,
)

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


class BatteryArchiveTimeseries:
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        line = head.first_line
        keys = {split_header(h)[0] for h in line.split(",")}
        return "Test_Time (s)" in line and {"test_time", "cycle_index", "current", "voltage"} <= keys

    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        label = path.name
        headers = read_header_row(path, header_line=1)
        mapped, unmapped = map_headers(headers, RULES, label)
        frame = read_mapped_table(path, file_label=label, header_line=1, headers=headers, columns=mapped)
        if frame.empty:
            raise CorruptFile(label, "no data rows after the header", line=2)
        if "unix_time_second" in frame:
            frame["unix_time_second"] = timestamps_to_unix_seconds(
                frame["unix_time_second"], timezone=timezone, file_label=label, column="Date_Time"
            )
        if "cycle_count" in frame:
            frame["cycle_count"] = frame["cycle_count"].ffill().bfill()
        return ReadResult(
            frame=to_canonical(frame),
            format=NAME,
            parser_version=PARSER_VERSION,
            first_data_line=2,
            # Battery Archive names its downloads <cell_id>_timeseries.csv.
            metadata={"cell_id": path.name.removesuffix(".csv").removesuffix("_timeseries")},
            unmapped_columns=tuple(unmapped),
        )


CONNECTOR = BatteryArchiveTimeseries()
