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
def test_dealt_ranges_in_key_order(tmp_path, range_rows):
    """Rows dealt into their ranges, from one SELECT or from parts of it run one after the
    other, come out in key order, each once, the same rows in the same files; the scratch folders are
    gone and the connection's insertion-order setting is as it was."""
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT md5(i::VARCHAR) AS k, i, repeat('x', i % 50) AS text FROM range(500) r(i)")
    select = "SELECT k, i, text FROM t WHERE i % ? <> 0"
    starts, n = sorted_copy.range_bounds(conn, select, "k", [5], range_rows)
    files = sorted_copy.deal_into_ranges(conn, select, "k", [5], starts, tmp_path / "out", "seq", "FORMAT parquet")
    keys = [k for p in files for k in pq.read_table(p).column("k").to_pylist()]
    expected = [row[0] for row in conn.execute("SELECT k FROM t WHERE i % 5 <> 0 ORDER BY k").fetchall()]
    assert n == 400 and keys == expected and len(files) == len(starts)
    assert sorted((tmp_path / "out").iterdir()) == files  # the scratch files are gone
    assert conn.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0] is True

    parts = [f"{select} AND i % 3 = {r}" for r in range(3)]
    split = sorted_copy.deal_into_ranges(conn, parts, "k", [5], starts, tmp_path / "split", "seq", "FORMAT parquet")
    assert [p.name for p in split] == [p.name for p in files]
    assert [pq.read_table(p).to_pylist() for p in split] == [pq.read_table(p).to_pylist() for p in files]


def test_failed_deal_leaves_nothing(tmp_path):
    """A SELECT that fails mid-way (here, a part that does not bind) leaves no scratch folder
    for a retry to trip over, and the connection keeps insertion order."""
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT md5(i::VARCHAR) AS k, i FROM range(100) r(i)")
    with pytest.raises(duckdb.Error):
        sorted_copy.deal_into_ranges(conn, ["SELECT k, i FROM t", "SELECT k, nope FROM t"], "k", [], ["0", "8"], tmp_path, "s", "FORMAT parquet")
    assert list(tmp_path.iterdir()) == []
    assert conn.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0] is True
