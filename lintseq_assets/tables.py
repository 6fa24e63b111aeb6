"""Every warehouse table, declared once: columns and types, keys, and the polars schemas.

docs/architecture.md ("One schema") explains the rule: the DDL (`resources/ddl.py`), the
loader's merge keys, the checks and the tests all read this module, and every step that
stages rows builds its frames from `staged_schema(...)`. A column added here reaches the
warehouse (the writer adds missing nullable columns on connect), the staged Parquet and the
checks at once, so they cannot drift apart.

This module imports polars only: it sits below every layer that stages or loads rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# DuckDB type -> the polars type staged rows carry for it.
_POLARS = {
    "VARCHAR": pl.String,
    "INTEGER": pl.Int32,
    "BIGINT": pl.Int64,
    "UBIGINT": pl.UInt64,
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
    "TIMESTAMP": pl.Datetime("us"),
    "VARCHAR[]": pl.List(pl.String),
    "UINTEGER[]": pl.List(pl.UInt32),
    "STRUCT(reason VARCHAR, count BIGINT)[]": pl.List(pl.Struct({"reason": pl.String, "count": pl.Int64})),
}
RUN_ID = "run_id"  # added by the loader to every row: the run that last changed it


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    nullable: bool = True
    comment: str = ""

    @property
    def polars_type(self) -> pl.DataType:
        return _POLARS[self.sql_type]


@dataclass(frozen=True)
class Table:
    """One warehouse table. `key` is what makes a load re-runnable (None: replaced whole).

    `indexed_key` says whether DuckDB enforces the key with a PRIMARY KEY. DuckDB keeps a
    primary key as an ART index it cannot spill, which must fit in the connection's memory
    cap whenever rows are merged: at 1.8M records it did not fit in 256 MB. So the tables
    whose rows grow with the corpus keep their key unindexed: the loader is their one
    writer and its merge keeps one row per key (`resources/merge.py`), and the
    `unique_*_id` asset checks verify it after every load. Small tables keep the index.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] | None
    comment: str = ""
    indexed_key: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        """CREATE TABLE IF NOT EXISTS, then ADD COLUMN IF NOT EXISTS for every nullable column,
        so a warehouse made by an older release gains new columns (NULL until its next load)."""
        lines = []
        key = self.key or ()
        for column in self.columns:
            constraint = "" if column.nullable and column.name not in key else " NOT NULL"
            if self.indexed_key and key == (column.name,):
                constraint = " PRIMARY KEY"
            comment = f"  -- {column.comment}" if column.comment else ""
            lines.append(f"    {column.name} {column.sql_type}{constraint},{comment}")
        if self.indexed_key and len(key) > 1:
            lines.append(f"    PRIMARY KEY ({', '.join(key)}),")
        lines.append(f"    {RUN_ID} VARCHAR")
        body = "\n".join(lines)
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} (\n{body}\n)"]
        statements += [
            f"ALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS {c.name} {c.sql_type}"
            for c in self.columns
            if c.nullable and not (self.key and c.name in self.key)
        ]
        return ";\n".join(statements)

    def staged_schema(self, *, extra: dict[str, pl.DataType] | None = None, without: tuple[str, ...] = ()) -> dict[str, pl.DataType]:
        """The polars schema of rows staged for this table (no run_id: the loader adds it).

        `extra` columns come first (a step's working columns such as `_row`), `without` drops
        columns another step fills in (e.g. `asset` on rejects before they are attributed)."""
        schema = dict(extra or {})
        schema.update({c.name: c.polars_type for c in self.columns if c.name not in without})
        return schema


def _c(name: str, sql_type: str, nullable: bool = True, comment: str = "") -> Column:
    return Column(name, sql_type, nullable, comment)


