"""
### blc_watch: lab-share folders and S3 prefixes → cycle and fade tables

Every minute: list the folders in `BLC_SHARE_DIRS` and the prefixes in `BLC_S3_URIS` (connection
`blc_s3`), keep files whose size and mtime (objects whose LastModified) have not changed for
`BLC_SETTLE_SECONDS` and whose content the ledger has not settled. Then, in mapped `ingest_files` tasks
labelled with their first file's name, each file: parse → validate (Great Expectations) → publish (COPY)
→ recompute its cell's cycle statistics and capacity fade. A large file has a task of its own; small files
share one (up to 25), since a task's fixed cost exceeds a small file's. Last, refresh the Redash queries
that read what changed (Redash of the `blc_redash` connection, else `BLC_REDASH_URL`; skipped with
neither). The database is the `blc_db` connection's, else `BLC_DATABASE_URL`'s; tasks never migrate it.

A rejected file fails its `ingest_files` instance at the end (reason in the log and in
`blc.source_file.error`) without retries; the other files go through. Only transient errors (database,
S3, Redash unreachable) are retried, with exponential backoff; loads share the `blc_db_loads` pool.
Outlets: the assets `blc_timeseries`, `blc_cycle_stats` and `blc_capacity_fade` (event extra: cells).
The last task, `report`, logs one line per file (loaded / quarantined with its reason / failed / skipped)
and fails the run when any file was not loaded or a folder entry could not be read (docs/adr/0007): a green
run loaded everything it was offered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from blc.assets import CAPACITY_FADE, CYCLE_STATS, DB_LOAD_POOL, DEFAULT_ARGS, TIMESERIES
from blc.operators import (
    DiscoverCyclerFilesOperator,
    IngestFilesOperator,
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
    discovered = DiscoverCyclerFilesOperator(task_id="discover_files", batch=True)
    ingested = IngestFilesOperator.partial(
        task_id="ingest_files",
        pool=DB_LOAD_POOL,
        outlets=[TIMESERIES, CYCLE_STATS, CAPACITY_FADE],
        map_index_template="{{ file_label }}",
    ).expand(uris=discovered.output)
    refreshed = RedashRefreshOperator(
        task_id="refresh_redash", results=ingested.output["results"], trigger_rule="all_done", retries=2
    )
    IngestRunReportOperator(
        task_id="report",
        uris=discovered.output,
        new_unreadable=discovered.output["new_unreadable"],
        refreshed=refreshed.output,
        trigger_rule="all_done",
    )


blc_watch()
