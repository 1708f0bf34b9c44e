"""`blc cells`, `blc cycles`, `blc fade`: narrow, rounded tables with blanks for missing values by default;
every column with `--all`; csv and json at full precision."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from blc import cli, cli_tables, pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"  # 2 cycles; cycle 2 discharges 1.0734087 Ah (test_cli.py)
MACCOR = DATA / "maccor" / "maccor_001.txt"  # 5 cycles

pytestmark = pytest.mark.integration

MISSING = ("NaN", "nan", "None", "<NA>", "NaT")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return code, captured.out


@pytest.fixture
def two_cells(blc_env: Path) -> None:
    for source in (EXAMPLE, MACCOR):
        pipeline.ingest(source.as_uri())


def table_rows(out: str) -> tuple[list[str], list[list[str]]]:
    header, *lines = out.splitlines()
    return header.split(), [line.split() for line in lines]


def test_cells_table_is_narrow_rounded_and_blank_where_missing(
    two_cells: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run(capsys, "cells")

    header, rows = table_rows(out)
    assert header == list(cli_tables.CELL_TABLE.values())
    assert max(len(line) for line in out.splitlines()) <= 120
    for text in MISSING:
        assert text not in out
    example = next(line for line in out.splitlines() if line.startswith("arbin_example "))
    # Reference capacity: the only complete cycle (2), 1.0734087 Ah, at 6 significant digits; never below
    # 80 % and too few cycles for a projection: to_80% and to_70% are blank.
    assert "1.07341" in example.split()
    assert example.split()[:4] == ["arbin_example", "default", "2", "1"]
    assert len(example.split()) == len(header) - 2
    assert [row[0] for row in rows] == ["arbin_example", "maccor_001"]


def test_cells_all_and_json(two_cells: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, wide = run(capsys, "cells", "--all")
    _, as_json = run(capsys, "cells", "--format", "json")

    header = wide.splitlines()[0].split()
    assert {"projected_cycles_to_80", "knee_onset_cycle", "nominal_capacity_ah", "capacity_basis"} <= set(
        header
    )
    for text in MISSING:
        assert text not in wide
    cells = {cell["cell_id"]: cell for cell in json.loads(as_json)}
    assert set(cells) == {"arbin_example", "maccor_001"}
    assert cells["arbin_example"]["cycles_to_80"] is None  # json: null
    assert cells["arbin_example"]["reference_capacity_ah"] == pytest.approx(1.0734087, rel=1e-6)
    assert set(header) == set(cells["arbin_example"])


def test_cycles_table_is_narrow_csv_keeps_the_metric_set(
    two_cells: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, table = run(capsys, "cycles", "arbin_example")
    _, everything = run(capsys, "cycles", "arbin_example", "--all")
    _, as_csv = run(capsys, "cycles", "arbin_example", "--format", "csv")

    header, rows = table_rows(table)
    assert header == list(cli_tables.CYCLE_TABLE.values())
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[1][2] == "1.07341"  # discharge capacity of cycle 2, 6 significant digits
    assert rows[1][-1] == "yes"
    assert max(len(line) for line in table.splitlines()) <= 110
    assert {"n_points", "vendor_summary", "processor_version"} <= set(everything.splitlines()[0].split())
    for text in MISSING:
        assert text not in table and text not in everything
    records = list(csv.DictReader(io.StringIO(as_csv)))
    assert tuple(records[0]) == cli_tables.CYCLE_COLUMNS
    assert float(records[1]["discharge_capacity_ah"]) == pytest.approx(1.0734087, rel=1e-6)


def test_fade_table_blanks_and_json_nulls(two_cells: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, table = run(capsys, "fade", "arbin_example")
    _, as_json = run(capsys, "fade", "arbin_example", "--format", "json")

    header, rows = table_rows(table)
    assert header == list(cli_tables.FADE_TABLE.values())
    for text in MISSING:
        assert text not in table
    fade = json.loads(as_json)
    assert tuple(fade[0]) == cli_tables.FADE_COLUMNS
    # The smoothed coulombic inefficiency is over complete cycles: none for the incomplete cycle 1.
    assert fade[0]["coulombic_inefficiency_smoothed"] is None
    assert fade[1]["retention"] == pytest.approx(1.0)
    # cycle 1 is incomplete (the file starts mid-charge): in no fade series, so blank retention, energy
    # retention and smoothed inefficiency; it is classed partial
    assert len(rows[0]) == len(header) - 3
    assert fade[0]["retention"] is None and fade[0]["cycle_class"] == "partial"
    assert rows[1][2] == "1.0000"  # retention, 4 decimals


def test_no_cells(blc_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "cells")[1].strip() == "(none)"
    assert json.loads(run(capsys, "cells", "--format", "json")[1]) == []


def test_cycle_columns_are_the_processors_metric_set_plus_the_sql_ones() -> None:
    from processors.cycle_stats import CYCLE_STATS_COLUMNS

    computed_in_sql = {"throughput_ah", "throughput_wh", "equivalent_full_cycles", "cycle_class"}
    assert len(set(cli_tables.CYCLE_COLUMNS)) == len(cli_tables.CYCLE_COLUMNS)
    assert set(cli_tables.CYCLE_COLUMNS) == set(CYCLE_STATS_COLUMNS) | computed_in_sql
