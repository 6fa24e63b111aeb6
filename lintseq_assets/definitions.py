"""Everything Dagster loads, assembled in one place (`dagster dev -m lintseq_assets.definitions`).

Assets come from `lintseq_assets.assets`, checks from `checks/`, resources from `resources/`;
settings are read once (`lintseq_assets.runtime.environment`) and handed to the resources, so the UI,
`lintseq materialize` and the tests all build the very same Definitions.
"""

from __future__ import annotations

import dagster as dg
from dagster import (
    Definitions,
    in_process_executor,
)

from checks import CheckSettings, build_asset_checks
from lintseq_assets.assets import ALL_ASSETS
from lintseq_assets.platform.generations_sensor import build_generations_sensor
from lintseq_assets.platform.jobs import (
    SOURCE_JOB,
    build_downstream_job,
    build_evaluation_job,
    build_source_job,
)
from lintseq_assets.platform.run_config import SamplingConfig
from lintseq_assets.platform.schedules import build_hub_schedule
from lintseq_assets.platform.sensors import automation_sensor, build_incoming_sensor
from lintseq_assets.runtime.environment import PlatformSettings, load_settings
from resources.gx import GXResource
from resources.settings_resource import SettingsResource
from resources.warehouse import WarehouseResource


def build_definitions(settings: PlatformSettings | None = None, check_settings: CheckSettings | None = None) -> Definitions:
    """The platform's Definitions for `settings` (default: from the environment).

    `check_settings` overrides how thorough the checks are (tests use small sample sizes).
    """
    settings = settings or load_settings()
    if check_settings is None:
        check_settings = CheckSettings(
            sampler_configs=(SamplingConfig().sampler(),),
            exports_dir=str(settings.exports_dir),
            replay_max_rows=settings.replay_check_rows,
        )
    return Definitions(
        assets=ALL_ASSETS,
        asset_checks=build_asset_checks(check_settings),
        jobs=[build_downstream_job(), build_source_job(), build_evaluation_job()],
        sensors=[build_incoming_sensor(settings, SOURCE_JOB), automation_sensor, build_generations_sensor(settings)],  # docs/incremental.md, docs/evaluation.md
        schedules=[build_hub_schedule(settings, SOURCE_JOB)],
        # In-process execution for every job, including the UI's "Materialize all": the steps are a
        # chain anyway, the sampler brings its own worker processes, and one process per run keeps
        # DuckDB's one-writer-per-file rule simple.
        executor=in_process_executor,
        resources={
            "warehouse": WarehouseResource(database=str(settings.warehouse_path), connection_config={"memory_limit": settings.warehouse_memory_limit},
                                           loader_memory_limit=settings.loader_memory_limit),
            "lintseq_settings": SettingsResource.from_settings(settings),
            "gx": GXResource(docs_dir=str(settings.home / "gx_docs")),
        },
    )


@dg.definitions
def defs() -> Definitions:
    """What `dagster dev -m lintseq_assets.definitions` and `dg` load, built when they ask
    (not at import time), from the environment's settings."""
    return build_definitions()
