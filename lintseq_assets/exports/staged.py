"""The export's inputs from the warehouse, prepared by DuckDB into Parquet files.

`write_exports` joins frames in memory: fine for tests and small exports, but at paper scale
the sequences (every edit path) and programs (every text) are gigabytes. Here DuckDB does
the same selection instead (one config's sequences; programs whose instruction holds a
format marker left out and counted; sequences whose program is missing refused), joins each
sequence with its program's instruction and source, and writes both sides sorted by id, a
key range per file, under a scratch folder: DuckDB reads the rows once and writes them into
a folder per range, then sorts each range (`deal_into_ranges`). A join too big for DuckDB's
cap goes in parts by a hash of program_id, the sequences split once (`_deal_split`).
`write_staged_exports` then streams them. The rules are `join_inputs`'s, so the export is
byte-identical to `write_exports` on the same rows (tests/test_exports_staged.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from lintseq_assets.exports.config import ExportError
from lintseq_assets.exports.formats import MARKERS
from lintseq_assets.exports.writer import StagedInputs
from lintseq_assets.runtime.sorted_copy import (
    copy_partitioned,
    deal_into_ranges,
    range_bounds,
    sql_literal,
)

FILE_ROWS = 10_000  # rows DuckDB sorts and writes per file (each file is one key range), at least
MAX_FILES = 64  # past FILE_ROWS * MAX_FILES rows, ranges grow instead of their number

_STAGED_OPTIONS = "FORMAT parquet, ROW_GROUP_SIZE 2048"
JOIN_PART_FACTOR = 4  # a join that ran out of memory is tried again in this many times more parts
JOIN_PART_BYTES = 32 * 2**20  # programs' instruction and source bytes one part of the join holds, at most
MAX_SPLIT_FOLDERS = 16  # folders the sequences are split into for the join's parts, at most
MAX_JOIN_PARTS = 256  # 1/256 of the programs' instructions per part: 0.8 MB at 10x the paper's scale
_MARKED = " OR ".join("contains(coalesce(instruction, ''), ?)" for _ in MARKERS)
_SEQUENCE_COLUMNS = ("sequence_id", "program_id", "sample_index", "config_hash", "edit_path")
_JOINED_COLUMNS = ", ".join(
    [*(f"s.{c}" for c in _SEQUENCE_COLUMNS), "coalesce(p.instruction, '') AS instruction", "coalesce(p.source, 'unknown') AS source"]
)
_PROGRAM_SELECT = "program_id, coalesce(instruction, '') AS instruction, program, coalesce(source, 'unknown') AS source"


def _bounds(conn: duckdb.DuckDBPyConnection, key: str, from_where: str, params: list, rows: int) -> tuple[list, int]:
    """Every `rows`-th value of `key` in sorted order (each starts a range), and the row count."""
    return range_bounds(conn, f"SELECT {key} {from_where}", key, params, rows)


def _join_parts_for(conn: duckdb.DuckDBPyConnection, kept: str) -> int:
    """How many parts the sequences x programs join starts in: the programs' instruction and
    source bytes over JOIN_PART_BYTES, in powers of JOIN_PART_FACTOR (1 at 90K programs; 16
    at 10x the paper's scale, whose programs hold 303 MB of them, where 4 parts ran out of
    the 256 MB cap, and so did 16 while every part filtered on all 1.3M kept ids). Trying the
    whole join first at 10x cost 18 s before it ran out of memory, and left 300 MB of
    DuckDB's allocations resident in the process."""
    total = conn.execute(
        f"SELECT coalesce(sum(strlen(coalesce(instruction, '')) + strlen(coalesce(source, ''))), 0) FROM programs WHERE {kept}"
    ).fetchall()[0][0]
    parts = 1
    while total > parts * JOIN_PART_BYTES and parts < MAX_JOIN_PARTS:
        parts *= JOIN_PART_FACTOR
    return parts


def _deal_sequences(conn: duckdb.DuckDBPyConnection, kept_ids: str, config_hash: str, bounds: list, scratch: Path, parts: int = 1) -> list[Path]:
    """The exported sequences joined with their programs' instruction and source, dealt into
    their ranges' files.

    The join's hash table holds the programs' instructions and sources. At 90K programs that
    fits the connection's cap (256 MB by default); at 10x the paper's scale (1.33M programs,
    303 MB of instructions and sources) it ran out of 256 MB and of 640 MB. So the join is split by a
    hash of program_id into `parts` (`_join_parts_for`), each with its own programs only
    (`_deal_split`). Should DuckDB still run out of memory, the join is tried again in
    JOIN_PART_FACTOR times more parts (nothing half dealt is left behind). Phase 2 of
    `deal_into_ranges` sorts every range, so the rows do not depend on the parts."""
    while True:
        try:
            if parts == 1:
                return deal_into_ranges(conn, _join(f"program_id IN ({kept_ids})"), "sequence_id", [config_hash], bounds, scratch, "sequences", _STAGED_OPTIONS)
            return _deal_split(conn, kept_ids, config_hash, bounds, scratch, parts)
        except duckdb.OutOfMemoryException:
            if parts >= MAX_JOIN_PARTS:
                raise
            parts *= JOIN_PART_FACTOR


