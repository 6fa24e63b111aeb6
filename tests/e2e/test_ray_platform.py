"""The whole graph on Ray gives the warehouse rows the local executor gives, byte for byte.

Two fresh LINTSEQ_HOMEs, the same small source set: one run with curation and sampling on
local worker processes, one with both on a local Ray cluster (127.0.0.1, two worker CPUs).
Every row of raw_instructions, programs and edit_sequences must match (run_id left out:
it names the run, not the data). Nothing leaves the machine.
"""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from support.platform import run_platform, small_settings, table_snapshot

from resources.connect import connect_reader

ray = pytest.importorskip("ray")

TABLES = ("raw_instructions", "programs", "edit_sequences")


def _placement(executor: str) -> dict:
    return {"executor": executor, "workers": 2}


def _materialize(home, executor: str) -> dict[str, list[tuple]]:
    settings = small_settings(home, stdlib_limit=4, embedded_limit=8)
    run_config = {
        "ops": {
            "source_programs": {"config": _placement(executor)},
            "edit_sequence_shards": {"config": {"samples": 2, **_placement(executor)}},
        }
    }
    result = run_platform(settings, DagsterInstance.ephemeral(), run_config)
    assert result.success, result.failed_steps()
    with connect_reader(settings.warehouse_path) as conn:
        return {table: table_snapshot(conn, table) for table in TABLES}


@pytest.fixture(scope="module")
def ray_cluster():
    # A fresh local cluster on loopback with two worker CPUs; the assets join it (no address).
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def test_ray_run_matches_local_run_row_for_row(tmp_path, ray_cluster):
    local = _materialize(tmp_path / "local", "local")
    on_ray = _materialize(tmp_path / "ray", "ray")
    for table in TABLES:
        assert local[table], f"{table} is empty: the comparison would prove nothing"
        assert on_ray[table] == local[table], table
