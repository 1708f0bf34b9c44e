"""Arbin files that are not delimited text: the MITS Pro Excel export (``.xlsx``) and the raw results
database (``.res``). Column headers are matched with the Arbin CSV connector's rules (`connectors.arbin`), so
units, sign and reset scopes are handled exactly as for Arbin CSV: positive current charges,
``Cycle_Index`` → ``cycle_count``, ``Step_Index`` → ``step_id``, and ``Charge/Discharge_Capacity`` and
``*_Energy`` restart every cycle → the ``cycle_*`` counters.

**XLSX** (``arbin_xlsx``, MITS Pro / Data Pro "Export to Excel")

- Recognised by the zip magic ``PK\\x03\\x04`` and a sheet whose name starts with ``Channel`` in
  ``xl/workbook.xml`` (read from the zip's directory; no cell is parsed to sniff).
- The data sit in worksheets named ``Channel_<n>_<k>`` (``Channel_11_1``, ``Channel_11_2``… when a
  channel outgrew one sheet): each starts with the MITS Pro header (``Date_Time, Test_Time(s),
  Step_Time(s), Step_Index, Cycle_Index, Voltage(V), Current(A), Charge_Capacity(Ah)…``); the sheets are
  read in workbook order and concatenated, and must share one header. ``Global_Info``, ``Statistics_*``
  and chart sheets (and ``Channel*`` sheets without that header) are skipped.
- ``Date_Time`` cells are Excel dates (local lab time; text or serial numbers are accepted too).
- ``Global_Info`` (a "TEST REPORT" block: test name, instrument serial number, then a row of labels —
  ``Channel, Start DateTime, Schedule File Name, Creator, Comments, Software Version, Schedule Version,
  Item ID`` — over a row of values) feeds the metadata.
- Streamed sheet by sheet with openpyxl's read-only reader. A broken value is reported with its sheet
  row as the line.

**RES** (``arbin_res``, MITS 7 / MITS Pro results file = MS Access (Jet 4) database)

- Recognised by the Jet signature (``Standard Jet DB`` at byte 4) and the table name
  ``Channel_Normal_Table`` in the database catalogue (searched in the first MiB; ``mdb-tables`` is asked
  only when it is not found there).
- Read with mdbtools (``mdb-export``, Debian package ``mdbtools``): the CSV it writes to its stdout is
  parsed chunk by chunk with pyarrow, never held whole.
- ``Channel_Normal_Table``: ``Data_Point, Test_Time, Step_Time, DateTime, Step_Index, Cycle_Index,
  Current, Voltage, Charge_Capacity, Discharge_Capacity, Charge_Energy, Discharge_Energy,
  Internal_Resistance…`` in SI units. ``DateTime`` is an OLE automation date (float days since
  1899-12-30) in the lab's local time (checked: the first point is ``Test_Time`` after
  ``Global_Table.Start_DateTime``) → ``unix_time_second``.
- ``Global_Table`` → metadata (test name, channel, start time, schedule, creator, item id, mass…;
  ``Capacity`` → ``nominal_capacity_ah`` when non-zero). ``Test_ID``, ``Is_FC_Data``, ``dV/dt``,
  ``AC_Impedance``, ``ACI_Phase_Angle`` stay unmapped. Auxiliary channels (``Auxiliary_Table``, long
  format keyed by ``Data_Point``) are not read yet: when that table holds rows, ``Auxiliary_Table`` is
  listed in ``unmapped_columns``.
- Rows are not always stored in order: ``arbin_example.res`` holds Data_Point 1321–1760 after 1761–1800
  (a block written late). A first pass over ``Test_ID, Data_Point`` checks the order; an ordered table is
  streamed, an unordered one is sorted in memory (its selected columns only).
- The first logged point of each charge/discharge step already holds the capacity of the first interval
  (≈2.9 µAh in ``arbin_example.res``): the counters are kept as written.
- A truncated database (size not a whole number of pages, or ``mdb-export`` reporting unreadable pages)
  is a CorruptFile.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.arbin import RULES
from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.errors import CorruptFile
from connectors.tabular import (
    ZIP_MAGIC,
    ColumnRule,
    MappedColumn,
    map_headers,
    naive_to_unix_seconds,
    open_workbook,
    split_header,
    timestamps_to_unix_seconds,
    workbook_sheet_names,
)

NAME_XLSX = "arbin_xlsx"
NAME_RES = "arbin_res"
PARSER_VERSION = "1"

_SIGNATURE = {"test_time", "current", "voltage"}
_COUNTERS = ("cycle_count", "step_id")
_OLE_EPOCH = pd.Timestamp("1899-12-30")


# --------------------------------------------------------------------------------------------- shared


def _ole_days_to_unix(
    days: np.ndarray, timezone: str, elapsed_seconds: np.ndarray | None = None
) -> np.ndarray:
    """OLE automation / Excel 1900-system serial days (local time) → UTC epoch seconds."""
    days = np.asarray(days, dtype=np.float64)
    # Whole microseconds: float days carry ~1 µs of resolution at today's dates.
    micros = np.round(days * 86_400e6)
    naive = pd.Series(_OLE_EPOCH + pd.to_timedelta(micros, unit="us"))
    return naive_to_unix_seconds(naive, timezone, elapsed_seconds)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    if "record_index" in frame:
        frame["record_index"] = frame["record_index"].fillna(-1).astype(np.int64)
    for counter in _COUNTERS:
        if counter in frame:
            frame[counter] = frame[counter].ffill().bfill()
    return to_canonical(frame)


def _selected(mapped: list[MappedColumn], wanted: Sequence[str] | None) -> list[MappedColumn]:
    return [
        c for c in mapped if wanted is None or c.rule.canonical in wanted or c.rule.canonical.startswith("_")
    ]


# ----------------------------------------------------------------------------------------------- XLSX

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
        if not head.raw.startswith(ZIP_MAGIC):
            return False
        try:
            names = workbook_sheet_names(head.path)
        except Exception:
            return False
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


# ------------------------------------------------------------------------------------------------ RES

_JET_MAGIC = b"Standard Jet DB"
_DATA_TABLE = "Channel_Normal_Table"
_TABLE_MARKERS = (_DATA_TABLE.encode("utf-16-le"), _DATA_TABLE.encode("ascii"))
_MARKER_SCAN_BYTES = 1 << 20
_MISSING_TOOL = "reading Arbin .res files needs mdbtools (apt-get install mdbtools)"
#: mdb-export writes these on stderr for pages it cannot read, yet may exit 0 with the rows it got.
_EXPORT_FAILURE = re.compile(r"beyond EOF|failed|error|corrupt|invalid", re.IGNORECASE)

#: Arbin's .res headers are the CSV's BEEP-style ones, except that DateTime holds OLE days, not epoch s.
#: The rows' order: Arbin may store a block of rows after later ones (arbin_example.res: Data_Point
#: 1321–1760 sit after 1761–1800), so rows are put in this order.
_ORDER_KEYS = ("Test_ID", "Data_Point")
_FALLBACK_COLUMN = "Test_Time"
RES_RULES: dict[str, ColumnRule] = {**RULES, "datetime": ColumnRule("_ole_days", "count")}

#: Global_Table column → metadata key.
_GLOBAL_TABLE_KEYS = {
    "Test_Name": "test_name",
    "Channel_Index": "channel_index",
    "Channel_Number": "channel",
    "Schedule_File_Name": "procedure",
    "Creator": "creator",
    "Comments": "comments",
    "Item_ID": "barcode",
    "Software_Version": "software_version",
    "Serial_Number": "serial_number",
    "Schedule_Version": "schedule_version",
    "MASS": "mass",
    "Specific_Capacity": "specific_capacity",
}


class MdbtoolsMissing(RuntimeError):
    """The machine lacks mdbtools: an installation problem, not a broken file."""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MdbtoolsMissing(_MISSING_TOOL)
    return found


def _run(label: str, *args: str) -> str:
    done = subprocess.run(args, capture_output=True, check=False, timeout=600)
    stderr = done.stderr.decode("utf-8", errors="replace").strip()
    if done.returncode != 0 or _EXPORT_FAILURE.search(stderr):
        raise CorruptFile(
            label, f"{Path(args[0]).name} cannot read the database: {stderr[:300] or done.returncode}"
        )
    return done.stdout.decode("utf-8", errors="replace")


def _page_size(raw: bytes) -> int:
    # Byte 0x14 holds the Jet version: 0 = Jet 3 (2 KiB pages), later versions use 4 KiB pages.
    return 2048 if len(raw) > 0x14 and raw[0x14] == 0 else 4096


def _res_metadata(label: str, path: Path, timezone: str) -> dict[str, Any]:
    text = _run(label, _tool("mdb-export"), str(path), "Global_Table")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if table.empty:
        return {}
    row = table.iloc[0]
    metadata: dict[str, Any] = {}
    for column, key in _GLOBAL_TABLE_KEYS.items():
        value = str(row.get(column, "")).strip()
        if not value:
            continue
        if key in ("mass", "specific_capacity"):
            try:
                metadata[key] = float(value)
            except ValueError:
                continue
        else:
            metadata[key] = value
    try:
        capacity = float(row.get("Capacity", ""))
    except ValueError:
        capacity = 0.0
    if capacity > 0:
        metadata["nominal_capacity_ah"] = capacity
    try:
        start = float(row.get("Start_DateTime", ""))
    except ValueError:
        start = float("nan")
    if np.isfinite(start):
        local = _OLE_EPOCH + pd.to_timedelta(round(start * 86_400e6), unit="us")
        metadata["start_time"] = local.isoformat()
        metadata["start_unix_time_second"] = float(_ole_days_to_unix(np.array([start]), timezone)[0])
    if len(table) > 1:
        metadata["test_count"] = float(len(table))
    return metadata


def _export_header(label: str, path: Path) -> list[str]:
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [_tool("mdb-export"), str(path), _DATA_TABLE], stdout=subprocess.PIPE, stderr=errors
        )
        assert process.stdout is not None
        try:
            line = process.stdout.readline().decode("utf-8", errors="replace")
        finally:
            process.kill()
            process.wait()
            process.stdout.close()
    headers = [h.strip() for h in next(csv.reader([line.rstrip("\r\n")]), [])]
    if not any(headers):
        raise CorruptFile(label, f"mdb-export cannot read {_DATA_TABLE}")
    return headers


def _table_has_rows(path: Path, table: str) -> bool:
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [_tool("mdb-export"), str(path), table], stdout=subprocess.PIPE, stderr=errors
        )
        assert process.stdout is not None
        try:
            process.stdout.readline()
            return bool(process.stdout.readline().strip())
        finally:
            process.kill()
            process.wait()
            process.stdout.close()


class ArbinRes(Connector):
    name = NAME_RES
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.raw[4:19] != _JET_MAGIC:
            return False
        if any(marker in head.raw for marker in _TABLE_MARKERS):
            return True
        try:
            with head.path.open("rb") as handle:
                more = handle.read(_MARKER_SCAN_BYTES)
            if any(marker in more for marker in _TABLE_MARKERS):
                return True
            if len(more) < _MARKER_SCAN_BYTES or shutil.which("mdb-tables") is None:
                return False
            done = subprocess.run(
                ["mdb-tables", "-1", str(head.path)], capture_output=True, check=False, timeout=20
            )
            return _DATA_TABLE in done.stdout.decode("utf-8", errors="replace").split()
        except Exception:
            return False

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        _tool("mdb-export")
        with path.open("rb") as handle:
            start = handle.read(0x20)
        if start[4:19] != _JET_MAGIC:
            raise CorruptFile(label, "no 'Standard Jet DB' signature: not an Access/Arbin .res database")
        size, page = path.stat().st_size, _page_size(start)
        if size % page:
            raise CorruptFile(
                label, f"{size} bytes is not a whole number of {page}-byte database pages (truncated copy?)"
            )
        tables = _run(label, _tool("mdb-tables"), "-1", str(path)).split()
        if _DATA_TABLE not in tables:
            raise CorruptFile(label, f"no {_DATA_TABLE} table: not an Arbin results database")
        metadata = _res_metadata(label, path, timezone) if "Global_Table" in tables else {}
        headers = _export_header(label, path)
        mapped, unmapped = map_headers(headers, RES_RULES, label)
        if "Auxiliary_Table" in tables and _table_has_rows(path, "Auxiliary_Table"):
            unmapped.append("Auxiliary_Table")
        produces = tuple(
            "unix_time_second" if c.rule.canonical == "_ole_days" else c.rule.canonical for c in mapped
        )

        keys = [k for k in _ORDER_KEYS if k in headers]
        in_order = _rows_in_order(label, path, keys, chunk_rows)

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            selected = [
                c
                for c in mapped
                if wanted is None
                or c.rule.canonical in wanted
                or (c.rule.canonical == "_ole_days" and "unix_time_second" in wanted)
            ]
            columns = [c.header for c in selected]
            # The ambiguous hour at the end of daylight saving is resolved with the test time.
            elapsed = next((c.header for c in mapped if c.rule.canonical == "test_time_second"), None)
            if elapsed is not None and any(c.rule.canonical == "_ole_days" for c in selected):
                columns = list(dict.fromkeys([*columns, elapsed]))
            else:
                elapsed = None
            if in_order:
                for table in _export_tables(label, path, columns, chunk_rows):
                    yield _res_frame(table, selected, timezone, elapsed)
                return
            # Rows stored out of order (see the module docstring): sort the selected columns in memory.
            whole = pa.concat_tables(
                list(_export_tables(label, path, list(dict.fromkeys([*columns, *keys])), chunk_rows))
            )
            order = np.lexsort(tuple(whole.column(k).to_numpy() for k in reversed(keys)))
            whole = whole.take(pa.array(order))
            for start in range(0, whole.num_rows, chunk_rows):
                yield _res_frame(whole.slice(start, chunk_rows), selected, timezone, elapsed)

        return StreamedRead(
            format=NAME_RES,
            parser_version=PARSER_VERSION,
            columns=produces,
            chunks=chunks,
            first_data_line=None,
            metadata=metadata,
            unmapped_columns=tuple(unmapped),
        )


def _export_tables(label: str, path: Path, columns: list[str], chunk_rows: int) -> Iterator[pa.Table]:
    """`columns` of the data table as float64 arrow tables of `chunk_rows` rows, in stored order, parsed
    from mdb-export's CSV while it is written (the export is never held whole)."""
    convert = pacsv.ConvertOptions(column_types={c: pa.float64() for c in columns}, include_columns=columns)
    read_options = pacsv.ReadOptions(block_size=max(1 << 16, 160 * chunk_rows))
    rows = 0
    with tempfile.TemporaryFile() as errors:
        # stderr goes to a file, not a pipe: a pipe nobody reads could fill and stall the export.
        process = subprocess.Popen(
            [_tool("mdb-export"), str(path), _DATA_TABLE], stdout=subprocess.PIPE, stderr=errors
        )
        assert process.stdout is not None
        finished = False
        try:
            try:
                reader = pacsv.open_csv(process.stdout, read_options=read_options, convert_options=convert)
                pending: list[pa.RecordBatch] = []
                held = 0
                for batch in reader:
                    pending.append(batch)
                    held += batch.num_rows
                    while held >= chunk_rows:
                        table = pa.Table.from_batches(pending)
                        rest = table.slice(chunk_rows)
                        pending, held = rest.to_batches(), rest.num_rows
                        rows += chunk_rows
                        yield table.slice(0, chunk_rows)
                if held:
                    rows += held
                    yield pa.Table.from_batches(pending)
            except pa.ArrowInvalid as exc:
                raise CorruptFile(label, f"{_DATA_TABLE} after row {rows}: {exc}") from exc
            finished = True
        finally:
            if not finished and process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
        errors.seek(0)
        stderr = errors.read().decode("utf-8", errors="replace").strip()
    if process.returncode != 0 or _EXPORT_FAILURE.search(stderr):
        raise CorruptFile(
            label,
            f"{_DATA_TABLE}: mdb-export stopped after row {rows}: {stderr[:300] or process.returncode}",
        )
    if rows == 0:
        raise CorruptFile(label, f"{_DATA_TABLE} holds no rows")


