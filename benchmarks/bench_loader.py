"""The loader on its own: how fast one writer brings staged edit sequences into the warehouse.

    python benchmarks/bench_loader.py --staged DIR [--parts 4] [--out bench/loader.json]

DIR is a staged `edit_sequences` partition (`$LINTSEQ_HOME/staging/edit_sequences/<config>/`,
e.g. kept by `bench_e2e.py --keep`): real rows, real sizes. Its shards are split into
`--parts` consecutive groups, standing for the sets that sampling nodes stage, and loaded
through `resources.loader.load` (the one writer, its lock, its merge) into a fresh warehouse:

- `append`: each group in turn, all keys new (what the loader does while nodes sample);
- `reload`: the whole set again, nothing changed (the merge compares every row);
- `update`: the whole set with `n_edits` changed on every row (every row rewritten).

Rates are rows/s and MB/s of staged Parquet, with the CPU seconds the loader's process spent
(a shared machine's load stretches wall time, not CPU time), its peak PSS and the load
average. `--memory-limit` sets the writer's DuckDB cap, as `LINTSEQ_LOADER_MEMORY_LIMIT` does
for the platform (default 256 MB; a commit of appended lists spills and re-reads under it, and
costs about half the CPU under 1 GB). The sampling rate of a 2-core node is `--sampling-rate`,
or read from a `bench_e2e.py` result (`--e2e`, sequences / sampling seconds), so the report
says how many such nodes one loader keeps up with. `--phases append,reload` skips the slow
`update`. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from resources.loader import Load, load  # noqa: E402
from resources.merge import parquet_select  # noqa: E402


def _groups(shards: list[Path], parts: int) -> list[list[Path]]:
    size = -(-len(shards) // parts)
    return [shards[i : i + size] for i in range(0, len(shards), size)]


MEMORY_LIMIT: str | None = None  # --memory-limit: the writer connection's DuckDB cap (default: the platform's 256 MB)


def _cpu() -> float:
    usage = os.times()
    return usage.user + usage.system


class PeakPss:
    """The process's peak PSS, sampled every 0.25 s from /proc (the loader is one process)."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = Path("/proc/self/smaps_rollup").read_text()
                pss = next(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:"))
                self.peak_kb = max(self.peak_kb, pss)
            except (OSError, StopIteration):
                return
            self._stop.wait(0.25)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _timed(database: Path, sql: str, scope: str | None, params: tuple, run_id: str) -> tuple[float, float, object]:
    started, cpu = time.perf_counter(), _cpu()
    config = {"memory_limit": MEMORY_LIMIT} if MEMORY_LIMIT else None
    stats = load(database, [Load("edit_sequences", sql, scope, params)], run_id=run_id, config=config)[0]
    return time.perf_counter() - started, _cpu() - cpu, stats


def _rate(rows: int, nbytes: int, seconds: float, cpu: float) -> dict:
    return {"rows": rows, "mb": round(nbytes / 1e6, 1), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "rows_per_s": round(rows / seconds), "mb_per_s": round(nbytes / 1e6 / seconds, 1),
            "rows_per_cpu_s": round(rows / cpu), "load_average": round(os.getloadavg()[0], 1)}


def sampling_rate(e2e: Path | None) -> float | None:
    """Sequences a 2-core node samples per second, from a bench_e2e.py result (largest run)."""
    if e2e is None or not e2e.is_file():
        return None
    runs = json.loads(e2e.read_text())["results"]
    run = max(runs, key=lambda r: r["counts"].get("edit_sequences", 0))
    return run["counts"]["edit_sequences"] / run["stages_seconds"]["sampling"]


def bench(staged: Path, parts: int, phases: tuple[str, ...] = ("append", "reload", "update")) -> dict:
    import pyarrow.parquet as pq

    shards = sorted(staged.glob("shard-*.parquet"))
    if not shards:
        raise SystemExit(f"{staged}: no staged shards")
    rows = [pq.ParquetFile(p).metadata.num_rows for p in shards]
    sizes = [p.stat().st_size for p in shards]
    by_shard = dict(zip(shards, zip(rows, sizes, strict=True), strict=True))
    config = str(pq.read_table(shards[0], columns=["config_hash"]).column(0)[0])
    home = Path(tempfile.mkdtemp(prefix="lintseq-loader-"))
    database = home / "lintseq.duckdb"
    result: dict = {"staged": str(staged), "shards": len(shards), "rows": sum(rows), "mb": round(sum(sizes) / 1e6, 1), "parts": parts}
    try:
        with PeakPss() as memory:
            seconds = cpu = 0.0
            for k, group in enumerate(_groups(shards, parts)):
                took, spent, stats = _timed(database, parquet_select(group, "edit_sequences"), None, (), f"append{k}")
                assert stats.inserted == sum(by_shard[p][0] for p in group), stats
                seconds, cpu = seconds + took, cpu + spent
            result["append"] = _rate(sum(rows), sum(sizes), seconds, cpu)
            print(json.dumps({"append": result["append"]}), file=sys.stderr, flush=True)
            everything = parquet_select(shards, "edit_sequences")
            if "reload" in phases:
                took, spent, stats = _timed(database, everything, "t.config_hash = ?", (config,), "reload")
                assert stats.inserted == stats.updated == stats.deleted == 0, stats
                result["reload"] = _rate(sum(rows), sum(sizes), took, spent)
                print(json.dumps({"reload": result["reload"]}), file=sys.stderr, flush=True)
            if "update" in phases:
                changed = f"SELECT * REPLACE (n_edits + 1 AS n_edits) FROM ({everything})"
                took, spent, stats = _timed(database, changed, "t.config_hash = ?", (config,), "update")
                assert stats.updated == sum(rows), stats
                result["update"] = _rate(sum(rows), sum(sizes), took, spent)
        result["peak_pss_mb"] = round(memory.peak_kb / 1024)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--staged", type=Path, required=True, help="a staged edit_sequences partition folder")
    parser.add_argument("--parts", type=int, default=4, help="groups of shards, one per sampling node")
    parser.add_argument("--e2e", type=Path, default=REPO / "bench" / "e2e.json", help="a bench_e2e.py result for the sampling rate")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "loader.json")
    parser.add_argument("--memory-limit", help="DuckDB memory cap of the writer (a loader on its own node can afford more than 256MB)")
    parser.add_argument("--sampling-rate", type=float, help="sequences/s one 2-core node samples (default: from --e2e)")
    parser.add_argument("--phases", default="append,reload,update", help="which of append,reload,update to run (append always runs)")
    args = parser.parse_args(argv)
    global MEMORY_LIMIT
    MEMORY_LIMIT = args.memory_limit
    load_before = os.getloadavg()[0]
    result = bench(args.staged, args.parts, tuple(args.phases.split(",")))
    result["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    result["memory_limit"] = args.memory_limit or "256MB (default)"
    rate = args.sampling_rate or sampling_rate(args.e2e)
    if rate:
        result["sampling_rows_per_s_per_node"] = round(rate)
        result["nodes_one_loader_keeps_up_with"] = round(result["append"]["rows_per_s"] / rate, 1)
        # The commit that writes the rows is one thread: on an idle loader node wall ~ CPU time.
        result["nodes_per_loader_cpu"] = round(result["append"]["rows_per_cpu_s"] / rate, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
