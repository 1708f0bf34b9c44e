"""The bad-input corpus (tests/data/bad, written by its make_corpus.py): every file in one `blc ingest` of the
folder, beside a good file. Each ends as the corpus says (quarantined with the rule it broke, or loaded with
its warning or none), nothing of a quarantined file reaches a table, the good file loads, nothing crashes,
and the whole run stays under the memory promise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.data.bad import make_corpus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BLC = str(ROOT / ".venv" / "bin" / "blc")
CORPUS = ROOT / "tests" / "data" / "bad"
GOOD = ROOT / "tests" / "data" / "arbin" / "arbin_example.csv"
#: The memory promise: no file makes an ingest grow past this (peak resident set of the whole run).
PEAK_RSS_LIMIT_MB = 400

#: Runs `blc ingest` and reports its peak resident set: the wrapper's only child is the CLI.
_MEASURED = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
print(f"peak_rss_kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
sys.exit(done.returncode)
"""


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory, migrated: str) -> dict[str, Any]:
    """The corpus and a good file in one drop folder, ingested by one `blc ingest FOLDER`."""
    from blc import db
    from tests.conftest import DATA_TABLES

    folder = tmp_path_factory.mktemp("corpus")
    for path in CORPUS.iterdir():
        if path.name not in ("make_corpus.py", "expected.json", "__init__.py", "__pycache__"):
            shutil.copy(path, folder / path.name)
    make_corpus.write_large(folder)
    shutil.copy(GOOD, folder / "zz_good.csv")
    with db.get_engine(migrated).begin() as conn:
        conn.execute(sa.text(f"truncate {', '.join(DATA_TABLES)} restart identity cascade"))
    env = {
        **os.environ,
        "BLC_DATABASE_URL": migrated,
        "BLC_HOME": str(tmp_path_factory.mktemp("home")),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, BLC, "ingest", str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    peak = int(done.stdout.rsplit("peak_rss_kb=", 1)[1])
    engine = db.get_engine(migrated)
    with engine.connect() as conn:
        ledger = {
            row.name: row
            for row in conn.execute(
                sa.text(
                    "select substring(uri from '[^/]*$') as name, file_id, status, error, warnings, cell_id,"
                    " rows from blc.source_file"
                )
            )
        }
    return {"done": done, "peak_kb": peak, "ledger": ledger, "engine": engine, "env": env, "folder": folder}


def _cases() -> dict[str, tuple[str, str | None]]:
    return {**make_corpus.CASES, **make_corpus.LARGE_CASES}


def test_the_corpus_is_at_least_forty_files_and_its_manifest_is_current() -> None:
    assert len(_cases()) >= 40
    manifest = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    assert manifest == {name: {"status": s, "phrase": p} for name, (s, p) in _cases().items()}
    kept = {p.name for p in CORPUS.iterdir() if not p.name.endswith(".meta.yaml")}
    assert set(make_corpus.CASES) <= kept


@pytest.mark.parametrize("name", sorted(_cases()))
def test_each_file_ends_as_the_corpus_says(corpus_run: dict[str, Any], name: str) -> None:
    status, phrase = _cases()[name]
    row = corpus_run["ledger"][name]
    if status == "quarantined":
        assert row.status == "quarantined", (row.status, row.error)
        assert phrase is not None and phrase in row.error, row.error
        assert row.error.startswith(name)
    else:
        assert row.status == "processed", row.error
        warnings = list(row.warnings or [])
        if phrase is None:
            assert warnings == []
        else:
            assert any(phrase in warning for warning in warnings), warnings


def test_the_run_exits_2_crashes_nowhere_and_the_good_file_loads(corpus_run: dict[str, Any]) -> None:
    done = corpus_run["done"]
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert "unexpected error" not in done.stdout + done.stderr
    good = corpus_run["ledger"]["zz_good.csv"]
    assert (good.status, good.rows) == ("processed", 2142)
    # every file of the folder got a ledger row: none was skipped after a bad one
    assert set(corpus_run["ledger"]) == {*_cases(), "zz_good.csv"}


def test_nothing_of_a_quarantined_file_reaches_a_table(corpus_run: dict[str, Any]) -> None:
    quarantined = [row.file_id for row in corpus_run["ledger"].values() if row.status == "quarantined"]
    assert len(quarantined) == sum(1 for s, _ in _cases().values() if s == "quarantined")
    with corpus_run["engine"].connect() as conn:
        for table in ("blc.timeseries", "blc.file_cycle_stats", "blc.file_curve", "blc.impedance_spectrum"):
            leaked = conn.execute(
                sa.text(f"select count(*) from {table} where file_id = any(:ids)"), {"ids": quarantined}
            ).scalar_one()
            assert leaked == 0, table
        cells = set(conn.execute(sa.text("select cell_id from blc.cell")).scalars())
    loaded = {row.cell_id for row in corpus_run["ledger"].values() if row.status == "processed"}
    assert cells == loaded


def test_peak_memory_stays_under_the_promise(corpus_run: dict[str, Any]) -> None:
    # ru_maxrss is in KiB on Linux; the decompression bombs would take gigabytes if inflated
    assert corpus_run["peak_kb"] / 1024 < PEAK_RSS_LIMIT_MB


def test_hostile_ids_are_stored_verbatim_and_the_schema_is_intact(corpus_run: dict[str, Any]) -> None:
    ledger = corpus_run["ledger"]
    assert ledger["sql_injection_cell_id.csv"].cell_id == "x'); drop table blc.cell; --"
    assert ledger["path_traversal_cell_id.csv"].cell_id == "../../../etc/passwd"
    assert ledger["control_characters_cell_id.csv"].cell_id == "cell\x1b[31mred\x07"
    with corpus_run["engine"].connect() as conn:
        assert conn.execute(sa.text("select count(*) from blc.cell")).scalar_one() >= 5


def test_csv_output_escapes_formulas_and_the_table_escapes_control_characters(
    corpus_run: dict[str, Any],
) -> None:
    env = corpus_run["env"]
    as_csv = subprocess.run([BLC, "cells", "--format", "csv"], capture_output=True, text=True, env=env)
    assert as_csv.returncode == 0, as_csv.stderr
    lines = as_csv.stdout.splitlines()
    formula = next(line for line in lines if "HYPERLINK" in line)
    # the id is quoted (it holds commas and quotes) and starts with an apostrophe inside the quotes
    assert formula.startswith("\"'=HYPERLINK(")
    assert not any(line.startswith(("=", "+", "-", "@", '"=')) for line in lines)
    table = subprocess.run([BLC, "cells"], capture_output=True, text=True, env=env)
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "cell\\x1b[31mred\\x07" in table.stdout


def test_an_export_of_a_traversal_shaped_id_stays_in_its_folder(
    corpus_run: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "deep" / "export"
    target.mkdir(parents=True)
    done = subprocess.run(
        [BLC, "export", "../../../etc/passwd", "--to", str(target)],
        capture_output=True,
        text=True,
        env=corpus_run["env"],
    )
    assert done.returncode == 0, done.stderr
    written = [Path(line) for line in done.stdout.splitlines()]
    assert written and all(path.resolve().parent == target.resolve() for path in written)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(p.name for p in written)


def test_each_quarantined_file_has_a_report_page_that_blc_status_names(corpus_run: dict[str, Any]) -> None:
    import html

    reports = Path(corpus_run["env"]["BLC_HOME"]) / "reports"
    quarantined = {name: row for name, row in corpus_run["ledger"].items() if row.status == "quarantined"}
    for name, row in quarantined.items():
        page = (reports / f"file-{row.file_id}.html").read_text(encoding="utf-8")
        assert html.escape(row.error) in page, name
        assert "<script" not in page
    status = subprocess.run(
        [BLC, "status", "nan_voltage.csv"], capture_output=True, text=True, env=corpus_run["env"]
    )
    page = reports / f"file-{quarantined['nan_voltage.csv'].file_id}.html"
    assert f"report:         {page}" in status.stdout, status.stdout
