"""
### blc_ingest: one file, on demand

Manual (re-)ingestion of one file given by URI in the run conf, through the same chain as `blc_watch`:
parse → validate → publish → process → refresh Redash. Trigger with conf
`{"uri": "file:///data/drops/cell_01.csv", "cell_id": null, "project": null, "format": null, "force": true}`;
`force` re-ingests content the ledger already holds (e.g. after a connector fix).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from blc.assets import DB_LOAD_POOL, DEFAULT_ARGS
from blc.operators import CellProcessOperator, CyclerFileIngestOperator, RedashRefreshOperator


@dag(
    dag_id="blc_ingest",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["blc", "ingest", "manual"],
    doc_md=__doc__,
    params={
        "uri": Param("", type="string", description="file:// URI of the cycler file"),
        "cell_id": Param(None, type=["null", "string"]),
        "project": Param(None, type=["null", "string"]),
        "format": Param(None, type=["null", "string"], description="connector name; empty = detect"),
        "force": Param(True, type="boolean"),
    },
)
def blc_ingest() -> None:
    published = CyclerFileIngestOperator(
        task_id="parse_validate_publish",
        uri="{{ params.uri }}",
        cell_id="{{ params.cell_id or '' }}",
        project="{{ params.project or '' }}",
        format_name="{{ params.format or '' }}",
        force="{{ params.force }}",
        pool=DB_LOAD_POOL,
    )
    processed = CellProcessOperator(task_id="process_cell", outcome=published.output)
    RedashRefreshOperator(task_id="refresh_redash", results=[processed.output])


blc_ingest()
