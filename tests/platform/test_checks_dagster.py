"""The asset checks inside a real Dagster run (in-process, real DuckDB, real GX).

Stand-in assets write a real warehouse (standard-library programs through the engine) under
the asset keys the platform uses; the checks come from `build_asset_checks()` exactly as
the Definitions include them. A planted bad sequence must fail a blocking check, and then
`training_exports` must not run. The platform's own Definitions are exercised in
`test_checks_platform.py`.
"""

from pathlib import Path

import duckdb
import pytest
from dagster import AssetExecutionContext, Config, asset, materialize
from dagster_duckdb import DuckDBResource
from support.warehouse import build_warehouse

from checks import build_asset_checks
from checks.asset_checks import CheckSettings
from resources.gx import GXResource


class CorruptConfig(Config):
    plant_bad_edit: bool = False


@asset(name="raw_instructions")
def raw_instructions(warehouse: DuckDBResource) -> None:
    with warehouse.get_connection() as conn:
        conn.execute("SELECT 1")


@asset(name="programs", deps=["raw_instructions"])
def programs() -> None:
    """Filled with raw_instructions' warehouse below (one writer call builds all tables)."""


@asset(name="edit_sequences", deps=["programs"])
def edit_sequences(context: AssetExecutionContext, config: CorruptConfig, warehouse: DuckDBResource) -> None:
    if config.plant_bad_edit:
        with warehouse.get_connection() as conn:
            sid, path = conn.execute("SELECT sequence_id, edit_path FROM edit_sequences ORDER BY sequence_id LIMIT 1").fetchone()
            path[-1] += "\n@@ -1 +0,0 @@\n-import os"  # a diff that deletes a line
            conn.execute("UPDATE edit_sequences SET edit_path = ? WHERE sequence_id = ?", [path, sid])


@asset(name="training_exports", deps=["edit_sequences"])
def training_exports(context: AssetExecutionContext) -> None:
    marker = Path(context.instance.root_directory) / "exported"
    marker.write_text("ran")


def run(tmp_path: Path, plant: bool):
    database = tmp_path / "lintseq.duckdb"
    if not database.exists():
        build_warehouse(database, samples=1, sources=None)
    checks = build_asset_checks(CheckSettings(with_exports=False))  # exports: test_checks_exports
    return materialize(
        [raw_instructions, programs, edit_sequences, training_exports, *checks],
        resources={"warehouse": DuckDBResource(database=str(database)), "gx": GXResource(docs_dir=str(tmp_path / "gx"))},
        run_config={"ops": {"edit_sequences": {"config": {"plant_bad_edit": plant}}}},
        raise_on_error=False,
    )


def evaluations(result) -> dict[str, bool]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed for e in result.get_asset_check_evaluations()}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LINTSEQ_HOME", str(tmp_path))
    return tmp_path


def test_a_deleting_edit_blocks_the_export(home):
    """(The clean run of the same graph is `test_checks_platform`'s first run.)"""
    result = run(home, plant=True)
    checks = evaluations(result)
    assert checks["edit_sequences:sequences_replay"] is False
    assert checks["edit_sequences:gx_edit_sequences"] is False  # the suite sees it too (non-blocking)
    assert all(passed for name, passed in checks.items() if name not in {
        "edit_sequences:sequences_replay", "edit_sequences:gx_edit_sequences", "edit_sequences:edit_counts"})
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "edit_sequences" in materialized and "training_exports" not in materialized
    conn = duckdb.connect(str(home / "lintseq.duckdb"), read_only=True)
    assert conn.execute("SELECT count(*) FROM edit_sequences").fetchone()[0] > 0
    conn.close()
