"""Per-cycle statistics, recalculated from the samples (docs/design.md §5).

Within a cycle, samples are ordered by test time and integrated with the trapezoid rule over consecutive
samples of that cycle (the interval that crosses a cycle boundary belongs to neither cycle). Charge and
discharge are split by the sign of the current (of the power, for energy) before integrating, so a
sample pair that crosses zero contributes to each side only its own part of the trapezoid's ends.

Everything is a vectorised group reduction: no Python loop over rows or cycles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from processors.curves import compute_curves
from processors.cycles import (
    REST_FRACTION,
    SECONDS_PER_HOUR,
    CycleRule,
    assign_cycles,
    in_cycle_order,
)

PROCESSOR_VERSION = "5"
#: A per-cycle counter above this fraction of its cycle maximum at the first sample = file began mid-cycle.
MID_CYCLE_FRACTION = 0.01

#: Reported counters (instrument's own numbers) per docs/design.md §5 output name, the first present
#: wins: per cycle, test-wide, per step (a step counter is summed over the cycle's steps by
#: `reported_per_cycle`).
REPORTED_COUNTERS: dict[str, tuple[str, ...]] = {
    f"reported_{ours}": (f"cycle_{bdf}", bdf, f"step_{bdf}")
    for ours, bdf in (
        ("charge_capacity_ah", "charging_capacity_ah"),
        ("discharge_capacity_ah", "discharging_capacity_ah"),
        ("charge_energy_wh", "charging_energy_wh"),
        ("discharge_energy_wh", "discharging_energy_wh"),
    )
}

#: A reported counter that drops by more than this share of its value has restarted (a new step or mode).
COUNTER_RESET_DROP = 0.01

#: Constant-voltage detection (docs/adr/0006): a charging sample is "at the top" when its voltage is within
#: max(CV_BAND_V, CV_BAND_FRACTION × V_top) of the cycle's highest charging voltage V_top and its current is
#: above CV_MIN_CURRENT_FRACTION of the cycle's peak charge current I_cc (not rest noise). A run of
#: consecutive samples at the top is a CV hold when its current falls below CV_CURRENT_FRACTION × I_cc
#: somewhere in the run (the taper); every interval inside such a run is CV time. A CC charge that merely
#: reaches V_top, without its current tapering, has no CV.
CV_BAND_V = 0.002
CV_BAND_FRACTION = 0.0005
CV_CURRENT_FRACTION = 0.95
CV_MIN_CURRENT_FRACTION = 1e-3
#: The cell's temperature, first present wins (ambient is the chamber's, not the cell's: not used).
TEMPERATURE_SOURCES = ("surface_temperature_celsius", "temperature_t1_celsius")

CYCLE_STATS_COLUMNS: tuple[str, ...] = (
    "cycle_index",
    "charge_capacity_ah",
    "discharge_capacity_ah",
    "charge_energy_wh",
    "discharge_energy_wh",
    "coulombic_efficiency",
    "energy_efficiency",
    "voltage_max_v",
    "voltage_min_v",
    "current_max_a",
    "current_min_a",
    "voltage_charge_mean_v",
    "voltage_discharge_mean_v",
    "voltage_charge_sample_mean_v",
    "voltage_discharge_sample_mean_v",
    "test_time_start_second",
    "test_time_end_second",
    "duration_second",
    "n_points",
    *REPORTED_COUNTERS,
    "cc_capacity_ah",
    "cv_capacity_ah",
    "cv_time_second",
    "temperature_min_celsius",
    "temperature_mean_celsius",
    "temperature_max_celsius",
    "internal_resistance_ohm",
    "charge_current_median_a",
    "discharge_current_median_a",
    "charge_duration_second",
    "discharge_duration_second",
    "charge_end_voltage_v",
    "discharge_end_voltage_v",
    "segments",
    "gap_second",
    "complete",
    "flags",
)
#: Optional sample columns compute_cycle_stats uses besides the required ones.
SAMPLE_EXTRAS: tuple[str, ...] = (
    *dict.fromkeys(name for sources in REPORTED_COUNTERS.values() for name in sources),
    *TEMPERATURE_SOURCES,
    "internal_resistance_ohm",
    "instrument_stop",
)

#: Gaps in the samples (docs/design.md §5). An interval between two samples, at least one of them with
#: current flowing, is a gap when it is longer than GAP_FACTOR × the file's median interval while current
#: flows, and longer than GAP_FLOOR_SECOND (instruments that log on a voltage change space their samples
#: minutes apart on a flat plateau or in a long CV hold; a hole of hours in the record is another thing).
#: Nothing is integrated across a gap: what flowed then is unknown. The cycle is flagged `gap`.
GAP_FACTOR = 60.0
GAP_FLOOR_SECOND = 1800.0

#: Why a cycle is not complete, beyond lacking a charge or a discharge (the `flags` column, ";"-joined).
FLAG_STOPPED = "stopped"  # the instrument recorded a stop inside the cycle (instrument_stop)
FLAG_NOT_AT_REST = "not_at_rest"  # the file ends while current still flows
FLAG_STARTED_MID_CYCLE = "started_mid_cycle"  # the counters were well above zero at the file's first sample
FLAG_GAP = "gap"  # a hole in the samples while current flowed


def _group_sum(values: npt.NDArray[np.float64], group: npt.NDArray[np.int64], n_groups: int) -> npt.NDArray:
    return np.bincount(group, weights=values, minlength=n_groups)


def _safe_ratio(numerator: npt.NDArray[np.float64], denominator: npt.NDArray[np.float64]) -> npt.NDArray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def trapezoid_by_group(
    time_second: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    group: npt.NDArray[np.int64],
    n_groups: int,
    skip: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float64]:
    """∫ values dt per group; rows sorted by (group, time); `group` holds dense codes 0..n_groups-1.
    `skip` (one per interval between consecutive rows) leaves intervals out: gaps in the samples."""
    dt = np.diff(time_second)
    area = dt * (values[1:] + values[:-1]) * 0.5
    keep = group[1:] == group[:-1]
    if skip is not None:
        keep &= ~skip
    return _group_sum(np.where(keep, area, 0.0), group[1:], n_groups)


def gap_limit_second(time_second: npt.NDArray[np.float64], current_ampere: npt.NDArray[np.float64]) -> float:
    """The longest interval between samples that is not a gap (GAP_FACTOR, GAP_FLOOR_SECOND), from these
    rows' own sampling while current flows; rows in time order within each cycle."""
    if time_second.size < 2:
        return GAP_FLOOR_SECOND
    magnitude = np.abs(np.nan_to_num(current_ampere))
    moving = magnitude > max(float(magnitude.max()) * REST_FRACTION, 1e-9)
    dt = np.diff(time_second)
    flowing = moving[1:] & moving[:-1] & (dt > 0)
    if not flowing.any():
        return GAP_FLOOR_SECOND
    return max(GAP_FLOOR_SECOND, GAP_FACTOR * float(np.median(dt[flowing])))


