"""The set half of curation: which candidates stay, when every source is looked at together.

Input: candidates from the per-record stage (`records.py`), possibly from many partitions,
reduced to what the set steps compare: keeper-order keys, ids, the exact key, the MinHash
signature and the decontamination verdict. No program text is needed, so the caller can
leave it in the warehouse and copy only the kept rows (see the `programs` asset).

Steps, in order: decontaminate, dedup_exact, dedup_near. Decontamination goes first on
purpose: every copy of a benchmark solution is then rejected as `contaminated` (the honest
reason), and every `duplicate_of:<id>` / `near_duplicate_of:<id>` names a kept program.
The keeper of a group is the first in (source, source_row, record_id) order, so the result
does not depend on the order candidates arrive in.

Signatures (512 bytes a program) may stay on disk: given `signatures`, a Parquet file of
(`_row`, `signature`), near de-dup runs out of core (`dedup_near_disk`) and the frame needs
no `signature` column; the result is the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.decontaminate import decontaminate
from lintseq_assets.curation.dedup_exact import dedup_exact
from lintseq_assets.curation.dedup_near import dedup_near
from lintseq_assets.curation.dedup_near_disk import dedup_near_on_disk
from lintseq_assets.curation.records import RECORD_REJECT_SCHEMA
from lintseq_assets.curation.report import StepStats, step_stats

KEEPER_ORDER = ("source", "source_row", "record_id", "_row")
SELECTION_COLUMNS = ("_row", "record_id", "source", "source_row", "program_id", "exact_key", "signature", "contamination", "contamination_detail")


@dataclass
class Selection:
    """Kept candidates (selection columns, keeper order), rejects of the set steps, their stats."""

    kept: pl.DataFrame
    rejects: pl.DataFrame
    stats: list[StepStats]


def select_programs(candidates: pl.DataFrame, settings: CurationSettings, signatures: Path | None = None, scratch: Path | None = None) -> Selection:
    """Run the set steps over `candidates` (any order; needs at least SELECTION_COLUMNS, less
    `signature` when `signatures` names a Parquet file of them; `scratch`: where the
    out-of-core step spills)."""
    columns = [c for c in SELECTION_COLUMNS if signatures is None or c != "signature"]
    current = candidates.select(columns).sort(list(KEEPER_ORDER), nulls_last=True)
    if signatures is None:
        near = lambda frame: dedup_near(frame, settings)  # noqa: E731
    else:
        near = lambda frame: dedup_near_on_disk(frame, settings, signatures, scratch)  # noqa: E731
    stats: list[StepStats] = []
    frames: list[pl.DataFrame] = []
    steps = (
        ("decontaminate", settings.decontaminate, decontaminate),
        ("dedup_exact", True, dedup_exact),
        ("dedup_near", settings.near_dedup, near),
    )
    for step, enabled, run in steps:
        t0 = time.perf_counter()
        kept, rejects = run(current) if enabled else (current, pl.DataFrame(schema=RECORD_REJECT_SCHEMA))
        rejects = rejects.select(list(RECORD_REJECT_SCHEMA)).cast(RECORD_REJECT_SCHEMA)
        stats.append(step_stats(step, enabled, current.height, kept.height, rejects, time.perf_counter() - t0))
        frames.append(rejects)
        current = kept
    return Selection(current, pl.concat(frames, how="vertical"), stats)
