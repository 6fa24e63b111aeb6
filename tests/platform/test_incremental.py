"""Only new work: a re-run samples nothing, a new sampler setting samples beside the old config.

Real Dagster (ephemeral instance), real DuckDB file, tiny sources, one sample per program.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from dagster import AssetKey, DagsterInstance
from support.platform import run_platform, small_check_settings, small_settings, table_snapshot

from lintseq_assets.definitions import build_definitions
from lintseq_assets.platform.run_config import SamplingConfig
from resources.connect import connect_reader

SAMPLING = {"samples": 1, "workers": 1}


def run_all(settings, instance, sampling: dict | None = None, export: dict | None = None):
    """Materialize the whole graph with the real checks; the checks know both test configs."""
    checks = small_check_settings(settings)
    both = (SamplingConfig().sampler(), SamplingConfig(indent_bias=2.0).sampler())
    checks = replace(checks, sampler_configs=both, with_gx=False, replay_max_rows=5)  # GX has its own tests
    ops = {"edit_sequence_shards": {"config": {**SAMPLING, **(sampling or {})}}}
    if export:
        ops["training_exports"] = {"config": export}
    result = run_platform(settings, instance, {"ops": ops}, defs=build_definitions(settings, checks))
    assert result.success, result.failed_steps()
    return result


def latest_metadata(instance, key: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(key))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    settings = small_settings(tmp_path_factory.mktemp("incremental_home"), stdlib_limit=3, embedded_limit=4)
    instance = DagsterInstance.ephemeral()
    run_all(settings, instance)
    return settings, instance


def snapshot(settings, table: str = "edit_sequences", where: str = "true") -> list[tuple]:
    with connect_reader(settings.warehouse_path) as conn:
        return [r for r in table_snapshot(conn, table, with_run_id=True) if where == "true" or r]


def test_rerun_skips_everything(graph):
    settings, instance = graph
    before = snapshot(settings)
    first = latest_metadata(instance, "edit_sequence_shards")
    assert first["programs_to_sample"] > 0
    run_all(settings, instance)
    again = latest_metadata(instance, "edit_sequence_shards")
    assert again["programs_to_sample"] == 0
    assert again["programs_skipped"] == first["programs_in"]
    assert again["sequences_staged"] == 0
    assert latest_metadata(instance, "edit_sequences")["programs_skipped"] == first["programs_in"]
    assert snapshot(settings) == before  # not even run_id moved


def test_new_sampler_setting_samples_beside_old_config(graph):
    settings, instance = graph
    old_hash = SamplingConfig().sampler().config_hash()
    new_hash = SamplingConfig(indent_bias=2.0).sampler().config_hash()
    assert old_hash != new_hash
    before = snapshot(settings)
    run_all(settings, instance, sampling={"indent_bias": 2.0})
    shards = latest_metadata(instance, "edit_sequence_shards")
    assert shards["config_hash"] == new_hash and shards["programs_skipped"] == 0
    with connect_reader(settings.warehouse_path) as conn:
        columns = [r[0] for r in conn.execute("DESCRIBE edit_sequences").fetchall()]
        old_rows = conn.execute(f"SELECT {', '.join(columns)} FROM edit_sequences WHERE config_hash = ? ORDER BY ALL", [old_hash]).fetchall()
        per_config = dict(conn.execute("SELECT config_hash, count(DISTINCT program_id) FROM edit_sequences GROUP BY 1").fetchall())
    assert old_rows == sorted(before)  # the old config's sequences, byte for byte (run_id included)
    assert set(per_config) == {old_hash, new_hash} and per_config[old_hash] == per_config[new_hash]

    # Exports name the config they export; choosing the old one explicitly exports the old rows.
    run_all(settings, instance, sampling={"indent_bias": 2.0}, export={"config_hash": old_hash, "export": {"name": "old"}})
    exported = latest_metadata(instance, "training_exports")
    assert exported["config_hash"] == old_hash and exported["config_hash_chosen_by"] == "run config"
    assert sorted(exported["configs_in_warehouse"]) == sorted([old_hash, new_hash])
    manifest = json.loads((settings.exports_dir / "old" / "manifest.json").read_text())
    assert old_hash in json.dumps(manifest)


def test_lineage_command_prints_the_chain(graph, monkeypatch, capsys):
    """`lintseq lineage` from a sequence_id and from a program_id: record -> program -> sequences -> export rows."""
    from lintseq_assets.cli.main import main

    settings, _instance = graph
    monkeypatch.setenv("LINTSEQ_HOME", str(settings.home))
    monkeypatch.setenv("LINTSEQ_SOURCES", str(settings.sources_file))
    with connect_reader(settings.warehouse_path) as conn:
        exported = conn.execute(f"SELECT program_id, sequence_id FROM read_parquet('{settings.exports_dir}/default/**/*.parquet') "
                                "WHERE sequence_id IS NOT NULL ORDER BY ALL LIMIT 1").fetchone()
        record_id, source = conn.execute("SELECT record_id, source FROM programs WHERE program_id = ?", [exported[0]]).fetchone()
    assert main(["lineage", exported[1]]) == 0
    out = capsys.readouterr().out
    assert f"source record  {record_id}" in out and f"source {source}" in out
    assert f"program        {exported[0]}" in out and "sequences      1" in out
    assert f"sequence {exported[1]}" in out and "default/" in out
    assert main(["lineage", exported[0]]) == 0
    assert "export rows" in capsys.readouterr().out
    assert main(["lineage", "no-such-id"]) == 1
