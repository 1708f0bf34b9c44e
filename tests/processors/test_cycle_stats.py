"""Per-cycle statistics against hand-computed values and an independent trapezoid integration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors import arbin
from processors.cycle_stats import (
    CYCLE_STATS_COLUMNS,
    StreamedCycleStats,
    compute_cycle_stats,
    reported_per_cycle,
)
from processors.cycles import assign_cycles

DATA = Path(__file__).resolve().parents[1] / "data"


def _frame(t, i, v, cycle):  # type: ignore[no-untyped-def]
    return pd.DataFrame(
        {"test_time_second": t, "current_ampere": i, "voltage_volt": v, "cycle_index": cycle}, dtype=float
    ).astype({"cycle_index": int})


def test_hand_computed_single_cycle() -> None:
    # charge 2 A for 1800 s at 4 V, then discharge 1 A for 3600 s at 3 V (instant steps at t=1800 and 1801)
    frame = _frame(
        t=[0, 1800, 1801, 5401],
        i=[2, 2, -1, -1],
        v=[4, 4, 3, 3],
        cycle=[1, 1, 1, 1],
    )
    stats = compute_cycle_stats(frame).iloc[0]

    # charge: 2 A * 1800 s = 1 Ah, plus the 1 s step interval trapezoid (2 + 0)/2 * 1 s = 1/3600 Ah
    assert stats["charge_capacity_ah"] == pytest.approx(1.0 + 1 / 3600, rel=1e-12)
    # discharge: 1 A * 3600 s = 1 Ah, plus (0 + 1)/2 * 1 s on the step interval
    assert stats["discharge_capacity_ah"] == pytest.approx(1.0 + 0.5 / 3600, rel=1e-12)
    assert stats["charge_energy_wh"] == pytest.approx(4.0 + 4 / 3600, rel=1e-12)
    assert stats["discharge_energy_wh"] == pytest.approx(3.0 + 1.5 / 3600, rel=1e-12)
    assert stats["coulombic_efficiency"] == pytest.approx((1 + 0.5 / 3600) / (1 + 1 / 3600))
    assert stats["voltage_charge_mean_v"] == pytest.approx(4.0)
    assert stats["voltage_discharge_mean_v"] == pytest.approx(3.0)
    assert stats["voltage_max_v"] == 4 and stats["voltage_min_v"] == 3
    assert stats["current_max_a"] == 2 and stats["current_min_a"] == -1
    assert stats["test_time_end_second"] == 5401 and stats["duration_second"] == 5401
    assert stats["n_points"] == 4
    assert list(compute_cycle_stats(frame).columns) == list(CYCLE_STATS_COLUMNS)


def test_last_cycle_complete_only_once_its_discharge_has_ended() -> None:
    cut_mid_discharge = _frame(t=[0, 1800, 1801, 5401], i=[2, 2, -1, -1], v=[4, 4, 3, 3], cycle=[1] * 4)
    rested = _frame(t=[0, 1800, 1801, 5401, 5461], i=[2, 2, -1, -1, 0], v=[4, 4, 3, 3, 3.2], cycle=[1] * 5)

    assert bool(compute_cycle_stats(cut_mid_discharge).loc[0, "complete"]) is False
    assert bool(compute_cycle_stats(rested).loc[0, "complete"]) is True


def test_cycle_boundary_interval_belongs_to_neither_cycle() -> None:
    frame = _frame(t=[0, 3600, 7200, 10800], i=[1, 1, 1, 1], v=[4, 4, 4, 4], cycle=[1, 1, 2, 2])

    stats = compute_cycle_stats(frame)

    assert stats["charge_capacity_ah"].tolist() == pytest.approx([1.0, 1.0])


def test_rest_only_cycle_kept_with_zeros_and_last_incomplete_cycle_flagged() -> None:
    frame = _frame(
        t=[0, 10, 20, 30, 40, 50, 60],
        i=[0, 0, 1, 1, -1, -1, 1],
        v=[3, 3, 4, 4, 3, 3, 4],
        cycle=[1, 1, 2, 2, 2, 2, 3],
    )
    stats = compute_cycle_stats(frame).set_index("cycle_index")

    assert stats.loc[1, "charge_capacity_ah"] == 0 and stats.loc[1, "discharge_capacity_ah"] == 0
    assert math.isnan(stats.loc[1, "coulombic_efficiency"])
    assert bool(stats.loc[2, "complete"]) is True
    assert bool(stats.loc[3, "complete"]) is False  # charge only: the test stopped mid-cycle


def test_rest_noise_does_not_make_last_cycle_complete() -> None:
    # cycle 2 charges at 2 A; its "discharge" is a −0.1 mA offset during rest (0.005 % of the peak)
    frame = _frame(
        t=[0, 10, 20, 30, 40, 50, 60, 70],
        i=[2, 2, -2, -2, 2, 2, -1e-4, -1e-4],
        v=[4, 4, 3, 3, 4, 4, 3.9, 3.9],
        cycle=[1, 1, 1, 1, 2, 2, 2, 2],
    )
    stats = compute_cycle_stats(frame).set_index("cycle_index")

    assert stats.loc[2, "discharge_capacity_ah"] > 0
    assert bool(stats.loc[1, "complete"]) is True
    assert bool(stats.loc[2, "complete"]) is False


def test_unsorted_input_gives_same_result() -> None:
    frame = _frame(t=[0, 10, 20, 30], i=[1, 2, -1, -2], v=[4, 4.1, 3.5, 3.4], cycle=[1, 1, 1, 1])

    shuffled = frame.sample(frac=1.0, random_state=3)

    pd.testing.assert_frame_equal(compute_cycle_stats(frame), compute_cycle_stats(shuffled))


def _reference_trapezoid(frame: pd.DataFrame) -> dict[int, dict[str, float]]:
    """Plain-Python trapezoid, written independently of the vectorised code (docs/design.md §5)."""
    out: dict[int, dict[str, float]] = {}
    for cycle, group in frame.sort_values(["cycle_index", "test_time_second"], kind="stable").groupby(
        "cycle_index"
    ):
        t = group["test_time_second"].tolist()
        i = group["current_ampere"].tolist()
        v = group["voltage_volt"].tolist()
        sums = {
            "charge_capacity_ah": 0.0,
            "discharge_capacity_ah": 0.0,
            "charge_energy_wh": 0.0,
            "discharge_energy_wh": 0.0,
        }
        for k in range(1, len(t)):
            dt = t[k] - t[k - 1]
            sums["charge_capacity_ah"] += dt * (max(i[k], 0) + max(i[k - 1], 0)) / 2 / 3600
            sums["discharge_capacity_ah"] += dt * (max(-i[k], 0) + max(-i[k - 1], 0)) / 2 / 3600
            p_now, p_before = v[k] * i[k], v[k - 1] * i[k - 1]
            sums["charge_energy_wh"] += dt * (max(p_now, 0) + max(p_before, 0)) / 2 / 3600
            sums["discharge_energy_wh"] += dt * (max(-p_now, 0) + max(-p_before, 0)) / 2 / 3600
        out[int(cycle)] = sums
    return out


@pytest.mark.parametrize("name", ["arbin_example.csv", "mits_pro_bs542_channel_11.csv"])
def test_real_arbin_file_matches_exact_trapezoid(name: str) -> None:
    frame = arbin.CONNECTOR.read(DATA / "arbin" / name).frame
    counter = frame["cycle_count"].to_numpy(dtype=float, na_value=np.nan)
    frame["cycle_index"] = assign_cycles(frame["current_ampere"].to_numpy(), counter).cycle_index

    stats = compute_cycle_stats(frame).set_index("cycle_index")
    expected = _reference_trapezoid(frame)

    assert sorted(expected) == stats.index.tolist()
    for cycle, values in expected.items():
        for column, value in values.items():
            assert stats.loc[cycle, column] == pytest.approx(value, rel=1e-9, abs=1e-15), (cycle, column)


def test_arbin_example_first_cycles_and_reported_counters() -> None:
    frame = arbin.CONNECTOR.read(DATA / "arbin" / "arbin_example.csv").frame
    frame["cycle_index"] = assign_cycles(
        frame["current_ampere"].to_numpy(), frame["cycle_count"].to_numpy(dtype=float)
    ).cycle_index

    stats = compute_cycle_stats(frame).set_index("cycle_index")

    assert stats.loc[2, "discharge_capacity_ah"] == pytest.approx(1.0734087, rel=1e-6)
    assert stats.loc[2, "charge_capacity_ah"] == pytest.approx(1.0759056, rel=1e-6)
    # the instrument's own counters (max − min within the cycle) sit beside, within 0.4 %
    assert stats.loc[2, "reported_discharge_capacity_ah"] == pytest.approx(1.0729095 - 0.0, rel=1e-6)
    assert stats.loc[2, "reported_charge_capacity_ah"] == pytest.approx(
        stats.loc[2, "charge_capacity_ah"], rel=4e-3
    )
    # the file starts mid-charge (counter at 0.88 Ah on row 1): cycle 1 is not complete
    assert bool(stats.loc[1, "complete"]) is False
    assert bool(stats.loc[2, "complete"]) is True


def _with_cycles(name: str) -> pd.DataFrame:
    frame = arbin.CONNECTOR.read(DATA / "arbin" / name).frame
    counter = frame["cycle_count"].to_numpy(dtype=float, na_value=np.nan)
    frame["cycle_index"] = assign_cycles(frame["current_ampere"].to_numpy(), counter).cycle_index
    return frame


@pytest.mark.parametrize("size", [1, 97, 500, 5000])
@pytest.mark.parametrize("name", ["arbin_example.csv", "mits_pro_bs542_channel_11.csv"])
def test_streamed_stats_equal_whole_file_stats_at_any_chunk_size(name: str, size: int) -> None:
    frame = _with_cycles(name)
    streamed = StreamedCycleStats(max_open_rows=10_000)

    for start in range(0, len(frame), size):
        streamed.add(frame.iloc[start : start + size].reset_index(drop=True))
    result = streamed.result()

    assert result is not None
    pd.testing.assert_frame_equal(result, compute_cycle_stats(frame), check_dtype=False)


def test_streamed_stats_give_up_on_an_oversized_cycle_or_cycles_out_of_order() -> None:
    frame = _frame(t=range(6), i=[1, 1, -1, -1, 1, -1], v=[4] * 6, cycle=[1, 1, 1, 1, 1, 1])
    big = StreamedCycleStats(max_open_rows=3)
    back = StreamedCycleStats(max_open_rows=100)

    big.add(frame.iloc[:2])
    big.add(frame.iloc[2:])
    back.add(frame.assign(cycle_index=[2, 2, 2, 1, 1, 1]))

    assert big.result() is None and "more than 3 rows" in (big.given_up or "")
    assert back.result() is None and "goes back" in (back.given_up or "")


@pytest.mark.parametrize(
    ("values", "code", "expected"),
    [
        # a per-cycle counter: max − min of each cycle
        pytest.param([0.0, 1.0, 2.0, 0.0, 1.5], [0, 0, 0, 1, 1], [2.0, 1.5], id="per-cycle"),
        # a test-wide counter: what it gained within each cycle
        pytest.param([5.0, 6.0, 7.0, 7.0, 9.0], [0, 0, 0, 1, 1], [2.0, 2.0], id="test-wide"),
        # restarts each step (Maccor Amp-hr, CC then CV): (3.36871 − 0.00003) + 1.15388, CV counted from 0
        pytest.param([0.00003, 3.36871, 0.00001, 1.15388], [0, 0, 0, 0], [4.52256], id="per-step"),
        # written only while charging (NaN elsewhere); a cycle with no value stays NaN
        pytest.param([np.nan, 1.0, 2.0, np.nan, np.nan], [0, 0, 0, 1, 1], [1.0, np.nan], id="gaps"),
    ],
)
def test_reported_counters_per_cycle_whatever_their_reset_scope(values, code, expected) -> None:
    out = reported_per_cycle(np.array(values), np.array(code, dtype=np.int64), len(expected))

    np.testing.assert_allclose(out, expected, rtol=1e-9)


def test_step_scope_counters_are_summed_over_each_cycles_steps() -> None:
    """BDF step_* counters (Neware, batterydata.energy.gov) restart every step: CC then CV charge of cycle 1
    hold 0.8 + 0.2 Ah, its discharge 0.9 Ah; cycle 2 charges 0.7 Ah in one step. NaN where the counter is not
    written (the other direction's steps). A step's first sample holds (about) zero, as instruments log it."""
    frame = _frame(
        t=range(10),
        i=[1, 1, 0.2, 0.2, -1, -1, 1, 1, -1, -1],
        v=[3.8, 4.2, 4.2, 4.2, 3.9, 3.0, 3.8, 4.2, 3.9, 3.5],
        cycle=[1, 1, 1, 1, 1, 1, 2, 2, 2, 2],
    )
    frame["step_charging_capacity_ah"] = [0.0, 0.8, 0.0, 0.2, np.nan, np.nan, 0.0, 0.7, np.nan, np.nan]
    frame["step_discharging_capacity_ah"] = [np.nan] * 4 + [0.0, 0.9, np.nan, np.nan, 0.0, 0.1]

    stats = compute_cycle_stats(frame)

    assert stats["reported_charge_capacity_ah"].tolist() == pytest.approx([1.0, 0.7])
    assert stats["reported_discharge_capacity_ah"].tolist() == pytest.approx([0.9, 0.1])
    assert stats["reported_charge_energy_wh"].isna().all()


def test_a_per_cycle_counter_wins_over_the_step_scope() -> None:
    frame = _frame(t=range(3), i=[1, 1, 1], v=[4, 4, 4], cycle=[1, 1, 1])
    frame["cycle_charging_capacity_ah"] = [0.0, 0.5, 1.0]
    frame["step_charging_capacity_ah"] = [0.0, 9.0, 0.0]

    assert compute_cycle_stats(frame)["reported_charge_capacity_ah"].tolist() == [1.0]
