"""BDF CSV/Parquet connector and writer: hand-written BDF fixtures (tests/data/bdf), a round trip of a real
Arbin export through `write_bdf`, and broken files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors import arbin, bdf
from connectors.base import FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
LABELLED = DATA / "bdf" / "cell_a.bdf.csv"
MACHINE = DATA / "bdf" / "cell_b.bdf.csv"
ARBIN = DATA / "arbin" / "arbin_example.csv"


def test_reads_labelled_csv_with_sidecar() -> None:
    result = bdf.CONNECTOR_CSV.read(LABELLED)
    frame = result.frame

    assert result.format == "bdf_csv"
    assert result.first_data_line == 2
    assert len(frame) == 33
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == 1470.0
    assert frame["test_time_second"].dtype == np.float64
    # line 3: 10,1717236010,3.7,0.5,1,2,2,cc_charge,0.000694,0.000000,0.000000,25.1
    row = frame.iloc[1]
    assert row["unix_time_second"] == 1717236010.0
    assert row["voltage_volt"] == pytest.approx(3.7)
    assert row["current_ampere"] == pytest.approx(0.5)  # BDF: positive = charge, unchanged
    assert row["cycle_count"] == 1 and row["step_count"] == 2 and row["step_id"] == 2
    assert row["cycle_charging_capacity_ah"] == pytest.approx(0.000694)
    assert row["ambient_temperature_celsius"] == pytest.approx(25.1)
    # line 12: 450,1717236450,3.87,-0.5,1,4,4,cc_discharge,0.051389,0.009028,0.000000,25.0
    assert frame["current_ampere"].iloc[10] == pytest.approx(-0.5)
    assert frame["cycle_discharging_capacity_ah"].iloc[10] == pytest.approx(0.009028)
    assert str(frame["cycle_count"].dtype) == "Int64"
    # Step Type is text, with no canonical column; the step-scope counter keeps its BDF name
    assert result.unmapped_columns == ("Step Type",)
    assert frame["step_charging_capacity_ah"].iloc[3] == pytest.approx(0.016667)  # line 5
    assert result.metadata == {
        "cell_id": "CELL-A-001",
        "nominal_capacity_ah": 0.05,
        "cell.chemistry": "NMC/graphite",
        "cell.form_factor": "coin",
        "tester": "fixture written by hand for tests, BDF 1.3.0 labels",
        "formation_cycles": 0.0,
    }

    rule, stats = stats_of_frame(frame)
    assert rule == "instrument_counter"
    assert len(stats) == 2
    # 0.5 A for 360 s plus two 10 s ramps from/to rest = 185 As, per half cycle of cycle 1.
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(185 / 3600, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(185 / 3600, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(185 / 3600, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(155 / 3600, rel=1e-6)
    np.testing.assert_allclose(
        stats["reported_discharge_capacity_ah"], stats["discharge_capacity_ah"], rtol=1e-4
    )
    np.testing.assert_allclose(stats["reported_charge_capacity_ah"], stats["charge_capacity_ah"], rtol=1e-4)


def test_reads_machine_names_and_leaves_text_step_id_unmapped() -> None:
    result = bdf.CONNECTOR_CSV.read(MACHINE)
    frame = result.frame

    assert len(frame) == 8
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == 240.5
    # line 7: 170.5,3.901,-2.5,0,CC-DCHG,0.0486979,0.0034722,-9.7525,ok
    assert frame["current_ampere"].iloc[5] == -2.5
    assert frame["power_watt"].iloc[5] == pytest.approx(-9.7525)
    assert frame["charging_capacity_ah"].iloc[5] == pytest.approx(0.0486979)
    assert "step_id" not in frame  # "CC-DCHG": BDF allows text step ids, our step_id is a number
    assert result.unmapped_columns == ("step_id", "operator_flag")
    assert result.metadata == {}

    _, stats = stats_of_frame(frame)
    assert len(stats) == 1
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(175.3125 / 3600, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(175.0 / 3600, rel=1e-6)
    assert stats["reported_charge_capacity_ah"].iloc[0] == pytest.approx(0.0486979, rel=1e-5)
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(0.0486111, rel=1e-5)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_of_a_real_arbin_export(tmp_path: Path, fmt: str) -> None:
    source = arbin.CONNECTOR.read(ARBIN)
    chunks = arbin.CONNECTOR.stream(ARBIN, chunk_rows=500).chunks(None)
    metadata = {"cell_id": "arbin-example", "nominal_capacity_ah": 1.1, "source": "arbin_example.csv"}

    written = bdf.write_bdf(chunks, tmp_path / "out", "arbin_example", fmt=fmt, metadata=metadata)

    data_path = tmp_path / "out" / f"arbin_example.bdf.{fmt}"
    assert written == [data_path, tmp_path / "out" / "arbin_example.metadata.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)
    connector = bdf.CONNECTOR_CSV if fmt == "csv" else bdf.CONNECTOR_PARQUET
    other = bdf.CONNECTOR_PARQUET if fmt == "csv" else bdf.CONNECTOR_CSV
    head = FileHead.read(data_path)
    assert connector.sniff(head)
    assert not other.sniff(head)

    result = connector.read(data_path)

    shared = [c for c in source.frame.columns if c in result.frame.columns]
    assert shared == list(source.frame.columns)
    pd.testing.assert_frame_equal(result.frame[shared], source.frame[shared])
    assert result.metadata == metadata
    assert result.unmapped_columns == ()
    rule_in, stats_in = stats_of_frame(source.frame)
    rule_out, stats_out = stats_of_frame(result.frame)
    assert rule_in == rule_out
    pd.testing.assert_frame_equal(stats_out, stats_in)
    assert len(stats_out) == 2
    if fmt == "csv":
        header = data_path.read_text().split("\n", 1)[0]
        assert header.startswith("Record Index / 1,Test Time / s,Unix Time / s,Cycle Count / 1,Step ID,")
    else:
        assert pq.ParquetFile(data_path).num_row_groups == 5  # one per written chunk of 500 rows
        assert "current_ampere" in pq.read_schema(data_path).names


def test_parquet_streams_in_chunks_and_selects_columns(tmp_path: Path) -> None:
    source = arbin.CONNECTOR.read(ARBIN).frame
    path, _ = bdf.write_bdf([source], tmp_path, "cell", fmt="parquet", metadata={})

    streamed = bdf.CONNECTOR_PARQUET.stream(path, chunk_rows=700)
    chunks = list(streamed.chunks(["test_time_second", "current_ampere"]))

    assert [len(c) for c in chunks] == [700, 700, 700, 42]
    assert all(list(c.columns) == ["test_time_second", "current_ampere"] for c in chunks)
    assert streamed.first_data_line is None
    assert "voltage_volt" in streamed.columns
    combined = pd.concat(chunks, ignore_index=True)
    np.testing.assert_array_equal(combined["current_ampere"], source["current_ampere"])


def test_labels_in_other_units_are_scaled(tmp_path: Path) -> None:
    path = tmp_path / "scaled.bdf.csv"
    path.write_text(
        "Test Time / s,Voltage / mV,Current / mA,Charging Capacity / mA.h,Cycle Count / 1,Step Type\n"
        "0,3700,500,0,1,cc\n"
        "10,3710,-250,1.3889,1,cc\n"
    )

    frame = bdf.CONNECTOR_CSV.read(path).frame

    assert frame["voltage_volt"].tolist() == pytest.approx([3.7, 3.71])
    assert frame["current_ampere"].tolist() == pytest.approx([0.5, -0.25])
    assert frame["charging_capacity_ah"].iloc[1] == pytest.approx(0.0013889)


def test_parquet_with_labels_and_integer_columns(tmp_path: Path) -> None:
    path = tmp_path / "labels.bdf.parquet"
    table = pa.table(
        {
            "Test Time / s": pa.array([0, 1, 2], pa.int64()),
            "Voltage / V": [3.0, 3.1, 3.2],
            "Current / A": [1.0, 1.0, None],
            "Cycle Count / 1": pa.array([1, 1, 2], pa.int32()),
            "Step Type": ["a", "b", "c"],
        }
    )
    pq.write_table(table, path, row_group_size=2)

    assert bdf.CONNECTOR_PARQUET.sniff(FileHead.read(path))
    result = bdf.CONNECTOR_PARQUET.read(path)

    assert result.frame["test_time_second"].tolist() == [0.0, 1.0, 2.0]
    assert result.frame["cycle_count"].tolist() == [1, 1, 2]
    assert np.isnan(result.frame["current_ampere"].iloc[2])
    assert result.unmapped_columns == ("Step Type",)


def _other_files() -> list[Path]:
    return sorted(p for p in DATA.rglob("*") if p.is_file() and "bdf" not in p.relative_to(DATA).parts)


def test_sniff_accepts_bdf_and_rejects_other_formats(tmp_path: Path) -> None:
    assert bdf.CONNECTOR_CSV.sniff(FileHead.read(LABELLED))
    assert bdf.CONNECTOR_CSV.sniff(FileHead.read(MACHINE))
    assert not bdf.CONNECTOR_PARQUET.sniff(FileHead.read(LABELLED))
    others = _other_files()
    assert ARBIN in others
    for path in [*others, LABELLED.with_name("cell_a.metadata.json")]:
        head = FileHead.read(path)
        assert not bdf.CONNECTOR_CSV.sniff(head), path
        assert not bdf.CONNECTOR_PARQUET.sniff(head), path
    # A Parquet file that is not BDF, and one that is cut short.
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"time": [0.0], "volts": [3.0], "amps": [1.0]}), plain)
    assert not bdf.CONNECTOR_PARQUET.sniff(FileHead.read(plain))
    cut = tmp_path / "cut.bdf.parquet"
    cut.write_bytes(b"PAR1" + b"\x00" * 40)
    assert not bdf.CONNECTOR_PARQUET.sniff(FileHead.read(cut))


def _broken(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    lines = LABELLED.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken.bdf.csv"
    path.write_bytes(b"".join(mutate(lines)))
    return path


@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        pytest.param(
            lambda ls: [*ls[:20], ls[20][:12] + b"\n", *ls[21:]], 21, "fields, found", id="truncated-mid-row"
        ),
        pytest.param(
            lambda ls: [*ls[:10], ls[10].replace(b",3.95,", b",3.9x5,"), *ls[11:]],
            11,
            "'Voltage / V': value '3.9x5' is not a number",
            id="text-in-number",
        ),
        pytest.param(
            lambda ls: [*ls[:14], ls[14].replace(b",-0.5,1,", b",-0.5,1.5,"), *ls[15:]],
            15,
            "'Cycle Count / 1': 1.5 is not a whole number",
            id="fractional-counter",
        ),
    ],
)
def test_broken_csv_names_the_line(tmp_path: Path, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    path = _broken(tmp_path, mutate)

    with pytest.raises(CorruptFile) as caught:
        bdf.CONNECTOR_CSV.read(path)

    assert caught.value.line == line
    assert str(caught.value).startswith(f"broken.bdf.csv: line {line}: ")
    assert words in str(caught.value)


def test_broken_parquet_and_sidecar(tmp_path: Path) -> None:
    path, _ = bdf.write_bdf(
        [arbin.CONNECTOR.read(ARBIN).frame], tmp_path, "cell", fmt="parquet", metadata={"cell_id": "x"}
    )
    cut = tmp_path / "cut.bdf.parquet"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptFile, match=r"^cut\.bdf\.parquet: not a readable Parquet file"):
        bdf.CONNECTOR_PARQUET.read(cut)

    (tmp_path / "cell.metadata.json").write_text('{"cell_id": "x",')
    with pytest.raises(CorruptFile, match=r"^cell\.metadata\.json: metadata sidecar is not valid JSON"):
        bdf.CONNECTOR_PARQUET.read(path)


def test_writer_rejects_bad_input_and_leaves_no_partial_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        bdf.write_bdf([], tmp_path, "empty", metadata={})
    with pytest.raises(ValueError, match="required column"):
        bdf.write_bdf([pd.DataFrame({"test_time_second": [0.0]})], tmp_path, "x", fmt="parquet", metadata={})
    with pytest.raises(ValueError, match="fmt"):
        bdf.write_bdf([], tmp_path, "x", fmt="xlsx", metadata={})
    assert list(tmp_path.iterdir()) == []


def test_writer_output_is_valid_json_sidecar(tmp_path: Path) -> None:
    frame = bdf.CONNECTOR_CSV.read(LABELLED).frame
    _, meta = bdf.write_bdf(
        [frame], tmp_path, "copy", metadata={"cell_id": "CELL-A-001", "nominal_capacity_ah": 0.05}
    )

    assert json.loads(meta.read_text()) == {"cell_id": "CELL-A-001", "nominal_capacity_ah": 0.05}
    again = bdf.CONNECTOR_CSV.read(tmp_path / "copy.bdf.csv")
    pd.testing.assert_frame_equal(again.frame, frame)


def test_older_bdf_labels_for_the_capacity_counters_are_kept(tmp_path: Path) -> None:
    # cell_a.bdf.csv (ours, BDF 1.3.0 labels) with its counters under the earlier drafts' names
    # ("Cycle Charge Capacity / Ah" for "Cycle Charging Capacity / Ah"): the same values, not dropped
    source = LABELLED.read_text()
    older = source.replace("Cycle Charging Capacity / Ah", "Cycle Charge Capacity / Ah").replace(
        "Cycle Discharging Capacity / Ah", "Cycle Discharge Capacity / Ah"
    )
    assert older != source
    path = tmp_path / "older.bdf.csv"
    path.write_text(older)

    read = bdf.CONNECTOR.read(path).frame
    expected = bdf.CONNECTOR.read(LABELLED).frame

    for name in ("cycle_charging_capacity_ah", "cycle_discharging_capacity_ah"):
        assert read[name].tolist() == expected[name].tolist()


OLDER = DATA / "bdf" / "cell_c_older_labels.bdf.csv"


def test_older_labels_keep_their_counters_with_the_files_values() -> None:
    # "Charge Capacity / Ah" … "Surface Temperature T1 / degC": the earlier drafts' labels, written by hand
    result = bdf.CONNECTOR_CSV.read(OLDER)
    frame = result.frame
    with OLDER.open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert result.unmapped_columns == ()
    for label, machine in (
        ("Charge Capacity / Ah", "charging_capacity_ah"),
        ("Discharge Capacity / Ah", "discharging_capacity_ah"),
        ("Charge Energy / Wh", "charging_energy_wh"),
        ("Discharge Energy / Wh", "discharging_energy_wh"),
        ("Surface Temperature T1 / degC", "temperature_t1_celsius"),
    ):
        assert frame[machine].tolist() == [float(row[label]) for row in rows], label
    # 1 A for 3600 s each way: 1 Ah charged, then 1 Ah discharged
    assert frame["charging_capacity_ah"].iloc[4] == 1.0
    assert frame["discharging_capacity_ah"].iloc[-1] == 1.0
    _rule, stats = stats_of_frame(frame)
    assert stats["reported_charge_capacity_ah"].iloc[0] == pytest.approx(1.0)
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(1.0)


def test_older_machine_names_are_read_as_the_terms_they_became(tmp_path: Path) -> None:
    # machine names of earlier ontology releases (…_ampere_hour, …_watt_hour, current_a, power_w, …)
    path = tmp_path / "older_machine.bdf.csv"
    path.write_text(
        "test_time_second,voltage_volt,current_a,cycle_dimensionless,step_count_1,charging_capacity_ampere_hour,"
        "cycle_discharging_energy_watt_hour,power_w,ambient_temperature_degc\n"
        "0,3.5,0.0,1,1,0.0,0.0,0.0,25.0\n"
        "3600,4.0,1.0,1,2,1.0,0.0,4.0,25.5\n"
    )

    result = bdf.CONNECTOR_CSV.read(path)
    frame = result.frame

    assert result.unmapped_columns == ()
    assert frame["current_ampere"].tolist() == [0.0, 1.0]
    assert frame["cycle_count"].tolist() == [1, 1]
    assert frame["step_count"].tolist() == [1, 2]
    assert frame["charging_capacity_ah"].tolist() == [0.0, 1.0]
    assert frame["cycle_discharging_energy_wh"].tolist() == [0.0, 0.0]
    assert frame["power_watt"].tolist() == [0.0, 4.0]
    assert frame["ambient_temperature_celsius"].tolist() == [25.0, 25.5]
