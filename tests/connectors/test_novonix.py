"""Novonix CSV connector on a real export (tests/data/NOTICE): quoted rows, hours, AM/PM times, sidecar."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from connectors import novonix
from connectors.base import REQUIRED_COLUMNS, FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
FILE = DATA / "novonix" / "test_Nova_Form-CH01-01_short.csv"
SIDECAR = DATA / "novonix" / "test_Nova_Form-CH01-01_short_metadata.csv"
HEADER_LINE = 58  # [Data] is line 57


def test_reads_real_file() -> None:
    result = novonix.CONNECTOR.read(FILE)
    frame = result.frame

    assert result.format == "novonix_csv"
    assert len(frame) == 3942
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert result.first_data_line == HEADER_LINE + 1
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == pytest.approx(17.4345750 * 3600)  # Run Time (h)
    # line 205: "2022-04-11 11:00:11 AM,1,8,0.0345806,0.0011194,0.0253713166,1.50041937,…,2,0"
    row = frame.iloc[205 - HEADER_LINE - 1]
    assert row["test_time_second"] == pytest.approx(0.0345806 * 3600)
    assert row["step_time_second"] == pytest.approx(0.0011194 * 3600)
    assert row["current_ampere"] == pytest.approx(0.0253713166)  # charging (CV part): positive
    assert row["voltage_volt"] == pytest.approx(1.50041937)
    assert row["temperature_t1_celsius"] == pytest.approx(39.05604935)
    assert row["step_id"] == 2
    assert row["cycle_count"] == 1
    # 2022-04-11 10:58:07 AM, read as UTC when no lab timezone is given; 4:24:11 AM the next day at the end
    assert frame["unix_time_second"].iloc[0] == pytest.approx(1649674687.0)
    assert frame["unix_time_second"].iloc[-1] == pytest.approx(1649737451.0)
    assert (frame["current_ampere"] >= 0).all()  # the excerpt only charges


def test_net_counters_and_board_temperature_are_unmapped() -> None:
    result = novonix.CONNECTOR.read(FILE)

    for column in ("Capacity (Ah)", "Energy (Wh)", "Step Type", "Circuit Temperature (°C)", "Step position"):
        assert column in result.unmapped_columns
    assert not any(c.endswith("capacity_ah") for c in result.frame.columns)


def test_cycle_stats_match_the_files_own_capacity_counter() -> None:
    frame = novonix.CONNECTOR.read(FILE).frame

    rule, stats = stats_of_frame(frame)

    assert rule == "instrument_counter"
    assert len(stats) == 1
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.029470746339631777, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == 0.0
    # The file's own (unmapped) net counter ends the excerpt at 0.0294679161 Ah and 0.0909615734 Wh.
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.0294679161, rel=2e-4)
    assert stats["charge_energy_wh"].iloc[0] == pytest.approx(0.0909615734, rel=2e-4)
    assert not stats["complete"].iloc[0]  # charge only: the excerpt stops mid-cycle


def test_metadata_from_summary_block_and_sidecar() -> None:
    metadata = novonix.CONNECTOR.read(FILE).metadata

    assert metadata["nominal_capacity_ah"] == 0.24
    assert metadata["channel"] == "01"
    assert metadata["cell_name"] == "Test_Form-CH01-01.csv"
    assert metadata["procedure"] == "XC_Formation_Entree_Test.pro1"
    assert metadata["start_time"] == "2022-04-11 10:58:07 AM"
    assert metadata["summary_sidecar"] == SIDECAR.name
    assert metadata["summary_cycles"] == 1.0


def test_summary_sidecar_per_cycle_values() -> None:
    summary = novonix.read_summary_sidecar(SIDECAR)

    assert summary["cycle_index"].tolist() == [1]
    assert summary["charge_capacity_ah"].iloc[0] == pytest.approx(0.0664822211)
    assert summary["discharge_capacity_ah"].iloc[0] == pytest.approx(0.076631919)
    assert summary["charge_energy_wh"].iloc[0] == pytest.approx(0.3407790273)


def test_without_sidecar_and_without_quotes(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(FILE.read_bytes().replace(b'"', b""))

    result = novonix.CONNECTOR.read(plain)

    assert "summary_sidecar" not in result.metadata
    pd.testing.assert_frame_equal(result.frame, novonix.CONNECTOR.read(FILE).frame)


def test_older_layout_signed_discharge_and_us_dates(tmp_path: Path) -> None:
    """Older exports: no Step Type column, step code under Step Number, signed current and net capacity."""
    path = tmp_path / "older.csv"
    path.write_text(
        "[Summary]\nNovonix HPC data file\nCapacity (Ah): 2.5\n[End Summary]\n[Data]\n"
        "Date and Time,Cycle Number,Step Number,Run Time (h), Step Time (h),Current (A),Potential (V),"
        "Capacity (Ah),Temperature (°C),Circuit Temperature (°C)\n"
        "1/3/2019 7:51:32 PM,1,0,0.1666667,0.1666667,0.0000000000,3.64269829,0.0000000000,20.0,23.472\n"
        "1/3/2019 7:51:33 PM,1,1,0.1668583,0.0001111,-1.5029767971,3.62379274,-0.0001252481,20.0,23.476\n"
        "1/3/2019 8:38:48 PM,2,7,0.9543556,0.0001583,0.2006092059,2.88836361,-0.9310345928,20.0,23.490\n"
    )

    assert novonix.CONNECTOR.sniff(FileHead.read(path))
    frame = novonix.CONNECTOR.read(path, timezone="America/Halifax").frame

    assert frame["current_ampere"].tolist() == pytest.approx([0.0, -1.5029767971, 0.2006092059])
    assert frame["step_time_second"].iloc[1] == pytest.approx(0.0001111 * 3600)
    # 1/3/2019 7:51:32 PM in Halifax (AST, UTC−4) is 23:51:32 UTC
    assert frame["unix_time_second"].iloc[0] == pytest.approx(1546559492.0)
    assert frame["cycle_count"].tolist() == [1, 1, 2]


@pytest.mark.parametrize(
    "other",
    [
        "arbin/arbin_example.csv",
        "batteryarchive/CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv",
        "maccor/maccor_example.001",
        "novonix/test_Nova_Form-CH01-01_short_metadata.csv",
        "pec/pec.csv",
        "batterydata/p492-13-raw.csv",
    ],
)
def test_sniff_accepts_novonix_only(other: str) -> None:
    assert novonix.CONNECTOR.sniff(FileHead.read(FILE))
    assert not novonix.CONNECTOR.sniff(FileHead.read(DATA / other))


def _corrupt(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    lines = FILE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken_novonix.csv"
    path.write_bytes(b"".join(mutate(lines)))
    return path


@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        pytest.param(lambda ls: [*ls[:300], ls[300][:30]], 301, "truncated", id="truncated-mid-row"),
        pytest.param(
            lambda ls: [*ls[:204], ls[204].replace(b"1.50041937", b"1.5004x937"), *ls[205:]],
            205,
            "'Potential (V)': value '1.5004x937' is not a number",
            id="text-in-number",
        ),
        pytest.param(
            lambda ls: [*ls[:1999], ls[1999].replace(b" AM,", b" XM,"), *ls[2000:]],
            2000,
            "timestamp",
            id="bad-timestamp",
        ),
    ],
)
def test_corrupt_file_names_line(tmp_path: Path, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    path = _corrupt(tmp_path, mutate)

    with pytest.raises(CorruptFile) as caught:
        novonix.CONNECTOR.read(path)

    assert caught.value.line == line
    assert str(caught.value).startswith("broken_novonix.csv: line ")
    assert words in str(caught.value)


def test_header_only_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty_novonix.csv"
    path.write_bytes(b"".join(FILE.read_bytes().splitlines(keepends=True)[:HEADER_LINE]))

    with pytest.raises(CorruptFile, match="no data rows"):
        novonix.CONNECTOR.read(path)


def test_streamed_chunks_equal_the_whole_read() -> None:
    whole = novonix.CONNECTOR.read(FILE).frame
    streamed = novonix.CONNECTOR.stream(FILE, chunk_rows=500)

    chunks = list(streamed.chunks(None))
    few = list(streamed.chunks(["test_time_second", "current_ampere"]))

    assert [len(c) for c in chunks] == [500] * 7 + [442]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert list(few[0].columns) == ["test_time_second", "current_ampere"]
    assert set(streamed.columns) == set(whole.columns)
