"""Postgres binary COPY, encoded and decoded with numpy (no Python loop over rows).

Why binary: the server parses a text float (``float8in``) far slower than it copies 8 bytes, and most of a
time-series load is floats. bench/ measured a 1M-row, 17-column load into ``blc.timeseries``: the server
spent 2.4 s on CSV and 1.4 s on binary (docs/adr/0004).

A binary COPY row is ``int16 field count`` then, per field, ``int32 length`` and that many bytes (length −1
and no bytes for NULL), all big-endian. When every row of a chunk has the same layout (each column entirely
NULL or entirely non-NULL, text of one length), the rows are one numpy structured array written in a few
vectorised assignments. A chunk with a column only partly NULL does not have that layout: callers fall back
to CSV for it (``encode_binary`` returns None).

Rows whose fields are not columns of one frame (a curve's points as ``float8[]``) are built field by field
(`int8_field`, `text_field`, `float8_array_field`, …), joined by `row` and written between the header and
the trailer by `RowWriter`. This module is the only place that knows the wire format.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

import numpy as np
import numpy.typing as npt
import pandas as pd

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

#: Postgres type name → numpy big-endian wire type (fixed-width types only).
WIRE_TYPES: dict[str, str] = {
    "double precision": ">f8",
    "real": ">f4",
    "bigint": ">i8",
    "integer": ">i4",
    "smallint": ">i2",
    "boolean": "?",
}
#: pg_type oid of float8: the element type written in a float8[]'s header.
FLOAT8_OID = 701
_FIELD_COUNT = struct.Struct(">h")
_LENGTH = struct.Struct(">i")
#: A one-dimensional array without NULLs: field length, ndim, has-NULLs flag, element type, size, lower bound.
_ARRAY_HEAD = struct.Struct(">iiiiii")
_ARRAY_HEAD_BYTES = _ARRAY_HEAD.size - _LENGTH.size
_FLOAT8_ELEMENT = np.dtype([("length", ">i4"), ("value", ">f8")])


class Payload(io.RawIOBase):
    """Bytes for ``cursor.copy_expert``, read out of a few buffers without joining them (a join would
    copy the whole chunk once more)."""

    def __init__(self, *parts: bytes | memoryview) -> None:
        super().__init__()
        self._parts = [memoryview(part).cast("B") for part in parts]
        self._index = 0
        self._offset = 0
        self.size = sum(part.nbytes for part in self._parts)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.size
        out = bytearray()
        while len(out) < size and self._index < len(self._parts):
            part = self._parts[self._index]
            piece = part[self._offset : self._offset + size - len(out)]
            out += piece
            self._offset += piece.nbytes
            if self._offset >= part.nbytes:
                self._index, self._offset = self._index + 1, 0
        return bytes(out)


def encode_binary(
    frame: pd.DataFrame,
    columns: Sequence[str],
    pg_types: Mapping[str, str],
    constants: Mapping[str, object] | None = None,
) -> Payload | None:
    """The frame's `columns` as one binary COPY payload, or None when the rows do not share one layout.
    `constants` gives values for columns the frame lacks, the same on every row (a file's cell and id)."""
    n = len(frame)
    constants = constants or {}
    fields: list[tuple[str, str]] = [("count", ">i2")]
    values: dict[str, np.ndarray | None] = {}
    for position, name in enumerate(columns):
        if name in constants:
            value = constants[name]
            fields.append((f"len{position}", ">i4"))
            if value is None:
                values[name] = None
            elif pg_types[name] == "text":
                encoded = str(value).encode("utf-8")
                if not encoded:
                    return None
                values[name] = np.full(n, encoded, dtype=f"S{len(encoded)}")
                fields.append((f"val{position}", f"S{len(encoded)}"))
            else:
                wire = WIRE_TYPES.get(pg_types[name])
                if wire is None:
                    return None
                values[name] = np.full(n, value, dtype=np.dtype(wire).newbyteorder("="))
                fields.append((f"val{position}", wire))
            continue
        series = frame[name]
        null = series.isna().to_numpy()
        fields.append((f"len{position}", ">i4"))
        if null.all():
            values[name] = None
            continue
        if null.any():
            return None
        pg_type = pg_types[name]
        if pg_type == "text":
            encoded = series.astype(str).str.encode("utf-8")
            lengths = encoded.str.len().to_numpy()
            if n and (lengths != lengths[0]).any():
                return None
            width = int(lengths[0]) if n else 0
            if width == 0:
                return None
            values[name] = encoded.to_numpy(dtype=f"S{width}")
            fields.append((f"val{position}", f"S{width}"))
            continue
        wire = WIRE_TYPES.get(pg_type)
        if wire is None:
            return None
        if pg_type in INTEGER_RANGES:
            _check_range(name, pg_type, series)
        numeric = series.to_numpy(dtype=np.dtype(wire).newbyteorder("="))
        values[name] = numeric
        fields.append((f"val{position}", wire))

    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for position, name in enumerate(columns):
        array = values[name]
        if array is None:
            rows[f"len{position}"] = -1
            continue
        field = f"val{position}"
        rows[f"len{position}"] = rows.dtype[field].itemsize
        rows[field] = array
    return Payload(HEADER, rows.data, TRAILER)


def decode_binary_float64(payload: bytes, columns: Sequence[str]) -> pd.DataFrame:
    """Decode a binary COPY of `columns`, all ``double precision`` and never NULL (select them through
    ``coalesce(x, 'NaN')``), into float64 columns."""
    if len(payload) < len(HEADER) + len(TRAILER):
        raise ValueError("not a binary COPY payload")
    if not payload.startswith(HEADER[:11]):
        raise ValueError("binary COPY payload without the PGCOPY signature")
    extension = int.from_bytes(payload[15:19], "big")
    body = memoryview(payload)[19 + extension : len(payload) - len(TRAILER)]
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for position in range(len(columns)):
        fields += [(f"len{position}", ">i4"), (f"val{position}", ">f8")]
    dtype = np.dtype(fields)
    if len(body) % dtype.itemsize:
        raise ValueError("binary COPY rows are not all float8 and non-NULL")
    rows = np.frombuffer(body, dtype=dtype)
    if rows.size and ((rows["count"] != len(columns)).any() or (rows["len0"] != 8).any()):
        raise ValueError("binary COPY rows are not all float8 and non-NULL")
    return pd.DataFrame({name: rows[f"val{i}"].astype(np.float64) for i, name in enumerate(columns)})


# --- Rows built field by field --------------------------------------------------------------------------


class RowWriter:
    """Binary COPY rows written to `out` as they come: the header at once, rows (from `row`) in batches, the
    trailer at `finish`, which rewinds `out` for ``cursor.copy_expert``."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.rows = 0
        out.write(HEADER)

    def write(self, rows: Iterable[bytes]) -> None:
        batch = list(rows)
        self.out.write(b"".join(batch))
        self.rows += len(batch)

    def finish(self) -> IO[bytes]:
        self.out.write(TRAILER)
        self.out.seek(0)
        return self.out


def row(*fields: bytes) -> bytes:
    """One row of fields encoded by the ``*_field`` functions, in the table's column order."""
    return _FIELD_COUNT.pack(len(fields)) + b"".join(fields)


def bytes_field(payload: bytes) -> bytes:
    """A non-NULL field of any type: its length, then its bytes in the type's binary format."""
    return _LENGTH.pack(len(payload)) + payload


def text_field(value: str) -> bytes:
    return bytes_field(value.encode("utf-8"))


def int4_field(value: int) -> bytes:
    return struct.pack(">ii", 4, value)


def int8_field(value: int) -> bytes:
    return struct.pack(">iq", 8, value)


def float8_array_field(values: npt.ArrayLike) -> bytes:
    """A ``float8[]`` field: one dimension, lower bound 1, no NULL elements (NaN is a value, not a NULL).
    An empty `values` gives an empty array (``'{}'``)."""
    numbers = np.asarray(values, dtype=np.float64)
    elements = np.empty(numbers.size, dtype=_FLOAT8_ELEMENT)
    elements["length"] = 8
    elements["value"] = numbers
    head = _ARRAY_HEAD.pack(_ARRAY_HEAD_BYTES + elements.nbytes, 1, 0, FLOAT8_OID, numbers.size, 1)
    return head + elements.tobytes()


#: What a Postgres integer column holds. A binary COPY would store a wider value wrapped (99999999999 as
#: 1215752191): it is refused instead, as Postgres refuses it in text.
INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def _check_range(name: str, pg_type: str, series: pd.Series) -> None:
    low, high = INTEGER_RANGES[pg_type]
    if series.empty:
        return
    smallest, largest = series.min(), series.max()
    if smallest < low or largest > high:
        value = largest if largest > high else smallest
        raise ValueError(
            f"column {name}: {value} is outside the range of a Postgres {pg_type} ({low} to {high})"
        )
