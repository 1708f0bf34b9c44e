"""Impedance (EIS) records on their way into blc.impedance_spectrum, apart from the time series.

A row with a positive `frequency_hertz` (connectors.base.impedance_rows) was measured in the frequency
domain: its current is an AC excitation's (EC-Lab's `<I>` of an EIS point can alternate in sign from point
to point), so as a time-series sample it would make spurious charge/discharge transitions, cycles of µAh and
a nonsense reference capacity. `ImpedanceSplit` takes such rows out of a file's chunks as they stream,
before the rows are numbered into cycles, validated or summed into per-cycle statistics, and keeps them,
grouped in sweeps, to be stored with the file's load in the same transaction (docs/design.md §4).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from connectors.base import IMPEDANCE_COLUMNS, impedance_rows

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from blc.validation import ValidationFailed

TABLE = "blc.impedance_spectrum"
#: What an impedance point keeps of its row: its impedance, when and at what DC level it was measured.
POINT_COLUMNS: tuple[str, ...] = (
    "test_time_second",
    "unix_time_second",
    "cycle_count",
    "step_id",
    *IMPEDANCE_COLUMNS,
    "current_ampere",
    "voltage_volt",
)
#: Columns of blc.impedance_spectrum filled from the points (cell_id and file_id are constants of `store`).
STORED_COLUMNS: tuple[str, ...] = ("sweep", "point", "cycle_index", *POINT_COLUMNS)


def without_impedance(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's time-series rows only (for a pass over the rows that stores nothing)."""
    impedance = impedance_rows(frame)
    return frame.loc[~impedance].reset_index(drop=True) if impedance.any() else frame


class ImpedanceSplit:
    """Takes the impedance rows out of a file's chunks, in file order, and keeps them as points of sweeps.

    `take` returns a chunk's time-series rows and holds its impedance rows; `place` then gets the cycle
    numbers those time-series rows were given, and each held point takes the cycle of the time-series row
    before it (the cycle it was measured in or after; points before the file's first time-series row take
    that row's cycle). A new sweep starts where a time-series row, another step (`step_id`) or instrument
    cycle (`cycle_count`) comes between two points, or where the frequency turns back (the next sweep of a
    repeated PEIS)."""

    def __init__(self) -> None:
        self._points: list[pd.DataFrame] = []
        self._held: tuple[pd.DataFrame, npt.NDArray[np.int64]] | None = None
        #: 0-based positions in the file's rows of every impedance row, per chunk.
        self._positions: list[npt.NDArray[np.int64]] = []
        self._file_rows = 0
        self._last_cycle: int | None = None
        self.sweeps = 0
        self._point = 0
        self._after_row = True  # a time-series row (or the file's start) came since the last point
        self._frequency = math.nan
        self._direction = 0
        self._step = math.nan
        self._count = math.nan

    @property
    def points(self) -> int:
        return sum(len(points) for points in self._points) + (len(self._held[0]) if self._held else 0)

    def take(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """The chunk's time-series rows; its impedance rows are held until `place`."""
        impedance = impedance_rows(chunk)
        positions = np.flatnonzero(impedance)
        self._file_rows += len(chunk)
        if positions.size == 0:
            self._after_row = self._after_row or len(chunk) > 0
            return chunk
        self._positions.append(self._file_rows - len(chunk) + positions)
        points = chunk.iloc[positions][[c for c in POINT_COLUMNS if c in chunk.columns]].reset_index(
            drop=True
        )
        self._number_sweeps(points, positions)
        # How many of the chunk's time-series rows come before each point.
        self._held = (points, positions - np.arange(positions.size))
        self._after_row = not impedance[-1]
        return chunk.loc[~impedance].reset_index(drop=True)

    def place(self, cycles: npt.NDArray[np.integer]) -> None:
        """The cycle numbers given to the time-series rows `take` returned last."""
        if self._held is not None:
            points, rows_before = self._held
            cycle = np.full(len(points), np.nan)
            inside = rows_before > 0
            cycle[inside] = cycles[rows_before[inside] - 1]
            if self._last_cycle is not None:
                cycle[~inside] = self._last_cycle
            points["cycle_index"] = pd.array(cycle, dtype="Float64").astype("Int64")
            self._points.append(points)
            self._held = None
        if cycles.size:
            if self._last_cycle is None:  # the file's first time-series row: the points before it are its
                for points in self._points:
                    points["cycle_index"] = points["cycle_index"].fillna(int(cycles[0]))
            self._last_cycle = int(cycles[-1])

    def frame(self) -> pd.DataFrame:
        """Every point taken so far, in file order: `STORED_COLUMNS` that the file had."""
        if not self._points:
            return pd.DataFrame(columns=list(STORED_COLUMNS))
        frame = pd.concat(self._points, ignore_index=True)
        return frame[[c for c in STORED_COLUMNS if c in frame.columns]]

    def store(self, conn: Connection, cell_id: str, file_id: int) -> int:
        """COPY the points into blc.impedance_spectrum inside the caller's transaction; returns the count."""
        from blc import db

        frame = self.frame()
        if frame.empty:
            return 0
        columns = ["cell_id", "file_id", *frame.columns]
        return db.copy_frames(
            conn, TABLE, [frame], columns, constants={"cell_id": cell_id, "file_id": file_id}
        )

    def in_file_lines(self, failed: ValidationFailed, first_data_line: int | None) -> ValidationFailed:
        """`failed` with its line numbers made the file's: the validator counted the time-series rows only,
        so every row after an impedance row sits further down the file than it counted."""
        from blc.validation import ValidationFailed

        report = failed.report
        if not self._positions or first_data_line is None or report.first_data_line is None:
            return failed
        positions = np.concatenate(self._positions)
        # Time-series row k is file row k + j, j being how many impedance rows come before it: the first j
        # with positions[j] - j > k (positions - arange is non-decreasing).
        shifted = positions - np.arange(positions.size)

        def file_line(line: int) -> int:
            kept = line - first_data_line
            return first_data_line + kept + int(np.searchsorted(shifted, kept, side="right"))

        failures = tuple(
            dataclasses.replace(failure, first_rows=[file_line(line) for line in failure.first_rows])
            for failure in report.failed
        )
        return ValidationFailed(dataclasses.replace(report, failed=failures), failed.file_label)

    def _number_sweeps(self, points: pd.DataFrame, positions: npt.NDArray[np.int64]) -> None:
        frequency = points["frequency_hertz"].to_numpy(dtype=np.float64)
        step = _floats(points, "step_id")
        count = _floats(points, "cycle_count")
        sweeps = np.empty(len(points), dtype=np.int32)
        numbers = np.empty(len(points), dtype=np.int32)
        for i in range(len(points)):  # a few hundred points a sweep: a plain loop is fast enough
            row_between = positions[i] > positions[i - 1] + 1 if i else positions[0] > 0 or self._after_row
            new = (
                row_between
                or self.sweeps == 0
                or not _same(step[i], self._step)
                or not _same(count[i], self._count)
            )
            if not new:
                direction = int(np.sign(frequency[i] - self._frequency))
                if self._direction and direction and direction != self._direction:
                    new = True  # the frequency turned back: the next sweep
                elif not self._direction:
                    self._direction = direction
            if new:
                self.sweeps += 1
                self._point = 0
                self._direction = 0
            self._point += 1
            sweeps[i], numbers[i] = self.sweeps, self._point
            self._frequency, self._step, self._count = frequency[i], step[i], count[i]
        points["sweep"] = sweeps
        points["point"] = numbers


def _floats(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
