"""Sources as Dagster partitions, and the run config that follows earlier runs' settings.

`SOURCE_PARTITIONS` is a dynamic partitions definition: the drop-folder sensor and the hub
schedule add one key per source (and per hub revision: `<source>@<revision>`), so the UI lists
every source the platform has ingested. The job `materialize_source` is partitioned by it: a
run (or a UI backfill over several keys) re-reads just that source and runs the graph after
it. The assets themselves stay unpartitioned (curation is global, see docs/incremental.md).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DynamicPartitionsDefinition,
    PartitionedConfig,
    define_asset_job,
)

from .settings import PlatformSettings
from .sources import SourceConfigError
from .staging import safe_component

SOURCE_PARTITIONS = DynamicPartitionsDefinition(name="sources")
SOURCE_JOB = "materialize_source"
SAMPLER_KEYS = ("linter", "indent_bias", "max_lines", "max_bytes")


def last_sampling_config(instance: DagsterInstance) -> dict:
    """The sampling settings of the last `edit_sequence_shards` run, so automatic runs reuse them.

    Without this an automatic run would sample with the defaults, change the config_hash (or
    the sample count) and redo everything the user sampled by hand.
    """
    event = instance.get_latest_materialization_event(AssetKey("edit_sequence_shards"))
    if event is None or event.asset_materialization is None:
        return {}
    metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    sampler = metadata.get("sampler_config") or {}
    config = {k: sampler[k] for k in SAMPLER_KEYS if k in sampler}
    if "samples_per_program" in metadata:
        config["samples"] = int(metadata["samples_per_program"])
    if "seed" in metadata:
        config["seed"] = int(metadata["seed"])
    return config


def last_curation_config(instance: DagsterInstance) -> dict:
    """The curation settings of the last `programs` run (curation is global: defaults could drop old programs)."""
    event = instance.get_latest_materialization_event(AssetKey("programs"))
    if event is None or event.asset_materialization is None:
        return {}
    settings = event.asset_materialization.metadata.get("curation_settings")
    return {"curation": settings.value} if settings is not None and isinstance(settings.value, dict) else {}


def run_config_for_sources(instance: DagsterInstance, sources_file: str) -> dict:
    """materialize_all's run config reading only `sources_file` (other sources' rows stay as they are),
    with the curation and sampling settings of the last run."""
    ops: dict = {"raw_instructions": {"config": {"sources_file": sources_file}}}
    curation = last_curation_config(instance)
    if curation:
        ops["programs"] = {"config": curation}
    sampling = last_sampling_config(instance)
    if sampling:
        ops["edit_sequence_shards"] = {"config": sampling}
    return {"ops": ops}


def sources_file_for_partition(settings: PlatformSettings, key: str) -> Path:
    """A one-source sources.yaml for a partition key: a drop, or a configured source (`name[@revision]`)."""
    drop = settings.home / "drops" / f"{key}.yaml"
    if drop.is_file():
        return drop
    name, _, revision = key.partition("@")
    document = yaml.safe_load(settings.sources_file.read_text(encoding="utf-8")) or {}
    entries = [e for e in document.get("sources") or [] if isinstance(e, dict) and e.get("name") == name]
    if not entries:
        raise SourceConfigError(f"partition {key!r}: no source {name!r} in {settings.sources_file} nor a drop")
    entry = dict(entries[0], enabled=True)
    if revision:
        entry["revision"] = revision
    if entry.get("path") and not Path(entry["path"]).expanduser().is_absolute():
        entry["path"] = str(settings.sources_file.resolve().parent / entry["path"])
    target = settings.home / "partitions" / f"{safe_component(key)}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"sources": [entry]}, sort_keys=False)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


def build_source_job(settings: PlatformSettings):
    """`materialize_source`: the whole graph for one source partition (backfill several from the UI)."""

    def run_config(key: str) -> dict:
        return {"ops": {"raw_instructions": {"config": {"sources_file": str(sources_file_for_partition(settings, key))}}}}

    return define_asset_job(
        SOURCE_JOB,
        selection=AssetSelection.all(),
        config=PartitionedConfig(partitions_def=SOURCE_PARTITIONS, run_config_for_partition_key_fn=run_config),
        description="Every asset for one source (a partition of `sources`): only its records are re-read, only new programs sampled.",
    )
