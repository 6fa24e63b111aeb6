"""Shared fixtures. Tests never reach the Hugging Face hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

STDLIB = Path(os.__file__).parent


def stdlib_modules(lo: int = 1, hi: int = 10_000, limit: int | None = None, stride: int = 1) -> list[Path]:
    """Top-level standard-library modules with lo..hi lines, in a deterministic order."""
    chosen = []
    for path in sorted(STDLIB.glob("*.py")):
        n = path.read_text(encoding="utf-8", errors="replace").count("\n")
        if lo <= n <= hi:
            chosen.append(path)
    chosen = chosen[::stride]
    return chosen[:limit] if limit else chosen


@pytest.fixture
def lintseq_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "lintseq_home"
    home.mkdir()
    monkeypatch.setenv("LINTSEQ_HOME", str(home))
    return home
