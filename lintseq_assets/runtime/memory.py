"""Give memory the process no longer uses back to the system between steps.

`lintseq materialize` runs every step of a job in one process (Dagster's in-process
executor), so what one step frees but its allocators keep is the next step's baseline.
Measured on the 10x run's warehouse: after `training_exports` the process held 730 MB, of
which Apache Arrow's memory pool (mimalloc) kept 235 MB of freed buffers, only handed back
by `release_unused()`. glibc's arenas keep freed small blocks until `malloc_trim`. DuckDB
gives its memory back when its connection closes and needs nothing here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """This process's resident set size, from /proc (0 where there is no /proc)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return 0


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return
    trim(0)


def release_unused_memory() -> int:
    """Collect garbage, empty Arrow's pool of freed buffers and trim glibc's heap; return how
    many bytes the resident set shrank by (0 if it did not)."""
    before = resident_bytes()
    gc.collect()
    import pyarrow as pa  # a platform dependency; imported here so the module stays cheap

    pa.default_memory_pool().release_unused()
    _malloc_trim()
    return max(0, before - resident_bytes())
