"""Lab-share folders as a source: list cycler files that have stopped changing.

A file is *stable* when its size and mtime have not changed for `settle_seconds` (its mtime is at least that
old). Sidecars and half-written files are never offered as data files.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from stat import S_ISREG
from urllib.parse import unquote, urlparse

#: Names that are metadata, partial downloads or editor droppings, not cycler data.
IGNORED_PATTERNS: tuple[str, ...] = (
    ".*",
    "~$*",
    "*~",
    "*.tmp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.swp",
    "*_Metadata.csv",
    "*_metadata.csv",
    "*.meta.yaml",
    "*.meta.yml",
    "*.meta.json",
    "*.metadata.json",
    "*.mapping.yaml",
    "*.mapping.yml",
    "blc-mapping.yaml",
    "blc-mapping.yml",
    "cells.csv",
    "*_cycle_data.csv",
    "*-summary.csv",
    "NOTICE",
    "*.md",
    "*.txt.lock",
)


@dataclass(frozen=True)
class FileCandidate:
    uri: str
    path: Path
    size_bytes: int
    mtime: float

    @property
    def etag(self) -> str:
        """Size and mtime: changes whenever the content may have changed (cheap, no read)."""
        return f"{self.size_bytes}-{int(self.mtime * 1e6)}"

    @property
    def name(self) -> str:
        return self.path.name


def is_ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED_PATTERNS)


@dataclass(frozen=True)
class Unreadable:
    """An entry of a watched folder that could not be listed or read, and why."""

    uri: str
    error: str

    @property
    def name(self) -> str:
        return PurePosixPath(unquote(urlparse(self.uri).path)).name


def list_files(dirs: Iterable[Path]) -> list[FileCandidate]:
    """Every data file below the folders (recursively), sorted by path for a stable order."""
    return scan(dirs)[0]


def scan(dirs: Iterable[Path]) -> tuple[list[FileCandidate], list[Unreadable]]:
    """(data files below the folders, entries that could not be read). One unreadable entry (a symlink loop,
    a folder or file without permission, a FIFO) never hides the good files beside it."""
    found: list[FileCandidate] = []
    problems: list[Unreadable] = []

    def walk_error(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else None
        if where is not None:
            problems.append(Unreadable(where.absolute().as_uri(), _os_reason(exc)))

    for root in dirs:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if is_ignored(name):
                    continue
                path = Path(dirpath) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:  # removed while we walked, or a symlink to nothing
                    if path.is_symlink():
                        problems.append(Unreadable(path.absolute().as_uri(), "a symbolic link to nothing"))
                    continue
                except OSError as exc:  # a symlink loop, a name too long, permission on the way
                    problems.append(Unreadable(path.absolute().as_uri(), _os_reason(exc)))
                    continue
                if not S_ISREG(stat.st_mode):
                    problems.append(Unreadable(path.absolute().as_uri(), "not a regular file"))
                    continue
                if stat.st_size == 0:
                    continue
                if not os.access(path, os.R_OK):
                    problems.append(Unreadable(path.absolute().as_uri(), "permission denied"))
                    continue
                found.append(
                    FileCandidate(path.resolve().as_uri(), path.resolve(), stat.st_size, stat.st_mtime)
                )
    return sorted(found, key=lambda c: c.uri), sorted(problems, key=lambda p: p.uri)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def split_stable(
    candidates: Iterable[FileCandidate], settle_seconds: float, now: float | None = None
) -> tuple[list[FileCandidate], list[FileCandidate]]:
    """(stable, still settling)."""
    now = time.time() if now is None else now
    stable: list[FileCandidate] = []
    settling: list[FileCandidate] = []
    for candidate in candidates:
        (stable if now - candidate.mtime >= settle_seconds else settling).append(candidate)
    return stable, settling


def path_from_uri(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{uri}: not a file URI")
    return Path(unquote(parsed.path))


def prefix_sha256(path: Path, size_bytes: int, chunk_bytes: int = 1 << 20) -> str | None:
    """sha256 of the file's first `size_bytes` bytes (None when the file is shorter): tells a file that grew
    by appended rows from one that was rewritten."""
    digest = hashlib.sha256()
    left = size_bytes
    with path.open("rb") as handle:
        while left > 0 and (block := handle.read(min(chunk_bytes, left))):
            digest.update(block)
            left -= len(block)
    return digest.hexdigest() if left == 0 else None


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


#: Bytes looked at to tell a text file from a binary one (a NUL byte means binary).
TEXT_PROBE_BYTES = 8192


def complete_lines_size(path: Path, block_bytes: int = 1 << 16) -> int | None:
    """For a text file whose last line has no line end (the writer may not have finished it): the size of
    its complete lines (up to and including the last line end). None for a binary file, an empty one, or
    one that ends with a line end."""
    with path.open("rb") as handle:
        if b"\0" in handle.read(TEXT_PROBE_BYTES):
            return None
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return None
        handle.seek(end - 1)
        if handle.read(1) in (b"\n", b"\r"):
            return None
        position = end
        while position > 0:
            start = max(0, position - block_bytes)
            handle.seek(start)
            block = handle.read(position - start)
            cut = max(block.rfind(b"\n"), block.rfind(b"\r"))
            if cut >= 0:
                return start + cut + 1
            position = start
        return 0
