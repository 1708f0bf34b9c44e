"""Arbin XLSX exports (MITS Pro): the data sheets, the global-info sheet's metadata, Excel times."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from connectors.arbin import RULES
from connectors.arbin_common import (
    _SIGNATURE,
    NAME_XLSX,
    PARSER_VERSION,
    _finish,
    _ole_days_to_unix,
    _selected,
)
from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead
from connectors.errors import CorruptFile
from connectors.tabular import (
    MappedColumn,
    map_headers,
    open_workbook,
    sniffed_sheet_names,
    split_header,
)
from connectors.timestamps import (
    naive_to_unix_seconds,
    timestamps_to_unix_seconds,
)

_DATA_SHEET = re.compile(r"^Channel", re.IGNORECASE)
_SKIPPED_SHEET = re.compile(r"chart|statistic", re.IGNORECASE)

#: Global_Info label (normalised) → metadata key.
_GLOBAL_INFO_KEYS = {
    "channel": "channel",
    "start_datetime": "start_time",
    "schedule_file_name": "procedure",
    "creator": "creator",
    "comments": "comments",
    "software_version": "software_version",
    "schedule_version": "schedule_version",
    "item_id": "barcode",
    "barcode": "barcode",
    "serial_number": "serial_number",
    "test_name": "test_name",
    "nominal_capacity": "nominal_capacity_ah",
    "capacity": "nominal_capacity_ah",
    "mass": "mass",
}


def _cell_text(value: Any) -> str | float:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return float(value)
    return str(value).strip()


_NUMERIC_INFO = ("nominal_capacity_ah", "mass", "start_unix_time_second")


def _global_info(sheet: Any, timezone: str) -> dict[str, str | float]:
    """Label cells with their value in the row below (MITS Pro's Global_Info layout)."""
    rows = [tuple(row) for row in sheet.iter_rows(max_row=40, values_only=True)]
    found: dict[str, str | float] = {}
    for index, row in enumerate(rows[:-1]):
        below = rows[index + 1]
        for column, label in enumerate(row):
            if not isinstance(label, str) or column >= len(below):
                continue
            value = below[column]
            if label.strip().upper() == "TEST REPORT" and isinstance(value, str) and value.strip():
                found.setdefault("test_name", value.strip())
                continue
            key = _GLOBAL_INFO_KEYS.get(split_header(label)[0])
            if key is None or value is None or (isinstance(value, str) and not value.strip()):
                continue
            if key == "nominal_capacity_ah":
                if isinstance(value, int | float) and value > 0:
                    found[key] = float(value)
                continue
            if key == "start_time" and isinstance(value, dt.datetime) and key not in found:
                naive = pd.Series([pd.Timestamp(value)])
                found["start_unix_time_second"] = float(naive_to_unix_seconds(naive, timezone)[0])
            found.setdefault(key, _cell_text(value))
    for key, value in found.items():
        if isinstance(value, float) and key not in _NUMERIC_INFO:
            # Identifiers (channel, serial number…) typed as numbers by Excel stay identifiers.
            found[key] = str(int(value)) if value.is_integer() else str(value)
    return found


def _excel_times_to_unix(
    values: pd.Series,
    *,
    timezone: str,
    label: str,
    sheet: str,
    header: str,
    first_row: int,
    elapsed_seconds: np.ndarray | None,
) -> np.ndarray:
    present = values.dropna()
    if present.empty:
        return np.full(len(values), np.nan)
    first = present.iloc[0]
    if isinstance(first, str):
        return timestamps_to_unix_seconds(
            values.astype("string"),
            timezone=timezone,
            file_label=label,
            column=header,
            first_line=first_row,
            elapsed_seconds=elapsed_seconds,
        )
    if isinstance(first, int | float) and not isinstance(first, bool):
        numbers = pd.to_numeric(values, errors="coerce")
        _check_numbers(values, numbers, label=label, sheet=sheet, header=header, first_row=first_row)
        return _ole_days_to_unix(numbers.to_numpy(dtype=np.float64), timezone, elapsed_seconds)
    parsed = pd.to_datetime(values, errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CorruptFile(
            label,
            f"sheet {sheet!r}, column {header!r}: {values.iloc[row]!r} is not a date",
            line=first_row + row,
        )
    return naive_to_unix_seconds(parsed, timezone, elapsed_seconds)


def _check_numbers(
    values: pd.Series, numbers: pd.Series, *, label: str, sheet: str, header: str, first_row: int
) -> None:
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CorruptFile(
            label,
            f"sheet {sheet!r}, column {header!r}: value {str(values.iloc[row])[:40]!r} is not a number",
            line=first_row + row,
        )


class ArbinXlsx(Connector):
    name = NAME_XLSX
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        names = sniffed_sheet_names(head)
        return any(_DATA_SHEET.match(n) and not _SKIPPED_SHEET.search(n) for n in names)

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        workbook = open_workbook(path)
        try:
            metadata: dict[str, Any] = {}
            sheets: list[str] = []
            headers: list[str] | None = None
            for sheet in workbook.worksheets:
                title = sheet.title
                if title.lower().startswith("global_info"):
                    metadata.update(_global_info(sheet, timezone))
                    continue
                if not _DATA_SHEET.match(title) or _SKIPPED_SHEET.search(title):
                    continue
                first = next(sheet.iter_rows(max_row=1, values_only=True), ())
                row = [str(h).strip() if h is not None else "" for h in first]
                while row and not row[-1]:
                    row.pop()
                if not {split_header(h)[0] for h in row} >= _SIGNATURE:
                    continue
                if headers is None:
                    headers = row
                elif row != headers:
                    raise CorruptFile(
                        label, f"sheet {title!r}: header differs from sheet {sheets[0]!r}'s", line=1
                    )
                sheets.append(title)
        finally:
            workbook.close()
        if headers is None:
            raise CorruptFile(label, "no Channel_* sheet with an Arbin header (Test_Time, Current, Voltage)")
        mapped, unmapped = map_headers(headers, RULES, label)
        metadata["data_sheets"] = ", ".join(sheets)
        elapsed_column = next((c for c in mapped if c.rule.canonical == "test_time_second"), None)
        width = len(headers)

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            selected = _selected(mapped, wanted)

            def make(rows: list[tuple[Any, ...]], title: str, first_row: int) -> pd.DataFrame:
                return self._frame(rows, headers, selected, timezone, label, title, first_row, elapsed_column)

            book = open_workbook(path)
            total = 0
            try:
                for title in sheets:
                    rows: list[tuple[Any, ...]] = []
                    first_row = 2
                    row_number = 1
                    for values in book[title].iter_rows(min_row=2, max_col=width, values_only=True):
                        row_number += 1
                        if not rows:
                            first_row = row_number
                        rows.append(values)
                        if len(rows) >= chunk_rows:
                            frame = make(rows, title, first_row)
                            total += len(frame)
                            rows = []
                            if len(frame):
                                yield frame
                    if rows:
                        frame = make(rows, title, first_row)
                        total += len(frame)
                        if len(frame):
                            yield frame
            except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
                raise CorruptFile(label, f"unreadable worksheet data ({type(exc).__name__}: {exc})") from exc
            finally:
                book.close()
            if total == 0:
                raise CorruptFile(label, "no data rows under the header", line=2)

        return StreamedRead(
            format=NAME_XLSX,
            parser_version=PARSER_VERSION,
            columns=tuple(c.rule.canonical for c in mapped),
            chunks=chunks,
            first_data_line=None,
            metadata=metadata,
            unmapped_columns=tuple(unmapped),
        )

    @staticmethod
    def _frame(
        rows: list[tuple[Any, ...]],
        headers: list[str],
        selected: list[MappedColumn],
        timezone: str,
        label: str,
        sheet: str,
        first_row: int,
        elapsed_column: MappedColumn | None,
    ) -> pd.DataFrame:
        width = len(headers)
        raw = pd.DataFrame.from_records(
            [r if len(r) == width else (tuple(r) + (None,) * width)[:width] for r in rows], columns=headers
        )
        keep = raw.notna().any(axis=1).to_numpy()
        clock = next((c for c in selected if c.rule.canonical == "unix_time_second"), None)
        elapsed = None
        if clock is not None and elapsed_column is not None:
            elapsed = pd.to_numeric(raw[elapsed_column.header], errors="coerce").to_numpy(dtype=np.float64)
            elapsed = elapsed * elapsed_column.factor
        frame = pd.DataFrame(index=pd.RangeIndex(int(keep.sum())))
        offsets = np.flatnonzero(keep)
        for column in selected:
            values = raw[column.header]
            if column.rule.canonical == "unix_time_second":
                times = _excel_times_to_unix(
                    values,
                    timezone=timezone,
                    label=label,
                    sheet=sheet,
                    header=column.header,
                    first_row=first_row,
                    elapsed_seconds=elapsed,
                )
                frame[column.rule.canonical] = times[offsets]
                continue
            if values.dtype.kind in "fiu":
                numbers = values.astype(np.float64)
            else:
                numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
                _check_numbers(
                    values, numbers, label=label, sheet=sheet, header=column.header, first_row=first_row
                )
            array = numbers.to_numpy(dtype=np.float64)[offsets]
            frame[column.rule.canonical] = array * column.factor if column.factor != 1.0 else array
        return _finish(frame)
