"""Materialize the whole graph in this process: what `lintseq materialize` (and `make run`) do.

One function, so the command, scripts and tests run the graph the same way: on the shared
instance in DAGSTER_HOME (runs show in the UI), after recovering runs whose process was
killed (their pool slots would otherwise block this run for ever), tagged with this process.
"""

from __future__ import annotations

import os

from dagster import DagsterInstance, ExecuteInProcessResult

from .instance import prepare_dagster_home, recover_dead_runs, run_tags
from .settings import PlatformSettings


def materialize_all(settings: PlatformSettings, run_config: dict | None = None, check_settings=None, log=print) -> ExecuteInProcessResult:
    """Run `materialize_all` in-process; returns Dagster's result (never raises on step failure)."""
    from .definitions import ALL_JOB, build_definitions

    prepare_dagster_home(settings)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    job = build_definitions(settings, check_settings).resolve_job_def(ALL_JOB)
    with DagsterInstance.get() as instance:
        for run_id in recover_dead_runs(instance):
            log(f"lintseq: run {run_id} was killed mid-way; marked failed and its pool slot freed")
        return job.execute_in_process(run_config=run_config or {}, instance=instance, tags=run_tags(), raise_on_error=False)
