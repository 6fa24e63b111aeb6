"""One asset of the graph alone, on an existing LINTSEQ_HOME, with its memory by phase and by allocator.

A whole run says which step peaks, not why. This runs one asset (and its checks) in a fresh
process on a warehouse that is already there (a `bench_e2e.py --keep` home, say), samples
the process's RSS every 50 ms, and prints:

- each `--mark`ed function's start and end (e.g. `lintseq_assets.curation.selection_disk:_select`),
  the RSS there and the peak since the last mark;
- at the start, after each marked function and at the end, who holds the memory: Python's
  arenas (`sys._debugmallocstats`), glibc's heap (`mallinfo2`), DuckDB's jemalloc (its
  exported `duckdb_je_mallctl`), Arrow's pool, and `LazyFree` (pages handed back with
  `MADV_FREE`, which RSS and PSS still count).

    .venv/bin/python benchmarks/probe_step_memory.py --home <LINTSEQ_HOME> --asset programs \\
        --mark lintseq_assets.assets.programs:_copy_fingerprints \\
        --mark lintseq_assets.curation.selection_disk:_select

Marks replace a module attribute, so they see calls made through that module's name (a
function imported elsewhere with `from ... import` is marked in the importing module).
A partitioned asset takes `--partition`. It re-materializes the asset: the warehouse's rows
are replaced by the same rows (the loads are idempotent), but the second load of the same
rows takes its update path, slower than a first load.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import importlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _pymalloc_mb() -> tuple[int, int]:
    """(bytes in live blocks, bytes in arenas) of Python's allocator, in MB: its stats go to fd 2."""
    with tempfile.TemporaryFile(mode="w+") as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        live = total = 0
        for line in out:
            if line.startswith("# bytes in allocated blocks"):
                live = int(line.split("=")[1].replace(",", ""))
            elif line.startswith("Total") and not total:
                total = int(line.split("=")[1].replace(",", ""))
    return live >> 20, total >> 20


def _duckdb_jemalloc_mb() -> dict[str, int]:
    import _duckdb

    lib = ctypes.CDLL(_duckdb.__file__)
    epoch = ctypes.c_uint64(1)
    lib.duckdb_je_mallctl(b"epoch", None, None, ctypes.byref(epoch), ctypes.c_size_t(8))
    found = {}
    for name in ("allocated", "resident"):
        value, size = ctypes.c_size_t(0), ctypes.c_size_t(ctypes.sizeof(ctypes.c_size_t))
        if lib.duckdb_je_mallctl(f"stats.{name}".encode(), ctypes.byref(value), ctypes.byref(size), None, ctypes.c_size_t(0)) == 0:
            found[name] = value.value >> 20
    return found


def allocators(label: str) -> str:
    """One line: the process's RSS, PSS and LazyFree, and what each allocator holds (MB)."""
    rollup = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as smaps:
        for line in smaps:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:", "Anonymous:", "LazyFree:"):
                rollup[parts[0][:-1]] = int(parts[1]) >> 10
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    glibc = libc.mallinfo2()
    live, arenas = _pymalloc_mb()
    import pyarrow as pa

    return (
        f"[{label}] RSS {rollup['Rss']} PSS {rollup['Pss']} anon {rollup['Anonymous']} LazyFree {rollup.get('LazyFree', 0)} | "
        f"python live {live} arenas {arenas} | glibc heap {glibc.arena >> 20} in use {glibc.uordblks >> 20} mmap {glibc.hblkhd >> 20} | "
        f"duckdb jemalloc {_duckdb_jemalloc_mb()} | arrow {pa.total_allocated_bytes() >> 20}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an existing LINTSEQ_HOME with the asset's inputs in its warehouse")
    parser.add_argument("--asset", required=True, help="the asset to materialize alone (with its checks)")
    parser.add_argument("--partition", help="partition key, for a partitioned asset")
    parser.add_argument("--mark", action="append", default=[], metavar="MODULE:FUNCTION", help="a function whose start and end to mark")
    args = parser.parse_args(argv)
    os.environ.update(LINTSEQ_HOME=str(args.home), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")

    from dagster import AssetKey, DagsterInstance

    from lintseq_assets.definitions import build_definitions
    from lintseq_assets.platform.instance import prepare_dagster_home
    from lintseq_assets.platform.jobs import DOWNSTREAM_JOB, SOURCE_JOB
    from lintseq_assets.runtime.environment import load_settings
    from lintseq_assets.runtime.memory import resident_bytes

    samples: list[tuple[float, int]] = []
    marks: list[tuple[float, str, int]] = []
    reports: list[str] = []
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            samples.append((time.monotonic(), resident_bytes()))
            time.sleep(0.05)

    def mark(spec: str) -> None:
        module_name, name = spec.split(":")
        module = importlib.import_module(module_name)
        module = sys.modules.get(module_name, module)  # a package may shadow a module with an asset of its name
        original = getattr(module, name)

        @functools.wraps(original)
        def marked(*a, **k):
            marks.append((time.monotonic(), f"start {name}", resident_bytes()))
            try:
                return original(*a, **k)
            finally:
                marks.append((time.monotonic(), f"end {name}", resident_bytes()))
                reports.append(allocators(f"after {name}"))

        setattr(module, name, marked)

    for spec in args.mark:
        mark(spec)
    settings = load_settings()
    prepare_dagster_home(settings)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    defs = build_definitions()
    threading.Thread(target=sample, daemon=True).start()
    reports.append(allocators("start"))
    started = time.monotonic()
    marks.append((started, "start", resident_bytes()))
    job = SOURCE_JOB if args.partition else DOWNSTREAM_JOB
    with DagsterInstance.get() as instance:
        run = defs.resolve_job_def(job).execute_in_process(
            instance=instance, asset_selection=[AssetKey(args.asset)], partition_key=args.partition, raise_on_error=False
        )
    marks.append((time.monotonic(), "end", resident_bytes()))
    reports.append(allocators("end"))
    running.clear()
    print(f"{args.asset}: {'ok' if run.success else 'FAILED'} in {time.monotonic() - started:.0f} s")
    previous = started
    for at, label, rss in sorted(marks):
        window = [r for t, r in samples if previous <= t <= at]
        print(f"{at - started:8.1f} s  {label:40s} RSS {rss >> 20:6d} MB   peak since the last mark {max(window, default=rss) >> 20:6d} MB")
        previous = at
    print(f"peak RSS {max(r for _, r in samples) >> 20} MB")
    print("\n".join(reports))
    return 0 if run.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
