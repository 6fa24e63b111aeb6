"""Only new work: which programs still need sampling under a sampler config, and which are done.

A program is *done* for (config_hash, samples, seed) when the `sampling_ledger` says it was
sampled (or refused by the engine) with exactly that sample count and global seed, and, for
sampled programs, the warehouse still holds its `samples` sequences. Seeds derive from
(program_id, sample index, seed), so re-sampling a done program would give the very same
bytes: skipping it is exact, not an approximation (datatrove's "completed work is marked").

The plan is computed inside DuckDB and never held in Python: the done set is a temp table,
the programs to sample (with their text) are copied, ordered by program_id, into scratch
Parquet files (a key range each: `runtime.sorted_copy`) that `SamplingPlan.todo()` reads back a small batch at a time, and the skipped
programs stream straight into their staging shards. Memory is flat in the number of
programs; the file is also a consistent snapshot, so no warehouse connection stays open
while the workers sample.

The loader must then leave done programs' rows alone: `kept_scope` turns the staged list of
skipped programs into the merge scope that excludes them, and `provenance_refresh` brings
their provenance columns (source record, revision, row) up to date when only those moved.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl
import pyarrow.parquet as pq

from lintseq_assets.runtime.sorted_copy import copy_in_key_ranges, sql_literal
from lintseq_assets.runtime.staging import ShardWriter, StagedPartition, partition_dir
from lintseq_assets.tables import SAMPLING_LEDGER

LEDGER_TABLE = "sampling_ledger"
SKIPS_TABLE = "sequence_skips"  # staging only: programs the sampler skipped, per config_hash
TODO_TABLE = "sampling_todo"  # scratch only: the programs to sample, with their text
PROVENANCE = ("record_id", "source", "source_revision", "source_row")  # copied from `programs` onto every sequence
SKIP_SCHEMA = {
    "program_id": pl.String,
    "record_id": pl.String,
    "source": pl.String,
    "source_revision": pl.String,
    "source_row": pl.Int64,
    "outcome": pl.String,
}
LEDGER_SCHEMA = SAMPLING_LEDGER.staged_schema()

SKIP_SHARD_ROWS = 25_000  # ids and provenance only: about a MB per shard
TODO_ROW_GROUP = "1MB"  # row groups of the scratch file: what one read holds in memory at most
TODO_BATCH_ROWS = 256
PLAN_MEMORY_LIMIT = "256MB"  # DuckDB's cap while it sorts the programs to sample (it spills beyond)


class ProgramRow(NamedTuple):
    """A program to sample, with the provenance its sequences carry."""

    program_id: str
    record_id: str
    source: str | None
    source_revision: str | None
    source_row: int | None
    program: str | None


TODO_COLUMNS = ProgramRow._fields


class SamplingFingerprint:
    """A content hash of a config's sampling result: per program, its provenance and outcome.

    Order-independent (XOR of per-program sha256 digests, plus the count), so a run that samples
    everything and an incremental re-run that skips everything report the same value: both stand
    for the same rows, as sequences are a pure function of (program_id, config, samples, seed).
    """

    def __init__(self, config_hash: str, samples: int, seed: int) -> None:
        self._head = f"{config_hash}\x1f{samples}\x1f{seed}"
        self._xor = 0
        self.programs = 0

    def add(self, program_id: str, record_id, source, source_revision, source_row, outcome: str) -> None:
        fields = (program_id, record_id, source, source_revision, source_row, outcome)
        text = "\x1f".join("\x00" if f is None else str(f) for f in fields)
        self._xor ^= int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), "big")
        self.programs += 1

    def hexdigest(self) -> str:
        return hashlib.sha256(f"{self._head}\x1f{self.programs}\x1f{self._xor:064x}".encode()).hexdigest()


@dataclass(frozen=True)
class SamplingPlan:
    """Programs to sample now (a scratch Parquet file), and the staged programs that stay as they are."""

    todo_dir: Path  # part files, in program_id order by name
    n_todo: int
    kept: StagedPartition
    fingerprint: SamplingFingerprint  # holds the kept programs; the caller adds the sampled ones

    @property
    def skipped(self) -> int:
        return self.kept.rows

    def todo(self, batch_rows: int = TODO_BATCH_ROWS) -> Iterator[ProgramRow]:
        """The programs to sample in program_id order, read lazily, `batch_rows` at a time."""
        for path in sorted(self.todo_dir.glob("part-*.parquet")):
            handle = pq.ParquetFile(path)
            try:
                for batch in handle.iter_batches(batch_size=batch_rows, columns=list(TODO_COLUMNS), use_threads=False):
                    columns = [batch.column(name).to_pylist() for name in TODO_COLUMNS]
                    for values in zip(*columns, strict=True):
                        yield ProgramRow(*values)
            finally:
                handle.close()

    def discard(self) -> None:
        """Remove the scratch file (the staged skips stay for the loader)."""
        shutil.rmtree(self.todo_dir, ignore_errors=True)


def _has_table(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0])



_DONE = "_sampling_done"


def _mark_done(conn: duckdb.DuckDBPyConnection, config_hash: str, samples: int, seed: int, incremental: bool) -> None:
    """Temp table of the done programs of this (config, samples, seed) with their ledger outcome."""
    if not incremental or not _has_table(conn, LEDGER_TABLE):
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {_DONE} (program_id VARCHAR, outcome VARCHAR)")
        return
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_DONE} AS
            SELECT l.program_id, l.outcome
            FROM {LEDGER_TABLE} l
            LEFT JOIN (SELECT program_id, count(*) AS n FROM edit_sequences
                       WHERE config_hash = ? AND sample_index < ? GROUP BY program_id) s USING (program_id)
            WHERE l.config_hash = ? AND l.samples = ? AND l.seed = ?
              AND (l.outcome <> 'sampled' OR coalesce(s.n, 0) = ?)""",
        [config_hash, samples, config_hash, samples, seed, samples],
    )