_PROVENANCE = (
    _c("source_revision", "VARCHAR", comment="the hub commit or file hash the record was read at"),
    _c("source_row", "BIGINT", comment="row index in the source"),
)
_PROGRAM_FACTS = (
    _c("n_lines", "INTEGER"),
    _c("n_bytes", "INTEGER"),
    _c("n_statements", "INTEGER"),
    _c("n_lint_errors", "INTEGER"),
    _c("extraction", "VARCHAR", comment="how the code was found in the answer"),
    _c("n_blocks", "INTEGER", comment="fenced blocks joined"),
)

RAW_INSTRUCTIONS = Table(
    "raw_instructions",
    (
        _c("record_id", "VARCHAR", False, "'<source>:<row key>'"),
        _c("source", "VARCHAR", False),
        *_PROVENANCE,
        _c("instruction", "VARCHAR"),
        _c("response", "VARCHAR"),
    ),
    key=("record_id",),
    indexed_key=False,  # grows with the corpus (Table.indexed_key)
    comment="one row per source record, untouched",
)
CANDIDATES = Table(
    "candidates",
    (
        _c("record_id", "VARCHAR", False),
        _c("source", "VARCHAR", False),
        *_PROVENANCE,
        _c("instruction", "VARCHAR"),
        _c("program_id", "VARCHAR", False),
        _c("program", "VARCHAR", False),
        *_PROGRAM_FACTS,
        _c("exact_key", "VARCHAR", False, "hash of the token stream (exact de-dup)"),
        _c("signature", "UINTEGER[]", comment="MinHash signature (near de-dup)"),
        _c("contamination", "VARCHAR", comment="contaminated:<benchmark>:<task>, or NULL"),
        _c("contamination_detail", "VARCHAR"),
        _c("curation_hash", "VARCHAR", False, "the per-record settings it was made under"),
    ),
    key=("record_id",),
    indexed_key=False,  # grows with the corpus (Table.indexed_key)
    comment="per-record curation output, per source partition",
)
PROGRAMS = Table(
    "programs",
    (
        _c("program_id", "VARCHAR", False, "hash of the normalised program"),
        _c("record_id", "VARCHAR", False, "the kept source record"),
        _c("source", "VARCHAR"),
        *_PROVENANCE,
        _c("instruction", "VARCHAR"),
        _c("program", "VARCHAR", False),
        *_PROGRAM_FACTS,
    ),
    key=("program_id",),
    indexed_key=False,  # grows with the corpus (Table.indexed_key)
    comment="curated programs: extracted, linted, filtered, de-duplicated, decontaminated",
)
REJECTS = Table(
    "rejects",
    (
        _c("record_id", "VARCHAR", False),
        _c("source", "VARCHAR"),
        _c("stage", "VARCHAR", False, "ingest | <curation steps> | sample"),
        _c("reason", "VARCHAR", False, "a stable code"),
        _c("detail", "VARCHAR"),
        _c("asset", "VARCHAR", False, "the asset that owns (and replaces) this row"),
    ),
    key=("record_id", "stage"),
    indexed_key=False,  # grows with the corpus (Table.indexed_key)
    comment="every refused record, with a reason",
)
EDIT_SEQUENCES = Table(
    "edit_sequences",
    (
        _c("sequence_id", "VARCHAR", False, "hash(program_id, config_hash, sample_index)"),
        _c("program_id", "VARCHAR", False),
        _c("sample_index", "INTEGER", False),
        _c("seed", "UBIGINT", False),
        _c("config_hash", "VARCHAR", False),
        _c("n_edits", "INTEGER", False),
        _c("edit_path", "VARCHAR[]", False),
        _c("record_id", "VARCHAR", comment="provenance, copied from programs when sampled"),
        _c("source", "VARCHAR"),
        *_PROVENANCE,
    ),
    key=("sequence_id",),
    indexed_key=False,  # grows with the corpus (Table.indexed_key)
    comment="s LintSeq samples per program",
)
SAMPLER_CONFIGS = Table(
    "sampler_configs",
    (
        _c("config_hash", "VARCHAR", False, "what a config_hash stands for"),
        _c("description", "VARCHAR", False, "SamplerConfig.describe() as JSON"),
    ),
    key=("config_hash",),
)
SAMPLING_LEDGER = Table(
    "sampling_ledger",
    (
        _c("program_id", "VARCHAR", False),
        _c("config_hash", "VARCHAR", False),
        _c("seed", "BIGINT", False, "the global seed the samples derive from"),
        _c("samples", "INTEGER", False),
        _c("outcome", "VARCHAR", False, "sampled | the engine's reject reason"),
    ),
    key=("program_id", "config_hash"),
    indexed_key=False,  # grows with the corpus (Table.indexed_key)
    comment="completed sampling work (lintseq_assets/sampling/plan.py)",
)
CURATION_REPORT = Table(
    "curation_report",
    (
        _c("step_index", "INTEGER"),
        _c("step", "VARCHAR"),
        _c("enabled", "BOOLEAN"),
        _c("records_in", "BIGINT"),
        _c("records_out", "BIGINT"),
        _c("rejected", "BIGINT"),
        _c("rejected_by_reason", "STRUCT(reason VARCHAR, count BIGINT)[]"),
        _c("seconds", "DOUBLE"),
    ),
    key=None,
    comment="the curation funnel of the last run (replaced whole)",
)

