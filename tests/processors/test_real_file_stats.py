"""Regression snapshot of every real file in tests/data through the processor: its cycle count and its
first cycle's figures, the issue-5 metrics included (CV capacity, cell temperature, resistance, completeness:
a first cycle that only discharges, as in a test that starts charged, is kept but is not complete).

The numbers are what our code computed on 2026-11-28: they guard against a change nobody noticed; they do
not show that the numbers are right. That is the job of the independent checks every file here has (listed
file by file in test_real_file_truth.py: a hand trapezoid of the raw columns, the instrument's own counters,
or a peer's convention). A change here is a change of convention and belongs in docs/adr/."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from connectors import registry
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"


#: (path, cycles, first cycle's charge Ah, discharge Ah, CV Ah, mean temperature °C, resistance Ω, complete)
SNAPSHOT = [
    pytest.param(
        "arbin/20160805_test001_45_cc_01.res",
        18,
        0.001625642,
        0.001755351,
        0.0,
        None,
        56.4866,
        True,
        id="arbin/20160805_test001_45_cc_01.res",
    ),
    pytest.param(
        "arbin/2017-05-09_test-TC-contact_CH33.csv",
        1,
        0.6029517,
        0.0,
        0.0,
        26.18297,
        None,
        False,
        id="arbin/2017-05-09_test-TC-contact_CH33.csv",
    ),
    pytest.param(
        "arbin/FastCharge_000025_CH8.csv",
        1,
        0.0,
        0.0,
        0.0,
        29.48445,
        None,
        False,
        id="arbin/FastCharge_000025_CH8.csv",
    ),
    pytest.param(
        "arbin/arbin_example.csv",
        2,
        0.1912257,
        1.072897,
        0.03169965,
        29.3977,
        0.01709767,
        False,
        id="arbin/arbin_example.csv",
    ),
    pytest.param(
        "arbin/arbin_example.res",
        5,
        0.0004849468,
        0.0004737341,
        0.0,
        None,
        None,
        True,
        id="arbin/arbin_example.res",
    ),
    pytest.param(
        "arbin/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx",
        1,
        0.005703196,
        0.01105491,
        0.0,
        None,
        None,
        False,
        id="arbin/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx",
    ),
    pytest.param(
        "arbin/mits_pro_bs542_channel_11.csv",
        1,
        0.005703196,
        0.01105491,
        0.0,
        None,
        None,
        False,
        id="arbin/mits_pro_bs542_channel_11.csv",
    ),
    pytest.param(
        "batteryarchive/CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv",
        1,
        0.05904781,
        0.0,
        0.0,
        None,
        None,
        False,
        id="batteryarchive/CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv",
    ),
    pytest.param(
        "batterydata/p492-13-raw.csv",
        9,
        0.0,
        0.0007170268,
        0.0,
        29.81565,
        None,
        False,
        id="batterydata/p492-13-raw.csv",
    ),
    pytest.param(
        "bdf/cell_a.bdf.csv", 2, 0.05138889, 0.05138889, 0.0, None, None, True, id="bdf/cell_a.bdf.csv"
    ),
    pytest.param(
        "bdf/cell_b.bdf.csv", 1, 0.04869792, 0.04861111, 0.0, None, None, True, id="bdf/cell_b.bdf.csv"
    ),
    pytest.param(
        "biologic/00_test_04_MB_C01.mpr",
        1,
        0.0,
        1.794401e-08,
        0.0,
        None,
        None,
        False,
        id="biologic/00_test_04_MB_C01.mpr",
    ),
    pytest.param(
        "biologic/gcpl_5cycles_C09_excerpt.mpt",
        6,
        0.000986753,
        0.001058387,
        0.0,
        None,
        None,
        True,
        id="biologic/gcpl_5cycles_C09_excerpt.mpt",
    ),
    pytest.param(
        "biologic/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr",
        6,
        0.0009867811,
        0.001059381,
        0.0,
        None,
        None,
        True,
        id="biologic/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr",
    ),
    pytest.param(
        "biologic/modulo_bat_C01_decimal_comma.mpt",
        1,
        0.0,
        3.610437e-09,
        0.0,
        None,
        None,
        False,
        id="biologic/modulo_bat_C01_decimal_comma.mpt",
    ),
    pytest.param(
        "generic/lab_rig_run1.csv",
        2,
        0.06833333,
        0.05666667,
        0.0,
        22.85,
        None,
        True,
        id="generic/lab_rig_run1.csv",
    ),
    pytest.param(
        "generic/shared_mapping/rig_c_log.csv",
        1,
        0.5041667,
        0.5,
        0.0,
        None,
        None,
        True,
        id="generic/shared_mapping/rig_c_log.csv",
    ),
    pytest.param(
        "maccor/PreDiag_000412_00008Fshort.022",
        340,
        1.651947,
        4.714822,
        0.1792742,
        None,
        None,
        True,
        id="maccor/PreDiag_000412_00008Fshort.022",
    ),
    pytest.param(
        "maccor/PredictionDiagnostics_000109_tztest.010",
        4,
        1.011921,
        1.937682,
        1.01192,
        None,
        None,
        True,
        id="maccor/PredictionDiagnostics_000109_tztest.010",
    ),
    pytest.param(
        "maccor/maccor_001.txt", 5, 0.0, 0.6378052, 0.0, None, None, False, id="maccor/maccor_001.txt"
    ),
    pytest.param(
        "maccor/maccor_example.001", 1, 0.0, 0.0, 0.0, None, None, False, id="maccor/maccor_example.001"
    ),
    pytest.param(
        "maccor/maccor_test_file_4267-66-6519.041",
        1,
        0.0,
        0.0,
        0.0,
        None,
        None,
        False,
        id="maccor/maccor_test_file_4267-66-6519.041",
    ),
    pytest.param(
        "maccor/xTESLADIAG_000019_CH70.070",
        32,
        0.0,
        0.1247248,
        0.0,
        None,
        None,
        False,
        id="maccor/xTESLADIAG_000019_CH70.070",
    ),
    pytest.param(
        "neware/neware_uio.csv",
        4,
        0.004249352,
        0.005086225,
        0.0,
        None,
        None,
        True,
        id="neware/neware_uio.csv",
    ),
    pytest.param(
        "neware/neware_uio_record.xlsx",
        4,
        0.004249352,
        0.005086225,
        0.0,
        None,
        None,
        True,
        id="neware/neware_uio_record.xlsx",
    ),
    pytest.param(
        "neware/nw_regular_export_ife_example.csv",
        20,
        0.02263074,
        0.3307096,
        0.0,
        26.67841,
        None,
        True,
        id="neware/nw_regular_export_ife_example.csv",
    ),
    pytest.param(
        "neware/test.nda",
        1,
        6.923194e-07,
        7.011706e-06,
        6.858194e-07,
        None,
        None,
        True,
        id="neware/test.nda",
    ),
    pytest.param(
        "neware/test.ndax",
        1,
        0.0005927708,
        0.0006266263,
        0.0001618654,
        None,
        None,
        True,
        id="neware/test.ndax",
    ),
    pytest.param(
        "novonix/test_Nova_Form-CH01-01_short.csv",
        1,
        0.02947075,
        0.0,
        0.0001768011,
        39.22322,
        None,
        False,
        id="novonix/test_Nova_Form-CH01-01_short.csv",
    ),
    pytest.param("pec/pec.csv", 3, 0.0, 11.63649, 0.0, 25.19458, None, False, id="pec/pec.csv"),
]


@pytest.mark.parametrize(
    ("path", "cycles", "charge_ah", "discharge_ah", "cv_ah", "temperature_c", "resistance_ohm", "complete"),
    SNAPSHOT,
)
def test_first_cycle_of_every_real_file_regression_snapshot(
    path: str,
    cycles: int,
    charge_ah: float,
    discharge_ah: float,
    cv_ah: float,
    temperature_c: float | None,
    resistance_ohm: float | None,
    complete: bool,
) -> None:
    """Our figures as computed on 2026-11-28: a guard against unnoticed change, not a proof of correctness."""
    _, stats = stats_of_frame(registry.read(DATA / path).frame)
    first = stats.iloc[0]

    assert len(stats) == cycles
    assert first["charge_capacity_ah"] == pytest.approx(charge_ah, rel=1e-6, abs=1e-15)
    assert first["discharge_capacity_ah"] == pytest.approx(discharge_ah, rel=1e-6, abs=1e-15)
    assert first["cv_capacity_ah"] == pytest.approx(cv_ah, rel=1e-6, abs=1e-15)
    assert first["cc_capacity_ah"] == pytest.approx(first["charge_capacity_ah"] - first["cv_capacity_ah"])
    for name, expected in (
        ("temperature_mean_celsius", temperature_c),
        ("internal_resistance_ohm", resistance_ohm),
    ):
        if expected is None:
            assert math.isnan(first[name]), name
        else:
            assert first[name] == pytest.approx(expected, rel=1e-6), name
    assert bool(first["complete"]) is complete
