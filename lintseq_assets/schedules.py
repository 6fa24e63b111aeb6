"""The daily schedule: re-check hub sources for a new revision and run what changed.

Only hub sources whose commit moved are re-read (a one-off sources.yaml names just them,
pinned to the new commit); the rest of the graph follows in the same run, where blocking
checks stop it before anything downstream of bad data (exports) is written. Offline or with
the hub unreachable, the tick is a logged skip, never a failure.
"""


import hashlib

import yaml
from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from .hub_revisions import check_hub_sources
from .partitions import SOURCE_PARTITIONS, run_config_for_sources
from .settings import PlatformSettings
from .sources import SourceConfigError, load_sources

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


def _pinned_sources_file(settings: PlatformSettings, changed) -> str:
    """A sources.yaml with just the changed hub sources, each pinned to its new commit."""
    document = yaml.safe_load(settings.sources_file.read_text(encoding="utf-8"))
    new = {spec.name: sha for spec, sha in changed}
    entries = [{**e, "revision": new[e["name"]]} for e in document["sources"] if isinstance(e, dict) and e.get("name") in new]
    text = yaml.safe_dump({"sources": entries}, sort_keys=False)
    target = settings.home / "scheduled" / f"hub-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return str(target)


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
        keys = [f"{spec.name}@{sha}" for spec, sha in check.changed]
        context.instance.add_dynamic_partitions(SOURCE_PARTITIONS.name, keys)
        return RunRequest(
            run_key="hub:" + ",".join(keys),
            run_config=run_config_for_sources(context.instance, _pinned_sources_file(settings, check.changed)),
            tags={"lintseq/source": ",".join(keys)[:200]},
        )

    return daily_hub_refresh
