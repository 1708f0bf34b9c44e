"""Independent truth for the real files of the regression snapshot (test_real_file_stats.py) that had no
independent check elsewhere: their first cycle's charge and discharge capacity derived without our code.

Each file's raw columns are read here with the csv module (openpyxl for the Neware workbook; galvani, the
third-party reader, for BioLogic's undocumented binary .mpr), never through our connectors, so our column
mapping, units, current sign and cycle assignment are bypassed. The first cycle is the rows that carry the
file's first instrument cycle number (the whole file when it has none), and it is integrated with a
hand-written trapezoid. Where the file has the instrument's own capacity counter, that is compared too.

`INDEPENDENT_CHECKS` lists, for every file of the snapshot, where its independent check lives.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import groupby, pairwise
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors import registry
from processors.cycle_stats import stats_of_frame
from tests.processors.test_real_file_stats import SNAPSHOT

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"

needs_galvani = pytest.mark.skipif(
    importlib.util.find_spec("galvani") is None,
    reason="the optional .mpr reader galvani is not installed (pip install 'blc-platform[biologic]')",
)


@dataclass(frozen=True)
class Row:
    """One logged sample: the file's cycle number, time in s and current in A (+ = charge), and the raw row
    (for the instrument's counters)."""

    cycle: str | None
    time_second: float
    current_ampere: float
    raw: dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Raw readers: plain parsing of each vendor layout
# ---------------------------------------------------------------------------------------------------------


def arbin_csv_rows(path: Path) -> list[Row]:
    """Arbin CSV (BEEP style): SI units, + = charge as written; Cycle_Index may be empty."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Row(r["Cycle_Index"] or None, float(r["Test_Time"]), float(r["Current"]), r)
            for r in csv.DictReader(handle)
        ]


def batteryarchive_rows(path: Path) -> list[Row]:
    """batteryarchive.org time series: SI units in the headers, + = charge as written."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Row(r["Cycle_Index"], float(r["Test_Time (s)"]), float(r["Current (A)"]), r)
            for r in csv.DictReader(handle)
        ]


def _maccor_seconds(row: dict[str, str]) -> float:
    if "Test (Sec)" in row:
        return float(row["Test (Sec)"])
    if "Test (Min)" in row:
        return float(row["Test (Min)"]) * 60
    days, clock = row["TestTime"].split()  # "0d 00:00:01.0000"
    hours, minutes, seconds = clock.split(":")
    return int(days.rstrip("d")) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def maccor_rows(path: Path) -> list[Row]:
    """Maccor text: a header block, then tab-separated rows under ``Rec#…``. Amps is signed by State: C
    charges (+), D discharges (−); other states keep the value as written (all 0 A in these files)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        lines = list(csv.reader(handle, delimiter="\t"))
    start = next(n for n, cells in enumerate(lines) if cells and cells[0] == "Rec#")
    headers = [cell.strip() for cell in lines[start]]
    rows = [dict(zip(headers, cells, strict=False)) for cells in lines[start + 1 :] if any(cells)]
    sign = {"C": 1.0, "D": -1.0}
    return [
        Row(
            r["Cyc#"],
            _maccor_seconds(r),
            sign[r["State"]] * abs(float(r["Amps"])) if r["State"] in sign else float(r["Amps"]),
            r,
        )
        for r in rows
    ]


def biologic_mpt_rows(path: Path) -> list[Row]:
    """EC-Lab text export: line 2 says which line holds the tab-separated header; decimal commas, mA;
    EC-Lab's + current is an oxidation of the working electrode, i.e. charging a full cell."""
    lines = path.read_text(encoding="cp1252").splitlines()
    header_line = int(lines[1].split(":")[1])
    headers = lines[header_line - 1].split("\t")
    out = []
    for line in lines[header_line:]:
        if not line.strip():
            continue
        r = dict(zip(headers, line.split("\t"), strict=False))
        r = {k: v.replace(",", ".") for k, v in r.items()}
        out.append(Row(r["cycle number"], float(r["time/s"]), float(r["I/mA"]) / 1000, r))
    return out


