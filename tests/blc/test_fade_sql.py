"""sql/processors/capacity_fade.sql and cell_summary.sql against hand-computed values (docs/design.md §6)."""

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
    # as processors/classify.py leaves a plain cell: every complete cycle is an ageing cycle
    frame["cycle_class"] = np.where(frame["complete"], "ageing", "partial")
    frame["flags"] = None
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
    # an incomplete cycle belongs to no fade series: no retention
    assert fade["retention"].tolist()[1:] == pytest.approx([1.0, 0.95, 1.05, 0.85, 0.75, 0.65])
    assert fade["retention"].isna().tolist() == [True, *[False] * 6]
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


def test_energy_retention_beside_capacity_retention(engine) -> None:  # type: ignore[no-untyped-def]
    stats = _stats([2.0, 2.0, 2.0, 1.8])
    stats["discharge_energy_wh"] = [7.2, 7.2, 7.2, 6.12]  # energy fades faster (voltage falls too)

    fade, summary = _run(engine, stats)

    assert fade["energy_retention"].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.85])
    assert summary["reference_energy_wh"] == pytest.approx(7.2)
    assert summary["last_energy_retention"] == pytest.approx(0.85)
    assert summary["last_retention"] == pytest.approx(0.9)


def test_throughput_and_equivalent_full_cycles(engine) -> None:  # type: ignore[no-untyped-def]
    stats = _stats([2.0, 2.0, 2.0, 1.8])
    stats["charge_capacity_ah"] = [2.1, 2.1, 2.1, 1.9]
    stats["charge_energy_wh"] = 8.0
    stats["discharge_energy_wh"] = 7.0

    with engine.begin() as conn:
        conn.execute(sa.text("insert into blc.cell (cell_id, project_id) values ('c1', 1)"))
        db.copy_frame(conn, "blc.cycle_stats", stats, list(stats.columns))
        pipeline.refresh_fade(conn, "c1", settings=get_settings(), formation_cycles=0)
        reference_basis = pd.read_sql(sa.text("select * from blc.cycle_stats order by cycle_index"), conn)
        basis = conn.execute(sa.text("select capacity_basis from blc.cell_summary")).scalar()
        conn.execute(sa.text("update blc.cell set nominal_capacity_ah = 2.5"))
        pipeline.refresh_fade(conn, "c1", settings=get_settings(), formation_cycles=0)
        nominal_basis = pd.read_sql(sa.text("select * from blc.cycle_stats order by cycle_index"), conn)
        summary = conn.execute(sa.text("select * from blc.cell_summary")).mappings().one()

    assert reference_basis["throughput_ah"].tolist() == pytest.approx([4.1, 8.2, 12.3, 16.0])
    assert reference_basis["throughput_wh"].tolist() == pytest.approx([15.0, 30.0, 45.0, 60.0])
    # cumulative discharge ÷ reference (2.0 Ah): 1, 2, 3, 3.9
    assert basis == "reference"
    assert reference_basis["equivalent_full_cycles"].tolist() == pytest.approx([1.0, 2.0, 3.0, 3.9])
    # … ÷ nominal (2.5 Ah) once the cell has one
    assert nominal_basis["equivalent_full_cycles"].tolist() == pytest.approx([0.8, 1.6, 2.4, 3.12])
    assert summary["capacity_basis"] == "nominal"
    assert summary["equivalent_full_cycles"] == pytest.approx(3.12)
    assert summary["throughput_ah"] == pytest.approx(16.0)


def test_projection_while_80_percent_is_not_reached(engine) -> None:  # type: ignore[no-untyped-def]
    # retention 1 − 0.0011·(k − 2) exactly (reference = cycle 2, the median of 1–3): the line is at 0.8 at
    # k = 183.8 and at 0.7 at k = 274.7, so the first whole cycles below are 184 and 275; the test stops at 150
    discharge = [2.0 * (1 - 0.0011 * (k - 2)) for k in range(1, 151)]

    _, summary = _run(engine, _stats(discharge))

    assert summary["cycles_to_80"] is None
    assert summary["projected_cycles_to_80"] == 184
    assert summary["projected_cycles_to_70"] == 275


