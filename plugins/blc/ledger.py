"""The source_file ledger: what was seen, what became of it. Keys on content (sha256), never on time."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from blc import db

#: Statuses of a content that an ingest has not finished with (offered again when nobody holds its lock).
UNFINISHED = ("discovered", "stable", "ingesting", "failed")
#: Statuses a watch run may offer again: unfinished, or loaded without its statistics.
OFFERABLE = (*UNFINISHED, "loaded")


@dataclass(frozen=True)
class LedgerEntry:
    file_id: int
    uri: str
    sha256: str
    status: str
    cell_id: str | None
    error: str | None
    rows: int | None
    format: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = "file_id, uri, sha256, status, cell_id, error, rows, format"


def _entry(row: Any) -> LedgerEntry | None:
    return LedgerEntry(**row._mapping) if row is not None else None


def by_sha256(conn: Connection, sha256: str) -> LedgerEntry | None:
    row = conn.execute(
        sa.text(f"select {_COLUMNS} from blc.source_file where sha256 = :sha"), {"sha": sha256}
    ).first()
    return _entry(row)


def by_id(conn: Connection, file_id: int) -> LedgerEntry | None:
    row = conn.execute(
        sa.text(f"select {_COLUMNS} from blc.source_file where file_id = :id"), {"id": file_id}
    )
    return _entry(row.first())


def seen_etag(conn: Connection, uri: str, etag: str) -> bool:
    """True when this URI was already registered with the same size and mtime (no need to hash it)."""
    query = "select 1 from blc.source_file where uri = :uri and etag = :etag limit 1"
    return conn.execute(sa.text(query), {"uri": uri, "etag": etag}).first() is not None


def register(
    conn: Connection, *, uri: str, sha256: str, size_bytes: int, etag: str | None, status: str
) -> LedgerEntry:
    """Insert the content if new; a known content keeps its row (and its status)."""
    row = conn.execute(
        sa.text(
            "insert into blc.source_file (uri, sha256, size_bytes, etag, status)"
            " values (:uri, :sha, :size, :etag, :status)"
            " on conflict (sha256) do update set updated_at = now()"
            f" returning {_COLUMNS}"
        ),
        {"uri": uri, "sha": sha256, "size": size_bytes, "etag": etag, "status": status},
    ).one()
    entry = _entry(row)
    assert entry is not None
    return entry


def update(conn: Connection, file_id: int, **fields: Any) -> None:
    allowed = {
        "status",
        "error",
        "rows",
        "cell_id",
        "format",
        "parser_version",
        "cycle_rule",
        "uri",
        "etag",
        "sha256",
        "size_bytes",
        "first_cycle_index",
        "last_cycle_index",
        "first_cycle_count",
        "last_cycle_count",
        "clock_start_unix_second",
        "test_time_first_second",
        "test_time_last_second",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not ledger fields: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = :{name}" for name in fields)
    extra = ", loaded_at = now()" if fields.get("status") == "loaded" else ""
    conn.execute(
        sa.text(
            f"update blc.source_file set {assignments}{extra}, updated_at = now() where file_id = :file_id"
        ),
        {**fields, "file_id": file_id},
    )


def start_attempt(conn: Connection, file_id: int) -> None:
    conn.execute(
        sa.text(db.load_sql("ledger/start_attempt")),
        {"id": file_id},
    )


def superseded_by(conn: Connection, uri: str, file_id: int) -> list[int]:
    """Earlier contents of the same URI, whose rows the new content replaces."""
    rows = conn.execute(
        sa.text("select file_id from blc.source_file where uri = :uri and file_id <> :id"),
        {"uri": uri, "id": file_id},
    )
    return [r.file_id for r in rows]


def add_warning(conn: Connection, file_id: int, warning: str) -> None:
    """Record a warning about a file that was loaded all the same (shown by `blc status`)."""
    conn.execute(
        sa.text(db.load_sql("ledger/add_warning")),
        {"w": json.dumps([warning]), "id": file_id},
    )


# --- locks: one ingest per URI and per content at a time; a dead ingest is recognised at once ------------
#
# An ingest holds session-level advisory locks on its URI and on its content (sha256) from before it reads
# the ledger until it has committed. Postgres releases them when the process or its connection dies, so a
# ledger row still `ingesting` whose content lock is free belongs to a dead process: the next watch run
# offers it again, without waiting for a timeout. Two names of one content are serialised by the content
# lock: the second finds the content loaded and skips it.


def _lock_key(kind: str, value: str) -> int:
    digest = hashlib.sha256(f"blc:{kind}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def content_lock_key(sha256: str) -> int:
    return _lock_key("content", sha256)


def uri_lock_key(uri: str) -> int:
    return _lock_key("uri", uri)


@contextmanager
def ingest_lock(engine: Engine, *, uri: str, sha256: str) -> Iterator[None]:
    """Hold the URI's and the content's locks (waiting for another ingest of either to finish). Always the
    URI first, then the content, so two ingests can never wait on each other in a circle."""
    conn = engine.connect()
    try:
        for key in (uri_lock_key(uri), content_lock_key(sha256)):
            conn.execute(sa.text("select pg_advisory_lock(:key)"), {"key": key})
        conn.commit()  # session-level locks outlive the transaction; no snapshot is held meanwhile
        yield
    finally:
        try:
            conn.execute(sa.text("select pg_advisory_unlock_all()"))
            conn.commit()
        except Exception:  # the connection is gone (database restarted): so are its locks
            pass
        with suppress(Exception):
            conn.close()


def is_being_ingested(conn: Connection, sha256: str) -> bool:
    """True while a live process holds the content's ingest lock."""
    key = content_lock_key(sha256)
    free = conn.execute(sa.text("select pg_try_advisory_lock(:key)"), {"key": key}).scalar()
    if free:
        conn.execute(sa.text("select pg_advisory_unlock(:key)"), {"key": key})
    return not free
