"""Where the warehouse is when LINTSEQ_HOME is unset: `data/` of the project you are in, found
from any folder inside it (issue 14: `lintseq sql` from a subfolder found no warehouse); and
the loader's memory cap (issue 15)."""

from __future__ import annotations

import pytest

from lintseq_assets.runtime.config_errors import ConfigError
from lintseq_assets.runtime.environment import REPO_ROOT, load_settings


def test_home_is_found_from_a_subfolder_of_a_folder_holding_a_warehouse(tmp_path):
    (tmp_path / "proj" / "data").mkdir(parents=True)
    (tmp_path / "proj" / "data" / "lintseq.duckdb").write_bytes(b"")
    deep = tmp_path / "proj" / "notes" / "2026"
    deep.mkdir(parents=True)
    settings = load_settings({}, cwd=deep)
    assert settings.home == tmp_path / "proj" / "data"
    assert str(tmp_path / "proj") in settings.home_origin


def test_home_is_the_checkout_data_folder_from_anywhere_in_the_checkout():
    for where in (REPO_ROOT, REPO_ROOT / "docs", REPO_ROOT / "lintseq_assets" / "cli"):
        assert load_settings({}, cwd=where).home == REPO_ROOT / "data"


def test_outside_any_project_home_is_dot_data_and_the_origin_says_where_it_looked(tmp_path):
    settings = load_settings({}, cwd=tmp_path)
    assert settings.home == tmp_path / "data"
    assert f"from {tmp_path} up to /" in settings.home_origin


def test_lintseq_home_wins(tmp_path):
    settings = load_settings({"LINTSEQ_HOME": str(tmp_path / "elsewhere")}, cwd=REPO_ROOT)
    assert settings.home == tmp_path / "elsewhere" and settings.home_origin == "LINTSEQ_HOME"


def test_the_loader_memory_cap_defaults_to_the_platform_cap_and_takes_duckdb_sizes(tmp_path):
    home = {"LINTSEQ_HOME": str(tmp_path)}
    assert load_settings(home).loader_memory_limit == "256MB"
    assert load_settings({**home, "LINTSEQ_LOADER_MEMORY_LIMIT": " 2GB "}).loader_memory_limit == "2GB"
    assert load_settings({**home, "LINTSEQ_LOADER_MEMORY_LIMIT": "50%"}).loader_memory_limit == "50%"


def test_a_bad_loader_memory_cap_fails_at_start_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"LINTSEQ_LOADER_MEMORY_LIMIT must be a DuckDB memory size .* got 'lots'"):
        load_settings({"LINTSEQ_HOME": str(tmp_path), "LINTSEQ_LOADER_MEMORY_LIMIT": "lots"})


def test_the_warehouse_cap_is_every_connection_s_and_the_loader_s_unless_it_has_its_own(tmp_path):
    home = {"LINTSEQ_HOME": str(tmp_path)}
    assert load_settings(home).warehouse_memory_limit == "256MB"
    both = load_settings({**home, "LINTSEQ_WAREHOUSE_MEMORY_LIMIT": " 2GB "})
    assert (both.warehouse_memory_limit, both.loader_memory_limit) == ("2GB", "2GB")
    apart = load_settings({**home, "LINTSEQ_WAREHOUSE_MEMORY_LIMIT": "1GB", "LINTSEQ_LOADER_MEMORY_LIMIT": "3GB"})
    assert (apart.warehouse_memory_limit, apart.loader_memory_limit) == ("1GB", "3GB")
    with pytest.raises(ConfigError, match=r"LINTSEQ_WAREHOUSE_MEMORY_LIMIT must be a DuckDB memory size .* got 'lots'"):
        load_settings({**home, "LINTSEQ_WAREHOUSE_MEMORY_LIMIT": "lots"})
