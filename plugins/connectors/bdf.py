"""Battery Data Format (BDF, Battery Data Alliance, ontology 1.3.0): CSV and Parquet files read, and written.

- Files: ``<name>.bdf.csv`` or ``<name>.bdf.parquet``, optionally with a ``<name>.metadata.json`` sidecar
  beside them (cell id, nominal capacity, …: its scalar values, nested keys joined with dots, become
  ``ReadResult.metadata``; ``nominal_capacity_ah`` is a float).
- Columns are BDF terms written either as header labels (``Test Time / s``, ``Current / A``) or as machine
  names (``test_time_second``, ``current_ampere``); both styles, and a mix, are read. Our canonical names
  *are* BDF machine names, and BDF already uses SI units and positive = charge, so values pass unchanged.
  A label in another unit of the same quantity (``Current / mA``, ``Charging Capacity / mAh``) is scaled;
  ``A.h``/``W.h`` spellings are accepted.
- BDF terms our canonical frame has no column for (``step_type``, pressures, ``step_*`` counters
  that restart every step, ``cumulative_*``/``net_*`` counters, T2–T5 …) and non-BDF columns go to
  ``unmapped_columns``. BDF's ``step_id`` may be text: it is mapped only when the first rows hold whole
  numbers (our ``step_id`` is an integer), else it stays unmapped.
- Recognised by content: CSV when the header line (comma, semicolon or tab separated) holds the three
  required BDF columns (test time, voltage, current) as labels or machine names; Parquet by the ``PAR1``
  magic bytes plus a schema holding those three columns.
- CSV is streamed with the shared pyarrow reader (broken lines are reported with their number); Parquet is
  streamed by record batches within row groups (``ParquetFile.iter_batches``), so memory stays flat.

`write_bdf` writes canonical frames (chunk by chunk) as BDF: header labels in CSV, machine names in Parquet,
plus the ``<stem>.metadata.json`` sidecar. Canonical columns that are not BDF terms (``cycle_index``) keep
their own name.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.base import (
    CANONICAL_DTYPES,
    DEFAULT_CHUNK_ROWS,
    REQUIRED_COLUMNS,
    ChunkReader,
    Connector,
    FileHead,
    StreamedRead,
    to_canonical,
)
from connectors.errors import CorruptFile
from connectors.tabular import UNIT_FACTORS, ColumnRule, MappedColumn, read_header_row, stream_headed_csv

NAME_CSV = "bdf_csv"
NAME_PARQUET = "bdf_parquet"
NAME = NAME_CSV
PARSER_VERSION = "1"

#: BDF 1.3.0 terms: (header label, machine name). The unit is the label's part after " / ".
BDF_TERMS: tuple[tuple[str, str], ...] = (
    ("Current / A", "current_ampere"),
    ("Test Time / s", "test_time_second"),
    ("Voltage / V", "voltage_volt"),
    ("Ambient Temperature / degC", "ambient_temperature_celsius"),
    ("Cycle Count / 1", "cycle_count"),
    ("Step Count / 1", "step_count"),
    ("Unix Time / s", "unix_time_second"),
    ("AC Internal Resistance / ohm", "ac_internal_resistance_ohm"),
    ("Absolute Impedance / ohm", "absolute_impedance_ohm"),
    ("Ambient Pressure / Pa", "ambient_pressure_pa"),
    ("Applied Pressure / Pa", "applied_pressure_pa"),
    ("Charging Capacity / Ah", "charging_capacity_ah"),
    ("Charging Energy / Wh", "charging_energy_wh"),
    ("Cumulative Capacity / Ah", "cumulative_capacity_ah"),
    ("Cumulative Energy / Wh", "cumulative_energy_wh"),
    ("Cycle Charging Capacity / Ah", "cycle_charging_capacity_ah"),
    ("Cycle Charging Energy / Wh", "cycle_charging_energy_wh"),
    ("Cycle Cumulative Capacity / Ah", "cycle_cumulative_capacity_ah"),
    ("Cycle Cumulative Energy / Wh", "cycle_cumulative_energy_wh"),
    ("Cycle Discharging Capacity / Ah", "cycle_discharging_capacity_ah"),
    ("Cycle Discharging Energy / Wh", "cycle_discharging_energy_wh"),
    ("Cycle Net Capacity / Ah", "cycle_net_capacity_ah"),
    ("Cycle Net Energy / Wh", "cycle_net_energy_wh"),
    ("DC Internal Resistance / ohm", "dc_internal_resistance_ohm"),
    ("Discharging Capacity / Ah", "discharging_capacity_ah"),
    ("Discharging Energy / Wh", "discharging_energy_wh"),
    ("Frequency / Hz", "frequency_hertz"),
    ("Imaginary Impedance / ohm", "imaginary_impedance_ohm"),
    ("Internal Resistance / ohm", "internal_resistance_ohm"),
    ("Net Capacity / Ah", "net_capacity_ah"),
    ("Net Energy / Wh", "net_energy_wh"),
    ("Phase / deg", "phase_degree"),
    ("Power / W", "power_watt"),
    ("Real Impedance / ohm", "real_impedance_ohm"),
    ("Record Index / 1", "record_index"),
    ("Schedule Charging Capacity / Ah", "schedule_charging_capacity_ah"),
    ("Schedule Charging Energy / Wh", "schedule_charging_energy_wh"),
    ("Schedule Discharging Capacity / Ah", "schedule_discharging_capacity_ah"),
    ("Schedule Discharging Energy / Wh", "schedule_discharging_energy_wh"),
    ("Step Charging Capacity / Ah", "step_charging_capacity_ah"),
    ("Step Charging Energy / Wh", "step_charging_energy_wh"),
    ("Step Cumulative Capacity / Ah", "step_cumulative_capacity_ah"),
    ("Step Cumulative Energy / Wh", "step_cumulative_energy_wh"),
    ("Step Discharging Capacity / Ah", "step_discharging_capacity_ah"),
    ("Step Discharging Energy / Wh", "step_discharging_energy_wh"),
    ("Step ID", "step_id"),
    ("Step Net Capacity / Ah", "step_net_capacity_ah"),
    ("Step Net Energy / Wh", "step_net_energy_wh"),
    ("Step Record Index / 1", "step_record_index"),
    ("Step Time / s", "step_time_second"),
    ("Step Type", "step_type"),
    ("Surface Pressure / Pa", "surface_pressure_pa"),
    ("Surface Temperature / degC", "surface_temperature_celsius"),
    ("Temperature T1 / degC", "temperature_t1_celsius"),
    ("Temperature T2 / degC", "temperature_t2_celsius"),
    ("Temperature T3 / degC", "temperature_t3_celsius"),
    ("Temperature T4 / degC", "temperature_t4_celsius"),
    ("Temperature T5 / degC", "temperature_t5_celsius"),
)
LABEL_OF: dict[str, str] = {machine: label for label, machine in BDF_TERMS}
MACHINE_NAMES: frozenset[str] = frozenset(LABEL_OF)
#: BDF terms we map: the ones our canonical frame has.
MAPPED_TERMS: frozenset[str] = frozenset(m for m in MACHINE_NAMES if m in CANONICAL_DTYPES)

#: BDF unit → the quantity key of `UNIT_FACTORS`, to scale a label written in another unit.
_QUANTITY_OF_UNIT = {
    "a": "current",
    "v": "voltage",
    "s": "time",
    "ah": "capacity",
    "wh": "energy",
    "w": "power",
    "ohm": "resistance",
    "degc": "temperature",
    "1": "count",
}
_INTEGER_COLUMNS = tuple(name for name, dtype in CANONICAL_DTYPES.items() if dtype == "Int64")
_DELIMITERS = (",", ";", "\t")
_STEP_ID_PEEK_ROWS = 200


def _norm_name(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lstrip("\ufeff")).lower()


def _norm_unit(text: str) -> str:
    return re.sub(r"[\s.·*]", "", text.strip()).lower()


#: Labels of earlier BDF drafts still written by some exporters ("Charge" where 1.3.0 says "Charging";
#: "Surface Temperature T1" before ontology 1.2.0 made the numbered channels plain "Temperature T1"): read
#: as the term they became, never dropped as unknown.
OLDER_TERMS: tuple[tuple[str, str], ...] = (
    *(
        (f"{scope}{verb} {quantity} / {unit}", f"{prefix}{machine_verb}_{machine_quantity}")
        for scope, prefix in (("", ""), ("Cycle ", "cycle_"), ("Step ", "step_"))
        for verb, machine_verb in (("Charge", "charging"), ("Discharge", "discharging"))
        for quantity, unit, machine_quantity in (
            ("Capacity", "Ah", "capacity_ah"),
            ("Energy", "Wh", "energy_wh"),
        )
    ),
    *((f"Surface Temperature T{n} / degC", f"temperature_t{n}_celsius") for n in range(1, 6)),
)
#: Machine names of earlier ontology releases (kept there as alternative labels) → the term they became.
OLDER_MACHINE_NAMES: dict[str, str] = {
    **{
        f"{prefix}{verb}_{quantity}_{old_unit}": f"{prefix}{verb}_{quantity}_{unit}"
        for prefix in ("", "cycle_", "step_")
        for verb in ("charging", "discharging")
        for quantity, old_unit, unit in (("capacity", "ampere_hour", "ah"), ("energy", "watt_hour", "wh"))
    },
    "current_a": "current_ampere",
    "power_w": "power_watt",
    "cycle_count_1": "cycle_count",
    "cycle_dimensionless": "cycle_count",
    "step_count_1": "step_count",
    "step_dimensionless": "step_count",
    "ambient_temperature_degc": "ambient_temperature_celsius",
}

#: Lower-cased label name (the part before " / ") → (machine name, BDF unit, normalised).
_BY_LABEL_NAME: dict[str, tuple[str, str]] = {}
for _label, _machine in (*BDF_TERMS, *OLDER_TERMS):
    _name, _, _unit = _label.partition(" / ")
    _BY_LABEL_NAME[_norm_name(_name)] = (_machine, _norm_unit(_unit))


@dataclasses.dataclass(frozen=True)
class _Resolved:
    machine: str
    factor: float = 1.0
    #: Set when the header names a BDF term in a unit we cannot convert.
    bad_unit: str | None = None


def resolve_header(header: str) -> _Resolved | None:
    """The BDF term a column header names (machine name or label, any unit we can scale), or None."""
    text = header.strip().lstrip("\ufeff")
    if text.lower() in MACHINE_NAMES:
        return _Resolved(text.lower())
    if text.lower() in OLDER_MACHINE_NAMES:
        return _Resolved(OLDER_MACHINE_NAMES[text.lower()])
    if "/" in text:
        name, unit = text.rsplit("/", 1)
        known = _BY_LABEL_NAME.get(_norm_name(name))
        if known is None:
            return None
        machine, bdf_unit = known
        unit_key = _norm_unit(unit)
        if unit_key == bdf_unit or (bdf_unit == "1" and unit_key == ""):
            return _Resolved(machine)
        quantity = _QUANTITY_OF_UNIT.get(bdf_unit)
        factors = UNIT_FACTORS.get(quantity, {}) if quantity else {}
        if unit_key in factors:
            return _Resolved(machine, factors[unit_key])
        return _Resolved(machine, bad_unit=unit.strip())
    known = _BY_LABEL_NAME.get(_norm_name(text))
    if known is not None and known[1] == "":
        return _Resolved(known[0])
    return None


def _has_required(headers: Iterable[str]) -> bool:
    found = set()
    for header in headers:
        resolved = resolve_header(header)
        if resolved is not None and resolved.bad_unit is None:
            found.add(resolved.machine)
    return set(REQUIRED_COLUMNS) <= found


def _csv_delimiter(first_line: str) -> str | None:
    for delimiter in _DELIMITERS:
        if delimiter in first_line:
            cells = next(csv.reader([first_line], delimiter=delimiter), [])
            if _has_required(cells):
                return delimiter
    return None


# --- metadata sidecar ------------------------------------------------------------------------------------

_SUFFIXES = (".bdf.csv", ".bdf.parquet", ".bdf.pq", ".csv", ".parquet", ".pq")


def data_stem(path: Path) -> str:
    """``cell.bdf.csv`` → ``cell``: the name the sidecar ``cell.metadata.json`` shares."""
    lower = path.name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def sidecar_path(path: Path) -> Path:
    return path.with_name(f"{data_stem(path)}.metadata.json")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif value is None:
        return
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    elif isinstance(value, int | float):
        out[prefix] = float(value)
    elif isinstance(value, str):
        out[prefix] = value
    else:
        out[prefix] = json.dumps(value, ensure_ascii=False, default=str)


_NOMINAL_ALIASES = ("nominal_capacity_ah", "nominal_capacity", "nominal capacity / ah")


def read_metadata(path: Path) -> dict[str, Any]:
    """The sidecar's content, flattened to str → str/float, or {} when there is none."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return {}
    try:
        content = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFile(sidecar.name, f"metadata sidecar is not valid JSON: {exc}") from exc
    if not isinstance(content, Mapping):
        raise CorruptFile(sidecar.name, "metadata sidecar must hold a JSON object")
    found: dict[str, Any] = {}
    _flatten("", content, found)
    for key in list(found):
        if key.lower() in _NOMINAL_ALIASES and "nominal_capacity_ah" not in content:
            found["nominal_capacity_ah"] = found.pop(key)
    if "nominal_capacity_ah" in found:
        try:
            found["nominal_capacity_ah"] = float(found["nominal_capacity_ah"])
        except ValueError as exc:
            raise CorruptFile(
                sidecar.name, f"nominal_capacity_ah {found['nominal_capacity_ah']!r} is not a number"
            ) from exc
    return found


