"""Only new work: which programs still need sampling under a sampler config, and which are done.

A program is *done* for (config_hash, samples, seed) when the `sampling_ledger` says it was
sampled (or refused by the engine) with exactly that sample count and global seed, and, for
sampled programs, the warehouse still holds its `samples` sequences. Seeds derive from
(program_id, sample index, seed), so re-sampling a done program would give the very same
bytes: skipping it is exact, not an approximation (datatrove's "completed work is marked").

The loader must then leave done programs' rows alone: `kept_scope` turns the staged list of
skipped programs into the merge scope that excludes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from .staging import StagedPartition, write_partition

LEDGER_TABLE = "sampling_ledger"
SKIPS_TABLE = "sequence_skips"  # staging only: programs the sampler skipped, per config_hash
SKIP_SCHEMA = {"program_id": pl.String, "record_id": pl.String}
LEDGER_SCHEMA = {"program_id": pl.String, "config_hash": pl.String, "seed": pl.Int64, "samples": pl.Int32, "outcome": pl.String}


@dataclass(frozen=True)
class SamplingPlan:
    """Programs to sample now, and programs whose sequences stay exactly as they are."""

    todo: list[tuple[str, str, str, str]]  # (program_id, record_id, source, program)
    kept: list[tuple[str, str]]  # (program_id, record_id)

    @property
    def skipped(self) -> int:
        return len(self.kept)


def _has_table(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0])


def plan_sampling(conn: duckdb.DuckDBPyConnection, config_hash: str, samples: int, seed: int, *, incremental: bool = True) -> SamplingPlan:
    """Split `programs` into todo and kept for this config; `incremental=False` samples everything."""
    rows = conn.execute("SELECT program_id, record_id, source, program FROM programs ORDER BY program_id").fetchall()
    if not incremental or not _has_table(conn, LEDGER_TABLE):
        return SamplingPlan(rows, [])
    done = {
        pid
        for (pid,) in conn.execute(
            f"""SELECT l.program_id FROM {LEDGER_TABLE} l
                WHERE l.config_hash = ? AND l.samples = ? AND l.seed = ?
                  AND (l.outcome <> 'sampled' OR
                       (SELECT count(*) FROM edit_sequences s
                        WHERE s.program_id = l.program_id AND s.config_hash = l.config_hash AND s.sample_index < ?) = ?)""",
            [config_hash, samples, seed, samples, samples],
        ).fetchall()
    }
    todo = [r for r in rows if r[0] not in done]
    kept = [(r[0], r[1]) for r in rows if r[0] in done]
    return SamplingPlan(todo, kept)


def ledger_frame(entries: list[tuple[str, str]], config_hash: str, samples: int, seed: int) -> pl.DataFrame:
    """Ledger rows for the programs handled now: (program_id, outcome) with outcome `sampled` or a reason."""
    return pl.DataFrame(
        [{"program_id": pid, "config_hash": config_hash, "seed": seed, "samples": samples, "outcome": outcome} for pid, outcome in entries],
        schema=LEDGER_SCHEMA,
    )


def stage_plan(staging_root: Path, config_hash: str, plan: SamplingPlan, ledger: pl.DataFrame) -> tuple[StagedPartition, StagedPartition]:
    """Stage the skipped programs and the new ledger rows beside the config's sequence shards."""
    skips = write_partition(staging_root, SKIPS_TABLE, config_hash, [pl.DataFrame(plan.kept, schema=SKIP_SCHEMA, orient="row")])
    ledger_part = write_partition(staging_root, LEDGER_TABLE, config_hash, [ledger])
    return skips, ledger_part


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def kept_scope(skips: StagedPartition, column: str, alias: str = "t") -> str:
    """A SQL condition true for rows NOT belonging to a skipped program (`column`: program_id or record_id)."""
    if not skips.shards:
        return "true"
    files = ", ".join(_literal(str(p)) for p in skips.shards)
    return f"{alias}.{column} NOT IN (SELECT {column} FROM read_parquet([{files}]))"
