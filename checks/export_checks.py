"""Checks on the training exports under `$LINTSEQ_HOME/exports/<name>/`.

An export is a folder with `manifest.json` (written by `lintseq_assets.exports`): the sha256,
size and row count of every file, the config hash, and counts (input sequences and programs,
rows / truncated / dropped per format and split). Data files are
`<format>/<split>-0000i-of-0000n.parquet`. Checked here, independently of the writer's own
code: the files are exactly the manifest's; no program is in two splits (in any format);
and the counts agree with the files and with the warehouse. DuckDB reads the Parquet files
directly (only the id columns) under the warehouse's memory cap, spilling to a temporary
folder, so memory stays flat whatever the export size.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from checks.outcome import EXAMPLES, CheckOutcome
from lintseq_assets.exports.manifest import sha256_file

MANIFEST = "manifest.json"
_SHARD = re.compile(r"^(?P<split>.+)-\d{5}-of-\d{5}\.parquet$")
PROGRAM_FORMATS = frozenset({"baseline"})  # one row per program; the rest one per sequence


def default_exports_dir() -> Path:
    from lintseq_assets.runtime.environment import load_settings

    return load_settings().exports_dir


def find_exports(exports_dir: str | Path | None = None) -> list[Path]:
    """Every export folder (one holding a manifest), sorted by name."""
    root = Path(exports_dir) if exports_dir else default_exports_dir()
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*/{MANIFEST}"))


def load_manifest(export: Path) -> dict:
    return json.loads((export / MANIFEST).read_text(encoding="utf-8"))


def data_files(export: Path, manifest: dict) -> Iterator[tuple[str, str, Path, dict]]:
    """(format, split, path, manifest entry) for each Parquet shard the manifest lists."""
    for entry in manifest.get("files", []):
        parts = entry["path"].split("/")
        if len(parts) != 2:
            continue  # plots/, jsonl/, disk/, README.md
        match = _SHARD.match(parts[1])
        if match:
            yield parts[0], match.group("split"), export / entry["path"], entry


def _no_exports(exports_dir) -> CheckOutcome:
    return CheckOutcome(False, f"no export with a {MANIFEST} under {exports_dir or default_exports_dir()}")


def manifest_integrity(exports_dir: str | Path | None = None) -> CheckOutcome:
    """Files are exactly those listed, byte for byte, with the row counts the manifest states."""
    exports = find_exports(exports_dir)
    if not exports:
        return _no_exports(exports_dir)
    problems: list[str] = []
    checked = 0
    for export in exports:
        manifest = load_manifest(export)
        listed = set()
        for entry in manifest.get("files", []):
            listed.add(entry["path"])
            path = export / entry["path"]
            checked += 1
            if not path.is_file():
                problems.append(f"{export.name}: missing {entry['path']}")
            elif sha256_file(path) != entry.get("sha256"):
                problems.append(f"{export.name}: checksum differs for {entry['path']}")
        for path in sorted(p for p in export.rglob("*") if p.is_file()):
            relative = path.relative_to(export).as_posix()
            if relative != MANIFEST and relative not in listed:
                problems.append(f"{export.name}: {relative} is not in the manifest")
        for _fmt, _split, path, entry in data_files(export, manifest):
            if path.is_file() and "rows" in entry:
                rows = _parquet_rows(path)
                if rows != entry["rows"]:
                    problems.append(f"{export.name}: {entry['path']} has {rows} rows, manifest says {entry['rows']}")
    return CheckOutcome(
        not problems,
        f"{checked} files in {len(exports)} exports match their manifests" if not problems else f"{len(problems)} manifest problems",
        {"exports": [e.name for e in exports], "files_checked": checked, "problems": len(problems), "examples": problems[:EXAMPLES]},
    )


def _parquet_rows(path: Path) -> int | str:
    """Rows in a Parquet file, from its footer; a file that is not Parquet says so instead."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as err:  # a truncated or foreign file is a finding, not a crash
        return f"unreadable ({type(err).__name__})"


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _parquet_list(paths: list[Path]) -> str:
    return "[" + ", ".join(f"'{_quote(p)}'" for p in paths) + "]"


