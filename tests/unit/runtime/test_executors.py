"""The same step in worker processes and in-process gives the same bytes (Ray: tests/e2e/test_ray_executor.py)."""

from __future__ import annotations

from support.corpus import sampled_rows

from lintseq_assets.runtime.executors import LocalExecutor


def test_worker_processes_match_in_process():
    assert sampled_rows(LocalExecutor(workers=2)) == sampled_rows(LocalExecutor(workers=1))
