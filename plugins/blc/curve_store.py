"""Curves on their way into ``blc.file_curve``: one row per half-cycle, its points as float8 arrays.

Curves are made while the file streams in, but the time series' COPY holds the connection until the end, so
they wait. They wait on disk, not in memory (a 5M-row file makes about 3.5M curve points): each batch is
encoded at once as binary COPY rows (`blc.pgcopy`: numpy writes the arrays' wire format, no per-number text)
into a spooled temporary file that moves to disk past `SPOOL_MEMORY_BYTES`, and is COPYed in one go at the
end.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from blc import pgcopy

SPOOL_MEMORY_BYTES = 8 << 20
_COLUMNS = "file_id, cycle_index, direction, capacity_ah, voltage_volt, dqdv, processor_version"


class CurveSpool:
    """Binary COPY rows of one file's curves, gathered batch by batch (`add`), loaded by `copy_into`."""

    def __init__(self, file_id: int, processor_version: str) -> None:
        self.file_id = file_id
        self.processor_version = processor_version
        # Lives across add() calls; closed by copy_into() or discard() (or, after a failed load, when
        # garbage-collected: a temporary file deletes itself).
        self._rows = pgcopy.RowWriter(
            tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b")  # noqa: SIM115
        )

    @property
    def half_cycles(self) -> int:
        return self._rows.rows

    def add(self, curves: pd.DataFrame) -> None:
        """Rows of `processors.curves.compute_curves` (ordered by cycle, direction, point)."""
        if curves.empty:
            return
        cycle = curves["cycle_index"].to_numpy(dtype=np.int64)
        direction = curves["direction"].to_numpy(dtype=object)
        columns = [curves[c].to_numpy(dtype=np.float64) for c in ("capacity_ah", "voltage_volt", "dqdv")]
        change = np.flatnonzero((cycle[1:] != cycle[:-1]) | (direction[1:] != direction[:-1])) + 1
        starts, ends = np.r_[0, change], np.r_[change, cycle.size]
        file_field = pgcopy.int8_field(self.file_id)
        version_field = pgcopy.text_field(self.processor_version)
        self._rows.write(
            pgcopy.row(
                file_field,
                pgcopy.int4_field(int(cycle[lo])),
                pgcopy.text_field(str(direction[lo])),
                *(pgcopy.float8_array_field(values[lo:hi]) for values in columns),
                version_field,
            )
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
        )

    def copy_into(self, conn: Connection) -> int:
        """COPY the gathered rows into blc.file_curve inside the caller's transaction; returns the count."""
        payload = self._rows.finish()
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.copy_expert(f"copy blc.file_curve ({_COLUMNS}) from stdin with (format binary)", payload)
        finally:
            cursor.close()
            payload.close()
        return self.half_cycles

    def discard(self) -> None:
        self._rows.out.close()
