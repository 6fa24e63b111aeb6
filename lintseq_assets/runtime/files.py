"""Files that are either whole or absent: write under a temporary name, then rename.

Every file the platform writes for another step or process to read (staged shards, manifests,
partition and drop YAML, the instance's dagster.yaml, CLI outputs) goes through here, so a
crash mid-write never leaves half a file under the real name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name next to `path` to write to; renamed onto `path` when the block ends
    without error, removed otherwise. The name is per process, so two writers never share it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> int:
    """One JSON object per line (UTF-8, not ASCII-escaped); returns the number of rows."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
