"""V–Q curves and dQ/dV per half-cycle against hand-computed series, a reference LTTB and a real Maccor file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from connectors import registry
from processors.curves import (
    CURVE_COLUMNS,
    DQDV_POLYORDER,
    DQDV_WINDOW_POINTS,
    compute_curves,
    lttb_keep,
    monotone_envelope,
    savgol_derivative,
)
from processors.cycle_stats import compute_cycle_stats
from processors.cycles import assign_cycles

DATA = Path(__file__).resolve().parents[1] / "data"


def _frame(t: npt.ArrayLike, i: npt.ArrayLike, v: npt.ArrayLike, cycle: npt.ArrayLike = 1) -> pd.DataFrame:
    t = np.asarray(t, dtype=float)
    return pd.DataFrame(
        {
            "cycle_index": np.broadcast_to(np.asarray(cycle, dtype=np.int64), t.shape),
            "test_time_second": t,
            "current_ampere": np.broadcast_to(np.asarray(i, dtype=float), t.shape),
            "voltage_volt": np.asarray(v, dtype=float),
        }
    )


def _half_cycle(
    capacity_ah: npt.NDArray[np.float64], voltage_volt: npt.ArrayLike, current_ampere: float = 1.0
) -> pd.DataFrame:
    """Samples at constant current whose capacity runs through `capacity_ah` (equal steps)."""
    t = capacity_ah * 3600.0 / abs(current_ampere)
    return _frame(t, current_ampere, voltage_volt)


def test_capacity_of_a_constant_current_half_cycle_runs_from_zero() -> None:
    # 1 A for 3600 s, one sample a second: 1 Ah
    t = np.arange(3601.0)
    curve = compute_curves(_frame(t, 1.0, 3.0 + t / 7200))

    assert curve["capacity_ah"].iloc[0] == 0.0
    assert curve["capacity_ah"].iloc[-1] == pytest.approx(1.0, rel=1e-12)
    assert set(curve["direction"]) == {"charge"}


def test_a_long_half_cycle_keeps_500_real_samples_with_both_ends() -> None:
    q = np.linspace(0.0, 2.0, 10_000)
    frame = _half_cycle(q, 3.0 + 0.5 * q + 0.02 * np.sin(9 * q))
    full = compute_curves(frame, max_points=20_000)

    curve = compute_curves(frame)

    assert len(full) == 10_000
    assert len(curve) == 500
    assert curve["point"].tolist() == list(range(500))
    assert (np.diff(curve["capacity_ah"]) >= 0).all()
    first, last = full.iloc[[0, -1]][["capacity_ah", "voltage_volt"]].to_numpy()
    assert (curve[["capacity_ah", "voltage_volt"]].to_numpy()[[0, -1]] == [first, last]).all()
    # every kept (capacity, voltage) is a sample of the full curve, exactly: no averaging
    matched = curve.merge(full, on=["capacity_ah", "voltage_volt"], how="left", indicator=True)
    assert (matched["_merge"] == "both").all()


def test_lttb_keeps_the_knee_of_a_flat_curve() -> None:
    # 3.5 V flat for 5003 samples, then a ramp to 4.2 V: the knee sample is the corner of the curve
    q = np.linspace(0.0, 1.0, 10_000)
    knee = 5003
    v = np.where(np.arange(q.size) < knee, 3.5, 3.5 + 0.7 * (np.arange(q.size) - knee) / (q.size - knee))

    curve = compute_curves(_half_cycle(q, v))

    # a uniform stride (every 20th sample) would miss it
    assert knee % (q.size // 500) != 0
    assert np.isclose(curve["capacity_ah"], q[knee], rtol=0, atol=1e-12).any()


@pytest.mark.parametrize(
    ("current_ampere", "voltage_of"),
    [
        pytest.param(1.0, lambda q: 3.0 + 0.5 * q, id="charge"),
        pytest.param(-1.0, lambda q: 4.0 - 0.5 * q, id="discharge"),
    ],
)
def test_dqdv_of_a_linear_curve_is_its_inverse_slope(
    current_ampere: float, voltage_of: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
) -> None:
    # V = 3 + 0.5 V/Ah · Q: 2 Ah per volt, positive for the discharge too
    q = np.linspace(0.0, 1.0, 3601)

    curve = compute_curves(_half_cycle(q, voltage_of(q), current_ampere))

    assert curve["dqdv"].to_numpy() == pytest.approx(2.0, rel=0.02)


def _logistic_voltage(
    q: npt.NDArray[np.float64], q_max_ah: float, centre_volt: float, width_volt: float
) -> npt.NDArray[np.float64]:
    """Inverse of Q(V) = Qmax / (1 + exp(−(V − centre)/width)): dQ/dV peaks at centre, at Qmax / (4·width)."""
    return centre_volt + width_volt * np.log(q / (q_max_ah - q))


@pytest.mark.parametrize("noise_volt", [pytest.param(0.0, id="clean"), pytest.param(2e-4, id="noisy")])
@pytest.mark.parametrize(
    ("current_ampere", "sign"), [pytest.param(1.0, 1, id="charge"), pytest.param(-1.0, -1, id="discharge")]
)
def test_dqdv_peaks_at_the_plateau_of_a_logistic_curve(
    current_ampere: float, sign: int, noise_volt: float
) -> None:
    # Q(V) logistic around 3.4 V, width 20 mV, Qmax 2 Ah, sampled in time at constant current; the
    # discharge runs the mirrored curve from high to low voltage. Noise: σ = 0.2 mV, ten times the voltage
    # step between samples on the plateau, so the raw voltage reverses every other sample.
    q_max, width = 2.0, 0.02
    q_true = np.linspace(0.005, 0.995, 4000) * q_max
    v = 3.4 + sign * (_logistic_voltage(q_true, q_max, 3.4, width) - 3.4)
    v += np.random.default_rng(11).normal(0.0, noise_volt, v.size)

    curve = compute_curves(_half_cycle(q_true - q_true[0], v, current_ampere))

    peak = curve.loc[curve["dqdv"].idxmax()]
    assert peak["voltage_volt"] == pytest.approx(3.4, abs=0.010)
    # a cubic fit over 21 mV keeps the height of a peak 70 mV wide at half height (a quadratic loses 1.3 %)
    assert peak["dqdv"] == pytest.approx(q_max / (4 * width), rel=0.01)
    assert (curve["dqdv"] > 0).all()


def test_a_constant_voltage_hold_adds_no_dqdv_spike_at_the_top() -> None:
    # CC: V = 3 + 0.5999 V/Ah · Q up to 4.1998 V at 2 Ah, then 0.5 Ah held at 4.1998 V with one reading of
    # 4.2003 V (regulation noise) at 2.4 Ah. Read naively, Q(V) would jump 0.4 Ah within 0.5 mV at the top.
    q = np.r_[np.linspace(0.0, 2.0, 2000), np.linspace(2.0, 2.5, 1001)[1:]]
    v = np.r_[3.0 + 0.5999 * q[:2000], np.full(1000, 4.1998)]
    v[2800] = 4.2003

    curve = compute_curves(_half_cycle(q, v))

    # every point, the CV ones included, carries the CC part's 1/0.5999 Ah/V
    assert curve["dqdv"].to_numpy() == pytest.approx(1 / 0.5999, rel=0.01)


def test_rest_is_left_out_and_half_cycles_are_labelled() -> None:
    # two cycles: charge 1 A 3 samples, rest 2 samples, discharge 1 A 3 samples
    one_cycle_i = [1, 1, 1, 0, 0, -1, -1, -1]
    one_cycle_v = [3.6, 3.8, 4.0, 3.95, 3.94, 3.7, 3.5, 3.3]
    frame = _frame(t=np.arange(16.0) * 60, i=one_cycle_i * 2, v=one_cycle_v * 2, cycle=np.repeat([1, 2], 8))

    curve = compute_curves(frame)

    groups = curve.groupby(["cycle_index", "direction"], sort=False)["voltage_volt"].agg(list)
    assert groups.to_dict() == {
        (1, "charge"): [3.6, 3.8, 4.0],
        (1, "discharge"): [3.7, 3.5, 3.3],
        (2, "charge"): [3.6, 3.8, 4.0],
        (2, "discharge"): [3.7, 3.5, 3.3],
    }
    assert curve["point"].tolist() == [0, 1, 2] * 4
    # 1 A for two 60 s intervals: 1/30 Ah at the end of each half-cycle
    assert curve.groupby(["cycle_index", "direction"])["capacity_ah"].last().to_numpy() == pytest.approx(
        1 / 30
    )


def test_separate_charge_segments_accumulate_and_hold_across_the_gap() -> None:
    # charge 1 A 0–1800 s, rest until 3000 s, charge 1 A 3000–4800 s: 0.5 Ah + 0.5 Ah, not 1.33 Ah
    t = np.r_[np.linspace(0, 1800, 31), 2400.0, np.linspace(3000, 4800, 31)]
    i = np.r_[np.ones(31), 0.0, np.ones(31)]
    v = np.r_[np.linspace(3.5, 3.8, 31), 3.7, np.linspace(3.75, 4.0, 31)]

    curve = compute_curves(_frame(t, i, v))

    assert len(curve) == 62 and (curve["direction"] == "charge").all()
    assert curve["capacity_ah"].iloc[30] == pytest.approx(0.5)
    assert curve["capacity_ah"].iloc[31] == pytest.approx(0.5)  # first sample after the rest
    assert curve["capacity_ah"].iloc[-1] == pytest.approx(1.0)


def test_monotone_envelope_by_hand() -> None:
    # forward running max [0, 2, 2, 3, 3, 5], backward running min [0, 1, 1, 2, 2, 5]: the mean
    envelope = monotone_envelope(np.array([0.0, 2.0, 1.0, 3.0, 2.0, 5.0]))

    assert envelope.tolist() == [0.0, 1.5, 1.5, 2.5, 2.5, 5.0]


def test_monotone_envelope_is_not_lifted_by_symmetric_noise() -> None:
    # a 1 mV/sample ramp with ±3 mV alternating noise: a running max alone sits 3 mV high on the even samples
    # and 2 mV on the odd ones; the backward running min as far below, so their mean is within ±0.5 mV
    ramp = np.arange(200) * 0.001
    noisy = ramp + 0.003 * (-1.0) ** np.arange(200)

    envelope = monotone_envelope(noisy)

    assert (np.diff(envelope) >= 0).all()
    assert np.mean(np.maximum.accumulate(noisy) - ramp) == pytest.approx(0.0025, rel=1e-9)
    assert np.abs(envelope - ramp).max() == pytest.approx(0.0005, rel=1e-9)
    assert np.mean(envelope - ramp) == pytest.approx(0.0, abs=1e-12)


def test_rest_current_noise_does_not_join_the_curves() -> None:
    # a 2 A charge, then a rest whose current reads ±10 µA while the voltage relaxes: below the cycle rule's
    # rest threshold (0.1 % of the largest current), so no relaxation points on either curve
    t = np.arange(20.0) * 60
    i = np.r_[np.full(10, 2.0), 1e-5 * (-1.0) ** np.arange(10)]
    v = np.r_[np.linspace(3.5, 4.0, 10), np.linspace(3.95, 3.9, 10)]

    curve = compute_curves(_frame(t, i, v))

    assert curve["direction"].tolist() == ["charge"] * 10
    assert curve["voltage_volt"].tolist() == v[:10].tolist()


def test_empty_input_gives_an_empty_frame_with_the_columns() -> None:
    curve = compute_curves(_frame([], 1.0, []))

    assert curve.empty
    assert tuple(curve.columns) == CURVE_COLUMNS


def test_rest_only_input_gives_an_empty_frame() -> None:
    curve = compute_curves(_frame(np.arange(10.0), 0.0, np.full(10, 3.3)))

    assert curve.empty and tuple(curve.columns) == CURVE_COLUMNS


@pytest.mark.parametrize(
    ("t", "v"),
    [
        pytest.param(np.arange(4.0) * 60, np.array([3.5, 3.6, 3.7, 3.8]), id="four-samples"),
        pytest.param(np.arange(100.0), np.full(100, 3.7), id="flat-voltage"),
    ],
)
def test_dqdv_is_nan_where_not_computable_but_the_curve_is_there(
    t: npt.NDArray[np.float64], v: npt.NDArray[np.float64]
) -> None:
    curve = compute_curves(_frame(t, 1.0, v))

    assert len(curve) == v.size
    assert curve["dqdv"].isna().all()
    assert curve["voltage_volt"].tolist() == v.tolist()


def test_unsorted_rows_give_the_same_curves() -> None:
    q = np.linspace(0.0, 1.0, 2000)
    frame = pd.concat(
        [
            _half_cycle(q, 3.0 + 0.5 * q).assign(cycle_index=1),
            _half_cycle(q, 4.0 - 0.5 * q, -1.0).assign(
                cycle_index=1, test_time_second=lambda f: f.test_time_second + 4000
            ),
            _half_cycle(q, 3.0 + 0.6 * q).assign(
                cycle_index=2, test_time_second=lambda f: f.test_time_second + 8000
            ),
        ],
        ignore_index=True,
    )

    shuffled = frame.sample(frac=1.0, random_state=7)

    pd.testing.assert_frame_equal(compute_curves(shuffled), compute_curves(frame))


def _lttb_reference(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], n_out: int) -> list[int]:
    """Steinarsson's LTTB, one series, point by point (bucket bounds with integer division)."""
    n = x.size
    if n <= n_out:
        return list(range(n))
    m = n_out - 2
    kept, a = [0], 0
    for i in range(m):
        lo, hi = i * (n - 2) // m + 1, (i + 1) * (n - 2) // m + 1
        nxt_lo, nxt_hi = hi, (i + 2) * (n - 2) // m + 1 if i + 1 < m else n
        cx, cy = x[nxt_lo:nxt_hi].mean(), y[nxt_lo:nxt_hi].mean()
        area = np.abs((x[a] - cx) * (y[lo:hi] - y[a]) - (x[a] - x[lo:hi]) * (cy - y[a]))
        a = lo + int(np.argmax(area))
        kept.append(a)
    return [*kept, n - 1]


