"""`lintseq decode` and `lintseq eval` end to end, as a user runs them (subprocesses).

The HumanEval runs are the issue's acceptance test: our own LintSeq edit sequences of the 164
canonical solutions decode to programs that pass every task (pass@1 = 1.0), and so do the plain
solutions with `--format code`; the rows land in the warehouse, queryable with `lintseq sql`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.mbpp import write_generations as write_mbpp_generations
from support.mbpp import write_sample as write_mbpp_sample

from lintseq_assets.core import sample_edit_paths
from lintseq_assets.evaluation.problems import humaneval_problems


def lintseq(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LINTSEQ_HOME": str(home), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "lintseq_assets.cli", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """HumanEval generations: edit sequences of the canonical solutions, and the solutions as code.

    The prompt given to an edit-sequence model is `HumanEval prompt + "\\n<|diff|>"`; its
    completion writes the whole program (prompt + solution) from the empty file, so ours is the
    edit path of prompt + canonical solution joined by "\\n<|diff|>"."""
    folder = tmp_path_factory.mktemp("generations")
    diffs, code = folder / "humaneval_diffs.jsonl", folder / "humaneval_code.jsonl"
    with open(diffs, "w", encoding="utf-8") as d, open(code, "w", encoding="utf-8") as c:
        for task_id, problem in humaneval_problems().items():
            path = sample_edit_paths(problem.canonical_solution, samples=1, seed=7)[0]
            d.write(json.dumps({"task_id": task_id, "completion": "\n<|diff|>".join(path) + "\n<|diff|><|endoftext|>"}) + "\n")
            c.write(json.dumps({"task_id": task_id, "completion": problem.canonical_solution[len(problem.prompt):]}) + "\n")
    return {"diffs": diffs, "code": code, "folder": folder}


def _sql(home: Path, query: str) -> list[dict]:
    result = lintseq(home, "sql", "--format", "json", query)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_humaneval_edit_sequences_pass_every_task(tmp_path, files):
    home = tmp_path / "home"
    result = lintseq(home, "eval", "humaneval", str(files["diffs"]), "-q")
    assert result.returncode == 0, result.stderr
    assert "164 generations of 164/164 tasks" in result.stdout
    assert "      1    100.0%" in result.stdout and "passed 164/164" in result.stdout
    assert "malformed edits by kind: none" in result.stdout
    out_dirs = list((home / "evaluations").glob("humaneval-humaneval_diffs-diffs-*"))
    assert len(out_dirs) == 1 and (out_dirs[0] / "passk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sum(1 for _ in open(out_dirs[0] / "results.jsonl")) == 164
    rows = _sql(home, "SELECT count(*) AS n, sum(passed::INT) AS ok, count(DISTINCT run_id) AS runs, min(evaluated_at) IS NOT NULL AS dated FROM evaluations")
    assert rows == [{"n": 164, "ok": 164, "runs": 1, "dated": True}]

    # The same file again: the key holds, nothing is added.
    again = lintseq(home, "eval", "humaneval", str(files["diffs"]), "-q")
    assert again.returncode == 0, again.stderr
    assert _sql(home, "SELECT count(*) AS n FROM evaluations") == [{"n": 164}]


def test_humaneval_plain_code_passes_every_task(tmp_path, files):
    home = tmp_path / "home"
    result = lintseq(home, "eval", "humaneval", str(files["code"]), "--format", "code", "-q", "--no-warehouse")
    assert result.returncode == 0, result.stderr
    assert "      1    100.0%" in result.stdout and "passed 164/164" in result.stdout
    assert not (home / "lintseq.duckdb").exists()


def test_decode_command(tmp_path, files):
    gens = tmp_path / "gens.jsonl"
    lines = files["diffs"].read_text(encoding="utf-8").splitlines()[:3]
    broken = json.loads(lines[0])
    broken["completion"] = "@@ -9,0 +10 @@\n+x = 1\n<|diff|>" + broken["completion"]
    gens.write_text("\n".join([*lines, json.dumps(broken)]) + "\n", encoding="utf-8")
    out = tmp_path / "programs.jsonl"
    result = lintseq(tmp_path, "decode", str(gens), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "decoded 4 rows (4 programs, 0 failed); malformed edits: hunk_past_end=1" in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    problems = humaneval_problems()
    assert rows[0]["program"] == problems[rows[0]["task_id"]].canonical_solution.strip("\n")
    assert rows[3]["malformed"] == {"hunk_past_end": 1} and rows[3]["program"] == rows[0]["program"]
    strict = lintseq(tmp_path, "decode", str(gens), "-o", str(out), "--malformed", "fail")
    assert "(3 programs, 1 failed)" in strict.stderr
    assert json.loads(out.read_text().splitlines()[3])["failure"].startswith("edit 1: hunk_past_end")


def test_mbpp_command(tmp_path):
    sample = write_mbpp_sample(tmp_path / "mbpp.jsonl")
    gens = write_mbpp_generations(tmp_path / "mbpp_gens.jsonl")
    result = lintseq(tmp_path / "home", "eval", "mbpp", str(gens), "--problems", str(sample), "-q")
    assert result.returncode == 0, result.stderr
    assert "9 generations of 3/3 tasks (n=3 per task)" in result.stdout and "66.7%" in result.stdout
    assert _sql(tmp_path / "home", "SELECT failure_kind, count(*) AS n FROM evaluations WHERE benchmark = 'mbpp' GROUP BY ALL ORDER BY 1 NULLS FIRST") == [
        {"failure_kind": None, "n": 6}, {"failure_kind": "assertion", "n": 2}, {"failure_kind": "error", "n": 1}]


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (("eval", "humaneval", "{gens}"), '{"task_id": "HumanEval/999", "completion": "x"}\n', "is not a task of this benchmark"),
        (("eval", "humaneval", "{gens}"), "not json\n", "not a JSON object"),
        (("eval", "humaneval", "{gens}"), '{"task_id": "HumanEval/0"}\n', 'needs "task_id" and a string "completion"'),
        (("eval", "mbpp", "{gens}"), '{"task_id": 1, "completion": "x"}\n', "give --problems"),
        (("eval", "humaneval", "{missing}"), "", "no such file"),
        (("decode", "{gens}", "-o", "{out}"), "[1, 2]\n", "no string field 'completion'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, content, message):
    gens = tmp_path / "gens.jsonl"
    gens.write_text(content, encoding="utf-8")
    filled = [a.format(gens=gens, missing=tmp_path / "missing.jsonl", out=tmp_path / "out.jsonl") for a in args]
    result = lintseq(tmp_path / "home", *filled)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
