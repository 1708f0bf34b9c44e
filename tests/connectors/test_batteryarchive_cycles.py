"""batteryarchive.org per-cycle download (real excerpt, tests/data/NOTICE): read, sniff, write, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors import arbin, batteryarchive, batteryarchive_cycles, pec
from connectors.base import FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
FILE = DATA / "batteryarchive" / "CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_cycle_data.csv"
TIMESERIES = DATA / "batteryarchive" / "CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv"


def test_reads_real_file() -> None:
    cycles = batteryarchive_cycles.read_cycle_data(FILE)

    assert list(cycles.columns) == list(batteryarchive_cycles.CYCLE_DATA_COLUMNS)
    assert len(cycles) == 9
    assert cycles["cycle_index"].dtype == "Int64"
    assert cycles["cycle_index"].tolist() == list(range(1, 10))
    # line 2: 1.0,,,12923.434,-0.674,1.124,2.699,4.2,0.604,1.292,2.5,4.758
    first = cycles.iloc[0]
    assert first["test_time_end_second"] == pytest.approx(12923.434)
    assert first["current_min_a"] == pytest.approx(-0.674)
    assert first["current_max_a"] == pytest.approx(1.124)
    assert first["voltage_min_v"] == pytest.approx(2.699)
    assert first["voltage_max_v"] == pytest.approx(4.2)
    assert first["charge_capacity_ah"] == pytest.approx(0.604)
    assert first["discharge_capacity_ah"] == pytest.approx(1.292)
    assert first["charge_energy_wh"] == pytest.approx(2.5)
    assert first["discharge_energy_wh"] == pytest.approx(4.758)
    assert cycles["discharge_capacity_ah"].iloc[-1] == pytest.approx(1.291)
    assert cycles["start_time"].isna().all() and cycles["end_time"].isna().all()


def test_sniff_tells_cycle_data_from_time_series() -> None:
    head = FileHead.read(FILE)

    assert batteryarchive_cycles.sniff_cycle_data(head)
    assert not batteryarchive_cycles.sniff_cycle_data(FileHead.read(TIMESERIES))
    for other in ("arbin/arbin_example.csv", "pec/pec.csv", "batterydata/p492-13-summary.csv"):
        assert not batteryarchive_cycles.sniff_cycle_data(FileHead.read(DATA / other))
    # and no time-series connector claims the per-cycle file
    for connector in (batteryarchive.CONNECTOR, arbin.CONNECTOR, pec.CONNECTOR):
        assert not connector.sniff(head)


def test_round_trip_read_write_read(tmp_path: Path) -> None:
    cycles = batteryarchive_cycles.read_cycle_data(FILE)
    out = tmp_path / "cell_cycle_data.csv"

    batteryarchive_cycles.write_cycle_data(cycles, out)

    pd.testing.assert_frame_equal(batteryarchive_cycles.read_cycle_data(out), cycles)
    assert out.read_text().splitlines() == FILE.read_text().splitlines()  # same bytes as the archive's


def test_writes_our_cycle_stats(tmp_path: Path) -> None:
    _, stats = stats_of_frame(pec.CONNECTOR.read(DATA / "pec" / "pec.csv").frame)
    out = tmp_path / "pec_cycle_data.csv"

    batteryarchive_cycles.write_cycle_data(stats, out)

    assert out.read_text().splitlines()[0] == ",".join(batteryarchive_cycles.HEADERS)
    back = batteryarchive_cycles.read_cycle_data(out)
    assert back["cycle_index"].tolist() == [1, 2, 3]
    assert back["start_time"].isna().all()  # our statistics keep no wall-clock times
    for name in batteryarchive_cycles.CYCLE_DATA_COLUMNS[3:]:
        np.testing.assert_array_equal(back[name].to_numpy(), stats[name].to_numpy(dtype=np.float64))
    assert back["discharge_capacity_ah"].iloc[1] == pytest.approx(44.35202253368908)


def test_milliamp_hour_headers_are_scaled(tmp_path: Path) -> None:
    path = tmp_path / "ma_cycle_data.csv"
    path.write_text(
        "Cycle_Index,Test_Time (s),Min_Current (mA),Max_Current (mA),Charge_Capacity (mAh),"
        "Discharge_Capacity (mAh)\n1,100.5,-500,500,1200,1190\n"
    )

    cycles = batteryarchive_cycles.read_cycle_data(path)

    assert cycles["current_min_a"].iloc[0] == pytest.approx(-0.5)
    assert cycles["charge_capacity_ah"].iloc[0] == pytest.approx(1.2)
    assert "charge_energy_wh" not in cycles


@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        pytest.param(lambda ls: [*ls[:4], ls[4][:20]], 5, "expected 12 fields, found", id="truncated"),
        pytest.param(
            lambda ls: [*ls[:6], ls[6].replace("1.29,", "1.2x9,"), *ls[7:]],
            7,
            "'Discharge_Capacity (Ah)': value '1.2x9' is not a number",
            id="text-in-number",
        ),
        pytest.param(
            lambda ls: [*ls[:2], ls[2].replace("2.0,", "2.5,", 1), *ls[3:]],
            3,
            "not a whole number",
            id="fractional-cycle",
        ),
    ],
)
def test_corrupt_file_names_line(tmp_path: Path, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken_cycle_data.csv"
    path.write_text("".join(mutate(FILE.read_text().splitlines(keepends=True))))

    with pytest.raises(CorruptFile) as caught:
        batteryarchive_cycles.read_cycle_data(path)

    assert caught.value.line == line
    assert str(caught.value).startswith("broken_cycle_data.csv: line ")
    assert words in str(caught.value)
