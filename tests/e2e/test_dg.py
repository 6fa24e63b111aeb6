"""`dg`, Dagster's project CLI, works on this repository as configured in pyproject's [tool.dg]:
`dg check defs`, `dg list defs` and `dg launch --assets ...` (`dg dev` is `dagster dev` on the
same module: tests/e2e/test_ui_lifecycle.py starts it the way `lintseq ui` does)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance
from support.platform import small_settings

from lintseq_assets.platform.instance import platform_environment, prepare_dagster_home
from lintseq_assets.platform.partitions import register_sources
from resources.connect import connect_reader

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
DG = str(Path(sys.executable).with_name("dg"))


def _dg(args: list[str], env: dict, timeout: float = 400) -> subprocess.CompletedProcess:
    env = {**env, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([DG, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def settings(tmp_path):
    return small_settings(tmp_path / "home", stdlib_limit=3, embedded_limit=4)


@pytest.mark.timeout(600)
def test_dg_check_defs_and_list_defs(settings):
    prepare_dagster_home(settings)  # as `make run` / `lintseq ui` leave it
    env = platform_environment(settings)
    checked = _dg(["check", "defs"], env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    assert "warning" not in (checked.stdout + checked.stderr).lower()

    listed = _dg(["list", "defs", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    defs = json.loads(listed.stdout)
    assets = {a["asset_key"] for a in defs["assets"]}
    assert {"raw_instructions", "source_programs", "programs", "edit_sequences", "training_exports"} <= assets
    assert {j["name"] for j in defs["jobs"]} >= {"ingest_source", "materialize_downstream"}


@pytest.mark.timeout(600)
def test_dg_launch_assets_for_a_partition(settings, monkeypatch):
    prepare_dagster_home(settings)
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        register_sources(instance, settings.home, settings.sources_file)
    launched = _dg(["launch", "--assets", "raw_instructions,source_programs", "--partition", "stdlib"], platform_environment(settings))
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    with connect_reader(settings.warehouse_path) as conn:
        assert conn.execute("SELECT count(*) FROM raw_instructions WHERE source = 'stdlib'").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM candidates WHERE source = 'stdlib'").fetchone()[0] > 0
