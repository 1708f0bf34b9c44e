"""Vendor per-cycle summaries that travel beside a time series: the instrument's or the archive's own
numbers, kept for the comparison with what we recalculate (they are never used as our statistics).

Found by the time-series file's format and name, read into `SUMMARY_COLUMNS` (SI units):

- batteryarchive.org: ``<cell>_timeseries.csv`` → ``<cell>_cycle_data.csv`` (`batteryarchive_cycles`);
- batterydata.energy.gov: ``<cell>-raw.csv`` → ``<cell>-summary.csv`` (``Q_chg``, ``Q_dis``, ``E_chg``,
  ``E_dis``; ``NaN`` where a cycle did not charge or discharge);
- Novonix: ``<stem>_metadata.csv`` (``Qc``, ``Qd``, ``Ec``, ``Ed``; `novonix.read_summary_sidecar`).

``cycle_count`` is the vendor's own cycle number. The drop-folder watcher skips these names
(`share.IGNORED_PATTERNS`): they are read when their time series is ingested.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from connectors import batteryarchive, batterydata, novonix
from connectors.batteryarchive_cycles import read_cycle_data
from connectors.errors import CorruptFile

SUMMARY_COLUMNS: tuple[str, ...] = (
    "cycle_count",
    "charge_capacity_ah",
    "discharge_capacity_ah",
    "charge_energy_wh",
    "discharge_energy_wh",
)


@dataclass(frozen=True)
class VendorSummary:
    source: str  # the summary file's name
    frame: pd.DataFrame  # SUMMARY_COLUMNS, one row per vendor cycle


def summary_path(path: Path, format_name: str) -> Path | None:
    """The companion summary of a time-series file of `format_name`, when one lies beside it."""
    name = path.name
    candidate: Path | None = None
    if format_name == batteryarchive.NAME and name.endswith("_timeseries.csv"):
        candidate = path.with_name(name.removesuffix("_timeseries.csv") + "_cycle_data.csv")
    elif format_name == batterydata.NAME and name.endswith("-raw.csv"):
        candidate = path.with_name(name.removesuffix("-raw.csv") + "-summary.csv")
    elif format_name == novonix.NAME:
        candidate = novonix.summary_sidecar_path(path)
    return candidate if candidate is not None and candidate.is_file() else None


def summary_beside(path: Path, format_name: str) -> VendorSummary | None:
    """Read the companion summary of `path`, if any. Raises CorruptFile naming the summary file."""
    found = summary_path(path, format_name)
    if found is None:
        return None
    if format_name == batteryarchive.NAME:
        frame = read_cycle_data(found).rename(columns={"cycle_index": "cycle_count"})
    elif format_name == batterydata.NAME:
        frame = batterydata.read_summary(found)
    else:
        frame = novonix.read_summary_sidecar(found).rename(columns={"cycle_index": "cycle_count"})
    return VendorSummary(found.name, _conform(frame, found.name))


def _conform(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    out = pd.DataFrame({name: frame.get(name, np.nan) for name in SUMMARY_COLUMNS}, index=frame.index)
    cycles = out["cycle_count"]
    checks = ((cycles.isna(), "has no cycle number"), (cycles.duplicated(), "repeats an earlier cycle"))
    for bad, rule in checks:
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CorruptFile(label, f"data row {row + 1} {rule} (column cycle_count)")
    out["cycle_count"] = cycles.astype(np.int64)
    for name in SUMMARY_COLUMNS[1:]:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype(np.float64)
    return out.reset_index(drop=True)