def test_no_projection_once_reached_or_when_not_fading(engine) -> None:  # type: ignore[no-untyped-def]
    _, flat = _run(engine, _stats([2.0] * 50))
    assert flat["projected_cycles_to_80"] is None and flat["fade_per_100_cycles"] == pytest.approx(0.0)


def test_coulombic_inefficiency_raw_and_smoothed(engine) -> None:  # type: ignore[no-untyped-def]
    """The trend is a moving median over 9 complete cycles: a formation cycle (CE 14: the test started
    charged) and one odd cycle leave it untouched, while a drift shows through."""
    stats = _stats([2.0] * 30, [True] * 29 + [False])
    ce = [0.99] * 15 + [0.99 - 0.001 * k for k in range(1, 16)]  # from cycle 16, 0.1 % worse every cycle
    ce[0], ce[7] = 14.0, 0.8  # formation cycle, one odd cycle
    stats["coulombic_efficiency"] = ce

    fade, summary = _run(engine, stats)

    inefficiency = fade["coulombic_inefficiency"]
    smoothed = fade["coulombic_inefficiency_smoothed"]
    assert inefficiency.iloc[0] == pytest.approx(-13.0) and inefficiency.iloc[7] == pytest.approx(0.2)
    assert smoothed.iloc[:12].tolist() == pytest.approx([0.01] * 12)  # neither outlier leaks
    # cycle 25 (index 24): the median of cycles 21–29, i.e. cycle 25's own 1 − CE on a straight drift
    assert smoothed.iloc[24] == pytest.approx(0.01 + 0.001 * 10)
    assert np.isnan(smoothed.iloc[29])  # the incomplete last cycle has no trend value
    # the summary: the median of 1 − CE over the recent complete cycles (1–29: -13, 13 × 0.01, 0.011…0.024,
    # 0.2), the 15th of 29; a mean would be -0.43
    assert summary["coulombic_inefficiency_recent"] == pytest.approx(0.011)


def test_knee_onset_of_a_fade_curve_with_a_knee(engine) -> None:  # type: ignore[no-untyped-def]
    # slow linear fade, then 10× faster from cycle 120
    discharge = [2.0 * (1 - 0.0004 * k - 0.004 * max(0, k - 120)) for k in range(1, 201)]

    _, knee = _run(engine, _stats(discharge))

    assert knee["knee_onset_cycle"] == 120
    assert knee["knee_onset_retention"] == pytest.approx((1 - 0.0004 * 120) / (1 - 0.0004 * 2), rel=1e-6)


def test_no_knee_on_a_straight_fade(engine) -> None:  # type: ignore[no-untyped-def]
    _, summary = _run(engine, _stats([2.0 * (1 - 0.001 * k) for k in range(1, 201)]))

    assert summary["knee_onset_cycle"] is None


def test_reference_checks_are_a_fade_curve_of_their_own(engine) -> None:  # type: ignore[no-untyped-def]
    # ageing cycles at 1C deliver 1.8 Ah and lose 0.01 Ah per cycle; a C/20 check every 5th cycle delivers
    # 2.0 Ah, then 1.9, 1.6 (80 % of 2.0 = 1.6 is not below 0.8: the first check below is the fourth, 1.5)
    discharge, classes = [], []
    ageing = 1.8
    checks = iter([2.0, 1.9, 1.6, 1.5])
    for k in range(1, 21):
        if k % 5 == 0:
            discharge.append(next(checks))
            classes.append("reference")
        else:
            discharge.append(ageing)
            classes.append("ageing")
            ageing -= 0.01
    stats = _stats(discharge)
    stats["cycle_class"] = classes

    fade, summary = _run(engine, stats)

    checks_fade = fade[fade["fade_series"] == "reference"]
    # the reference checks' own reference: median of the first three checks (2.0, 1.9, 1.6) = 1.9
    assert checks_fade["retention"].tolist() == pytest.approx([2.0 / 1.9, 1.0, 1.6 / 1.9, 1.5 / 1.9])
    assert summary["reference_check_cycles"] == 4
    assert summary["reference_check_capacity_ah"] == pytest.approx(1.9)
    assert summary["reference_check_last_retention"] == pytest.approx(1.5 / 1.9)
    assert summary["reference_check_cycles_to_80"] == 20  # 1.5 / 1.9 = 0.789 (1.6 / 1.9 = 0.842 is above)
    # the ageing series: reference = median of cycles 1-3 (1.8, 1.79, 1.78) = 1.79, last ageing cycle 19
    assert summary["reference_capacity_ah"] == pytest.approx(1.79)
    assert summary["last_retention"] == pytest.approx((1.8 - 0.01 * 15) / 1.79)
    assert summary["ageing_cycles"] == 16 and summary["cycles_to_80"] is None


