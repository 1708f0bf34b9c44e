"""Generic delimited text read as a YAML mapping file beside it says (CSVs no other connector knows).

How the mapping is found (first match wins):

1. ``<data>.mapping.yaml`` (or ``.yml``) next to the data file, ``<data>`` being the file name without its
   last extension (``run1.csv`` → ``run1.mapping.yaml``): for one file;
2. ``blc-mapping.yaml`` (or ``.yml``) in the same folder: for every file of that folder no other connector
   recognises.

Recognised by content *and* mapping: ``sniff`` accepts a text file only when a mapping exists beside it and
the file's header line (at ``header_line``, split by ``delimiter``) holds every vendor header the mapping
names. (When the mapping itself is invalid, sniff accepts so that reading reports the mapping's error.) The
registry should try this connector last: vendor connectors win for the files they know.

The mapping (every key but ``current_sign`` and ``columns`` is optional)::

    delimiter: ";"                  # one character, default ","; "\\t" or "tab" for tabs
    header_line: 3                  # 1-based line of the column header, default 1; data follows it
    decimal: ","                    # "." (default) or ","
    current_sign: charge_negative   # charge_positive | charge_negative (the file's convention)
    timezone: Europe/Berlin         # naive timestamps are in this zone (default: the caller's, e.g. UTC)
    metadata:                       # copied into the result's metadata
      cell_id: RIG-B7-0042
      nominal_capacity_ah: 0.07
    columns:                        # vendor header (exact text) → canonical column
      "Zeit [min]": {name: test_time_second, unit: min}
      "Datum": {name: unix_time_second, format: "%d.%m.%Y %H:%M:%S"}
      "U [V]": voltage_volt         # short form: the SI unit
      "I [mA]": {name: current_ampere, unit: mA}
      "Q_lade [mAh]": {name: cycle_charging_capacity_ah, unit: mAh}
      "Zyklus": {name: cycle_count}

Column ``name`` is a canonical (BDF machine) name of ``connectors.base.CANONICAL_DTYPES`` (not
``cycle_index``, which the pipeline derives). ``unit`` is one of ``connectors.tabular.UNIT_FACTORS`` for that
quantity (A, mA, µA; V, mV; s, ms, min, h; Ah, mAh, As; Wh, mWh, J; W, mW; ohm, mohm; degC), default the SI
unit; counters take no unit. ``format`` says how a time is written: ``number`` (default), ``duration``
(``hh:mm:ss[.fff]`` or ``Nd hh:mm:ss``; for ``*_second`` durations), or, for ``unix_time_second``,
``timestamp`` (format guessed from the first value) or an explicit strftime format. A number in
``unix_time_second`` is UTC epoch seconds. ``test_time_second`` is required unless timestamps are mapped (it
is then time since the first timestamp); ``voltage_volt`` and ``current_ampere`` are required.

Values come out in SI units with positive current = charge (``charge_negative`` flips current and power).
Which counter name to choose depends on its reset scope (see the team's conventions); a counter that
restarts every step has no canonical column: leave it out of ``columns`` and it is reported unmapped, like
every header the mapping does not name. A mapping with an unknown key, canonical name, unit or format, a
missing required column, or a header the file lacks raises `MappingError` naming the mapping file and key.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import yaml

from connectors.base import CANONICAL_DTYPES, DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead
from connectors.bdf import canonical_chunks
from connectors.errors import ConnectorError, CorruptFile, UnsupportedFormat
from connectors.tabular import (
    UNIT_FACTORS,
    ColumnRule,
    MappedColumn,
    read_header_row,
    stream_headed_csv,
)
from connectors.timestamps import (
    timestamps_to_unix_seconds,
)

NAME = "generic_csv"
PARSER_VERSION = "1"

MAPPING_SUFFIXES = (".mapping.yaml", ".mapping.yml")
FOLDER_MAPPINGS = ("blc-mapping.yaml", "blc-mapping.yml")
SIGNS = ("charge_positive", "charge_negative")

_TOP_KEYS = {"delimiter", "header_line", "decimal", "current_sign", "timezone", "metadata", "columns"}
_COLUMN_KEYS = {"name", "unit", "format"}
_COUNTS = {"record_index", "cycle_count", "step_count", "step_id"}
_SI_UNIT = {"current": "a", "voltage": "v", "time": "s", "capacity": "ah", "energy": "wh", "power": "w"}
_SI_UNIT |= {"resistance": "ohm", "temperature": "degc", "count": ""}


class MappingError(ConnectorError):
    """The mapping file is invalid, or does not fit the data file (names the mapping file and the key)."""


def quantity_of(name: str) -> str | None:
    """The UNIT_FACTORS quantity of a canonical column (None: not allowed in a mapping)."""
    if name not in CANONICAL_DTYPES or name == "cycle_index":
        return None
    if name in _COUNTS:
        return "count"
    for suffix, quantity in (
        ("_second", "time"),
        ("_ampere", "current"),
        ("_volt", "voltage"),
        ("_watt", "power"),
        ("_ah", "capacity"),
        ("_wh", "energy"),
        ("_ohm", "resistance"),
        ("_celsius", "temperature"),
    ):
        if name.endswith(suffix):
            return quantity
    return None


@dataclass(frozen=True)
class ColumnSpec:
    header: str
    name: str
    factor: float = 1.0
    #: "number", "duration" or "timestamp".
    kind: str = "number"
    #: strftime format of a timestamp column (None: guessed from the first value).
    timestamp_format: str | None = None


@dataclass(frozen=True)
class CsvMapping:
    path: Path
    columns: tuple[ColumnSpec, ...]
    current_sign: str
    delimiter: str = ","
    header_line: int = 1
    decimal: str = "."
    timezone: str | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def find_mapping(data_path: Path) -> Path | None:
    """The mapping file that applies to `data_path`, or None."""
    for suffix in MAPPING_SUFFIXES:
        candidate = data_path.with_name(f"{data_path.stem}{suffix}")
        if candidate.is_file():
            return candidate
    for name in FOLDER_MAPPINGS:
        candidate = data_path.with_name(name)
        if candidate.is_file():
            return candidate
    return None


def load_mapping(path: Path) -> CsvMapping:
    """Read and validate a mapping file; MappingError names the file and the offending key."""
    label = path.name

    def fail(key: str, message: str) -> MappingError:
        return MappingError(label, f"{key}: {message}")

    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingError(label, f"not a readable YAML file ({exc})") from exc
    if not isinstance(content, dict):
        raise MappingError(label, "the mapping must be a YAML mapping (key: value lines)")
    unknown = sorted(str(k) for k in content if k not in _TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")

    delimiter = content.get("delimiter", ",")
    delimiter = "\t" if delimiter in ("tab", "\\t") else delimiter
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise fail("delimiter", f"{delimiter!r} is not one character")
    header_line = content.get("header_line", 1)
    if not isinstance(header_line, int) or isinstance(header_line, bool) or header_line < 1:
        raise fail("header_line", f"{header_line!r} is not a line number (1, 2, …)")
    decimal = content.get("decimal", ".")
    if decimal not in (".", ","):
        raise fail("decimal", f"{decimal!r} is neither '.' nor ','")
    if decimal == delimiter:
        raise fail("decimal", f"{decimal!r} is also the delimiter")
    if "current_sign" not in content:
        raise fail("current_sign", f"missing: say whether charging current is positive or negative ({SIGNS})")
    current_sign = content["current_sign"]
    if current_sign not in SIGNS:
        raise fail("current_sign", f"{current_sign!r} is not one of {', '.join(SIGNS)}")
    timezone = content.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise fail("timezone", f"{timezone!r} is not an IANA time zone (e.g. Europe/Berlin)") from exc
    metadata = content.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise fail("metadata", "must be a mapping of key: value")
    metadata = {str(k): v for k, v in metadata.items() if v is not None}
    if "nominal_capacity_ah" in metadata:
        try:
            metadata["nominal_capacity_ah"] = float(metadata["nominal_capacity_ah"])
        except (TypeError, ValueError) as exc:
            raise fail(
                "metadata.nominal_capacity_ah", f"{metadata['nominal_capacity_ah']!r} is not a number"
            ) from exc

    raw_columns = content.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise fail("columns", "missing or empty: map vendor headers to canonical names")
    specs: list[ColumnSpec] = []
    taken: dict[str, str] = {}
    for header, raw in raw_columns.items():
        specs.append(_column_spec(str(header), raw, fail))
        name = specs[-1].name
        if name in taken:
            raise fail(f"columns[{header!r}]", f"{name} is already mapped from {taken[name]!r}")
        taken[name] = str(header)
    for required in ("voltage_volt", "current_ampere"):
        if required not in taken:
            raise fail("columns", f"no column is mapped to the required {required}")
    if "test_time_second" not in taken and "unix_time_second" not in taken:
        raise fail("columns", "no column is mapped to test_time_second (or to unix_time_second to derive it)")
    return CsvMapping(
        path=path,
        columns=tuple(specs),
        current_sign=current_sign,
        delimiter=delimiter,
        header_line=header_line,
        decimal=decimal,
        timezone=None if timezone is None else str(timezone),
        metadata=metadata,
    )


def _column_spec(header: str, raw: Any, fail: Any) -> ColumnSpec:
    key = f"columns[{header!r}]"
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise fail(key, "must be a canonical name or {name: …, unit: …, format: …}")
    unknown = sorted(str(k) for k in raw if k not in _COLUMN_KEYS)
    if unknown:
        raise fail(f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_COLUMN_KEYS))})")
    name = raw.get("name")
    quantity = quantity_of(str(name)) if name is not None else None
    if quantity is None:
        allowed = ", ".join(n for n in CANONICAL_DTYPES if quantity_of(n) is not None)
        raise fail(f"{key}.name", f"{name!r} is not a canonical column ({allowed})")
    fmt = raw.get("format", "number")
    if not isinstance(fmt, str):
        raise fail(f"{key}.format", f"{fmt!r} is not text")
    kind, timestamp_format = "number", None
    if fmt == "duration":
        if quantity != "time" or name == "unix_time_second":
            raise fail(f"{key}.format", f"duration only suits elapsed times (*_second), not {name}")
        kind = "duration"
    elif fmt == "timestamp" or "%" in fmt:
        if name != "unix_time_second":
            raise fail(f"{key}.format", f"timestamps map to unix_time_second, not {name}")
        kind, timestamp_format = "timestamp", (None if fmt == "timestamp" else fmt)
    elif fmt != "number":
        raise fail(f"{key}.format", f"{fmt!r} is not number, duration, timestamp or a strftime format")
    unit = raw.get("unit")
    factor = 1.0
    if unit is not None:
        if kind != "number":
            raise fail(f"{key}.unit", f"a {kind} column takes no unit")
        factors = UNIT_FACTORS[quantity]
        unit_key = str(unit).strip().replace(" ", "")
        unit_key = unit_key if unit_key in factors else unit_key.lower()
        if quantity == "count" and unit_key == "1":
            unit_key = ""
        if unit_key not in factors:
            known = ", ".join(sorted(k for k in factors if k)) or "none"
            raise fail(f"{key}.unit", f"{unit!r} is not a {quantity} unit ({known})")
        factor = factors[unit_key]
    return ColumnSpec(
        header=header, name=str(name), factor=factor, kind=kind, timestamp_format=timestamp_format
    )


class GenericCsv(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        try:
            if head.is_binary or head.path.name.lower().endswith((".yaml", ".yml")):
                return False
            mapping_path = find_mapping(head.path)
            if mapping_path is None:
                return False
            try:
                mapping = load_mapping(mapping_path)
            except MappingError:
                return True
            lines = head.text.splitlines()
            if len(lines) < mapping.header_line:
                return False
            cells = next(csv.reader([lines[mapping.header_line - 1]], delimiter=mapping.delimiter), [])
            present = {cell.strip() for cell in cells}
            return all(spec.header in present for spec in mapping.columns)
        except Exception:
            return False

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        mapping_path = find_mapping(path)
        if mapping_path is None:
            raise UnsupportedFormat(
                path.name,
                f"no mapping beside it ({path.stem}{MAPPING_SUFFIXES[0]} or {FOLDER_MAPPINGS[0]})",
            )
        return stream_with_mapping(path, load_mapping(mapping_path), timezone=timezone, chunk_rows=chunk_rows)


def stream_with_mapping(
    path: Path, mapping: CsvMapping, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> StreamedRead:
    """Read `path` as `mapping` says (also usable with a mapping from elsewhere)."""
    label = path.name
    zone = mapping.timezone or timezone
    headers = read_header_row(path, header_line=mapping.header_line, delimiter=mapping.delimiter)
    present = set(headers)
    for spec in mapping.columns:
        if spec.header not in present:
            shown = ", ".join(repr(h) for h in headers[:20])
            raise MappingError(
                mapping.path.name,
                f"columns[{spec.header!r}]: {label} has no such column on line {mapping.header_line} "
                f"(it has: {shown})",
            )
    comma = mapping.decimal == ","
    mapped: list[MappedColumn] = []
    sources: dict[str, str] = {}
    for spec in mapping.columns:
        sources[spec.name] = spec.header
        if spec.kind == "timestamp":
            rule = ColumnRule("_timestamp", "time", kind="text")
        elif spec.kind == "duration":
            rule = ColumnRule(spec.name, "time", kind="duration")
        elif comma:
            rule = ColumnRule(f"_comma_{spec.name}", "count", kind="text")
        else:
            rule = ColumnRule(spec.name, "count")
        mapped.append(MappedColumn(spec.header, rule, spec.factor))
    named = {spec.header for spec in mapping.columns}
    unmapped = [h for h in headers if h and h not in named]
    has_test_time = "test_time_second" in sources
    columns = tuple(name for name in CANONICAL_DTYPES if name in sources or name == "test_time_second")
    first_line = mapping.header_line + 1
    inner = stream_headed_csv(
        path,
        {},
        format_name=NAME,
        parser_version=PARSER_VERSION,
        timezone=zone,
        chunk_rows=chunk_rows,
        finish=lambda frame: frame,
        header_line=mapping.header_line,
        delimiter=mapping.delimiter,
        mapping=(mapped, unmapped),
        produces=columns,
    )
    by_helper = {m.rule.canonical: m for m in mapped}
    timestamp_spec = next((s for s in mapping.columns if s.kind == "timestamp"), None)

    def converted(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        inner_wanted = None if wanted is None else [*wanted, "unix_time_second"]
        rows = 0
        origin: float | None = None
        for frame in inner.chunks(inner_wanted):
            line = first_line + rows
            for helper in [c for c in frame.columns if c.startswith("_comma_")]:
                column = by_helper[helper]
                frame[helper.removeprefix("_comma_")] = (
                    _comma_numbers(frame.pop(helper), label=label, header=column.header, first_line=line)
                    * column.factor
                )
            if timestamp_spec is not None:
                frame["unix_time_second"] = _timestamps(
                    frame.pop("_timestamp"), timestamp_spec, zone=zone, label=label, first_line=line
                )
            if not has_test_time:
                if origin is None:
                    valid = frame["unix_time_second"].dropna()
                    if valid.empty:
                        raise CorruptFile(label, "no timestamp to derive the test time from", line=line)
                    origin = float(valid.iloc[0])
                frame["test_time_second"] = frame["unix_time_second"] - origin
            if mapping.current_sign == "charge_negative":
                for name in ("current_ampere", "power_watt"):
                    if name in frame:
                        frame[name] = 0.0 - frame[name]  # not -x: no -0.0 for rests
            if wanted is not None:
                frame = frame[[c for c in frame.columns if c in wanted]]
            rows += len(frame)
            yield frame

    metadata = {**mapping.metadata, "mapping_file": mapping.path.name}
    if mapping.timezone:
        metadata.setdefault("timezone", mapping.timezone)
    return dataclasses.replace(
        inner,
        columns=columns,
        chunks=canonical_chunks(converted, label=label, sources=sources, first_line=first_line),
        metadata=metadata,
    )


def _comma_numbers(values: pd.Series, *, label: str, header: str, first_line: int) -> np.ndarray:
    """``3,512`` → 3.512; an empty field is missing; anything else that is not a number is an error."""
    text = values.astype("string").str.strip()
    numbers = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    bad = numbers.isna() & text.notna() & (text != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy(dtype=bool, na_value=False))[0])
        raise CorruptFile(
            label, f"column {header!r}: value {text.iloc[row]!r} is not a number", line=first_line + row
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _timestamps(values: pd.Series, spec: ColumnSpec, *, zone: str, label: str, first_line: int) -> np.ndarray:
    if spec.timestamp_format is None:
        return timestamps_to_unix_seconds(
            values, timezone=zone, file_label=label, column=spec.header, first_line=first_line
        )
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, format=spec.timestamp_format, errors="coerce")
    bad = parsed.isna() & text.notna() & (text != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy(dtype=bool))[0])
        raise CorruptFile(
            label,
            f"column {spec.header!r}: timestamp {text.iloc[row]!r} is not {spec.timestamp_format}",
            line=first_line + row,
        )
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    since_epoch = parsed.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")
    return since_epoch.dt.total_seconds().to_numpy(dtype=np.float64)


CONNECTOR = GenericCsv()
