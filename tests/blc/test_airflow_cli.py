"""`blc airflow` on a fresh install: the first call creates Airflow's metadata DB and stores the DAGs, so
`dags list` shows them at once instead of "No data found" until the DAG processor has run."""

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
