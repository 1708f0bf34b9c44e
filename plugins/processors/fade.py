"""Fade-curve figures that need a fit or a robust filter rather than a query: the knee onset, and the
coulombic-inefficiency trend.

The trend of 1 − CE is a centred moving *median* over `CE_WINDOW` complete cycles (fewer at the ends): a
mean would let one formation cycle (CE 14 when a test starts charged) or a cycle after a long rest drag
its neighbours for `CE_WINDOW` cycles; a median ignores such single cycles and follows the drift.

The knee is where fade accelerates after a slow, near-linear phase. We fit retention against cycle number
with a continuous two-segment line, y = a + b·x + c·max(0, x − x₀), by least squares for every candidate
break x₀, and keep the x₀ with the smallest residual: the limit of the Bacon–Watts model (Fermín-Cueto et
al., 2020) as its transition width goes to zero, with no smoothing parameter to choose. A knee is reported
only when it is one:

- the slope after the break is steeper (more negative) than before, by at least `KNEE_SLOPE_RATIO`;
- each segment rests on at least `KNEE_MIN_SEGMENT` cycles;
- the two-segment fit removes at least `KNEE_MIN_GAIN` of the single line's residual.

A cell still in its linear phase, or one whose fade slows down, has no knee (None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

KNEE_SLOPE_RATIO = 1.5
KNEE_MIN_SEGMENT = 10
KNEE_MIN_GAIN = 0.25
#: Candidate breaks tried at most (evenly spread over the cycles): keeps a 10,000-cycle cell fast.
KNEE_MAX_CANDIDATES = 400


@dataclass(frozen=True)
class Knee:
    cycle: int
    retention: float  # of the fitted line at the break
    slope_before: float  # retention per cycle
    slope_after: float


def _residual(design: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.sum((y - design @ coef) ** 2))


def knee_onset(cycles: npt.ArrayLike, retention: npt.ArrayLike) -> Knee | None:
    """The knee of a fade curve (complete cycles only, any order), or None (module docstring)."""
    x = np.asarray(cycles, dtype=np.float64)
    y = np.asarray(retention, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if x.size < 2 * KNEE_MIN_SEGMENT + 1:
        return None
    ones = np.ones_like(x)
    line = np.column_stack([ones, x])
    single = _residual(line, y)
    candidates = x[KNEE_MIN_SEGMENT : x.size - KNEE_MIN_SEGMENT]
    if candidates.size > KNEE_MAX_CANDIDATES:
        candidates = candidates[np.linspace(0, candidates.size - 1, KNEE_MAX_CANDIDATES).astype(int)]
    best: tuple[float, float, npt.NDArray[np.float64]] | None = None
    for x0 in np.unique(candidates):
        design = np.column_stack([ones, x, np.maximum(0.0, x - x0)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        residual = float(np.sum((y - design @ coef) ** 2))
        if best is None or residual < best[0]:
            best = (residual, float(x0), coef)
    if best is None:
        return None
    residual, x0, (a, b, c) = best
    before, after = float(b), float(b + c)
    steeper = after < 0 and after < KNEE_SLOPE_RATIO * min(before, 0.0)
    gain = 1.0 - residual / single if single > 0 else 0.0
    if not steeper or gain < KNEE_MIN_GAIN:
        return None
    return Knee(cycle=round(x0), retention=float(a + b * x0), slope_before=before, slope_after=after)


CE_WINDOW = 9


def moving_median(values: npt.ArrayLike, window: int = CE_WINDOW) -> npt.NDArray[np.float64]:
    """Centred moving median of a series (odd `window`; the ends use the values that exist)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x
    half = window // 2
    padded = np.concatenate((np.full(half, np.nan), x, np.full(half, np.nan)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    with np.errstate(all="ignore"):
        return np.nanmedian(windows, axis=1)
