"""Neware's vocabulary shared by its CSV, Excel and binary readers: column rules and units, step types
and their direction, the sign of the current, step-scope counters, and the test time from wall-clock dates."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.base import (
    to_canonical,
)
from connectors.errors import CorruptFile
from connectors.tabular import (
    UNIT_FACTORS,
    ColumnRule,
    MappedColumn,
    split_header,
)
from connectors.timestamps import (
    timestamps_to_unix_seconds,
)

NAME = "neware_csv"
NAME_NDA = "neware_nda"
NAME_NDAX = "neware_ndax"
NAME_XLSX = "neware_xlsx"
PARSER_VERSION = "1"

#: Normalised header (tabular.split_header) → rule. Neware's capacity and energy restart every step (see
#: the module docstring): they map to the step scope.
_RULES: dict[str, ColumnRule] = {
    "datapoint": ColumnRule("record_index", "count"),
    "data_point": ColumnRule("record_index", "count"),
    "record_id": ColumnRule("record_index", "count"),
    "record_index": ColumnRule("record_index", "count"),
    "record_number": ColumnRule("record_index", "count"),
    "cycle_index": ColumnRule("cycle_count", "count"),
    "cycle_id": ColumnRule("cycle_count", "count"),
    "step_index": ColumnRule("step_id", "count"),
    "step_id": ColumnRule("step_id", "count"),
    "step_number": ColumnRule("step_count", "count"),
    "step_type": ColumnRule("_step_type", "count", kind="text"),
    "step_name": ColumnRule("_step_type", "count", kind="text"),
    "time": ColumnRule("step_time_second", "time", "s"),
    "step_time": ColumnRule("step_time_second", "time", "s"),
    "relative_time": ColumnRule("step_time_second", "time", "s"),
    "cumulative_time": ColumnRule("test_time_second", "time", "s"),
    "total_time": ColumnRule("test_time_second", "time", "s"),
    "test_time": ColumnRule("test_time_second", "time", "s"),
    "current": ColumnRule("_current", "current", "a"),
    "voltage": ColumnRule("voltage_volt", "voltage", "v"),
    "date": ColumnRule("unix_time_second", "time", kind="text"),
    "realtime": ColumnRule("unix_time_second", "time", kind="text"),
    "real_time": ColumnRule("unix_time_second", "time", kind="text"),
    "absolute_time": ColumnRule("unix_time_second", "time", kind="text"),
    "system_time": ColumnRule("unix_time_second", "time", kind="text"),
    "power": ColumnRule("power_watt", "power", "w"),
    "dcir": ColumnRule("internal_resistance_ohm", "resistance", "ohm"),
    "chg_cap": ColumnRule("step_charging_capacity_ah", "capacity", "ah"),
    "dchg_cap": ColumnRule("step_discharging_capacity_ah", "capacity", "ah"),
    "chg_energy": ColumnRule("step_charging_energy_wh", "energy", "wh"),
    "dchg_energy": ColumnRule("step_discharging_energy_wh", "energy", "wh"),
    "capacity": ColumnRule("_capacity", "capacity", "ah"),
    "energy": ColumnRule("_energy", "energy", "wh"),
    "t1": ColumnRule("temperature_t1_celsius", "temperature", "c"),
    "temperature": ColumnRule("temperature_t1_celsius", "temperature", "c"),
}
#: Neware spellings of units that tabular.UNIT_FACTORS lacks ("O"/"mO" for ohm, "?" for a lost ℃).
_UNITS: dict[str, dict[str, float]] = {
    **UNIT_FACTORS,
    "resistance": {**UNIT_FACTORS["resistance"], "mo": 1e-3, "mohm": 1e-3, "uo": 1e-6},
    "temperature": {**UNIT_FACTORS["temperature"], "?": 1.0, "": 1.0},
}
#: Time columns whose values hold ':' are durations whatever the header's unit says ("Time(h:min:s.ms)").
_TIME_COLUMNS = ("step_time_second", "test_time_second")
#: Helper columns → the canonical columns `_finish` makes of them.
_PRODUCED = {
    "_current": ("current_ampere",),
    "_step_type": (),
    "_date": ("unix_time_second",),
    "_capacity": ("step_charging_capacity_ah", "step_discharging_capacity_ah"),
    "_energy": ("step_charging_energy_wh", "step_discharging_energy_wh"),
}
#: Unsigned step counter → the (charging, discharging) step columns it is split into.
_SPLIT_BY_STEP = {
    "_capacity": ("step_charging_capacity_ah", "step_discharging_capacity_ah"),
    "_energy": ("step_charging_energy_wh", "step_discharging_energy_wh"),
}

_CHARGE_WORDS = re.compile(r"chg|charge|充电", re.IGNORECASE)
_DISCHARGE_WORDS = re.compile(r"dchg|discharge|放电", re.IGNORECASE)


def step_direction(step_type: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(charging, discharging) masks from Neware step type words ("CC Chg", "CCCV_DChg", "恒流放电"…)."""
    text = step_type.astype("string")
    discharging = text.str.contains(_DISCHARGE_WORDS).to_numpy(dtype=bool, na_value=False)
    charging = text.str.contains(_CHARGE_WORDS).to_numpy(dtype=bool, na_value=False) & ~discharging
    return charging, discharging


