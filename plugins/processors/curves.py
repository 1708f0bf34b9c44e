"""Downsampled voltage–capacity curves and incremental capacity per half-cycle (docs/design.md §4,
table ``curve``).

Conventions
-----------
- A *half-cycle* is every charging (or every discharging) sample of one cycle, in time order. Charge is
  current > 0, discharge current < 0, and rest is left out; "rest" uses the cycle rule's fraction
  (`processors.cycles.REST_FRACTION`) of the *cycle's* largest |current|, so that rest-current noise (±µA
  on some instruments) does not graft the relaxation onto a curve, and a cycle's curves are the same
  whichever other cycles are computed with it (a file streamed in chunks, a cell recomputed in batches).
- ``capacity_ah`` is the charge moved since the half-cycle's first sample (so it starts at 0 and never
  decreases, for both directions): the trapezoid rule on |I| over pairs of *consecutive* samples that both
  belong to the half-cycle. An interval with a rest (or the other direction) at one end is not counted:
  that is the difference from ``cycle_stats`` (docs/design.md §5), which splits such an interval's trapezoid
  between the two sides. A cycle with several separate charge segments (a charge interrupted by a rest,
  pulse trains) has one charge curve whose capacity keeps accumulating across the segments and holds
  still across the gaps between them: it is the cycle's charge throughput, what the dashboards plot
  against voltage, and its last value is comparable with the cycle's charge capacity.
- Samples without a voltage move charge (they count in the capacity) but are not curve points.

Downsampling: Largest-Triangle-Three-Buckets (Steinarsson, 2013) on (capacity, voltage), both normalised
to [0, 1] within the half-cycle so that neither unit dominates the triangle areas. LTTB keeps the first
and last samples and one sample per bucket: the one forming the largest triangle with the sample kept in
the bucket before and the mean of the bucket after, which is how knees, steps and the CC→CV corner
survive while a uniform stride would step over them. It keeps real samples (no averaging, so every kept
voltage was measured) and gives exactly `max_points` points whenever there are more. Douglas–Peucker
would need a tolerance and gives no bound on the count; min/max per bucket ignores the capacity axis.
LTTB is sequential within a half-cycle (each choice depends on the previous one), so it runs bucket by
bucket across *all* half-cycles at once: a Python loop over at most ``max_points − 2`` bucket indices,
never over rows or over half-cycles.

Incremental capacity dQ/dV (Ah/V), from the full-resolution half-cycle, not the kept points:

1. Monotone voltage, so that Q(V) is a function. In the direction the curve runs (u = V for charge, −V
   for discharge), `monotone_envelope`: the mean of the running max of u from the start and the running
   min of u from the end. Both are monotone, so their mean is, and noise reversals vanish. The running max
   alone (the running min for discharge) takes every noise peak for the voltage reached, a bias of about
   the noise amplitude; the backward running min errs the other way by as much, so the mean is nearly
   unbiased (on a logistic plateau with 0.2–3 mV of noise: 20–40 % less dQ/dV error than the running max
   alone). Q(V) is read at the samples where the envelope rises.
2. Q is interpolated linearly onto a uniform voltage grid of `DQDV_GRID_STEP_V`, from the first voltage to
   `DQDV_END_MARGIN_V` short of the last one. A constant-voltage hold adds capacity at one voltage (dQ/dV
   infinite in theory); its regulation noise (±0.1 mV on Maccor) sets new records at the top with much
   capacity behind them, and the margin keeps that jump out of the grid. So dQ/dV describes the
   constant-current part.
3. Savitzky–Golay differentiation on the grid: a cubic (`DQDV_POLYORDER`) least-squares fit over a
   `DQDV_WINDOW_V` window, evaluated as a derivative; the first and last half-windows use the fit of the
   edge window (scipy's ``mode="interp"``). Implemented with numpy on purpose, and checked against
   ``scipy.signal.savgol_filter`` in the tests: importing ``scipy.signal`` loads ``scipy.stats`` in full,
   which measured +0.5–1 s and +60 MB in every ingest process (ADR 0004 keeps ``scipy.stats`` lazy).
4. Interpolated back at each kept point's own voltage; points beyond the grid (a CV hold, a reading below
   the first one) take the value at the nearest end.

dQ/dV is positive for both directions: it is the derivative of the capacity along the curve, against
the voltage measured in the direction the curve runs (up for charge, down for discharge). It is NaN for
every point of a half-cycle with fewer than `DQDV_MIN_POINTS` samples or less than `DQDV_MIN_POINTS` grid
points of voltage span (a flat or nearly flat voltage). It is not clipped at zero: the fit's ringing
next to a sharp step is visible rather than hidden.

Cycles are independent, so a cell processed in batches of whole cycles gives the same rows, apart from
the rest threshold, which follows the batch's largest current.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import pandas as pd

from processors.cycles import REST_FRACTION, SECONDS_PER_HOUR, in_cycle_order

CURVE_COLUMNS: tuple[str, ...] = ("cycle_index", "direction", "point", "capacity_ah", "voltage_volt", "dqdv")
#: Labels of the ``direction`` column, by direction code (0 = charge, 1 = discharge): also the row order.
DIRECTIONS: tuple[str, str] = ("charge", "discharge")
#: docs/design.md §4: at most this many points per half-cycle, enough for a dashboard line at full width.
DEFAULT_MAX_POINTS = 500
#: LTTB needs the first point, the last point and at least one bucket.
MIN_MAX_POINTS = 3

#: 1 mV: finer than any feature worth reading (graphite and NMC peaks are 10–100 mV wide), coarser than
#: the instruments' resolution (~0.1 mV), so quantisation steps are bridged by the interpolation.
DQDV_GRID_STEP_V = 0.001
#: 21 mV (21 grid points): wide enough to average over a few samples of a file logged every 5 mV (Maccor's
#: usual ΔV trigger), narrow enough that a cubic fit keeps a peak 35 mV wide at half height within 0.3 % of
#: its height (18 mV wide: 2.5 %).
DQDV_WINDOW_V = 0.021
#: Cubic: the derivative follows a peak's curvature (a quadratic fit's slope is a plain moving regression).
DQDV_POLYORDER = 3
#: Fewer samples, or fewer grid points of voltage span, than this: no dQ/dV (NaN).
DQDV_MIN_POINTS = 5
#: The grid stops this far short of the last (charge: highest) voltage: keeps a CV hold's noise out.
DQDV_END_MARGIN_V = 0.002

DQDV_WINDOW_POINTS = round(DQDV_WINDOW_V / DQDV_GRID_STEP_V) | 1  # Savitzky–Golay needs an odd window


def compute_curves(samples: pd.DataFrame, *, max_points: int = DEFAULT_MAX_POINTS) -> pd.DataFrame:
    """The ``curve`` rows (without ``cell_id``) of one cell's samples: columns `CURVE_COLUMNS`, ordered by
    cycle, direction (charge first) and point.

    `samples` has ``cycle_index, test_time_second, current_ampere, voltage_volt``; rows in (cycle, time)
    order are used as they are, others are sorted first. The module docstring gives the conventions."""
    if max_points < MIN_MAX_POINTS:
        raise ValueError(f"max_points must be at least {MIN_MAX_POINTS}, got {max_points}")
    cycle = samples["cycle_index"].to_numpy(dtype=np.int64)
    if cycle.size == 0:
        return _empty_curves()
    t = samples["test_time_second"].to_numpy(dtype=np.float64)
    current = samples["current_ampere"].to_numpy(dtype=np.float64, na_value=np.nan)
    voltage = samples["voltage_volt"].to_numpy(dtype=np.float64, na_value=np.nan)
    if not in_cycle_order(cycle, t):
        order = np.lexsort((t, cycle))  # stable: equal times keep their row order
        cycle, t, current, voltage = cycle[order], t[order], current[order], voltage[order]

    # Rows of each half-cycle together, charge before discharge within a cycle, time order kept (a stable
    # sort; timsort on keys that are already runs, as streamed files give, is close to linear).
    cycle_starts = _run_starts(cycle)
    peak = np.fmax.reduceat(np.abs(current), cycle_starts)[_run_codes(cycle_starts, cycle.size)]
    threshold = np.maximum(np.nan_to_num(peak) * REST_FRACTION, 1e-9)
    direction = np.where(current > threshold, 1, np.where(current < -threshold, -1, 0))
    moving = np.flatnonzero(direction != 0)
    if moving.size == 0:
        return _empty_curves()
    half_key = cycle[moving] * 2 + (direction[moving] < 0)
    order = np.argsort(half_key, kind="stable")
    rows, half_key = moving[order], half_key[order]

    # Capacity: only pairs of rows adjacent in time and in the same half-cycle move charge along its curve.
    magnitude = np.abs(current[rows])
    adjacent = (np.diff(rows) == 1) & (half_key[1:] == half_key[:-1])
    step_ah = np.diff(t[rows]) * (magnitude[1:] + magnitude[:-1]) * (0.5 / SECONDS_PER_HOUR)
    running_ah = np.concatenate(([0.0], np.cumsum(np.where(adjacent & np.isfinite(step_ah), step_ah, 0.0))))
    half_starts = _run_starts(half_key)
    capacity_ah = running_ah - running_ah[half_starts][_run_codes(half_starts, half_key.size)]

    on_curve = np.isfinite(voltage[rows])
    rows, half_key, capacity_ah = rows[on_curve], half_key[on_curve], capacity_ah[on_curve]
    if rows.size == 0:
        return _empty_curves()
    curve_voltage = voltage[rows]
    starts = _run_starts(half_key)
    code = _run_codes(starts, rows.size)

    keep = lttb_keep(*_normalised(capacity_ah, curve_voltage, starts, code), starts, max_points)
    kept = np.flatnonzero(keep)
    kept_starts = np.searchsorted(kept, starts)
    kept_ends = np.append(kept_starts[1:], kept.size)
    ends = np.append(starts[1:], rows.size)
    sign = np.where(half_key[starts] % 2 == 0, 1.0, -1.0)

    dqdv = np.full(kept.size, np.nan)
    for h in range(starts.size):  # one pass per half-cycle: ≈ 2 × cycles, each a few vector operations
        lo, hi = starts[h], ends[h]
        at = kept[kept_starts[h] : kept_ends[h]]
        dqdv[kept_starts[h] : kept_ends[h]] = incremental_capacity(
            capacity_ah[lo:hi], curve_voltage[lo:hi], float(sign[h]), curve_voltage[at]
        )

    kept_code = code[kept]
    return _curve_frame(
        cycle[rows[kept]],
        (half_key[kept] % 2).astype(np.int64),
        np.arange(kept.size, dtype=np.int64) - kept_starts[kept_code],
        capacity_ah[kept],
        curve_voltage[kept],
        dqdv,
    )


def lttb_keep(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    max_points: int,
) -> npt.NDArray[np.bool_]:
    """Which points Largest-Triangle-Three-Buckets keeps, for many series laid end to end.

    Series h runs from ``starts[h]`` to the next start (the last to the end); a series of at most
    `max_points` is kept whole. A longer one of n points keeps its first and last points and one point
    in each of ``m = max_points − 2`` buckets; bucket i holds local points ``⌊i(n−2)/m⌋+1 …
    ⌊(i+1)(n−2)/m⌋`` (integer arithmetic: the bounds do not depend on floating-point rounding). Ties go
    to the earlier point. x and y must be finite and should be scaled alike (see `compute_curves`)."""
    if max_points < MIN_MAX_POINTS:
        raise ValueError(f"max_points must be at least {MIN_MAX_POINTS}, got {max_points}")
    n_total = x.size
    sizes = np.diff(np.append(starts, n_total))
    long = sizes > max_points
    keep = np.repeat(~long, sizes)
    if not long.any():
        return keep
    first, size = starts[long], sizes[long]
    last = first + size - 1
    keep[first] = keep[last] = True
    n_series, n_buckets = first.size, max_points - 2

    # Every inner point of the long series: its series h, local index j (1..n−2) and bucket.
    inner = size - 2
    series = np.repeat(np.arange(n_series), inner)
    j = np.arange(int(inner.sum()), dtype=np.int64) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    span = inner[series]
    bucket = (j * n_buckets - 1) // span
    bucket_first_j = (bucket * span) // n_buckets + 1

    # Lay the points out bucket-major (bucket, series, j), so that one bucket of every series is one slice.
    slot = bucket * n_series + series
    counts = np.bincount(slot, minlength=n_buckets * n_series)
    offsets = np.cumsum(counts) - counts
    position = offsets[slot] + (j - bucket_first_j)
    point_of = first[series] + j
    point = np.empty(position.size, dtype=np.int64)
    point[position] = point_of
    series_of = np.empty(position.size, dtype=np.int64)
    series_of[position] = series

    # The third corner of each triangle: the mean of the next bucket (after the last bucket: the last point).
    per_bucket = counts.reshape(n_buckets, n_series)  # every bucket holds ≥ 1 point: n − 2 ≥ m

    def next_bucket_mean(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        sums = np.bincount(slot, weights=values[point_of], minlength=counts.size).reshape(per_bucket.shape)
        return np.vstack((sums / per_bucket, values[last]))

    mean_x, mean_y = next_bucket_mean(x), next_bucket_mean(y)

    ax, ay = x[first], y[first]
    bounds = np.append(offsets[::n_series], position.size)
    for i in range(n_buckets):
        lo, hi = bounds[i], bounds[i + 1]
        candidate, h = point[lo:hi], series_of[lo:hi]
        px, py = x[candidate], y[candidate]
        cx, cy = mean_x[i + 1], mean_y[i + 1]
        area = np.abs((ax[h] - cx[h]) * (py - ay[h]) - (ax[h] - px) * (cy[h] - ay[h]))
        best = np.maximum.reduceat(area, offsets[i * n_series : (i + 1) * n_series] - lo)
        winner = np.flatnonzero(area >= best[h])
        winner = winner[np.concatenate(([True], h[winner[1:]] != h[winner[:-1]]))]  # first per series
        chosen = candidate[winner]
        keep[chosen] = True
        ax, ay = x[chosen], y[chosen]
    return keep


def incremental_capacity(
    capacity_ah: npt.NDArray[np.float64],
    voltage_volt: npt.NDArray[np.float64],
    sign: float,
    at_voltage_volt: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """dQ/dV (Ah/V, positive) of one half-cycle at the voltages asked, by the module docstring's method.

    `capacity_ah`, `voltage_volt`: the full-resolution half-cycle in time order; `sign`: +1 for charge
    (voltage rises), −1 for discharge (voltage falls)."""
    out = np.full(at_voltage_volt.shape, np.nan)
    if capacity_ah.size < DQDV_MIN_POINTS:
        return out
    envelope = monotone_envelope(sign * voltage_volt)  # u = ±V: rising for both directions
    record = np.flatnonzero(np.diff(envelope, prepend=-np.inf) > 0)
    low, high = envelope[0], envelope[-1] - DQDV_END_MARGIN_V
    n_grid = int(np.floor((high - low) / DQDV_GRID_STEP_V + 1e-9)) + 1 if high > low else 0
    if n_grid < DQDV_MIN_POINTS:
        return out
    grid = low + DQDV_GRID_STEP_V * np.arange(n_grid)
    capacity_on_grid = np.interp(grid, envelope[record], capacity_ah[record])
    window = min(DQDV_WINDOW_POINTS, n_grid if n_grid % 2 else n_grid - 1)
    slope = savgol_derivative(capacity_on_grid, window, DQDV_POLYORDER) / DQDV_GRID_STEP_V
    return np.interp(sign * at_voltage_volt, grid, slope)


def monotone_envelope(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A non-decreasing version of noisy, mostly rising `values`: the mean of their running max from the
    start and their running min from the end (each biased by the noise, in opposite directions)."""
    forward_max = np.maximum.accumulate(values)
    backward_min = np.minimum.accumulate(values[::-1])[::-1]
    envelope: npt.NDArray[np.float64] = 0.5 * (forward_max + backward_min)
    return envelope


