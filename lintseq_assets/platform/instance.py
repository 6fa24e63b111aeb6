"""The local Dagster instance: DAGSTER_HOME prepared under $LINTSEQ_HOME from dagster.yaml.

`lintseq ui` and `lintseq materialize` share it, so runs started from the command line show
up in the UI's history, and both obey the same pools and run limits.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lintseq_assets.runtime.environment import DAGSTER_YAML_TEMPLATE, PlatformSettings
from lintseq_assets.runtime.files import write_text_atomic

MANAGED_MARKER = "# managed by lintseq"


def prepare_dagster_home(settings: PlatformSettings) -> Path:
    """Create DAGSTER_HOME, (re)write its dagster.yaml unless the user took it over, and
    create the instance's storage once.

    All under a file lock: two commands started at once on a fresh home would otherwise race
    to create the same SQLite tables ("table run_tags already exists").
    """
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lintseq-init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_instance_yaml(home / "dagster.yaml")
        marker = home / ".lintseq-initialised"
        if not marker.exists():
            _create_storage(home)
            marker.touch()
    return home


def _write_instance_yaml(target: Path) -> None:
    template = DAGSTER_YAML_TEMPLATE.read_text(encoding="utf-8")
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current is None or (current.startswith(MANAGED_MARKER) and current != template):
        write_text_atomic(target, template)


def _create_storage(home: Path) -> None:
    from dagster import DagsterInstance

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)  # dagster.yaml refers to it
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            instance.get_runs(limit=1)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


@contextmanager
def platform_instance(settings: PlatformSettings) -> Iterator:
    """The Dagster instance in DAGSTER_HOME (prepared first), the one the UI and runs use."""
    from dagster import DagsterInstance

    home = prepare_dagster_home(settings)
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)  # dagster.yaml refers to it
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def platform_environment(settings: PlatformSettings) -> dict[str, str]:
    """Environment for a child process (dagster dev) that resolves to the same places."""
    env = dict(os.environ)
    env.update(
        LINTSEQ_HOME=str(settings.home),
        LINTSEQ_SOURCES=str(settings.sources_file),
        LINTSEQ_WORKERS=str(settings.workers),
        DAGSTER_HOME=str(settings.dagster_home),
        LINTSEQ_REPLAY_CHECK_ROWS=str(settings.replay_check_rows),
        LINTSEQ_WAREHOUSE_MEMORY_LIMIT=settings.warehouse_memory_limit,
        LINTSEQ_LOADER_MEMORY_LIMIT=settings.loader_memory_limit,
    )
    return env


# Runs started by `lintseq materialize` carry the process that runs them, so a later command
# can tell a live run (leave it alone) from one whose process was killed (recover it).
PID_TAG = "lintseq/pid"
HOST_TAG = "lintseq/host"


def run_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_runs(instance) -> list[str]:
    """Mark in-process runs whose process died as failed and give back their pool slots.

    An in-process run killed with SIGKILL never reports its end, so it would hold its
    `warehouse` pool slot for ever and every later run would wait for it. Runs launched from
    the UI are watched by the daemon's run monitoring instead (dagster.yaml).
    """
    from dagster import DagsterRunStatus, RunsFilter

    host = socket.gethostname()
    recovered = []
    in_progress = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING]
    for dagster_run in instance.get_runs(filters=RunsFilter(statuses=in_progress)):
        tags = dagster_run.tags
        if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit() or _alive(int(tags[PID_TAG])):
            continue
        instance.event_log_storage.free_concurrency_slots_for_run(dagster_run.run_id)
        instance.report_run_failed(dagster_run, message=f"process {tags[PID_TAG]} died without finishing the run")
        recovered.append(dagster_run.run_id)
    return recovered
