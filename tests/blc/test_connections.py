"""Inside Airflow the `blc_db` and `blc_redash` connections name the database and Redash, the environment
is the fallback, and tasks check the schema instead of migrating it.

The connections are given as `AIRFLOW_CONN_*` variables and looked up by real tasks of the real `blc_watch`
DAG (`dag.test()`), through Airflow's own secrets backends: the test never parses them itself. A database
that is behind is a real one: a fresh database on the test server with every migration but the last.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from blc import connections, db
from blc.errors import ConfigurationError, SchemaNotCurrent
from blc.redash_client import RedashClient
from blc.redash_specs import load_query_specs
from blc.redash_sync import sync_queries
from blc.settings import get_settings
from tests.fakes.redash_server import FakeRedashServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "data" / "arbin" / "arbin_example.csv"  # cell arbin_example, 2,142 rows
EXAMPLE_ROWS = 2142
#: Nothing listens on the discard port: a task that used BLC_DATABASE_URL would fail at once.
ELSEWHERE = "postgresql://nobody:env-secret-pw@127.0.0.1:9/nowhere"
CONN_PASSWORD = "conn-secret-pw"  # the test server trusts local connections: any password is accepted

pytestmark = pytest.mark.integration


def _versions(url: str) -> list[str]:
    with db.get_engine(url).connect() as conn:
        return list(conn.execute(sa.text("select version from blc.schema_migrations order by 1")).scalars())


def _postgres_connection(url: URL, password: str = CONN_PASSWORD) -> str:
    """`url` as the JSON form of an Airflow postgres connection (what docker-compose.yml writes)."""
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": url.host,
            "port": url.port or 5432,
            "schema": url.database,
            "login": url.username,
            "password": password,
        }
    )


def _watch_run(retries: int | None = None):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "blc_watch.py"))
    assert bag.import_errors == {}
    dag = bag.dags["blc_watch"]
    if retries is not None:  # a failing task would otherwise wait out its retry delays
        for task in dag.tasks:
            task.retries = retries
    return dag.test()


def _states(run) -> dict[tuple[str, str | None], str]:  # type: ignore[no-untyped-def]
    return {(ti.task_id, ti.rendered_map_index): ti.state for ti in run.get_task_instances()}


@pytest.fixture
def server_url(migrated: str) -> URL:
    url = make_url(migrated)
    if not url.host:  # the embedded server's socket: not expressible as a host:port connection
        pytest.skip("needs a Postgres reachable over TCP")
    return url


@pytest.fixture
def behind(server_url: URL, tmp_path: Path) -> Iterator[URL]:
    """A fresh database on the test server migrated to the migration before the newest one; its URL
    carries a password (the server ignores it) so messages can be checked for it."""
    name = f"blc_behind_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"create database {name}"))
    url = server_url.set(database=name, password=CONN_PASSWORD)
    sql_dir = tmp_path / "sql"
    shutil.copytree(ROOT / "sql", sql_dir)
    db.migration_files(sql_dir)[-1].unlink()
    db.upgrade(db.get_engine(url.render_as_string(hide_password=False)), sql_dir)
    try:
        yield url
    finally:
        db.dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f"drop database if exists {name} with (force)"))
        admin.dispose()


def _needed_and_previous() -> tuple[str, str]:
    files = db.migration_files(ROOT / "sql")
    return files[-1].stem.split("_", 1)[0], files[-2].stem.split("_", 1)[0]


# --- outside a task: the environment, whatever connections exist --------------------------------------


def test_outside_a_task_the_environment_names_database_and_redash(
    blc_env: Path, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BLC_DB", _postgres_connection(make_url(ELSEWHERE)))
    monkeypatch.setenv(
        "AIRFLOW_CONN_BLC_REDASH", '{"conn_type": "http", "host": "elsewhere", "password": "k"}'
    )
    monkeypatch.setenv("BLC_REDASH_URL", "http://redash.example:5000")
    monkeypatch.setenv("BLC_REDASH_API_KEY", "env-key")
    monkeypatch.setenv("BLC_REDASH_DATA_SOURCE_ID", "3")
    settings = get_settings()

    assert not connections.in_airflow_task()
    assert db.resolve_url(settings) == migrated
    target = connections.redash_target(settings)
    assert (target.url, target.api_key, target.data_source_id) == ("http://redash.example:5000", "env-key", 3)
    assert "env-key" not in repr(target)


def test_connection_ids_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLC_DB_CONN_ID", "lab_db")
    monkeypatch.setenv("BLC_REDASH_CONN_ID", "lab_redash")

    settings = get_settings()

    assert (settings.db_conn_id, settings.redash_conn_id) == ("lab_db", "lab_redash")


# --- the connections' fields, read by Airflow's own lookup (outside a task its chain is the variables) ---


@pytest.fixture
def as_if_in_a_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connections, "in_airflow_task", lambda: True)


@pytest.mark.usefixtures("as_if_in_a_task")
def test_a_postgres_connection_in_uri_form_becomes_a_psycopg2_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLC_DATABASE_URL", ELSEWHERE)
    monkeypatch.setenv("AIRFLOW_CONN_BLC_DB", "postgresql://lab:p%40ss%2Fword@db.lab:5433/blc")

    assert db.resolve_url(get_settings()) == "postgresql+psycopg2://lab:p%40ss%2Fword@db.lab:5433/blc"


@pytest.mark.usefixtures("as_if_in_a_task")
def test_redash_connection_gives_url_key_and_data_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLC_REDASH_CONN_ID", "lab_redash")
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAB_REDASH",
        json.dumps(
            {
                "conn_type": "http",
                "schema": "https",
                "host": "redash.lab",
                "port": 8443,
                "password": "conn-key",
                "extra": {"data_source_id": "7"},
            }
        ),
    )
    monkeypatch.setenv("BLC_REDASH_URL", "http://redash.example:5000")
    monkeypatch.setenv("BLC_REDASH_API_KEY", "env-key")

    target = connections.redash_target(get_settings())

    assert (target.url, target.api_key, target.data_source_id) == ("https://redash.lab:8443", "conn-key", 7)
    assert target.api_key_setting == "the password of Airflow connection 'lab_redash'"


@pytest.mark.usefixtures("as_if_in_a_task")
def test_undefined_connections_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_BLC_DB", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_BLC_REDASH", raising=False)
    monkeypatch.setenv("BLC_DATABASE_URL", ELSEWHERE)
    monkeypatch.setenv("BLC_REDASH_URL", "http://redash.example:5000")
    monkeypatch.setenv("BLC_REDASH_API_KEY", "env-key")
    settings = get_settings()

    assert db.resolve_url(settings) == ELSEWHERE
    target = connections.redash_target(settings)
    assert (target.url, target.api_key, target.conn_id) == ("http://redash.example:5000", "env-key", None)


@pytest.mark.usefixtures("as_if_in_a_task")
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param(
            "AIRFLOW_CONN_BLC_DB",
            '{"conn_type": "http", "host": "db.lab"}',
            "'blc_db' is of type 'http': it must be a postgres connection",
            id="db-not-postgres",
        ),
        pytest.param(
            "AIRFLOW_CONN_BLC_REDASH",
            '{"conn_type": "http", "password": "k"}',
            "'blc_redash' has no host",
            id="redash-without-host",
        ),
        pytest.param(
            "AIRFLOW_CONN_BLC_REDASH",
            '{"conn_type": "http", "host": "r", "password": "k", "extra": {"data_source_id": "pg"}}',
            "extra data_source_id 'pg' is not a number",
            id="redash-data-source-not-a-number",
        ),
    ],
)
def test_a_wrong_connection_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    settings = get_settings()

    with pytest.raises(ConfigurationError, match=re.escape(message)):
        if variable == "AIRFLOW_CONN_BLC_DB":
            connections.database_url_from_airflow(settings)
        else:
            connections.redash_target(settings)


# --- inside a real task --------------------------------------------------------------------------------


@pytest.mark.airflow
def test_tasks_take_database_and_redash_from_the_connections(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path, server_url: URL, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    shutil.copy2(EXAMPLE, blc_env / "arbin_example.csv")
    with FakeRedashServer() as redash, FakeRedashServer() as wrong_redash:
        with RedashClient(redash.url, redash.api_key) as client:
            ids = sync_queries(client, load_query_specs(ROOT / "redash" / "queries"), data_source_id=1)
        redash.set_rows(ids["cell_ids"], [{"value": "arbin_example"}], columns=["value"])
        redash.clear_requests()
        host, port = redash.url.split("://", 1)[1].split(":")
        monkeypatch.setenv("AIRFLOW_CONN_BLC_DB", _postgres_connection(server_url))
        monkeypatch.setenv(
            "AIRFLOW_CONN_BLC_REDASH",
            json.dumps(
                {
                    "conn_type": "http",
                    "schema": "http",
                    "host": host,
                    "port": int(port),
                    "password": redash.api_key,
                }
            ),
        )
        # Where the environment points: a task that read it would fail (database) or be refused (Redash).
        monkeypatch.setenv("BLC_DATABASE_URL", ELSEWHERE)
        monkeypatch.setenv("BLC_REDASH_URL", wrong_redash.url)
        monkeypatch.setenv("BLC_REDASH_API_KEY", "env-key")
        caplog.set_level("INFO")

        run = _watch_run()

    states = _states(run)
    assert run.state == "success", states
    assert states[("refresh_redash", None)] == "success"
    with engine.connect() as conn:
        loaded = conn.execute(sa.text("select status, rows from blc.source_file")).all()
    assert loaded == [("processed", EXAMPLE_ROWS)]
    refreshes = redash.requests_to("POST", r"/api/queries/\d+/results")
    assert refreshes and all(r.authorized for r in redash.requests)
    assert wrong_redash.requests == []
    assert "database from Airflow connection 'blc_db'" in caplog.text
    assert CONN_PASSWORD not in caplog.text and redash.api_key not in caplog.text


@pytest.mark.airflow
def test_tasks_without_the_connections_fall_back_to_the_environment(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy2(EXAMPLE, blc_env / "arbin_example.csv")
    monkeypatch.delenv("AIRFLOW_CONN_BLC_DB", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_BLC_REDASH", raising=False)
    with FakeRedashServer() as redash:
        with RedashClient(redash.url, redash.api_key) as client:
            ids = sync_queries(client, load_query_specs(ROOT / "redash" / "queries"), data_source_id=1)
        redash.set_rows(ids["cell_ids"], [{"value": "arbin_example"}], columns=["value"])
        redash.clear_requests()
        monkeypatch.setenv("BLC_REDASH_URL", redash.url)
        monkeypatch.setenv("BLC_REDASH_API_KEY", redash.api_key)

        run = _watch_run()

    assert run.state == "success", _states(run)
    with engine.connect() as conn:  # engine: BLC_DATABASE_URL, the session database
        assert conn.execute(sa.text("select rows from blc.source_file")).scalar() == EXAMPLE_ROWS
    assert redash.requests_to("POST", r"/api/queries/\d+/results")
    assert all(r.authorized for r in redash.requests)


@pytest.mark.airflow
def test_tasks_on_a_behind_schema_fail_and_do_not_migrate(  # type: ignore[no-untyped-def]
    airflow_db, blc_env: Path, behind: URL, migrated: str, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    needed, previous = _needed_and_previous()
    shutil.copy2(EXAMPLE, blc_env / "arbin_example.csv")
    monkeypatch.setenv("AIRFLOW_CONN_BLC_DB", _postgres_connection(behind))
    monkeypatch.setenv("BLC_DATABASE_URL", migrated)  # current: a task reading it would succeed

    run = _watch_run(retries=0)

    task_log = capfd.readouterr().out  # what the task logged, its traceback included
    assert _states(run)[("discover_files", None)] == "failed"
    assert run.state == "failed"
    assert f"SchemaNotCurrent: database schema at {previous}, this code needs {needed}" in task_log
    assert CONN_PASSWORD not in task_log
    assert _versions(behind.render_as_string(hide_password=False))[-1] == previous  # nothing migrated


@pytest.mark.airflow
def test_tasks_do_not_wait_for_the_migration_lock(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the migration lock for the whole run: a task that took it (a migration per
    call, as before) would fail on the lock timeout every connection of this process gets."""
    shutil.copy2(EXAMPLE, blc_env / "arbin_example.csv")
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=2000")
    db.dispose_engines()  # new connections, with the lock timeout
    holder = sa.create_engine(migrated).connect()
    holder.execute(sa.text("select pg_advisory_lock(:id)"), {"id": db.MIGRATION_LOCK_ID})
    try:
        run = _watch_run(retries=0)
    finally:
        holder.execute(sa.text("select pg_advisory_unlock(:id)"), {"id": db.MIGRATION_LOCK_ID})
        holder.close()
        monkeypatch.delenv("PGOPTIONS")
        db.dispose_engines()

    assert run.state == "success", _states(run)


