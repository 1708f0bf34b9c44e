"""Is positive current really charge in this file? The evidence, and what to do about it (pure).

The canonical convention is positive current = charge (docs/design.md §3). A file that says otherwise —
a BDF-style CSV whose "discharge" steps carry positive current while the voltage falls — would load with
charge and discharge swapped (its coulombic efficiency inverted). Three kinds of evidence are weighed, per
*segment* (a run of samples whose current flows one way):

- **the voltage** (physics): at a steady current the voltage rises while a cell charges and falls while it
  discharges, whatever the chemistry (the open-circuit voltage rises with the charge held, and polarisation
  builds in the direction of the current). Only intervals between samples whose current is steady (within
  `STEADY_FRACTION`) count, so the jump at a change of current (the IR drop) does not; nor do those at a
  current below the largest the segment has held so far, rests inside it included (after 6C, a 1C charge
  on an LFP plateau sees the voltage fall for minutes while the overpotential relaxes: a real
  fast-charge file does this). A segment whose voltage moves less than `MIN_VOLTAGE_CHANGE_VOLT` (a CV
  hold, a flat plateau in noise) says nothing.
- **the capacity counters** (what the file declares): does the charging counter grow while the current is
  positive, or the discharging one?
- **step labels** ("charge", "discharge"), where a reader has them (what the file declares too).

Each segment's evidence weighs the charge it moved (Ah), so a few short pulses cannot outvote the long
constant-current steps. `judge` turns the tallies into a `SignVerdict`: keep, flip the current (and swap
the counters when they follow the wrong current), swap the counters alone (when the voltage confirms the
current but the counters grew the other way), or refuse the file when the evidence is mixed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

#: |current| below this fraction of the largest |current| seen is rest (the CV tail at C/20 is not).
REST_FRACTION = 0.005
#: Two samples' currents within this fraction of each other: a steady current between them.
STEADY_FRACTION = 0.05
#: A segment whose steady-current voltage change is smaller says nothing (ADC noise, a CV hold).
MIN_VOLTAGE_CHANGE_VOLT = 0.005
#: A counter "grew" in a segment when it grew by more than this (Ah) and more than
#: `COUNTER_DOMINANCE` × the other counter's growth.
MIN_COUNTER_GROWTH_AH = 1e-6
COUNTER_DOMINANCE = 10.0
#: A verdict needs this share of the weighed evidence on one side ("a strong majority")…
STRONG_MAJORITY = 0.9
#: … from at least this many segments with evidence, holding at least this many samples.
MIN_SEGMENTS = 2
MIN_SAMPLES = 20
#: While the file streams in, a verdict is taken early once this many segments hold evidence.
ENOUGH_SEGMENTS = 6

#: Charge/discharge counter pairs, in the order their evidence is preferred (the capacities, then the
#: energies); when the counters are swapped, every pair present is.
COUNTER_PAIRS: tuple[tuple[str, str], ...] = (
    ("charging_capacity_ah", "discharging_capacity_ah"),
    ("cycle_charging_capacity_ah", "cycle_discharging_capacity_ah"),
    ("step_charging_capacity_ah", "step_discharging_capacity_ah"),
    ("charging_energy_wh", "discharging_energy_wh"),
    ("cycle_charging_energy_wh", "cycle_discharging_energy_wh"),
    ("step_charging_energy_wh", "step_discharging_energy_wh"),
)
#: Step labels: "discharge", "CC_DChg", "cccv_charge", Maccor's state letters C and D…
_DISCHARGE_LABEL = re.compile(r"dis|dchg|^d$", re.IGNORECASE)
_CHARGE_LABEL = re.compile(r"charge|chg|^c$", re.IGNORECASE)


def evidence_columns(available: Sequence[str]) -> list[str]:
    """What `evidence` reads of a file whose columns are `available`: time, current, voltage, and the
    first pair of counters it has."""
    wanted = [c for c in ("test_time_second", "current_ampere", "voltage_volt") if c in available]
    pair = next((p for p in COUNTER_PAIRS if p[0] in available and p[1] in available), None)
    return wanted + list(pair or ())


@dataclass(frozen=True)
class Tally:
    """One kind of evidence over the segments that said anything: the charge (Ah) moved in those that agree
    with the current's sign and in those that contradict it, how many of each, and their samples."""

    agree_ah: float = 0.0
    contradict_ah: float = 0.0
    agree_segments: int = 0
    contradict_segments: int = 0
    samples: int = 0

    @classmethod
    def of(
        cls, agrees: npt.NDArray[np.bool_], moved_ah: npt.NDArray[np.float64], samples: npt.NDArray[np.int64]
    ) -> Tally:
        """The tally of the segments given (each: agrees or not, Ah moved, samples)."""
        return cls(
            float(moved_ah[agrees].sum()),
            float(moved_ah[~agrees].sum()),
            int(agrees.sum()),
            int((~agrees).sum()),
            int(samples.sum()),
        )

    @property
    def segments(self) -> int:
        return self.agree_segments + self.contradict_segments

    @property
    def enough(self) -> bool:
        return self.segments >= MIN_SEGMENTS and self.samples >= MIN_SAMPLES

    @property
    def contradicting(self) -> float:
        """The share of the weighed evidence that contradicts the current's sign (0 when there is none)."""
        total = self.agree_ah + self.contradict_ah
        if total > 0:
            return self.contradict_ah / total
        return self.contradict_segments / self.segments if self.segments else 0.0

    @property
    def side(self) -> str:
        """One of agrees, contradicts, mixed, or "too little" when there is not enough of it."""
        if not self.enough:
            return "too little"
        if self.contradicting >= STRONG_MAJORITY:
            return "contradicts"
        if self.contradicting <= 1.0 - STRONG_MAJORITY:
            return "agrees"
        return "mixed"

    def phrase(self, what: str) -> str:
        """E.g. "voltage slope at steady current: 4 of 4 segments contradict the current's sign, 0 agree
        (100 % of 3.8 Ah, 1210 samples)"."""
        moved_ah = self.agree_ah + self.contradict_ah
        return (
            f"{what}: {self.contradict_segments} of {self.segments} segments contradict the current's sign,"
            f" {self.agree_segments} agree ({self.contradicting:.0%} of {moved_ah:.3g} Ah,"
            f" {self.samples} samples)"
        )

    def swapped(self) -> Tally:
        """The same evidence judged against the opposite current."""
        return Tally(
            self.contradict_ah, self.agree_ah, self.contradict_segments, self.agree_segments, self.samples
        )


