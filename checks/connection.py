"""A brief, read-only connection to the warehouse for checks.

dagster-duckdb's `DuckDBResource.get_connection()` always opens read-write, which takes the
writer's lock and could race the loader. Checks only read, so they use the platform
resource's `read_connection()` when it has one, else open the file read-only themselves,
retrying with backoff while a writer holds it. Inside one process DuckDB refuses a second
connection with a different configuration; then (a writer of this very process has the file
open) the resource's own connection is used, still only for SELECTs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import duckdb

RETRIES = 10


def _open_read_only(database: str, retries: int) -> duckdb.DuckDBPyConnection:
    delay = 0.05
    for attempt in range(retries + 1):
        try:
            return duckdb.connect(database, read_only=True)
        except duckdb.IOException:
            if attempt == retries:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def _enter(stack: ExitStack, warehouse, retries: int) -> duckdb.DuckDBPyConnection:
    database = str(getattr(warehouse, "database", ":memory:"))
    try:
        if hasattr(warehouse, "read_connection"):  # the platform's WarehouseResource
            return stack.enter_context(warehouse.read_connection())
        if database != ":memory:" and not database.startswith("md:"):
            conn = _open_read_only(database, retries)
            stack.callback(conn.close)
            return conn
    except duckdb.ConnectionException:
        pass  # this process already holds the file read-write
    return stack.enter_context(warehouse.get_connection())


@contextmanager
def read_connection(warehouse, retries: int = RETRIES) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection to `warehouse` (a DuckDBResource), read-only whenever possible."""
    with ExitStack() as stack:
        yield _enter(stack, warehouse, retries)
