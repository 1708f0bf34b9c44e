"""Neware BTS exports: the CSV "regular export" in two layouts, and the binary ``.nda`` / ``.ndax`` files.

CSV, flat layout (``neware_csv``): one header line ``DataPoint, Cycle Index, Step Index, Step Type, Time,
Cumulative Time, Current(A), Voltage(V), Capacity(Ah), …, Date, Power(W), …``, one row per record.

CSV, cycle/step/record layout (``neware_csv`` too): three header lines, one per level — ``Cycle Index,
Chg. Cap.(Ah), …`` / ``,Step Index,Step Number,Step Type, …`` / ``,,DataPoint,Time,Total Time,Current(A), …``
— and rows nested the same way: a cycle summary row (first field filled), then for each step a step
summary row (first field empty), then its records (first two fields empty). Records carry neither cycle nor
step: both are taken from the summary rows above them. Quirk: the first cycle row may carry the first step
row glued to its end (22 fields instead of 8). Summary rows are not samples and are not kept.

Both CSV layouts:

- Units come in brackets (``Current(mA)``, ``Voltage(V)``, ``DCIR(mO)``…) and are scaled to SI; ``(?)``
  is a temperature unit (``℃`` lost to a non-Unicode export) and counts as °C.
- ``Time`` is the step time and ``Cumulative Time`` / ``Total Time`` the test time, written ``hh:mm:ss``
  (hours may exceed 24); a test time in plain seconds is read too. A file without a test time gets it from
  ``Date`` minus the first ``Date``.
- ``Date`` / ``Realtime`` is the lab's local wall-clock time (→ ``unix_time_second``).
- Current is signed (discharge negative) in most versions and unsigned in some: the sign is taken from the
  ``Step Type`` words — ``… Chg`` / ``Charge`` / ``充电`` charge (+), ``… DChg`` / ``Discharge`` / ``放电``
  discharge (−); other steps (Rest, Pulse…) keep the value as written.
- ``Cycle Index`` is the instrument's cycle counter (→ ``cycle_count``), ``Step Index`` the schedule step
  (→ ``step_id``), ``Step Number`` the running step count (→ ``step_count``).
- ``Chg. Cap.``, ``DChg. Cap.``, ``Chg. Energy`` and ``DChg. Energy`` restart at every STEP (checked on
  both real files): they map to BDF's step scope (``step_charging_capacity_ah``…). The unsigned ``Capacity``
  and ``Energy`` (the only ones the cycle/step/record layout writes) are split by the step type into the
  charging or discharging step counter when the split columns are absent. Specific capacities (mAh/g),
  dQ/dV, auxiliary voltages and the CPU temperature are left unmapped (``unmapped_columns``).
- ``DCIR(O)`` (or ``DCIR(mO)``) → ``internal_resistance_ohm``. ``Contact resistance(mO)`` is the probe
  contact check, not the cell's resistance: unmapped.
- Recognised by the header: the flat layout by ``Step Type`` (or ``Step Name``) with ``Cycle Index`` /
  ``Cycle ID`` written with a space, plus current and voltage columns (Arbin writes ``Cycle_Index`` and never
  ``Step Type``); the nested layout by its three header lines starting ``Cycle Index,`` / ``,Step Index,`` /
  ``,,``.

Binary files (``neware_nda``, ``neware_ndax``), read with the NewareNDA package (BSD-3-Clause; install
``NewareNDA``), imported only when such a file is read:

- ``.nda`` starts with the bytes ``NEWARE``; ``.ndax`` is a zip archive recognised by its Neware members
  (``data.ndc``, or ``TestInfo.xml`` with ``VersionInfo.xml``) so other zip files are not claimed.
- NewareNDA gives mA and mAh/mWh as float32, discharge current negative; values are turned back into the
  decimals the instrument wrote (float32 → shortest decimal → float64), current scaled to A, and the sign
  checked against the step status like the CSV.
- Its ``Time`` is the STEP time; ``test_time_second`` is the running sum of the steps' final step times plus
  the step time (what Neware's own ``Total Time`` shows). Its capacity/energy columns restart every step:
  mapped to the step scope. The cycle counter is the file's own (NewareNDA's renumbering is switched off);
  a file that holds no counter (NewareNDA writes 0) gets none.
- Naive timestamps are lab local time; timestamps NewareNDA returns with a zone (BTS 9 files hold epoch
  times) are converted as they are.
- Metadata: NDA version, server/client versions, active mass and remarks (``.nda``); start time, procedure
  (``StepName``), channel, device, unit, barcode (``SN``) and server version (``.ndax``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import importlib
import io
import re
import struct
import tempfile
import zipfile
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.base import (
    DEFAULT_CHUNK_ROWS,
    Connector,
    FileHead,
    ReadResult,
    StreamedRead,
    WholeFileConnector,
    to_canonical,
)
from connectors.errors import ConnectorError, CorruptFile
from connectors.tabular import (
    UNIT_FACTORS,
    ZIP_MAGIC,
    ColumnRule,
    MappedColumn,
    durations_to_seconds,
    open_workbook,
    read_header_row,
    split_header,
    stream_headed_csv,
    table_to_frame,
    timestamps_to_unix_seconds,
    workbook_sheet_names,
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


class NewareCsv(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        try:
            return _is_flat_header(head.first_line) or _is_nested_header(head.text)
        except Exception:  # sniff never raises
            return False

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        head = FileHead.read(path).text
        if _is_nested_header(head):
            return _stream_nested(path, timezone=timezone, chunk_rows=chunk_rows)
        if not _is_flat_header(head.split("\n", 1)[0].rstrip("\r")):
            raise CorruptFile(path.name, "not a Neware CSV header (Cycle Index, Step Type, Current, Voltage)")
        label = path.name
        headers = read_header_row(path, header_line=1)
        first_row = _first_data_row(path, 1)
        mapped, unmapped = _map_columns(headers, first_row, label, 1)
        mapped, first_unix = _test_time_from_date(mapped, headers, first_row, timezone, label, line=2)
        return stream_headed_csv(
            path,
            {},
            format_name=NAME,
            parser_version=PARSER_VERSION,
            timezone=timezone,
            chunk_rows=chunk_rows,
            counters=("cycle_count", "step_id", "step_count"),
            finish=_make_finish(first_unix, timezone, label),
            metadata={"export_layout": "flat"},
            mapping=(mapped, unmapped),
            produces=_produced(mapped),
        )


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


# --- nested cycle / step / record layout ----------------------------------------------------------------

_NESTED_HEADER_LINES = 3
_Run = tuple[int, float, float, float, str | None]


class _Context:
    """Cycle and step in force while scanning the nested layout."""

    def __init__(self, step_headers: list[str]) -> None:
        self.cycle = np.nan
        self.step_id = np.nan
        self.step_count = np.nan
        self.step_type: str | None = None
        keys = [split_header(h)[0] for h in step_headers]
        self._index = keys.index("step_index") if "step_index" in keys else keys.index("step_id")
        self._number = keys.index("step_number") if "step_number" in keys else None
        self._type = keys.index("step_type") if "step_type" in keys else None

    def step(self, fields: list[str], label: str, line: int) -> None:
        """`fields` aligned with the step header (its first field is the empty one)."""
        self.step_id = _integer(fields, self._index, label, line, "Step Index")
        self.step_count = (
            _integer(fields, self._number, label, line, "Step Number") if self._number is not None else np.nan
        )
        has_type = self._type is not None and self._type < len(fields)
        self.step_type = fields[self._type].strip() if has_type else None  # type: ignore[index]

    def state(self) -> tuple[float, float, float, str | None]:
        return (self.cycle, self.step_id, self.step_count, self.step_type)


def _integer(fields: list[str], index: int, label: str, line: int, what: str) -> float:
    value = fields[index].strip() if index < len(fields) else ""
    try:
        return float(int(value))
    except ValueError:
        raise CorruptFile(label, f"{what} {value[:40]!r} is not a whole number", line=line) from None


def _stream_nested(path: Path, *, timezone: str, chunk_rows: int) -> StreamedRead:
    label = path.name
    cycle_headers = read_header_row(path, header_line=1)
    step_headers = read_header_row(path, header_line=2)
    record_headers = read_header_row(path, header_line=3)
    first_row = _first_data_row(path, _NESTED_HEADER_LINES, prefix=b",,")
    if not first_row:
        raise CorruptFile(label, "no record rows after the header", line=_NESTED_HEADER_LINES + 1)
    mapped, unmapped = _map_columns(record_headers, first_row, label, 3)
    mapped, first_unix = _test_time_from_date(mapped, record_headers, first_row, timezone, label, line=None)
    finish = _make_finish(first_unix, timezone, label)
    # The summary rows' columns are not sample columns: listed (marked by their row kind), never mapped.
    step_keys = ("step_index", "step_id", "step_number", "step_type")
    unmapped = [
        *(f"cycle row: {h}" for h in cycle_headers if h and h != "Cycle Index"),
        *(f"step row: {h}" for h in step_headers if h and split_header(h)[0] not in step_keys),
        *unmapped,
    ]
    cycle_field_count = len(cycle_headers)
    column_names = [h if h else f"_blank{i}" for i, h in enumerate(record_headers)]
    produced = ("cycle_count", "step_id", "step_count", *_produced(mapped))
    first_line = _first_record_line(path)

    def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        context = _Context(step_headers)
        lines: list[bytes] = []
        line_numbers: list[int] = []
        #: (first row in the chunk, cycle, step id, step count, step type) each time the context changes.
        runs: list[_Run] = []
        rows = 0
        with path.open("rb") as handle:
            for _ in range(_NESTED_HEADER_LINES):
                handle.readline()
            for number, raw in enumerate(handle, start=_NESTED_HEADER_LINES + 1):
                if raw.startswith(b",,"):
                    state = context.state()
                    if not runs or runs[-1][1:] != state:
                        runs.append((len(lines), *state))
                    lines.append(raw)
                    line_numbers.append(number)
                    if len(lines) >= chunk_rows:
                        rows += len(lines)
                        yield _select(finish(_parse_records(lines, line_numbers, runs)), wanted)
                        lines, line_numbers, runs = [], [], []
                    continue
                if not raw.strip():
                    continue
                text = _decode(raw, label, number)
                fields = next(csv.reader([text.rstrip("\r\n")]), [])
                if raw.startswith(b","):
                    context.step(fields, label, number)
                    continue
                context.cycle = _integer(fields, 0, label, number, "Cycle Index")
                if len(fields) > cycle_field_count:  # the first step row glued to the cycle row
                    context.step(["", *fields[cycle_field_count:]], label, number)
                elif len(fields) != cycle_field_count:
                    raise CorruptFile(
                        label,
                        f"cycle row: expected {cycle_field_count} fields, found {len(fields)}",
                        line=number,
                    )
        if lines:
            rows += len(lines)
            yield _select(finish(_parse_records(lines, line_numbers, runs)), wanted)
        if rows == 0:
            raise CorruptFile(label, "no record rows after the header", line=first_line)

    def _parse_records(lines: list[bytes], line_numbers: list[int], runs: list[_Run]) -> pd.DataFrame:
        frame = _read_record_block(lines, line_numbers, column_names, record_headers, mapped, label)
        for column in mapped:
            name = column.rule.canonical
            if column.rule.kind == "text" and name == "unix_time_second":
                convert = functools.partial(
                    timestamps_to_unix_seconds,
                    timezone=timezone,
                    file_label=label,
                    column=column.header,
                    first_line=0,
                )
                frame[name] = _remap_line(convert, frame[name], line_numbers)
            elif column.rule.kind == "duration":
                convert = functools.partial(
                    durations_to_seconds, file_label=label, column=column.header, first_line=0
                )
                frame[name] = _remap_line(convert, frame[name], line_numbers)
        starts = np.array([run[0] for run in runs] + [len(lines)])
        sizes = np.diff(starts)
        frame["cycle_count"] = np.repeat([run[1] for run in runs], sizes)
        frame["step_id"] = np.repeat([run[2] for run in runs], sizes)
        frame["step_count"] = np.repeat([run[3] for run in runs], sizes)
        frame["_step_type"] = pd.Series(np.repeat(np.array([run[4] for run in runs], dtype=object), sizes))
        return frame

    return StreamedRead(
        format=NAME,
        parser_version=PARSER_VERSION,
        columns=tuple(dict.fromkeys(produced)),
        chunks=chunks,
        first_data_line=first_line,
        metadata={"export_layout": "cycle/step/record"},
        unmapped_columns=tuple(unmapped),
    )


def _select(frame: pd.DataFrame, wanted: Sequence[str] | None) -> pd.DataFrame:
    return frame if wanted is None else frame[[c for c in frame.columns if c in wanted]]


def _decode(raw: bytes, label: str, line: int) -> str:
    if b"\x00" in raw:
        raise CorruptFile(label, "binary bytes (NUL) inside a text export", line=line)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFile(label, "bytes that are not UTF-8 text (binary data?)", line=line) from None


def _first_record_line(path: Path) -> int:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number > _NESTED_HEADER_LINES and raw.startswith(b",,"):
                return number
    return _NESTED_HEADER_LINES + 1


def _remap_line(
    convert: Callable[[pd.Series], np.ndarray], values: pd.Series, line_numbers: list[int]
) -> np.ndarray:
    """Run a tabular converter with row-in-chunk line numbers, then name the file's line instead."""
    try:
        return convert(values)
    except CorruptFile as exc:
        if exc.line is None:
            raise
        detail = re.sub(r"^line \d+: ", "", exc.detail)
        raise CorruptFile(exc.file_label, detail, line=line_numbers[exc.line]) from None