# --- shared chunk post-processing ------------------------------------------------------------------------


def canonical_chunks(
    inner: ChunkReader,
    *,
    label: str,
    sources: Mapping[str, str],
    first_line: int | None,
) -> ChunkReader:
    """Wrap a chunk reader: check integer columns hold whole numbers (naming the line), then type them."""

    def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        rows = 0
        for frame in inner(wanted):
            for name in _INTEGER_COLUMNS:
                if name in frame:
                    values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
                    bad = ~np.isnan(values) & ((values != np.round(values)) | ~np.isfinite(values))
                    if bad.any():
                        row = int(np.flatnonzero(bad)[0])
                        value = float(values[row])
                        raise CorruptFile(
                            label,
                            f"column {sources.get(name, name)!r}: {value!r} is not a whole number",
                            line=None if first_line is None else first_line + rows + row,
                        )
            rows += len(frame)
            yield to_canonical(frame)

    return chunks


# --- CSV -------------------------------------------------------------------------------------------------


def _step_id_is_integer(path: Path, delimiter: str, position: int) -> bool:
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        for number, row in enumerate(reader):
            if number >= _STEP_ID_PEEK_ROWS:
                break
            if position >= len(row) or not row[position].strip():
                continue
            try:
                value = float(row[position])
            except ValueError:
                return False
            if not value.is_integer():
                return False
    return True


