"""Process-wide tuning for ingesting large files: flat memory, a fair share of the GIL, a lighter GX import.

Memory. A file is read, checked and copied in chunks, but freed chunks only lower the resident size if the
allocators give the pages back. glibc's malloc raises its mmap threshold as large blocks are freed, so after
a few chunks numpy's arrays land on the heap, which fragments and is never trimmed; Arrow's default pool
(mimalloc) keeps freed pages for reuse. Measured on a 1M-row file (bench/): 423 MB peak with the defaults,
355 MB with a fixed mmap threshold and Arrow on the system allocator (docs/adr/0004).

GIL. Great Expectations imports in a background thread while the file streams (seconds of pure-Python
work). The main thread mostly runs C code that releases the GIL, and each time it wants the GIL back it waits
out the importer's time slice (5 ms by default). 1 ms slices measured 5.6 s instead of 6.0 s end to end on a
1M-row file.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import types
from collections.abc import Sequence

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
#: Blocks at least this large are mmapped, and unmapped (returned to the OS) when freed.
MMAP_THRESHOLD_BYTES = 1 << 20


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 (glibc only)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> None:
    """Give the heap's free pages back to the OS (glibc's malloc_trim); a few ms, called once per chunk."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def keep_heap_flat() -> bool:
    """Once per process: a fixed glibc mmap threshold, and Arrow allocating through malloc. Returns False
    where glibc is not the C library (musl, macOS); nothing changes there."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    libc = _libc()
    if libc is None:
        log.debug("no glibc here: allocator left as it is")
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


#: Seconds a thread may hold the GIL while another waits for it (Python's default: 0.005).
SWITCH_INTERVAL_SECONDS = 0.001


def short_gil_slices() -> None:
    """Shorter GIL time slices for this process (ingest processes: the CLI, Airflow task processes)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


#: Libraries Great Expectations imports at start-up but our suites never call: loaded on first use instead.
#: Measured on this machine kind: GX's import 2.65 s → 1.32 s and 265 MB → 188 MB resident (docs/adr/0004).
DEFERRED_IMPORTS = ("scipy.stats", "altair")


class _DeferredImport(importlib.abc.MetaPathFinder):
    """Hands out these modules through importlib's LazyLoader: the module object exists at once, its code
    runs at the first attribute access. Nothing else changes: code that uses the module gets it whole."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        for finder in list(sys.meta_path):  # the real finders; never mutate meta_path (other threads)
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                # Python source only: an extension module does its work when created, not when run.
                if isinstance(
                    spec.loader,
                    importlib.machinery.SourceFileLoader | importlib.machinery.SourcelessFileLoader,
                ):
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


@functools.cache
def defer_unused_imports() -> None:
    """Install the deferral once per process, before Great Expectations is imported."""
    pending = tuple(name for name in DEFERRED_IMPORTS if name not in sys.modules)
    if pending:
        sys.meta_path.insert(0, _DeferredImport(pending))
