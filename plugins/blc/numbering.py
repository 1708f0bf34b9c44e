"""A file's rows as they stream in: numbered into cycles (the instrument's counter, or a plan from a first
pass over the current), given record indexes, handed to the validator and the per-cycle statistics."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from blc import failpoints, tuning
from blc.impedance import ImpedanceSplit, without_impedance
from connectors.base import StreamedRead
from connectors.errors import CorruptFile
from processors.cycle_stats import (
    SAMPLE_EXTRAS,
    StreamedCycleStats,
)
from processors.cycles import CycleAssignment, StreamedCycles, assign_cycles

if TYPE_CHECKING:
    from blc.validation import ChunkValidator

log = logging.getLogger(__name__)


#: Rows validated per Great Expectations run, in chunks (GX costs ~0.07 s a run however small the frame).
VALIDATION_BATCH_CHUNKS = 3
#: Free heap pages go back to the OS every this many chunks (malloc_trim costs tens of ms on a big heap).
TRIM_EVERY_CHUNKS = 4


class Numbering:
    """Cycle numbers for the streamed chunks: from a precomputed plan, or by the counter as they come."""

    def __init__(self, plan: CycleAssignment | None) -> None:
        self.plan = plan
        self.counter = StreamedCycles() if plan is None else None
        self.rows = 0
        self.chunks = 0
        self.first_cycle: int | None = None
        self.last_cycle: int | None = None
        # The file's span, for stitching several files of one cell (process_cell).
        self.time_first: float | None = None
        self.time_last: float | None = None
        self.clock_start: float | None = None
        #: A grown file: the cycle of its last stored row, as numbered now.
        self.boundary_cycle: int | None = None
        #: The instrument's counter at the first and last rows that have one.
        self.first_count: int | None = None
        self.last_count: int | None = None

    def number(self, chunk: pd.DataFrame, label: str) -> np.ndarray:
        n = len(chunk)
        if self.plan is not None:
            if self.rows + n > self.plan.cycle_index.size:
                raise CorruptFile(label, "the file grew while it was read; it will be read again")
            cycles = self.plan.cycle_index[self.rows : self.rows + n]
        else:
            assert self.counter is not None
            cycles = self.counter.assign(
                chunk["current_ampere"].to_numpy(dtype=np.float64, na_value=np.nan),
                chunk["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan),
            )
        if n:
            self.first_cycle = int(cycles[0]) if self.first_cycle is None else self.first_cycle
            self.last_cycle = max(int(cycles.max()), self.last_cycle or 0)
            self._span(chunk)
        self.rows += n
        self.chunks += 1
        return cycles

    def _span(self, chunk: pd.DataFrame) -> None:
        if "cycle_count" in chunk:
            counts = chunk["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan)
            known = np.flatnonzero(np.isfinite(counts))
            if known.size:
                if self.first_count is None:
                    self.first_count = int(counts[known[0]])
                self.last_count = int(counts[known[-1]])
        times = chunk["test_time_second"].to_numpy(dtype=np.float64, na_value=np.nan)
        if self.time_first is None and np.isfinite(times[0]):
            self.time_first = float(times[0])
        if np.isfinite(times[-1]):
            self.time_last = float(times[-1])
        if self.clock_start is None and "unix_time_second" in chunk:
            offsets = chunk["unix_time_second"].to_numpy(dtype=np.float64, na_value=np.nan) - times
            clocked = np.flatnonzero(np.isfinite(offsets))
            if clocked.size:
                self.clock_start = float(offsets[clocked[0]])

    def finish(self) -> str:
        if self.plan is not None:
            return self.plan.rule.value
        assert self.counter is not None
        return self.counter.finish().value


def assign_file_cycles(stream: StreamedRead) -> CycleAssignment:
    """A first pass over the current (and the counter, if any) alone: files without a cycle counter, and
    files whose counter turned out stuck. Impedance rows are no samples: left out, as the load leaves them."""
    has_counter = "cycle_count" in stream.columns
    wanted = ["current_ampere", "cycle_count"] if has_counter else ["current_ampere"]
    if "frequency_hertz" in stream.columns:
        wanted.append("frequency_hertz")
    currents: list[np.ndarray] = []
    counters: list[np.ndarray] = []
    for chunk in map(without_impedance, stream.chunks(wanted)):
        currents.append(chunk["current_ampere"].to_numpy(dtype=np.float32, na_value=np.nan))
        if has_counter:
            counters.append(chunk["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan))
    return assign_cycles(np.concatenate(currents), np.concatenate(counters) if has_counter else None)


def numbered_chunks(
    stream: StreamedRead,
    numbering: Numbering,
    label: str,
    validator: ChunkValidator,
    streamed_stats: StreamedCycleStats,
    *,
    keep_from_row: int = 0,
    stats_from_cycle: int | None = None,
    impedance: ImpedanceSplit | None = None,
) -> Iterator[pd.DataFrame]:
    """The file's chunks with their cycle numbers and record indexes, each handed to the validator and to
    the per-cycle statistics before COPY takes it. A grown file's stored rows (before `keep_from_row`) are
    numbered but not yielded: only those of cycles from `stats_from_cycle` on reach the statistics, and the
    validator resumes after the last of them. `impedance` takes the impedance rows out first (rows are
    counted without them), and learns the cycle each was measured in."""
    infinities = NonFinite(label, stream.first_data_line)
    clock = ClockCheck(label)
    for chunk in stream.chunks(None):
        if impedance is not None:
            chunk = impedance.take(chunk)
            if chunk.empty:
                impedance.place(np.zeros(0, dtype=np.int32))
                continue
        offset, n = numbering.rows, len(chunk)
        chunk = infinities.to_null(chunk, offset)
        clock.add(chunk)
        chunk["cycle_index"] = numbering.number(chunk, label)
        if impedance is not None:
            impedance.place(chunk["cycle_index"].to_numpy())
        if "record_index" not in chunk:
            chunk["record_index"] = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
        elif chunk["record_index"].isna().any():
            position = pd.Series(np.arange(offset + 1, offset + n + 1), dtype="Int64")
            chunk["record_index"] = chunk["record_index"].fillna(position)
        sample_columns = [c for c in SAMPLE_COLUMNS if c in chunk.columns]
        if offset < keep_from_row:
            kept = keep_from_row - offset  # rows of this chunk already stored
            stored = chunk.iloc[: min(kept, n)]
            if stats_from_cycle is not None:
                streamed_stats.add(stored.loc[stored["cycle_index"] >= stats_from_cycle, sample_columns])
            numbering.boundary_cycle = int(stored["cycle_index"].iloc[-1])
            if kept >= n:
                continue
            validator.resume_after(stored)
            chunk = chunk.iloc[kept:].reset_index(drop=True)
        validator.add(chunk)
        streamed_stats.add(chunk[sample_columns])
        if numbering.chunks % TRIM_EVERY_CHUNKS == 0:
            tuning.trim_heap()
        yield chunk
        if numbering.chunks == 1:
            failpoints.reach("mid_copy")
    stream.warnings.extend(infinities.warnings())
    clock.finish()
    if numbering.plan is not None and numbering.rows != numbering.plan.cycle_index.size:
        raise CorruptFile(
            label,
            f"the file changed while it was read ({numbering.plan.cycle_index.size} rows,"
            f" then {numbering.rows})",
        )


class NonFinite:
    """±inf in an optional measured column — a counter, a temperature, a resistance — is stored as
    empty, with a warning naming the column, the count and the first line (a finding of severity warning:
    the file loads). In the required columns (time, voltage, current) the suite refuses it instead."""

    def __init__(self, label: str, first_data_line: int | None) -> None:
        self.label = label
        self.first_data_line = first_data_line
        #: column → (count, first row position from 0, first value)
        self.found: dict[str, tuple[int, int, float]] = {}

    def to_null(self, chunk: pd.DataFrame, offset: int) -> pd.DataFrame:
        for column in chunk.columns:
            if column in REQUIRED_FINITE or chunk[column].dtype.kind != "f":
                continue
            values = chunk[column].to_numpy()
            infinite = np.isinf(values)
            if not infinite.any():
                continue
            positions = np.flatnonzero(infinite)
            count, first, value = self.found.get(
                column, (0, offset + int(positions[0]), float(values[positions[0]]))
            )
            self.found[column] = (count + positions.size, first, value)
            chunk[column] = np.where(infinite, np.nan, values)
        return chunk

    def warnings(self) -> list[str]:
        out = []
        for column, (count, first, value) in self.found.items():
            where = (
                f"line {self.first_data_line + first}"
                if self.first_data_line is not None
                else f"row {first + 1}"
            )
            rows = "1 value" if count == 1 else f"{count} values"
            out.append(f"{column}: {rows} of {value:g} stored as empty (not finite), first at {where}")
            log.warning("%s: %s", self.label, out[-1])
        return out


class ClockCheck:
    """Test time against the wall clock, where a file has both: a test time that advances more than
    `MAX_TEST_TO_CLOCK` times faster than its clock is milliseconds written as seconds (every capacity would
    be a thousand times too large). The other way round proves nothing (a paused test's clock runs on)."""

    MAX_TEST_TO_CLOCK = 100.0
    #: Spans shorter than this (s of clock) are too short to judge.
    MIN_CLOCK_SPAN = 60.0

    def __init__(self, label: str) -> None:
        self.label = label
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def add(self, chunk: pd.DataFrame) -> None:
        if "unix_time_second" not in chunk.columns:
            return
        test = chunk["test_time_second"].to_numpy(dtype=np.float64, na_value=np.nan)
        unix = chunk["unix_time_second"].to_numpy(dtype=np.float64, na_value=np.nan)
        both = np.flatnonzero(np.isfinite(test) & np.isfinite(unix))
        if both.size == 0:
            return
        if self.first is None:
            self.first = (float(test[both[0]]), float(unix[both[0]]))
        self.last = (float(test[both[-1]]), float(unix[both[-1]]))

    def finish(self) -> None:
        if self.first is None or self.last is None:
            return
        test_span, clock_span = self.last[0] - self.first[0], self.last[1] - self.first[1]
        if clock_span >= self.MIN_CLOCK_SPAN and test_span > self.MAX_TEST_TO_CLOCK * clock_span:
            raise CorruptFile(
                self.label,
                f"test_time_second advances {test_span / clock_span:.0f} times faster than the clock"
                f" (unix_time_second: {test_span:g} s of test in {clock_span:g} s): milliseconds written as"
                " seconds?",
            )


#: Columns the canonical suite requires finite (it refuses the file otherwise).
REQUIRED_FINITE = frozenset({"test_time_second", "voltage_volt", "current_ampere"})

#: What the processor reads of blc.timeseries (and of each streamed chunk).
SAMPLE_COLUMNS = ("cycle_index", "test_time_second", "current_ampere", "voltage_volt", *SAMPLE_EXTRAS)
