"""Maccor text exports on real files (tests/data/NOTICE): both flavours, signs from State, stuck counters,
per-step capacity counters, the DST-ambiguous clock, and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from connectors import arbin, maccor, registry
from connectors.base import FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
MACCOR = DATA / "maccor"


@pytest.mark.parametrize(
    ("name", "rows", "last_time", "rule", "cycles", "second_cycle", "second_reported"),
    [
        pytest.param(
            "PreDiag_000412_00008Fshort.022",
            10344,
            3477720.65,
            "instrument_counter",
            340,
            (4.73361, 4.70877),
            (4.73298, 4.70874),
            id="prediag-340-cycles",
        ),
        pytest.param(
            "PredictionDiagnostics_000109_tztest.010",
            2165,
            1837417.86,
            "instrument_counter",
            4,
            (2.56448, 1.83948),
            (2.58322, 1.83945),
            id="prediction-diagnostics",
        ),
        pytest.param(
            "maccor_001.txt",
            6704,
            183171.57,
            "charge_discharge_transitions:counter_stuck",
            5,
            (4.52259, 4.54402),
            (4.52256, 4.54402),  # Amp-hr restarts at the CV step: both steps counted
            id="cellpy-duration-times-cyc0",
        ),
        pytest.param(
            "xTESLADIAG_000019_CH70.070",
            11669,
            136344.95,
            "charge_discharge_transitions:counter_stuck",
            32,  # Cyc# 0, then 30 cycles under Cyc# 1, then Cyc# 2
            (2.84695, 3.02952),
            (2.84683, 3.02947),
            id="tesla-diag-stuck-counter",
        ),
    ],
)
def test_reads_real_files_with_cycles_and_capacities(
    name: str, rows: int, last_time: float, rule: str, cycles: int, second_cycle, second_reported
) -> None:
    result = registry.read(MACCOR / name)
    frame = result.frame

    assert result.format == "maccor_text"
    assert len(frame) == rows
    assert frame["test_time_second"].iloc[-1] == pytest.approx(last_time)
    cycle_rule, stats = stats_of_frame(frame)
    assert cycle_rule.value == rule
    assert len(stats) == cycles
    second = stats.iloc[1]
    assert (second["charge_capacity_ah"], second["discharge_capacity_ah"]) == pytest.approx(
        second_cycle, rel=1e-5
    )
    assert (second["reported_charge_capacity_ah"], second["reported_discharge_capacity_ah"]) == pytest.approx(
        second_reported, rel=1e-5
    )


@pytest.mark.parametrize(
    ("name", "rows", "last_time"),
    [
        pytest.param("maccor_example.001", 8, 70.002, id="bdt-example-8-rows"),
        pytest.param("maccor_test_file_4267-66-6519.041", 74, 10.0, id="eis-rest-only"),
    ],
)
def test_reads_tiny_rest_only_files(name: str, rows: int, last_time: float) -> None:
    frame = registry.read(MACCOR / name).frame
    _, stats = stats_of_frame(frame)

    assert len(frame) == rows
    assert frame["test_time_second"].iloc[-1] == pytest.approx(last_time)
    assert len(stats) == 1
    assert stats["charge_capacity_ah"].iloc[0] == 0.0
    assert not stats["complete"].iloc[0]


def test_unsigned_amps_take_their_sign_from_state() -> None:
    # PreDiag line 4: 1	1	1	0	0	0	0	0	3.89501793	R …; cycle 1 discharges at about −4.8 A (state D)
    frame = maccor.CONNECTOR.read(MACCOR / "PreDiag_000412_00008Fshort.022").frame

    assert frame["voltage_volt"].iloc[0] == pytest.approx(3.89501793)
    assert frame["current_ampere"].min() == pytest.approx(-9.6868848707)
    assert frame["current_ampere"].max() == pytest.approx(4.845960174)
    charging = frame["step_charging_capacity_ah"].notna()
    assert (frame.loc[charging, "current_ampere"] >= 0).all()
    assert (frame.loc[frame["step_discharging_capacity_ah"].notna(), "current_ampere"] <= 0).all()


def test_header_block_becomes_metadata() -> None:
    result = maccor.CONNECTOR.read(MACCOR / "xTESLADIAG_000019_CH70.070")

    assert result.metadata["procedure"] == "xTESLADIAG_000019_CH70.000"
    assert result.metadata["barcode"] == "EXP"
    assert result.metadata["source_filename"].endswith("xTESLADIAG_000019_CH70.070")
    assert "WF Chg Cap" in result.unmapped_columns


def test_duration_times_and_unplugged_thermocouples() -> None:
    # maccor_001.txt: TestTime "  0d 00:00:5" and Aux #1 reading −2501.7 °C (nothing connected)
    result = maccor.CONNECTOR.read(MACCOR / "maccor_001.txt")
    frame = result.frame

    assert frame["test_time_second"].iloc[1] == pytest.approx(5.0)
    assert "temperature_t1_celsius" not in frame
    assert "Aux #1" in result.unmapped_columns


def test_repeated_dst_hour_is_placed_by_the_test_time() -> None:
    # The test ran through 2019-11-03 01:00–02:00 Pacific, which the wall clock shows twice.
    frame = maccor.CONNECTOR.read(
        MACCOR / "PredictionDiagnostics_000109_tztest.010", timezone="America/Los_Angeles"
    ).frame
    clock_minus_test = frame["unix_time_second"] - frame["test_time_second"]

    assert frame["unix_time_second"].notna().all()
    assert (np.diff(frame["unix_time_second"]) >= 0).all()
    assert clock_minus_test.max() - clock_minus_test.min() < 10  # no 3600 s jump


def test_mims_client_flavour_with_decimal_commas_and_minutes(tmp_path: Path) -> None:
    # maccor_two.txt ends with a row cut after 9 of its 28 fields: it is refused with that line …
    source = MACCOR / "maccor_two.txt"
    with pytest.raises(CorruptFile, match=r"maccor_two.txt: line 229: expected 28 fields, found 9"):
        maccor.CONNECTOR.read(source)

    # … and without that line the MIMS-client flavour reads: decimal commas, TestTime in minutes.
    whole = tmp_path / "maccor_two_complete.txt"
    whole.write_bytes(b"".join(source.read_bytes().splitlines(keepends=True)[:-1]))
    result = registry.read(whole)
    frame = result.frame

    assert result.format == "maccor_text"
    assert len(frame) == 213
    assert frame["test_time_second"].iloc[1] == pytest.approx(60.0)  # "1,000000" minutes, 60 s on DPT Time
    assert frame["voltage_volt"].iloc[0] == pytest.approx(0.1377)
    assert frame["cycle_count"].iloc[0] == 1  # "Cycle C"
    assert result.metadata["test_name"] == "KIT-SIMBA-013-2.081"
    assert result.metadata["started"] == "06/05/2021 11:23:46"


def test_sniff_accepts_maccor_and_rejects_others() -> None:
    for path in sorted(MACCOR.iterdir()):
        assert maccor.CONNECTOR.sniff(FileHead.read(path)), path.name
    assert not maccor.CONNECTOR.sniff(FileHead.read(DATA / "arbin" / "arbin_example.csv"))
    assert not arbin.CONNECTOR.sniff(FileHead.read(MACCOR / "maccor_001.txt"))


def test_non_number_names_its_line(tmp_path: Path) -> None:
    lines = (MACCOR / "maccor_example.001").read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace("3.30", "x.30", 1)
    broken = tmp_path / "broken.001"
    broken.write_text("".join(lines))

    with pytest.raises(
        CorruptFile, match=r"broken.001: line 5: column 'Volts': value 'x.30\d*' is not a number"
    ):
        maccor.CONNECTOR.read(broken)
