"""Copy a big query's rows, sorted by a key, to Parquet files: one key range per file.

Sorting every row of a table with its text in one `COPY ... ORDER BY` needs the whole
sort under DuckDB's memory cap: at 1.2M programs (1.5 GB of answers) it ran out of 256 MB.
Here the range bounds come from a sort of the keys alone, and each range's rows are
written, sorted, to their own file. The files read in name order give the rows in key
order, and the cap only has to hold one range.

Two ways to fill the ranges. `copy_in_key_ranges` runs one `COPY ... WHERE key in range`
per range: DuckDB cannot skip the storage of rows outside a range of random ids (hashes),
so each range reads the source again, which is cheap for a plain table scan.
`deal_into_ranges` reads the rows once and deals them into a file per range, then sorts
each file: for a dear query (the exports join every sequence with its program) one read
per range cost as much as reading all 379K rows, and the work grew with ranges x rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

RANGE_ROWS = 50_000
DEAL_BATCH_ROWS = 16_384  # rows fetched from DuckDB and dealt into range files at a time


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def range_bounds(conn: Any, select_sql: str, key: str, params: list, range_rows: int) -> tuple[list, int]:
    """Every `range_rows`-th value of `key` in `select_sql`'s rows in sorted order, the
    first included (each starts a range), and the number of rows.

    The keys are sorted by DuckDB (a sort spills to disk) and streamed here a range at a
    time; a `row_number()` window over them would hold every key in memory, and at 1.8M
    record ids that ran out of a 256 MB cap."""
    reader = conn.execute(f"SELECT {key} FROM ({select_sql}) ORDER BY {key}", params)
    bounds: list = []
    total = 0
    while True:
        chunk = reader.fetchmany(range_rows)
        if not chunk:
            break
        bounds.append(chunk[0][0])
        total += len(chunk)
    return bounds, total


def deal_into_ranges(
    conn: Any, select_sql: str | Sequence[str], key: str, params: list, starts: list, folder: Path, stem: str, options: str
) -> list[Path]:
    """`select_sql`'s rows, one key range per file (a range begins at each of `starts`,
    sorted), each file sorted by `key` and written with the COPY `options`
    (`folder/<stem>-00000.parquet`, ...). Returns the files in key order.

    Phase 1 reads the rows once and appends each batch's rows to their range's scratch file
    (memory: one fetched batch); phase 2 has DuckDB sort each scratch file alone, out of
    core if it must. `select_sql` may be several SELECTs of the same columns (each with
    `params`), run one after the other into the same files: the parts of a join split to
    fit DuckDB's cap."""
    selects = [select_sql] if isinstance(select_sql, str) else list(select_sql)
    folder.mkdir(parents=True, exist_ok=True)
    bounds = pl.Series(key, starts)
    unsorted = folder / f".{stem}-unsorted"
    unsorted.mkdir(exist_ok=True)
    writers: dict[int, pq.ParquetWriter] = {}
    try:
        for batch in (b for select in selects for b in conn.sql(select, params=params).to_arrow_reader(DEAL_BATCH_ROWS)):
            # The batch's rows grouped by range with one take; each range is then a slice
            # (the order within a range does not matter: phase 2 sorts it).
            ranges = (bounds.search_sorted(pl.Series(batch.column(key)), side="right") - 1).alias("range")
            order = ranges.arg_sort()
            grouped, ranges = batch.take(order.to_arrow()), ranges.gather(order)
            offset = 0
            for index, size in ranges.value_counts().sort("range").iter_rows():
                if index not in writers:
                    # Written once and read once: no dictionary pages.
                    writers[index] = pq.ParquetWriter(unsorted / f"{index:05d}.parquet", batch.schema, use_dictionary=False)
                writers[index].write_batch(grouped.slice(offset, size))
                offset += size
    except BaseException:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(unsorted, ignore_errors=True)  # nothing half dealt is left for a retry
        raise
    for writer in writers.values():
        writer.close()
    files = []
    for index in sorted(writers):
        part = unsorted / f"{index:05d}.parquet"
        path = folder / f"{stem}-{index:05d}.parquet"
        conn.execute(f"COPY (SELECT * FROM read_parquet({_literal(part)}) ORDER BY {key}) TO {_literal(path)} ({options})")
        part.unlink()
        files.append(path)
    unsorted.rmdir()
    return files


def copy_in_key_ranges(
    conn: Any, select_sql: str, key: str, params: list, folder: Path, options: str, range_rows: int = RANGE_ROWS
) -> int:
    """Rows of `select_sql` (a SELECT with `params` for its `?`s, having a unique column `key`)
    copied in `key` order into `folder`'s part files (`part-00000.parquet`, ...) with the COPY
    `options` (e.g. `FORMAT parquet, ROW_GROUP_SIZE 4096`), `range_rows` rows per file;
    returns how many rows were copied. `conn` is a DuckDB connection.

    One `COPY ... WHERE key in range` per range, not `deal_into_ranges`: for a plain scan of
    one table DuckDB re-reads the columns fast enough that dealing costs more (90K raw records
    in 36 ranges, 2026-11-30: 2.0 CPU-s per range COPY, 3.1 dealt; 75,811 programs 1.4 vs
    1.9). Dealing pays when each range's query is dear (the exports' join)."""
    folder.mkdir(parents=True, exist_ok=True)
    starts, _ = range_bounds(conn, select_sql, key, params, range_rows)
    edges = [None, *starts[1:], None]
    total = 0
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        conditions = [f"{key} >= ?"] * (low is not None) + [f"{key} < ?"] * (high is not None)
        in_range = " AND ".join(conditions) or "true"
        path = str(folder / f"part-{k:05d}.parquet").replace("'", "''")
        copied = conn.execute(
            f"COPY (SELECT * FROM ({select_sql}) WHERE {in_range} ORDER BY {key}) TO '{path}' ({options})",
            [*params, *[b for b in (low, high) if b is not None]],
        ).fetchall()
        total += copied[0][0] if copied else 0
    return total
