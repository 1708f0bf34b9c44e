"""Neware BTSDA CSV exports: the flat record layout and the nested one (cycle, step and record rows in one
file), read in chunks."""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.base import (
    DEFAULT_CHUNK_ROWS,
    Connector,
    FileHead,
    StreamedRead,
)
from connectors.errors import CorruptFile
from connectors.neware_rules import (
    NAME,
    PARSER_VERSION,
    _first_data_row,
    _is_flat_header,
    _is_nested_header,
    _make_finish,
    _map_columns,
    _produced,
    _test_time_from_date,
)
from connectors.tabular import (
    MappedColumn,
    read_header_row,
    split_header,
    stream_headed_csv,
    table_to_frame,
)
from connectors.timestamps import (
    durations_to_seconds,
    timestamps_to_unix_seconds,
)


class NewareCsv(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        try:
            return _is_flat_header(head.first_line) or _is_nested_header(head.text)
        except Exception:  # sniff never raises
            return False

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        head = FileHead.read(path).text
        if _is_nested_header(head):
            return _stream_nested(path, timezone=timezone, chunk_rows=chunk_rows)
        if not _is_flat_header(head.split("\n", 1)[0].rstrip("\r")):
            raise CorruptFile(path.name, "not a Neware CSV header (Cycle Index, Step Type, Current, Voltage)")
        label = path.name
        headers = read_header_row(path, header_line=1)
        first_row = _first_data_row(path, 1)
        mapped, unmapped = _map_columns(headers, first_row, label, 1)
        mapped, first_unix = _test_time_from_date(mapped, headers, first_row, timezone, label, line=2)
        return stream_headed_csv(
            path,
            {},
            format_name=NAME,
            parser_version=PARSER_VERSION,
            timezone=timezone,
            chunk_rows=chunk_rows,
            counters=("cycle_count", "step_id", "step_count"),
            finish=_make_finish(first_unix, timezone, label),
            metadata={"export_layout": "flat"},
            mapping=(mapped, unmapped),
            produces=_produced(mapped),
        )


_NESTED_HEADER_LINES = 3
_Run = tuple[int, float, float, float, str | None]


class _Context:
    """Cycle and step in force while scanning the nested layout."""

    def __init__(self, step_headers: list[str]) -> None:
        self.cycle = np.nan
        self.step_id = np.nan
        self.step_count = np.nan
        self.step_type: str | None = None
        keys = [split_header(h)[0] for h in step_headers]
        self._index = keys.index("step_index") if "step_index" in keys else keys.index("step_id")
        self._number = keys.index("step_number") if "step_number" in keys else None
        self._type = keys.index("step_type") if "step_type" in keys else None

    def step(self, fields: list[str], label: str, line: int) -> None:
        """`fields` aligned with the step header (its first field is the empty one)."""
        self.step_id = _integer(fields, self._index, label, line, "Step Index")
        self.step_count = (
            _integer(fields, self._number, label, line, "Step Number") if self._number is not None else np.nan
        )
        has_type = self._type is not None and self._type < len(fields)
        self.step_type = fields[self._type].strip() if has_type else None  # type: ignore[index]

    def state(self) -> tuple[float, float, float, str | None]:
        return (self.cycle, self.step_id, self.step_count, self.step_type)


def _integer(fields: list[str], index: int, label: str, line: int, what: str) -> float:
    value = fields[index].strip() if index < len(fields) else ""
    try:
        return float(int(value))
    except ValueError:
        raise CorruptFile(label, f"{what} {value[:40]!r} is not a whole number", line=line) from None


def _stream_nested(path: Path, *, timezone: str, chunk_rows: int) -> StreamedRead:
    label = path.name
    cycle_headers = read_header_row(path, header_line=1)
    step_headers = read_header_row(path, header_line=2)
    record_headers = read_header_row(path, header_line=3)
    first_row = _first_data_row(path, _NESTED_HEADER_LINES, prefix=b",,")
    if not first_row:
        raise CorruptFile(label, "no record rows after the header", line=_NESTED_HEADER_LINES + 1)
    mapped, unmapped = _map_columns(record_headers, first_row, label, 3)
    mapped, first_unix = _test_time_from_date(mapped, record_headers, first_row, timezone, label, line=None)
    finish = _make_finish(first_unix, timezone, label)
    # The summary rows' columns are not sample columns: listed (marked by their row kind), never mapped.
    step_keys = ("step_index", "step_id", "step_number", "step_type")
    unmapped = [
        *(f"cycle row: {h}" for h in cycle_headers if h and h != "Cycle Index"),
        *(f"step row: {h}" for h in step_headers if h and split_header(h)[0] not in step_keys),
        *unmapped,
    ]
    cycle_field_count = len(cycle_headers)
    column_names = [h if h else f"_blank{i}" for i, h in enumerate(record_headers)]
    produced = ("cycle_count", "step_id", "step_count", *_produced(mapped))
    first_line = _first_record_line(path)

    def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        context = _Context(step_headers)
        lines: list[bytes] = []
        line_numbers: list[int] = []
        #: (first row in the chunk, cycle, step id, step count, step type) each time the context changes.
        runs: list[_Run] = []
        rows = 0
        with path.open("rb") as handle:
            for _ in range(_NESTED_HEADER_LINES):
                handle.readline()
            for number, raw in enumerate(handle, start=_NESTED_HEADER_LINES + 1):
                if raw.startswith(b",,"):
                    state = context.state()
                    if not runs or runs[-1][1:] != state:
                        runs.append((len(lines), *state))
                    lines.append(raw)
                    line_numbers.append(number)
                    if len(lines) >= chunk_rows:
                        rows += len(lines)
                        yield _select(finish(_parse_records(lines, line_numbers, runs)), wanted)
                        lines, line_numbers, runs = [], [], []
                    continue
                if not raw.strip():
                    continue
                text = _decode(raw, label, number)
                fields = next(csv.reader([text.rstrip("\r\n")]), [])
                if raw.startswith(b","):
                    context.step(fields, label, number)
                    continue
                context.cycle = _integer(fields, 0, label, number, "Cycle Index")
                if len(fields) > cycle_field_count:  # the first step row glued to the cycle row
                    context.step(["", *fields[cycle_field_count:]], label, number)
                elif len(fields) != cycle_field_count:
                    raise CorruptFile(
                        label,
                        f"cycle row: expected {cycle_field_count} fields, found {len(fields)}",
                        line=number,
                    )
        if lines:
            rows += len(lines)
            yield _select(finish(_parse_records(lines, line_numbers, runs)), wanted)
        if rows == 0:
            raise CorruptFile(label, "no record rows after the header", line=first_line)

    def _parse_records(lines: list[bytes], line_numbers: list[int], runs: list[_Run]) -> pd.DataFrame:
        frame = _read_record_block(lines, line_numbers, column_names, record_headers, mapped, label)
        for column in mapped:
            name = column.rule.canonical
            if column.rule.kind == "text" and name == "unix_time_second":
                convert = functools.partial(
                    timestamps_to_unix_seconds,
                    timezone=timezone,
                    file_label=label,
                    column=column.header,
                    first_line=0,
                )
                frame[name] = _remap_line(convert, frame[name], line_numbers)
            elif column.rule.kind == "duration":
                convert = functools.partial(
                    durations_to_seconds, file_label=label, column=column.header, first_line=0
                )
                frame[name] = _remap_line(convert, frame[name], line_numbers)
        starts = np.array([run[0] for run in runs] + [len(lines)])
        sizes = np.diff(starts)
        frame["cycle_count"] = np.repeat([run[1] for run in runs], sizes)
        frame["step_id"] = np.repeat([run[2] for run in runs], sizes)
        frame["step_count"] = np.repeat([run[3] for run in runs], sizes)
        frame["_step_type"] = pd.Series(np.repeat(np.array([run[4] for run in runs], dtype=object), sizes))
        return frame

    return StreamedRead(
        format=NAME,
        parser_version=PARSER_VERSION,
        columns=tuple(dict.fromkeys(produced)),
        chunks=chunks,
        first_data_line=first_line,
        metadata={"export_layout": "cycle/step/record"},
        unmapped_columns=tuple(unmapped),
    )


def _select(frame: pd.DataFrame, wanted: Sequence[str] | None) -> pd.DataFrame:
    return frame if wanted is None else frame[[c for c in frame.columns if c in wanted]]


def _decode(raw: bytes, label: str, line: int) -> str:
    if b"\x00" in raw:
        raise CorruptFile(label, "binary bytes (NUL) inside a text export", line=line)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFile(label, "bytes that are not UTF-8 text (binary data?)", line=line) from None


def _first_record_line(path: Path) -> int:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number > _NESTED_HEADER_LINES and raw.startswith(b",,"):
                return number
    return _NESTED_HEADER_LINES + 1


def _remap_line(
    convert: Callable[[pd.Series], np.ndarray], values: pd.Series, line_numbers: list[int]
) -> np.ndarray:
    """Run a tabular converter with row-in-chunk line numbers, then name the file's line instead."""
    try:
        return convert(values)
    except CorruptFile as exc:
        if exc.line is None:
            raise
        detail = re.sub(r"^line \d+: ", "", exc.detail)
        raise CorruptFile(exc.file_label, detail, line=line_numbers[exc.line]) from None


def _read_record_block(
    lines: list[bytes],
    line_numbers: list[int],
    column_names: list[str],
    headers: list[str],
    mapped: Sequence[MappedColumn],
    label: str,
) -> pd.DataFrame:
    """Parse record rows (not contiguous in the file, so `line_numbers` names each one) with pyarrow."""
    text_kinds = ("text", "duration")
    names = {c.header: column_names[headers.index(c.header)] for c in mapped}
    bad_rows: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.actual_columns)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(b"".join(lines)),
            read_options=pacsv.ReadOptions(column_names=column_names),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    names[c.header]: pa.string() if c.rule.kind in text_kinds else pa.float64()
                    for c in mapped
                },
                include_columns=[names[c.header] for c in mapped],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _locate_broken_record(lines, line_numbers, headers, mapped, label) from exc
    if bad_rows:
        raise _locate_broken_record(lines, line_numbers, headers, mapped, label)
    return table_to_frame(table, mapped, names)


def _locate_broken_record(
    lines: list[bytes],
    line_numbers: list[int],
    headers: list[str],
    mapped: Sequence[MappedColumn],
    label: str,
) -> CorruptFile:
    numeric = {headers.index(c.header): c.header for c in mapped if c.rule.kind == "number"}
    for raw, number in zip(lines, line_numbers, strict=True):
        text = _decode(raw, label, number)
        fields = next(csv.reader(io.StringIO(text)), [])
        if len(fields) != len(headers):
            ending = "" if raw.endswith(b"\n") else " (last line, no newline: truncated mid-row?)"
            return CorruptFile(
                label, f"expected {len(headers)} fields, found {len(fields)}{ending}", line=number
            )
        for index, header in numeric.items():
            value = fields[index].strip()
            if value:
                try:
                    float(value)
                except ValueError:
                    return CorruptFile(
                        label, f"column {header!r}: value {value[:40]!r} is not a number", line=number
                    )
    return CorruptFile(label, "the reader refused the records but no broken line was found")
