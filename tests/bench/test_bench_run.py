"""`make bench` end to end at toy sizes: every figure the issue asks for is measured and written."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

FIGURES = (
    "floor_seconds",
    "end_to_end_seconds",
    "end_to_end_rows_per_s",
    "floor_ratio",
    "parse_rows_per_s",
    "peak_rss_mb_1m",
    "peak_rss_mb_5m",
    "stats_10m_seconds",
    "curves_10m_seconds",
    "stats_sql_5m_seconds",
    "stats_numpy_5m_seconds",
    "fade_refresh_seconds",
    "fade_query_ms",
    "dag_parse_seconds",
    "per_file_seconds",
    "small_files_seconds",
    "small_files_per_minute",
)


def test_bench_measures_and_writes_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = runpy.run_path(str(ROOT / "bench" / "run.py"), run_name="bench_run")
    output = tmp_path / "latest.json"

    code = run["main"](
        [
            "--rows-1m=20000",
            "--rows-5m=40000",
            "--stats-rows=50000",
            "--cells=30",
            "--cycles=50",
            "--small-files=3",
            "--small-rows=500",
            f"--work={tmp_path / 'work'}",
            f"--output={output}",
        ]
    )

    figures = json.loads(output.read_text())
    assert code == 0
    for name in FIGURES:
        assert figures[name] > 0, name
    assert figures["end_to_end_rows_per_s"] == pytest.approx(20000 / figures["end_to_end_seconds"])
    assert figures["floor_ratio"] == pytest.approx(figures["end_to_end_seconds"] / figures["floor_seconds"])
    assert figures["fade_rows_returned"] == 20 * 50
    assert figures["targets"]["fade_query_ms"]["target"] == 200
    assert 50 < figures["peak_rss_mb_1m"] < 2000  # the ingest process itself, not the bench's own memory
    assert "fade query, 20 of 1000 cells" in capsys.readouterr().out
    assert figures["small_files"] == 3
    assert figures["small_files_per_minute"] == pytest.approx(3 / figures["small_files_seconds"] * 60)
    assert figures["targets"]["small_files_per_minute"]["target"] == 200
    assert figures["targets"]["per_file_overhead_s"]["target"] == 0.5
