"""Which cycle each sample belongs to (docs/design.md §3, cycle rule).

Default: follow the instrument's counter (``cycle_count``). When the file has no counter, cycles are derived
from the current: a new cycle starts at the first charging sample that follows a discharge; rests belong to
the cycle they follow.

A counter can also be *stuck*: some procedures never advance it (Maccor ``xTESLADIAG_000019_CH70.070`` holds
~30 charge/discharge cycles under ``Cyc#`` 1; cellpy's ``maccor_001.txt`` keeps ``Cyc#`` 0 throughout). The
counter is overruled when the charge → discharge → charge alternations that happen *without* the counter
changing are at least `MIN_ALTERNATIONS_TO_OVERRULE` and more than `STUCK_RATIO` × (advances + 1). A counter
that advances each cycle, wherever in the cycle it advances, has at most one such alternation per advance;
diagnostic pulses (HPPC) inside otherwise well-counted cycles stay far below the ratio. A stuck file keeps the
counter's boundaries and adds the transitions' ones (``charge_discharge_transitions:counter_stuck``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

#: Charge → discharge alternations needed before a stuck counter is overruled.
MIN_ALTERNATIONS_TO_OVERRULE = 3
#: Unexplained alternations must exceed this many per counter advance (+1) to overrule the counter.
STUCK_RATIO = 2
#: |current| below this fraction of the largest |current| in the file counts as rest.
REST_FRACTION = 1e-3
SECONDS_PER_HOUR = 3600.0


class CycleRule(StrEnum):
    INSTRUMENT_COUNTER = "instrument_counter"
    TRANSITIONS = "charge_discharge_transitions"
    TRANSITIONS_COUNTER_STUCK = "charge_discharge_transitions:counter_stuck"


@dataclass(frozen=True)
class CycleAssignment:
    cycle_index: npt.NDArray[np.int32]
    rule: CycleRule


def in_cycle_order(cycle: npt.NDArray[np.int64], t: npt.NDArray[np.float64]) -> bool:
    """Rows already sorted by (cycle, time): true of anything streamed from a file, so no sort is needed."""
    if cycle.size < 2:
        return True
    step = np.diff(cycle)
    return bool((step >= 0).all() and ((step > 0) | (np.diff(t) >= 0)).all())


def current_direction(
    current_ampere: npt.NDArray[np.floating], peak: float | None = None
) -> npt.NDArray[np.int8]:
    """+1 charging, −1 discharging, 0 resting, per sample; rest is below `REST_FRACTION` of `peak` (the
    largest |current| of the samples given, unless the caller knows a better one)."""
    if peak is None:
        magnitude = np.abs(current_ampere)
        peak = float(np.nanmax(magnitude)) if magnitude.size else 0.0
    threshold = max(peak * REST_FRACTION, 1e-9)
    direction = np.zeros(current_ampere.shape, dtype=np.int8)
    direction[current_ampere > threshold] = 1
    direction[current_ampere < -threshold] = -1
    return direction


def _carry_forward(direction: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """Each rest sample takes the direction of the last non-rest sample before it (0 before any)."""
    # int32 positions: half the memory of the default int64 on a multi-million-row file (2^31 rows max).
    positions = np.where(direction != 0, np.arange(direction.size, dtype=np.int32), np.int32(-1))
    last_active = np.maximum.accumulate(positions) if positions.size else positions
    return np.where(last_active >= 0, direction[np.maximum(last_active, 0)], 0).astype(np.int8)


def cycles_from_transitions(current_ampere: npt.NDArray[np.floating]) -> npt.NDArray[np.int32]:
    carried = _carry_forward(current_direction(current_ampere))
    starts = np.zeros(carried.size, dtype=np.int32)
    starts[1:] = (carried[1:] == 1) & (carried[:-1] == -1)
    return 1 + np.cumsum(starts, dtype=np.int32)


def count_alternations(current_ampere: npt.NDArray[np.floating]) -> int:
    carried = _carry_forward(current_direction(current_ampere))
    return int(np.count_nonzero((carried[1:] == 1) & (carried[:-1] == -1)))


def counter_is_stuck(within_run_alternations: int, advances: int) -> bool:
    """The module docstring's rule, from alternations the counter did not follow and its own advances."""
    return (
        within_run_alternations >= MIN_ALTERNATIONS_TO_OVERRULE
        and within_run_alternations > STUCK_RATIO * (advances + 1)
    )


