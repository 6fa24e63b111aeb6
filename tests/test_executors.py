"""The same step on every executor gives the same bytes: local, worker processes, Ray."""

from __future__ import annotations

import json

import pytest
from conftest import stdlib_modules

from lintseq_assets.runtime.executors import LocalExecutor, RayExecutor
from lintseq_assets.sampling.batch import ProgramInput, sample_many


def _rows(executor) -> list[str]:
    items = [ProgramInput(p.name, p.read_text(encoding="utf-8")) for p in stdlib_modules(lo=20, hi=200, limit=20)]
    items.append(ProgramInput("bad", "def broken(:"))
    out = []
    for result in sample_many(items, samples=2, seed=3, chunk_size=3, executor=executor):
        out.append(json.dumps([result.record_id, result.reject_reason, [s.edit_path for s in result.sequences]]))
    return out


def test_worker_processes_match_in_process():
    assert _rows(LocalExecutor(workers=2)) == _rows(LocalExecutor(workers=1))


def test_local_ray_cluster_with_two_workers_matches_local_run():
    ray = pytest.importorskip("ray")
    # A fresh local cluster on loopback with two worker CPUs.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        assert _rows(RayExecutor(max_in_flight=4)) == _rows(LocalExecutor(workers=1))
    finally:
        ray.shutdown()
