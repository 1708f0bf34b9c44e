"""The same DAGs on the CeleryExecutor with two workers, as docker-compose runs them: Redis as the broker
(the machine's, on 127.0.0.1:6379, a database of its own), Postgres for Airflow's metadata and Celery's
results, the API server, scheduler and DAG processor, and two `airflow celery worker`s of one slot each.
Eight files in the watched folder are all processed by `blc_watch` (four batches: four slots), every run
is green, and both workers ran some of the tasks (each worker's own log counts what it ran). About 40 s:
every component is a real process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from blc.airflow_env import admin_token, free_port, rest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
EXAMPLE = ROOT / "tests" / "data" / "arbin" / "arbin_example.csv"
REDIS_URL = "redis://127.0.0.1:6379/7"
TIMEOUT_S = 300


def _redis_answers() -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture
def metadata_db(migrated: str) -> Iterator[str]:
    """A fresh database for Airflow's metadata (Celery refuses SQLite), on the tests' Postgres server."""
    name = f"airflow_celery_{os.getpid()}"
    server = make_url(migrated)
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        conn.execute(sa.text(f'create database "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def _wait(what: str, check, processes: dict[str, subprocess.Popen[bytes]], logs: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            found = check()
        except (OSError, urllib.error.URLError):
            found = None
        if found:
            return found
        dead = [name for name, proc in processes.items() if proc.poll() is not None]
        tail = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(logs.glob("*.log")))
        assert not dead, f"{dead} exited while waiting for {what}\n{tail}"
        assert time.monotonic() < deadline, f"{what}: not within {TIMEOUT_S} s\n{tail}"
        time.sleep(1)


def test_two_celery_workers_share_a_watch_run(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, metadata_db: str, tmp_path: Path
) -> None:
    if not _redis_answers():
        pytest.fail("Redis is not listening on 127.0.0.1:6379 (.ci/run starts it)")
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    for n in range(8):  # eight distinct contents
        (blc_env / f"cell_{n}.csv").write_bytes(
            b"".join([lines[0], lines[1].replace(b",", b"," + b" " * (n + 1), 1), *lines[2:]])
        )
    port = free_port()
    home = tmp_path / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_db,
        AIRFLOW__CELERY__BROKER_URL=REDIS_URL,
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + metadata_db,
        AIRFLOW__CELERY__WORKER_CONCURRENCY="1",
        AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="1",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        PYTHONPATH=str(ROOT / "plugins"),
    )
    subprocess.run(
        [sys.executable, "-c", f"import redis; redis.Redis.from_url({REDIS_URL!r}).flushdb()"],
        env=env,
        check=True,
    )
    for command in (
        ["db", "migrate"],
        ["dags", "reserialize"],
        ["pools", "set", "blc_db_loads", "4", "loads"],
    ):
        subprocess.run([AIRFLOW, *command], env=env, check=True, capture_output=True, timeout=300)
    components = {
        "api-server": ["api-server", "--port", str(port)],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "worker-1": ["celery", "worker", "--celery-hostname", "blc-w1@%h", "--concurrency", "1"],
        "worker-2": ["celery", "worker", "--celery-hostname", "blc-w2@%h", "--concurrency", "1"],
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, args in components.items():
            with (logs / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [AIRFLOW, *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )

        def login() -> str | None:
            passwords = home / "simple_auth_manager_passwords.json.generated"
            return admin_token(port, home) if passwords.exists() else None

        token = _wait("the API server", login, processes, logs)
        rest(port, "PATCH", "/api/v2/dags/blc_watch", token, {"is_paused": False})  # a run starts at once

        def all_processed_and_runs_finished():  # type: ignore[no-untyped-def]
            with engine.connect() as conn:
                done = conn.execute(
                    sa.text("select count(*) from blc.source_file where status = 'processed'")
                )
                if done.scalar() != 8:
                    return None
            runs = rest(port, "GET", "/api/v2/dags/blc_watch/dagRuns?limit=100", token)["dag_runs"]
            return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None

        runs = _wait("eight files processed", all_processed_and_runs_finished, processes, logs)
        tis = [
            ti
            for r in runs
            for ti in rest(
                port, "GET", f"/api/v2/dags/blc_watch/dagRuns/{r['dag_run_id']}/taskInstances", token
            )["task_instances"]
        ]
        worked = {
            name: (logs / f"{name}.log").read_text().count("] succeeded in")
            for name in ("worker-1", "worker-2")
        }
    finally:
        for proc in processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)

    assert {r["state"] for r in runs} == {"success"}, tis
    batches = [ti for ti in tis if ti["task_id"] == "ingest_files" and ti["map_index"] >= 0]
    assert len(batches) == 4 and {ti["state"] for ti in batches} == {"success"}  # 8 files, 4 slots
    assert worked["worker-1"] > 0 and worked["worker-2"] > 0, worked  # both workers ran tasks
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select count(*), sum(rows) from blc.source_file")).one()
    assert tuple(rows) == (8, 8 * 2142)  # each file once, every row
