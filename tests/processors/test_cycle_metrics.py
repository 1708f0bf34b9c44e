"""The issue-5 per-cycle metrics against hand-computed series: CC/CV split, cell temperature, resistance,
rest-only cycles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from processors.cycle_stats import compute_cycle_stats, median_by_group


def _cccv_cycle() -> pd.DataFrame:
    """CC 1 A for 3600 s (3.8 → 4.2 V), CV at 4.2 V tapering 1 → 0.05 A, rest, CC discharge 1 A. 600 s steps."""
    current = [1, 1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0.05, 0, -1, -1, -1, 0]
    voltage = [3.8, 3.9, 3.95, 4.0, 4.05, 4.1, 4.2, 4.2, 4.2, 4.2, 4.2, 4.2, 4.1, 3.9, 3.6, 3.0, 3.2]
    return pd.DataFrame(
        {
            "test_time_second": np.arange(len(current)) * 600.0,
            "current_ampere": current,
            "voltage_volt": voltage,
            "cycle_index": 1,
        }
    )


def test_constant_voltage_part_by_hand() -> None:
    stats = compute_cycle_stats(_cccv_cycle()).iloc[0]

    # CV intervals: 3600→4200 (1 → 0.8 A: the taper starts at the last CC sample) … 6000→6600 (0.2 → 0.05 A);
    # 6600→7200 is not CV (the rest sample, 0 A, is not at the top). 5 intervals of 600 s.
    assert stats["cv_time_second"] == pytest.approx(3000.0)
    cv_ah = (
        600 * ((1 + 0.8) / 2 + (0.8 + 0.6) / 2 + (0.6 + 0.4) / 2 + (0.4 + 0.2) / 2 + (0.2 + 0.05) / 2) / 3600
    )
    assert stats["cv_capacity_ah"] == pytest.approx(cv_ah)  # 0.420833 Ah
    # everything else charged is CC: 6 intervals at 1 A (1 Ah) and the 0.05 → 0 A half-trapezoid to rest
    assert stats["cc_capacity_ah"] == pytest.approx(stats["charge_capacity_ah"] - cv_ah)
    assert stats["cc_capacity_ah"] == pytest.approx(1.0 + 600 * 0.025 / 3600)


def test_cc_only_charge_has_no_cv_even_when_it_touches_the_top() -> None:
    frame = pd.DataFrame(
        {
            "test_time_second": [0, 600, 1200, 1800, 2400],
            "current_ampere": [1, 1, 1, 0, -1],
            "voltage_volt": [3.9, 4.1, 4.2, 4.0, 3.8],
            "cycle_index": 1,
        },
        dtype=float,
    ).astype({"cycle_index": int})

    stats = compute_cycle_stats(frame).iloc[0]

    assert stats["cv_time_second"] == 0.0 and stats["cv_capacity_ah"] == 0.0
    assert stats["cc_capacity_ah"] == pytest.approx(stats["charge_capacity_ah"])


def test_cv_band_tolerates_millivolt_noise_but_not_a_sagging_voltage() -> None:
    noisy = _cccv_cycle()
    noisy.loc[7:11, "voltage_volt"] = [4.199, 4.2005, 4.1985, 4.2, 4.1995]  # within max(5 mV, 0.2 % × 4.2 V)
    sagging = _cccv_cycle()
    sagging.loc[9, "voltage_volt"] = 4.15  # 50 mV below: intervals 8→9 and 9→10 are not CV

    assert compute_cycle_stats(noisy).iloc[0]["cv_time_second"] == pytest.approx(3000.0)
    assert compute_cycle_stats(sagging).iloc[0]["cv_time_second"] == pytest.approx(1800.0)


def test_temperatures_surface_first_then_t1() -> None:
    frame = pd.concat([_cccv_cycle(), _cccv_cycle().assign(cycle_index=2)], ignore_index=True)
    frame["test_time_second"] = np.arange(len(frame)) * 600.0
    frame["temperature_t1_celsius"] = 99.0
    frame["surface_temperature_celsius"] = np.nan
    frame.loc[:16, "surface_temperature_celsius"] = np.linspace(25.0, 33.0, 17)  # cycle 1 only

    stats = compute_cycle_stats(frame)

    assert stats["temperature_min_celsius"].iloc[0] == pytest.approx(25.0)
    assert stats["temperature_mean_celsius"].iloc[0] == pytest.approx(29.0)
    assert stats["temperature_max_celsius"].iloc[0] == pytest.approx(33.0)
    # cycle 2 has no surface reading: NaN, never the other probe's values mixed in
    assert stats["temperature_mean_celsius"].isna().iloc[1]


def test_temperature_from_t1_when_no_surface_probe() -> None:
    frame = _cccv_cycle().assign(temperature_t1_celsius=np.r_[np.full(8, 24.0), np.full(9, 26.0)])

    stats = compute_cycle_stats(frame).iloc[0]

    assert (stats["temperature_min_celsius"], stats["temperature_max_celsius"]) == (24.0, 26.0)
    assert stats["temperature_mean_celsius"] == pytest.approx((8 * 24 + 9 * 26) / 17)


def test_internal_resistance_is_the_cycles_median_positive_reading() -> None:
    frame = _cccv_cycle()
    # Arbin-style: 0 until the first pulse, then the last reading repeated
    frame["internal_resistance_ohm"] = [0.0] * 5 + [0.031] * 6 + [0.029] * 4 + [0.035] * 2

    stats = compute_cycle_stats(frame).iloc[0]

    assert stats["internal_resistance_ohm"] == pytest.approx(0.031)
    assert compute_cycle_stats(_cccv_cycle())["internal_resistance_ohm"].isna().all()


def test_rest_only_cycle_is_kept_with_zeros() -> None:
    frame = pd.concat(
        [
            _cccv_cycle(),
            pd.DataFrame(
                {
                    "test_time_second": [10_200.0, 10_800.0, 11_400.0],
                    "current_ampere": [0.0, 0.0, 0.0],
                    "voltage_volt": [3.3, 3.31, 3.31],
                    "cycle_index": 2,
                }
            ),
        ],
        ignore_index=True,
    )

    rest = compute_cycle_stats(frame).iloc[1]

    assert rest["charge_capacity_ah"] == 0.0 and rest["discharge_capacity_ah"] == 0.0
    assert rest["cv_time_second"] == 0.0 and rest["cc_capacity_ah"] == 0.0
    assert np.isnan(rest["coulombic_efficiency"])  # NULL when nothing was charged (docs/design.md §5)
    assert rest["n_points"] == 3
    assert not rest["complete"]  # kept, but not a full cycle


def test_only_cycles_that_charged_and_discharged_are_complete() -> None:
    """A test that starts charged: cycle 1 only discharges. It is kept, but it is not a complete cycle (it
    must not set the reference capacity nor cross a fade threshold); cycle 2 charges and discharges."""
    discharge_only = pd.DataFrame(
        {
            "test_time_second": [0.0, 600.0, 1200.0, 1800.0],
            "current_ampere": [-1.0, -1.0, -1.0, 0.0],
            "voltage_volt": [4.0, 3.7, 3.0, 3.2],
            "cycle_index": 1,
        }
    )
    second = _cccv_cycle().assign(cycle_index=2)
    second["test_time_second"] += 2400.0
    frame = pd.concat([discharge_only, second], ignore_index=True)
    frame.loc[len(frame) - 1, "current_ampere"] = 1e-7  # rest noise on the last sample: still at rest

    stats = compute_cycle_stats(frame)

    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(
        (1200 + 300) / 3600
    )  # 1 A, then a half-step to rest
    assert stats["complete"].tolist() == [False, True]


def test_median_by_group_odd_even_and_empty() -> None:
    values = np.array([3.0, 1.0, 2.0, np.nan, 4.0, 10.0, np.nan])
    code = np.array([0, 0, 0, 1, 1, 1, 2])

    np.testing.assert_allclose(median_by_group(values, code, 3), [2.0, 7.0, np.nan])


def test_moving_median_ignores_single_outliers_and_keeps_the_ends() -> None:
    from processors.fade import moving_median

    values = [0.01] * 10
    values[4] = 5.0

    np.testing.assert_allclose(moving_median(values, 5), [0.01] * 10)
    np.testing.assert_allclose(moving_median([1.0, 2.0, 3.0, 4.0], 3), [1.5, 2.0, 3.0, 3.5])  # ends: 2 values
    assert moving_median([]).size == 0