class BdfCsv(Connector):
    name = NAME_CSV
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        try:
            return not head.is_binary and _csv_delimiter(head.first_line) is not None
        except Exception:
            return False

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        with path.open("rb") as handle:
            first = handle.readline().decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
        delimiter = _csv_delimiter(first)
        if delimiter is None:
            raise CorruptFile(
                path.name, "BDF header without Test Time / s, Voltage / V and Current / A", line=1
            )
        headers = read_header_row(path, header_line=1, delimiter=delimiter)
        mapped: list[MappedColumn] = []
        unmapped: list[str] = []
        sources: dict[str, str] = {}
        for position, header in enumerate(headers):
            resolved = resolve_header(header)
            if resolved is None or resolved.machine not in MAPPED_TERMS or resolved.machine in sources:
                if header:
                    unmapped.append(header)
                continue
            if resolved.bad_unit is not None:
                raise CorruptFile(
                    path.name, f"column {header!r}: unit {resolved.bad_unit!r} cannot be converted", line=1
                )
            if resolved.machine == "step_id" and not _step_id_is_integer(path, delimiter, position):
                unmapped.append(header)
                continue
            sources[resolved.machine] = header
            mapped.append(MappedColumn(header, ColumnRule(resolved.machine, "count"), resolved.factor))
        inner = stream_headed_csv(
            path,
            {},
            format_name=NAME_CSV,
            parser_version=PARSER_VERSION,
            timezone=timezone,
            chunk_rows=chunk_rows,
            finish=lambda frame: frame,
            metadata=read_metadata(path),
            header_line=1,
            delimiter=delimiter,
            mapping=(mapped, unmapped),
            produces=tuple(c.rule.canonical for c in mapped),
        )
        columns = tuple(name for name in CANONICAL_DTYPES if name in sources)
        return dataclasses.replace(
            inner,
            columns=columns,
            chunks=canonical_chunks(inner.chunks, label=path.name, sources=sources, first_line=2),
        )