def _capped_connection(spill: str, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB under the warehouse's cap: DuckDB's own default is 80% of RAM, and
    the distinct (program, split) pairs of 6.6M exported rows took 500 MB more than that cap."""
    if memory_limit is None:
        from lintseq_assets.runtime.environment import load_settings

        memory_limit = load_settings().warehouse_memory_limit
    return duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill, "preserve_insertion_order": False})


def splits_disjoint(exports_dir: str | Path | None = None, memory_limit: str | None = None) -> CheckOutcome:
    """No program_id appears in two splits of an export, across all of its formats.
    `memory_limit`: DuckDB's cap (default: the warehouse's, LINTSEQ_WAREHOUSE_MEMORY_LIMIT)."""
    exports = find_exports(exports_dir)
    if not exports:
        return _no_exports(exports_dir)
    with tempfile.TemporaryDirectory(prefix="splits-disjoint-") as spill:
        return _splits_disjoint(exports, spill, memory_limit)


def _splits_disjoint(exports: list[Path], spill: str, memory_limit: str | None) -> CheckOutcome:
    leaks: list[str] = []
    n_leaking = 0
    per_split: dict[str, dict[str, int]] = {}
    for export in exports:
        files = [(split, path) for _f, split, path, _e in data_files(export, load_manifest(export)) if path.is_file()]
        if not files:
            continue
        conn = _capped_connection(spill, memory_limit)
        try:
            conn.execute("CREATE TEMP TABLE shard(split VARCHAR, filename VARCHAR)")
            conn.executemany("INSERT INTO shard VALUES (?, ?)", [(s, str(p)) for s, p in files])
            conn.execute(
                "CREATE TEMP TABLE placed AS SELECT DISTINCT r.program_id, s.split "
                f"FROM read_parquet({_parquet_list([p for _s, p in files])}, filename = true) r "
                "JOIN shard s ON r.filename = s.filename"
            )
            rows = conn.execute(
                "SELECT program_id, string_agg(split, ',' ORDER BY split) FROM placed "
                "GROUP BY program_id HAVING count(*) > 1 ORDER BY program_id"
            ).fetchall()
            per_split[export.name] = dict(conn.execute("SELECT split, count(*) FROM placed GROUP BY split ORDER BY 1").fetchall())
        except duckdb.Error as err:  # an unreadable shard: the check fails, it does not crash
            n_leaking += 1
            leaks.append(f"{export.name}: cannot read the shards: {str(err)[:200]}")
            continue
        finally:
            conn.close()
        n_leaking += len(rows)
        leaks += [f"{export.name}: {pid} in {splits}" for pid, splits in rows[:EXAMPLES]]
    return CheckOutcome(
        n_leaking == 0,
        "no program is in two splits" if not n_leaking else f"{n_leaking} programs are in more than one split",
        {"programs_per_split": per_split, "leaking_programs": n_leaking, "examples": leaks[:EXAMPLES]},
    )


def counts_match_warehouse(conn: duckdb.DuckDBPyConnection, exports_dir: str | Path | None = None) -> CheckOutcome:
    """Manifest counts agree with the files and with the warehouse they were exported from.

    Per export (of one config hash): the warehouse's programs with sequences of that config
    are the manifest's input programs plus those excluded (instruction holds a format marker);
    with none excluded, its sequence count equals the input; every exported sequence_id is in
    the warehouse; per format, rows + dropped = inputs and the files hold the stated rows.
    """
    exports = find_exports(exports_dir)
    if not exports:
        return _no_exports(exports_dir)
    problems: list[str] = []
    summary: dict[str, dict] = {}
    for export in exports:
        manifest = load_manifest(export)
        name, chash = export.name, manifest.get("config_hash")
        counts = manifest.get("counts", {})
        inputs = counts.get("input", {})
        excluded = int(inputs.get("programs_excluded_marker_in_instruction", 0))
        wh_sequences, wh_programs = conn.execute(
            "SELECT count(*), count(DISTINCT program_id) FROM edit_sequences WHERE config_hash = ?", [chash]
        ).fetchone()
        summary[name] = {"config_hash": chash, "warehouse_sequences": wh_sequences, "warehouse_programs": wh_programs,
                         "input_sequences": inputs.get("sequences"), "input_programs": inputs.get("programs")}
        if inputs.get("programs", -1) + excluded != wh_programs:
            problems.append(f"{name}: {inputs.get('programs')} programs (+{excluded} excluded) exported, warehouse has {wh_programs}")
        if excluded == 0 and inputs.get("sequences") != wh_sequences:
            problems.append(f"{name}: {inputs.get('sequences')} sequences exported, warehouse has {wh_sequences}")
        file_rows: dict[tuple[str, str], int] = {}
        seq_files: list[Path] = []
        for fmt, split, path, _entry in data_files(export, manifest):
            if not path.is_file():
                continue
            rows = _parquet_rows(path)
            if isinstance(rows, str):
                problems.append(f"{name}: {path.relative_to(export)} is {rows}")
                continue
            file_rows[(fmt, split)] = file_rows.get((fmt, split), 0) + rows
            if fmt not in PROGRAM_FORMATS:
                seq_files.append(path)
        for fmt, by_split in counts.get("rows", {}).items():
            unit = "programs" if fmt in PROGRAM_FORMATS else "sequences"
            dropped = sum(counts.get("dropped", {}).get(fmt, {}).values())
            if sum(by_split.values()) + dropped != inputs.get(unit):
                problems.append(f"{name}/{fmt}: {sum(by_split.values())} rows + {dropped} dropped != {inputs.get(unit)} {unit}")
            for split, n in by_split.items():
                if file_rows.get((fmt, split), 0) != n:
                    problems.append(f"{name}/{fmt}/{split}: files hold {file_rows.get((fmt, split), 0)} rows, manifest says {n}")
        if seq_files and not problems:
            foreign = conn.execute(
                f"SELECT count(*) FROM read_parquet({_parquet_list(seq_files)}) r WHERE r.sequence_id NOT IN "
                "(SELECT sequence_id FROM edit_sequences WHERE config_hash = ?)",
                [chash],
            ).fetchone()[0]
            if foreign:
                problems.append(f"{name}: {foreign} exported rows have a sequence_id not in the warehouse (config {chash})")
    return CheckOutcome(
        not problems,
        f"counts of {len(exports)} exports match the warehouse" if not problems else f"{len(problems)} count mismatches",
        {"exports": summary, "problems": len(problems), "examples": problems[:EXAMPLES]},
    )
