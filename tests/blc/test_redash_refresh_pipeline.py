"""A pipeline run refreshes the Redash queries it touched (fake Redash honouring the real API)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from blc import pipeline
from tests.fakes.redash_server import FakeRedashServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_cli_sync_then_run_refreshes_touched_queries(blc_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeRedashServer() as redash:
        monkeypatch.setenv("BLC_REDASH_URL", redash.url)
        monkeypatch.setenv("BLC_REDASH_API_KEY", redash.api_key)
        sync = subprocess.run(
            [str(Path(sys.executable).with_name("blc")), "redash", "sync"],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
        )
        assert sync.returncode == 0, sync.stderr
        ids = {line.split(":")[0]: int(line.split()[-1]) for line in sync.stdout.splitlines()}
        redash.set_rows(ids["cell_ids"], [{"value": "arbin_example"}], columns=["value"])
        redash.clear_requests()

        outcome, processed = pipeline.ingest((ROOT / "tests/data/arbin/arbin_example.csv").as_uri())
        results = pipeline.refresh_dashboards(set(processed[0].changed_tables), cells=[outcome.cell_id or ""])

    statuses = {r["name"]: r["status"] for r in results}
    assert statuses and set(statuses.values()) == {"finished"}, results
    refreshed = {int(r.path.split("/")[3]) for r in redash.requests_to("POST", r"/api/queries/\d+/results")}
    assert {ids["capacity_fade"], ids["cycle_stats"], ids["cell_list"]} <= refreshed
    assert all(r.body.get("max_age") == 0 for r in redash.requests_to("POST", r"/api/queries/\d+/results"))


def test_refresh_skipped_without_redash_url(blc_env: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")

    assert pipeline.refresh_dashboards({"blc.cycle_stats"}, cells=["x"]) == []
    assert "BLC_REDASH_URL is not set: Redash refresh skipped" in caplog.text


#: A line of `blc redash refresh`: "<query name>: <status>[ (<why>)]".
_OUTCOME = re.compile(r"^(.*?): (finished|skipped|failed)\b")


def _blc(*args: str, redash: FakeRedashServer) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BLC_REDASH_URL": redash.url, "BLC_REDASH_API_KEY": redash.api_key}
    return subprocess.run(
        [str(Path(sys.executable).with_name("blc")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_blc_redash_refresh_runs_every_query_for_the_recent_cells_and_exits_0(blc_env: Path) -> None:
    pipeline.ingest((ROOT / "tests/data/arbin/arbin_example.csv").as_uri())
    with FakeRedashServer(database_url=os.environ["BLC_DATABASE_URL"]) as redash:
        assert _blc("redash", "sync", redash=redash).returncode == 0
        done = _blc("redash", "refresh", redash=redash)
        ran = {int(r.path.split("/")[3]) for r in redash.requests_to("POST", r"/api/queries/\d+/results")}

    assert done.returncode == 0, done.stdout + done.stderr
    statuses = dict(_OUTCOME.match(line).groups() for line in done.stdout.splitlines())  # type: ignore[union-attr]
    assert len(statuses) == len(list((ROOT / "redash" / "queries").glob("*.sql")))  # every query
    assert set(statuses.values()) == {"finished"}, statuses  # per-cell ones ran for arbin_example
    assert len(ran) == len(statuses)


def test_blc_redash_refresh_of_an_empty_database_skips_per_cell_queries_and_exits_0(blc_env: Path) -> None:
    with FakeRedashServer(database_url=os.environ["BLC_DATABASE_URL"]) as redash:
        assert _blc("redash", "sync", redash=redash).returncode == 0
        done = _blc("redash", "refresh", redash=redash)

    assert done.returncode == 0, done.stdout + done.stderr
    statuses = [_OUTCOME.match(line).group(2) for line in done.stdout.splitlines()]  # type: ignore[union-attr]
    assert "failed" not in statuses and "skipped" in statuses and "finished" in statuses


def test_a_url_without_a_key_skips_the_refresh_with_a_warning(  # type: ignore[no-untyped-def]
    blc_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BLC_REDASH_URL", "http://redash.invalid:5000")
    monkeypatch.delenv("BLC_REDASH_API_KEY", raising=False)

    assert pipeline.refresh_dashboards({"blc.cycle_stats"}, cells=["x"]) == []
    assert "Redash refresh skipped: http://redash.invalid:5000 has no API key yet" in caplog.text


def test_a_failed_refresh_is_a_warning_once_retries_are_spent(  # type: ignore[no-untyped-def]
    blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from blc.operators import RedashRefreshOperator
    from blc.redash_specs import RedashError

    monkeypatch.setenv("BLC_REDASH_URL", "http://127.0.0.1:9")  # nothing listens: unreachable
    monkeypatch.setenv("BLC_REDASH_API_KEY", "k")
    results = [{"file_label": "a.csv", "files": [{"file": "a.csv"}], "cells": []}]
    operator = RedashRefreshOperator(task_id="refresh_redash", results=results, retries=2)

    with pytest.raises(RedashError) as raised:  # raised for Airflow to retry: Redash may be back by then
        operator.execute({"ti": SimpleNamespace(try_number=1)})
    assert raised.value.transient
    last = operator.execute({"ti": SimpleNamespace(try_number=3)})  # the last try: a warning, not a failure

    assert last and {o["status"] for o in last} == {"failed"}


@pytest.mark.airflow
def test_a_run_whose_only_file_was_quarantined_refreshes_the_ledger_queries(  # type: ignore[no-untyped-def]
    airflow_db, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    lines = (ROOT / "tests/data/arbin/arbin_example.csv").read_bytes().splitlines(keepends=True)
    lines[500] = lines[500][:20] + b"\n"  # a row cut short: quarantined
    (blc_env / "bad.csv").write_bytes(b"".join(lines))
    with FakeRedashServer(database_url=os.environ["BLC_DATABASE_URL"]) as redash:
        ids = {
            line.split(":")[0]: int(line.split()[-1])
            for line in _blc("redash", "sync", redash=redash).stdout.splitlines()
        }
        monkeypatch.setenv("BLC_REDASH_URL", redash.url)
        monkeypatch.setenv("BLC_REDASH_API_KEY", redash.api_key)
        redash.clear_requests()
        run = DagBag(dag_folder=str(ROOT / "dags" / "blc_watch.py")).dags["blc_watch"].test()
        ran = {int(r.path.split("/")[3]) for r in redash.requests_to("POST", r"/api/queries/\d+/results")}

    assert run.state == "failed"  # the file was not loaded: the run says so
    assert {ids["ingest_status"], ids["validation_findings"]} <= ran  # and the boards that show why are fresh
    assert ids["capacity_fade"] not in ran  # nothing else changed
