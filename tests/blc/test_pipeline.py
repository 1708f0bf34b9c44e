"""The pipeline against real Postgres: ledger, COPY publish, quarantine, supersede, fade."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"

pytestmark = pytest.mark.integration


def _scalar(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_ingest_publishes_rows_stats_and_fade(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    outcome, processed = pipeline.ingest(EXAMPLE.as_uri())

    assert outcome.status == "loaded"
    assert outcome.rows == 2142
    assert _scalar(engine, "select count(*) from blc.timeseries") == 2142
    assert _scalar(engine, "select status from blc.source_file") == "processed"
    assert processed[0].cycles == 2
    assert _scalar(engine, "select count(*) from blc.cycle_stats where cell_id = 'arbin_example'") == 2
    # reference = only complete cycle (cycle 1 starts mid-charge): cycle 2 itself → retention 1
    assert _scalar(engine, "select reference_capacity_ah from blc.cell_summary") == pytest.approx(
        1.0734087, rel=1e-6
    )
    assert _scalar(engine, "select retention from blc.capacity_fade where cycle_index = 2") == pytest.approx(
        1.0
    )
    assert _scalar(engine, "select success from blc.validation_result") is True


def test_same_content_twice_leaves_one_copy(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    copy = blc_env / "again.csv"
    shutil.copy(EXAMPLE, copy)

    first, _ = pipeline.ingest(EXAMPLE.as_uri())
    second, _ = pipeline.ingest(EXAMPLE.as_uri())
    third, _ = pipeline.ingest(copy.as_uri())  # same bytes under another name

    assert (first.status, second.status, third.status) == ("loaded", "skipped", "skipped")
    assert "same content as file 1" in (third.reason or "")
    assert _scalar(engine, "select count(*) from blc.timeseries") == 2142
    assert _scalar(engine, "select count(*) from blc.source_file") == 1


def test_new_content_at_same_uri_supersedes_old_rows(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_7.csv"
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1001]))
    first, _ = pipeline.ingest(path.as_uri())

    lines[5] = lines[5].replace(",3.", ",2.", 1)  # an earlier row rewritten: not a file that only grew
    path.write_text("".join(lines))
    second, _ = pipeline.ingest(path.as_uri())

    assert (first.rows, second.rows) == (1000, 2142)
    assert second.file_id != first.file_id
    assert _scalar(engine, "select count(*) from blc.timeseries") == 2142
    assert _scalar(engine, "select count(distinct file_id) from blc.timeseries") == 1
    assert (
        _scalar(engine, "select status from blc.source_file where file_id = :id", id=first.file_id)
        == "superseded"
    )
    assert _scalar(engine, "select count(*) from blc.cycle_stats where cell_id = 'cell_7'") == 2


def test_corrupt_file_quarantined_with_reason_and_no_rows(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "truncated.csv"
    content = EXAMPLE.read_bytes()
    path.write_bytes(content[:50_000] + b"\n" + content[50_000:])  # a row cut short, ended, more rows after

    outcome, processed = pipeline.ingest(path.as_uri())

    assert outcome.status == "quarantined"
    assert processed == []
    assert outcome.reason is not None and outcome.reason.startswith("truncated.csv: line ")
    assert "fields" in outcome.reason
    assert _scalar(engine, "select count(*) from blc.timeseries") == 0
    assert _scalar(engine, "select status from blc.source_file") == "quarantined"
    assert _scalar(engine, "select error from blc.source_file") == outcome.reason
    failed = _scalar(engine, "select failed_expectations from blc.validation_result where not success")
    assert f"line {failed[0]['line']}: " in outcome.reason


def test_unfinished_last_line_is_left_out_with_a_warning_naming_it(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    content = EXAMPLE.read_bytes()[:50_000]  # the writer stopped mid-row: no line end after the last field
    complete = content[: content.rfind(b"\n") + 1]
    header_lines = 1
    expected_rows = complete.count(b"\n") - header_lines
    dropped_line = complete.count(b"\n") + 1
    path = blc_env / "still_writing.csv"
    path.write_bytes(content)

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded"
    assert outcome.rows == expected_rows
    assert _scalar(engine, "select count(*) from blc.timeseries") == expected_rows
    warnings = _scalar(engine, "select warnings from blc.source_file")
    assert len(warnings) == 1 and warnings[0].startswith(f"line {dropped_line} has no line end")
    assert repr(content[len(complete) :].decode()[:20])[1:-1] in warnings[0]
    assert _scalar(engine, "select sha256 from blc.source_file") == hashlib.sha256(content).hexdigest()


def test_validation_failure_quarantines_and_names_line(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    fields = lines[56].split(",")
    fields[7] = "42.5"  # voltage column: 42.5 V is not a cell
    lines[56] = ",".join(fields)
    path = blc_env / "overvolt.csv"
    path.write_text("".join(lines))

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "quarantined"
    assert "voltage_volt" in (outcome.reason or "") and "line 57" in (outcome.reason or "")
    assert _scalar(engine, "select count(*) from blc.timeseries") == 0
    failed = _scalar(engine, "select failed_expectations from blc.validation_result where not success")
    assert failed[0]["column"] == "voltage_volt"
    assert failed[0]["first_rows"] == [57]


def test_bad_file_keeps_earlier_good_version_and_next_file_goes_through(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_9.csv"
    shutil.copy(EXAMPLE, path)
    pipeline.ingest(path.as_uri())
    path.write_bytes(EXAMPLE.read_bytes()[:30_000] + b"\x00\x00garbage\n")

    bad, _ = pipeline.ingest(path.as_uri())
    good, _ = pipeline.ingest((DATA / "arbin" / "FastCharge_000025_CH8.csv").as_uri())

    assert bad.status == "quarantined"
    assert good.status == "loaded"
    assert _scalar(engine, "select count(*) from blc.timeseries where cell_id = 'cell_9'") == 2142


def test_discover_offers_stable_new_files_once(engine, blc_env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    shutil.copy2(EXAMPLE, blc_env / "a.csv")
    shutil.copy2(DATA / "arbin" / "FastCharge_000025_CH8_Metadata.csv", blc_env / "a_Metadata.csv")

    offered = pipeline.discover()
    for uri in offered:
        pipeline.ingest(uri)

    assert [Path(u).name for u in offered] == ["a.csv"]
    assert pipeline.discover() == []
    monkeypatch.setenv("BLC_SETTLE_SECONDS", "3600")
    (blc_env / "b.csv").write_bytes(EXAMPLE.read_bytes()[:20_000])
    assert pipeline.discover() == []  # still settling


def test_cell_id_and_project_options(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    outcome, _ = pipeline.ingest(EXAMPLE.as_uri(), cell_id="LFP-01", project="Fast Charge")

    assert outcome.cell_id == "LFP-01"
    assert (
        _scalar(
            engine,
            "select p.name from blc.cell c join blc.project p using (project_id) where cell_id = 'LFP-01'",
        )
        == "fast_charge"
    )


def test_a_file_gone_before_its_ingest_is_marked_failed_not_left_waiting(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "renamed.csv"
    shutil.copy2(EXAMPLE, path)
    (uri,) = pipeline.discover()
    path.rename(blc_env / "renamed_later.csv")

    with pytest.raises(FileNotFoundError):
        pipeline.publish_file(uri)

    assert _scalar(engine, "select status from blc.source_file where uri = :u", u=uri) == "failed"
    assert "gone before it could be read" in _scalar(engine, "select error from blc.source_file")
    # the same bytes under the new name take the row over and load
    (renamed,) = pipeline.discover()
    assert Path(renamed).name == "renamed_later.csv"
