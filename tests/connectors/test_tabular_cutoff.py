"""A text export whose last line was cut off mid-row (fewer fields than the header, with or without a line end
after it) loads without that line, and the read says which line it left out; a broken line anywhere else
still refuses the file. Real files' structure: Maccor (PreDiag_000412_00008Fshort.022, maccor_two.txt, whose
own last line is cut), Arbin (arbin_example.csv) and a generic-mapping CSV (lab_rig_run1.csv)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors import arbin, generic, maccor
from connectors.errors import CorruptFile

DATA = Path(__file__).resolve().parents[1] / "data"
PREDIAG = DATA / "maccor" / "PreDiag_000412_00008Fshort.022"
ARBIN = DATA / "arbin" / "arbin_example.csv"
RIG = DATA / "generic" / "lab_rig_run1.csv"

# Each source: connector, lines before the first data row, field delimiter, fields per row (its header's).
SOURCES = {
    "maccor": (maccor.CONNECTOR, 2, b"\t", 38),
    "arbin": (arbin.CONNECTOR, 1, b",", 15),
    "generic": (generic.CONNECTOR, 3, b";", 9),
}
SOURCE_FILES = {"maccor": PREDIAG, "arbin": ARBIN, "generic": RIG}


def _lines(name: str) -> list[bytes]:
    return SOURCE_FILES[name].read_bytes().splitlines(keepends=True)


def _write(tmp_path: Path, name: str, lines: list[bytes]) -> Path:
    """The lines as a file of the source's name (the generic CSV keeps its mapping file beside it)."""
    source = SOURCE_FILES[name]
    path = tmp_path / source.name
    path.write_bytes(b"".join(lines))
    if name == "generic":
        shutil.copy(source.with_name("lab_rig_run1.mapping.yaml"), tmp_path)
    return path


