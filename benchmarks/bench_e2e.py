"""End-to-end benchmark: the whole asset graph on N programs of the scale corpus.

    python benchmarks/bench_e2e.py [--sizes 10000,30000,90000] [--samples 5] [--workers 2]
                                   [--corpus DIR] [--out bench/e2e.json]

For each size N, a fresh LINTSEQ_HOME gets a sources.yaml reading the first N records of the
corpus (`make bench-data`, built here if missing), and `lintseq materialize` runs in a
subprocess. While it runs, the memory of its whole process tree (the run, the forkserver, the
step processes and their workers) is polled from /proc, two ways:

- RSS (`statm`, every 0.25 s), summed: an upper bound, since pages a forked worker shares
  with its parent (or two processes share through a file) count once per process;
- PSS (`Pss:` of `smaps_rollup`, every 0.5 s: the kernel walks the page tables for it),
  summed: each shared page is divided among the processes that map it, so the sum is what
  the tree really holds in RAM.

Peaks are kept overall and per stage (a stage's peak is the highest sample taken between
its steps' start and end), with the per-process breakdown at each stage's PSS peak and the
1-minute load average seen while the run went on. Stage times come from the run's own
Dagster event log (step start to step success), so they are what the UI shows, and checks
are grouped under `checks`. Results go to bench/e2e.json and a table is printed; nothing is
asserted (performance is measured here, never in tests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_corpus import CORPUS_FILE, build_corpus, write_sources  # noqa: E402

STAGES = {
    "raw_instructions": "ingest",
    "source_programs": "curation",  # the per-record half, run per source partition
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


def _tree(pid: int) -> dict[int, int]:
    """`pid` and all its descendants, each mapped to its parent."""
    tree, todo, found = _children(), [(pid, 0)], {}
    while todo:
        current, parent = todo.pop()
        found[current] = parent
        todo.extend((child, current) for child in tree.get(current, []))
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size in bytes (0 for a process that is gone or not ours to read)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants, summed, from /proc (psutil is not required)."""
    return sum(_rss(p) for p in _tree(pid))


def tree_pss(pid: int) -> int:
    """Proportional set size of `pid` and all its descendants, summed: shared pages count once in all."""
    return sum(_pss(p) for p in _tree(pid))


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _role(pid: int, parent: int, root: int) -> str:
    """A short name for a process of the tree, for the per-process breakdown: the run, a
    forkserver, a process forked from one (a Dagster step, or a step's worker), or other."""
    if pid == root:
        return "run"
    command = _command(pid)
    if "multiprocessing.forkserver" in command:
        # A forked child keeps its forkserver's command line.
        return "forked" if "multiprocessing.forkserver" in _command(parent) else "forkserver"
    for marker, role in (("resource_tracker", "resource_tracker"), ("watch_orphans", "watch_orphans"), ("raylet", "ray"), ("ray::", "ray")):
        if marker in command:
            return role
    return "process" if command else "gone"


