"""The pipeline steps. The Airflow operators and the ``blc`` CLI both call these: one implementation, two
front doors. Each step is idempotent: it replaces what it owns inside one transaction, keyed on content.

    discover → publish_file (fetch, detect, parse, cycles, validate, COPY) → process_cell → refresh_dashboards
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from blc import db, failpoints, ledger, tuning
from blc.curve_store import CurveSpool
from blc.errors import ConnectorError
from blc.settings import Settings, get_settings
from blc.validation import CANONICAL_SUITE
from connectors import companions, registry, share, sidecars
from connectors.base import StreamedRead
from connectors.errors import CorruptFile
from processors.cycle_stats import (
    CYCLE_STATS_COLUMNS,
    PROCESSOR_VERSION,
    SAMPLE_EXTRAS,
    StreamedCycleStats,
    compute_cycle_stats,
)
from processors.cycles import CounterStuck, CycleAssignment, CycleRule, StreamedCycles, assign_cycles
from processors.fade import knee_onset, moving_median

if TYPE_CHECKING:
    from blc.validation import ChunkValidator

log = logging.getLogger(__name__)

#: Rows validated per Great Expectations run, in chunks (GX costs ~0.07 s a run however small the frame).
VALIDATION_BATCH_CHUNKS = 3
#: Free heap pages go back to the OS every this many chunks (malloc_trim costs tens of ms on a big heap).
TRIM_EVERY_CHUNKS = 4
#: A failed file is offered again by the watcher until it has failed this many times.
MAX_ATTEMPTS = 3

#: Columns of blc.timeseries filled from the canonical frame (cell_id and file_id are added here).
TIMESERIES_COLUMNS: tuple[str, ...] = (
    "record_index",
    "test_time_second",
    "unix_time_second",
    "cycle_index",
    "cycle_count",
    "step_count",
    "step_id",
    "step_time_second",
    "current_ampere",
    "voltage_volt",
    "power_watt",
    "charging_capacity_ah",
    "discharging_capacity_ah",
    "charging_energy_wh",
    "discharging_energy_wh",
    "cycle_charging_capacity_ah",
    "cycle_discharging_capacity_ah",
    "cycle_charging_energy_wh",
    "cycle_discharging_energy_wh",
    "step_charging_capacity_ah",
    "step_discharging_capacity_ah",
    "step_charging_energy_wh",
    "step_discharging_energy_wh",
    "internal_resistance_ohm",
    "ambient_temperature_celsius",
    "surface_temperature_celsius",
    "temperature_t1_celsius",
)
#: Tables a successful ingest changes; the Redash queries reading them are refreshed.
PUBLISHED_TABLES = (
    "blc.timeseries",
    "blc.cycle_stats",
    "blc.capacity_fade",
    "blc.cell_summary",
    "blc.cell",
    "blc.curve",
)


@dataclass(frozen=True)
class IngestOutcome:
    """What became of one file. JSON-safe (Airflow XCom)."""

    uri: str
    file_label: str
    status: str  # loaded | skipped | quarantined
    file_id: int | None = None
    cell_id: str | None = None
    format: str | None = None
    rows: int = 0
    cycle_rule: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    #: Cells whose statistics must be recomputed (this file's, and any whose rows it replaced).
    cells_to_process: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cells_to_process"] = list(self.cells_to_process)
        return data


@dataclass(frozen=True)
class ProcessOutcome:
    cell_id: str
    cycles: int
    complete_cycles: int
    processor_version: str
    seconds: float
    changed_tables: tuple[str, ...] = PUBLISHED_TABLES

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed_tables"] = list(self.changed_tables)
        return data


class Quarantined(Exception):
    """Raised by callers that want an exception (Airflow) rather than an outcome."""

    def __init__(self, outcome: IngestOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def engine_for(settings: Settings) -> Engine:
    engine = db.get_engine(db.resolve_url(settings))
    db.upgrade(engine, settings.sql_dir)  # one query when already current
    return engine


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
    candidates, unreadable = share.scan(settings.share_dirs)
    stable, settling = share.split_stable(candidates, settings.settle_seconds, now=now)
    for candidate in settling:
        log.info("%s: still changing (settle window %ss), next poll", candidate.name, settings.settle_seconds)
    offered: list[str] = []
    offered_contents: set[str] = set()
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
        new = _record_unreadable(conn, settings.share_dirs, unreadable)
    for entry in unreadable:
        log.warning("%s: cannot be read (%s); skipped", share.path_from_uri(entry.uri), entry.error)
    log.info("discovered %d file(s) to ingest in %s", len(offered), ", ".join(map(str, settings.share_dirs)))
    return Discovery(offered, {entry.uri: entry.error for entry in unreadable}, new)


def _offer(
    conn: Connection,
    candidate: share.FileCandidate,
    settings: Settings,
    now: float,
    offered_contents: set[str],
) -> str | None:
    """The candidate's sha256 when it is to be ingested in this run, else None (and why, in the log)."""
    seen = conn.execute(
        sa.text(
            "select file_id, sha256, status, attempts from blc.source_file where uri = :uri and etag = :etag"
            " order by file_id desc limit 1"
        ),
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
    if row.status not in ledger.UNFINISHED and row.status != "loaded":
        if row.uri != candidate.uri:
            log.info(
                "%s: same content as file %s (%s), not ingested again", candidate.name, row.file_id, row.uri
            )
        else:  # touched, not changed: remember the new mtime so that it is not read again
            ledger.update(conn, row.file_id, etag=candidate.etag)
        return None
    if row.uri != candidate.uri and ledger.is_being_ingested(conn, sha):
        log.info("%s: same content as %s, being ingested now", candidate.name, row.uri)
        return None
    if row.status != "loaded":
        # Unfinished under this or another name (renamed before its ingest, say): this name takes it over.
        ledger.update(conn, row.file_id, uri=candidate.uri, etag=candidate.etag)
    return sha if _unfinished(conn, row, candidate.name) else None


def _unfinished(conn: Connection, row: Any, name: str) -> bool:
    """Whether a ledger row some ingest has not finished with is to be offered again now: not while a live
    process holds its lock; a dead ingest (`ingesting`, lock free) up to MAX_ATTEMPTS times; a load whose
    statistics were never computed (`loaded`) always."""
    if row.status not in ledger.UNFINISHED and row.status != "loaded":
        return False
    if ledger.is_being_ingested(conn, row.sha256):
        log.info("%s: being ingested by another process", name)
        return False
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


def _record_unreadable(
    conn: Connection, roots: tuple[Path, ...], entries: list[share.Unreadable]
) -> list[str]:
    """Remember what could not be read this time (first seen, last seen) and forget what now can be;
    return the URIs no earlier look had recorded."""
    new: list[str] = []
    for entry in entries:
        inserted = conn.execute(
            sa.text(
                "insert into blc.unreadable_entry (uri, error) values (:uri, :error)"
                " on conflict (uri) do update set error = excluded.error, last_seen = now()"
                " returning (xmax = 0) as inserted"
            ),
            {"uri": entry.uri, "error": entry.error},
        ).scalar()
        if inserted:
            new.append(entry.uri)
    conn.execute(
        sa.text(
            "delete from blc.unreadable_entry"
            " where exists (select 1 from unnest(cast(:roots as text[])) as root"
            "  where starts_with(uri, root))"
            " and not (uri = any(cast(:seen as text[])))"
        ),
        {"roots": [root.as_uri().rstrip("/") + "/" for root in roots], "seen": [e.uri for e in entries]},
    )
    return new


# --- publish --------------------------------------------------------------------------------------------


def fetch(uri: str) -> Path:
    """A local path for the URI (share files are read in place)."""
    if uri.startswith(("file:", "/")):
        path = share.path_from_uri(uri) if uri.startswith("file:") else Path(uri)
        if not path.is_file():
            raise FileNotFoundError(f"{uri}: no such file")
        return path
    raise ValueError(f"{uri}: unsupported URI scheme (expected file://)")


def default_cell_id(path: Path) -> str:
    """The file name without its extension: the last resort after --cell-id and the file's metadata."""
    return path.stem


def project_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", raw.strip().lower()).strip("_")
    if not name:
        raise ValueError(f"project name {raw!r} has no letters or digits")
    return name


def publish_file(
    uri: str,
    *,
    cell_id: str | None = None,
    project: str | None = None,
    format_name: str | None = None,
    force: bool = False,
    settings: Settings | None = None,
    on_loaded: Callable[[IngestOutcome], None] | None = None,
) -> IngestOutcome:
    """Fetch, recognise, parse, derive cycles, validate, and COPY one file's rows into blc.timeseries in
    one transaction that first removes that file's earlier rows. A file that fails is quarantined (the
    outcome says why) and nothing of it is published; the same content again is a no-op, and content the
    ledger quarantined before is quarantined again without being read.

    One ingest per URI and per content at a time (ledger.ingest_lock): a second name of the same bytes
    waits, then finds them loaded. A content an ingest loaded but never processed (the process died in
    between) comes back as `loaded` with its cell to process. `on_loaded` runs while the locks are still
    held (the CLI processes the cell there, so a second name never sees the content half done)."""
    started = time.monotonic()
    settings = settings or get_settings()
    engine = engine_for(settings)
    try:
        path = fetch(uri)
    except FileNotFoundError:
        _mark_gone(engine, uri)
        raise
    uri = path.resolve().as_uri() if uri.startswith("/") else uri
    sha = share.sha256_of(path)
    stat = path.stat()
    etag = share.FileCandidate(uri, path, stat.st_size, stat.st_mtime).etag
    with ledger.ingest_lock(engine, uri=uri, sha256=sha):
        with engine.begin() as conn:
            known = ledger.by_sha256(conn, sha)
            settled = None if known is None or force else _settled_outcome(known, uri, path.name, started)
            if settled is not None:
                log.info("%s: %s", settled.file_label, settled.reason)
        if settled is not None:
            if settled.status == "loaded" and on_loaded is not None:
                on_loaded(settled)
            return settled
        with engine.begin() as conn:
            grown = None if force else _grown_version(conn, uri, path, stat.st_size)
            # The new content's own row; a grown file's append folds it into the stored version's row.
            file_id = _register(conn, uri, sha, stat.st_size, etag)
        failpoints.reach("registered")
        with _complete_lines(path) as (read_path, warnings):
            outcome = _publish_registered(
                engine,
                _Source(uri, path, read_path, sha, stat.st_size, etag, warnings),
                file_id,
                grown,
                cell_id=cell_id,
                project=project,
                format_name=format_name,
                settings=settings,
                started=started,
            )
        if outcome.status == "loaded":
            failpoints.reach("loaded")
            if on_loaded is not None:
                on_loaded(outcome)
    return outcome


def _settled_outcome(known: ledger.LedgerEntry, uri: str, label: str, started: float) -> IngestOutcome | None:
    """What to answer, without reading the file, for a content the ledger has settled; None to ingest it."""
    elsewhere = f" as {PurePosixPath(known.uri).name}" if known.uri != uri else ""
    seconds = time.monotonic() - started
    if known.status == "quarantined":
        reason = known.error or "quarantined"
        if elsewhere or not reason.startswith(label):
            reason = f"{label}: quarantined before{elsewhere} (file {known.file_id}): {reason}"
        return IngestOutcome(uri, label, "quarantined", known.file_id, reason=reason, seconds=seconds)
    if known.status == "loaded":  # the process stopped between the load and the statistics
        return IngestOutcome(
            uri,
            label,
            "loaded",
            known.file_id,
            known.cell_id,
            known.format,
            int(known.rows or 0),
            reason=f"loaded before{elsewhere} (file {known.file_id}) but never processed: processing it now",
            seconds=seconds,
            cells_to_process=(known.cell_id,) if known.cell_id else (),
        )
    if known.status == "processed":
        return IngestOutcome(
            uri,
            label,
            "skipped",
            known.file_id,
            known.cell_id,
            known.format,
            0,
            reason=f"same content as file {known.file_id}{elsewhere} (processed), nothing to do",
            seconds=seconds,
        )
    return None


@dataclass(frozen=True)
class _Source:
    """One file's bytes as an ingest sees them: where they are named and where the connector reads them
    (a copy without an unfinished last line, when it has one)."""

    uri: str
    path: Path
    read_path: Path
    sha256: str
    size_bytes: int
    etag: str
    warnings: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.path.name


@contextmanager
def _complete_lines(path: Path) -> Iterator[tuple[Path, tuple[str, ...]]]:
    """The path to read and the warnings to record. A text file whose last line has no line end may still
    be being written (a writer paused mid-row cuts a field in two, and the field count can still match):
    that line is never published. The complete lines are read from a temporary copy of the same name."""
    complete = share.complete_lines_size(path)
    if complete is None:
        yield path, ()
        return
    with tempfile.TemporaryDirectory(prefix="blc-complete-") as folder:
        copy = Path(folder) / path.name
        line_ends = 0
        with path.open("rb") as source, copy.open("wb") as target:
            left = complete
            while left > 0 and (block := source.read(min(1 << 20, left))):
                line_ends += block.count(b"\n")
                target.write(block)
                left -= len(block)
            dropped = source.read(80).decode("utf-8", errors="replace")
        warning = (
            f"line {line_ends + 1} has no line end and was not loaded (the file may still have been"
            f" written): {dropped[:40]!r}{'…' if len(dropped) > 40 else ''}"
        )
        log.warning("%s: %s", path.name, warning)
        yield copy, (warning,)


def _publish_registered(
    engine: Engine,
    source: _Source,
    file_id: int,
    grown: _Grown | None,
    *,
    cell_id: str | None,
    project: str | None,
    format_name: str | None,
    settings: Settings,
    started: float,
) -> IngestOutcome:
    """Read, number, validate and load the registered content (ledger row `file_id`, `ingesting`); append
    to the stored version instead when the file grew (`grown`)."""
    uri, path, label = source.uri, source.path, source.label
    # One pass: each chunk is parsed, numbered into cycles, queued for validation and COPYed while the next
    # is parsed; Great Expectations imports meanwhile. Rows become visible only when the one transaction
    # commits, after every chunk passed the suite. Files without a cycle counter take a first, cheap pass
    # over the current alone (the transitions rule needs the whole file), docs/adr/0004.
    from blc import validation

    tuning.keep_heap_flat()
    tuning.short_gil_slices()
    warm_up = validation.warm_up(CANONICAL_SUITE, expectations_dir=settings.expectations_dir)
    try:
        beside = sidecars.metadata_beside(path)  # connectors/sidecars.py: precedence, cell id rule
        stream = registry.stream(
            source.read_path,
            format_name=format_name,
            timezone=str(beside.get("timezone") or settings.timezone),
            chunk_rows=settings.chunk_rows,
        )
        if beside:
            stream = replace(stream, metadata={**stream.metadata, **beside})
        plan = None if "cycle_count" in stream.columns else _assign_cycles(stream)
        summary = _vendor_summary(path, stream.format)
        cell = cell_id or str(stream.metadata.get("cell_id") or default_cell_id(path))
        target = _Target(
            file_id=file_id,
            uri=uri,
            label=label,
            cell_id=cell,
            project=project_name(project or str(stream.metadata.get("project") or settings.default_project)),
            summary=summary,
            warnings=source.warnings,
        )
    except ConnectorError as exc:
        return _quarantine(engine, uri, label, file_id, exc, started)
    except Exception as exc:
        _mark_failed(engine, file_id, exc)
        raise
    if stream.unmapped_columns:
        log.info(
            "%s: vendor columns not mapped to BDF (not stored): %s", label, ", ".join(stream.unmapped_columns)
        )
    try:
        loaded = None
        if grown is not None:
            try:
                loaded = _append(engine, stream, plan, grown, target, settings, warm_up, source)
            except _NotAnAppend as exc:  # rolled back: load the whole file as a new version instead
                log.info("%s: grew, but %s; loading it whole", label, exc)
        if loaded is None:
            try:
                loaded = _load(engine, stream, plan, target, settings, warm_up)
            except CounterStuck:  # rolled back; number the rows again, the transitions' boundaries added
                log.info("%s: the cycle counter is stuck; cycles by charge/discharge transitions too", label)
                loaded = _load(engine, stream, _assign_cycles(stream), target, settings, warm_up)
    except (ConnectorError, validation.ValidationFailed) as exc:
        # The transaction rolled back: none of this file's rows, and the earlier version's rows are intact.
        return _quarantine(engine, uri, label, file_id, exc, started)
    except Exception as exc:
        _mark_failed(engine, file_id, exc)
        raise

    log.info(
        "%s: loaded %d rows as cell %s (format %s, cycles by %s)",
        label,
        loaded.rows,
        target.cell_id,
        stream.format,
        loaded.rule,
    )
    return IngestOutcome(
        uri,
        label,
        "loaded",
        loaded.file_id,
        target.cell_id,
        stream.format,
        loaded.rows,
        loaded.rule,
        None,
        time.monotonic() - started,
        tuple(dict.fromkeys([target.cell_id, *loaded.replaced_cells])),
    )


def _register(conn: Connection, uri: str, sha: str, size_bytes: int, etag: str) -> int:
    entry = ledger.register(conn, uri=uri, sha256=sha, size_bytes=size_bytes, etag=etag, status="stable")
    ledger.update(conn, entry.file_id, uri=uri, etag=etag)
    ledger.start_attempt(conn, entry.file_id)
    return entry.file_id


@dataclass(frozen=True)
class _Grown:
    """The loaded version of a URI whose bytes the new content starts with."""

    file_id: int
    size_bytes: int
    rows: int
    last_cycle_index: int
    cycle_rule: str
    cell_id: str
    format: str


class _NotAnAppend(Exception):
    """The new content is not the old one plus rows: it is loaded whole instead."""


def _grown_version(conn: Connection, uri: str, path: Path, size_bytes: int) -> _Grown | None:
    """The loaded version of this URI that the file extends: same bytes up to its size, ending with a line
    break (so no row of it was cut), and more bytes after, its cycles numbered by the instrument's counter.
    None when there is none."""
    row = conn.execute(
        sa.text(
            "select file_id, sha256, size_bytes, rows, last_cycle_index, cycle_rule, cell_id, format"
            " from blc.source_file where uri = :uri and status in ('loaded', 'processed')"
            " order by file_id desc limit 1"
        ),
        {"uri": uri},
    ).first()
    if row is None or not row.rows or row.last_cycle_index is None or row.size_bytes >= size_bytes:
        return None
    if row.cycle_rule != CycleRule.INSTRUMENT_COUNTER.value:
        # Cycles from transitions depend on the whole file (its largest current sets the rest threshold):
        # more rows may renumber stored ones, so such a file is loaded whole again.
        return None
    with path.open("rb") as handle:
        handle.seek(row.size_bytes - 1)
        if handle.read(1) != b"\n":
            return None
    if share.prefix_sha256(path, row.size_bytes) != row.sha256:
        return None
    return _Grown(
        int(row.file_id),
        int(row.size_bytes),
        int(row.rows),
        int(row.last_cycle_index),
        str(row.cycle_rule),
        str(row.cell_id),
        str(row.format),
    )


@dataclass(frozen=True)
class _Target:
    file_id: int
    uri: str
    label: str
    cell_id: str
    project: str
    summary: companions.VendorSummary | None = None
    #: Recorded on the file's ledger row with the load (e.g. an unfinished last line left out).
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Loaded:
    file_id: int
    rows: int
    rule: str
    replaced_cells: tuple[str, ...]


def _load(
    engine: Engine,
    stream: StreamedRead,
    plan: CycleAssignment | None,
    target: _Target,
    settings: Settings,
    warm_up: threading.Thread,
) -> _Loaded:
    """Replace the file's rows (and any earlier version's) with the streamed ones, in one transaction."""
    from blc.validation import ChunkValidator

    stored = {*stream.columns, "cycle_index", "record_index"}
    columns = ["cell_id", "file_id", *(c for c in TIMESERIES_COLUMNS if c in stored)]
    with engine.begin() as conn:
        project_id = _ensure_project(conn, target.project)
        _ensure_cell(conn, target.cell_id, project_id, stream.format, stream.metadata)
        earlier = ledger.superseded_by(conn, target.uri, target.file_id)
        replaced_cells = _replace_rows(conn, [target.file_id, *earlier])
        for old_id in earlier:
            conn.execute(
                sa.text(
                    "update blc.source_file set status = 'superseded', updated_at = now()"
                    " where file_id = :id and status in ('loaded', 'processed', 'stable', 'failed')"
                ),
                {"id": old_id},
            )
        numbering = _Numbering(plan)
        gathered = _gathering(target.file_id, max_open_rows=2 * settings.chunk_rows)
        validator = ChunkValidator(
            CANONICAL_SUITE,
            expectations_dir=settings.expectations_dir,
            file_label=target.label,
            first_data_line=stream.first_data_line,
            batch_rows=VALIDATION_BATCH_CHUNKS * settings.chunk_rows,
            warm_up_thread=warm_up,
        )
        chunks = _numbered_chunks(stream, numbering, target.label, validator, gathered.stats)
        rows = db.copy_frames(
            conn,
            "blc.timeseries",
            chunks,
            columns,
            constants={"cell_id": target.cell_id, "file_id": target.file_id},
        )
        validator.finish()
        rule = numbering.finish()  # may raise CounterStuck: the transaction rolls back
        _store_file_cycle_stats(conn, target.file_id, gathered, target.label)
        if target.summary is not None:
            _store_vendor_summary(conn, target.file_id, target.summary, "cycle_count" in stream.columns)
        ledger.update(
            conn,
            target.file_id,
            status="loaded",
            rows=rows,
            cell_id=target.cell_id,
            format=stream.format,
            parser_version=stream.parser_version,
            cycle_rule=rule,
            first_cycle_index=numbering.first_cycle,
            last_cycle_index=numbering.last_cycle,
            first_cycle_count=numbering.first_count,
            last_cycle_count=numbering.last_count,
            clock_start_unix_second=numbering.clock_start,
            test_time_first_second=numbering.time_first,
            test_time_last_second=numbering.time_last,
            error=None,
        )
        for warning in target.warnings:
            ledger.add_warning(conn, target.file_id, warning)
        _record_validation(conn, target.file_id, "canonical", CANONICAL_SUITE, success=True, failed=[])
    return _Loaded(target.file_id, rows, rule, tuple(replaced_cells))


class _Numbering:
    """Cycle numbers for the streamed chunks: from a precomputed plan, or by the counter as they come."""

    def __init__(self, plan: CycleAssignment | None) -> None:
        self.plan = plan
        self.counter = StreamedCycles() if plan is None else None
        self.rows = 0
        self.chunks = 0
        self.first_cycle: int | None = None
        self.last_cycle: int | None = None
        # The file's span, for stitching several files of one cell (process_cell).
        self.time_first: float | None = None
        self.time_last: float | None = None
        self.clock_start: float | None = None
        #: A grown file: the cycle of its last stored row, as numbered now.
        self.boundary_cycle: int | None = None
        #: The instrument's counter at the first and last rows that have one.
        self.first_count: int | None = None
        self.last_count: int | None = None

    def number(self, chunk: pd.DataFrame, label: str) -> np.ndarray:
        n = len(chunk)
        if self.plan is not None:
            if self.rows + n > self.plan.cycle_index.size:
                raise CorruptFile(label, "the file grew while it was read; it will be read again")
            cycles = self.plan.cycle_index[self.rows : self.rows + n]
        else:
            assert self.counter is not None
            cycles = self.counter.assign(
                chunk["current_ampere"].to_numpy(dtype=np.float64, na_value=np.nan),
                chunk["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan),
            )
        if n:
            self.first_cycle = int(cycles[0]) if self.first_cycle is None else self.first_cycle
            self.last_cycle = max(int(cycles.max()), self.last_cycle or 0)
            self._span(chunk)
        self.rows += n
        self.chunks += 1
        return cycles

    def _span(self, chunk: pd.DataFrame) -> None:
        if "cycle_count" in chunk:
            counts = chunk["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan)
            known = np.flatnonzero(np.isfinite(counts))
            if known.size:
                if self.first_count is None:
                    self.first_count = int(counts[known[0]])
                self.last_count = int(counts[known[-1]])
        times = chunk["test_time_second"].to_numpy(dtype=np.float64, na_value=np.nan)
        if self.time_first is None and np.isfinite(times[0]):
            self.time_first = float(times[0])
        if np.isfinite(times[-1]):
            self.time_last = float(times[-1])
        if self.clock_start is None and "unix_time_second" in chunk:
            offsets = chunk["unix_time_second"].to_numpy(dtype=np.float64, na_value=np.nan) - times
            clocked = np.flatnonzero(np.isfinite(offsets))
            if clocked.size:
                self.clock_start = float(offsets[clocked[0]])

    def finish(self) -> str:
        if self.plan is not None:
            return self.plan.rule.value
        assert self.counter is not None
        return self.counter.finish().value


def _gathering(file_id: int, *, max_open_rows: int, starts_at_file_start: bool = True) -> _Gathered:
    """Per-cycle statistics and curves gathered from a stream of rows: curves spooled as they are made."""
    curves = CurveSpool(file_id, PROCESSOR_VERSION)
    stats = StreamedCycleStats(
        max_open_rows=max_open_rows, starts_at_file_start=starts_at_file_start, on_curves=curves.add
    )
    return _Gathered(stats, curves)


@dataclass(frozen=True)
class _Gathered:
    stats: StreamedCycleStats
    curves: CurveSpool


def _store_file_cycle_stats(conn: Connection, file_id: int, gathered: _Gathered, label: str) -> None:
    """The file's per-cycle statistics and curves, as gathered while it streamed in (nothing when the
    gathering gave up: the processor then recomputes them from the stored rows)."""
    streamed_stats, curves = gathered.stats, gathered.curves
    stats = streamed_stats.result()  # hands the last cycles' curves to the spool too
    if stats is None:
        log.info("%s: cycle stats left to the processor (%s)", label, streamed_stats.given_up)
        curves.discard()
        return
    db.copy_frame(
        conn,
        "blc.file_cycle_stats",
        stats,
        ["file_id", *CYCLE_STATS_COLUMNS, "processor_version"],
        constants={"file_id": file_id, "processor_version": PROCESSOR_VERSION},
    )
    curves.copy_into(conn)


def _vendor_summary(path: Path, format_name: str) -> companions.VendorSummary | None:
    """The vendor's per-cycle summary beside the file. Only a cross-check: an unreadable one is logged and
    left out, it never holds the time series back."""
    try:
        return companions.summary_beside(path, format_name)
    except CorruptFile as exc:
        log.warning("%s: vendor cycle summary left out: %s", path.name, exc)
        return None


def _store_vendor_summary(
    conn: Connection, file_id: int, summary: companions.VendorSummary, has_counter: bool
) -> None:
    """Store the vendor's cycles, each on our cycle where its cycle_count first appears in the samples just
    loaded (a file without a counter: the vendor's number is taken as ours)."""
    frame = summary.frame.copy()
    if has_counter:
        first: dict[int, int] = dict(
            conn.execute(
                sa.text(
                    "select cycle_count, min(cycle_index) from blc.timeseries"
                    " where file_id = :file and cycle_count is not null group by cycle_count"
                ),
                {"file": file_id},
            ).all()
        )
        frame["cycle_index"] = frame["cycle_count"].map(first).astype("Int64")
    else:
        frame["cycle_index"] = frame["cycle_count"].astype("Int64")
    db.copy_frame(
        conn,
        "blc.vendor_cycle_summary",
        frame,
        ["file_id", "source_name", *companions.SUMMARY_COLUMNS, "cycle_index"],
        constants={"file_id": file_id, "source_name": summary.source},
    )


def _mark_gone(engine: Engine, uri: str) -> None:
    """A file offered by the watcher and removed (or renamed) before its ingest began: its ledger row says
    so instead of waiting as `stable` for ever."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "update blc.source_file set status = 'failed', updated_at = now(),"
                " error = :error where uri = :uri and status = 'stable'"
            ),
            {"uri": uri, "error": f"{PurePosixPath(uri).name}: the file was gone before it could be read"},
        )


def _mark_failed(engine: Engine, file_id: int, exc: Exception) -> None:
    with engine.begin() as conn:
        ledger.update(conn, file_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])


def _assign_cycles(stream: StreamedRead) -> CycleAssignment:
    """A first pass over the current (and the counter, if any) alone: files without a cycle counter, and
    files whose counter turned out stuck."""
    has_counter = "cycle_count" in stream.columns
    currents: list[np.ndarray] = []
    counters: list[np.ndarray] = []
    for chunk in stream.chunks(["current_ampere", "cycle_count"] if has_counter else ["current_ampere"]):
        currents.append(chunk["current_ampere"].to_numpy(dtype=np.float32, na_value=np.nan))
        if has_counter:
            counters.append(chunk["cycle_count"].to_numpy(dtype=np.float64, na_value=np.nan))
    return assign_cycles(np.concatenate(currents), np.concatenate(counters) if has_counter else None)


def _numbered_chunks(
    stream: StreamedRead,
    numbering: _Numbering,
    label: str,
    validator: ChunkValidator,
    streamed_stats: StreamedCycleStats,
    *,
    keep_from_row: int = 0,
    stats_from_cycle: int | None = None,
) -> Iterator[pd.DataFrame]:
    """The file's chunks with their cycle numbers and record indexes, each handed to the validator and to
    the per-cycle statistics before COPY takes it. A grown file's stored rows (before `keep_from_row`) are
    numbered but not yielded: only those of cycles from `stats_from_cycle` on reach the statistics, and the
    validator resumes after the last of them."""
    for chunk in stream.chunks(None):
        offset, n = numbering.rows, len(chunk)
        chunk["cycle_index"] = numbering.number(chunk, label)
        if "record_index" not in chunk:
            chunk["record_index"] = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
        elif chunk["record_index"].isna().any():
            position = pd.Series(np.arange(offset + 1, offset + n + 1), dtype="Int64")
            chunk["record_index"] = chunk["record_index"].fillna(position)
        sample_columns = [c for c in _SAMPLE_COLUMNS if c in chunk.columns]
        if offset < keep_from_row:
            kept = keep_from_row - offset  # rows of this chunk already stored
            stored = chunk.iloc[: min(kept, n)]
            if stats_from_cycle is not None:
                streamed_stats.add(stored.loc[stored["cycle_index"] >= stats_from_cycle, sample_columns])
            numbering.boundary_cycle = int(stored["cycle_index"].iloc[-1])
            if kept >= n:
                continue
            validator.resume_after(stored)
            chunk = chunk.iloc[kept:].reset_index(drop=True)
        validator.add(chunk)
        streamed_stats.add(chunk[sample_columns])
        if numbering.chunks % TRIM_EVERY_CHUNKS == 0:
            tuning.trim_heap()
        yield chunk
        if numbering.chunks == 1:
            failpoints.reach("mid_copy")
    if numbering.plan is not None and numbering.rows != numbering.plan.cycle_index.size:
        raise CorruptFile(
            label,
            f"the file changed while it was read ({numbering.plan.cycle_index.size} rows,"
            f" then {numbering.rows})",
        )


def _quarantine(
    engine: Engine, uri: str, label: str, file_id: int, exc: Exception, started: float
) -> IngestOutcome:
    report = getattr(exc, "report", None)
    if report is not None:
        stage, suite, failed = "canonical", report.suite, [f.as_dict() for f in report.failed]
        evaluated = report.evaluated
    else:
        stage, suite, evaluated = "parse", "connector", None
        failed = [
            {
                "rule": getattr(exc, "detail", str(exc)),
                "line": getattr(exc, "line", None),
                "error": type(exc).__name__,
            }
        ]
    reason = str(exc) if str(exc).startswith(label) else f"{label}: {exc}"
    with engine.begin() as conn:
        ledger.update(conn, file_id, status="quarantined", error=reason)
        _record_validation(conn, file_id, stage, suite, success=False, failed=failed, evaluated=evaluated)
    log.info("quarantined %s", reason)  # the CLI prints it, the Airflow task fails with it
    return IngestOutcome(
        uri, label, "quarantined", file_id, reason=reason, seconds=time.monotonic() - started
    )


def _record_validation(
    conn: Connection,
    file_id: int,
    stage: str,
    suite: str,
    *,
    success: bool,
    failed: list[dict[str, Any]],
    evaluated: int | None = None,
) -> None:
    conn.execute(
        sa.text(
            "insert into blc.validation_result"
            " (file_id, stage, suite, success, evaluated, failed_expectations)"
            " values (:file_id, :stage, :suite, :success, :evaluated, cast(:failed as jsonb))"
        ),
        {
            "file_id": file_id,
            "stage": stage,
            "suite": suite,
            "success": success,
            "evaluated": evaluated,
            "failed": json.dumps(failed, default=str),
        },
    )


def _ensure_project(conn: Connection, name: str) -> int:
    conn.execute(
        sa.text("insert into blc.project (name) values (:n) on conflict (name) do nothing"), {"n": name}
    )
    return int(
        conn.execute(sa.text("select project_id from blc.project where name = :n"), {"n": name}).scalar_one()
    )


def _ensure_cell(
    conn: Connection, cell_id: str, project_id: int, format_name: str, file_metadata: Mapping[str, Any]
) -> None:
    metadata = {k: v for k, v in file_metadata.items() if isinstance(v, str | int | float | bool)}
    conn.execute(
        sa.text(
            "insert into blc.cell (cell_id, project_id, nominal_capacity_ah, tester, chemistry, anode,"
            " cathode, form_factor, source, temperature_celsius, half_cell, metadata)"
            " values (:cell, :project, :nominal, :tester, :chemistry, :anode, :cathode, :form_factor,"
            " :source, :temperature_celsius, :half_cell, cast(:metadata as jsonb))"
            " on conflict (cell_id) do update set metadata = blc.cell.metadata || excluded.metadata,"
            " nominal_capacity_ah = coalesce(excluded.nominal_capacity_ah, blc.cell.nominal_capacity_ah),"
            " chemistry = coalesce(excluded.chemistry, blc.cell.chemistry),"
            " anode = coalesce(excluded.anode, blc.cell.anode),"
            " cathode = coalesce(excluded.cathode, blc.cell.cathode),"
            " form_factor = coalesce(excluded.form_factor, blc.cell.form_factor),"
            " source = coalesce(excluded.source, blc.cell.source),"
            " temperature_celsius = coalesce(excluded.temperature_celsius, blc.cell.temperature_celsius),"
            " half_cell = coalesce(excluded.half_cell, blc.cell.half_cell)"
        ),
        {
            "cell": cell_id,
            "project": project_id,
            "nominal": file_metadata.get("nominal_capacity_ah"),
            "tester": format_name.split("_")[0],
            **{
                key: file_metadata.get(key)
                for key in ("chemistry", "anode", "cathode", "form_factor", "source", "temperature_celsius")
            },
            "half_cell": file_metadata.get("half_cell")
            if isinstance(file_metadata.get("half_cell"), bool)
            else None,
            "metadata": json.dumps(metadata, default=str),
        },
    )


def _append(
    engine: Engine,
    stream: StreamedRead,
    plan: CycleAssignment | None,
    grown: _Grown,
    target: _Target,
    settings: Settings,
    warm_up: threading.Thread,
    source: _Source,
) -> _Loaded:
    """Load only the rows a grown file added, in one transaction, and recompute only the cycles they touch
    (the old last cycle, perhaps unfinished then, and the new ones). The file is parsed whole, so cycle
    numbering is exactly that of a full load; rows already stored are neither validated nor written again.
    Raises _NotAnAppend (nothing written) when the result would differ from a full load: another format or
    cell, another cycle rule, or numbering that does not continue the stored rows. On success the new
    content's own ledger row (`target.file_id`, registered by publish_file) is folded into the stored
    version's: one row per URI, holding the new sha256."""
    from blc.validation import ChunkValidator

    if stream.format != grown.format or target.cell_id != grown.cell_id:
        raise _NotAnAppend(f"its format or cell changed ({stream.format}, {target.cell_id})")
    stored = {*stream.columns, "cycle_index", "record_index"}
    columns = ["cell_id", "file_id", *(c for c in TIMESERIES_COLUMNS if c in stored)]
    with engine.begin() as conn:
        conn.execute(
            sa.text("select 1 from blc.source_file where file_id = :file for update"), {"file": grown.file_id}
        )
        numbering = _Numbering(plan)
        gathered = _gathering(
            grown.file_id, max_open_rows=2 * settings.chunk_rows, starts_at_file_start=False
        )
        first_line = stream.first_data_line + grown.rows if stream.first_data_line is not None else None
        validator = ChunkValidator(
            CANONICAL_SUITE,
            expectations_dir=settings.expectations_dir,
            file_label=target.label,
            first_data_line=first_line,
            batch_rows=VALIDATION_BATCH_CHUNKS * settings.chunk_rows,
            warm_up_thread=warm_up,
        )
        chunks = _numbered_chunks(
            stream,
            numbering,
            target.label,
            validator,
            gathered.stats,
            keep_from_row=grown.rows,
            stats_from_cycle=grown.last_cycle_index,
        )
        rows = db.copy_frames(
            conn,
            "blc.timeseries",
            chunks,
            columns,
            constants={"cell_id": grown.cell_id, "file_id": grown.file_id},
        )
        if rows:  # bytes without rows (a blank line) leave nothing new to validate
            validator.finish()
        try:
            rule = numbering.finish()
        except CounterStuck:
            raise _NotAnAppend("its cycle counter now reads as stuck") from None
        if rule != grown.cycle_rule or numbering.boundary_cycle != grown.last_cycle_index:
            raise _NotAnAppend(f"its cycles are numbered differently now (rule {rule})")
        for table in ("blc.file_cycle_stats", "blc.file_curve"):
            conn.execute(
                sa.text(f"delete from {table} where file_id = :file and cycle_index >= :cycle"),
                {"file": grown.file_id, "cycle": grown.last_cycle_index},
            )
        _store_file_cycle_stats(conn, grown.file_id, gathered, target.label)
        conn.execute(sa.text("delete from blc.vendor_cycle_summary where file_id = :f"), {"f": grown.file_id})
        if target.summary is not None:
            _store_vendor_summary(conn, grown.file_id, target.summary, "cycle_count" in stream.columns)
        # The placeholder row holds the new sha256 (unique): it goes first, then the stored row takes it.
        conn.execute(sa.text("delete from blc.source_file where file_id = :id"), {"id": target.file_id})
        ledger.update(
            conn,
            grown.file_id,
            status="loaded",
            sha256=source.sha256,
            size_bytes=source.size_bytes,
            etag=source.etag,
            rows=grown.rows + rows,
            parser_version=stream.parser_version,
            last_cycle_index=numbering.last_cycle,
            last_cycle_count=numbering.last_count,
            test_time_last_second=numbering.time_last,
            error=None,
        )
        for warning in target.warnings:
            ledger.add_warning(conn, grown.file_id, warning)
        _record_validation(conn, grown.file_id, "canonical", CANONICAL_SUITE, success=True, failed=[])
    log.info("%s: grew by %d rows; cycles from %d on recomputed", target.label, rows, grown.last_cycle_index)
    return _Loaded(grown.file_id, rows, rule, ())


def _replace_rows(conn: Connection, file_ids: list[int]) -> list[str]:
    """Delete the time-series rows of these files; return the cells they belonged to."""
    cells = (
        conn.execute(
            sa.text(
                "select distinct cell_id from blc.source_file"
                " where file_id = any(:ids) and cell_id is not null"
            ),
            {"ids": file_ids},
        )
        .scalars()
        .all()
    )
    conn.execute(sa.text("delete from blc.timeseries where file_id = any(:ids)"), {"ids": file_ids})
    conn.execute(sa.text("delete from blc.file_cycle_stats where file_id = any(:ids)"), {"ids": file_ids})
    conn.execute(sa.text("delete from blc.file_curve where file_id = any(:ids)"), {"ids": file_ids})
    conn.execute(sa.text("delete from blc.vendor_cycle_summary where file_id = any(:ids)"), {"ids": file_ids})
    return list(cells)


# --- process --------------------------------------------------------------------------------------------

#: What the processor reads of blc.timeseries (and of each streamed chunk).
_SAMPLE_COLUMNS = ("cycle_index", "test_time_second", "current_ampere", "voltage_volt", *SAMPLE_EXTRAS)


def read_cell_samples(
    conn: Connection, cell_id: str, cycles: tuple[int, int] | None = None, file_id: int | None = None
) -> pd.DataFrame:
    """The cell's samples (of one file, of cycles ``lo..hi`` when given; cycle numbers as the file has
    them, before stitching), through binary COPY decoded with numpy. NULLs come back as NaN."""
    literal = cell_id.replace("'", "''")
    where = f"cell_id = '{literal}'"
    if file_id is not None:
        where += f" and file_id = {int(file_id)}"
    if cycles is not None:
        where += f" and cycle_index between {int(cycles[0])} and {int(cycles[1])}"
    selected = ", ".join(f"coalesce({c}::float8, 'NaN') as {c}" for c in _SAMPLE_COLUMNS)
    query = (
        f"select {selected} from blc.timeseries where {where}"
        " order by cycle_index, test_time_second, file_id, record_index"
    )
    frame = db.copy_query_float64(conn, query, _SAMPLE_COLUMNS)
    frame["cycle_index"] = frame["cycle_index"].astype(np.int64)
    return frame


def cycle_batches(conn: Connection, cell_id: str, batch_rows: int, file_id: int) -> list[tuple[int, int]]:
    """Ranges of the file's whole cycles holding about `batch_rows` samples each, from the ledger's cycle
    range (no scan of the samples)."""
    row = conn.execute(
        sa.text(
            "select first_cycle_index as lo, last_cycle_index as hi, rows as n,"
            " (first_cycle_index is null)::int as unknown"
            " from blc.source_file where file_id = :file"
        ),
        {"file": file_id},
    ).one()
    if not row.unknown and row.lo is None:  # no loaded file: no rows
        return []
    if row.unknown:  # rows loaded before the ledger kept cycle ranges
        row = conn.execute(
            sa.text(
                "select min(cycle_index) as lo, max(cycle_index) as hi, count(*) as n"
                " from blc.timeseries where file_id = :file"
            ),
            {"file": file_id},
        ).one()
        if row.lo is None:
            return []
    lo, hi, n = int(row.lo), int(row.hi), int(row.n or 0)
    rows_per_cycle = max(1.0, n / (hi - lo + 1))
    step = max(1, int(batch_rows / rows_per_cycle))
    return [(start, min(start + step - 1, hi)) for start in range(lo, hi + 1, step)]


def _file_stats_from_rows(conn: Connection, cell_id: str, batch_rows: int, file_id: int) -> _Gathered:
    """The file's statistics and curves from its stored rows, read in batches of whole cycles (flat memory)
    and gathered exactly as when the file streamed in."""
    gathered = _gathering(file_id, max_open_rows=1 << 62)
    for cycles in cycle_batches(conn, cell_id, batch_rows, file_id):
        gathered.stats.add(read_cell_samples(conn, cell_id, cycles, file_id=file_id))
    return gathered


def _refresh_file_stats(conn: Connection, cell_id: str, batch_rows: int, recompute: bool) -> int:
    """Recompute, from stored samples, the per-file statistics that are missing or of another processor
    version (all of them when `recompute`); return how many files were recomputed."""
    stale = (
        conn.execute(
            sa.text(
                "select file_id from blc.source_file as f"
                " where f.cell_id = :cell and f.status in ('loaded', 'processed')"
                " and (:all or not exists (select 1 from blc.file_cycle_stats as s"
                "  where s.file_id = f.file_id and s.processor_version = :version))"
                " order by file_id"
            ),
            {"cell": cell_id, "all": recompute, "version": PROCESSOR_VERSION},
        )
        .scalars()
        .all()
    )
    for file_id in stale:
        for table in ("blc.file_cycle_stats", "blc.file_curve"):
            conn.execute(sa.text(f"delete from {table} where file_id = :file"), {"file": file_id})
        gathered = _file_stats_from_rows(conn, cell_id, batch_rows, int(file_id))
        _store_file_cycle_stats(conn, int(file_id), gathered, f"file {file_id}")
    return len(stale)


def stitch_cell(conn: Connection, cell_id: str) -> None:
    """Order the cell's loaded files and store the offsets that make them one continuous test.

    Order: by the wall-clock time of each file's first row when every file has a clock, else by file name
    in natural order (``run_2`` before ``run_10``), then by ledger id. Cycle numbers continue: a file's
    cycles follow all cycles of the files before it. A file that resumes the previous one's last cycle (its
    first counter value is the one the previous file ended with, and its test time continues, or the counter
    is past 1) starts on that cycle: the two parts are one cycle, merged by `_merge_split_cycles`.
    Test time: a test time that already continues across files (a resumed Arbin test) is kept as it is.
    One that restarts is placed at its clock time since the first file's start when both have clocks (a
    gap between files stays a gap), else right after the previous file's last sample."""
    files = conn.execute(
        sa.text(
            "select file_id, uri, last_cycle_index, clock_start_unix_second as clock,"
            " test_time_first_second as first, test_time_last_second as last, cycle_rule,"
            " first_cycle_count, last_cycle_count from blc.source_file"
            " where cell_id = :cell and status in ('loaded', 'processed')"
        ),
        {"cell": cell_id},
    ).all()
    if all(f.clock is not None and f.first is not None for f in files):
        ordered = sorted(files, key=lambda f: (f.clock + f.first, f.file_id))
    else:
        ordered = sorted(files, key=lambda f: (_natural_key(Path(f.uri).name), f.file_id))
    cycle_offset, time_offset = 0, 0.0
    previous = None
    for position, file in enumerate(ordered):
        if previous is not None:
            restarts = file.first is not None and previous.last is not None and file.first < previous.last
            cycle_offset += int(previous.last_cycle_index or 0) - (
                1 if _resumes(previous, file, restarts) else 0
            )
            if restarts and file.clock is not None and ordered[0].clock is not None:
                time_offset = float(file.clock - ordered[0].clock)
            elif restarts:
                time_offset = float(previous.last + time_offset - file.first)
        conn.execute(
            sa.text(
                "update blc.source_file set stitch_position = :position, cycle_offset = :cycles,"
                " test_time_offset_second = :seconds where file_id = :file"
            ),
            {"position": position, "cycles": cycle_offset, "seconds": time_offset, "file": file.file_id},
        )
        previous = file


def _merge_split_cycles(conn: Connection, cell_id: str) -> None:
    """A cycle split between two files (stitching put both parts on one cycle number) is computed again from
    both files' samples, as one cycle, in place of the two partial rows of assembled_cycle_stats."""
    split = (
        conn.execute(
            sa.text("select cycle_index from assembled_cycle_stats group by cycle_index having count(*) > 1")
        )
        .scalars()
        .all()
    )
    if not split:
        return
    files = conn.execute(
        sa.text(
            "select file_id, coalesce(cycle_offset, 0) as cycles,"
            " coalesce(test_time_offset_second, 0) as seconds from blc.source_file"
            " where cell_id = :cell and status in ('loaded', 'processed')"
        ),
        {"cell": cell_id},
    ).all()
    last_cycle = conn.execute(sa.text("select max(cycle_index) from assembled_cycle_stats")).scalar()
    for cycle in split:
        parts = []
        for file in files:
            local = int(cycle) - int(file.cycles)
            samples = read_cell_samples(conn, cell_id, (local, local), file_id=int(file.file_id))
            if not samples.empty:
                samples["test_time_second"] += float(file.seconds)
                parts.append(samples.assign(cycle_index=int(cycle)))
        if not parts:  # statistics without samples cannot be merged: keep the first part's row
            log.warning("cell %s: cycle %s is split between files but has no stored samples", cell_id, cycle)
            conn.execute(
                sa.text(
                    "delete from assembled_cycle_stats as later using assembled_cycle_stats as earlier"
                    " where later.cycle_index = :c and earlier.cycle_index = :c and later.ctid > earlier.ctid"
                ),
                {"c": int(cycle)},
            )
            continue
        merged = compute_cycle_stats(
            pd.concat(parts, ignore_index=True), holds_first_cycle=False, holds_last_cycle=cycle == last_cycle
        )
        merged.insert(0, "cell_id", cell_id)
        merged["processor_version"] = PROCESSOR_VERSION
        conn.execute(sa.text("delete from assembled_cycle_stats where cycle_index = :c"), {"c": int(cycle)})
        db.copy_frame(
            conn, "assembled_cycle_stats", merged, ["cell_id", *CYCLE_STATS_COLUMNS, "processor_version"]
        )


def _resumes(previous: Any, file: Any, restarts: bool) -> bool:
    """`file` continues `previous`'s last cycle: both follow the instrument's counter, which goes on with
    the same value, and either the test time goes on too or the counter is well into the test (> 1)."""
    counter_rule = CycleRule.INSTRUMENT_COUNTER.value
    return (
        previous.cycle_rule == counter_rule
        and file.cycle_rule == counter_rule
        and previous.last_cycle_count is not None
        and previous.last_cycle_count == file.first_cycle_count
        and (not restarts or previous.last_cycle_count > 1)
    )


def _natural_key(name: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def process_cell(
    cell_id: str, *, settings: Settings | None = None, recompute: bool = False
) -> ProcessOutcome:
    """Recompute the cell's cycle statistics, capacity fade and summary.

    Each file's per-cycle statistics are taken as stored while it streamed in, when they are of the current
    `PROCESSOR_VERSION`; otherwise (a bumped version, a file whose streamed statistics gave up, or
    `recompute`) they are recomputed from its stored samples and stored again: no raw file is read. The
    cell's cycle_stats are then the files' statistics in stitch order (sql/processors)."""
    started = time.monotonic()
    settings = settings or get_settings()
    engine = engine_for(settings)
    with engine.begin() as conn:
        # One writer per cell at a time: mapped tasks of several files of one cell would otherwise race.
        conn.execute(sa.text("select pg_advisory_xact_lock(hashtext(:cell))"), {"cell": cell_id})
        formation = _formation_cycles(conn, cell_id)
        binds = {"cell_id": cell_id, "formation_cycles": formation, "processor_version": PROCESSOR_VERSION}
        stitch_cell(conn, cell_id)
        recomputed = _refresh_file_stats(conn, cell_id, settings.chunk_rows, recompute)
        conn.execute(sa.text(db.load_sql("processors/cycle_stats_assemble", settings.sql_dir)), binds)
        _merge_split_cycles(conn, cell_id)
        conn.execute(sa.text(db.load_sql("processors/cycle_stats_apply", settings.sql_dir)), binds)
        cycles, complete = conn.execute(
            sa.text(
                "select count(*), count(*) filter (where complete) from blc.cycle_stats where cell_id = :c"
            ),
            {"c": cell_id},
        ).one()
        refresh_fade(conn, cell_id, settings=settings, formation_cycles=formation)
        failpoints.reach("mid_process")
        conn.execute(
            sa.text(
                "update blc.source_file set status = 'processed', updated_at = now()"
                " where cell_id = :cell_id and status = 'loaded'"
            ),
            binds,
        )
    if recomputed:
        log.info("cell %s: statistics of %d file(s) recomputed from stored samples", cell_id, recomputed)
    outcome = ProcessOutcome(
        cell_id,
        int(cycles),
        int(complete),
        PROCESSOR_VERSION,
        time.monotonic() - started,
    )
    log.info(
        "cell %s: %d cycles (%d complete) in %.2fs",
        cell_id,
        outcome.cycles,
        outcome.complete_cycles,
        outcome.seconds,
    )
    return outcome


def refresh_fade(
    conn: Connection, cell_id: str, *, settings: Settings, formation_cycles: int | None = None
) -> None:
    """Rebuild the cell's capacity_fade and cell_summary rows from its cycle_stats (sql/processors)."""
    formation = _formation_cycles(conn, cell_id) if formation_cycles is None else formation_cycles
    binds = {"cell_id": cell_id, "formation_cycles": formation, "processor_version": PROCESSOR_VERSION}
    for table in ("blc.cell_summary", "blc.capacity_fade"):
        conn.execute(sa.text(f"delete from {table} where cell_id = :cell_id"), binds)
    for step in ("cycle_cumulative", "capacity_fade", "cell_summary"):
        conn.execute(sa.text(db.load_sql(f"processors/{step}", settings.sql_dir)), binds)
    _store_fade_fits(conn, cell_id)


def _store_fade_fits(conn: Connection, cell_id: str) -> None:
    """What the fade needs a fit or a robust filter for (processors/fade.py): the knee onset into the cell's
    summary, the coulombic-inefficiency trend (moving median over complete cycles) into its fade rows."""
    rows = conn.execute(
        sa.text(
            "select cycle_index, retention, coulombic_inefficiency from blc.capacity_fade"
            " where cell_id = :cell and complete order by cycle_index"
        ),
        {"cell": cell_id},
    ).all()
    curve = [(row[0], row[1]) for row in rows if row[1] is not None]
    knee = knee_onset([c for c, _ in curve], [r for _, r in curve]) if curve else None
    conn.execute(
        sa.text(
            "update blc.cell_summary set knee_onset_cycle = :cycle, knee_onset_retention = :retention"
            " where cell_id = :cell"
        ),
        {
            "cell": cell_id,
            "cycle": knee.cycle if knee else None,
            "retention": knee.retention if knee else None,
        },
    )
    with_ce = [(row[0], row[2]) for row in rows if row[2] is not None]
    if not with_ce:
        return
    trend = moving_median([value for _, value in with_ce])
    conn.execute(
        sa.text(
            "update blc.capacity_fade as fade set coulombic_inefficiency_smoothed = trend.value"
            " from unnest(cast(:cycles as integer[]), cast(:values as double precision[]))"
            " as trend (cycle_index, value)"
            " where fade.cell_id = :cell and fade.cycle_index = trend.cycle_index"
        ),
        {"cell": cell_id, "cycles": [c for c, _ in with_ce], "values": [float(v) for v in trend]},
    )


def _formation_cycles(conn: Connection, cell_id: str) -> int:
    value = conn.execute(
        sa.text("select metadata ->> 'formation_cycles' from blc.cell where cell_id = :cell"),
        {"cell": cell_id},
    ).scalar()
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def ingest(uri: str, **kwargs: Any) -> tuple[IngestOutcome, list[ProcessOutcome]]:
    """publish_file, then process_cell for every cell it touched (the CLI's one-shot path), before the
    file's locks are let go."""
    settings = kwargs.pop("settings", None) or get_settings()
    processed: list[ProcessOutcome] = []

    def process(outcome: IngestOutcome) -> None:
        processed.extend(process_cell(c, settings=settings) for c in outcome.cells_to_process)

    outcome = publish_file(uri, settings=settings, on_loaded=process, **kwargs)
    return outcome, processed


# --- refresh --------------------------------------------------------------------------------------------


def refresh_dashboards(
    changed_tables: set[str], *, cells: list[str] | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Refresh the Redash queries reading `changed_tables`; per-cell queries run for the touched `cells`."""
    settings = settings or get_settings()
    if not settings.redash_url:
        log.info("BLC_REDASH_URL is not set: Redash refresh skipped")
        return []
    if not changed_tables:
        log.info("nothing changed: no Redash query to refresh")
        return []
    from blc.redash import refresh_touched_queries

    outcomes = refresh_touched_queries(
        changed_tables,
        base_url=settings.redash_url,
        api_key=settings.redash_api_key or "",
        queries_dir=settings.redash_dir / "queries",
        parameter_values={"cell_id": sorted(cells)} if cells else None,
    )
    for outcome in outcomes:
        log.info("Redash query %s: %s", outcome.name, outcome.status)
    return [o.as_dict() for o in outcomes]


# --- read side (CLI, demo) ------------------------------------------------------------------------------


def cell_overview(engine: Engine) -> pd.DataFrame:
    query = """
        select c.cell_id, p.name as project, c.half_cell, s.cycles, s.complete_cycles,
               s.first_discharge_capacity_ah, s.last_discharge_capacity_ah, s.reference_capacity_ah,
               s.nominal_capacity_ah, s.last_retention, s.last_energy_retention, s.fade_per_100_cycles,
               s.cycles_to_80, s.cycles_to_70, s.projected_cycles_to_80, s.projected_cycles_to_70,
               s.knee_onset_cycle, s.knee_onset_retention, s.coulombic_inefficiency_recent,
               s.throughput_ah, s.equivalent_full_cycles, s.capacity_basis,
               (select count(*) from blc.source_file f where f.cell_id = c.cell_id
                  and f.status in ('loaded', 'processed')) as files
        from blc.cell as c
        join blc.project as p using (project_id)
        left join blc.cell_summary as s using (cell_id)
        order by c.cell_id
    """
    with engine.connect() as conn:
        return pd.read_sql(sa.text(query), conn)


def unknown_cells(engine: Engine, cell_ids: list[str]) -> list[str]:
    """Those of `cell_ids` the database has no cell for, in the order given."""
    with engine.connect() as conn:
        known = set(
            conn.execute(
                sa.text("select cell_id from blc.cell where cell_id = any(:ids)"), {"ids": cell_ids}
            ).scalars()
        )
    return [cell for cell in dict.fromkeys(cell_ids) if cell not in known]


def cells_to_reprocess(engine: Engine, *, every: bool = False) -> list[str]:
    """Cells with loaded files: all of them, or those whose statistics (per file, per cycle or summary)
    are missing or of another processor version."""
    query = """
        select distinct f.cell_id from blc.source_file as f
        where f.cell_id is not null and f.status in ('loaded', 'processed')
          and (:every
               or not exists (select 1 from blc.file_cycle_stats as s
                              where s.file_id = f.file_id and s.processor_version = :version)
               or exists (select 1 from blc.cycle_stats as c
                          where c.cell_id = f.cell_id and c.processor_version <> :version)
               or not exists (select 1 from blc.cell_summary as s
                              where s.cell_id = f.cell_id and s.processor_version = :version))
        order by f.cell_id
    """
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query), {"every": every, "version": PROCESSOR_VERSION}).scalars().all()
    return [str(cell) for cell in rows]


def cycle_table(engine: Engine, cell_id: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            sa.text(
                "select stats.*, vendor.charge_capacity_ah as vendor_charge_capacity_ah,"
                " vendor.discharge_capacity_ah as vendor_discharge_capacity_ah,"
                " vendor.charge_energy_wh as vendor_charge_energy_wh,"
                " vendor.discharge_energy_wh as vendor_discharge_energy_wh,"
                " vendor.source_name as vendor_summary"
                " from blc.cycle_stats as stats"
                " left join (select distinct on (cycle_index) * from blc.cell_vendor_cycle_summary"
                "  where cell_id = :c order by cycle_index, cycle_count) as vendor using (cycle_index)"
                " where stats.cell_id = :c order by cycle_index"
            ),
            conn,
            params={"c": cell_id},
        )


def fade_table(engine: Engine, cell_id: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            sa.text("select * from blc.capacity_fade where cell_id = :c order by cycle_index"),
            conn,
            params={"c": cell_id},
        )
