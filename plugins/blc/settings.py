"""All settings in one place, read from the environment (prefix ``BLC_``) with laptop-friendly defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The checkout this package runs from (plugins/blc/settings.py → repo root).
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _project_root() -> Path:
    # An editable install runs from the checkout; a wheel install in a container runs from site-packages,
    # where BLC_PROJECT_ROOT (or the working directory) tells where sql/, expectations/ and redash/ are.
    explicit = os.environ.get("BLC_PROJECT_ROOT")
    if explicit:
        return Path(explicit).resolve()
    if (PROJECT_ROOT / "sql" / "migrations").is_dir():
        return PROJECT_ROOT
    return Path.cwd()


def _split_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    project_root: Path
    home: Path
    database_url: str | None
    share_dirs: tuple[Path, ...]
    s3_uris: tuple[str, ...]
    #: The Airflow connection S3 is reached through (aws type; endpoint_url in its extras).
    s3_conn_id: str
    settle_seconds: float
    redash_url: str | None
    redash_api_key: str | None = field(repr=False)
    redash_data_source_id: int | None
    default_project: str
    timezone: str
    #: Rows per chunk when a file is parsed, validated and loaded (memory is flat in file size).
    chunk_rows: int = 80_000
    #: A text file whose last line has no line end is left alone this long after its last change (its
    #: writer may only have paused mid-row); past it, the complete rows are loaded and the line is dropped.
    partial_line_seconds: float = 600.0
    #: Inside an Airflow task, the connections that name the database and Redash (blc.connections); the
    #: environment above is the fallback when they are not defined, and all the CLI uses.
    db_conn_id: str = "blc_db"
    redash_conn_id: str = "blc_redash"
    #: The Postgres URL Redash itself connects with (as a read-only role, from Redash's network), and the
    #: name of the data source `blc redash sync` creates or updates with it; unset: sync uses an existing one.
    redash_data_source_url: str | None = field(default=None, repr=False)
    redash_data_source_name: str = "blc"

    @property
    def sql_dir(self) -> Path:
        return self.project_root / "sql"

    @property
    def expectations_dir(self) -> Path:
        return self.project_root / "expectations"

    @property
    def redash_dir(self) -> Path:
        return self.project_root / "redash"

    @property
    def embedded_pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def reports_dir(self) -> Path:
        """Where a page per quarantined file is written (blc.quarantine_report)."""
        return self.home / "reports"

    @property
    def airflow_home(self) -> Path:
        return Path(os.environ.get("AIRFLOW_HOME") or self.home / "airflow")


def get_settings() -> Settings:
    """Read the environment now (not cached: tests and the CLI change it)."""
    env = os.environ
    root = _project_root()
    home = Path(env.get("BLC_HOME") or root / ".blc").resolve()
    share_raw = env.get("BLC_SHARE_DIRS") or str(root / "drops")
    return Settings(
        project_root=root,
        home=home,
        database_url=env.get("BLC_DATABASE_URL") or None,
        share_dirs=tuple(Path(p).expanduser().resolve() for p in _split_list(share_raw)),
        s3_uris=_split_list(env.get("BLC_S3_URIS", "")),
        s3_conn_id=env.get("BLC_S3_CONN_ID") or "blc_s3",
        settle_seconds=float(env.get("BLC_SETTLE_SECONDS", "30")),
        chunk_rows=int(env.get("BLC_CHUNK_ROWS", "80000")),
        partial_line_seconds=float(env.get("BLC_PARTIAL_LINE_SECONDS", "600")),
        redash_url=env.get("BLC_REDASH_URL") or None,
        redash_api_key=env.get("BLC_REDASH_API_KEY") or None,
        redash_data_source_id=int(env.get("BLC_REDASH_DATA_SOURCE_ID") or 0) or None,
        default_project=env.get("BLC_DEFAULT_PROJECT", "default"),
        timezone=env.get("BLC_TIMEZONE", "UTC"),
        db_conn_id=env.get("BLC_DB_CONN_ID") or "blc_db",
        redash_conn_id=env.get("BLC_REDASH_CONN_ID") or "blc_redash",
        redash_data_source_url=env.get("BLC_REDASH_DATA_SOURCE_URL") or None,
        redash_data_source_name=env.get("BLC_REDASH_DATA_SOURCE_NAME") or "blc",
    )