class PeakSampler(threading.Thread):
    """Polls the process tree's RSS (every `every` s) and PSS (every `pss_every` s) until
    stopped; keeps the peaks, the time series and, per PSS sample, the per-process split."""

    def __init__(self, pid: int, every: float = 0.25, pss_every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.pss_ticks = max(1, round(pss_every / every))
        self.peak = self.peak_pss = 0
        self.series: list[tuple[float, int]] = []  # (time, summed RSS)
        self.pss_series: list[tuple[float, int, list[tuple[int, int, int]]]] = []  # (time, summed PSS, [(pid, rss, pss)])
        self.load: list[float] = []  # 1-minute load average at each tick
        self.roles: dict[int, str] = {}
        self._done = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self._done.wait(self.every):
            parents = _tree(self.pid)
            now = time.time()
            self.load.append(os.getloadavg()[0])
            if tick % self.pss_ticks == 0:
                # One pass over smaps_rollup gives both numbers for the same instant.
                split = [(p, _rss(p), _pss(p)) for p in parents]
                for p, _r, _ps in split:
                    if p not in self.roles:
                        self.roles[p] = _role(p, parents[p], self.pid)
                rss, pss = sum(r for _p, r, _ps in split), sum(ps for _p, _r, ps in split)
                self.pss_series.append((now, pss, [x for x in split if x[1]]))
                self.peak_pss = max(self.peak_pss, pss)
            else:
                rss = sum(_rss(p) for p in parents)
            self.peak = max(self.peak, rss)
            self.series.append((now, rss))
            tick += 1

    def stop(self) -> None:
        self._done.set()
        self.join()

    def breakdown(self, lo: float, hi: float) -> list[dict]:
        """The processes at the highest PSS sample in [lo, hi], largest first."""
        window = [s for s in self.pss_series if lo <= s[0] <= hi]
        if not window:
            return []
        _t, _total, split = max(window, key=lambda s: s[1])
        return [{"pid": p, "role": self.roles.get(p, "?"), "rss_mb": round(r / 2**20), "pss_mb": round(ps / 2**20)}
                for p, r, ps in sorted(split, key=lambda x: -x[2])]


def stage_seconds(dagster_home: Path) -> tuple[dict[str, float], dict[str, float], list[tuple[str, float, float]]]:
    """(seconds per stage, seconds per step, (step, start, end) of every step) over every run of
    the instance: `lintseq materialize` runs the ingest job once per source partition, then the
    downstream job, so a step (e.g. `raw_instructions`) can run several times; its seconds add up."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    steps: dict[str, float] = {}
    spans: list[tuple[str, float, float]] = []
    with DagsterInstance.get() as instance:
        for run in instance.get_runs():
            starts: dict[str, float] = {}
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None or event.step_key is None:
                    continue
                if event.event_type == DagsterEventType.STEP_START:
                    starts[event.step_key] = record.timestamp
                elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and event.step_key in starts:
                    steps[event.step_key] = steps.get(event.step_key, 0.0) + record.timestamp - starts[event.step_key]
                    spans.append((event.step_key, starts[event.step_key], record.timestamp))
    stages: dict[str, float] = {}
    for key, seconds in steps.items():
        stage = STAGES.get(key, "checks")
        stages[stage] = stages.get(stage, 0.0) + seconds
    return stages, steps, sorted(spans, key=lambda span: span[1])


def run_size(corpus: Path, n: int, samples: int, workers: int, extra_args: list[str], deadline: float | None = None) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"lintseq-e2e-{n}-"))
    sources = write_sources(corpus, limit=n, name=f"sources-{n}.yaml")
    env = {**os.environ, "LINTSEQ_HOME": str(home), "LINTSEQ_WORKERS": str(workers), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("DAGSTER_HOME", None)
    command = [str(REPO / ".venv" / "bin" / "lintseq"), "materialize", "-s", str(samples), "-j", str(workers), "--sources", str(sources), *extra_args]
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    sampler = PeakSampler(proc.pid)
    sampler.start()
    finished = True
    try:
        out, err = proc.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:  # a partial measurement: the steps done so far, the peaks seen so far
        finished = False
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop()
    if proc.returncode != 0:
        print(err[-3000:], file=sys.stderr)
    stages, steps, spans = stage_seconds(home / "dagster")
    peak_by_stage: dict[str, int] = {}
    pss_by_stage: dict[str, int] = {}
    pss_window: dict[str, tuple[float, float]] = {}  # the step span holding each stage's PSS peak
    for key, lo, hi in spans:
        stage = STAGES.get(key, "checks")
        peak = max((b for t, b in sampler.series if lo <= t <= hi), default=0)
        peak_by_stage[stage] = max(peak_by_stage.get(stage, 0), peak)
        pss = max((b for t, b, _s in sampler.pss_series if lo <= t <= hi), default=0)
        if pss >= pss_by_stage.get(stage, -1):
            pss_by_stage[stage], pss_window[stage] = pss, (lo, hi)
    # Per step: PSS when it started and at its peak, so what a step adds to the process (which
    # still holds what earlier steps left) can be told from what it found (the largest run of a
    # step that runs once per partition).
    by_step: dict[str, tuple[int, int]] = {}
    for key, lo, hi in spans:
        before = [b for t, b, _s in sampler.pss_series if t <= lo]
        inside = [b for t, b, _s in sampler.pss_series if lo <= t <= hi]
        if not before and not inside:
            continue
        at_start = before[-1] if before else inside[0]
        peak = max(inside, default=at_start)  # a step shorter than the poll may have no sample
        if peak >= by_step.get(key, (0, -1))[1]:
            by_step[key] = (at_start, peak)
    # Outside every step: start-up, between runs, and the command's own summary at the end.
    def outside(t: float) -> bool:
        return not any(lo <= t <= hi for _k, lo, hi in spans)

    peak_by_stage["other"] = max((b for t, b in sampler.series if outside(t)), default=0)
    other = [(t, b) for t, b, _s in sampler.pss_series if outside(t)]
    pss_by_stage["other"] = max((b for _t, b in other), default=0)
    if other:
        at = max(other, key=lambda sample: sample[1])[0]
        pss_window["other"] = (at, at)
    counts = _counts(home)
    t0 = sampler.series[0][0] if sampler.series else 0.0
    return {
        "n": n,
        "samples": samples,
        "workers": workers,
        "ok": proc.returncode == 0,
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(sampler.peak / 2**20),
        "peak_rss_mb_by_stage": {k: round(v / 2**20) for k, v in peak_by_stage.items()},
        "peak_pss_mb": round(sampler.peak_pss / 2**20),
        "peak_pss_mb_by_stage": {k: round(v / 2**20) for k, v in pss_by_stage.items()},
        "processes_at_stage_pss_peak": {k: sampler.breakdown(lo, hi) for k, (lo, hi) in pss_window.items()},
        "pss_mb_by_step": {k: {"at_start": round(a / 2**20), "peak": round(b / 2**20)} for k, (a, b) in sorted(by_step.items())},
        "rss_series_mb": [(round(t - t0, 1), round(b / 2**20)) for t, b in sampler.series[:: max(1, len(sampler.series) // 60)]],
        "pss_series_mb": [(round(t - t0, 1), round(b / 2**20)) for t, b, _s in sampler.pss_series[:: max(1, len(sampler.pss_series) // 60)]],
        "load_during": [round(min(sampler.load), 2), round(max(sampler.load), 2)] if sampler.load else [],
        "stages_seconds": {k: round(v, 1) for k, v in stages.items()},
        "steps_seconds": {k: round(v, 1) for k, v in sorted(steps.items())},
        "counts": counts,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "home": str(home),
        "finished": finished,
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
    head = "| programs in | kept | sequences | wall s | " + " | ".join(order) + " | seq/s | peak RSS MB | peak PSS MB | workers | load |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    memory = []
    for r in results:
        stages = r["stages_seconds"]
        total = sum(stages.values()) or 1.0
        cells = " | ".join(f"{stages.get(s, 0):.0f} ({100 * stages.get(s, 0) / total:.0f}%)" for s in order)
        seqs = r["counts"].get("edit_sequences", 0)
        lines.append(
            f"| {r['n']:,} | {r['counts'].get('programs', 0):,} | {seqs:,} | {r['wall_seconds']:.0f} | {cells} | "
            f"{seqs / r['wall_seconds']:.0f} | {r['peak_rss_mb']:,} | {r.get('peak_pss_mb', 0):,} | {r['workers']} | {_load(r)} |"
        )
        rss, pss = r["peak_rss_mb_by_stage"], r.get("peak_pss_mb_by_stage", {})
        memory.append(f"| {r['n']:,} | {r['workers']} | " + " | ".join(f"{rss.get(s, 0):,} / {pss.get(s, 0):,}" for s in [*order, "other"])
                      + f" | {r['peak_rss_mb']:,} / {r.get('peak_pss_mb', 0):,} |")
    head = "| programs in | workers | " + " | ".join(order) + " | outside steps | whole run |"
    lines += ["", "Peak memory of the process tree, RSS / PSS (MB):", "", head, "|" + "---|" * (head.count("|") - 1), *memory]
    return "\n".join(lines)


def _load(result: dict) -> str:
    """The 1-minute load average while the run went on (min-max), else before it."""
    during = result.get("load_during")
    return f"{during[0]:.1f}-{during[1]:.1f}" if during else f"{result['load_before'][0]:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path(os.environ.get("LINTSEQ_HOME", REPO / "data"))
    parser.add_argument("--sizes", default=os.environ.get("LINTSEQ_BENCH_SIZES", "3000"), help="comma-separated program counts")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--workers", default="2", help="comma-separated worker counts (e.g. 1,2 for the scaling row)")
    parser.add_argument("--corpus", type=Path, default=home / "bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "e2e.json")
    parser.add_argument("--keep", action="store_true", help="keep each run's LINTSEQ_HOME")
    parser.add_argument("--deadline", type=float, help="stop a run after this many seconds and report what it measured so far")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not (args.corpus / CORPUS_FILE).exists():
        print(f"building the corpus in {args.corpus} ...", file=sys.stderr)
        build_corpus(args.corpus, target=max(max(sizes), 90_000))
    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        for n in sizes:
            print(f"materializing {n:,} programs with {workers} worker(s) (load {os.getloadavg()[0]:.1f}) ...", file=sys.stderr)
            result = run_size(args.corpus, n, args.samples, workers, [], args.deadline)
            results.append(result)
            print(json.dumps({k: result[k] for k in ("n", "workers", "wall_seconds", "peak_rss_mb", "peak_pss_mb", "stages_seconds")}), file=sys.stderr)
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
