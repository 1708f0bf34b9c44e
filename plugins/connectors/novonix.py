"""Novonix HPC / UHPC CSV exports.

- A header block of ``[Summary]`` (``Channel:``, ``Cell:``, ``Protocol:``, ``Capacity (Ah):``, ``Started:``…),
  ``[Protocol]`` … ``[End Protocol]`` and ``[Data]`` sections, then the column header and the rows:
  ``Date and Time, Cycle Number, Step Type, Run Time (h), Step Time (h), Current (A), Potential (V),
  Capacity (Ah), Temperature (°C), Circuit Temperature (°C), Energy (Wh), …, Step Number, Step position``.
  Older exports lack ``Step Type``/``Energy`` and write the step type code under ``Step Number``.
- Some copies (e.g. BEEP's test files) wrap every data line in double quotes
  (``"2022-04-11 10:58:07 AM,1,…"``), which a CSV reader takes as one field: the quotes are stripped line
  by line before parsing.
- Times are in hours (``Run Time (h)`` → ``test_time_second``, ``Step Time (h)`` → ``step_time_second``);
  ``Date and Time`` is the lab's local wall clock with AM/PM (``2022-04-11 10:58:07 AM`` or
  ``1/3/2019 7:41:32 PM``) at one-second resolution.
- ``Current (A)`` is signed with charge positive (discharge rows are negative), kept as written. The step type
  code (0 rest, 1 CC charge, 2 CC discharge, 7/8 CC/CV part of CC-CV charge, 9/10 of CC-CV discharge) is not
  used for the sign: older exports mark CC discharges with 1.
- ``Capacity (Ah)`` and ``Energy (Wh)`` are *net* counters (signed, negative after a discharge in older
  exports, carried across steps and cycles): there is no canonical column for a net counter, so they are left
  unmapped (``unmapped_columns``) and per-cycle capacities come from integrating the current.
- ``Cycle Number`` → ``cycle_count``; ``Step Number`` → ``step_id``; ``Temperature (°C)`` (the cell probe)
  → ``temperature_t1_celsius``; ``Circuit Temperature`` (the instrument's board) is left unmapped.
- A ``<stem>_metadata.csv`` sidecar beside the file (Novonix's per-cycle summary:
  ``Cycle, Qc, Qd, Ec, Ed, CE…``) is read by `read_summary_sidecar`; `read`/`stream` note its name and
  cycle count in the metadata.

Recognised by the ``[Summary]`` block naming Novonix, or by a column header with ``Date and Time``,
``Run Time (h)`` and ``Potential (V)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.errors import CorruptFile
from connectors.tabular import (
    ColumnRule,
    MappedColumn,
    locate_broken_line,
    map_headers,
    split_header,
    table_to_frame,
)
from connectors.timestamps import (
    is_number,
    timestamps_to_unix_seconds,
)

NAME = "novonix_csv"
PARSER_VERSION = "1"

RULES: dict[str, ColumnRule] = {
    "date_and_time": ColumnRule("unix_time_second", "time", kind="text"),
    "cycle_number": ColumnRule("cycle_count", "count"),
    "step_number": ColumnRule("step_id", "count"),
    "run_time": ColumnRule("test_time_second", "time", "h"),
    "step_time": ColumnRule("step_time_second", "time", "h"),
    "current": ColumnRule("current_ampere", "current", "a"),
    "potential": ColumnRule("voltage_volt", "voltage", "v"),
    "temperature": ColumnRule("temperature_t1_celsius", "temperature", "c"),
}
_REQUIRED = ("run_time", "current", "potential")
_HEADER_SEARCH_LINES = 400
#: Sidecar column → our per-cycle name (as in processors.cycle_stats / batteryarchive_cycles).
_SIDECAR_COLUMNS: dict[str, str] = {
    "Cycle": "cycle_index",
    "Qc": "charge_capacity_ah",
    "Qd": "discharge_capacity_ah",
    "Ec": "charge_energy_wh",
    "Ed": "discharge_energy_wh",
    "CE": "coulombic_efficiency",
    "EE": "energy_efficiency",
    "AverageChargeVoltage": "voltage_charge_mean_v",
    "AverageDischargeVoltage": "voltage_discharge_mean_v",
}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip('"').split(",")]


def find_header_line(text: str) -> int | None:
    """1-based line of the column header (quoted or not) among the first lines, or None."""
    for number, line in enumerate(text.splitlines()[:_HEADER_SEARCH_LINES], start=1):
        if "," not in line or line.lstrip().startswith("["):
            continue
        keys = {split_header(cell)[0] for cell in _cells(line)}
        if "date_and_time" in keys and set(_REQUIRED) <= keys:
            return number
    return None


class NovonixCsv(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        text = head.text
        if text.startswith("[Summary]") and "Novonix" in text[:2000]:
            return True
        return find_header_line(text) is not None

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        head = FileHead.read(path).text
        header_line = find_header_line(head)
        if header_line is None:
            raise CorruptFile(label, "no Novonix column header (Date and Time, Run Time (h), Potential (V)…)")
        headers = _cells(head.splitlines()[header_line - 1])
        mapped, unmapped = map_headers(headers, RULES, label)
        metadata = _metadata(head, header_line, path)
        first_line = header_line + 1

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            selected = [c for c in mapped if wanted is None or c.rule.canonical in wanted]
            rows = 0
            for frame in _iter_table(path, label, header_line, headers, selected, chunk_rows):
                if "unix_time_second" in frame:
                    frame["unix_time_second"] = timestamps_to_unix_seconds(
                        frame["unix_time_second"],
                        timezone=timezone,
                        file_label=label,
                        column="Date and Time",
                        first_line=first_line + rows,
                    )
                rows += len(frame)
                yield to_canonical(frame)
            if rows == 0:
                raise CorruptFile(label, "no data rows after the header", line=first_line)

        return StreamedRead(
            format=NAME,
            parser_version=PARSER_VERSION,
            columns=tuple(c.rule.canonical for c in mapped),
            chunks=chunks,
            first_data_line=first_line,
            metadata=metadata,
            unmapped_columns=tuple(h for h in unmapped if h),
        )


def _iter_table(
    path: Path,
    label: str,
    header_line: int,
    headers: list[str],
    columns: list[MappedColumn],
    chunk_rows: int,
) -> Iterator[pd.DataFrame]:
    """The rows after the header, `chunk_rows` lines at a time, quotes stripped, mapped columns in SI."""
    bad_rows: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.actual_columns)
        return "skip"

    read_options = pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(headers))])
    parse_options = pacsv.ParseOptions(quote_char=False, invalid_row_handler=on_invalid_row)
    position = {c.header: f"c{headers.index(c.header)}" for c in columns}
    convert_options = pacsv.ConvertOptions(
        column_types={
            position[c.header]: pa.string() if c.rule.kind == "text" else pa.float64() for c in columns
        },
        include_columns=list(position.values()),
        strings_can_be_null=True,
    )
    with path.open("rb") as handle:
        for _ in range(header_line):
            handle.readline()
        while True:
            lines = list(islice(handle, chunk_rows))
            if not lines:
                break
            block = b"".join(lines).replace(b'"', b"")
            del lines
            try:
                table = pacsv.read_csv(
                    pa.py_buffer(block),
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise _locate_broken_line(path, label, header_line, headers, columns) from exc
            if bad_rows:
                raise _locate_broken_line(path, label, header_line, headers, columns)
            frame = table_to_frame(table, columns, position)
            if len(frame):
                yield frame


def _locate_broken_line(
    path: Path, label: str, header_line: int, headers: list[str], columns: list[MappedColumn]
) -> CorruptFile:
    """The shared error-path scan, on rows with their wrapping quotes taken off."""
    return locate_broken_line(
        path, label, header_line, headers, columns, ",", clean=lambda text: text.replace('"', "")
    )


_SUMMARY_KEYS = {
    "Channel": "channel",
    "Cell": "cell_name",
    "Serial Number": "serial_number",
    "Description": "description",
    "Protocol": "procedure",
    "Started": "start_time",
    "Version": "software_version",
}
_SUMMARY_NUMBERS = {"Capacity (Ah)": "nominal_capacity_ah", "Mass (g)": "mass_g", "Area (cm2)": "area_cm2"}


def _metadata(head: str, header_line: int, path: Path) -> dict[str, Any]:
    """What the ``[Summary]`` block says (cell, protocol, nominal capacity, start), and the sidecar's name."""
    found: dict[str, Any] = {}
    lines = head.splitlines()[: header_line - 1]
    in_summary = False
    for raw in lines:
        line = raw.strip().strip('"')
        if line == "[Summary]":
            in_summary = True
            continue
        if line == "[End Summary]":
            break
        if not in_summary or ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        if not value:
            continue
        if key in _SUMMARY_KEYS:
            found.setdefault(_SUMMARY_KEYS[key], value)
        elif key in _SUMMARY_NUMBERS and is_number(value):
            found[_SUMMARY_NUMBERS[key]] = float(value)
    sidecar = summary_sidecar_path(path)
    if sidecar is not None:
        found["summary_sidecar"] = sidecar.name
        summary = read_summary_sidecar(sidecar)
        found["summary_cycles"] = float(len(summary))
    return found


def summary_sidecar_path(path: Path) -> Path | None:
    """``<stem>_metadata.csv`` beside the data file, when it exists."""
    candidate = path.with_name(f"{path.stem}_metadata.csv")
    return candidate if candidate.is_file() and candidate != path else None


def read_summary_sidecar(path: Path) -> pd.DataFrame:
    """Novonix's per-cycle summary sidecar (``,Cycle,…,Qc,…,Qd,…``) with our per-cycle column names where one
    exists (cycle_index, charge/discharge_capacity_ah, charge/discharge_energy_wh,
    coulombic/energy_efficiency, voltage_charge/discharge_mean_v); other columns keep their Novonix names."""
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptFile(path.name, f"unreadable Novonix summary sidecar: {exc}") from exc
    frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed")])
    if "Cycle" not in frame.columns:
        raise CorruptFile(path.name, "Novonix summary sidecar without a Cycle column", line=1)
    frame = frame.rename(columns=_SIDECAR_COLUMNS)
    frame["cycle_index"] = frame["cycle_index"].astype("Int64")
    return frame


CONNECTOR = NovonixCsv()
