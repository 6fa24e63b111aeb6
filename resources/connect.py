"""DuckDB connections that wait their turn instead of failing.

DuckDB lets one process open a database file for writing, and while it does, other
processes cannot open it at all. So every connection here retries a lock error with
exponential backoff (readers are short-lived, and the writer is one pooled Dagster step),
and readers open the file read-only so they can never change it.
This module has no Dagster import: `lintseq sql` uses it directly.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
from contextlib import contextmanager
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


# How long a reader waits for the writer before it gives up (a merge at scale takes minutes).
READER_WAIT_SECONDS = 1800.0


class WarehouseMissing(FileNotFoundError):
    """The warehouse file does not exist yet (nothing has been materialized)."""


def _is_lock_error(err: Exception) -> bool:
    text = str(err).lower()
    return "lock" in text or "conflicting" in text or "being used" in text


def _is_unfinished_file(err: Exception) -> bool:
    """A reader that opened the file in the instant between the first writer creating it and
    DuckDB locking it and writing its header (issue 14: a concurrent `lintseq sql` failing
    about one run in nine with an error that names no lock)."""
    return "not a valid duckdb database file" in str(err).lower()


def writer_lock_path(database: str | Path) -> Path:
    """The loader's OS write lock (`resources.loader.write_lock`) next to the warehouse."""
    return Path(f"{database}.writer.lock")


# Databases whose write lock this process holds (the loader marks them): a flock taken on
# another descriptor of the same file in the same process would wait for ourselves.
_WRITING: set[str] = set()
_WRITING_GUARD = threading.Lock()


def mark_writing(database: str | Path, writing: bool) -> None:
    key = str(Path(database).resolve())
    with _WRITING_GUARD:
        (_WRITING.add if writing else _WRITING.discard)(key)


@contextmanager
def writer_done(database: str | Path, wait: float):
    """Hold a shared lock on the writer's lock file while a reader opens the warehouse, so it
    waits for a merge (or the warehouse's creation) to finish instead of meeting DuckDB's lock
    errors or a half-created file. Released once the connection is open: a reader never holds
    the writer up for longer than DuckDB's own lock does. Skipped when this process is the
    writer, and given up (falling back to DuckDB's retries) after `wait` seconds."""
    path = writer_lock_path(database)
    with _WRITING_GUARD:
        writing = str(Path(database).resolve()) in _WRITING
    if writing or not path.parent.is_dir():
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only folder: DuckDB's retries still apply
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def connect_with_retry(
    database: str | Path,
    *,
    read_only: bool,
    retries: int = 12,
    base_delay: float = 0.1,
    max_delay: float = 5.0,
    config: dict | None = None,
    wait: float | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open `database`, retrying lock conflicts with jittered exponential backoff: `retries`
    times (~30 s for 12), or for `wait` seconds when given (readers: never fail for a lock)."""
    path = Path(database)
    if read_only and str(database) != ":memory:" and not path.exists():
        raise WarehouseMissing(f"{path}: no warehouse yet; run `make run` or `lintseq materialize` first")
    if not read_only and str(database) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    delay = base_delay
    deadline = None if wait is None else time.monotonic() + wait
    attempt = 0
    while True:
        try:
            return duckdb.connect(str(database), read_only=read_only, config={"memory_limit": DEFAULT_MEMORY_LIMIT, **(config or {})})
        except (duckdb.IOException, duckdb.ConnectionException) as err:
            transient = _is_lock_error(err) or (read_only and _is_unfinished_file(err))
            out_of_time = attempt >= retries if deadline is None else time.monotonic() >= deadline
            if out_of_time or not transient:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, max_delay)
            attempt += 1


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


def connect_reader(database: str | Path, wait: float = READER_WAIT_SECONDS, **kwargs) -> duckdb.DuckDBPyConnection:
    """A read-only connection: any write through it fails inside DuckDB itself. It waits for
    the writer (the loader's lock, then DuckDB's) up to `wait` seconds: a reader never fails
    because a merge is running."""
    kwargs.pop("retries", None)  # readers wait by time, not by a count of tries
    with writer_done(database, wait):
        return connect_with_retry(database, read_only=True, wait=wait, **kwargs)
