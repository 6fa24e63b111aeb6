"""The whole asset graph, in-process, on real Dagster and a real DuckDB file."""

from __future__ import annotations

import os

from dagster import AssetKey
from support.platform import SMALL_RUN_CONFIG, TABLE_KEYS, run_platform, table_snapshot

from lintseq_assets.definitions import build_definitions
from lintseq_assets.platform.jobs import DOWNSTREAM_JOB, SOURCE_JOB
from lintseq_assets.tables import TABLES
from resources.connect import connect_reader

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXPECTED_COLUMNS = {
    "raw_instructions": {"record_id", "source", "source_revision", "source_row", "instruction", "response", "run_id"},
    "programs": {"program_id", "record_id", "source", "instruction", "program", "n_lines", "n_lint_errors", "run_id"},
    "rejects": {"record_id", "source", "stage", "reason", "detail", "run_id"},
    "edit_sequences": {"sequence_id", "program_id", "sample_index", "seed", "config_hash", "n_edits", "edit_path", "run_id"},
    "edits": {"sequence_id", "step", "diff", "lines_added"},
    "curation_report": {"step", "records_in", "records_out"},
}


def test_definitions_load():
    defs = build_definitions()
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"raw_instructions", "programs", "edit_sequences", "training_exports"} <= keys
    assert defs.resolve_job_def(DOWNSTREAM_JOB) is not None and defs.resolve_job_def(SOURCE_JOB).partitions_def is not None
    assert {c.asset_key.to_user_string() for c in defs.resolve_asset_graph().asset_check_keys} >= {"raw_instructions", "edit_sequences"}


def test_materialize_all_in_process(small_graph):
    settings, _instance, result = small_graph
    failures = [e.step_key for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"raw_instructions", "programs", "edit_sequence_shards", "edit_sequences", "training_exports"} <= materialized

    with connect_reader(settings.warehouse_path) as conn:
        for table, columns in EXPECTED_COLUMNS.items():
            present = {r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall()}
            assert columns <= present, (table, columns - present)
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        assert set(TABLES) <= {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        sources = dict(conn.execute("SELECT source, count(*) FROM raw_instructions GROUP BY source").fetchall())
        assert set(sources) == {"stdlib", "embedded", "local"}
        assert sources["local"] == 2  # the two good records; the rest are rejects
        ingest = dict(conn.execute("SELECT reason, count(*) FROM rejects WHERE stage = 'ingest' GROUP BY reason").fetchall())
        assert ingest == {"duplicate_record_id": 1, "missing_field": 2, "not_text": 1, "malformed_record": 1}
        # Every raw record is either a program or a curation reject (nothing dropped silently).
        unaccounted = conn.execute(
            "SELECT count(*) FROM raw_instructions r WHERE NOT EXISTS (SELECT 1 FROM programs p WHERE p.record_id = r.record_id) "
            "AND NOT EXISTS (SELECT 1 FROM rejects j WHERE j.record_id = r.record_id)"
        ).fetchone()[0]
        assert unaccounted == 0
        # The edits view has one row per edit.
        n_edits = conn.execute("SELECT sum(n_edits) FROM edit_sequences").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM edits").fetchone()[0] == n_edits
        assert conn.execute("SELECT min(lines_added) FROM edits").fetchone()[0] >= 1
        seeds = conn.execute("SELECT typeof(seed) FROM edit_sequences LIMIT 1").fetchone()[0]
        assert seeds == "UBIGINT"
    export = settings.exports_dir / "default"
    assert (export / "manifest.json").is_file() and (export / "README.md").is_file()


def test_metadata_has_counts_and_histogram(small_graph):
    _settings, instance, _result = small_graph
    event = instance.get_latest_materialization_event(AssetKey("edit_sequences"))
    metadata = event.asset_materialization.metadata
    assert metadata["dagster/row_count"].value > 0
    assert "█" in metadata["edits_per_sequence"].value
    raw = instance.get_latest_materialization_event(AssetKey("raw_instructions")).asset_materialization.metadata
    assert "duplicate_record_id" in raw["rejects_by_reason"].value
    assert "|" in raw["preview"].value


def test_second_run_changes_nothing(small_graph):
    settings, instance, _ = small_graph
    with connect_reader(settings.warehouse_path) as conn:
        before = {t: table_snapshot(conn, t, with_run_id=True) for t in ("raw_instructions", "programs", "rejects", "edit_sequences")}
    result = run_platform(settings, instance, SMALL_RUN_CONFIG)
    assert result.success
    with connect_reader(settings.warehouse_path) as conn:
        after = {t: table_snapshot(conn, t, with_run_id=True) for t in before}
        for table, key in TABLE_KEYS.items():
            total, distinct = conn.execute(f"SELECT count(*), count(DISTINCT {key}) FROM {table}").fetchone()
            assert total == distinct, table
    # Same rows, same ids, and not even run_id moved: a reload of unchanged data is a no-op.
    assert after == before


def test_data_versions_are_content_hashes(small_graph):
    """After the second run above: unchanged content, unchanged data version."""
    _settings, instance, _ = small_graph
    for key in ("raw_instructions", "source_programs", "programs", "edit_sequences"):
        records = instance.fetch_materializations(AssetKey(key), limit=100).records
        records = [r for r in records if r.partition_key in (None, "local")]  # partitioned: one partition's history
        versions = {r.asset_materialization.tags.get("dagster/data_version") for r in records}
        assert len(records) == 2 and len(versions) == 1 and None not in versions, (key, versions)
