"""The per-cycle table, checked after processing and before it commits (expectations/cycle_stats.json).

Errors there are the processor's bugs, not the files' (a negative integrated capacity, cycle indices out of
order, rows of an older processor version): `CycleStatsInvalid` rolls the processing back. Warnings (a
complete full-cell cycle whose coulombic efficiency is outside (0, 1.2], a capacity above 3 × nominal) are
recorded against the cell's newest file as its `cycle` validation result, for `blc status` and the Redash
validation board.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import sqlalchemy as sa

from blc import db
from blc.errors import BlcError
from blc.settings import Settings
from blc.validation_report import WARNING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CYCLE_SUITE = "cycle_stats"


class CycleStatsInvalid(BlcError):
    """The cell's per-cycle table broke an error of its suite."""


def check_cycle_stats(conn: Connection, cell_id: str, processor_version: str, settings: Settings) -> int:
    """Validate the cell's cycle_stats rows; return the number of warnings recorded."""
    import pandas as pd

    from blc.validation import validate_frame

    frame = pd.read_sql(
        sa.text(db.load_sql("process/cycle_check_inputs", settings.sql_dir)),
        conn,
        params={"cell_id": cell_id, "processor_version": processor_version},
    )
    if frame.empty:
        return 0
    frame = frame.astype({"processor_version_current": bool})
    report = validate_frame(frame, CYCLE_SUITE, expectations_dir=settings.expectations_dir)
    # Row positions → the cell's cycle indexes, which is what a reader looks for.
    cycles = frame["cycle_index"].tolist()
    failed = tuple(
        replace(f, first_rows=[int(cycles[r]) for r in f.first_rows if r < len(cycles)])
        for f in report.failed
    )
    if not report.success:
        first = next(f for f in failed if f.severity != WARNING)
        where = f", first at cycle {first.first_rows[0]}" if first.first_rows else ""
        raise CycleStatsInvalid(f"cell {cell_id!r}: {first.rule}{where}")
    conn.execute(
        sa.text(db.load_sql("process/record_cycle_findings", settings.sql_dir)),
        {
            "cell_id": cell_id,
            "failed": json.dumps([f.as_dict() for f in failed]),
            "evaluated": report.evaluated,
        },
    )
    return len(failed)
