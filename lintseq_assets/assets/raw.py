"""`raw_instructions`: every configured source read into one table, untouched, with provenance.

Each source is staged as its own partition of Parquet shards, then loaded with
delete-then-insert scoped to that source: re-reading a source replaces its rows and leaves
the others alone; a source that cannot be read at all becomes one `source_unavailable`
reject and keeps its previously loaded rows (an offline hub must not wipe data).
"""

import time
from dataclasses import asdict
from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from lintseq_assets.ingest import (
    DEFAULT_MAX_RECORD_BYTES,
    IngestReject,
    RawRow,
    SourceUnavailable,
    open_source,
)
from lintseq_assets.sources import load_sources
from lintseq_assets.staging import ShardWriter
from resources.merge import parquet_select, table_fingerprint
from resources.settings import SettingsResource
from resources.warehouse import WAREHOUSE_POOL, WarehouseResource

from .metadata import counts_table, markdown_table, preview
from .rejects import reasons, rejects_frame, stage_rejects

RAW_SCHEMA = {
    "record_id": pl.String,
    "source": pl.String,
    "source_revision": pl.String,
    "source_row": pl.Int64,
    "instruction": pl.String,
    "response": pl.String,
}


class RawInstructionsConfig(Config):
    sources_file: str | None = Field(default=None, description="sources.yaml to read instead of the configured one.")
    max_record_bytes: int = Field(default=DEFAULT_MAX_RECORD_BYTES, description="Longer instructions/responses are rejected `too_long` at the door.")
    shard_rows: int = Field(default=5000, description="Rows per staged Parquet shard.")


def _stage_source(spec, staging: Path, config: RawInstructionsConfig, rejects: list[dict]):
    """Stream one source into shards; returns (sealed partition, revision, rows) or None if unreadable."""
    try:
        opened = open_source(spec, config.max_record_bytes)
    except SourceUnavailable as err:
        rejects.append({"record_id": f"{spec.name}:*", "source": spec.name, "stage": "ingest", "reason": "source_unavailable", "detail": str(err)})
        return None
    writer = ShardWriter(staging, "raw_instructions", spec.name)
    batch: list[dict] = []
    for item in opened.records:
        if isinstance(item, IngestReject):
            rejects.append({"record_id": item.record_id, "source": item.source, "stage": "ingest", "reason": item.reason, "detail": item.detail})
        elif isinstance(item, RawRow):
            batch.append(asdict(item))
            if len(batch) >= config.shard_rows:
                writer.write(pl.DataFrame(batch, schema=RAW_SCHEMA))
                batch = []
    writer.write(pl.DataFrame(batch, schema=RAW_SCHEMA))
    return writer.seal(), opened.revision


@asset(
    pool=WAREHOUSE_POOL,
    group_name="ingest",
    code_version="1",
    kinds={"duckdb", "python"},
    description="One row per source record: instruction and response untouched, with source, revision and row.",
)
def raw_instructions(
    context: AssetExecutionContext,
    config: RawInstructionsConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    sources_file = Path(config.sources_file or lintseq_settings.sources_file)
    specs = load_sources(sources_file)
    staging = lintseq_settings.staging_dir
    rejects: list[dict] = []
    staged = {}
    for spec in specs:
        result = _stage_source(spec, staging, config, rejects)
        if result is not None:
            staged[spec.name] = result
            context.log.info(f"source {spec.name}: {result[0].rows} rows staged (revision {result[1]})")
        else:
            context.log.warning(f"source {spec.name}: unavailable ({rejects[-1]['detail']})")
    rejects_df = rejects_frame(rejects, "raw_instructions")
    rejects_part = stage_rejects(staging, "raw_instructions", rejects_df)
    staged_seconds = time.perf_counter() - started

    run_id = context.run.run_id
    merged = {}
    for name, (part, _revision) in staged.items():
        merged[name] = warehouse.merge("raw_instructions", parquet_select(part.shards, "raw_instructions"), run_id=run_id, scope_sql="t.source = ?", scope_params=[name])
    names = [s.name for s in specs]
    warehouse.merge(
        "rejects",
        parquet_select(rejects_part.shards, "rejects"),
        run_id=run_id,
        scope_sql=f"t.asset = 'raw_instructions' AND t.source IN ({', '.join('?' for _ in names) or 'NULL'})",
        scope_params=names,
    )
    with warehouse.read_connection() as conn:
        total = conn.execute("SELECT count(*) FROM raw_instructions").fetchone()[0]
        per_source = conn.execute("SELECT source, any_value(source_revision), count(*) FROM raw_instructions GROUP BY source ORDER BY source").fetchall()
        sample = conn.sql("SELECT record_id, source, instruction, response FROM raw_instructions ORDER BY record_id LIMIT 5").pl()
        version = table_fingerprint(conn, "raw_instructions", ("record_id", "source_revision", "instruction", "response"))
    by_reason = reasons(rejects_df)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "dagster/row_count": total,
            "rows_by_source": MetadataValue.md(markdown_table(["source", "revision", "rows"], per_source)),
            "rows_staged_this_run": sum(p.rows for p, _ in staged.values()),
            "rows_inserted": sum(m.inserted for m in merged.values()),
            "rows_updated": sum(m.updated for m in merged.values()),
            "rows_deleted": sum(m.deleted for m in merged.values()),
            "rejects": rejects_df.height,
            "rejects_by_reason": counts_table(by_reason),
            "sources_unavailable": sum(1 for r in rejects if r["reason"] == "source_unavailable"),
            "sources_file": MetadataValue.path(str(sources_file)),
            "sources": MetadataValue.json([s.describe() for s in specs]),
            "stage_seconds": round(staged_seconds, 2),
            "total_seconds": round(time.perf_counter() - started, 2),
            "preview": preview(sample),
        }
    )

