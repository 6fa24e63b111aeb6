"""The real UI server: `lintseq ui` (dagster dev on loopback), a run launched through dagster-graphql.

This is what a user does in the browser, minus the browser: the webserver and daemon start
from `lintseq_assets.definitions` with a DAGSTER_HOME under a temporary LINTSEQ_HOME, the
`materialize_all` job is submitted over GraphQL, and the warehouse is checked afterwards.
The whole process tree is killed at the end, pass or fail.
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
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from platform_helpers import SMALL_RUN_CONFIG, small_settings

from lintseq_assets.instance import platform_environment, prepare_dagster_home
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


def _submit_when_ready(client: DagsterGraphQLClient, proc: subprocess.Popen, log: Path) -> str:
    """Submit `materialize_all` as soon as the server answers and the code location is loaded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return client.submit_job_execution("materialize_all", run_config=SMALL_RUN_CONFIG)
        except Exception as err:  # connection refused, or the location is still loading
            last = err
            time.sleep(1.0)
    pytest.fail(f"webserver not ready after {STARTUP_TIMEOUT}s: {last}\n{log.read_text()[-3000:]}")


@pytest.mark.timeout(STARTUP_TIMEOUT + RUN_TIMEOUT + 120)
def test_materialize_all_through_the_webserver(tmp_path):
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
        client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
        run_id = _submit_when_ready(client, proc, log)
        deadline = time.monotonic() + RUN_TIMEOUT
        status = None
        while time.monotonic() < deadline:
            try:
                status = client.get_run_status(run_id)
            except DagsterGraphQLClientError:
                status = None
            if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
                break
            time.sleep(2.0)
        assert status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {status}:\n{log.read_text()[-4000:]}"

        # The run history lives under LINTSEQ_HOME, not in a temporary instance.
        assert any((settings.dagster_home / "history").rglob("*.db"))
        with connect_reader(settings.warehouse_path) as conn:
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("raw_instructions", "programs", "edit_sequences", "edits")}
            assert all(n > 0 for n in counts.values()), counts
            assert conn.execute("SELECT count(DISTINCT run_id) FROM edit_sequences").fetchone()[0] == 1
        assert (settings.exports_dir / "default" / "manifest.json").is_file()
    finally:
        _kill_tree(proc)
