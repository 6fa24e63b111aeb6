"""`curate_programs`: raw answers in, clean unique uncontaminated programs (and rejects) out.

Curation has two halves, so a platform can run the first per source partition and the
second once over all of them (the `source_programs` and `programs` assets):

1. per record (records.py): extract -> filter -> fingerprint (exact key, MinHash signature,
   decontamination verdict); chunks run on any executor.
2. per set (selection.py): decontaminate -> dedup_exact -> dedup_near, over fingerprints only;
   run out of core (selection_disk.py: Parquet files and a scratch DuckDB, no LSH index in
   memory), here as in `programs`.

`curate_programs` runs both over one frame, for the CLI, scripts and tests. Every input row
ends in exactly one of `programs` or `rejects`; this is checked before returning (an
AssertionError here is a bug, never a data problem). Nothing is executed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.records import CANDIDATE_SCHEMA, RECORD_REJECT_SCHEMA, curate_records
from lintseq_assets.curation.report import StepStats, funnel_frame, funnel_markdown, step_stats
from lintseq_assets.curation.selection_disk import select_frame_on_disk
from lintseq_assets.runtime.executors import LocalExecutor, RayExecutor
from lintseq_assets.tables import PROGRAMS, REJECTS

REQUIRED_COLUMNS = ("record_id", "source", "source_row", "response")
OPTIONAL_COLUMNS = ("source_revision", "instruction")
REJECT_SCHEMA = REJECTS.staged_schema(without=("asset",))
PROGRAM_COLUMNS = PROGRAMS.column_names


@dataclass
class CurationResult:
    """What curation returns: kept programs, rejects with reasons, and the funnel."""

    programs: pl.DataFrame
    rejects: pl.DataFrame
    funnel: pl.DataFrame
    settings: CurationSettings
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def records_in(self) -> int:
        return int(self.funnel["records_in"][0]) if self.funnel.height else 0

    def rejects_by_reason(self) -> dict[str, int]:
        """Counts by stable reason code over all steps (ids of duplicates dropped)."""
        counts: dict[str, int] = {}
        for row in self.funnel.iter_rows(named=True):
            for item in row["rejected_by_reason"]:
                counts[item["reason"]] = counts.get(item["reason"], 0) + item["count"]
        return dict(sorted(counts.items()))

    def summary(self) -> dict:
        """Plain numbers for asset metadata and logs."""
        return {
            "records_in": self.records_in,
            "programs": self.programs.height,
            "rejects": self.rejects.height,
            "rejects_by_reason": self.rejects_by_reason(),
            "seconds": round(self.seconds, 3),
            **self.extra,
        }

    def to_markdown(self) -> str:
        """The funnel as a markdown table with a one-line headline."""
        head = (
            f"**Curation**: {self.records_in} records in, {self.programs.height} programs kept, "
            f"{self.rejects.height} rejected ({self.seconds:.1f}s)"
        )
        return head + "\n\n" + funnel_markdown(self.funnel)

    def __str__(self) -> str:
        return self.to_markdown()


def _check_input(raw: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"raw records lack column(s) {missing}; expected {list(REQUIRED_COLUMNS)}")
    for column in OPTIONAL_COLUMNS:
        if column not in raw.columns:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    return raw


def record_stage_stats(n_in: int, n_candidates: int, rejects: pl.DataFrame, seconds: dict[str, float]) -> list[StepStats]:
    """Funnel lines of the per-record steps (extract, filter) from their rejects."""
    extract = rejects.filter(pl.col("stage") == "extract")
    after_extract = n_in - extract.height
    return [
        step_stats("extract", True, n_in, after_extract, extract, seconds.get("extract", 0.0)),
        step_stats("filter", True, after_extract, n_candidates, rejects.filter(pl.col("stage") == "filter"), seconds.get("filter", 0.0)),
    ]


def curate_programs(
    raw: pl.DataFrame, settings: CurationSettings | None = None, executor: LocalExecutor | RayExecutor | None = None
) -> CurationResult:
    """Run both halves over `raw` (see the module docstring) and account for every row.

    `executor` runs the per-record chunks in parallel, locally or on Ray; the set steps
    compare fingerprints in this process. The result is the same on every executor."""
    settings = settings or CurationSettings()
    started = time.perf_counter()
    raw = _check_input(raw)
    n_in = raw.height
    seconds = {"extract": 0.0, "filter": 0.0, "tokenise": 0.0}
    candidate_frames, reject_frames = [pl.DataFrame(schema=CANDIDATE_SCHEMA)], [pl.DataFrame(schema=RECORD_REJECT_SCHEMA)]
    for batch in curate_records([raw], settings, executor):
        candidate_frames.append(batch.candidates)
        reject_frames.append(batch.rejects)
        for key, value in batch.seconds.items():
            seconds[key] += value
    candidates = pl.concat(candidate_frames, how="vertical")
    record_rejects = pl.concat(reject_frames, how="vertical")
    stats = record_stage_stats(n_in, candidates.height, record_rejects, seconds)

    selection = select_frame_on_disk(candidates, settings)  # out of core: no LSH index in memory
    stats.extend(selection.stats)
    programs = candidates.join(selection.kept.select("_row"), on="_row", how="semi").sort(
        ["source", "source_row", "record_id", "_row"], nulls_last=True
    )
    all_rejects = pl.concat([record_rejects.cast(RECORD_REJECT_SCHEMA), selection.rejects], how="vertical").sort("_row")
    _assert_accounted(n_in, programs["_row"], all_rejects["_row"])
    return CurationResult(
        programs=programs.select(list(PROGRAM_COLUMNS)),
        rejects=all_rejects.drop("_row"),
        funnel=funnel_frame(stats),
        settings=settings,
        seconds=time.perf_counter() - started,
        extra={"tokenise_seconds": round(seconds["tokenise"], 3)},
    )


def _assert_accounted(n_in: int, kept_rows: pl.Series, rejected_rows: pl.Series) -> None:
    """Every input row is in exactly one of programs or rejects: none lost, none twice."""
    rows = np.concatenate([kept_rows.to_numpy(), rejected_rows.to_numpy()])
    if len(rows) != n_in or not np.array_equal(np.sort(rows), np.arange(n_in)):
        raise AssertionError(
            f"curation lost or duplicated records: {n_in} in, {len(kept_rows)} kept + {len(rejected_rows)} rejected"
        )
