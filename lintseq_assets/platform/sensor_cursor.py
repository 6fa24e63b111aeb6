"""The cursor both file sensors keep: the set of keys (content hashes) they already requested.

It is a JSON object `{"seen": [...]}`, sorted so the same set is always the same cursor. A
cursor this code cannot read (hand-edited, from an older release) counts as empty: the run
keys still hold the hashes, and Dagster refuses a second run with the same run key, so an
unreadable cursor can re-scan but never launch the same file twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable


def seen_keys(cursor: str | None) -> set[str]:
    """The keys a cursor remembers (empty when there is none or it cannot be read)."""
    try:
        return set(json.loads(cursor)["seen"]) if cursor else set()
    except (ValueError, KeyError, TypeError):
        return set()


def cursor_of(keys: Iterable[str]) -> str:
    """The cursor that remembers `keys`."""
    return json.dumps({"seen": sorted(set(keys))})
