"""Great Expectations suites through our own resource, on a real warehouse sample.

A clean sample passes every expectation; a planted deletion and a wrong n_edits give a
failing AssetCheckResult naming the expectations, their unexpected counts and examples, with
Data Docs HTML written under the configured directory and linked in the metadata.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckSeverity
from support.warehouse import build_warehouse

from checks.asset_checks import to_result
from checks.gx_suites import SUITES, outcome_from_validation
from resources.gx import GXResource


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gx") / "lintseq.duckdb"
    build_warehouse(path, samples=2)
    return path


def validate(path: Path, table: str, docs: Path):
    conn = duckdb.connect(str(path), read_only=True)
    try:
        frame = SUITES[table].sample(conn, 1000)
    finally:
        conn.close()
    return GXResource(docs_dir=str(docs)).validate(SUITES[table].suite(), frame)


@pytest.mark.parametrize("table", sorted(SUITES))
def test_clean_tables_meet_their_suites(warehouse, tmp_path, table):
    validation = validate(warehouse, table, tmp_path)
    assert validation.success, validation.failures
    assert validation.evaluated >= 4 and validation.rows > 0
    assert Path(validation.docs_index).is_file() and Path(validation.docs_page).is_file()


def test_corrupt_sequences_fail_with_counts_examples_and_docs(warehouse, tmp_path):
    path = tmp_path / "corrupt.duckdb"
    path.write_bytes(warehouse.read_bytes())
    conn = duckdb.connect(str(path))
    ids = [r[0] for r in conn.execute("SELECT sequence_id FROM edit_sequences ORDER BY sequence_id LIMIT 3").fetchall()]
    conn.execute("UPDATE edit_sequences SET n_edits = n_edits + 1 WHERE sequence_id IN (?, ?)", ids[:2])
    conn.execute(
        "UPDATE edit_sequences SET edit_path = list_append(edit_path, '@@ -1 +0,0 @@' || chr(10) || '-import os') "
        "WHERE sequence_id = ?",
        [ids[2]],
    )
    conn.close()

    result = to_result(outcome_from_validation(validate(path, "edit_sequences", tmp_path / "docs")))
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    meta = {k: v.value if hasattr(v, "value") else v for k, v in result.metadata.items()}
    counts = meta["unexpected_counts"]
    # Three rows have n_edits != len(edit_path): two bumped, one with an extra (deleting) diff.
    assert counts["expect_column_pair_values_to_be_equal(n_edits,path_len)"] == 3
    assert counts["expect_column_values_to_be_between(non_insertion_lines)"] == 1
    assert meta["unexpected_examples"]["expect_column_values_to_be_between(non_insertion_lines)"] == ["1"]
    assert "expect_column_values_to_be_unique(sequence_id)" not in counts
    assert meta["failed_expectations"] == 2
    assert "expect_column_pair_values_to_be_equal" in result.description
    docs = Path(meta["gx_validation_page"])
    assert docs.is_file() and docs.is_relative_to(tmp_path / "docs")
    assert "expect_column_pair_values_to_be_equal" in docs.read_text(encoding="utf-8") or "n_edits" in docs.read_text(encoding="utf-8")


def test_docs_default_under_lintseq_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LINTSEQ_HOME", str(tmp_path / "home"))
    assert GXResource().resolved_docs_dir() == (tmp_path / "home" / "gx_docs").resolve()
