"""Splitting by program: every sample of a program lands on the same side.

Splitting by row would put samples of one program in train and test, so a test score would
partly measure memorisation. The split of a program is a pure function of its id and the
split seed: it does not depend on row order, batch, or which other programs are exported,
so adding programs later never moves an existing one to another split.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from itertools import accumulate


def unit_interval(*parts: object) -> float:
    """A deterministic, well-mixed number in [0, 1) from the given parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(program_id: str, split_seed: int, splits: Mapping[str, float]) -> str:
    """The split whose cumulative interval holds hash(program_id, split_seed)."""
    return split_names([program_id], split_seed, splits)[0]


def split_names(program_ids: Iterable[str], split_seed: int, splits: Mapping[str, float]) -> list[str]:
    """`assign_split` of each id, in order: the same hash (`unit_interval("split", seed, id)`),
    with the per-call work hoisted out of the loop, since an export splits millions of rows."""
    names = list(splits)
    bounds = list(accumulate(splits[name] for name in names))  # cumulative shares, increasing
    prefix, last, sha256, from_bytes, find = f"split:{split_seed}:".encode(), len(names) - 1, hashlib.sha256, int.from_bytes, bisect_right
    # The first split whose cumulative share exceeds the point; the last if rounding left a gap.
    return [names[min(find(bounds, from_bytes(sha256(prefix + pid.encode()).digest()[:8], "big") / 2**64), last)] for pid in program_ids]


def assign_splits(program_ids: Iterable[str], split_seed: int, splits: Mapping[str, float]) -> dict[str, str]:
    """program_id -> split name for every distinct id."""
    distinct = set(program_ids)
    return dict(zip(distinct, split_names(distinct, split_seed, splits), strict=True))
