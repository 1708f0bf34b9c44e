"""What Arbin's Excel and `.res` readers share: their names, the columns that identify Arbin data, OLE
automation dates, and the last step from a mapped table to the canonical frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from connectors.base import to_canonical
from connectors.tabular import (
    MappedColumn,
)
from connectors.timestamps import (
    naive_to_unix_seconds,
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
