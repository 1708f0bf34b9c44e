"""Where the database and Redash are: Airflow connections inside a running task, the environment elsewhere.

Inside Airflow the connections are the source of truth (docs/design.md §7):

- ``blc_db`` (id from ``BLC_DB_CONN_ID``): a Postgres connection, turned into a SQLAlchemy URL by the
  Postgres provider's own hook, with our driver (psycopg2);
- ``blc_redash`` (id from ``BLC_REDASH_CONN_ID``): an HTTP connection whose host (with schema and port) is
  the base URL, as the HTTP provider's hook builds it; the password is the API key; ``extra`` may hold
  ``data_source_id``.

They are looked up through the task SDK, so whatever secrets backends the deployment configures answer:
``AIRFLOW_CONN_*`` variables, the metadata database, Vault… Outside a task (the CLI, tests, a laptop), or
in a task whose connection is not defined, the environment answers as it always did: ``BLC_DATABASE_URL``
(unset = the embedded Postgres) and ``BLC_REDASH_URL``/``BLC_REDASH_API_KEY``/``BLC_REDASH_DATA_SOURCE_ID``.
Only "not defined" falls back: any other failure of a lookup is raised. No password or key is logged.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from blc.errors import ConfigurationError
from blc.settings import Settings

log = logging.getLogger(__name__)

#: The project's Postgres driver (COPY goes through psycopg2's copy_expert), whatever the provider prefers.
SQLALCHEMY_SCHEME = "postgresql+psycopg2"

_announced: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class RedashTarget:
    """The Redash to talk to; `conn_id` names the Airflow connection it came from (None: the environment)."""

    url: str | None
    api_key: str | None = field(repr=False)
    data_source_id: int | None
    conn_id: str | None = None

    @property
    def api_key_setting(self) -> str:
        """Where the key is set, for messages."""
        return (
            f"the password of Airflow connection {self.conn_id!r}" if self.conn_id else "BLC_REDASH_API_KEY"
        )


def in_airflow_task() -> bool:
    """True while an Airflow task runs in this process (a Celery or local worker, `airflow dags test`,
    `dag.test()`): the task runner sets the current context around `execute`."""
    # The task runner imports the task SDK before anything runs: without it no task runs here, and the CLI
    # does not pay for importing it (about a second).
    if "airflow.sdk" not in sys.modules:
        return False
    from airflow.sdk import get_current_context

    try:
        get_current_context()
    except RuntimeError:  # "no context was found! Are you running within an Airflow task?"
        return False
    return True


def database_url_from_airflow(settings: Settings) -> str | None:
    """The SQLAlchemy URL of the `settings.db_conn_id` connection when a task runs and the connection is
    defined; None otherwise (the caller falls back to BLC_DATABASE_URL or the embedded Postgres)."""
    if not in_airflow_task():
        return None
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    conn_id = settings.db_conn_id
    hook = PostgresHook(postgres_conn_id=conn_id, sqlalchemy_scheme=SQLALCHEMY_SCHEME)
    try:
        conn = hook.connection  # one lookup, kept by the hook for get_uri
    except AirflowNotFoundException:
        _announce(
            conn_id,
            f"no Airflow connection {conn_id!r}: the database is BLC_DATABASE_URL's (unset: embedded)",
        )
        return None
    if conn.conn_type != "postgres":
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} is of type {conn.conn_type!r}: it must be a postgres connection"
        )
    url = hook.get_uri()
    where = f"{conn.host or 'localhost'}:{conn.port or 5432}/{conn.schema or ''}"
    _announce(conn_id, f"database from Airflow connection {conn_id!r} ({where})")
    return url


def redash_target(settings: Settings) -> RedashTarget:
    """The Redash of the `settings.redash_conn_id` connection when a task runs and it is defined, else
    the one of BLC_REDASH_URL/BLC_REDASH_API_KEY/BLC_REDASH_DATA_SOURCE_ID (url None: none configured)."""
    from_env = RedashTarget(
        url=settings.redash_url,
        api_key=settings.redash_api_key,
        data_source_id=settings.redash_data_source_id,
    )
    if not in_airflow_task():
        return from_env
    conn = _airflow_connection(settings.redash_conn_id)
    if conn is None:
        _announce(
            settings.redash_conn_id,
            f"no Airflow connection {settings.redash_conn_id!r}: Redash comes from BLC_REDASH_URL",
        )
        return from_env
    from airflow.providers.http.hooks.http import HttpHook

    conn_id = settings.redash_conn_id
    if not conn.host:
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} has no host: it must name the Redash server"
        )
    url = HttpHook(method="GET", http_conn_id=conn_id).url_from_endpoint(None)
    raw_id = conn.extra_dejson.get("data_source_id")
    try:
        data_source_id = int(raw_id) if raw_id not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"Airflow connection {conn_id!r}: extra data_source_id {raw_id!r} is not a number"
        ) from exc
    _announce(conn_id, f"Redash from Airflow connection {conn_id!r} ({url})")
    return RedashTarget(
        url=url, api_key=conn.password or None, data_source_id=data_source_id, conn_id=conn_id
    )


def _airflow_connection(conn_id: str) -> Any | None:
    """The connection through the task SDK's secrets backends, or None when none of them defines it."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _announce(conn_id: str, message: str) -> None:
    # Once per process and message: the resolution runs at every engine_for call of a task.
    if (conn_id, message) not in _announced:
        _announced.add((conn_id, message))
        log.info("%s", message)
