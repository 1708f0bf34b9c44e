"""Seeded synthetic cycler data: the benchmark's files (bench/), the demo's fading cell, and tests.

One physical model feeds every writer, so the Arbin CSV, the canonical frame and the fade table describe
the same kind of cell: an LFP-like 1.1 Ah cell cycled at 1C.

Each cycle: rest → CC charge at 1C up to 3.6 V → CV at 3.6 V until the current falls below C/20 → rest →
CC discharge at 1C down to 2.0 V → rest. Samples every ~10 s with ±20 % jitter. Capacity fades slowly
(√n calendar-like term plus a linear term, ~12 % after 1000 cycles) and resistance grows, so the voltage
curves and the per-cycle capacities drift the way a real cell's do. The same seed gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

NOMINAL_CAPACITY_AH = 1.1
V_MAX, V_MIN = 3.6, 2.0
SAMPLE_SECONDS = 10.0
REST_SECONDS = 600.0
START_UNIX_SECOND = 1_700_000_000.0

#: The Arbin MITS export header BEEP reads (``ArbinDatapath``); our connector reads it too.
ARBIN_HEADER = (
    "Data_Point",
    "Test_Time",
    "DateTime",
    "Step_Time",
    "Step_Index",
    "Cycle_Index",
    "Current",
    "Voltage",
    "Charge_Capacity",
    "Discharge_Capacity",
    "Charge_Energy",
    "Discharge_Energy",
    "dV/dt",
    "Internal_Resistance",
    "Temperature",
)


@dataclass(frozen=True)
class CellModel:
    capacity_ah: float = NOMINAL_CAPACITY_AH
    resistance_ohm: float = 0.03
    fade_sqrt: float = 0.002  # fraction per √cycle
    fade_linear: float = 0.00006  # fraction per cycle
    resistance_growth: float = 0.0004  # fraction per cycle
    #: A knee: from this cycle on, capacity falls by `knee_fade` more per cycle (None: no knee).
    knee_cycle: int | None = None
    knee_fade: float = 0.0

    def capacity_at(self, cycle: int) -> float:
        loss = self.fade_sqrt * np.sqrt(cycle - 1) + self.fade_linear * (cycle - 1)
        if self.knee_cycle is not None:
            loss += self.knee_fade * max(0, cycle - self.knee_cycle)
        return self.capacity_ah * max(0.5, 1.0 - loss)

    def resistance_at(self, cycle: int) -> float:
        return self.resistance_ohm * (1.0 + self.resistance_growth * (cycle - 1))


def open_circuit_volt(soc: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A flat LFP-like plateau with steep ends."""
    soc = np.clip(soc, 0.0, 1.0)
    return 3.28 + 0.08 * (soc - 0.5) - 0.9 * np.exp(-soc / 0.03) + 0.25 * np.exp(-(1.0 - soc) / 0.03)


def _times(rng: np.random.Generator, duration_s: float) -> npt.NDArray[np.float64]:
    """Jittered sample times in (0, duration], the last one exactly at the step's end."""
    n = max(1, int(duration_s / SAMPLE_SECONDS))
    steps = SAMPLE_SECONDS * rng.uniform(0.8, 1.2, n)
    t = np.cumsum(steps)
    t = t[t < duration_s]
    return np.append(t, duration_s)


