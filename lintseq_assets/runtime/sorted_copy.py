"""Copy a big query's rows, sorted by a key, to Parquet files: one key range at a time.

Sorting every row of a table with its text in one `COPY ... ORDER BY` needs the whole
sort under DuckDB's memory cap: at 1.2M programs (1.5 GB of answers) it ran out of 256 MB.
Here the range bounds come from a sort of the keys alone, and each range of `range_rows`
rows is copied, sorted, to its own file (`part-00000.parquet`, ...): the files read in name
order give the rows in key order, and the cap only has to hold one range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RANGE_ROWS = 50_000


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


def copy_in_key_ranges(
    conn: Any, select_sql: str, key: str, params: list, folder: Path, options: str, range_rows: int = RANGE_ROWS
) -> int:
    """Rows of `select_sql` (a SELECT with `params` for its `?`s, having a unique column `key`)
    copied in `key` order into `folder`'s part files with the COPY `options` (e.g.
    `FORMAT parquet, ROW_GROUP_SIZE 4096`); returns how many rows were copied. `conn` is a
    DuckDB connection."""
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
