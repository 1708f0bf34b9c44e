"""Arbin `.res` files (MS Access databases), exported table by table with mdbtools."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.arbin import RULES
from connectors.arbin_common import _OLE_EPOCH, NAME_RES, PARSER_VERSION, _finish, _ole_days_to_unix
from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead
from connectors.errors import CorruptFile
from connectors.tabular import (
    ColumnRule,
    MappedColumn,
    map_headers,
)

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
