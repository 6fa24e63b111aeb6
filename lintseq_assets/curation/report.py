"""The funnel: records into and out of each step, and why the others left.

One row per step, in pipeline order: `step`, `enabled`, `records_in`, `records_out`,
`rejected`, `rejected_by_reason` (a list of {reason, count}, where the reason is the stable
code: `duplicate_of:<id>` counts as `duplicate_of`, `contaminated:<benchmark>:<task>` as
`contaminated:<benchmark>`) and `seconds`. The same numbers render as markdown for asset
metadata and the `make run` printout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from lintseq_assets.tables import CURATION_REPORT

# The `curation_report` table's columns; `step_index` is added when it is staged.
FUNNEL_SCHEMA = CURATION_REPORT.staged_schema(without=("step_index",))


def reason_code(reason: str) -> str:
    """The stable part of a reason: ids of duplicates and task ids are dropped."""
    head, _, rest = reason.partition(":")
    if head == "contaminated" and rest:
        return f"{head}:{rest.split(':', 1)[0]}"
    return head


@dataclass(frozen=True)
class StepStats:
    step: str
    enabled: bool
    records_in: int
    records_out: int
    reasons: dict[str, int]
    seconds: float | None  # None: measured elsewhere (per partition, in `source_programs`)


def step_stats(step: str, enabled: bool, records_in: int, records_out: int, rejects: pl.DataFrame, seconds: float | None) -> StepStats:
    return counted_step_stats(step, enabled, records_in, records_out, ((reason, 1) for reason in rejects["reason"].to_list()), seconds)


def counted_step_stats(
    step: str, enabled: bool, records_in: int, records_out: int, reasons: Iterable[tuple[str, int]], seconds: float | None
) -> StepStats:
    """`step_stats` from (reason, how many) pairs: a step whose rejects stay in a database
    counts them there instead of handing every reason to Python."""
    counts: dict[str, int] = {}
    for reason, n in reasons:
        code = reason_code(reason)
        counts[code] = counts.get(code, 0) + n
    if records_in - records_out != sum(counts.values()):
        raise AssertionError(f"step {step}: {records_in} in, {records_out} out, but {sum(counts.values())} rejects")
    return StepStats(step, enabled, records_in, records_out, dict(sorted(counts.items())), seconds)


def funnel_frame(stats: list[StepStats]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "step": s.step,
                "enabled": s.enabled,
                "records_in": s.records_in,
                "records_out": s.records_out,
                "rejected": s.records_in - s.records_out,
                "rejected_by_reason": [{"reason": r, "count": c} for r, c in s.reasons.items()],
                "seconds": None if s.seconds is None else round(s.seconds, 3),
            }
            for s in stats
        ],
        schema=FUNNEL_SCHEMA,
    )


def funnel_markdown(funnel: pl.DataFrame) -> str:
    lines = [
        "| step | in | out | rejected | by reason | seconds |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in funnel.iter_rows(named=True):
        reasons = ", ".join(f"{r['reason']}: {r['count']}" for r in row["rejected_by_reason"]) or "-"
        name = row["step"] if row["enabled"] else f"{row['step']} (off)"
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.2f}"
        lines.append(
            f"| {name} | {row['records_in']} | {row['records_out']} | {row['rejected']} | {reasons} | {seconds} |"
        )
    return "\n".join(lines)
