"""Per-file cycle statistics and curves: gathered while a file streams in, stored per file
(blc.file_cycle_stats, blc.file_curve), or recomputed from its stored samples when missing or stale."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from blc import db
from blc.curve_store import CurveSpool
from blc.numbering import SAMPLE_COLUMNS
from processors.cycle_stats import (
    CYCLE_STATS_COLUMNS,
    PROCESSOR_VERSION,
    StreamedCycleStats,
)

log = logging.getLogger(__name__)


def gathering(file_id: int, *, max_open_rows: int, starts_at_file_start: bool = True) -> Gathered:
    """Per-cycle statistics and curves gathered from a stream of rows: curves spooled as they are made."""
    curves = CurveSpool(file_id, PROCESSOR_VERSION)
    stats = StreamedCycleStats(
        max_open_rows=max_open_rows, starts_at_file_start=starts_at_file_start, on_curves=curves.add
    )
    return Gathered(stats, curves)


@dataclass(frozen=True)
class Gathered:
    stats: StreamedCycleStats
    curves: CurveSpool


def store_file_cycle_stats(conn: Connection, file_id: int, gathered: Gathered, label: str) -> None:
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
    selected = ", ".join(f"coalesce({c}::float8, 'NaN') as {c}" for c in SAMPLE_COLUMNS)
    query = (
        f"select {selected} from blc.timeseries where {where}"
        " order by cycle_index, test_time_second, file_id, record_index"
    )
    frame = db.copy_query_float64(conn, query, SAMPLE_COLUMNS)
    frame["cycle_index"] = frame["cycle_index"].astype(np.int64)
    return frame


def cycle_batches(conn: Connection, cell_id: str, batch_rows: int, file_id: int) -> list[tuple[int, int]]:
    """Ranges of the file's whole cycles holding about `batch_rows` samples each, from the ledger's cycle
    range (no scan of the samples)."""
    row = conn.execute(
        sa.text(db.load_sql("file_stats/cycle_range")),
        {"file": file_id},
    ).one()
    if not row.unknown and row.lo is None:  # no loaded file: no rows
        return []
    if row.unknown:  # rows loaded before the ledger kept cycle ranges
        row = conn.execute(
            sa.text(db.load_sql("file_stats/cycle_range_from_rows")),
            {"file": file_id},
        ).one()
        if row.lo is None:
            return []
    lo, hi, n = int(row.lo), int(row.hi), int(row.n or 0)
    rows_per_cycle = max(1.0, n / (hi - lo + 1))
    step = max(1, int(batch_rows / rows_per_cycle))
    return [(start, min(start + step - 1, hi)) for start in range(lo, hi + 1, step)]


def file_stats_from_rows(conn: Connection, cell_id: str, batch_rows: int, file_id: int) -> Gathered:
    """The file's statistics and curves from its stored rows, read in batches of whole cycles (flat memory)
    and gathered exactly as when the file streamed in."""
    gathered = gathering(file_id, max_open_rows=1 << 62)
    for cycles in cycle_batches(conn, cell_id, batch_rows, file_id):
        gathered.stats.add(read_cell_samples(conn, cell_id, cycles, file_id=file_id))
    return gathered


def refresh_file_stats(conn: Connection, cell_id: str, batch_rows: int, recompute: bool) -> int:
    """Recompute, from stored samples, the per-file statistics that are missing or of another processor
    version (all of them when `recompute`); return how many files were recomputed."""
    stale = (
        conn.execute(
            sa.text(db.load_sql("file_stats/stale_files")),
            {"cell": cell_id, "all": recompute, "version": PROCESSOR_VERSION},
        )
        .scalars()
        .all()
    )
    for file_id in stale:
        for table in ("blc.file_cycle_stats", "blc.file_curve"):
            conn.execute(sa.text(f"delete from {table} where file_id = :file"), {"file": file_id})
        gathered = file_stats_from_rows(conn, cell_id, batch_rows, int(file_id))
        store_file_cycle_stats(conn, int(file_id), gathered, f"file {file_id}")
    return len(stale)
