"""How fast is this machine at our work? One minute, before any run you want to compare.

The 10x runs in docs/scale.md are only comparable on machines of the same speed, and the
machines these runs get differ by 1.5x on the same code (2026-12-01: run 12's machine and
run 13's). A tiny loop (`python -m timeit "sum(range(10**6))"`) did not tell them apart (15.6
ms on the slow one); per-record curation, the step that is half of a 10x run, did. So this
times `curate_chunk` (extract, lint, filter, tokenise) on a fixed 20,000-record slice of the
10x corpus, in one process, and prints the rate next to the machines measured so far.

    .venv/bin/python benchmarks/machine_check.py                     # the 10x corpus' slice
    .venv/bin/python benchmarks/machine_check.py --corpus data/bench  # the 90K corpus' first 20K

Nothing here is imported by the pipeline; the input code is parsed and linted, never run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import polars as pl

from lintseq_assets.curation import CurationSettings
from lintseq_assets.curation.records import curate_chunk, raw_chunks

RECORDS = 20_000
# Where the slice starts in the 10x corpus: past its first packages, so it is typical code.
SLICE_START_10X = 500_000

# Seconds for `curate_chunk` over the slice, by corpus folder and machine (docs/scale.md, "Machines").
KNOWN = {
    "bench10x": [
        ("run 12's machine, 2026-12-01 03:30 (13.9-14.4 s; 10x run 2,246 s)", 14.1),
        ("run 13's machine, 2026-12-01 10:15 (10x run stopped at 3,300 s, in the exports)", 21.0),
        ("session 15's machine, 2026-12-01 12:50 (no 10x run: about 78 minutes at this rate)", 29.2),
        ("session 16's machine, 2026-12-01 16:09 (90K run 386 s; 10x run 15)", 28.4),
        ("session 17's machine, 2026-12-01 19:37 (90K run 398 s; 10x run 16 5,060 s)", 33.0),
    ],
    "bench": [
        ("run 13's machine, 2026-12-01 10:25 (the 90K run at 09:06: 270 s)", 27.5),
    ],
}


def read_slice(corpus: Path, start: int, count: int) -> pl.DataFrame:
    """`count` records of the corpus' programs.jsonl from line `start`, as raw rows."""
    rows = []
    with (corpus / "programs.jsonl").open() as handle:
        for line in itertools.islice(handle, start, start + count):
            record = json.loads(line)
            rows.append(
                {
                    "record_id": str(record["id"]),
                    "source": "bench",
                    "source_revision": "machine-check",
                    "source_row": len(rows),
                    "instruction": record["instruction"],
                    "response": record["response"],
                }
            )
    return pl.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="data/bench10x", help="a folder with programs.jsonl (bench_corpus*.py builds one)")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if not (corpus / "programs.jsonl").is_file():
        print(f"machine_check: no {corpus}/programs.jsonl; build it first (make bench-data, or benchmarks/bench_corpus_10x.py --out {corpus})", file=sys.stderr)
        return 2
    start = SLICE_START_10X if corpus.resolve().name == "bench10x" else 0
    page = read_slice(corpus, start, RECORDS)
    if page.height < RECORDS:
        print(f"machine_check: {corpus}/programs.jsonl has fewer than {start + RECORDS:,} records", file=sys.stderr)
        return 2
    settings = CurationSettings()
    chunks = list(raw_chunks([page], 256))
    began = time.perf_counter()
    candidates = sum(curate_chunk(chunk, settings).candidates.height for chunk in chunks)
    seconds = time.perf_counter() - began
    print(f"{corpus}: {page.height:,} records from line {start:,}, {candidates:,} candidates in {seconds:.1f} s ({page.height / seconds:,.0f} records/s)")
    for machine, known in KNOWN.get(corpus.resolve().name, []):
        print(f"  {machine}: {known:.1f} s, this one is {seconds / known:.2f}x that")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
