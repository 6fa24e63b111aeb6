"""docs/architecture.md stays true: every table and column of the schema module is named there,
and every package it places in the layer table exists."""

from __future__ import annotations

import re
from pathlib import Path

from lintseq_assets.tables import TABLES

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _table_row(name: str) -> str:
    rows = [line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"docs/architecture.md has no row for table {name}"
    return rows[0]


def test_every_table_and_column_is_documented():
    missing = [
        f"{table.name}.{column}"
        for table in TABLES.values()
        for column in table.column_names
        if f"`{column}`" not in _table_row(table.name)
    ]
    assert missing == []


def test_every_documented_code_path_exists():
    paths = set(re.findall(r"`((?:lintseq_assets|resources|checks|tests|benchmarks)/[\w/.]*)`", DOC))
    assert paths
    assert sorted(p for p in paths if not (ROOT / p.split(":")[0]).exists()) == []
