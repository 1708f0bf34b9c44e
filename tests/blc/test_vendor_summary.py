"""Vendor per-cycle summaries beside a time series: stored on our cycles, shown beside our statistics,
never holding the time series back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
ARCHIVE = DATA / "batteryarchive" / "CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv"
ARCHIVE_CYCLES = ARCHIVE.with_name(ARCHIVE.name.replace("_timeseries", "_cycle_data"))
HUB = DATA / "batterydata" / "p492-13-raw.csv"
HUB_SUMMARY = DATA / "batterydata" / "p492-13-summary.csv"

pytestmark = pytest.mark.integration


def _copy(paths: list[Path], into: Path) -> Path:
    for path in paths:
        shutil.copy(path, into / path.name)
    return into / paths[0].name


def test_archive_cycle_data_sits_beside_our_cycles(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = _copy([ARCHIVE, ARCHIVE_CYCLES], blc_env)

    outcome, _ = pipeline.ingest(path.as_uri())
    table = pipeline.cycle_table(engine, outcome.cell_id or "")

    assert outcome.status == "loaded"
    # the time-series excerpt holds cycle 1 only; the cycle data all 9 cycles: 1 sits on ours, 8 wait
    assert len(table) == 1
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("select count(*), count(cycle_index) from blc.vendor_cycle_summary")
        ).one()
    assert tuple(stored) == (9, 1)
    first = table.iloc[0]
    assert first["vendor_summary"] == ARCHIVE_CYCLES.name
    # the archive's cycle 1 (its _cycle_data.csv line 2): 0.604 Ah charged, 1.292 Ah discharged, 4.758 Wh
    assert first["vendor_charge_capacity_ah"] == pytest.approx(0.604)
    assert first["vendor_discharge_capacity_ah"] == pytest.approx(1.292)
    assert first["vendor_discharge_energy_wh"] == pytest.approx(4.758)


def test_data_hub_summary_rows_follow_its_counter(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = _copy([HUB, HUB_SUMMARY], blc_env)

    outcome, _ = pipeline.ingest(path.as_uri())

    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("select count(*), count(cycle_index) from blc.vendor_cycle_summary")
        ).one()
    table = pipeline.cycle_table(engine, outcome.cell_id or "")
    # 267 summarised cycles, of which the raw excerpt holds 9: only those sit on one of our cycles
    assert tuple(stored) == (267, 9)
    assert table["vendor_discharge_capacity_ah"].iloc[1] == pytest.approx(0.02173834)
    assert table["discharge_capacity_ah"].iloc[1] == pytest.approx(0.02173834, rel=2e-4)
    assert table["vendor_charge_capacity_ah"].isna().iloc[0]  # cycle 1 did not charge: NaN in the hub


def test_unreadable_summary_is_left_out_and_the_time_series_loads(engine, blc_env: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    path = _copy([HUB], blc_env)
    (blc_env / HUB_SUMMARY.name).write_text("Cycle_Index,Q_dis\n1,0.1\n")  # no Q_chg

    with caplog.at_level("WARNING"):
        outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded"
    assert "p492-13-summary.csv" in caplog.text and "without Q_chg" in caplog.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from blc.vendor_cycle_summary")).scalar() == 0


def test_reingest_replaces_the_summary(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = _copy([ARCHIVE, ARCHIVE_CYCLES], blc_env)
    pipeline.ingest(path.as_uri())
    summary = blc_env / ARCHIVE_CYCLES.name
    summary.write_text("".join(summary.read_text().splitlines(keepends=True)[:3]))  # cycles 1–2 only
    path.write_text(path.read_text() + "\n")  # new content at the same URI

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded"
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select file_id, cycle_count from blc.vendor_cycle_summary")).all()
    assert sorted(r.cycle_count for r in rows) == [1, 2]
    assert {r.file_id for r in rows} == {outcome.file_id}


def test_summary_with_a_repeated_cycle_is_refused_by_name(tmp_path: Path) -> None:
    from connectors import batterydata, companions
    from connectors.errors import CorruptFile

    raw = _copy([HUB], tmp_path)
    (tmp_path / HUB_SUMMARY.name).write_text("Cycle_Index,Q_chg,Q_dis\n1,0.1,0.1\n2,0.1,0.1\n2,0.1,0.1\n")

    with pytest.raises(CorruptFile, match=r"p492-13-summary.csv: data row 3 repeats an earlier cycle"):
        companions.summary_beside(raw, batterydata.NAME)
