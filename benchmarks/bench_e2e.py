"""End-to-end benchmark: the whole asset graph on N programs of the scale corpus.

    python benchmarks/bench_e2e.py [--sizes 10000,30000,90000] [--samples 5] [--workers 2]
                                   [--corpus DIR] [--out bench/e2e.json]

For each size N, a fresh LINTSEQ_HOME gets a sources.yaml reading the first N records of the
corpus (`make bench-data`, built here if missing), and `lintseq materialize` runs in a
subprocess. While it runs, the RSS of its whole process tree (the run plus its worker
processes, summed: an upper bound, shared pages count twice) is polled from /proc. Stage
times come from the run's own Dagster event log (step start to step success), so they are
what the UI shows, and checks are grouped under `checks`. Results go to bench/e2e.json and a
table is printed; nothing is asserted (performance is measured here, never in tests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lintseq_assets.bench_corpus import CORPUS_FILE, build_corpus, write_sources  # noqa: E402

STAGES = {
    "raw_instructions": "ingest",
    "programs": "curation",
    "edit_sequence_shards": "sampling",
    "edit_sequences": "load",
    "training_exports": "exports",
}
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants, from /proc (psutil is not required)."""
    tree, todo, total = _children(), [pid], 0
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, []))
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


class PeakSampler(threading.Thread):
    """Polls the process tree's RSS until stopped; keeps the peak and a coarse time series."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.series = pid, every, 0, []
        self._done = threading.Event()
        self._t0 = time.perf_counter()

    def run(self) -> None:
        while not self._done.wait(self.every):
            rss = tree_rss(self.pid)
            self.peak = max(self.peak, rss)
            self.series.append((time.time(), rss))

    def stop(self) -> None:
        self._done.set()
        self.join()


def stage_seconds(dagster_home: Path) -> tuple[dict[str, float], dict[str, float], dict[str, tuple[float, float]]]:
    """(seconds per stage, seconds per step, (start, end) timestamps per step) of the latest run, from its event log."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        starts: dict[str, float] = {}
        steps: dict[str, float] = {}
        spans: dict[str, tuple[float, float]] = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                starts[event.step_key] = record.timestamp
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and event.step_key in starts:
                steps[event.step_key] = record.timestamp - starts[event.step_key]
                spans[event.step_key] = (starts[event.step_key], record.timestamp)
    stages: dict[str, float] = {}
    for key, seconds in steps.items():
        stage = STAGES.get(key, "checks")
        stages[stage] = stages.get(stage, 0.0) + seconds
    return stages, steps, spans


def run_size(corpus: Path, n: int, samples: int, workers: int, extra_args: list[str]) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"lintseq-e2e-{n}-"))
    sources = write_sources(corpus, limit=n, name=f"sources-{n}.yaml")
    env = {**os.environ, "LINTSEQ_HOME": str(home), "LINTSEQ_WORKERS": str(workers), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("DAGSTER_HOME", None)
    command = [str(REPO / ".venv" / "bin" / "lintseq"), "materialize", "-s", str(samples), "-j", str(workers), "--sources", str(sources), *extra_args]
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = PeakSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop()
    if proc.returncode != 0:
        print(err[-3000:], file=sys.stderr)
    stages, steps, spans = stage_seconds(home / "dagster")
    peak_by_stage: dict[str, int] = {}
    for key, (lo, hi) in spans.items():
        stage = STAGES.get(key, "checks")
        peak = max((b for t, b in sampler.series if lo <= t <= hi), default=0)
        peak_by_stage[stage] = max(peak_by_stage.get(stage, 0), peak)
    counts = _counts(home)
    return {
        "n": n,
        "samples": samples,
        "workers": workers,
        "ok": proc.returncode == 0,
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(sampler.peak / 2**20),
        "peak_rss_mb_by_stage": {k: round(v / 2**20) for k, v in peak_by_stage.items()},
        "rss_series_mb": [(round(t - sampler.series[0][0], 1), round(b / 2**20)) for t, b in sampler.series[:: max(1, len(sampler.series) // 60)]],
        "stages_seconds": {k: round(v, 1) for k, v in stages.items()},
        "steps_seconds": {k: round(v, 1) for k, v in sorted(steps.items())},
        "counts": counts,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "home": str(home),
    }


def _counts(home: Path) -> dict:
    import duckdb

    path = home / "lintseq.duckdb"
    if not path.exists():
        return {}
    with duckdb.connect(str(path), read_only=True) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("raw_instructions", "programs", "rejects", "edit_sequences")}


def table(results: list[dict]) -> str:
    order = ["ingest", "curation", "sampling", "load", "checks", "exports"]
    head = "| programs in | kept | sequences | wall s | " + " | ".join(order) + " | seq/s | peak RSS MB | workers | load |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        stages = r["stages_seconds"]
        total = sum(stages.values()) or 1.0
        cells = " | ".join(f"{stages.get(s, 0):.0f} ({100 * stages.get(s, 0) / total:.0f}%)" for s in order)
        seqs = r["counts"].get("edit_sequences", 0)
        lines.append(
            f"| {r['n']:,} | {r['counts'].get('programs', 0):,} | {seqs:,} | {r['wall_seconds']:.0f} | {cells} | "
            f"{seqs / r['wall_seconds']:.0f} | {r['peak_rss_mb']:,} | {r['workers']} | {r['load_before'][0]:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path(os.environ.get("LINTSEQ_HOME", REPO / "data"))
    parser.add_argument("--sizes", default=os.environ.get("LINTSEQ_BENCH_SIZES", "3000"), help="comma-separated program counts")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--workers", default="2", help="comma-separated worker counts (e.g. 1,2 for the scaling row)")
    parser.add_argument("--corpus", type=Path, default=home / "bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "e2e.json")
    parser.add_argument("--keep", action="store_true", help="keep each run's LINTSEQ_HOME")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not (args.corpus / CORPUS_FILE).exists():
        print(f"building the corpus in {args.corpus} ...", file=sys.stderr)
        build_corpus(args.corpus, target=max(max(sizes), 90_000))
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        for n in sizes:
            print(f"materializing {n:,} programs with {workers} worker(s) (load {os.getloadavg()[0]:.1f}) ...", file=sys.stderr)
            result = run_size(args.corpus, n, args.samples, workers, [])
            results.append(result)
            print(json.dumps({k: result[k] for k in ("n", "workers", "wall_seconds", "peak_rss_mb", "stages_seconds")}), file=sys.stderr)
            if not args.keep:
                subprocess.run(["rm", "-rf", result["home"]], check=False)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": date.today().isoformat(),
        "corpus": json.loads((args.corpus / "corpus.json").read_text()) if (args.corpus / "corpus.json").exists() else {},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
