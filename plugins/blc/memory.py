"""Keep a long ingest's resident memory flat in file size.

A file is read, checked and copied in chunks, but freed chunks only lower the resident size if the
allocators give the pages back. glibc's malloc raises its mmap threshold as large blocks are freed, so after
a few chunks numpy's arrays land on the heap, which fragments and is never trimmed; Arrow's default pool
(mimalloc) keeps freed pages for reuse. Measured on a 1M-row file (bench/): 423 MB peak with the defaults,
355 MB with a fixed mmap threshold and Arrow on the system allocator (docs/adr/0004).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
#: Blocks at least this large are mmapped, and unmapped (returned to the OS) when freed.
MMAP_THRESHOLD_BYTES = 1 << 20


@functools.cache
def keep_heap_flat() -> bool:
    """Once per process: a fixed glibc mmap threshold, and Arrow allocating through malloc. Returns False
    where glibc is not the C library (musl, macOS); nothing changes there."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.debug("no glibc mallopt here: allocator left as it is")
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
