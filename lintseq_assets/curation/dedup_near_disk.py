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
3. Rows are decided a block at a time (`BLOCK_ROWS`, keeper order). A block's rows are
   joined on (band, key) with `kept_bands`, the band keys of the programs already kept:
   each pair is verified on the estimated Jaccard (share of equal signature slots >= the
   threshold, the in-memory step's test) and a row's keeper is its earliest verified match.
   The block's other rows are decided among themselves in memory, with the exact band slots
   as keys (`_greedy_block`); its kept rows then add their band keys to `kept_bands`.
4. The keeper rule is greedy, not connected components: a program is a near duplicate of the
   earliest *kept* program it matches; a program matching only rejected ones is kept (no
   chains: A kept, B near A, C near B only -> C kept). Every kept program of earlier blocks
   precedes the block, so the result is the in-memory step's, decision for decision
   (tests/unit/curation/test_dedup_near_disk.py, with blocks of 1 to all rows).

Memory: DuckDB's cap (256 MB by default here) plus one block's signatures and band dict;
the joins spill to the scratch folder. Candidate pairs are (program, kept program sharing a
band), as in the in-memory step, so they grow with a bucket's kept members, not with the
square of the bucket. (The first version joined every pair of a bucket: on 1.09M candidates
of generated SDK code, with buckets of thousands of near-identical methods, that join ran
out of the cap; docs/scale.md, "The 10x run".)
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.compute as pc
from datasketch.lsh import _optimal_param

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.dedup_near import split_near
from lintseq_assets.runtime.sorted_copy import sql_literal

SCRATCH_MEMORY_LIMIT = "256MB"
BLOCK_ROWS = 65_536  # programs decided at once: their signatures and band dict are in memory


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


def near_duplicates_sql(
    conn: duckdb.DuckDBPyConnection, signatures_sql: str, threshold: float, num_perm: int, block_rows: int = BLOCK_ROWS
) -> pl.DataFrame:
    """Rejected programs as (row, keeper, similarity), from `signatures_sql` giving (row BIGINT,
    signature UINTEGER[num_perm]) for the programs in play; rows not listed are kept.

    Rows are decided a block at a time, in keeper order. A block's rows are first matched
    against the band keys of the programs already kept (table `kept_bands`, on disk): the
    earliest verified one is the keeper, since every kept program of earlier blocks comes
    before the block. The rest are decided among themselves in memory (`_greedy_block`), and
    the block's kept programs add their band keys. So candidate pairs are (program, kept
    program sharing a band), as in the in-memory step: they grow with a bucket's kept
    members, not with the square of the bucket."""
    bands, rows = band_layout(threshold, num_perm)
    need = min_equal_slots(threshold, num_perm)
    conn.execute(f"CREATE OR REPLACE TABLE signatures AS SELECT row::BIGINT AS row, signature FROM ({signatures_sql})")
    short = conn.execute("SELECT count(*) FROM signatures WHERE len(signature) <> ?", [num_perm]).fetchall()[0][0]
    if short:
        raise ValueError(f"{short} signatures do not have num_perm={num_perm} slots: curated under other settings; re-run the per-record stage")
    conn.execute("CREATE OR REPLACE TABLE kept_bands (row BIGINT, band USMALLINT, key UBIGINT)")
    n_rows = conn.execute("SELECT coalesce(max(row) + 1, 0) FROM signatures").fetchall()[0][0]
    found: list[pl.DataFrame] = []
    for lo in range(0, n_rows, block_rows):
        hi = min(lo + block_rows, n_rows)
        found.extend(_decide_block(conn, lo, hi, bands, rows, need, num_perm))
    conn.execute("DROP TABLE IF EXISTS block_bands")
    result = pl.concat(found) if found else pl.DataFrame(schema=_FOUND_SCHEMA)
    return result.sort("row").select("row", "keeper", similarity=pl.col("equal").cast(pl.Float64) / num_perm)


_FOUND_SCHEMA = {"row": pl.Int64, "keeper": pl.Int64, "equal": pl.Int64}


def _decide_block(conn: duckdb.DuckDBPyConnection, lo: int, hi: int, bands: int, rows: int, need: int, num_perm: int) -> list[pl.DataFrame]:
    """Decisions for rows [lo, hi): (row, keeper, equal) of its near duplicates; records the
    band keys of its kept rows in `kept_bands`."""
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE block_bands AS
            SELECT row, b::USMALLINT AS band, hash(signature[b * {rows} + 1 : (b + 1) * {rows}]) AS key
            FROM signatures, range({bands}) AS t(b) WHERE row >= {lo} AND row < {hi}"""
    )
    earlier = conn.sql(
        f"""WITH candidate AS (
                SELECT DISTINCT x.row AS i, k.row AS j FROM block_bands x JOIN kept_bands k USING (band, key)),
            verified AS (
                SELECT c.i, c.j,
                       len(list_filter(range(1, {num_perm} + 1), lambda s: a.signature[s] = b.signature[s])) AS equal
                FROM candidate c JOIN signatures a ON a.row = c.j JOIN signatures b ON b.row = c.i
                WHERE b.row >= {lo} AND b.row < {hi})
            SELECT i AS row, min(j) AS keeper, arg_min(equal, j) AS equal FROM verified WHERE equal >= {need} GROUP BY i"""
    ).pl().cast(_FOUND_SCHEMA)
    block_ids, signatures = _block_signatures(conn, lo, hi, num_perm)
    open_rows = ~np.isin(block_ids, earlier["row"].to_numpy())
    keeper, equal = _greedy_block(signatures if open_rows.all() else signatures[open_rows], bands, rows, need)
    del signatures
    open_ids = block_ids[open_rows]
    is_dup = keeper >= 0
    within = pl.DataFrame({"row": open_ids[is_dup], "keeper": open_ids[keeper[is_dup]], "equal": equal[is_dup]}, schema=_FOUND_SCHEMA)
    conn.register("block_kept", pl.DataFrame({"row": pl.Series(open_ids[~is_dup], dtype=pl.Int64)}).to_arrow())
    try:
        conn.execute("INSERT INTO kept_bands SELECT row, band, key FROM block_bands WHERE row IN (SELECT row FROM block_kept)")
    finally:
        conn.unregister("block_kept")
    return [earlier, within]


def _block_signatures(conn: duckdb.DuckDBPyConnection, lo: int, hi: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows [lo, hi) of `signatures` in row order: their numbers and a (rows, num_perm) uint32
    matrix. Through Arrow, one copy of the slots (the block's peak: a polars explode and
    cast made three, 32 MB each at 65,536 rows)."""
    block = conn.sql(f"SELECT row, signature FROM signatures WHERE row >= {lo} AND row < {hi} ORDER BY row").to_arrow_table()
    block_ids = block.column("row").to_numpy()
    slots = pc.list_flatten(block.column("signature")).to_numpy()
    return block_ids, np.asarray(slots, dtype=np.uint32).reshape(len(block_ids), num_perm)


def _greedy_block(signatures: np.ndarray, bands: int, rows: int, need: int) -> tuple[np.ndarray, np.ndarray]:
    """The keeper rule among one block's programs (keeper order), none of which matches an
    earlier kept program: for each, the index of the earliest kept program of the block that
    shares a band (its exact slots, as datasketch's LSH compares them) and has >= `need` equal
    slots (-1: kept), and that count of equal slots.

    Band buckets are numbered with numpy; only programs sharing a bucket with another one of
    the block enter the Python loop (the rest are kept without a comparison)."""
    n = len(signatures)
    keeper = np.full(n, -1, dtype=np.int64)
    equal = np.zeros(n, dtype=np.int64)
    bucket, shared, has_earlier = _band_buckets(signatures, bands, rows)
    in_loop = np.flatnonzero(shared.any(axis=1))
    keys_of = np.where(shared, bucket, -1)[in_loop].tolist()
    check = has_earlier[in_loop].tolist()
    kept_in: dict[int, list[int]] = {}
    for i, keys, earlier in zip(in_loop.tolist(), keys_of, check, strict=True):
        keys = [k for k in keys if k >= 0]
        if earlier:
            candidates = sorted({j for k in keys for j in kept_in.get(k, ())})
            if candidates:
                counts = (signatures[candidates] == signatures[i]).sum(axis=1)
                hits = np.flatnonzero(counts >= need)
                if len(hits):
                    keeper[i] = candidates[hits[0]]
                    equal[i] = counts[hits[0]]
                    continue
        for k in keys:
            kept_in.setdefault(k, []).append(i)
    return keeper, equal


def _band_buckets(signatures: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per program and band: a bucket number (equal band slots, equal number; unique across
    bands), whether another program of the block is in that bucket, and per program whether
    an earlier one shares any of its buckets."""
    n = len(signatures)
    bucket = np.empty((n, bands), dtype=np.int64)
    shared = np.empty((n, bands), dtype=np.bool_)
    has_earlier = np.zeros(n, dtype=np.bool_)
    offset = 0
    for b in range(bands):
        band = np.ascontiguousarray(signatures[:, b * rows : (b + 1) * rows]).view(np.dtype((np.void, rows * signatures.itemsize))).ravel()
        _, first, inverse, counts = np.unique(band, return_index=True, return_inverse=True, return_counts=True)
        bucket[:, b] = inverse + offset
        shared[:, b] = counts[inverse] >= 2
        has_earlier |= first[inverse] != np.arange(n)
        offset += len(counts)
    return bucket, shared, has_earlier


def near_duplicates_on_disk(
    signatures_parquet: Path | str, rows: np.ndarray, threshold: float, num_perm: int, scratch: Path | None = None, block_rows: int = BLOCK_ROWS
) -> pl.DataFrame:
    """`near_duplicates_sql` over a Parquet file of (_row, signature) for the programs whose
    `_row`s are `rows` (in keeper order); in the result, `row` and `keeper` are positions in
    `rows`. The scratch database lives in a temporary folder under `scratch`, removed after."""
    folder = Path(tempfile.mkdtemp(prefix="near-", dir=scratch))
    try:
        conn = scratch_connection(folder)
        try:
            in_play = pl.DataFrame({"_row": pl.Series(np.asarray(rows), dtype=pl.Int64)}).with_row_index("pos")
            conn.register("in_play", in_play.to_arrow())
            source = f"SELECT p.pos AS row, s.signature FROM read_parquet({sql_literal(signatures_parquet)}) s JOIN in_play p USING (_row)"
            return near_duplicates_sql(conn, source, threshold, num_perm, block_rows)
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

