"""What our DAGs share: the default arguments (owner, retries with backoff), the pool of database loads,
and the tables they publish as Airflow assets: users' own DAGs schedule on them
(``schedule=[CAPACITY_FADE]``, or ``Asset.ref(name="blc_capacity_fade")``) and read which cells changed
from the triggering events (docs/backfill.md).

Each event's ``extra`` is small and JSON-safe: ``{"cells": [...]}`` (and for the time series the files'
names and rows). The URIs name the tables, not a server: one platform per Airflow deployment.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset

#: Every blc task: only transient errors (database, S3, Redash unreachable) reach a retry (the operators
#: fail anything else at once), after 30 s, 1 min, 2 min, 4 min.
DEFAULT_ARGS = {
    "owner": "battery-data",
    "retries": 4,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}

#: blc.timeseries: the samples of a file, published by `parse_validate_publish` (blc_watch, blc_ingest).
TIMESERIES = Asset(name="blc_timeseries", uri="blc://tables/timeseries", group="blc")
#: blc.cycle_stats (and curves, summaries), recomputed by `process_cell` and `reprocess_cell`.
CYCLE_STATS = Asset(name="blc_cycle_stats", uri="blc://tables/cycle_stats", group="blc")
#: blc.capacity_fade, recomputed with the cycle statistics.
CAPACITY_FADE = Asset(name="blc_capacity_fade", uri="blc://tables/capacity_fade", group="blc")

#: The pool capping concurrent loads into the database (COPY of a file's samples); its size is
#: BLC_DB_LOAD_SLOTS (4 by default), created by `blc airflow`'s first call and by docker-compose's init.
DB_LOAD_POOL = "blc_db_loads"
