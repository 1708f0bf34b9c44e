"""PEC (SBT battery tester) CSV exports.

- A header block of ``Key:,Value`` lines (``Request Year:``, ``Test:``, ``TestRegime Name:``,
  ``Start Time:``…) and a ``#RESULTS CHECK`` … ``#END RESULTS CHECK`` block, then the column header
  ``Test,Cell,Rack,Shelf,Position,Cell ID,Step,Cycle,Total Time (Seconds),…``. Header and rows end with a
  trailing comma (one empty extra field).
- Units are in the headers and converted to SI: ``(Seconds)``, ``(mV)``, ``(mA)``, ``(mAh)``, ``(mOhm)``.
  PEC labels its energy counters ``Charge Capacity (mWh)`` / ``Discharge Capacity (mWh)``: a "capacity" column
  with an energy unit is read as energy.
- Current is signed with charge positive (the BDF convention already).
- ``Charge/Discharge Capacity`` and their mWh twins restart at every cycle (``Cycle``): they map to the
  per-cycle ``cycle_*`` names. ``Cycle`` (from 0) → ``cycle_count`` as reported; ``Step`` → ``step_id``.
- ``Real Time`` is the lab's local wall clock (``MM/DD/YYYY hh:mm:ss``); ``Total Time (Seconds)`` is the test
  time. Temperatures (``Ambient temperature``, ``Cell surface temperature``) are logged on some rows only and
  are empty on the others.

Recognised by the column header line (``Test``, ``Cell``, ``Rack``/``Position``, ``Step``, ``Cycle``,
``Total Time …``) within the first lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.errors import CorruptFile
from connectors.tabular import (
    UNIT_FACTORS,
    ColumnRule,
    MappedColumn,
    header_keys,
    read_header_row,
    split_header,
    stream_headed_csv,
)

NAME = "pec_csv"
PARSER_VERSION = "1"

#: Normalised PEC header → rule. Capacity columns are split by unit in `_map` (mAh → capacity, mWh → energy).
RULES: dict[str, ColumnRule] = {
    "step": ColumnRule("step_id", "count"),
    "cycle": ColumnRule("cycle_count", "count"),
    "total_time": ColumnRule("test_time_second", "time", "s"),
    "step_time": ColumnRule("step_time_second", "time", "s"),
    "real_time": ColumnRule("unix_time_second", "time", kind="text"),
    "voltage": ColumnRule("voltage_volt", "voltage", "v"),
    "current": ColumnRule("current_ampere", "current", "a"),
    "charge_capacity": ColumnRule("cycle_charging_capacity_ah", "capacity", "ah"),
    "discharge_capacity": ColumnRule("cycle_discharging_capacity_ah", "capacity", "ah"),
    "charge_energy": ColumnRule("cycle_charging_energy_wh", "energy", "wh"),
    "discharge_energy": ColumnRule("cycle_discharging_energy_wh", "energy", "wh"),
    "ambient_temperature": ColumnRule("ambient_temperature_celsius", "temperature", "c"),
    "cell_surface_temperature": ColumnRule("surface_temperature_celsius", "temperature", "c"),
    "dc_internal_resistance": ColumnRule("internal_resistance_ohm", "resistance", "ohm"),
}
_ENERGY_TWIN = {"charge_capacity": "charge_energy", "discharge_capacity": "discharge_energy"}
#: PEC spells time units out.
_TIME_UNITS = {"seconds": 1.0, "second": 1.0, "minutes": 60.0, "hours": 3600.0, **UNIT_FACTORS["time"]}
_HEADER_SEARCH_LINES = 200


def find_header_line(text: str) -> int | None:
    """1-based line of the PEC column header among the first lines, or None."""
    for number, line in enumerate(text.splitlines()[:_HEADER_SEARCH_LINES], start=1):
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) < 8 or cells[0] != "Test":
            continue
        keys = header_keys(line)
        if {"cell", "step", "cycle", "total_time", "voltage", "current"} <= keys and (
            {"rack", "shelf", "position"} & keys
        ):
            return number
    return None


class PecCsv(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        return not head.is_binary and find_header_line(head.text) is not None

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        head = FileHead.read(path).text
        header_line = find_header_line(head)
        if header_line is None:
            raise CorruptFile(path.name, "no PEC column header (Test, Cell, …, Total Time, Voltage, Current)")
        headers = read_header_row(path, header_line=header_line)
        mapped, unmapped = _map(headers, path.name, header_line)
        return stream_headed_csv(
            path,
            {},
            format_name=NAME,
            parser_version=PARSER_VERSION,
            timezone=timezone,
            chunk_rows=chunk_rows,
            counters=("cycle_count", "step_id"),
            finish=to_canonical,
            metadata=_metadata(head, header_line),
            header_line=header_line,
            mapping=(mapped, unmapped),
        )


def _map(headers: list[str], label: str, header_line: int) -> tuple[list[MappedColumn], list[str]]:
    mapped: list[MappedColumn] = []
    unmapped: list[str] = []
    taken: set[str] = set()
    for header in headers:
        key, unit = split_header(header)
        unit_key = (unit or "").replace(" ", "")
        if key in _ENERGY_TWIN and unit_key in UNIT_FACTORS["energy"]:
            key = _ENERGY_TWIN[key]  # "Charge Capacity (mWh)" is an energy
        rule = RULES.get(key)
        if rule is None or rule.canonical in taken:
            if header:
                unmapped.append(header)
            continue
        unit_key = unit_key if unit is not None else rule.default_unit
        factors = _TIME_UNITS if rule.quantity == "time" else UNIT_FACTORS[rule.quantity]
        if rule.kind == "number" and unit_key not in factors:
            raise CorruptFile(
                label,
                f"column {header!r}: unit {unit!r} is not a known {rule.quantity} unit",
                line=header_line,
            )
        taken.add(rule.canonical)
        mapped.append(MappedColumn(header, rule, factors.get(unit_key, 1.0)))
    missing = {"test_time_second", "voltage_volt", "current_ampere"} - taken
    if missing:
        raise CorruptFile(label, f"PEC header without {', '.join(sorted(missing))}", line=header_line)
    return mapped, unmapped


_BLOCK_KEYS = {
    "Test": "test",
    "Test Description": "description",
    "TestRegime Name": "procedure",
    "TestRegime Suffix": "procedure_suffix",
    "TestRegime Version": "procedure_version",
    "Project Group Name": "project",
    "Number Of Cells": "number_of_cells",
    "LotID": "lot_id",
    "Lot Description": "lot_description",
    "Date Made": "date_made",
    "Origin": "origin",
    "Requestor": "requestor",
    "Product ID": "product_id",
    "Test Temp": "test_temperature",
    "Start Time": "start_time",
    "End Time": "end_time",
    "Operator Instructions": "operator_instructions",
}


def _metadata(head: str, header_line: int) -> dict[str, Any]:
    """``Key:,Value`` pairs of the header block that say something (empty values and ``1/1/0001`` skipped)."""
    found: dict[str, Any] = {}
    for line in head.splitlines()[: header_line - 1]:
        if line.startswith("#") or ":," not in line:
            continue
        key, value = line.split(":,", 1)
        value = value.strip().rstrip(",").strip()
        name = _BLOCK_KEYS.get(key.strip())
        if name and value and not value.startswith("1/1/0001"):
            found[name] = value
    if "start_time" in found:
        # MM/DD/YYYY hh:mm:ss as written, local time of the lab; keep the text, and ISO for convenience.
        parsed = pd.to_datetime(found["start_time"], format="%m/%d/%Y %H:%M:%S", errors="coerce")
        if not pd.isna(parsed):
            found["start_time_iso"] = parsed.isoformat()
    return found


CONNECTOR = PecCsv()