def savgol_derivative(
    values: npt.NDArray[np.float64], window: int, polyorder: int
) -> npt.NDArray[np.float64]:
    """First derivative per sample step of evenly spaced `values` by Savitzky–Golay: each point takes the
    slope of the least-squares polynomial over the `window` (odd, ≤ values.size, > polyorder) centred on
    it; the first and last ``window // 2`` points use the edge window's polynomial. Equal to
    ``scipy.signal.savgol_filter(values, window, polyorder, deriv=1, mode="interp")``."""
    weights = _savgol_derivative_weights(window, polyorder)
    half = window // 2
    out = np.empty(values.size)
    out[half : values.size - half] = np.correlate(values, weights[half], mode="valid")
    out[:half] = weights[:half] @ values[:window]
    out[values.size - half :] = weights[half + 1 :] @ values[values.size - window :]
    return out


@functools.cache
def _savgol_derivative_weights(window: int, polyorder: int) -> npt.NDArray[np.float64]:
    """Row k: the weights that give, from a window's values, the slope at its k-th position of the window's
    least-squares polynomial (row ``window // 2``, the centre, is the usual Savitzky–Golay kernel)."""
    offset = np.arange(window, dtype=np.float64) - window // 2
    fit = np.linalg.pinv(np.vander(offset, polyorder + 1, increasing=True))  # coefficients from values
    power = np.arange(1, polyorder + 1)
    slope_of_coefficients = np.zeros((window, polyorder + 1))
    slope_of_coefficients[:, 1:] = power * offset[:, None] ** (power - 1)
    weights: npt.NDArray[np.float64] = slope_of_coefficients @ fit
    weights.flags.writeable = False  # cached and shared
    return weights


