"""Near de-dup three ways on one warehouse's candidates: in memory, out of core, and datatrove.

    python benchmarks/bench_dedup.py --warehouse HOME/lintseq.duckdb [--out bench/dedup.json] [--no-datatrove]

The warehouse is one a whole-graph run left (e.g. `bench_e2e.py --keep`). Its candidates'
fingerprints are exported once; then each way runs in its own fresh process, so its peak RSS
(VmHWM) is its own:

- `memory`: `select_programs` with the signatures in the frame (datasketch LSH, the old path);
- `disk`: `select_programs` with the signatures in a Parquet file (`dedup_near_disk`, the
  `programs` asset's path);
- `datatrove`: datatrove's MinHash de-dup pipeline (signatures, buckets, clusters, filter;
  PyPI `datatrove`, installed in `.bench-venv-datatrove` so its dependencies never touch
  ours) over the same programs: those still in play after decontamination and exact de-dup,
  as the identifier-normalised token text our step shingles (so both compare the same
  5-token shingles; datatrove tokenises words its own way). Its bands are set to ours.

Reported: seconds of the near-dedup step (datatrove: the whole pipeline), peak RSS of the
process, kept counts, and agreement: whether memory and disk keep the same set, and the
Jaccard of datatrove's kept set with ours. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATATROVE_VENV = REPO / ".bench-venv-datatrove"
DATATROVE_VERSION = "0.10.1"


def _peak_rss_mb() -> int:
    """This process's peak RSS since exec (VmHWM; ru_maxrss would carry the parent's peak over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def export(warehouse: Path, folder: Path) -> dict:
    """fingerprints.parquet (every candidate, keeper-order `_row`) and, for datatrove, the
    programs still in play before near de-dup as normalised token text (docs.jsonl)."""
    import duckdb
    import polars as pl

    from lintseq_assets.assets.programs import FINGERPRINTS_SQL
    from lintseq_assets.curation.config import CurationSettings
    from lintseq_assets.curation.selection import select_programs
    from lintseq_assets.curation.tokens import code_tokens, near_tokens

    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute(f"COPY ({FINGERPRINTS_SQL}) TO '{folder / 'fingerprints.parquet'}' (FORMAT parquet)")
        fingerprints = pl.read_parquet(folder / "fingerprints.parquet")
        in_play = select_programs(fingerprints.drop("signature"), CurationSettings(near_dedup=False), signatures=folder / "fingerprints.parquet").kept
        conn.register("in_play", in_play.select("record_id", "_row").to_arrow())
        programs = conn.sql("SELECT i._row, c.record_id, c.program FROM candidates c JOIN in_play i USING (record_id) ORDER BY i._row").pl()
    with open(folder / "docs.jsonl", "w", encoding="utf-8") as handle:
        for row, record_id, program in programs.iter_rows():
            text = " ".join(near_tokens(code_tokens(program)))
            handle.write(json.dumps({"id": record_id, "text": text, "metadata": {"row": row}}) + "\n")
    return {"candidates": fingerprints.height, "near_input": programs.height}


def run_ours(folder: Path, mode: str) -> dict:
    import polars as pl

    from lintseq_assets.curation.config import CurationSettings
    from lintseq_assets.curation.selection import select_programs

    settings = CurationSettings()
    path = folder / "fingerprints.parquet"
    if mode == "memory":
        fingerprints = pl.read_parquet(path)
        selection = select_programs(fingerprints, settings)
    else:
        fingerprints = pl.read_parquet(path, columns=[c for c in pl.read_parquet_schema(path) if c != "signature"])
        selection = select_programs(fingerprints, settings, signatures=path, scratch=folder)
    near = next(s for s in selection.stats if s.step == "dedup_near")
    kept = sorted(selection.kept["record_id"].to_list())
    (folder / f"kept-{mode}.json").write_text(json.dumps(kept))
    return {"mode": mode, "seconds": round(near.seconds, 2), "near_in": near.records_in, "kept": len(kept), "peak_rss_mb": _peak_rss_mb()}


