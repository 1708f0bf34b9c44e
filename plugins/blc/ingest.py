"""Ingest one file: fetch → lock → ledger → read (connector) → number → validate → load, or quarantine.
The Airflow task and `blc ingest` both call `publish_file`; `ingest` adds the processing of the cell."""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from blc import db, failpoints, ledger, tuning
from blc.catalog import record_validation, vendor_summary_beside
from blc.db import engine_for
from blc.errors import ConnectorError, UnreadableFile, is_infrastructure
from blc.load import Grown, NotAnAppend, Source, Target, grown_version, load
from blc.numbering import assign_file_cycles
from blc.process import ProcessOutcome, process_cell
from blc.quarantine_report import write_report
from blc.settings import Settings, get_settings
from blc.signs import checked_signs
from blc.validation import CANONICAL_SUITE, METADATA_SUITE
from connectors import registry, share, sidecars
from processors.cycles import CounterStuck
from processors.signs import SignAction

log = logging.getLogger(__name__)


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


class Quarantined(Exception):
    """Raised by callers that want an exception (Airflow) rather than an outcome."""

    def __init__(self, outcome: IngestOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def fetch(uri: str) -> Path:
    """A local path for the URI (share files are read in place)."""
    if uri.startswith(("file:", "/")):
        path = share.path_from_uri(uri) if uri.startswith("file:") else Path(uri)
        if not path.is_file():
            raise FileNotFoundError(f"{uri}: no such file")
        return path
    raise ValueError(f"{uri}: unsupported URI scheme (expected file:// or s3://)")


def default_cell_id(path: Path) -> str:
    """The file name without its extension: the last resort after --cell-id and the file's metadata."""
    return path.stem


def project_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", raw.strip().lower()).strip("_")
    if not name:
        raise ValueError(f"project name {raw!r} has no letters or digits")
    return name


def _project_of(label: str, given: str | None, metadata: Mapping[str, Any], settings: Settings) -> str:
    """The project a file's cell belongs to: the caller's, else its metadata's, else the default. A name
    from the metadata that is no name is the file's fault (quarantined), not the platform's."""
    try:
        return project_name(given or str(metadata.get("project") or settings.default_project))
    except ValueError as exc:
        raise ConnectorError(label, f"metadata: {exc}") from exc


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
    with _fetched(engine, uri, settings) as (path, s3_etag):
        uri = path.resolve().as_uri() if uri.startswith("/") else uri
        return _publish_fetched(
            engine,
            uri,
            path,
            s3_etag=s3_etag,
            cell_id=cell_id,
            project=project,
            format_name=format_name,
            force=force,
            settings=settings,
            on_loaded=on_loaded,
            started=started,
        )


@contextmanager
def _fetched(engine: Engine, uri: str, settings: Settings) -> Iterator[tuple[Path, str | None]]:
    """A local path for the URI while the ingest runs, and the S3 ETag of what was read (None for a share
    file): a share file in place, an S3 object (and its sidecars) in a private temporary folder. A file
    gone before it could be read is marked so."""
    try:
        if uri.startswith("s3://"):
            from blc import s3

            with tempfile.TemporaryDirectory(prefix="blc-s3-") as folder:
                got = s3.fetch_object(s3.client(settings.s3_conn_id), s3.S3Uri.parse(uri), Path(folder))
                yield got.path, got.etag
            return
        path = fetch(uri)
    except FileNotFoundError:
        _mark_gone(engine, uri)
        raise
    yield path, None


def _publish_fetched(
    engine: Engine,
    uri: str,
    path: Path,
    *,
    s3_etag: str | None,
    cell_id: str | None,
    project: str | None,
    format_name: str | None,
    force: bool,
    settings: Settings,
    on_loaded: Callable[[IngestOutcome], None] | None,
    started: float,
) -> IngestOutcome:
    sha = share.sha256_of(path)
    stat = path.stat()
    etag = s3_etag or share.FileCandidate(uri, path, stat.st_size, stat.st_mtime).etag
    with ledger.ingest_lock(engine, uri=uri, sha256=sha):
        with engine.begin() as conn:
            if s3_etag is not None:  # the watcher knows this version of the object from now on
                conn.execute(
                    sa.text(db.load_sql("ingest/record_s3_object")),
                    {"uri": uri, "etag": s3_etag, "sha256": sha, "size_bytes": stat.st_size},
                )
            known = ledger.by_sha256(conn, sha)
            settled = (
                None
                if known is None or force or _another_format(known, format_name)
                else _settled_outcome(known, uri, path.name, started)
            )
            if settled is not None:
                log.info("%s: %s", settled.file_label, settled.reason)
        if settled is not None:
            if settled.status == "loaded" and on_loaded is not None:
                on_loaded(settled)
            return settled
        with engine.begin() as conn:
            grown = None if force else grown_version(conn, uri, path, stat.st_size)
            # The new content's own row; a grown file's append folds it into the stored version's row.
            file_id = _register(conn, uri, sha, stat.st_size, etag)
        failpoints.reach("registered")
        with _complete_lines(path) as (read_path, warnings):
            outcome = _publish_registered(
                engine,
                Source(uri, path, read_path, sha, stat.st_size, etag, warnings),
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


def _another_format(known: ledger.LedgerEntry, format_name: str | None) -> bool:
    """A quarantined content asked for again with `--format` other than the one it was read as (or with a
    format where it was refused before any format took it): a new attempt, not "nothing to do"."""
    return known.status == "quarantined" and format_name is not None and format_name != known.format


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


@contextmanager
def _complete_lines(path: Path) -> Iterator[tuple[Path, tuple[str, ...]]]:
    """The path to read and the warnings to record. UTF-16 text (Excel's "Unicode text" export, starting
    with its byte-order mark) is read from a UTF-8 copy. A text file whose last line has no line end may
    still be being written (a writer paused mid-row cuts a field in two, and the field count can still
    match): that line is never published. The complete lines are read from a temporary copy of the same
    name."""
    with tempfile.TemporaryDirectory(prefix="blc-read-") as folder:
        text = _utf8_copy(path, Path(folder) / "utf8") or path
        complete = share.complete_lines_size(text)
        if complete is None:
            yield text, ()
            return
        copy = Path(folder) / path.name
        line_ends = 0
        with text.open("rb") as source, copy.open("wb") as target:
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


#: Byte-order marks of UTF-16 text, little- and big-endian.
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _utf8_copy(path: Path, folder: Path) -> Path | None:
    """A UTF-8 copy (same name, in `folder`) of a UTF-16 text file with a byte-order mark; None for any other
    file. Bytes that are not UTF-16 become U+FFFD, which the connector then refuses by line."""
    with path.open("rb") as handle:
        if handle.read(2) not in _UTF16_BOMS or handle.read(2)[:2] == b"\x00\x00":  # UTF-32's BOM
            return None
    folder.mkdir()
    copy = folder / path.name
    with (
        path.open("r", encoding="utf-16", errors="replace", newline="") as source,
        copy.open("w", encoding="utf-8", newline="") as target,
    ):
        while block := source.read(1 << 20):
            target.write(block)
    return copy


def _publish_registered(
    engine: Engine,
    source: Source,
    file_id: int,
    grown: Grown | None,
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
        # Before anything counts cycles or writes a row: is positive current really charge here?
        stream, signs = checked_signs(stream, label)
        if grown is not None and signs.action is not SignAction.KEEP:
            grown = None  # its stored rows may have been read otherwise: the file is loaded whole
        plan = None if "cycle_count" in stream.columns else assign_file_cycles(stream)
        summary = vendor_summary_beside(path, stream.format)
        cell = cell_id or str(stream.metadata.get("cell_id") or default_cell_id(path))
        target = Target(
            file_id=file_id,
            uri=uri,
            label=label,
            cell_id=cell,
            project=_project_of(label, project, stream.metadata, settings),
            summary=summary,
            warnings=source.warnings,
        )
    except Exception as exc:
        return _refused(engine, source, file_id, exc, started, format_name, settings, "reading")
    if stream.unmapped_columns:
        log.info(
            "%s: vendor columns not mapped to BDF (not stored): %s", label, ", ".join(stream.unmapped_columns)
        )
    try:
        loaded = None
        if grown is not None:
            try:
                loaded = load(engine, stream, plan, target, source, settings, warm_up, grown=grown)
            except NotAnAppend as exc:  # rolled back: load the whole file as a new version instead
                log.info("%s: grew, but %s; loading it whole", label, exc)
        if loaded is None:
            try:
                loaded = load(engine, stream, plan, target, source, settings, warm_up)
            except CounterStuck:  # rolled back; number the rows again, the transitions' boundaries added
                log.info("%s: the cycle counter is stuck; cycles by charge/discharge transitions too", label)
                loaded = load(engine, stream, assign_file_cycles(stream), target, source, settings, warm_up)
    except Exception as exc:  # the transaction rolled back: none of its rows, the earlier version's intact
        return _refused(engine, source, file_id, exc, started, stream.format, settings, "loading")

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


def _refused(
    engine: Engine,
    source: Source,
    file_id: int,
    exc: Exception,
    started: float,
    format_name: str | None,
    settings: Settings,
    doing: str,
) -> IngestOutcome:
    """What an error while reading or loading a file makes of it: the file's fault (a connector's or a
    suite's finding, or anything unexpected its content caused) is a quarantine, never a retry for ever; the
    platform's (database, network, disk) fails the task, raised again."""
    from blc.validation import ValidationFailed

    if not isinstance(exc, ConnectorError | ValidationFailed):
        if is_infrastructure(exc):
            _mark_failed(engine, file_id, exc)
            raise exc
        log.exception("%s: unexpected error while %s; the file is quarantined", source.label, doing)
        exc = UnreadableFile(source.label, exc)
    return _quarantine(
        engine, source.uri, source.label, file_id, exc, started, format_name, settings.reports_dir
    )


def _register(conn: Connection, uri: str, sha: str, size_bytes: int, etag: str) -> int:
    entry = ledger.register(conn, uri=uri, sha256=sha, size_bytes=size_bytes, etag=etag, status="stable")
    ledger.update(conn, entry.file_id, uri=uri, etag=etag)
    ledger.start_attempt(conn, entry.file_id)
    return entry.file_id


def _mark_gone(engine: Engine, uri: str) -> None:
    """A file offered by the watcher and removed (or renamed) before its ingest began: its ledger row says
    so instead of waiting as `stable` for ever."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(db.load_sql("ingest/mark_gone")),
            {"uri": uri, "error": f"{PurePosixPath(uri).name}: the file was gone before it could be read"},
        )


def _mark_failed(engine: Engine, file_id: int, exc: Exception) -> None:
    with engine.begin() as conn:
        ledger.update(conn, file_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])


def _quarantine(
    engine: Engine,
    uri: str,
    label: str,
    file_id: int,
    exc: Exception,
    started: float,
    format_name: str | None = None,
    reports: Path | None = None,
) -> IngestOutcome:
    """Quarantine the content with the reason; `format_name` is the format it was read as, when one took
    it (a later `--format` other than that one is a new attempt). With `reports`, a page naming every finding
    is written there (blc.quarantine_report)."""
    report = getattr(exc, "report", None)
    if report is not None:
        stage = "metadata" if report.suite == METADATA_SUITE else "canonical"
        suite, failed = report.suite, [f.as_dict() for f in report.failed]
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
    page = None
    if reports is not None:
        try:
            page = write_report(
                reports, file_id=file_id, uri=uri, reason=reason, stage=stage, suite=suite, findings=failed
            )
        except OSError as problem:  # the page is a help, never a reason to fail the quarantine
            log.warning("%s: the quarantine report could not be written: %s", label, problem)
    with engine.begin() as conn:
        ledger.update(conn, file_id, status="quarantined", error=reason, format=format_name)
        record_validation(
            conn,
            file_id,
            stage,
            suite,
            success=False,
            failed=failed,
            evaluated=evaluated,
            report_uri=None if page is None else page.as_uri(),
        )
    # the CLI prints the reason, the Airflow task fails with it
    log.info("quarantined %s%s", reason, "" if page is None else f" (report: {page})")
    return IngestOutcome(
        uri, label, "quarantined", file_id, reason=reason, seconds=time.monotonic() - started
    )


def ingest(uri: str, **kwargs: Any) -> tuple[IngestOutcome, list[ProcessOutcome]]:
    """publish_file, then process_cell for every cell it touched (the CLI's one-shot path), before the
    file's locks are let go."""
    settings = kwargs.pop("settings", None) or get_settings()
    processed: list[ProcessOutcome] = []

    def process(outcome: IngestOutcome) -> None:
        processed.extend(process_cell(c, settings=settings) for c in outcome.cells_to_process)

    outcome = publish_file(uri, settings=settings, on_loaded=process, **kwargs)
    return outcome, processed
