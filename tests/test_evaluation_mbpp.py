"""MBPP from a small sample file the test writes itself: one process per test, setup code first."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lintseq_assets.core import sample_edit_paths
from lintseq_assets.evaluation.problems import ProblemsError, mbpp_problems
from lintseq_assets.evaluation.runner import evaluate, read_generations
from lintseq_assets.evaluation.sandbox import SandboxLimits

SAMPLE = [
    {"task_id": 11, "text": "Write a function to add two numbers.", "code": "def add(a, b):\n    return a + b",
     "test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"],
     "test_setup_code": "", "challenge_test_list": ["assert add(10 ** 20, 1) == 10 ** 20 + 1"]},
    {"task_id": 12, "text": "Write a function for the area of a circle.", "code": "def circle_area(r):\n    return math.pi * r * r",
     "test_list": ["assert circle_area(0) == 0", "assert abs(circle_area(1) - 3.14159) < 1e-4", "assert circle_area(2) > 12"],
     "test_setup_code": "import math", "challenge_test_list": []},
    {"task_id": 13, "text": "Write a function that tells whether a number is even.", "code": "def is_even(n):\n    if n % 2 == 0:\n        return True\n    return False",
     "test_list": ["assert is_even(2)", "assert not is_even(3)", "assert is_even(0)"], "test_setup_code": "", "challenge_test_list": []},
]
WRONG = {"11": "def add(a, b):\n    return a - b", "12": "def circle_area(r):\n    return r / 0", "13": "def is_even(n):\n    return True"}
LIMITS = SandboxLimits(timeout=5.0)


def write_sample(path):
    """The MBPP sample file the tests (and the CLI test) use."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in SAMPLE:
            handle.write(json.dumps(row) + "\n")
    return path


def write_generations(path):
    """Per task: the solution as an edit sequence, twice, and a wrong program as an edit sequence."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in SAMPLE:
            for edit_path in sample_edit_paths(row["code"], samples=2, seed=0):
                handle.write(json.dumps({"task_id": row["task_id"], "completion": "\n<|diff|>".join(edit_path)}) + "\n")
            wrong = sample_edit_paths(WRONG[str(row["task_id"])], samples=1, seed=0)[0]
            handle.write(json.dumps({"task_id": row["task_id"], "completion": "\n<|diff|>".join(wrong)}) + "\n")
    return path


def test_mbpp_from_jsonl(tmp_path):
    problems = mbpp_problems(str(write_sample(tmp_path / "mbpp.jsonl")))
    assert sorted(problems) == ["11", "12", "13"] and problems["12"].setup_code == "import math"
    generations = read_generations(write_generations(tmp_path / "gens.jsonl"), problems)
    run = evaluate(problems, generations, benchmark="mbpp", fmt="diffs", limits=LIMITS, workers=2)
    by = {(r.task_id, r.generation_index): r for r in run.results}
    for task in ("11", "12", "13"):
        assert by[(task, 0)].passed and by[(task, 1)].passed
        assert by[(task, 0)].n_tests == by[(task, 0)].n_tests_passed == 3  # one process per test
        assert not by[(task, 2)].passed
    assert by[("11", 2)].failure_kind == "assertion" and by[("11", 2)].n_tests_passed == 0
    assert "assert add(1, 2) == 3" in by[("11", 2)].detail  # the first failing test, by its line
    assert by[("12", 2)].failure_kind == "error" and "ZeroDivisionError" in by[("12", 2)].detail
    assert by[("13", 2)].failure_kind == "assertion" and by[("13", 2)].n_tests_passed == 2
    assert run.pass_at_k[1] == pytest.approx(2 / 3)
    assert run.pass_at_k[3] == pytest.approx(1.0)


def test_mbpp_from_parquet_with_challenge_tests_and_code_format(tmp_path):
    path = tmp_path / "mbpp.parquet"
    pq.write_table(pa.Table.from_pylist(SAMPLE), path)
    problems = mbpp_problems(str(path), challenge=True)
    assert len(problems["11"].tests) == 4
    gens = tmp_path / "code.jsonl"
    gens.write_text("".join(json.dumps({"task_id": r["task_id"], "completion": r["code"]}) + "\n" for r in SAMPLE), encoding="utf-8")
    run = evaluate(problems, read_generations(gens, problems), benchmark="mbpp", fmt="code", limits=LIMITS, workers=2)
    assert all(r.passed for r in run.results) and run.pass_at_k == {1: 1.0}
    assert sum(r.n_tests for r in run.results) == 4 + 3 + 3


def test_problem_sources_that_do_not_load_say_so(tmp_path):
    with pytest.raises(ProblemsError, match="no such file"):
        mbpp_problems(str(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": 1}\n', encoding="utf-8")
    with pytest.raises(ProblemsError, match="test_list"):
        mbpp_problems(str(bad))
    with pytest.raises(ProblemsError, match="cannot load hub dataset"):
        mbpp_problems("no-such-owner/no-such-mbpp")  # offline in the tests: refused in one line
