"""Near de-duplication out of core: LSH bands, candidate pairs and verification in DuckDB.

The in-memory step (`dedup_near.near_duplicates`) holds every signature and datasketch's LSH
index in Python: 512 bytes a program plus the index, growing with the corpus. Here the same
decision is made with the signatures on disk:

1. `signatures`: (row, signature) of the programs still in play, a table of a scratch DuckDB
   database file (row = position in keeper order; DuckDB spills past its memory cap).
2. `bands`: one row per (program, band) with a 64-bit hash of that band's `rows` slots, for
   the (bands, rows) layout datasketch's `MinHashLSH` picks for the threshold, so a pair is
   a candidate exactly when datasketch would find it (up to a 2^-64 hash collision, which
   verification below would still have to pass).
3. `pairs`: candidate pairs (earlier j, later i) from a join on (band, key), kept only when
   the estimated Jaccard (share of equal signature slots) is >= the threshold: the same
   verification the in-memory step does.
4. The keeper rule is greedy, not connected components: a program is a near duplicate of the
   earliest *kept* program it matches; a program matching only rejected ones is kept (no
   chains: A kept, B near A, C near B only -> C kept). The verified pairs are streamed in
   (i, j) order, and one byte per program (rejected or not) is all Python holds, so the
   result is the in-memory step's, decision for decision (tests/unit/curation/test_dedup_near_disk.py).

Memory: DuckDB's cap (256 MB by default here) plus the row flags; the joins spill to the
scratch folder. Known limit: candidate pairs grow with the square of a band bucket's size.
That is small on the 90K corpus, but on 1.09M candidates of generated SDK code (buckets of
thousands of near-identical methods) the DISTINCT pair join ran out of the cap
(docs/scale.md, "The 10x run"); pairs per bucket must be bounded before that scale.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from datasketch.lsh import _optimal_param

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.dedup_near import split_near

SCRATCH_MEMORY_LIMIT = "256MB"
PAIR_BATCH_ROWS = 65_536


def band_layout(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band): what `datasketch.MinHashLSH(threshold, num_perm)` uses."""
    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def min_equal_slots(threshold: float, num_perm: int) -> int:
    """Fewest equal slots c with c / num_perm >= threshold (the float test the in-memory step makes)."""
    c = max(0, math.floor(threshold * num_perm) - 1)
    while c / num_perm < threshold:
        c += 1
    return c


