"""Timing on a synthetic corpus: `python benchmarks/bench_curation.py --n 100000`.

Programs are generated from statement templates with random names and constants (no two
alike by chance), and 10% of them are copies with the function's parameters
renamed (near duplicates). `--full` times the whole `curate_programs`; without it only the
near-dedup step (signatures + LSH) on pre-tokenised programs, which is the part that must
scale. Nothing here is imported by the pipeline.
"""

from __future__ import annotations

import argparse
import random
import time

import polars as pl

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.dedup_near import minhash_signatures, near_duplicates
from lintseq_assets.curation.tokens import TokenHasher, code_tokens, near_tokens

_TEMPLATES = (
    "{a} = {b} + {n}",
    "{a} = [{b} * {n} for {c} in range({m})]",
    "if {a} > {n}:\n    {b} = {a} - {m}",
    "for {c} in range({n}):\n    {a} += {c} * {m}",
    "{a} = {{'{b}': {n}, '{c}': {m}}}",
    "while {a} < {n}:\n    {a} += {m}",
    "{a} = sorted({b}, key=lambda {c}: {c} % {n})",
    "print({a}, {b}, '{c}')",
    "{a} = str({b}).replace('{c}', '{n}')",
    "try:\n    {a} = int('{n}')\nexcept ValueError:\n    {a} = {m}",
)


def _name(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))


def synthetic_program(rng: random.Random, n_lines: int) -> str:
    names = [_name(rng) for _ in range(6)]
    lines = [f"def {_name(rng)}({names[0]}, {names[1]}):"]
    body = []
    for _ in range(n_lines):
        t = rng.choice(_TEMPLATES)
        body.append(t.format(a=rng.choice(names), b=rng.choice(names), c=rng.choice(names), n=rng.randint(0, 999), m=rng.randint(0, 99)))
    body.append(f"return {names[0]}")
    lines += ["    " + line for chunk in body for line in chunk.split("\n")]
    return "\n".join(lines) + "\n"


def near_copy(rng: random.Random, program: str) -> str:
    """Rename the function's parameters everywhere: same tokens up to identifiers."""
    out = program
    for old in program.split("(", 1)[1].split(")", 1)[0].split(", "):
        out = out.replace(old, _name(rng) + "_r")
    return out


def synthetic_corpus(n: int, near_share: float = 0.1, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    programs: list[str] = []
    for _ in range(n):
        if programs and rng.random() < near_share:
            programs.append(near_copy(rng, rng.choice(programs)))
        else:
            programs.append(synthetic_program(rng, rng.randint(5, 25)))
    return programs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="time curate_programs end to end")
    args = parser.parse_args()
    programs = synthetic_corpus(args.n)
    settings = CurationSettings(decontaminate=False) if args.full else CurationSettings()
    if args.full:
        from lintseq_assets.curation.pipeline import curate_programs

        raw = pl.DataFrame(
            {
                "record_id": [f"r{i}" for i in range(args.n)],
                "source": ["synthetic"] * args.n,
                "source_row": list(range(args.n)),
                "response": [f"Here you go:\n```python\n{p}```\n" for p in programs],
            }
        )
        result = curate_programs(raw, settings)
        print(result.to_markdown())
        return
    t0 = time.perf_counter()
    hasher = TokenHasher()
    arrays = [hasher(near_tokens(code_tokens(p))) for p in programs]
    t1 = time.perf_counter()
    signatures = minhash_signatures(arrays, settings.num_perm, settings.shingle_size, settings.minhash_seed)
    t2 = time.perf_counter()
    keeper, _ = near_duplicates(signatures, settings.jaccard_threshold, settings.minhash_seed)
    t3 = time.perf_counter()
    n_tokens = sum(len(a) for a in arrays)
    print(f"{args.n} programs, {n_tokens} tokens: tokenise {t1 - t0:.1f}s, signatures {t2 - t1:.1f}s, "
          f"LSH {t3 - t2:.1f}s; near duplicates found {(keeper >= 0).sum()}")


if __name__ == "__main__":
    main()
