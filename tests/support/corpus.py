"""Real code nobody here wrote: the running Python's own standard library, read as text."""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Sequence
from pathlib import Path

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
