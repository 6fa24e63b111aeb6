"""Export checks on an export written by the real exports code from a real warehouse.

The clean export passes; a program copied into a second split, a changed byte, a stray file
and a warehouse that moved on after the export are each caught by the right check.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.warehouse import build_warehouse

from checks import export_checks
from lintseq_assets.exports import ExportSettings, write_exports


@pytest.fixture
def exported(tmp_path) -> tuple[Path, Path]:
    """(warehouse, exports dir) with one export holding two formats over two splits."""
    database = tmp_path / "lintseq.duckdb"
    build_warehouse(database, samples=2)
    conn = duckdb.connect(str(database), read_only=True)
    sequences = pl.from_arrow(conn.sql("SELECT * FROM edit_sequences").to_arrow_table())
    programs = pl.from_arrow(conn.sql("SELECT * FROM programs").to_arrow_table())
    conn.close()
    exports = tmp_path / "exports"
    settings = ExportSettings(name="default", formats=("lintseq", "baseline"), splits={"train": 0.5, "test": 0.5}, split_seed=3)
    write_exports(sequences, programs, exports / "default", settings, lineage={"test": True})
    return database, exports


def run_all(database: Path, exports: Path) -> dict:
    conn = duckdb.connect(str(database), read_only=True)
    try:
        return {
            "integrity": export_checks.manifest_integrity(exports),
            "splits": export_checks.splits_disjoint(exports),
            "counts": export_checks.counts_match_warehouse(conn, exports),
        }
    finally:
        conn.close()


def failing(database: Path, exports: Path) -> set[str]:
    return {name for name, outcome in run_all(database, exports).items() if not outcome.passed}


def shards(exports: Path, fmt: str) -> dict[str, Path]:
    return {p.name.split("-")[0]: p for p in sorted((exports / "default" / fmt).glob("*.parquet"))}


def test_clean_export_passes(exported):
    outcomes = run_all(*exported)
    assert all(o.passed for o in outcomes.values()), {n: o.description for n, o in outcomes.items()}
    per_split = outcomes["splits"].metadata["programs_per_split"]["default"]
    assert set(per_split) == {"train", "test"}, "the fixture must exercise both splits"


def test_a_program_in_two_splits_is_caught(exported):
    database, exports = exported
    files = shards(exports, "lintseq")
    train = pq.read_table(files["train"])
    test = pq.read_table(files["test"])
    leaked = pa.concat_tables([test, train.slice(0, 1).cast(test.schema)])
    pq.write_table(leaked, files["test"])
    outcomes = run_all(database, exports)
    assert not outcomes["splits"].passed
    assert outcomes["splits"].metadata["leaking_programs"] == 1
    assert train.column("program_id")[0].as_py() in outcomes["splits"].metadata["examples"][0]
    assert not outcomes["integrity"].passed  # the file no longer matches its checksum


def test_a_changed_byte_and_a_stray_file_are_caught(exported):
    database, exports = exported
    card = exports / "default" / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + "\nedited by hand\n", encoding="utf-8")
    (exports / "default" / "lintseq" / "extra.parquet").write_bytes(b"PAR1")
    outcome = run_all(database, exports)["integrity"]
    assert not outcome.passed
    assert any("checksum differs for README.md" in e for e in outcome.metadata["examples"])
    assert any("extra.parquet is not in the manifest" in e for e in outcome.metadata["examples"])


def test_counts_that_disagree_with_the_warehouse_are_caught(exported):
    database, exports = exported
    conn = duckdb.connect(str(database))
    conn.execute("DELETE FROM edit_sequences WHERE sequence_id = (SELECT min(sequence_id) FROM edit_sequences)")
    conn.close()
    assert failing(database, exports) == {"counts"}


def test_manifest_counts_that_disagree_with_the_files_are_caught(exported):
    database, exports = exported
    path = exports / "default" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["counts"]["rows"]["lintseq"]["train"] += 1
    path.write_text(json.dumps(manifest), encoding="utf-8")
    outcome = run_all(database, exports)["counts"]
    assert not outcome.passed and outcome.metadata["problems"] == 2  # rows + dropped != inputs; files != manifest


def test_no_export_at_all_fails(tmp_path):
    database = tmp_path / "w.duckdb"
    build_warehouse(database, sources={})
    assert failing(database, tmp_path / "nothing") == {"integrity", "splits", "counts"}


def test_the_split_check_runs_under_the_warehouse_cap(exported, tmp_path, monkeypatch):
    """DuckDB's own default cap is 80% of RAM; the check takes the warehouse's instead and
    spills past it, with the same finding."""
    monkeypatch.setenv("LINTSEQ_WAREHOUSE_MEMORY_LIMIT", "48MB")
    conn = export_checks._capped_connection(str(tmp_path / "spill"), None)
    try:
        cap = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    finally:
        conn.close()
    assert cap.endswith("MiB") and float(cap.split()[0]) < 50, cap
    _database, exports = exported
    outcome = export_checks.splits_disjoint(exports, memory_limit="16MB")
    assert outcome.passed, outcome.description
    assert outcome.metadata == export_checks.splits_disjoint(exports).metadata
