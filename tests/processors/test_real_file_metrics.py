"""The issue-5 metrics on real instrument files: the threshold CV detection against the files' own step
structure, and first-cycle values of temperature and resistance where the files have them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from connectors import registry
from processors.cycle_stats import stats_of_frame
from processors.cycles import assign_cycles

DATA = Path(__file__).resolve().parents[1] / "data"


def test_cv_detection_agrees_with_maccors_own_cv_steps() -> None:
    """maccor_001.txt charges CC in one step (4, 9, 14, 19) and holds 4.2 V in the next (5, 10, 15, 20). The
    thresholds, which know nothing of steps, find each CV step within one logging interval (30 s) and its
    capacity within 0.5 %: they add only the transition interval and the last CC samples within 2 mV."""
    frame = registry.read(DATA / "maccor" / "maccor_001.txt").frame
    _, stats = stats_of_frame(frame)
    counter = frame["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan)
    cycle = assign_cycles(frame["current_ampere"].to_numpy(), counter).cycle_index

    for cycle_index, cv_step in ((2, 5), (3, 10), (4, 15), (5, 20)):
        step = frame[(cycle == cycle_index) & (frame["step_id"] == cv_step)]
        t, i = step["test_time_second"].to_numpy(), step["current_ampere"].to_numpy()
        step_seconds = t[-1] - t[0]
        step_ah = np.sum(np.diff(t) * (i[1:] + i[:-1]) / 2) / 3600
        ours = stats.set_index("cycle_index").loc[cycle_index]
        assert ours["cv_time_second"] == pytest.approx(step_seconds, abs=30), cycle_index
        assert ours["cv_capacity_ah"] == pytest.approx(step_ah, rel=5e-3), cycle_index
        assert ours["cc_capacity_ah"] == pytest.approx(ours["charge_capacity_ah"] - ours["cv_capacity_ah"])
    # cycle 2: 4.5226 Ah charged, of which 1.1566 Ah at constant voltage over 9,828 s
    second = stats.set_index("cycle_index").loc[2]
    assert second["cv_capacity_ah"] == pytest.approx(1.156636, rel=1e-5)
    assert second["cv_time_second"] == pytest.approx(9827.87, abs=0.01)


def test_an_excerpt_that_starts_inside_a_cv_step_is_all_cv() -> None:
    # PredictionDiagnostics_000109: cycle 1 is the tail of step 63, 4.1 V held while 6.96 A tapers to 0.77 A
    _, stats = stats_of_frame(
        registry.read(DATA / "maccor" / "PredictionDiagnostics_000109_tztest.010").frame
    )
    first = stats.iloc[0]

    assert first["cv_capacity_ah"] == pytest.approx(first["charge_capacity_ah"], rel=1e-5)
    assert first["cv_time_second"] == pytest.approx(1679.9, abs=0.1)


@pytest.mark.parametrize(
    ("path", "cycle", "expected"),
    [
        # Arbin: Temperature (C)_1 → surface; Internal Resistance (Ohm) repeated between pulses
        pytest.param(
            "arbin/arbin_example.csv",
            1,
            {
                "temperature_mean_celsius": 29.397705,
                "internal_resistance_ohm": 0.017097674,
                "cv_capacity_ah": 0.03169965,
                "cv_time_second": 675.0,
            },
            id="arbin-csv",
        ),
        pytest.param(
            "arbin/20160805_test001_45_cc_01.res", 1, {"internal_resistance_ohm": 56.486603}, id="res"
        ),
        pytest.param("pec/pec.csv", 2, {"temperature_mean_celsius": 25.376904}, id="pec"),
        pytest.param(
            "novonix/test_Nova_Form-CH01-01_short.csv",
            1,
            {"temperature_mean_celsius": 39.223219, "cv_capacity_ah": 0.000176801},
            id="novonix",
        ),
        pytest.param(
            "batterydata/p492-13-raw.csv", 2, {"temperature_mean_celsius": 29.853894}, id="batterydata"
        ),
        pytest.param(
            "neware/nw_regular_export_ife_example.csv",
            1,
            {"temperature_mean_celsius": 26.678410},
            id="neware",
        ),
        pytest.param("maccor/xTESLADIAG_000019_CH70.070", 2, {"cv_capacity_ah": 0.872668}, id="maccor-cccv"),
    ],
)
def test_first_cycle_metrics_of_real_files(path: str, cycle: int, expected: dict[str, float]) -> None:
    _, stats = stats_of_frame(registry.read(DATA / path).frame)
    row = stats.set_index("cycle_index").loc[cycle]

    for name, value in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-5), name
