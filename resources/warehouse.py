"""The DuckDB warehouse as a Dagster resource (`warehouse`).

It is dagster-duckdb's `DuckDBResource` (so the UI shows a standard resource and anyone can
use `get_connection()`), with two doors of our own: `load`, the one way rows enter the
warehouse (`resources.loader`: staged sets merged under the write lock), and
`read_connection`, short read-only connections that retry lock conflicts with backoff.
Neither reader door creates or alters anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from resources.connect import connect_reader, connect_with_retry
from resources.loader import Load, load
from resources.merge import MergeStats


class WarehouseResource(DuckDBResource):
    """DuckDB at `database` (`$LINTSEQ_HOME/lintseq.duckdb` by default)."""

    loader_memory_limit: str = Field(default="256MB", description="DuckDB's memory cap of the loader's connection (LINTSEQ_LOADER_MEMORY_LIMIT, else LINTSEQ_WAREHOUSE_MEMORY_LIMIT), over connection_config's; a loader on its own node appends faster with more (docs/scale.md).")
    lock_retries: int = Field(default=12, description="How often get_connection() retries a lock conflict (exponential backoff, ~30 s in all); readers wait for the writer instead (resources.connect.READER_WAIT_SECONDS).")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A plain read-write connection (DuckDBResource's contract); platform code loads
        through `load` and reads through `read_connection` instead."""
        conn = connect_with_retry(self.database, read_only=False, retries=self.lock_retries, config=dict(self.connection_config))
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def read_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short read-only connection; `WarehouseMissing` before anything was loaded."""
        conn = connect_reader(self.database, retries=self.lock_retries, config=dict(self.connection_config))
        try:
            yield conn
        finally:
            conn.close()

    def load(self, loads: Sequence[Load], *, run_id: str) -> list[MergeStats]:
        """The loader (`resources.loader.load`): one `MergeStats` per load, for metadata."""
        return load(self.database, loads, run_id=run_id, config={**dict(self.connection_config), "memory_limit": self.loader_memory_limit})
