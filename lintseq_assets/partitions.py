"""Sources as Dagster partitions: registering them, and the run config earlier runs used.

`SOURCE_PARTITIONS` is a dynamic partitions definition over source keys
(`lintseq_assets.source_keys`: `<source>[@<revision>][~<k>of<n>]`). `raw_instructions` and
`source_programs` are partitioned by it: a partition re-reads and re-curates just that source
(or hash shard of one), and the UI can backfill any set of them. Everything after them is
global (de-duplication compares all sources) and unpartitioned; it follows by declarative
automation, or in the same `lintseq materialize` call.

Registering a key writes the one-source sources.yaml the partition reads
(`$LINTSEQ_HOME/partitions/<key>.yaml`, paths absolute, revision pinned), so a partition
means the same data whichever sources file named it and whenever it is re-run.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DynamicPartitionsDefinition,
    define_asset_job,
)

from .source_keys import SourceKey, keys_for_source
from .sources import SourceConfigError, SourceSpec, load_sources
from .staging import safe_component

SOURCE_PARTITIONS = DynamicPartitionsDefinition(name="sources")
SOURCE_JOB = "ingest_source"
PARTITIONED_ASSETS = ("raw_instructions", "source_programs")
SAMPLER_KEYS = ("linter", "indent_bias", "max_lines", "max_bytes", "unit")


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
    """The curation settings of the last `programs` run, else of the last `source_programs` run.

    Runs nobody configured by hand (automation, sensors, UI backfills) curate with these, not
    with the defaults: curation is global, and other settings would drop old programs or make
    the candidates of other partitions stale."""
    for key in ("programs", "source_programs"):
        event = instance.get_latest_materialization_event(AssetKey(key))
        if event is None or event.asset_materialization is None:
            continue
        settings = event.asset_materialization.metadata.get("curation_settings")
        if settings is not None and isinstance(settings.value, dict):
            return {"curation": settings.value}
    return {}


def curation_settings_for(instance: DagsterInstance, configured: dict | None) -> dict:
    """What a curation asset runs with: its own config when given, else the last run's settings."""
    return dict(configured) if configured is not None else last_curation_config(instance).get("curation", {})


def partition_file(home: Path, key: str) -> Path:
    return Path(home) / "partitions" / f"{safe_component(key)}.yaml"


def _write_if_changed(target: Path, document: dict) -> Path:
    text = yaml.safe_dump(document, sort_keys=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return target


def _entry(spec: SourceSpec, source_key: SourceKey) -> dict:
    """A sources.yaml entry for one partition: absolute path, pinned revision, its shard count."""
    entry: dict = {"name": spec.name, "loader": spec.loader}
    for field in ("path", "dataset", "subset", "limit"):
        if getattr(spec, field) is not None:
            entry[field] = getattr(spec, field)
    entry["split"] = spec.split
    revision = source_key.revision or spec.revision
    if revision:
        entry["revision"] = revision
    entry["columns"] = {"instruction": spec.columns.instruction, "response": spec.columns.response, "id": spec.columns.id}
    if spec.options:
        entry["options"] = dict(spec.options)
    if source_key.shards > 1:
        entry["shards"] = source_key.shards
    return entry


def register_sources(instance: DagsterInstance, home: Path, sources_file: Path, revisions: dict[str, str] | None = None) -> list[str]:
    """Partition keys for every enabled source of `sources_file` (one per hash shard), added to
    the instance, each with its pinned one-source sources.yaml; returns the keys in file order."""
    keys: list[str] = []
    for spec in load_sources(sources_file):
        revision = (revisions or {}).get(spec.name)
        for key in keys_for_source(spec.name, spec.shards, revision):
            _write_if_changed(partition_file(home, key), {"sources": [_entry(spec, SourceKey.parse(key))]})
            keys.append(key)
    known = set(instance.get_dynamic_partitions(SOURCE_PARTITIONS.name))
    new = [k for k in keys if k not in known]
    if new:
        instance.add_dynamic_partitions(SOURCE_PARTITIONS.name, new)
    return keys


def sources_file_for_partition(home: Path, sources_file: Path, key: str) -> Path:
    """The one-source sources.yaml a partition reads: registered, a drop, or the configured source."""
    registered = partition_file(home, key)
    if registered.is_file():
        return registered
    drop = Path(home) / "drops" / f"{key}.yaml"
    if drop.is_file():
        return drop
    source_key = SourceKey.parse(key)
    specs = [s for s in load_sources(Path(sources_file)) if s.name == source_key.name]
    if not specs:
        raise SourceConfigError(f"partition {key!r}: no source {source_key.name!r} in {sources_file} nor a drop")
    return _write_if_changed(registered, {"sources": [_entry(specs[0], source_key)]})


def build_source_job():
    """`ingest_source`: read and curate one source partition (backfill several from the UI).

    The global steps after it (de-dup, sampling, load, checks, exports) are not in this job:
    they follow by declarative automation once the partitions they depend on are in."""
    return define_asset_job(
        SOURCE_JOB,
        selection=AssetSelection.assets(*PARTITIONED_ASSETS),
        description="Read and curate one source partition (raw_instructions + source_programs); downstream follows automatically.",
    )
