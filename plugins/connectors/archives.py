"""Limits checked before any archive-based format (XLSX, Neware .ndax) is decompressed.

A zip states each member's compressed and uncompressed size in its central directory; Python's zipfile
never inflates a member beyond its stated size. So a file is refused, before a byte is inflated, when a
member would expand beyond `MAX_MEMBER_BYTES`, all of them beyond `MAX_TOTAL_BYTES`, or a large member
more than `MAX_RATIO` times (a "zip bomb": 1.5 MB of XML that inflates to gigabytes; real XLSX sheets of
numbers compress 5 to 20 times). The parts a reader holds whole in memory (the workbook's sheet list, the
shared strings and styles openpyxl loads before streaming rows) have smaller limits.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from connectors.errors import CorruptFile

MAX_MEMBER_BYTES = 2 << 30
MAX_TOTAL_BYTES = 8 << 30
MAX_RATIO = 100
#: Members smaller than this are not judged by their ratio (tiny XML compresses well and costs nothing).
RATIO_FLOOR_BYTES = 1 << 20
MAX_MEMBERS = 10_000
#: Parts a reader holds whole in memory.
HELD_WHOLE = {
    "xl/workbook.xml": 16 << 20,
    "xl/styles.xml": 16 << 20,
    "xl/sharedStrings.xml": 64 << 20,
}


def check_archive(path: Path, label: str | None = None) -> None:
    """Raise CorruptFile naming the member and the limit when the zip at `path` breaks one."""
    label = label or path.name
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptFile(label, f"not a readable zip archive ({type(exc).__name__}: {exc})") from exc
    if len(members) > MAX_MEMBERS:
        raise CorruptFile(label, f"{len(members)} members in the archive (limit {MAX_MEMBERS})")
    total = 0
    for member in members:
        size, packed = member.file_size, member.compress_size
        total += size
        limit = HELD_WHOLE.get(member.filename, MAX_MEMBER_BYTES)
        if size > limit:
            raise CorruptFile(
                label, f"archive member {member.filename!r} expands to {_mib(size)} (limit {_mib(limit)})"
            )
        if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(packed, 1):
            raise CorruptFile(
                label,
                f"archive member {member.filename!r} expands {size / max(packed, 1):.0f} times"
                f" ({_mib(packed)} to {_mib(size)}; limit {MAX_RATIO} times): a decompression bomb?",
            )
    if total > MAX_TOTAL_BYTES:
        raise CorruptFile(label, f"the archive expands to {_mib(total)} (limit {_mib(MAX_TOTAL_BYTES)})")


def read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, at most `limit` of them (a larger member raises ValueError)."""
    with archive.open(name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"archive member {name!r} is larger than {_mib(limit)}")
    return data


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"