def _read_record_block(
    lines: list[bytes],
    line_numbers: list[int],
    column_names: list[str],
    headers: list[str],
    mapped: Sequence[MappedColumn],
    label: str,
) -> pd.DataFrame:
    """Parse record rows (not contiguous in the file, so `line_numbers` names each one) with pyarrow."""
    text_kinds = ("text", "duration")
    names = {c.header: column_names[headers.index(c.header)] for c in mapped}
    bad_rows: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.actual_columns)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(b"".join(lines)),
            read_options=pacsv.ReadOptions(column_names=column_names),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    names[c.header]: pa.string() if c.rule.kind in text_kinds else pa.float64()
                    for c in mapped
                },
                include_columns=[names[c.header] for c in mapped],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _locate_broken_record(lines, line_numbers, headers, mapped, label) from exc
    if bad_rows:
        raise _locate_broken_record(lines, line_numbers, headers, mapped, label)
    return table_to_frame(table, mapped, names)


def _locate_broken_record(
    lines: list[bytes],
    line_numbers: list[int],
    headers: list[str],
    mapped: Sequence[MappedColumn],
    label: str,
) -> CorruptFile:
    numeric = {headers.index(c.header): c.header for c in mapped if c.rule.kind == "number"}
    for raw, number in zip(lines, line_numbers, strict=True):
        text = _decode(raw, label, number)
        fields = next(csv.reader(io.StringIO(text)), [])
        if len(fields) != len(headers):
            ending = "" if raw.endswith(b"\n") else " (last line, no newline: truncated mid-row?)"
            return CorruptFile(
                label, f"expected {len(headers)} fields, found {len(fields)}{ending}", line=number
            )
        for index, header in numeric.items():
            value = fields[index].strip()
            if value:
                try:
                    float(value)
                except ValueError:
                    return CorruptFile(
                        label, f"column {header!r}: value {value[:40]!r} is not a number", line=number
                    )
    return CorruptFile(label, "the reader refused the records but no broken line was found")


