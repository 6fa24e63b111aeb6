"""Configuration errors: one line saying what is wrong and how to fix it, with did-you-mean.

`ConfigError` is the base of every mistake a user makes in a file or a flag (sources.yaml,
run settings, the environment). The CLI prints its message as one line and exits 2
(`lintseq_assets/cli/errors.py`); nothing else about it is special.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """A user's configuration mistake; the message is one line and names the place and the key."""


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'path'?)` when a choice is close to `word`, else ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_keys(what: str, keys: Iterable[str], known: Iterable[str]) -> str:
    """`unknown key 'pth' (did you mean 'path'?)`, one clause per key, for one line."""
    known = list(known)
    return "; ".join(f"unknown {what} {key!r}{did_you_mean(key, known)}" for key in sorted(keys, key=str))
