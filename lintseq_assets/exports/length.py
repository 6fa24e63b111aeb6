"""Length control: keep, cut at an edit boundary, or drop, and say which.

A row is cut by building it again with fewer edits, never by slicing its text, so a cut
row is still a valid edit sequence: it replays to an intermediate state of the program,
which LintSeq guarantees is lint-clean. Tokens are counted only with a tokenizer that is
already on this machine: an export must not depend on the network.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from lintseq_assets.exports.config import ExportError, ExportSettings
from lintseq_assets.exports.formats import Candidate


class Outcome(str, Enum):
    KEPT = "kept"
    TRUNCATED = "truncated"
    DROPPED = "dropped"


def load_tokenizer(name: str):
    """A tokenizer from the local Hugging Face cache or a local path; never downloads."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ExportError(
            f"tokenizer={name!r} needs the `transformers` package, which is not installed "
            "(pip install transformers), or limit by characters with max_chars instead"
        ) from None
    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except Exception as err:  # transformers raises OSError, ValueError, ... depending on cause
        raise ExportError(
            f"tokenizer {name!r} is not available offline ({type(err).__name__}: {err}); "
            "download it first or pass a local path"
        ) from None


class LengthLimit:
    """The active limits of an export; an example fits when it meets all of them."""

    def __init__(self, max_chars: int | None = None, count_tokens: Callable[[str], int] | None = None, max_tokens: int | None = None) -> None:
        self.max_chars = max_chars
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens

    @classmethod
    def from_settings(cls, settings: ExportSettings) -> LengthLimit:
        count_tokens = None
        if settings.tokenizer is not None:
            tokenizer = load_tokenizer(settings.tokenizer)

            def count_tokens(text: str) -> int:
                return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        return cls(settings.max_chars, count_tokens, settings.max_tokens)

    @property
    def active(self) -> bool:
        return self.max_chars is not None or self.max_tokens is not None

    def fits(self, text: str) -> bool:
        if self.max_chars is not None and len(text) > self.max_chars:
            return False
        if self.max_tokens is not None and self.count_tokens is not None:
            return self.count_tokens(text) <= self.max_tokens
        return True


def shape_row(candidate: Candidate, limit: LengthLimit, overlong: str) -> tuple[dict | None, Outcome]:
    """The row with as many edits as fit; binary search, since length grows with edits."""
    full = candidate.build(candidate.max_keep)
    if not limit.active or limit.fits(candidate.text(full)):
        return full, Outcome.KEPT
    if overlong == "drop":
        return None, Outcome.DROPPED
    lo, hi, best = candidate.min_keep, candidate.max_keep - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        row = candidate.build(mid)
        if limit.fits(candidate.text(row)):
            best, lo = row, mid + 1
        else:
            hi = mid - 1
    if best is None:
        return None, Outcome.DROPPED
    return best, Outcome.TRUNCATED
