"""Neware BTSDA Excel exports: the record sheets read as the flat CSV."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from connectors.base import (
    DEFAULT_CHUNK_ROWS,
    Connector,
    FileHead,
    StreamedRead,
)
from connectors.errors import CorruptFile
from connectors.neware_csv import NewareCsv
from connectors.neware_rules import NAME_XLSX, PARSER_VERSION, _is_flat_header
from connectors.tabular import (
    open_workbook,
    sniffed_sheet_names,
)

_RECORD_SHEET = re.compile(r"^(record|detail)", re.IGNORECASE)


def _xlsx_text(value: Any) -> str:
    """An Excel cell as the CSV export would write it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 60:09.6f}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class NewareXlsx(Connector):
    """Neware BTSDA Excel export: the record sheets (``record``/``Record_2``… or ``Detail_…``) hold the flat
    CSV layout, row for row, and are read exactly as the CSV is: each record sheet is written out, in
    workbook order and under one header, as CSV text into a temporary file that lives as long as the stream
    (line numbers in errors are rows of the record sheets laid end to end, header = line 1). Info and
    Cycle/Step summary sheets are skipped. Recognised by the zip magic and a record sheet name in
    ``xl/workbook.xml``; a record sheet without a Neware header is a CorruptFile."""

    name = NAME_XLSX
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        names = sniffed_sheet_names(head)
        return any(_RECORD_SHEET.match(n) for n in names) and not any(n.startswith("Channel") for n in names)

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        book = open_workbook(path)
        scratch = tempfile.TemporaryDirectory(prefix="blc-neware-xlsx-")
        text_path = Path(scratch.name) / label  # same name: errors name the workbook
        sheets: list[str] = []
        header: list[str] | None = None
        try:
            with text_path.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                for sheet in book.worksheets:
                    if not _RECORD_SHEET.match(sheet.title):
                        continue
                    rows = sheet.iter_rows(values_only=True)
                    first = [_xlsx_text(v).strip() for v in next(rows, ())]
                    while first and not first[-1]:
                        first.pop()
                    if header is None:
                        header = first
                        writer.writerow(header)
                    elif first != header:
                        raise CorruptFile(
                            label, f"sheet {sheet.title!r}: header differs from sheet {sheets[0]!r}'s"
                        )
                    sheets.append(sheet.title)
                    width = len(header)
                    for values in rows:
                        cells = [_xlsx_text(v) for v in values[:width]]
                        if any(cells):
                            writer.writerow(cells)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
            scratch.cleanup()
            raise CorruptFile(label, f"unreadable worksheet data ({type(exc).__name__}: {exc})") from exc
        except CorruptFile:
            scratch.cleanup()
            raise
        finally:
            book.close()
        if header is None or not _is_flat_header(",".join(header)):
            scratch.cleanup()
            raise CorruptFile(
                label, "no record sheet with a Neware header (Cycle Index, Step Type, Current, Voltage)"
            )
        inner = NewareCsv().stream(text_path, timezone=timezone, chunk_rows=chunk_rows)

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            _ = scratch  # the temporary CSV lives as long as this reader
            yield from inner.chunks(wanted)

        return dataclasses.replace(
            inner,
            format=NAME_XLSX,
            chunks=chunks,
            metadata={
                **inner.metadata,
                "export_layout": "xlsx record sheets",
                "data_sheets": ", ".join(sheets),
            },
        )
