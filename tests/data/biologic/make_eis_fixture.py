"""Write modulo_bat_eis_pulses_C02.mpt: an EC-Lab Modulo Bat text export with impedance sweeps between
long current pulses, modelled on a real case (no real EIS file was available to us).

The protocol: 30 min rest, then four times [a galvano-EIS sweep, 1 min rest, a 4 h constant-current pulse,
30 min rest], then a last sweep and 5 min rest. `half cycle` and `cycle number` stay 0 throughout, as in the
case reported. Every number is computed here, so the tests derive what they expect from this module:

- time-domain rows: rests at 0 A, every 300 s; pulses at `PULSE_CURRENT_MA`, every 600 s; each step's first
  record `STEP_GAP_SECOND` after the previous step's last one, its last record at its end.
- impedance rows: `FREQUENCIES_HZ`, 100 kHz down to 10 mHz, 10 points per decade (71 points); point j is
  recorded once its measurement (1 s + `PERIODS` periods) is over. The cell's impedance is a simplified
  Randles circuit, Z = R_s + R_ct / (1 + j·ω·R_ct·C_dl), with R_ct growing from sweep to sweep
  (`randles`): EC-Lab writes Re(Z), -Im(Z) (the negative imaginary part), |Z| and Phase(Z) = arg Z in
  degrees (negative: capacitive). On these rows `<I>/mA` holds a small mean current whose sign alternates
  from point to point, as the rows of the reported file did; `<Ewe>/V` holds the rest voltage.
- `freq/Hz`, `Re(Z)/Ohm`, `-Im(Z)/Ohm`, `|Z|/Ohm`, `Phase(Z)/deg`, `|Ewe|/V` and `|I|/A` are 0 on the
  time-domain rows, as EC-Lab writes them.

Numbers are formatted as EC-Lab writes an ASCII export (float64 columns with 15 decimals, float32 columns with
7, three exponent digits, tab-separated, CRLF, Windows-1252).

Run: python make_eis_fixture.py   (numpy only)
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "modulo_bat_eis_pulses_C02.mpt"
START = "03/04/2024 09:15:00.000"

#: The cell: nominal capacity, open-circuit voltage from full (SOC 1) to empty (SOC 0), linear.
NOMINAL_CAPACITY_MAH = 40.0
OCV_FULL_V = 4.15
OCV_EMPTY_V = 3.40
#: Simplified Randles circuit: series resistance, charge-transfer resistance of sweep k, double layer.
R_SERIES_OHM = 2.0
R_CT_FIRST_OHM = 10.0
R_CT_STEP_OHM = 2.5
C_DL_FARAD = 50e-6
#: Galvano-EIS excitation amplitude, and the small alternating mean current written on the EIS rows.
EIS_AMPLITUDE_A = 1e-3
EIS_MEAN_CURRENT_MA = 0.1
#: Periods measured per frequency (EC-Lab's Na) and the fixed overhead of a point.
PERIODS = 2
POINT_OVERHEAD_SECOND = 1.0
FREQUENCIES_HZ = tuple(10.0 ** (5 - j / 10) for j in range(71))

#: A 4 h constant-current discharge at C/16, four times: 25 % of the nominal capacity each.
PULSE_CURRENT_MA = (-2.5, -2.5, -2.5, -2.5)
PULSE_SECOND = 4 * 3600.0
PULSE_EVERY_SECOND = 600.0
REST_EVERY_SECOND = 300.0
FIRST_REST_SECOND = 1800.0
REST_BEFORE_PULSE_SECOND = 60.0
REST_AFTER_PULSE_SECOND = 1800.0
LAST_REST_SECOND = 300.0
STEP_GAP_SECOND = 0.0004

#: Columns in file order, and how EC-Lab writes each: i (integer), f8 (15 decimals) or f4 (7).
COLUMNS = {
    "mode": "i",
    "ox/red": "i",
    "error": "i",
    "control changes": "i",
    "Ns changes": "i",
    "counter inc.": "i",
    "Ns": "i",
    "time/s": "f8",
    "control/V/mA": "f4",
    "<Ewe>/V": "f4",
    "<I>/mA": "f4",
    "(Q-Qo)/mA.h": "f8",
    "freq/Hz": "f4",
    "|Ewe|/V": "f4",
    "|I|/A": "f4",
    "Phase(Z)/deg": "f4",
    "|Z|/Ohm": "f4",
    "Re(Z)/Ohm": "f4",
    "-Im(Z)/Ohm": "f4",
    "half cycle": "i",
    "cycle number": "f8",
}


def randles(frequency_hz: float, sweep: int) -> complex:
    """The cell's impedance (ohm) at `frequency_hz` during sweep `sweep` (0-based)."""
    r_ct = R_CT_FIRST_OHM + R_CT_STEP_OHM * sweep
    omega = 2 * math.pi * frequency_hz
    return R_SERIES_OHM + r_ct / (1 + 1j * omega * r_ct * C_DL_FARAD)


def ocv(charge_out_mah: float) -> float:
    soc = 1.0 - charge_out_mah / NOMINAL_CAPACITY_MAH
    return OCV_EMPTY_V + (OCV_FULL_V - OCV_EMPTY_V) * soc


