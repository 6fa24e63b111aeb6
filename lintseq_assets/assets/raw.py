"""`raw_instructions`: one source partition read into the table, untouched, with provenance.

Partitioned by source (`lintseq_assets.platform.partitions`): a partition is a source, a pinned hub
revision of one, or a hash shard of one (`<source>[@<revision>][~<k>of<n>]`). It is staged
as Parquet shards, then loaded with a merge scoped to exactly the rows it owns (the source,
and its shard's record_id hash), so re-reading a partition replaces its rows and leaves
every other partition alone. A source that cannot be read at all (a missing path, a hub
source while offline) becomes one `source_unavailable` reject, keeps its previously loaded
rows (an offline hub must not wipe data), and fails the partition with a one-line reason:
nothing downstream runs on a corpus that silently lost a source.
"""

import time
from dataclasses import asdict
from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from lintseq_assets.assets.metadata import counts_table, preview
from lintseq_assets.assets.rejects import reasons, rejects_frame
from lintseq_assets.platform.partitions import SOURCE_PARTITIONS, sources_file_for_partition
from lintseq_assets.platform.progress import Stage
from lintseq_assets.platform.run_config import RawInstructionsConfig
from lintseq_assets.runtime.staging import ShardWriter, safe_component, write_partition
from lintseq_assets.sources.ingest import (
    IngestReject,
    RawRow,
    SourceUnavailable,
    open_source,
)
from lintseq_assets.sources.keys import SourceKey
from lintseq_assets.sources.spec import SourceConfigError, load_sources
from lintseq_assets.tables import RAW_INSTRUCTIONS
from resources.loader import Load
from resources.merge import parquet_select, table_fingerprint
from resources.settings_resource import SettingsResource
from resources.warehouse import WarehouseResource

RAW_SCHEMA = RAW_INSTRUCTIONS.staged_schema()


def _stage_source(spec, source_key: SourceKey, staging: Path | str, config: RawInstructionsConfig, rejects: list[dict], problems: list[str]):
    """Stream this partition's records of one source into shards (a shard keeps the records
    whose record_id hashes to it); returns (sealed partition, revision), or None if unreadable
    (why in `problems`)."""
    try:
        opened = open_source(spec, config.max_record_bytes)
    except SourceUnavailable as err:
        problems.append(str(err))
        unavailable = f"{spec.name}:*"
        if source_key.owns(unavailable):  # one shard records it, so it is counted once
            rejects.append({"record_id": unavailable, "source": spec.name, "stage": "ingest", "reason": "source_unavailable", "detail": str(err)})
        return None
    writer = ShardWriter(staging, "raw_instructions", safe_component(source_key.key))
    batch: list[dict] = []
    for item in opened.records:
        if isinstance(item, IngestReject):
            if source_key.owns(item.record_id):
                rejects.append({"record_id": item.record_id, "source": item.source, "stage": "ingest", "reason": item.reason, "detail": item.detail})
        elif isinstance(item, RawRow) and source_key.owns(item.record_id):
            batch.append(asdict(item))
            if len(batch) >= config.shard_rows:
                writer.write(pl.DataFrame(batch, schema=RAW_SCHEMA))
                batch = []
    writer.write(pl.DataFrame(batch, schema=RAW_SCHEMA))
    return writer.seal(), opened.revision


@asset(
    partitions_def=SOURCE_PARTITIONS,
    group_name="ingest",
    code_version="2",
    kinds={"duckdb", "python"},
    description="One row per source record: instruction and response untouched, with source, revision and row. One partition per source (or hash shard).",
)
def raw_instructions(
    context: AssetExecutionContext,
    config: RawInstructionsConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    source_key = SourceKey.parse(context.partition_key)
    sources_file = sources_file_for_partition(lintseq_settings.home_path, Path(lintseq_settings.sources_file), source_key.key)
    specs = [s for s in load_sources(sources_file) if s.name == source_key.name]
    if len(specs) != 1:
        raise SourceConfigError(f"partition {source_key.key!r}: {sources_file} does not define source {source_key.name!r}")
    spec = specs[0]
    progress = Stage(context, loader=spec.loader)
    staging = lintseq_settings.staging_root
    rejects: list[dict] = []
    problems: list[str] = []
    staged = _stage_source(spec, source_key, staging, config, rejects, problems)
    if staged is not None:
        context.log.info(f"source {source_key.key}: {staged[0].rows} rows staged (revision {staged[1]})")
    rejects_df = rejects_frame(rejects, "raw_instructions")
    rejects_part = write_partition(staging, "rejects", f"raw_instructions-{safe_component(source_key.key)}", [rejects_df])
    staged_seconds = time.perf_counter() - started

    run_id = context.run.run_id
    scope, params = source_key.scope_sql()
    loads = [Load("rejects", parquet_select(rejects_part.shards, "rejects"), f"t.asset = 'raw_instructions' AND {scope}", tuple(params))]
    if staged is not None:
        loads.insert(0, Load("raw_instructions", parquet_select(staged[0].shards, "raw_instructions"), scope, tuple(params)))
    stats = warehouse.load(loads, run_id=run_id)
    if staged is None:  # the reject is recorded and the old rows stay; the partition fails
        raise Failure(
            description=f"source {spec.name!r} cannot be read: {' '.join(problems[0].split())}; rows loaded earlier are kept",
            metadata={"source": spec.name, "source_unavailable": True, "sources_file": MetadataValue.path(str(sources_file))},
        )
    merged = stats[0]
    with warehouse.read_connection() as conn:
        where, _ = source_key.scope_sql(alias=None)
        rows, revision = conn.execute(f"SELECT count(*), any_value(source_revision) FROM raw_instructions WHERE {where}", params).fetchall()[0]
        total = conn.execute("SELECT count(*) FROM raw_instructions").fetchall()[0][0]
        sample = conn.sql(f"SELECT record_id, source, instruction, response FROM raw_instructions WHERE {where} ORDER BY record_id LIMIT 5", params=params).pl()
        version = table_fingerprint(conn, "raw_instructions", ("record_id", "source_revision", "instruction", "response"), where, params)
    by_reason = reasons(rejects_df)
    progress.done(rows_read=staged[0].rows if staged else 0, rows_in_partition=rows, rejects=rejects_df.height,
                  unavailable=True if staged is None else None)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "dagster/row_count": rows,
            "rows_all_partitions": total,
            "source": source_key.name,
            "revision": str(revision),
            "shard": f"{source_key.shard} of {source_key.shards}",
            "rows_staged_this_run": staged[0].rows,
            **merged.as_metadata(),
            "rejects": rejects_df.height,
            "rejects_by_reason": counts_table(by_reason),
            "sources_file": MetadataValue.path(str(sources_file)),
            "source_spec": MetadataValue.json(spec.describe()),
            "stage_seconds": round(staged_seconds, 2),
            "total_seconds": round(time.perf_counter() - started, 2),
            "preview": preview(sample),
        }
    )
