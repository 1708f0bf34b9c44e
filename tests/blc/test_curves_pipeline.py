"""Curves end to end: gathered while a file streams in, identical when recomputed from the stored rows, on
stitched cycle numbers in blc.curve."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from blc import cli, pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
MACCOR = DATA / "maccor" / "maccor_001.txt"

pytestmark = pytest.mark.integration


def _curve(engine) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return pd.read_sql(
            sa.text(
                "select cell_id, cycle_index, direction, point, capacity_ah, voltage_volt, dqdv from blc.curve"
                " order by cell_id, cycle_index, direction, point"
            ),
            conn,
        )


def test_curves_of_a_real_file_match_its_cycle_statistics(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline.ingest(MACCOR.as_uri())
    curve = _curve(engine)
    stats = pipeline.cycle_table(engine, "maccor_001").set_index("cycle_index")

    sizes = curve.groupby(["cycle_index", "direction"]).size()
    assert sizes.max() <= 500
    assert set(curve["cycle_index"]) == {1, 2, 3, 4, 5}
    ends = curve.groupby(["cycle_index", "direction"])["capacity_ah"].max()
    for cycle in (2, 3, 4, 5):
        assert ends[(cycle, "discharge")] == pytest.approx(
            stats.loc[cycle, "discharge_capacity_ah"], rel=5e-3
        )
        assert ends[(cycle, "charge")] == pytest.approx(stats.loc[cycle, "charge_capacity_ah"], rel=5e-3)
    assert curve["dqdv"].notna().mean() > 0.9


def test_curves_recomputed_from_rows_equal_the_streamed_ones(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline.ingest(MACCOR.as_uri())
    streamed = _curve(engine)

    assert cli.main(["reprocess", "--all"]) == 0

    pd.testing.assert_frame_equal(streamed, _curve(engine))


def test_a_second_file_continues_the_cycle_numbers(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    lines = MACCOR.read_text().splitlines(keepends=True)
    (blc_env / "run_1.txt").write_text("".join(lines))
    (blc_env / "run_2.txt").write_text("".join(lines) + "\n")  # other bytes: not the same content
    for name in ("run_1.txt", "run_2.txt"):
        pipeline.ingest((blc_env / name).as_uri(), cell_id="twice")

    curve = _curve(engine)

    assert sorted(set(curve["cycle_index"])) == list(range(1, 11))
    first, second = curve[curve["cycle_index"] == 2], curve[curve["cycle_index"] == 7]
    assert first["capacity_ah"].tolist() == second["capacity_ah"].tolist()
