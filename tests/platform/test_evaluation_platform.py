"""Evaluation on the platform: a real (small) `make run`, then the `generation_files` sensor
and the `evaluations` asset in-process on a real DuckDB file.

- `make run` (the downstream job) does not evaluate anything and does not need generations;
- the decode round trip holds for every row of the exports that run wrote;
- a ready generations file becomes one run request (same readiness rule as the drop folder),
  the asset scores it into the `evaluations` table, and its metadata holds the pass@k table
  and the plot; the same file is never evaluated twice, and re-loading a staged set is a no-op.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, SensorResult, SkipReason, build_sensor_context
from support.evaluation import export_round_trip
from support.platform import (
    SMALL_RUN_CONFIG,
    run_platform,
    small_check_settings,
    small_settings,
    table_snapshot,
)

from lintseq_assets.core import sample_edit_paths
from lintseq_assets.definitions import build_definitions
from lintseq_assets.evaluation.problems import humaneval_problems
from lintseq_assets.evaluation.staging import SCOPE_SQL, TABLE
from lintseq_assets.platform.generations_sensor import GENERATIONS_SENSOR
from lintseq_assets.platform.jobs import EVALUATION_JOB
from resources.connect import connect_reader
from resources.loader import Load, load
from resources.merge import parquet_select

TASKS = 12  # HumanEval tasks in the planted generation files (enough to show, quick to run)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    settings = small_settings(tmp_path_factory.mktemp("eval_home"), stdlib_limit=3, embedded_limit=6)
    instance = DagsterInstance.ephemeral()
    defs = build_definitions(settings, replace(small_check_settings(settings), with_gx=False, replay_max_rows=5))
    result = run_platform(settings, instance, SMALL_RUN_CONFIG, defs=defs)
    assert result.success, result.failed_steps()
    return settings, instance, defs, result


def test_make_run_evaluates_nothing(platform):
    settings, _, defs, result = platform
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "training_exports" in materialized and "evaluations" not in materialized
    assert AssetKey("evaluations") not in defs.resolve_job_def("materialize_downstream").asset_layer.selected_asset_keys
    with connect_reader(settings.warehouse_path) as conn:
        assert conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] == 0


def test_round_trip_on_the_platform_exports(platform):
    settings = platform[0]
    with connect_reader(settings.warehouse_path) as conn:
        programs = dict(conn.execute("SELECT program_id, program FROM programs").fetchall())
        n_sequences = conn.execute("SELECT count(*) FROM edit_sequences").fetchone()[0]
    checked = export_round_trip(settings.exports_dir / "default", programs)
    assert checked >= n_sequences > 0  # every sequence, in each sequence format exported


def _write(path: Path, rows: list[dict], marker: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if marker is not None:
        path.with_name(path.name + ".done").write_text(marker, encoding="utf-8")


def test_sensor_and_asset(platform):
    settings, instance, defs, _ = platform
    sensor = defs.resolve_sensor_def(GENERATIONS_SENSOR)
    assert isinstance(sensor(build_sensor_context(instance=instance)), SkipReason)  # no folder yet: a skip, not an error
    problems = list(humaneval_problems().values())[:TASKS]
    folder = settings.home / "generations" / "humaneval"
    model = [{"task_id": p.task_id, "completion": "\n<|diff|>".join(path)} for p in problems for path in sample_edit_paths(p.canonical_solution, samples=2, seed=3)]
    model[0]["completion"] = "@@ -0,0 +1 @@\n+def broken(:\n<|diff|>" + model[0]["completion"].split("<|diff|>")[0]  # one failing generation
    baseline = [{"task_id": p.task_id, "completion": p.canonical_solution[len(p.prompt):]} for p in problems]
    _write(folder / "lintseq_model.jsonl", model, marker="")
    _write(folder / "baseline_model.jsonl", baseline, marker="format: code\n")
    _write(folder / "still_copying.jsonl", baseline[:2], marker=None)  # fresh, no marker: not ready

    result = sensor(build_sensor_context(instance=instance))
    assert isinstance(result, SensorResult) and len(result.run_requests) == 2
    job = defs.resolve_job_def(EVALUATION_JOB)
    for request in result.run_requests:
        assert request.run_key.startswith("eval:")
        run = job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags)
        assert run.success
    assert isinstance(sensor(build_sensor_context(instance=instance, cursor=result.cursor)), SkipReason)

    metadata = instance.get_latest_materialization_event(AssetKey("evaluations")).asset_materialization.metadata
    table = metadata["pass_at_k_humaneval"].value
    assert "lintseq_model.jsonl (diffs)" in table and "baseline_model.jsonl (code)" in table
    assert "| 1 | 100.0% | 95.8% |" in table  # baseline first by file name; 23 of 24 model generations pass
    assert Path(metadata["plot_humaneval"].value).read_bytes()[:4] == b"\x89PNG"
    assert "data:image/png;base64," in metadata["plot_humaneval_inline"].value
    with connect_reader(settings.warehouse_path) as conn:
        rows = conn.execute(f"SELECT format, count(*), sum(passed::INT), count(DISTINCT task_id) FROM {TABLE} GROUP BY 1 ORDER BY 1").fetchall()
        failure = conn.execute(f"SELECT failure_kind, detail FROM {TABLE} WHERE NOT passed").fetchall()
        before = table_snapshot(conn, TABLE, with_run_id=True)
    assert rows == [("code", TASKS, TASKS, TASKS), ("diffs", 2 * TASKS, 2 * TASKS - 1, TASKS)]
    assert failure[0][0] == "error" and "SyntaxError" in failure[0][1]

    # Materialized again by hand: both files are evaluated already (the third is not ready), nothing changes.
    again = job.execute_in_process(instance=instance)
    assert again.success
    with connect_reader(settings.warehouse_path) as conn:
        assert table_snapshot(conn, TABLE, with_run_id=True) == before

    # Re-loading a staged set through the loader is a no-op.
    staged = sorted((settings.staging_dir / TABLE).glob("humaneval-diffs-skip-*/shard-*.parquet"))
    sha = staged[0].parent.name.rsplit("-", 1)[1]
    (stats,) = load(settings.warehouse_path, [Load(TABLE, parquet_select(staged, TABLE), SCOPE_SQL, (sha, "humaneval", "diffs", "skip"))], run_id="reload")
    assert (stats.incoming, stats.inserted, stats.updated, stats.deleted) == (2 * TASKS, 0, 0, 0)
    with connect_reader(settings.warehouse_path) as conn:
        assert table_snapshot(conn, TABLE, with_run_id=True) == before
