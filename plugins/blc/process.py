"""Process a cell: its files' statistics stitched into blc.cycle_stats, then capacity fade and the
summary (sql/processors), knee and coulombic-inefficiency trend (processors.fade)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from blc import db, failpoints
from blc.cycle_check import check_cycle_stats
from blc.db import engine_for
from blc.file_stats import refresh_file_stats
from blc.settings import Settings, get_settings
from blc.stitch import merge_split_cycles, stitch_cell
from processors.classify import FEATURES, classify_cycles
from processors.cycle_stats import PROCESSOR_VERSION
from processors.fade import knee_onset, moving_median

log = logging.getLogger(__name__)


PUBLISHED_TABLES = (
    "blc.timeseries",
    "blc.cycle_stats",
    "blc.capacity_fade",
    "blc.cell_summary",
    "blc.cell",
    "blc.curve",
)


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
        formation = cell_formation_cycles(conn, cell_id)
        binds = {"cell_id": cell_id, "formation_cycles": formation, "processor_version": PROCESSOR_VERSION}
        stitch_cell(conn, cell_id)
        recomputed = refresh_file_stats(conn, cell_id, settings.chunk_rows, recompute)
        # Python computes (the files' statistics, cycles split between files), then SQL assembles and
        # applies: one direction, never back (docs/adr/0008).
        merge_split_cycles(conn, cell_id)
        conn.execute(sa.text(db.load_sql("processors/cycle_stats_assemble", settings.sql_dir)), binds)
        classify_cell_cycles(conn, cell_id, formation)
        conn.execute(sa.text(db.load_sql("processors/cycle_stats_apply", settings.sql_dir)), binds)
        cycles, complete = conn.execute(
            sa.text(
                "select count(*), count(*) filter (where complete) from blc.cycle_stats where cell_id = :c"
            ),
            {"c": cell_id},
        ).one()
        refresh_fade(conn, cell_id, settings=settings, formation_cycles=formation)
        warned = check_cycle_stats(conn, cell_id, PROCESSOR_VERSION, settings)
        failpoints.reach("mid_process")
        conn.execute(
            sa.text(db.load_sql("process/mark_processed")),
            binds,
        )
    if recomputed:
        log.info("cell %s: statistics of %d file(s) recomputed from stored samples", cell_id, recomputed)
    if warned:
        log.warning(
            "cell %s: %d per-cycle check(s) found cycles to look at (see `blc status`)", cell_id, warned
        )
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


#: A cell whose complete cycles reach at most this (median upper voltage) and go down to at most
#: HALF_CELL_LOWER_V (median lower cut-off) is an anode against lithium metal (process/infer_half_cell.sql).
HALF_CELL_UPPER_V = 2.0
HALF_CELL_LOWER_V = 0.3


def classify_cell_cycles(conn: Connection, cell_id: str, formation: int) -> None:
    """Classify the assembled cycles (processors/classify.py) and write the classes onto them before they
    are applied; infer an anode half-cell from the voltage window when metadata is silent. Python reads
    what SQL assembled and hands back a temporary table's columns, as the fade fits do (docs/adr/0009)."""
    rows = conn.execute(sa.text(db.load_sql("process/cycle_class_inputs")), {"cell_id": cell_id}).all()
    if not rows:
        return
    cycles = pd.DataFrame([row._asdict() for row in rows])
    nominal = conn.execute(
        sa.text("select nominal_capacity_ah::float8 from blc.cell where cell_id = :cell"), {"cell": cell_id}
    ).scalar()
    classified = classify_cycles(
        cycles[list(FEATURES)], nominal_capacity_ah=nominal, formation_cycles=formation
    )
    conn.execute(
        sa.text(db.load_sql("process/apply_cycle_classes")),
        {
            "cycles": classified["cycle_index"].astype(int).tolist(),
            "classes": classified["cycle_class"].tolist(),
            "complete": classified["complete"].astype(bool).tolist(),
            "flags": classified["flags"].tolist(),
        },
    )
    complete = cycles.loc[classified["complete"].to_numpy()]
    anode = bool(
        len(complete)
        and complete["voltage_max_v"].median() <= HALF_CELL_UPPER_V
        and complete["voltage_min_v"].median() <= HALF_CELL_LOWER_V
    )
    inferred = conn.execute(
        sa.text(db.load_sql("process/infer_half_cell")),
        {"cell_id": cell_id, "half_cell": True if anode else None},
    )
    if inferred.rowcount and anode:
        log.info(
            "cell %s: taken for an anode half-cell against lithium (its cycles live between %.2f and %.2f V;"
            " no metadata said otherwise): fade follows the delithiation capacity",
            cell_id,
            complete["voltage_min_v"].median(),
            complete["voltage_max_v"].median(),
        )


def refresh_fade(
    conn: Connection, cell_id: str, *, settings: Settings, formation_cycles: int | None = None
) -> None:
    """Rebuild the cell's capacity_fade and cell_summary rows from its cycle_stats (sql/processors)."""
    formation = cell_formation_cycles(conn, cell_id) if formation_cycles is None else formation_cycles
    binds = {"cell_id": cell_id, "formation_cycles": formation, "processor_version": PROCESSOR_VERSION}
    for table in ("blc.cell_summary", "blc.capacity_fade"):
        conn.execute(sa.text(f"delete from {table} where cell_id = :cell_id"), binds)
    conn.execute(sa.text(db.load_sql("processors/cycle_cumulative", settings.sql_dir)), binds)
    _fit_fade(conn, cell_id, formation)  # Python first, then SQL writes the fade tables: one direction
    for step in ("capacity_fade", "cell_summary"):
        conn.execute(sa.text(db.load_sql(f"processors/{step}", settings.sql_dir)), binds)


def _fit_fade(conn: Connection, cell_id: str, formation: int) -> None:
    """What the fade needs a fit or a robust filter for (processors/fade.py), from the complete cycles'
    retention and coulombic inefficiency: the knee onset and the coulombic-inefficiency trend (moving median),
    handed to the SQL fade steps in temporary tables (sql/process/fade_fits.sql)."""
    rows = conn.execute(
        sa.text(db.load_sql("process/fade_fit_inputs")), {"cell_id": cell_id, "formation_cycles": formation}
    ).all()
    curve = [(row.cycle_index, row.retention) for row in rows if row.retention is not None]
    knee = knee_onset([c for c, _ in curve], [r for _, r in curve]) if curve else None
    with_ce = [
        (row.cycle_index, row.coulombic_inefficiency)
        for row in rows
        if row.coulombic_inefficiency is not None
    ]
    trend: list[float] = [float(v) for v in moving_median([v for _, v in with_ce])] if with_ce else []
    conn.execute(
        sa.text(db.load_sql("process/fade_fits")),
        {
            "cycles": [int(c) for c, _ in with_ce],
            "values": [float(v) for v in trend],
            "knee_cycle": knee.cycle if knee else None,
            "knee_retention": knee.retention if knee else None,
        },
    )


def cell_formation_cycles(conn: Connection, cell_id: str) -> int:
    value = conn.execute(
        sa.text("select metadata ->> 'formation_cycles' from blc.cell where cell_id = :cell"),
        {"cell": cell_id},
    ).scalar()
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
