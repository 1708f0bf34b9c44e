"""The pipeline's steps in the order a file goes through them, for scripts and notebooks (the Airflow
operators and the ``blc`` CLI import the modules themselves). Each step is idempotent: it replaces what it
owns inside one transaction, keyed on content.

    discover            blc.discover   which files of the watched folders to ingest now
    publish_file        blc.ingest     one file: lock → ledger → read → number → validate → load
      load / append     blc.load       the one transaction that puts its rows into blc.timeseries
    process_cell        blc.process    a cell's cycle statistics, fade and summary (stitching: blc.stitch)
    refresh_dashboards  blc.redash_refresh the Redash queries that read what changed
    cell_overview …     blc.queries    what the CLI, the demo and the API read

``ingest`` is publish_file followed by process_cell (what `blc ingest` runs).
"""

from __future__ import annotations

from blc.db import engine_for
from blc.discover import Discovery, discover, discover_files
from blc.ingest import IngestOutcome, Quarantined, fetch, ingest, project_name, publish_file
from blc.process import PUBLISHED_TABLES, ProcessOutcome, process_cell, refresh_fade
from blc.queries import cell_overview, cells_to_reprocess, cycle_table, fade_table, unknown_cells
from blc.redash_refresh import refresh_dashboards
from processors.cycle_stats import PROCESSOR_VERSION

__all__ = [
    "PROCESSOR_VERSION",
    "PUBLISHED_TABLES",
    "Discovery",
    "IngestOutcome",
    "ProcessOutcome",
    "Quarantined",
    "cell_overview",
    "cells_to_reprocess",
    "cycle_table",
    "discover",
    "discover_files",
    "engine_for",
    "fade_table",
    "fetch",
    "ingest",
    "process_cell",
    "project_name",
    "publish_file",
    "refresh_dashboards",
    "refresh_fade",
    "unknown_cells",
]
