"""The set half of curation out of core: `selection.select_programs` with the candidates'
fingerprints in Parquet files and every set step in a scratch DuckDB database.

At 1.09M candidates the fingerprints frame (ids, exact keys, verdicts) alone held 700 MB in
the `programs` step, growing with the corpus. Here Python holds only the rejects of each
step (their reasons are built from a few columns) and the kept record ids; the steps are
DuckDB statements that spill under the scratch database's cap:

- decontaminate: candidates with a per-record verdict leave;
- dedup_exact: the keeper of an exact key is its first candidate in keeper order (`_row`,
  numbered over (source, source_row, record_id)), found by an aggregate and a join (no
  window over every candidate);
- dedup_near: `dedup_near_disk.near_duplicates_sql` over the survivors' signatures.

Same kept set, same rejects (reasons and details) as `select_programs` in memory
(tests/unit/curation/test_selection_disk.py).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.decontaminate import STEP as DECONTAMINATE
from lintseq_assets.curation.dedup_exact import STEP as DEDUP_EXACT
from lintseq_assets.curation.dedup_near import STEP as DEDUP_NEAR
from lintseq_assets.curation.dedup_near_disk import near_duplicates_sql, scratch_connection
from lintseq_assets.curation.records import RECORD_REJECT_SCHEMA
from lintseq_assets.curation.report import StepStats, step_stats
from lintseq_assets.curation.selection import KEEPER_ORDER, SELECTION_COLUMNS, Selection
from lintseq_assets.runtime.sorted_copy import sql_literal

FINGERPRINT_COLUMNS = tuple(c for c in SELECTION_COLUMNS if c != "signature")


def select_programs_on_disk(fingerprints: Path | str, signatures: Path | str, settings: CurationSettings, scratch: Path | None = None) -> Selection:
    """Run the set steps over `fingerprints` (Parquet, FINGERPRINT_COLUMNS, `_row` in keeper
    order) and `signatures` (Parquet, `_row`, `signature`). `kept` holds (`_row`,
    `record_id`) of the kept candidates in keeper order; `rejects` and `stats` are
    `select_programs`'."""
    folder = Path(tempfile.mkdtemp(prefix="select-", dir=scratch))
    try:
        conn = scratch_connection(folder)
        try:
            return _select(conn, sql_literal(fingerprints), sql_literal(signatures), settings)
        finally:
            conn.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _select(conn: duckdb.DuckDBPyConnection, fingerprints: str, signatures: str, settings: CurationSettings) -> Selection:
    """The set steps over the fingerprints and signatures Parquet files (`fingerprints`,
    `signatures`: their paths as SQL literals)."""
    conn.execute(f"CREATE TABLE step_in AS SELECT {', '.join(FINGERPRINT_COLUMNS)} FROM read_parquet({fingerprints})")
    stats: list[StepStats] = []
    frames: list[pl.DataFrame] = []
    steps = (
        ("decontaminate", settings.decontaminate, _decontaminate),
        ("dedup_exact", True, _dedup_exact),
        ("dedup_near", settings.near_dedup, lambda c: _dedup_near(c, signatures, settings)),
    )
    for step, enabled, run in steps:
        t0 = time.perf_counter()
        n_in = _count(conn, "step_in")
        rejects = run(conn) if enabled else pl.DataFrame(schema=RECORD_REJECT_SCHEMA)
        rejects = rejects.select(list(RECORD_REJECT_SCHEMA)).cast(RECORD_REJECT_SCHEMA)
        if enabled:
            conn.register("step_rejects", rejects.select("_row").to_arrow())
            conn.execute("CREATE OR REPLACE TABLE step_out AS SELECT * FROM step_in WHERE _row NOT IN (SELECT _row FROM step_rejects)")
            conn.unregister("step_rejects")
            conn.execute("DROP TABLE step_in")
            conn.execute("ALTER TABLE step_out RENAME TO step_in")
        stats.append(step_stats(step, enabled, n_in, _count(conn, "step_in"), rejects, time.perf_counter() - t0))
        frames.append(rejects)
    kept = conn.sql("SELECT _row, record_id FROM step_in ORDER BY _row").pl()
    return Selection(kept, pl.concat(frames, how="vertical"), stats)


