"""Warehouse properties that plain SQL can decide: keys, nulls, counts, identities.

Each function takes an open DuckDB connection (the caller opens it briefly, read-only) and
returns a `CheckOutcome`. Row-wise checks take a `Scope`: the asset checks read what the run
wrote (its run id) or its source partition, not the whole warehouse; uniqueness and
referential integrity (`unique_key`, `orphans`) stay whole-table, since a duplicate or an
orphan can be made by rows of any run. Table and column names are code constants, never user input, but
they are still checked against an identifier pattern before being put into SQL.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import duckdb

from checks.outcome import EXAMPLES, CheckOutcome, preview
from lintseq_assets.core import SamplerConfig, sequence_id
from lintseq_assets.sources.keys import SourceKey
from lintseq_assets.tables import KEYS, TABLES

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Columns that must never be null, per table: the NOT NULL columns lintseq_assets.tables
# declares, plus columns the schema leaves nullable for older rows but a good run always fills.
_ALSO_REQUIRED = {"programs": ("source", "n_lines")}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in TABLES[name].columns if not c.nullable) + _ALSO_REQUIRED.get(name, ())
    for name in ("raw_instructions", "programs", "edit_sequences")
}
# Single-column keys, for the uniqueness and null checks (lintseq_assets.tables declares them).
PRIMARY_KEYS: dict[str, str] = {name: key[0] for name, key in KEYS.items() if len(key) == 1}


def _ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


@dataclass(frozen=True)
class Scope:
    """The rows a check reads: what one run wrote (`Scope.run`), one source partition's rows
    (`Scope.partition`), or the whole table (None). Conditions use bare column names."""

    sql: str
    params: tuple = ()
    label: str = ""

    @classmethod
    def run(cls, run_id: str) -> Scope:
        # The loader stamps run_id on every row a run inserted or changed.
        return cls("run_id = ?", (run_id,), f"run {run_id}")

    @classmethod
    def partition(cls, key: str) -> Scope:
        condition, params = SourceKey.parse(key).scope_sql(alias=None)
        return cls(condition, tuple(params), f"partition {key}")


def _where(scope: Scope | None, prefix: str = "WHERE") -> tuple[str, list]:
    return (f" {prefix} ({scope.sql})", list(scope.params)) if scope else ("", [])


def _scope_label(scope: Scope | None) -> str:
    return scope.label if scope else "whole table"


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


def _missing_table(table: str) -> CheckOutcome:
    return CheckOutcome(False, f"table {table} does not exist", {"table": table})


def unique_key(conn: duckdb.DuckDBPyConnection, table: str, key: str | None = None) -> CheckOutcome:
    """No key value appears twice: a duplicate doubles a program's weight in training."""
    key = key or PRIMARY_KEYS[table]
    if not table_exists(conn, table):
        return _missing_table(table)
    t, k = _ident(table), _ident(key)
    total = conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    dupes = conn.execute(
        f"SELECT {k}, count(*) AS n FROM {t} GROUP BY {k} HAVING count(*) > 1 ORDER BY n DESC, {k} LIMIT ?",
        [EXAMPLES],
    ).fetchall()
    n_dupe_keys = conn.execute(
        f"SELECT count(*) FROM (SELECT {k} FROM {t} GROUP BY {k} HAVING count(*) > 1)"
    ).fetchone()[0]
    passed = n_dupe_keys == 0
    return CheckOutcome(
        passed,
        f"{table}.{key} is unique" if passed else f"{n_dupe_keys} duplicated {key} values in {table}",
        {
            "rows": total,
            "duplicated_keys": n_dupe_keys,
            "examples": [f"{value} x{n}" for value, n in dupes],
        },
    )


def not_null(
    conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str] | None = None, scope: Scope | None = None
) -> CheckOutcome:
    """Required columns hold a value on every row (of `scope`)."""
    columns = tuple(columns or REQUIRED_COLUMNS[table])
    if not table_exists(conn, table):
        return _missing_table(table)
    t = _ident(table)
    selects = ", ".join(f"count(*) FILTER (WHERE {_ident(c)} IS NULL)" for c in columns)
    where, params = _where(scope)
    row = conn.execute(f"SELECT count(*), {selects} FROM {t}{where}", params).fetchone()
    total, counts = row[0], dict(zip(columns, row[1:], strict=True))
    bad = {c: n for c, n in counts.items() if n}
    key = PRIMARY_KEYS.get(table)
    examples: list[str] = []
    if bad and key:
        nulls = " OR ".join(f"{_ident(c)} IS NULL" for c in bad)
        in_scope, _ = _where(scope, "AND")
        examples = [
            str(r[0]) for r in conn.execute(f"SELECT {_ident(key)} FROM {t} WHERE ({nulls}){in_scope} LIMIT ?", [*params, EXAMPLES]).fetchall()
        ]
    return CheckOutcome(
        not bad,
        f"no nulls in {', '.join(columns)}" if not bad else f"nulls in {table}: " + ", ".join(f"{c}={n}" for c, n in bad.items()),
        {"rows": total, "scope": _scope_label(scope), "null_counts": {c: int(n) for c, n in counts.items()}, "examples": examples},
    )


