"""The daily schedule: re-check hub sources for a new revision and run what changed.

Only hub sources whose commit moved are re-read: each becomes a new `sources` partition
pinned to the new commit (`<source>@<sha>`, one per hash shard) and one `ingest_source` run.
The global steps follow by declarative automation, which never passes a failed blocking
check, so nothing downstream of bad data (exports) is written. Offline or with the hub
unreachable, the tick is a logged skip, never a failure.
"""


from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from lintseq_assets.platform.partitions import register_sources
from lintseq_assets.runtime.environment import PlatformSettings
from lintseq_assets.sources.hub_revisions import check_hub_sources
from lintseq_assets.sources.keys import SourceKey
from lintseq_assets.sources.spec import SourceConfigError, load_sources

HUB_SCHEDULE = "daily_hub_refresh"


def _known_revisions(settings: PlatformSettings) -> dict[str, str]:
    from resources.connect import WarehouseMissing, connect_reader

    try:
        conn = connect_reader(settings.warehouse_path)
    except WarehouseMissing:
        return {}
    try:
        return dict(conn.execute("SELECT source, max(source_revision) FROM raw_instructions GROUP BY source").fetchall())
    finally:
        conn.close()


def build_hub_schedule(settings: PlatformSettings, job_name: str, cron: str = "0 3 * * *"):
    """A daily (03:00) schedule over `settings.sources_file`'s hub sources."""

    @schedule(
        name=HUB_SCHEDULE,
        cron_schedule=cron,
        job_name=job_name,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Re-check hub sources for a new revision; ingest and sample only what changed.",
    )
    def daily_hub_refresh(context: ScheduleEvaluationContext):
        try:
            specs = load_sources(settings.sources_file)
        except SourceConfigError as err:
            return SkipReason(f"sources file unreadable: {err}")
        check = check_hub_sources(specs, _known_revisions(settings))
        for name, why in check.unreachable:
            context.log.warning(f"hub source {name}: revision not checked ({why}); skipped")
        if check.offline:
            return SkipReason(f"offline: {len(check.unreachable)} hub source(s) not checked")
        if not check.changed:
            return SkipReason(f"no hub source changed (unchanged: {len(check.unchanged)}, unreachable: {len(check.unreachable)})")
        revisions = {spec.name: sha for spec, sha in check.changed}
        keys = [k for k in register_sources(context.instance, settings.home, settings.sources_file, revisions) if SourceKey.parse(k).name in revisions]
        return [RunRequest(run_key=f"hub:{key}", partition_key=key, tags={"lintseq/source": key}) for key in keys]

    return daily_hub_refresh
