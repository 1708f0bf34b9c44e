"""Domain exceptions of the platform.

Input problems (a file we cannot read, or one that fails its suite) are caught at the pipeline edge and
quarantine the file; anything else is a programming or infrastructure error and fails loudly.
"""

from __future__ import annotations

from connectors.errors import ConnectorError, CorruptFile, UnsupportedFormat

__all__ = [
    "BlcError",
    "ConfigurationError",
    "ConnectorError",
    "CorruptFile",
    "MigrationChanged",
    "QuarantineError",
    "SchemaNotCurrent",
    "UnreadableFile",
    "UnsupportedFormat",
    "describe_exception",
    "is_infrastructure",
]


class BlcError(Exception):
    """Base class of the platform's own errors."""


class ConfigurationError(BlcError):
    """A setting is missing or wrong."""


class MigrationChanged(BlcError):
    """A migration file no longer holds the text the database applied (sql/migrations/README.md): the
    database's schema is not what the files say, and re-running the file would not make it so."""

    def __init__(self, file_name: str, recorded_checksum: str, file_checksum: str) -> None:
        super().__init__(
            f"migration {file_name} was changed after it was applied (checksum {recorded_checksum[:12]} when"
            f" applied, {file_checksum[:12]} now); write a new migration instead (a database built from an"
            " older checkout: recreate it)"
        )
        self.file_name = file_name
        self.recorded_checksum = recorded_checksum
        self.file_checksum = file_checksum


class SchemaNotCurrent(BlcError):
    """The database's schema is older than the code's newest migration. Tasks only check it (one query);
    migrating is done once, on purpose: `blc db upgrade` (at deploy, by `airflow-init`), never per task."""

    def __init__(self, found: str | None, needed: str, where: str) -> None:
        at = f"at {found}" if found else "not created (no blc.schema_migrations)"
        super().__init__(
            f"database schema {at}, this code needs {needed}: run `blc db upgrade` (database {where})"
        )
        self.found = found
        self.needed = needed
        self.where = where


# Errors that mean "this file is bad", as opposed to "the platform is broken".
QuarantineError = (ConnectorError,)

#: SQLSTATEs a row of the file itself causes: class 22 (data exception: a number out of range, a bad value)
#: and the not-null and check constraints. Any other database error is the database's.
_DATA_SQLSTATE_CLASSES = ("22",)
_DATA_SQLSTATES = ("23502", "23514")
#: OS errors of the machine, not of the file being read: no space, no quota, no memory.
_MACHINE_ERRNOS = frozenset({28, 122, 12})  # ENOSPC, EDQUOT, ENOMEM


class UnreadableFile(ConnectorError):
    """An unexpected error while a file was read, numbered, validated or loaded: the file is quarantined
    with this one-line reason (the type and message, bounded and with control characters escaped); the
    traceback goes to the log."""

    def __init__(self, file_label: str, cause: BaseException) -> None:
        super().__init__(file_label, f"could not be read ({describe_exception(cause)})")
        self.cause = cause


def describe_exception(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` on one line, at most `limit` characters of message, control characters escaped.
    A database error gives libpq's primary message only (never the statement or its parameters)."""
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).split("\n", 1)[0]
    kind = type(orig if orig is not None else exc).__name__
    escaped = message.encode("unicode_escape").decode("ascii") if not message.isprintable() else message
    if len(escaped) > limit:
        escaped = escaped[:limit] + "…"
    return f"{kind}: {escaped}" if escaped else kind


def is_infrastructure(exc: BaseException) -> bool:
    """True when `exc` says the platform cannot work now (database or network down, disk full): the task
    fails and is retried. False when it comes from the file: the file is quarantined."""
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        orig = getattr(exc, "orig", None)
        state = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None) or ""  # psycopg2, psycopg 3
        return not (state[:2] in _DATA_SQLSTATE_CLASSES or state in _DATA_SQLSTATES)
    if isinstance(exc, sqlalchemy.exc.SQLAlchemyError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _MACHINE_ERRNOS
    return False
