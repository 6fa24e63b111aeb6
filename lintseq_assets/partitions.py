"""Sources as Dagster partitions, and the run config that follows earlier runs' settings.

`SOURCE_PARTITIONS` is a dynamic partitions definition: the drop-folder sensor and the hub
schedule add one key per source (and per hub revision: `<source>@<revision>`), so the UI lists
every source the platform has ingested and the runs that added it (tag `dagster/partition`
is not used: the assets themselves stay unpartitioned, see docs/incremental.md).
"""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance, DynamicPartitionsDefinition

SOURCE_PARTITIONS = DynamicPartitionsDefinition(name="sources")
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