@dataclass(frozen=True)
class Evidence:
    voltage: Tally = field(default_factory=Tally)
    counters: Tally = field(default_factory=Tally)
    labels: Tally = field(default_factory=Tally)
    #: The counter pair the counter evidence was read from (None: the file has none).
    counter_pair: tuple[str, str] | None = None

    @property
    def enough(self) -> bool:
        """Enough to stop reading: the voltage has spoken over `ENOUGH_SEGMENTS` segments."""
        return self.voltage.segments >= ENOUGH_SEGMENTS and self.voltage.samples >= MIN_SAMPLES


class SignAction(StrEnum):
    KEEP = "keep"
    FLIP_CURRENT = "flip_current"
    FLIP_CURRENT_AND_SWAP_COUNTERS = "flip_current_and_swap_counters"
    SWAP_COUNTERS = "swap_counters"
    REFUSE = "refuse"


@dataclass(frozen=True)
class SignVerdict:
    action: SignAction
    #: One sentence naming the evidence (the ledger warning, or the quarantine reason).
    reason: str

    @property
    def flips_current(self) -> bool:
        return self.action in (SignAction.FLIP_CURRENT, SignAction.FLIP_CURRENT_AND_SWAP_COUNTERS)

    @property
    def swaps_counters(self) -> bool:
        return self.action in (SignAction.SWAP_COUNTERS, SignAction.FLIP_CURRENT_AND_SWAP_COUNTERS)


