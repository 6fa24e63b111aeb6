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


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(config, items) -> None:
    """Mark every test by its tier folder, so `-m "not e2e"` and `-m unit` select tiers, and
    give it the xdist group it must run in.

    `make test` runs two pytest workers (`-n 2 --dist loadgroup`). A file's tests stay on one
    worker, in order: module-scoped fixtures hold whole-graph runs that later tests build on
    (tests/platform/test_sequence_lineage.py). Two groups span files: "ray", since two local
    clusters of 2 CPUs each on a 2-core machine would only slow each other down; "sandbox",
    since the evaluation tests look for left-over processes of the sandbox's uids, which
    another evaluation test's generations would be."""
    root = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        parts = path.relative_to(root).parts
        if parts and parts[0] in ("unit", "platform", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[0]))
        if "ray_cluster" in getattr(item, "fixturenames", ()) or path.name == "test_ray_executor.py":
            group = "ray"
        elif path.name.startswith("test_evaluation"):
            group = "sandbox"
        else:
            group = "/".join(parts)
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_finish(session) -> None:
    """Fail loudly if xdist did not apply the groups (it names them in the test ids: pytest 9.2
    stopped reading where xdist 3.8 writes them), rather than let grouped tests overlap."""
    if not getattr(session.config.option, "loadgroup", False):  # set in xdist workers only
        return
    lost = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(f"pytest-xdist did not group {len(lost)} tests (e.g. {lost[0]}): use pytest<9.2 as pyproject.toml pins")
