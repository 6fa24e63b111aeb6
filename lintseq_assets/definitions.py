"""Everything Dagster loads, assembled in one place (`dagster dev -m lintseq_assets.definitions`).

Assets come from `lintseq_assets.assets`, checks from `checks/`, resources from `resources/`;
settings are read once (`lintseq_assets.settings`) and handed to the resources, so the UI,
`lintseq materialize` and the tests all build the very same Definitions.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    define_asset_job,
    in_process_executor,
)

from checks import CheckSettings, build_asset_checks
from lintseq_assets.assets import ALL_ASSETS
from lintseq_assets.assets.sequences import SamplingConfig
from lintseq_assets.evaluation_sensor import build_generations_sensor, evaluate_generations
from lintseq_assets.materialize import DOWNSTREAM_JOB
from lintseq_assets.partitions import PARTITIONED_ASSETS, SOURCE_JOB, build_source_job
from lintseq_assets.schedules import build_hub_schedule
from lintseq_assets.sensors import build_incoming_sensor
from lintseq_assets.settings import PlatformSettings, load_settings
from resources.gx import GXResource
from resources.settings import SettingsResource
from resources.warehouse import WarehouseResource

# In-process execution for every job, including the UI's "Materialize all": the steps are a
# chain anyway, the sampler brings its own worker processes, and one process per run keeps
# DuckDB's one-writer-per-file rule simple (the `warehouse` pool still guards across runs).
# The graph is two jobs (docs/incremental.md): `ingest_source`, partitioned by source, and
# this one, the global steps after it, which declarative automation also launches by itself.
materialize_downstream = define_asset_job(
    DOWNSTREAM_JOB,
    # `evaluations` is left out: scoring model outputs is not a step of making data, so
    # `make run` never waits on it; its own job and sensor run it (lintseq_assets/evaluation_sensor.py).
    selection=AssetSelection.all() - AssetSelection.assets(*PARTITIONED_ASSETS) - AssetSelection.assets("evaluations"),
    description="The global steps over every source partition: de-dup, sampling, load, checks, exports.",
)

# Evaluates the assets' automation conditions (downstream follows new partitions, never past
# a failed blocking check); on by default so a drop or a backfill flows through unattended.
automation_sensor = AutomationConditionSensorDefinition(
    "lintseq_automation",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Runs the global steps when source partitions changed, and never past a failed blocking check.",
)


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
        jobs=[materialize_downstream, build_source_job(), evaluate_generations],
        sensors=[build_incoming_sensor(settings, SOURCE_JOB), automation_sensor, build_generations_sensor(settings)],  # docs/incremental.md, docs/evaluation.md
        schedules=[build_hub_schedule(settings, SOURCE_JOB)],
        executor=in_process_executor,
        resources={
            "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
            "lintseq_settings": SettingsResource.from_settings(settings),
            "gx": GXResource(docs_dir=str(settings.home / "gx_docs")),
        },
    )


defs = build_definitions()
