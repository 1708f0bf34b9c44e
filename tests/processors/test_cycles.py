"""Cycle rule: follow the instrument's counter unless it is stuck across several alternations."""

from __future__ import annotations

import numpy as np

from processors.cycles import CycleRule, assign_cycles, count_alternations


def test_counter_followed_and_renumbered_from_one() -> None:
    current = np.array([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    counter = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0])

    result = assign_cycles(current, counter)

    assert result.rule is CycleRule.INSTRUMENT_COUNTER
    assert result.cycle_index.tolist() == [1, 1, 1, 1, 2, 2]


def test_missing_counter_values_are_filled_from_neighbours() -> None:
    current = np.array([1.0, 1.0, -1.0, -1.0])
    counter = np.array([np.nan, 1.0, 1.0, 2.0])

    assert assign_cycles(current, counter).cycle_index.tolist() == [1, 1, 1, 2]


def test_no_counter_cycles_from_charge_discharge_transitions_with_rests() -> None:
    #            ch   ch  rest dis dis rest ch  dis  rest ch
    current = np.array([1, 1, 0, -1, -1, 0, 1, -1, 0, 1], dtype=float)

    result = assign_cycles(current, None)

    assert result.rule is CycleRule.TRANSITIONS
    assert result.cycle_index.tolist() == [1, 1, 1, 1, 1, 1, 2, 2, 2, 3]


def test_stuck_counter_overruled_after_three_alternations() -> None:
    current = np.tile([1.0, 1.0, 0.0, -1.0, -1.0, 0.0], 4)
    counter = np.ones(current.size)

    result = assign_cycles(current, counter)

    assert count_alternations(current) == 3
    assert result.rule is CycleRule.TRANSITIONS_COUNTER_STUCK
    assert result.cycle_index.max() == 4


def test_stuck_counter_kept_when_current_barely_alternates() -> None:
    current = np.array([1.0, -1.0, 1.0, -1.0])
    counter = np.ones(4)

    result = assign_cycles(current, counter)

    assert result.rule is CycleRule.INSTRUMENT_COUNTER
    assert result.cycle_index.tolist() == [1, 1, 1, 1]
