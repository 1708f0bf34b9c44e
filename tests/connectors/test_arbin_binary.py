"""Arbin XLSX and .res connectors on real files (tests/data/NOTICE), their sniffing, and broken variants."""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from connectors import arbin, arbin_binary, arbin_res
from connectors.base import REQUIRED_COLUMNS, FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
XLSX = DATA / "arbin" / "bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx"
MITS_PRO_CSV = DATA / "arbin" / "mits_pro_bs542_channel_11.csv"  # the same sheet saved as CSV
RES_EXAMPLE = DATA / "arbin" / "arbin_example.res"
RES_ANODE = DATA / "arbin" / "20160805_test001_45_cc_01.res"

# make install and .ci/run install mdbtools. Without it these tests skip on a laptop but fail in CI (CI set):
# there a missing mdb-export is a broken install, not a choice.
needs_mdbtools = pytest.mark.skipif(
    shutil.which("mdb-export") is None and not os.environ.get("CI"),
    reason="mdbtools not installed (mdb-export reads Arbin .res files; make install installs it)",
)


# ----------------------------------------------------------------------------------------------- XLSX


def test_xlsx_reads_real_export() -> None:
    result = arbin_binary.CONNECTOR_XLSX.read(XLSX, timezone="Europe/London")
    frame = result.frame

    assert result.format == "arbin_xlsx"
    assert len(frame) == 4526
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert frame["test_time_second"].iloc[0] == pytest.approx(1.001)
    assert frame["test_time_second"].iloc[-1] == pytest.approx(1204815.81068)
    # Sheet row 2: 10/19/2020 11:31:46.582 (London, BST) = 10:31:46.582 UTC; Voltage(V) 2.637298583984375.
    assert frame["unix_time_second"].iloc[0] == pytest.approx(1603103506.582)
    assert frame["voltage_volt"].iloc[0] == pytest.approx(2.637298583984375)
    # Sheet row 12: the first discharge (lithiation of graphite) point, Current(A) -5.0002592615783215e-05.
    assert frame["current_ampere"].iloc[10] == pytest.approx(-5.0002592615783215e-05)
    assert frame["cycle_discharging_capacity_ah"].iloc[10] == pytest.approx(6.3356337953735e-09)
    assert frame["step_id"].iloc[10] == 2
    # Sheet row 1765: the first charging point, positive as written.
    assert frame["current_ampere"].iloc[1763] == pytest.approx(4.436075687408447e-05)
    assert set(frame["cycle_count"]) == {1}
    assert "dV/dt(V/s)" in result.unmapped_columns
    assert result.metadata["test_name"] == "bs542_004_gr_li_50ua_50mv_1v_191020"
    assert result.metadata["channel"] == "11"
    assert result.metadata["serial_number"] == "206951"
    assert result.metadata["procedure"] == "Ben\\bs542_graphite_slow_rate.sdu"
    assert result.metadata["start_time"] == "2020-10-19T11:33:31"
    assert result.metadata["data_sheets"] == "Channel_11_1"


def test_xlsx_equals_the_same_sheet_exported_as_csv() -> None:
    from_xlsx = arbin_binary.CONNECTOR_XLSX.read(XLSX, timezone="Europe/London").frame
    from_csv = arbin.CONNECTOR.read(MITS_PRO_CSV, timezone="Europe/London").frame

    pd.testing.assert_frame_equal(from_xlsx, from_csv)


def test_xlsx_cycle_stats() -> None:
    frame = arbin_binary.CONNECTOR_XLSX.read(XLSX).frame

    _, stats = stats_of_frame(frame)

    assert len(stats) == 1
    first = stats.iloc[0]
    assert first["charge_capacity_ah"] == pytest.approx(0.005703196267412942, rel=1e-6)
    assert first["discharge_capacity_ah"] == pytest.approx(0.01105490836754915, rel=1e-6)
    # µA cell: integrated current agrees with Arbin's own counters (in Ah).
    assert first["reported_charge_capacity_ah"] == pytest.approx(first["charge_capacity_ah"], rel=1e-3)
    assert first["reported_discharge_capacity_ah"] == pytest.approx(first["discharge_capacity_ah"], rel=1e-3)