def _cycle(rng: np.random.Generator, model: CellModel, cycle: int) -> dict[str, npt.NDArray]:
    """The samples of one cycle, times relative to the cycle start."""
    q = model.capacity_at(cycle)
    r = model.resistance_at(cycle)
    i_1c = NOMINAL_CAPACITY_AH  # 1C of the nominal capacity, in A
    parts: list[dict[str, npt.NDArray]] = []
    t0 = 0.0

    def add(
        step: int, t_rel: npt.NDArray, current: npt.NDArray, soc: npt.NDArray, hold_volt: float | None = None
    ) -> None:
        nonlocal t0
        volt = np.clip(open_circuit_volt(soc) + current * r, V_MIN - 0.05, V_MAX + 0.005)
        if hold_volt is not None:  # constant-voltage step: the cycler holds the terminal voltage
            volt = np.full(t_rel.size, hold_volt)
        parts.append(
            {"t": t0 + t_rel, "step_t": t_rel, "step": np.full(t_rel.size, step), "i": current, "v": volt}
        )
        t0 += float(t_rel[-1])

    # 1: rest at empty.
    t = _times(rng, REST_SECONDS)
    add(1, t, np.zeros(t.size), np.zeros(t.size))
    # 2: CC charge until the terminal voltage reaches V_MAX; more resistance → earlier, longer CV.
    soc_cv = float(np.clip(0.93 - 3.0 * (r - model.resistance_ohm), 0.6, 0.95))
    cc_s = soc_cv * q / i_1c * 3600.0
    t = _times(rng, cc_s)
    add(2, t, np.full(t.size, i_1c), t / 3600.0 * i_1c / q)
    # 3: CV: the current decays exponentially until C/20; the remaining capacity goes in.
    tau = (1.0 - soc_cv) * q * 3600.0 / i_1c
    cv_s = tau * np.log(20.0)
    t = _times(rng, cv_s)
    current = i_1c * np.exp(-t / tau)
    soc = soc_cv + (1.0 - soc_cv) * (1.0 - np.exp(-t / tau))
    add(3, t, current, soc, hold_volt=V_MAX)
    soc_full = float(soc[-1])
    # 4: rest at full.
    t = _times(rng, REST_SECONDS)
    add(4, t, np.zeros(t.size), np.full(t.size, soc_full))
    # 5: CC discharge at 1C until V_MIN.
    dis_s = soc_full * q / i_1c * 3600.0
    t = _times(rng, dis_s)
    add(5, t, np.full(t.size, -i_1c), soc_full - t / 3600.0 * i_1c / q)
    # 6: rest at empty.
    t = _times(rng, REST_SECONDS)
    add(6, t, np.zeros(t.size), np.zeros(t.size))

    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    out["v"] = out["v"] + rng.normal(0.0, 0.0005, out["v"].size)  # ADC noise
    out["i"] = np.where(out["i"] != 0.0, out["i"] + rng.normal(0.0, 0.0005, out["i"].size), 0.0)
    return out


def _per_cycle_counters(t: npt.NDArray, current: npt.NDArray, volt: npt.NDArray) -> dict[str, npt.NDArray]:
    """Arbin-style counters that restart each cycle (Ah and Wh, charge and discharge)."""
    dt = np.diff(t, prepend=t[0])
    power = current * volt
    return {
        "charge_ah": np.cumsum(np.maximum(current, 0.0) * dt) / 3600.0,
        "discharge_ah": np.cumsum(np.maximum(-current, 0.0) * dt) / 3600.0,
        "charge_wh": np.cumsum(np.maximum(power, 0.0) * dt) / 3600.0,
        "discharge_wh": np.cumsum(np.maximum(-power, 0.0) * dt) / 3600.0,
    }


