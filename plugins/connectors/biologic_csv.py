"""BioLogic EC-Lab data exported as CSV (``biologic_csv``).

EC-Lab's "export as text" with a CSV separator, and the files its automatic export writes. The columns are
the .mpt's (same names, same units), so the column plan and unit conversion of `connectors.biologic` serve
here too; only the layout differs:

- separator ``;`` (usual with a decimal comma), ``,`` (decimal point only) or a tab;
- with the .mpt's header block (``EC-Lab ASCII FILE`` / ``Nb header lines : N``, the column header on line
  N) or without any (the column header on line 1); a leading unnamed column (a row index) or a trailing
  separator after the last name are ignored;
- decimal point or decimal comma, UTF-8 or Windows-1252;
- ``time/s`` in seconds, or as the wall-clock date-time of each point (``MM/DD/YYYY hh:mm:ss.fff``, the
  "absolute time" export): then ``unix_time_second`` is that time (lab timezone) and the test time is
  counted from the acquisition start of the header block or, without one, from the first row.

A tab-separated file with the header block is an .mpt, left to `connectors.biologic.BioLogicMpt`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.biologic import (
    _ENCODING,
    _NB_HEADER_LINES,
    _TIME,
    MPT_FIRST_LINES,
    PARSER_VERSION,
    _Carry,
    _convert,
    _mpt_metadata,
    _plan,
    _start_epoch,
)
from connectors.errors import CorruptFile
from connectors.tabular import (
    ColumnRule,
    MappedColumn,
    iter_mapped_table,
)
from connectors.timestamps import (
    is_number,
    timestamps_to_unix_seconds,
)

NAME_CSV = "biologic_csv"
_CSV_DELIMITERS = (";", "\t", ",")
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d*(?:[Ee][-+]?\d+)?")
#: A fraction of a second written with a decimal comma (``15:36:22,757``).
_COMMA_SECONDS = r"(:\d{2}),(\d+)\s*$"


@dataclass(frozen=True)
class _CsvLayout:
    #: 1-based line of the column header (1 without a header block).
    header_line: int
    headers: list[str]
    delimiter: str
    decimal: str
    #: ``time/s`` holds date-times, not seconds.
    absolute_time: bool
    block: list[str] = field(default_factory=list)


def _decode(raw: bytes) -> str:
    """EC-Lab writes Windows-1252; its automatic CSV export, UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode(_ENCODING, errors="replace")


def _csv_columns(line: str) -> tuple[str, list[str]] | None:
    """The separator and names of an EC-Lab column header line, or None when no separator gives ``time/s``
    as a name of its own (EC-Lab's names hold none of the separators)."""
    for delimiter in _CSV_DELIMITERS:
        names = [name.strip() for name in line.rstrip("\r\n").split(delimiter)]
        if _TIME in names:
            return delimiter, names
    return None


def _read_head_lines(path: Path, count: int) -> list[bytes]:
    with path.open("rb") as handle:
        return [handle.readline() for _ in range(count)]


def _csv_header(path: Path, label: str) -> tuple[int, list[str], str | None]:
    """(column header line, header block lines, the header line's text or None past the end)."""
    with path.open("rb") as handle:
        first = _decode(handle.readline()).lstrip("\ufeff").strip()
        second = _decode(handle.readline())
        match = _NB_HEADER_LINES.match(second)
        if first not in MPT_FIRST_LINES or match is None:
            handle.seek(0)
            line = handle.readline()
            return 1, [], _decode(line).lstrip("\ufeff") if line else None
        header_line = int(match.group(1))
        if header_line < 3:
            raise CorruptFile(label, f"'Nb header lines : {header_line}' is below 3", line=2)
        block = [_decode(handle.readline()).rstrip("\r\n") for _ in range(header_line - 3)]
        line = handle.readline()
    return header_line, block, _decode(line) if line else None


