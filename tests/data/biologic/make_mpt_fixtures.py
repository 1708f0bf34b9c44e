"""Write the two .mpt fixtures of this folder from the real .mpr files beside them.

The numbers are the .mpr's own, formatted the way EC-Lab writes an ASCII export (float64 with 15 decimals,
float32 with 7, three exponent digits, CRLF, Windows-1252); the header blocks are written for the fixtures.
Needs the optional reader: pip install 'blc-platform[biologic]'. Run: python make_mpt_fixtures.py
"""

import re
from pathlib import Path

import numpy as np
from galvani import BioLogic

HERE = Path(__file__).resolve().parent
SRC = f"{HERE}/"
OUT = f"{HERE}/"


def load(name):
    with open(SRC + name, "rb") as fh:
        m = BioLogic.MPRfile(fh)
    cols = {}
    for f in m.flags_dict:
        cols[f] = m.get_flag(f).astype(int)
    for n in m.data.dtype.names:
        if n != "flags":
            cols[n] = m.data[n]
    return m, cols


def fmt(values, kind, comma):
    if kind == "i":
        out = [str(int(v)) for v in values]
    elif kind == "f8":
        out = [f"{float(v):.15E}" for v in values]
    else:
        out = [f"{float(v):.7E}" for v in values]
    out = [re.sub(r"E([+-])(\d\d)$", r"E\g<1>0\2", s) for s in out]  # EC-Lab writes 3 exponent digits
    return [s.replace(".", ",") for s in out] if comma else out


def write(path, block, columns, comma):
    names = list(columns)
    n = len(next(iter(columns.values()))[0])
    cells = [fmt(v, k, comma) for v, k in columns.values()]
    header_lines = 2 + len(block) + 1
    lines = ["EC-Lab ASCII FILE", f"Nb header lines : {header_lines}", *block, "\t".join(names) + "\t"]
    lines += ["\t".join(c[i] for c in cells) for i in range(n)]
    with open(path, "w", encoding="cp1252", newline="") as fh:
        fh.write("\r\n".join(lines) + "\r\n")


def kind_of(arr):
    if arr.dtype.kind in "iub":
        return "i"
    return "f8" if arr.dtype == np.float64 else "f4"


# 1. GCPL excerpt: every 40th point, the two points around each step change, and the last point.
m, c = load("jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")
n = len(c["time/s"])
ns = c["Ns"].astype(int)
keep = np.zeros(n, bool)
keep[::40] = True
change = np.flatnonzero(np.diff(ns) != 0)
keep[change] = True
keep[change + 1] = True
keep[-1] = True
idx = np.flatnonzero(keep)
# dq/mA.h is the charge passed since the previous point: summed over the points left out.
cum = np.cumsum(c["dq/mA.h"].astype(np.float64))
dq = np.diff(np.concatenate(([0.0], cum[idx])))
order = [
    "mode",
    "ox/red",
    "error",
    "control changes",
    "Ns changes",
    "counter inc.",
    "Ns",
    "time/s",
    "control/V/mA",
    "Ewe/V",
    "dq/mA.h",
    "(Q-Qo)/mA.h",
    "I Range",
    "Q charge/discharge/mA.h",
    "half cycle",
    "P/W",
]
columns = {}
for name in order:
    arr = c[name]
    values = dq if name == "dq/mA.h" else arr[idx]
    columns[name] = (values, kind_of(arr))
block = [
    "",
    "Galvanostatic Cycling with Potential Limitation",
    "",
    "Run on channel : 9",
    "User : ",
    "Ewe ctrl range : min = 0.00 V, max = 5.00 V",
    f"Acquisition started on : {m.timestamp:%m/%d/%Y %H:%M:%S}",
    "Saved on :",
    "\tFile : jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpt",
    "Electrode material : ",
    "Electrolyte : ",
    "Comments : excerpt of jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr: every 40th point and the points around each step change",
    "Battery capacity : 0.000 A.h",
    "Cycle Definition : Charge/Discharge alternance",
    "Ns                  0                   1                   2                   3                   ",
    "Set I/C             I                   I                   I                   I                   ",
    "Is                  0.000               -88.796             88.796              -88.796             ",
    "unit Is             mA                  µA                  µA                  µA                  ",
    "EM (V)              pass                2.000               3.800               2.000               ",
    "",
]
write(OUT + "gcpl_5cycles_C09_excerpt.mpt", block, columns, comma=False)
print("gcpl rows", len(idx))

# 2. Modulo Bat: the first 300 points, French locale (decimal comma), with EC-Lab's cycle number.
m, c = load("00_test_04_MB_C01.mpr")
rows = slice(0, 300)
order = [
    "mode",
    "ox/red",
    "error",
    "control changes",
    "Ns changes",
    "counter inc.",
    "Ns",
    "time/s",
    "control/V",
    "Ewe/V",
    "I/mA",
    "dq/mA.h",
    "(Q-Qo)/mA.h",
    "I Range",
    "|Energy|/W.h",
    "Q charge/discharge/mA.h",
    "half cycle",
]
columns = {name: (c[name][rows], kind_of(c[name])) for name in order}
columns["cycle number"] = (np.zeros(300), "f8")
block = [
    "",
    "Modulo Bat",
    "",
    "Run on channel : 1",
    "User : ",
    f"Acquisition started on : {m.timestamp:%m/%d/%Y %H:%M:%S}.{m.timestamp.microsecond // 1000:03d}",
    "Saved on :",
    "\tFile : 00_test_04_MB_C01.mpt",
    "Comments : first 300 points of 00_test_04_MB_C01.mpr, exported with a decimal comma",
    "Battery capacity : 0,000 A.h",
    "",
]
write(OUT + "modulo_bat_C01_decimal_comma.mpt", block, columns, comma=True)
