"""Sampling workers that stage their own shards: the bucket, not the driver, carries the edit paths.

With `LINTSEQ_STAGING_URL` on a bucket and the Ray executor, each task samples one shard's
worth of programs (`shard_programs`) and PUTs the shard itself (`put_shard`: one object,
whole or absent), so the edit paths go from the worker's node straight to the bucket. The
driver gets back only what its bookkeeping needs (per program: ids, reject reason, the
number of edits of each sequence), adopts the shards in submission order and PUTs the
manifest last (`RemoteShardWriter.adopt`, `seal`): a driver killed before that leaves no
set the loader would load, and the rows are the same bytes as when the driver stages them
(`sequence_rows` builds them in both places).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import polars as pl

from lintseq_assets.core import SamplerConfig
from lintseq_assets.runtime.staging import put_shard, shard_name
from lintseq_assets.sampling.batch import ProgramInput, SampledProgram, sample_program
from lintseq_assets.sampling.plan import ProgramRow
from lintseq_assets.tables import EDIT_SEQUENCES

SEQUENCE_SCHEMA = EDIT_SEQUENCES.staged_schema()


def sequence_rows(result: SampledProgram, origin: ProgramRow) -> list[dict]:
    """The staged `edit_sequences` rows of one sampled program, with its provenance."""
    return [
        {
            "sequence_id": s.sequence_id,
            "program_id": s.program_id,
            "sample_index": s.sample_index,
            "seed": s.seed,
            "config_hash": s.config_hash,
            "n_edits": s.n_edits,
            "edit_path": list(s.edit_path),
            "record_id": origin.record_id,
            "source": origin.source,
            "source_revision": origin.source_revision,
            "source_row": origin.source_row,
        }
        for s in result.sequences
    ]


def is_staged(result: SampledProgram, origin: ProgramRow) -> bool:
    """Sequences are staged for a program the engine sampled under the id curation gave it."""
    return not result.rejected and result.program_id == origin.program_id


@dataclass(frozen=True)
class StagedChunk:
    """What a worker sends back: its shard's name (None when no row was staged) and rows,
    and each program's result without its sequences or text, with their edit counts."""

    shard: str | None
    rows: int
    results: list[SampledProgram]
    n_edits: list[list[int]]


def sample_and_stage(chunk: tuple[int, list[ProgramRow]], folder: str, config: SamplerConfig, samples: int, seed: int, engine: str = "fast") -> StagedChunk:
    """Sample a chunk of programs and PUT their rows as shard number `index` of `folder`."""
    index, origins = chunk
    results = [sample_program(ProgramInput(origin.record_id, origin.program), config, samples, seed, engine) for origin in origins]
    rows = [row for result, origin in zip(results, origins, strict=True) if is_staged(result, origin) for row in sequence_rows(result, origin)]
    shard = None
    if rows:
        shard = shard_name(index)
        put_shard(pl.DataFrame(rows, schema=SEQUENCE_SCHEMA), f"{folder}/{shard}")
    n_edits = [[s.n_edits for s in result.sequences] for result in results]
    light = [dataclasses.replace(result, sequences=[], program=None) for result in results]
    return StagedChunk(shard, len(rows), light, n_edits)


def numbered_chunks(origins: Iterable[ProgramRow], size: int) -> Iterator[tuple[int, list[ProgramRow]]]:
    """(index, up to `size` programs): a shard's worth per task, numbered in input order."""
    chunk: list[ProgramRow] = []
    index = 0
    for origin in origins:
        chunk.append(origin)
        if len(chunk) >= size:
            yield index, chunk
            chunk, index = [], index + 1
    if chunk:
        yield index, chunk
