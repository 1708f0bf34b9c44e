"""
### blc_reprocess: recompute statistics after a formula change (backfill)

Manual. Recomputes cycle statistics, curves, capacity fade and summaries from the samples already stored:
no raw file is read again. With the default conf it takes the cells whose statistics are not of the
current processor version (after an upgrade that changed a formula); `{"all": true}` takes every cell;
`{"cells": ["B7", "B8"]}` the named ones; `{"project": "lfp_ageing"}` a project's cells and
`{"since": "2026-11-30"}` the cells with a file loaded since then (both recomputed whatever their version,
and combinable). One mapped task per cell, labelled with its id; then the Redash queries that read the
changed tables are refreshed. A failed selection or cell fails the run (`verdict`). Airflow commands for
each: docs/backfill.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from blc.assets import CAPACITY_FADE, CYCLE_STATS, DEFAULT_ARGS, TIMESERIES
from blc.operators import (
    CellReprocessOperator,
    RedashRefreshOperator,
    RunVerdictOperator,
    SelectCellsOperator,
)


@dag(
    dag_id="blc_reprocess",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["blc", "reprocess", "manual"],
    doc_md=__doc__,
    params={
        "cells": Param([], type="array", items={"type": "string"}, description="cell ids; empty = see all"),
        "all": Param(False, type="boolean", description="every cell, whatever its processor version"),
        "project": Param(None, type=["null", "string"], description="the cells of this project"),
        "since": Param(
            None, type=["null", "string"], description="cells with a file loaded since (ISO date)"
        ),
    },
)
def blc_reprocess() -> None:
    selected = SelectCellsOperator(
        task_id="select_cells",
        cell_ids="{{ params.cells | join(',') }}",
        every="{{ params.all }}",
        project="{{ params.project or '' }}",
        since="{{ params.since or '' }}",
    )
    reprocessed = CellReprocessOperator.partial(
        task_id="reprocess_cell",
        inlets=[TIMESERIES],
        outlets=[CYCLE_STATS, CAPACITY_FADE],
        map_index_template="{{ task.cell_id }}",
    ).expand(cell_id=selected.output)
    refreshed = RedashRefreshOperator(
        task_id="refresh_redash", results=reprocessed.output, trigger_rule="all_done"
    )
    [selected, reprocessed, refreshed] >> RunVerdictOperator(task_id="verdict")


blc_reprocess()
