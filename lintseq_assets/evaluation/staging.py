"""Evaluations staged for the warehouse: a sealed Parquet set and the scope it replaces.

`lintseq eval` and the `evaluations` asset both stage here and hand the set to the loader
(`resources/loader.py`, the one writer), so there is one way results enter the table. A run's rows are staged under
`$LINTSEQ_HOME/staging/evaluations/<benchmark>-<format>-<mode>-<sha256>/` and merged with the
scope "this file, benchmark, format and mode": loading the same staged set again changes
nothing; evaluating the same file again replaces its rows (new `evaluated_at` and `run_id`).
No DuckDB here: the loader does the merge.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from lintseq_assets.evaluation.runner import EvaluationRun
from lintseq_assets.runtime.staging import StagedPartition, write_partition
from lintseq_assets.tables import EVALUATIONS

TABLE = "evaluations"
SCHEMA = EVALUATIONS.staged_schema()
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
