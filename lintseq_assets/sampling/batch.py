"""Sampling many programs, in parallel, with output independent of the worker count.

This is the one place batches of programs meet the engine: `lintseq sample` and the
`edit_sequences` asset both call `sample_many`. Each program is analysed once and sampled
`samples` times; seeds derive from (program_id, sample index, global seed), and results
come back in input order, so `-j 1` and `-j 4` write the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lintseq_assets.core import ProgramRejected, SamplerConfig, analyse_program, sample_analysed
from lintseq_assets.core.sampler import EditSequence
from lintseq_assets.runtime.executors import LocalExecutor, RayExecutor

CHUNK_CHARS = 32_000
CHUNK_PROGRAMS = 16  # programs per chunk at most: a chunk is one task for a worker


@dataclass(frozen=True)
class ProgramInput:
    record_id: str
    program: object


@dataclass
class SampledProgram:
    """Sequences for one input, or the reason it was refused (never both)."""

    record_id: str
    program_id: str | None
    program: str | None
    n_lines: int
    sequences: list[EditSequence]
    reject_reason: str | None = None
    reject_detail: str | None = None

    @property
    def rejected(self) -> bool:
        return self.reject_reason is not None


def sample_program(item: ProgramInput, config: SamplerConfig, samples: int, seed: int, engine: str = "fast") -> SampledProgram:
    """Analyse and sample one program; a refusal becomes a value, not an exception."""
    try:
        analysed = analyse_program(item.program, config)
    except ProgramRejected as rejected:
        return SampledProgram(item.record_id, None, None, 0, [], rejected.reason.value, rejected.detail)
    try:
        sequences = sample_analysed(analysed, samples=samples, seed=seed, config=config, engine=engine)
    except RecursionError:
        return SampledProgram(item.record_id, analysed.program.program_id, None, 0, [], "too_deep", "recursion limit while sampling")
    program = analysed.program
    return SampledProgram(item.record_id, program.program_id, program.text, len(program.lines), sequences)


def _sample_chunk(chunk: list[ProgramInput], config: SamplerConfig, samples: int, seed: int, engine: str) -> list[SampledProgram]:
    return [sample_program(item, config, samples, seed, engine) for item in chunk]


def _chunks(items: Iterable[ProgramInput], size: int, max_chars: int = CHUNK_CHARS) -> Iterator[list[ProgramInput]]:
    """Chunks of at most `size` programs and about `max_chars` of text.

    Bounding the text as well as the count keeps workers busy on a few large programs (a
    handful of long modules would otherwise travel as one chunk to one worker). Chunking
    only decides where work runs, never what it produces.
    """
    chunk: list[ProgramInput] = []
    chars = 0
    for item in items:
        chunk.append(item)
        chars += len(item.program) if isinstance(item.program, (str, bytes)) else 0
        if len(chunk) >= size or chars >= max_chars:
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk


def sample_many(
    items: Iterable[ProgramInput],
    *,
    config: SamplerConfig = SamplerConfig(),
    samples: int = 1,
    seed: int = 0,
    workers: int = 1,
    chunk_size: int = CHUNK_PROGRAMS,
    engine: str = "fast",
    start_method: str = "forkserver",
    executor: LocalExecutor | RayExecutor | None = None,
) -> Iterator[SampledProgram]:
    """Results in input order, on any executor; memory stays bounded by the chunks in flight.

    Without an explicit `executor`, `workers` local processes are used (see LocalExecutor
    for `start_method`).
    """
    executor = executor or LocalExecutor(workers=workers, start_method=start_method)
    for results in executor.map_ordered(_sample_chunk, _chunks(items, chunk_size), config, samples, seed, engine):
        yield from results
