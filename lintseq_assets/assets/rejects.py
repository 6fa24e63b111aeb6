"""Rejects as staged rows: every asset that refuses records stages them the same way.

A reject row is owned by the asset that wrote it (`asset` column), so each asset replaces
exactly its own rejects on reload and never touches another stage's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from lintseq_assets.runtime.staging import StagedPartition, write_partition
from lintseq_assets.tables import REJECTS

REJECT_SCHEMA = REJECTS.staged_schema()


def rejects_frame(rows: Iterable[dict], asset: str) -> pl.DataFrame:
    return rejects_of(pl.DataFrame([{**r, "asset": asset} for r in rows], schema=REJECT_SCHEMA), asset)


def rejects_of(frame: pl.DataFrame, asset: str) -> pl.DataFrame:
    """`rejects_frame` of a frame's rows without a Python dict per row (a step may reject
    hundreds of thousands)."""
    staged = frame.with_columns(asset=pl.lit(asset)).select(list(REJECT_SCHEMA)).cast(REJECT_SCHEMA)
    return staged.unique(subset=["record_id", "stage"], keep="first", maintain_order=True)


def stage_rejects(staging_root: Path, asset: str, frame: pl.DataFrame) -> StagedPartition:
    return write_partition(staging_root, "rejects", asset, [frame])


def base_reason(reason: str) -> str:
    """`duplicate_of:<id>` and friends count under their code, not one row per id."""
    return reason.split(":", 1)[0]


def reasons(frame: pl.DataFrame) -> dict[str, int]:
    return reasons_counted((r, 1) for r in frame["reason"].to_list())


def reasons_counted(counts: Iterable[tuple[str, int]]) -> dict[str, int]:
    """`reasons` from (reason, how many) pairs, such as a funnel step's counts by reason code."""
    total: Counter[str] = Counter()
    for reason, n in counts:
        total[base_reason(reason)] += n
    return dict(total)
