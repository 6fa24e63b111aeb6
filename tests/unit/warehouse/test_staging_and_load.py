"""The storage layer on a real DuckDB file: keyed merges, sealed staging, sources.yaml."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from lintseq_assets.runtime.staging import (
    ShardWriter,
    StagingError,
    read_partition,
    write_partition,
)
from lintseq_assets.sources.ingest import open_source, stdlib_files
from lintseq_assets.sources.spec import SourceConfigError, parse_sources
from resources.connect import connect_reader, connect_writer
from resources.loader import Load, load
from resources.merge import merge, parquet_select

RAW = {"record_id": pl.String, "source": pl.String, "source_revision": pl.String, "source_row": pl.Int64, "instruction": pl.String, "response": pl.String}


def _raw(rows):
    return pl.DataFrame([dict(zip(RAW, r, strict=True)) for r in rows], schema=RAW)


def test_merge_is_idempotent_and_scoped(tmp_path):
    conn = connect_writer(tmp_path / "w.duckdb")
    a = write_partition(tmp_path, "raw", "a", [_raw([("a:1", "a", "r1", 0, "i", "x"), ("a:2", "a", "r1", 1, "i", "y")])])
    b = write_partition(tmp_path, "raw", "b", [_raw([("b:1", "b", "r1", 0, "i", "z")])])
    first = merge(conn, "raw_instructions", parquet_select(a.shards, "raw_instructions"), run_id="run1", scope_sql="t.source = ?", scope_params=["a"])
    merge(conn, "raw_instructions", parquet_select(b.shards, "raw_instructions"), run_id="run1", scope_sql="t.source = ?", scope_params=["b"])
    assert (first.inserted, first.updated, first.deleted) == (2, 0, 0)
    again = merge(conn, "raw_instructions", parquet_select(a.shards, "raw_instructions"), run_id="run2", scope_sql="t.source = ?", scope_params=["a"])
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert conn.execute("SELECT DISTINCT run_id FROM raw_instructions").fetchall() == [("run1",)]
    # Source a changes: one row edited, one gone. Source b is out of scope and untouched.
    a2 = write_partition(tmp_path, "raw", "a", [_raw([("a:1", "a", "r2", 0, "i", "x2")])])
    changed = merge(conn, "raw_instructions", parquet_select(a2.shards, "raw_instructions"), run_id="run3", scope_sql="t.source = ?", scope_params=["a"])
    assert (changed.inserted, changed.updated, changed.deleted) == (0, 1, 1)
    assert conn.execute("SELECT record_id, response, run_id FROM raw_instructions ORDER BY 1").fetchall() == [("a:1", "x2", "run3"), ("b:1", "z", "run1")]
    # Duplicate keys inside one load keep the first and never violate the primary key.
    dup = write_partition(tmp_path, "raw", "dup", [_raw([("c:1", "c", "r", 0, "i", "first"), ("c:1", "c", "r", 1, "i", "second")])])
    merge(conn, "raw_instructions", parquet_select(dup.shards, "raw_instructions"), run_id="run4")
    assert conn.execute("SELECT count(*) FROM raw_instructions WHERE record_id = 'c:1'").fetchone()[0] == 1
    conn.close()


@pytest.mark.parametrize("threads", [1, 4])
def test_duplicate_keys_keep_the_first_in_staged_order(tmp_path, threads):
    """Three shards repeat the same 100 keys: the row of the first shard is kept, on a first
    load (the bulk append) and on a load over existing keys (the compare-and-update path).
    `row_number()` without ORDER BY kept a later shard's row for about a fifth of the keys."""
    def shard(tag: str, k: int) -> pl.DataFrame:
        return _raw([(f"d:{i:03d}", "d", "r", k * 100 + i, "i", f"{tag}{k}") for i in range(100)])

    conn = connect_writer(tmp_path / "w.duckdb", config={"threads": threads})
    first = write_partition(tmp_path, "raw", "d", [shard("old", k) for k in range(3)])
    stats = merge(conn, "raw_instructions", parquet_select(first.shards, "raw_instructions"), run_id="r1")
    assert (stats.incoming, stats.inserted) == (100, 100)
    assert conn.execute("SELECT DISTINCT response FROM raw_instructions").fetchall() == [("old0",)]
    again = write_partition(tmp_path, "raw", "d", [shard("new", k) for k in range(3)])
    stats = merge(conn, "raw_instructions", parquet_select(again.shards, "raw_instructions"), run_id="r2")
    assert (stats.incoming, stats.inserted, stats.updated) == (100, 0, 100)
    assert conn.execute("SELECT DISTINCT response, source_row < 100 FROM raw_instructions").fetchall() == [("new0", True)]
    conn.close()


