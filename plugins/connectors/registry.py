"""The one registry of cycler formats: recognise a file from its content, then read it."""

from __future__ import annotations

from pathlib import Path

from connectors import (
    arbin,
    arbin_binary,
    batteryarchive,
    batterydata,
    bdf,
    biologic,
    biologic_csv,
    generic,
    indigo,
    maccor,
    neware,
    novonix,
    pec,
)
from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, ReadResult, StreamedRead
from connectors.errors import UnsupportedFormat

#: Order matters only when two formats could both claim a file: the more specific one goes first.
CONNECTORS: tuple[Connector, ...] = (
    batteryarchive.CONNECTOR,
    arbin.CONNECTOR,
    arbin_binary.CONNECTOR_XLSX,
    arbin_binary.CONNECTOR_RES,
    maccor.CONNECTOR,
    biologic.CONNECTOR_MPR,
    biologic_csv.CONNECTOR,  # before the .mpt: it claims the header block only over a `;`/`,` column header
    biologic.CONNECTOR_MPT,
    indigo.CONNECTOR,
    neware.CONNECTOR_NDA,
    neware.CONNECTOR_NDAX,  # a zip, like XLSX: it claims only zips holding Neware members
    neware.CONNECTOR_XLSX,  # an XLSX with record sheets (Arbin's have Channel sheets)
    neware.CONNECTOR_CSV,
    novonix.CONNECTOR,
    pec.CONNECTOR,
    batterydata.CONNECTOR,
    bdf.CONNECTOR_CSV,
    bdf.CONNECTOR_PARQUET,
    generic.CONNECTOR,  # last: reads only what a mapping file beside the data describes
)


def names() -> list[str]:
    return [c.name for c in CONNECTORS]


def get(name: str) -> Connector:
    for connector in CONNECTORS:
        if connector.name == name:
            return connector
    raise UnsupportedFormat(name, f"unknown format {name!r}; known formats: {', '.join(names())}")


def detect(path: Path) -> Connector:
    """The connector whose `sniff` accepts the file's first bytes, or UnsupportedFormat listing the tries."""
    head = FileHead.read(path)
    if not head.raw:
        raise UnsupportedFormat(path.name, "the file is empty")
    for connector in CONNECTORS:
        if connector.sniff(head):
            return connector
    kind = "binary content" if head.is_binary else f"first line {head.first_line[:80]!r}"
    raise UnsupportedFormat(path.name, f"no connector recognises it ({kind}); tried: {', '.join(names())}")


def read(path: Path, *, format_name: str | None = None, timezone: str = "UTC") -> ReadResult:
    connector = get(format_name) if format_name else detect(path)
    return connector.read(path, timezone=timezone)


def stream(
    path: Path, *, format_name: str | None = None, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> StreamedRead:
    """Open the file for chunked reading; formats that can only be read whole are read now and chunked."""
    connector = get(format_name) if format_name else detect(path)
    return connector.stream(path, timezone=timezone, chunk_rows=chunk_rows)