def plan_sampling(
    conn: duckdb.DuckDBPyConnection,
    staging_root: Path | str,
    config_hash: str,
    samples: int,
    seed: int,
    *,
    incremental: bool = True,
    scratch_root: Path | None = None,
) -> SamplingPlan:
    """Split `programs` into todo and kept for this config; `incremental=False` samples everything.

    Stages the kept programs (`SKIPS_TABLE`, partition `config_hash`) under `staging_root` (a
    folder or a bucket URL) and writes the todo set to a local scratch file under
    `scratch_root` (default: `staging_root`); Python holds one batch of either at a time.
    """
    _mark_done(conn, config_hash, samples, seed, incremental)
    fingerprint = SamplingFingerprint(config_hash, samples, seed)
    writer = ShardWriter(staging_root, SKIPS_TABLE, config_hash)
    reader = conn.sql(
        f"""SELECT p.program_id, p.record_id, p.source, p.source_revision, p.source_row, d.outcome
            FROM programs p JOIN {_DONE} d USING (program_id) ORDER BY p.program_id"""
    ).to_arrow_reader(SKIP_SHARD_ROWS)
    for batch in reader:
        frame = pl.from_arrow(batch).cast(SKIP_SCHEMA)
        for row in frame.iter_rows():
            fingerprint.add(*row)
        writer.write(frame)
    kept = writer.seal()

    # Per process: two runs planning the same config at once must not share (or delete) it.
    todo_dir = partition_dir(scratch_root or staging_root, TODO_TABLE, f"{config_hash}-{os.getpid()}")
    # Sorting every program's text is the one big job here: DuckDB does it a key range at a
    # time under a small cap (spilling beyond it), so this step's peak does not grow with the corpus.
    limit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    conn.execute(f"SET memory_limit = {sql_literal(PLAN_MEMORY_LIMIT)}")
    try:
        n_todo = copy_in_key_ranges(
            conn,
            f"SELECT {', '.join('p.' + c for c in TODO_COLUMNS)} FROM programs p ANTI JOIN {_DONE} d USING (program_id)",
            "program_id",
            [],
            todo_dir,
            f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048, ROW_GROUP_SIZE_BYTES {sql_literal(TODO_ROW_GROUP)}",
        )
    finally:
        conn.execute(f"SET memory_limit = {sql_literal(limit)}")
        conn.execute(f"DROP TABLE {_DONE}")
    return SamplingPlan(todo_dir, n_todo, kept, fingerprint)


def ledger_frame(entries: list[tuple[str, str]], config_hash: str, samples: int, seed: int) -> pl.DataFrame:
    """Ledger rows for the programs handled now: (program_id, outcome) with outcome `sampled` or a reason."""
    return pl.DataFrame(
        [{"program_id": pid, "config_hash": config_hash, "seed": seed, "samples": samples, "outcome": outcome} for pid, outcome in entries],
        schema=LEDGER_SCHEMA,
    )


def kept_scope(skips: StagedPartition, column: str, alias: str = "t") -> str:
    """A SQL condition true for rows NOT belonging to a skipped program (`column`: program_id or record_id)."""
    if not skips.shards:
        return "true"
    files = ", ".join(sql_literal(p) for p in skips.shards)
    return f"{alias}.{column} NOT IN (SELECT {column} FROM read_parquet([{files}]))"


def provenance_refresh(skips: StagedPartition, config_hash: str) -> str:
    """Rows of skipped programs whose provenance moved (a re-read source, a new revision, another
    kept duplicate), with the staged provenance: a SELECT for `merge` into `edit_sequences`.

    The sequences themselves are unchanged (they depend on the program text only), so only these
    columns, and the rows' run_id, are updated; rows whose provenance is unchanged are not incoming.
    """
    if not skips.shards:
        return "SELECT * FROM edit_sequences WHERE false"
    files = ", ".join(sql_literal(p) for p in skips.shards)
    old = ", ".join(f"s.{c}" for c in PROVENANCE)
    new = ", ".join(f"k.{c}" for c in PROVENANCE)
    return (
        f"SELECT s.* EXCLUDE ({', '.join(PROVENANCE)}), {new} "
        f"FROM edit_sequences s JOIN read_parquet([{files}]) k ON s.program_id = k.program_id "
        f"WHERE s.config_hash = {sql_literal(config_hash)} AND ({old}) IS DISTINCT FROM ({new})"
    )
