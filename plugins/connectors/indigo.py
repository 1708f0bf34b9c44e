"""Indigo cycler HDF5 files: a pandas HDFStore whose key ``time_series_data`` holds the time series.

The layout is the one BEEP's ``IndigoDatapath`` reads (TRI-AMDD/beep): one data frame, written by pandas
(``DataFrame.to_hdf``, the fixed format: ``axis0``/``axis1``/``block<n>_values``; the table format is read
too), column names compared without case:

- ``time_s`` (seconds since the test start) → ``test_time_second``; without it, the test time is counted
  from the first row's ``system_time_us``.
- ``system_time_us`` (µs since 1970, UTC) → ``unix_time_second``.
- ``cell_current_a`` → ``current_ampere``; ``cell_voltage_v`` → ``voltage_volt``; ``cell_power_w`` →
  ``power_watt``; ``cell_temperature_c`` (the cell's temperature) → ``surface_temperature_celsius``.
- ``cycle_count`` → ``cycle_count``; ``half_cycle_count`` → ``step_count`` (a running count of the test's
  half cycles, each one a charge or a discharge). An odd half cycle is a charge, an even one a discharge
  (BEEP's reading).
- ``cell_coulomb_count_c`` (C) and ``cell_energy_j`` (J), the charge and energy moved since the half cycle
  began, written with the current's sign: their magnitude ÷ 3600 becomes ``cycle_charging_capacity_ah`` /
  ``cycle_charging_energy_wh`` on a charge half cycle and the ``cycle_discharging_…`` ones on a discharge
  half cycle (a cycle holds one of each), empty on the rows of the other kind; without
  ``half_cycle_count`` they stay unmapped.
- ``cell_id`` (one Indigo cell per file; a second one is refused) → metadata ``indigo_cell_id``; the file
  name still names the cell. ``experiment_count``, ``experiment_type`` and any other column are listed in
  ``unmapped_columns``.

Sign convention: BEEP takes ``cell_current_a`` as it is (positive = charge, like BDF). It is checked against
the half cycles before anything is read: when the current of the charge (odd) half cycles is mostly
negative and that of the discharge half cycles mostly positive, the file counts the other way; the current
is then negated so that positive charges the cell, and the read's `warnings` says so.

Recognised by content: the HDF5 signature, then a ``time_series_data`` frame with the current and voltage
columns. Read with PyTables through pandas, in row ranges of ``chunk_rows`` (``HDFStore.select(start,
stop)``), so memory holds one chunk of the frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.errors import CorruptFile

NAME = "indigo_hdf5"
PARSER_VERSION = "1"

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
KEY = "time_series_data"

#: Indigo column → (canonical column, factor to SI).
_DIRECT: dict[str, tuple[str, float]] = {
    "time_s": ("test_time_second", 1.0),
    "cell_current_a": ("current_ampere", 1.0),
    "cell_voltage_v": ("voltage_volt", 1.0),
    "cell_power_w": ("power_watt", 1.0),
    "cell_temperature_c": ("surface_temperature_celsius", 1.0),
    "cycle_count": ("cycle_count", 1.0),
    "half_cycle_count": ("step_count", 1.0),
}
_SYSTEM_TIME = "system_time_us"
_HALF_CYCLE = "half_cycle_count"
_CURRENT = "cell_current_a"
_CELL_ID = "cell_id"
#: Counters moved since the half cycle began (signed) → (charge counter, discharge counter, factor to SI).
_COUNTERS: dict[str, tuple[str, str, float]] = {
    "cell_coulomb_count_c": ("cycle_charging_capacity_ah", "cycle_discharging_capacity_ah", 1 / 3600),
    "cell_energy_j": ("cycle_charging_energy_wh", "cycle_discharging_energy_wh", 1 / 3600),
}
_REQUIRED = ("cell_current_a", "cell_voltage_v")
#: The sign check stops reading once one reading of the sign leads by this factor over this many rows.
_SIGN_LEAD = 10
_SIGN_ROWS = 100


def _open_store(path: Path) -> Any:
    # PyTables is imported by pandas as `tables`; plugins/.airflowignore keeps Airflow's plugin loader from
    # registering plugins/blc/tables.py under that bare name.
    return pd.HDFStore(path, mode="r")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


@dataclass(frozen=True)
class _Plan:
    """Which Indigo columns (by the file's own spelling) become which canonical ones."""

    #: lower-cased name → the file's name.
    names: dict[str, str]
    direct: tuple[tuple[str, str, float], ...]
    counters: tuple[tuple[str, str, str, float], ...]
    has_time: bool
    has_system_time: bool

    @property
    def unmapped(self) -> tuple[str, ...]:
        used = {vendor for vendor, _, _ in self.direct} | {vendor for vendor, *_ in self.counters}
        used |= {self.names[key] for key in (_SYSTEM_TIME, _CELL_ID) if key in self.names}
        return tuple(name for name in self.names.values() if name not in used)

    @property
    def produces(self) -> tuple[str, ...]:
        names = [canonical for _, canonical, _ in self.direct]
        for _, charge, discharge, _ in self.counters:
            names += [charge, discharge]
        if self.has_system_time:
            names.append("unix_time_second")
        if not self.has_time:
            names.append("test_time_second")
        return tuple(name for name in to_canonical(pd.DataFrame(columns=names)).columns)


def _plan(columns: Sequence[str], label: str) -> _Plan:
    names = {str(name).strip().lower(): str(name) for name in columns}
    missing = [name for name in _REQUIRED if name not in names]
    if "time_s" not in names and _SYSTEM_TIME not in names:
        missing.append("time_s or system_time_us")
    if missing:
        raise CorruptFile(label, f"Indigo {KEY} without {', '.join(missing)} (columns: {list(columns)})")
    direct = tuple((names[key], *_DIRECT[key]) for key in _DIRECT if key in names)
    counters = (
        tuple((names[key], *_COUNTERS[key]) for key in _COUNTERS if key in names)
        if _HALF_CYCLE in names
        else ()
    )
    return _Plan(names, direct, counters, "time_s" in names, _SYSTEM_TIME in names)


def _iter_raw(path: Path, label: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The stored frame in row ranges of `chunk_rows`, in file order (index dropped)."""
    try:
        with _open_store(path) as store:
            start = 0
            while True:
                raw = store.select(KEY, start=start, stop=start + chunk_rows)
                if raw.empty:
                    return
                yield raw.reset_index(drop=True)
                start += chunk_rows
    except CorruptFile:
        raise
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptFile(label, f"unreadable Indigo HDF5 data ({_one_line(exc)})") from exc


def _numbers(raw: pd.DataFrame, column: str, label: str, first_row: int) -> np.ndarray:
    values = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values) & raw[column].notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CorruptFile(
            label, f"column {column!r}, row {first_row + row}: {raw[column].iloc[row]!r} is not a number"
        )
    return values


def _current_sign(path: Path, label: str, plan: _Plan, chunk_rows: int) -> tuple[float, str | None]:
    """+1 when the charge (odd) half cycles carry positive current, −1 when the file counts the other way
    (with the sentence for the read's warnings)."""
    if _HALF_CYCLE not in plan.names:
        return 1.0, None
    current_name, half_name = plan.names[_CURRENT], plan.names[_HALF_CYCLE]
    agree = disagree = rows = 0
    for raw in _iter_raw(path, label, chunk_rows):
        current = _numbers(raw, current_name, label, rows)
        half = _numbers(raw, half_name, label, rows)
        rows += len(raw)
        charge = np.mod(half, 2) == 1
        discharge = np.mod(half, 2) == 0
        agree += int(np.sum(charge & (current > 0)) + np.sum(discharge & (current < 0)))
        disagree += int(np.sum(charge & (current < 0)) + np.sum(discharge & (current > 0)))
        lead, trail = max(agree, disagree), min(agree, disagree)
        if lead >= _SIGN_ROWS and lead >= _SIGN_LEAD * (trail + 1):
            break
    if disagree <= agree:
        return 1.0, None
    return -1.0, (
        f"{half_name}: the charge (odd) half cycles carry negative {current_name} and the discharge (even)"
        f" ones positive ({disagree} rows against {agree}); the current was negated so that positive charges"
    )


class _Carry:
    """What one chunk hands to the next."""

    def __init__(self) -> None:
        self.origin_us: float | None = None
        self.cell_id: Any = None
        self.rows = 0


def _convert(raw: pd.DataFrame, plan: _Plan, sign: float, carry: _Carry, label: str) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for vendor, canonical, factor in plan.direct:
        values = _numbers(raw, vendor, label, carry.rows)
        out[canonical] = values * factor if factor != 1.0 else values
    out["current_ampere"] = out["current_ampere"] * sign
    if plan.counters:
        half = _numbers(raw, plan.names[_HALF_CYCLE], label, carry.rows)
        charging = np.mod(half, 2) == 1
        discharging = np.mod(half, 2) == 0
        for vendor, charge, discharge, factor in plan.counters:
            moved = np.abs(_numbers(raw, vendor, label, carry.rows)) * factor
            out[charge] = np.where(charging, moved, np.nan)
            out[discharge] = np.where(discharging, moved, np.nan)
    if plan.has_system_time:
        system_us = _numbers(raw, plan.names[_SYSTEM_TIME], label, carry.rows)
        out["unix_time_second"] = system_us / 1e6
        if not plan.has_time:
            if carry.origin_us is None:
                carry.origin_us = float(system_us[0])
            out["test_time_second"] = (system_us - carry.origin_us) / 1e6
    if _CELL_ID in plan.names:
        ids = raw[plan.names[_CELL_ID]]
        if carry.cell_id is None and ids.notna().any():
            carry.cell_id = ids.dropna().iloc[0]
        other = ids.notna() & (ids != carry.cell_id)
        if other.any():
            row = int(np.flatnonzero(other.to_numpy())[0])
            other_id, first_id = _id_text(ids.iloc[row]), _id_text(carry.cell_id)
            raise CorruptFile(
                label,
                f"column {plan.names[_CELL_ID]!r}, row {carry.rows + row}: cell {other_id} after cell"
                f" {first_id}: one Indigo file holds one cell",
            )
    carry.rows += len(raw)
    return to_canonical(out)


def _id_text(value: Any) -> str:
    """A cell id as text: a whole number without its ``.0`` or numpy type."""
    if isinstance(value, int | np.integer) or (
        isinstance(value, float | np.floating) and float(value).is_integer()
    ):
        return str(int(value))
    return str(value)


def _first_rows(path: Path, label: str) -> pd.DataFrame:
    try:
        with _open_store(path) as store:
            if f"/{KEY}" not in store:
                raise CorruptFile(label, f"HDF5 file without the Indigo key {KEY!r} (keys: {store.keys()})")
            return store.select(KEY, start=0, stop=1)
    except CorruptFile:
        raise
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptFile(label, f"not a readable HDF5 file ({_one_line(exc)})") from exc


def _metadata(first: pd.DataFrame, plan: _Plan) -> dict[str, Any]:
    found: dict[str, Any] = {"source_format": "Indigo HDF5"}
    if first.empty:
        return found
    if _CELL_ID in plan.names and pd.notna(first[plan.names[_CELL_ID]].iloc[0]):
        found["indigo_cell_id"] = _id_text(first[plan.names[_CELL_ID]].iloc[0])
    if plan.has_system_time:
        started = pd.to_numeric(first[plan.names[_SYSTEM_TIME]], errors="coerce").iloc[0]
        if pd.notna(started):
            found["start_time"] = pd.Timestamp(int(started), unit="us", tz="UTC").isoformat()
    return found


class IndigoHdf5(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if not head.raw.startswith(HDF5_MAGIC):
            return False
        try:
            columns = _first_rows(head.path, head.path.name).columns
        except CorruptFile:
            return False
        names = {str(name).strip().lower() for name in columns}
        return set(_REQUIRED) <= names

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        # `timezone` is not needed: system_time_us is UTC.
        label = path.name
        first = _first_rows(path, label)
        if first.empty:
            raise CorruptFile(label, f"the Indigo {KEY} frame holds no rows")
        plan = _plan(list(first.columns), label)
        sign, note = _current_sign(path, label, plan, chunk_rows)
        warnings = [note] if note else []
        metadata = _metadata(first, plan)
        if sign < 0:
            metadata["current_sign"] = "negated: the file counted charge negative"

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            carry = _Carry()
            for raw in _iter_raw(path, label, chunk_rows):
                frame = _convert(raw, plan, sign, carry, label)
                yield frame if wanted is None else frame[[c for c in frame.columns if c in wanted]]
            if carry.rows == 0:
                raise CorruptFile(label, f"the Indigo {KEY} frame holds no rows")

        return StreamedRead(
            format=NAME,
            parser_version=PARSER_VERSION,
            columns=plan.produces,
            chunks=chunks,
            first_data_line=None,
            metadata=metadata,
            unmapped_columns=plan.unmapped,
            warnings=warnings,
        )


CONNECTOR = IndigoHdf5()
