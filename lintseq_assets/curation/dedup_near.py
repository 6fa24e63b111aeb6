"""Near de-duplication: MinHash LSH over identifier-normalised token shingles.

Each program becomes the set of its `shingle_size`-token windows over `tokens.near_tokens`
(renamed variables give the same tokens). MinHash signatures for the whole corpus are
computed at once with numpy, using datasketch's own `affine32` permutations, so a signature is
exactly what `datasketch.MinHash(num_perm, seed, hashfunc=<our 32-bit shingle hash>)` would
compute, only without a Python call per shingle. Candidates come from datasketch's
`MinHashLSH` (bands chosen by datasketch for the threshold); each candidate is then verified on
the estimated Jaccard (share of equal signature slots) against `jaccard_threshold`.

Keeper rule: programs are visited in keeper order (source, source_row, record_id). A
program is kept unless it matches an already *kept* one, in which case it is rejected
`near_duplicate_of:<program_id>` naming the earliest kept match. Only kept programs enter the
index, so there are no chains (A kept, B near A, C near B but not A: C is kept). The order
does not depend on input order, so neither does the result.

Where: signatures are per program, so they are computed in the per-record stage
(`records.py`, a chunk at a time in the workers); this step only reads them (512 bytes per
program at num_perm 128). Cost: linear in the number of shingles for signatures (vectorised,
`num_perm` passes), and one LSH query (+ insert when kept) per program; no pairwise comparison.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from datasketch import LeanMinHash, MinHash, MinHashLSH

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.tokens import flatten, ngram_hashes

STEP = "dedup_near"
SCHEME = "affine32"
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def _fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer, as datasketch applies it before its affine32 permutations."""
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


def shingle_hashes32(token_arrays: list[np.ndarray], shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit shingle hashes of every program (flat) and the start offset of each program's run."""
    flat, offsets = flatten(token_arrays)
    hashes, owners = ngram_hashes(flat, offsets, shingle_size, whole_if_short=True)
    folded = ((hashes ^ (hashes >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    starts = np.searchsorted(owners, np.arange(len(token_arrays)), side="left")
    return folded, starts


BLOCK_PROGRAMS = 4096  # programs hashed at once: the shingle arrays are ~40 bytes per token


def minhash_signatures(token_arrays: list[np.ndarray], num_perm: int, shingle_size: int, seed: int) -> np.ndarray:
    """(n_programs, num_perm) uint32 MinHash signatures, datasketch-compatible (affine32).

    Signatures are per program, so they are computed a block of programs at a time: the
    same numbers, with memory bounded by the block instead of the corpus's token count."""
    signatures = np.empty((len(token_arrays), num_perm), dtype=np.uint32)
    for lo in range(0, len(token_arrays), BLOCK_PROGRAMS):
        signatures[lo : lo + BLOCK_PROGRAMS] = _signatures_block(token_arrays[lo : lo + BLOCK_PROGRAMS], num_perm, shingle_size, seed)
    return signatures


def _signatures_block(token_arrays: list[np.ndarray], num_perm: int, shingle_size: int, seed: int) -> np.ndarray:
    n = len(token_arrays)
    signatures = np.empty((n, num_perm), dtype=np.uint32)
    if n == 0:
        return signatures
    hv, starts = shingle_hashes32(token_arrays, shingle_size)
    hv = _fmix32(hv)
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    buffer = np.empty_like(hv)
    with np.errstate(over="ignore"):
        for k in range(num_perm):
            np.multiply(hv, a[k], out=buffer)
            buffer += b[k]
            signatures[:, k] = np.minimum.reduceat(buffer, starts)
    return signatures


def near_duplicates(signatures: np.ndarray, threshold: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """For programs in keeper order: index of the kept program each one duplicates (-1 if kept),
    and the estimated Jaccard with it."""
    n, num_perm = signatures.shape
    keeper = np.full(n, -1, dtype=np.int64)
    similarity = np.zeros(n, dtype=np.float64)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i in range(n):
        sketch = LeanMinHash(seed=seed, hashvalues=signatures[i], scheme=SCHEME)
        candidates = lsh.query(sketch)
        if candidates:
            candidates = np.sort(np.fromiter(candidates, dtype=np.int64, count=len(candidates)))
            estimates = (signatures[candidates] == signatures[i]).mean(axis=1)
            hits = np.flatnonzero(estimates >= threshold)
            if len(hits):
                keeper[i] = candidates[hits[0]]  # earliest kept match in keeper order
                similarity[i] = estimates[hits[0]]
                continue
        lsh.insert(i, sketch, check_duplication=False)
    return keeper, similarity


def signature_matrix(candidates: pl.DataFrame, num_perm: int) -> np.ndarray:
    """The candidates' `signature` column as an (n, num_perm) uint32 array."""
    column = candidates["signature"]
    if column.null_count():
        raise ValueError("some candidates have no MinHash signature: they were curated with near_dedup off; re-run the per-record stage")
    flat = column.explode().to_numpy().astype(np.uint32, copy=False)
    if flat.size != candidates.height * num_perm:
        raise ValueError(f"signatures do not have num_perm={num_perm} slots: curated under other settings; re-run the per-record stage")
    return flat.reshape(candidates.height, num_perm)


def dedup_near(candidates: pl.DataFrame, settings: CurationSettings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejects) for candidates in keeper order, from their precomputed `signature`s."""
    signatures = signature_matrix(candidates, settings.num_perm)
    keeper, similarity = near_duplicates(signatures, settings.jaccard_threshold, settings.minhash_seed)
    return split_near(candidates, keeper, similarity, settings)


def split_near(candidates: pl.DataFrame, keeper: np.ndarray, similarity: np.ndarray, settings: CurationSettings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejects) given, per candidate (keeper order), the index of its keeper (-1: kept)."""
    is_dup = keeper >= 0
    program_ids = candidates["program_id"].to_numpy()
    record_ids = candidates["record_id"].to_numpy()
    dupes = candidates.filter(pl.Series(is_dup))
    rejects = dupes.select("_row", "record_id", "source").with_columns(
        stage=pl.lit(STEP),
        reason=pl.Series([f"near_duplicate_of:{program_ids[k]}" for k in keeper[is_dup]], dtype=pl.String),
        detail=pl.Series(
            [
                f"estimated Jaccard {s:.3f} >= {settings.jaccard_threshold} with record {record_ids[k]}"
                for k, s in zip(keeper[is_dup], similarity[is_dup], strict=True)
            ],
            dtype=pl.String,
        ),
    )
    return candidates.filter(pl.Series(~is_dup)), rejects
