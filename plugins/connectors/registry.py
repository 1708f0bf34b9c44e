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
from connectors.archives import check_archive
from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, ReadResult, StreamedRead
from connectors.errors import CorruptFile, UnsupportedFormat
from connectors.tabular import ZIP_MAGIC, workbook_sheet_names

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
    kind = _what_it_is(head) if head.is_binary else f"first line {head.first_line[:80]!r}"
    raise UnsupportedFormat(path.name, f"no connector recognises it ({kind}); tried: {', '.join(names())}")


#: Containers and encodings a lab may send under a cycler file's name, by their first bytes.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed: decompress it first"),
    (b"BZh", "bzip2-compressed: decompress it first"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it first"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: extract it first"),
    (b"Rar!", "a RAR archive: extract it first"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "an OLE2 document (an .xls of Excel 97-2003?): save it as .xlsx or CSV"),
    (b"\xff\xfe\x00\x00", "UTF-32 text: save it as UTF-8"),
)


def _what_it_is(head: FileHead) -> str:
    """A short description of binary content no connector took: a known container, or a zip's verdict."""
    for magic, description in _MAGIC:
        if head.raw.startswith(magic):
            return description
    if head.raw.startswith(ZIP_MAGIC):
        try:
            check_archive(head.path)
            sheets = workbook_sheet_names(head.path)
        except CorruptFile as exc:
            return exc.detail
        except Exception:
            return "a zip archive that is not an XLSX workbook or a Neware .ndax"
        listed = ", ".join(sheets[:5]) + (", …" if len(sheets) > 5 else "")
        return f"an XLSX workbook whose sheets ({listed}) hold no data sheet a connector knows"
    return "binary content"


def read(path: Path, *, format_name: str | None = None, timezone: str = "UTC") -> ReadResult:
    connector = get(format_name) if format_name else detect(path)
    return connector.read(path, timezone=timezone)


def stream(
    path: Path, *, format_name: str | None = None, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> StreamedRead:
    """Open the file for chunked reading; formats that can only be read whole are read now and chunked."""
    connector = get(format_name) if format_name else detect(path)
    return connector.stream(path, timezone=timezone, chunk_rows=chunk_rows)