def test_vectorised_lttb_matches_the_point_by_point_algorithm() -> None:
    rng = np.random.default_rng(3)
    sizes = [7, 10, 11, 53, 120, 1000]
    x = np.concatenate([np.sort(rng.random(n)) for n in sizes])
    y = rng.random(x.size)
    starts = np.cumsum([0, *sizes[:-1]])

    keep = lttb_keep(x, y, starts, 10)

    expected = np.concatenate(
        [
            s + np.array(_lttb_reference(x[s : s + n], y[s : s + n], 10))
            for s, n in zip(starts, sizes, strict=True)
        ]
    )
    assert np.flatnonzero(keep).tolist() == expected.tolist()


def test_savgol_derivative_matches_scipy() -> None:
    signal = pytest.importorskip("scipy.signal")
    values = np.cumsum(np.random.default_rng(5).random(300))

    ours = savgol_derivative(values, DQDV_WINDOW_POINTS, DQDV_POLYORDER)

    theirs = signal.savgol_filter(values, DQDV_WINDOW_POINTS, DQDV_POLYORDER, deriv=1, mode="interp")
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_too_few_points_are_refused() -> None:
    with pytest.raises(ValueError, match="max_points"):
        compute_curves(_frame([0, 1], 1.0, [3.0, 3.1]), max_points=2)