def _deal_split(conn: duckdb.DuckDBPyConnection, kept_ids: str, config_hash: str, bounds: list, scratch: Path, parts: int) -> list[Path]:
    """The join in `parts`, the sequences read from the warehouse once.

    The sequences are first split by the hash of their program_id into a scratch folder per
    part (`copy_partitioned`), then each part's sequences are joined with that part's
    programs. Running every part over the warehouse's table instead read all the sequences'
    edit paths once per part: at 10x the paper's scale, 64 parts made the staging 360 s (519
    CPU-s); split once, in 16 parts, it took 296-340 s (385-428 CPU-s; docs/scale.md).

    Which programs are exported (`kept_ids`, a SELECT of their ids) is asked of each part's
    programs, for that part's ids only: a filter over all of them holds 1.3M program ids in
    its hash table at 10x, which with the part's join left DuckDB short of its 256 MB cap.
    A sequence whose program is not kept finds no partner and drops out of the inner join.

    The split writes at most MAX_SPLIT_FOLDERS folders (64 open files ran out of the cap at
    10x); past that, a folder holds several parts' sequences and each part reads its folder."""
    split = scratch / ".sequences-by-program"
    n_folders = min(parts, MAX_SPLIT_FOLDERS)  # divides `parts`: both are powers of JOIN_PART_FACTOR
    try:
        folders = dict(copy_partitioned(
            conn, f"SELECT {', '.join(_SEQUENCE_COLUMNS)} FROM edit_sequences WHERE config_hash = ?",
            f"hash(program_id) % {n_folders}", [], [config_hash], split,
        ))
        selects = []
        for k in range(parts):
            folder = folders.get(k % n_folders)
            if folder is None:
                continue  # no sequence hashes to this part
            in_part = f"hash(program_id) % {parts} = {k}"
            programs = (
                f"SELECT program_id, instruction, source FROM programs "
                f"WHERE {in_part} AND program_id IN (SELECT program_id FROM ({kept_ids}) WHERE {in_part})"
            )
            sequences = f"SELECT * FROM read_parquet({sql_literal(folder / '*.parquet')}, hive_partitioning = false) WHERE {in_part}"
            selects.append(f"SELECT {_JOINED_COLUMNS} FROM ({sequences}) s JOIN ({programs}) p USING (program_id)")
        return deal_into_ranges(conn, selects, "sequence_id", [], bounds, scratch, "sequences", _STAGED_OPTIONS)
    finally:
        shutil.rmtree(split, ignore_errors=True)


def _join(kept: str) -> str:
    """The sequences x programs join in one SELECT (its `?` is the config hash)."""
    return (
        f"SELECT {_JOINED_COLUMNS} FROM edit_sequences s JOIN programs p USING (program_id) "
        f"WHERE s.config_hash = ? AND s.{kept}"
    )


def stage_from_warehouse(conn: duckdb.DuckDBPyConnection, config_hash: str, scratch: Path, file_rows: int = FILE_ROWS) -> StagedInputs:
    """Select, join and sort the export of `config_hash` into Parquet files under `scratch`.

    Raises ExportError as `write_exports` would: no sequences of the config, or sequences
    whose program is missing (or has no text). A connection may be read-only (nothing is
    created in the database; scratch files go under `scratch`).
    """
    scratch = Path(scratch)
    n_config = conn.execute("SELECT count(*) FROM edit_sequences WHERE config_hash = ?", [config_hash]).fetchone()[0]
    if n_config == 0:
        raise ExportError("no edit sequences to export")
    orphans, example = conn.execute(
        "SELECT count(*), min(program_id) FROM (SELECT DISTINCT program_id FROM edit_sequences WHERE config_hash = ?) s "
        "WHERE NOT EXISTS (SELECT 1 FROM programs p WHERE p.program_id = s.program_id AND p.program IS NOT NULL)",
        [config_hash],
    ).fetchone()
    if orphans:
        raise ExportError(f"{orphans} programs referenced by sequences are missing, e.g. {example}")
    # Programs of this config to export: referenced, and no format marker in the instruction.
    # Written to a Parquet file, not a TEMP table: a temp table lives in DuckDB's memory
    # (about 110 MB for 1.3M program ids at 10x the paper's scale), which left the rest of
    # the staging short of the 256 MB cap.
    scratch.mkdir(parents=True, exist_ok=True)
    export_programs = scratch / ".export-programs.parquet"
    try:
        conn.execute(
            f"COPY (SELECT DISTINCT program_id, ({_MARKED}) AS marked FROM programs p "
            "WHERE EXISTS (SELECT 1 FROM edit_sequences s WHERE s.config_hash = ? AND s.program_id = p.program_id)) "
            f"TO {sql_literal(export_programs)} (FORMAT parquet)",
            [*MARKERS, config_hash],
        )
        excluded = conn.execute(f"SELECT count(*) FROM read_parquet({sql_literal(export_programs)}) WHERE marked").fetchone()[0]
        kept_ids = f"SELECT program_id FROM read_parquet({sql_literal(export_programs)}) WHERE NOT marked"
        kept = f"program_id IN ({kept_ids})"

        # The rows are read once whatever the number of ranges (`deal_into_ranges`); a range is
        # what DuckDB sorts at a time (out of core if it must), so at most MAX_FILES of them.
        file_rows = max(file_rows, -(-n_config // MAX_FILES))
        sequences_where = f"FROM edit_sequences WHERE config_hash = ? AND {kept}"
        bounds, n_sequences = _bounds(conn, "sequence_id", sequences_where, [config_hash], file_rows)
        sequence_files = _deal_sequences(conn, kept_ids, config_hash, bounds, scratch, _join_parts_for(conn, kept))
        bounds, n_programs = _bounds(conn, "program_id", f"FROM programs WHERE {kept}", [], file_rows)
        program_files = deal_into_ranges(
            conn, f"SELECT {_PROGRAM_SELECT} FROM programs WHERE {kept}", "program_id", [], bounds, scratch, "programs", _STAGED_OPTIONS
        )
    finally:
        export_programs.unlink(missing_ok=True)
    return StagedInputs(config_hash, sequence_files, program_files, excluded, n_sequences, n_programs)
