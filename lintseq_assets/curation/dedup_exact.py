"""Exact de-duplication on a normalised form: whitespace and comments do not make a new program.

The key is a hash of the program's token stream (see `tokens.exact_key`): comments and blank
lines are gone, indentation is structure only. Within a group of equal keys the keeper is the
first record in keeper order, (source, source_row, record_id): the first copy in source order,
which does not depend on the order rows arrive in. The others are rejected
`duplicate_of:<program_id of the keeper>`.
"""

from __future__ import annotations

import polars as pl

STEP = "dedup_exact"


def dedup_exact(candidates: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejects) for candidates already sorted in keeper order, with an `exact_key`."""
    marked = candidates.with_columns(
        _keeper_id=pl.col("program_id").first().over("exact_key"),
        _keeper_record=pl.col("record_id").first().over("exact_key"),
        _is_first=pl.int_range(pl.len()).over("exact_key") == 0,
    )
    kept = marked.filter(pl.col("_is_first")).drop("_keeper_id", "_keeper_record", "_is_first")
    dupes = marked.filter(~pl.col("_is_first"))
    rejects = dupes.select(
        "_row",
        "record_id",
        "source",
        stage=pl.lit(STEP),
        reason=pl.lit("duplicate_of:") + pl.col("_keeper_id"),
        detail=pl.when(pl.col("program_id") == pl.col("_keeper_id"))
        .then(pl.lit("identical program to record ") + pl.col("_keeper_record"))
        .otherwise(pl.lit("same program up to whitespace and comments as record ") + pl.col("_keeper_record")),
    )
    return kept, rejects
