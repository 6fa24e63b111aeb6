"""Source partitions and hash shards: keys, the shard function in Python and in DuckDB, and a
sharded source materialized for real giving exactly the rows of the unsharded one."""

from __future__ import annotations

import duckdb
import pytest
import yaml
from dagster import DagsterInstance
from support.platform import run_platform, table_snapshot

from lintseq_assets.platform.partitions import SOURCE_PARTITIONS
from lintseq_assets.runtime.environment import load_settings
from lintseq_assets.sources.keys import SourceKey, keys_for_source, shard_of, shard_sql
from lintseq_assets.sources.spec import SourceConfigError, parse_sources
from resources.connect import connect_reader

RUN_CONFIG = {"ops": {"edit_sequence_shards": {"config": {"samples": 1, "workers": 1}}, "source_programs": {"config": {"workers": 1}}}}


def test_keys_round_trip_and_refuse_nonsense():
    for key in ("stdlib", "hub@3f2a9c", "big~0of4", "hub@3f2a9c~3of4"):
        assert SourceKey.parse(key).key == key
    assert keys_for_source("big", 3) == ["big~0of3", "big~1of3", "big~2of3"]
    assert keys_for_source("one") == ["one"]
    for bad in ("big~4of4", "big~xof2", "", "a~1of"):
        with pytest.raises(ValueError):
            SourceKey.parse(bad)


def test_shard_function_is_the_same_in_python_and_duckdb():
    ids = [f"src:{i}" for i in range(3000)] + ["unicodé:ü", "x:*"]
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t (record_id VARCHAR)")
    conn.executemany("INSERT INTO t VALUES (?)", [[i] for i in ids])
    in_sql = dict(conn.execute(f"SELECT record_id, {shard_sql('record_id', 7)} FROM t").fetchall())
    assert in_sql == {i: shard_of(i, 7) for i in ids}
    sizes = [sum(1 for i in ids if shard_of(i, 7) == k) for k in range(7)]
    assert min(sizes) > 300  # roughly balanced: each shard is a sensible size


def test_shards_setting_is_validated(tmp_path):
    assert parse_sources({"sources": [{"name": "a", "loader": "stdlib", "shards": 4}]}, tmp_path)[0].shards == 4
    for bad in (0, -1, "2", True, 10_000):
        with pytest.raises(SourceConfigError, match="shards"):
            parse_sources({"sources": [{"name": "a", "loader": "stdlib", "shards": bad}]}, tmp_path)
    with pytest.raises(SourceConfigError, match="name"):
        parse_sources({"sources": [{"name": "a~b", "loader": "stdlib"}]}, tmp_path)


def _home(root, shards: int):
    root.mkdir(parents=True, exist_ok=True)
    sources = root / "sources.yaml"
    entry = {"name": "stdlib", "loader": "stdlib", "limit": 9}
    if shards > 1:
        entry["shards"] = shards
    sources.write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
    return load_settings({"LINTSEQ_HOME": str(root), "LINTSEQ_SOURCES": str(sources), "LINTSEQ_WORKERS": "1"})


def _tables(settings) -> dict[str, list[tuple]]:
    with connect_reader(settings.warehouse_path) as conn:
        return {t: table_snapshot(conn, t) for t in ("raw_instructions", "candidates", "programs", "edit_sequences")}


def test_a_sharded_source_gives_the_rows_of_the_unsharded_one(tmp_path):
    whole = _home(tmp_path / "whole", 1)
    assert run_platform(whole, DagsterInstance.ephemeral(), RUN_CONFIG).success

    sharded = _home(tmp_path / "sharded", 3)
    instance = DagsterInstance.ephemeral()
    result = run_platform(sharded, instance, RUN_CONFIG)
    assert result.success, result.failed_steps()
    assert result.partitions == ["stdlib~0of3", "stdlib~1of3", "stdlib~2of3"]
    assert set(instance.get_dynamic_partitions(SOURCE_PARTITIONS.name)) == set(result.partitions)
    expected = _tables(whole)
    assert expected["raw_instructions"] and _tables(sharded) == expected

    # Re-sharding (3 -> 2) replaces each hash class's rows: nothing is duplicated or lost.
    _home(tmp_path / "sharded", 2)
    result = run_platform(sharded, instance, RUN_CONFIG)
    assert result.success, result.failed_steps()
    assert result.partitions == ["stdlib~0of2", "stdlib~1of2"]
    assert _tables(sharded) == expected
