"""The warehouse schema (DESIGN.md §3): tables, keys and the `edits` view, in one place.

Every statement is idempotent (`IF NOT EXISTS` / `OR REPLACE` for the view), so any writer
may run it on connect. Keys are what make loads re-runnable: a second load of the same
rows finds every key present and changes nothing.
"""

from __future__ import annotations

TABLES: dict[str, str] = {
    "raw_instructions": """
        CREATE TABLE IF NOT EXISTS raw_instructions (
            record_id       VARCHAR PRIMARY KEY,   -- '<source>:<row key>'
            source          VARCHAR NOT NULL,
            source_revision VARCHAR,
            source_row      BIGINT,
            instruction     VARCHAR,
            response        VARCHAR,
            run_id          VARCHAR
        )""",
    "programs": """
        CREATE TABLE IF NOT EXISTS programs (
            program_id      VARCHAR PRIMARY KEY,   -- hash of the normalised program
            record_id       VARCHAR NOT NULL,      -- the kept source record
            source          VARCHAR,
            source_revision VARCHAR,
            source_row      BIGINT,
            instruction     VARCHAR,
            program         VARCHAR NOT NULL,
            n_lines         INTEGER,
            n_bytes         INTEGER,
            n_statements    INTEGER,
            n_lint_errors   INTEGER,
            extraction      VARCHAR,               -- how the code was found in the answer
            n_blocks        INTEGER,               -- fenced blocks joined
            run_id          VARCHAR
        )""",
    "candidates": """
        CREATE TABLE IF NOT EXISTS candidates (   -- per-record curation output, per source partition
            record_id            VARCHAR PRIMARY KEY,
            source               VARCHAR NOT NULL,
            source_revision      VARCHAR,
            source_row           BIGINT,
            instruction          VARCHAR,
            program_id           VARCHAR NOT NULL,
            program              VARCHAR NOT NULL,
            n_lines              INTEGER,
            n_bytes              INTEGER,
            n_statements         INTEGER,
            n_lint_errors        INTEGER,
            extraction           VARCHAR,
            n_blocks             INTEGER,
            exact_key            VARCHAR NOT NULL,  -- hash of the token stream (exact de-dup)
            signature            UINTEGER[],        -- MinHash signature (near de-dup)
            contamination        VARCHAR,           -- contaminated:<benchmark>:<task>, or NULL
            contamination_detail VARCHAR,
            curation_hash        VARCHAR NOT NULL,  -- the per-record settings it was made under
            run_id               VARCHAR
        )""",
    "rejects": """
        CREATE TABLE IF NOT EXISTS rejects (
            record_id VARCHAR NOT NULL,
            source    VARCHAR,
            stage     VARCHAR NOT NULL,            -- ingest | <curation steps> | sample
            reason    VARCHAR NOT NULL,            -- a stable code
            detail    VARCHAR,
            asset     VARCHAR NOT NULL,            -- the asset that owns (and replaces) this row
            run_id    VARCHAR,
            PRIMARY KEY (record_id, stage)
        )""",
    "edit_sequences": """
        CREATE TABLE IF NOT EXISTS edit_sequences (
            sequence_id  VARCHAR PRIMARY KEY,      -- hash(program_id, config_hash, sample_index)
            program_id   VARCHAR NOT NULL,
            sample_index INTEGER NOT NULL,
            seed         UBIGINT NOT NULL,
            config_hash  VARCHAR NOT NULL,
            n_edits      INTEGER NOT NULL,
            edit_path    VARCHAR[] NOT NULL,
            -- provenance, copied from `programs` when sampled (refreshed by the loader if it moves)
            record_id       VARCHAR,               -- the program's kept source record
            source          VARCHAR,
            source_revision VARCHAR,
            source_row      BIGINT,
            run_id       VARCHAR
        );
        -- warehouses made before the provenance columns get them (NULL until the next load)
        ALTER TABLE edit_sequences ADD COLUMN IF NOT EXISTS record_id VARCHAR;
        ALTER TABLE edit_sequences ADD COLUMN IF NOT EXISTS source VARCHAR;
        ALTER TABLE edit_sequences ADD COLUMN IF NOT EXISTS source_revision VARCHAR;
        ALTER TABLE edit_sequences ADD COLUMN IF NOT EXISTS source_row BIGINT""",
    "sampler_configs": """
        CREATE TABLE IF NOT EXISTS sampler_configs (
            config_hash VARCHAR PRIMARY KEY,       -- what a config_hash stands for
            description VARCHAR NOT NULL,          -- SamplerConfig.describe() as JSON
            run_id      VARCHAR
        )""",
    "sampling_ledger": """
        CREATE TABLE IF NOT EXISTS sampling_ledger (  -- completed sampling work (lintseq_assets/incremental.py)
            program_id  VARCHAR NOT NULL,
            config_hash VARCHAR NOT NULL,
            seed        BIGINT NOT NULL,           -- the global seed the samples derive from
            samples     INTEGER NOT NULL,
            outcome     VARCHAR NOT NULL,          -- sampled | the engine's reject reason
            run_id      VARCHAR,
            PRIMARY KEY (program_id, config_hash)
        )""",
    "curation_report": """
        CREATE TABLE IF NOT EXISTS curation_report (   -- the curation funnel of the last run
            step_index         INTEGER,
            step               VARCHAR,
            enabled            BOOLEAN,
            records_in         BIGINT,
            records_out        BIGINT,
            rejected           BIGINT,
            rejected_by_reason STRUCT(reason VARCHAR, count BIGINT)[],
            seconds            DOUBLE,
            run_id             VARCHAR
        )""",
    # --- evaluations (issue #16): one row per evaluated generation, loaded by `lintseq eval` and
    # the `evaluations` asset through the keyed merge (lintseq_assets/evaluation_load.py).
    "evaluations": """
        CREATE TABLE IF NOT EXISTS evaluations (
            generations_sha256 VARCHAR NOT NULL,   -- sha256 of the generations file's bytes
            benchmark          VARCHAR NOT NULL,   -- humaneval | mbpp
            format             VARCHAR NOT NULL,   -- diffs (edit sequences) | code
            malformed_mode     VARCHAR NOT NULL,   -- skip | fail (decode of diffs)
            task_id            VARCHAR NOT NULL,
            generation_index   INTEGER NOT NULL,   -- rank among the task's rows in the file
            generations_file   VARCHAR,
            passed             BOOLEAN NOT NULL,
            failure_kind       VARCHAR,            -- assertion | error | timeout | memory | decode_failure; NULL if passed
            detail             VARCHAR,
            n_tests            INTEGER,
            n_tests_passed     INTEGER,
            n_edits            INTEGER,            -- edits in the generation (NULL for code)
            n_edits_applied    INTEGER,
            n_malformed        INTEGER,
            malformed_kinds    VARCHAR,            -- JSON {kind: count}
            program            VARCHAR,            -- what was run (NULL on decode failure)
            seconds            DOUBLE,
            sandbox            VARCHAR,            -- what isolation the machine gave
            evaluated_at       TIMESTAMP,
            run_id             VARCHAR,
            PRIMARY KEY (generations_sha256, benchmark, format, malformed_mode, task_id, generation_index)
        )""",
}

# One row per edit. `step` k is the diff that turns state k into state k+1 (state 0 is empty,
# DESIGN.md §5); `lines_added` counts the '+' lines of the zero-context diff.
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

KEYS: dict[str, tuple[str, ...]] = {
    "raw_instructions": ("record_id",),
    "programs": ("program_id",),
    "candidates": ("record_id",),
    "rejects": ("record_id", "stage"),
    "edit_sequences": ("sequence_id",),
    "sampler_configs": ("config_hash",),
    "sampling_ledger": ("program_id", "config_hash"),
    "evaluations": ("generations_sha256", "benchmark", "format", "malformed_mode", "task_id", "generation_index"),
}


def schema_statements() -> list[str]:
    return [*TABLES.values(), EDITS_VIEW]
