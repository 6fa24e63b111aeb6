"""Check functions on a real warehouse: clean data passes, each planted corruption is caught.

The warehouse is filled from real engine output (standard-library modules through
`analyse_program` / `sample_analysed`); each test copies it and corrupts one thing on
purpose, then asserts exactly which checks fail, so a check that fires on everything (or on
nothing) is caught as surely as a check that misses.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from support.warehouse import build_warehouse, register_config, strip_constraints

from checks import replay_checks, sql_checks
from checks.outcome import CheckOutcome
from lintseq_assets.core import SamplerConfig, program_id, sequence_id

CONFIG_HASH = SamplerConfig().config_hash()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "lintseq.duckdb"
    counts = build_warehouse(path, samples=1)
    assert counts["programs"] >= 5 and counts["edit_sequences"] == counts["programs"]
    return path


@pytest.fixture
def warehouse(pristine, tmp_path) -> Path:
    path = tmp_path / "lintseq.duckdb"
    shutil.copy(pristine, path)
    return path


def run_all(path: Path, max_rows: int = 10_000) -> dict[str, CheckOutcome]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return {
            "raw.unique": sql_checks.unique_key(conn, "raw_instructions"),
            "raw.not_null": sql_checks.not_null(conn, "raw_instructions"),
            "programs.unique": sql_checks.unique_key(conn, "programs"),
            "programs.not_null": sql_checks.not_null(conn, "programs"),
            "programs.parse": replay_checks.programs_parse(conn, max_rows),
            "sequences.unique": sql_checks.unique_key(conn, "edit_sequences"),
            "sequences.not_null": sql_checks.not_null(conn, "edit_sequences"),
            "sequences.edit_counts": sql_checks.edit_counts(conn),
            "sequences.known_programs": sql_checks.orphans(conn, "edit_sequences", "programs", "program_id"),
            "sequences.config_hashes": sql_checks.config_hashes(conn, sql_checks.known_config_hashes()),
            "sequences.replay": replay_checks.sequences_replay(conn, max_rows),
            "sequences.edits_view": sql_checks.edits_view(conn),
        }
    finally:
        conn.close()


def failing(path: Path, **kwargs) -> set[str]:
    return {name for name, outcome in run_all(path, **kwargs).items() if not outcome.passed}


def corrupt(path: Path, change: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    conn = duckdb.connect(str(path))
    try:
        change(conn)
    finally:
        conn.close()


def first_sequence(conn: duckdb.DuckDBPyConnection) -> tuple[str, list[str]]:
    return conn.execute("SELECT sequence_id, edit_path FROM edit_sequences ORDER BY sequence_id LIMIT 1").fetchone()


def test_clean_warehouse_passes_every_check(warehouse):
    outcomes = run_all(warehouse)
    assert {name for name, o in outcomes.items() if not o.passed} == set()
    assert outcomes["sequences.replay"].metadata["checked"] == outcomes["sequences.replay"].metadata["rows"]
    assert outcomes["sequences.edit_counts"].metadata["min_n_edits"] >= 1


def test_an_edit_that_deletes_a_line_fails_replay_only(warehouse):
    def plant(conn):
        sid, path = first_sequence(conn)
        first_line = path[0].split("\n")[1][1:]
        # One more hunk in the last diff, taking the first line out again: not insertion-only.
        path[-1] = path[-1] + f"\n@@ -1 +0,0 @@\n-{first_line}"
        conn.execute("UPDATE edit_sequences SET edit_path = ? WHERE sequence_id = ?", [path, sid])

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    assert {n for n, o in outcomes.items() if not o.passed} == {"sequences.replay"}
    replay = outcomes["sequences.replay"]
    assert replay.metadata["failed"] == 1
    assert "not insertion-only" in replay.metadata["examples"][0] or "not an insertion" in replay.metadata["examples"][0]


def test_a_path_that_does_not_rebuild_its_program_fails_replay_only(warehouse):
    def plant(conn):
        sid, path = first_sequence(conn)
        shorter = path[:-1] if len(path) > 1 else path + path
        conn.execute(
            "UPDATE edit_sequences SET edit_path = ?, n_edits = ? WHERE sequence_id = ?", [shorter, len(shorter), sid]
        )

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    # The edits view sees it too: the shorter path adds fewer lines than the program has.
    assert {n for n, o in outcomes.items() if not o.passed} == {"sequences.replay", "sequences.edits_view"}
    assert outcomes["sequences.replay"].metadata["failures_by_kind"] in (
        {"replay does not rebuild the program": 1},
        {"does not replay": 1},
    )


def test_a_state_that_is_not_lint_clean_fails_replay(warehouse):
    """A path that rebuilds its program exactly but uses a name before defining it."""
    text = "value = 1\nprint(value)"
    pid = program_id(text)
    bad_path = ["@@ -0,0 +1 @@\n+print(value)", "@@ -0,0 +1 @@\n+value = 1"]

    def plant(conn):
        conn.execute(
            "INSERT INTO programs (program_id, record_id, source, instruction, program, n_lines, n_lint_errors, run_id) "
            "VALUES (?, 'planted', 'test', 'print one', ?, 2, 0, 'r')",
            [pid, text],
        )
        conn.execute(
            "INSERT INTO raw_instructions (record_id, source, source_row, instruction, response, run_id) "
            "VALUES ('planted', 'test', 99, 'print one', ?, 'r')",
            [text],
        )
        conn.execute(
            "INSERT INTO edit_sequences (sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path, run_id) "
            "VALUES (?, ?, 0, 1, ?, 2, ?, 'r')",
            [sequence_id(pid, CONFIG_HASH, 0), pid, CONFIG_HASH, bad_path],
        )

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    assert {n for n, o in outcomes.items() if not o.passed} == {"sequences.replay"}
    assert "undefined name" in outcomes["sequences.replay"].metadata["examples"][0]


def _plant_randseq_sequence(conn, pid: str, chash: str, text: str) -> None:
    """A RandSeq-style path: it replays, but its first state uses a name before defining it."""
    conn.execute(
        "INSERT INTO programs (program_id, record_id, source, instruction, program, n_lines, n_lint_errors, run_id) "
        "VALUES (?, 'planted', 'test', 'x', ?, 2, 0, 'r')",
        [pid, text],
    )
    conn.execute(
        "INSERT INTO edit_sequences (sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path, run_id) "
        "VALUES (?, ?, 0, 1, ?, 2, ?, 'r')",
        [sequence_id(pid, chash, 0), pid, chash, ["@@ -0,0 +1 @@\n+print(value)", "@@ -0,0 +1 @@\n+value = 1"]],
    )


def test_the_same_path_is_fine_for_randseq(warehouse):
    """linter='none' sequences (RandSeq) need not be lint-clean: the check follows the config."""
    randseq = SamplerConfig(linter="none")
    text = "value = 1\nprint(value)"
    pid = program_id(text)
    chash = randseq.config_hash()

    def plant(conn):
        _plant_randseq_sequence(conn, pid, chash, text)

    corrupt(warehouse, plant)
    conn = duckdb.connect(str(warehouse), read_only=True)
    configs = {c.config_hash(): c for c in (SamplerConfig(), randseq)}
    assert replay_checks.sequences_replay(conn, configs=configs).passed
    assert sql_checks.config_hashes(conn, sql_checks.known_config_hashes(configs.values())).passed
    unknown = sql_checks.config_hashes(conn, sql_checks.known_config_hashes())
    assert not unknown.passed and unknown.metadata["unknown_config_hash_rows"] == 1
    conn.close()


def test_configs_registered_in_the_warehouse_are_known_only_if_their_hash_is_true(warehouse):
    """A run sampled with another config (run config) registers it in sampler_configs."""
    randseq = SamplerConfig(linter="none")
    text = "value = 1\nprint(value)"
    pid, chash = program_id(text), randseq.config_hash()

    def plant(conn):
        _plant_randseq_sequence(conn, pid, chash, text)
        register_config(conn, randseq)

    corrupt(warehouse, plant)
    assert failing(warehouse) == set()  # known through the table, and replayed as RandSeq
    corrupt(warehouse, lambda conn: conn.execute(
        "UPDATE sampler_configs SET description = replace(description, '\"none\"', '\"pyflakes\"') WHERE config_hash = ?", [chash]))
    assert failing(warehouse) == {"sequences.config_hashes", "sequences.replay"}


def test_duplicate_sequence_id_is_caught(warehouse):
    def plant(conn):
        strip_constraints(conn, "edit_sequences")
        conn.execute("INSERT INTO edit_sequences SELECT * FROM edit_sequences ORDER BY sequence_id LIMIT 1")

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    assert {n for n, o in outcomes.items() if not o.passed} == {"sequences.unique", "sequences.edits_view"}
    assert outcomes["sequences.unique"].metadata["duplicated_keys"] == 1


def test_duplicate_record_id_is_caught(warehouse):
    def plant(conn):
        strip_constraints(conn, "raw_instructions")
        conn.execute("INSERT INTO raw_instructions SELECT * FROM raw_instructions ORDER BY record_id LIMIT 2")

    corrupt(warehouse, plant)
    assert failing(warehouse) == {"raw.unique"}


def test_null_program_is_caught(warehouse):
    def plant(conn):
        strip_constraints(conn, "programs")
        conn.execute("UPDATE programs SET program = NULL WHERE program_id = (SELECT min(program_id) FROM programs)")

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    # The program is gone, so its sequences cannot replay either: both say so.
    assert {n for n, o in outcomes.items() if not o.passed} == {"programs.not_null", "programs.parse", "sequences.replay"}
    assert outcomes["programs.not_null"].metadata["null_counts"]["program"] == 1


def test_n_edits_mismatch_is_caught(warehouse):
    def plant(conn):
        conn.execute("UPDATE edit_sequences SET n_edits = n_edits + 1 WHERE sequence_id = (SELECT min(sequence_id) FROM edit_sequences)")

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    assert {n for n, o in outcomes.items() if not o.passed} == {"sequences.edit_counts", "sequences.edits_view"}
    assert outcomes["sequences.edit_counts"].metadata["bad_rows"] == 1


def test_a_program_that_does_not_parse_is_caught(warehouse):
    def plant(conn):
        conn.execute("UPDATE programs SET program = 'def broken(:' WHERE program_id = (SELECT min(program_id) FROM programs)")

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    assert {n for n, o in outcomes.items() if not o.passed} == {"programs.parse", "sequences.replay"}
    assert "syntax_error" in outcomes["programs.parse"].metadata["examples"][0]


def test_a_relabelled_config_hash_is_caught(warehouse):
    def plant(conn):
        conn.execute("UPDATE edit_sequences SET config_hash = '0123456789abcdef' WHERE sequence_id = (SELECT min(sequence_id) FROM edit_sequences)")

    corrupt(warehouse, plant)
    outcomes = run_all(warehouse)
    assert {n for n, o in outcomes.items() if not o.passed} == {"sequences.config_hashes"}
    meta = outcomes["sequences.config_hashes"].metadata
    assert meta["unknown_config_hash_rows"] == 1 and meta["sequence_id_mismatches"] == 1


def test_a_sequence_without_its_program_is_caught(warehouse):
    def plant(conn):
        conn.execute("DELETE FROM programs WHERE program_id = (SELECT min(program_id) FROM programs)")

    corrupt(warehouse, plant)
    assert failing(warehouse) == {"sequences.known_programs", "sequences.replay", "sequences.edits_view"}


def test_replay_sample_is_deterministic_and_bounded(warehouse):
    """Above max_rows the same rows (first by md5 of the id) are checked on every run."""
    conn = duckdb.connect(str(warehouse), read_only=True)
    order = [r[0] for r in conn.execute("SELECT sequence_id FROM edit_sequences ORDER BY md5(sequence_id)").fetchall()]
    conn.close()
    first, last = order[0], order[-1]

    def break_row(sid):
        def plant(conn):
            conn.execute("UPDATE edit_sequences SET edit_path = ['@@ -0,0 +1 @@\n+x'], n_edits = 1 WHERE sequence_id = ?", [sid])
        return plant

    corrupt(warehouse, break_row(last))
    assert "sequences.replay" not in failing(warehouse, max_rows=3)  # outside the sample
    corrupt(warehouse, break_row(first))
    outcome = run_all(warehouse, max_rows=3)["sequences.replay"]
    assert not outcome.passed
    assert outcome.metadata["sampled"] and outcome.metadata["checked"] == 3 and outcome.metadata["failed"] == 1
    assert run_all(warehouse, max_rows=3)["sequences.replay"].metadata == outcome.metadata
    assert not run_all(warehouse)["sequences.replay"].passed


def test_the_sample_takes_the_current_runs_rows_first(warehouse):
    """A small sample still verifies what the run being checked just loaded or changed."""
    conn = duckdb.connect(str(warehouse), read_only=True)
    last = conn.execute("SELECT sequence_id FROM edit_sequences ORDER BY md5(sequence_id) DESC LIMIT 1").fetchone()[0]
    conn.close()
    corrupt(warehouse, lambda conn: conn.execute(
        "UPDATE edit_sequences SET edit_path = ['@@ -0,0 +1 @@\n+x'], n_edits = 1, run_id = 'run-2' WHERE sequence_id = ?",
        [last]))
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert replay_checks.sequences_replay(conn, max_rows=1).passed  # md5 order alone misses it
        focused = replay_checks.sequences_replay(conn, max_rows=1, focus_run_id="run-2")
        assert not focused.passed and focused.metadata["checked"] == 1
        assert replay_checks.sequences_replay(conn, max_rows=2, focus_run_id="run-1").metadata["checked"] == 2
    finally:
        conn.close()


def test_missing_tables_fail_rather_than_pass(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    assert all(not outcome.passed for outcome in run_all(path).values())


def test_row_checks_read_only_what_the_run_wrote(warehouse):
    """A run's checks read its own rows (run_id, or its partition), not the whole warehouse;
    the whole-table check still sees everything (issue 14, "Checks are not scoped")."""
    def plant(conn):
        conn.execute("UPDATE edit_sequences SET n_edits = n_edits + 1, run_id = 'old-run' WHERE sequence_id = (SELECT min(sequence_id) FROM edit_sequences)")
        conn.execute("UPDATE edit_sequences SET run_id = 'this-run' WHERE sequence_id <> (SELECT min(sequence_id) FROM edit_sequences)")

    corrupt(warehouse, plant)
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        n = conn.execute("SELECT count(*) FROM edit_sequences").fetchone()[0]
        this_run, old_run = sql_checks.Scope.run("this-run"), sql_checks.Scope.run("old-run")
        scoped = sql_checks.edit_counts(conn, scope=this_run)
        assert scoped.passed and scoped.metadata["rows"] == n - 1 and scoped.metadata["scope"] == "run this-run"
        assert not sql_checks.edit_counts(conn, scope=old_run).passed
        assert not sql_checks.edit_counts(conn).passed and sql_checks.edit_counts(conn).metadata["scope"] == "whole table"
        assert sql_checks.edits_view(conn, scope=this_run).passed
        assert sql_checks.edits_view(conn, scope=old_run).metadata["bad_sequences"] == 1
        assert sql_checks.not_null(conn, "edit_sequences", scope=this_run).metadata["rows"] == n - 1
        assert sum(sql_checks.config_hashes(conn, sql_checks.known_config_hashes(), scope=old_run).metadata["sequences_per_config_hash"].values()) == 1
        source = conn.execute("SELECT min(source) FROM raw_instructions").fetchone()[0]
        in_source = conn.execute("SELECT count(*) FROM raw_instructions WHERE source = ?", [source]).fetchone()[0]
        partition = sql_checks.not_null(conn, "raw_instructions", scope=sql_checks.Scope.partition(source))
        assert partition.metadata["rows"] == in_source and partition.metadata["scope"] == f"partition {source}"
    finally:
        conn.close()
