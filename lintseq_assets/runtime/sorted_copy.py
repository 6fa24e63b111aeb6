"""Copy a big query's rows, sorted by a key, to Parquet files: one key range per file.

Sorting every row of a table with its text in one `COPY ... ORDER BY` needs the whole
sort under DuckDB's memory cap: at 1.2M programs (1.5 GB of answers) it ran out of 256 MB.
Here the range bounds come from a sort of the keys alone, and each range's rows are
written, sorted, to their own file. The files read in name order give the rows in key
order, and the cap only has to hold one range.

Two ways to fill the ranges. `copy_in_key_ranges` runs one `COPY ... WHERE key in range`
per range: DuckDB cannot skip the storage of rows outside a range of random ids (hashes),
so each range reads the source again, which is cheap for a plain table scan.
`deal_into_ranges` reads the rows once and has DuckDB write them into a folder per range,
then sorts each: for a dear query (the exports join every sequence with its program) one
read per range cost as much as reading all 379K rows, and the work grew with ranges x rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RANGE_ROWS = 50_000


def sql_literal(value: object) -> str:
    """`value` as a quoted SQL string (for paths, which COPY and read_parquet take only as literals)."""
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


# While rows are dealt: the order within a range does not matter (phase 2 sorts it) and keeping
# it costs memory; and DuckDB's default holds 524,288 rows per thread before it writes them
# out, which for the 10x run's programs (their text) ran out of the 256 MB cap.
DEAL_SETTINGS = {"preserve_insertion_order": False, "partitioned_write_flush_threshold": 8192}
# Each range's open file holds its row group in memory until it is full (122,880 rows by
# default): with 64 ranges of programs' text that alone passed the cap. Written once, read once.
DEAL_OPTIONS = "ROW_GROUP_SIZE 2048, ROW_GROUP_SIZE_BYTES '1MB'"


@contextmanager
def _settings(conn: Any, values: dict[str, object]) -> Iterator[None]:
    """`values` set on the connection for the block, then put back as they were."""
    before = {name: conn.execute(f"SELECT current_setting('{name}')").fetchall()[0][0] for name in values}
    try:
        for name, value in values.items():
            conn.execute(f"SET {name} = {value}")
        yield
    finally:
        for name, value in before.items():
            conn.execute(f"SET {name} = {value}")


def _range_of(key: str, starts: list) -> tuple[str, list]:
    """A SQL expression giving a row's range number from its `key` (ranges begin at each of
    `starts`, sorted), and its parameters: one comparison per range boundary, which DuckDB
    runs vectorized (64 ranges over 6.6M sequences cost a few seconds)."""
    if len(starts) <= 1:
        return "0", []
    whens = " ".join(f"WHEN {key} < ? THEN {index}" for index in range(len(starts) - 1))
    return f"CASE {whens} ELSE {len(starts) - 1} END", list(starts[1:])


def copy_partitioned(
    conn: Any, select_sql: str | Sequence[str], partition_sql: str, partition_params: list, params: list, folder: Path
) -> list[tuple[int, Path]]:
    """`select_sql`'s rows written by DuckDB into a folder per value K of `partition_sql` (a
    SQL expression over the rows' columns, with `partition_params` for its `?`s), as
    `folder/_part=K/*.parquet`; returns (K, folder) for each K that got rows, in K order.

    One `COPY ... PARTITION_BY` per SELECT (each with `params`; several SELECTs of the same
    columns go one after the other into the same folders), without insertion order and with
    small row groups (`DEAL_SETTINGS`, `DEAL_OPTIONS`), so DuckDB's memory does not grow with
    the rows or the folders. `folder` is made afresh; should a SELECT fail, it is removed, so
    nothing half written is left for a retry to read. Nothing crosses into Python."""
    selects = [select_sql] if isinstance(select_sql, str) else list(select_sql)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        with _settings(conn, DEAL_SETTINGS):
            for part, select in enumerate(selects):
                conn.execute(
                    f"COPY (SELECT *, {partition_sql} AS _part FROM ({select})) TO {sql_literal(folder)} "
                    f"(FORMAT parquet, PARTITION_BY (_part), {DEAL_OPTIONS}, FILENAME_PATTERN 'part{part}-{{uuid}}', APPEND)",
                    [*partition_params, *params],
                ).fetchall()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return sorted((int(d.name.split("=", 1)[1]), d) for d in folder.iterdir() if d.name.startswith("_part="))


def deal_into_ranges(
    conn: Any, select_sql: str | Sequence[str], key: str, params: list, starts: list, folder: Path, stem: str, options: str
) -> list[Path]:
    """`select_sql`'s rows, one key range per file (a range begins at each of `starts`,
    sorted), each file sorted by `key` and written with the COPY `options`
    (`folder/<stem>-00000.parquet`, ...). Returns the files in key order.

    Phase 1 has DuckDB write the rows once into a scratch folder per range
    (`copy_partitioned`); phase 2 has DuckDB sort each range's folder alone, out of core if
    it must. `select_sql` may be several SELECTs of the same columns (each with `params`),
    run one after the other into the same folders: the parts of a join split to fit DuckDB's
    cap. Nothing crosses into Python: dealing Arrow batches here took the exports' staging
    to 900 MB RSS at 10x the paper's scale (DuckDB's allocations while it streams results
    out, and the batches' copies), where DuckDB's own partitioned write stays near 480 MB
    (docs/scale.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    unsorted = folder / f".{stem}-unsorted"
    range_sql, range_params = _range_of(key, starts)
    files = []
    for index, part in copy_partitioned(conn, select_sql, range_sql, range_params, params, unsorted):
        path = folder / f"{stem}-{index:05d}.parquet"
        rows = sql_literal(part / "*.parquet")
        conn.execute(
            f"COPY (SELECT * FROM read_parquet({rows}, hive_partitioning = false) ORDER BY {key}) TO {sql_literal(path)} ({options})"
        ).fetchall()
        shutil.rmtree(part)
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
