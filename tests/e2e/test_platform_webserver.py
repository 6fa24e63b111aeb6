"""The real UI server and daemon: `lintseq ui` (dagster dev on loopback), runs launched through
dagster-graphql, and the rest done by declarative automation in the real daemon.

This is what a user does in the browser, minus the browser: the webserver and daemon start
from `lintseq_assets.definitions` with a DAGSTER_HOME under a temporary LINTSEQ_HOME, one
`ingest_source` run per source partition is submitted over GraphQL (a backfill does the
same), and the daemon's `lintseq_automation` sensor must then run curation, sampling, load,
checks and exports by itself. The whole process tree is killed at the end, pass or fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from support.platform import small_settings

from lintseq_assets.platform.instance import platform_environment, prepare_dagster_home
from lintseq_assets.platform.jobs import SOURCE_JOB
from lintseq_assets.platform.partitions import register_sources
from resources.connect import connect_reader

STARTUP_TIMEOUT = 180
RUN_TIMEOUT = 420


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (dagster dev shuts its children down), then SIGKILL stragglers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _submit_when_ready(client: DagsterGraphQLClient, proc: subprocess.Popen, log: Path, partition: str) -> str:
    """Submit `ingest_source` for `partition` as soon as the server answers and the code location is loaded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return client.submit_job_execution(SOURCE_JOB, tags={"dagster/partition": partition})
        except Exception as err:  # connection refused, or the location is still loading
            last = err
            time.sleep(1.0)
    pytest.fail(f"webserver not ready after {STARTUP_TIMEOUT}s: {last}\n{log.read_text()[-3000:]}")


def _wait(client: DagsterGraphQLClient, run_id: str, deadline: float):
    status = None
    while time.monotonic() < deadline:
        try:
            status = client.get_run_status(run_id)
        except DagsterGraphQLClientError:
            status = None
        if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            return status
        time.sleep(2.0)
    return status


@pytest.mark.timeout(STARTUP_TIMEOUT + RUN_TIMEOUT + 120)
def test_partitions_through_the_webserver_then_automation(tmp_path, monkeypatch):
    settings = small_settings(tmp_path / "home", stdlib_limit=4, embedded_limit=8)
    prepare_dagster_home(settings)
    assert (settings.dagster_home / "dagster.yaml").is_file()
    env = platform_environment(settings)
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    port = _free_port()
    log = tmp_path / "dagster_dev.log"
    lintseq = Path(sys.executable).with_name("lintseq")
    with open(log, "wb") as out:
        proc = subprocess.Popen(  # what `make ui` runs: `lintseq ui` -> `dagster dev` on 127.0.0.1
            [str(lintseq), "ui", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))  # dagster.yaml refers to it
        with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            partitions = register_sources(instance, settings.home, settings.sources_file)
        client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
        run_ids = [_submit_when_ready(client, proc, log, key) for key in partitions]
        deadline = time.monotonic() + RUN_TIMEOUT
        for run_id in run_ids:
            status = _wait(client, run_id, deadline)
            assert status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {status}:\n{log.read_text()[-4000:]}"

        # Nobody launches the global steps: the daemon's automation sensor must.
        manifest = settings.exports_dir / "default" / "manifest.json"
        while time.monotonic() < deadline and not manifest.is_file():
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(3.0)
        assert manifest.is_file(), f"automation did not export within {RUN_TIMEOUT}s:\n{log.read_text()[-4000:]}"

        # The run history lives under LINTSEQ_HOME, not in a temporary instance.
        assert any((settings.dagster_home / "history").rglob("*.db"))
        with connect_reader(settings.warehouse_path) as conn:
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("raw_instructions", "programs", "edit_sequences", "edits")}
            assert all(n > 0 for n in counts.values()), counts
            assert conn.execute("SELECT count(DISTINCT run_id) FROM edit_sequences").fetchone()[0] == 1
        assert (settings.exports_dir / "default" / "manifest.json").is_file()
    finally:
        _kill_tree(proc)
