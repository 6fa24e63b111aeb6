"""Data-quality checks: plain check functions, GX suites, and their Dagster asset checks.

    from checks import build_asset_checks
    Definitions(..., asset_checks=build_asset_checks(),
                resources={"warehouse": DuckDBResource(...), "gx": GXResource()})

The logic lives in `sql_checks`, `replay_checks`, `export_checks` and `gx_suites` (no
Dagster needed to call or test them); `asset_checks` wraps them for Dagster.
"""

from checks.asset_checks import GX_KEY, WAREHOUSE_KEY, CheckSettings, build_asset_checks

__all__ = ["GX_KEY", "WAREHOUSE_KEY", "CheckSettings", "build_asset_checks"]
