"""A file that grows (the cycler appends rows; same URI, same bytes before): only the new rows are loaded
and only the cycles they touch are recomputed; the result equals a full load of the whole file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from blc import pipeline, synthetic

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"  # 2,142 rows, cycle 2 from row 1,061 (data line 1,062)
LINES = EXAMPLE.read_text().splitlines(keepends=True)
CUT = 1501  # header + 1,500 rows: the file stops inside cycle 2

pytestmark = pytest.mark.integration


def _frame(engine, sql: str, **params) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return pd.read_sql(sa.text(sql), conn, params=params)


def test_grown_file_loads_only_new_rows_and_recomputes_only_touched_cycles(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_g.csv"
    path.write_text("".join(LINES[:CUT]))
    first, _ = pipeline.ingest(path.as_uri())
    before = _frame(engine, "select cycle_index, computed_at, complete from blc.cycle_stats order by 1")
    old_rows = _frame(engine, "select record_index, xmin::text as xmin from blc.timeseries order by 1")

    path.write_text("".join(LINES))  # the cycler appended the rest
    grown, _ = pipeline.ingest(path.as_uri())

    assert (first.rows, grown.rows) == (1500, 642)  # only the new rows were loaded
    assert grown.file_id == first.file_id
    ledger = _frame(engine, "select file_id, status, rows, size_bytes, sha256 from blc.source_file")
    assert len(ledger) == 1 and ledger["rows"].iloc[0] == 2142
    assert ledger["size_bytes"].iloc[0] == path.stat().st_size
    # the stored rows were not written again
    still = _frame(
        engine, "select record_index, xmin::text as xmin from blc.timeseries where record_index <= 1500"
    )
    pd.testing.assert_frame_equal(old_rows, still.sort_values("record_index").reset_index(drop=True))
    after = _frame(engine, "select cycle_index, computed_at, complete from blc.cycle_stats order by 1")
    # cycle 1 was finished before: its row is the same row; cycle 2 was open (incomplete) and is redone
    assert after["computed_at"].iloc[0] == before["computed_at"].iloc[0]
    assert after["computed_at"].iloc[1] > before["computed_at"].iloc[1]
    assert (before["complete"].iloc[1], after["complete"].iloc[1]) == (False, True)


def test_grown_file_gives_the_statistics_of_a_full_load(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    grown_path = blc_env / "grown.csv"
    grown_path.write_text("".join(LINES[:CUT]))
    pipeline.ingest(grown_path.as_uri())
    grown_path.write_text("".join(LINES))
    pipeline.ingest(grown_path.as_uri())
    whole = blc_env / "whole" / "whole.csv"
    whole.parent.mkdir()
    whole.write_text("".join(LINES) + "\n")  # other bytes, same rows: a separate full load

    pipeline.ingest(whole.as_uri())

    columns = (
        "cycle_index, charge_capacity_ah, discharge_capacity_ah, cv_capacity_ah, complete, throughput_ah"
    )
    grown = _frame(engine, f"select {columns} from blc.cycle_stats where cell_id = 'grown' order by 1")
    full = _frame(engine, f"select {columns} from blc.cycle_stats where cell_id = 'whole' order by 1")
    pd.testing.assert_frame_equal(grown, full)
    fade = "select retention, energy_retention from blc.capacity_fade where cell_id = :c order by cycle_index"
    pd.testing.assert_frame_equal(_frame(engine, fade, c="grown"), _frame(engine, fade, c="whole"))


def test_a_cut_last_row_is_not_extended_but_reloaded(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_h.csv"
    path.write_text("".join(LINES[:CUT]).rstrip("\n"))  # no line break after the last row
    first, _ = pipeline.ingest(path.as_uri())

    path.write_text("".join(LINES))
    second, _ = pipeline.ingest(path.as_uri())

    assert second.rows == 2142 and second.file_id != first.file_id
    statuses = _frame(engine, "select file_id, status from blc.source_file order by file_id")[
        "status"
    ].tolist()
    assert statuses == ["superseded", "processed"]


def test_corrupt_appended_rows_leave_the_stored_version_intact(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_k.csv"
    path.write_text("".join(LINES[:CUT]))
    first, _ = pipeline.ingest(path.as_uri())

    path.write_text("".join(LINES[:CUT]) + "1501,oops,1,2\n" + "".join(LINES[CUT + 1 :]))
    bad, _ = pipeline.ingest(path.as_uri())

    assert bad.status == "quarantined"
    assert "line 1502" in (bad.reason or "")
    ledger = _frame(engine, "select file_id, status, rows from blc.source_file order by file_id")
    assert ledger["status"].tolist() == ["processed", "quarantined"]
    assert ledger["rows"].iloc[0] == 1500
    count = _frame(engine, "select count(*) as n from blc.timeseries")["n"].iloc[0]
    assert count == 1500
    assert first.file_id == ledger["file_id"].iloc[0]


def test_a_counter_that_turns_out_stuck_reloads_the_grown_file_whole(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    """maccor_001.txt's first half follows its counter; the whole file shows the counter stuck (cycles from
    transitions). The append rolls back and the grown file is loaded whole, as a new version."""
    lines = (DATA / "maccor" / "maccor_001.txt").read_text().splitlines(keepends=True)
    path = blc_env / "maccor_g.txt"
    path.write_text("".join(lines[: len(lines) // 2]))
    first, _ = pipeline.ingest(path.as_uri())

    path.write_text("".join(lines))
    second, _ = pipeline.ingest(path.as_uri())

    assert (first.cycle_rule, second.cycle_rule) == (
        "instrument_counter",
        "charge_discharge_transitions:counter_stuck",
    )
    assert second.status == "loaded" and second.file_id != first.file_id
    statuses = _frame(engine, "select status from blc.source_file order by file_id")["status"].tolist()
    assert statuses == ["superseded", "processed"]


def test_a_file_numbered_by_transitions_is_reloaded_whole_when_it_grows(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    """Without a counter, cycles come from charge/discharge transitions, whose rest threshold depends on
    the whole file: a grown version is loaded whole."""
    frame = synthetic.canonical_frame(12_000)
    text = "Test Time / s,Voltage / V,Current / A\n" + "".join(
        f"{t!r},{v!r},{i!r}\n"
        for t, v, i in zip(
            frame["test_time_second"], frame["voltage_volt"], frame["current_ampere"], strict=True
        )
    )
    rows = text.splitlines(keepends=True)
    path = blc_env / "rig.bdf.csv"
    path.write_text("".join(rows[:6001]))
    first, _ = pipeline.ingest(path.as_uri())

    path.write_text(text)
    second, _ = pipeline.ingest(path.as_uri())

    assert first.cycle_rule == second.cycle_rule == "charge_discharge_transitions"
    assert (first.rows, second.rows) == (6000, 12_000)
    assert second.file_id != first.file_id
