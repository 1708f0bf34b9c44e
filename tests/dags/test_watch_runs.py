"""A watch run's state says what happened, for zero, one and many files, through real Airflow (`dag.test()`)
into real Postgres: a green run loaded everything it was offered; a quarantined file, an unreadable entry or
an unfinished ingest turns it red (docs/adr/0007). Also grown files, unreadable entries and two names of
one content through the watcher."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"  # 2,142 rows, 2 cycles (Cycle_Index 1 and 2)
EXAMPLE_ROWS, EXAMPLE_CYCLES = 2142, 2

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def _watch_run():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "blc_watch.py"))
    assert bag.import_errors == {}
    return bag.dags["blc_watch"].test()


def _states(run) -> dict[tuple[str, str | None], str]:  # type: ignore[no-untyped-def]
    return {(ti.task_id, ti.rendered_map_index): ti.state for ti in run.get_task_instances()}


def _report(run) -> dict:  # type: ignore[no-untyped-def]
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id="blc_watch", run_id=run.run_id, task_id="report", key="return_value")
            .one()
        )
        value = row.value
    return XComModel.deserialize_value(row) if isinstance(value, (str, bytes)) else value


def _rows(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def _bad_copy(path: Path) -> None:
    """arbin_example.csv with row 500 cut short (and ended): a malformed row, quarantined."""
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    lines[500] = lines[500][:20] + b"\n"
    path.write_bytes(b"".join(lines))


def test_run_with_exactly_one_good_file_is_green(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy2(EXAMPLE, blc_env / "only.csv")

    run = _watch_run()

    assert run.state == "success"
    states = _states(run)
    assert states[("ingest_files", "only.csv")] == "success"
    assert states[("refresh_redash", None)] == "success"
    assert states[("report", None)] == "success"
    assert _report(run)["lines"] == [
        f"loaded      only.csv: cell only: {EXAMPLE_ROWS} rows, {EXAMPLE_CYCLES} cycles"
    ]
    assert _rows(engine, "select status, rows from blc.source_file") == [("processed", EXAMPLE_ROWS)]


def test_run_with_exactly_one_bad_file_is_red_and_says_why(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    _bad_copy(blc_env / "bad.csv")

    run = _watch_run()

    assert run.state == "failed"
    states = _states(run)
    assert states[("ingest_files", "bad.csv")] == "failed"
    assert states[("refresh_redash", None)] == "success"  # nothing to refresh is not a failure
    assert states[("report", None)] == "failed"
    ((status, error),) = _rows(engine, "select status, error from blc.source_file")
    assert status == "quarantined" and error.startswith("bad.csv: line 501")
    assert _rows(engine, "select count(*) from blc.timeseries") == [(0,)]


def test_run_with_no_file_is_green(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    run = _watch_run()

    assert run.state == "success"
    assert _report(run) == {"summary": "no new files", "lines": []}


def test_run_with_many_files_one_bad_is_red_but_loads_the_good_ones(
    airflow_db, engine, blc_env: Path
) -> None:  # type: ignore[no-untyped-def]
    for name in ("a.csv", "b.csv"):
        lines = EXAMPLE.read_bytes().splitlines(keepends=True)
        lines[1] = lines[1].replace(b",", b", ", 1) if name == "b.csv" else lines[1]  # distinct content
        (blc_env / name).write_bytes(b"".join(lines))
    _bad_copy(blc_env / "c.csv")

    run = _watch_run()

    assert run.state == "failed"
    assert dict(_rows(engine, "select cell_id, count(*) from blc.timeseries group by 1")) == {
        "a": EXAMPLE_ROWS,
        "b": EXAMPLE_ROWS,
    }
    statuses = {
        Path(uri).name: status for uri, status in _rows(engine, "select uri, status from blc.source_file")
    }
    assert statuses == {"a.csv": "processed", "b.csv": "processed", "c.csv": "quarantined"}

    again = _watch_run()  # the quarantined file is settled: the next run has nothing to do and is green

    assert again.state == "success"


def test_grown_file_appends_through_the_watcher(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    path = blc_env / "growing.csv"
    path.write_bytes(b"".join(lines[:1501]))  # header + 1,500 rows: the cycler is still in cycle 2
    first = _watch_run()
    path.write_bytes(b"".join(lines))  # it appended the rest

    second = _watch_run()

    assert (first.state, second.state) == ("success", "success")
    ledger = _rows(engine, "select uri, status, rows, sha256 from blc.source_file")
    assert ledger == [
        (path.as_uri(), "processed", EXAMPLE_ROWS, hashlib.sha256(path.read_bytes()).hexdigest())
    ]
    assert _rows(engine, "select count(*), count(distinct record_index) from blc.timeseries") == [
        (EXAMPLE_ROWS, EXAMPLE_ROWS)
    ]
    # cycle 2 was open after the first run and is finished now (as in a load of the whole file)
    assert _rows(engine, "select cycle_index, complete from blc.cycle_stats order by 1")[1:] == [(2, True)]
    assert _rows(engine, "select count(*) from blc.cycle_stats") == [(EXAMPLE_CYCLES,)]

    third = _watch_run()  # nothing left to do: the file is not offered again

    assert third.state == "success" and _report(third)["lines"] == []


def test_unreadable_entries_are_skipped_reported_once_and_forgotten(
    airflow_db, engine, blc_env: Path
) -> None:  # type: ignore[no-untyped-def]
    shutil.copy2(EXAMPLE, blc_env / "good.csv")
    (blc_env / "loop_a.csv").symlink_to(blc_env / "loop_b.csv")
    (blc_env / "loop_b.csv").symlink_to(blc_env / "loop_a.csv")  # a symlink loop: ELOOP on stat()
    (blc_env / "gone.csv").symlink_to(blc_env / "nowhere.csv")
    os.mkfifo(blc_env / "pipe.csv")  # opening it to hash it would block the run for ever

    first = _watch_run()

    assert first.state == "failed"  # new problems in the share: the run says so
    assert _states(first)[("ingest_files", "good.csv")] == "success"
    assert _rows(engine, "select status from blc.source_file") == [("processed",)]
    unreadable = dict(_rows(engine, "select uri, error from blc.unreadable_entry"))
    assert {Path(u).name: e for u, e in unreadable.items()} == {
        "gone.csv": "a symbolic link to nothing",
        "loop_a.csv": "Too many levels of symbolic links",
        "loop_b.csv": "Too many levels of symbolic links",
        "pipe.csv": "not a regular file",
    }

    second = _watch_run()  # the same problems, already reported: warnings in the log, a green run

    assert second.state == "success"
    assert sorted(_report(second)["lines"])[0].startswith("unreadable  gone.csv: cannot be read")

    for name in ("loop_a.csv", "loop_b.csv", "gone.csv", "pipe.csv"):
        (blc_env / name).unlink()
    _watch_run()
    assert _rows(engine, "select count(*) from blc.unreadable_entry") == [(0,)]


def test_two_names_of_one_content_dropped_together_load_once(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy2(EXAMPLE, blc_env / "first.csv")
    shutil.copy2(EXAMPLE, blc_env / "second.csv")

    run = _watch_run()

    assert run.state == "success"
    ((uri, cell, status),) = _rows(engine, "select uri, cell_id, status from blc.source_file")
    assert Path(uri).stem == cell and status == "processed"  # the ledger row names the file it loaded
    assert _rows(engine, "select cell_id, count(*) from blc.timeseries group by 1") == [(cell, EXAMPLE_ROWS)]


def test_an_unfinished_last_line_waits_then_loads_without_it(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = EXAMPLE.read_bytes()
    cut = content.rfind(b"\n", 0, len(content) - 1) + 30  # the writer paused inside the last row
    (blc_env / "paused.csv").write_bytes(content[:cut])

    waiting = _watch_run()

    assert waiting.state == "success" and _report(waiting)["lines"] == []
    assert _rows(engine, "select count(*) from blc.source_file") == [(0,)]

    monkeypatch.setenv("BLC_PARTIAL_LINE_SECONDS", "0")  # the writer never came back
    loaded = _watch_run()

    assert loaded.state == "success"
    assert _rows(engine, "select rows from blc.source_file") == [(EXAMPLE_ROWS - 1,)]
    (line,) = _report(loaded)["lines"]
    assert f"warning: line {EXAMPLE_ROWS + 1} has no line end" in line


def test_a_run_emits_asset_events_naming_the_cells_it_changed(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    shutil.copy2(EXAMPLE, blc_env / "B7.csv")

    run = _watch_run()

    assert run.state == "success"
    with create_session() as session:
        events = (
            session.query(AssetModel.name, AssetEvent.extra, AssetEvent.source_task_id)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_run_id == run.run_id)
            .all()
        )
    got = sorted((name, task, extra.get("cells")) for name, extra, task in events)
    assert got == [
        ("blc_capacity_fade", "ingest_files", ["B7"]),
        ("blc_cycle_stats", "ingest_files", ["B7"]),
        ("blc_timeseries", "ingest_files", ["B7"]),
    ]
    timeseries = next(extra for name, extra, _ in events if name == "blc_timeseries")
    assert timeseries["files"] == ["B7.csv"] and timeseries["rows"] == EXAMPLE_ROWS


def test_small_files_share_tasks_yet_each_has_its_line_and_ledger_row(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "2")  # two tasks may run at once: two batches
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    for n in range(5):  # five distinct contents: the first data row's value differs
        changed = lines[1].replace(b",", b"," + b" " * (n + 1), 1)
        (blc_env / f"cell_{n}.csv").write_bytes(b"".join([lines[0], changed, *lines[2:]]))
    _bad_copy(blc_env / "cell_5.csv")

    run = _watch_run()

    assert run.state == "failed"
    batches = {
        ti.rendered_map_index: ti.state for ti in run.get_task_instances() if ti.task_id == "ingest_files"
    }
    assert len(batches) == 2 and sorted(batches.values()) == ["failed", "success"]
    assert all(label.endswith(" +2 more") for label in batches), batches
    statuses = dict(_rows(engine, "select regexp_replace(uri, '.*/', ''), status from blc.source_file"))
    assert statuses == {**{f"cell_{n}.csv": "processed" for n in range(5)}, "cell_5.csv": "quarantined"}
    report = _report_lines(run)
    assert sorted(line.split()[0] for line in report) == ["loaded"] * 5 + ["quarantined"]


def _report_lines(run) -> list[str]:  # type: ignore[no-untyped-def]
    """The report's lines from its log: a failed report task returns no XCom."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from blc.db import engine_for
    from blc.run_report import build_report
    from blc.settings import get_settings

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter_by(dag_id="blc_watch", run_id=run.run_id, task_id="discover_files", key="return_value")
            .one()
        )
    batches = XComModel.deserialize_value(rows) if isinstance(rows.value, (str, bytes)) else rows.value
    uris = [uri for batch in batches for uri in batch]
    return [str(line) for line in build_report(engine_for(get_settings()), uris).lines]
