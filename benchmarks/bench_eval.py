"""Evaluation benchmark: the whole HumanEval evaluation, 164 tasks x 10 generations, on 2 cores.

    python benchmarks/bench_eval.py [--samples 10] [--workers 2] [--repeat 1] [--format diffs|code|both]
    python benchmarks/bench_eval.py --write DIR [--samples 10]   # only write the generation files

The generations are our own LintSeq edit sequences of the 164 canonical solutions (10 per
task, seeds 0..), so every one passes and each runs its tests to the end (the worst case for
time: a failing generation often stops early). The timed command is exactly what a user runs,
`lintseq eval humaneval GENERATIONS.jsonl -j 2`, as a subprocess in a fresh `LINTSEQ_HOME`:
decode, 1,640 sandboxed processes, the plot and the warehouse load. It prints one markdown
row per run for README.md / docs/evaluation.md. A benchmark, not a test: nothing is asserted
but that every generation passed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lintseq_assets.core import sample_edit_paths  # noqa: E402
from lintseq_assets.evaluation.problems import humaneval_problems  # noqa: E402
from lintseq_assets.evaluation.sandbox import capabilities  # noqa: E402


def write_generations(folder: Path, samples: int) -> dict[str, Path]:
    problems = humaneval_problems()
    diffs, code = folder / "humaneval_diffs.jsonl", folder / "humaneval_code.jsonl"
    with open(diffs, "w", encoding="utf-8") as d, open(code, "w", encoding="utf-8") as c:
        for task_id, problem in problems.items():
            for path in sample_edit_paths(problem.canonical_solution, samples=samples, seed=0):
                d.write(json.dumps({"task_id": task_id, "completion": "\n<|diff|>".join(path)}) + "\n")
            for _ in range(samples):
                c.write(json.dumps({"task_id": task_id, "completion": problem.canonical_solution[len(problem.prompt):]}) + "\n")
    return {"diffs": diffs, "code": code}


def run_once(generations: Path, fmt: str, workers: int) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the whole process tree, stdout). CPU time is what the run
    costs whatever else shares the machine; wall time is what a user waits."""
    with tempfile.TemporaryDirectory(prefix="bench-eval-home-") as home:
        env = {**os.environ, "LINTSEQ_HOME": home, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "lintseq_assets.cli", "eval", "humaneval", str(generations), "--format", fmt, "-j", str(workers), "-q"],
            capture_output=True, text=True, env=env, cwd=REPO,
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"bench_eval: lintseq eval failed: {result.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--format", choices=["diffs", "code", "both"], default="both")
    parser.add_argument("--write", metavar="DIR", help="write humaneval_diffs.jsonl and humaneval_code.jsonl to DIR and stop")
    args = parser.parse_args()
    if args.write:
        Path(args.write).mkdir(parents=True, exist_ok=True)
        for fmt, path in write_generations(Path(args.write), args.samples).items():
            print(f"{path}  ({164 * args.samples} generations, --format {fmt})")
        return 0
    caps = capabilities()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {date.today()}", file=sys.stderr)
    print(f"# sandbox: {caps.describe()}; interpreter {caps.python}", file=sys.stderr)
    formats = ["diffs", "code"] if args.format == "both" else [args.format]
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as folder:
        files = write_generations(Path(folder), args.samples)
        n = 164 * args.samples
        print("| format | generations | workers | wall (s) | CPU (s, process tree) | generations / s | pass@1 | load avg |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for fmt in formats:
            runs = []
            for _ in range(args.repeat):
                load = os.getloadavg()[0]
                seconds, cpu, out = run_once(files[fmt], fmt, args.workers)
                runs.append((seconds, cpu, load))
                if f"passed {n}/{n}" not in out:
                    raise SystemExit(f"bench_eval: not every generation passed:\n{out}")
            seconds, cpu, load = sorted(runs)[len(runs) // 2]  # the median run by wall time
            print(f"| {fmt} | {n} | {args.workers} | {seconds:.1f} | {cpu:.1f} | {n / seconds:.0f} | 100.0% | {load:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
