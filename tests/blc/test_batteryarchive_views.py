"""The batteryarchive compatibility views: Battery Archive's names over our tables, values as theirs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from blc import pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"

pytestmark = pytest.mark.integration


def _read(engine, sql: str, **params) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def test_cycle_stats_view_speaks_battery_archive(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline.ingest(EXAMPLE.as_uri())

    theirs = _read(
        engine,
        "select cycle_index, ah_c, ah_d, e_c, e_d, v_max, v_min, i_max, i_min, v_c_mean, v_d_mean,"
        " ah_eff, e_eff, test_time from batteryarchive.cycle_stats where cell_id = :c order by cycle_index",
        c="arbin_example",
    )
    ours = pipeline.cycle_table(engine, "arbin_example")

    assert theirs["ah_d"].tolist() == pytest.approx(ours["discharge_capacity_ah"].tolist())
    assert theirs["ah_eff"].tolist() == pytest.approx(ours["coulombic_efficiency"].tolist())
    assert theirs["test_time"].tolist() == pytest.approx(ours["test_time_end_second"].tolist())
    # their v_c_mean was a plain sample mean: ours keeps it beside the capacity-weighted one
    assert theirs["v_c_mean"].tolist() == pytest.approx(ours["voltage_charge_sample_mean_v"].tolist())
    assert theirs["v_c_mean"].iloc[1] != pytest.approx(ours["voltage_charge_mean_v"].iloc[1], rel=1e-4)


def test_cycle_timeseries_integrates_within_each_cycle(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline.ingest(EXAMPLE.as_uri())

    series = _read(
        engine,
        "select cycle_index, test_time, i, v, ah_c, ah_d, e_d, cycle_time, date_time, cell_temperature"
        " from batteryarchive.cycle_timeseries where cell_id = :c order by test_time",
        c="arbin_example",
    )
    stats = pipeline.cycle_table(engine, "arbin_example").set_index("cycle_index")

    assert len(series) == 2142
    last = series.groupby("cycle_index").last()
    # the running sums end at the cycle's statistics (same trapezoid, same split by sign)
    assert last["ah_d"].tolist() == pytest.approx(stats["discharge_capacity_ah"].tolist(), rel=1e-9)
    assert last["ah_c"].tolist() == pytest.approx(stats["charge_capacity_ah"].tolist(), rel=1e-9)
    assert last["e_d"].tolist() == pytest.approx(stats["discharge_energy_wh"].tolist(), rel=1e-9)
    first = series.groupby("cycle_index").first()
    assert (first["cycle_time"] == 0).all() and (first["ah_c"] == 0).all()
    assert series["date_time"].notna().all() and series["cell_temperature"].notna().all()


def test_cell_metadata_and_conditions(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    source = blc_env / "cell_9.csv"
    source.write_bytes(EXAMPLE.read_bytes())
    (blc_env / "cell_9.csv.meta.yaml").write_text(
        "cathode: LFP\nanode: graphite\nnominal_capacity_ah: 1.1\nform_factor: cylindrical_18650\n"
        "soc_max: 100\nsoc_min: 0\ncrate_c: 1\ncrate_d: 1\ntemperature_celsius: 30\n"
    )
    pipeline.ingest(source.as_uri())

    cell = _read(engine, "select * from batteryarchive.cell_metadata").iloc[0]
    conditions = _read(engine, "select * from batteryarchive.cycle_metadata").iloc[0]

    assert (cell["cell_id"], cell["cathode"], cell["anode"]) == ("cell_9", "LFP", "graphite")
    assert float(cell["ah"]) == pytest.approx(1.1)
    assert (cell["test"], cell["status"]) == ("cycle", "completed")
    assert (conditions["soc_max"], conditions["soc_min"], conditions["crate_c"]) == (100, 0, 1)
    assert conditions["temperature"] == pytest.approx(30.0)
