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
    "UnsupportedFormat",
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
