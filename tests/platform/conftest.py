"""Whole-graph runs the platform tests share: materializing the graph costs tens of seconds,
so tests that only read its result use one run per session."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from support.platform import SMALL_RUN_CONFIG, run_platform, small_settings


@pytest.fixture(scope="session")
def small_graph(tmp_path_factory):
    """(settings, instance, result) of the whole graph on the small offline source set."""
    settings = small_settings(tmp_path_factory.mktemp("small_graph_home"))
    instance = DagsterInstance.ephemeral()
    result = run_platform(settings, instance, SMALL_RUN_CONFIG)
    return settings, instance, result
