"""Which cycle each sample belongs to (DESIGN §3, cycle rule).

Default: follow the instrument's counter (``cycle_count``). When the file has no counter, or the counter
never advances although the current alternates charge → discharge several times (Maccor files where Cyc#
stays 1), cycles are derived from those transitions: a new cycle starts at the first charging sample that
follows a discharge. Rests belong to the cycle they follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

#: Charge → discharge alternations needed before a stuck counter is overruled.
MIN_ALTERNATIONS_TO_OVERRULE = 3
#: |current| below this fraction of the largest |current| in the file counts as rest.
REST_FRACTION = 1e-3


class CycleRule(StrEnum):
    INSTRUMENT_COUNTER = "instrument_counter"
    TRANSITIONS = "charge_discharge_transitions"
    TRANSITIONS_COUNTER_STUCK = "charge_discharge_transitions:counter_stuck"


@dataclass(frozen=True)
class CycleAssignment:
    cycle_index: npt.NDArray[np.int32]
    rule: CycleRule


def current_direction(current_ampere: npt.NDArray[np.floating]) -> npt.NDArray[np.int8]:
    """+1 charging, −1 discharging, 0 resting, per sample."""
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


def cycles_from_counter(cycle_count: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    """1 for the first counter value, +1 each time the counter changes (0-based or sparse counters alike)."""
    changes = np.zeros(cycle_count.size, dtype=np.int32)
    changes[1:] = cycle_count[1:] != cycle_count[:-1]
    return 1 + np.cumsum(changes, dtype=np.int32)


def count_alternations(current_ampere: npt.NDArray[np.floating]) -> int:
    carried = _carry_forward(current_direction(current_ampere))
    return int(np.count_nonzero((carried[1:] == 1) & (carried[:-1] == -1)))


def assign_cycles(
    current_ampere: npt.NDArray[np.floating], cycle_count: npt.NDArray[np.float64] | None
) -> CycleAssignment:
    """Samples must be in test-time order."""
    has_counter = cycle_count is not None and not np.all(np.isnan(cycle_count))
    if has_counter:
        assert cycle_count is not None
        filled = cycle_count.copy()
        if np.isnan(filled).any():  # fill gaps from the neighbours before comparing
            index = np.where(~np.isnan(filled), np.arange(filled.size, dtype=np.int32), np.int32(0))
            np.maximum.accumulate(index, out=index)
            filled = filled[index]
            first_valid = int(np.flatnonzero(~np.isnan(cycle_count))[0])
            filled[:first_valid] = cycle_count[first_valid]
        by_counter = cycles_from_counter(filled)
        counter_stuck = by_counter[-1] == 1
        if counter_stuck and count_alternations(current_ampere) >= MIN_ALTERNATIONS_TO_OVERRULE:
            return CycleAssignment(
                cycles_from_transitions(current_ampere), CycleRule.TRANSITIONS_COUNTER_STUCK
            )
        return CycleAssignment(by_counter, CycleRule.INSTRUMENT_COUNTER)
    return CycleAssignment(cycles_from_transitions(current_ampere), CycleRule.TRANSITIONS)


class CounterStuck(Exception):
    """Raised by StreamedCycles.finish: the counter never advanced although the current alternated, so the
    rows already numbered by the counter must be numbered again from the transitions."""

    def __init__(self, assignment: CycleAssignment) -> None:
        super().__init__(assignment.rule.value)
        self.assignment = assignment


class StreamedCycles:
    """The cycle rule applied to a file read chunk by chunk, in file order, for files with a counter.

    The counter rule numbers each chunk as it arrives (gaps filled from the last value seen). Whether the
    counter was stuck is only known at the end: `finish` then raises CounterStuck carrying the numbering by
    transitions, computed from the currents kept meanwhile (float32: 4 bytes a row)."""

    def __init__(self) -> None:
        self._cycle = 0
        self._last = np.nan
        self._currents: list[npt.NDArray[np.float32]] = []

    def assign(
        self, current_ampere: npt.NDArray[np.float64], cycle_count: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int32]:
        if self._cycle <= 1:  # once the counter has advanced it cannot be stuck: stop keeping currents
            self._currents.append(np.asarray(current_ampere, dtype=np.float32))
        else:
            self._currents = []
        counter = np.asarray(cycle_count, dtype=np.float64)
        n = counter.size
        if n == 0:
            return np.zeros(0, dtype=np.int32)
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

    def finish(self) -> CycleRule:
        """The rule that numbered the rows; raises CounterStuck when they must be numbered again."""
        if self._cycle == 1 and self._currents:
            current = np.concatenate(self._currents)
            self._currents = []
            if count_alternations(current) >= MIN_ALTERNATIONS_TO_OVERRULE:
                raise CounterStuck(
                    CycleAssignment(cycles_from_transitions(current), CycleRule.TRANSITIONS_COUNTER_STUCK)
                )
        self._currents = []
        return CycleRule.INSTRUMENT_COUNTER
