"""MBPP from a small sample file the test writes itself: one process per test, setup code first."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.mbpp import SAMPLE, write_generations, write_sample

from lintseq_assets.evaluation.problems import ProblemsError, mbpp_problems
from lintseq_assets.evaluation.runner import evaluate, read_generations
from lintseq_assets.evaluation.sandbox import SandboxLimits

LIMITS = SandboxLimits(timeout=5.0)


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
