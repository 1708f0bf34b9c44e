"""Cycle rule: follow the instrument's counter unless it is stuck across several alternations."""

from __future__ import annotations

import numpy as np
import pytest

from processors.cycles import CounterStuck, CycleRule, StreamedCycles, assign_cycles, count_alternations


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


def _streamed(current: np.ndarray, counter: np.ndarray, size: int) -> tuple[list[int], CycleRule]:
    streamed = StreamedCycles()
    numbers: list[int] = []
    for start in range(0, current.size, size):
        numbers += streamed.assign(current[start : start + size], counter[start : start + size]).tolist()
    return numbers, streamed.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_streamed_counter_rule_matches_whole_file_rule_at_any_chunk_size(size: int) -> None:
    rng = np.random.default_rng(5)
    counter = np.repeat([np.nan, 0.0, 1.0, 1.0, 2.0, 5.0, 6.0], [3, 4, 9, 1, 5, 8, 3])
    counter[[6, 12, 20]] = np.nan  # gaps inside, filled from the value before
    current = rng.choice([-1.0, 0.0, 1.0], counter.size)

    numbers, rule = _streamed(current, counter, size)

    assert rule is CycleRule.INSTRUMENT_COUNTER
    assert numbers == assign_cycles(current, counter).cycle_index.tolist()


def test_streamed_stuck_counter_is_detected_like_the_whole_file_rule() -> None:
    current = np.tile([1.0, 1.0, 0.0, -1.0, -1.0, 0.0], 5)  # five charge → discharge cycles
    counter = np.ones(current.size)
    whole = assign_cycles(current, counter)

    with pytest.raises(CounterStuck):
        _streamed(current, counter, 4)

    assert whole.rule is CycleRule.TRANSITIONS_COUNTER_STUCK
    assert max(whole.cycle_index) == 5


def _cycles(n: int, pulses: int = 0) -> np.ndarray:
    """n charge → rest → discharge → rest cycles; `pulses` short charge/discharge pulse pairs in each."""
    one = [1.0, 1.0, 0.0] + [0.5, -0.5] * pulses + [-1.0, -1.0, 0.0]
    return np.tile(one, n)


def test_counter_advancing_mid_cycle_is_followed() -> None:
    # The counter advances at each discharge start, not at the charge: one unfollowed alternation a cycle.
    current = _cycles(6)
    counter = np.repeat(np.arange(7.0), [3] + [6] * 5 + [3])

    result = assign_cycles(current, counter)

    assert result.rule is CycleRule.INSTRUMENT_COUNTER
    assert result.cycle_index.max() == 7


def test_pulses_inside_counted_cycles_do_not_overrule_the_counter() -> None:
    current = _cycles(8, pulses=1)  # an HPPC-like pulse pair in every cycle
    counter = np.repeat(np.arange(8.0), 8)

    result = assign_cycles(current, counter)

    assert result.rule is CycleRule.INSTRUMENT_COUNTER
    assert result.cycle_index.tolist() == (counter + 1).astype(int).tolist()


def test_stuck_run_between_counted_cycles_keeps_the_counters_boundaries() -> None:
    # Like the Maccor xTESLADIAG file: Cyc# 0 for a discharge, Cyc# 1 for many cycles, Cyc# 2 at the end.
    current = np.concatenate(([-1.0, -1.0, 0.0], _cycles(10), [1.0, 0.0]))
    counter = np.concatenate(([0.0] * 3, [1.0] * 60, [2.0] * 2))

    result = assign_cycles(current, counter)

    assert result.rule is CycleRule.TRANSITIONS_COUNTER_STUCK
    with pytest.raises(CounterStuck):
        _streamed(current, counter, 7)
    # cycle 1 = the lone discharge; cycles 2..11 = the ten cycles under Cyc# 1; the last charge is cycle 12
    assert result.cycle_index[:3].tolist() == [1, 1, 1]
    assert result.cycle_index.max() == 12
    assert np.bincount(result.cycle_index)[2:12].tolist() == [6] * 10
