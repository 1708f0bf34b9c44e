"""Indigo cycler HDF5 (a pandas HDFStore, key ``time_series_data``, as BEEP's IndigoDatapath reads it): the
fixture written by tests/data/indigo/make_indigo_fixture.py (no real Indigo file was available), and variants
of it made here. Expected values are worked out by hand from the generator's stated protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors import indigo, registry
from connectors.base import FileHead
from connectors.errors import CorruptFile, UnsupportedFormat
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURE = DATA / "indigo" / "indigo_two_cycles.h5"

#: 2021-03-02 10:00:00 UTC, the first record's system_time_us / 1e6.
START = 1_614_679_200.0
#: One record at t = 0, then one every 30 s: 600 s rest (20), two cycles of 3600 s charge (120), 600 s rest
#: (20), discharge of 3300 s (110) then 3240 s (108), 600 s rest (20).
ROWS = 1 + 20 + (120 + 20 + 110 + 20) + (120 + 20 + 108 + 20)
LAST_TIME = 600 + (3600 + 600 + 3300 + 600) + (3600 + 600 + 3240 + 600)


def _source() -> pd.DataFrame:
    """The stored frame as pandas reads it (not through the connector)."""
    return pd.read_hdf(FIXTURE, "time_series_data")


def _write(frame: pd.DataFrame, path: Path, **kwargs: object) -> Path:
    frame.to_hdf(path, key="time_series_data", mode="w", **kwargs)
    return path


def test_reads_the_fixture() -> None:
    result = indigo.CONNECTOR.read(FIXTURE)
    frame = result.frame

    assert result.format == "indigo_hdf5"
    assert result.first_data_line is None
    assert len(frame) == ROWS == 559
    assert frame["test_time_second"].iloc[-1] == LAST_TIME == 16740
    assert frame["unix_time_second"].iloc[0] == START
    assert frame["unix_time_second"].iloc[-1] == START + LAST_TIME
    assert result.metadata == {
        "source_format": "Indigo HDF5",
        "indigo_cell_id": "417",
        "start_time": "2021-03-02T10:00:00+00:00",
    }
    assert result.unmapped_columns == ("experiment_count", "experiment_type")
    assert result.warnings == ()
    assert set(frame["cycle_count"]) == {1, 2}
    assert frame["step_count"].tolist()[:22] == [0] * 21 + [1]  # half_cycle_count: the first charge at 630 s
    # 630 s: the first charge record, 1.5 A into a cell at SOC 0.1 + 1.5·30/3600/2 = 0.10625:
    # V = 3.0 + 1.2·0.10625 + 0.05·1.5 = 3.2025 V
    first_charge = frame.iloc[21]
    assert first_charge["test_time_second"] == 630.0
    assert first_charge["current_ampere"] == 1.5  # positive: charging
    assert first_charge["voltage_volt"] == pytest.approx(3.2025)
    assert first_charge["power_watt"] == pytest.approx(3.2025 * 1.5)
    assert first_charge["surface_temperature_celsius"] == pytest.approx(25.0 + 2.0 * 1.5)
    assert first_charge["cycle_charging_capacity_ah"] == pytest.approx(1.5 * 30 / 3600)  # 45 C
    assert pd.isna(first_charge["cycle_discharging_capacity_ah"])


def test_current_sign_follows_the_half_cycles() -> None:
    frame = indigo.CONNECTOR.read(FIXTURE).frame
    flowing = frame[frame["current_ampere"] != 0]
    odd = flowing["step_count"] % 2 == 1

    assert (flowing.loc[odd, "current_ampere"] == 1.5).all()  # charge half cycles: +1.5 A
    assert (flowing.loc[~odd, "current_ampere"] == -1.5).all()  # discharge half cycles: −1.5 A
    assert odd.sum() == 240 and (~odd).sum() == 218


def test_coulomb_and_energy_counters_in_ah_and_wh() -> None:
    frame = indigo.CONNECTOR.read(FIXTURE).frame
    per_cycle = frame.groupby("cycle_count")

    # capacity: 1.5 A × 3600 s = 1.5 Ah charged; 1.5 A × 3300 s and × 3240 s discharged
    assert per_cycle["cycle_charging_capacity_ah"].max().tolist() == pytest.approx([1.5, 1.5])
    assert per_cycle["cycle_discharging_capacity_ah"].max().tolist() == pytest.approx([1.375, 1.35])
    # energy of the first charge: I·∫V dt with V = 3.195 V + 0.00025 V/s·t over 3600 s
    #   = 1.5 × (3.195 × 3600 + 0.000125 × 3600²) = 19683 J = 5.4675 Wh
    # of the first discharge from SOC 0.85: V = 3.945 V − 0.00025 V/s·t over 3300 s
    #   = 1.5 × (3.945 × 3300 − 0.000125 × 3300²) = 17485.875 J = 4.8571875 Wh
    assert per_cycle["cycle_charging_energy_wh"].max().iloc[0] == pytest.approx(5.4675)
    assert per_cycle["cycle_discharging_energy_wh"].max().iloc[0] == pytest.approx(4.8571875)
    # the file's own counters, |C| / 3600 and |J| / 3600, row by row
    source = _source()
    charging = source["half_cycle_count"] % 2 == 1
    np.testing.assert_allclose(
        frame.loc[charging, "cycle_charging_capacity_ah"], source.loc[charging, "cell_coulomb_count_c"] / 3600
    )
    np.testing.assert_allclose(
        frame.loc[~charging, "cycle_discharging_energy_wh"], -source.loc[~charging, "cell_energy_j"] / 3600
    )
    assert frame.loc[~charging, "cycle_charging_capacity_ah"].isna().all()


def test_integrated_current_matches_the_protocol() -> None:
    rule, stats = stats_of_frame(indigo.CONNECTOR.read(FIXTURE).frame)

    assert rule == "instrument_counter"
    assert len(stats) == 2
    assert stats["charge_capacity_ah"].iloc[0] == pytest.approx(1.5)
    assert stats["discharge_capacity_ah"].tolist() == pytest.approx([1.375, 1.35])


def test_a_file_counting_charge_negative_is_negated_with_a_warning(tmp_path: Path) -> None:
    source = _source()
    flipped = source.assign(cell_current_a=-source["cell_current_a"], cell_power_w=-source["cell_power_w"])
    path = _write(flipped, tmp_path / "flipped.h5")

    result = indigo.CONNECTOR.read(path)

    np.testing.assert_array_equal(result.frame["current_ampere"], source["cell_current_a"])
    assert len(result.warnings) == 1
    assert "negated" in result.warnings[0] and "458 rows against 0" in result.warnings[0]
    assert result.metadata["current_sign"] == "negated: the file counted charge negative"


def test_table_format_reads_the_same(tmp_path: Path) -> None:
    path = _write(_source(), tmp_path / "table.h5", format="table")

    pd.testing.assert_frame_equal(indigo.CONNECTOR.read(path).frame, indigo.CONNECTOR.read(FIXTURE).frame)


def test_without_time_s_the_test_time_comes_from_the_system_clock(tmp_path: Path) -> None:
    source = _source()
    path = _write(source.drop(columns="time_s"), tmp_path / "no_time.h5")

    frame = indigo.CONNECTOR.read(path).frame

    np.testing.assert_allclose(frame["test_time_second"], source["time_s"], atol=1e-6)


def test_small_chunks_read_the_same_as_one() -> None:
    whole = indigo.CONNECTOR.read(FIXTURE).frame
    streamed = indigo.CONNECTOR.stream(FIXTURE, chunk_rows=100)
    chunks = list(streamed.chunks(None))

    assert [len(chunk) for chunk in chunks] == [100] * 5 + [59]
    assert streamed.columns == tuple(whole.columns)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    few = pd.concat(streamed.chunks(["test_time_second", "current_ampere"]), ignore_index=True)
    assert list(few.columns) == ["test_time_second", "current_ampere"]


def test_a_second_cell_in_one_file_is_refused(tmp_path: Path) -> None:
    source = _source()
    source.loc[300:, "cell_id"] = 418
    path = _write(source, tmp_path / "two_cells.h5")

    with pytest.raises(
        CorruptFile, match=r"two_cells.h5: column 'cell_id', row 300: cell 418 after cell 417"
    ):
        indigo.CONNECTOR.read(path)


def test_a_frame_without_current_is_refused(tmp_path: Path) -> None:
    path = _write(_source().drop(columns="cell_current_a"), tmp_path / "no_current.h5")

    assert not indigo.CONNECTOR.sniff(FileHead.read(path))
    with pytest.raises(CorruptFile, match="Indigo time_series_data without cell_current_a"):
        indigo.CONNECTOR.read(path)


def test_a_truncated_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.h5"
    path.write_bytes(FIXTURE.read_bytes()[:4000])

    with pytest.raises(CorruptFile, match=r"^cut.h5: not a readable HDF5 file"):
        indigo.CONNECTOR.read(path)
    with pytest.raises(UnsupportedFormat):
        registry.detect(path)


def test_registry_detects_indigo_by_content(tmp_path: Path) -> None:
    renamed = tmp_path / "export.bin"
    renamed.write_bytes(FIXTURE.read_bytes())
    other_key = _write(_source(), tmp_path / "other.h5")
    with pd.HDFStore(other_key, mode="w") as store:
        store.put("measurements", _source())

    assert registry.detect(FIXTURE) is indigo.CONNECTOR
    assert registry.detect(renamed) is indigo.CONNECTOR
    assert not indigo.CONNECTOR.sniff(FileHead.read(other_key))  # an HDF5 store, but not Indigo's key
    for path in (p for p in DATA.rglob("*") if p.is_file() and p != FIXTURE):
        assert not indigo.CONNECTOR.sniff(FileHead.read(path)), path