def _last_where(
    mask: npt.NDArray[np.bool_], values: npt.NDArray[np.float64], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Per cycle, `values` at the cycle's last row where `mask` holds (NaN where it never does)."""
    position = np.maximum.reduceat(np.where(mask, np.arange(mask.size), -1), starts)
    return np.where(position >= 0, values[np.maximum(position, 0)], np.nan)


def count_segments(
    direction: npt.NDArray[np.int8], code: npt.NDArray[np.int64], n_cycles: int
) -> npt.NDArray[np.int64]:
    """Per cycle, the runs of one current direction (rest samples between them ignored: a CC step and its
    CV hold are one run) that last at least two samples (a one-sample blip at a step change is not a
    segment). A plain cycle has 2; a pulse train (HPPC) many."""
    active = np.flatnonzero(direction != 0)
    if active.size == 0:
        return np.zeros(n_cycles, dtype=np.int64)
    d, c = direction[active], code[active]
    new = np.ones(active.size, dtype=bool)
    new[1:] = (d[1:] != d[:-1]) | (c[1:] != c[:-1])
    run = np.cumsum(new) - 1
    long_enough = np.bincount(run) >= 2
    return np.bincount(c[new][long_enough], minlength=n_cycles).astype(np.int64)


def reported_per_cycle(
    values: npt.NDArray[np.float64], code: npt.NDArray[np.int64], n_cycles: int
) -> npt.NDArray[np.float64]:
    """What an instrument's capacity or energy counter says each cycle held, whatever its reset scope.

    Rows are in (cycle, time) order; `code` numbers their cycle 0..n−1. Within a cycle the counter is cut
    into segments wherever it drops (by more than `COUNTER_RESET_DROP` of its value): a counter that
    restarts each step (Maccor ``Amp-hr`` in many procedures, Neware) or each half-cycle. The first segment
    of a cycle counts max − min (a test-wide or per-cycle counter); each later one counts its max, as it
    restarted from zero (the first logged point after a restart already holds what flowed before it).
    Empty samples (NaN: a counter written only while charging) are skipped. Cycles with no value: NaN."""
    out = np.full(n_cycles, np.nan)
    valid = ~np.isnan(values)
    if not valid.any():
        return out
    v, c = values[valid], code[valid]
    new = np.ones(v.size, dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (v[1:] < v[:-1] - np.maximum(np.abs(v[:-1]) * COUNTER_RESET_DROP, 1e-12))
    seg = np.flatnonzero(new)
    seg_max, seg_min = np.maximum.reduceat(v, seg), np.minimum.reduceat(v, seg)
    first_in_cycle = np.ones(seg.size, dtype=bool)
    first_in_cycle[1:] = c[seg[1:]] != c[seg[:-1]]
    held = np.where(first_in_cycle, seg_max - seg_min, seg_max)
    has = np.bincount(c[seg], minlength=n_cycles) > 0
    out[has] = np.bincount(c[seg], weights=held, minlength=n_cycles)[has]
    return out


def constant_voltage_split(
    t: npt.NDArray[np.float64],
    current: npt.NDArray[np.float64],
    voltage: npt.NDArray[np.float64],
    code: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    n_cycles: int,
    skip: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(CV time in s, CV capacity in Ah) per cycle, by the thresholds above; rows in (cycle, time) order;
    intervals in `skip` (gaps) count for neither."""
    charging = current > 0
    v_top = np.maximum.reduceat(np.where(charging, voltage, -np.inf), starts)[code]
    i_cc = np.maximum.reduceat(np.where(charging, current, 0.0), starts)[code]
    band = np.maximum(CV_BAND_V, CV_BAND_FRACTION * np.abs(v_top))
    with np.errstate(invalid="ignore"):
        at_top = (current > CV_MIN_CURRENT_FRACTION * i_cc) & (voltage >= v_top - band)
        tapered = current < CV_CURRENT_FRACTION * i_cc
    # Runs of consecutive at-top samples of one cycle; a run is a CV hold when any of its samples tapered.
    starts_run = at_top & ~np.concatenate(([False], at_top[:-1] & (code[1:] == code[:-1])))
    run = np.cumsum(starts_run) - 1
    held = np.bincount(run[at_top], weights=tapered[at_top], minlength=int(starts_run.sum())) > 0
    in_hold = at_top & held[np.maximum(run, 0)] if held.size else at_top
    pair = in_hold[1:] & in_hold[:-1] & (run[1:] == run[:-1])
    if skip is not None:
        pair &= ~skip
    dt = np.diff(t)
    cv_time = _group_sum(np.where(pair, dt, 0.0), code[1:], n_cycles)
    area = np.where(pair, dt * (current[1:] + current[:-1]) * 0.5, 0.0)
    return cv_time, _group_sum(area, code[1:], n_cycles) / SECONDS_PER_HOUR


def median_by_group(
    values: npt.NDArray[np.float64], code: npt.NDArray[np.int64], n_groups: int
) -> npt.NDArray[np.float64]:
    """Median of each group's finite values (NaN for a group without any), without a Python loop."""
    out = np.full(n_groups, np.nan)
    valid = np.isfinite(values)
    group, kept = code[valid], values[valid]
    order = np.lexsort((kept, group))
    group, kept = group[order], kept[order]
    counts = np.bincount(group, minlength=n_groups)
    offsets = np.cumsum(counts) - counts
    has = counts > 0
    low, high = offsets + (counts - 1) // 2, offsets + counts // 2
    out[has] = (kept[low[has]] + kept[high[has]]) * 0.5
    return out


def _temperatures(
    temperature: npt.NDArray[np.float64] | None, code: npt.NDArray[np.int64], starts: npt.NDArray[np.int64]
) -> dict[str, npt.NDArray[np.float64]]:
    n = starts.size
    if temperature is None:
        empty = np.full(n, np.nan)
        return {f"temperature_{k}_celsius": empty for k in ("min", "mean", "max")}
    finite = np.isfinite(temperature)
    counts = np.bincount(code[finite], minlength=n).astype(np.float64)
    sums = np.bincount(code[finite], weights=temperature[finite], minlength=n).astype(np.float64)
    with np.errstate(all="ignore"):  # all-NaN cycles give NaN, as SQL's min() gives NULL
        return {
            "temperature_min_celsius": np.fmin.reduceat(temperature, starts),
            "temperature_mean_celsius": _safe_ratio(sums, counts),
            "temperature_max_celsius": np.fmax.reduceat(temperature, starts),
        }


def _starts_mid_cycle(counters: dict[str, npt.NDArray[np.float64]], first_cycle_end: int) -> bool:
    for name in ("cycle_charging_capacity_ah", "cycle_discharging_capacity_ah"):
        values = counters.get(name)
        if values is None:
            continue
        values = values[:first_cycle_end]
        if values.size and np.isfinite(values[0]) and values[0] > MID_CYCLE_FRACTION * np.nanmax(values):
            return True
    return False


def compute_cycle_stats(
    samples: pd.DataFrame,
    *,
    holds_first_cycle: bool = True,
    holds_last_cycle: bool = True,
    gap_limit: float | None = None,
) -> pd.DataFrame:
    """One row per cycle from a frame with ``cycle_index, test_time_second, current_ampere, voltage_volt``
    (plus any reported counters). Rows need not be sorted. `gap_limit` (seconds): the file's, when the
    rows are only part of it (else derived from these rows, `gap_limit_second`).

    A cell too large for memory is processed in batches of whole cycles; only the batch holding the cell's
    first (last) cycle judges whether that cycle is complete.

    Rows are put in (cycle, time) order once, and every per-cycle figure is a segment reduction over that
    order (``np.add/maximum/minimum.reduceat``): no hashing group-by, no Python loop."""
    cycle = samples["cycle_index"].to_numpy(dtype=np.int64)
    if cycle.size == 0:
        return pd.DataFrame(columns=list(CYCLE_STATS_COLUMNS))
    t = samples["test_time_second"].to_numpy(dtype=np.float64)
    present = [name for name in SAMPLE_EXTRAS if name in samples]
    columns = {
        "i": samples["current_ampere"].to_numpy(dtype=np.float64),
        "v": samples["voltage_volt"].to_numpy(dtype=np.float64),
        **{name: samples[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in present},
    }
    if not in_cycle_order(cycle, t):
        order = np.lexsort((t, cycle))  # stable: equal times keep their row order
        cycle, t = cycle[order], t[order]
        columns = {name: values[order] for name, values in columns.items()}
    current, voltage = columns.pop("i"), columns.pop("v")
    temperature = next(
        (columns[s] for s in TEMPERATURE_SOURCES if s in columns and np.isfinite(columns[s]).any()), None
    )
    resistance = columns.get("internal_resistance_ohm")
    stop = columns.pop("instrument_stop", None)
    counters = columns

    starts = np.flatnonzero(np.concatenate(([True], cycle[1:] != cycle[:-1])))
    n = starts.size
    sizes = np.diff(np.append(starts, cycle.size))
    code = np.repeat(np.arange(n), sizes)
    power = voltage * current
    # Rest: below REST_FRACTION of the cycle's own largest |current| (a cycle's verdicts never depend on the
    # cycles computed with it).
    peak = np.fmax.reduceat(np.abs(current), starts)
    threshold = np.maximum(np.nan_to_num(peak) * REST_FRACTION, 1e-9)[code]
    moving_up, moving_down = current > threshold, current < -threshold
    limit = gap_limit if gap_limit is not None else gap_limit_second(t, current)
    dt = np.diff(t)
    same_cycle = code[1:] == code[:-1]
    gap = same_cycle & (dt > limit) & ((moving_up | moving_down)[1:] | (moving_up | moving_down)[:-1])

    charge_ah = trapezoid_by_group(t, np.maximum(current, 0.0), code, n, gap) / SECONDS_PER_HOUR
    discharge_ah = trapezoid_by_group(t, np.maximum(-current, 0.0), code, n, gap) / SECONDS_PER_HOUR
    charge_wh = trapezoid_by_group(t, np.maximum(power, 0.0), code, n, gap) / SECONDS_PER_HOUR
    discharge_wh = trapezoid_by_group(t, np.maximum(-power, 0.0), code, n, gap) / SECONDS_PER_HOUR
    charging, discharging = current > 0, current < 0
    charge_points = np.add.reduceat(charging, starts).astype(np.float64)
    discharge_points = np.add.reduceat(discharging, starts).astype(np.float64)

    out = pd.DataFrame(
        {
            "cycle_index": cycle[starts],
            "charge_capacity_ah": charge_ah,
            "discharge_capacity_ah": discharge_ah,
            "charge_energy_wh": charge_wh,
            "discharge_energy_wh": discharge_wh,
            "coulombic_efficiency": _safe_ratio(discharge_ah, charge_ah),
            "energy_efficiency": _safe_ratio(discharge_wh, charge_wh),
            # fmax/fmin skip NaN the way a SQL max() skips NULL.
            "voltage_max_v": np.fmax.reduceat(voltage, starts),
            "voltage_min_v": np.fmin.reduceat(voltage, starts),
            "current_max_a": np.fmax.reduceat(current, starts),
            "current_min_a": np.fmin.reduceat(current, starts),
            "voltage_charge_mean_v": _safe_ratio(charge_wh, charge_ah),
            "voltage_discharge_mean_v": _safe_ratio(discharge_wh, discharge_ah),
            "voltage_charge_sample_mean_v": _safe_ratio(
                np.add.reduceat(np.where(charging, voltage, 0.0), starts), charge_points
            ),
            "voltage_discharge_sample_mean_v": _safe_ratio(
                np.add.reduceat(np.where(discharging, voltage, 0.0), starts), discharge_points
            ),
            "test_time_start_second": np.fmin.reduceat(t, starts),
            "test_time_end_second": np.fmax.reduceat(t, starts),
            "n_points": sizes.astype(np.int64),
        }
    )
    out["duration_second"] = out["test_time_end_second"] - out["test_time_start_second"]
    cv_time, cv_ah = constant_voltage_split(t, current, voltage, code, starts, n, gap)
    out["cv_time_second"], out["cv_capacity_ah"] = cv_time, cv_ah
    out["cc_capacity_ah"] = np.maximum(charge_ah - cv_ah, 0.0)
    for name, values in _temperatures(temperature, code, starts).items():
        out[name] = values
    # The instrument's resistance readings (DCIR pulses; Arbin repeats the last one on every row): the
    # cycle's median of the positive readings.
    out["internal_resistance_ohm"] = (
        median_by_group(np.where(resistance > 0, resistance, np.nan), code, n)
        if resistance is not None
        else np.nan
    )
    for name, sources in REPORTED_COUNTERS.items():
        source = next((s for s in sources if s in counters and not np.isnan(counters[s]).all()), None)
        if source is None:
            out[name] = np.nan
            continue
        out[name] = reported_per_cycle(counters[source], code, n)
    # What the cycle looked like (the cell's cycle classes are judged from these: processors/classify.py).
    flowing_up = moving_up[1:] & moving_up[:-1] & same_cycle & ~gap
    flowing_down = moving_down[1:] & moving_down[:-1] & same_cycle & ~gap
    out["charge_current_median_a"] = median_by_group(np.where(moving_up, current, np.nan), code, n)
    out["discharge_current_median_a"] = median_by_group(np.where(moving_down, -current, np.nan), code, n)
    out["charge_duration_second"] = _group_sum(np.where(flowing_up, dt, 0.0), code[1:], n)
    out["discharge_duration_second"] = _group_sum(np.where(flowing_down, dt, 0.0), code[1:], n)
    out["charge_end_voltage_v"] = _last_where(moving_up, voltage, starts)
    out["discharge_end_voltage_v"] = _last_where(moving_down, voltage, starts)
    direction = moving_up.astype(np.int8) - moving_down.astype(np.int8)
    out["segments"] = count_segments(direction, code, n)
    out["gap_second"] = _group_sum(np.where(gap, dt, 0.0), code[1:], n)
    # Complete = a full cycle: it both charged and discharged, with real segments (≥ 2 samples above the
    # rest threshold). A discharge-only first cycle (a test that starts charged), a rest-only cycle or a
    # lone capacity check is kept, but is not complete: it must not set the reference capacity nor cross a
    # fade threshold. Nor is a cycle the instrument stopped, or one with a hole in its samples while
    # current flowed (flags say which).
    charged = np.add.reduceat(moving_up, starts) >= 2
    discharged = np.add.reduceat(moving_down, starts) >= 2
    flags: list[list[str]] = [[] for _ in range(n)]
    if stop is not None:
        for position in np.flatnonzero(np.maximum.reduceat(np.nan_to_num(stop) > 0, starts)):
            flags[position].append(FLAG_STOPPED)
    for position in np.flatnonzero(out["gap_second"].to_numpy() > 0):
        flags[position].append(FLAG_GAP)
    # A file that starts mid-cycle (its per-cycle counters are already well above zero at the first
    # sample) holds only part of its first cycle: that cycle must not set the reference capacity.
    if holds_first_cycle and _starts_mid_cycle(counters, int(sizes[0])):
        flags[0].append(FLAG_STARTED_MID_CYCLE)
    # Nor may the last cycle stop inside a segment: a test stopped mid-discharge, or a file that is still
    # growing, holds a cycle whose discharge is only part of the truth (a false drop in the fade curve).
    # It is complete only if it came to rest.
    if holds_last_cycle and (moving_up[-1] or moving_down[-1]):
        flags[-1].append(FLAG_NOT_AT_REST)
    flagged = np.array([bool(f) for f in flags])
    out["complete"] = charged & discharged & ~flagged
    out["flags"] = pd.Series([";".join(f) if f else None for f in flags], index=out.index, dtype=object)
    return out[list(CYCLE_STATS_COLUMNS)]


class StreamedCycleStats:
    """compute_cycle_stats over a file read chunk by chunk, without holding the file; with `on_curves`,
    compute_curves too, each closed batch of cycles' curves handed to that callback as soon as they are
    made (curves are as large as a tenth of the file or more: the caller spools them, memory stays flat).

    Rows arrive in file order, where cycle_index never decreases (both cycle rules number cycles in file
    order). Each chunk completes every cycle but its last, whose rows wait for the next chunk. A file that
    breaks the order, or whose open cycle outgrows `max_open_rows`, gives up (``result`` is None) and the
    caller recomputes from the stored rows instead."""

    def __init__(
        self,
        max_open_rows: int,
        *,
        starts_at_file_start: bool = True,
        on_curves: Callable[[pd.DataFrame], None] | None = None,
    ) -> None:
        self.max_open_rows = max_open_rows
        self.on_curves = on_curves
        #: False when the rows begin at a later cycle (a grown file's tail): its first cycle is not the
        #: file's first, so the "began mid-cycle" judgement does not apply to it.
        self.starts_at_file_start = starts_at_file_start
        self.given_up: str | None = None
        #: The file's gap limit, judged from its first chunk (chunks are tens of thousands of rows).
        self.gap_limit: float | None = None
        self._open: pd.DataFrame | None = None
        self._parts: list[pd.DataFrame] = []

    def add(self, samples: pd.DataFrame) -> None:
        if self.given_up or samples.empty:
            return
        frame = samples if self._open is None else pd.concat([self._open, samples], ignore_index=True)
        if self.gap_limit is None:
            self.gap_limit = gap_limit_second(
                frame["test_time_second"].to_numpy(dtype=np.float64),
                frame["current_ampere"].to_numpy(dtype=np.float64, na_value=np.nan),
            )
        cycle = frame["cycle_index"].to_numpy(dtype=np.int64)
        if (np.diff(cycle) < 0).any():
            self._give_up("cycle_index goes back within the file")
            return
        closed = cycle < cycle[-1]
        if closed.any():
            if self.on_curves is not None:
                self.on_curves(compute_curves(frame[closed]))
            self._parts.append(
                compute_cycle_stats(
                    frame[closed],
                    holds_first_cycle=self._holds_first_cycle(),
                    holds_last_cycle=False,
                    gap_limit=self.gap_limit,
                )
            )
        self._open = frame[~closed].reset_index(drop=True)
        if len(self._open) > self.max_open_rows:
            self._give_up(f"one cycle holds more than {self.max_open_rows} rows")

    def result(self) -> pd.DataFrame | None:
        if self.given_up:
            return None
        if self._open is not None and len(self._open):
            if self.on_curves is not None:
                self.on_curves(compute_curves(self._open))
            self._parts.append(
                compute_cycle_stats(
                    self._open,
                    holds_first_cycle=self._holds_first_cycle(),
                    holds_last_cycle=True,
                    gap_limit=self.gap_limit,
                )
            )
            self._open = None
        if not self._parts:
            empty = {
                c: pd.Series(dtype=np.float64) for c in ("test_time_second", "current_ampere", "voltage_volt")
            }
            return compute_cycle_stats(pd.DataFrame({"cycle_index": pd.Series(dtype=np.int64), **empty}))
        return pd.concat(self._parts, ignore_index=True) if len(self._parts) > 1 else self._parts[0]

    def _holds_first_cycle(self) -> bool:
        return self.starts_at_file_start and not self._parts

    def _give_up(self, reason: str) -> None:
        self.given_up = reason
        self._open, self._parts = None, []


def stats_of_frame(frame: pd.DataFrame) -> tuple[CycleRule, pd.DataFrame]:
    """The cycle rule and per-cycle statistics of one canonical frame held in memory (a file read whole):
    what the pipeline stores for that file, for tests and `blc parse`-style inspection."""
    counter = (
        frame["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan) if "cycle_count" in frame else None
    )
    assignment = assign_cycles(frame["current_ampere"].to_numpy(dtype=np.float64), counter)
    samples = frame.assign(cycle_index=assignment.cycle_index)
    return assignment.rule, compute_cycle_stats(samples)
