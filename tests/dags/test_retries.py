"""Only transient errors reach Airflow's retries (with exponential backoff); a file's fault, a missing file
or a bug fails the task at once: retrying the same input fails the same way and only delays the report."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import sqlalchemy.exc
from airflow.sdk.exceptions import AirflowFailException

from blc.cycle_check import CycleStatsInvalid
from blc.operators import retried_only_when_transient
from blc.redash_specs import RedashError
from blc.s3 import S3Unavailable

ROOT = Path(__file__).resolve().parents[2]


class _PgError(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__("boom")
        self.pgcode = pgcode


def _db_error(pgcode: str) -> sqlalchemy.exc.DBAPIError:
    return sqlalchemy.exc.OperationalError("select 1", {}, _PgError(pgcode))


@pytest.mark.parametrize(
    "error",
    [
        _db_error("57P01"),  # admin shutdown: the server went away
        _db_error("08006"),  # connection failure
        S3Unavailable("s3://b/k: S3 unreachable"),
        RedashError("GET /api/queries failed: connection refused", transient=True),
        RedashError("Redash answered HTTP 502", status_code=502),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
    ids=["db-shutdown", "db-connection", "s3", "redash-down", "redash-502", "disk-full"],
)
def test_transient_errors_are_raised_as_they_are_for_a_retry(error: Exception) -> None:
    with pytest.raises(type(error)), retried_only_when_transient():
        raise error


@pytest.mark.parametrize(
    "error",
    [
        _db_error("22P02"),  # invalid text representation: the file's value
        FileNotFoundError(errno.ENOENT, "no such file", "/drops/gone.csv"),
        CycleStatsInvalid("cell B7: cycle 3 discharge capacity negative"),
        RedashError("Redash answered HTTP 404 to GET /api/queries/9", status_code=404),
        KeyError("a bug"),
    ],
    ids=["db-data", "gone", "cycle-suite", "redash-404", "bug"],
)
def test_other_errors_fail_the_task_without_retries(error: Exception) -> None:
    with pytest.raises(AirflowFailException) as failed, retried_only_when_transient():
        raise error
    cause = getattr(error, "orig", None) or error  # a database error is told by the driver's own message
    assert str(failed.value).startswith(f"{type(cause).__name__}: ")


def test_every_blc_task_backs_off_exponentially_and_loads_share_the_pool() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    for dag in bag.dags.values():
        for task in dag.tasks:
            if task.task_id == "verdict":  # fails a run whose tasks failed: nothing a retry could change
                assert task.retries == 0
                continue
            assert task.retries >= 2 and task.retry_exponential_backoff == 2.0, task.task_id
    pooled = {(d.dag_id, t.task_id) for d in bag.dags.values() for t in d.tasks if t.pool == "blc_db_loads"}
    assert pooled == {
        ("blc_watch", "ingest_files"),
        ("blc_ingest", "parse_validate_publish"),
    }
