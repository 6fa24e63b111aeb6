"""A brief, read-only connection to the warehouse for checks.

`DuckDBResource.get_connection()` always opens read-write, which would take the writer's lock
and could race the loader. Checks only read, so they open the same file read-only, retrying
with backoff while a writer holds it. Inside one process DuckDB refuses a second connection
with a different configuration; then (a writer of this same process still has it open) the
resource's own connection is used, still only for SELECTs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

RETRIES = 10


@contextmanager
def read_connection(warehouse, retries: int = RETRIES) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection to `warehouse` (a DuckDBResource), read-only whenever possible."""
    database = getattr(warehouse, "database", ":memory:")
    if database == ":memory:" or database.startswith("md:"):
        with warehouse.get_connection() as conn:
            yield conn
        return
    delay = 0.05
    for attempt in range(retries + 1):
        try:
            conn = duckdb.connect(database, read_only=True)
            break
        except duckdb.ConnectionException:
            with warehouse.get_connection() as conn:
                yield conn
            return
        except duckdb.IOException:
            if attempt == retries:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        yield conn
    finally:
        conn.close()
