"""Staging through an object store: a real S3 server (moto) on 127.0.0.1, started here.

Staged sets written to `s3://...` load into the warehouse exactly as local ones do; a writer
killed with SIGKILL in the middle of a set leaves nothing the loader would load; and the
whole graph with LINTSEQ_STAGING_URL set, on a local two-worker Ray cluster whose workers PUT
the sequence shards themselves, gives warehouse rows byte-identical to the local run with
local staging.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import fsspec
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance
from support.platform import run_platform, small_settings, table_snapshot
from support.s3_server import BUCKET, moto_server

from lintseq_assets.runtime.staging import (
    StagingError,
    read_partition,
    wait_for_partition,
    write_partition,
)
from resources.connect import connect_reader
from resources.loader import Load, load
from resources.merge import parquet_select

TABLES = ("raw_instructions", "programs", "edit_sequences")


@pytest.fixture(scope="module")
def s3():
    with moto_server() as env:
        yield env


def _url(name: str) -> str:
    return f"s3://{BUCKET}/{name}-{uuid.uuid4().hex[:8]}"


def _raw(n: int, text: str = "x", start: int = 0) -> pl.DataFrame:
    keys = range(start, start + n)
    return pl.DataFrame(
        {
            "record_id": [f"a:{k}" for k in keys],
            "source": ["a"] * n,
            "source_revision": ["r1"] * n,
            "source_row": list(keys),
            "instruction": ["i"] * n,
            "response": [f"{text}{k}" for k in keys],
        }
    )


def _load_rows(tmp_path, name: str, staged) -> list[tuple]:
    database = tmp_path / name / "lintseq.duckdb"
    load(database, [Load("raw_instructions", parquet_select(staged.shards, "raw_instructions"), "t.source = ?", ("a",))], run_id="r")
    with connect_reader(database) as conn:
        return table_snapshot(conn, "raw_instructions")


def test_stage_seal_and_load_like_local(tmp_path, s3):
    frames = [_raw(5), _raw(3, "y", start=5)]  # distinct keys: a plain seal-and-load round trip
    remote = write_partition(_url("stage"), "raw_instructions", "a", frames)
    local = write_partition(tmp_path / "staging", "raw_instructions", "a", frames)
    assert read_partition(remote.folder.rsplit("/raw_instructions/", 1)[0], "raw_instructions", "a").shards == remote.shards
    assert remote.rows == local.rows == 8
    assert _load_rows(tmp_path, "remote", remote) == _load_rows(tmp_path, "local", local)
    assert not list((tmp_path / "remote").glob(".staged-*")), "the fetched copies are removed"


def test_a_smaller_reseal_drops_stale_shards(s3):
    root = _url("reseal")
    write_partition(root, "t", "p", [_raw(2), _raw(2), _raw(2)])
    again = write_partition(root, "t", "p", [_raw(1)])
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    assert [p.rsplit("/", 1)[-1] for p in fs.glob(f"{root}/t/p/shard-*.parquet")] == ["shard-00000.parquet"]
    assert read_partition(root, "t", "p").rows == again.rows == 1


WRITER = textwrap.dedent(
    """
    import sys, polars as pl
    from lintseq_assets.runtime.staging import ShardWriter
    writer = ShardWriter(sys.argv[1], "t", "p")
    for k in range(100_000):
        writer.write(pl.DataFrame({"k": [k] * 1000}))
        print(k, flush=True)
    writer.seal()
    """
)


def test_kill_9_mid_write_leaves_no_set_visible(s3):
    root = _url("killed")
    write_partition(root, "t", "p", [_raw(4)])  # an earlier complete set
    process = subprocess.Popen([sys.executable, "-c", WRITER, root], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        for _ in range(3):  # a few shards are up: the set is half written
            assert process.stdout.readline(), "the writer died early"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    assert fs.glob(f"{root}/t/p/shard-*.parquet"), "shards of the killed set are there"
    with pytest.raises(StagingError):
        read_partition(root, "t", "p")
    with pytest.raises(StagingError):
        wait_for_partition(root, "t", "p", timeout=1.0, poll=0.2)


def _materialize(settings, executor: str, instance=None) -> dict[str, list[tuple]]:
    placement = {"executor": executor, "workers": 2}
    run_config = {
        "ops": {
            "source_programs": {"config": placement},
            "edit_sequence_shards": {"config": {"samples": 2, **placement}},
        }
    }
    result = run_platform(settings, instance or DagsterInstance.ephemeral(), run_config)
    assert result.success, result.failed_steps()
    with connect_reader(settings.warehouse_path) as conn:
        return {table: table_snapshot(conn, table) for table in TABLES}


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def test_ray_run_staging_to_s3_matches_local_run(tmp_path, s3, ray_cluster):
    local = _materialize(small_settings(tmp_path / "local", stdlib_limit=4, embedded_limit=8), "local")
    url = _url("graph")
    remote = dataclasses.replace(small_settings(tmp_path / "ray", stdlib_limit=4, embedded_limit=8), staging_url=url)
    started = time.monotonic()
    instance = DagsterInstance.ephemeral()
    on_ray = _materialize(remote, "ray", instance)
    assert time.monotonic() - started < 600
    shards = instance.get_latest_materialization_event(AssetKey("edit_sequence_shards")).asset_materialization.metadata
    assert shards["shards_staged_by"].value == "workers", "the Ray workers PUT the sequence shards, not the driver"
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    assert fs.glob(f"{url}/edit_sequences/*/_manifest.json"), "the sequences were staged in the bucket"
    assert not (tmp_path / "ray" / "staging" / "edit_sequences").exists(), "nothing staged locally"
    for table in TABLES:
        assert local[table], f"{table} is empty: the comparison would prove nothing"
        assert on_ray[table] == local[table], table
