"""The digest of a warehouse and its exports: proof that a refactor changed no output.

    python benchmarks/warehouse_digest.py [--home DIR]

Prints one md5 per table (rows in key order, every column) and one per export file, then a
total. Run it after `make run` before and after a change: equal totals mean byte-identical
`programs`, `rejects`, `edit_sequences` and export files. Columns that record *when* or *which
run* (timestamps, run ids) are left out, since they differ on every run by design.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import duckdb

TABLES = {
    "programs": "program_id",
    "rejects": "record_id, stage, reason",
    "edit_sequences": "sequence_id",
}
VOLATILE = ("run_id", "created_at", "loaded_at", "materialized_at", "exported_at", "updated_at")
VOLATILE_FILES = ("manifest.json", "README.md")  # name the run and the time; their content is checked by tests


def table_digest(conn: duckdb.DuckDBPyConnection, table: str, order: str) -> str:
    columns = [row[0] for row in conn.execute(f"DESCRIBE {table}").fetchall() if row[0] not in VOLATILE]
    digest = hashlib.md5()
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}, {', '.join(columns)}")
    while batch := cursor.fetchmany(10_000):
        for row in batch:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def export_digests(exports: Path) -> dict[str, str]:
    out = {}
    for path in sorted(p for p in exports.rglob("*") if p.is_file() and p.name not in VOLATILE_FILES):
        out[str(path.relative_to(exports))] = hashlib.md5(path.read_bytes()).hexdigest()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=os.environ.get("LINTSEQ_HOME", "data"))
    args = parser.parse_args(argv)
    home = Path(args.home)
    database = home / "lintseq.duckdb"
    if not database.exists():
        print(f"warehouse_digest: no warehouse at {database}; run `make run` first", file=sys.stderr)
        return 2
    total = hashlib.md5()
    with duckdb.connect(str(database), read_only=True) as conn:
        for table, order in TABLES.items():
            digest = table_digest(conn, table, order)
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            print(f"{digest}  {table} ({count} rows)")
            total.update(digest.encode())
    for name, digest in export_digests(home / "exports").items():
        print(f"{digest}  exports/{name}")
        total.update(digest.encode())
    print(f"{total.hexdigest()}  TOTAL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
