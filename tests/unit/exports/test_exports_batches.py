"""Rows built a batch at a time (polars) are the rows the per-row definitions build
(`Format.candidate` + `shape_row`), and shards do not depend on how rows arrive.

The export's bytes rest on both: `build_rows` vectorises some formats and limits and falls
back to the per-row path for the rest, and `SplitShardWriter.add_table` must end row groups
where rows added one at a time would end them."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_exports import build_inputs

from lintseq_assets.core import SamplerConfig
from lintseq_assets.exports import FORMATS
from lintseq_assets.exports.batch_rows import (
    PROGRAM_BATCH_COLUMNS,
    SEQUENCE_BATCH_COLUMNS,
    batch_items,
    build_rows,
)
from lintseq_assets.exports.formats import FORMAT_SPECS
from lintseq_assets.exports.length import LengthLimit, shape_row
from lintseq_assets.exports.shards import SplitShardWriter


@pytest.fixture(scope="module")
def batches() -> dict[str, pl.DataFrame]:
    """Real engine output on handwritten programs and standard-library modules, with an empty
    edit path and an empty instruction added (edges of the text rules)."""
    sequences, programs = build_inputs(SamplerConfig(), samples=2)
    programs = programs.with_columns(pl.col("source").fill_null("unknown"), pl.col("instruction").fill_null(""))
    first = programs.row(0, named=True)
    programs = pl.concat([programs, pl.DataFrame([{**first, "program_id": "p-empty", "instruction": ""}], schema=programs.schema)])
    empty = sequences.row(0, named=True) | {"sequence_id": "s-empty", "program_id": "p-empty", "edit_path": []}
    sequences = pl.concat([sequences, pl.DataFrame([empty], schema=sequences.schema)])
    joined = sequences.join(programs.select("program_id", "instruction", "source"), on="program_id", maintain_order="left")
    return {"sequence": joined.select(SEQUENCE_BATCH_COLUMNS), "program": programs.select(PROGRAM_BATCH_COLUMNS)}


def _row_by_row(spec, frame, seed, limit, overlong) -> tuple[list[dict], list[str]]:
    rows, outcomes = [], []
    for item in batch_items(frame, spec.unit):
        row, outcome = shape_row(spec.candidate(item, seed), limit, overlong)
        outcomes.append(outcome.value)
        if row is not None:
            rows.append(row)
    return rows, outcomes


LIMITS = [(None, "drop"), (600, "drop"), (600, "truncate"), (2_000, "truncate"), (40, "truncate")]


@pytest.mark.parametrize("max_chars, overlong", LIMITS)
@pytest.mark.parametrize("name", FORMATS)
def test_batch_rows_are_the_per_row_rows(batches, name, max_chars, overlong):
    spec = FORMAT_SPECS[name]
    frame = batches[spec.unit]
    limit = LengthLimit(max_chars=max_chars)
    rows = build_rows(spec, frame, 5, limit, overlong)
    expected_rows, expected_outcomes = _row_by_row(spec, frame, 5, limit, overlong)
    assert rows.table.schema == spec.schema
    assert rows.table.to_pylist() == expected_rows
    assert rows.outcomes == expected_outcomes
    assert rows.inputs.to_list() == [i for i, o in enumerate(expected_outcomes) if o != "dropped"]
    if max_chars in (600, 2_000) and overlong == "truncate" and spec.unit == "sequence":
        assert {"kept", "truncated"} <= set(expected_outcomes)  # both ways were taken


def test_token_limits_take_the_per_row_path(batches):
    """A tokenizer counts one text at a time; here a word count stands in for it."""
    limit = LengthLimit(count_tokens=lambda text: len(text.split()), max_tokens=120)
    frame = batches["sequence"]
    rows = build_rows(FORMAT_SPECS["lintseq"], frame, 0, limit, "truncate")
    expected_rows, expected_outcomes = _row_by_row(FORMAT_SPECS["lintseq"], frame, 0, limit, "truncate")
    assert rows.table.to_pylist() == expected_rows and rows.outcomes == expected_outcomes
    assert "truncated" in expected_outcomes


def _shards(folder: Path, table: pa.Table, chunks: list[int], shard_rows: int) -> dict[str, bytes]:
    writer = SplitShardWriter(folder, "train", table.schema, shard_rows, folder / "jsonl")
    start = 0
    for size in chunks:
        writer.add_table(table.slice(start, size))
        start += size
    writer.close()
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _row_groups_of_the_row_writer(n: int, shard_rows: int, group_rows: int) -> list[list[int]]:
    """Row-group sizes per shard as the former writer made them, taking one row at a time
    (its flush rule transcribed: a shard opens at its first flush, so after a full shard the
    next flush is due at once)."""
    shards: list[list[int]] = []
    in_shard, buffered, current = 0, 0, None
    for _ in range(n):
        buffered += 1
        if in_shard + buffered >= shard_rows or buffered >= group_rows:
            if current is None:
                current, in_shard = [], 0
                shards.append(current)
            current.append(buffered)
            in_shard, buffered = in_shard + buffered, 0
            if in_shard >= shard_rows:
                current = None
    if buffered:
        if current is None:
            current = []
            shards.append(current)
        current.append(buffered)
    return shards


@pytest.mark.parametrize("shard_rows", [1, 7, 50, 1_000])
def test_shards_do_not_depend_on_how_rows_arrive(batches, tmp_path, shard_rows, monkeypatch):
    """One row at a time is how rows used to arrive; the row groups must end where they did."""
    monkeypatch.setattr("lintseq_assets.exports.shards.ROW_GROUP_ROWS", 11)
    table = build_rows(FORMAT_SPECS["messages"], batches["sequence"], 0, LengthLimit(), "drop").table
    n = table.num_rows
    one_by_one = _shards(tmp_path / "rows", table, [1] * n, shard_rows)
    rng = random.Random(shard_rows)
    sizes = []
    while sum(sizes) < n:
        sizes.append(min(rng.choice([0, 1, 3, 10, 11, 25, 60]), n - sum(sizes)))
    assert _shards(tmp_path / "whole", table, [n], shard_rows) == one_by_one
    assert _shards(tmp_path / "random", table, sizes, shard_rows) == one_by_one
    groups = [[pq.ParquetFile(p).metadata.row_group(i).num_rows for i in range(pq.ParquetFile(p).metadata.num_row_groups)]
              for p in sorted((tmp_path / "whole").glob("*.parquet"))]
    assert groups == _row_groups_of_the_row_writer(n, shard_rows, 11)
