"""BioLogic EC-Lab data exported as CSV: the real GCPL excerpt (gcpl_5cycles_C09_excerpt.mpt, the .mpr's own
numbers) rewritten by tests/data/biologic/make_csv_fixtures.py with and without the header block, and the
other layouts EC-Lab writes (comma or tab separated, decimal comma, a row index, absolute time) made here from
the same rows. Each flavour must read as the .mpt it was made from."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors import biologic, biologic_csv, registry
from connectors.base import FileHead
from connectors.errors import CorruptFile

DATA = Path(__file__).resolve().parents[1] / "data"
MPT = DATA / "biologic" / "gcpl_5cycles_C09_excerpt.mpt"
#: The .mpt's header block (23 lines: the column header on line 23), `;`, decimal commas, Windows-1252.
WITH_BLOCK = DATA / "biologic" / "gcpl_5cycles_C09_excerpt_header_block.csv"
#: No header block, `;`, decimal points, UTF-8.
NO_HEADER = DATA / "biologic" / "gcpl_5cycles_C09_excerpt_no_header.csv"
CSV_FIXTURES = (WITH_BLOCK, NO_HEADER)

#: "Acquisition started on : 10/26/2020 12:49:58" in London (GMT since 25 Oct) = 12:49:58 UTC.
GCPL_START = 1603716598.0
ROWS = 1179


def _mpt_frame(timezone: str = "UTC") -> pd.DataFrame:
    return biologic.CONNECTOR_MPT.read(MPT, timezone=timezone).frame


def _no_header_lines() -> list[str]:
    return NO_HEADER.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_with_the_header_block_reads_as_the_mpt() -> None:
    result = biologic_csv.CONNECTOR.read(WITH_BLOCK, timezone="Europe/London")
    frame = result.frame

    assert result.format == "biologic_csv"
    assert result.first_data_line == 24  # "Nb header lines : 23": line 23 is the column header
    assert len(frame) == ROWS
    pd.testing.assert_frame_equal(frame, _mpt_frame("Europe/London"))
    # line 34: 1;0;0;0;1;0;1;3,600000309056340E+003;-8,8796005E-002;2,5051956E+000;-9,835986627472771E-009;…
    row = frame.iloc[34 - 24]
    assert row["test_time_second"] == pytest.approx(3600.000309056340)
    assert row["step_id"] == 1  # Ns
    assert row["voltage_volt"] == pytest.approx(2.5051956)  # Ewe/V
    assert row["power_watt"] == pytest.approx(-2.2176963e-04)  # P/W
    # Q charge/discharge/mA.h -9.835986627472771E-009 mA.h: a discharge counter of 9.8e-12 Ah
    assert row["cycle_discharging_capacity_ah"] == pytest.approx(9.835986627472771e-12)
    assert row["current_ampere"] < 0  # from dq/mA.h < 0: a discharge
    assert frame["unix_time_second"].iloc[0] == pytest.approx(GCPL_START)
    assert frame["unix_time_second"].iloc[-1] == pytest.approx(GCPL_START + 456309.586151314)
    assert result.metadata["source_format"] == "EC-Lab CSV"
    assert result.metadata["technique"] == "Galvanostatic Cycling with Potential Limitation"
    assert result.metadata["start_time"] == "10/26/2020 12:49:58"
    assert {"(Q-Qo)/mA.h", "half cycle", "control/V/mA", "ox/red"} <= set(result.unmapped_columns)
    assert not any(name.startswith("_empty_") for name in result.unmapped_columns)  # the trailing `;`
    assert result.warnings == ()


def test_csv_without_a_header_block_reads_as_the_mpt_without_wall_clock() -> None:
    result = biologic_csv.CONNECTOR.read(NO_HEADER)

    assert result.first_data_line == 2
    assert result.metadata == {"source_format": "EC-Lab CSV"}
    assert "unix_time_second" not in result.frame  # no acquisition start to count from
    pd.testing.assert_frame_equal(result.frame, _mpt_frame().drop(columns="unix_time_second"))
    # line 2: 3;1;0;1;0;0;0;0.000000000000000E+000;0.0000000E+000;2.5085759E+000;…
    assert result.frame["voltage_volt"].iloc[0] == pytest.approx(2.5085759)
    assert result.frame["test_time_second"].iloc[0] == 0.0


@pytest.mark.parametrize("separator", [",", "\t"], ids=["comma", "tab"])
def test_comma_and_tab_separated_exports(tmp_path: Path, separator: str) -> None:
    path = _write(tmp_path / "export.csv", [line.replace(";", separator) for line in _no_header_lines()])

    assert registry.detect(path) is biologic_csv.CONNECTOR
    expected = _mpt_frame().drop(columns="unix_time_second")
    pd.testing.assert_frame_equal(biologic_csv.CONNECTOR.read(path).frame, expected)


def test_decimal_comma_without_a_header_block(tmp_path: Path) -> None:
    header, *rows = _no_header_lines()
    path = _write(tmp_path / "comma.csv", [header, *(row.replace(".", ",") for row in rows)])

    expected = _mpt_frame().drop(columns="unix_time_second")
    pd.testing.assert_frame_equal(biologic_csv.CONNECTOR.read(path).frame, expected)


def test_a_leading_row_index_column_is_ignored(tmp_path: Path) -> None:
    # the automatic export as some tools re-save it: an unnamed first column holding the row number
    header, *rows = _no_header_lines()
    path = _write(tmp_path / "indexed.csv", [";" + header, *(f"{i};{row}" for i, row in enumerate(rows))])

    result = biologic_csv.CONNECTOR.read(path)

    pd.testing.assert_frame_equal(result.frame, _mpt_frame().drop(columns="unix_time_second"))
    assert result.unmapped_columns == biologic_csv.CONNECTOR.read(NO_HEADER).unmapped_columns


def _absolute_time_lines(lines: list[str], header_line: int, decimal: str) -> tuple[list[str], np.ndarray]:
    """`time/s` rewritten as the wall-clock time of each point (acquisition start + time/s, to the ms, as
    EC-Lab's "absolute time" export writes it); also returns the seconds since the start so written."""
    names = lines[header_line - 1].split(";")
    column = names.index("time/s")
    start = datetime(2020, 10, 26, 12, 49, 58)
    out = list(lines[:header_line])
    seconds = []
    for line in lines[header_line:]:
        cells = line.split(";")
        elapsed = round(float(cells[column].replace(",", ".")), 3)
        stamp = (start + timedelta(seconds=elapsed)).strftime("%m/%d/%Y %H:%M:%S.%f")[:-3]
        cells[column] = stamp.replace(".", ",") if decimal == "," else stamp
        seconds.append(elapsed)
        out.append(";".join(cells))
    return out, np.array(seconds)


def test_absolute_time_with_the_header_block(tmp_path: Path) -> None:
    lines = WITH_BLOCK.read_bytes().decode("cp1252").split("\r\n")[:-1]
    rewritten, seconds = _absolute_time_lines(lines, header_line=23, decimal=",")
    path = tmp_path / "absolute.csv"
    path.write_bytes(("\r\n".join(rewritten) + "\r\n").encode("cp1252"))

    frame = biologic_csv.CONNECTOR.read(path, timezone="Europe/London").frame
    expected = _mpt_frame("Europe/London")

    # the test time counts from the acquisition start, as time/s does; the wall clock is the row's own
    np.testing.assert_allclose(frame["test_time_second"], seconds, atol=1e-6)
    np.testing.assert_allclose(frame["unix_time_second"], GCPL_START + seconds, atol=1e-6)
    np.testing.assert_allclose(frame["test_time_second"], expected["test_time_second"], atol=5e-4)
    for column in ("voltage_volt", "cycle_count", "step_id", "cycle_discharging_capacity_ah"):
        pd.testing.assert_series_equal(frame[column], expected[column])


def test_absolute_time_without_a_header_block_counts_from_the_first_row(tmp_path: Path) -> None:
    rewritten, seconds = _absolute_time_lines(_no_header_lines(), header_line=1, decimal=".")
    path = _write(tmp_path / "absolute.csv", rewritten)

    frame = biologic_csv.CONNECTOR.read(path, timezone="Europe/London").frame

    np.testing.assert_allclose(frame["test_time_second"], seconds - seconds[0], atol=1e-6)
    np.testing.assert_allclose(frame["unix_time_second"], GCPL_START + seconds, atol=1e-6)


def test_small_chunks_read_the_same_as_one() -> None:
    whole = biologic_csv.CONNECTOR.read(WITH_BLOCK).frame
    streamed = biologic_csv.CONNECTOR.stream(WITH_BLOCK, chunk_rows=50)
    chunks = list(streamed.chunks(None))

    assert len(chunks) > 1
    assert streamed.columns == tuple(whole.columns)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_a_cut_off_last_line_is_left_out_with_a_warning(tmp_path: Path) -> None:
    lines = _no_header_lines()
    path = tmp_path / "cut.csv"
    cut = lines[-1][:30]  # "1;0;0;0;0;1;3;4.56309586151314": 8 of the 16 fields
    path.write_text("\n".join(lines[:-1]) + "\n" + cut, encoding="utf-8")

    result = biologic_csv.CONNECTOR.read(path)

    assert len(result.frame) == ROWS - 1
    assert result.warnings == (
        f"line {ROWS + 1} is cut off ({cut.count(';') + 1} of 16 fields) and was not loaded",
    )


def test_a_broken_value_names_its_line(tmp_path: Path) -> None:
    lines = _no_header_lines()
    cells = lines[99].split(";")
    cells[9] = "2.5O"  # Ewe/V, a letter O for a zero
    lines[99] = ";".join(cells)
    path = _write(tmp_path / "broken.csv", lines)

    with pytest.raises(
        CorruptFile, match=r"broken.csv: line 100: column 'Ewe/V': value '2.5O' is not a number"
    ):
        biologic_csv.CONNECTOR.read(path)


def test_a_table_without_a_voltage_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "novolt.csv", ["time/s;I/mA", "0;1.0"])

    assert not biologic_csv.CONNECTOR.sniff(FileHead.read(path))
    with pytest.raises(CorruptFile, match="EC-Lab data without a voltage"):
        biologic_csv.CONNECTOR.read(path)


def test_registry_tells_the_csv_flavours_from_the_mpt() -> None:
    for path in CSV_FIXTURES:
        assert registry.detect(path) is biologic_csv.CONNECTOR, path
    # a tab-separated column header under the header block is an .mpt
    assert registry.detect(MPT) is biologic.CONNECTOR_MPT
    assert not biologic_csv.CONNECTOR.sniff(FileHead.read(MPT))


def test_sniff_rejects_other_formats() -> None:
    others = [p for p in DATA.rglob("*") if p.is_file() and p not in CSV_FIXTURES]
    assert DATA / "arbin" / "arbin_example.csv" in others

    for path in others:
        assert not biologic_csv.CONNECTOR.sniff(FileHead.read(path)), path
