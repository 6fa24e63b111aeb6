"""The warehouse export path (DuckDB stages sorted Parquet files, the writer streams them)
writes the same bytes as `write_exports` on the same rows as frames."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from test_exports import LINEAGE, build_inputs

from lintseq_assets.core import SamplerConfig
from lintseq_assets.exports import (
    FORMATS,
    STATE_MARKER,
    ExportError,
    ExportSettings,
    write_exports,
    write_staged_exports,
)
from lintseq_assets.exports.staged import stage_from_warehouse
from resources.connect import connect_writer

RANDSEQ = SamplerConfig(linter="none")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """Two sampler configs; one program's instruction holds a marker, one has no source."""
    sequences, programs = build_inputs()
    randseq, _ = build_inputs(RANDSEQ, samples=2)
    programs = programs.with_columns(
        pl.when(pl.col("program").str.contains("sum_squares", literal=True)).then(pl.col("instruction") + STATE_MARKER)
        .otherwise(pl.col("instruction")).alias("instruction"),
        pl.when(pl.col("program").str.contains("def fib", literal=True)).then(None).otherwise(pl.col("source")).alias("source"),
    )
    path = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    conn = connect_writer(path)
    conn.register("staged_programs", programs.to_arrow())
    conn.execute("INSERT INTO programs BY NAME SELECT * FROM staged_programs")
    for frame in (sequences, randseq):
        conn.register("staged_sequences", frame.to_arrow())
        conn.execute("INSERT INTO edit_sequences BY NAME SELECT * FROM staged_sequences")
    conn.close()
    return path


