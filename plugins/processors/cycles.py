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


def current_direction(current_ampere: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
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


def cycles_from_transitions(current_ampere: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    carried = _carry_forward(current_direction(current_ampere))
    starts = np.zeros(carried.size, dtype=np.int32)
    starts[1:] = (carried[1:] == 1) & (carried[:-1] == -1)
    return 1 + np.cumsum(starts, dtype=np.int32)


def cycles_from_counter(cycle_count: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    """1 for the first counter value, +1 each time the counter changes (0-based or sparse counters alike)."""
    changes = np.zeros(cycle_count.size, dtype=np.int32)
    changes[1:] = cycle_count[1:] != cycle_count[:-1]
    return 1 + np.cumsum(changes, dtype=np.int32)


def count_alternations(current_ampere: npt.NDArray[np.float64]) -> int:
    carried = _carry_forward(current_direction(current_ampere))
    return int(np.count_nonzero((carried[1:] == 1) & (carried[:-1] == -1)))


def assign_cycles(
    current_ampere: npt.NDArray[np.float64], cycle_count: npt.NDArray[np.float64] | None
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
