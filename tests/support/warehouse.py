"""A small real warehouse: standard-library programs through the real engine and the real loader.

`build_warehouse` stages the rows as Parquet and loads them with `resources.loader.load`, the
platform's one writer, into the schema `lintseq_assets.tables` declares; tests then corrupt
it on purpose (`strip_constraints`, `register_config` and plain SQL in the test) to show that
the checks catch what they must.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from lintseq_assets.core import ProgramRejected, SamplerConfig, analyse_program, sample_analysed
from lintseq_assets.runtime.staging import write_partition
from lintseq_assets.tables import EDITS_VIEW, TABLES
from resources.loader import Load, load
from resources.merge import parquet_select
from support.corpus import stdlib_sources

COUNTED = ("raw_instructions", "programs", "rejects", "edit_sequences")


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = TABLES[table].staged_schema()
    return pl.DataFrame([{column: row.get(column) for column in schema} for row in rows], schema=schema)


def build_warehouse(
    path: str | os.PathLike,
    sources: dict[str, str] | None = None,
    *,
    samples: int = 2,
    seed: int = 0,
    config: SamplerConfig = SamplerConfig(),
    run_id: str = "test-run",
) -> dict[str, int]:
    """Create and fill a warehouse at `path` through the loader; return row counts per table."""
    sources = sources if sources is not None else stdlib_sources()
    rows: dict[str, list[dict]] = {table: [] for table in (*COUNTED, "sampler_configs")}
    rows["sampler_configs"].append({"config_hash": config.config_hash(), "description": json.dumps(config.describe(), sort_keys=True)})
    for row, (name, text) in enumerate(sorted(sources.items())):
        record_id = f"stdlib:{name}"
        instruction = f"Write the {name} module."
        provenance = {"record_id": record_id, "source": "stdlib", "source_revision": "test", "source_row": row}
        rows["raw_instructions"].append({**provenance, "instruction": instruction, "response": f"```python\n{text}\n```"})
        try:
            analysed = analyse_program(text, config)
        except ProgramRejected as rejected:
            rows["rejects"].append({**provenance, "stage": "programs", "reason": rejected.reason.value, "detail": rejected.detail, "asset": "programs"})
            continue
        program = analysed.program
        rows["programs"].append({
            **provenance, "program_id": program.program_id, "instruction": instruction, "program": program.text,
            "n_lines": len(program.lines), "n_bytes": len(program.text.encode()), "n_lint_errors": len(analysed.baseline),
        })
        for seq in sample_analysed(analysed, samples=samples, seed=seed, config=config):
            rows["edit_sequences"].append({
                **provenance, "sequence_id": seq.sequence_id, "program_id": seq.program_id, "sample_index": seq.sample_index,
                "seed": seq.seed, "config_hash": seq.config_hash, "n_edits": seq.n_edits, "edit_path": seq.edit_path,
            })
    with tempfile.TemporaryDirectory(prefix="staging-") as staging:
        loads = []
        for table, table_rows in rows.items():
            staged = write_partition(Path(staging), table, "test", [_frame(table, table_rows)])
            loads.append(Load(table, parquet_select(staged.shards, table)))
        load(path, loads, run_id=run_id)
    with duckdb.connect(str(path), read_only=True) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COUNTED}


def register_config(conn: duckdb.DuckDBPyConnection, config: SamplerConfig, run_id: str = "test-run") -> None:
    """Plant what a config_hash stands for into an open warehouse (a test's corruption step)."""
    conn.execute(
        "INSERT OR REPLACE INTO sampler_configs (config_hash, description, run_id) VALUES (?, ?, ?)",
        [config.config_hash(), json.dumps(config.describe(), sort_keys=True), run_id],
    )


def strip_constraints(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """Recreate `table` without keys or NOT NULLs (as a careless CTAS migration would), so a
    test can plant the duplicates and nulls the real schema refuses."""
    views = [r[0] for r in conn.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    for view in views:
        conn.execute(f"DROP VIEW {view}")
    conn.execute(f"CREATE TABLE {table}__copy AS SELECT * FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {table}__copy RENAME TO {table}")
    conn.execute(EDITS_VIEW)