def _csv_layout(path: Path) -> _CsvLayout:
    label = path.name
    header_line, block, header = _csv_header(path, label)
    if header is None:
        raise CorruptFile(label, f"the file ends before its column header (line {header_line})", line=1)
    found = _csv_columns(header)
    if found is None:
        raise CorruptFile(label, "the column header has no time/s column", line=header_line)
    delimiter, headers = found
    first_row: list[str] = []
    with path.open("rb") as handle:
        for _ in range(header_line):
            handle.readline()
        for raw in handle:  # the first row that is not blank
            if raw.strip():
                first_row = [cell.strip() for cell in _decode(raw).rstrip("\r\n").split(delimiter)]
                break
    if not first_row:
        raise CorruptFile(label, "no data rows after the header", line=header_line + 1)
    # A header that ends with the separator (as the .mpt's ends with a tab) when the rows do not.
    while headers and headers[-1] == "" and len(first_row) < len(headers):
        headers.pop()
    headers = [name or f"_empty_{index}" for index, name in enumerate(headers)]
    comma = delimiter != "," and any(_DECIMAL_COMMA.fullmatch(cell) for cell in first_row)
    decimal = "," if comma else "."
    time_cell = first_row[headers.index(_TIME)] if headers.index(_TIME) < len(first_row) else ""
    absolute = bool(time_cell) and not is_number(time_cell.replace(",", ".") if comma else time_cell)
    return _CsvLayout(header_line, headers, delimiter, decimal, absolute, block)


class BioLogicCsv(Connector):
    """EC-Lab data exported as CSV (the layouts above), converted like the .mpt."""

    name = NAME_CSV
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        lines = _decode(head.raw[:4096]).lstrip("\ufeff").splitlines()
        if not lines:
            return False
        header = lines[0]
        under_block = len(lines) >= 2 and lines[0].strip() in MPT_FIRST_LINES
        if under_block:
            match = _NB_HEADER_LINES.match(lines[1])
            if match is None:
                return False
            number = int(match.group(1))
            try:  # the column header may lie past the first bytes after a long header block
                raw = _read_head_lines(head.path, number)
            except OSError:
                return False
            if len(raw) < number or not raw[-1]:
                return False
            header = _decode(raw[-1])
        found = _csv_columns(header)
        if found is None:
            return False
        delimiter, names = found
        if delimiter == "\t" and under_block:
            return False  # a tab-separated column header under the header block: an .mpt
        try:
            _plan(names, head.path.name)
        except CorruptFile:
            return False
        return True

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        layout = _csv_layout(path)
        plan = _plan(layout.headers, label)
        metadata = {**_mpt_metadata(layout.block), "source_format": "EC-Lab CSV"}
        start_epoch = _start_epoch(metadata.get("start_time"), timezone)
        # Every used column is a number, but a time/s of date-times (converted in `chunks`).
        kinds = {_TIME: "text"} if layout.absolute_time else {}
        columns = [
            MappedColumn(name, ColumnRule(name, "count", kind=kinds.get(name, "number")), 1.0)
            for name in plan.used
        ]
        first_line = layout.header_line + 1
        has_unix = start_epoch is not None or layout.absolute_time
        produces = plan.produces + (("unix_time_second",) if has_unix else ())
        warnings: list[str] = []

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            carry = _Carry()
            origin = start_epoch
            rows = 0
            for raw in iter_mapped_table(
                path,
                file_label=label,
                header_line=layout.header_line,
                headers=layout.headers,
                columns=columns,
                chunk_rows=chunk_rows,
                delimiter=layout.delimiter,
                decimal=layout.decimal,
                warnings=warnings,
            ):
                if raw.empty:
                    continue
                if layout.absolute_time:
                    stamps = raw[_TIME].astype("string")
                    if layout.decimal == ",":
                        stamps = stamps.str.replace(_COMMA_SECONDS, r"\1.\2", regex=True)
                    unix = timestamps_to_unix_seconds(
                        stamps,
                        timezone=timezone,
                        file_label=label,
                        column=_TIME,
                        first_line=first_line + rows,
                    )
                    if origin is None:  # no acquisition start: the test time counts from the first point
                        origin = float(unix[0])
                    raw = raw.assign(**{_TIME: unix - origin})
                frame = _convert(raw, plan, carry, origin)
                rows += len(frame)
                yield frame if wanted is None else frame[[c for c in frame.columns if c in wanted]]
            if rows == 0:
                raise CorruptFile(label, "no data rows after the header", line=first_line)

        return StreamedRead(
            format=NAME_CSV,
            parser_version=PARSER_VERSION,
            columns=tuple(name for name in to_canonical(pd.DataFrame(columns=produces)).columns),
            chunks=chunks,
            first_data_line=first_line,
            metadata=metadata,
            unmapped_columns=plan.unmapped,
            warnings=warnings,
        )


CONNECTOR = BioLogicCsv()
