"""The warehouse DDL, generated from `lintseq_assets.tables` (the one schema module).

Every statement is idempotent (`IF NOT EXISTS` / `OR REPLACE` for the view), so the loader may
run it whenever it opens the warehouse for writing. Keys are what make loads re-runnable: a
second load of the same rows finds every key present and changes nothing.
"""

from __future__ import annotations

from lintseq_assets.tables import EDITS_VIEW, KEYS, TABLES

__all__ = ["KEYS", "schema_statements"]


def schema_statements() -> list[str]:
    statements = [part for table in TABLES.values() for part in table.ddl().split(";\n")]
    return [*statements, EDITS_VIEW]