def build(
    pulse_current_ma: tuple[float, ...] = PULSE_CURRENT_MA,
    *,
    counters: bool = True,
    count_at_charge: bool = False,
) -> list[dict[str, float]]:
    """The file's rows in order, each a dict of `COLUMNS` plus "kind" ("rest", "pulse" or "eis") and
    "sweep" (0-based, on EIS rows). `count_at_charge` advances `cycle number` at each charge pulse that
    follows a discharge (EC-Lab's charge/discharge alternance); otherwise it stays 0. Without `counters`
    the file has neither `cycle number` nor `counter inc.` (an export of selected columns)."""
    rows: list[dict[str, float]] = []
    state = {"t": -STEP_GAP_SECOND, "q_mah": 0.0, "out_mah": 0.0, "ns": -1, "count": 0, "last_sign": 0}

    def row(kind: str, t: float, first: bool, **values: float) -> None:
        record = {name: 0.0 for name in COLUMNS}
        record.update(
            {
                "Ns": state["ns"],
                "Ns changes": 1.0 if first else 0.0,
                "control changes": 1.0 if first else 0.0,
                "time/s": t,
                "(Q-Qo)/mA.h": state["q_mah"],
                "cycle number": float(state["count"]),
                "kind": kind,
                "sweep": -1,
            }
        )
        record.update(values)
        rows.append(record)

    def rest(duration: float) -> None:
        state["ns"] += 1
        start = state["t"] + STEP_GAP_SECOND
        times = np.append(np.arange(start, start + duration, REST_EVERY_SECOND), start + duration)
        for i, t in enumerate(times):
            row("rest", float(t), i == 0, mode=3, **{"<Ewe>/V": ocv(state["out_mah"])})
        state["t"] = float(times[-1])

    def pulse(current_ma: float) -> None:
        state["ns"] += 1
        sign = 1 if current_ma > 0 else -1
        if count_at_charge and sign > 0 and state["last_sign"] < 0:
            state["count"] += 1
        state["last_sign"] = sign
        start = state["t"] + STEP_GAP_SECOND
        times = np.append(np.arange(start, start + PULSE_SECOND, PULSE_EVERY_SECOND), start + PULSE_SECOND)
        q_start, out_start = state["q_mah"], state["out_mah"]
        for i, t in enumerate(times):
            passed_mah = current_ma * (t - start) / 3600.0
            state["q_mah"] = q_start + passed_mah
            state["out_mah"] = out_start - passed_mah
            voltage = ocv(state["out_mah"]) + current_ma * 1e-3 * (R_SERIES_OHM + R_CT_FIRST_OHM)
            row(
                "pulse",
                float(t),
                i == 0,
                mode=1,
                **{"ox/red": 1.0 if sign > 0 else 0.0},
                **{"control/V/mA": current_ma, "<Ewe>/V": voltage, "<I>/mA": current_ma},
            )
        state["t"] = float(times[-1])

    def sweep(number: int) -> None:
        state["ns"] += 1
        t = state["t"] + STEP_GAP_SECOND
        for j, frequency in enumerate(FREQUENCIES_HZ):
            t += POINT_OVERHEAD_SECOND + PERIODS / frequency
            z = randles(frequency, number)
            row(
                "eis",
                t,
                j == 0,
                mode=1,
                **{
                    "<Ewe>/V": ocv(state["out_mah"]),
                    "<I>/mA": EIS_MEAN_CURRENT_MA * (1 if j % 2 == 0 else -1),
                    "freq/Hz": frequency,
                    "|Ewe|/V": abs(z) * EIS_AMPLITUDE_A,
                    "|I|/A": EIS_AMPLITUDE_A,
                    "Phase(Z)/deg": math.degrees(math.atan2(z.imag, z.real)),
                    "|Z|/Ohm": abs(z),
                    "Re(Z)/Ohm": z.real,
                    "-Im(Z)/Ohm": -z.imag,
                },
            )
            rows[-1]["sweep"] = number
        state["t"] = t

    rest(FIRST_REST_SECOND)
    for number, current in enumerate(pulse_current_ma):
        sweep(number)
        rest(REST_BEFORE_PULSE_SECOND)
        pulse(current)
        rest(REST_AFTER_PULSE_SECOND)
    sweep(len(pulse_current_ma))
    rest(LAST_REST_SECOND)
    if not counters:
        for record in rows:
            del record["cycle number"], record["counter inc."]
    return rows


def _format(value: float, kind: str) -> str:
    if kind == "i":
        return str(int(value))
    text = f"{float(value):.15E}" if kind == "f8" else f"{float(np.float32(value)):.7E}"
    return re.sub(r"E([+-])(\d\d)$", r"E\g<1>0\2", text)  # EC-Lab writes 3 exponent digits


def write(path: Path, rows: list[dict[str, float]]) -> None:
    """The rows as an EC-Lab ASCII export."""
    names = [name for name in COLUMNS if name in rows[0]]
    block = [
        "",
        "Modulo Bat",
        "",
        "Run on channel : 2",
        "User : ",
        "Ewe ctrl range : min = 0.00 V, max = 5.00 V",
        f"Acquisition started on : {START}",
        "Saved on :",
        f"\tFile : {path.stem}.mpr",
        "Electrode material : ",
        "Electrolyte : ",
        "Comments : generated by make_eis_fixture.py: galvano-EIS sweeps between four 4 h pulses",
        f"Battery capacity : {NOMINAL_CAPACITY_MAH:.3f} mA.h",
        "Cycle Definition : Charge/Discharge alternance",
        "",
    ]
    lines = ["EC-Lab ASCII FILE", f"Nb header lines : {2 + len(block) + 1}", *block]
    lines.append("\t".join(names) + "\t")  # EC-Lab ends the header with a tab the rows do not have
    lines += ["\t".join(_format(record[name], COLUMNS[name]) for name in names) for record in rows]
    with path.open("w", encoding="cp1252", newline="") as handle:
        handle.write("\r\n".join(lines) + "\r\n")


if __name__ == "__main__":
    table = build()
    write(FIXTURE, table)
    kinds = [record["kind"] for record in table]
    print(f"{FIXTURE.name}: {len(table)} rows, {kinds.count('eis')} of them impedance points")