def _rows_in_order(label: str, path: Path, keys: list[str], chunk_rows: int) -> bool:
    """One pass over the key columns (which also proves the table readable to its end): are the rows
    stored in (Test_ID, Data_Point) order?"""
    if not keys:
        for _ in _export_tables(label, path, [_FALLBACK_COLUMN], chunk_rows):
            pass
        return True
    last: tuple[float, ...] | None = None
    in_order = True
    for table in _export_tables(label, path, keys, chunk_rows):
        if not in_order:
            continue
        values = np.column_stack([table.column(k).to_numpy() for k in keys])
        if last is not None:
            values = np.vstack([np.array(last), values])
        # Lexicographic non-decreasing: each row ≥ the one before.
        previous, current = values[:-1], values[1:]
        greater = current > previous
        equal = current == previous
        ok = greater[:, 0] | equal[:, 0]
        if len(keys) == 2:
            ok = greater[:, 0] | (equal[:, 0] & (current[:, 1] >= previous[:, 1]))
        in_order = bool(ok.all())
        last = tuple(values[-1])
    return in_order


def _res_frame(
    table: pa.Table, selected: list[MappedColumn], timezone: str, elapsed_column: str | None
) -> pd.DataFrame:
    frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    for column in selected:
        values = table.column(column.header).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        if column.rule.canonical == "_ole_days":
            elapsed = None
            if elapsed_column is not None:
                elapsed = table.column(elapsed_column).to_numpy(zero_copy_only=False).astype(np.float64)
            frame["unix_time_second"] = _ole_days_to_unix(values, timezone, elapsed)
            continue
        frame[column.rule.canonical] = values * column.factor if column.factor != 1.0 else values
    return _finish(frame)


CONNECTOR_XLSX = ArbinXlsx()
CONNECTOR_RES = ArbinRes()