def _cut(line: bytes, delimiter: bytes, fields: int) -> bytes:
    """The first `fields` fields of a row and half of the next one: a writer stopped mid-value."""
    cells = line.rstrip(b"\r\n").split(delimiter)
    return delimiter.join([*cells[:fields], cells[fields][: max(1, len(cells[fields]) // 2)]])


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("line_end", [b"\n", b""], ids=["line-end", "no-line-end"])
def test_a_cut_off_last_line_is_left_out_and_named(tmp_path: Path, name: str, line_end: bytes) -> None:
    connector, head, delimiter, width = SOURCES[name]
    lines = _lines(name)
    complete = 8 if name == "generic" else 400  # complete data rows kept before the cut one
    cut = _cut(lines[head + complete], delimiter, 5)  # 5 whole fields and part of the 6th: 6 fields
    path = _write(tmp_path, name, [*lines[: head + complete], cut + line_end])

    result = connector.read(path)

    assert len(result.frame) == complete
    # the cut row is line head + complete + 1 of the file (1-based), and holds 6 of the header's fields
    assert result.warnings == (
        f"line {head + complete + 1} is cut off (6 of {width} fields) and was not loaded",
    )


def test_the_last_complete_row_before_the_cut_is_loaded_with_its_own_values(tmp_path: Path) -> None:
    lines = _lines("maccor")
    path = _write(tmp_path, "maccor", [*lines[:402], _cut(lines[402], b"\t", 3) + b"\r\n"])

    frame = maccor.CONNECTOR.read(path).frame

    # PreDiag line 402 (Rec# 400): Test (Sec) 11970.0000, Volts 3.90554665
    last = lines[401].split(b"\t")
    assert (last[0], last[3], last[8]) == (b"400", b"11970.0000", b"3.90554665")
    assert frame["record_index"].iloc[-1] == 400
    assert frame["test_time_second"].iloc[-1] == 11970.0
    assert frame["voltage_volt"].iloc[-1] == 3.90554665


def test_a_file_read_in_many_blocks_names_the_right_line(tmp_path: Path) -> None:
    # 3000 rows of ~270 bytes: ~800 kB, read in blocks of 64 kB (the smallest) at 100 rows a chunk
    lines = _lines("maccor")
    path = _write(tmp_path, "maccor", [*lines[:3002], _cut(lines[3002], b"\t", 11) + b"\n"])

    stream = maccor.CONNECTOR.stream(path, chunk_rows=100)
    first = sum(len(chunk) for chunk in stream.chunks(["current_ampere"]))
    second = sum(len(chunk) for chunk in stream.chunks(None))

    assert first == second == 3000
    # read twice (as the loader does: a first pass over a few columns, then all), said once
    assert stream.warnings == ["line 3003 is cut off (12 of 38 fields) and was not loaded"]


def test_the_real_cut_off_mims_export_loads_without_its_last_line() -> None:
    # maccor_two.txt as published: line 229 (Rec 214) stops after "0,00000" in its 9th field, then a line end
    source = DATA / "maccor" / "maccor_two.txt"
    last = source.read_bytes().splitlines()[-1]
    assert last.startswith(b"214\t") and last.count(b"\t") + 1 == 9

    result = maccor.CONNECTOR.read(source)

    assert len(result.frame) == 213  # Rec 1 … 213
    assert result.frame["record_index"].iloc[-1] == 213
    assert result.warnings == ("line 229 is cut off (9 of 28 fields) and was not loaded",)


@pytest.mark.parametrize("name", SOURCES)
def test_a_cut_off_line_before_the_last_still_refuses_the_file(tmp_path: Path, name: str) -> None:
    connector, head, delimiter, width = SOURCES[name]
    lines = _lines(name)
    broken = head + 5  # the 6th data row, 0-based: line head + 6 of the file
    path = _write(
        tmp_path, name, [*lines[:broken], _cut(lines[broken], delimiter, 5) + b"\n", *lines[broken + 1 :]]
    )

    with pytest.raises(CorruptFile) as caught:
        connector.read(path)

    assert caught.value.line == head + 6
    assert f"expected {width} fields, found 6" in str(caught.value)


@pytest.mark.parametrize("name", SOURCES)
def test_two_cut_off_lines_name_the_first(tmp_path: Path, name: str) -> None:
    connector, head, delimiter, _ = SOURCES[name]
    lines = _lines(name)
    middle = _cut(lines[head + 5], delimiter, 5) + b"\n"
    path = _write(
        tmp_path, name, [*lines[: head + 5], middle, *lines[head + 6 : head + 8], b"1" + delimiter + b"2"]
    )

    with pytest.raises(CorruptFile) as caught:
        connector.read(path)

    assert caught.value.line == head + 6


@pytest.mark.parametrize(
    ("last", "words"),
    [
        pytest.param(
            lambda row: row.rstrip(b"\r\n") + b"\t7\t8\n", "expected 38 fields, found 40", id="too-many"
        ),
        pytest.param(
            lambda row: b"\t".join(b"x" + c if i == 8 else c for i, c in enumerate(row.split(b"\t"))),
            "column 'Volts': value 'x3.",
            id="text-in-number",
        ),
    ],
)
def test_a_last_line_broken_otherwise_is_still_refused(tmp_path: Path, last, words: str) -> None:  # type: ignore[no-untyped-def]
    lines = _lines("maccor")
    path = _write(tmp_path, "maccor", [*lines[:52], last(lines[52])])

    with pytest.raises(CorruptFile) as caught:
        maccor.CONNECTOR.read(path)

    assert caught.value.line == 53 and words in str(caught.value)


def test_only_the_cut_row_is_all_there_is(tmp_path: Path) -> None:
    lines = _lines("arbin")
    path = _write(tmp_path, "arbin", [lines[0], _cut(lines[1], b",", 5)])

    with pytest.raises(CorruptFile, match="no data rows after the header"):
        arbin.CONNECTOR.read(path)


def test_a_last_line_with_binary_bytes_is_damage_not_a_cut(tmp_path: Path) -> None:
    lines = _lines("arbin")
    path = _write(tmp_path, "arbin", [*lines[:50], _cut(lines[50], b",", 5) + b"\x00\x00garbage\n"])

    with pytest.raises(CorruptFile, match="binary bytes") as caught:
        arbin.CONNECTOR.read(path)

    assert caught.value.line == 51


@pytest.mark.integration
def test_ingest_loads_the_complete_rows_and_the_ledger_names_the_cut_line(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from blc import ingest

    # PreDiag's header and first 600 rows, then row 601 cut after 12 fields and ended: line 603 of the file
    lines = _lines("maccor")
    path = blc_env / "prediag_cut.022"
    path.write_bytes(b"".join([*lines[:602], _cut(lines[602], b"\t", 11) + b"\r\n"]))

    outcome = ingest.publish_file(path.as_uri())

    assert outcome.status == "loaded" and outcome.rows == 600
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select count(*), max(record_index) from blc.timeseries")).one()
        warnings = conn.execute(sa.text("select warnings from blc.source_file")).scalar()
    assert tuple(stored) == (600, 600)  # Rec# 1 … 600
    assert warnings == ["line 603 is cut off (12 of 38 fields) and was not loaded"]