def edit_counts(conn: duckdb.DuckDBPyConnection, scope: Scope | None = None) -> CheckOutcome:
    """`n_edits >= 1` and `n_edits = len(edit_path)`: an empty or miscounted path trains nothing."""
    if not table_exists(conn, "edit_sequences"):
        return _missing_table("edit_sequences")
    where, params = _where(scope)
    in_scope, _ = _where(scope, "AND")
    total = conn.execute(f"SELECT count(*) FROM edit_sequences{where}", params).fetchone()[0]
    condition = f"(n_edits IS NULL OR n_edits < 1 OR edit_path IS NULL OR n_edits <> len(edit_path)){in_scope}"
    n_bad = conn.execute(f"SELECT count(*) FROM edit_sequences WHERE {condition}", params).fetchone()[0]
    examples = conn.execute(
        f"SELECT sequence_id, n_edits, len(edit_path) FROM edit_sequences WHERE {condition} "
        "ORDER BY sequence_id LIMIT ?",
        [*params, EXAMPLES],
    ).fetchall()
    stats = conn.execute(f"SELECT min(n_edits), max(n_edits), avg(n_edits) FROM edit_sequences{where}", params).fetchone()
    return CheckOutcome(
        n_bad == 0,
        "every sequence has n_edits >= 1 equal to len(edit_path)" if n_bad == 0 else f"{n_bad} sequences with a bad n_edits",
        {
            "rows": total,
            "scope": _scope_label(scope),
            "bad_rows": n_bad,
            "min_n_edits": stats[0],
            "max_n_edits": stats[1],
            "mean_n_edits": float(stats[2]) if stats[2] is not None else None,
            "examples": [f"{sid}: n_edits={n} len(edit_path)={k}" for sid, n, k in examples],
        },
    )


def known_config_hashes(configs: Iterable[SamplerConfig] = (), extra: Iterable[str] = ()) -> set[str]:
    """The hashes a warehouse may legitimately hold: the configured samplers and any extras."""
    hashes = {c.config_hash() for c in configs} | set(extra)
    return hashes or {SamplerConfig().config_hash()}


