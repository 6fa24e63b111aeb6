"""`lintseq ui` as a new user meets it: the first "Materialize all" finds every source, the
output is free of warnings nobody can act on, and stopping it leaves no process behind.

Each test starts the real `lintseq ui` (webserver, daemon, code server) on a free port under a
temporary LINTSEQ_HOME and talks to it over GraphQL, as the browser does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.platform import small_settings

from lintseq_assets.platform.instance import platform_environment
from resources.connect import connect_reader

pytestmark = pytest.mark.e2e
STARTUP_TIMEOUT = 300
RUN_TIMEOUT = 600
STOP_LIMIT = 10.0
NOISE = ("SupersessionWarning", "will not be used to configure Dagster", "superseded")

ASSET_NODES = """
query { assetNodes { assetKey { path } isPartitioned partitionKeysByDimension { partitionKeys } } }
"""
LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on PartitionSetNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""
BACKFILL_STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } } }
"""
LATEST_EXPORT = """
query { assetOrError(assetKey: {path: ["training_exports"]}) {
  __typename ... on Asset { assetMaterializations(limit: 1) { runId } } } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(answer["errors"])
    return answer["data"]


# --- the process tree, from /proc (independent of the code under test) ------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _tree(root: int) -> list[int]:
    parents = {int(p): _stat(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += [child for child, stat in parents.items() if stat and stat[1] == pid]
    return [p for p in found if _alive(p)]


def _processes_with_home(home: Path) -> list[tuple[int, str]]:
    """Live processes started for this test's LINTSEQ_HOME (orphans included)."""
    marker = f"LINTSEQ_HOME={home}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker + b"\0" in environ + b"\0" and _alive(int(entry)):
            found.append((int(entry), cmdline[:200]))
    return found


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- starting the UI ------------------------------------------------------------------------


def _start_ui(tmp_path: Path, settings, port: int) -> tuple[subprocess.Popen, Path]:
    env = platform_environment(settings)
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    log = tmp_path / "ui.log"
    lintseq = Path(sys.executable).with_name("lintseq")
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(lintseq), "ui", "--port", str(port)], env=env, cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def _asset_nodes_when_loaded(port: int, proc: subprocess.Popen, log: Path) -> list[dict]:
    """The asset graph, as soon as the server answers with the code location loaded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"lintseq ui exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            nodes = _graphql(port, ASSET_NODES)["assetNodes"]
            if nodes:
                return nodes
        except (OSError, urllib.error.URLError, RuntimeError) as err:
            last = err
        time.sleep(0.5)
    pytest.fail(f"webserver not ready after {STARTUP_TIMEOUT}s: {last}\n{log.read_text()[-3000:]}")


def _kill_everything(proc: subprocess.Popen, home: Path) -> None:
    for pid, _ in _processes_with_home(home):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def _assert_quiet(log: Path) -> None:
    text = log.read_text(errors="replace")
    for noise in NOISE:
        assert noise not in text, f"{noise!r} in the output of lintseq ui:\n{text[:4000]}"


@pytest.mark.timeout(STARTUP_TIMEOUT + RUN_TIMEOUT + 120)
def test_first_materialize_all_finds_every_source_and_reaches_the_exports(tmp_path):
    settings = small_settings(tmp_path / "home", stdlib_limit=4, embedded_limit=8)
    port = _free_port()
    proc, log = _start_ui(tmp_path, settings, port)
    try:
        nodes = _asset_nodes_when_loaded(port, proc, log)
        # What the "Materialize all" dialog offers under "All": the partitions known right now.
        partitioned = [n for n in nodes if n["isPartitioned"]]
        keys = sorted({k for n in partitioned for dim in n["partitionKeysByDimension"] for k in dim["partitionKeys"]})
        assert keys == ["embedded", "local", "stdlib"], f"the first Materialize all would offer {keys}"
        # ... and what it launches: one backfill of every asset over those partitions.
        params = {"assetSelection": [n["assetKey"] for n in nodes], "partitionNames": keys, "fromFailure": False}
        launched = _graphql(port, LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]

        deadline = time.monotonic() + RUN_TIMEOUT
        exported = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            exported = _graphql(port, LATEST_EXPORT)["assetOrError"].get("assetMaterializations") or []
            if exported:
                break
            status = _graphql(port, BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"].get("status")
            assert status not in ("FAILED", "CANCELED", "COMPLETED_FAILED"), f"backfill {status}:\n{log.read_text()[-4000:]}"
            time.sleep(3.0)
        assert exported, f"training_exports not materialized within {RUN_TIMEOUT}s:\n{log.read_text()[-4000:]}"
        assert (settings.exports_dir / "default" / "manifest.json").is_file()
        with connect_reader(settings.warehouse_path) as conn:
            sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM raw_instructions").fetchall()}
            assert sources == {"stdlib", "embedded", "local"}
            assert conn.execute("SELECT count(*) FROM edit_sequences").fetchone()[0] > 0
        _assert_quiet(log)
    finally:
        _kill_everything(proc, settings.home)


@pytest.mark.timeout(STARTUP_TIMEOUT + 120)
@pytest.mark.parametrize("how", ["SIGTERM to lintseq", "SIGINT to its process group"])
def test_stopping_lintseq_ui_leaves_no_process(tmp_path, how):
    settings = small_settings(tmp_path / "home", stdlib_limit=2, embedded_limit=2)
    port = _free_port()
    proc, log = _start_ui(tmp_path, settings, port)
    try:
        _asset_nodes_when_loaded(port, proc, log)
        # The daemon and the code servers are up too (lintseq, dg dev, webserver, daemon, code servers).
        deadline = time.monotonic() + 120
        while len(_tree(proc.pid)) < 5 and time.monotonic() < deadline:
            time.sleep(1.0)
        before = _tree(proc.pid)
        assert len(before) >= 5, f"expected lintseq, dg dev, webserver, daemon and a code server: {before}"

        started = time.monotonic()
        if how == "SIGTERM to lintseq":
            os.kill(proc.pid, signal.SIGTERM)
        else:  # Ctrl-C in a terminal: SIGINT to the foreground process group
            os.killpg(proc.pid, signal.SIGINT)
        while time.monotonic() - started < STOP_LIMIT and (any(_alive(p) for p in before) or _processes_with_home(settings.home)):
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        left = [p for p in before if _alive(p)]
        orphans = _processes_with_home(settings.home)
        assert not left and not orphans, f"after {how}, {elapsed:.1f}s: still alive {left} {orphans}\n{log.read_text()[-3000:]}"
        assert elapsed <= STOP_LIMIT
        assert proc.wait(timeout=5) == 0
        assert not _listening(port)
        _assert_quiet(log)
    finally:
        _kill_everything(proc, settings.home)
