"""Curves on their way into ``blc.file_curve``: one row per half-cycle, its points as float8 arrays.

Curves are made while the file streams in, but the time series' COPY holds the connection until the end, so
they wait. They wait on disk, not in memory (a 5M-row file makes about 3.5M curve points): each batch is
encoded at once as binary COPY rows (numpy writes the arrays' wire format, no per-number text) into a
spooled temporary file that moves to disk past `SPOOL_MEMORY_BYTES`, and is COPYed in one go at the end.
"""

from __future__ import annotations

import struct
import tempfile
from typing import IO

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from blc.pgcopy import HEADER, TRAILER

SPOOL_MEMORY_BYTES = 8 << 20
#: pg_type oid of float8 (the element type written in each array's header).
FLOAT8_OID = 701
_COLUMNS = "file_id, cycle_index, direction, capacity_ah, voltage_volt, dqdv, processor_version"


def _array(values: np.ndarray) -> bytes:
    """A float8[] in Postgres' binary array format: ndim 1, no NULLs (NaN is a value), lower bound 1."""
    body = np.empty(values.size, dtype=[("length", ">i4"), ("value", ">f8")])
    body["length"] = 8
    body["value"] = values
    head = struct.pack(">iiiii", 1, 0, FLOAT8_OID, values.size, 1)
    return head + body.tobytes()


def _field(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


class CurveSpool:
    """Binary COPY rows of one file's curves, gathered batch by batch (`add`), loaded by `copy_into`."""

    def __init__(self, file_id: int, processor_version: str) -> None:
        self.file_id = file_id
        self.processor_version = processor_version.encode()
        self.half_cycles = 0
        # Lives across add() calls; closed by copy_into() or discard() (or, after a failed load, when
        # garbage-collected: a temporary file deletes itself).
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_MEMORY_BYTES, mode="w+b"
        )
        self._spool.write(HEADER)

    def add(self, curves: pd.DataFrame) -> None:
        """Rows of `processors.curves.compute_curves` (ordered by cycle, direction, point)."""
        if curves.empty:
            return
        cycle = curves["cycle_index"].to_numpy(dtype=np.int64)
        direction = curves["direction"].to_numpy(dtype=object)
        columns = [curves[c].to_numpy(dtype=np.float64) for c in ("capacity_ah", "voltage_volt", "dqdv")]
        change = np.flatnonzero((cycle[1:] != cycle[:-1]) | (direction[1:] != direction[:-1])) + 1
        starts, ends = np.r_[0, change], np.r_[change, cycle.size]
        file_field = _field(struct.pack(">q", self.file_id))
        version_field = _field(self.processor_version)
        rows = []
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
            rows.append(
                struct.pack(">h", 7)
                + file_field
                + _field(struct.pack(">i", int(cycle[lo])))
                + _field(str(direction[lo]).encode())
                + b"".join(_field(_array(values[lo:hi])) for values in columns)
                + version_field
            )
        self._spool.write(b"".join(rows))
        self.half_cycles += len(rows)

    def copy_into(self, conn: Connection) -> int:
        """COPY the gathered rows into blc.file_curve inside the caller's transaction; returns the count."""
        self._spool.write(TRAILER)
        self._spool.seek(0)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.copy_expert(
                f"copy blc.file_curve ({_COLUMNS}) from stdin with (format binary)", self._spool
            )
        finally:
            cursor.close()
            self._spool.close()
        return self.half_cycles

    def discard(self) -> None:
        self._spool.close()
