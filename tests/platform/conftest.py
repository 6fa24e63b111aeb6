"""Whole-graph runs the platform tests share: materializing the graph costs tens of seconds,
so tests that only read its result use one run per session."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from support.platform import SMALL_RUN_CONFIG, run_platform, small_settings

from lintseq_assets.platform.progress import set_console


@pytest.fixture(scope="session")
def small_graph_progress() -> list[str]:
    """The progress lines (lintseq_assets.platform.progress) the small_graph run printed."""
    return []


@pytest.fixture(scope="session")
def small_graph(tmp_path_factory, small_graph_progress):
    """(settings, instance, result) of the whole graph on the small offline source set."""
    settings = small_settings(tmp_path_factory.mktemp("small_graph_home"))
    instance = DagsterInstance.ephemeral()
    set_console(small_graph_progress.append)  # what `lintseq materialize` prints
    try:
        result = run_platform(settings, instance, SMALL_RUN_CONFIG)
    finally:
        set_console(None)
    return settings, instance, result
