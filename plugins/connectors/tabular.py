"""Fast, strict reading of delimited text exports, shared by the text-based connectors.

The fast path is pyarrow's multithreaded CSV reader. It reports neither the line of a malformed row nor of a
value that is not a number, so when it refuses a file we re-scan it line by line (the error path only) to
name the first broken line and the rule it breaks.

One broken line is not fatal: the file's last line when it holds fewer fields than the header (an export
cut off mid-row, with or without a line end after it). It is left out and the read says so in its
`warnings`; the same fault on any other line still refuses the file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from connectors.archives import HELD_WHOLE, check_archive, read_member
from connectors.base import FileHead, StreamedRead, to_canonical
from connectors.errors import CorruptFile
from connectors.timestamps import durations_to_seconds, is_number, timestamps_to_unix_seconds

_UNIT_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*[(\[](?P<unit>[^)\]]*)[)\]]\s*$")

#: Factor that turns a value in the given unit into the SI (or BDF) unit of its quantity.
UNIT_FACTORS: dict[str, dict[str, float]] = {
    "current": {"a": 1.0, "ma": 1e-3, "ua": 1e-6, "µa": 1e-6, "μa": 1e-6, "na": 1e-9},
    "voltage": {"v": 1.0, "mv": 1e-3},
    "capacity": {
        "ah": 1.0,
        "mah": 1e-3,
        "uah": 1e-6,
        "µah": 1e-6,
        "μah": 1e-6,
        "as": 1 / 3600,
        "c": 1 / 3600,
    },
    "energy": {"wh": 1.0, "mwh": 1e-3, "kwh": 1e3, "j": 1 / 3600},
    "power": {"w": 1.0, "mw": 1e-3, "kw": 1e3},
    "time": {"s": 1.0, "sec": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0, "hr": 3600.0},
    "resistance": {"ohm": 1.0, "mohm": 1e-3, "Ω": 1.0, "mΩ": 1e-3, "o": 1.0},
    "temperature": {"c": 1.0, "degc": 1.0, "°c": 1.0, "℃": 1.0},
    "count": {"": 1.0},
}


def split_header(header: str) -> tuple[str, str | None]:
    """'Test_Time (s)' → ('test_time', 's'); 'Charge_Capacity' → ('charge_capacity', None)."""
    text = header.strip().lstrip("\ufeff")
    unit: str | None = None
    match = _UNIT_IN_HEADER.match(text)
    if match:
        text, unit = match.group("name"), match.group("unit").strip().lower()
    key = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
    return key, unit


def header_keys(line: str, delimiter: str = ",") -> set[str]:
    """The normalised names (`split_header`) of a header line's cells, for sniffs to compare."""
    return {split_header(cell)[0] for cell in line.split(delimiter)}


@dataclass(frozen=True)
class ColumnRule:
    """How one vendor column becomes one canonical column."""

    canonical: str
    quantity: str
    default_unit: str = ""
    kind: str = "number"  # "number", "text" (timestamps, states), "epoch" (seconds, UTC), "duration"


@dataclass(frozen=True)
class MappedColumn:
    header: str
    rule: ColumnRule
    factor: float


def map_headers(
    headers: Iterable[str], rules: Mapping[str, ColumnRule], file_label: str
) -> tuple[list[MappedColumn], list[str]]:
    """Match vendor headers against rules keyed by normalised name; return mapped and unmapped headers."""
    mapped: list[MappedColumn] = []
    unmapped: list[str] = []
    taken: set[str] = set()
    for header in headers:
        key, unit = split_header(header)
        rule = rules.get(key)
        if rule is None or rule.canonical in taken:
            unmapped.append(header)
            continue
        unit_key = (unit if unit is not None else rule.default_unit).replace(" ", "")
        factors = UNIT_FACTORS[rule.quantity]
        if rule.kind == "number" and unit_key not in factors:
            raise CorruptFile(
                file_label,
                f"column {header!r}: unit {unit!r} is not a known {rule.quantity} unit "
                f"({', '.join(sorted(k for k in factors if k))})",
            )
        taken.add(rule.canonical)
        mapped.append(MappedColumn(header, rule, factors.get(unit_key, 1.0)))
    return mapped, unmapped


def read_header_row(path: Path, header_line: int, delimiter: str = ",", encoding: str = "utf-8") -> list[str]:
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        for _ in range(header_line - 1):
            handle.readline()
        row = next(csv.reader([handle.readline().lstrip("\ufeff")], delimiter=delimiter), [])
    return [cell.strip() for cell in row]


