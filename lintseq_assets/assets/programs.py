"""`programs`: raw answers curated into clean, unique, uncontaminated programs.

All the curation logic is in `lintseq_assets.curation` (no Dagster); this asset reads
`raw_instructions`, calls `curate_programs`, stages the three results and loads them.
Curation is global (de-duplication compares every source with every other), so the
`programs` table is replaced as a whole on each load, and so are this asset's rejects and
the `curation_report` funnel.
"""

import time

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

from lintseq_assets.curation import CurationSettings, curate_programs
from lintseq_assets.executors import make_executor
from lintseq_assets.staging import write_partition
from resources.merge import parquet_select, table_fingerprint
from resources.settings import SettingsResource
from resources.warehouse import WAREHOUSE_POOL, WarehouseResource

from .metadata import counts_table, histogram, preview
from .raw import raw_instructions
from .rejects import reasons, rejects_frame, stage_rejects

RAW_COLUMNS = "record_id, source, source_revision, source_row, instruction, response"


class ProgramsConfig(Config):
    curation: dict = Field(
        default_factory=dict,
        description="Curation settings overriding the defaults (see docs/curation.md), e.g. {min_statements: 2}.",
    )
    executor: str = Field(default="local", description="Where extract+filter chunks run: local (worker processes) or ray.")
    workers: int | None = Field(default=None, description="Local worker processes for extract+filter (default: LINTSEQ_WORKERS, 2).")
    ray_address: str | None = Field(default=None, description="Ray cluster to join (auto, ray://host:10001); none starts or reuses a local one.")


@asset(
    deps=[raw_instructions],
    pool=WAREHOUSE_POOL,
    group_name="curation",
    code_version="1",
    kinds={"duckdb", "python"},
    description="Programs extracted from the answers, normalised, filtered, de-duplicated and decontaminated.",
)
def programs(
    context: AssetExecutionContext,
    config: ProgramsConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    settings = CurationSettings.from_dict(config.curation)
    with warehouse.read_connection() as conn:
        raw = conn.sql(f"SELECT {RAW_COLUMNS} FROM raw_instructions ORDER BY record_id").pl()
    executor = make_executor(config.executor, config.workers or lintseq_settings.workers, config.ray_address)
    result = curate_programs(raw, settings, executor)
    context.log.info(result.to_markdown())

    staging = lintseq_settings.staging_dir
    kept = write_partition(staging, "programs", "all", [result.programs])
    rejects_df = rejects_frame(result.rejects.select("record_id", "source", "stage", "reason", "detail").to_dicts(), "programs")
    rejected = stage_rejects(staging, "programs", rejects_df)
    funnel = result.funnel.with_row_index("step_index").with_columns(pl.col("step_index").cast(pl.Int32))
    report = write_partition(staging, "curation_report", "all", [funnel])

    run_id = context.run.run_id
    merged = warehouse.merge("programs", parquet_select(kept.shards, "programs"), run_id=run_id, scope_sql="true")
    warehouse.merge("rejects", parquet_select(rejected.shards, "rejects"), run_id=run_id, scope_sql="t.asset = 'programs'")
    warehouse.replace_table("curation_report", parquet_select(report.shards, "curation_report"), run_id=run_id)

    with warehouse.read_connection() as conn:
        version = table_fingerprint(conn, "programs", ("program_id", "record_id", "instruction"))
    by_reason = reasons(rejects_df)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "dagster/row_count": result.programs.height,
            "records_in": result.records_in,
            "rejects": rejects_df.height,
            "rejects_by_reason": counts_table(by_reason),
            "funnel": MetadataValue.md(result.to_markdown()),
            "lines_per_program": histogram(result.programs["n_lines"].to_list(), "lines"),
            "curation_settings": MetadataValue.json(settings.to_dict()),
            "curation_seconds": round(result.seconds, 2),
            "total_seconds": round(time.perf_counter() - started, 2),
            **merged.as_metadata(),
            "preview": preview(result.programs.select("program_id", "record_id", "instruction", "program", "n_lines")),
        }
    )