# --- Parquet ---------------------------------------------------------------------------------------------


def _parquet_columns(schema: pa.Schema) -> tuple[dict[str, tuple[str, float]], list[str]]:
    """Canonical name → (Parquet column, factor), and the columns left unmapped."""
    mapped: dict[str, tuple[str, float]] = {}
    unmapped: list[str] = []
    for field in schema:
        resolved = resolve_header(field.name)
        usable = (
            resolved is not None
            and resolved.bad_unit is None
            and resolved.machine in MAPPED_TERMS
            and resolved.machine not in mapped
            and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type))
        )
        if resolved is not None and usable:
            mapped[resolved.machine] = (field.name, resolved.factor)
        else:
            unmapped.append(field.name)
    return mapped, unmapped


class BdfParquet(Connector):
    name = NAME_PARQUET
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if not head.raw.startswith(b"PAR1"):
            return False
        try:
            return _has_required(pq.read_schema(head.path).names)
        except Exception:
            return False

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise CorruptFile(label, f"not a readable Parquet file ({exc})") from exc
        mapped, unmapped = _parquet_columns(schema)
        missing = [name for name in REQUIRED_COLUMNS if name not in mapped]
        if missing:
            raise CorruptFile(
                label, f"BDF Parquet without numeric column(s) {', '.join(missing)} (schema: {schema.names})"
            )

        def inner(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            selected = {c: src for c, src in mapped.items() if wanted is None or c in wanted}
            try:
                parquet = pq.ParquetFile(path)
                batches = parquet.iter_batches(
                    batch_size=chunk_rows, columns=[src for src, _ in selected.values()]
                )
                rows = 0
                for batch in batches:
                    frame = pd.DataFrame(index=pd.RangeIndex(batch.num_rows))
                    for canonical, (source, factor) in selected.items():
                        values = batch.column(source).cast(pa.float64()).to_numpy(zero_copy_only=False)
                        frame[canonical] = values * factor if factor != 1.0 else values
                    rows += batch.num_rows
                    yield frame
            except (pa.ArrowException, OSError) as exc:
                raise CorruptFile(label, f"unreadable Parquet data ({exc})") from exc
            if rows == 0:
                raise CorruptFile(label, "no data rows")

        sources = {c: src for c, (src, _) in mapped.items()}
        return StreamedRead(
            format=NAME_PARQUET,
            parser_version=PARSER_VERSION,
            columns=tuple(name for name in CANONICAL_DTYPES if name in mapped),
            chunks=canonical_chunks(inner, label=label, sources=sources, first_line=None),
            metadata=read_metadata(path),
            unmapped_columns=tuple(unmapped),
        )


# --- writer ----------------------------------------------------------------------------------------------


def write_bdf(
    frames: Iterable[pd.DataFrame],
    directory: Path | str,
    stem: str,
    *,
    fmt: str = "csv",
    metadata: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write canonical frames (chunks of one time series, in order) as ``<stem>.bdf.csv`` (header labels) or
    ``<stem>.bdf.parquet`` (machine names, one row group per chunk), and ``<stem>.metadata.json``.

    Chunk by chunk: memory holds one chunk. The data file appears under its name only when complete.
    Returns [data file, metadata file]."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"write_bdf: fmt must be 'csv' or 'parquet', not {fmt!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{stem}.bdf.{fmt}"
    partial = directory / f".{target.name}.part"
    try:
        written = _write_csv(frames, partial) if fmt == "csv" else _write_parquet(frames, partial)
        if not written:
            raise ValueError("write_bdf: no frames to write")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    meta_path = directory / f"{stem}.metadata.json"
    meta_path.write_text(
        json.dumps(dict(metadata or {}), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    return [target, meta_path]


def _check_columns(frame: pd.DataFrame, columns: list[str] | None) -> list[str]:
    if columns is None:
        columns = list(frame.columns)
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"write_bdf: the frames lack required column(s) {', '.join(missing)}")
    extra = [c for c in frame.columns if c not in columns]
    if extra:
        raise ValueError(f"write_bdf: a later chunk has column(s) {extra} the first one lacked")
    return columns


def _write_csv(frames: Iterable[pd.DataFrame], path: Path) -> bool:
    columns: list[str] | None = None
    with path.open("w", encoding="utf-8", newline="") as handle:
        for frame in frames:
            if columns is None:
                columns = _check_columns(frame, None)
                csv.writer(handle, lineterminator="\n").writerow([LABEL_OF.get(c, c) for c in columns])
            columns = _check_columns(frame, columns)
            frame.reindex(columns=columns).to_csv(handle, header=False, index=False, lineterminator="\n")
    return columns is not None


def _write_parquet(frames: Iterable[pd.DataFrame], path: Path) -> bool:
    columns: list[str] | None = None
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    try:
        for frame in frames:
            columns = _check_columns(frame, columns)
            chunk = frame.reindex(columns=columns)
            if writer is None or schema is None:
                schema = pa.Schema.from_pandas(chunk, preserve_index=False).remove_metadata()
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
    finally:
        if writer is not None:
            writer.close()
    return columns is not None


CONNECTOR_CSV = BdfCsv()
CONNECTOR_PARQUET = BdfParquet()
CONNECTOR = CONNECTOR_CSV
