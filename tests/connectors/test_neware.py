"""Neware connectors on real files (tests/data/NOTICE): both CSV export layouts, .nda and .ndax, and broken
variants of each."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from connectors import neware, neware_binary, registry
from connectors.base import REQUIRED_COLUMNS, FileHead
from connectors.errors import ConnectorError, CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
NEWARE = DATA / "neware"
UIO = NEWARE / "neware_uio.csv"
IFE = NEWARE / "nw_regular_export_ife_example.csv"
NDA = NEWARE / "test.nda"
NDAX = NEWARE / "test.ndax"
XLSX = (
    NEWARE / "neware_uio_record.xlsx"
)  # neware_uio.csv's records in BTSDA's Excel layout (make_xlsx_fixture.py)
ALL = (neware.CONNECTOR_CSV, neware.CONNECTOR_NDA, neware.CONNECTOR_NDAX, neware.CONNECTOR_XLSX)


def _epoch(text: str, zone: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(zone)).timestamp()


# --- sniffing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "connector"),
    [
        (UIO, neware.CONNECTOR_CSV),
        (IFE, neware.CONNECTOR_CSV),
        (NDA, neware.CONNECTOR_NDA),
        (NDAX, neware.CONNECTOR_NDAX),
        (XLSX, neware.CONNECTOR_XLSX),
    ],
    ids=lambda value: value.name,
)
def test_each_file_is_claimed_by_its_connector_only(path: Path, connector) -> None:  # type: ignore[no-untyped-def]
    head = FileHead.read(path)
    claims = {c.name for c in ALL if c.sniff(head)}

    assert claims == {connector.name}


def _other_vendor_files() -> list[Path]:
    return sorted(p for p in DATA.glob("*/*") if p.is_file() and p.parent.name != "neware")


@pytest.mark.parametrize("path", _other_vendor_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_other_formats_are_not_claimed(path: Path) -> None:
    head = FileHead.read(path)

    assert not any(c.sniff(head) for c in ALL)


def test_arbin_csv_is_among_the_rejected() -> None:
    assert (DATA / "arbin" / "arbin_example.csv") in _other_vendor_files()


def test_other_zip_archives_are_not_claimed(tmp_path: Path) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("report.xml", "<root/>")
        archive.writestr("data.csv", "a,b\n1,2\n")

    assert not neware.CONNECTOR_NDAX.sniff(FileHead.read(path))


def test_recognised_by_content_not_extension(tmp_path: Path) -> None:
    for source, connector in ((IFE, neware.CONNECTOR_CSV), (NDAX, neware.CONNECTOR_NDAX)):
        renamed = tmp_path / f"{source.stem}.dat"
        renamed.write_bytes(source.read_bytes())
        assert connector.sniff(FileHead.read(renamed))


# --- XLSX (BTSDA record sheets) ---------------------------------------------------------------------------


def test_xlsx_reads_exactly_what_the_csv_export_holds() -> None:
    from_xlsx = neware.CONNECTOR_XLSX.read(XLSX, timezone="Europe/Oslo")
    from_csv = neware.CONNECTOR_CSV.read(UIO, timezone="Europe/Oslo")

    assert from_xlsx.format == "neware_xlsx"
    assert from_xlsx.metadata["data_sheets"] == "Record, Record_2"  # Info and Cycle sheets skipped
    pd.testing.assert_frame_equal(from_xlsx.frame, from_csv.frame)
    assert len(from_xlsx.frame) == 9065
    assert registry.detect(XLSX).name == "neware_xlsx"


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


HEADER = [
    "DataPoint",
    "Cycle Index",
    "Step Index",
    "Step Type",
    "Time",
    "Total Time",
    "Current(A)",
    "Voltage(V)",
]


@pytest.mark.parametrize(
    ("sheets", "words"),
    [
        pytest.param(
            {
                "record": [
                    HEADER,
                    [1, 1, 1, "CC Chg", "00:00:01", "00:00:01", 0.5, 3.7],
                    [2, 1, 1, "CC Chg", "00:00:02", "00:00:02", 0.5, "x"],
                ]
            },
            "line 3",
            id="text-in-a-number-column",
        ),
        pytest.param(
            {
                "record": [HEADER, [1, 1, 1, "CC Chg", "00:00:01", "00:00:01", 0.5, 3.7]],
                "record_2": [HEADER[:-1]],
            },
            "sheet 'record_2': header differs from sheet 'record'",
            id="sheets-disagree",
        ),
        pytest.param(
            {"record": [["Time", "Volts"], [1, 2]]}, "no record sheet with a Neware header", id="not-neware"
        ),
    ],
)
def test_broken_workbooks_name_the_file_and_rule(tmp_path: Path, sheets, words: str) -> None:  # type: ignore[no-untyped-def]
    path = _workbook(tmp_path / "bad.xlsx", sheets)

    with pytest.raises(CorruptFile, match=re.escape(words)) as caught:
        neware.CONNECTOR_XLSX.read(path)
    assert str(caught.value).startswith("bad.xlsx")


# --- flat CSV (neware_uio.csv) --------------------------------------------------------------------------


def test_flat_csv_real_values() -> None:
    result = neware.CONNECTOR_CSV.read(UIO, timezone="Europe/Oslo")
    frame = result.frame

    assert result.format == "neware_csv"
    assert result.first_data_line == 2
    assert len(frame) == 9065
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == 518538.0  # Cumulative Time 144:02:18
    # line 1: 1,1,1,Rest,00:00:00,00:00:00,0.00000000,2.9170,...,2022-05-18 16:27:52,...
    assert frame["unix_time_second"].iloc[0] == _epoch("2022-05-18 16:27:52", "Europe/Oslo")
    # line 723: 722,1,2,CC DChg,00:00:00,12:00:00,-0.00024859,2.8804,...,-0.00071604,...
    row = frame.iloc[721]
    assert row["record_index"] == 722
    assert row["cycle_count"] == 1
    assert row["step_id"] == 2
    assert row["test_time_second"] == 43200.0
    assert row["current_ampere"] == pytest.approx(-0.00024859, rel=1e-12)
    assert row["voltage_volt"] == pytest.approx(2.8804, rel=1e-12)
    assert row["power_watt"] == pytest.approx(-0.00071604, rel=1e-12)
    # line 2417: 2416,1,8,CC Chg,00:00:00,36:53:56,0.00024845,0.0858,...: charge positive
    assert frame["current_ampere"].iloc[2415] == pytest.approx(0.00024845, rel=1e-12)
    assert frame["test_time_second"].iloc[2415] == 36 * 3600 + 53 * 60 + 56
    # the split step counters map to the step scope; the unsigned Capacity(Ah) beside them is not needed
    # line 723 (first record of the CC DChg step): DChg. Cap. 0, Chg. Cap. 0; the last record of step 2
    step2 = frame[(frame["cycle_count"] == 1) & (frame["step_id"] == 2)]
    assert step2["step_discharging_capacity_ah"].iloc[0] == 0.0
    assert step2["step_discharging_capacity_ah"].is_monotonic_increasing
    assert "Capacity(Ah)" not in result.unmapped_columns
    assert "Contact resistance(mO)" in result.unmapped_columns
    assert "cycle_charging_capacity_ah" not in frame


def test_flat_csv_step_counters_sum_to_the_recalculated_cycles() -> None:
    """Neware's Chg./DChg. Cap. restart every step; summed over a cycle's steps they give what we integrate."""
    _, stats = stats_of_frame(neware.CONNECTOR_CSV.read(UIO).frame)

    for ours, theirs in (
        ("charge_capacity_ah", "reported_charge_capacity_ah"),
        ("discharge_capacity_ah", "reported_discharge_capacity_ah"),
        ("discharge_energy_wh", "reported_discharge_energy_wh"),
    ):
        assert stats[theirs].to_numpy() == pytest.approx(stats[ours].to_numpy(), rel=2e-3), theirs
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(0.005086, rel=1e-3)


def test_flat_csv_cycles() -> None:
    rule, stats = stats_of_frame(neware.CONNECTOR_CSV.read(UIO).frame)

    assert rule == "instrument_counter"
    assert len(stats) == 4
    # anode half-cell: discharges first. The file's step counters end at DChg 0.00468031 + 0.00028183 +
    # 0.00012414 Ah (steps 2, 4, 6) and Chg 0.00424934 Ah (step 8) in cycle 1.
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.0050862252, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.0042493517, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(
        0.00468031 + 0.00028183 + 0.00012414, rel=1e-3
    )
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.00424934, rel=1e-3)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(0.0043684046, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(0.0042466977, rel=1e-6)
    assert not stats["complete"].iloc[-1]  # the export stops mid-charge


def test_flat_csv_streams_in_chunks_like_a_whole_read() -> None:
    whole = neware.CONNECTOR_CSV.read(UIO).frame
    streamed = neware.CONNECTOR_CSV.stream(UIO, chunk_rows=1000)
    chunks = list(streamed.chunks(None))

    assert len(chunks) > 5
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert set(streamed.columns) == set(whole.columns)


def test_unsigned_current_dcir_and_milliamps(tmp_path: Path) -> None:
    path = tmp_path / "unsigned.csv"
    path.write_text(
        "Record ID,Cycle Index,Step Index,Step Type,Time,Cumulative Time,Current(mA),Voltage(V),DCIR(O),"
        "Date\n"
        "1,1,1,CCCV Chg,00:00:00,00:00:00,500.0,3.70,0.021,2024-01-01 10:00:00\n"
        "2,1,1,CCCV Chg,00:00:10,00:00:10,500.0,3.80,0.021,2024-01-01 10:00:10\n"
        "3,1,2,Rest,00:00:00,00:00:10,0.0,3.75,0,2024-01-01 10:00:10\n"
        "4,1,3,CC DChg,00:00:00,00:00:10,250.0,3.60,0.022,2024-01-01 10:00:10\n"
        "5,1,3,CC DChg,00:00:10.5,00:00:20.5,250.0,3.50,0.023,2024-01-01 10:00:20\n"
    )
    assert neware.CONNECTOR_CSV.sniff(FileHead.read(path))

    frame = neware.CONNECTOR_CSV.read(path).frame

    assert frame["current_ampere"].tolist() == pytest.approx([0.5, 0.5, 0.0, -0.25, -0.25])
    assert frame["internal_resistance_ohm"].tolist() == pytest.approx([0.021, 0.021, 0.0, 0.022, 0.023])
    assert frame["test_time_second"].tolist() == pytest.approx([0, 10, 10, 10, 20.5])
    assert frame["step_time_second"].iloc[-1] == pytest.approx(10.5)


def test_flat_csv_without_test_time_takes_it_from_date(tmp_path: Path) -> None:
    path = tmp_path / "no_test_time.csv"
    path.write_text(
        "DataPoint,Cycle Index,Step Index,Step Type,Time,Current(A),Voltage(V),DCIR(mO),Date\n"
        "1,1,1,CC Chg,00:00:00,1.0,3.70,21,2024-01-01 10:00:05\n"
        "2,1,1,CC Chg,00:01:00,1.0,3.80,22,2024-01-01 10:01:05\n"
    )

    frame = neware.CONNECTOR_CSV.read(path, timezone="Europe/Berlin").frame

    assert frame["test_time_second"].tolist() == [0.0, 60.0]
    assert frame["unix_time_second"].iloc[0] == _epoch("2024-01-01 10:00:05", "Europe/Berlin")
    assert frame["internal_resistance_ohm"].tolist() == pytest.approx([0.021, 0.022])


# --- cycle/step/record CSV (nw_regular_export_ife_example.csv) ------------------------------------------


def test_nested_csv_real_values() -> None:
    result = neware.CONNECTOR_CSV.read(IFE, timezone="Europe/Oslo")
    frame = result.frame

    assert result.format == "neware_csv"
    assert result.first_data_line == 5
    assert result.metadata["export_layout"] == "cycle/step/record"
    assert len(frame) == 9295
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == 100543.0  # Total Time 27:55:43
    assert frame["unix_time_second"].iloc[0] == _epoch("2026-03-06 12:37:25", "Europe/Oslo")
    # line 4 holds cycle 1 and, glued to it, step 1 (Rest); records 1.. follow
    assert (frame["cycle_count"].iloc[0], frame["step_id"].iloc[0], frame["step_count"].iloc[0]) == (1, 1, 1)
    # line 182: ,,175,00:00:00,00:08:11,-0.50000,4.3366,...,-2.16832,0.0000,26.61,... under ",4,4,CC DChg"
    row = frame.iloc[174]
    assert row["record_index"] == 175
    assert (row["cycle_count"], row["step_id"], row["step_count"]) == (1, 4, 4)
    assert row["current_ampere"] == pytest.approx(-0.5)
    assert row["voltage_volt"] == pytest.approx(4.3366)
    assert row["power_watt"] == pytest.approx(-2.16832)
    assert row["test_time_second"] == 491.0
    assert row["temperature_t1_celsius"] == pytest.approx(26.61)
    # line 426: ,,416,00:00:00,00:55:01,0.50000,4.2046 under cycle 2 (line 424), ",2,6,CC Chg"
    row = frame.iloc[415]
    assert (row["cycle_count"], row["step_id"], row["step_count"]) == (2, 2, 6)
    assert row["current_ampere"] == pytest.approx(0.5)
    assert frame["cycle_count"].iloc[-1] == 20
    assert "cycle row: Chg. Cap.(Ah)" in result.unmapped_columns
    assert "CPU(?)" in result.unmapped_columns


def test_nested_csv_cycles_match_the_files_cycle_rows() -> None:
    rule, stats = stats_of_frame(neware.CONNECTOR_CSV.read(IFE).frame)

    assert rule == "instrument_counter"
    assert len(stats) == 20
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.0226307417, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.3307095694, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(0.3279438083, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(0.3318946833, rel=1e-6)
    # the file's own cycle rows: "1,0.02256,0.33067,…" and "2,0.32780,0.33172,…"
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.02256, rel=5e-3)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.33067, rel=5e-3)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(0.32780, rel=5e-3)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(0.33172, rel=5e-3)
    # the records' unsigned Capacity/Energy, split by step type and summed over the steps, give exactly the
    # cycle rows' numbers: "1,0.02256,0.33067,1465.46,0.10243,1.34319,…"
    assert stats["reported_charge_capacity_ah"].iloc[0] == pytest.approx(0.02256, abs=5e-6)
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(0.33067, abs=5e-6)
    assert stats["reported_charge_energy_wh"].iloc[0] == pytest.approx(0.10243, abs=5e-6)
    assert stats["reported_discharge_energy_wh"].iloc[0] == pytest.approx(1.34319, abs=5e-6)
    assert stats["reported_discharge_capacity_ah"].iloc[1] == pytest.approx(0.33172, abs=5e-6)


def test_nested_csv_streams_in_chunks_like_a_whole_read() -> None:
    whole = neware.CONNECTOR_CSV.read(IFE).frame
    streamed = neware.CONNECTOR_CSV.stream(IFE, chunk_rows=777)
    chunks = list(streamed.chunks(None))

    assert len(chunks) == 12
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert set(streamed.columns) == set(whole.columns)
    few = next(streamed.chunks(["test_time_second", "current_ampere"]))
    assert list(few.columns) == ["test_time_second", "current_ampere"]


# --- broken CSV -----------------------------------------------------------------------------------------


def _mutated(tmp_path: Path, source: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    lines = source.read_bytes().splitlines(keepends=True)
    path = tmp_path / f"broken_{source.name}"
    path.write_bytes(b"".join(mutate(lines)))
    return path


@pytest.mark.parametrize(
    ("source", "mutate", "line", "words"),
    [
        pytest.param(
            UIO,
            lambda ls: [*ls[:100], ls[100][:30] + b"\n", *ls[101:]],
            101,
            "fields, found",
            id="flat-truncated",
        ),
        pytest.param(
            UIO,
            lambda ls: [*ls[:722], ls[722].replace(b",2.8804,", b",2.88x4,"), *ls[723:]],
            723,
            "'Voltage(V)': value '2.88x4' is not a number",
            id="flat-text-in-number",
        ),
        pytest.param(IFE, lambda ls: [*ls[:-1], ls[-1][:40]], 9398, "truncated", id="nested-truncated"),
        pytest.param(
            IFE,
            lambda ls: [*ls[:181], ls[181].replace(b",-0.50000,", b",-0.5x000,"), *ls[182:]],
            182,
            "'Current(A)': value '-0.5x000' is not a number",
            id="nested-text-in-number",
        ),
        pytest.param(
            IFE,
            lambda ls: [*ls[:181], ls[181].replace(b",00:08:11,", b",00:08-11,"), *ls[182:]],
            182,
            "'Total Time'",
            id="nested-bad-duration",
        ),
        pytest.param(
            IFE,
            lambda ls: [*ls[:423], ls[423].replace(b"2,", b"two,", 1), *ls[424:]],
            424,
            "Cycle Index 'two'",
            id="nested-bad-cycle-row",
        ),
    ],
)
def test_corrupt_csv_names_file_line_and_rule(
    tmp_path: Path, source: Path, mutate, line: int, words: str
) -> None:  # type: ignore[no-untyped-def]
    path = _mutated(tmp_path, source, mutate)
    assert neware.CONNECTOR_CSV.sniff(FileHead.read(path))

    with pytest.raises(CorruptFile) as caught:
        neware.CONNECTOR_CSV.read(path)

    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path.name}: line {line}: ")
    assert words in str(caught.value)


# --- .nda / .ndax ---------------------------------------------------------------------------------------


def test_nda_real_values() -> None:
    result = neware.CONNECTOR_NDA.read(NDA, timezone="Europe/Copenhagen")
    frame = result.frame

    assert result.format == "neware_nda"
    assert len(frame) == 439
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert frame["test_time_second"].dtype == np.float64
    assert frame["test_time_second"].iloc[0] == 0.0
    # steps end at 5 + 25 + 50 + 100 + 500 s, then 41.6 s into the last rest
    assert frame["test_time_second"].iloc[-1] == pytest.approx(721.6, abs=1e-9)
    assert frame["step_time_second"].iloc[-1] == 41.6  # float32 41.599998 back to what was recorded
    assert frame["unix_time_second"].iloc[0] == _epoch("2020-03-25 11:16:50", "Europe/Copenhagen")
    # record 3: CC_DChg, -0.0294 mA, -0.0936 V (NewareNDA's mA → A, discharge negative)
    assert frame["current_ampere"].iloc[2] == pytest.approx(-0.0294e-3, rel=1e-12)
    assert frame["voltage_volt"].iloc[2] == pytest.approx(-0.0936, rel=1e-12)
    # record 153: last of the CC_Chg step 3, +0.0505 mA
    assert frame["current_ampere"].iloc[152] == pytest.approx(0.0505e-3, rel=1e-12)
    assert (frame["step_id"].iloc[152], frame["step_count"].iloc[152]) == (3, 3)
    assert set(frame["cycle_count"]) == {1}  # the file's own counter, not NewareNDA's renumbering
    assert result.metadata["nda_version"] == 29
    assert result.metadata["server_version"].startswith("BTSServer")
    # per-step counters in mAh → Ah: record 8 (CC_DChg) holds 6.694444e-06 mAh
    assert frame["step_discharging_capacity_ah"].iloc[7] == pytest.approx(6.694444e-09, rel=1e-6)
    assert "Charge_Capacity(mAh)" not in result.unmapped_columns


def test_nda_cycles() -> None:
    rule, stats = stats_of_frame(neware.CONNECTOR_NDA.read(NDA).frame)

    assert rule == "instrument_counter"
    assert len(stats) == 1
    # step counters: Chg 0.000697 mAh (step 3); DChg 0.000065 + 0.007009 mAh (steps 1, 5)
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(6.923194444e-07, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(7.011705556e-06, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.000697e-3, rel=0.02)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.007074e-3, rel=0.02)


def test_ndax_real_values_and_cycles() -> None:
    result = neware.CONNECTOR_NDAX.read(NDAX, timezone="Europe/Oslo")
    frame = result.frame

    assert result.format == "neware_ndax"
    assert len(frame) == 1464
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == 43800.0  # 300 + 21600 + 21600 + 300 s
    assert frame["unix_time_second"].iloc[0] == _epoch("2024-02-01 20:24:23", "Europe/Oslo")
    assert frame["unix_time_second"].iloc[-1] - frame["unix_time_second"].iloc[0] == 43800.0
    # record 12: first CCCV_Chg point, 0.1199 mA, 3.4784 V; record 733: first CCCV_DChg, -0.1198 mA
    assert frame["current_ampere"].iloc[11] == pytest.approx(0.1199e-3, rel=1e-12)
    assert frame["voltage_volt"].iloc[11] == pytest.approx(3.4784, rel=1e-12)
    assert frame["current_ampere"].iloc[732] == pytest.approx(-0.1198e-3, rel=1e-12)
    assert result.metadata["start_time"] == "2024-02-01 20:24:23"
    assert result.metadata["procedure"] == "fs6_cycling.xml"
    assert result.metadata["channel"] == "7"

    rule, stats = stats_of_frame(frame)
    assert rule == "instrument_counter"
    assert len(stats) == 1
    # step counters: Chg 0.593039 mAh, DChg 0.625451 mAh
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.00059277083, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.00062662625, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.593039e-3, rel=5e-3)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.625451e-3, rel=5e-3)


def test_binary_stream_chunks_the_whole_read() -> None:
    streamed = neware.CONNECTOR_NDAX.stream(NDAX, chunk_rows=500)

    assert [len(chunk) for chunk in streamed.chunks(None)] == [500, 500, 464]


def test_truncated_ndax_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.ndax"
    path.write_bytes(NDAX.read_bytes()[:20000])
    assert neware.CONNECTOR_NDAX.sniff(FileHead.read(path))

    with pytest.raises(CorruptFile, match=r"^cut\.ndax: NewareNDA could not read it"):
        neware.CONNECTOR_NDAX.read(path)


def test_nda_without_records_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.nda"
    path.write_bytes(NDA.read_bytes()[:2000])
    assert neware.CONNECTOR_NDA.sniff(FileHead.read(path))

    with pytest.raises(CorruptFile, match="does not contain any valid records"):
        neware.CONNECTOR_NDA.read(path)


def test_missing_newarenda_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_module(name: str):  # type: ignore[no-untyped-def]
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(neware_binary.importlib, "import_module", no_module)

    with pytest.raises(ConnectorError, match="needs the NewareNDA package"):
        neware.CONNECTOR_NDA.read(NDA)