def registered_configs(conn: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Configs the warehouse's `sampler_configs` table describes, keeping only those whose
    description really hashes to their config_hash (the way `SamplerConfig.config_hash` does),
    so a row cannot vouch for a hash it does not stand for."""
    if not table_exists(conn, "sampler_configs"):
        return {}
    found = {}
    for chash, description in conn.execute("SELECT config_hash, description FROM sampler_configs").fetchall():
        try:
            described = json.loads(description)
        except (TypeError, ValueError):
            continue
        canonical = json.dumps(described, sort_keys=True, separators=(",", ":"))
        if hashlib.sha256(canonical.encode()).hexdigest()[:16] == chash:
            found[chash] = described
    return found


def config_hashes(
    conn: duckdb.DuckDBPyConnection, allowed: set[str], trust_registered: bool = True, scope: Scope | None = None
) -> CheckOutcome:
    """Every sequence was sampled with a known config, and its sequence_id says so.

    Known: in `allowed` (the configured samplers) or registered in `sampler_configs` with a
    description that hashes to it (a run sampled with another config through run config).

    `sequence_id = hash(program_id, config_hash, sample_index)`: recomputing it catches a row
    whose config_hash (or program_id, or sample_index) was changed after sampling.
    """
    if not table_exists(conn, "edit_sequences"):
        return _missing_table("edit_sequences")
    registered = registered_configs(conn) if trust_registered else {}
    allowed = set(allowed) | set(registered)
    where, params = _where(scope)
    per_hash = dict(
        conn.execute(f"SELECT config_hash, count(*) FROM edit_sequences{where} GROUP BY config_hash ORDER BY 1", params).fetchall()
    )
    unknown = {h: n for h, n in per_hash.items() if h not in allowed}
    mismatched: list[str] = []
    n_mismatched = 0
    cursor = conn.execute(f"SELECT sequence_id, program_id, config_hash, sample_index FROM edit_sequences{where}", params)
    while batch := cursor.fetchmany(10_000):
        for sid, pid, chash, index in batch:
            if None in (sid, pid, chash, index) or sequence_id(pid, chash, index) != sid:
                n_mismatched += 1
                if len(mismatched) < EXAMPLES:
                    mismatched.append(str(sid))
    passed = not unknown and n_mismatched == 0
    problems = []
    if unknown:
        problems.append(f"{sum(unknown.values())} sequences with unknown config hashes {sorted(unknown)}")
    if n_mismatched:
        problems.append(f"{n_mismatched} sequence_ids that do not match (program_id, config_hash, sample_index)")
    return CheckOutcome(
        passed,
        "config hashes known and sequence ids consistent" if passed else "; ".join(problems),
        {
            "scope": _scope_label(scope),
            "sequences_per_config_hash": {str(h): int(n) for h, n in per_hash.items()},
            "allowed_config_hashes": sorted(allowed),
            "unknown_config_hash_rows": int(sum(unknown.values())),
            "sequence_id_mismatches": n_mismatched,
            "examples": mismatched,
        },
    )


def orphans(
    conn: duckdb.DuckDBPyConnection, child: str, parent: str, key: str, parent_key: str | None = None
) -> CheckOutcome:
    """Every `child.key` points at a `parent` row: a sequence without its program cannot be exported."""
    for table in (child, parent):
        if not table_exists(conn, table):
            return _missing_table(table)
    c, p, k, pk = _ident(child), _ident(parent), _ident(key), _ident(parent_key or key)
    query = f"FROM {c} WHERE {k} IS NOT NULL AND {k} NOT IN (SELECT {pk} FROM {p} WHERE {pk} IS NOT NULL)"
    n = conn.execute(f"SELECT count(*) {query}").fetchone()[0]
    examples = [preview(r[0]) for r in conn.execute(f"SELECT DISTINCT {k} {query} ORDER BY 1 LIMIT ?", [EXAMPLES]).fetchall()]
    return CheckOutcome(
        n == 0,
        f"every {child}.{key} is in {parent}" if n == 0 else f"{n} {child} rows point at no {parent} row",
        {"orphan_rows": n, "examples": examples},
    )


def edits_view(conn: duckdb.DuckDBPyConnection, scope: Scope | None = None) -> CheckOutcome:
    """The `edits` view agrees with `edit_sequences`: steps 0..n_edits-1, and the lines they add
    sum to the program's n_lines (a path inserts every line exactly once)."""
    for name in ("edits", "edit_sequences", "programs"):
        if not table_exists(conn, name):
            return _missing_table(name)
    # The scope's sequences only: exploding every edit path of the warehouse is the costly part.
    where, params = _where(scope)
    query = f"""
        WITH scoped AS (SELECT sequence_id, program_id, n_edits FROM edit_sequences{where}),
        per AS (
            SELECT sequence_id, count(*) AS steps, min(step) AS first, max(step) AS last,
                   sum(lines_added) AS added
            FROM edits WHERE sequence_id IN (SELECT sequence_id FROM scoped) GROUP BY sequence_id)
        SELECT s.sequence_id, s.n_edits, per.steps, per.first, per.last, per.added, p.n_lines
        FROM scoped s
        LEFT JOIN per USING (sequence_id)
        LEFT JOIN programs p USING (program_id)
        WHERE per.steps IS NULL OR per.steps <> s.n_edits OR per.first <> 0
           OR per.last <> s.n_edits - 1 OR per.added IS DISTINCT FROM p.n_lines
        ORDER BY s.sequence_id"""
    # Counted as they stream: a broken load could disagree on every row.
    cursor = conn.execute(query, params)
    n_bad, examples = 0, []
    while batch := cursor.fetchmany(10_000):
        n_bad += len(batch)
        examples += [
            f"{sid}: n_edits={n} steps={steps} range={first}..{last} lines_added={added} n_lines={lines}"
            for sid, n, steps, first, last, added, lines in batch[: EXAMPLES - len(examples)]
        ]
    return CheckOutcome(
        not n_bad,
        "edits view matches every sequence" if not n_bad else f"{n_bad} sequences disagree with the edits view",
        {"bad_sequences": n_bad, "scope": _scope_label(scope), "examples": examples},
    )