def test_an_unsealed_partition_is_never_loaded(tmp_path):
    writer = ShardWriter(tmp_path, "edit_sequences", "cfg")
    writer.write(pl.DataFrame({"x": [1, 2]}))
    with pytest.raises(StagingError):  # crashed before seal(): no manifest, no load
        read_partition(tmp_path, "edit_sequences", "cfg")
    writer.write(pl.DataFrame({"x": [3]}))
    sealed = writer.seal()
    assert sealed.rows == 3 and len(sealed.shards) == 2
    # A smaller re-run removes the stale second shard when it seals.
    smaller = write_partition(tmp_path, "edit_sequences", "cfg", [pl.DataFrame({"x": [1]})])
    assert [p.name for p in smaller.folder.glob("shard-*.parquet")] == ["shard-00000.parquet"]
    assert json.loads((smaller.folder / "_manifest.json").read_text())["shards"] == [{"file": "shard-00000.parquet", "rows": 1}]
    assert not list(smaller.folder.glob(".*.tmp"))


def test_sources_yaml_is_validated(tmp_path):
    ok = parse_sources({"sources": [{"name": "mine", "loader": "jsonl", "path": "x.jsonl", "columns": {"instruction": "q", "response": "a"}}]}, tmp_path)
    assert ok[0].path == str(tmp_path / "x.jsonl") and ok[0].columns.response == "a"
    bad = [
        {"sources": [{"name": "h", "loader": "hub", "dataset": "openai/openai_humaneval"}]},
        {"sources": [{"name": "x", "loader": "nope"}]},
        {"sources": [{"name": "x", "loader": "jsonl"}]},
        {"sources": [{"name": "x", "loader": "stdlib", "colour": "red"}]},
        {"sources": [{"name": "x", "loader": "stdlib"}, {"name": "x", "loader": "embedded"}]},
        {"nothing": []},
    ]
    for document in bad:
        with pytest.raises(SourceConfigError):
            parse_sources(document, tmp_path)
    disabled = parse_sources({"sources": [{"name": "x", "loader": "stdlib", "enabled": False}]}, tmp_path)
    assert disabled == []


def test_stdlib_subset_is_deterministic_and_skips_tests():
    subset = stdlib_files(25)
    assert subset == stdlib_files(25) and len(subset) == 25
    everything = stdlib_files(None)
    assert len(everything) > 300
    assert not any(part in ("test", "tests", "site-packages") for key, _ in everything for part in key.split("/")[:-1])


def test_local_dataset_formats_read_the_same_rows(tmp_path):
    from datasets import Dataset

    rows = {"problem": ["Say hi.", "Add."], "solution": ["print('hi')", "```python\nx = 1 + 2\n```"], "uid": ["a", "b"]}
    dataset = Dataset.from_dict(rows)
    dataset.save_to_disk(str(tmp_path / "disk"))
    dataset.to_parquet(str(tmp_path / "data.parquet"))
    dataset.to_json(str(tmp_path / "data.jsonl"))
    arrow = next((tmp_path / "disk").glob("*.arrow"))
    columns = {"instruction": "problem", "response": "solution", "id": "uid"}
    seen = {}
    for loader, path in (("disk", "disk"), ("parquet", "data.parquet"), ("jsonl", "data.jsonl"), ("arrow", str(arrow))):
        spec = parse_sources({"sources": [{"name": "m", "loader": loader, "path": path, "columns": columns}]}, tmp_path)[0]
        opened = open_source(spec)
        seen[loader] = [(r.record_id, r.instruction, r.response) for r in opened.records]
        assert opened.revision
    assert all(v == seen["disk"] for v in seen.values()), seen
    assert seen["disk"][0] == ("m:a", "Say hi.", "print('hi')")


def test_python_glob_source_derives_instructions_from_docstrings(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text('"""Compute things.\n\nMore text."""\nx = 1\n')
    (tmp_path / "pkg" / "b.py").write_bytes(b"x = '\xff'\n")
    (tmp_path / "pkg" / "c.txt").write_text("not python")
    spec = parse_sources({"sources": [{"name": "py", "loader": "python", "path": "pkg/*.py"}]}, tmp_path)[0]
    records = list(open_source(spec).records)
    good = [r for r in records if hasattr(r, "response")]
    bad = [r for r in records if hasattr(r, "reason")]
    assert [r.instruction for r in good] == ["Compute things."]
    assert [r.reason for r in bad] == ["not_text"]


def test_the_loads_of_one_call_commit_together(tmp_path):
    """One transaction per `load` call: a failing load leaves the earlier loads of the same call
    unapplied too (readers never see a step's tables half changed)."""
    database = tmp_path / "w.duckdb"
    good = write_partition(tmp_path, "raw", "a", [_raw([("a:1", "a", "r1", 0, "i", "x")])])
    bad = write_partition(tmp_path, "raw", "b", [_raw([("b:1", None, "r1", 0, "i", "y")])])  # source is NOT NULL
    loads = [Load("raw_instructions", parquet_select(good.shards, "raw_instructions")),
             Load("raw_instructions", parquet_select(bad.shards, "raw_instructions"))]
    with pytest.raises(duckdb.ConstraintException):
        load(database, loads, run_id="r1")
    load(database, loads[:1], run_id="r2")
    with connect_reader(database) as conn:
        assert conn.execute("SELECT record_id, run_id FROM raw_instructions").fetchall() == [("a:1", "r2")]
