"""Idempotent loads: the only way rows enter the warehouse.

`merge` brings a table in line with incoming rows inside one transaction:

1. rows of the *scope* (e.g. `source = 'stdlib'`, or the whole table) whose key is not
   incoming are deleted (the data no longer produces them);
2. rows whose key is incoming but whose content differs are updated;
3. new keys are inserted.

Loading the same rows twice therefore changes nothing, not even `run_id`: a row keeps the
id of the run that last changed its content, which is what lineage needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from resources.ddl import KEYS


@dataclass(frozen=True)
class MergeStats:
    incoming: int
    inserted: int
    updated: int
    deleted: int

    def as_metadata(self) -> dict[str, int]:
        return {"rows_incoming": self.incoming, "rows_inserted": self.inserted, "rows_updated": self.updated, "rows_deleted": self.deleted}


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in conn.execute(f"DESCRIBE {table}").fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Rows compared per UPDATE pass. Comparing every incoming row with its stored version in one
# join holds one side whole (every edit path at paper scale), which DuckDB could not keep
# under its memory cap; a key range at a time bounds the join by the range.
UPDATE_RANGE_ROWS = 20_000


def _key_ranges(conn: duckdb.DuckDBPyConnection, key: str, rows: int, per_range: int, relation: str = "_incoming") -> list[tuple[object, object]]:
    """(low, high) bounds over the sorted incoming values of `key`, about `per_range` rows
    apart; None is an open end. A single (None, None) range when everything fits in one."""
    if rows <= per_range:
        return [(None, None)]
    bounds = [
        row[0]
        for row in conn.execute(
            f"SELECT {key} FROM (SELECT {key}, row_number() OVER (ORDER BY {key}) AS _n FROM {relation} WHERE {key} IS NOT NULL) "
            f"WHERE (_n - 1) % {int(per_range)} = 0 AND _n > 1 ORDER BY 1"
        ).fetchall()
    ]
    bounds = sorted(set(bounds))
    edges = [None, *bounds, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _range_filter(alias: str, key: str, low: object, high: object) -> tuple[str, list]:
    parts, params = [], []
    if low is not None:
        parts.append(f"{alias}.{key} >= ?")
        params.append(low)
    if high is not None:
        parts.append(f"{alias}.{key} < ?")
        params.append(high)
    return (" AND ".join(parts) or "true"), params


def first_occurrences(incoming_sql: str, key_list: str) -> str:
    """The rows of `incoming_sql` whose key is not repeated earlier in it, in staged order.

    A window with an empty OVER () is one of the operations DuckDB documents as keeping the
    input's row order (docs: "Order preservation"; it needs `preserve_insertion_order`, the
    default, which the loader never turns off), and a read_parquet over a list of shards
    yields them file by file, row by row; so `_pos` is the staged order and the first
    occurrence is the same row whatever the thread count. A bare `row_number() OVER
    (PARTITION BY key)` numbers a partition in whatever order the hash partitions were
    filled: it kept a later duplicate for 21 of 100 keys even on one thread."""
    return (
        f"SELECT * EXCLUDE (_pos, _dup) FROM (SELECT *, row_number() OVER (PARTITION BY {key_list} ORDER BY _pos) AS _dup "
        f"FROM (SELECT *, row_number() OVER () AS _pos FROM ({incoming_sql}))) WHERE _dup = 1"
    )


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection, own: bool = True) -> Iterator[None]:
    """BEGIN ... COMMIT around the block (ROLLBACK on any error); nothing when `own` is False,
    because the caller (the loader, for all loads of one call) holds the transaction."""
    if not own:
        yield
        return
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def merge(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    incoming_sql: str,
    *,
    run_id: str,
    scope_sql: str | None = None,
    scope_params: list | None = None,
    update_range_rows: int = UPDATE_RANGE_ROWS,
    own_transaction: bool = True,
) -> MergeStats:
    """Merge the rows of `incoming_sql` (any SELECT or table function) into `table`.

    `scope_sql` is a boolean SQL expression over the target's columns naming the rows this
    load owns; None means "no deletions" (pure upsert). Duplicate keys among the incoming
    rows keep the first occurrence in staged order (`first_occurrences`), so a table holds one row
    per key (the big tables have no index to enforce it: `Table.indexed_key`) and the row kept
    does not depend on threads.

    Memory stays bounded whatever the size of the load: the incoming rows go to a temporary
    table (which DuckDB spills beyond its memory cap), duplicates are looked for on the keys
    alone, and changed rows are found and updated a key range (`update_range_rows` incoming
    rows) at a time; deletes and inserts join on keys only.

    Work goes only where keys exist: whether any incoming key is already in the table is
    asked first, on keys alone; when none is (a first load, a node's new batch) the rows are
    appended in bulk straight from the source, with no temporary copy, update pass or
    anti-join; otherwise only the incoming rows whose key exists are compared.

    `own_transaction=False` runs inside the caller's transaction (the loader commits all loads
    of one call at once: DuckDB's commit, where the appended rows are written out, is most of
    an append's cost, and one commit of a node's whole set costs less than one per table).
    """
    keys = KEYS[table]
    columns = _columns(conn, table)
    data_columns = [c for c in columns if c != "run_id" and c not in keys]
    key_match = " AND ".join(f"t.{_quote(k)} = i.{_quote(k)}" for k in keys)
    key_list = ", ".join(map(_quote, keys))
    select_cols = ", ".join(f"{_quote(c)}" for c in columns if c != "run_id")
    with transaction(conn, own_transaction):
        # Keys only: the window that drops duplicates holds whole rows, so it runs only when needed.
        has_duplicates = conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM ({incoming_sql}) GROUP BY {key_list} HAVING count(*) > 1)"
        ).fetchone()[0]
        if has_duplicates:
            source = first_occurrences(incoming_sql, key_list)
        else:
            source = f"SELECT * FROM ({incoming_sql})"
        # Keys only again: which incoming keys the table already has. None (a first load, a
        # node's new batch): the rows go straight from the staged files into the table.
        incoming_keys = f"SELECT {key_list} FROM ({source})"
        any_existing = conn.execute(f"SELECT EXISTS (SELECT 1 FROM ({incoming_keys}) i SEMI JOIN {table} t ON {key_match})").fetchone()[0]
        if not any_existing:
            deleted = 0
            if scope_sql is not None:
                deleted = conn.execute(
                    f"DELETE FROM {table} t WHERE ({scope_sql}) AND NOT EXISTS (SELECT 1 FROM ({incoming_keys}) i WHERE {key_match})",
                    scope_params or [],
                ).fetchone()[0]
            all_columns = ", ".join(map(_quote, columns))
            inserted = conn.execute(
                f"INSERT INTO {table} ({all_columns}) SELECT {all_columns} FROM (SELECT {select_cols}, ?::VARCHAR AS run_id FROM ({source}))",
                [run_id],
            ).fetchone()[0]
            return MergeStats(inserted, inserted, 0, deleted)
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {select_cols}, ?::VARCHAR AS run_id FROM ({source})",
            [run_id],
        )
        incoming = conn.execute("SELECT count(*) FROM _incoming").fetchone()[0]
        deleted = 0
        if scope_sql is not None:
            deleted = conn.execute(
                f"DELETE FROM {table} t WHERE ({scope_sql}) AND NOT EXISTS (SELECT 1 FROM _incoming i WHERE {key_match})",
                scope_params or [],
            ).fetchone()[0]
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE _existing AS SELECT {', '.join('i.' + _quote(k) for k in keys)} "
            f"FROM _incoming i SEMI JOIN {table} t ON {key_match}"
        )
        existing = conn.execute("SELECT count(*) FROM _existing").fetchone()[0]
        updated = 0
        if data_columns and existing:
            sets = ", ".join(f"{_quote(c)} = i.{_quote(c)}" for c in [*data_columns, "run_id"])
            old = ", ".join(f"t.{_quote(c)}" for c in data_columns)
            new = ", ".join(f"i.{_quote(c)}" for c in data_columns)
            changed = f"({old}) IS DISTINCT FROM ({new})" if len(data_columns) > 1 else f"{old} IS DISTINCT FROM {new}"
            first = _quote(keys[0])
            on_existing = " AND ".join(f"e.{_quote(k)} = i.{_quote(k)}" for k in keys)
            for low, high in _key_ranges(conn, first, existing, update_range_rows, relation="_existing"):
                on_target, target_params = _range_filter("t", first, low, high)
                on_incoming, incoming_params = _range_filter("i", first, low, high)
                updated += conn.execute(
                    f"UPDATE {table} t SET {sets} FROM (SELECT i.* FROM _incoming i SEMI JOIN _existing e ON {on_existing} WHERE {on_incoming}) i "
                    f"WHERE {key_match} AND {on_target} AND {changed}",
                    [*incoming_params, *target_params],
                ).fetchone()[0]
        all_columns = ", ".join(map(_quote, columns))
        if existing:
            on_existing = " AND ".join(f"e.{_quote(k)} = i.{_quote(k)}" for k in keys)
            inserted = conn.execute(
                f"INSERT INTO {table} ({all_columns}) SELECT {', '.join('i.' + _quote(c) for c in columns)} FROM _incoming i "
                f"ANTI JOIN _existing e ON {on_existing}"
            ).fetchone()[0]
        else:  # every key is new: a bulk append
            inserted = conn.execute(f"INSERT INTO {table} ({all_columns}) SELECT {all_columns} FROM _incoming").fetchone()[0]
        conn.execute("DROP TABLE _existing")
        conn.execute("DROP TABLE _incoming")
    return MergeStats(incoming, inserted, updated, deleted)


def replace_table(conn: duckdb.DuckDBPyConnection, table: str, incoming_sql: str, *, run_id: str, own_transaction: bool = True) -> int:
    """Replace a whole report table (no key: e.g. the curation funnel) in one transaction."""
    with transaction(conn, own_transaction):
        conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT *, ?::VARCHAR AS run_id FROM ({incoming_sql})", [run_id])
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_select(paths, table: str) -> str:
    """A SELECT over staged Parquet shards, or an empty SELECT shaped like `table` when none."""
    paths = [str(p) for p in paths]
    if not paths:
        return f"SELECT * FROM {table} WHERE false"
    return f"SELECT * FROM read_parquet([{', '.join(map(_literal, paths))}], union_by_name = true)"


def table_fingerprint(conn: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], where: str = "true", params: list | None = None) -> str:
    """An order-independent content hash of some columns (a Dagster data version).

    XOR of row hashes plus the row count: cheap on millions of rows, and equal exactly when
    the same rows are there (up to 64-bit hash collisions, which is fine for change detection).
    """
    cols = ", ".join(map(_quote, columns))
    count, xor = conn.execute(f"SELECT count(*), coalesce(bit_xor(hash({cols})), 0) FROM {table} WHERE {where}", params or []).fetchone()
    return f"{count}-{xor:016x}"
