"""The loader: the one function that writes the warehouse (docs/architecture.md, "One writer").

Every asset computes outside it and stages Parquet (`lintseq_assets.runtime.staging`); then it
hands the loader a list of `Load`s, and the loader brings each table in line with its staged
rows (`resources.merge`) while it holds the warehouse's write lock. The lock is an OS file
lock next to the database (`<warehouse>.writer.lock`), so it holds across runs, processes, the
CLI and the tests alike: two source partitions can ingest and curate at the same time, and
only their loads take turns. DuckDB itself admits one writing process per file; the lock
makes writers queue instead of failing on that rule.

Only the loader creates or migrates the schema (readers never do: `resources.connect`).

Staged sets on an object store (`LINTSEQ_STAGING_URL=s3://...`) are fetched first: every
remote Parquet URL a load names is copied with fsspec, streamed, to a local scratch folder
next to the warehouse, and the load reads the copy (DuckDB's httpfs extension is not needed,
so nothing is downloaded at run time); the copies are removed when the loads are done.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from resources.connect import connect_writer, mark_writing, writer_lock_path
from resources.merge import MergeStats, merge, replace_table, transaction

# A writer waits this many lock retries (backoff up to 5 s each: about 10 minutes) for readers
# in other processes, such as an export staging its files; it already holds the write lock.
WRITER_RETRIES = 120


@dataclass(frozen=True)
class Load:
    """One table's incoming rows: usually `parquet_select(staged.shards, table)`.

    scope_sql: the rows of the table this load owns (they are deleted when not incoming);
        None is a pure upsert. replace: a report table without a key, replaced whole.
    rows_sql None (`Load.delete`): no incoming rows, the scope's rows are deleted.
    """

    table: str
    rows_sql: str | None
    scope_sql: str | None = None
    scope_params: tuple = ()
    replace: bool = False

    @classmethod
    def delete(cls, table: str, scope_sql: str, scope_params: tuple = ()) -> Load:
        """Remove every row of `scope_sql` (over alias `t`): a source pruned from sources.yaml."""
        return cls(table, None, scope_sql, tuple(scope_params))


def lock_path(database: str | Path) -> Path:
    return writer_lock_path(database)


@contextmanager
def write_lock(database: str | Path) -> Iterator[None]:
    """Hold the warehouse's write lock (blocking until the writer before us is done)."""
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        mark_writing(database, True)  # readers of this process must not wait for it
        try:
            yield
        finally:
            mark_writing(database, False)
    finally:
        os.close(fd)  # closing the descriptor releases the lock, even if the process is killed


# A quoted remote URL in a load's SQL ('s3://bucket/key.parquet'); file:// and paths stay as they are.
_REMOTE_LITERAL = re.compile(r"'([A-Za-z][A-Za-z0-9+.-]*://(?:[^']|'')+)'")


def _remote_urls(loads: Sequence[Load]) -> list[str]:
    urls: dict[str, None] = {}
    for item in loads:
        for sql in (item.rows_sql or "", item.scope_sql or ""):
            for match in _REMOTE_LITERAL.finditer(sql):
                url = match.group(1).replace("''", "'")
                if not url.startswith("file://"):
                    urls[url] = None
    return list(urls)


def fetch_remote(loads: Sequence[Load], folder: Path) -> list[Load]:
    """`loads` with every remote URL they name replaced by a local copy under `folder`
    (fsspec streams each object to disk: memory stays bounded by its block size)."""
    urls = _remote_urls(loads)
    if not urls:
        return list(loads)
    import fsspec  # only remote staging needs it

    local: dict[str, str] = {}
    for k, url in enumerate(urls):
        fs, path = fsspec.core.url_to_fs(url)
        target = folder / f"{k:06d}-{Path(path).name}"
        fs.get_file(path, str(target))
        local[url] = str(target)

    def swap(sql: str | None) -> str | None:
        if sql is None:
            return None
        def one(match: re.Match) -> str:
            url = match.group(1).replace("''", "'")
            return "'" + local[url].replace("'", "''") + "'" if url in local else match.group(0)

        return _REMOTE_LITERAL.sub(one, sql)

    return [replace(item, rows_sql=swap(item.rows_sql), scope_sql=swap(item.scope_sql)) for item in loads]


def _apply(conn, item: Load, run_id: str) -> MergeStats:
    """One load, inside the loader's transaction."""
    if item.rows_sql is None:
        if not item.scope_sql:
            raise ValueError(f"a delete from {item.table} needs a scope")
        deleted = conn.execute(f"DELETE FROM {item.table} t WHERE {item.scope_sql}", list(item.scope_params)).fetchone()[0]
        return MergeStats(0, 0, 0, deleted)
    if item.replace:
        rows = replace_table(conn, item.table, item.rows_sql, run_id=run_id, own_transaction=False)
        return MergeStats(rows, rows, 0, 0)
    return merge(conn, item.table, item.rows_sql, run_id=run_id, scope_sql=item.scope_sql, scope_params=list(item.scope_params), own_transaction=False)


def load(database: str | Path, loads: Sequence[Load], *, run_id: str, retries: int = WRITER_RETRIES, config: dict | None = None) -> list[MergeStats]:
    """Apply `loads` in order under the write lock; one `MergeStats` per load, for metadata.

    A replaced report table counts its rows as inserted. All loads of one call are one
    transaction: a reader sees a step's tables change together, a failure leaves none of them
    applied (the asset's re-run converges: every load is idempotent), and DuckDB writes the
    appended rows out once, at the one commit, instead of once per table (the commit is most
    of an append's cost: docs/scale.md, "The loader's rate")."""
    stats: list[MergeStats] = []
    fetched: Path | None = None
    try:
        if _remote_urls(loads):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            fetched = Path(tempfile.mkdtemp(prefix=".staged-", dir=Path(database).parent))
            loads = fetch_remote(loads, fetched)
        with write_lock(database):
            conn = connect_writer(database, retries=retries, config=config)
            try:
                with transaction(conn):
                    for item in loads:
                        stats.append(_apply(conn, item, run_id))
            finally:
                conn.close()
    finally:
        if fetched is not None:
            shutil.rmtree(fetched, ignore_errors=True)
    return stats
