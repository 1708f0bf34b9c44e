"""The per-cycle suite (expectations/cycle_stats.json) after processing: warnings recorded against the cell's
newest file, errors roll the processing back."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import pipeline
from blc.cycle_check import CycleStatsInvalid, check_cycle_stats
from blc.settings import get_settings

pytestmark = pytest.mark.integration

HEADER = "Test Time / s,Voltage / V,Current / A,Cycle Count / 1\n"


def _cell(path: Path, discharge_seconds: tuple[float, float]) -> Path:
    """Two 1 A cycles: 3600 s of charge (3.0 → 4.0 V), then a discharge of the given length (4.0 → 3.0 V),
    then rest; every 600 s."""
    rows, t = [], 0.0
    for cycle, seconds in enumerate(discharge_seconds, start=1):
        for k in range(7):
            rows.append(f"{t + 600 * k:g},{3.0 + k / 6:.4f},1.0,{cycle}")
        t += 3600 + 600
        steps = int(seconds // 600)
        for k in range(steps + 1):
            rows.append(f"{t + 600 * k:g},{4.0 - k / steps:.4f},-1.0,{cycle}")
        t += seconds + 600
        rows.append(f"{t:g},3.2,0.0,{cycle}")
        t += 600
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_an_efficiency_above_1_2_is_a_warning_on_the_newest_file(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    # by hand: cycle 2 charges 1 A × 3600 s = 1 Ah and discharges 1 A × 5400 s = 1.5 Ah: CE 1.5
    path = _cell(blc_env / "ce.bdf.csv", (3600.0, 5400.0))

    outcome, _ = pipeline.ingest(path.as_uri())

    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "select file_id, stage, severity, rule, first_line from blc.validation_finding where stage = 'cycle'"
            )
        ).all()
        status = conn.execute(sa.text("select status from blc.source_file")).scalar_one()
    assert status == "processed"
    assert [(f.file_id, f.severity, f.first_line) for f in found] == [(outcome.file_id, "warning", 2)]
    assert found[0].rule.startswith("coulombic_efficiency of a complete full-cell cycle")


def test_a_balanced_cell_records_nothing(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = _cell(blc_env / "fine.bdf.csv", (3600.0, 3600.0))

    pipeline.ingest(path.as_uri())

    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from blc.validation_finding")).scalar_one() == 0


def test_rows_of_another_processor_version_are_an_error(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = _cell(blc_env / "old.bdf.csv", (3600.0, 3600.0))
    pipeline.ingest(path.as_uri())

    with engine.connect() as conn, pytest.raises(CycleStatsInvalid) as caught:
        check_cycle_stats(conn, "old.bdf", "999", get_settings())

    assert str(caught.value) == (
        "cell 'old.bdf': every cycle must be computed by the current processor version, first at cycle 1"
    )


def test_a_hole_in_the_samples_is_a_warning(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    # samples every 600 s, and 11 hours without one in the middle of cycle 2's discharge: longer than 60 ×
    # the file's sampling interval and than 30 minutes, so nothing is integrated across it
    rows = []
    for cycle, start in ((1, 0.0), (2, 20_000.0)):
        rows += [f"{start + 600 * k:g},{3.0 + k / 6:.4f},1.0,{cycle}" for k in range(7)]
        discharge = [start + 4200 + 600 * k for k in range(7)]
        if cycle == 2:
            discharge = [*discharge[:3], *(t + 40_000 for t in discharge[3:])]
        rows += [f"{t:g},{4.0 - k / 6:.4f},-1.0,{cycle}" for k, t in enumerate(discharge)]
        rows.append(f"{discharge[-1] + 600:g},3.2,0.0,{cycle}")
    path = blc_env / "gap.bdf.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")

    pipeline.ingest(path.as_uri())

    with engine.connect() as conn:
        found = conn.execute(
            sa.text("select severity, rule, first_line from blc.validation_finding where stage = 'cycle'")
        ).all()
    assert [(f.severity, f.first_line) for f in found] == [("warning", 2)]
    assert found[0].rule.startswith("a cycle should have no hole in its samples")
