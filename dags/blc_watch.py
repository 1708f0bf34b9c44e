"""
### blc_watch: lab-share folders and S3 prefixes → cycle and fade tables

Every minute: list the folders in `BLC_SHARE_DIRS` and the prefixes in `BLC_S3_URIS` (connection
`blc_s3`), keep files whose size and mtime (objects whose LastModified) have not changed for
`BLC_SETTLE_SECONDS` and whose content the ledger has not settled, then for each file, in a
mapped task group labelled with the file name: parse → validate (Great Expectations) → publish (COPY) →
recompute the cell's cycle statistics and capacity fade. Last, refresh the Redash queries that read what
changed (Redash of the `blc_redash` connection, else `BLC_REDASH_URL`; skipped with neither). The database
is the `blc_db` connection's, else `BLC_DATABASE_URL`'s; tasks check its schema and never migrate it.

A rejected file fails its own `parse_validate_publish` instance (reason in the log and in
`blc.source_file.error`) without retries; the other files go through. Only transient errors (database,
S3, Redash unreachable) are retried, with exponential backoff; loads share the `blc_db_loads` pool.
Outlets: the assets `blc_timeseries`, `blc_cycle_stats` and `blc_capacity_fade` (event extra: cells).
The last task, `report`, logs one line per file (loaded / quarantined with its reason / failed / skipped)
and fails the run when any file was not loaded or a folder entry could not be read (docs/adr/0007): a green
run loaded everything it was offered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task_group

from blc.assets import DB_LOAD_POOL, DEFAULT_ARGS
from blc.operators import (
    CellProcessOperator,
    CyclerFileIngestOperator,
    DiscoverCyclerFilesOperator,
    IngestRunReportOperator,
    RedashRefreshOperator,
)


@dag(
    dag_id="blc_watch",
    schedule=timedelta(minutes=1),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["blc", "ingest"],
    doc_md=__doc__,
)
def blc_watch() -> None:
    discovered = DiscoverCyclerFilesOperator(task_id="discover_files")

    @task_group(group_id="ingest_file")
    def ingest_file(uri: str) -> object:
        published = CyclerFileIngestOperator(
            task_id="parse_validate_publish",
            uri=uri,
            pool=DB_LOAD_POOL,
            map_index_template="{{ file_label }}",
        )
        processed = CellProcessOperator(
            task_id="process_cell", outcome=published.output, map_index_template="{{ file_label }}"
        )
        return processed.output

    results = ingest_file.expand(uri=discovered.output)
    refreshed = RedashRefreshOperator(
        task_id="refresh_redash", results=results, trigger_rule="all_done", retries=2
    )
    IngestRunReportOperator(
        task_id="report",
        uris=discovered.output,
        new_unreadable=discovered.output["new_unreadable"],
        refreshed=refreshed.output,
        trigger_rule="all_done",
    )


blc_watch()
