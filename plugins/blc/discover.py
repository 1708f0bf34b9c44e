"""Discovery: which files of the watched folders an ingest should take now, and what the folders hold
that cannot be read. Decides from the ledger (blc.source_file) and the ingest locks, never from time alone."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from blc import db, ledger
from blc.db import engine_for
from blc.settings import Settings, get_settings
from connectors import share

log = logging.getLogger(__name__)


#: A failed file is offered again by the watcher until it has failed this many times.
MAX_ATTEMPTS = 3

# --- discover -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Discovery:
    """What one look at the share folders found. JSON-safe."""

    #: Files to ingest in this run.
    uris: list[str]
    #: Entries that could not be read: URI → reason.
    unreadable: dict[str, str]
    #: Of those, the ones no earlier look had found (a run reports these as failures, the rest as warnings).
    new_unreadable: list[str]
    #: Size in bytes of each file to ingest (decides how they are batched).
    sizes: dict[str, int] = field(default_factory=dict)

    def batches(self, slots: int = 4) -> list[list[str]]:
        """The files to ingest grouped for one task each (see `batched`)."""
        return batched(self.uris, self.sizes, slots=slots)


#: A file at least this large gets a task of its own; smaller ones share one (a task costs about a second
#: of fixed cost, as much as reading a few thousand rows).
LARGE_FILE_BYTES = 8 << 20
#: At most this many small files in one task, and at most this many bytes.
BATCH_FILES = 25
BATCH_BYTES = 64 << 20


def batched(uris: list[str], sizes: dict[str, int], *, slots: int = 4) -> list[list[str]]:
    """Group files into tasks: a large file alone, small files together, at most BATCH_FILES and about
    BATCH_BYTES per group, and at least `slots` groups when there are that many files (so that the tasks
    that may run at once all have work). Files keep their order inside a group; no file is in two."""
    large = [[uri] for uri in uris if sizes.get(uri, 0) >= LARGE_FILE_BYTES]
    small = [uri for uri in uris if sizes.get(uri, 0) < LARGE_FILE_BYTES]
    if not small:
        return large
    total = sum(sizes.get(uri, 0) for uri in small)
    count = max(-(-len(small) // BATCH_FILES), -(-total // BATCH_BYTES), min(len(small), max(1, slots)))
    groups: list[list[str]] = [[] for _ in range(count)]
    loads = [0] * count
    for uri in sorted(small, key=lambda u: -sizes.get(u, 0)):  # largest first, each to the lightest group
        lightest = min(range(count), key=lambda g: (loads[g], len(groups[g])))
        groups[lightest].append(uri)
        loads[lightest] += sizes.get(uri, 0) + 1
    order = {uri: position for position, uri in enumerate(uris)}
    return large + [sorted(group, key=order.__getitem__) for group in groups if group]


def discover(settings: Settings | None = None, *, now: float | None = None) -> list[str]:
    """URIs of stable files to ingest (see `discover_files`)."""
    return discover_files(settings, now=now).uris


def discover_files(settings: Settings | None = None, *, now: float | None = None) -> Discovery:
    """URIs of stable files in the share folders that the ledger has not settled yet, registered as
    'stable'; also those an earlier ingest left unfinished (it died while `ingesting`, or after the load
    and before the statistics). Files still being written, or ending in a line without a line end, are
    left for a later poll; entries that cannot be read are recorded (`blc.unreadable_entry`) and skipped."""
    settings = settings or get_settings()
    engine = engine_for(settings)
    now = time.time() if now is None else now
    objects, unreachable = _list_s3(settings)
    candidates, unreadable = share.scan(settings.share_dirs)
    stable, settling = share.split_stable(candidates, settings.settle_seconds, now=now)
    for candidate in settling:
        log.info("%s: still changing (settle window %ss), next poll", candidate.name, settings.settle_seconds)
    offered: list[str] = []
    offered_contents: set[str] = set()
    sizes = {candidate.uri: candidate.size_bytes for candidate in stable}
    sizes.update((item.uri, item.size_bytes) for item in objects)
    with engine.begin() as conn:
        for candidate in stable:
            try:
                sha = _offer(conn, candidate, settings, now, offered_contents)
            except OSError as exc:  # became unreadable between the listing and the hash
                unreadable.append(share.Unreadable(candidate.uri, exc.strerror or type(exc).__name__))
                continue
            if sha is not None:
                offered.append(candidate.uri)
                offered_contents.add(sha)
        offered += [item.uri for item in objects if _offer_object(conn, item, settings, now)]
        unreadable += unreachable
        roots = [root.as_uri().rstrip("/") + "/" for root in settings.share_dirs] + list(settings.s3_uris)
        new = _record_unreadable(conn, roots, unreadable)
    for entry in unreadable:
        log.warning("%s: cannot be read (%s); skipped", entry.uri, entry.error)
    watched = [str(d) for d in settings.share_dirs] + list(settings.s3_uris)
    log.info("discovered %d file(s) to ingest in %s", len(offered), ", ".join(watched) or "nothing")
    return Discovery(
        offered, {entry.uri: entry.error for entry in unreadable}, new, {u: sizes.get(u, 0) for u in offered}
    )


@dataclass(frozen=True)
class _Object:
    uri: str
    etag: str
    modified: float
    size_bytes: int

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]


def _list_s3(settings: Settings) -> tuple[list[_Object], list[share.Unreadable]]:
    """The data objects under the watched S3 prefixes (sidecars, folder markers and empty objects left
    out), and the prefixes that could not be listed (endpoint down, credentials refused, no such bucket):
    one prefix that fails never hides the share folders or the other prefixes."""
    if not settings.s3_uris:
        return [], []
    from blc import s3

    objects: list[_Object] = []
    problems: list[share.Unreadable] = []
    client = None
    for prefix in settings.s3_uris:
        try:
            client = client or s3.client(settings.s3_conn_id)
            listed = list(s3.list_objects(client, s3.S3Uri.parse(prefix)))
        except (s3.S3Unavailable, FileNotFoundError) as exc:
            problems.append(share.Unreadable(prefix, str(exc).removeprefix(f"{prefix}: ")))
            continue
        objects += [
            _Object(str(item.uri), item.etag, item.modified, item.size_bytes)
            for item in listed
            if item.size_bytes > 0 and not item.uri.key.endswith("/") and not share.is_ignored(item.uri.name)
        ]
    return objects, problems


def _offer_object(conn: Connection, item: _Object, settings: Settings, now: float) -> bool:
    """Whether an S3 object is to be ingested in this run. An object is written whole (a PUT or a finished
    multipart upload), so it is stable once its LastModified is `settle_seconds` old: judged within this
    one listing, so that 0 takes everything at once. Its URI and ETag known to the ledger (blc.s3_object)
    means its content was fetched before: offered again only when that content's ingest is unfinished. A new
    object, or a new version of one (grown or rewritten), is offered without being read here: the ingest
    fetches it once, hashes it, and finds out there whether the content is new."""
    if now - item.modified < settings.settle_seconds:
        log.info(
            "%s: written %.0f s ago (settle window %ss), next poll",
            item.name,
            now - item.modified,
            settings.settle_seconds,
        )
        return False
    seen = conn.execute(
        sa.text(db.load_sql("discover/s3_seen_unchanged")), {"uri": item.uri, "etag": item.etag}
    ).first()
    if seen is None:
        return True
    return _unfinished(conn, seen, item.name)


def _offer(
    conn: Connection,
    candidate: share.FileCandidate,
    settings: Settings,
    now: float,
    offered_contents: set[str],
) -> str | None:
    """The candidate's sha256 when it is to be ingested in this run, else None (and why, in the log)."""
    seen = conn.execute(
        sa.text(db.load_sql("discover/seen_unchanged")),
        {"uri": candidate.uri, "etag": candidate.etag},
    ).first()
    if seen is not None:  # unchanged since the ledger saw it: no need to read it again
        return seen.sha256 if _unfinished(conn, seen, candidate.name) else None
    complete = share.complete_lines_size(candidate.path)
    if complete is not None and now - candidate.mtime < settings.partial_line_seconds:
        log.info(
            "%s: its last line has no line end yet; waiting for the rest (up to %ss after its last change)",
            candidate.name,
            settings.partial_line_seconds,
        )
        return None
    sha = share.sha256_of(candidate.path)
    if sha in offered_contents:
        log.info("%s: same content as a file offered in this run, not ingested twice", candidate.name)
        return None
    row = conn.execute(
        sa.text("select file_id, uri, sha256, status, attempts from blc.source_file where sha256 = :sha"),
        {"sha": sha},
    ).first()
    if row is None:
        entry = ledger.register(
            conn,
            uri=candidate.uri,
            sha256=sha,
            size_bytes=candidate.size_bytes,
            etag=candidate.etag,
            status="stable",
        )
        ledger.update(conn, entry.file_id, etag=candidate.etag)
        return sha
    if row.status not in ledger.OFFERABLE:
        if row.uri != candidate.uri:
            log.info(
                "%s: same content as file %s (%s), not ingested again", candidate.name, row.file_id, row.uri
            )
        else:  # touched, not changed: remember the new mtime so that it is not read again
            ledger.update(conn, row.file_id, etag=candidate.etag)
        return None
    if ledger.is_being_ingested(conn, sha):
        log.info("%s: same content as %s, being ingested now", candidate.name, row.uri)
        return None
    if row.status != "loaded":
        # Unfinished under this or another name (renamed before its ingest, say): this name takes it over.
        ledger.update(conn, row.file_id, uri=candidate.uri, etag=candidate.etag)
    return sha if _offered_again(conn, row, candidate.name) else None