def _frames(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    conn = connect_writer(path)
    try:
        return conn.sql("SELECT * FROM edit_sequences").pl(), conn.sql("SELECT * FROM programs").pl()
    finally:
        conn.close()


def _staged(path: Path, config_hash: str, scratch: Path, file_rows: int):
    conn = connect_writer(path)
    try:
        return stage_from_warehouse(conn, config_hash, scratch, file_rows=file_rows)
    finally:
        conn.close()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


SETTINGS = [
    {},
    {"formats": FORMATS, "splits": {"train": 0.6, "validation": 0.2, "test": 0.2}, "split_seed": 3, "jsonl": True, "shard_rows": 10},
    {"formats": ("lintseq", "subtrajectory", "baseline"), "max_chars": 700, "overlong": "truncate", "shard_rows": 7},
]


@pytest.mark.parametrize("config", [SamplerConfig(), RANDSEQ], ids=["lintseq", "randseq"])
@pytest.mark.parametrize("index", range(len(SETTINGS)))
def test_staged_export_is_byte_identical_to_frames(warehouse, tmp_path, config, index):
    chash = config.config_hash()
    settings = ExportSettings.from_dict({"config_hash": chash, **SETTINGS[index]})
    sequences, programs = _frames(warehouse)
    framed = write_exports(sequences, programs, tmp_path / "frames" / "x", settings, LINEAGE)
    inputs = _staged(warehouse, chash, tmp_path / "scratch", file_rows=4)
    assert len(inputs.sequence_files) > 1 and len(inputs.program_files) > 1  # several key ranges
    staged = write_staged_exports(inputs, tmp_path / "staged" / "x", settings, LINEAGE)
    assert staged.counts == framed.counts
    assert staged.counts["input"]["programs_excluded_marker_in_instruction"] == 1
    assert _files(staged.out_dir) == _files(framed.out_dir)


def test_staged_inputs_refuse_what_write_exports_refuses(warehouse, tmp_path):
    with pytest.raises(ExportError, match="no edit sequences"):
        _staged(warehouse, "0" * 16, tmp_path / "a", 4)
    settings = ExportSettings(config_hash="f" * 16)
    inputs = _staged(warehouse, SamplerConfig().config_hash(), tmp_path / "b", 4)
    with pytest.raises(ExportError, match="not in the sequences"):
        write_staged_exports(inputs, tmp_path / "x", settings, LINEAGE)
    assert not (tmp_path / "x").exists()
    conn = connect_writer(warehouse)
    try:
        conn.execute("BEGIN TRANSACTION")
        conn.execute("DELETE FROM programs WHERE program_id = (SELECT min(program_id) FROM programs)")
        with pytest.raises(ExportError, match="missing"):
            stage_from_warehouse(conn, SamplerConfig().config_hash(), tmp_path / "c")
        conn.execute("ROLLBACK")
        conn.execute("BEGIN TRANSACTION")
        conn.execute("UPDATE programs SET instruction = instruction || ?", [STATE_MARKER])
        everything_marked = stage_from_warehouse(conn, RANDSEQ.config_hash(), tmp_path / "d")
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    assert everything_marked.n_sequences == 0
    with pytest.raises(ExportError, match="no exportable sequences"):
        write_staged_exports(everything_marked, tmp_path / "y", ExportSettings(), LINEAGE)


@pytest.mark.parametrize(("parts", "max_folders"), [(2, 16), (4, 16), (16, 16), (16, 4), (64, 4)])
def test_a_join_split_in_parts_stages_the_same_rows(warehouse, tmp_path, monkeypatch, parts, max_folders):
    """The join split by a hash of program_id (the sequences split once into a folder per
    part, or per several parts past MAX_SPLIT_FOLDERS, each part joined with its programs)
    deals the same rows into the same sorted range files as the whole join, and leaves no
    split folder behind."""
    from lintseq_assets.exports import staged
    from lintseq_assets.exports.staged import _deal_sequences
    from lintseq_assets.runtime.sorted_copy import range_bounds

    monkeypatch.setattr(staged, "MAX_SPLIT_FOLDERS", max_folders)

    chash = SamplerConfig().config_hash()
    kept_ids = "SELECT program_id FROM programs"
    conn = connect_writer(warehouse)
    try:
        starts, n = range_bounds(conn, "SELECT sequence_id FROM edit_sequences WHERE config_hash = ?", "sequence_id", [chash], 3)
        whole = _deal_sequences(conn, kept_ids, chash, starts, tmp_path / "whole", 1)
        split = _deal_sequences(conn, kept_ids, chash, starts, tmp_path / "split", parts)
    finally:
        conn.close()
    assert n > 3 and len(whole) == len(split) > 1
    assert [_rows(p) for p in whole] == [_rows(p) for p in split]
    assert sorted((tmp_path / "split").iterdir()) == split


def test_the_join_starts_in_parts_sized_by_the_programs_bytes(warehouse, tmp_path, monkeypatch):
    """The staging splits the join up front when the programs' instructions and sources
    exceed JOIN_PART_BYTES (at 10x the paper's scale trying it whole first ran out of memory
    after 18 s), and stages the same rows in the same files as the whole join, leaving out
    the same marked programs' sequences."""
    from lintseq_assets.exports import staged

    chash = SamplerConfig().config_hash()
    conn = connect_writer(warehouse)
    try:
        conn.execute("BEGIN TRANSACTION")
        conn.execute(
            "UPDATE programs SET instruction = instruction || ? "
            "WHERE program_id IN (SELECT program_id FROM programs ORDER BY program_id LIMIT 3)",
            [STATE_MARKER],
        )
        assert staged._join_parts_for(conn, "true") == 1
        whole = staged.stage_from_warehouse(conn, chash, tmp_path / "whole")
        monkeypatch.setattr(staged, "JOIN_PART_BYTES", 16)
        parts = staged._join_parts_for(conn, "true")
        split = staged.stage_from_warehouse(conn, chash, tmp_path / "split")
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    assert parts in {4, 16, 64, 256}
    assert whole.excluded == split.excluded >= 3 and split.n_sequences == whole.n_sequences
    assert sum(pq.read_metadata(p).num_rows for p in split.sequence_files) == whole.n_sequences
    assert [_rows(p) for p in whole.sequence_files] == [_rows(p) for p in split.sequence_files]
    assert [_rows(p) for p in whole.program_files] == [_rows(p) for p in split.program_files]


def _rows(path):
    """A staged file's rows in order. Not its bytes: DuckDB marks a column required or not by
    what it knows of the files a range was dealt into (one per part of the join), and the
    export casts every row to its format's schema, so only the rows reach the output."""
    return pq.read_table(path).to_pylist()


def test_a_join_out_of_memory_is_tried_again_in_more_parts(tmp_path, monkeypatch):
    """When DuckDB runs out of memory in the whole join, `_deal_sequences` tries it again in
    JOIN_PART_FACTOR times more parts, deals the same rows as the whole join given room, and
    leaves only the range files behind (nothing of the failed attempt).

    A real out-of-memory: 64 programs of 512 KB instructions (32 MB, each sequence carries
    its program's), a 128 MB cap and no temp directory, so DuckDB cannot spill. Measured on
    duckdb 2.0.1: the whole join needs 160-192 MB there, a quarter of it fits in 96."""
    from lintseq_assets.exports import staged
    from lintseq_assets.runtime.sorted_copy import range_bounds

    path = tmp_path / "w.duckdb"
    conn = connect_writer(path)
    conn.execute(
        "INSERT INTO programs (program_id, record_id, source, instruction, program) "
        "SELECT 'p' || lpad(i::VARCHAR, 4, '0'), 'r' || i, 'src', repeat(chr((97 + i % 26)::INTEGER), 512 * 1024) || i, 'x = ' || i "
        "FROM range(64) t(i)"
    )
    conn.execute(
        "INSERT INTO edit_sequences (sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path) "
        "SELECT 's' || lpad((i * 3 + k)::VARCHAR, 5, '0'), 'p' || lpad(i::VARCHAR, 4, '0'), k, k, 'h', 1, ['e' || i] "
        "FROM range(64) a(i), range(3) b(k)"
    )
    conn.close()
    kept_ids = "SELECT program_id FROM programs"

    def deal(limit: str, scratch: Path) -> list[Path]:
        conn = connect_writer(path, config={"memory_limit": limit})
        try:
            conn.execute("SET temp_directory = ''")
            starts, _ = range_bounds(conn, "SELECT sequence_id FROM edit_sequences WHERE config_hash = ?", "sequence_id", ["h"], 40)
            return staged._deal_sequences(conn, kept_ids, "h", starts, scratch, 1)
        finally:
            conn.close()

    whole = deal("1GB", tmp_path / "whole")
    tried_parts: list[int] = []
    split_in_parts = staged._deal_split

    def counting_split(*args):
        tried_parts.append(args[-1])
        return split_in_parts(*args)

    monkeypatch.setattr(staged, "_deal_split", counting_split)
    retried = deal("128MB", tmp_path / "retried")
    assert tried_parts and tried_parts[0] == staged.JOIN_PART_FACTOR  # the whole join did run out
    assert len(whole) == len(retried) == 5
    assert [_rows(p) for p in whole] == [_rows(p) for p in retried]
    assert sorted((tmp_path / "retried").iterdir()) == sorted(retried)