def signed_current(amps: np.ndarray, step_type: pd.Series) -> np.ndarray:
    """+|I| on charge steps, −|I| on discharge steps, other steps as written."""
    charging, discharging = step_direction(step_type)
    # + 0.0 turns the -0.0 of a zero current on a discharge step into 0.0.
    return np.where(charging, np.abs(amps), np.where(discharging, -np.abs(amps), amps)) + 0.0


def split_step_counters(frame: pd.DataFrame, charging: np.ndarray, discharging: np.ndarray) -> None:
    """Unsigned step counters (``_capacity``, ``_energy``) → the charging / discharging step columns, NaN on
    the other steps; dropped when the file also has the split columns."""
    for helper, (on_charge, on_discharge) in _SPLIT_BY_STEP.items():
        if helper not in frame:
            continue
        values = np.abs(frame.pop(helper).to_numpy(dtype=np.float64))
        if on_charge not in frame and on_discharge not in frame:
            frame[on_charge] = np.where(charging, values, np.nan)
            frame[on_discharge] = np.where(discharging, values, np.nan)


# --------------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------------


def _header_names(line: str) -> list[str]:
    return [cell.strip().strip('"').lstrip("\ufeff") for cell in line.split(",")]


def _is_flat_header(line: str) -> bool:
    names = set(_header_names(line))
    keys = {split_header(name)[0] for name in names}
    has_step_type = bool({"Step Type", "Step Name"} & names)
    has_cycle = bool({"Cycle Index", "Cycle ID"} & names)
    return has_step_type and has_cycle and "current" in keys and "voltage" in keys


def _is_nested_header(text: str) -> bool:
    lines = text.split("\n", 3)
    if len(lines) < 3:
        return False
    first, second, third = (line.rstrip("\r").lstrip("\ufeff") for line in lines[:3])
    return (
        first.startswith("Cycle Index,")
        and (second.startswith(",Step Index,") or second.startswith(",Step ID,"))
        and third.startswith(",,")
        and "Current" in third
        and "Voltage" in third
    )


