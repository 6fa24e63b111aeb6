"""The set half of curation out of core: `selection.select_programs` with the candidates'
fingerprints in Parquet files and every set step in a scratch DuckDB database.

At 1.09M candidates the fingerprints frame (ids, exact keys, verdicts) alone held 700 MB in
the `programs` step, growing with the corpus. Here every set step is a DuckDB statement
that spills under the scratch database's cap and leaves its rejects (reasons and details
built in SQL) in a table; the kept ids and the rejects are read out a batch at a time
(`selection_on_disk`), so Python never holds them whole:

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.decontaminate import STEP as DECONTAMINATE
from lintseq_assets.curation.dedup_exact import STEP as DEDUP_EXACT
from lintseq_assets.curation.dedup_near import STEP as DEDUP_NEAR
from lintseq_assets.curation.dedup_near_disk import near_duplicates_sql, scratch_connection
from lintseq_assets.curation.records import RECORD_REJECT_SCHEMA
from lintseq_assets.curation.report import StepStats, counted_step_stats
from lintseq_assets.curation.selection import KEEPER_ORDER, SELECTION_COLUMNS, Selection
from lintseq_assets.runtime.sorted_copy import sql_literal

FINGERPRINT_COLUMNS = tuple(c for c in SELECTION_COLUMNS if c != "signature")


REJECT_COLUMNS = tuple(RECORD_REJECT_SCHEMA)
RESULT_BATCH_ROWS = 65_536  # rows of the kept ids or the rejects in Python at once
# The rejects of a disabled step: none, with the columns' types.
_NO_REJECTS = "SELECT _row, record_id, source, NULL::VARCHAR AS stage, NULL::VARCHAR AS reason, NULL::VARCHAR AS detail FROM step_in WHERE false"
# Group keys for counting rejects by reason code in SQL: a contamination keeps its benchmark
# (and task, which `reason_code` drops), every other reason its code.
_REASON_GROUP = "CASE WHEN reason LIKE 'contaminated:%' THEN reason ELSE split_part(reason, ':', 1) END"


@dataclass(frozen=True)
class DiskSelection:
    """The set steps' result, left in the scratch database: read it a batch at a time while
    the `selection_on_disk` block is open. At 10x the corpus the kept ids (1.3M) and the
    rejects with their details (470K) were 300 MB as frames, the `programs` step's peak."""

    conn: duckdb.DuckDBPyConnection
    stats: list[StepStats]

    @property
    def n_kept(self) -> int:
        return self.stats[-1].records_out

    @property
    def n_rejects(self) -> int:
        return sum(s.records_in - s.records_out for s in self.stats)

    def kept(self, batch_rows: int = RESULT_BATCH_ROWS) -> Iterator[pl.DataFrame]:
        """(`_row`, `record_id`) of the kept candidates, in keeper order."""
        yield from _batches(self.conn, "SELECT _row, record_id FROM step_in ORDER BY _row", batch_rows, {"_row": pl.Int64, "record_id": pl.String})

    def rejects(self, batch_rows: int = RESULT_BATCH_ROWS) -> Iterator[pl.DataFrame]:
        """The set steps' rejects (RECORD_REJECT_SCHEMA), step after step, each in keeper order."""
        union = " UNION ALL ".join(f"SELECT {i} AS _step, * FROM rejects_{i}" for i in range(len(self.stats)))
        query = f"SELECT {', '.join(REJECT_COLUMNS)} FROM ({union}) ORDER BY _step, _row"
        yield from _batches(self.conn, query, batch_rows, RECORD_REJECT_SCHEMA)


def _batches(conn: duckdb.DuckDBPyConnection, query: str, batch_rows: int, schema) -> Iterator[pl.DataFrame]:
    for batch in conn.sql(query).to_arrow_reader(batch_rows):
        yield pl.from_arrow(batch).cast(schema)


@contextmanager
def selection_on_disk(fingerprints: Path | str, signatures: Path | str, settings: CurationSettings, scratch: Path | None = None) -> Iterator[DiskSelection]:
    """Run the set steps over `fingerprints` (Parquet, FINGERPRINT_COLUMNS, `_row` in keeper
    order) and `signatures` (Parquet, `_row`, `signature`); the result is read inside the
    block, and the scratch database is removed after it."""
    folder = Path(tempfile.mkdtemp(prefix="select-", dir=scratch))
    try:
        conn = scratch_connection(folder)
        try:
            yield _select(conn, sql_literal(fingerprints), sql_literal(signatures), settings)
        finally:
            conn.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def select_programs_on_disk(fingerprints: Path | str, signatures: Path | str, settings: CurationSettings, scratch: Path | None = None) -> Selection:
    """`selection_on_disk` read whole: `kept` holds (`_row`, `record_id`) of the kept
    candidates in keeper order; `rejects` and `stats` are `select_programs`'."""
    with selection_on_disk(fingerprints, signatures, settings, scratch) as selection:
        kept = pl.concat([pl.DataFrame(schema={"_row": pl.Int64, "record_id": pl.String}), *selection.kept()])
        rejects = pl.concat([pl.DataFrame(schema=RECORD_REJECT_SCHEMA), *selection.rejects()])
        return Selection(kept, rejects, selection.stats)