def evidence(frame: pd.DataFrame, *, labels: Sequence[str] | None = None, closed: bool = True) -> Evidence:
    """The evidence in `frame` (canonical columns, file order; impedance rows already taken out). `labels`
    are the rows' step labels, when the reader has them. With `closed` False the last segment may go on in
    rows not read yet, and is left out."""
    current = _floats(frame, "current_ampere")
    n = current.size
    finite = np.isfinite(current)
    peak = float(np.abs(current[finite]).max()) if finite.any() else 0.0
    if n < 2 or peak <= 0:
        return Evidence()
    direction = np.zeros(n, dtype=np.int8)
    direction[current > peak * REST_FRACTION] = 1
    direction[current < -peak * REST_FRACTION] = -1
    # A segment runs while the current flows one way, rests inside it included (they take the direction of
    # the current before them): interval k joins samples k and k+1.
    carried = _carried(direction)
    joined = (carried[:-1] == carried[1:]) & (carried[:-1] != 0)
    starts = np.flatnonzero(joined & ~np.r_[False, joined[:-1]])
    ends = np.flatnonzero(joined & ~np.r_[joined[1:], False]) + 1  # exclusive, in intervals
    if not closed and ends.size and ends[-1] == n - 1:
        starts, ends = starts[:-1], ends[:-1]
    if not starts.size:
        return Evidence()
    sign = direction[starts].astype(np.int64)
    samples = (ends - starts + 1).astype(np.int64)

    def per_segment(per_interval: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        running = np.concatenate(([0.0], np.cumsum(np.nan_to_num(per_interval, nan=0.0))))
        return np.asarray(running[ends] - running[starts], dtype=np.float64)

    magnitude = np.where(direction != 0, np.abs(current), 0.0)
    i0, i1 = magnitude[:-1], magnitude[1:]
    dt = np.diff(_floats(frame, "test_time_second"))
    ah = 0.5 * (i0 + i1) * np.where(dt > 0, dt, 0.0) / 3600.0
    # The voltage speaks where the current is steady and at the highest it has been in the segment: after
    # a larger current the same way (6C, then 1C) the overpotential relaxes, and the voltage may fall
    # while the cell still charges.
    # (A lone spike is no level the current held: only samples steady with a neighbour set the peak.)
    steady = (direction[:-1] == direction[1:]) & (np.abs(i1 - i0) <= STEADY_FRACTION * np.maximum(i0, i1))
    held = np.r_[steady, False] | np.r_[False, steady]
    peak_so_far = _segment_running_max(np.where(held, magnitude, 0.0), starts)
    telling = (
        steady & (direction[:-1] != 0) & (np.minimum(i0, i1) >= (1.0 - STEADY_FRACTION) * peak_so_far[1:])
    )
    change = per_segment(np.where(telling, np.diff(_floats(frame, "voltage_volt")), 0.0))
    said = np.abs(change) >= MIN_VOLTAGE_CHANGE_VOLT
    voltage = Tally.of(
        np.sign(change[said]) == sign[said],
        per_segment(np.where(telling, ah, 0.0))[said],
        per_segment(telling.astype(np.float64)).astype(np.int64)[said] + 1,
    )
    moved = per_segment(ah)

    counters = Tally()
    pair = next((p for p in COUNTER_PAIRS if p[0] in frame.columns and p[1] in frame.columns), None)
    if pair is not None:
        up, down = per_segment(_growth(frame, pair[0])), per_segment(_growth(frame, pair[1]))
        charging = (up > MIN_COUNTER_GROWTH_AH) & (up > COUNTER_DOMINANCE * down)
        discharging = (down > MIN_COUNTER_GROWTH_AH) & (down > COUNTER_DOMINANCE * up)
        said = charging | discharging
        counters = Tally.of(np.where(charging, 1, -1)[said] == sign[said], moved[said], samples[said])

    stated = Tally()
    if labels is not None:
        label_sign = _label_signs(labels, n)
        # Per segment (samples start..end), how many samples are labelled charge and how many discharge.
        pos = np.concatenate(([0], np.cumsum(label_sign > 0)))
        neg = np.concatenate(([0], np.cumsum(label_sign < 0)))
        charge_n, discharge_n = pos[ends + 1] - pos[starts], neg[ends + 1] - neg[starts]
        said = (charge_n > 0) != (discharge_n > 0)
        stated = Tally.of(np.where(charge_n > 0, 1, -1)[said] == sign[said], moved[said], samples[said])
    return Evidence(voltage, counters, stated, pair)


def judge(found: Evidence) -> SignVerdict:
    """What to do with a file whose evidence is `found`. The voltage is the physics and decides the
    current's sign; the counters and labels are what the file declares, and must either follow the current
    as it is, or (when the voltage says it is inverted) follow the voltage, or all together follow the
    inverted current (then the counters are swapped with it). Anything else is mixed: refused."""
    volt, counters, labels = found.voltage, found.counters, found.labels
    said = "; ".join(
        tally.phrase(what)
        for tally, what in (
            (volt, "voltage slope at steady current"),
            (
                counters,
                f"counters {found.counter_pair[0]}/{found.counter_pair[1]}" if found.counter_pair else "",
            ),
            (labels, "step labels"),
        )
        if tally.segments
    )
    if volt.side == "mixed":
        return SignVerdict(SignAction.REFUSE, f"the current's sign is inconsistent with the voltage ({said})")
    if volt.side == "too little":
        if counters.side in ("contradicts", "mixed") or labels.side in ("contradicts", "mixed"):
            return SignVerdict(
                SignAction.REFUSE,
                "the counters or step labels contradict the current's sign and the voltage moves too little"
                f" to tell which is wrong ({said})",
            )
        return SignVerdict(SignAction.KEEP, said or "no evidence about the current's sign")
    flipped = volt.side == "contradicts"
    # What the file declares, judged against the current as it will be stored: both must say the same.
    counters_now = (counters.swapped() if flipped else counters).side
    labels_now = (labels.swapped() if flipped else labels).side
    if (
        "mixed" in (counters_now, labels_now)
        or (labels_now == "contradicts" and counters_now != "contradicts")
        or (counters_now == "contradicts" and labels_now == "agrees")
    ):
        return SignVerdict(
            SignAction.REFUSE,
            "the voltage, the counters and the step labels disagree about which way the current flows"
            f" ({said})",
        )
    if counters_now == "contradicts":
        if flipped:
            return SignVerdict(
                SignAction.FLIP_CURRENT_AND_SWAP_COUNTERS,
                "positive current discharges the cell here and the charge/discharge counters follow the"
                f" inverted current: current sign flipped and the counters swapped ({said})",
            )
        return SignVerdict(
            SignAction.SWAP_COUNTERS,
            "the discharging counters grow while the cell charges (the voltage rising at positive"
            f" current): charge/discharge counters swapped ({said})",
        )
    if flipped:
        return SignVerdict(
            SignAction.FLIP_CURRENT,
            "positive current discharges the cell here (the voltage falls while it flows): current sign"
            f" flipped ({said})",
        )
    return SignVerdict(SignAction.KEEP, said)


def corrected(frame: pd.DataFrame, verdict: SignVerdict) -> pd.DataFrame:
    """`frame` with the verdict applied: current (and power, which is V·I in the file's convention) negated,
    charge/discharge counters swapped. A frame the verdict keeps is returned as it is."""
    if not (verdict.flips_current or verdict.swaps_counters):
        return frame
    out = frame.copy(deep=False)
    if verdict.flips_current:
        for name in ("current_ampere", "power_watt"):
            if name in out.columns:
                out[name] = -out[name]
    if verdict.swaps_counters:
        renames: Mapping[str, str] = {
            a: b
            for pair in COUNTER_PAIRS
            for a, b in (pair, pair[::-1])
            if a in out.columns and b in out.columns
        }
        out = out.rename(columns=renames)[list(frame.columns)]
    return out


def _carried(direction: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """Each rest sample takes the direction of the last current before it (0 before any)."""
    positions = np.where(direction != 0, np.arange(direction.size), -1)
    last = np.maximum.accumulate(positions)
    return np.where(last >= 0, direction[np.maximum(last, 0)], 0).astype(np.int8)


def _segment_running_max(
    magnitude: npt.NDArray[np.float64], starts: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """The largest |current| so far within each segment (starting at `starts`), per sample."""
    marks = np.zeros(magnitude.size, dtype=np.int64)
    marks[starts] = 1
    segment = np.cumsum(marks)  # outside segments the number is that of the one before: harmless
    return np.asarray(pd.Series(magnitude).groupby(segment).cummax().to_numpy(), dtype=np.float64)


def _floats(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[name].to_numpy(dtype=np.float64, na_value=np.nan)


def _growth(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """Per interval, how much the counter grew (its resets at a new cycle or step are no growth)."""
    values = _floats(frame, name)
    return np.clip(np.diff(values), 0.0, None)


def _label_signs(labels: Sequence[str], n: int) -> npt.NDArray[np.int8]:
    signs = np.zeros(n, dtype=np.int8)
    for i, label in enumerate(labels[:n]):
        text = str(label).strip() if label is not None else ""
        if _DISCHARGE_LABEL.search(text):
            signs[i] = -1
        elif _CHARGE_LABEL.search(text):
            signs[i] = 1
    return signs
