"""The drop-folder sensor, declarative automation and the hub schedule, evaluated with
Dagster's test helpers on a real instance, and the runs they request executed for real:
exactly the new records arrive, every old row stays byte-identical, the global steps follow by
themselves (never past a failed blocking check), and the same file is never ingested twice.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml
from dagster import (
    AssetKey,
    DagsterInstance,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    evaluate_automation_conditions,
)
from support.platform import run_platform, small_check_settings, small_settings, table_snapshot

from lintseq_assets.definitions import build_definitions
from lintseq_assets.platform.jobs import DOWNSTREAM_JOB, SOURCE_JOB
from lintseq_assets.platform.partitions import SOURCE_PARTITIONS
from lintseq_assets.platform.schedules import HUB_SCHEDULE
from lintseq_assets.platform.sensors import INCOMING_SENSOR
from lintseq_assets.sources.dropfolder import scan_incoming
from resources.connect import connect_reader

TABLES = ("raw_instructions", "programs", "edit_sequences")
NEW_RECORDS = [
    {"instruction": "Square a number.", "response": "```python\ndef square(x):\n    result = x * x\n    return result\n```"},
    {"instruction": "Join words.", "response": "```python\ndef join_words(words, sep):\n    text = sep.join(words)\n    return text.strip()\n```"},
]


def definitions(settings):
    return build_definitions(settings, replace(small_check_settings(settings), with_gx=False, replay_max_rows=5))


def run(settings, instance, run_config):
    result = run_platform(settings, instance, run_config, defs=definitions(settings))
    assert result.success, result.failed_steps()


def follow_automation(settings, instance, cursor=None, max_ticks: int = 6) -> tuple[list[set[str]], object]:
    """Evaluate the automation conditions and run what they request, tick after tick, until
    nothing more is requested (what the `lintseq_automation` sensor and the daemon do)."""
    defs = definitions(settings)
    ticks: list[set[str]] = []
    for _ in range(max_ticks):
        evaluation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = evaluation.cursor
        requested = {r.key for r in evaluation.results if r.true_subset.size and isinstance(r.key, AssetKey)}
        if not requested:
            return ticks, cursor
        ticks.append({key.to_user_string() for key in requested})
        job = defs.resolve_job_def(DOWNSTREAM_JOB)
        result = job.execute_in_process(instance=instance, asset_selection=sorted(requested, key=str), raise_on_error=False)
        assert result.success, [e.step_key for e in result.all_events if e.is_step_failure]
    raise AssertionError(f"automation kept requesting work: {ticks}")


def snapshots(settings) -> dict[str, list[tuple]]:
    with connect_reader(settings.warehouse_path) as conn:
        snaps = {t: table_snapshot(conn, t, with_run_id=True) for t in TABLES}
    return {t: [tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows] for t, rows in snaps.items()}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    settings = small_settings(tmp_path_factory.mktemp("sensor_home"), stdlib_limit=3, embedded_limit=4)
    instance = DagsterInstance.ephemeral()
    run(settings, instance, {"ops": {"edit_sequence_shards": {"config": {"samples": 1, "workers": 1}}}})
    return settings, instance


def evaluate(settings, instance, cursor=None):
    sensor = definitions(settings).resolve_sensor_def(INCOMING_SENSOR)
    return sensor(build_sensor_context(instance=instance, cursor=cursor))


def test_drop_folder_adds_exactly_the_new_records(graph):
    settings, instance = graph
    before = snapshots(settings)
    incoming = settings.home / "incoming"
    incoming.mkdir()
    drop = incoming / "week1.jsonl"
    drop.write_text("".join(json.dumps(r) + "\n" for r in NEW_RECORDS), encoding="utf-8")
    (incoming / ".week2.jsonl.tmp").write_text("half a line", encoding="utf-8")  # still being copied

    # Fresh and unmarked: not settled yet, so not picked up half-way (the configured sources
    # are partition keys already: `lintseq materialize` registered them).
    assert set(instance.get_dynamic_partitions(SOURCE_PARTITIONS.name)) == {"stdlib", "embedded", "local"}
    assert isinstance(evaluate(settings, instance), SkipReason)
    (incoming / "week1.jsonl.done").touch()
    result = evaluate(settings, instance)
    assert isinstance(result, SensorResult) and len(result.run_requests) == 1
    request = result.run_requests[0]
    source = request.tags["lintseq/source"]
    assert source.startswith("drop-week1-")
    instance.add_dynamic_partitions(SOURCE_PARTITIONS.name, list(result.dynamic_partitions_requests[0].partition_keys))
    assert source in instance.get_dynamic_partitions(SOURCE_PARTITIONS.name)
    assert request.partition_key == source and not request.run_config  # automatic runs reuse the last settings

    # The sensor's run ingests and curates the new partition; automation does the rest.
    _, cursor = follow_automation(settings, instance)  # settle: nothing is new before the drop
    ingest = definitions(settings).resolve_job_def(SOURCE_JOB)
    assert ingest.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags).success
    ticks, cursor = follow_automation(settings, instance, cursor)
    assert set().union(*ticks) == {"programs", "edit_sequence_shards", "edit_sequences", "training_exports"}
    shards = instance.get_latest_materialization_event(AssetKey("edit_sequence_shards")).asset_materialization.metadata
    assert shards["samples_per_program"].value == 1  # the last run's setting, not the default (3)
    after = snapshots(settings)
    for table in TABLES:
        assert set(before[table]) <= set(after[table]), f"{table}: an old row changed"
    new_raw = [r for r in after["raw_instructions"] if r not in before["raw_instructions"]]
    assert sorted(r[0] for r in new_raw) == [f"{source}:0", f"{source}:1"]
    assert {r[1] for r in new_raw} == {source}
    new_programs = [r for r in after["programs"] if r not in before["programs"]]
    assert len(new_programs) == 2
    new_sequences = [r for r in after["edit_sequences"] if r not in before["edit_sequences"]]
    assert {r[1] for r in new_sequences} == {p[0] for p in new_programs}  # only the new programs were sampled

    # Never twice: the cursor knows the hash, even when the same bytes come back under a new name.
    (incoming / "copy.jsonl").write_bytes(drop.read_bytes())
    (incoming / "copy.jsonl.done").touch()
    assert isinstance(evaluate(settings, instance, cursor=result.cursor), SkipReason)

    # A backfill of the source's partition (what the UI launches) re-reads it and changes nothing,
    # and neither does what automation runs after it (only new work is done).
    rerun = ingest.execute_in_process(instance=instance, partition_key=source)
    assert rerun.success
    follow_automation(settings, instance, cursor)
    assert snapshots(settings) == after
    shards = instance.get_latest_materialization_event(AssetKey("edit_sequence_shards")).asset_materialization.metadata
    assert shards["programs_to_sample"].value == 0


def test_settle_time_without_marker(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
    assert scan_incoming(tmp_path, settle_seconds=60) == []
    ready = scan_incoming(tmp_path, settle_seconds=60, now=(tmp_path / "a.py").stat().st_mtime + 61)
    assert [(i.path.name, i.loader) for i in ready] == [("a.py", "python")]


def test_hub_schedule_skips_offline(tmp_path):
    settings = small_settings(tmp_path / "home")
    document = yaml.safe_load(settings.sources_file.read_text())
    document["sources"].append({"name": "hubby", "loader": "hub", "dataset": "someone/some-dataset", "columns": {"instruction": "q", "response": "a"}})
    settings.sources_file.write_text(yaml.safe_dump(document))
    schedule = definitions(settings).resolve_schedule_def(HUB_SCHEDULE)
    with DagsterInstance.ephemeral() as instance:
        result = schedule(build_schedule_context(instance=instance))
    assert isinstance(result, SkipReason) and "offline" in result.skip_message