EVALUATIONS = Table(
    "evaluations",
    (
        _c("generations_sha256", "VARCHAR", False, "sha256 of the generations file's bytes"),
        _c("benchmark", "VARCHAR", False, "humaneval | mbpp"),
        _c("format", "VARCHAR", False, "diffs (edit sequences) | code"),
        _c("malformed_mode", "VARCHAR", False, "skip | fail (decode of diffs)"),
        _c("task_id", "VARCHAR", False),
        _c("generation_index", "INTEGER", False, "rank among the task's rows in the file"),
        _c("generations_file", "VARCHAR"),
        _c("passed", "BOOLEAN", False),
        _c("failure_kind", "VARCHAR", comment="assertion | error | timeout | memory | decode_failure; NULL if passed"),
        _c("detail", "VARCHAR"),
        _c("n_tests", "INTEGER"),
        _c("n_tests_passed", "INTEGER"),
        _c("n_edits", "INTEGER", comment="edits in the generation (NULL for code)"),
        _c("n_edits_applied", "INTEGER"),
        _c("n_malformed", "INTEGER"),
        _c("malformed_kinds", "VARCHAR", comment="JSON {kind: count}"),
        _c("program", "VARCHAR", comment="what was run (NULL on decode failure)"),
        _c("seconds", "DOUBLE"),
        _c("sandbox", "VARCHAR", comment="what isolation the machine gave"),
        _c("evaluated_at", "TIMESTAMP"),
    ),
    key=("generations_sha256", "benchmark", "format", "malformed_mode", "task_id", "generation_index"),
    comment="one row per evaluated model generation (docs/evaluation.md)",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (RAW_INSTRUCTIONS, PROGRAMS, CANDIDATES, REJECTS, EDIT_SEQUENCES, SAMPLER_CONFIGS, SAMPLING_LEDGER, CURATION_REPORT, EVALUATIONS)
}
KEYS: dict[str, tuple[str, ...]] = {name: t.key for name, t in TABLES.items() if t.key}

# One row per edit. `step` k is the diff that turns state k into state k+1 (state 0 is empty);
# `lines_added` counts the '+' lines of the zero-context diff.
EDITS_VIEW = """
    CREATE OR REPLACE VIEW edits AS
    SELECT sequence_id,
           step,
           diff,
           len(list_filter(string_split(diff, chr(10)), lambda line: starts_with(line, '+'))) AS lines_added
    FROM (
        SELECT sequence_id,
               generate_subscripts(edit_path, 1) - 1 AS step,
               unnest(edit_path) AS diff
        FROM edit_sequences
    )"""
