"""Stitching: a cell's files in test order, with the offsets that make them one test, and cycles cut by a
file boundary merged into one."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from blc import db
from blc.file_stats import read_cell_samples
from processors.cycle_stats import (
    CYCLE_STATS_COLUMNS,
    PROCESSOR_VERSION,
    compute_cycle_stats,
)
from processors.cycles import CycleRule

log = logging.getLogger(__name__)


def stitch_cell(conn: Connection, cell_id: str) -> None:
    """Order the cell's loaded files and store the offsets that make them one continuous test.

    Order: by the wall-clock time of each file's first row when every file has a clock, else by file name
    in natural order (``run_2`` before ``run_10``), then by ledger id. Cycle numbers continue: a file's
    cycles follow all cycles of the files before it. A file that resumes the previous one's last cycle (its
    first counter value is the one the previous file ended with, and its test time continues, or the counter
    is past 1) starts on that cycle: the two parts are one cycle, merged by `merge_split_cycles`.
    Test time: a test time that already continues across files (a resumed Arbin test) is kept as it is.
    One that restarts is placed at its clock time since the first file's start when both have clocks (a
    gap between files stays a gap), else right after the previous file's last sample."""
    files = conn.execute(
        sa.text(db.load_sql("stitch/loaded_files")),
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
            sa.text(db.load_sql("stitch/store_offsets")),
            {"position": position, "cycles": cycle_offset, "seconds": time_offset, "file": file.file_id},
        )
        previous = file


def merge_split_cycles(conn: Connection, cell_id: str) -> None:
    """A cycle split between two files (stitching put both parts on one cycle number) is computed again from
    both files' samples, as one cycle, into the temporary table merged_cycle_stats, which the SQL assembly
    (sql/processors/cycle_stats_assemble.sql) takes in place of the partial rows. Runs before it: Python
    computes, then SQL assembles, never back."""
    columns = ["cell_id", *CYCLE_STATS_COLUMNS, "processor_version"]
    conn.execute(sa.text("drop table if exists pg_temp.merged_cycle_stats"))
    conn.execute(
        sa.text(
            f"create temporary table merged_cycle_stats on commit drop as"
            f" select {', '.join(columns)} from blc.cycle_stats where false"
        )
    )
    cycles = conn.execute(
        sa.text(db.load_sql("stitch/split_cycles")), {"cell": cell_id, "version": PROCESSOR_VERSION}
    ).all()
    split = [(int(row.cycle_index), bool(row.last)) for row in cycles if row.split]
    if not split:
        return
    files = conn.execute(sa.text(db.load_sql("stitch/file_offsets")), {"cell": cell_id}).all()
    for cycle, is_last in split:
        parts = []
        for file in files:
            local = cycle - int(file.cycles)
            samples = read_cell_samples(conn, cell_id, (local, local), file_id=int(file.file_id))
            if not samples.empty:
                samples["test_time_second"] += float(file.seconds)
                parts.append(samples.assign(cycle_index=cycle))
        if not parts:  # statistics without samples cannot be merged: the assembly keeps the first part's row
            log.warning("cell %s: cycle %s is split between files but has no stored samples", cell_id, cycle)
            continue
        merged = compute_cycle_stats(
            pd.concat(parts, ignore_index=True), holds_first_cycle=False, holds_last_cycle=is_last
        )
        merged.insert(0, "cell_id", cell_id)
        merged["processor_version"] = PROCESSOR_VERSION
        db.copy_frame(conn, "merged_cycle_stats", merged, columns)


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