def _normalised(
    capacity_ah: npt.NDArray[np.float64],
    voltage_volt: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    code: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Both axes on [0, 1] within each half-cycle (a flat axis stays at 0): one volt and one ampere-hour
    are not comparable, and a 0.2 Ah half-cycle must be downsampled like a 5 Ah one."""
    q_low, q_high = np.minimum.reduceat(capacity_ah, starts), np.maximum.reduceat(capacity_ah, starts)
    v_low, v_high = np.minimum.reduceat(voltage_volt, starts), np.maximum.reduceat(voltage_volt, starts)
    q_span = np.where(q_high > q_low, q_high - q_low, 1.0)
    v_span = np.where(v_high > v_low, v_high - v_low, 1.0)
    return (capacity_ah - q_low[code]) / q_span[code], (voltage_volt - v_low[code]) / v_span[code]


def _run_starts(key: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))


def _run_codes(starts: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    return np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))


def _curve_frame(
    cycle_index: npt.NDArray[np.int64],
    direction_code: npt.NDArray[np.int64],
    point: npt.NDArray[np.int64],
    capacity_ah: npt.NDArray[np.float64],
    voltage_volt: npt.NDArray[np.float64],
    dqdv: npt.NDArray[np.float64],
) -> pd.DataFrame:
    columns = (cycle_index, np.asarray(DIRECTIONS)[direction_code], point, capacity_ah, voltage_volt, dqdv)
    return pd.DataFrame(dict(zip(CURVE_COLUMNS, columns, strict=True)))


def _empty_curves() -> pd.DataFrame:
    no_int, no_float = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return _curve_frame(no_int, no_int, no_int, no_float, no_float, no_float)