def _fill_gaps(cycle_count: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Gaps take the last value before them; a leading gap the file's first value."""
    filled = cycle_count.copy()
    if np.isnan(filled).any():
        index = np.where(~np.isnan(filled), np.arange(filled.size, dtype=np.int32), np.int32(0))
        np.maximum.accumulate(index, out=index)
        filled = filled[index]
        first_valid = int(np.flatnonzero(~np.isnan(cycle_count))[0])
        filled[:first_valid] = cycle_count[first_valid]
    return filled


def assign_cycles(
    current_ampere: npt.NDArray[np.floating], cycle_count: npt.NDArray[np.float64] | None
) -> CycleAssignment:
    """Samples must be in test-time order."""
    if cycle_count is None or np.all(np.isnan(cycle_count)):
        return CycleAssignment(cycles_from_transitions(current_ampere), CycleRule.TRANSITIONS)
    filled = _fill_gaps(np.asarray(cycle_count, dtype=np.float64))
    counter_starts = np.zeros(filled.size, dtype=bool)
    counter_starts[1:] = filled[1:] != filled[:-1]
    carried = _carry_forward(current_direction(current_ampere))
    transition_starts = np.zeros(filled.size, dtype=bool)
    transition_starts[1:] = (carried[1:] == 1) & (carried[:-1] == -1)
    within = int(np.count_nonzero(transition_starts & ~counter_starts))
    if counter_is_stuck(within, int(np.count_nonzero(counter_starts))):
        starts = counter_starts | transition_starts
        return CycleAssignment(1 + np.cumsum(starts, dtype=np.int32), CycleRule.TRANSITIONS_COUNTER_STUCK)
    return CycleAssignment(1 + np.cumsum(counter_starts, dtype=np.int32), CycleRule.INSTRUMENT_COUNTER)


class CounterStuck(Exception):
    """Raised by StreamedCycles.finish: the counter was stuck (module docstring), so the rows already
    numbered by the counter must be numbered again by `assign_cycles` over the whole file."""


class StreamedCycles:
    """The cycle rule applied to a file read chunk by chunk, in file order, for files with a counter.

    The counter rule numbers each chunk as it arrives (gaps filled from the last value seen), and the
    alternations the counter did not follow are counted on the way, so nothing of the file is kept. The
    rest threshold for that count comes from the largest current seen so far, not the file's (a detection
    only: a stuck file is numbered again by `assign_cycles` with the file's own threshold)."""

    def __init__(self) -> None:
        self._cycle = 0
        self._last = np.nan
        self._peak = 0.0
        self._direction = np.int8(0)  # last non-rest direction seen
        self._unfollowed = 0

    def assign(
        self, current_ampere: npt.NDArray[np.float64], cycle_count: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int32]:
        counter = np.asarray(cycle_count, dtype=np.float64)
        n = counter.size
        if n == 0:
            return np.zeros(0, dtype=np.int32)
        previous_cycle = self._cycle
        cycles = self._number(counter, n)
        self._count_unfollowed(np.asarray(current_ampere, dtype=np.float64), cycles, previous_cycle)
        return cycles

    def _number(self, counter: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.int32]:
        missing = np.isnan(counter)
        if missing.any():
            index = np.where(~missing, np.arange(n, dtype=np.int32), np.int32(-1))
            np.maximum.accumulate(index, out=index)
            counter = np.where(index >= 0, counter[np.maximum(index, 0)], self._last)
            if np.isnan(counter).all():  # nothing known yet: these rows belong to the current cycle
                cycles = np.full(n, max(self._cycle, 1), dtype=np.int32)
                self._cycle = int(cycles[-1])
                return cycles
            if np.isnan(counter).any():  # a leading gap before the file's first value: take that value
                counter = np.where(np.isnan(counter), counter[~np.isnan(counter)][0], counter)
        starts = np.zeros(n, dtype=np.int32)
        starts[1:] = counter[1:] != counter[:-1]
        if self._cycle == 0:
            starts[0] = 1
        elif not np.isnan(self._last):
            starts[0] = counter[0] != self._last
        cycles = self._cycle + np.cumsum(starts, dtype=np.int32)
        self._cycle, self._last = int(cycles[-1]), float(counter[-1])
        return cycles

    def _count_unfollowed(
        self, current: npt.NDArray[np.float64], cycles: npt.NDArray[np.int32], previous_cycle: int
    ) -> None:
        """Charge-after-discharge samples whose cycle number equals the sample before's."""
        if current.size and np.isfinite(current).any():
            self._peak = max(self._peak, float(np.nanmax(np.abs(current))))
        direction = current_direction(current, self._peak)
        carried = _carry_forward(np.concatenate(([self._direction], direction)).astype(np.int8))
        same_cycle = cycles == np.concatenate(([previous_cycle], cycles[:-1]))
        self._unfollowed += int(np.count_nonzero((carried[1:] == 1) & (carried[:-1] == -1) & same_cycle))
        self._direction = carried[-1]

    def finish(self) -> CycleRule:
        """The rule that numbered the rows; raises CounterStuck when they must be numbered again."""
        if counter_is_stuck(self._unfollowed, max(self._cycle - 1, 0)):
            raise CounterStuck(CycleRule.TRANSITIONS_COUNTER_STUCK.value)
        return CycleRule.INSTRUMENT_COUNTER
