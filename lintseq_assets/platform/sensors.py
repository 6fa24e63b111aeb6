"""The sensors: the drop folder (new files in `$LINTSEQ_HOME/incoming/` become source partitions)
and `lintseq_automation` (declarative automation of the global steps).

The drop-folder sensor: new files in `$LINTSEQ_HOME/incoming/` become source partitions.

The rules (what is ready, what is new) are in `lintseq_assets.sources.dropfolder`; this module only
turns them into Dagster requests: a new `sources` partition and one `ingest_source` run for
it. The global steps after it follow by declarative automation (`lintseq_automation`). The
cursor remembers every content hash it requested, and the run key is the content hash too,
so the same data is never ingested twice, even if the cursor were lost (Dagster refuses a
second run with the same run key).
"""


from pathlib import Path

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from lintseq_assets.platform.partitions import SOURCE_PARTITIONS
from lintseq_assets.platform.sensor_cursor import cursor_of, seen_keys
from lintseq_assets.runtime.environment import PlatformSettings
from lintseq_assets.sources.dropfolder import DEFAULT_SETTLE_SECONDS, register_drop, scan_incoming
from lintseq_assets.sources.keys import keys_for_source
from lintseq_assets.sources.spec import SourceConfigError, load_sources

INCOMING_SENSOR = "incoming_files"


def _unlisted_sources(context: SensorEvaluationContext, settings: PlatformSettings) -> list[str]:
    """Configured sources (one key per hash shard) not yet partition keys, so the UI can backfill them."""
    try:
        keys = [key for spec in load_sources(settings.sources_file) for key in keys_for_source(spec.name, spec.shards)]
    except SourceConfigError:
        return []
    known = set(context.instance.get_dynamic_partitions(SOURCE_PARTITIONS.name))
    return [key for key in keys if key not in known]


def build_incoming_sensor(settings: PlatformSettings, job_name: str, settle_seconds: float = DEFAULT_SETTLE_SECONDS):
    """A sensor for `settings.home/incoming` that launches `job_name` (partitioned by source) once per new drop."""
    incoming = settings.home / "incoming"
    drops_dir = settings.home / "drops"

    @sensor(
        name=INCOMING_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"New .jsonl/.parquet/.py files or folders in {incoming} become sources (settled {settle_seconds:.0f}s or a .done marker).",
    )
    def incoming_files(context: SensorEvaluationContext):
        seen = seen_keys(context.cursor)
        fresh = [item for item in scan_incoming(incoming, settle_seconds) if item.content_hash not in seen]
        fresh = list({item.content_hash: item for item in fresh}.values())  # same bytes under two names: once
        new_keys = _unlisted_sources(context, settings) + [item.source_name for item in fresh]
        if not new_keys:
            return SkipReason(f"nothing new and settled in {incoming}")
        requests = []
        for item in fresh:
            register_drop(item, drops_dir)
            context.log.info(f"drop {item.path.name} -> source partition {item.source_name} ({item.loader})")
            requests.append(
                RunRequest(
                    run_key=f"drop:{item.content_hash}",
                    partition_key=item.source_name,
                    tags={"lintseq/source": item.source_name, "lintseq/drop": Path(item.path).name},
                )
            )
        cursor = cursor_of(seen | {item.content_hash for item in fresh})
        return SensorResult(
            run_requests=requests,
            cursor=cursor,
            dynamic_partitions_requests=[SOURCE_PARTITIONS.build_add_request(new_keys)],
        )

    return incoming_files


# Evaluates the assets' automation conditions (downstream follows new partitions, never past
# a failed blocking check); on by default so a drop or a backfill flows through unattended.
automation_sensor = AutomationConditionSensorDefinition(
    "lintseq_automation",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Runs the global steps when source partitions changed, and never past a failed blocking check.",
)
