"""A file loaded in many chunks is the same file loaded whole: same rows, same cycles, same statistics; and a
file that breaks in a late chunk leaves nothing behind (real Postgres, real GX)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from blc import pipeline, synthetic

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"
HEADER = EXAMPLE.read_text().splitlines()[0]

pytestmark = pytest.mark.integration


def _frame(engine, sql: str, **params) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def _scalar(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def _ingest_with_chunks(monkeypatch: pytest.MonkeyPatch, rows: int, uri: str, **kwargs):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BLC_CHUNK_ROWS", str(rows))
    return pipeline.ingest(uri, **kwargs)


def test_chunked_and_whole_loads_store_identical_rows_and_stats(
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    whole, _ = _ingest_with_chunks(monkeypatch, 1_000_000, EXAMPLE.as_uri(), cell_id="whole")
    chunked, _ = _ingest_with_chunks(monkeypatch, 97, EXAMPLE.as_uri(), cell_id="chunked", force=True)
    # force re-ingests the same content as the same file: the rows move to the new cell
    rows_chunked = _frame(engine, "select * from blc.timeseries order by record_index")
    stats_chunked = _frame(engine, "select * from blc.cycle_stats where cell_id = 'chunked'")
    _ingest_with_chunks(monkeypatch, 1_000_000, EXAMPLE.as_uri(), cell_id="whole", force=True)
    rows_whole = _frame(engine, "select * from blc.timeseries order by record_index")
    stats_whole = _frame(engine, "select * from blc.cycle_stats where cell_id = 'whole'")

    assert whole.rows == chunked.rows == 2142
    pd.testing.assert_frame_equal(rows_chunked.drop(columns="cell_id"), rows_whole.drop(columns="cell_id"))
    ignore = ["cell_id", "computed_at"]
    pd.testing.assert_frame_equal(stats_chunked.drop(columns=ignore), stats_whole.drop(columns=ignore))
    assert stats_whole["cycle_index"].tolist() == [1, 2]


def test_stats_taken_from_the_stream_equal_stats_recomputed_from_rows(
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    path = synthetic.write_arbin_csv(blc_env / "synthetic_cell.csv", 9000, seed=11)
    _ingest_with_chunks(monkeypatch, 1000, path.as_uri())
    streamed = _frame(engine, "select * from blc.cycle_stats order by cycle_index")
    with engine.begin() as conn:
        conn.execute(sa.text("delete from blc.file_cycle_stats"))
    pipeline.process_cell("synthetic_cell")  # now from the stored rows, in batches of whole cycles
    recomputed = _frame(engine, "select * from blc.cycle_stats order by cycle_index")

    assert len(streamed) >= 8
    ignore = ["computed_at"]
    pd.testing.assert_frame_equal(streamed.drop(columns=ignore), recomputed.drop(columns=ignore))
    assert _scalar(engine, "select first_cycle_index || '-' || last_cycle_index from blc.source_file") == (
        f"1-{streamed['cycle_index'].max()}"
    )


def test_time_going_back_exactly_at_a_chunk_boundary_is_caught_with_its_line(
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    lines = EXAMPLE.read_text().splitlines()
    # chunks of 100 rows: data rows 1-100 are lines 2-101; line 102 starts the second chunk
    fields = lines[101].split(",")
    fields[1] = "0.5"  # Test_Time goes back to 0.5 s
    lines[101] = ",".join(fields)
    path = blc_env / "back_in_time.csv"
    path.write_text("\n".join(lines) + "\n")

    outcome, _ = _ingest_with_chunks(monkeypatch, 100, path.as_uri())

    assert outcome.status == "quarantined"
    assert "test_time_second must be non-decreasing" in (outcome.reason or "")
    assert "line 102" in (outcome.reason or "")
    assert _scalar(engine, "select count(*) from blc.timeseries") == 0


def test_a_file_broken_in_a_late_chunk_loads_nothing_and_keeps_the_earlier_version(
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_9.csv"
    lines = EXAMPLE.read_text().splitlines()
    path.write_text("\n".join(lines[:1500]) + "\n")
    first, _ = _ingest_with_chunks(monkeypatch, 200, path.as_uri())
    fields = lines[1800].split(",")
    fields[7] = "3.2x"  # Voltage of data row 1800, line 1801: in the 10th chunk of 200 rows
    path.write_text("\n".join([*lines[:1800], ",".join(fields), *lines[1801:]]) + "\n")

    second, _ = _ingest_with_chunks(monkeypatch, 200, path.as_uri())

    assert first.status == "loaded" and first.rows == 1499
    assert second.status == "quarantined"
    assert "line 1801" in (second.reason or "") and "is not a number" in (second.reason or "")
    assert _scalar(engine, "select count(*) from blc.timeseries") == 1499  # the earlier version, whole
    assert _scalar(engine, "select count(*) from blc.timeseries where file_id = :f", f=second.file_id) == 0


def test_a_stuck_counter_streamed_in_chunks_is_renumbered_by_transitions(
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # Four charge → rest → discharge → rest cycles, the instrument's Cycle_Index stuck at 1 throughout.
    pattern = [1.0] * 10 + [0.0] * 3 + [-1.0] * 10 + [0.0] * 3
    current = np.tile(pattern, 4)
    rows = [
        f"{n + 1},{10.0 * n},{1.7e9 + 10 * n},{10.0 * n},1,1,{i},{3.5 + 0.1 * i},0,0,0,0,0,0.03,25"
        for n, i in enumerate(current)
    ]
    path = blc_env / "stuck.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")

    outcome, processed = _ingest_with_chunks(monkeypatch, 30, path.as_uri())

    assert outcome.status == "loaded"
    assert outcome.cycle_rule == "charge_discharge_transitions:counter_stuck"
    assert processed[0].cycles == 4
    assert _scalar(engine, "select count(distinct cycle_index) from blc.timeseries") == 4
