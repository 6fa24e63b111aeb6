"""Splitting by program: every sample of a program lands on the same side.

Splitting by row would put samples of one program in train and test, so a test score would
partly measure memorisation. The split of a program is a pure function of its id and the
split seed: it does not depend on row order, batch, or which other programs are exported,
so adding programs later never moves an existing one to another split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def unit_interval(*parts: object) -> float:
    """A deterministic, well-mixed number in [0, 1) from the given parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(program_id: str, split_seed: int, splits: Mapping[str, float]) -> str:
    """The split whose cumulative interval holds hash(program_id, split_seed)."""
    point = unit_interval("split", split_seed, program_id)
    cumulative = 0.0
    names = list(splits)
    for name in names:
        cumulative += splits[name]
        if point < cumulative:
            return name
    return names[-1]  # shares sum to 1 up to rounding


def assign_splits(program_ids: Iterable[str], split_seed: int, splits: Mapping[str, float]) -> dict[str, str]:
    """program_id -> split name for every distinct id."""
    return {pid: assign_split(pid, split_seed, splits) for pid in set(program_ids)}
