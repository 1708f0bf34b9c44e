"""Generic YAML-mapped CSV connector: fixtures in tests/data/generic (a per-file mapping with mA, minutes,
decimal commas and charge-negative current; a folder mapping with hh:mm:ss durations), mapping validation and
broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from connectors import generic
from connectors.base import FileHead
from connectors.errors import CorruptFile, UnsupportedFormat
from connectors.generic import MappingError
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
RIG_B7 = DATA / "generic" / "lab_rig_run1.csv"
RIG_C = DATA / "generic" / "shared_mapping" / "rig_c_log.csv"
ARBIN = DATA / "arbin" / "arbin_example.csv"


def test_per_file_mapping_converts_to_si_and_charge_positive() -> None:
    result = generic.CONNECTOR.read(RIG_B7)
    frame = result.frame

    assert result.format == "generic_csv"
    assert result.first_data_line == 4
    assert len(frame) == 16
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == pytest.approx(59.5 * 60)  # "59,5" minutes
    # line 5: 0,5;01.03.2024 09:00:30;3,701;-200,0;0,8333;0,0000;1;;22,5 (charging written negative, mA)
    row = frame.iloc[1]
    assert row["test_time_second"] == pytest.approx(30.0)
    assert row["current_ampere"] == pytest.approx(0.2)
    assert row["voltage_volt"] == pytest.approx(3.701)
    assert row["cycle_charging_capacity_ah"] == pytest.approx(0.0008333)
    assert row["temperature_t1_celsius"] == pytest.approx(22.5)
    assert row["cycle_count"] == 1
    # line 9: 21,5;…;3,980;400,0;68,3333;1,6667;1;;22,9 (discharging written positive)
    assert frame["current_ampere"].iloc[5] == pytest.approx(-0.4)
    assert frame["cycle_discharging_capacity_ah"].iloc[5] == pytest.approx(0.0016667)
    assert not np.signbit(frame["current_ampere"].iloc[0])  # a rest stays +0.0 after the flip
    # 01.03.2024 09:00:00 in Europe/Berlin (CET, UTC+1) = 2024-03-01T08:00:00Z
    assert frame["unix_time_second"].iloc[0] == 1709280000.0
    np.testing.assert_allclose(frame["unix_time_second"] - 1709280000.0, frame["test_time_second"])
    assert result.unmapped_columns == ("Kommentar",)
    assert result.metadata == {
        "cell_id": "RIG-B7-0042",
        "nominal_capacity_ah": 0.07,
        "mapping_file": "lab_rig_run1.mapping.yaml",
        "timezone": "Europe/Berlin",
    }

    rule, stats = stats_of_frame(frame)
    assert rule == "instrument_counter"
    assert len(stats) == 2
    # 0.2 A for 1200 s + two 30 s ramps = 246 As; 0.4 A for 480 s + two ramps = 204 As; cycle 2: 180 As.
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(246 / 3600, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(204 / 3600, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(246 / 3600, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(180 / 3600, rel=1e-6)
    np.testing.assert_allclose(stats["reported_charge_capacity_ah"], stats["charge_capacity_ah"], rtol=1e-4)
    np.testing.assert_allclose(
        stats["reported_discharge_capacity_ah"], stats["discharge_capacity_ah"], rtol=1e-4
    )


def test_folder_mapping_with_durations() -> None:
    result = generic.CONNECTOR.read(RIG_C)
    frame = result.frame

    assert len(frame) == 8
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == 1830.0  # 00:30:30
    # line 7: 00:20:30,4,-3.000,3.900,0.50417,0.00417
    assert frame["test_time_second"].iloc[5] == 1230.0
    assert frame["current_ampere"].iloc[5] == -3.0
    assert frame["step_id"].iloc[5] == 4
    assert frame["discharging_capacity_ah"].iloc[5] == pytest.approx(0.00417)
    assert result.metadata == {"mapping_file": "blc-mapping.yaml"}
    assert result.unmapped_columns == ()

    rule, stats = stats_of_frame(frame)
    assert rule == "charge_discharge_transitions"  # no cycle counter in the file
    assert len(stats) == 1
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(1815 / 3600, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(1800 / 3600, rel=1e-6)
    assert stats["reported_charge_capacity_ah"].iloc[0] == pytest.approx(0.50417)
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(0.5)


def test_sniff_needs_a_mapping_whose_headers_the_file_has(tmp_path: Path) -> None:
    assert generic.CONNECTOR.sniff(FileHead.read(RIG_B7))
    assert generic.CONNECTOR.sniff(FileHead.read(RIG_C))
    others = [p for p in DATA.rglob("*") if p.is_file() and "generic" not in p.relative_to(DATA).parts]
    assert ARBIN in others
    for path in others:
        assert not generic.CONNECTOR.sniff(FileHead.read(path)), path
    # The mappings themselves, and a vendor file dropped into a folder whose mapping does not fit it.
    assert not generic.CONNECTOR.sniff(FileHead.read(RIG_B7.with_name("lab_rig_run1.mapping.yaml")))
    assert not generic.CONNECTOR.sniff(FileHead.read(RIG_C.with_name("blc-mapping.yaml")))
    shutil.copy(RIG_C.with_name("blc-mapping.yaml"), tmp_path / "blc-mapping.yaml")
    shutil.copy(ARBIN, tmp_path / "arbin_example.csv")
    assert not generic.CONNECTOR.sniff(FileHead.read(tmp_path / "arbin_example.csv"))
    # Recognised by content: the same rows under another name still match the folder mapping.
    shutil.copy(RIG_C, tmp_path / "export.dat")
    assert generic.CONNECTOR.sniff(FileHead.read(tmp_path / "export.dat"))


def test_file_mapping_wins_over_folder_mapping(tmp_path: Path) -> None:
    shutil.copy(RIG_C.with_name("blc-mapping.yaml"), tmp_path / "blc-mapping.yaml")
    data = tmp_path / "run.csv"
    data.write_text("t_h,I_A,U_V\n0,-1,3.5\n0.5,-1,3.6\n")
    (tmp_path / "run.mapping.yaml").write_text(
        "current_sign: charge_negative\n"
        "columns:\n"
        "  t_h: {name: test_time_second, unit: h}\n"
        "  I_A: current_ampere\n"
        "  U_V: {name: voltage_volt, unit: V}\n"
    )

    frame = generic.CONNECTOR.read(data).frame

    assert frame["test_time_second"].tolist() == [0.0, 1800.0]
    assert frame["current_ampere"].tolist() == [1.0, 1.0]


def test_test_time_derived_from_timestamps(tmp_path: Path) -> None:
    data = tmp_path / "stamped.csv"
    data.write_text(
        "when\tamps\tvolts\n2024-07-01 12:00:00\t0.5\t3.6\n2024-07-01 12:00:10\t0.5\t3.7\n"
        "2024-07-01 12:01:10\t-0.5\t3.5\n"
    )
    (tmp_path / "blc-mapping.yml").write_text(
        "delimiter: tab\ncurrent_sign: charge_positive\n"
        "columns:\n  when: {name: unix_time_second, format: timestamp}\n  amps: current_ampere\n"
        "  volts: voltage_volt\n"
    )

    result = generic.CONNECTOR.read(data, timezone="America/New_York")

    assert result.frame["test_time_second"].tolist() == [0.0, 10.0, 70.0]
    assert result.frame["unix_time_second"].iloc[0] == 1719849600.0  # 12:00 EDT = 16:00 UTC
    assert "timezone" not in result.metadata


def _mapping_error(tmp_path: Path, mapping: str, data: str = "t,i,v\n0,1,3\n") -> str:
    (tmp_path / "d.csv").write_text(data)
    (tmp_path / "d.mapping.yaml").write_text(mapping)
    with pytest.raises(MappingError) as caught:
        generic.CONNECTOR.read(tmp_path / "d.csv")
    message = str(caught.value)
    assert message.startswith("d.mapping.yaml: ")
    return message


_COLUMNS = "columns:\n  t: test_time_second\n  i: current_ampere\n  v: voltage_volt\n"


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        pytest.param(
            "current_sign: charge_positive\ncolumns:\n  t: test_time_second\n  i: current_amps\n  v: voltage_volt\n",
            "columns['i'].name: 'current_amps' is not a canonical column",
            id="unknown-canonical-name",
        ),
        pytest.param(
            "current_sign: charge_positive\ncolumns:\n  t: test_time_second\n"
            "  i: {name: current_ampere, unit: mAA}\n  v: voltage_volt\n",
            "columns['i'].unit: 'mAA' is not a current unit",
            id="unknown-unit",
        ),
        pytest.param(
            "current_sign: charge_positive\ncolumns:\n  t: test_time_second\n  i: current_ampere\n",
            "columns: no column is mapped to the required voltage_volt",
            id="missing-required",
        ),
        pytest.param(_COLUMNS, "current_sign: missing", id="missing-sign"),
        pytest.param(
            "current_sign: discharge_positive\n" + _COLUMNS,
            "current_sign: 'discharge_positive'",
            id="bad-sign",
        ),
        pytest.param(
            "current_sign: charge_positive\ndelimeter: ';'\n" + _COLUMNS, "delimeter: unknown key", id="typo"
        ),
        pytest.param(
            "current_sign: charge_positive\ncolumns:\n  t: test_time_second\n  i: current_ampere\n  V: voltage_volt\n",
            "columns['V']: d.csv has no such column on line 1",
            id="header-not-in-file",
        ),
        pytest.param(
            "current_sign: charge_positive\ncolumns:\n  t: {name: test_time_second, format: duration, unit: s}\n"
            "  i: current_ampere\n  v: voltage_volt\n",
            "columns['t'].unit: a duration column takes no unit",
            id="unit-on-duration",
        ),
        pytest.param(
            "current_sign: charge_positive\ncolumns: [a, b]\n", "columns: missing or empty", id="not-a-map"
        ),
        pytest.param("current_sign: [unclosed\n", "not a readable YAML file", id="bad-yaml"),
    ],
)
def test_invalid_mapping_names_file_and_key(tmp_path: Path, mapping: str, words: str) -> None:
    assert words in _mapping_error(tmp_path, mapping)


def test_no_mapping_is_unsupported(tmp_path: Path) -> None:
    shutil.copy(ARBIN, tmp_path / "a.csv")
    with pytest.raises(UnsupportedFormat, match="no mapping beside it"):
        generic.CONNECTOR.read(tmp_path / "a.csv")


def _broken(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    lines = RIG_B7.read_bytes().splitlines(keepends=True)
    path = tmp_path / "lab_rig_run1.csv"
    path.write_bytes(b"".join(mutate(lines)))
    shutil.copy(RIG_B7.with_name("lab_rig_run1.mapping.yaml"), tmp_path)
    return path


@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        pytest.param(
            lambda ls: [*ls[:10], ls[10][:20] + b"\n", *ls[11:]], 11, "fields, found", id="truncated-mid-row"
        ),
        pytest.param(
            lambda ls: [*ls[:6], ls[6].replace(b";4,150;", b";4,1x0;"), *ls[7:]],
            7,
            "column 'U [V]': value '4,1x0' is not a number",
            id="text-in-number",
        ),
        pytest.param(
            lambda ls: [*ls[:12], ls[12].replace(b"01.03.2024 09:31:00", b"2024-03-01 09:31"), *ls[13:]],
            13,
            "timestamp '2024-03-01 09:31' is not %d.%m.%Y %H:%M:%S",
            id="bad-timestamp",
        ),
    ],
)
def test_broken_data_names_the_line(tmp_path: Path, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    path = _broken(tmp_path, mutate)

    with pytest.raises(CorruptFile) as caught:
        generic.CONNECTOR.read(path)

    assert caught.value.line == line
    assert str(caught.value).startswith(f"lab_rig_run1.csv: line {line}: ")
    assert words in str(caught.value)


def test_stream_chunks_and_column_subset() -> None:
    streamed = generic.CONNECTOR.stream(RIG_B7, chunk_rows=5)
    chunks = list(streamed.chunks(["test_time_second", "current_ampere"]))

    assert sum(len(c) for c in chunks) == 16
    assert all(list(c.columns) == ["test_time_second", "current_ampere"] for c in chunks)
    assert "voltage_volt" in streamed.columns
