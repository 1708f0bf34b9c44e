"""
### blc_reprocess: recompute statistics after a formula change (backfill)

Manual. Recomputes cycle statistics, curves, capacity fade and summaries from the samples already stored:
no raw file is read again. With the default conf it takes the cells whose statistics are not of the
current processor version (after an upgrade that changed a formula); `{"all": true}` takes every cell;
`{"cells": ["B7", "B8"]}` the named ones. One mapped task per cell, labelled with its id; then the Redash
queries that read the changed tables are refreshed.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from blc.assets import DEFAULT_ARGS
from blc.operators import CellReprocessOperator, RedashRefreshOperator, SelectCellsOperator


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
    },
)
def blc_reprocess() -> None:
    selected = SelectCellsOperator(
        task_id="select_cells", cell_ids="{{ params.cells | join(',') }}", every="{{ params.all }}"
    )
    reprocessed = CellReprocessOperator.partial(
        task_id="reprocess_cell", map_index_template="{{ task.cell_id }}"
    ).expand(cell_id=selected.output)
    RedashRefreshOperator(task_id="refresh_redash", results=reprocessed.output, trigger_rule="all_done")


blc_reprocess()
