"""`blc export`: a cell's stitched time series and cycle statistics as files partners can read.

- ``bdf``: ``<cell>.bdf.csv`` (header labels) or ``<cell>.bdf.parquet`` (machine names) with
  ``<cell>.metadata.json`` (connectors/bdf.py writes them). Our ``cycle_index`` travels as ``cycle_count``,
  so the cycles read back are ours, whatever rule found them.
- ``batteryarchive``: the batteryarchive.org pair ``<cell>_timeseries.csv`` and ``<cell>_cycle_data.csv``
  with their column names. ``Date_Time`` is written in UTC (ingest it with the lab timezone UTC); the
  capacity and energy columns carry the instrument's counters (per-cycle ones first).

Rows are read from ``blc.cell_timeseries`` in stitch order, one file and one batch of cycles at a time, and
written chunk by chunk: memory holds one chunk, whatever the cell's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import CANONICAL_COLUMNS
from processors.cycle_stats import COUNTER_RESET_DROP

FORMATS = ("bdf", "bdf-parquet", "batteryarchive")  # the CLI spells bdf-parquet as --format bdf --parquet
_BATCH_ROWS = 200_000
#: batteryarchive.org time-series header → our column, first present wins.
_BATTERYARCHIVE_COLUMNS: dict[str, tuple[str, ...]] = {
    "Date_Time": ("unix_time_second",),
    "Test_Time (s)": ("test_time_second",),
    "Cycle_Index": ("cycle_index",),
    "Current (A)": ("current_ampere",),
    "Voltage (V)": ("voltage_volt",),
    "Charge_Capacity (Ah)": (
        "cycle_charging_capacity_ah",
        "charging_capacity_ah",
        "step_charging_capacity_ah",
    ),
    "Discharge_Capacity (Ah)": (
        "cycle_discharging_capacity_ah",
        "discharging_capacity_ah",
        "step_discharging_capacity_ah",
    ),
    "Charge_Energy (Wh)": ("cycle_charging_energy_wh", "charging_energy_wh", "step_charging_energy_wh"),
    "Discharge_Energy (Wh)": (
        "cycle_discharging_energy_wh",
        "discharging_energy_wh",
        "step_discharging_energy_wh",
    ),
    "Environment_Temperature (C)": ("ambient_temperature_celsius",),
    "Cell_Temperature (C)": ("surface_temperature_celsius", "temperature_t1_celsius"),
}


class CycleScope:
    """A step-scope counter (restarts every step) rewritten as a per-cycle one, as the archive's columns are:
    within a cycle, each restarted segment (a drop of more than COUNTER_RESET_DROP, the processor's own
    rule) continues from the sum of the earlier segments' maxima. Frames
    arrive in order and may cut a cycle anywhere: the running state carries over. NaN stays NaN (a counter
    written only while charging)."""

    def __init__(self) -> None:
        self.cycle: float | None = None
        self.last = np.nan  # last value seen (for restart detection)
        self.segment_max = np.nan
        self.offset = 0.0  # sum of the finished segments' maxima in the current cycle

    def convert(self, values: np.ndarray, cycle: np.ndarray) -> np.ndarray:
        out = np.full(values.shape, np.nan)
        valid = np.flatnonzero(~np.isnan(values))
        if valid.size == 0:
            return out
        v, c = values[valid], cycle[valid].astype(np.float64)
        previous_v = np.concatenate(([self.last], v[:-1]))
        previous_c = np.concatenate(([np.nan if self.cycle is None else self.cycle], c[:-1]))
        restart = v < previous_v - np.maximum(np.abs(previous_v) * COUNTER_RESET_DROP, 1e-12)
        new_cycle = c != previous_c
        new_segment = new_cycle | restart
        segment = np.cumsum(new_segment) - (0 if new_segment[0] else 1)  # -1: continues the carried one
        starts = np.flatnonzero(np.concatenate(([True], segment[1:] != segment[:-1])))
        maxima = np.maximum.reduceat(v, starts)
        if segment[0] < 0:  # the carried segment goes on: its maximum so far counts too
            maxima[0] = np.fmax(maxima[0], self.segment_max)
        first_cycle = c[starts] == (np.nan if self.cycle is None else self.cycle)
        carried = np.where(first_cycle & (c[starts] == c[starts[0]]), self.offset, 0.0)
        if not new_cycle[0] and restart[0]:  # the first row restarts within the carried cycle
            carried[0] = self.offset + float(np.nan_to_num(self.segment_max))
        # offsets: carried + the maxima of the earlier segments of the same cycle in this frame
        cycle_of = c[starts]
        group_start = np.concatenate(([True], cycle_of[1:] != cycle_of[:-1]))
        before = np.cumsum(maxima) - maxima
        base = before[np.maximum.accumulate(np.where(group_start, np.arange(starts.size), 0))]
        offsets = (
            carried[np.maximum.accumulate(np.where(group_start, np.arange(starts.size), 0))] + before - base
        )
        sizes = np.diff(np.append(starts, v.size))
        out[valid] = v + np.repeat(offsets, sizes)
        self.cycle, self.last = float(c[-1]), float(v[-1])
        self.segment_max, self.offset = float(maxima[-1]), float(offsets[-1])
        return out


class ExportError(Exception):
    pass


def export_cell(engine: Engine, cell_id: str, directory: Path, fmt: str) -> list[Path]:
    """Write the cell in `fmt` (one of FORMATS) under `directory`; return the files written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    directory.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        cell = conn.execute(
            sa.text(
                "select cell_id, nominal_capacity_ah, chemistry, anode, cathode, form_factor, metadata"
                " from blc.cell where cell_id = :cell"
            ),
            {"cell": cell_id},
        ).one_or_none()
        if cell is None:
            raise ExportError(f"no cell {cell_id!r} (see `blc cells`)")
        present = _present_columns(conn, cell_id)
    metadata = _metadata(cell)
    stem = _safe_stem(cell_id)
    if fmt.startswith("bdf"):
        from connectors.bdf import write_bdf

        frames = (_as_bdf(frame) for frame in _frames(engine, cell_id, present))
        return write_bdf(
            frames, directory, stem, fmt="parquet" if fmt == "bdf-parquet" else "csv", metadata=metadata
        )
    return _write_batteryarchive(engine, cell_id, directory, stem, present)