def _select(conn: duckdb.DuckDBPyConnection, fingerprints: str, signatures: str, settings: CurationSettings) -> DiskSelection:
    """The set steps over the fingerprints and signatures Parquet files (`fingerprints`,
    `signatures`: their paths as SQL literals). Step i leaves its rejects in table
    `rejects_<i>` and the survivors in `step_in`."""
    conn.execute(f"CREATE TABLE step_in AS SELECT {', '.join(FINGERPRINT_COLUMNS)} FROM read_parquet({fingerprints})")
    stats: list[StepStats] = []
    steps = (
        ("decontaminate", settings.decontaminate, _decontaminate),
        ("dedup_exact", True, _dedup_exact),
        ("dedup_near", settings.near_dedup, lambda c: _dedup_near(c, signatures, settings)),
    )
    for i, (step, enabled, rejects_sql) in enumerate(steps):
        t0 = time.perf_counter()
        n_in = _count(conn, "step_in")
        table = f"rejects_{i}"
        select = rejects_sql(conn) if enabled else _NO_REJECTS
        conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(REJECT_COLUMNS)} FROM ({select})")
        if enabled:
            conn.execute(f"CREATE OR REPLACE TABLE step_out AS SELECT * FROM step_in WHERE _row NOT IN (SELECT _row FROM {table})")
            conn.execute("DROP TABLE step_in")
            conn.execute("ALTER TABLE step_out RENAME TO step_in")
        reasons = conn.execute(f"SELECT {_REASON_GROUP} AS reason, count(*) FROM {table} GROUP BY ALL ORDER BY reason").fetchall()
        stats.append(counted_step_stats(step, enabled, n_in, _count(conn, "step_in"), reasons, time.perf_counter() - t0))
    conn.execute("DROP TABLE IF EXISTS near_in")
    return DiskSelection(conn, stats)


def _count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _decontaminate(conn: duckdb.DuckDBPyConnection) -> str:
    return f"""SELECT _row, record_id, source, '{DECONTAMINATE}' AS stage, contamination AS reason, contamination_detail AS detail
               FROM step_in WHERE contamination IS NOT NULL"""


def _dedup_exact(conn: duckdb.DuckDBPyConnection) -> str:
    """`dedup_exact.dedup_exact`'s rejects: every candidate but the first of its exact key."""
    return f"""WITH firsts AS (SELECT exact_key, min(_row) AS first_row FROM step_in GROUP BY exact_key),
                 keepers AS (SELECT f.exact_key, k.program_id AS keeper_id, k.record_id AS keeper_record
                             FROM firsts f JOIN step_in k ON k._row = f.first_row)
            SELECT s._row, s.record_id, s.source, '{DEDUP_EXACT}' AS stage,
                   'duplicate_of:' || k.keeper_id AS reason,
                   CASE WHEN s.program_id = k.keeper_id THEN 'identical program to record ' || k.keeper_record
                        ELSE 'same program up to whitespace and comments as record ' || k.keeper_record END AS detail
            FROM step_in s JOIN firsts f ON s.exact_key IS NOT DISTINCT FROM f.exact_key
                 JOIN keepers k ON k.exact_key IS NOT DISTINCT FROM f.exact_key
            WHERE s._row <> f.first_row"""


def _dedup_near(conn: duckdb.DuckDBPyConnection, signatures: str, settings: CurationSettings) -> str:
    """`dedup_near.dedup_near`'s rejects, from the out-of-core near de-dup over the survivors;
    the detail is formatted by DuckDB (`%.3f` rounds as Python's `:.3f` does: the tests
    compare with the in-memory step)."""
    conn.execute("CREATE OR REPLACE TABLE near_in AS SELECT row_number() OVER (ORDER BY _row) - 1 AS pos, _row FROM step_in")
    source = f"SELECT p.pos AS row, s.signature FROM read_parquet({signatures}) s JOIN near_in p USING (_row)"
    found = near_duplicates_sql(conn, source, settings.jaccard_threshold, settings.num_perm)
    conn.execute("DROP TABLE IF EXISTS signatures")
    conn.execute("DROP TABLE IF EXISTS kept_bands")
    conn.register("near_found_frame", found.to_arrow())
    try:
        conn.execute("CREATE OR REPLACE TABLE near_found AS SELECT * FROM near_found_frame")
    finally:
        conn.unregister("near_found_frame")
    threshold = sql_literal(str(settings.jaccard_threshold))
    return f"""SELECT d._row, d.record_id, d.source, '{DEDUP_NEAR}' AS stage,
                      'near_duplicate_of:' || k.program_id AS reason,
                      printf('estimated Jaccard %.3f >= %s with record %s', f.similarity, {threshold}, k.record_id) AS detail
               FROM near_found f JOIN near_in dp ON dp.pos = f.row JOIN step_in d ON d._row = dp._row
                    JOIN near_in kp ON kp.pos = f.keeper JOIN step_in k ON k._row = kp._row"""


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
