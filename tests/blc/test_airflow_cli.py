"""`blc airflow` on a fresh install: the first call creates Airflow's metadata DB and stores the DAGs, so
`dags list` shows them at once instead of "No data found" until the DAG processor has run, and creates the
pool of database loads."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BLC = str(ROOT / ".venv" / "bin" / "blc")


def test_the_first_dags_list_of_a_fresh_home_lists_the_dags(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["BLC_HOME"] = str(tmp_path / "home")
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")

    done = subprocess.run(
        [BLC, "airflow", "dags", "list", "-o", "plain"], capture_output=True, text=True, timeout=300, env=env
    )

    assert done.returncode == 0, done.stderr[-2000:]
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()}
    assert {"blc_watch", "blc_ingest", "blc_reprocess"} <= listed, done.stdout
    # the pool the loads wait in exists (a task in a missing pool is never scheduled), at its default size
    pools = subprocess.run(
        [BLC, "airflow", "pools", "get", "blc_db_loads", "-o", "plain"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert pools.returncode == 0, pools.stderr[-2000:]
    assert pools.stdout.split("\n")[1].split()[:2] == ["blc_db_loads", "4"], pools.stdout
    # the backfill of docs/backfill.md, dry: one run per minute of the range, ends included
    window = ["--from-date", "2026-12-01T00:00:00", "--to-date", "2026-12-01T00:03:00"]
    dry = subprocess.run(
        [BLC, "airflow", "backfill", "create", "--dag-id", "blc_watch", *window, "--dry-run"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    dates = [line.split("|")[1].strip() for line in dry.stdout.splitlines() if line.startswith("| 2026")]
    assert dates == [f"2026-12-01 00:0{m}:00+00:00" for m in range(4)], dry.stdout
