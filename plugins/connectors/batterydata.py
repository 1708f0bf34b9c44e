"""batterydata.energy.gov (DOE Battery Data Hub) processed raw time series (``*-raw.csv``).

- One header line of fixed names with the unit as suffix: ``Cycle_Index, Step, Time_s, Amphr, Watthr,
  Current_A, Voltage_V, Cell_Temperature_C, Temp2, Datenum_d, Power_W, Charge_Capacity_Ah,
  Discharge_Capacity_Ah, Charge_Energy_Wh, Discharge_Energy_Wh, Frequency_Hz, Z_*, …Throughput…,
  Cycle_Label, Segment_Label, Differential_*``. Values already in SI; missing values are written ``NaN``.
- Current is signed with charge positive (the BDF convention already).
- ``Time_s`` is the test time. ``Datenum_d`` is a MATLAB datenum (days since year 0, naive local time of the
  lab): it becomes ``unix_time_second`` = (datenum − 719529) × 86400 read in the lab's timezone.
  The Data Hub stitches several instrument files into one test time: at the joins ``Datenum_d`` jumps
  (hours to days of wall-clock time between files) while ``Time_s`` continues, and during EIS ``Time_s``
  runs ahead of the clock. Both are kept as written; cycle statistics integrate over `test_time_second`.
- ``Charge_Capacity_Ah``/``Discharge_Capacity_Ah``/``*_Energy_Wh`` restart at every STEP: they map to
  BDF's step scope (``step_charging_capacity_ah``…), the instrument's numbers kept beside the recalculated
  ones. The signed per-step ``Amphr``/``Watthr`` (their net), the throughput columns (cumulative |Ah| and
  net Ah), EIS columns (``Frequency_Hz``, ``Z_*``), labels, dQ/dV and the second temperature ``Temp2``
  (location not stated) are left unmapped (``unmapped_columns``).
- ``Cycle_Index`` → ``cycle_count``; ``Step`` → ``step_id``; ``Cell_Temperature_C`` →
  ``surface_temperature_celsius``; ``Power_W`` → ``power_watt``.

Recognised by the header line holding ``Cycle_Index``, ``Time_s``, ``Current_A``, ``Voltage_V`` and
``Datenum_d`` or ``Amphr``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.errors import CorruptFile
from connectors.tabular import ColumnRule, MappedColumn, read_header_row, stream_headed_csv

NAME = "batterydata_csv"
PARSER_VERSION = "1"

#: Exact header → rule (the units are part of the fixed names, values already in SI).
COLUMNS: dict[str, ColumnRule] = {
    "Cycle_Index": ColumnRule("cycle_count", "count"),
    "Step": ColumnRule("step_id", "count"),
    "Time_s": ColumnRule("test_time_second", "time"),
    "Current_A": ColumnRule("current_ampere", "current"),
    "Voltage_V": ColumnRule("voltage_volt", "voltage"),
    "Power_W": ColumnRule("power_watt", "power"),
    "Cell_Temperature_C": ColumnRule("surface_temperature_celsius", "temperature"),
    "Charge_Capacity_Ah": ColumnRule("step_charging_capacity_ah", "capacity"),
    "Discharge_Capacity_Ah": ColumnRule("step_discharging_capacity_ah", "capacity"),
    "Charge_Energy_Wh": ColumnRule("step_charging_energy_wh", "energy"),
    "Discharge_Energy_Wh": ColumnRule("step_discharging_energy_wh", "energy"),
    "Datenum_d": ColumnRule("_datenum", "time"),
}
_SIGNATURE = {"Cycle_Index", "Time_s", "Current_A", "Voltage_V"}
_MARKERS = {"Datenum_d", "Amphr", "Charge_Throughput_Ah", "Cycle_Label"}
#: MATLAB datenum of 1970-01-01.
DATENUM_UNIX_EPOCH = 719529.0
SECONDS_PER_DAY = 86400.0


def _header_cells(line: str) -> set[str]:
    return {cell.strip().strip('"') for cell in line.split(",")}


class BatteryDataCsv(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        cells = _header_cells(head.first_line)
        return cells >= _SIGNATURE and bool(_MARKERS & cells)

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        headers = read_header_row(path, header_line=1)
        missing = _SIGNATURE - set(headers)
        if missing:
            raise CorruptFile(path.name, f"header without {', '.join(sorted(missing))}", line=1)
        mapped = [MappedColumn(h, COLUMNS[h], 1.0) for h in headers if h in COLUMNS]
        unmapped = [h for h in headers if h not in COLUMNS and h]
        produced = tuple(
            "unix_time_second" if c.rule.canonical == "_datenum" else c.rule.canonical for c in mapped
        )
        return stream_headed_csv(
            path,
            {},
            format_name=NAME,
            parser_version=PARSER_VERSION,
            timezone=timezone,
            chunk_rows=chunk_rows,
            counters=("cycle_count", "step_id"),
            finish=partial(_finish, timezone=timezone),
            # The Data Hub names its files <cell>-raw.csv.
            metadata={"cell_id": path.name.removesuffix(".csv").removesuffix("-raw")},
            mapping=(mapped, unmapped),
            produces=produced,
        )


#: The Data Hub's per-cycle summary (``<cell>-summary.csv``) → our names; ``NaN`` = no charge/discharge.
SUMMARY_COLUMNS: dict[str, str] = {
    "Cycle_Index": "cycle_count",
    "Q_chg": "charge_capacity_ah",
    "Q_dis": "discharge_capacity_ah",
    "E_chg": "charge_energy_wh",
    "E_dis": "discharge_energy_wh",
}


def read_summary(path: Path) -> pd.DataFrame:
    """The Data Hub's per-cycle summary with our column names (`SUMMARY_COLUMNS`), values in Ah and Wh."""
    try:
        frame = pd.read_csv(path, usecols=lambda c: c in SUMMARY_COLUMNS)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptFile(path.name, f"unreadable batterydata summary: {exc}") from exc
    missing = [c for c in ("Cycle_Index", "Q_chg", "Q_dis") if c not in frame.columns]
    if missing:
        raise CorruptFile(path.name, f"batterydata summary without {', '.join(missing)}", line=1)
    return frame.rename(columns=SUMMARY_COLUMNS)


def datenum_to_unix_seconds(datenum: np.ndarray, timezone: str) -> np.ndarray:
    """MATLAB datenums (naive local time in `timezone`) → UTC seconds since 1970."""
    local_seconds = (np.asarray(datenum, dtype=np.float64) - DATENUM_UNIX_EPOCH) * SECONDS_PER_DAY
    if timezone == "UTC":
        return local_seconds
    # Localise at µs resolution, then keep the sub-µs remainder of the float so nothing is rounded away.
    finite = np.isfinite(local_seconds)
    micros = np.where(finite, np.floor(local_seconds * 1e6), 0).astype(np.int64)
    naive = pd.to_datetime(pd.Series(micros), unit="us")
    local = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    offset = (local.dt.tz_convert("UTC").dt.tz_localize(None) - naive).dt.total_seconds().to_numpy()
    return np.where(finite, local_seconds + offset, np.nan)


def _finish(frame: pd.DataFrame, *, timezone: str) -> pd.DataFrame:
    if "_datenum" in frame:
        frame["unix_time_second"] = datenum_to_unix_seconds(frame.pop("_datenum").to_numpy(), timezone)
    return to_canonical(frame)


CONNECTOR = BatteryDataCsv()
