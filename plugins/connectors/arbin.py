"""Arbin CSV exports (MITS 7 / MITS Pro), in both header styles.

- BEEP/MITS style: ``Data_Point, Test_Time, DateTime, Step_Time, Step_Index, Cycle_Index, Current, Voltage,
  Charge_Capacity, …`` with SI units implied and ``DateTime`` as epoch seconds.
- MITS Pro style: ``Date_Time, Test_Time(s), Step_Index, Cycle_Index, Voltage(V), Current(A),
  Charge_Capacity(Ah), …`` with units in the header (mA, mAh… are converted) and a text timestamp.

The timestamp's form is judged by its values, whatever the column's name: Unix seconds, Unix milliseconds,
OLE/Excel day numbers (lab time) or text dates (lab time).

Arbin's sign convention already matches BDF (positive current charges). ``Cycle_Index`` is the instrument's
test-wide cycle counter (→ ``cycle_count``); ``Step_Index`` is the schedule step (→ ``step_id``).
Arbin's ``Charge_Capacity``/``Discharge_Capacity``/``*_Energy`` counters restart at each cycle, so they map
to BDF's per-cycle (``cycle_*``) reset scope.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.tabular import ColumnRule, header_keys, stream_headed_csv

NAME = "arbin_csv"
PARSER_VERSION = "1"

RULES: dict[str, ColumnRule] = {
    "data_point": ColumnRule("record_index", "count"),
    "test_time": ColumnRule("test_time_second", "time", "s"),
    # Both names are read as text and judged by their values (timestamps.timestamps_to_unix_seconds): exports
    # write Unix seconds or milliseconds, day numbers or text dates under either.
    "datetime": ColumnRule("unix_time_second", "time", kind="text"),
    "date_time": ColumnRule("unix_time_second", "time", kind="text"),
    "step_time": ColumnRule("step_time_second", "time", "s"),
    "step_index": ColumnRule("step_id", "count"),
    "cycle_index": ColumnRule("cycle_count", "count"),
    "current": ColumnRule("current_ampere", "current", "a"),
    "voltage": ColumnRule("voltage_volt", "voltage", "v"),
    "power": ColumnRule("power_watt", "power", "w"),
    "charge_capacity": ColumnRule("cycle_charging_capacity_ah", "capacity", "ah"),
    "discharge_capacity": ColumnRule("cycle_discharging_capacity_ah", "capacity", "ah"),
    "charge_energy": ColumnRule("cycle_charging_energy_wh", "energy", "wh"),
    "discharge_energy": ColumnRule("cycle_discharging_energy_wh", "energy", "wh"),
    "internal_resistance": ColumnRule("internal_resistance_ohm", "resistance", "ohm"),
    "temperature": ColumnRule("temperature_t1_celsius", "temperature", "c"),
    "aux_temperature_1": ColumnRule("temperature_t1_celsius", "temperature", "c"),
}

_SIGNATURE = {"test_time", "current", "voltage"}
_ARBIN_MARKERS = {"data_point", "step_index", "cycle_index"}


class ArbinCsv(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        keys = header_keys(head.first_line)
        # Battery Archive writes "Test_Time (s)" with a space and environment/cell temperatures: not Arbin.
        if "environment_temperature" in keys or "cell_temperature" in keys:
            return False
        return keys >= _SIGNATURE and bool(_ARBIN_MARKERS & keys)

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
            counters=("cycle_count", "step_id"),
            finish=_finish,
        )


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    if "record_index" in frame:
        frame["record_index"] = frame["record_index"].fillna(-1).astype(np.int64)
    return to_canonical(frame)


CONNECTOR = ArbinCsv()
