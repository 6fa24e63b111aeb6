"""The keyed merge gives the same rows and counts whether changed rows are compared in one
pass or a key range at a time (how it bounds memory on big loads)."""

from __future__ import annotations

import random

import duckdb
import pytest

from resources.connect import connect_writer
from resources.merge import merge

SEQUENCE_COLUMNS = "sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path, run_id"


def _sequences(rng: random.Random, n: int, config: str, variant: int = 0) -> list[tuple]:
    rows = []
    for i in range(n):
        path = [f"@@ -0,0 +{k},1 @@\n+line {i} {k} {variant if i % 3 == 0 else 0}" for k in range(1 + i % 4)]
        rows.append((f"{config}-{i:05d}", f"p{i // 5}", i % 5, rng.randrange(2**63), config, len(path), path))
    return rows


def _load(conn: duckdb.DuckDBPyConnection, rows: list[tuple]) -> str:
    conn.execute("CREATE OR REPLACE TEMP TABLE staged (sequence_id VARCHAR, program_id VARCHAR, sample_index INTEGER, "
                 "seed UBIGINT, config_hash VARCHAR, n_edits INTEGER, edit_path VARCHAR[])")
    if rows:
        conn.executemany("INSERT INTO staged VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    # Columns of the table these rows do not carry (e.g. provenance) come in as NULL.
    staged = {r[0] for r in conn.execute("DESCRIBE staged").fetchall()}
    extra = [f"NULL AS {r[0]}" for r in conn.execute("DESCRIBE edit_sequences").fetchall() if r[0] not in staged and r[0] != "run_id"]
    return "SELECT *" + "".join(", " + e for e in extra) + " FROM staged"


def _table(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(f"SELECT {SEQUENCE_COLUMNS} FROM edit_sequences ORDER BY sequence_id").fetchall()


def _run(path, per_range: int) -> tuple[list, list]:
    rng = random.Random(7)
    conn = connect_writer(path)
    stats = []
    other = _sequences(rng, 30, "other")
    first = _sequences(rng, 200, "cfg")
    stats.append(merge(conn, "edit_sequences", _load(conn, other), run_id="r0", scope_sql="t.config_hash = 'other'",
                       update_range_rows=per_range))
    stats.append(merge(conn, "edit_sequences", _load(conn, first), run_id="r1", scope_sql="t.config_hash = 'cfg'",
                       update_range_rows=per_range))
    stats.append(merge(conn, "edit_sequences", _load(conn, first), run_id="r2", scope_sql="t.config_hash = 'cfg'",
                       update_range_rows=per_range))
    # A third of the rows change (everywhere in key order), the first 20 are gone, and 60 new
    # keys arrive between the old ones; one key comes twice.
    changed = _sequences(random.Random(8), 200, "cfg", variant=1)
    second = [(*c[:3], f[3], *c[4:]) for c, f in zip(changed, first, strict=True)][20:]
    second += [(f"cfg-{i:05d}b", *r[1:]) for i, r in enumerate(_sequences(random.Random(9), 60, "cfg"))]
    second.append(second[5])
    stats.append(merge(conn, "edit_sequences", _load(conn, second), run_id="r3", scope_sql="t.config_hash = 'cfg'",
                       update_range_rows=per_range))
    rows = _table(conn)
    conn.close()
    return [s.as_metadata() for s in stats], rows


@pytest.mark.parametrize("per_range", [1, 7, 64])
def test_ranged_updates_match_one_pass(tmp_path, per_range):
    one_stats, one_rows = _run(tmp_path / "one.duckdb", 10**9)
    stats, rows = _run(tmp_path / f"ranged-{per_range}.duckdb", per_range)
    assert stats == one_stats
    assert rows == one_rows
    # The scenario really exercised every branch.
    assert one_stats[1]["rows_inserted"] == 200 and one_stats[2] == {"rows_incoming": 200, "rows_inserted": 0, "rows_updated": 0, "rows_deleted": 0}
    last = one_stats[3]
    assert last["rows_incoming"] == 240 and last["rows_deleted"] == 20 and last["rows_inserted"] == 60 and last["rows_updated"] > 0
    assert sum(1 for r in one_rows if r[4] == "other") == 30


def test_duplicate_keys_in_one_load_keep_one_row(tmp_path):
    conn = connect_writer(tmp_path / "w.duckdb")
    rows = _sequences(random.Random(1), 10, "cfg")
    stats = merge(conn, "edit_sequences", _load(conn, rows + rows[:3]), run_id="r1", update_range_rows=2)
    assert (stats.incoming, stats.inserted) == (10, 10)
    assert conn.execute("SELECT count(*), count(DISTINCT sequence_id) FROM edit_sequences").fetchone() == (10, 10)
    conn.close()


def test_composite_keys_in_ranges(tmp_path):
    """rejects is keyed on (record_id, stage): a range splits on record_id only, so both stages
    of a record are compared in the same pass."""
    conn = connect_writer(tmp_path / "w.duckdb")
    conn.execute("CREATE OR REPLACE TEMP TABLE staged AS SELECT 'r' || lpad((i // 2)::VARCHAR, 3, '0') AS record_id, 's' AS source, "
                 "CASE WHEN i % 2 = 0 THEN 'ingest' ELSE 'sample' END AS stage, 'x' AS reason, NULL::VARCHAR AS detail, "
                 "'a' AS asset FROM range(40) t(i)")
    merge(conn, "rejects", "SELECT * FROM staged", run_id="r1", scope_sql="t.asset = 'a'", update_range_rows=3)
    conn.execute("UPDATE staged SET reason = 'y' WHERE stage = 'sample'")
    stats = merge(conn, "rejects", "SELECT * FROM staged", run_id="r2", scope_sql="t.asset = 'a'", update_range_rows=3)
    assert (stats.incoming, stats.inserted, stats.updated, stats.deleted) == (40, 0, 20, 0)
    assert conn.execute("SELECT stage, reason, run_id, count(*) FROM rejects GROUP BY ALL ORDER BY 1").fetchall() == [
        ("ingest", "x", "r1", 20), ("sample", "y", "r2", 20)]
    conn.close()
