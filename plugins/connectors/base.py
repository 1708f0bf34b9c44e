"""The canonical time series every connector produces, and the connector contract.

Canonical = BDF machine names, SI units, positive current charges the cell (DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = ("test_time_second", "voltage_volt", "current_ampere")

#: Canonical column → pandas dtype. Measurements are float64 (never float32: see DESIGN §3 "Precision").
CANONICAL_DTYPES: dict[str, str] = {
    "record_index": "Int64",
    "test_time_second": "float64",
    "unix_time_second": "float64",
    "cycle_index": "Int64",
    "cycle_count": "Int64",
    "step_count": "Int64",
    "step_id": "Int64",
    "step_time_second": "float64",
    "current_ampere": "float64",
    "voltage_volt": "float64",
    "power_watt": "float64",
    "charging_capacity_ah": "float64",
    "cycle_charging_capacity_ah": "float64",
    "cycle_discharging_capacity_ah": "float64",
    "cycle_charging_energy_wh": "float64",
    "cycle_discharging_energy_wh": "float64",
    "discharging_capacity_ah": "float64",
    "charging_energy_wh": "float64",
    "discharging_energy_wh": "float64",
    "internal_resistance_ohm": "float64",
    "ambient_temperature_celsius": "float64",
    "surface_temperature_celsius": "float64",
    "temperature_t1_celsius": "float64",
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(CANONICAL_DTYPES)

#: How many bytes of a file `sniff` gets to look at.
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileHead:
    """The first bytes of a file, decoded once for every connector's `sniff`."""

    path: Path
    raw: bytes

    @property
    def is_binary(self) -> bool:
        """NUL bytes at the very start: a binary format. (Further in, a text export is corrupt instead, which
        the connector reports with its line.)"""
        return b"\x00" in self.raw[:512]

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace").lstrip("\ufeff")

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].rstrip("\r")

    @classmethod
    def read(cls, path: Path) -> FileHead:
        with path.open("rb") as handle:
            return cls(path=path, raw=handle.read(SNIFF_BYTES))


@dataclass(frozen=True)
class ReadResult:
    """A parsed file: the canonical frame plus what the file said about itself."""

    frame: pd.DataFrame
    format: str
    parser_version: str
    #: 1-based line of the file that holds frame row 0 (None when the format has no lines).
    first_data_line: int | None = None
    #: Metadata found in the file or its sidecars (cell id, nominal capacity, timezone, …).
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: Vendor columns we did not map, so callers can log them (never dropped silently).
    unmapped_columns: tuple[str, ...] = ()


class Connector(Protocol):
    """One cycler format. Implementations are modules' singletons registered in `connectors.registry`."""

    name: str
    parser_version: str

    def sniff(self, head: FileHead) -> bool:
        """True when the file's content looks like this format."""
        ...

    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        """Parse the file into the canonical frame, raising CorruptFile on broken content."""
        ...


def to_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Order and type the canonical columns; columns the file lacks are left out, not invented."""
    columns = [name for name in CANONICAL_COLUMNS if name in frame.columns]
    out = frame[columns]
    return out.astype({name: CANONICAL_DTYPES[name] for name in columns}, copy=False).reset_index(drop=True)
