"""The per-record half of curation: one record in, one candidate program or one reject out.

Extraction, the engine's filters, and everything the set steps later need from the program's
tokens are computed here, a chunk of records at a time, in any process:

- the exact-dedup key (a hash of the token stream),
- the MinHash signature for near de-dup (`num_perm` uint32, 512 bytes by default),
- the decontamination verdict (the task it was copied from, or nothing).

So the set steps (`selection.py`) never see a token: they compare keys and signatures of a
few hundred bytes per program, and memory stays flat however many tokens the corpus has.
This is also what lets a source partition be curated on its own (the `source_programs`
asset) and the global steps run later over every partition's candidates.

Everything here is a content function of the record and the settings: the same record gives
the same candidate in every process, chunk size and order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.decontaminate import contamination_verdicts
from lintseq_assets.curation.dedup_near import minhash_signatures
from lintseq_assets.curation.extract import ExtractionRejected, extract_code
from lintseq_assets.curation.filters import FilterRejected, check_program
from lintseq_assets.curation.token_views import chunk_views
from lintseq_assets.curation.tokens import code_tokens, exact_key
from lintseq_assets.runtime.executors import LocalExecutor, RayExecutor
from lintseq_assets.tables import CANDIDATES, REJECTS

RAW_COLUMNS = ("record_id", "source", "source_revision", "source_row", "instruction", "response")
# A candidate row as the workers make it: `_row` (its input position) first, no curation_hash
# (the asset adds it); the column types are the `candidates` table's.
CANDIDATE_SCHEMA = CANDIDATES.staged_schema(extra={"_row": pl.Int64}, without=("curation_hash",))
# A reject as a curation step makes it: its input position, not yet attributed to an asset.
RECORD_REJECT_SCHEMA = REJECTS.staged_schema(extra={"_row": pl.Int64}, without=("asset",))

# Settings the per-record stage depends on; the set steps only add `jaccard_threshold`.
RECORD_SETTINGS = (
    "min_statements",
    "max_lines",
    "max_bytes",
    "max_response_chars",
    "reject_lint_errors",
    "near_dedup",
    "num_perm",
    "shingle_size",
    "minhash_seed",
    "decontaminate",
    "include_humaneval",
    "benchmark_files",
    "ngram_n",
    "ngram_min_matches",
    "ngram_min_coverage",
    "normalized_ngram_n",
    "normalized_min_coverage",
)


def record_settings_hash(settings: CurationSettings) -> str:
    """Hash of the settings a candidate depends on: candidates made under other settings are stale."""
    described = settings.to_dict()
    payload = json.dumps({k: described[k] for k in RECORD_SETTINGS}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class RecordBatch:
    """One chunk's outcome: candidates, rejects (stage extract or filter), worker seconds."""

    candidates: pl.DataFrame
    rejects: pl.DataFrame
    seconds: dict[str, float]


def _text(value: object) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def curate_chunk(rows: list[tuple], settings: CurationSettings) -> RecordBatch:
    """Extract, filter and fingerprint one chunk of (row, record_id, source, revision, source_row,
    instruction, response) tuples. A plain function of its arguments, for any executor."""
    clock = time.perf_counter
    seconds = {"extract": 0.0, "filter": 0.0, "tokenise": 0.0}
    kept: list[dict] = []
    token_lists: list[list[str]] = []  # of kept programs; hashed views made once per chunk
    rejects: list[dict] = []
    for row, record_id, source, revision, source_row, instruction, response in rows:
        record_id, source = _text(record_id), _text(source)
        t0 = clock()
        try:
            extraction = extract_code(response, settings.max_response_chars)
        except ExtractionRejected as err:
            seconds["extract"] += clock() - t0
            rejects.append({"_row": row, "record_id": record_id, "source": source, "stage": "extract", "reason": err.reason, "detail": err.detail})
            continue
        t1 = clock()
        seconds["extract"] += t1 - t0
        try:
            checked = check_program(extraction.code, settings)
        except FilterRejected as err:
            seconds["filter"] += clock() - t1
            rejects.append({"_row": row, "record_id": record_id, "source": source, "stage": "filter", "reason": err.reason, "detail": err.detail})
            continue
        t2 = clock()
        seconds["filter"] += t2 - t1
        tokens = code_tokens(checked.text)
        token_lists.append(tokens)
        kept.append(
            {
                "_row": row,
                "record_id": record_id,
                "source": source,
                "source_revision": _text(revision),
                "source_row": source_row,
                "instruction": _text(instruction),
                "program_id": checked.program_id,
                "program": checked.text,
                "n_lines": checked.n_lines,
                "n_bytes": checked.n_bytes,
                "n_statements": checked.n_statements,
                "n_lint_errors": checked.n_lint_errors,
                "extraction": extraction.method,
                "n_blocks": extraction.n_blocks,
                "exact_key": exact_key(tokens),
            }
        )
        seconds["tokenise"] += clock() - t2
    t3 = clock()
    views = chunk_views(token_lists) if kept and (settings.near_dedup or settings.decontaminate) else None
    signatures: list[list[int] | None] = [None] * len(kept)
    if settings.near_dedup and views is not None:
        signatures = minhash_signatures(views.near, settings.num_perm, settings.shingle_size, settings.minhash_seed).tolist()
    verdicts = contamination_verdicts(token_lists, settings, views) if settings.decontaminate else [None] * len(kept)
    for candidate, signature, verdict in zip(kept, signatures, verdicts, strict=True):
        candidate["signature"] = signature
        candidate["contamination"], candidate["contamination_detail"] = verdict or (None, None)
    seconds["tokenise"] += clock() - t3
    return RecordBatch(
        pl.DataFrame(kept, schema=CANDIDATE_SCHEMA),
        pl.DataFrame(rejects, schema=RECORD_REJECT_SCHEMA),
        seconds,
    )


def raw_chunks(pages: Iterable[pl.DataFrame], chunk_size: int) -> Iterator[list[tuple]]:
    """Chunks of raw rows as tuples, numbered in arrival order (`_row`), a page at a time:
    only one page is ever converted to Python objects."""
    offset = 0
    for page in pages:
        columns = [page[c].to_list() if c in page.columns else [None] * page.height for c in RAW_COLUMNS]
        rows = list(zip(range(offset, offset + page.height), *columns, strict=True))
        offset += page.height
        for lo in range(0, len(rows), chunk_size):
            yield rows[lo : lo + chunk_size]


def curate_records(
    pages: Iterable[pl.DataFrame],
    settings: CurationSettings,
    executor: LocalExecutor | RayExecutor | None = None,
    chunk_size: int = 256,
) -> Iterator[RecordBatch]:
    """Run `curate_chunk` over every page of raw records on `executor`, results in input order."""
    executor = executor or LocalExecutor(workers=1)
    yield from executor.map_ordered(curate_chunk, raw_chunks(pages, chunk_size), settings)
