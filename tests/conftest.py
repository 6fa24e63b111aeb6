"""Shared fixtures for every tier. Tests never reach the Hugging Face hub.

Tiers (docs/architecture.md, "Tests"): `unit/<area>/` is fast and runs without Dagster,
`platform/` runs the graph in-process, `e2e/` (marker `e2e`) covers the webserver, Ray and
subprocess runs. `support/` holds what they share.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))  # `support.*` for every tier

@pytest.fixture
def lintseq_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "lintseq_home"
    home.mkdir()
    monkeypatch.setenv("LINTSEQ_HOME", str(home))
    return home


def pytest_collection_modifyitems(config, items) -> None:
    """Mark every test by its tier folder, so `-m "not e2e"` and `-m unit` select tiers."""
    root = Path(__file__).parent
    for item in items:
        parts = Path(str(item.fspath)).relative_to(root).parts
        if parts and parts[0] in ("unit", "platform", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[0]))
