"""The `blc` command as users run it (a real process) against real Postgres."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blc import cli_tables

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
BLC = str(Path(sys.executable).with_name("blc"))

pytestmark = pytest.mark.integration


def blc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BLC, *args], capture_output=True, text=True, timeout=180, env=dict(os.environ))


def test_ingest_cycles_fade_cells_and_reingest(blc_env: Path) -> None:
    first = blc("ingest", str(DATA / "arbin" / "arbin_example.csv"))
    again = blc("ingest", str(DATA / "arbin" / "arbin_example.csv"))
    cycles = blc("cycles", "arbin_example", "--format", "csv")
    fade = blc("fade", "arbin_example", "--format", "json")
    cells = blc("cells", "--format", "json")

    assert first.returncode == 0, first.stderr
    assert "loaded arbin_example.csv → cell arbin_example: 2142 rows, 2 cycles" in first.stdout
    assert again.returncode == 0 and again.stdout.startswith("skipped arbin_example.csv: same content")
    rows = list(csv.DictReader(io.StringIO(cycles.stdout)))
    assert tuple(rows[0]) == cli_tables.CYCLE_COLUMNS
    assert {"cv_capacity_ah", "temperature_mean_celsius", "equivalent_full_cycles", "complete"} <= set(
        rows[0]
    )
    assert [r["cycle_index"] for r in rows] == ["1", "2"]
    assert float(rows[1]["discharge_capacity_ah"]) == pytest.approx(1.0734087, rel=1e-6)
    assert int(rows[1]["n_points"]) == 1282
    fade_rows = json.loads(fade.stdout)
    assert fade_rows[1]["retention"] == pytest.approx(1.0)
    assert json.loads(cells.stdout)[0]["cell_id"] == "arbin_example"


def test_rejected_file_exits_nonzero_with_one_line_reason(blc_env: Path) -> None:
    bad = blc_env / "bad_cell.csv"
    # A line end inserted mid-row, rows after it: a line with too few fields. (A cut-off last line is left
    # out with a warning instead.)
    content = (DATA / "arbin" / "arbin_example.csv").read_bytes()
    bad.write_bytes(content[:12_345] + b"\n" + content[12_345:])

    result = blc("ingest", str(bad))

    assert result.returncode == 2
    assert result.stdout == ""
    [reason] = result.stderr.splitlines()  # one line: the pipeline's own log line is not repeated
    assert reason.startswith("quarantined bad_cell.csv: line ")
    assert "expected 15 fields" in reason


def test_unknown_cell_and_missing_path_are_bad_input(blc_env: Path) -> None:
    missing = blc("cycles", "no-such-cell")
    no_file = blc("ingest", str(blc_env / "nope.csv"))

    assert missing.returncode == 2 and "no cycles for cell 'no-such-cell'" in missing.stderr
    assert no_file.returncode == 2 and "nope.csv: no such file or folder" in no_file.stderr


def test_db_upgrade_is_idempotent(blc_env: Path) -> None:
    first, second = blc("db", "upgrade"), blc("db", "upgrade")

    assert first.returncode == second.returncode == 0
    newest = max(p.name[:4] for p in (ROOT / "sql" / "migrations").glob("[0-9]*.sql"))
    assert newest >= "0002"
    assert second.stdout.strip() == f"schema blc at version {newest}"


def test_airflow_passthrough_uses_project_dags(blc_env: Path, tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "af")}
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    env.pop("AIRFLOW__CORE__DAGS_FOLDER", None)
    result = subprocess.run(
        [BLC, "airflow", "config", "get-value", "core", "dags_folder"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(str(ROOT / "dags"))