def _present_columns(conn: sa.Connection, cell_id: str) -> list[str]:
    """Canonical columns that hold at least one value for the cell (an all-NULL column is not exported)."""
    columns = [c for c in CANONICAL_COLUMNS if c not in ("record_index", "cycle_index")]
    # a stop column of zeros says nothing: exported only when the instrument did stop somewhere
    probes = ", ".join(
        f"bool_or({c} > 0) as {c}" if c == "instrument_stop" else f"bool_or({c} is not null) as {c}"
        for c in columns
    )
    row = conn.execute(
        sa.text(f"select {probes} from blc.cell_timeseries where cell_id = :cell"), {"cell": cell_id}
    ).one()
    return [c for c in columns if getattr(row, c)] + ["cycle_index"]


def _frames(engine: Engine, cell_id: str, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The cell's stitched rows in order, about `_BATCH_ROWS` at a time, over a server-side cursor."""
    selected = ", ".join(columns)
    query = sa.text(
        f"select {selected} from blc.cell_timeseries where cell_id = :cell"
        " order by stitch_position, file_id, record_index"
    )
    with engine.connect().execution_options(stream_results=True, yield_per=_BATCH_ROWS) as conn:
        result = conn.execute(query, {"cell": cell_id})
        for part in result.partitions(_BATCH_ROWS):
            frame = pd.DataFrame(part, columns=columns)
            for column in columns:
                frame[column] = pd.to_numeric(frame[column], errors="coerce")
            yield frame


def _as_bdf(frame: pd.DataFrame) -> pd.DataFrame:
    """Our cycle numbers travel as BDF's cycle_count (the instrument's own counter is superseded by them)."""
    out = frame.drop(columns=["cycle_count"], errors="ignore").rename(columns={"cycle_index": "cycle_count"})
    return out.astype({c: "Int64" for c in ("cycle_count", "step_id", "step_count") if c in out})


def _metadata(cell: Any) -> dict[str, Any]:
    found: dict[str, Any] = dict(cell.metadata or {})
    found["cell_id"] = cell.cell_id
    for key in ("chemistry", "anode", "cathode", "form_factor"):
        if getattr(cell, key) is not None:
            found[key] = getattr(cell, key)
    if cell.nominal_capacity_ah is not None:
        found["nominal_capacity_ah"] = float(cell.nominal_capacity_ah)
    found["exported_by"] = "blc export"
    return found


def _write_batteryarchive(
    engine: Engine, cell_id: str, directory: Path, stem: str, present: list[str]
) -> list[Path]:
    from connectors.batteryarchive_cycles import write_cycle_data

    series = directory / f"{stem}_timeseries.csv"
    partial = series.with_name(f".{series.name}.part")
    sources = {
        header: next((c for c in candidates if c in present), None)
        for header, candidates in _BATTERYARCHIVE_COLUMNS.items()
    }
    with partial.open("w", encoding="utf-8", newline="") as handle:
        header_written = False
        scopes = {h: CycleScope() for h, source in sources.items() if source and source.startswith("step_")}
        for frame in _frames(engine, cell_id, present):
            out = pd.DataFrame(index=frame.index)
            for header, source in sources.items():
                out[header] = frame[source] if source is not None else np.nan
                if header in scopes:  # the archive's counters are per cycle
                    out[header] = scopes[header].convert(
                        out[header].to_numpy(dtype=np.float64),
                        frame["cycle_index"].to_numpy(dtype=np.float64),
                    )
            unix = out["Date_Time"]
            out["Date_Time"] = pd.to_datetime(unix, unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            out.loc[unix.isna(), "Date_Time"] = ""
            out["Cycle_Index"] = out["Cycle_Index"].astype("Int64")
            out.to_csv(handle, index=False, header=not header_written, float_format="%.10g")
            header_written = True
    partial.replace(series)

    with engine.connect() as conn:
        stats = pd.read_sql(
            sa.text("select * from blc.cycle_stats where cell_id = :cell order by cycle_index"),
            conn,
            params={"cell": cell_id},
        )
    cycles = directory / f"{stem}_cycle_data.csv"
    write_cycle_data(stats, cycles)
    return [series, cycles]


def _safe_stem(cell_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in cell_id)
