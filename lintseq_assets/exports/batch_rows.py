"""The trainer formats of `formats.py`, built for a whole batch of inputs at once.

One row at a time, an export cost ~100 µs per sequence in Python (an item, a dict per
format, a pylist-to-Arrow conversion): an hour at tens of millions of rows. Here polars
builds a batch's texts and lineage columns with one expression per column, and the
`max_chars` limit is checked on the whole batch. What does not vectorise keeps the per-row
definitions (`Format.candidate` + `shape_row`), so there is one meaning of each format:
subtrajectory rows (the prompt replays edits), rows over `max_chars` to be truncated (cut at
an edit boundary by a binary search), and token limits (a tokenizer counts one text at a
time). Both ways give the same rows (tests/unit/exports/test_exports_batches.py), in the
batch's order, so the export's bytes do not depend on which way a row took.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from lintseq_assets.exports.formats import SEPARATOR, Format, ProgramItem, SequenceItem
from lintseq_assets.exports.length import LengthLimit, Outcome, shape_row
from lintseq_assets.exports.splits import split_names

SEQUENCE_BATCH_COLUMNS = ("sequence_id", "program_id", "sample_index", "config_hash", "edit_path", "instruction", "source")
PROGRAM_BATCH_COLUMNS = ("program_id", "instruction", "program", "source")
_CHARS = "__chars"  # the length the limit measures, dropped before writing


def split_column(program_ids: pl.Series, split_seed: int, splits: Mapping[str, float]) -> pl.Series:
    """`assign_split` of every row's program (a batch rarely holds two samples of one program)."""
    return pl.Series("split", split_names(program_ids.to_list(), split_seed, splits), dtype=pl.String)


def _completion() -> pl.Expr:
    """`completion_text(edit_path)`: each diff preceded by the separator."""
    edits = pl.col("edit_path")
    return pl.when(edits.list.len() > 0).then(pl.lit(SEPARATOR) + edits.list.join(SEPARATOR)).otherwise(pl.lit(""))


def _sequence_lineage() -> list[pl.Expr]:
    """`formats._lineage` of a row that keeps every edit."""
    return [
        pl.col("program_id"), pl.col("sequence_id"), pl.col("sample_index").cast(pl.Int64), pl.col("config_hash"),
        pl.col("source"), pl.col("edit_path").list.len().cast(pl.Int64).alias("n_edits"), pl.lit(False).alias("truncated"),
    ]


def _lintseq() -> list[pl.Expr]:
    text = pl.col("instruction") + _completion()
    return [text.alias("text"), *_sequence_lineage(), text.str.len_chars().alias(_CHARS)]


def _prompt_completion() -> list[pl.Expr]:
    completion = _completion()
    chars = pl.col("instruction").str.len_chars() + completion.str.len_chars()
    return [pl.col("instruction").alias("prompt"), completion.alias("completion"), *_sequence_lineage(), chars.alias(_CHARS)]


def _messages() -> list[pl.Expr]:
    answer = _completion().str.slice(1)  # the assistant turn starts at the first "<|diff|>"
    messages = pl.concat_list(
        pl.struct(pl.lit("user").alias("role"), pl.col("instruction").alias("content")),
        pl.struct(pl.lit("assistant").alias("role"), answer.alias("content")),
    )
    chars = pl.col("instruction").str.len_chars() + answer.str.len_chars()
    return [messages.alias("messages"), *_sequence_lineage(), chars.alias(_CHARS)]


def _baseline() -> list[pl.Expr]:
    text = pl.col("instruction") + pl.lit("\n") + pl.col("program")
    none = {"sequence_id": pl.String, "sample_index": pl.Int64, "config_hash": pl.String}
    return [
        text.alias("text"), pl.col("program_id"), *[pl.lit(None, dtype=t).alias(c) for c, t in none.items()],
        pl.col("source"), pl.lit(None, dtype=pl.Int64).alias("n_edits"), pl.lit(False).alias("truncated"),
        text.str.len_chars().alias(_CHARS),
    ]


# Formats whose full rows are built by columns (the last column is the measured length);
# the others are built row by row.
VECTORISED = {"lintseq": _lintseq, "prompt_completion": _prompt_completion, "messages": _messages, "baseline": _baseline}


def batch_items(frame: pl.DataFrame, unit: str) -> Iterator[SequenceItem | ProgramItem]:
    """The batch's rows as the items `Format.candidate` takes."""
    if unit == "program":
        for r in frame.iter_rows(named=True):
            yield ProgramItem(r["program_id"], r["source"], r["instruction"], r["program"])
        return
    for r in frame.iter_rows(named=True):
        yield SequenceItem(r["sequence_id"], r["program_id"], int(r["sample_index"]), r["config_hash"],
                           r["source"], r["instruction"], tuple(r["edit_path"]))


@dataclass
class BatchRows:
    """A format's rows of one input batch: `table` (the format's schema) holds the rows that
    were kept or truncated, in input order; `inputs[i]` is the input row of table row i;
    `outcomes` says, per input row, what length control did."""

    table: pa.Table
    inputs: pl.Series
    outcomes: list[str]


def _counts_tokens(limit: LengthLimit) -> bool:
    return limit.max_tokens is not None and limit.count_tokens is not None


def build_rows(spec: Format, frame: pl.DataFrame, split_seed: int, limit: LengthLimit, overlong: str) -> BatchRows:
    """Every row of `spec` for the input `frame`, under the length limit."""
    n = frame.height
    by_row: list[int] = list(range(n))  # input rows left to the per-row definitions
    tables, inputs = [], []
    outcomes = [Outcome.KEPT.value] * n
    if spec.name in VECTORISED and not _counts_tokens(limit):
        columns = VECTORISED[spec.name]()
        if limit.max_chars is None:  # nothing to measure: every full row is kept
            tables.append(frame.select(columns[:-1]).to_arrow().cast(spec.schema))
            inputs.append(pl.int_range(n, dtype=pl.UInt32, eager=True).alias("__input"))
            by_row = []
        else:
            full = frame.select(columns).with_row_index("__input")
            fits = pl.col(_CHARS) <= limit.max_chars
            kept = full.filter(fits)
            tables.append(kept.drop("__input", _CHARS).to_arrow().cast(spec.schema))
            inputs.append(kept.get_column("__input"))
            by_row = full.filter(~fits).get_column("__input").to_list()
        if overlong == "drop":  # an over-long full row is dropped, as shape_row would
            for i in by_row:
                outcomes[i] = Outcome.DROPPED.value
            by_row = []
    if by_row:
        rows, kept_inputs = [], []
        items = batch_items(frame.select(pl.all().gather(by_row)) if len(by_row) < n else frame, spec.unit)
        for i, item in zip(by_row, items, strict=True):
            row, outcome = shape_row(spec.candidate(item, split_seed), limit, overlong)
            outcomes[i] = outcome.value
            if row is not None:
                rows.append(row)
                kept_inputs.append(i)
        tables.append(pa.Table.from_pylist(rows, schema=spec.schema))
        inputs.append(pl.Series("__input", kept_inputs, dtype=pl.UInt32))
    table, order = pa.concat_tables(tables), pl.concat(inputs)
    if len(tables) > 1:  # rows of both ways, back in input order
        ranks = order.arg_sort()
        table, order = table.take(pa.array(ranks.to_numpy())), order.gather(ranks)
    return BatchRows(table, order, outcomes)
