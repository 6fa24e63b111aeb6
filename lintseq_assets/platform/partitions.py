"""Sources as Dagster partitions: registering them, and the run config earlier runs used.

`SOURCE_PARTITIONS` is a dynamic partitions definition over source keys
(`lintseq_assets.sources.keys`: `<source>[@<revision>][~<k>of<n>]`). `raw_instructions` and
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
    DagsterInstance,
    DynamicPartitionsDefinition,
)

from lintseq_assets.runtime.files import write_text_atomic
from lintseq_assets.runtime.staging import safe_component
from lintseq_assets.sources.keys import SourceKey, keys_for_source
from lintseq_assets.sources.spec import SourceConfigError, SourceSpec, load_sources

SOURCE_PARTITIONS = DynamicPartitionsDefinition(name="sources")
def partition_file(home: Path, key: str) -> Path:
    return Path(home) / "partitions" / f"{safe_component(key)}.yaml"


def _write_if_changed(target: Path, document: dict) -> Path:
    text = yaml.safe_dump(document, sort_keys=False)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        write_text_atomic(target, text)
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
    add_partitions(instance, keys)
    return keys


ADD_ATTEMPTS = 5


def add_partitions(instance: DagsterInstance, keys: list[str]) -> None:
    """Add the `keys` the instance does not have yet.

    Dagster reads which keys exist and then inserts the rest; two runs starting at once on one
    instance (two backfills, two `lintseq materialize`) can both read a key as missing, and
    the second insert fails on the storage's unique constraint (seen in CI: `sqlite3.
    IntegrityError` in `test_concurrent_partitions`). Then it is simply tried again: the
    other run's keys are read as existing this time."""
    for attempt in range(ADD_ATTEMPTS):
        try:
            instance.add_dynamic_partitions(SOURCE_PARTITIONS.name, keys)
            return
        except Exception as err:  # sqlalchemy's IntegrityError: this layer does not import sqlalchemy
            if type(err).__name__ != "IntegrityError" or attempt == ADD_ATTEMPTS - 1:
                raise


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
