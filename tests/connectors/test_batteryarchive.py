"""batteryarchive.org time-series download (real excerpt, tests/data/NOTICE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import batteryarchive, registry

DATA = Path(__file__).resolve().parents[1] / "data"
FILE = DATA / "batteryarchive" / "CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv"


def test_reads_excerpt() -> None:
    result = registry.read(FILE)
    frame = result.frame

    assert result.format == "batteryarchive_timeseries"
    assert len(frame) == 15
    assert frame["test_time_second"].iloc[0] == pytest.approx(30.009)
    assert frame["current_ampere"].iloc[4] == pytest.approx(0.674)
    assert frame["charging_capacity_ah"].iloc[-1] == pytest.approx(0.059)
    # 2010-09-02 14:35:40 read as UTC (no lab timezone given)
    assert frame["unix_time_second"].iloc[0] == pytest.approx(1283438140.0)
    assert frame["ambient_temperature_celsius"].isna().all()
    assert result.metadata["cell_id"] == "CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d"


def test_lab_timezone_applies_to_naive_timestamps() -> None:
    frame = batteryarchive.CONNECTOR.read(FILE, timezone="America/New_York").frame

    assert frame["unix_time_second"].iloc[0] == pytest.approx(1283438140.0 + 4 * 3600)  # EDT = UTC−4


def test_unknown_file_lists_formats_tried(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("a,b,c\n1,2,3\n")

    with pytest.raises(Exception, match=r"notes.csv: no connector recognises it .*tried: batteryarchive"):
        registry.detect(path)
