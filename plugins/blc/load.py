"""The load: one transaction that puts a file's rows into blc.timeseries, with its per-cycle statistics,
impedance spectra and ledger row. One path for new, replaced and grown files (`load`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from blc import db, ledger
from blc.catalog import ensure_cell, ensure_project, record_validation, store_vendor_summary
from blc.errors import is_infrastructure
from blc.file_stats import gathering, store_file_cycle_stats
from blc.impedance import ImpedanceSplit
from blc.numbering import VALIDATION_BATCH_CHUNKS, Numbering, numbered_chunks
from blc.settings import Settings
from blc.validation import (
    CANONICAL_SUITE,
    METADATA_SUITE,
    ValidationFailed,
    check_metadata,
    suite_parameters,
)
from blc.validation_report import FailedExpectation
from blc.voltage_window import voltage_window
from connectors import companions, share
from connectors.base import StreamedRead
from processors.cycles import CounterStuck, CycleAssignment, CycleRule

log = logging.getLogger(__name__)


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
    "instrument_stop",
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


@dataclass(frozen=True)
class Source:
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


@dataclass(frozen=True)
class Grown:
    """The loaded version of a URI whose bytes the new content starts with."""

    file_id: int
    size_bytes: int
    rows: int
    last_cycle_index: int
    cycle_rule: str
    cell_id: str
    format: str


class NotAnAppend(Exception):
    """The new content is not the old one plus rows: it is loaded whole instead."""


def grown_version(conn: Connection, uri: str, path: Path, size_bytes: int) -> Grown | None:
    """The loaded version of this URI that the file extends: same bytes up to its size, ending with a line
    break (so no row of it was cut), and more bytes after, its cycles numbered by the instrument's counter.
    None when there is none."""
    row = conn.execute(
        sa.text(db.load_sql("load/loaded_version_of_uri")),
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
    return Grown(
        int(row.file_id),
        int(row.size_bytes),
        int(row.rows),
        int(row.last_cycle_index),
        str(row.cycle_rule),
        str(row.cell_id),
        str(row.format),
    )


@dataclass(frozen=True)
class Target:
    file_id: int
    uri: str
    label: str
    cell_id: str
    project: str
    summary: companions.VendorSummary | None = None
    #: Recorded on the file's ledger row with the load (e.g. an unfinished last line left out).
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Loaded:
    file_id: int
    rows: int
    rule: str
    replaced_cells: tuple[str, ...]
    #: Impedance points stored in blc.impedance_spectrum (not among `rows`).
    impedance_points: int = 0


def load(
    engine: Engine,
    stream: StreamedRead,
    plan: CycleAssignment | None,
    target: Target,
    source: Source,
    settings: Settings,
    warm_up: threading.Thread,
    *,
    grown: Grown | None = None,
) -> Loaded:
    """The one load path, in one transaction: the file is parsed whole and numbered into cycles as it
    streams; its rows are validated and COPYed; its per-cycle statistics, vendor summary and ledger row are
    written; nothing is visible before the commit. Impedance (EIS) rows never become time-series rows: they
    are taken out before numbering, validation and statistics see the rows, and stored in
    blc.impedance_spectrum (the file's `rows` count the time-series rows only; a grown file's are stored
    again whole).

    - A new or replaced file (`grown` None): the rows of its URI's earlier versions are deleted first
      (they are superseded) and every row is written.
    - A grown file (`grown`: the stored version whose bytes it starts with): the stored rows are numbered
      but neither validated nor written again; only the cycles from the stored last one on (perhaps
      unfinished then) are recomputed, and the new content's own ledger row (`target.file_id`, registered
      by publish_file) is folded into the stored one: one row per URI. NotAnAppend (nothing written) when
      the result would differ from a full load: another format, cell or cycle rule, or numbering that does
      not continue the stored rows.

    May raise CounterStuck (a new file whose counter turned out stuck): the transaction rolls back."""
    from blc.validation import ChunkValidator

    if grown is not None and (stream.format != grown.format or target.cell_id != grown.cell_id):
        raise NotAnAppend(f"its format or cell changed ({stream.format}, {target.cell_id})")
    file_id = target.file_id if grown is None else grown.file_id
    kept_rows = 0 if grown is None else grown.rows
    stored = {*stream.columns, "cycle_index", "record_index"}
    columns = ["cell_id", "file_id", *(c for c in TIMESERIES_COLUMNS if c in stored)]
    impedance = ImpedanceSplit()
    with engine.begin() as conn:
        replaced_cells = _make_room(conn, stream, target, grown)
        numbering = Numbering(plan)
        gathered = gathering(
            file_id, max_open_rows=2 * settings.chunk_rows, starts_at_file_start=grown is None
        )
        first_line = stream.first_data_line + kept_rows if stream.first_data_line is not None else None
        validator = ChunkValidator(
            CANONICAL_SUITE,
            expectations_dir=settings.expectations_dir,
            file_label=target.label,
            first_data_line=first_line,
            batch_rows=VALIDATION_BATCH_CHUNKS * settings.chunk_rows,
            warm_up_thread=warm_up,
            window=voltage_window(stream.metadata),  # the file's chemistry × cells in series
            parameters=suite_parameters(stream.metadata),  # the current's warning bound, from its nominal
        )
        chunks = numbered_chunks(
            stream,
            numbering,
            target.label,
            validator,
            gathered.stats,
            keep_from_row=kept_rows,
            stats_from_cycle=None if grown is None else grown.last_cycle_index,
            impedance=impedance,
        )
        try:
            rows = db.copy_frames(
                conn,
                "blc.timeseries",
                chunks,
                columns,
                constants={"cell_id": target.cell_id, "file_id": file_id},
            )
            # Nothing to check: a grown file's new bytes without rows (a blank line), a file of sweeps only.
            if rows or (grown is None and not impedance.points):
                validator.finish()
        except ValidationFailed as exc:
            raise impedance.in_file_lines(exc, stream.first_data_line) from None
        except Exception as exc:
            # A row the database or a computation refused (a null, an overflow) usually broke a rule of the
            # suite too, which names the line: the rows read so far are validated for a better reason.
            if is_infrastructure(exc):
                raise
            try:
                validator.finish()
            except ValidationFailed as failed:
                raise impedance.in_file_lines(failed, stream.first_data_line) from exc
            except Exception:
                log.debug(
                    "%s: validating the rows read before the error failed too", target.label, exc_info=True
                )
            raise
        # The metadata suite runs here, not before the parse: Great Expectations finishes importing while the
        # rows stream in. An error rolls the load back like a row's.
        checked = check_metadata(
            stream.metadata, expectations_dir=settings.expectations_dir, file_label=target.label
        )
        rule = _cycle_rule(numbering, grown)
        points = impedance.store(conn, target.cell_id, file_id)
        store_file_cycle_stats(conn, file_id, gathered, target.label)
        if target.summary is not None:
            store_vendor_summary(conn, file_id, target.summary, "cycle_count" in stream.columns)
        if (
            grown is not None
        ):  # the placeholder holds the new sha256 (unique): it goes before the stored row takes it
            conn.execute(sa.text("delete from blc.source_file where file_id = :id"), {"id": target.file_id})
        ledger.update(
            conn,
            file_id,
            status="loaded",
            sha256=source.sha256,
            size_bytes=source.size_bytes,
            etag=source.etag,
            rows=kept_rows + rows,
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
        found = validator.warnings()
        rows_are_lines = first_line is not None
        for warning in (
            *target.warnings,
            *stream.warnings,
            *(f.describe(rows_are_lines=rows_are_lines) for f in found),
            *(_metadata_warning(f) for f in checked.warnings),
        ):
            ledger.add_warning(conn, file_id, warning)
        record_validation(
            conn, file_id, "canonical", CANONICAL_SUITE, success=True, failed=[f.as_dict() for f in found]
        )
        if checked.warnings:
            record_validation(
                conn,
                file_id,
                "metadata",
                METADATA_SUITE,
                success=True,
                failed=[f.as_dict() for f in checked.warnings],
            )
    if grown is not None:
        log.info(
            "%s: grew by %d rows; cycles from %d on recomputed", target.label, rows, grown.last_cycle_index
        )
    if points:
        log.info(
            "%s: %d impedance points in %d sweeps stored in blc.impedance_spectrum, apart from the time"
            " series (not counted in its rows)",
            target.label,
            points,
            impedance.sweeps,
        )
    return Loaded(file_id, rows, rule, tuple(replaced_cells), points)


def _metadata_warning(finding: FailedExpectation) -> str:
    value = f" (value {finding.examples[0]!r})" if finding.examples else ""
    return f"metadata: {finding.rule}{value}"


def _make_room(conn: Connection, stream: StreamedRead, target: Target, grown: Grown | None) -> list[str]:
    """Before the rows: a new file's project and cell exist and the rows of its URI's earlier versions are
    gone (their cells returned, to be processed again); a grown file's stored row is locked and the
    statistics of the cycles the new rows may change are dropped."""
    if grown is not None:
        conn.execute(
            sa.text("select 1 from blc.source_file where file_id = :f for update"), {"f": grown.file_id}
        )
        for table in ("blc.file_cycle_stats", "blc.file_curve"):
            conn.execute(
                sa.text(f"delete from {table} where file_id = :file and cycle_index >= :cycle"),
                {"file": grown.file_id, "cycle": grown.last_cycle_index},
            )
        conn.execute(sa.text("delete from blc.vendor_cycle_summary where file_id = :f"), {"f": grown.file_id})
        # A grown file's sweeps are taken from the whole file again (a sweep may have grown too).
        conn.execute(sa.text("delete from blc.impedance_spectrum where file_id = :f"), {"f": grown.file_id})
        return []
    project_id = ensure_project(conn, target.project)
    ensure_cell(conn, target.cell_id, project_id, stream.format, stream.metadata)
    earlier = ledger.superseded_by(conn, target.uri, target.file_id)
    replaced_cells = replace_rows(conn, [target.file_id, *earlier])
    for old_id in earlier:
        conn.execute(sa.text(db.load_sql("load/mark_superseded")), {"id": old_id})
    return replaced_cells


def _cycle_rule(numbering: Numbering, grown: Grown | None) -> str:
    """The rule the rows were numbered by. A new file's stuck counter raises CounterStuck (it is loaded
    again by transitions); a grown file numbered otherwise than its stored rows raises NotAnAppend."""
    if grown is None:
        return numbering.finish()
    try:
        rule = numbering.finish()
    except CounterStuck:
        raise NotAnAppend("its cycle counter now reads as stuck") from None
    if rule != grown.cycle_rule or numbering.boundary_cycle != grown.last_cycle_index:
        raise NotAnAppend(f"its cycles are numbered differently now (rule {rule})")
    return rule


def replace_rows(conn: Connection, file_ids: list[int]) -> list[str]:
    """Delete the time-series rows (and impedance spectra) of these files; return the cells they belonged
    to."""
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
    conn.execute(sa.text("delete from blc.impedance_spectrum where file_id = any(:ids)"), {"ids": file_ids})
    return list(cells)