# --------------------------------------------------------------------------------------------------------
# .nda / .ndax (NewareNDA)
# --------------------------------------------------------------------------------------------------------

_NDAX_MEMBERS = (b".ndc",)
_NDAX_XML = (b"TestInfo.xml", b"VersionInfo.xml")
_NEWARENDA_HINT = "reading Neware .nda/.ndax files needs the NewareNDA package (pip install NewareNDA)"


def _newarenda(path: Path, module: str) -> Any:
    try:
        return importlib.import_module(f"NewareNDA.{module}")
    except ImportError as exc:
        raise ConnectorError(path.name, _NEWARENDA_HINT) from exc


def _decimal(values: pd.Series) -> np.ndarray:
    """float32 values back to the decimals the instrument wrote (41.599998 → 41.6), as float64."""
    array = np.asarray(values, dtype=np.float32)
    return array.astype(str).astype(np.float64)


def _test_time(step: np.ndarray, step_time: np.ndarray) -> np.ndarray:
    """Running sum of the finished steps' last step times, plus the step time."""
    n = step_time.size
    if n == 0:
        return step_time
    new_step = np.ones(n, dtype=bool)
    new_step[1:] = (step[1:] != step[:-1]) | (step_time[1:] < step_time[:-1])
    starts = np.flatnonzero(new_step)
    ends = np.append(starts[1:] - 1, n - 1)
    offsets = np.concatenate(([0.0], np.cumsum(step_time[ends])[:-1]))
    owner = np.cumsum(new_step) - 1
    return np.round(offsets[owner] + step_time, 6)


