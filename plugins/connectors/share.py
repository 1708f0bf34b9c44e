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
from pathlib import Path
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


def list_files(dirs: Iterable[Path]) -> list[FileCandidate]:
    """Every data file below the folders (recursively), sorted by path for a stable order."""
    found: list[FileCandidate] = []
    for root in dirs:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if is_ignored(name):
                    continue
                path = Path(dirpath) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:  # removed while we walked
                    continue
                if stat.st_size == 0:
                    continue
                found.append(
                    FileCandidate(path.resolve().as_uri(), path.resolve(), stat.st_size, stat.st_mtime)
                )
    return sorted(found, key=lambda c: c.uri)


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