def test_maccor_discharge_curve_ends_at_the_cycles_discharge_capacity() -> None:
    """cellpy's maccor_001.txt, cycle 2: CC-CV charge, rest, 0.5 A discharge to 2.5 V, rest.

    cycle_stats counts the two intervals between rest and discharge as half trapezoids, (0 + 0.5 A)/2 × Δt,
    while the curve counts only intervals with both ends discharging: a few tenths of a second each at the
    step changes (the instrument logs a sample right at each), far below 0.5 % of 4.5 Ah."""
    frame = registry.read(DATA / "maccor" / "maccor_001.txt").frame
    counter = frame["cycle_count"].to_numpy(dtype=float, na_value=np.nan)
    samples = frame.assign(cycle_index=assign_cycles(frame["current_ampere"].to_numpy(), counter).cycle_index)
    stats = compute_cycle_stats(samples).set_index("cycle_index")

    curve = compute_curves(samples)

    second = curve[curve["cycle_index"] == 2]
    discharge = second[second["direction"] == "discharge"]
    expected = stats.loc[2, "discharge_capacity_ah"]
    assert discharge["capacity_ah"].iloc[-1] == pytest.approx(expected, rel=5e-3)
    # and only ever less, by the transition intervals: 5 µAh of 4.544 Ah here
    assert 0 <= expected - discharge["capacity_ah"].iloc[-1] < 1e-4 * expected
    assert curve.groupby(["cycle_index", "direction"]).size().max() <= 500
    # the CV hold sits at 4.2 V: the charge curve's dQ/dV stays finite there (the grid stops short of it)
    charge = second[second["direction"] == "charge"]
    assert np.isfinite(charge["dqdv"]).all() and charge["dqdv"].max() < 100


def test_a_cycles_curves_do_not_depend_on_the_cycles_computed_with_it() -> None:
    """The rest threshold is per cycle: a file streamed in chunks and a cell recomputed in batches of whole
    cycles give the same rows (a cycle with a 100× smaller current beside a large one is the hard case)."""
    t = np.arange(40, dtype=float) * 60.0
    current = np.r_[np.full(10, 5.0), np.full(10, -5.0), np.full(10, 0.05), np.full(10, -0.05)]
    current[[5, 25]] = [0.001, 0.0001]  # rest in cycle 1 (0.02 % of 5 A), moving in cycle 2 (0.2 % of 0.05 A)
    frame = pd.DataFrame(
        {
            "cycle_index": np.repeat([1, 2], 20),
            "test_time_second": t,
            "current_ampere": current,
            "voltage_volt": 3.5 + 0.001 * np.arange(40),
        }
    )

    together = compute_curves(frame)
    apart = pd.concat([compute_curves(frame[frame["cycle_index"] == c]) for c in (1, 2)], ignore_index=True)

    pd.testing.assert_frame_equal(together, apart)
    assert len(together[together["cycle_index"] == 2]) == 20
