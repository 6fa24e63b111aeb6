"""The out-of-core near de-dup makes the in-memory step's decisions, program for program.

Signatures are synthetic but shaped like the real thing: random programs, clusters of
near copies (a few slots changed), and chains (C near B near A, C not near A), where the
keeper rule (greedy, earliest kept match) differs from connected components.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.dedup_near import dedup_near, near_duplicates
from lintseq_assets.curation.dedup_near_disk import (
    band_layout,
    dedup_near_on_disk,
    min_equal_slots,
    near_duplicates_on_disk,
)

NUM_PERM = 128


def _mutate(rng: np.random.Generator, signature: np.ndarray, slots: int) -> np.ndarray:
    out = signature.copy()
    where = rng.choice(NUM_PERM, size=slots, replace=False)
    out[where] = rng.integers(0, 2**32, size=slots, dtype=np.uint32)
    return out


def _corpus(seed: int, n_random: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = [rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint32) for _ in range(n_random)]
    for _ in range(40):  # clusters of near copies
        base = rows[rng.integers(len(rows))]
        rows.extend(_mutate(rng, base, int(rng.integers(0, 30))) for _ in range(int(rng.integers(1, 6))))
    for _ in range(20):  # chains: each link near the previous one only
        link = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint32)
        for _ in range(4):
            rows.append(link)
            link = _mutate(rng, link, 12)
    order = rng.permutation(len(rows))
    return np.stack([rows[k] for k in order])


def _write(tmp_path, signatures: np.ndarray) -> tuple[str, np.ndarray]:
    rows = np.arange(0, 3 * len(signatures), 3, dtype=np.int64)  # _row values need not be dense
    frame = pl.DataFrame({"_row": rows, "signature": pl.Series(signatures.tolist(), dtype=pl.List(pl.UInt32))})
    path = tmp_path / "signatures.parquet"
    frame.write_parquet(path)
    return str(path), rows


@pytest.mark.parametrize(("seed", "block_rows"), [(0, 65_536), (1, 65_536), (2, 65_536), (0, 37), (1, 1), (2, 100)])
def test_same_decisions_as_in_memory(tmp_path, seed, block_rows):
    """Whatever the block size: decisions across blocks (against kept band keys on disk)
    and within a block (in memory) are the in-memory step's."""
    signatures = _corpus(seed)
    keeper, similarity = near_duplicates(signatures, 0.85, seed=1)
    path, rows = _write(tmp_path, signatures)
    found = near_duplicates_on_disk(path, rows, 0.85, NUM_PERM, scratch=tmp_path, block_rows=block_rows)
    disk_keeper = np.full(len(signatures), -1)
    disk_similarity = np.zeros(len(signatures))
    disk_keeper[found["row"].to_numpy()] = found["keeper"].to_numpy()
    disk_similarity[found["row"].to_numpy()] = found["similarity"].to_numpy()
    assert (keeper >= 0).sum() > 20, "the corpus must hold near duplicates"
    np.testing.assert_array_equal(disk_keeper, keeper)
    np.testing.assert_array_equal(disk_similarity, similarity)
    assert not list(tmp_path.glob("near-*")), "the scratch database is removed"


def test_chain_keeps_the_far_end():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**32, size=NUM_PERM, dtype=np.uint32)
    b = a.copy()
    b[:12] += 1  # 116/128 equal with a
    c = b.copy()
    c[12:24] += 1  # 116/128 with b, 104/128 with a
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path, rows = _write(Path(tmp), np.stack([a, b, c]))
        found = near_duplicates_on_disk(path, rows, 0.85, NUM_PERM)
    assert found.select("row", "keeper").rows() == [(1, 0)]  # c matches only b, which is rejected: kept


def test_step_matches_in_memory_step(tmp_path):
    signatures = _corpus(3, n_random=100)
    n = len(signatures)
    frame = pl.DataFrame(
        {
            "_row": np.arange(n, dtype=np.int64) * 2,
            "record_id": [f"s:{k}" for k in range(n)],
            "source": ["s"] * n,
            "program_id": [f"p{k}" for k in range(n)],
            "signature": pl.Series(signatures.tolist(), dtype=pl.List(pl.UInt32)),
        }
    )
    frame.select("_row", "signature").write_parquet(tmp_path / "sig.parquet")
    settings = CurationSettings()
    kept, rejects = dedup_near(frame, settings)
    kept_disk, rejects_disk = dedup_near_on_disk(frame.drop("signature"), settings, tmp_path / "sig.parquet", tmp_path)
    assert kept_disk.equals(kept.drop("signature"))
    assert rejects_disk.equals(rejects)


def test_band_layout_and_threshold():
    bands, rows = band_layout(0.85, NUM_PERM)
    assert bands * rows <= NUM_PERM
    need = min_equal_slots(0.85, NUM_PERM)
    assert need / NUM_PERM >= 0.85 > (need - 1) / NUM_PERM
    assert min_equal_slots(1.0, NUM_PERM) == NUM_PERM