def _unix_seconds(stamps: pd.Series, timezone: str) -> np.ndarray:
    parsed = pd.to_datetime(stamps)
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    since_epoch = parsed.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")
    return since_epoch.dt.total_seconds().to_numpy(dtype=np.float64)


#: NewareNDA's per-step counters (mAh, mWh) → BDF step scope.
_NDA_STEP_COUNTERS = {
    "Charge_Capacity(mAh)": "step_charging_capacity_ah",
    "Discharge_Capacity(mAh)": "step_discharging_capacity_ah",
    "Charge_Energy(mWh)": "step_charging_energy_wh",
    "Discharge_Energy(mWh)": "step_discharging_energy_wh",
}


def _binary_frame(raw: pd.DataFrame, timezone: str) -> tuple[pd.DataFrame, list[str]]:
    """NewareNDA's frame → canonical frame and the vendor columns left unmapped."""
    status = raw["Status"].astype("string")
    step_time = _decimal(raw["Time"])
    step = raw["Step"].to_numpy(dtype=np.int64)
    cycle = raw["Cycle"].to_numpy(dtype=np.int64)
    frame = pd.DataFrame(
        {
            "record_index": raw["Index"].to_numpy(dtype=np.int64),
            "test_time_second": _test_time(step, step_time),
            "unix_time_second": _unix_seconds(raw["Timestamp"], timezone),
            # NewareNDA writes 0 where the file holds no counter (its own counters start at 1).
            "cycle_count": pd.arrays.IntegerArray(cycle, mask=cycle == 0),
            "step_count": step,
            "step_id": raw["Step_Index"].to_numpy(dtype=np.int64),
            "step_time_second": step_time,
            "current_ampere": signed_current(_decimal(raw["Current(mA)"]) * 1e-3, status),
            "voltage_volt": _decimal(raw["Voltage"]),
        }
    )
    for vendor, canonical in _NDA_STEP_COUNTERS.items():
        if vendor in raw:
            frame[canonical] = _decimal(raw[vendor]) * 1e-3  # mAh, mWh
    temperature = next((c for c in raw.columns if re.fullmatch(r"T\d+", str(c))), None)
    if temperature is not None:
        frame["temperature_t1_celsius"] = _decimal(raw[temperature])
    used = {"Index", "Cycle", "Step", "Step_Index", "Status", "Time", "Voltage", "Current(mA)", "Timestamp"}
    used |= _NDA_STEP_COUNTERS.keys()
    if temperature is not None:
        used.add(temperature)
    unmapped = [str(c) for c in raw.columns if c not in used]
    return to_canonical(frame), unmapped


