"""Two source partitions curate at the same time: only their loads take turns.

Each partition's `ingest_source` run is its own process on one $LINTSEQ_HOME and one Dagster
instance, as two UI backfill runs would be. The steps' start and end events in the instance's
event log show that both `source_programs` steps were computing at once (the warehouse is held
only by the loader, `resources/loader.py`), and the warehouse ends with both partitions' rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance

pytest.importorskip("lintseq_assets.definitions")

# One source in two hash shards: two partitions, each a few hundred standard-library files.
SOURCES = "sources:\n  - name: stdlib\n    loader: stdlib\n    limit: 500\n    shards: 2\n"
DRIVER = """
import sys
from dagster import DagsterInstance
from lintseq_assets.definitions import build_definitions
from lintseq_assets.platform.jobs import SOURCE_JOB
from lintseq_assets.platform.partitions import register_sources
from lintseq_assets.runtime.environment import load_settings

settings = load_settings()
with DagsterInstance.get() as instance:
    register_sources(instance, settings.home, settings.sources_file)
    job = build_definitions(settings).resolve_job_def(SOURCE_JOB)
    config = {"ops": {"source_programs": {"config": {"workers": 1}}}}
    result = job.execute_in_process(run_config=config, instance=instance, partition_key=sys.argv[1], raise_on_error=False)
sys.exit(0 if result.success else 1)
"""
PARTITIONS = ("stdlib~0of2", "stdlib~1of2")


def _environment(home: Path, sources: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "LINTSEQ_"))}
    env.update(LINTSEQ_HOME=str(home), LINTSEQ_SOURCES=str(sources), DAGSTER_HOME=str(home / "dagster"),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def _step_window(instance: DagsterInstance, run_id: str, step: str) -> tuple[float, float]:
    records = instance.all_logs(run_id)
    times = {
        event.dagster_event.event_type: event.timestamp
        for event in records
        if event.dagster_event is not None and event.dagster_event.step_key == step
        and event.dagster_event.event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS)
    }
    return times[DagsterEventType.STEP_START], times[DagsterEventType.STEP_SUCCESS]


def test_two_partitions_curate_at_the_same_time(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "dagster").mkdir(parents=True)
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES, encoding="utf-8")
    env = _environment(home, sources)
    # The instance (dagster.yaml, storage) exists before either run starts, as with `lintseq ui`.
    prepared = subprocess.run([sys.executable, "-c", "from lintseq_assets.platform.instance import prepare_dagster_home\n"
                               "from lintseq_assets.runtime.environment import load_settings\nprepare_dagster_home(load_settings())"],
                              env=env, capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    runs = [subprocess.Popen([sys.executable, "-c", DRIVER, key], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for key in PARTITIONS]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n\n".join(out[-3000:] for out in outputs)

    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    with DagsterInstance.get() as instance:
        windows = [_step_window(instance, run.run_id, "source_programs") for run in instance.get_runs()]
    assert len(windows) == 2
    (start_a, end_a), (start_b, end_b) = windows
    overlap = min(end_a, end_b) - max(start_a, start_b)
    assert overlap > 0, f"the two curation steps ran one after the other: {windows}"

    with duckdb.connect(str(home / "lintseq.duckdb"), read_only=True) as conn:
        raw = conn.execute("SELECT count(*) FROM raw_instructions").fetchone()[0]
        accounted = conn.execute(
            "SELECT (SELECT count(*) FROM candidates) + (SELECT count(*) FROM rejects WHERE asset = 'source_programs')"
        ).fetchone()[0]
    assert raw > 400 and accounted == raw
