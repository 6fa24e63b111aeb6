"""Real code nobody here wrote: the running Python's own standard library, read as text."""

from __future__ import annotations

import json
import os
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from lintseq_assets.sampling.batch import ProgramInput, sample_many

STDLIB = Path(os.__file__).parent
# Short, pure standard-library modules: real code, quick to sample.
STDLIB_MODULES: tuple[str, ...] = ("colorsys", "bisect", "keyword", "this", "glob")


def stdlib_modules(lo: int = 1, hi: int = 10_000, limit: int | None = None, stride: int = 1) -> list[Path]:
    """Top-level standard-library modules with lo..hi lines, in a deterministic order."""
    chosen = []
    for path in sorted(STDLIB.glob("*.py")):
        n = path.read_text(encoding="utf-8", errors="replace").count("\n")
        if lo <= n <= hi:
            chosen.append(path)
    chosen = chosen[::stride]
    return chosen[:limit] if limit else chosen


def stdlib_sources(names: Sequence[str] = STDLIB_MODULES) -> dict[str, str]:
    """Text of standard-library modules, read as files (never imported)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return {name: (stdlib / f"{name}.py").read_text(encoding="utf-8") for name in names if (stdlib / f"{name}.py").exists()}


def sampled_rows(executor) -> list[str]:
    """20 small stdlib modules and one broken program through `sample_many` on `executor`."""
    items = [ProgramInput(p.name, p.read_text(encoding="utf-8")) for p in stdlib_modules(lo=20, hi=200, limit=20)]
    items.append(ProgramInput("bad", "def broken(:"))
    out = []
    for result in sample_many(items, samples=2, seed=3, chunk_size=3, executor=executor):
        out.append(json.dumps([result.record_id, result.reject_reason, [s.edit_path for s in result.sequences]]))
    return out