def _clean_metadata(values: dict[str, Any]) -> dict[str, str | float]:
    out: dict[str, str | float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or value is None or value == "":
            continue
        out[key] = float(value) if isinstance(value, int | float) else str(value)
    return out


class _NewareBinary(WholeFileConnector):
    parser_version = PARSER_VERSION
    _module: str
    _reader: str

    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        module = _newarenda(path, self._module)
        try:
            raw = getattr(module, self._reader)(str(path), software_cycle_number=False)
        except NotImplementedError as exc:
            raise ConnectorError(path.name, f"NewareNDA cannot read this file: {exc}") from exc
        except (
            ValueError,
            EOFError,
            KeyError,
            IndexError,
            OSError,
            struct.error,
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
        ) as exc:
            raise CorruptFile(path.name, f"NewareNDA could not read it: {type(exc).__name__}: {exc}") from exc
        if raw.empty:
            raise CorruptFile(path.name, "no data records")
        frame, unmapped = _binary_frame(raw, timezone)
        return ReadResult(
            frame=frame,
            format=self.name,
            parser_version=self.parser_version,
            first_data_line=None,
            metadata=self._metadata(path),
            unmapped_columns=tuple(unmapped),
        )

    @abstractmethod
    def _metadata(self, path: Path) -> dict[str, str | float]:
        """What the file says about itself (NewareNDA's metadata reader, per format)."""


class NewareNda(_NewareBinary):
    name = NAME_NDA
    _module = "NewareNDA"
    _reader = "read_nda"

    def sniff(self, head: FileHead) -> bool:
        return head.raw.startswith(b"NEWARE")

    def _metadata(self, path: Path) -> dict[str, str | float]:
        module = _newarenda(path, self._module)
        try:
            found = module.read_nda_metadata(path)
        except Exception:  # metadata is a bonus: the data were read
            return {}
        return _clean_metadata(found)


class NewareNdax(_NewareBinary):
    name = NAME_NDAX
    _module = "NewareNDAx"
    _reader = "read_ndax"

    def sniff(self, head: FileHead) -> bool:
        raw = head.raw
        if not raw.startswith(b"PK\x03\x04"):
            return False
        return any(m in raw for m in _NDAX_MEMBERS) or all(m in raw for m in _NDAX_XML)

    def _metadata(self, path: Path) -> dict[str, str | float]:
        module = _newarenda(path, self._module)
        try:
            found = module.read_ndax_metadata(path)
        except Exception:  # metadata is a bonus: the data were read
            return {}
        test = (found.get("TestInfo") or {}).get("TestInfo") or {}
        version = (found.get("VersionInfo") or {}).get("ZwjVersion") or {}
        return _clean_metadata(
            {
                "start_time": test.get("StartTime"),
                "end_time": test.get("EndTime"),
                "procedure": test.get("StepName"),
                "barcode": test.get("SN"),
                "channel": test.get("ChlID"),
                "device": test.get("DevID"),
                "unit": test.get("UnitID"),
                "remarks": test.get("Remark"),
                "server_version": version.get("SvrVer"),
                "client_version": version.get("CurrClientVer"),
            }
        )


# --------------------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------------------

#: BTSDA's record sheets: ``record`` (BTS 8), ``Detail_<unit>_<channel>_<n>`` (BTS 7), numbered when split.
_RECORD_SHEET = re.compile(r"^(record|detail)", re.IGNORECASE)


def _xlsx_text(value: Any) -> str:
    """An Excel cell as the CSV export would write it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 60:09.6f}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class NewareXlsx(Connector):
    """Neware BTSDA Excel export: the record sheets (``record``/``Record_2``… or ``Detail_…``) hold the flat
    CSV layout, row for row, and are read exactly as the CSV is: each record sheet is written out, in
    workbook order and under one header, as CSV text into a temporary file that lives as long as the stream
    (line numbers in errors are rows of the record sheets laid end to end, header = line 1). Info and
    Cycle/Step summary sheets are skipped. Recognised by the zip magic and a record sheet name in
    ``xl/workbook.xml``; a record sheet without a Neware header is a CorruptFile."""

    name = NAME_XLSX
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if not head.raw.startswith(ZIP_MAGIC):
            return False
        try:
            names = workbook_sheet_names(head.path)
        except Exception:  # sniff never raises
            return False
        return any(_RECORD_SHEET.match(n) for n in names) and not any(n.startswith("Channel") for n in names)

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        book = open_workbook(path)
        scratch = tempfile.TemporaryDirectory(prefix="blc-neware-xlsx-")
        text_path = Path(scratch.name) / label  # same name: errors name the workbook
        sheets: list[str] = []
        header: list[str] | None = None
        try:
            with text_path.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                for sheet in book.worksheets:
                    if not _RECORD_SHEET.match(sheet.title):
                        continue
                    rows = sheet.iter_rows(values_only=True)
                    first = [_xlsx_text(v).strip() for v in next(rows, ())]
                    while first and not first[-1]:
                        first.pop()
                    if header is None:
                        header = first
                        writer.writerow(header)
                    elif first != header:
                        raise CorruptFile(
                            label, f"sheet {sheet.title!r}: header differs from sheet {sheets[0]!r}'s"
                        )
                    sheets.append(sheet.title)
                    width = len(header)
                    for values in rows:
                        cells = [_xlsx_text(v) for v in values[:width]]
                        if any(cells):
                            writer.writerow(cells)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
            scratch.cleanup()
            raise CorruptFile(label, f"unreadable worksheet data ({type(exc).__name__}: {exc})") from exc
        except CorruptFile:
            scratch.cleanup()
            raise
        finally:
            book.close()
        if header is None or not _is_flat_header(",".join(header)):
            scratch.cleanup()
            raise CorruptFile(
                label, "no record sheet with a Neware header (Cycle Index, Step Type, Current, Voltage)"
            )
        inner = CONNECTOR_CSV.stream(text_path, timezone=timezone, chunk_rows=chunk_rows)

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            _ = scratch  # the temporary CSV lives as long as this reader
            yield from inner.chunks(wanted)

        return dataclasses.replace(
            inner,
            format=NAME_XLSX,
            chunks=chunks,
            metadata={
                **inner.metadata,
                "export_layout": "xlsx record sheets",
                "data_sheets": ", ".join(sheets),
            },
        )


CONNECTOR_CSV = NewareCsv()
CONNECTOR_NDA = NewareNda()
CONNECTOR_NDAX = NewareNdax()
CONNECTOR_XLSX = NewareXlsx()
CONNECTOR = CONNECTOR_CSV
