"""`source_programs`: the per-record half of curation, one source partition at a time.

Reads this partition's `raw_instructions` a page at a time, runs extraction, the engine's
filters and fingerprinting (`lintseq_assets.curation.records`) in worker chunks, and loads
the result into `candidates` (program + exact key + MinHash signature + decontamination
verdict) and `rejects`, both scoped to the partition. Memory is bounded by the page and the
chunks in flight, not by the source. The global half (de-dup across sources) is `programs`.
"""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from dagster import (
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from lintseq_assets.assets.metadata import counts_table, preview
from lintseq_assets.assets.raw import raw_instructions
from lintseq_assets.assets.rejects import reasons, rejects_of
from lintseq_assets.curation import CurationSettings
from lintseq_assets.curation.pipeline import record_stage_stats
from lintseq_assets.curation.records import (
    RECORD_REJECT_SCHEMA,
    curate_records,
    record_settings_hash,
)
from lintseq_assets.curation.report import funnel_frame, funnel_markdown
from lintseq_assets.platform.partitions import SOURCE_PARTITIONS
from lintseq_assets.platform.progress import Stage
from lintseq_assets.platform.run_config import SourceProgramsConfig, run_settings_metadata
from lintseq_assets.runtime.executors import make_executor
from lintseq_assets.runtime.sorted_copy import copy_in_key_ranges
from lintseq_assets.runtime.staging import ShardWriter, safe_component, write_partition
from lintseq_assets.sources.keys import SourceKey
from resources.loader import Load
from resources.merge import parquet_select, table_fingerprint
from resources.settings_resource import SettingsResource
from resources.warehouse import WarehouseResource

RAW_COLUMNS = "record_id, source, source_revision, source_row, instruction, response"
PAGE_ROWS = 4096
SHARD_CANDIDATES = 4096


def _copy_raw(conn, where: str, params: list, scratch: Path) -> int:
    """This partition's raw rows, in record_id order, copied to scratch Parquet files (inside
    DuckDB, so they never pass through Python whole); the warehouse is released before the
    curation compute starts, so other partitions' loads never wait for it. A key range per
    file (`copy_in_key_ranges`): one sort of every answer ran out of DuckDB's cap at 1.2M records."""
    select = f"SELECT {RAW_COLUMNS} FROM raw_instructions WHERE {where}"
    return copy_in_key_ranges(conn, select, "record_id", params, scratch, f"FORMAT parquet, ROW_GROUP_SIZE {PAGE_ROWS}")


def _raw_pages(scratch: Path) -> Iterator[pl.DataFrame]:
    """The scratch files in order, PAGE_ROWS rows at a time: memory bounded by the page, not the source."""
    for path in sorted(scratch.glob("part-*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PAGE_ROWS):
            yield pl.from_arrow(batch)


@asset(
    deps=[raw_instructions],
    partitions_def=SOURCE_PARTITIONS,
    group_name="curation",
    code_version="1",
    kinds={"duckdb", "python"},
    description="Per-record curation of one source partition: extracted, filtered, fingerprinted candidate programs.",
)
def source_programs(
    context: AssetExecutionContext,
    config: SourceProgramsConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    source_key = SourceKey.parse(context.partition_key)
    config, _ = config.with_last_run(context.instance)
    settings = CurationSettings.from_dict(config.curation or {})
    curation_hash = record_settings_hash(settings)
    scope, params = source_key.scope_sql()
    where, _ = source_key.scope_sql(alias=None)
    staging = lintseq_settings.staging_root
    part = safe_component(source_key.key)
    executor = make_executor(config.executor, config.workers or lintseq_settings.workers, config.ray_address)

    writer = ShardWriter(staging, "candidates", part)
    buffered: list[pl.DataFrame] = []
    reject_frames = [pl.DataFrame(schema=RECORD_REJECT_SCHEMA)]
    seconds = {"extract": 0.0, "filter": 0.0, "tokenise": 0.0}
    n_candidates = n_in = 0

    def flush() -> None:
        if buffered:
            writer.write(pl.concat(buffered).drop("_row").with_columns(curation_hash=pl.lit(curation_hash)))
            buffered.clear()

    scratch = lintseq_settings.staging_dir / "scratch" / f"raw-{part}-{context.run.run_id}"
    with warehouse.read_connection() as conn:
        n_in = _copy_raw(conn, where, params, scratch)
    progress = Stage(context, records=n_in)
    try:
        for batch in curate_records(_raw_pages(scratch), settings, executor):
            buffered.append(batch.candidates)
            reject_frames.append(batch.rejects)
            n_candidates += batch.candidates.height
            for key, value in batch.seconds.items():
                seconds[key] += value
            if sum(f.height for f in buffered) >= SHARD_CANDIDATES:
                flush()
            if n_in and len(reject_frames) % 40 == 0:
                context.log.info(f"source {source_key.key}: {n_candidates} candidates so far of {n_in} records")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    flush()
    staged = writer.seal()
    record_rejects = pl.concat(reject_frames)
    if staged.rows + record_rejects.height != n_in:
        raise AssertionError(f"partition {source_key.key}: {n_in} records in, {staged.rows} candidates + {record_rejects.height} rejects")
    stats = record_stage_stats(n_in, n_candidates, record_rejects, seconds)
    # A frame, not a dict per reject: at 10x the corpus that was 180K rows of Python dicts twice over.
    rejects_df = rejects_of(record_rejects.drop("_row"), "source_programs")
    rejected = write_partition(staging, "rejects", f"source_programs-{part}", [rejects_df])

    run_id = context.run.run_id
    merged, _ = warehouse.load(
        [
            Load("candidates", parquet_select(staged.shards, "candidates"), scope, tuple(params)),
            Load("rejects", parquet_select(rejected.shards, "rejects"), f"t.asset = 'source_programs' AND {scope}", tuple(params)),
        ],
        run_id=run_id,
    )
    with warehouse.read_connection() as conn:
        sample = conn.sql(f"SELECT record_id, program_id, n_lines, contamination FROM candidates WHERE {where} ORDER BY record_id LIMIT 5", params=params).pl()
        version = table_fingerprint(conn, "candidates", ("record_id", "program_id", "instruction", "curation_hash", "contamination"), where, params)
    funnel = funnel_markdown(funnel_frame(stats))
    context.log.info(f"source {source_key.key}: {n_in} records -> {n_candidates} candidates\n{funnel}")
    progress.done(records=n_in, candidates=n_candidates, rejects=rejects_df.height)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "dagster/row_count": n_candidates,
            "records_in": n_in,
            "rejects": rejects_df.height,
            "rejects_by_reason": counts_table(reasons(rejects_df)),
            "funnel": MetadataValue.md(funnel),
            "curation_hash": curation_hash,
            **run_settings_metadata({"curation": settings.to_dict()}),
            "worker_seconds": MetadataValue.json({k: round(v, 2) for k, v in seconds.items()}),
            "total_seconds": round(time.perf_counter() - started, 2),
            **merged.as_metadata(),
            "preview": preview(sample),
        },
    )