def test_xlsx_streams_in_chunks_and_selects_columns() -> None:
    whole = arbin_binary.CONNECTOR_XLSX.read(XLSX).frame
    streamed = arbin_binary.CONNECTOR_XLSX.stream(XLSX, chunk_rows=1000)

    parts = list(streamed.chunks(None))
    assert [len(p) for p in parts] == [1000, 1000, 1000, 1000, 526]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    assert set(streamed.columns) == set(whole.columns)
    assert list(next(iter(streamed.chunks(["current_ampere"]))).columns) == ["current_ampere"]


def _workbook(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_concatenates_data_sheets_in_order_and_skips_others(tmp_path: Path) -> None:
    header = ["Date_Time", "Test_Time(s)", "Step_Index", "Cycle_Index", "Current(mA)", "Voltage(V)"]
    path = _workbook(
        tmp_path / "made.xlsx",
        {
            "Global_Info": [["Channel", "Start DateTime", "Item ID"], [3, "2021-01-02 03:04:05", "CELL-7"]],
            "Channel_3_1": [header, ["2021-01-02 03:04:05", 0, 1, 1, 500, 3.7]],
            "Statistics_3": [["Cycle_Index", "Charge_Capacity(Ah)"], [1, 2.0]],
            "Channel_3_2": [header, ["2021-01-02 03:04:15", 10, 1, 1, -250, 3.6]],
        },
    )

    assert arbin_binary.CONNECTOR_XLSX.sniff(FileHead.read(path))
    result = arbin_binary.CONNECTOR_XLSX.read(path)

    assert result.frame["test_time_second"].tolist() == [0.0, 10.0]
    assert result.frame["current_ampere"].tolist() == pytest.approx([0.5, -0.25])
    assert result.frame["unix_time_second"].tolist() == pytest.approx([1609556645.0, 1609556655.0])
    assert result.metadata["data_sheets"] == "Channel_3_1, Channel_3_2"
    assert result.metadata["barcode"] == "CELL-7"
    assert result.metadata["channel"] == "3"


def _xlsx_with_cell(tmp_path: Path, cell: str, replacement: str) -> Path:
    path = tmp_path / "broken_arbin.xlsx"
    with zipfile.ZipFile(XLSX) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet2.xml":
                data, count = re.subn(rf'<c r="{cell}"[^>]*>.*?</c>'.encode(), replacement.encode(), data)
                assert count == 1
            target.writestr(item, data)
    return path


def test_xlsx_text_in_number_names_sheet_row(tmp_path: Path) -> None:
    path = _xlsx_with_cell(tmp_path, "F71", '<c r="F71" t="inlineStr"><is><t>2.3x</t></is></c>')

    assert arbin_binary.CONNECTOR_XLSX.sniff(FileHead.read(path))
    with pytest.raises(CorruptFile) as caught:
        arbin_binary.CONNECTOR_XLSX.read(path)

    assert caught.value.line == 71
    assert str(caught.value).startswith("broken_arbin.xlsx: line 71: sheet 'Channel_11_1'")
    assert "'Voltage(V)': value '2.3x' is not a number" in str(caught.value)


def test_xlsx_truncated_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.xlsx"
    path.write_bytes(XLSX.read_bytes()[:300_000])

    assert not arbin_binary.CONNECTOR_XLSX.sniff(FileHead.read(path))  # no zip directory: not claimed
    with pytest.raises(CorruptFile, match="not a readable zip archive"):
        arbin_binary.CONNECTOR_XLSX.read(path)


# ------------------------------------------------------------------------------------------------ RES


@needs_mdbtools
def test_res_reads_example_and_puts_rows_in_data_point_order() -> None:
    result = arbin_binary.CONNECTOR_RES.read(RES_EXAMPLE, timezone="UTC")
    frame = result.frame

    assert result.format == "arbin_res"
    assert len(frame) == 2150
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    # The file stores Data_Point 1321–1760 after 1761–1800: read back in Data_Point order.
    assert frame["record_index"].tolist() == list(range(1, 2151))
    assert frame["test_time_second"].is_monotonic_increasing
    assert frame["test_time_second"].iloc[0] == pytest.approx(0.07259541979508601)
    assert frame["test_time_second"].iloc[-1] == pytest.approx(345733.3894574374)
    # DateTime 45131.78472222222 (OLE days, lab time) = 2023-07-24 18:50:00.
    assert frame["unix_time_second"].iloc[0] == pytest.approx(1690224600.0)
    # Data_Point 800: discharge, Current -8.6513224e-05 A, Voltage 4.0055337 V.
    row = frame.iloc[799]
    assert row["current_ampere"] == pytest.approx(-8.6513224e-05)
    assert row["voltage_volt"] == pytest.approx(4.0055337)
    assert row["cycle_discharging_capacity_ah"] == pytest.approx(0.000150003682113)
    assert row["cycle_charging_energy_wh"] == pytest.approx(0.001941041498782)
    assert row["step_time_second"] == pytest.approx(6240.489068581256)
    # Data_Point 1321, the first of the late-stored block.
    assert frame["step_id"].iloc[1320] == 4
    assert frame["cycle_count"].iloc[1320] == 2
    assert frame["step_time_second"].iloc[1320] == pytest.approx(4.024750530556713)
    assert result.unmapped_columns == ("Test_ID", "Is_FC_Data", "dV/dt", "AC_Impedance", "ACI_Phase_Angle")
    assert result.metadata["test_name"] == "ajm314_LCO_ajm5-SSB1-F_Wait48hr-Repeat-01-012"
    assert result.metadata["procedure"] == "AliceM\\LCO-ajm5-SSA8-N_5xCo10.sdu"
    assert result.metadata["channel"] == "40"
    assert result.metadata["start_time"] == "2023-07-24T18:50:00"
    assert "nominal_capacity_ah" not in result.metadata


@needs_mdbtools
def test_res_example_cycle_stats() -> None:
    frame = arbin_binary.CONNECTOR_RES.read(RES_EXAMPLE).frame

    _, stats = stats_of_frame(frame)

    assert len(stats) == 5
    assert stats["cycle_index"].tolist() == [1, 2, 3, 4, 5]
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.00048494682936631406, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.00047373411976847125, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(0.0004767363857963653, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(0.00047292638836499417, rel=1e-6)
    # Arbin's counters (which start each step at the first interval's ≈2.9 µAh) agree within 0.5 %.
    reported = stats[["reported_charge_capacity_ah", "reported_discharge_capacity_ah"]].iloc[:4].to_numpy()
    integrated = stats[["charge_capacity_ah", "discharge_capacity_ah"]].iloc[:4].to_numpy()
    np.testing.assert_allclose(integrated, reported, rtol=5e-3)


@needs_mdbtools
def test_res_anode_half_cell_discharges_first() -> None:
    result = arbin_binary.CONNECTOR_RES.read(RES_ANODE, timezone="Europe/Oslo")
    frame = result.frame

    assert len(frame) == 10261
    assert frame["test_time_second"].iloc[0] == pytest.approx(300.0104819316021)
    assert frame["test_time_second"].iloc[-1] == pytest.approx(859077.2406335169)
    # Global_Table Start_DateTime 42587.67804398148 = 2016-08-05 16:16:23 Oslo (CEST) = 14:16:23 UTC.
    assert result.metadata["start_time"] == "2016-08-05T16:16:23"
    assert result.metadata["start_unix_time_second"] == pytest.approx(1470406583.0)
    # The first point is logged Test_Time (300 s) after the start.
    assert frame["unix_time_second"].iloc[0] == pytest.approx(1470406583.0 + 300.0, abs=0.5)
    # Data_Point 290: the first real current is a discharge (lithiation), -0.00014841599 A.
    assert frame["current_ampere"].iloc[289] == pytest.approx(-0.00014841599)
    assert frame["voltage_volt"].iloc[289] == pytest.approx(2.8398941)
    # Data_Point 1000: Discharge_Capacity 0.001585992669179 Ah; Internal_Resistance 56.486603 ohm.
    assert frame["cycle_discharging_capacity_ah"].iloc[999] == pytest.approx(0.001585992669179)
    assert frame["internal_resistance_ohm"].iloc[999] == pytest.approx(56.486603)
    assert frame["cycle_count"].iloc[-1] == 18
    assert result.metadata["serial_number"] == "176075"
    assert result.metadata["mass"] == pytest.approx(0.00085283798)

    _, stats = stats_of_frame(frame)
    assert len(stats) == 18
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.0017553510898066452, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(0.0016256424457739974, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(0.0015673886591908142, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(0.001699753996537485, rel=1e-6)
    reported = stats[["reported_charge_capacity_ah", "reported_discharge_capacity_ah"]].to_numpy()
    integrated = stats[["charge_capacity_ah", "discharge_capacity_ah"]].to_numpy()
    np.testing.assert_allclose(integrated, reported, rtol=1e-3, atol=1e-9)


@needs_mdbtools
def test_res_streams_in_chunks_and_selects_columns() -> None:
    whole = arbin_binary.CONNECTOR_RES.read(RES_EXAMPLE).frame
    streamed = arbin_binary.CONNECTOR_RES.stream(RES_EXAMPLE, chunk_rows=600)

    parts = list(streamed.chunks(None))
    assert [len(p) for p in parts] == [600, 600, 600, 350]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    assert set(streamed.columns) == set(whole.columns)
    assert list(next(iter(streamed.chunks(["current_ampere"]))).columns) == ["current_ampere"]
    ordered = list(arbin_binary.CONNECTOR_RES.stream(RES_ANODE, chunk_rows=4000).chunks(["test_time_second"]))
    assert [len(p) for p in ordered] == [4000, 4000, 2261]


@needs_mdbtools
@pytest.mark.parametrize("keep", [300_000, 299_008], ids=["mid-page", "whole-pages"])
def test_res_truncated_file_is_corrupt(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "broken_arbin.res"
    path.write_bytes(RES_EXAMPLE.read_bytes()[:keep])

    assert arbin_binary.CONNECTOR_RES.sniff(FileHead.read(path))
    with pytest.raises(CorruptFile) as caught:
        arbin_binary.CONNECTOR_RES.read(path)

    message = str(caught.value)
    assert message.startswith("broken_arbin.res: ")
    if keep % 4096:
        assert "not a whole number of 4096-byte database pages" in message
    else:
        assert "Channel_Normal_Table: mdb-export stopped after row " in message


def test_res_without_mdbtools_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arbin_res.shutil, "which", lambda name: None)

    with pytest.raises(arbin_binary.MdbtoolsMissing, match=r"needs mdbtools \(apt-get install mdbtools\)"):
        arbin_binary.CONNECTOR_RES.read(RES_EXAMPLE)


# --------------------------------------------------------------------------------------------- sniff


@pytest.mark.parametrize(
    ("path", "connector"),
    [
        (XLSX, arbin_binary.CONNECTOR_XLSX),
        (RES_EXAMPLE, arbin_binary.CONNECTOR_RES),
        (RES_ANODE, arbin_binary.CONNECTOR_RES),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_sniff_accepts_own_files_only(path: Path, connector: Any) -> None:
    head = FileHead.read(path)

    assert connector.sniff(head)
    others: list[Any] = [arbin_binary.CONNECTOR_XLSX, arbin_binary.CONNECTOR_RES, arbin.CONNECTOR]
    assert [c.name for c in others if c.sniff(head)] == [connector.name]


OWN = {XLSX.name, RES_EXAMPLE.name, RES_ANODE.name}
OTHER_FILES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.name not in OWN)


@pytest.mark.parametrize("path", OTHER_FILES, ids=lambda p: p.name)
def test_sniff_rejects_other_formats(path: Path) -> None:
    head = FileHead.read(path)

    assert not arbin_binary.CONNECTOR_XLSX.sniff(head)
    assert not arbin_binary.CONNECTOR_RES.sniff(head)


def test_sniff_rejects_other_zips_and_databases(tmp_path: Path) -> None:
    other_xlsx = _workbook(tmp_path / "other.xlsx", {"Sheet1": [["Time", "Current", "Voltage"], [0, 1, 3.7]]})
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "Channel_1_1")
    other_jet = tmp_path / "other.mdb"
    other_jet.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00" + b"\x00" * 8192)

    for path in (other_xlsx, other_zip, other_jet):
        head = FileHead.read(path)
        assert not arbin_binary.CONNECTOR_XLSX.sniff(head)
        assert not arbin_binary.CONNECTOR_RES.sniff(head)