DATATROVE_SCRIPT = r"""
import json, sys, time
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.dedup import MinhashDedupSignature, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.writers.jsonl import JsonlWriter
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig
from datatrove.utils.word_tokenizers import WordTokenizer


class TokenStream(WordTokenizer):
    # The documents are our token streams, one space between tokens: split on spaces (datatrove's
    # own word tokenizers need spaCy, and would cut code tokens differently).

    def word_tokenize(self, text):
        return text.split(" ")

    def sent_tokenize(self, text):
        return [text]

    def span_tokenize(self, text):
        return [(0, len(text))]


folder, buckets, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keep_tokens = TextNormConfig(lowercase=False, remove_punctuation=False, norm_unicode_diacritics=False, norm_numbers=False)
config = MinhashConfig(hash_config=HashConfig(precision=64), n_grams=5, num_buckets=buckets, hashes_per_bucket=rows, norm_config=keep_tokens)
read = lambda: JsonlReader(folder, glob_pattern="docs.jsonl")
started = time.perf_counter()
LocalPipelineExecutor(pipeline=[read(), MinhashDedupSignature(output_folder=f"{folder}/dt/sigs", config=config, language=TokenStream())], tasks=1, workers=1, logging_dir=f"{folder}/dt/logs1").run()
LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{folder}/dt/sigs", output_folder=f"{folder}/dt/buckets", config=config)], tasks=config.num_buckets, workers=1, logging_dir=f"{folder}/dt/logs2").run()
LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{folder}/dt/buckets", output_folder=f"{folder}/dt/remove_ids", config=config)], tasks=1, workers=1, logging_dir=f"{folder}/dt/logs3").run()
LocalPipelineExecutor(pipeline=[read(), MinhashDedupFilter(input_folder=f"{folder}/dt/remove_ids"), JsonlWriter(f"{folder}/dt/kept", compression=None)], tasks=1, workers=1, logging_dir=f"{folder}/dt/logs4").run()
seconds = time.perf_counter() - started
import glob
kept = sorted(json.loads(line)["id"] for path in glob.glob(f"{folder}/dt/kept/*.jsonl") for line in open(path))
json.dump(kept, open(f"{folder}/kept-datatrove.json", "w"))
hwm = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(json.dumps({"mode": "datatrove", "seconds": round(seconds, 2), "kept": len(kept), "peak_rss_mb": round(hwm / 1024)}))
"""


def datatrove_python() -> Path:
    python = DATATROVE_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DATATROVE_VENV)], check=True)
    if subprocess.run([str(python), "-c", "import datatrove"], capture_output=True).returncode:
        # regex, tokenizers, xxhash<4, orjson: what its MinHash steps and JSONL reader import (the `processing` extra would pull spaCy and more)
        subprocess.run([str(DATATROVE_VENV / "bin" / "pip"), "install", "-q", f"datatrove=={DATATROVE_VERSION}", "regex", "tokenizers", "xxhash<4", "orjson"], check=True)
    return python


def run_datatrove(folder: Path) -> dict:
    from lintseq_assets.curation.dedup_near_disk import band_layout

    bands, rows = band_layout(0.85, 128)
    out = subprocess.run([str(datatrove_python()), "-c", DATATROVE_SCRIPT, str(folder), str(bands), str(rows)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(bands=bands, rows=rows, version=DATATROVE_VERSION)
    return result


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, help="a warehouse with candidates (from a whole-graph run)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "dedup.json")
    parser.add_argument("--no-datatrove", action="store_true")
    parser.add_argument("--mode", choices=["memory", "disk"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:  # one way, in this fresh process
        print(json.dumps(run_ours(args.folder, args.mode)))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="lintseq-dedup-"))
    try:
        report = {"warehouse": str(args.warehouse), "load_average_before": os.getloadavg()[0], **export(args.warehouse, folder)}
        for mode in ("memory", "disk"):
            out = subprocess.run([sys.executable, __file__, "--mode", mode, "--folder", str(folder)], capture_output=True, text=True, check=True)
            report[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(report[mode]), file=sys.stderr, flush=True)
        memory = set(json.loads((folder / "kept-memory.json").read_text()))
        disk = set(json.loads((folder / "kept-disk.json").read_text()))
        report["memory_equals_disk"] = memory == disk
        report["memory_minus_disk"] = sorted(memory - disk)[:20]
        report["disk_minus_memory"] = sorted(disk - memory)[:20]
        if not args.no_datatrove:
            started = time.perf_counter()
            try:
                report["datatrove"] = run_datatrove(folder)
            except RuntimeError as error:
                report["datatrove"] = {"error": str(error)[-2000:]}
            else:
                report["datatrove"]["wall_seconds"] = round(time.perf_counter() - started, 1)
                ours = set(json.loads((folder / "kept-disk.json").read_text()))
                theirs = set(json.loads((folder / "kept-datatrove.json").read_text()))
                report["jaccard_kept_ours_datatrove"] = round(_jaccard(ours, theirs), 4)
                report["kept_only_ours"], report["kept_only_datatrove"] = len(ours - theirs), len(theirs - ours)
        report["load_average_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
