"""`blc files` and `blc status`: the ledger as users see it, and `blc ingest` going on past bad files."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import cli, cli_tables
from blc import ingest as ingest_module

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"  # 2142 rows, 2 cycles (tests/blc/test_cli.py)
CELL_A = DATA / "bdf" / "cell_a.bdf.csv"  # cell CELL-A-001, 2 cycles (tests/processors)
MACCOR = DATA / "maccor" / "maccor_001.txt"  # 5 cycles

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def broken_copy(folder: Path, name: str = "bad_cell.csv") -> Path:
    """arbin_example.csv with a line end inserted mid-row: that row has too few fields and rows follow it
    (a cut-off last line alone is left out with a warning instead)."""
    bad = folder / name
    content = EXAMPLE.read_bytes()
    bad.write_bytes(content[:12_345] + b"\n" + content[12_345:])
    return bad


@pytest.fixture
def ledger(blc_env: Path, engine: sa.Engine) -> Path:  # the session database, with no unreadable entry left
    with engine.begin() as conn:
        conn.execute(sa.text("delete from blc.unreadable_entry"))
    return blc_env


@pytest.fixture
def good_and_bad(ledger: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    good = ledger / EXAMPLE.name
    shutil.copy(EXAMPLE, good)
    assert run(capsys, "ingest", str(good))[0] == 0
    assert run(capsys, "ingest", str(broken_copy(ledger)))[0] == 2
    return ledger


def test_files_lists_loaded_and_quarantined_files_with_their_reason(
    good_and_bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "files", "--format", "json")

    assert code == 0, err
    rows = {row["file"]: row for row in json.loads(out)}
    assert set(rows) == {"arbin_example.csv", "bad_cell.csv"}
    good, bad = rows["arbin_example.csv"], rows["bad_cell.csv"]
    assert (good["status"], good["rows"], good["cell"], good["reason"]) == (
        "processed",
        2142,
        "arbin_example",
        None,
    )
    assert (bad["status"], bad["rows"], bad["cell"]) == ("quarantined", None, None)
    assert bad["reason"].startswith("bad_cell.csv: line ") and "expected 15 fields" in bad["reason"]
    assert set(good) == set(cli_tables.FILE_COLUMNS)
    assert good["first_seen"].endswith("Z") and bad["updated_at"].endswith("Z")


def test_files_table_shows_both_files_with_blanks_and_a_short_reason(
    good_and_bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "files")

    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == list(cli_tables.FILE_COLUMNS)
    assert len(lines) == 2
    bad = next(line for line in lines if line.startswith("bad_cell.csv"))
    assert "quarantined" in bad and "bad_cell.csv: line " in bad
    assert len(bad.split("quarantined", 1)[1].split("  ")[-1].strip()) <= cli_tables.REASON_CHARS
    good = next(line for line in lines if line.startswith("arbin_example.csv"))
    assert "processed" in good and "2142" in good
    for text in ("nan", "NaN", "None", "<NA>", "NaT"):
        assert text not in out


def test_files_status_filter_and_csv(good_and_bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "files", "--status", "quarantined", "--format", "csv")
    table_code, table, _ = run(capsys, "files", "--status", "processed")
    none_code, none, _ = run(capsys, "files", "--status", "failed")

    assert code == table_code == none_code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["file"] for row in rows] == ["bad_cell.csv"]
    assert rows[0]["rows"] == "" and rows[0]["cell"] == ""  # missing values: empty fields
    assert "expected 15 fields" in rows[0]["reason"]
    assert [line.split()[0] for line in table.splitlines()[1:]] == ["arbin_example.csv"]
    assert none.strip() == "(none)"


def test_files_all_adds_the_bookkeeping_columns(
    good_and_bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "files", "--all", "--format", "json")

    assert code == 0
    rows = {row["file"]: row for row in json.loads(out)}
    assert set(rows["arbin_example.csv"]) == set(cli_tables.FILE_COLUMNS_ALL)
    good = rows["arbin_example.csv"]
    assert good["uri"] == (good_and_bad / "arbin_example.csv").resolve().as_uri()
    assert good["size_bytes"] == EXAMPLE.stat().st_size and good["attempts"] == 1
    assert good["warnings"] == [] and len(good["sha256"]) == 64
    assert good["loaded_at"] is not None and rows["bad_cell.csv"]["loaded_at"] is None


def test_files_unknown_status_is_one_line_and_exit_2(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "files", "--status", "bogus")

    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "bogus" in err and err.startswith("blc: ")


def test_unreadable_entries_are_listed_and_shown(
    ledger: Path, engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = (ledger / "locked" / "run 7.csv").as_uri()
    with engine.begin() as conn:
        conn.execute(
            sa.text("insert into blc.unreadable_entry (uri, error) values (:uri, 'permission denied')"),
            {"uri": uri},
        )

    code, out, _ = run(capsys, "files", "--status", "unreadable", "--format", "json")
    status_code, status, _ = run(capsys, "status", "run 7.csv")

    assert code == status_code == 0
    [row] = json.loads(out)
    assert row.pop("first_seen").endswith("Z") and row.pop("updated_at").endswith("Z")
    assert row == {
        "file": "run 7.csv",
        "file_id": None,
        "cell": None,
        "format": None,
        "status": "unreadable",
        "rows": None,
        "reason": "permission denied",
    }
    fields = status_fields(status)
    assert (fields["status"], fields["reason"], fields["uri"]) == ("unreadable", "permission denied", uri)
    assert fields["last_seen"].endswith(" UTC")


def status_fields(out: str) -> dict[str, str]:
    return {
        key: value.strip()
        for key, value in (line.split(":", 1) for line in out.splitlines() if not line.startswith(" "))
    }


def test_status_by_id_path_uri_and_name(
    good_and_bad: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = {row["file"]: row for row in json.loads(run(capsys, "files", "--format", "json")[1])}
    good_id = listed["arbin_example.csv"]["file_id"]
    monkeypatch.chdir(good_and_bad)

    by_id = run(capsys, "status", str(good_id))
    by_path = run(capsys, "status", str(good_and_bad / "arbin_example.csv"))
    by_relative_path = run(capsys, "status", "./arbin_example.csv")
    by_uri = run(capsys, "status", (good_and_bad / "arbin_example.csv").resolve().as_uri())
    by_name = run(capsys, "status", "arbin_example.csv")

    for code, out, err in (by_id, by_path, by_relative_path, by_uri, by_name):
        assert code == 0, err
        assert out == by_id[1]
    fields = status_fields(by_id[1])
    assert fields["file"] == "arbin_example.csv" and fields["file_id"] == str(good_id)
    assert (fields["status"], fields["cell"], fields["rows"], fields["cycles"]) == (
        "processed",
        "arbin_example",
        "2142",
        "2",
    )
    assert fields["reason"] == "" and fields["warnings"] == "none"
    assert fields["validation"].startswith("passed (canonical")
    assert fields["first_seen"].endswith(" UTC") and fields["loaded_at"].endswith(" UTC")


def test_status_of_a_quarantined_file_shows_reason_and_findings(
    good_and_bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "status", "bad_cell.csv")

    assert code == 0  # found: 0 whatever its status
    fields = status_fields(out)
    assert fields["status"] == "quarantined" and "expected 15 fields" in fields["reason"]
    assert fields["cell"] == "" and fields["rows"] == "" and fields["cycles"] == ""
    assert fields["validation"].startswith("failed (parse, suite connector")
    findings = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(findings) == 1 and "expected 15 fields" in findings[0] and "line " in findings[0]
    for text in ("nan", "None", "<NA>", "NaT"):
        assert text not in out


def test_status_of_an_unknown_file_exits_2(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for key in ("nope.csv", "999", str(ledger / "nope.csv")):
        code, out, err = run(capsys, "status", key)
        assert code == 2 and out == ""
        assert err.splitlines() == [f"blc: no file {key!r} in the ledger (see `blc files`)"]


def test_status_of_a_shared_name_lists_the_files_and_exits_2(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder, source in (("rig1", EXAMPLE), ("rig2", CELL_A)):
        (ledger / folder).mkdir()
        shutil.copy(source, ledger / folder / "data.csv")
        assert run(capsys, "ingest", str(ledger / folder / "data.csv"), "--cell-id", f"{folder}_cell")[0] == 0

    code, out, err = run(capsys, "status", "data.csv")
    by_path = run(capsys, "status", str(ledger / "rig2" / "data.csv"))

    assert code == 2
    assert len(err.splitlines()) == 1 and "2 files named 'data.csv'" in err
    assert sorted(line.split()[-1] for line in out.splitlines()) == [
        (ledger / folder / "data.csv").resolve().as_uri() for folder in ("rig1", "rig2")
    ]
    assert by_path[0] == 0 and status_fields(by_path[1])["cell"] == "rig2_cell"


def test_reingest_of_quarantined_content_exits_2(
    good_and_bad: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Needs the pipeline to answer "quarantined" (not "skipped") for content it quarantined before."""
    again = run(capsys, "ingest", str(good_and_bad / "bad_cell.csv"))
    renamed = shutil.copy(good_and_bad / "bad_cell.csv", good_and_bad / "other_name.csv")
    under_another_name = run(capsys, "ingest", str(renamed))

    for code, _, err in (again, under_another_name):
        assert code == 2
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("quarantined ")
        assert "expected 15 fields" in lines[0]


