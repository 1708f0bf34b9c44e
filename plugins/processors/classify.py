"""What kind of cycle each cycle is, and which cycles count towards fade (docs/design.md §6, docs/adr/0009).

Real protocols interleave cycles of different kinds: slow capacity checks, HPPC pulse trains and rate tests
between fast ageing cycles, formation cycles at the start. Retention computed across them swings between
40 % and 500 %. Every cycle of a cell gets one class, judged from its own figures (processors/cycle_stats.py:
currents, durations, segments, end voltages) and the cell's other cycles:

- ``rest``: no charge or discharge segment at all.
- ``partial``: not complete: a charge or a discharge missing, the instrument stopped it, a hole in its
  samples, the file ended mid-step, cut short (below), or an implausible capacity (below).
- ``hppc``: a complete cycle of at least `HPPC_MIN_SEGMENTS` charge/discharge segments (a plain cycle has
  two, three with a top-up): pulse trains (HPPC, GITT), or several cycles under one counter value; not
  comparable with single cycles.
- The other complete cycles are grouped into rate levels by their median discharge current (within
  `RATE_TOLERANCE` of each other). The level with most cycles is the cell's ``ageing`` rate (ties: the one
  that runs latest). Cycles slower than it: the slowest such level, when it recurs after ageing began, is
  the ``reference`` check (a diagnostic protocol's capacity check, the reference-performance test); other
  slower or faster levels are ``rate`` tests. Cycles before the first ageing cycle that are not at the
  ageing rate, and the first `formation_cycles` of the metadata, are ``formation``.

Fade follows one series at a time: the ageing cycles (the cell's fade curve, its reference capacity,
retention, cycles to 80 %, projections) and the reference checks as a fade curve of their own.

Two checks can take a complete cycle out of the fade:

- **Cut short**: a cycle whose discharge (charge) ended `CUT_SHORT_VOLTAGE_V` above (below) where the same
  kind of cycle ended in the `CUT_SHORT_LOOKBACK` cycles before it (the first cycles of a kind, and a kind
  of two cycles: where all its other cycles ended), and lasted less than `CUT_SHORT_DURATION_RATIO` of
  theirs, did not reach its cut-off: the test was stopped (or resumed) inside that step, or the step only
  set a state of charge. Ageing alone shortens a discharge slowly and keeps its end voltage at the cut-off.
  The rate levels are then judged again without the cycles cut short.
- **Implausible capacity**: a charge or discharge above `IMPLAUSIBLE_FACTOR` × the cell's nominal capacity
  (else × the median discharge of its complete cycles) is a measurement artefact, never a reference.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

CLASSES = ("formation", "reference", "hppc", "rate", "ageing", "rest", "partial")
#: Series that have a fade curve of their own.
FADE_SERIES = ("ageing", "reference")

HPPC_MIN_SEGMENTS = 4
RATE_TOLERANCE = 1.25
CUT_SHORT_LOOKBACK = 5
CUT_SHORT_DURATION_RATIO = 0.9
CUT_SHORT_VOLTAGE_V = 0.05
IMPLAUSIBLE_FACTOR = 3.0

FLAG_CUT_SHORT = "cut_short"
FLAG_IMPLAUSIBLE = "capacity_implausible"

#: What classify_cycles reads of each cycle (the cycle_stats columns of the same names).
FEATURES = (
    "cycle_index",
    "complete",
    "flags",
    "charge_capacity_ah",
    "discharge_capacity_ah",
    "discharge_current_median_a",
    "charge_duration_second",
    "discharge_duration_second",
    "charge_end_voltage_v",
    "discharge_end_voltage_v",
    "segments",
)


def rate_levels(rates: npt.NDArray[np.float64], tolerance: float = RATE_TOLERANCE) -> npt.NDArray[np.int64]:
    """Level number per rate (0 = slowest): sorted rates start a new level when they exceed the level's
    first rate by more than `tolerance`. NaN or non-positive rates get −1."""
    levels = np.full(rates.size, -1, dtype=np.int64)
    valid = np.flatnonzero(np.isfinite(rates) & (rates > 0))
    if valid.size == 0:
        return levels
    order = valid[np.argsort(rates[valid], kind="stable")]
    level, start = 0, rates[order[0]]
    for position in order:
        if rates[position] > start * tolerance:
            level, start = level + 1, rates[position]
        levels[position] = level
    return levels


def classify_cycles(
    cycles: pd.DataFrame, *, nominal_capacity_ah: float | None = None, formation_cycles: int = 0
) -> pd.DataFrame:
    """``cycle_index, cycle_class, complete, flags`` for a cell's cycles (`FEATURES`, any order); the
    module docstring says how. `complete` only ever turns false here, and `flags` gains the reason."""
    frame = cycles.sort_values("cycle_index", kind="stable").reset_index(drop=True)
    n = len(frame)
    complete = frame["complete"].to_numpy(dtype=bool).copy()
    flags = [
        [f for f in str(value).split(";") if f] if isinstance(value, str) else [] for value in frame["flags"]
    ]
    charge = frame["charge_capacity_ah"].to_numpy(dtype=np.float64, na_value=np.nan)
    discharge = frame["discharge_capacity_ah"].to_numpy(dtype=np.float64, na_value=np.nan)

    basis = nominal_capacity_ah if nominal_capacity_ah and nominal_capacity_ah > 0 else None
    if basis is None and complete.any():
        basis = float(np.nanmedian(discharge[complete])) or None
    if basis is not None:
        implausible = complete & (np.fmax(charge, discharge) > IMPLAUSIBLE_FACTOR * basis)
        for position in np.flatnonzero(implausible):
            flags[position].append(FLAG_IMPLAUSIBLE)
        complete &= ~implausible

    segments = frame["segments"].to_numpy(dtype=np.float64, na_value=np.nan)
    classes = np.full(n, "partial", dtype=object)
    classes[np.nan_to_num(segments) == 0] = "rest"
    classes[complete & (segments >= HPPC_MIN_SEGMENTS)] = "hppc"
    plain = complete & ~(segments >= HPPC_MIN_SEGMENTS)
    _classify_plain(frame, classes, plain)

    cut = _cut_short(frame, classes, complete)
    for position in np.flatnonzero(cut):
        flags[position].append(FLAG_CUT_SHORT)
    complete &= ~cut
    classes[cut] = "partial"
    if cut.any():  # the rate levels are judged again without the cycles that never reached a cut-off
        plain &= ~cut
        classes[plain] = "partial"
        _classify_plain(frame, classes, plain)
    index = frame["cycle_index"].to_numpy(dtype=np.int64)
    if formation_cycles > 0:
        classes[(index <= formation_cycles) & complete] = "formation"
    return pd.DataFrame(
        {
            "cycle_index": index,
            "cycle_class": classes.astype(str),
            "complete": complete,
            "flags": pd.Series([";".join(dict.fromkeys(f)) if f else None for f in flags], dtype=object),
        }
    )


def _classify_plain(
    frame: pd.DataFrame, classes: npt.NDArray[np.object_], plain: npt.NDArray[np.bool_]
) -> None:
    """Ageing, reference, rate and formation among the complete cycles that are not pulse trains."""
    rates = frame["discharge_current_median_a"].to_numpy(dtype=np.float64, na_value=np.nan)
    index = frame["cycle_index"].to_numpy(dtype=np.int64)
    levels = np.full(rates.size, -1, dtype=np.int64)
    levels[plain] = rate_levels(rates[plain])
    known = plain & (levels >= 0)
    if not known.any():
        return
    counted = np.bincount(levels[known])
    latest = np.zeros(counted.size, dtype=np.int64)
    np.maximum.at(latest, levels[known], index[known])
    ageing_level = max(range(counted.size), key=lambda level: (counted[level], latest[level]))
    ageing = known & (levels == ageing_level)
    first_ageing = int(index[ageing].min())
    classes[known] = "rate"
    classes[ageing] = "ageing"
    classes[known & ~ageing & (index < first_ageing)] = "formation"
    later_slow = known & (levels < ageing_level) & (index > first_ageing)
    if later_slow.any():
        slowest = int(levels[later_slow].min())
        checks = later_slow & (levels == slowest)
        if np.count_nonzero(checks) >= 2:
            classes[checks] = "reference"


def _cut_short(
    frame: pd.DataFrame, classes: npt.NDArray[np.object_], complete: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Complete cycles that stopped inside a step, against the same class's other complete cycles: the
    median of the `CUT_SHORT_LOOKBACK` before each when there are at least two, else the median of all the
    others (so that a class of two cycles, or the first cycles of a class, are judged too)."""
    cut = np.zeros(len(frame), dtype=bool)
    for cycle_class in set(classes[complete]) - {"hppc", "rest", "partial"}:
        members = np.flatnonzero(complete & (classes == cycle_class))
        if members.size < 2:
            continue
        rows = frame.iloc[members]
        for side, sign in (("discharge", 1.0), ("charge", -1.0)):
            end = rows[f"{side}_end_voltage_v"].astype(np.float64).reset_index(drop=True)
            duration = rows[f"{side}_duration_second"].astype(np.float64).reset_index(drop=True)
            typical_end = _typical(end)
            typical_duration = _typical(duration)
            stopped_early = (sign * (end - typical_end) > CUT_SHORT_VOLTAGE_V).to_numpy()
            shorter = (duration < CUT_SHORT_DURATION_RATIO * typical_duration).to_numpy()
            cut[members[stopped_early & shorter]] = True
    return cut


def _typical(values: pd.Series) -> pd.Series:
    """Per member: the median of the `CUT_SHORT_LOOKBACK` members before it (at least two), else of all the
    other members."""
    typical = values.shift(1).rolling(CUT_SHORT_LOOKBACK, min_periods=2).median().to_numpy(copy=True)
    array = values.to_numpy(dtype=np.float64)
    for position in np.flatnonzero(np.isnan(typical)):  # the first two members only
        others = np.delete(array, position)
        if np.isfinite(others).any():
            typical[position] = np.nanmedian(others)
    return pd.Series(typical, index=values.index)
