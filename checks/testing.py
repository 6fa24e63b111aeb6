"""A small real warehouse for tests: standard-library programs through the real engine.

Used by this package's tests (and available to others) to build a DuckDB file with the
tables of DESIGN §3 filled from genuine `analyse_program` / `sample_analysed` output, which
the tests then corrupt on purpose. When the platform layer is absent a copy of
the design's columns is used instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

from lintseq_assets.core import ProgramRejected, SamplerConfig, analyse_program, sample_analysed

FALLBACK_DDL = """
CREATE TABLE IF NOT EXISTS raw_instructions (
    record_id VARCHAR PRIMARY KEY, source VARCHAR, source_revision VARCHAR, source_row BIGINT,
    instruction VARCHAR, response VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS programs (
    program_id VARCHAR PRIMARY KEY, record_id VARCHAR, source VARCHAR, instruction VARCHAR,
    program VARCHAR, n_lines INTEGER, n_lint_errors INTEGER, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS rejects (
    record_id VARCHAR, source VARCHAR, stage VARCHAR, reason VARCHAR, detail VARCHAR, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS edit_sequences (
    sequence_id VARCHAR PRIMARY KEY, program_id VARCHAR, sample_index INTEGER, seed UBIGINT,
    config_hash VARCHAR, n_edits INTEGER, edit_path VARCHAR[], run_id VARCHAR);
"""

# Short, pure standard-library modules: real code, quick to sample.
STDLIB_MODULES: tuple[str, ...] = ("colorsys", "bisect", "keyword", "this", "glob")


def stdlib_sources(names: Sequence[str] = STDLIB_MODULES) -> dict[str, str]:
    """Text of standard-library modules, read as files (never imported)."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return {name: (stdlib / f"{name}.py").read_text(encoding="utf-8") for name in names if (stdlib / f"{name}.py").exists()}


def _create_schema(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        from resources.ddl import schema_statements
    except ImportError:  # the platform layer is not there: the columns of DESIGN §3
        conn.execute(FALLBACK_DDL)
        return
    for statement in schema_statements():
        conn.execute(statement)


def build_warehouse(
    path: str | os.PathLike,
    sources: dict[str, str] | None = None,
    *,
    samples: int = 2,
    seed: int = 0,
    config: SamplerConfig = SamplerConfig(),
    run_id: str = "test-run",
) -> dict[str, int]:
    """Create and fill a warehouse at `path`; return row counts per table."""
    sources = sources if sources is not None else stdlib_sources()
    conn = duckdb.connect(str(path))
    try:
        _create_schema(conn)
        register_config(conn, config, run_id)
        for row, (name, text) in enumerate(sorted(sources.items())):
            record_id = f"stdlib:{name}"
            response = f"```python\n{text}\n```"
            conn.execute(
                "INSERT INTO raw_instructions (record_id, source, source_revision, source_row, instruction, "
                "response, run_id) VALUES (?, 'stdlib', 'test', ?, ?, ?, ?)",
                [record_id, row, f"Write the {name} module.", response, run_id],
            )
            try:
                analysed = analyse_program(text, config)
            except ProgramRejected as rejected:
                conn.execute(
                    "INSERT INTO rejects (record_id, source, stage, reason, detail, run_id) "
                    "VALUES (?, 'stdlib', 'programs', ?, ?, ?)",
                    [record_id, rejected.reason.value, rejected.detail, run_id],
                )
                continue
            program = analysed.program
            conn.execute(
                "INSERT INTO programs (program_id, record_id, source, instruction, program, n_lines, "
                "n_lint_errors, run_id) VALUES (?, ?, 'stdlib', ?, ?, ?, ?, ?)",
                [program.program_id, record_id, f"Write the {name} module.", program.text,
                 len(program.lines), len(analysed.baseline), run_id],
            )
            for seq in sample_analysed(analysed, samples=samples, seed=seed, config=config):
                conn.execute(
                    "INSERT INTO edit_sequences (sequence_id, program_id, sample_index, seed, config_hash, "
                    "n_edits, edit_path, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [seq.sequence_id, seq.program_id, seq.sample_index, seq.seed, seq.config_hash,
                     seq.n_edits, seq.edit_path, run_id],
                )
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("raw_instructions", "programs", "rejects", "edit_sequences")
        }
    finally:
        conn.close()


def register_config(conn: duckdb.DuckDBPyConnection, config: SamplerConfig, run_id: str = "test-run") -> None:
    """Record what a config_hash stands for, as the platform's loader does (if the table exists)."""
    exists = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'sampler_configs'").fetchone()[0]
    if exists:
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
    try:
        from resources.ddl import EDITS_VIEW
    except ImportError:
        return
    conn.execute(EDITS_VIEW)