def _map_columns(
    headers: Sequence[str], first_row: Sequence[str], label: str, header_line: int
) -> tuple[list[MappedColumn], list[str]]:
    """Vendor headers → mapped columns (factor to SI) and the unmapped rest. `first_row` (the first record's
    fields) tells whether a time column holds ``hh:mm:ss`` durations or seconds."""
    mapped: list[MappedColumn] = []
    unmapped: list[str] = []
    taken: set[str] = set()
    for position, header in enumerate(headers):
        if not header:
            continue
        key, unit = split_header(header)
        rule = _RULES.get(key)
        if rule is None or rule.canonical in taken:
            unmapped.append(header)
            continue
        factor = 1.0
        if rule.canonical in _TIME_COLUMNS:
            value = first_row[position] if position < len(first_row) else ""
            if ":" in value:
                rule = ColumnRule(rule.canonical, "time", kind="duration")
        if rule.kind == "number":
            unit_key = (unit if unit is not None else rule.default_unit).replace(" ", "")
            factors = _UNITS[rule.quantity]
            if unit_key not in factors:
                raise CorruptFile(
                    label,
                    f"column {header!r}: unit {unit!r} is not a known {rule.quantity} unit "
                    f"({', '.join(sorted(k for k in factors if k))})",
                    line=header_line,
                )
            factor = factors[unit_key]
        taken.add(rule.canonical)
        mapped.append(MappedColumn(header, rule, factor))
    missing = [name for name in ("_current", "voltage_volt") if name not in taken]
    if missing:
        raise CorruptFile(label, "Neware header without a Current or Voltage column", line=header_line)
    if "test_time_second" not in taken and "unix_time_second" not in taken:
        raise CorruptFile(label, "Neware header without a test time or a Date column", line=header_line)
    return mapped, unmapped


def _first_data_row(path: Path, after_line: int, prefix: bytes = b"") -> list[str]:
    """Fields of the first non-empty line after `after_line` that starts with `prefix`."""
    with path.open("rb") as handle:
        for _ in range(after_line):
            handle.readline()
        for raw in handle:
            if raw.strip() and raw.startswith(prefix):
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                return [cell.strip() for cell in next(csv.reader([text]), [])]
    return []


def _make_finish(
    first_unix: float | None, timezone: str, label: str
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Per-chunk fix-ups: current signed from the step type; test time from Date when the file lacks it."""

    def finish(frame: pd.DataFrame) -> pd.DataFrame:
        amps = frame.pop("_current").to_numpy(dtype=np.float64)
        if "_step_type" in frame:
            step_type = frame.pop("_step_type")
            frame["current_ampere"] = signed_current(amps, step_type)
            split_step_counters(frame, *step_direction(step_type))
        else:
            frame["current_ampere"] = amps
            for helper in _SPLIT_BY_STEP:
                frame.pop(helper, None)
        if "_date" in frame:
            unix = timestamps_to_unix_seconds(
                frame.pop("_date"), timezone=timezone, file_label=label, column="Date"
            )
            frame["unix_time_second"] = unix
            frame["test_time_second"] = unix - (first_unix if first_unix is not None else np.nan)
        for name in ("record_index", "cycle_count", "step_id", "step_count"):
            if name in frame:
                frame[name] = frame[name].round()
        return to_canonical(frame)

    return finish


def _produced(mapped: Sequence[MappedColumn]) -> tuple[str, ...]:
    names = [n for c in mapped for n in _PRODUCED.get(c.rule.canonical, (c.rule.canonical,))]
    if "_date" in (c.rule.canonical for c in mapped):
        names.append("test_time_second")
    return tuple(dict.fromkeys(names))


def _test_time_from_date(
    mapped: list[MappedColumn],
    headers: Sequence[str],
    first_row: Sequence[str],
    timezone: str,
    label: str,
    line: int | None,
) -> tuple[list[MappedColumn], float | None]:
    """An export without a test-time column: its Date column becomes the helper ``_date`` (finish makes
    both the clock and the test time of it) and the first row's clock is the test's start."""
    if "test_time_second" in {c.rule.canonical for c in mapped}:
        return mapped, None
    mapped = [
        MappedColumn(c.header, ColumnRule("_date", "time", kind="text"), 1.0)
        if c.rule.canonical == "unix_time_second"
        else c
        for c in mapped
    ]
    return mapped, _first_timestamp(mapped, headers, first_row, timezone, label, line=line)


def _first_timestamp(
    mapped: Sequence[MappedColumn],
    headers: Sequence[str],
    first_row: Sequence[str],
    timezone: str,
    label: str,
    line: int | None,
) -> float:
    column = next(c for c in mapped if c.rule.canonical == "_date")
    value = first_row[headers.index(column.header)] if first_row else ""
    return float(
        timestamps_to_unix_seconds(
            pd.Series([value], dtype="string"),
            timezone=timezone,
            file_label=label,
            column=column.header,
            first_line=line,
        )[0]
    )
