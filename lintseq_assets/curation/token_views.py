"""The hashed token views of a chunk of programs, in one pass over their tokens.

Per-record curation needs three uint32 views of every kept program: near-dedup tokens
(`tokens.near_tokens`), and the verbatim and normalised decontamination tokens
(`tokens.decontam_tokens`). Building each as a list of strings and hashing it with a
`TokenHasher` walks the same tokens three times in Python. Here each distinct token string is
looked at once per process: a `TokenTable` gives it a row with its 32-bit hash (the same
blake2b digest `TokenHasher` computes) and kind flags (indentation marker, string literal,
foldable identifier, "."). A chunk's tokens become row ids in one C-level `dict.get` pass, and
the three views are derived for the whole chunk at once with numpy, applying the string
functions' rules to the flags:

- near: a foldable identifier whose previous token (markers included) is not "." hashes as
  `IDENT`; a program without tokens is `[EMPTY]`.
- verbatim: INDENT/DEDENT dropped.
- normalised: INDENT/DEDENT dropped; string literals hash as `STRING`, else foldable
  identifiers not after "." (previous token in the full stream, markers included) as `IDENT`.

The arrays are element for element what `TokenHasher()(near_tokens(t))` and
`TokenHasher()(decontam_tokens(t, normalize))` give (tests/unit/curation/test_token_views.py
checks it on the standard library), so signatures, keys and verdicts do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np

from lintseq_assets.curation.tokens import (
    _STRING_START,
    DEDENT,
    EMPTY,
    IDENT,
    INDENT,
    STRING,
    _folded,
    token_hash,
)

_MARKER, _STRING, _FOLDABLE, _DOT = 1, 2, 4, 8


def token_flags(tok: str) -> int:
    """What the views need to know about a token, as bits (the tests of `near_tokens` and
    `decontam_tokens`, minus the dependence on the previous token)."""
    flags = 0
    if tok == INDENT or tok == DEDENT:
        flags |= _MARKER
    if _STRING_START.match(tok):
        flags |= _STRING
    if _folded(tok, previous=""):
        flags |= _FOLDABLE
    if tok == ".":
        flags |= _DOT
    return flags


_H_IDENT, _H_STRING, _H_EMPTY = (np.uint32(token_hash(t)) for t in (IDENT, STRING, EMPTY))


class TokenTable:
    """Token string -> row id, with each row's hash and flags; kept per process because a
    corpus has few distinct tokens. Bounded: past `max_tokens` rows it starts afresh before
    the next chunk (rows are only a cache; hashes are content hashes). 2**16 rows: as fast as
    2**18 on 60K programs of the 10x corpus, and a worker grew 12 MB where 2**18 grew 56 MB
    (two workers' 110 MB showed in the 10x run's peak PSS); a table per chunk was 1.7x slower."""

    def __init__(self, max_tokens: int = 1 << 16) -> None:
        self.max_tokens = max_tokens
        self._clear()

    def _clear(self) -> None:
        self._ids: dict[str, int] = {}
        self.hashes = np.empty(1024, dtype=np.uint32)
        self.flags = np.empty(1024, dtype=np.uint8)

    def ids(self, tokens: list[str]) -> np.ndarray:
        """Row ids (int64) of `tokens`, adding rows for tokens not seen before."""
        if len(self._ids) > self.max_tokens:
            self._clear()
        table = self._ids
        ids = np.fromiter(map(table.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            first = len(table)
            new: list[str] = []
            for position in missing.tolist():
                tok = tokens[position]
                row = table.get(tok)
                if row is None:
                    row = table[tok] = first + len(new)
                    new.append(tok)
                ids[position] = row
            self._grow(first + len(new))
            self.hashes[first : first + len(new)] = [token_hash(tok) for tok in new]
            self.flags[first : first + len(new)] = [token_flags(tok) for tok in new]
        return ids

    def _grow(self, size: int) -> None:
        if size <= len(self.hashes):
            return
        capacity = max(size, 2 * len(self.hashes))
        for name in ("hashes", "flags"):
            old = getattr(self, name)
            grown = np.empty(capacity, dtype=old.dtype)
            grown[: len(old)] = old
            setattr(self, name, grown)


_TABLE = TokenTable()


@dataclass(frozen=True)
class ChunkViews:
    """Per program, the uint32 token hashes of each view (see the module docstring)."""

    near: list[np.ndarray]
    verbatim: list[np.ndarray]
    normalized: list[np.ndarray]

    def decontam(self, normalize: bool) -> list[np.ndarray]:
        """The decontamination view `decontam_tokens(tokens, normalize)` would hash to."""
        return self.normalized if normalize else self.verbatim


def _split(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    bounds = offsets.tolist()
    return [flat[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def chunk_views(token_lists: list[list[str]], table: TokenTable | None = None) -> ChunkViews:
    """The three hashed views of every program (its `code_tokens`), computed for the chunk at once."""
    table = table or _TABLE
    n_programs = len(token_lists)
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=n_programs)
    offsets = np.zeros(n_programs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = table.ids(list(chain.from_iterable(token_lists)))
    hashes, flags = table.hashes[ids], table.flags[ids]

    after_dot = np.zeros(len(ids), dtype=bool)  # previous token (same program, markers included) is "."
    after_dot[1:] = (flags[:-1] & _DOT) != 0
    after_dot[offsets[:-1][lengths > 0]] = False
    folded = ((flags & _FOLDABLE) != 0) & ~after_dot
    near = np.where(folded, _H_IDENT, hashes).astype(np.uint32, copy=False)
    kept = (flags & _MARKER) == 0
    normalized = np.where((flags & _STRING) != 0, _H_STRING, near).astype(np.uint32, copy=False)[kept]
    kept_before = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(kept, out=kept_before[1:])
    decontam_offsets = kept_before[offsets]

    near_arrays = _split(near, offsets)
    empty = np.array([_H_EMPTY], dtype=np.uint32)
    for position in np.flatnonzero(lengths == 0).tolist():
        near_arrays[position] = empty
    return ChunkViews(near_arrays, _split(hashes[kept], decontam_offsets), _split(normalized, decontam_offsets))
