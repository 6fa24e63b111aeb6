"""`curate_programs`: raw answers in, clean unique uncontaminated programs (and rejects) out.

Steps, in order, each with one job and its own line in the funnel:

1. extract        markdown answer -> Python code (extract.py)
2. filter         engine normalisation + parse, size, statement count, lint (filters.py)
3. decontaminate  n-gram overlap with evaluation benchmarks (decontaminate.py)
4. dedup_exact    same tokens up to whitespace/comments (dedup_exact.py)
5. dedup_near     MinHash LSH over identifier-normalised shingles (dedup_near.py)

Decontamination runs before de-duplication on purpose: every copy of a benchmark solution is
then rejected as `contaminated` (the honest reason), and every `duplicate_of:<id>` /
`near_duplicate_of:<id>` names a program that is in the final `programs` frame.

Every input row ends in exactly one of `programs` or `rejects`; this is checked before
returning (an AssertionError here is a bug, never a data problem). Nothing is executed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from lintseq_assets.executors import LocalExecutor, RayExecutor

from .decontaminate import decontaminate
from .dedup_exact import dedup_exact
from .dedup_near import dedup_near
from .extract import ExtractionRejected, extract_code
from .filters import FilterRejected, check_program
from .report import StepStats, funnel_frame, funnel_markdown, step_stats
from .settings import CurationSettings
from .tokens import TokenHasher, code_tokens, decontam_tokens, exact_key, near_tokens

REQUIRED_COLUMNS = ("record_id", "source", "source_row", "response")
OPTIONAL_COLUMNS = ("source_revision", "instruction")
REJECT_SCHEMA = {"record_id": pl.String, "source": pl.String, "stage": pl.String, "reason": pl.String, "detail": pl.String}
_INTERNAL_REJECT_SCHEMA = {"_row": pl.Int64, **REJECT_SCHEMA}
PROGRAM_COLUMNS = (
    "program_id",
    "record_id",
    "source",
    "source_revision",
    "source_row",
    "instruction",
    "program",
    "n_lines",
    "n_bytes",
    "n_statements",
    "n_lint_errors",
    "extraction",
    "n_blocks",
)
PROGRAM_SCHEMA = {
    "program_id": pl.String,
    "record_id": pl.String,
    "source": pl.String,
    "source_revision": pl.String,
    "source_row": pl.Int64,
    "instruction": pl.String,
    "program": pl.String,
    "n_lines": pl.Int64,
    "n_bytes": pl.Int64,
    "n_statements": pl.Int64,
    "n_lint_errors": pl.Int64,
    "extraction": pl.String,
    "n_blocks": pl.Int64,
}
KEEPER_ORDER = ("source", "source_row", "record_id", "_row")


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


def _empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=_INTERNAL_REJECT_SCHEMA)


def _check_input(raw: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"raw records lack column(s) {missing}; expected {list(REQUIRED_COLUMNS)}")
    for column in OPTIONAL_COLUMNS:
        if column not in raw.columns:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    return raw


# One record's outcome from the per-record steps: ("extract" | "filter", row, reason, detail)
# for a reject, ("keep", row, candidate fields, near hashes, decontamination hashes) otherwise.
RecordOutcome = tuple


def _records_chunk(rows: list[tuple], settings: CurationSettings) -> tuple[list[RecordOutcome], dict[str, float]]:
    """Extraction and per-record filters over one chunk of records (any process, any order).

    A plain function of its arguments, so an executor (lintseq_assets.executors) can run
    chunks in worker processes or on Ray; token hashes are content hashes, so each worker's
    own TokenHasher gives the same numbers. Returns the outcomes in input order and the time
    spent in extraction, filtering and tokenising (worker seconds, summed over chunks)."""
    clock = time.perf_counter
    hasher = TokenHasher()
    t_extract = t_filter = t_tokens = 0.0
    out: list[RecordOutcome] = []
    for row, response in rows:
        t0 = clock()
        try:
            extraction = extract_code(response, settings.max_response_chars)
        except ExtractionRejected as err:
            t_extract += clock() - t0
            out.append(("extract", row, err.reason, err.detail))
            continue
        t1 = clock()
        t_extract += t1 - t0
        try:
            checked = check_program(extraction.code, settings)
        except FilterRejected as err:
            t_filter += clock() - t1
            out.append(("filter", row, err.reason, err.detail))
            continue
        t2 = clock()
        t_filter += t2 - t1
        tokens = code_tokens(checked.text)
        near = hasher(near_tokens(tokens)) if settings.near_dedup else None
        decon = hasher(decontam_tokens(tokens)) if settings.decontaminate else None
        fields = {
            "_exact_key": exact_key(tokens),
            "program_id": checked.program_id,
            "program": checked.text,
            "n_lines": checked.n_lines,
            "n_bytes": checked.n_bytes,
            "n_statements": checked.n_statements,
            "n_lint_errors": checked.n_lint_errors,
            "extraction": extraction.method,
            "n_blocks": extraction.n_blocks,
        }
        out.append(("keep", row, fields, near, decon))
        t_tokens += clock() - t2
    return out, {"extract": t_extract, "filter": t_filter, "tokenise": t_tokens}


def _response_chunks(responses: pl.Series, size: int) -> Iterator[list[tuple]]:
    """(row, response) chunks, converted to Python a chunk at a time (the column stays columnar)."""
    for lo in range(0, len(responses), size):
        yield list(enumerate(responses.slice(lo, size).to_list(), start=lo))


def _per_record(
    raw: pl.DataFrame, settings: CurationSettings, seconds: dict, executor: LocalExecutor | RayExecutor | None = None, chunk_size: int = 256
) -> tuple[list[dict], list[dict], list[dict], dict]:
    """Extraction and per-record filters: (candidates, extract rejects, filter rejects, tokens).

    The work runs in chunks on `executor` (default: this process); results come back in
    input order, so the output is the same on every executor and worker count. `seconds`
    receives the time spent in each of the two steps (and in tokenising, which serves the
    set steps after them)."""
    executor = executor or LocalExecutor(workers=1)
    candidates: list[dict] = []
    extract_rejects: list[dict] = []
    filter_rejects: list[dict] = []
    near: list[np.ndarray] = []
    decon: list[np.ndarray] = []
    totals = {"extract": 0.0, "filter": 0.0, "tokenise": 0.0}
    record_ids = [None if v is None else str(v) for v in raw["record_id"].to_list()]
    sources = [None if v is None else str(v) for v in raw["source"].to_list()]
    revisions = [None if v is None else str(v) for v in raw["source_revision"].to_list()]
    source_rows = raw["source_row"].to_list()
    instructions = [v if v is None or isinstance(v, str) else str(v) for v in raw["instruction"].to_list()]
    for outcomes, chunk_seconds in executor.map_ordered(_records_chunk, _response_chunks(raw["response"], chunk_size), settings):
        for key, value in chunk_seconds.items():
            totals[key] += value
        for outcome in outcomes:
            kind, row = outcome[0], outcome[1]
            record_id, source = record_ids[row], sources[row]
            if kind != "keep":
                rejects = extract_rejects if kind == "extract" else filter_rejects
                rejects.append({"_row": row, "record_id": record_id, "source": source, "stage": kind, "reason": outcome[2], "detail": outcome[3]})
                continue
            _, _, fields, near_hashes, decon_hashes = outcome
            if near_hashes is not None:
                near.append(near_hashes)
            if decon_hashes is not None:
                decon.append(decon_hashes)
            candidates.append(
                {
                    "_row": row,
                    "_cand": len(candidates),
                    "_exact_key": fields["_exact_key"],
                    "program_id": fields["program_id"],
                    "record_id": record_id,
                    "source": source,
                    "source_revision": revisions[row],
                    "source_row": source_rows[row],
                    "instruction": instructions[row],
                    **{k: fields[k] for k in PROGRAM_COLUMNS[6:]},
                }
            )
    seconds.update(totals)
    return candidates, extract_rejects, filter_rejects, {"near": near, "decon": decon}


def curate_programs(
    raw: pl.DataFrame, settings: CurationSettings | None = None, executor: LocalExecutor | RayExecutor | None = None
) -> CurationResult:
    """Run every curation step over `raw` (see the module docstring) and account for every row.

    `executor` runs the per-record steps (extract, filter) in parallel, locally or on Ray;
    the set steps compare all programs and stay in this process. The result is the same on
    every executor."""
    settings = settings or CurationSettings()
    started = time.perf_counter()
    raw = _check_input(raw)
    n_in = raw.height
    stats: list[StepStats] = []

    seconds: dict[str, float] = {}
    cand_rows, extract_rejects, filter_rejects, token_arrays = _per_record(raw, settings, seconds, executor)
    extract_df = pl.DataFrame(extract_rejects, schema=_INTERNAL_REJECT_SCHEMA)
    filter_df = pl.DataFrame(filter_rejects, schema=_INTERNAL_REJECT_SCHEMA)
    after_extract = n_in - extract_df.height
    stats.append(step_stats("extract", True, n_in, after_extract, extract_df, seconds["extract"]))
    stats.append(step_stats("filter", True, after_extract, len(cand_rows), filter_df, seconds["filter"]))
    reject_frames = [extract_df, filter_df]

    candidates = pl.DataFrame(
        cand_rows,
        schema={"_row": pl.Int64, "_cand": pl.Int64, "_exact_key": pl.String, **PROGRAM_SCHEMA},
    ).sort(list(KEEPER_ORDER), nulls_last=True)

    for step, enabled, run in _set_steps(settings, token_arrays):
        t0 = time.perf_counter()
        if enabled:
            kept, rejects = run(candidates)
        else:
            kept, rejects = candidates, _empty_rejects()
        rejects = rejects.select(list(_INTERNAL_REJECT_SCHEMA)).cast(_INTERNAL_REJECT_SCHEMA)
        stats.append(step_stats(step, enabled, candidates.height, kept.height, rejects, time.perf_counter() - t0))
        reject_frames.append(rejects)
        candidates = kept

    programs = candidates.select(list(PROGRAM_COLUMNS))
    all_rejects = pl.concat(reject_frames, how="vertical").sort("_row")
    _assert_accounted(n_in, candidates["_row"], all_rejects["_row"])
    result = CurationResult(
        programs=programs,
        rejects=all_rejects.drop("_row"),
        funnel=funnel_frame(stats),
        settings=settings,
        seconds=time.perf_counter() - started,
        extra={"tokenise_seconds": round(seconds["tokenise"], 3)},
    )
    return result


def _set_steps(settings: CurationSettings, token_arrays: dict):
    """The steps that look at the set of programs rather than one record at a time."""
    yield "decontaminate", settings.decontaminate, _decontaminate_step(settings, token_arrays)
    yield "dedup_exact", True, dedup_exact
    yield "dedup_near", settings.near_dedup, _near_step(settings, token_arrays)


def _decontaminate_step(settings: CurationSettings, token_arrays: dict):
    return lambda candidates: decontaminate(candidates, token_arrays["decon"], settings)


def _near_step(settings: CurationSettings, token_arrays: dict):
    return lambda candidates: dedup_near(candidates, token_arrays["near"], settings)


def _assert_accounted(n_in: int, kept_rows: pl.Series, rejected_rows: pl.Series) -> None:
    """Every input row is in exactly one of programs or rejects: none lost, none twice."""
    rows = np.concatenate([kept_rows.to_numpy(), rejected_rows.to_numpy()])
    if len(rows) != n_in or not np.array_equal(np.sort(rows), np.arange(n_in)):
        raise AssertionError(
            f"curation lost or duplicated records: {n_in} in, {len(kept_rows)} kept + {len(rejected_rows)} rejected"
        )