def _unfinished(conn: Connection, row: Any, name: str) -> bool:
    """Whether a ledger row some ingest has not finished with is to be offered again now: not while a live
    process holds its lock, else as `_offered_again` says."""
    if row.status not in ledger.OFFERABLE:
        return False
    if ledger.is_being_ingested(conn, row.sha256):
        log.info("%s: being ingested by another process", name)
        return False
    return _offered_again(conn, row, name)


def _offered_again(conn: Connection, row: Any, name: str) -> bool:
    """For an offerable row nobody holds the lock of: a dead ingest (`ingesting`) up to MAX_ATTEMPTS times,
    then `failed` with a reason; a load whose statistics were never computed (`loaded`) always."""
    if row.status == "loaded":
        log.warning("%s: loaded, but its statistics were never computed; processing it", name)
        return True
    if row.attempts >= MAX_ATTEMPTS:
        if row.status == "ingesting":
            ledger.update(
                conn,
                row.file_id,
                status="failed",
                error=f"{name}: the ingest stopped {row.attempts} times without finishing (process killed or"
                " database lost); `blc ingest --force` tries again",
            )
        return False
    if row.status == "ingesting":
        log.warning("%s: an earlier ingest stopped without finishing; ingesting it again", name)
    return True


def _record_unreadable(conn: Connection, roots: list[str], entries: list[share.Unreadable]) -> list[str]:
    """Remember what could not be read this time (first seen, last seen) and forget what now can be;
    return the URIs no earlier look had recorded."""
    new: list[str] = []
    for entry in entries:
        inserted = conn.execute(
            sa.text(db.load_sql("discover/record_unreadable_entry")),
            {"uri": entry.uri, "error": entry.error},
        ).scalar()
        if inserted:
            new.append(entry.uri)
    conn.execute(
        sa.text(db.load_sql("discover/forget_readable_entries")),
        {"roots": roots, "seen": [e.uri for e in entries]},
    )
    return new