def scratch_connection(folder: Path, memory_limit: str = SCRATCH_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A DuckDB database file in `folder` (created fresh), capped in memory and spilling there."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "near.duckdb"
    for stale in (path, Path(f"{path}.wal")):
        stale.unlink(missing_ok=True)
    return duckdb.connect(
        str(path),
        config={"memory_limit": memory_limit, "temp_directory": str(folder / "spill"), "preserve_insertion_order": False},
    )


def near_duplicates_sql(conn: duckdb.DuckDBPyConnection, signatures_sql: str, threshold: float, num_perm: int) -> pl.DataFrame:
    """Rejected programs as (row, keeper, similarity), from `signatures_sql` giving (row BIGINT,
    signature UINTEGER[num_perm]) for the programs in play; rows not listed are kept."""
    bands, rows = band_layout(threshold, num_perm)
    need = min_equal_slots(threshold, num_perm)
    conn.execute(f"CREATE OR REPLACE TABLE signatures AS SELECT row::BIGINT AS row, signature FROM ({signatures_sql})")
    short = conn.execute("SELECT count(*) FROM signatures WHERE len(signature) <> ?", [num_perm]).fetchall()[0][0]
    if short:
        raise ValueError(f"{short} signatures do not have num_perm={num_perm} slots: curated under other settings; re-run the per-record stage")
    conn.execute(
        f"""CREATE OR REPLACE TABLE bands AS
            SELECT row, b::USMALLINT AS band, hash(signature[b * {rows} + 1 : (b + 1) * {rows}]) AS key
            FROM signatures, range({bands}) AS t(b)"""
    )
    conn.execute(
        """CREATE OR REPLACE TABLE candidate_pairs AS
           SELECT DISTINCT x.row AS j, y.row AS i
           FROM bands x JOIN bands y ON x.band = y.band AND x.key = y.key AND x.row < y.row"""
    )
    conn.execute("DROP TABLE bands")
    conn.execute(
        f"""CREATE OR REPLACE TABLE pairs AS
            SELECT i, j, equal FROM (
                SELECT p.i, p.j,
                       len(list_filter(range(1, {num_perm} + 1), lambda k: a.signature[k] = b.signature[k])) AS equal
                FROM candidate_pairs p JOIN signatures a ON a.row = p.j JOIN signatures b ON b.row = p.i)
            WHERE equal >= {need}"""
    )
    n_rows = conn.execute("SELECT coalesce(max(row) + 1, 0) FROM signatures").fetchall()[0][0]
    return _greedy_keepers(conn.sql("SELECT i, j, equal FROM pairs ORDER BY i, j"), n_rows, num_perm)


def _greedy_keepers(result: duckdb.DuckDBPyRelation, n_rows: int, num_perm: int) -> pl.DataFrame:
    """Stream verified pairs in (i, j) order: i is rejected for its earliest j not rejected."""
    rejected = np.zeros(n_rows, dtype=np.bool_)
    out_rows: list[int] = []
    out_keepers: list[int] = []
    out_equal: list[int] = []
    current = -1
    reader = result.to_arrow_reader(PAIR_BATCH_ROWS)
    for batch in reader:
        i_col = batch.column(0).to_numpy()
        j_col = batch.column(1).to_numpy()
        e_col = batch.column(2).to_numpy()
        for i, j, e in zip(i_col.tolist(), j_col.tolist(), e_col.tolist(), strict=True):
            if i == current or rejected[j]:
                continue  # i already decided (by an earlier j), or j is no keeper
            rejected[i] = True
            current = i
            out_rows.append(i)
            out_keepers.append(j)
            out_equal.append(e)
    return pl.DataFrame(
        {
            "row": pl.Series(out_rows, dtype=pl.Int64),
            "keeper": pl.Series(out_keepers, dtype=pl.Int64),
            "similarity": pl.Series(out_equal, dtype=pl.Float64) / num_perm,
        }
    )


def near_duplicates_on_disk(signatures_parquet: Path | str, rows: np.ndarray, threshold: float, num_perm: int, scratch: Path | None = None) -> pl.DataFrame:
    """`near_duplicates_sql` over a Parquet file of (_row, signature) for the programs whose
    `_row`s are `rows` (in keeper order); in the result, `row` and `keeper` are positions in
    `rows`. The scratch database lives in a temporary folder under `scratch`, removed after."""
    folder = Path(tempfile.mkdtemp(prefix="near-", dir=scratch))
    try:
        conn = scratch_connection(folder)
        try:
            in_play = pl.DataFrame({"_row": pl.Series(np.asarray(rows), dtype=pl.Int64)}).with_row_index("pos")
            conn.register("in_play", in_play.to_arrow())
            source = f"SELECT p.pos AS row, s.signature FROM read_parquet('{_sql_path(signatures_parquet)}') s JOIN in_play p USING (_row)"
            return near_duplicates_sql(conn, source, threshold, num_perm)
        finally:
            conn.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def dedup_near_on_disk(candidates: pl.DataFrame, settings: CurationSettings, signatures_parquet: Path | str, scratch: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`dedup_near.dedup_near` with the signatures read from `signatures_parquet` (columns
    `_row`, `signature`) instead of the frame: the same (kept, rejects)."""
    found = near_duplicates_on_disk(signatures_parquet, candidates["_row"].to_numpy(), settings.jaccard_threshold, settings.num_perm, scratch)
    keeper = np.full(candidates.height, -1, dtype=np.int64)
    similarity = np.zeros(candidates.height, dtype=np.float64)
    keeper[found["row"].to_numpy()] = found["keeper"].to_numpy()
    similarity[found["row"].to_numpy()] = found["similarity"].to_numpy()
    return split_near(candidates, keeper, similarity, settings)


def _sql_path(path: Path | str) -> str:
    return str(path).replace("'", "''")
