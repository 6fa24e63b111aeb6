"""Raise a DuckDB connection's memory cap for one job, and put it back.

Most of the platform runs under a small cap (`LINTSEQ_WAREHOUSE_MEMORY_LIMIT`, 256 MB) and
spills beyond it. A join whose hash table cannot spill enough is better split into parts
that each fit (the exports do that); where the output is one file made by one statement
(`programs` numbering 1.6M candidates' fingerprints at 10x, which ran out 14 MB short of
256 MB on a quiet machine), the job is tried again with a floor on the cap. A cap already
above the floor is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")

_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "bytes": 1}
_AMOUNT = re.compile(r"^\s*([0-9.]+)\s*([a-zA-Z]+)\s*$")


def parse_bytes(text: str) -> int:
    """DuckDB's way of writing a size ('244.1 MiB', '1GB', '512MB') in bytes."""
    match = _AMOUNT.match(text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a memory size: {text!r} (write it as DuckDB does, e.g. 512MB or 2GB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@contextmanager
def memory_floor(conn: Any, floor: str) -> Iterator[None]:
    """`conn`'s memory cap is at least `floor` inside the block, and as before after it."""
    before = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    raise_it = parse_bytes(before) < parse_bytes(floor)
    if raise_it:
        conn.execute(f"SET memory_limit = '{floor}'")
    try:
        yield
    finally:
        if raise_it:
            conn.execute(f"SET memory_limit = '{before}'")


def with_floor_on_out_of_memory(conn: Any, floor: str, job: Callable[[], T]) -> T:
    """`job()` under the connection's cap; if DuckDB runs out of memory, `job()` again with
    the cap raised to at least `floor` (`memory_floor`). A floor from the start would let
    DuckDB fill it at every scale (the exports at 90K: 1.49 GB RSS instead of 0.70), so
    only the jobs that need it pay. `job` must be safe to repeat (it writes whole files)."""
    try:
        return job()
    except duckdb.OutOfMemoryException:
        with memory_floor(conn, floor):
            return job()
