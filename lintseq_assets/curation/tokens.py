"""Token views of a program, shared by exact de-dup, near de-dup and decontamination.

A program is tokenised once (the stdlib `tokenize`'s stream, so a `#` inside a string is
not a comment; `token_scanner` gives the same stream twice as fast for ordinary programs);
comments and non-logical newlines are dropped, and indentation becomes INDENT /
DEDENT markers whatever its width. Three views come out of that one stream:

- the exact key: a hash of the stream. Whitespace and comments do not change it; a change
  of block structure (what indentation means in Python) does.
- near-dedup tokens: identifiers that are neither keywords, builtins nor attribute names
  become one placeholder, so a copy with renamed variables has the same tokens.
- decontamination tokens: minus INDENT/DEDENT, so a solution pasted into a class or
  re-indented still matches; verbatim, or normalised (identifiers folded as for near de-dup,
  string literals to one placeholder), so renamed variables and re-quoted strings match too.

Token hashes are content hashes (blake2b), never Python's salted `hash()` and never ids
assigned in order of appearance: the same program gets the same numbers in any run, in any
input order.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import keyword
import re
import tokenize

import numpy as np

from lintseq_assets.curation.token_scanner import scan_tokens

NEWLINE, INDENT, DEDENT, IDENT, EMPTY, STRING = "<NEWLINE>", "<INDENT>", "<DEDENT>", "<ID>", "<EMPTY>", "<STR>"
_DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_MARKERS = {tokenize.NEWLINE: NEWLINE, tokenize.INDENT: INDENT, tokenize.DEDENT: DEDENT}
_KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))

# Fallback for text `tokenize` refuses (benchmark fragments, odd indentation): strings
# first so a `#` inside one is not a comment, then comments (dropped), names, numbers, ops.
_FALLBACK = re.compile(
    r"""(?P<str>[rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))"""
    r"|(?P<comment>\#[^\n]*)"
    r"|(?P<nl>\n)"
    r"|(?P<tok>[A-Za-z_]\w*|\d[\w.]*|\*\*=?|//=?|->|:=|[-+*/%@&|^<>=!]=|<<=?|>>=?|\S)"
)

_STRING_START = re.compile(r"""^[rRbBuUfF]{0,2}['"]""")

_POLY_INT = 0x100000001B3  # FNV-64 prime: odd, so the rolling hash mixes every position
_POLY = np.uint64(_POLY_INT)
_MASK64 = (1 << 64) - 1


def code_tokens(text: str) -> list[str]:
    """Significant tokens of `text` with structure markers; comments and blank lines dropped.

    The fast scanner gives `tokenize`'s stream for ordinary programs (twice as fast on 3.11);
    it declines anything else, which goes through `tokenize` itself."""
    scanned = scan_tokens(text, NEWLINE, INDENT, DEDENT)
    if scanned is not None:
        return scanned
    return _stdlib_tokens(text)


def _stdlib_tokens(text: str) -> list[str]:
    """`code_tokens` through the standard library's tokenizer (or the regex fallback)."""
    try:
        out = []
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _DROPPED:
                continue
            out.append(_MARKERS.get(tok.type, tok.string))
        return out
    except (tokenize.TokenError, SyntaxError, ValueError):
        return _fallback_tokens(text)


def _fallback_tokens(text: str) -> list[str]:
    out: list[str] = []
    for match in _FALLBACK.finditer(text):
        kind = match.lastgroup
        if kind == "comment":
            continue
        if kind == "nl":
            if out and out[-1] != NEWLINE:
                out.append(NEWLINE)
            continue
        out.append(match.group())
    return out


def exact_key(tokens: list[str]) -> str:
    """Hash of the token stream: equal for programs that differ only in whitespace/comments."""
    return hashlib.blake2b("\x1f".join(tokens).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def near_tokens(tokens: list[str]) -> list[str]:
    """Identifiers (not keywords, builtins or attribute names) folded to one placeholder."""
    out = []
    previous = ""
    for tok in tokens:
        if (tok[:1].isalpha() or tok[:1] == "_") and tok.isidentifier() and tok not in _KEEP_NAMES and previous != ".":
            out.append(IDENT)
        else:
            out.append(tok)
        previous = tok
    return out or [EMPTY]


def _folded(tok: str, previous: str) -> bool:
    return (tok[:1].isalpha() or tok[:1] == "_") and tok.isidentifier() and tok not in _KEEP_NAMES and previous != "."


def decontam_tokens(tokens: list[str], normalize: bool = False) -> list[str]:
    """Tokens without indentation markers (re-indented pastes still match); with `normalize`,
    identifiers folded as in `near_tokens` and string literals to one placeholder (renamed
    variables, re-quoted strings and rewritten docstrings still match)."""
    if not normalize:
        return [tok for tok in tokens if tok != INDENT and tok != DEDENT]
    out = []
    previous = ""
    for tok in tokens:
        if tok != INDENT and tok != DEDENT:
            out.append(STRING if _STRING_START.match(tok) else IDENT if _folded(tok, previous) else tok)
        previous = tok
    return out


def token_hash(tok: str) -> int:
    """A token's stable 32-bit content hash (blake2b), the number every token view is made of."""
    return int.from_bytes(hashlib.blake2b(tok.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "little")


class TokenHasher:
    """Stable 32-bit content hashes of token strings, cached (a corpus has few distinct tokens)."""

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def __call__(self, tokens: list[str]) -> np.ndarray:
        cache = self._cache
        out = np.empty(len(tokens), dtype=np.uint32)
        for i, tok in enumerate(tokens):
            value = cache.get(tok)
            if value is None:
                value = cache[tok] = token_hash(tok)
            out[i] = value
        return out


def flatten(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One flat uint32 array and the start offsets (len(arrays) + 1 of them)."""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint32)
    return flat.astype(np.uint32, copy=False), offsets


def ngram_hashes(flat: np.ndarray, offsets: np.ndarray, n: int, whole_if_short: bool) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every n-token window that stays inside one program, and its owner.

    Vectorised over the whole corpus: a polynomial rolling hash built from n shifted views of
    the flat token array, then windows that cross a program boundary are masked out. A
    program shorter than n tokens contributes one hash of all its tokens when
    `whole_if_short` (near de-dup: every program needs a signature) and nothing otherwise
    (decontamination: a fragment shorter than n proves nothing).
    """
    n_programs = len(offsets) - 1
    lengths = np.diff(offsets)
    owner_of_pos = np.repeat(np.arange(n_programs, dtype=np.int64), lengths)
    total = len(flat)
    hashes = np.zeros(0, dtype=np.uint64)
    owners = np.zeros(0, dtype=np.int64)
    if total >= n:
        width = total - n + 1
        values = flat.astype(np.uint64)
        acc = np.zeros(width, dtype=np.uint64)
        for j in range(n):
            acc *= _POLY
            acc += values[j : j + width]
        starts = np.arange(width, dtype=np.int64)
        owner = owner_of_pos[:width]
        valid = starts + n <= offsets[1:][owner]
        hashes, owners = acc[valid], owner[valid]
    if whole_if_short:
        short = np.flatnonzero(lengths < n)
        if len(short):
            extra = np.empty(len(short), dtype=np.uint64)
            for k, p in enumerate(short):
                acc1 = 0  # same polynomial as above, in Python ints (no overflow warnings)
                for value in flat[offsets[p] : offsets[p + 1]].tolist():
                    acc1 = (acc1 * _POLY_INT + value) & _MASK64
                extra[k] = acc1
            hashes = np.concatenate([hashes, extra])
            owners = np.concatenate([owners, short.astype(np.int64)])
            order = np.argsort(owners, kind="stable")
            hashes, owners = hashes[order], owners[order]
    return hashes, owners
