"""The watch run's report, read back from the ledger, and the handling of a pulled XCom for 0, 1, many
mapped instances (Airflow hands the bare value for exactly one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import pipeline
from blc.operators import as_list
from blc.run_report import build_report
from connectors import share

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("pulled", "expected"),
    [
        pytest.param(None, [], id="zero-instances"),
        pytest.param({"cells": []}, [{"cells": []}], id="one-instance-bare-dict"),
        pytest.param("file:///d/a.csv", ["file:///d/a.csv"], id="one-instance-bare-string"),
        pytest.param(({"a": 1}, {"b": 2}), [{"a": 1}, {"b": 2}], id="many-instances"),
    ],
)
def test_pulled_values_become_a_list(pulled, expected) -> None:  # type: ignore[no-untyped-def]
    assert as_list(pulled) == expected


def _ledger(engine, uri: str, status: str, error: str | None = None, cell: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        if cell:
            conn.execute(
                sa.text(
                    "insert into blc.cell (cell_id, project_id) select :c, project_id from blc.project limit 1"
                ),
                {"c": cell},
            )
        conn.execute(
            sa.text(
                "insert into blc.source_file (uri, sha256, size_bytes, status, error, cell_id, rows)"
                " values (:uri, md5(:uri), 10, :status, :error, :cell, 7)"
            ),
            {"uri": uri, "status": status, "error": error, "cell": cell},
        )


def test_report_has_one_line_per_file_and_fails_on_any_file_not_loaded(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    _ledger(engine, "file:///d/ok.csv", "processed", cell="ok")
    _ledger(engine, "file:///d/bad.csv", "quarantined", "bad.csv: line 3: expected 15 fields, saw 2")
    _ledger(engine, "file:///d/down.csv", "failed", "down.csv: OperationalError: server closed")
    _ledger(engine, "file:///d/dead.csv", "ingesting")
    _ledger(engine, "file:///d/half.csv", "loaded", cell="half")
    uris = [f"file:///d/{n}.csv" for n in ("ok", "bad", "down", "dead", "half", "twin")]

    report = build_report(engine, uris)

    assert [str(line) for line in report.lines] == [
        "loaded      ok.csv: cell ok: 7 rows, 0 cycles",
        "quarantined bad.csv: line 3: expected 15 fields, saw 2",
        "failed      down.csv: OperationalError: server closed",
        "unfinished  dead.csv: its ingest stopped without finishing; the next run tries again",
        "unfinished  half.csv: loaded, but its statistics were not computed; the next run does it",
        "skipped     twin.csv: same content as a file already in the ledger",
    ]
    assert report.failed
    assert build_report(engine, ["file:///d/ok.csv", "file:///d/twin.csv"]).failed is False
    # a Redash refresh that failed is said, but the files were loaded: the run is not failed for it
    assert build_report(engine, ["file:///d/ok.csv"], redash_failed=True).failed is False


def test_unreadable_entries_fail_the_run_that_finds_them_only(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(
            sa.text("insert into blc.unreadable_entry (uri, error) values ('file:///d/x.csv', 'nope')")
        )

    assert build_report(engine, [], new_unreadable=["file:///d/x.csv"]).failed
    known = build_report(engine, [])
    assert not known.failed
    assert [str(line) for line in known.lines] == [
        "unreadable  x.csv: cannot be read (nope); skipped (reported before)"
    ]


def test_discovery_skips_a_file_it_may_not_read_and_goes_on(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root (CI) permission bits do not stop a read, so the refusal is the one unit-level fake here.
    shutil.copy2(EXAMPLE, blc_env / "good.csv")
    shutil.copy2(DATA / "maccor" / "maccor_001.txt", blc_env / "secret.txt")
    real_sha256_of = share.sha256_of

    def refuse(path: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path.name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return real_sha256_of(path, *args, **kwargs)

    monkeypatch.setattr(share, "sha256_of", refuse)

    found = pipeline.discover_files()

    assert [Path(u).name for u in found.uris] == ["good.csv"]
    assert {Path(u).name: e for u, e in found.unreadable.items()} == {"secret.txt": "Permission denied"}
    assert [Path(u).name for u in found.new_unreadable] == ["secret.txt"]
    assert pipeline.discover_files().new_unreadable == []  # known now: not new any more


def test_s3_objects_report_as_their_content_or_as_not_fetched(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    _ledger(engine, "s3://lab/a.csv", "processed", cell="a")
    with engine.begin() as conn:  # b.csv held a.csv's bytes; c.csv was offered and never fetched
        conn.execute(
            sa.text(
                "insert into blc.s3_object (uri, etag, sha256, size_bytes)"
                " values ('s3://lab/b.csv', 's3:x', md5('s3://lab/a.csv'), 10)"
            )
        )

    report = build_report(engine, ["s3://lab/a.csv", "s3://lab/b.csv", "s3://lab/c.csv"])

    assert [str(line) for line in report.lines] == [
        "loaded      a.csv: cell a: 7 rows, 0 cycles",
        "skipped     b.csv: same content as a.csv, not loaded twice",
        "unfinished  c.csv: not fetched (see ingest_files); the next run tries again",
    ]
    assert report.failed
