"""Materialize the whole graph in this process: what `lintseq materialize` (and `make run`) do.

The graph is two jobs: `ingest_source`, partitioned by source (raw_instructions and
source_programs for one partition), and `materialize_downstream` (the global steps: programs,
sampling, load, checks, exports). `run_graph` registers the sources file's partitions, runs
the ingest job once per partition, then the downstream job once, on the shared instance in
DAGSTER_HOME (runs show in the UI), after recovering runs whose process was killed (their
pool slots would otherwise block this run for ever), tagged with this process. If a
partition fails, the downstream run is not started: it would curate a partial corpus.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from lintseq_assets.platform.instance import prepare_dagster_home, recover_dead_runs, run_tags
from lintseq_assets.platform.jobs import DOWNSTREAM_JOB, SOURCE_JOB
from lintseq_assets.platform.partitions import register_sources
from lintseq_assets.platform.run_config import split_run_config
from lintseq_assets.runtime.environment import PlatformSettings


@dataclass
class GraphResult:
    """The runs one `run_graph` call made, read like one Dagster result."""

    runs: list[ExecuteInProcessResult] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)
    stopped_before_downstream: bool = False

    @property
    def success(self) -> bool:
        return bool(self.runs) and all(r.success for r in self.runs) and not self.stopped_before_downstream

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    @property
    def run_id(self) -> str:
        """The last run's id (the downstream run when it ran)."""
        return self.runs[-1].run_id if self.runs else ""

    @property
    def all_events(self) -> list:
        return [event for r in self.runs for event in r.all_events]

    def get_asset_materialization_events(self) -> list:
        return [event for r in self.runs for event in r.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list:
        return [evaluation for r in self.runs for evaluation in r.get_asset_check_evaluations()]

    def failed_steps(self) -> list[str]:
        return [e.step_key for e in self.all_events if e.is_step_failure]

    def failure_reason(self) -> str:
        """One line: the first failed run's first failed step and why."""
        failed = [r for r in self.runs if not r.success]
        if failed:
            return failure_reason(failed[0])
        return "a source partition failed" if self.stopped_before_downstream else "no run was made"


def failure_reason(run: ExecuteInProcessResult) -> str:
    """One line: the first failed step and why (a `Failure`'s description, else the error's first line)."""
    for event in run.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            user = getattr(data, "user_failure_data", None)
            text = (user.description if user is not None and user.description else None) or _error_line(data.error)
            return f"{event.step_key}: {' '.join(text.split())}"
    return "a step or check failed"


def _error_line(error) -> str:
    """The innermost cause's message (Dagster wraps user code errors)."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    return (error.message.strip().splitlines() or ["unknown error"])[-1] if error is not None else "unknown error"


def run_graph(
    defs: Definitions,
    instance: DagsterInstance,
    home: Path,
    sources_file: Path,
    run_config: dict | None = None,
    tags: dict | None = None,
    log=print,
) -> GraphResult:
    """Every partition of `sources_file`, then the global steps; stops before them on a failure."""
    result = GraphResult()
    result.partitions = register_sources(instance, home, sources_file)
    ingest_config, downstream_config = split_run_config(run_config)
    ingest_job = defs.resolve_job_def(SOURCE_JOB)
    for key in result.partitions:
        run = ingest_job.execute_in_process(run_config=ingest_config, instance=instance, partition_key=key, tags=tags, raise_on_error=False)
        result.runs.append(run)
        log(f"lintseq: partition {key}: ok (run {run.run_id})" if run.success else f"lintseq: partition {key}: FAILED: {failure_reason(run)} (run {run.run_id})")
    if not all(r.success for r in result.runs):
        result.stopped_before_downstream = True
        log("lintseq: a source partition failed; the global steps (curation, sampling, exports) were not started")
        return result
    result.runs.append(
        defs.resolve_job_def(DOWNSTREAM_JOB).execute_in_process(run_config=downstream_config, instance=instance, tags=tags, raise_on_error=False)
    )
    return result


def materialize_all(
    defs: Definitions, settings: PlatformSettings, run_config: dict | None = None, log=print, sources_file: Path | None = None
) -> GraphResult:
    """`run_graph` of `defs` (built by the caller: `lintseq_assets.definitions.build_definitions`)
    on the platform's own instance; never raises on step failure."""
    prepare_dagster_home(settings)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    with DagsterInstance.get() as instance:
        for run_id in recover_dead_runs(instance):
            log(f"lintseq: run {run_id} was killed mid-way; marked failed and its pool slot freed")
        return run_graph(defs, instance, settings.home, Path(sources_file or settings.sources_file), run_config, run_tags(), log)