def _count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _decontaminate(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.sql(
        f"""SELECT _row, record_id, source, '{DECONTAMINATE}' AS stage, contamination AS reason, contamination_detail AS detail
            FROM step_in WHERE contamination IS NOT NULL ORDER BY _row"""
    ).pl()


def _dedup_exact(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """`dedup_exact.dedup_exact`'s rejects: every candidate but the first of its exact key."""
    return conn.sql(
        f"""WITH firsts AS (SELECT exact_key, min(_row) AS first_row FROM step_in GROUP BY exact_key),
                 keepers AS (SELECT f.exact_key, k.program_id AS keeper_id, k.record_id AS keeper_record
                             FROM firsts f JOIN step_in k ON k._row = f.first_row)
            SELECT s._row, s.record_id, s.source, '{DEDUP_EXACT}' AS stage,
                   'duplicate_of:' || k.keeper_id AS reason,
                   CASE WHEN s.program_id = k.keeper_id THEN 'identical program to record ' || k.keeper_record
                        ELSE 'same program up to whitespace and comments as record ' || k.keeper_record END AS detail
            FROM step_in s JOIN firsts f ON s.exact_key IS NOT DISTINCT FROM f.exact_key
                 JOIN keepers k ON k.exact_key IS NOT DISTINCT FROM f.exact_key
            WHERE s._row <> f.first_row ORDER BY s._row"""
    ).pl()


def _dedup_near(conn: duckdb.DuckDBPyConnection, signatures: str, settings: CurationSettings) -> pl.DataFrame:
    """`dedup_near.dedup_near`'s rejects, from the out-of-core near de-dup over the survivors."""
    conn.execute("CREATE OR REPLACE TABLE near_in AS SELECT row_number() OVER (ORDER BY _row) - 1 AS pos, _row FROM step_in")
    source = f"SELECT p.pos AS row, s.signature FROM read_parquet({signatures}) s JOIN near_in p USING (_row)"
    found = near_duplicates_sql(conn, source, settings.jaccard_threshold, settings.num_perm)
    conn.execute("DROP TABLE IF EXISTS signatures")
    conn.execute("DROP TABLE IF EXISTS kept_bands")
    conn.register("near_found", found.to_arrow())
    try:
        named = conn.sql(
            """SELECT d._row, d.record_id, d.source, f.similarity, k.program_id AS keeper_id, k.record_id AS keeper_record
               FROM near_found f JOIN near_in dp ON dp.pos = f.row JOIN step_in d ON d._row = dp._row
                    JOIN near_in kp ON kp.pos = f.keeper JOIN step_in k ON k._row = kp._row
               ORDER BY d._row"""
        ).pl()
    finally:
        conn.unregister("near_found")
    similarity = named["similarity"].to_numpy()
    return named.select(
        "_row",
        "record_id",
        "source",
        stage=pl.lit(DEDUP_NEAR),
        reason=pl.lit("near_duplicate_of:") + pl.col("keeper_id"),
        detail=pl.Series(
            [f"estimated Jaccard {s:.3f} >= {settings.jaccard_threshold} with record {r}" for s, r in zip(np.asarray(similarity).tolist(), named["keeper_record"].to_list(), strict=True)],
            dtype=pl.String,
        ),
    )



def select_frame_on_disk(candidates: pl.DataFrame, settings: CurationSettings, scratch: Path | None = None) -> Selection:
    """`select_programs(candidates, settings)` for a frame in memory (any order, with
    SELECTION_COLUMNS), run out of core: the frame's fingerprints and signatures go to
    Parquet files under a temporary folder in `scratch`, numbered in keeper order, and the
    result's `_row`s are the frame's own. `kept` holds (`_row`, `record_id`)."""
    ordered = candidates.select(list(SELECTION_COLUMNS)).sort(list(KEEPER_ORDER), nulls_last=True)
    frame_rows = ordered["_row"]
    ordered = ordered.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
    folder = Path(tempfile.mkdtemp(prefix="selection-", dir=scratch))
    try:
        ordered.select(list(FINGERPRINT_COLUMNS)).write_parquet(folder / "fingerprints.parquet")
        ordered.select("_row", "signature").write_parquet(folder / "signatures.parquet")
        del ordered
        selection = select_programs_on_disk(folder / "fingerprints.parquet", folder / "signatures.parquet", settings, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    back = pl.col("_row").map_batches(lambda rows: frame_rows.gather(rows), return_dtype=frame_rows.dtype)
    return Selection(selection.kept.with_columns(back), selection.rejects.with_columns(back), selection.stats)
