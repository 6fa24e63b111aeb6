"""A local Ray cluster with two workers gives the bytes worker processes give."""

from __future__ import annotations

import pytest
from support.corpus import sampled_rows

from lintseq_assets.runtime.executors import LocalExecutor, RayExecutor


def test_local_ray_cluster_with_two_workers_matches_local_run():
    ray = pytest.importorskip("ray")
    # A fresh local cluster on loopback with two worker CPUs.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        assert sampled_rows(RayExecutor(max_in_flight=4)) == sampled_rows(LocalExecutor(workers=1))
    finally:
        ray.shutdown()