def biologic_mpr_rows(path: Path) -> list[Row]:
    """EC-Lab binary: its columns as galvani decodes them (no cycle number is stored: one cycle here)."""
    from galvani import BioLogic

    with path.open("rb") as handle:
        data = BioLogic.MPRfile(handle).data
    names = [n for n in data.dtype.names if n != "flags"]
    return [Row(None, float(r["time/s"]), float(r["I/mA"]) / 1000, {n: r[n] for n in names}) for r in data]


def _hours_minutes_seconds(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def neware_xlsx_rows(path: Path) -> list[Row]:
    """Neware BTSDA workbook: the Record sheets in order; Cumulative Time as hh:mm:ss text, Current(A) signed
    (− on discharge) as written."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        out = []
        for sheet in book.worksheets:
            if not sheet.title.startswith("Record"):
                continue
            values = sheet.iter_rows(values_only=True)
            headers = [str(h) for h in next(values)]
            for cells in values:
                r = dict(zip(headers, cells, strict=False))
                time = _hours_minutes_seconds(r["Cumulative Time"])
                out.append(Row(str(r["Cycle Index"]), time, float(r["Current(A)"]), r))
        return out
    finally:
        book.close()


# ---------------------------------------------------------------------------------------------------------
# Truth: a hand trapezoid over the first cycle, and the instrument's own counters
# ---------------------------------------------------------------------------------------------------------


def first_cycle(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row.cycle == rows[0].cycle]


def hand_trapezoid_ah(rows: list[Row]) -> tuple[float, float]:
    """(charge, discharge) in Ah: each interval's trapezoid of the positive and of the negative current."""
    charge = discharge = 0.0
    for before, after in pairwise(rows):
        dt = after.time_second - before.time_second
        charge += dt * (max(before.current_ampere, 0.0) + max(after.current_ampere, 0.0)) / 2 / 3600
        discharge += dt * (max(-before.current_ampere, 0.0) + max(-after.current_ampere, 0.0)) / 2 / 3600
    return charge, discharge


@cache
def our_first_cycle(relative: str) -> pd.Series:
    _, stats = stats_of_frame(registry.read(DATA / relative).frame)
    return stats.iloc[0]


CH33 = "arbin/2017-05-09_test-TC-contact_CH33.csv"
FAST_CHARGE = "arbin/FastCharge_000025_CH8.csv"
CALCE = "batteryarchive/CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv"
MB_MPR = "biologic/00_test_04_MB_C01.mpr"
MB_MPT = "biologic/modulo_bat_C01_decimal_comma.mpt"
PREDIAG = "maccor/PreDiag_000412_00008Fshort.022"
PREDICTION = "maccor/PredictionDiagnostics_000109_tztest.010"
MACCOR_EXAMPLE = "maccor/maccor_example.001"
MACCOR_EIS = "maccor/maccor_test_file_4267-66-6519.041"
TESLA = "maccor/xTESLADIAG_000019_CH70.070"
NEWARE_XLSX = "neware/neware_uio_record.xlsx"


@pytest.mark.parametrize(
    ("relative", "read_rows"),
    [
        pytest.param(CH33, arbin_csv_rows, id=CH33),  # no cycle counter: the whole file
        pytest.param(FAST_CHARGE, arbin_csv_rows, id=FAST_CHARGE),  # rest only: 0 A throughout
        pytest.param(CALCE, batteryarchive_rows, id=CALCE),
        pytest.param(MB_MPR, biologic_mpr_rows, id=MB_MPR, marks=needs_galvani),
        pytest.param(MB_MPT, biologic_mpt_rows, id=MB_MPT),
        pytest.param(PREDIAG, maccor_rows, id=PREDIAG),
        pytest.param(PREDICTION, maccor_rows, id=PREDICTION),  # starts inside a CV charge, Cyc# 86
        pytest.param(MACCOR_EXAMPLE, maccor_rows, id=MACCOR_EXAMPLE),  # rest only, times in minutes
        pytest.param(MACCOR_EIS, maccor_rows, id=MACCOR_EIS),  # EIS and rest only, d hh:mm:ss times
        pytest.param(TESLA, maccor_rows, id=TESLA),  # Cyc# 0: the opening discharge alone
        pytest.param(NEWARE_XLSX, neware_xlsx_rows, id=NEWARE_XLSX),
    ],
)
def test_first_cycle_capacity_equals_a_hand_trapezoid_of_the_raw_columns(
    relative: str, read_rows: Callable[[Path], list[Row]]
) -> None:
    """The same samples and the same rule (docs/design.md §5), computed apart: equal to rounding (1e-9 relative),
    and the first cycle holds exactly the rows of the file's first cycle number."""
    cycle = first_cycle(read_rows(DATA / relative))
    charge_ah, discharge_ah = hand_trapezoid_ah(cycle)

    ours = our_first_cycle(relative)

    assert ours["n_points"] == len(cycle)
    assert ours["charge_capacity_ah"] == pytest.approx(charge_ah, rel=1e-9, abs=1e-15)
    assert ours["discharge_capacity_ah"] == pytest.approx(discharge_ah, rel=1e-9, abs=1e-15)


def arbin_counted(rows: list[Row]) -> tuple[float, float]:
    """Arbin's Charge/Discharge_Capacity restart each cycle; the file may start inside a charge, so what
    the file holds is max − min."""
    charge = [float(row.raw["Charge_Capacity"]) for row in rows]
    discharge = [float(row.raw["Discharge_Capacity"]) for row in rows]
    return max(charge) - min(charge), max(discharge) - min(discharge)


def batteryarchive_counted(rows: list[Row]) -> tuple[float, float]:
    """The archive's test-wide counters: last − first over the cycle."""
    charge = [float(row.raw["Charge_Capacity (Ah)"]) for row in rows]
    discharge = [float(row.raw["Discharge_Capacity (Ah)"]) for row in rows]
    return charge[-1] - charge[0], discharge[-1] - discharge[0]


def maccor_counted(rows: list[Row]) -> tuple[float, float]:
    """Maccor's Amp-hr restarts at every step and counts in the step's state: the sum of each C (D) step's
    last value. The cycle's first step counts from its first logged value: the file may start inside it."""
    counted = {"C": 0.0, "D": 0.0}
    for index, ((_, state), run) in enumerate(groupby(rows, key=lambda r: (r.raw["Step"], r.raw["State"]))):
        values = [float(row.raw["Amp-hr"]) for row in run]
        if state in counted:
            counted[state] += values[-1] - (values[0] if index == 0 else 0.0)
    return counted["C"], counted["D"]


def biologic_counted(rows: list[Row]) -> tuple[float, float]:
    """EC-Lab's Q charge/discharge (mA.h) restarts each half cycle, + while charging, − while discharging;
    these files hold one half cycle of each sign at most."""
    q = [float(row.raw["Q charge/discharge/mA.h"]) / 1000 for row in rows]
    return max(max(q), 0.0), max(-min(q), 0.0)


def neware_counted(rows: list[Row]) -> tuple[float, float]:
    """Neware's Chg./DChg. Cap.(Ah) restart at every step: the sum of each step's last value."""
    charge = discharge = 0.0
    for _, run in groupby(rows, key=lambda r: r.raw["Step Index"]):
        last = list(run)[-1].raw
        charge += float(last["Chg. Cap.(Ah)"])
        discharge += float(last["DChg. Cap.(Ah)"])
    return charge, discharge


@pytest.mark.parametrize(
    ("relative", "read_rows", "counted", "rel", "abs_ah"),
    [
        # Rows 0.1 ms to 10 s apart while the current falls from 6.6 A to 1.1 A: the instrument integrates
        # between the logged rows, the trapezoid joins them with straight lines. 2.3e-4 apart.
        pytest.param(CH33, arbin_csv_rows, arbin_counted, 1e-3, 1e-9, id=CH33),
        # The counter is written to the mAh (0.059): agreement within half of its last digit.
        pytest.param(CALCE, batteryarchive_rows, batteryarchive_counted, 0.0, 5e-4, id=CALCE),
        # 44 µA logged every 1 ms scatters by 1.6 % from point to point; EC-Lab sums the charge it measured
        # over each interval, not the mean of two logged values: 0.05 % (.mpr) and 0.1 % (.mpt) apart.
        pytest.param(
            MB_MPR, biologic_mpr_rows, biologic_counted, 2e-3, 1e-15, id=MB_MPR, marks=needs_galvani
        ),
        pytest.param(MB_MPT, biologic_mpt_rows, biologic_counted, 2e-3, 1e-15, id=MB_MPT),
        # Logged every 1 s (Tesla) to 120 s (PreDiag): within 6e-5. PredictionDiagnostics' first cycle is
        # the tail of a CV charge whose current decays between 30 s samples: the trapezoid of a convex
        # current lies above it, by 3e-4.
        pytest.param(PREDIAG, maccor_rows, maccor_counted, 5e-4, 1e-15, id=PREDIAG),
        pytest.param(PREDICTION, maccor_rows, maccor_counted, 5e-4, 1e-15, id=PREDICTION),
        pytest.param(TESLA, maccor_rows, maccor_counted, 5e-4, 1e-15, id=TESLA),
        # Logged every 60 s; the counters are written to 10 nAh (a few 1e-6 of these capacities): 1.1e-5.
        pytest.param(NEWARE_XLSX, neware_xlsx_rows, neware_counted, 1e-4, 1e-15, id=NEWARE_XLSX),
    ],
)
def test_first_cycle_capacity_agrees_with_the_instruments_own_counter(
    relative: str,
    read_rows: Callable[[Path], list[Row]],
    counted: Callable[[list[Row]], tuple[float, float]],
    rel: float,
    abs_ah: float,
) -> None:
    """What the instrument counted (at its own, higher, internal rate) against our recalculation from the
    logged samples: close, never equal; each tolerance says why."""
    charge_ah, discharge_ah = counted(first_cycle(read_rows(DATA / relative)))

    ours = our_first_cycle(relative)

    assert ours["charge_capacity_ah"] == pytest.approx(charge_ah, rel=rel, abs=abs_ah)
    assert ours["discharge_capacity_ah"] == pytest.approx(discharge_ah, rel=rel, abs=abs_ah)


# ---------------------------------------------------------------------------------------------------------
# Every snapshot file has its independent check
# ---------------------------------------------------------------------------------------------------------

_HERE = "tests/processors/test_real_file_truth.py"
_TRAPEZOID = f"{_HERE}::test_first_cycle_capacity_equals_a_hand_trapezoid_of_the_raw_columns"
_COUNTER = f"{_HERE}::test_first_cycle_capacity_agrees_with_the_instruments_own_counter"

#: Snapshot file → the tests that check its capacities against a truth derived apart from our code.
INDEPENDENT_CHECKS: dict[str, tuple[str, ...]] = {
    "arbin/20160805_test001_45_cc_01.res": (
        "tests/connectors/test_arbin_binary.py::test_res_anode_half_cell_discharges_first",
        "tests/processors/test_peer_conventions.py::"
        "test_cellpy_anode_mode_ce_is_the_inverse_of_our_full_cell_ce_on_a_half_cell",
    ),
    CH33: (_TRAPEZOID, _COUNTER),
    FAST_CHARGE: (_TRAPEZOID,),
    "arbin/arbin_example.csv": (
        "tests/processors/test_cycle_stats.py::test_real_arbin_file_matches_exact_trapezoid",
        "tests/processors/test_peer_conventions.py::"
        "test_beep_max_of_arbin_counters_is_our_reported_capacity_when_the_counter_starts_at_zero",
    ),
    "arbin/arbin_example.res": ("tests/connectors/test_arbin_binary.py::test_res_example_cycle_stats",),
    "arbin/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx": (
        "tests/connectors/test_arbin_binary.py::test_xlsx_cycle_stats",
    ),
    "arbin/mits_pro_bs542_channel_11.csv": (
        "tests/processors/test_cycle_stats.py::test_real_arbin_file_matches_exact_trapezoid",
    ),
    CALCE: (_TRAPEZOID, _COUNTER),
    "batterydata/p492-13-raw.csv": (
        "tests/connectors/test_batterydata.py::test_cycle_capacities_agree_with_the_sources_summary",
    ),
    "bdf/cell_a.bdf.csv": ("tests/connectors/test_bdf.py::test_reads_labelled_csv_with_sidecar",),
    "bdf/cell_b.bdf.csv": (
        "tests/connectors/test_bdf.py::test_reads_machine_names_and_leaves_text_step_id_unmapped",
    ),
    MB_MPR: (_TRAPEZOID, _COUNTER),
    "biologic/gcpl_5cycles_C09_excerpt.mpt": (
        "tests/connectors/test_biologic.py::test_gcpl_mpt_matches_the_mpr_it_came_from",
        "tests/processors/test_peer_conventions.py::"
        "test_navani_against_biologics_counter_on_a_gcpl_file_with_a_partial_first_discharge",
    ),
    "biologic/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr": (
        "tests/connectors/test_biologic.py::test_gcpl_mpr_cycle_capacities",
    ),
    MB_MPT: (_TRAPEZOID, _COUNTER),
    "generic/lab_rig_run1.csv": (
        "tests/connectors/test_generic.py::test_per_file_mapping_converts_to_si_and_charge_positive",
    ),
    "generic/shared_mapping/rig_c_log.csv": (
        "tests/connectors/test_generic.py::test_folder_mapping_with_durations",
    ),
    PREDIAG: (_TRAPEZOID, _COUNTER),
    PREDICTION: (_TRAPEZOID, _COUNTER),
    "maccor/maccor_001.txt": (
        "tests/processors/test_peer_conventions.py::"
        "test_beep_max_of_a_step_reset_counter_keeps_only_the_cc_part_of_a_cc_cv_charge",
        "tests/processors/test_peer_conventions.py::"
        "test_navani_pairs_discharge_then_charge_on_a_discharge_first_maccor_file",
        "tests/processors/test_real_file_metrics.py::test_cv_detection_agrees_with_maccors_own_cv_steps",
    ),
    MACCOR_EXAMPLE: (_TRAPEZOID,),
    MACCOR_EIS: (_TRAPEZOID,),
    TESLA: (_TRAPEZOID, _COUNTER),
    "neware/neware_uio.csv": (
        "tests/connectors/test_neware.py::test_flat_csv_step_counters_sum_to_the_recalculated_cycles",
    ),
    NEWARE_XLSX: (_TRAPEZOID, _COUNTER),
    "neware/nw_regular_export_ife_example.csv": (
        "tests/connectors/test_neware.py::test_nested_csv_cycles_match_the_files_cycle_rows",
    ),
    "neware/test.nda": ("tests/connectors/test_neware.py::test_nda_cycles",),
    "neware/test.ndax": ("tests/connectors/test_neware.py::test_ndax_real_values_and_cycles",),
    "novonix/test_Nova_Form-CH01-01_short.csv": (
        "tests/connectors/test_novonix.py::test_cycle_stats_match_the_files_own_capacity_counter",
    ),
    "pec/pec.csv": ("tests/connectors/test_pec.py::test_cycle_stats_match_reported_counters",),
}


def test_every_snapshot_file_has_an_independent_check() -> None:
    """A file added to the regression snapshot needs a check against truth derived apart from our code (a
    hand trapezoid of its raw columns, the instrument's own counters, a peer's convention); name it here."""
    assert set(INDEPENDENT_CHECKS) == {param.id for param in SNAPSHOT}
    for relative, checks in INDEPENDENT_CHECKS.items():
        for check in checks:
            module, name = check.split("::")
            source = (TESTS.parent / module).read_text(encoding="utf-8")
            assert f"def {name}(" in source, check
            assert Path(relative).name in source or module == _HERE, (relative, check)
