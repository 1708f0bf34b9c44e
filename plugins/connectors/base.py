"""The canonical time series every connector produces, and the base class of every connector.

Canonical = BDF machine names, SI units, positive current charges the cell (docs/design.md §3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = ("test_time_second", "voltage_volt", "current_ampere")

#: Canonical column → pandas dtype. Measurements are float64 (never float32: docs/design.md §3,
#: "Precision").
CANONICAL_DTYPES: dict[str, str] = {
    "record_index": "Int64",
    "test_time_second": "float64",
    "unix_time_second": "float64",
    "cycle_index": "Int64",
    "cycle_count": "Int64",
    "step_count": "Int64",
    "step_id": "Int64",
    "step_time_second": "float64",
    #: 1 on a record the instrument wrote because the test (or a step) was stopped before its own end
    #: condition: an operator stop, a safety limit, a power failure (Maccor state ``S``, …). Not BDF: ours.
    "instrument_stop": "Int64",
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
    "step_charging_capacity_ah": "float64",
    "step_discharging_capacity_ah": "float64",
    "step_charging_energy_wh": "float64",
    "step_discharging_energy_wh": "float64",
    "internal_resistance_ohm": "float64",
    "ambient_temperature_celsius": "float64",
    "surface_temperature_celsius": "float64",
    "temperature_t1_celsius": "float64",
    #: Impedance (EIS) records, BDF terms: filled only on the rows an instrument measured in the frequency
    #: domain (`impedance_rows`). Such a row is no time-series sample (its current is an AC excitation's):
    #: the loader keeps it apart, in blc.impedance_spectrum. The imaginary part is Im(Z) itself (negative
    #: for a capacitive response; EC-Lab writes -Im(Z)); the phase is arg(Z) in degrees.
    "frequency_hertz": "float64",
    "real_impedance_ohm": "float64",
    "imaginary_impedance_ohm": "float64",
    "absolute_impedance_ohm": "float64",
    "phase_degree": "float64",
}
IMPEDANCE_COLUMNS: tuple[str, ...] = (
    "frequency_hertz",
    "real_impedance_ohm",
    "imaginary_impedance_ohm",
    "absolute_impedance_ohm",
    "phase_degree",
)
#: The canonical time series' columns (what blc.timeseries can hold): every canonical column but the
#: impedance ones.
CANONICAL_COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_DTYPES if c not in IMPEDANCE_COLUMNS)

#: How many bytes of a file `sniff` gets to look at.
SNIFF_BYTES = 64 * 1024
#: Rows per chunk when a file is streamed: memory stays flat in file size (bench/: peak RSS).
DEFAULT_CHUNK_ROWS = 80_000


@dataclass(frozen=True)
class FileHead:
    """The first `SNIFF_BYTES` of a file, read once: what every `sniff` looks at, and where text connectors
    find their header block."""

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
    #: What the reader set aside without refusing the file (a cut-off last line, …), one sentence each;
    #: recorded on the ledger row (`blc files`) with the file's load.
    warnings: tuple[str, ...] = ()


#: Reads the file from its start each time it is called, yielding canonical frames of about `chunk_rows` rows
#: in file order; `columns` limits the read to those canonical columns (None: all of them).
ChunkReader = Callable[[Sequence[str] | None], Iterator[pd.DataFrame]]


@dataclass(frozen=True)
class StreamedRead:
    """A file opened for reading in chunks: what ReadResult says about the file, and `chunks`, which can
    be called more than once (a cheap first pass over a few columns, then the full pass)."""

    format: str
    parser_version: str
    #: The canonical columns the chunks will hold.
    columns: tuple[str, ...]
    chunks: ChunkReader
    first_data_line: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    unmapped_columns: tuple[str, ...] = ()
    #: Filled while the chunks are read: what the reader set aside without refusing the file (ReadResult's
    #: `warnings`). Chunk readers append to it; the loader records it once the last chunk was read.
    warnings: list[str] = field(default_factory=list)

    def read_all(self) -> ReadResult:
        """The whole file in one frame (small files, tests, and connectors' own `read`)."""
        frames = list(self.chunks(None))
        frame = pd.concat(frames, ignore_index=True) if len(frames) != 1 else frames[0]
        return ReadResult(
            frame=frame,
            format=self.format,
            parser_version=self.parser_version,
            first_data_line=self.first_data_line,
            metadata=self.metadata,
            unmapped_columns=self.unmapped_columns,
            warnings=tuple(self.warnings),
        )

    @classmethod
    def from_result(cls, result: ReadResult, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> StreamedRead:
        """Chunk an already-read frame, for connectors that can only read whole files (binary formats)."""
        frame = result.frame

        def chunks(columns: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            selected = frame if columns is None else frame[[c for c in columns if c in frame.columns]]
            for start in range(0, max(len(selected), 1), chunk_rows):
                yield selected.iloc[start : start + chunk_rows].reset_index(drop=True)

        return cls(
            format=result.format,
            parser_version=result.parser_version,
            columns=tuple(frame.columns),
            chunks=chunks,
            first_data_line=result.first_data_line,
            metadata=result.metadata,
            unmapped_columns=result.unmapped_columns,
            warnings=list(result.warnings),
        )


class Connector(ABC):
    """One cycler format; each format module holds its singleton(s), listed in `connectors.registry`.

    A subclass says how to recognise a file (`sniff`) and how to open it for reading in chunks (`stream`);
    `read`, the whole file in one frame, follows from `stream`. A format that can only be parsed whole
    subclasses `WholeFileConnector` instead."""

    #: The format's name (registry, catalog, ``--format``).
    name: ClassVar[str]
    #: Stored with every file loaded through this connector.
    parser_version: ClassVar[str]

    @abstractmethod
    def sniff(self, head: FileHead) -> bool:
        """True when the file's content (never its extension) looks like this format: decided from `head`,
        reading more only where the format needs it (a zip's directory, a Parquet schema, a mapping file)."""

    @abstractmethod
    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        """Open the file (header, mapping, metadata checked now); rows are read when chunks are asked for.
        CorruptFile may be raised by `stream` or while iterating the chunks."""

    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        """The whole file as one canonical frame, raising CorruptFile on broken content."""
        return self.stream(path, timezone=timezone).read_all()


class WholeFileConnector(Connector):
    """A format whose reader parses the whole file at once (binary files read by a third-party package):
    `read` parses it, and `stream` hands out the parsed frame in chunks, so memory holds the whole file."""

    @abstractmethod
    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        """Parse the file into the canonical frame, raising CorruptFile on broken content."""

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        return StreamedRead.from_result(self.read(path, timezone=timezone), chunk_rows)


def to_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Order and type the canonical columns; columns the file lacks are left out, not invented."""
    columns = [name for name in CANONICAL_DTYPES if name in frame.columns]
    out = frame[columns]
    return out.astype({name: CANONICAL_DTYPES[name] for name in columns}, copy=False).reset_index(drop=True)


def impedance_rows(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Which rows of a canonical frame are impedance (EIS) records: a positive `frequency_hertz`."""
    if "frequency_hertz" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    frequency = frame["frequency_hertz"].to_numpy(dtype=np.float64, na_value=np.nan)
    return frequency > 0  # NaN (a time-domain row) compares False