def test_ingest_of_a_folder_tries_every_file_and_exits_2_at_the_end(
    ledger: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = ledger / "batch"
    folder.mkdir()
    for source in (EXAMPLE, CELL_A, MACCOR):
        shutil.copy(source, folder / source.name)
    broken_copy(folder, "b_broken.csv")
    (folder / "cell_a.bdf.csv.meta.yaml").write_text('project: "!!!"\n')  # no letters: the file is bad
    real_ingest = ingest_module.ingest

    def ingest(uri: str, **kwargs):  # type: ignore[no-untyped-def]
        if uri.endswith("arbin_example.csv"):
            raise PermissionError(13, "Permission denied", uri)  # root reads any file: pretend
        return real_ingest(uri, **kwargs)

    monkeypatch.setattr(ingest_module, "ingest", ingest)

    code, out, err = run(capsys, "ingest", str(folder), str(ledger / "missing"))

    assert code == 2
    assert "loaded maccor_001.txt → cell maccor_001" in out and "5 cycles" in out
    assert sorted(err.splitlines()) == sorted(
        [
            f"blc: {ledger / 'missing'}: no such file or folder",
            f"blc: {folder / 'arbin_example.csv'}: permission denied",
            "quarantined cell_a.bdf.csv: metadata: project name '!!!' has no letters or digits",
            next(line for line in err.splitlines() if line.startswith("quarantined b_broken.csv: line ")),
        ]
    )
    assert "Traceback" not in err


def test_ingest_with_a_bad_project_option_is_one_line(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "ingest", str(EXAMPLE), "--project", "!!!")

    assert code == 2 and out == ""
    assert err.splitlines() == ["blc: --project: project name '!!!' has no letters or digits"]


def test_status_and_files_show_the_warnings_of_a_loaded_file(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Needs the pipeline to load a file whose last line has no line end without that line, with a warning."""
    cut = EXAMPLE.read_bytes()[:12_345]  # mid-row, no line end after it
    unfinished = ledger / "unfinished.csv"
    unfinished.write_bytes(cut)
    last_line = cut.count(b"\n") + 1

    code = run(capsys, "ingest", str(unfinished))[0]
    status_code, status, _ = run(capsys, "status", "unfinished.csv")
    listed = json.loads(run(capsys, "files", "--all", "--format", "json")[1])
    as_csv = list(csv.DictReader(io.StringIO(run(capsys, "files", "--all", "--format", "csv")[1])))

    assert code == status_code == 0
    assert status_fields(status)["status"] == "processed" and status_fields(status)["warnings"] == ""
    lines = status.splitlines()
    warning_lines = lines[lines.index("warnings:") + 1 : lines.index("warnings:") + 2]
    assert warning_lines[0].startswith(f"  - line {last_line} has no line end and was not loaded")
    [row] = listed
    assert len(row["warnings"]) == 1 and row["warnings"][0].startswith(f"line {last_line} has no line end")
    assert as_csv[0]["warnings"] == row["warnings"][0]


def test_status_of_a_replaced_file_shows_the_new_content_and_the_earlier_one(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ledger / "run.csv"
    shutil.copy(CELL_A, path)
    assert run(capsys, "ingest", str(path), "--cell-id", "run")[0] == 0
    shutil.copy(EXAMPLE, path)  # new bytes at the same path: a new version
    assert run(capsys, "ingest", str(path), "--cell-id", "run")[0] == 0
    versions = {
        row["status"]: row["file_id"] for row in json.loads(run(capsys, "files", "--format", "json")[1])
    }

    code, out, _ = run(capsys, "status", "run.csv")

    assert code == 0 and set(versions) == {"processed", "superseded"}
    fields = status_fields(out)
    assert (fields["file_id"], fields["status"], fields["rows"]) == (
        str(versions["processed"]),
        "processed",
        "2142",
    )
    assert fields["other_versions"] == f"file {versions['superseded']} (superseded)"


def test_a_file_whose_processing_fails_does_not_stop_the_folder(
    ledger: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from blc import process

    folder = ledger / "batch"
    folder.mkdir()
    for source in (EXAMPLE, MACCOR):
        shutil.copy(source, folder / source.name)
    real = process.process_cell

    def process_cell(cell_id: str, **kwargs):  # type: ignore[no-untyped-def]
        if cell_id == "arbin_example":
            raise OverflowError("math range error")  # a bug of ours, met on this file's numbers
        return real(cell_id, **kwargs)

    monkeypatch.setattr(ingest_module, "process_cell", process_cell)

    code, out, err = run(capsys, "ingest", str(folder))

    assert code == 1
    assert err.splitlines() == [
        f"blc: {folder / 'arbin_example.csv'}: failed (OverflowError: math range error)"
    ]
    assert "loaded maccor_001.txt → cell maccor_001" in out  # the file after it was still tried
    assert "Traceback" not in err