def test_no_projection_from_a_series_that_only_scatters(engine) -> None:  # type: ignore[no-untyped-def]
    # 60 cycles scattering ±1 % around 2 Ah with a tiny downward tilt (its slope's standard error is larger
    # than a third of it): not a fade to project from
    rng = np.random.default_rng(6)
    discharge = list(2.0 * (1 + 0.01 * rng.standard_normal(60)) - 0.00001 * np.arange(60))
    x = np.arange(60, dtype=float)
    y = np.array(discharge) / np.median(discharge[:3])
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    error = np.sqrt(residual @ residual / 58 / ((x - x.mean()) @ (x - x.mean())))
    assert slope < 0 and slope > -3 * error  # the premise, checked independently

    _, summary = _run(engine, _stats(discharge))

    assert summary["projected_cycles_to_80"] is None and summary["projected_cycles_to_70"] is None


def test_recent_coulombic_inefficiency_is_never_negative(engine) -> None:  # type: ignore[no-untyped-def]
    stats = _stats([2.0] * 12)
    stats["charge_capacity_ah"] = 2.0 / 1.02  # CE 1.02 on every cycle: 1 − CE = −0.02
    stats["coulombic_efficiency"] = 1.02

    _, summary = _run(engine, stats)

    assert summary["coulombic_inefficiency_recent"] is None


def test_an_anode_half_cell_fades_on_its_delithiation_capacity(engine) -> None:  # type: ignore[no-untyped-def]
    # graphite against lithium, 0.05-1.0 V: lithiation (our discharge) 2.4 Ah, delithiation (charge) 2.0,
    # then 1.9, 1.8, 1.7: retention of the delithiation against the median of the first three (1.9)
    stats = _stats([2.4, 2.3, 2.2, 2.1])
    stats["charge_capacity_ah"] = [2.0, 1.9, 1.8, 1.7]
    stats["coulombic_efficiency"] = stats["discharge_capacity_ah"] / stats["charge_capacity_ah"]
    stats["voltage_max_v"], stats["voltage_min_v"] = 1.0, 0.05

    with engine.begin() as conn:
        conn.execute(sa.text("insert into blc.cell (cell_id, project_id, half_cell) values ('c1', 1, true)"))
        db.copy_frame(conn, "blc.cycle_stats", stats, list(stats.columns))
        pipeline.refresh_fade(conn, "c1", settings=get_settings(), formation_cycles=0)
        fade = pd.read_sql(sa.text("select * from blc.capacity_fade order by cycle_index"), conn)
        summary = conn.execute(sa.text("select * from blc.cell_summary")).mappings().one()

    assert fade["retention"].tolist() == pytest.approx([2.0 / 1.9, 1.0, 1.8 / 1.9, 1.7 / 1.9])
    # CE stays in the full-cell convention (discharge ÷ charge): the inverse of the anode's
    assert fade["coulombic_efficiency"].tolist() == pytest.approx(
        [2.4 / 2.0, 2.3 / 1.9, 2.2 / 1.8, 2.1 / 1.7]
    )
    assert summary["half_cell"] is True and summary["half_cell_basis"] == "metadata"
