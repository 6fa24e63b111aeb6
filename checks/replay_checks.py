"""Checks that need the engine: every program parses, every sequence replays to its program.

They call the same ground truth `lintseq verify` uses (`prepare_program`,
`verify_edit_path`), never a re-implementation. Replaying is Python work per row, so above
`max_rows` a deterministic sample is checked: the rows the current run wrote first, then rows
ordered by md5 of their key, which is stable across runs, machines and DuckDB versions, so a
failure is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from checks.outcome import EXAMPLES, CheckOutcome, preview
from checks.sql_checks import registered_configs, table_exists
from lintseq_assets.core import (
    Limits,
    ProgramRejected,
    SamplerConfig,
    prepare_program,
    verify_edit_path,
)

DEFAULT_MAX_ROWS = 5_000
# Parsing is the question here, not size: the sampler already enforced its own limits.
_PARSE_LIMITS = Limits(max_lines=10**9, max_bytes=10**12)
_FETCH = 500


def _has_column(conn: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?", [table, column]
    ).fetchone()[0])


def _sample_clause(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    max_rows: int,
    alias: str = "",
    focus_run_id: str | None = None,
) -> tuple[str, list, int, bool]:
    """ORDER BY (and LIMIT) for all rows, or a bounded, deterministic sample.

    The sample takes first the rows the run `focus_run_id` loaded or changed (the loader keeps
    the run_id of the run that last changed a row), then the rest by md5 of the key: so what a
    run just wrote is always verified, however large the table has grown.
    """
    total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    column = f"{alias}.{key}" if alias else key
    if total <= max_rows:
        return f"ORDER BY {column}", [], total, False
    params: list = []
    focus = ""
    if focus_run_id and _has_column(conn, table, "run_id"):
        focus = f"({alias + '.' if alias else ''}run_id IS DISTINCT FROM ?), "
        params.append(focus_run_id)
    return f"ORDER BY {focus}md5({column}::VARCHAR), {column} LIMIT {int(max_rows)}", params, total, True


def programs_parse(
    conn: duckdb.DuckDBPyConnection, max_rows: int = DEFAULT_MAX_ROWS, focus_run_id: str | None = None
) -> CheckOutcome:
    """Every stored program parses and its program_id is the hash of its normalised text."""
    if not table_exists(conn, "programs"):
        return CheckOutcome(False, "table programs does not exist")
    order, params, total, sampled = _sample_clause(conn, "programs", "program_id", max_rows, focus_run_id=focus_run_id)
    cursor = conn.execute(f"SELECT program_id, program FROM programs {order}", params)
    checked = failed = 0
    examples: list[str] = []
    while batch := cursor.fetchmany(_FETCH):
        for pid, text in batch:
            checked += 1
            problem = None
            try:
                program = prepare_program(text, _PARSE_LIMITS)
                if program.program_id != pid:
                    problem = f"program_id is not the hash of the program ({program.program_id})"
                elif program.text != text:
                    problem = "stored program is not in normal form"
            except ProgramRejected as rejected:
                problem = f"{rejected.reason.value}: {rejected.detail}"
            if problem:
                failed += 1
                if len(examples) < EXAMPLES:
                    examples.append(f"{pid}: {preview(problem)}")
    return CheckOutcome(
        failed == 0,
        f"{checked} programs parse" if not failed else f"{failed} of {checked} programs fail to parse or are mislabelled",
        {"rows": total, "checked": checked, "sampled": sampled, "failed": failed, "examples": examples},
    )


def sequences_replay(
    conn: duckdb.DuckDBPyConnection,
    max_rows: int = DEFAULT_MAX_ROWS,
    configs: Mapping[str, SamplerConfig] | None = None,
    focus_run_id: str | None = None,
) -> CheckOutcome:
    """Every (sampled) sequence replays exactly to its program, every state lint-clean.

    `configs` maps config_hash to its SamplerConfig (and `sampler_configs` in the warehouse
    adds the ones runs registered), so RandSeq sequences (linter "none") are replayed without
    the lint requirement; an unknown hash is linted as LintSeq (the stricter choice;
    `config_hashes` reports unknown hashes separately).
    """
    for table in ("edit_sequences", "programs"):
        if not table_exists(conn, table):
            return CheckOutcome(False, f"table {table} does not exist")
    configs = configs or {SamplerConfig().config_hash(): SamplerConfig()}
    linters = {h: d.get("linter", "pyflakes") for h, d in registered_configs(conn).items()}
    linters.update({h: c.linter for h, c in configs.items()})
    order, params, total, sampled = _sample_clause(
        conn, "edit_sequences", "sequence_id", max_rows, alias="s", focus_run_id=focus_run_id
    )
    # The sample is chosen on keys alone, then only its rows are joined with their programs:
    # joining first would hash every program text (and carry every edit path) to keep a few.
    picked_order, picked_params, _, _ = _sample_clause(
        conn, "edit_sequences", "sequence_id", max_rows, alias="k", focus_run_id=focus_run_id
    )
    run_id = ", s.run_id" if _has_column(conn, "edit_sequences", "run_id") else ""
    cursor = conn.execute(
        f"WITH k AS (SELECT s.sequence_id{run_id} FROM edit_sequences s {order}) "
        "SELECT s.sequence_id, s.config_hash, s.edit_path, p.program "
        f"FROM k JOIN edit_sequences s USING (sequence_id) LEFT JOIN programs p USING (program_id) {picked_order}",
        [*params, *picked_params],
    )
    checked = failed = 0
    examples: list[str] = []
    kinds: dict[str, int] = {}
    while batch := cursor.fetchmany(_FETCH):
        for sid, chash, edit_path, program in batch:
            checked += 1
            if program is None:
                problems = ["program not found"]
            elif not edit_path:
                problems = ["empty edit path"]
            else:
                linter = linters.get(chash, "pyflakes")
                problems = verify_edit_path(program, list(edit_path), linter=linter).problems
            if problems:
                failed += 1
                kind = problems[0].split(":")[0]
                kinds[kind] = kinds.get(kind, 0) + 1
                if len(examples) < EXAMPLES:
                    examples.append(f"{sid}: {preview('; '.join(problems[:2]))}")
    return CheckOutcome(
        failed == 0,
        f"{checked} sequences replay to their programs, lint-clean"
        if not failed
        else f"{failed} of {checked} sequences do not replay cleanly",
        {
            "rows": total,
            "checked": checked,
            "sampled": sampled,
            "failed": failed,
            "failures_by_kind": kinds,
            "examples": examples,
        },
    )
