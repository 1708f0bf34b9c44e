"""batteryarchive.org per-cycle download (``*_cycle_data.csv``): the archive's statistics per cycle.

Header: ``Cycle_Index, Start_Time, End_Time, Test_Time (s), Min_Current (A), Max_Current (A),
Min_Voltage (V), Max_Voltage (V), Charge_Capacity (Ah), Discharge_Capacity (Ah), Charge_Energy (Wh),
Discharge_Energy (Wh)``. This is NOT a time series, so it is not a connector: `read_cycle_data` returns the
reported per-cycle values under our per-cycle column names (those of `processors.cycle_stats`), to be stored
beside a cell's time series, and `write_cycle_data` writes per-cycle statistics back in this layout
(``blc export --format batteryarchive``).

- ``Cycle_Index`` is written as a float (``1.0``) → ``cycle_index`` (Int64).
- ``Test_Time (s)`` is the test time at the END of the cycle → ``test_time_end_second``.
- ``Start_Time``/``End_Time`` are wall-clock texts, often empty → ``start_time``/``end_time`` (strings, kept
  as written: the archive does not say their timezone).
- Units in the headers are converted to SI (mA, mAh, mWh… accepted); current is charge-positive, so
  ``Min_Current`` is the largest discharge current (negative).

Recognised by its header line (``Cycle_Index``, ``Test_Time (s)``, ``Min_Current``, ``Charge_Capacity``…).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.base import FileHead
from connectors.errors import CorruptFile
from connectors.tabular import UNIT_FACTORS, header_keys, split_header

FORMAT = "batteryarchive_cycle_data"

#: Normalised header → (our per-cycle column, quantity, unit batteryarchive writes), in the archive's order.
COLUMNS: dict[str, tuple[str, str, str]] = {
    "cycle_index": ("cycle_index", "count", ""),
    "start_time": ("start_time", "text", ""),
    "end_time": ("end_time", "text", ""),
    "test_time": ("test_time_end_second", "time", "s"),
    "min_current": ("current_min_a", "current", "A"),
    "max_current": ("current_max_a", "current", "A"),
    "min_voltage": ("voltage_min_v", "voltage", "V"),
    "max_voltage": ("voltage_max_v", "voltage", "V"),
    "charge_capacity": ("charge_capacity_ah", "capacity", "Ah"),
    "discharge_capacity": ("discharge_capacity_ah", "capacity", "Ah"),
    "charge_energy": ("charge_energy_wh", "energy", "Wh"),
    "discharge_energy": ("discharge_energy_wh", "energy", "Wh"),
}
#: The archive's own header names, in order.
HEADERS: tuple[str, ...] = (
    "Cycle_Index",
    "Start_Time",
    "End_Time",
    "Test_Time (s)",
    "Min_Current (A)",
    "Max_Current (A)",
    "Min_Voltage (V)",
    "Max_Voltage (V)",
    "Charge_Capacity (Ah)",
    "Discharge_Capacity (Ah)",
    "Charge_Energy (Wh)",
    "Discharge_Energy (Wh)",
)
CYCLE_DATA_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in COLUMNS.values())
_SIGNATURE = {"cycle_index", "test_time", "charge_capacity", "discharge_capacity"}
_STATS_MARKERS = {"min_current", "max_current", "min_voltage", "max_voltage"}


def sniff_cycle_data(head: FileHead) -> bool:
    """True when the file's first line is a batteryarchive cycle-data header."""
    if head.is_binary:
        return False
    keys = header_keys(head.first_line)
    return keys >= _SIGNATURE and bool(_STATS_MARKERS & keys) and "current" not in keys


def read_cycle_data(path: Path) -> pd.DataFrame:
    """The per-cycle rows with our column names (`CYCLE_DATA_COLUMNS` that the file has), SI units.
    Raises CorruptFile naming the line of a row with the wrong field count or a value that is not a number."""
    label = path.name
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise CorruptFile(label, "empty file")
    headers = [cell.strip().lstrip("\ufeff") for cell in rows[0]]
    plan: list[tuple[int, str, str, float]] = []
    for position, header in enumerate(headers):
        key, unit = split_header(header)
        known = COLUMNS.get(key)
        if known is None:
            continue
        name, quantity, default_unit = known
        factor = 1.0
        if quantity not in ("text", "count"):
            unit_key = (unit if unit is not None else default_unit.lower()).replace(" ", "")
            factors = UNIT_FACTORS[quantity]
            if unit_key not in factors:
                raise CorruptFile(label, f"column {header!r}: unit {unit!r} is not a {quantity} unit", line=1)
            factor = factors[unit_key]
        plan.append((position, name, quantity, factor))
    if not {"cycle_index", "charge_capacity_ah", "discharge_capacity_ah"} <= {p[1] for p in plan}:
        raise CorruptFile(
            label, "not a batteryarchive cycle-data header (Cycle_Index, Charge_Capacity…)", line=1
        )
    values: dict[str, list] = {name: [] for _, name, _, _ in plan}
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(headers):
            raise CorruptFile(label, f"expected {len(headers)} fields, found {len(row)}", line=number)
        for position, name, quantity, factor in plan:
            cell = row[position].strip()
            if quantity == "text":
                values[name].append(cell or None)
                continue
            try:
                number_value = float(cell) if cell else np.nan
            except ValueError:
                raise CorruptFile(
                    label, f"column {headers[position]!r}: value {cell[:40]!r} is not a number", line=number
                ) from None
            values[name].append(number_value * factor)
    frame = pd.DataFrame({name: values[name] for name in CYCLE_DATA_COLUMNS if name in values})
    if frame.empty:
        raise CorruptFile(label, "no data rows after the header", line=2)
    cycles = frame["cycle_index"]
    if (cycles.isna() | (cycles != np.round(cycles))).any():
        bad = int(np.flatnonzero((cycles.isna() | (cycles != np.round(cycles))).to_numpy())[0])
        raise CorruptFile(label, f"Cycle_Index {cycles.iloc[bad]!r} is not a whole number", line=bad + 2)
    frame["cycle_index"] = cycles.astype("Int64")
    for name in ("start_time", "end_time"):
        if name in frame:
            frame[name] = frame[name].astype("string")
    return frame


def write_cycle_data(stats: pd.DataFrame, path: Path) -> None:
    """Write per-cycle statistics (our column names, SI) as a batteryarchive cycle-data CSV. Columns the frame
    lacks (e.g. start/end wall-clock times, which our statistics do not keep) are written empty."""
    out = pd.DataFrame(index=stats.index)
    for header, name in zip(HEADERS, CYCLE_DATA_COLUMNS, strict=True):
        if name not in stats:
            out[header] = None
        elif name == "cycle_index":
            # The archive writes its cycle index as a float ("1.0").
            out[header] = stats[name].astype("float64")
        else:
            out[header] = stats[name]
    # repr-exact floats: read → write → read gives back the same numbers.
    out.to_csv(path, index=False, float_format=None, lineterminator="\n")
