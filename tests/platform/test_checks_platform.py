"""The checks inside the platform's own Definitions, materialized in-process.

Run 1 materializes the whole graph on a small standard-library source: every asset check
passes on real platform output (and GX Data Docs appear under $LINTSEQ_HOME). Then a staged
edit_sequences shard is corrupted on disk (same rows, one edit that deletes a line: what a
faulty worker or disk would leave) and run 2 reloads `edit_sequences` and asks for
`training_exports`: the blocking replay check fails, the export does not run, and the
previous export is left exactly as it was.
"""

import hashlib
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, evaluate_automation_conditions

pytest.importorskip("lintseq_assets.definitions")

SOURCES = """
sources:
  - name: stdlib
    loader: stdlib
    limit: 4
"""
RUN_CONFIG = {"ops": {"edit_sequence_shards": {"config": {"samples": 1, "workers": 1}}}}


@pytest.fixture
def platform(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    monkeypatch.setenv("LINTSEQ_HOME", str(home))
    monkeypatch.setenv("LINTSEQ_SOURCES", str(tmp_path / "sources.yaml"))
    monkeypatch.setenv("LINTSEQ_WORKERS", "1")
    from lintseq_assets.definitions import build_definitions
    from lintseq_assets.runtime.environment import load_settings

    settings = load_settings()
    instance = DagsterInstance.ephemeral()
    yield settings, build_definitions(settings), instance
    instance.dispose()


def evaluations(result) -> dict[str, bool]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed for e in result.get_asset_check_evaluations()}


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def corrupt_staged_sequences(home: Path) -> str:
    shard = sorted((home / "staging" / "edit_sequences").rglob("shard-*.parquet"))[0]
    frame = pl.read_parquet(shard).sort("sequence_id")
    victim = frame["sequence_id"][0]
    paths = frame["edit_path"].to_list()
    paths[0] = [*paths[0][:-1], paths[0][-1] + "\n@@ -1 +0,0 @@\n-import os"]
    frame.with_columns(pl.Series("edit_path", paths, dtype=pl.List(pl.String))).write_parquet(shard)
    return victim


def test_corrupt_sequences_are_stopped_before_the_export(platform):
    from support.platform import run_platform

    from lintseq_assets.platform.jobs import DOWNSTREAM_JOB

    settings, defs, instance = platform
    home = settings.home
    first = run_platform(settings, instance, RUN_CONFIG, defs=defs)
    checks = evaluations(first)
    assert first.success
    assert {"edit_sequences:sequences_replay", "programs:programs_parse", "training_exports:splits_disjoint",
            "training_exports:counts_match_warehouse", "edit_sequences:gx_edit_sequences"} <= set(checks)
    assert all(checks.values()), {k: v for k, v in checks.items() if not v}
    assert "training_exports" in materialized(first)
    assert list((home / "gx_docs").rglob("index.html"))
    exports = home / "exports"
    before = digest(exports)

    baseline = evaluate_automation_conditions(defs=defs, instance=instance)  # what automation saw before
    corrupt_staged_sequences(home)
    second = defs.resolve_job_def(DOWNSTREAM_JOB).execute_in_process(
        instance=instance,
        run_config={},
        asset_selection=[AssetKey("edit_sequences")],  # the export is left to automation
        raise_on_error=False,
    )
    checks = evaluations(second)
    assert checks["edit_sequences:sequences_replay"] is False
    assert "edit_sequences" in materialized(second)
    assert "training_exports" not in materialized(second)
    assert digest(exports) == before
    assert not second.success  # a failed blocking check fails the run: `lintseq materialize` exits 1

    # Declarative automation does not go past it either: the export is not requested while
    # the blocking replay check of edit_sequences is failing.
    evaluation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    assert evaluation.get_num_requested(AssetKey("training_exports")) == 0