#: The most columns a text export may have: cyclers with every auxiliary channel write a few hundred.
MAX_COLUMNS = 1000
#: The longest line a text export may hold (the field and line length limit): 1 MiB.
MAX_LINE_BYTES = 1 << 20
_TEXT_KINDS = ("text", "duration")


#: Column name for the empty field after the last column in files whose rows end with the delimiter (no
#: vendor header can be this: it holds a NUL).
_TRAILING_FIELD = "\x00trailing"


def iter_mapped_table(
    path: Path,
    *,
    file_label: str,
    header_line: int,
    headers: list[str],
    columns: list[MappedColumn],
    chunk_rows: int,
    delimiter: str = ",",
    decimal: str = ".",
    warnings: list[str] | None = None,
    trailing_empty_field: bool = False,
) -> Iterator[pd.DataFrame]:
    """Stream the mapped columns of a delimited file (header on `header_line`, data after) as frames of about
    `chunk_rows` rows, vendor values already scaled to SI. Raises CorruptFile naming the first broken line
    (possibly after earlier chunks were yielded: callers load inside one transaction).

    Given a `warnings` list, a last line with fewer fields than the header (cut off mid-row) is left out and
    a sentence naming it is added to the list (once, however often the file is read). With
    `trailing_empty_field`, every data row ends with the delimiter (one empty field more than the header
    names); a row whose extra field is not empty is broken."""
    if len(headers) > MAX_COLUMNS:
        raise CorruptFile(
            file_label,
            f"{len(headers)} columns (limit {MAX_COLUMNS}, more than any cycler writes)",
            line=header_line,
        )
    names = [*headers, _TRAILING_FIELD] if trailing_empty_field else headers
    column_types: dict[str, pa.DataType] = {
        c.header: (pa.string() if c.rule.kind in _TEXT_KINDS else pa.float64()) for c in columns
    }
    included = [c.header for c in columns]
    if trailing_empty_field:
        column_types[_TRAILING_FIELD] = pa.string()
        included.append(_TRAILING_FIELD)
    bad_rows: list[tuple[int, str]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append((row.actual_columns, row.text))
        return "skip"

    def broken() -> CorruptFile:
        return locate_broken_line(
            path,
            file_label,
            header_line,
            headers,
            columns,
            delimiter,
            decimal,
            trailing_empty_field=trailing_empty_field,
        )

    # pyarrow's own streaming reader reads ahead without bound (~200 MB extra measured on a 5M-row file),
    # so the file is cut here into blocks of whole lines, each parsed by the multithreaded reader.
    read_options = pacsv.ReadOptions(column_names=names, block_size=1 << 22)
    parse_options = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid_row)
    convert_options = pacsv.ConvertOptions(
        column_types=column_types,
        include_columns=included,
        strings_can_be_null=True,
        decimal_point=decimal,
    )
    block_bytes = _block_bytes(path, header_line, chunk_rows)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        for _ in range(header_line):
            handle.readline()
        lines_before = header_line  # physical lines of the file before the block
        carry = b""
        while True:
            data = handle.read(block_bytes)
            if not data:
                block, carry = carry, b""
                last_block = True
            else:
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry += data
                    continue
                block, carry = carry + data[: cut + 1], data[cut + 1 :]
                last_block = not carry and handle.tell() >= size
            if not block:
                break
            try:
                table = pacsv.read_csv(
                    pa.py_buffer(block),
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise broken() from exc
            if bad_rows:
                cut_off = (
                    _cut_off_last_line(block, bad_rows, lines_before, len(names)) if last_block else None
                )
                if warnings is None or cut_off is None:
                    raise broken()
                line, found = cut_off
                note = f"line {line} is cut off ({found} of {len(headers)} fields) and was not loaded"
                if note not in warnings:
                    warnings.append(note)
                bad_rows.clear()
            if trailing_empty_field and _has_text(table.column(_TRAILING_FIELD)):
                raise broken()
            lines_before += block.count(b"\n")
            del block
            frame = table_to_frame(table, columns)
            del table
            yield frame


def _cut_off_last_line(
    block: bytes, bad_rows: list[tuple[int, str]], lines_before: int, expected: int
) -> tuple[int, int] | None:
    """(line number, fields) of the block's last line when it is the only row the parser set aside and it
    holds fewer fields than expected: a row cut off mid-way. None for any other fault."""
    if len(bad_rows) != 1:
        return None
    found, text = bad_rows[0]
    lines = block.split(b"\n")
    while lines and not lines[-1].rstrip(b"\r"):
        lines.pop()  # blank lines, which the parser skips
    if not lines or found >= expected or b"\x00" in lines[-1]:
        return None  # binary bytes are damage, not a row cut short
    if lines[-1].rstrip(b"\r").decode("utf-8", errors="replace") != text:
        return None  # the set-aside row is not the last line
    return lines_before + len(lines), found


def _has_text(values: pa.ChunkedArray) -> bool:
    """Whether any value of a text column is more than blanks."""
    trimmed = pc.utf8_trim_whitespace(values)
    return bool(pc.any(pc.not_equal(trimmed, "")).as_py())


def table_to_frame(
    table: pa.Table, columns: Sequence[MappedColumn], names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """A parsed table's mapped columns under their canonical names: text (and duration) columns as pandas
    strings, the others as float64 scaled to SI. `names` maps a vendor header to the table's column name
    when the table was read under other names."""
    frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    for column in columns:
        values = table.column(names[column.header] if names is not None else column.header)
        if column.rule.kind in _TEXT_KINDS:
            frame[column.rule.canonical] = values.to_pandas()
        else:
            array = values.to_numpy().astype(np.float64, copy=False)
            frame[column.rule.canonical] = array * column.factor if column.factor != 1.0 else array
    return frame


def _block_bytes(path: Path, header_line: int, chunk_rows: int) -> int:
    """Bytes of text that hold about `chunk_rows` rows, judged from the lines after the header."""
    with path.open("rb") as handle:
        sample = handle.read(1 << 16)
    lines = sample.split(b"\n")[header_line:-1]
    per_row = (sum(len(line) + 1 for line in lines) / len(lines)) if lines else 128.0
    return max(1 << 16, int(per_row * chunk_rows))


def locate_broken_line(
    path: Path,
    file_label: str,
    header_line: int,
    headers: list[str],
    columns: list[MappedColumn],
    delimiter: str,
    decimal: str = ".",
    clean: Callable[[str], str] | None = None,
    *,
    trailing_empty_field: bool = False,
) -> CorruptFile:
    """Scan the file (slowly, error path only) for the first line that breaks the table's rules. With
    `trailing_empty_field`, every row ends with the delimiter: one empty field after the last column."""
    numeric = {headers.index(c.header): c.header for c in columns if c.rule.kind not in _TEXT_KINDS}
    expected = len(headers)
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if number <= header_line:
                continue
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                return CorruptFile(
                    file_label,
                    f"a line longer than {MAX_LINE_BYTES // 1024} KiB (the line length limit)",
                    line=number,
                )
            if b"\x00" in raw:
                return CorruptFile(file_label, "binary bytes (NUL) inside a text export", line=number)
            try:
                text = raw.decode("utf-8")
                text = clean(text) if clean is not None else text
            except UnicodeDecodeError:
                return CorruptFile(file_label, "bytes that are not UTF-8 text (binary data?)", line=number)
            if not text.strip():
                continue
            try:
                fields = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
            except csv.Error as exc:  # a field over csv.field_size_limit(), an unclosed quote
                return CorruptFile(file_label, f"not a readable row ({exc})", line=number)
            if trailing_empty_field and len(fields) == expected + 1:
                if fields[-1].strip():
                    return CorruptFile(
                        file_label,
                        f"a field after the last column {headers[-1]!r} ({fields[-1][:40]!r}); the rows end"
                        " with an empty one",
                        line=number,
                    )
                fields = fields[:-1]
            elif len(fields) != expected:
                ending = "" if raw.endswith(b"\n") else " (last line, no newline: truncated mid-row?)"
                after = " and an empty one after them" if trailing_empty_field else ""
                wanted = f"{expected} fields{after}"
                return CorruptFile(file_label, f"expected {wanted}, found {len(fields)}{ending}", line=number)
            for index, header in numeric.items():
                value = fields[index].strip()
                if value and not is_number(value if decimal == "." else value.replace(decimal, ".")):
                    return CorruptFile(
                        file_label, f"column {header!r}: value {value[:40]!r} is not a number", line=number
                    )
    return CorruptFile(file_label, "the reader refused the file but no broken line was found")


def stream_headed_csv(
    path: Path,
    rules: Mapping[str, ColumnRule],
    *,
    format_name: str,
    parser_version: str,
    timezone: str,
    chunk_rows: int,
    counters: tuple[str, ...] = (),
    finish: Callable[[pd.DataFrame], pd.DataFrame] = to_canonical,
    metadata: Mapping[str, Any] | None = None,
    header_line: int = 1,
    delimiter: str = ",",
    mapping: tuple[list[MappedColumn], list[str]] | None = None,
    produces: tuple[str, ...] | None = None,
    decimal: str = ".",
    trailing_empty_field: bool = False,
) -> StreamedRead:
    """A delimited file with its header on `header_line`, read in chunks: map the columns by `rules` (or take
    a ready `mapping`), convert text timestamps to UTC seconds and ``d hh:mm:ss`` durations to seconds, and
    fill gaps in the instrument's `counters` from their neighbours. `finish` turns each chunk canonical
    (dtypes, vendor fix-ups); columns whose canonical name starts with ``_`` are helpers for `finish`, always
    read, and `produces` names what `finish` makes of them. `decimal` is the decimal mark (``,`` in
    some European exports). `trailing_empty_field`: every data row ends with the delimiter (one empty field
    after the last column). A last line cut off mid-row is left out with a sentence in the read's
    `warnings`."""
    label = path.name
    headers = read_header_row(path, header_line=header_line, delimiter=delimiter)
    mapped, unmapped = mapping if mapping is not None else map_headers(headers, rules, label)
    first_line = header_line + 1
    warnings: list[str] = []

    def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        selected = [
            c
            for c in mapped
            if wanted is None or c.rule.canonical in wanted or c.rule.canonical.startswith("_")
        ]
        carried: dict[str, float] = {}
        rows = 0
        for frame in iter_mapped_table(
            path,
            file_label=label,
            header_line=header_line,
            headers=headers,
            columns=selected,
            chunk_rows=chunk_rows,
            delimiter=delimiter,
            decimal=decimal,
            warnings=warnings,
            trailing_empty_field=trailing_empty_field,
        ):
            if frame.empty:
                continue
            # Durations first: the test time helps place wall-clock times of the repeated DST hour.
            for column in sorted(selected, key=lambda c: c.rule.kind != "duration"):
                name = column.rule.canonical
                if column.rule.kind == "text" and name == "unix_time_second":
                    frame[name] = timestamps_to_unix_seconds(
                        frame[name],
                        timezone=timezone,
                        file_label=label,
                        column=column.header,
                        first_line=first_line + rows,
                        elapsed_seconds=(
                            frame["test_time_second"].to_numpy() if "test_time_second" in frame else None
                        ),
                    )
                elif column.rule.kind == "duration":
                    frame[name] = (
                        durations_to_seconds(
                            frame[name], file_label=label, column=column.header, first_line=first_line + rows
                        )
                        * column.factor
                    )
            # Some exports leave counters empty on the first rows (before the schedule starts): carry the
            # last value forward across chunks, and fill a leading gap from the first value.
            for counter in counters:
                if counter in frame:
                    if counter in carried:
                        frame.loc[0, counter] = (
                            carried[counter] if pd.isna(frame.loc[0, counter]) else frame.loc[0, counter]
                        )
                    frame[counter] = frame[counter].ffill().bfill()
                    if frame[counter].notna().any():
                        carried[counter] = float(frame[counter].iloc[-1])
            rows += len(frame)
            yield finish(frame)
        if rows == 0:
            raise CorruptFile(label, "no data rows after the header", line=first_line)

    canonical = tuple(c.rule.canonical for c in mapped if not c.rule.canonical.startswith("_"))
    return StreamedRead(
        format=format_name,
        parser_version=parser_version,
        columns=produces if produces is not None else canonical,
        chunks=chunks,
        first_data_line=first_line,
        metadata=metadata or {},
        unmapped_columns=tuple(unmapped),
        warnings=warnings,
    )


# --- Excel workbooks (Arbin MITS Pro, Neware BTSDA) --------------------------------------------------------

ZIP_MAGIC = b"PK\x03\x04"
_SHEET_NAME = re.compile(rb"<(?:\w+:)?sheet\b[^>]*\bname=\"([^\"]*)\"")


def workbook_sheet_names(path: Path) -> list[str]:
    """The sheet names of an XLSX, from ``xl/workbook.xml`` alone (no cell is parsed: cheap to sniff)."""
    with zipfile.ZipFile(path) as archive:
        xml = read_member(archive, "xl/workbook.xml", HELD_WHOLE["xl/workbook.xml"])
    return [m.group(1).decode("utf-8", errors="replace") for m in _SHEET_NAME.finditer(xml)]


def sniffed_sheet_names(head: FileHead) -> list[str]:
    """For a connector's `sniff`: the sheet names of an XLSX workbook, or none when the file is not one (a zip
    without a readable ``xl/workbook.xml`` included; sniffing never raises)."""
    if not head.raw.startswith(ZIP_MAGIC):
        return []
    try:
        return workbook_sheet_names(head.path)
    except Exception:
        return []


def open_workbook(path: Path) -> Any:
    """openpyxl's streaming (read-only) workbook; an unreadable one is a CorruptFile naming the file."""
    import openpyxl

    check_archive(path)  # before openpyxl inflates anything
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise CorruptFile(path.name, f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
