"""`copy_in_key_ranges`: the part files, read in name order, hold every row once, in key order."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from lintseq_assets.runtime import sorted_copy
from lintseq_assets.runtime.sorted_copy import copy_in_key_ranges


@pytest.mark.parametrize("range_rows", [1, 7, 100, 1000])
def test_parts_in_key_order(tmp_path, range_rows):
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT md5(i::VARCHAR) AS k, i, repeat('x', i % 50) AS text FROM range(500) r(i)")
    n = copy_in_key_ranges(conn, "SELECT k, i, text FROM t WHERE i % ? <> 0", "k", [5], tmp_path / "out", "FORMAT parquet", range_rows)
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    keys = [k for p in parts for k in pq.read_table(p).column("k").to_pylist()]
    expected = [row[0] for row in conn.execute("SELECT k FROM t WHERE i % 5 <> 0 ORDER BY k").fetchall()]
    assert n == 400 and keys == expected
    assert len(parts) == -(-400 // range_rows) if range_rows < 400 else len(parts) == 1



@pytest.mark.parametrize("range_rows", [1, 7, 100, 1000])
def test_dealt_ranges_in_key_order(tmp_path, range_rows, monkeypatch):
    """Rows dealt into their ranges a (small) batch at a time come out in key order, each once."""
    monkeypatch.setattr(sorted_copy, "DEAL_BATCH_ROWS", 33)
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT md5(i::VARCHAR) AS k, i, repeat('x', i % 50) AS text FROM range(500) r(i)")
    select = "SELECT k, i, text FROM t WHERE i % ? <> 0"
    starts, n = sorted_copy.range_bounds(conn, select, "k", [5], range_rows)
    files = sorted_copy.deal_into_ranges(conn, select, "k", [5], starts, tmp_path / "out", "seq", "FORMAT parquet")
    keys = [k for p in files for k in pq.read_table(p).column("k").to_pylist()]
    expected = [row[0] for row in conn.execute("SELECT k FROM t WHERE i % 5 <> 0 ORDER BY k").fetchall()]
    assert n == 400 and keys == expected and len(files) == len(starts)
    assert sorted((tmp_path / "out").iterdir()) == files  # the scratch files are gone
