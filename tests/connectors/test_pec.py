"""PEC CSV connector on a real export (tests/data/NOTICE): header block, mV/mA/mAh units, mWh "capacity"."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import pec
from connectors.base import REQUIRED_COLUMNS, FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
FILE = DATA / "pec" / "pec.csv"
HEADER_LINE = 33


def test_reads_real_file() -> None:
    result = pec.CONNECTOR.read(FILE)
    frame = result.frame

    assert result.format == "pec_csv"
    assert len(frame) == 16255
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert result.first_data_line == HEADER_LINE + 1
    assert frame["test_time_second"].iloc[0] == 1.0
    assert frame["test_time_second"].iloc[-1] == pytest.approx(323010.183)
    # line 40: 187,1,SBT0550,001,1,,1,0,31.183,1,1,0,1,02/22/2019 16:23:57,…,3268.6792,-1640.1,0,0.455,0,1.487,…
    row = frame.iloc[40 - HEADER_LINE - 1]
    assert row["test_time_second"] == pytest.approx(31.183)
    assert row["step_time_second"] == pytest.approx(1.0)
    assert row["voltage_volt"] == pytest.approx(3.2686792)  # mV
    assert row["current_ampere"] == pytest.approx(-1.6401)  # mA, discharge already negative
    assert row["cycle_discharging_capacity_ah"] == pytest.approx(0.000455)  # mAh
    assert row["cycle_discharging_energy_wh"] == pytest.approx(0.001487)  # "Discharge Capacity (mWh)"
    assert row["ambient_temperature_celsius"] == pytest.approx(25.83)
    assert row["surface_temperature_celsius"] == pytest.approx(25.0)
    assert row["step_id"] == 1
    assert row["cycle_count"] == 0
    # 02/22/2019 16:23:57, read as UTC when no lab timezone is given
    assert row["unix_time_second"] == pytest.approx(1550852637.0)
    assert frame["surface_temperature_celsius"].isna().sum() == 16255 - 5389  # logged on some rows only
    assert (frame["current_ampere"] > 1.6).any()  # charge positive


def test_lab_timezone_applies_to_real_time() -> None:
    frame = pec.CONNECTOR.read(FILE, timezone="Europe/Amsterdam").frame

    assert frame["unix_time_second"].iloc[0] == pytest.approx(1550852607.0 - 3600)  # CET = UTC+1


def test_metadata_and_unmapped_columns() -> None:
    result = pec.CONNECTOR.read(FILE)

    assert result.metadata["test"] == "187"
    assert result.metadata["procedure"] == "SAFT VL43EFe dQdV C/25"
    assert result.metadata["start_time"] == "02/22/2019 16:21:35"
    assert "end_time" not in result.metadata  # "1/1/0001 0:00" means not ended
    for column in ("Rack", "Position", "ReasonCode", "Load On Time (Seconds)", "Station Temperature (°C)"):
        assert column in result.unmapped_columns
    assert "" not in result.unmapped_columns  # the trailing comma's empty column


def test_cycle_stats_match_reported_counters() -> None:
    frame = pec.CONNECTOR.read(FILE).frame

    rule, stats = stats_of_frame(frame)

    assert rule == "instrument_counter"
    assert len(stats) == 3  # PEC cycles 0, 1, 2
    assert stats["charge_capacity_ah"].iloc[0] == 0.0
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(11.636489334305498, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(44.424949308042066, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(44.35202253368908, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[2] == pytest.approx(44.258969206014484, rel=1e-6)
    # The instrument's own per-cycle counters agree within 0.03 %.
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(11.634168)
    assert stats["reported_charge_capacity_ah"].iloc[1] == pytest.approx(44.424915)
    assert stats["reported_discharge_capacity_ah"].iloc[1] == pytest.approx(44.351991)
    assert stats["reported_charge_energy_wh"].iloc[1] == pytest.approx(148.356771)
    for name in ("charge_capacity_ah", "discharge_capacity_ah", "charge_energy_wh", "discharge_energy_wh"):
        assert stats[name].to_numpy() == pytest.approx(stats[f"reported_{name}"].to_numpy(), rel=3e-4)
    # cycle 0 only discharges (the cell started charged): kept, not a complete cycle; cycle 2 is cut off
    assert stats["complete"].tolist() == [False, True, False]


@pytest.mark.parametrize(
    "other",
    [
        "arbin/arbin_example.csv",
        "batteryarchive/CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv",
        "maccor/maccor_example.001",
        "novonix/test_Nova_Form-CH01-01_short.csv",
        "batterydata/p492-13-raw.csv",
    ],
)
def test_sniff_accepts_pec_only(other: str) -> None:
    assert pec.CONNECTOR.sniff(FileHead.read(FILE))
    assert not pec.CONNECTOR.sniff(FileHead.read(DATA / other))


def _corrupt(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    lines = FILE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken_pec.csv"
    path.write_bytes(b"".join(mutate(lines)))
    return path


@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        pytest.param(
            lambda ls: [*ls[:100], ls[100][:25] + b"\n", *ls[101:]],
            101,
            "fields, found",
            id="truncated-mid-row",
        ),
        pytest.param(
            lambda ls: [*ls[:39], ls[39].replace(b",3268.6792,", b",3268.x792,"), *ls[40:]],
            40,
            "'Voltage (mV)': value '3268.x792' is not a number",
            id="text-in-number",
        ),
    ],
)
def test_corrupt_file_names_line(tmp_path: Path, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    path = _corrupt(tmp_path, mutate)

    with pytest.raises(CorruptFile) as caught:
        pec.CONNECTOR.read(path)

    assert caught.value.line == line
    assert str(caught.value).startswith("broken_pec.csv: line ")
    assert words in str(caught.value)
