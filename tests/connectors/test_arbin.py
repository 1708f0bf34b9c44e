"""Arbin CSV connector on real exports (tests/data/NOTICE), both header styles, and broken files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from connectors import arbin, registry
from connectors.base import REQUIRED_COLUMNS, FileHead
from connectors.errors import CorruptFile

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"
MITS_PRO = DATA / "arbin" / "mits_pro_bs542_channel_11.csv"


@pytest.mark.parametrize(
    ("name", "rows", "first_time", "last_time", "cycle_counts"),
    [
        pytest.param("arbin_example.csv", 2142, 0.0, 6308.4823, {1, 2}, id="beep-style"),
        pytest.param("FastCharge_000025_CH8.csv", 248, 10.0024, 1800.0104, {0}, id="beep-style-rest-only"),
        pytest.param(
            "2017-05-09_test-TC-contact_CH33.csv", 287, 0.0, 1022.8913, None, id="beep-style-no-counter"
        ),
        pytest.param("mits_pro_bs542_channel_11.csv", 4526, 1.001, 1204815.81068, {1}, id="mits-pro-style"),
    ],
)
def test_reads_real_files(name: str, rows: int, first_time: float, last_time: float, cycle_counts) -> None:
    result = arbin.CONNECTOR.read(DATA / "arbin" / name)

    frame = result.frame
    assert result.format == "arbin_csv"
    assert len(frame) == rows
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert frame["test_time_second"].iloc[0] == pytest.approx(first_time)
    assert frame["test_time_second"].iloc[-1] == pytest.approx(last_time)
    assert frame["test_time_second"].dtype == np.float64
    if cycle_counts is None:
        assert frame["cycle_count"].isna().all()
    else:
        assert set(frame["cycle_count"].dropna().astype(int)) == cycle_counts
    assert result.first_data_line == 2


def test_beep_style_values_and_units() -> None:
    frame = arbin.CONNECTOR.read(EXAMPLE).frame

    second = frame.iloc[
        1
    ]  # line 3 of the file: 2,5.0275,1499006358,5.0016,11,1,1.0999289,3.3750653,0.88141066,...
    assert second["record_index"] == 2
    assert second["current_ampere"] == pytest.approx(1.0999289)
    assert second["voltage_volt"] == pytest.approx(3.3750653)
    assert second["cycle_charging_capacity_ah"] == pytest.approx(0.88141066)
    assert second["unix_time_second"] == pytest.approx(1499006358.0)
    assert second["step_id"] == 11
    assert second["temperature_t1_celsius"] == pytest.approx(29.18314)
    assert (frame["current_ampere"] < 0).any()  # discharge stays negative: Arbin already charges positive


def test_mits_pro_style_timestamps_and_units() -> None:
    result = arbin.CONNECTOR.read(MITS_PRO, timezone="Europe/London")
    frame = result.frame

    # 10/19/2020 11:31:46.582 in London (BST, UTC+1) is 10:31:46.582 UTC
    assert frame["unix_time_second"].iloc[0] == pytest.approx(1603103506.582)
    assert frame["voltage_volt"].iloc[0] == pytest.approx(2.637298583984375)
    assert frame["current_ampere"].abs().max() < 1e-4  # 50 µA cell, exported in A
    assert "dV/dt(V/s)" in result.unmapped_columns


def test_milliamp_headers_are_scaled(tmp_path: Path) -> None:
    path = tmp_path / "ma.csv"
    path.write_text(
        "Date_Time,Test_Time(s),Step_Index,Cycle_Index,Voltage(mV),Current(mA),Charge_Capacity(mAh)\n"
        "2020-01-01 00:00:00,0,1,1,3700,500,0\n"
        "2020-01-01 00:00:10,10,1,1,3710,500,1.3889\n"
    )
    frame = arbin.CONNECTOR.read(path).frame

    assert frame["current_ampere"].tolist() == pytest.approx([0.5, 0.5])
    assert frame["voltage_volt"].tolist() == pytest.approx([3.7, 3.71])
    assert frame["cycle_charging_capacity_ah"].iloc[1] == pytest.approx(0.0013889)


def test_registry_recognises_by_content_not_extension(tmp_path: Path) -> None:
    renamed = tmp_path / "export.dat"
    renamed.write_bytes(EXAMPLE.read_bytes())

    assert registry.detect(renamed).name == "arbin_csv"
    assert not arbin.CONNECTOR.sniff(FileHead.read(DATA / "arbin" / "FastCharge_000025_CH8_Metadata.csv"))


def _corrupt(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken_arbin.csv"
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
            lambda ls: [*ls[:40], ls[40].rstrip(b"\r\n") + b",7,8\n", *ls[41:]],
            41,
            "expected 15 fields, found 17",
            id="extra-fields",
        ),
        pytest.param(
            lambda ls: [*ls[:60], b"\x00\x13\x9f\xff" * 8 + b"\n", *ls[61:]], 61, "binary", id="binary-bytes"
        ),
        pytest.param(
            lambda ls: [*ls[:70], ls[70].replace(b",3.", b",3.x", 1), *ls[71:]],
            71,
            "not a number",
            id="text-in-number",
        ),
    ],
)
def test_corrupt_file_names_file_line_and_rule(tmp_path: Path, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    path = _corrupt(tmp_path, mutate)

    with pytest.raises(CorruptFile) as caught:
        registry.read(path)

    assert caught.value.line == line
    message = str(caught.value)
    assert message.startswith("broken_arbin.csv: line ")
    assert words in message


def test_header_only_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty_arbin.csv"
    path.write_text(EXAMPLE.read_text().splitlines()[0] + "\n")

    with pytest.raises(CorruptFile, match="no data rows"):
        registry.read(path)


def test_a_date_time_column_holding_unix_seconds_is_read_by_its_values(tmp_path: Path) -> None:
    # the real 2017-05-09_test-TC-contact_CH33.csv writes epoch seconds under "DateTime"; some exports put
    # the same numbers under "Date_Time", the MITS Pro name for text timestamps: the values decide
    source = DATA / "arbin" / "2017-05-09_test-TC-contact_CH33.csv"
    renamed = tmp_path / "date_time.csv"
    text = source.read_text()
    renamed.write_text(text.replace("DateTime", "Date_Time", 1))
    milliseconds = tmp_path / "milliseconds.csv"
    lines = text.replace("DateTime", "Date_Time", 1).splitlines()
    column = lines[0].split(",").index("Date_Time")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[column] = str(round(float(row[column]) * 1000))
    milliseconds.write_text("\n".join([lines[0], *(",".join(row) for row in rows)]) + "\n")

    expected = [float(line.split(",")[2]) for line in text.splitlines()[1:]]
    by_name = arbin.CONNECTOR.read(source).frame["unix_time_second"].tolist()
    by_value = arbin.CONNECTOR.read(renamed).frame["unix_time_second"].tolist()
    from_ms = arbin.CONNECTOR.read(milliseconds).frame["unix_time_second"].to_numpy()

    assert by_value == by_name == pytest.approx(expected)
    np.testing.assert_allclose(from_ms, expected, atol=5e-4)


def _rewrite_datetime(source: Path, target: Path, name: str, write) -> Path:  # type: ignore[no-untyped-def]
    """The CSV with its DateTime column renamed `name` and each of its epoch seconds written by `write`."""
    header, *rows = source.read_text().splitlines()
    names = header.split(",")
    column = names.index("DateTime")
    names[column] = name
    cells = [row.split(",") for row in rows]
    for row in cells:
        row[column] = write(float(row[column]))
    target.write_text("\n".join([",".join(names), *(",".join(row) for row in cells)]) + "\n")
    return target


def _utc_text(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%m/%d/%Y %H:%M:%S.%f")


def _ole_days_in(zone: str):  # type: ignore[no-untyped-def]
    """Epoch seconds → OLE/Excel day number of the wall-clock time in `zone` (days since 1899-12-30)."""

    def write(seconds: float) -> str:
        local = dt.datetime.fromtimestamp(seconds, ZoneInfo(zone)).replace(tzinfo=None)
        return repr((local - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1))

    return write


@pytest.mark.parametrize(
    ("name", "write", "timezone", "tolerance"),
    [
        # text dates under the name that usually holds epoch seconds: refused before ("not a number")
        pytest.param("DateTime", _utc_text, "UTC", 1e-6, id="DateTime-text-dates"),
        # milliseconds under DateTime (rounded to the ms here): read as seconds, 1000× too late, before
        pytest.param("DateTime", lambda s: str(round(s * 1000)), "UTC", 6e-4, id="DateTime-milliseconds"),
        # Excel day numbers of the lab's wall clock (Pacific daylight time in May 2017: UTC−7)
        pytest.param(
            "Date_Time",
            _ole_days_in("America/Los_Angeles"),
            "America/Los_Angeles",
            1e-4,
            id="Date_Time-ole-days",
        ),
        pytest.param("DateTime", _ole_days_in("UTC"), "UTC", 1e-4, id="DateTime-ole-days-utc"),
    ],
)
def test_every_timestamp_form_is_judged_by_its_values(
    tmp_path: Path, name: str, write, timezone: str, tolerance: float
) -> None:  # type: ignore[no-untyped-def]
    # the real 2017-05-09_test-TC-contact_CH33.csv (epoch-second DateTime) written in another form
    source = DATA / "arbin" / "2017-05-09_test-TC-contact_CH33.csv"
    path = _rewrite_datetime(source, tmp_path / "rewritten.csv", name, write)
    expected = [float(line.split(",")[2]) for line in source.read_text().splitlines()[1:]]

    frame = arbin.CONNECTOR.read(path, timezone=timezone).frame

    assert len(frame) == len(expected) == 287
    np.testing.assert_allclose(frame["unix_time_second"], expected, rtol=0, atol=tolerance)
