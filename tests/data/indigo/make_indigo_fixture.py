"""Write indigo_two_cycles.h5: an Indigo cycler HDF5 file as BEEP's IndigoDatapath reads it.

No real Indigo file was available to us (BEEP's own indigo_test_sample.h5 is binary and not at hand): the
layout follows what BEEP reads and documents (TRI-AMDD/beep, beep/structure/indigo.py and its README's
column table) — a pandas HDFStore written by ``DataFrame.to_hdf`` in the fixed format under the key
``time_series_data``, with the columns ``cell_coulomb_count_c`` (C), ``cell_current_a``, ``cell_energy_j``
(J), ``cell_id``, ``cell_power_w``, ``cell_temperature_c``, ``cell_voltage_v``, ``cycle_count``,
``experiment_count``, ``experiment_type``, ``half_cycle_count``, ``system_time_us`` (µs since 1970, UTC) and
``time_s``, in three dtype blocks (float64, int64, int32) as BEEP's reader expects. The dtypes of the integer
columns are chosen here.

The test, every value computed from the constants below:

- 600 s rest (half cycle 0), then two cycles of [charge at +1.5 A for 3600 s, 600 s rest, discharge at
  -1.5 A for `DISCHARGE_SECONDS[k]`, 600 s rest]; a cycle's charge and its rest are half cycle 2k-1, its
  discharge and rest half cycle 2k (odd = charge, as BEEP reads it). ``cycle_count`` is 1, then 2 from the
  second charge on.
- One record every 30 s of each step (the first 30 s after the step begins, the last at its end), plus one
  at t = 0.
- The cell: nominal 2 Ah, state of charge 0.1 at the start, open-circuit voltage 3.0 V + 1.2 V × SOC,
  series resistance 0.05 Ω: V = OCV + R·I.
- ``cell_coulomb_count_c`` and ``cell_energy_j``: the charge (∫I dt) and energy (∫V·I dt, exact: V is linear
  in time at constant current) since the half cycle began, with the current's sign; held through the rest.
- ``cell_power_w`` = V·I; ``cell_temperature_c`` = 25 °C + 2 °C/A × |I|.

Run: python make_indigo_fixture.py   (needs pandas and PyTables, the project's own dependencies)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "indigo_two_cycles.h5"

START_UNIX_SECOND = 1_614_679_200  # 2021-03-02 10:00:00 UTC
STEP_SECOND = 30.0
REST_SECOND = 600.0
CHARGE_CURRENT_A = 1.5
CHARGE_SECONDS = 3600.0
DISCHARGE_SECONDS = (3300.0, 3240.0)
NOMINAL_AH = 2.0
SOC_START = 0.1
OCV_EMPTY_V = 3.0
OCV_SPAN_V = 1.2
RESISTANCE_OHM = 0.05
CELL_ID = 417


def steps() -> list[tuple[float, float, int, int]]:
    """(duration s, current A, half cycle, cycle count) of each step."""
    plan = [(REST_SECOND, 0.0, 0, 1)]
    for k, discharge in enumerate(DISCHARGE_SECONDS, start=1):
        plan += [
            (CHARGE_SECONDS, CHARGE_CURRENT_A, 2 * k - 1, k),
            (REST_SECOND, 0.0, 2 * k - 1, k),
            (discharge, -CHARGE_CURRENT_A, 2 * k, k),
            (REST_SECOND, 0.0, 2 * k, k),
        ]
    return plan


def build() -> pd.DataFrame:
    rows: list[dict[str, float | int]] = []
    soc = SOC_START
    time_s = 0.0
    half_charge_c = half_energy_j = 0.0
    previous_half = 0

    def voltage(soc_now: float, current: float) -> float:
        return OCV_EMPTY_V + OCV_SPAN_V * soc_now + RESISTANCE_OHM * current

    def record(t: float, current: float, soc_now: float, half: int, cycle: int) -> None:
        v = voltage(soc_now, current)
        rows.append(
            {
                "cell_coulomb_count_c": half_charge_c,
                "cell_current_a": current,
                "cell_energy_j": half_energy_j,
                "cell_id": CELL_ID,
                "cell_power_w": v * current,
                "cell_temperature_c": 25.0 + 2.0 * abs(current),
                "cell_voltage_v": v,
                "cycle_count": cycle,
                "experiment_count": 1,
                "experiment_type": 1,
                "half_cycle_count": half,
                "system_time_us": START_UNIX_SECOND * 1_000_000 + round(t * 1e6),
                "time_s": t,
            }
        )

    record(0.0, 0.0, soc, 0, 1)
    for duration, current, half, cycle in steps():
        if half != previous_half:
            half_charge_c = half_energy_j = 0.0
            previous_half = half
        start_soc, start_charge, start_energy = soc, half_charge_c, half_energy_j
        for elapsed in np.arange(STEP_SECOND, duration + STEP_SECOND / 2, STEP_SECOND):
            soc = start_soc + current * elapsed / 3600.0 / NOMINAL_AH
            half_charge_c = start_charge + current * elapsed
            # ∫V dτ with V = OCV(SOC(τ)) + R·I, SOC linear in τ
            integral_v = (
                OCV_EMPTY_V + OCV_SPAN_V * start_soc + RESISTANCE_OHM * current
            ) * elapsed + OCV_SPAN_V * current * elapsed**2 / (2 * 3600.0 * NOMINAL_AH)
            half_energy_j = start_energy + current * integral_v
            record(time_s + float(elapsed), current, soc, half, cycle)
        time_s += duration
    frame = pd.DataFrame(rows)
    integers = ["cell_id", "cycle_count", "experiment_count", "half_cycle_count", "system_time_us"]
    frame[integers] = frame[integers].astype("int64")
    frame["experiment_type"] = frame["experiment_type"].astype("int32")
    return frame


def main() -> None:
    frame = build()
    FIXTURE.unlink(missing_ok=True)
    frame.to_hdf(FIXTURE, key="time_series_data", mode="w", format="fixed")
    print(f"{len(frame)} rows → {FIXTURE.name}")


if __name__ == "__main__":
    main()
