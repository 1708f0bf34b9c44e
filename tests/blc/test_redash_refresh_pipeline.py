"""A pipeline run refreshes the Redash queries it touched (fake Redash honouring the real API)."""

from __future__ import annotations

import os
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
