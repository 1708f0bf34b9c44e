"""Test protocols built step by step, so each cycle's kind and capacity are known by design: the truth the
classification and gap tests check against (a 2 Ah cell, voltage linear in the state of charge)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CAPACITY_AH = 2.0
V_EMPTY, V_FULL = 3.0, 4.2
RESISTANCE_OHM = 0.02


@dataclass
class Protocol:
    """Appends steps to a time series; `soc` follows the charge that flowed (coulomb counting)."""

    dt_second: float = 30.0
    soc: float = 0.0
    t: float = 0.0
    cycle: int = 0
    rows: list[tuple[float, float, float, int, int]] = field(default_factory=list)

    def _voltage(self, current: float) -> float:
        return V_EMPTY + (V_FULL - V_EMPTY) * self.soc + RESISTANCE_OHM * current

    def step(self, current: float, seconds: float, *, stop_at_end: bool = False) -> None:
        """`seconds` of constant current (+ charges), a sample every dt_second (at least two; the last one at
        the end)."""
        n = max(2, round(seconds / self.dt_second))
        dt = seconds / n
        for k in range(n):
            self.t += dt
            self.soc += current * dt / 3600 / CAPACITY_AH
            stop = int(stop_at_end and k == n - 1)
            self.rows.append((self.t, current, self._voltage(current), self.cycle, stop))

    def hole(self, seconds: float) -> None:
        """Time passes while the current goes on, with no sample logged (a gap in the record)."""
        current = self.rows[-1][1]
        self.t += seconds
        self.soc += current * seconds / 3600 / CAPACITY_AH

    def new_cycle(self) -> None:
        self.cycle += 1

    def full_cycle(self, charge_a: float, discharge_a: float, capacity_ah: float = CAPACITY_AH) -> None:
        """Rest, charge `capacity_ah`, rest, discharge it again, rest: one cycle."""
        self.new_cycle()
        self.step(0.0, 300)
        self.step(charge_a, capacity_ah / charge_a * 3600)
        self.step(0.0, 300)
        self.step(-discharge_a, capacity_ah / discharge_a * 3600)
        self.step(0.0, 300)

    def hppc_cycle(self, pulses: int = 8) -> None:
        """Charge fully, then per state of charge: a 10 s discharge pulse at 2C, a rest, a 10 s charge pulse
        at 1.5C, a rest, and a C/2 discharge of 10 % to the next level."""
        self.new_cycle()
        self.step(1.0, CAPACITY_AH / 1.0 * 3600)
        self.step(0.0, 600)
        for _ in range(pulses):
            self.step(-4.0, 10)
            self.step(0.0, 40)
            self.step(3.0, 10)
            self.step(0.0, 40)
            self.step(-1.0, 0.1 * CAPACITY_AH / 1.0 * 3600)
            self.step(0.0, 300)

    def frame(self) -> pd.DataFrame:
        t, current, voltage, cycle, stop = (np.array(column) for column in zip(*self.rows, strict=True))
        return pd.DataFrame(
            {
                "test_time_second": t,
                "current_ampere": current,
                "voltage_volt": voltage,
                "cycle_count": cycle,
                "instrument_stop": stop,
            }
        )
