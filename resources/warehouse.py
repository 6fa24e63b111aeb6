"""The DuckDB warehouse as a Dagster resource (`warehouse`).

It is dagster-duckdb's `DuckDBResource` (so the UI shows a standard resource and anyone can
use `get_connection()`), with three things added: the schema is created on connect, lock
conflicts are retried with backoff instead of failing the step, and a read-only door for
steps that only read. Writing steps are also in the `warehouse` Dagster pool (limit 1, see
dagster.yaml), so writers queue in Dagster rather than race in DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from resources.connect import connect_reader, connect_writer
from resources.merge import MergeStats, merge, replace_table

WAREHOUSE_POOL = "warehouse"


class WarehouseResource(DuckDBResource):
    """DuckDB at `database` (`$LINTSEQ_HOME/lintseq.duckdb` by default)."""

    lock_retries: int = Field(default=12, description="How often a lock conflict is retried (exponential backoff, ~30 s in all).")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection with the schema in place; closed on exit."""
        conn = connect_writer(self.database, retries=self.lock_retries, config=dict(self.connection_config))
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def read_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short read-only connection (creates the schema first if the file is new)."""
        if not Path(self.database).exists():
            connect_writer(self.database, retries=self.lock_retries).close()
        conn = connect_reader(self.database, retries=self.lock_retries)
        try:
            yield conn
        finally:
            conn.close()

    def merge(self, table: str, incoming_sql: str, *, run_id: str, scope_sql: str | None = None, scope_params: list | None = None) -> MergeStats:
        with self.get_connection() as conn:
            return merge(conn, table, incoming_sql, run_id=run_id, scope_sql=scope_sql, scope_params=scope_params)

    def replace_table(self, table: str, incoming_sql: str, *, run_id: str) -> int:
        with self.get_connection() as conn:
            return replace_table(conn, table, incoming_sql, run_id=run_id)
