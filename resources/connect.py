"""DuckDB connections that wait their turn instead of failing.

DuckDB lets one process open a database file for writing, and while it does, other
processes cannot open it at all. So every connection here retries a lock error with
exponential backoff (readers are short-lived, and the writer is one pooled Dagster step),
and readers open the file read-only so they can never change it.
This module has no Dagster import: `lintseq sql` uses it directly.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import duckdb

from resources.ddl import schema_statements

# DuckDB's own default is 80% of RAM, which it fills with cached pages during big merges
# and keeps; a fixed cap keeps the platform's memory flat as the data grows (DuckDB spills
# to `<warehouse>.tmp/` beyond it; its temp files are named per process). Even a read fills
# the cap with cached blocks (a scan of every edit path, a check's join), so the cap is what
# a stage adds to the process while a connection is open: at 1 GB that was most of the
# process's peak at 90K programs. The platform's statements are written to stay inside 256 MB
# (the merge compares a key range at a time, the replay check samples keys before joining,
# the export stages a key range at a time). Pass config={"memory_limit": ...} to change it.
DEFAULT_MEMORY_LIMIT = "256MB"


class WarehouseMissing(FileNotFoundError):
    """The warehouse file does not exist yet (nothing has been materialized)."""


def _is_lock_error(err: Exception) -> bool:
    text = str(err).lower()
    return "lock" in text or "conflicting" in text or "being used" in text


def connect_with_retry(
    database: str | Path,
    *,
    read_only: bool,
    retries: int = 12,
    base_delay: float = 0.1,
    max_delay: float = 5.0,
    config: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open `database`, retrying lock conflicts with jittered exponential backoff (~30 s max)."""
    path = Path(database)
    if read_only and str(database) != ":memory:" and not path.exists():
        raise WarehouseMissing(f"{path}: no warehouse yet; run `make run` or `lintseq materialize` first")
    if not read_only and str(database) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    delay = base_delay
    for attempt in range(retries + 1):
        try:
            return duckdb.connect(str(database), read_only=read_only, config={"memory_limit": DEFAULT_MEMORY_LIMIT, **(config or {})})
        except (duckdb.IOException, duckdb.ConnectionException) as err:
            if attempt == retries or not _is_lock_error(err):
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")


def connect_writer(database: str | Path, **kwargs) -> duckdb.DuckDBPyConnection:
    """A read-write connection with the schema in place."""
    conn = connect_with_retry(database, read_only=False, **kwargs)
    try:
        for statement in schema_statements():
            conn.execute(statement)
    except Exception:
        conn.close()
        raise
    return conn


def connect_reader(database: str | Path, **kwargs) -> duckdb.DuckDBPyConnection:
    """A read-only connection: any write through it fails inside DuckDB itself."""
    return connect_with_retry(database, read_only=True, **kwargs)