def iter_chunks(
    rows: int,
    *,
    seed: int = 7,
    chunk_rows: int = 500_000,
    model: CellModel | None = None,
    cycles: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Exactly `rows` samples of the model cell (fewer if `cycles` whole cycles end first), as frames of
    about `chunk_rows` rows each, with the columns t, step_t, step, cycle, i, v, charge_ah, discharge_ah,
    charge_wh, discharge_wh, r, temp."""
    rng = np.random.default_rng(seed)
    model = model or CellModel()
    cycle, emitted, t_offset = 1, 0, 0.0
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    while emitted < rows and (cycles is None or cycle <= cycles):
        samples = _cycle(rng, model, cycle)
        n = min(samples["t"].size, rows - emitted)
        frame = pd.DataFrame({key: value[:n] for key, value in samples.items()})
        frame["t"] += t_offset
        frame["cycle"] = cycle
        counters = _per_cycle_counters(samples["t"], samples["i"], samples["v"])
        for key, value in counters.items():
            frame[key] = value[:n]
        frame["r"] = model.resistance_at(cycle)
        frame["temp"] = 25.0 + 1.5 * np.abs(frame["i"].to_numpy()) + rng.normal(0.0, 0.05, n)
        t_offset = float(samples["t"][-1]) + t_offset + SAMPLE_SECONDS
        emitted += n
        cycle += 1
        pending.append(frame)
        pending_rows += n
        if pending_rows >= chunk_rows or emitted >= rows or cycle > (cycles or cycle):
            yield pd.concat(pending, ignore_index=True)
            pending, pending_rows = [], 0


def write_arbin_csv(
    path: Path, rows: int, *, seed: int = 7, model: CellModel | None = None, cycles: int | None = None
) -> Path:
    """An Arbin MITS CSV export of `rows` data rows (BEEP's header), or of `cycles` whole cycles, plus the
    ``_Metadata.csv`` sidecar BEEP needs beside it. Values carry the digits a real export does (µV, µA)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first = 1
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with path.open("wb") as handle:
        handle.write((",".join(ARBIN_HEADER) + "\n").encode())
        for chunk in iter_chunks(rows, seed=seed, model=model, cycles=cycles):
            n = len(chunk)
            v = chunk["v"].to_numpy()
            dvdt = np.gradient(v) / SAMPLE_SECONDS if n > 1 else np.zeros(n)
            table = pa.table(
                {
                    "Data_Point": np.arange(first, first + n, dtype=np.int64),
                    "Test_Time": chunk["t"].round(4),
                    "DateTime": (chunk["t"] + START_UNIX_SECOND).round(4),
                    "Step_Time": chunk["step_t"].round(4),
                    "Step_Index": chunk["step"].astype(np.int64),
                    "Cycle_Index": chunk["cycle"].astype(np.int64),
                    "Current": chunk["i"].round(6),
                    "Voltage": chunk["v"].round(6),
                    "Charge_Capacity": chunk["charge_ah"].round(7),
                    "Discharge_Capacity": chunk["discharge_ah"].round(7),
                    "Charge_Energy": chunk["charge_wh"].round(7),
                    "Discharge_Energy": chunk["discharge_wh"].round(7),
                    "dV/dt": np.round(dvdt, 8),
                    "Internal_Resistance": chunk["r"].round(6),
                    "Temperature": chunk["temp"].round(4),
                }
            )
            buffer = pa.BufferOutputStream()
            pacsv.write_csv(table, buffer, write_options=options)
            handle.write(buffer.getvalue().to_pybytes())
            first += n
    write_arbin_metadata(path)
    return path


def write_arbin_metadata(path: Path) -> Path:
    """The ``<stem>_Metadata.csv`` sidecar MITS writes beside an export (the columns BEEP reads)."""
    sidecar = path.with_name(f"{path.stem}_Metadata.csv")
    sidecar.write_text(
        ",test_id,device_id,iv_ch_id,first_start_datetime,schedule_file_name,item_id,resumed_times,"
        "last_resume_datetime,last_end_datetime,has_aux,has_special,schedule_version\n"
        f"0,1,60369369,1,{int(START_UNIX_SECOND)},synthetic_1C_CCCV.sdu,{path.stem},0,0,0,1,0,"
        "Schedule Version 7.00.08\n",
        encoding="utf-8",
    )
    return sidecar


def canonical_frame(rows: int, *, seed: int = 7) -> pd.DataFrame:
    """`rows` samples as the canonical frame the processors read (BDF names, SI units)."""
    frames = []
    for chunk in iter_chunks(rows, seed=seed, chunk_rows=2_000_000):
        frames.append(
            pd.DataFrame(
                {
                    "cycle_index": chunk["cycle"].to_numpy(dtype=np.int64),
                    "test_time_second": chunk["t"].to_numpy(),
                    "current_ampere": chunk["i"].to_numpy(),
                    "voltage_volt": chunk["v"].to_numpy(),
                    "cycle_charging_capacity_ah": chunk["charge_ah"].to_numpy(),
                    "cycle_discharging_capacity_ah": chunk["discharge_ah"].to_numpy(),
                    "cycle_charging_energy_wh": chunk["charge_wh"].to_numpy(),
                    "cycle_discharging_energy_wh": chunk["discharge_wh"].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
