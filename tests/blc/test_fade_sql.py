"""sql/processors/capacity_fade.sql and cell_summary.sql against hand-computed values (DESIGN §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from blc import db, pipeline
from blc.settings import get_settings
from processors.cycle_stats import CYCLE_STATS_COLUMNS

pytestmark = pytest.mark.integration


def _stats(discharge: list[float], complete: list[bool] | None = None) -> pd.DataFrame:
    n = len(discharge)
    frame = pd.DataFrame({name: 0.0 for name in CYCLE_STATS_COLUMNS}, index=range(n))
    frame["cycle_index"] = np.arange(1, n + 1)
    frame["discharge_capacity_ah"] = discharge
    frame["charge_capacity_ah"] = [d / 0.99 for d in discharge]
    frame["discharge_energy_wh"] = [3.6 * d for d in discharge]
    frame["n_points"] = 10
    frame["complete"] = complete if complete is not None else [True] * n
    frame.insert(0, "cell_id", "c1")
    frame["processor_version"] = "test"
    return frame


def _run(engine, stats: pd.DataFrame, formation: int = 0) -> tuple[pd.DataFrame, dict]:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(sa.text("insert into blc.cell (cell_id, project_id) values ('c1', 1)"))
        db.copy_frame(conn, "blc.cycle_stats", stats, list(stats.columns))
        pipeline.refresh_fade(conn, "c1", settings=get_settings(), formation_cycles=formation)
    with engine.connect() as conn:
        fade = pd.read_sql(sa.text("select * from blc.capacity_fade order by cycle_index"), conn)
        summary = conn.execute(sa.text("select * from blc.cell_summary")).mappings().one()
    return fade, dict(summary)


def test_reference_is_median_of_first_three_complete_cycles(engine) -> None:  # type: ignore[no-untyped-def]
    # cycle 1 incomplete (ignored); reference = median(2.0, 1.9, 2.1) = 2.0
    fade, summary = _run(engine, _stats([1.0, 2.0, 1.9, 2.1, 1.7, 1.5, 1.3], [False, *[True] * 6]))

    assert summary["reference_capacity_ah"] == pytest.approx(2.0)
    assert fade["retention"].tolist() == pytest.approx([0.5, 1.0, 0.95, 1.05, 0.85, 0.75, 0.65])
    assert summary["cycles_to_80"] == 6  # 0.75 < 0.8 (cycle 1 is not complete, so not counted)
    assert summary["cycles_to_70"] == 7
    assert summary["last_retention"] == pytest.approx(0.65)
    assert summary["cycles"] == 7 and summary["complete_cycles"] == 6
    assert summary["first_discharge_capacity_ah"] == pytest.approx(2.0)
    assert summary["last_discharge_capacity_ah"] == pytest.approx(1.3)


def test_formation_cycles_are_excluded_from_reference(engine) -> None:  # type: ignore[no-untyped-def]
    _, summary = _run(engine, _stats([1.2, 1.4, 2.0, 2.0, 2.0, 1.9]), formation=2)

    assert summary["reference_capacity_ah"] == pytest.approx(2.0)
    assert summary["cycles_to_80"] is None


def test_fade_per_100_cycles_from_least_squares_line(engine) -> None:  # type: ignore[no-untyped-def]
    # 150 cycles losing exactly 0.1 % of 2 Ah per cycle: the last 100 give a slope of −0.001 / cycle
    discharge = [2.0 * (1 - 0.001 * (k - 1)) for k in range(1, 151)]
    _, summary = _run(engine, _stats(discharge))

    assert summary["reference_capacity_ah"] == pytest.approx(2.0 * (1 - 0.001))  # median of cycles 1-3
    assert summary["fade_per_100_cycles"] == pytest.approx(0.1 / (1 - 0.001), rel=1e-9)
    assert summary["cycles_to_80"] is None
