"""Versioned statistics: a new processor version recomputes everything from stored samples, without the raw
files, and `blc reprocess` picks the stale cells."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from blc import cli, file_stats, pipeline, process, stitch
from processors import cycle_stats

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"
MACCOR = DATA / "maccor" / "maccor_001.txt"

pytestmark = pytest.mark.integration


def _stats(engine) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return pd.read_sql(sa.text("select * from blc.cycle_stats order by cell_id, cycle_index"), conn)


def test_version_bump_and_reprocess_all_recompute_without_raw_files(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for source in (EXAMPLE, MACCOR):
        copy = blc_env / source.name
        shutil.copy(source, copy)
        pipeline.ingest(copy.as_uri())
        copy.unlink()  # the raw files are gone: reprocessing must not need them
    before = _stats(engine)

    # as after an upgrade that bumped the version: every module that stamps or compares it sees the new one
    for module in (cycle_stats, file_stats, stitch, process, pipeline):
        monkeypatch.setattr(module, "PROCESSOR_VERSION", "99-test")
    assert pipeline.cells_to_reprocess(engine) == ["arbin_example", "maccor_001"]
    assert cli.main(["reprocess", "--all"]) == 0
    after = _stats(engine)

    out = capsys.readouterr().out
    assert "reprocessed arbin_example: 2 cycles" in out and "reprocessed maccor_001: 5 cycles" in out
    assert set(after["processor_version"]) == {"99-test"}
    with engine.connect() as conn:
        versions = conn.execute(sa.text("select distinct processor_version from blc.file_cycle_stats")).all()
        summary = conn.execute(sa.text("select distinct processor_version from blc.cell_summary")).all()
    assert versions == [("99-test",)] and summary == [("99-test",)]
    ignore = ["processor_version", "computed_at"]
    pd.testing.assert_frame_equal(before.drop(columns=ignore), after.drop(columns=ignore))
    assert pipeline.cells_to_reprocess(engine) == []


def test_reprocess_without_arguments_takes_only_stale_cells(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, capsys
) -> None:
    pipeline.ingest(EXAMPLE.as_uri())
    pipeline.ingest(MACCOR.as_uri())
    with engine.begin() as conn:  # as if maccor_001 had been processed by an older version
        conn.execute(
            sa.text(
                "update blc.file_cycle_stats set processor_version = '1'"
                " where file_id = (select file_id from blc.source_file where cell_id = 'maccor_001')"
            )
        )

    assert cli.main(["reprocess"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["reprocess"]) == 0
    second = capsys.readouterr().out

    assert "reprocessed maccor_001" in first and "arbin_example" not in first
    assert "nothing to do" in second


def test_reprocess_of_an_unknown_cell_is_bad_input(blc_env: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["reprocess", "nope"]) == 2
    assert "no cell 'nope'" in capsys.readouterr().err


def _three_cells_two_projects(engine) -> None:  # type: ignore[no-untyped-def]
    """arbin_example and maccor_001 in project lfp_ageing, loaded on 2026-11-02; FastCharge in the default
    project, loaded on 2026-11-20 (dates set by hand: the selection reads `loaded_at`)."""
    pipeline.ingest(EXAMPLE.as_uri(), project="lfp_ageing")
    pipeline.ingest(MACCOR.as_uri(), project="lfp_ageing")
    pipeline.ingest((DATA / "arbin" / "FastCharge_000025_CH8.csv").as_uri())
    with engine.begin() as conn:
        conn.execute(sa.text("update blc.source_file set loaded_at = '2026-11-02T10:00:00Z'"))
        conn.execute(
            sa.text(
                "update blc.source_file set loaded_at = '2026-11-20T10:00:00Z'"
                " where cell_id = 'FastCharge_000025_CH8'"
            )
        )


def test_reprocess_selects_by_project_and_by_load_date(engine, blc_env: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _three_cells_two_projects(engine)
    capsys.readouterr()

    # every cell is current: a selection by project or date recomputes anyway (that is why it is asked for)
    assert pipeline.cells_to_reprocess(engine) == []
    assert cli.main(["reprocess", "--project", "lfp_ageing"]) == 0
    by_project = capsys.readouterr().out
    assert cli.main(["reprocess", "--since", "2026-11-10"]) == 0
    by_date = capsys.readouterr().out
    assert cli.main(["reprocess", "--project", "lfp_ageing", "--since", "2026-11-10"]) == 0
    both = capsys.readouterr().out

    def reprocessed(out: str) -> list[str]:
        return [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("reprocessed")]

    assert reprocessed(by_project) == ["arbin_example", "maccor_001"]
    assert reprocessed(by_date) == ["FastCharge_000025_CH8"]
    assert reprocessed(both) == [] and "no cell matches" in both


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "nope"], "no project 'nope'"),
        (["--since", "last tuesday"], "since 'last tuesday' is not a date"),
        (["B7", "--project", "x"], "give cell ids or --all/--project/--since, not both"),
    ],
)
def test_a_selection_that_names_nothing_is_bad_input(
    blc_env: Path, capsys, args: list[str], message: str
) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["reprocess", *args]) == 2
    assert message in capsys.readouterr().err
