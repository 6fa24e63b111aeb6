"""Evaluations into the warehouse: stage a Parquet set, then the keyed merge (the one-writer rule).

`lintseq eval` and the `evaluations` asset both come here, so there is one way results enter
the `evaluations` table. A run's rows are staged under
`$LINTSEQ_HOME/staging/evaluations/<benchmark>-<format>-<mode>-<sha256>/` and merged with the
scope "this file, benchmark, format and mode": loading the same staged set again changes
nothing; evaluating the same file again replaces its rows (new `evaluated_at` and `run_id`).
The library in `lintseq_assets/evaluation/` knows nothing of this (no DuckDB there).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .evaluation.runner import EvaluationRun
from .staging import StagedPartition, write_partition

TABLE = "evaluations"
SCHEMA = {
    "generations_sha256": pl.String,
    "benchmark": pl.String,
    "format": pl.String,
    "malformed_mode": pl.String,
    "task_id": pl.String,
    "generation_index": pl.Int32,
    "generations_file": pl.String,
    "passed": pl.Boolean,
    "failure_kind": pl.String,
    "detail": pl.String,
    "n_tests": pl.Int32,
    "n_tests_passed": pl.Int32,
    "n_edits": pl.Int32,
    "n_edits_applied": pl.Int32,
    "n_malformed": pl.Int32,
    "malformed_kinds": pl.String,
    "program": pl.String,
    "seconds": pl.Float64,
    "sandbox": pl.String,
    "evaluated_at": pl.Datetime("us"),
}
SCOPE_SQL = "t.generations_sha256 = ? AND t.benchmark = ? AND t.format = ? AND t.malformed_mode = ?"


def evaluation_frame(run: EvaluationRun) -> pl.DataFrame:
    """One row per generation, shaped like the `evaluations` table (run_id comes from the merge)."""
    rows = [
        {
            "generations_sha256": run.generations_sha256,
            "benchmark": run.benchmark,
            "format": run.format,
            "malformed_mode": run.malformed_mode,
            "task_id": r.task_id,
            "generation_index": r.generation_index,
            "generations_file": run.generations_file,
            "passed": r.passed,
            "failure_kind": r.failure_kind,
            "detail": r.detail,
            "n_tests": r.n_tests,
            "n_tests_passed": r.n_tests_passed,
            "n_edits": r.n_edits,
            "n_edits_applied": r.n_edits_applied,
            "n_malformed": r.n_malformed,
            "malformed_kinds": json.dumps(r.malformed, sort_keys=True),
            "program": r.program,
            "seconds": r.seconds,
            "sandbox": run.sandbox.describe(),
            "evaluated_at": run.started_at,
        }
        for r in run.results
    ]
    return pl.DataFrame(rows, schema=SCHEMA)


def partition_name(run: EvaluationRun) -> str:
    return f"{run.benchmark}-{run.format}-{run.malformed_mode}-{run.generations_sha256}"


def stage_evaluation(staging_root: Path, run: EvaluationRun) -> StagedPartition:
    """Write the run's rows as a sealed staged set (what the merge reads)."""
    return write_partition(Path(staging_root), TABLE, partition_name(run), [evaluation_frame(run)])


def scope_params(run: EvaluationRun) -> list[str]:
    return [run.generations_sha256, run.benchmark, run.format, run.malformed_mode]


def load_into_warehouse(warehouse_path: Path, staging_root: Path, run: EvaluationRun, run_id: str):
    """Stage and merge one run with a writer connection of our own (`lintseq eval`); returns MergeStats."""
    from resources.connect import connect_writer
    from resources.merge import merge, parquet_select

    staged = stage_evaluation(staging_root, run)
    conn = connect_writer(warehouse_path)
    try:
        return merge(conn, TABLE, parquet_select(staged.shards, TABLE), run_id=run_id, scope_sql=SCOPE_SQL, scope_params=scope_params(run))
    finally:
        conn.close()