# --- the check itself, and the CLI's path ---------------------------------------------------------------


def test_a_behind_schema_raises_with_both_versions_and_no_password(
    behind: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    needed, previous = _needed_and_previous()
    monkeypatch.setenv("BLC_DATABASE_URL", behind.render_as_string(hide_password=False))

    with pytest.raises(SchemaNotCurrent) as raised:
        db.engine_for(get_settings())

    message = str(raised.value)
    assert message.startswith(
        f"database schema at {previous}, this code needs {needed}: run `blc db upgrade`"
    )
    assert f"{behind.host}:{behind.port or 5432}/{behind.database}" in message
    assert CONN_PASSWORD not in message
    assert (raised.value.found, raised.value.needed) == (previous, needed)
    assert _versions(behind.render_as_string(hide_password=False))[-1] == previous


def test_a_never_migrated_database_raises_schema_not_current(behind: URL) -> None:
    engine = db.get_engine(behind.render_as_string(hide_password=False))
    with engine.begin() as conn:
        conn.execute(sa.text("drop schema blc cascade"))

    with pytest.raises(SchemaNotCurrent, match=r"database schema not created \(no blc.schema_migrations\)"):
        db.check_schema(engine, ROOT / "sql")


def test_the_cli_path_upgrades_a_behind_schema(behind: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    needed, _ = _needed_and_previous()
    monkeypatch.setenv("BLC_DATABASE_URL", behind.render_as_string(hide_password=False))
    settings = get_settings()

    db.engine_for(settings, migrate=True)

    assert _versions(settings.database_url or "")[-1] == needed
    assert db.check_schema(db.engine_for(settings), settings.sql_dir) == needed  # now current for tasks


def test_blc_db_upgrade_upgrades_a_behind_schema(behind: URL) -> None:
    needed, _ = _needed_and_previous()
    url = behind.render_as_string(hide_password=False)
    env = {**os.environ, "BLC_DATABASE_URL": url}

    done = subprocess.run(
        [str(Path(sys.executable).with_name("blc")), "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )

    assert done.returncode == 0, done.stderr
    assert f"schema blc at version {needed}" in done.stdout
    assert _versions(url)[-1] == needed
