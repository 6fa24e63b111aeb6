"""`programs`: the global half of curation, over every source partition's candidates.

The per-record work (extraction, filters, fingerprints) is done per partition in
`source_programs`. This asset copies the fingerprints of all candidates (keys, exact key,
the decontamination verdict, the 512-byte MinHash signature: no program text) to scratch
Parquet files and runs the set steps on them out of core, in a scratch DuckDB database
(`curation.selection_disk`: decontaminate, dedup_exact, dedup_near), so its memory does not
grow with the corpus. It copies the kept candidates into `programs` inside DuckDB. De-duplication compares every
source with every other, so this asset is unpartitioned and replaces `programs`, its rejects
and the `curation_report` funnel as a whole; the merge leaves unchanged rows untouched.
"""

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    AssetExecutionContext,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from lintseq_assets.assets.automation import FOLLOW_UPSTREAM
from lintseq_assets.assets.metadata import counts_table, histogram_from_counts, preview
from lintseq_assets.assets.rejects import reasons_counted, rejects_of
from lintseq_assets.assets.source_programs import source_programs
from lintseq_assets.curation import CurationSettings
from lintseq_assets.curation.pipeline import PROGRAM_COLUMNS
from lintseq_assets.curation.records import record_settings_hash
from lintseq_assets.curation.report import StepStats, funnel_frame, funnel_markdown, step_stats
from lintseq_assets.curation.selection_disk import FINGERPRINT_COLUMNS, selection_on_disk
from lintseq_assets.platform.progress import Stage
from lintseq_assets.platform.run_config import ProgramsConfig, run_settings_metadata
from lintseq_assets.runtime.memory import release_unused_memory
from lintseq_assets.runtime.staging import write_partition
from resources.loader import Load
from resources.merge import parquet_select, table_fingerprint
from resources.settings_resource import SettingsResource
from resources.warehouse import WarehouseResource

SIGNATURE_ROW_GROUP = 8192  # rows a Parquet row group holds: DuckDB's writer buffers one per thread
KEEPER_BATCH_ROWS = 65_536
PART_ROWS = 262_144  # candidates joined with their keeper numbers at once (about 1/6 of the 10x corpus's)


def _copy_fingerprints(conn, scratch: Path) -> str:
    """Every candidate's fingerprints and signature (512 bytes a program) to Parquet files
    under `scratch/fingerprints/`, inside DuckDB: nothing of them is held in Python (at 1.09M
    candidates the fingerprints frame alone was 700 MB). Returns the files' glob.

    `_row` is the keeper order: DuckDB sorts the keys (spilling), they are numbered here as
    they stream by into `keeper_rows.parquet`, and the candidates join it. A window
    (`row_number() OVER (ORDER BY ...)`) would hold every key under DuckDB's cap (at 1.8M
    records such a window ran out of 256 MB), and so did one join of all 1.6M keys (14 MB
    short of 256 MB on a quiet run). So the join goes a hash part of the keys at a time
    (`PART_ROWS` of them), one file each; the files' order does not matter, `_row` does."""
    scratch.mkdir(parents=True, exist_ok=True)
    keeper_rows = scratch / "keeper_rows.parquet"
    schema = pa.schema([("record_id", pa.string()), ("_row", pa.int64())])
    reader = conn.sql("SELECT record_id FROM candidates ORDER BY source, source_row, record_id").to_arrow_reader(KEEPER_BATCH_ROWS)
    with pq.ParquetWriter(keeper_rows, schema) as writer:
        n = 0
        for batch in reader:
            rows = pa.array(np.arange(n, n + batch.num_rows, dtype=np.int64))
            writer.write_batch(pa.record_batch([batch.column(0).cast(pa.string()), rows], schema=schema))
            n += batch.num_rows
    keys = f"read_parquet('{keeper_rows}')"
    columns = ", ".join(f"c.{c}" for c in FINGERPRINT_COLUMNS if c != "_row")
    parts = max(1, -(-n // PART_ROWS))
    folder = scratch / "fingerprints"
    folder.mkdir()
    for part in range(parts):
        in_part = f"hash(record_id) % {parts} = {part}"
        conn.execute(
            f"COPY (SELECT k._row, {columns}, c.signature FROM (SELECT * FROM candidates WHERE {in_part}) c "
            f"JOIN (SELECT * FROM {keys} WHERE {in_part}) k USING (record_id)) "
            f"TO '{folder / f'part-{part:05d}.parquet'}' (FORMAT parquet, ROW_GROUP_SIZE {SIGNATURE_ROW_GROUP})"
        )
    return str(folder / "*.parquet")


def _stale_partitions(conn, curation_hash: str) -> list[tuple[str, int]]:
    return conn.execute(
        "SELECT source, count(*) FROM candidates WHERE curation_hash <> ? GROUP BY source ORDER BY source", [curation_hash]
    ).fetchall()


def _record_stage_funnel(conn) -> tuple[list[StepStats], int, int]:
    """Funnel lines for extract and filter over all partitions, from the warehouse; and how
    many raw records are accounted for and how many are still pending (partition not curated yet)."""
    n_raw = conn.execute("SELECT count(*) FROM raw_instructions").fetchall()[0][0]
    n_candidates = conn.execute("SELECT count(*) FROM candidates").fetchall()[0][0]
    record_rejects = conn.sql(
        "SELECT stage, reason FROM rejects WHERE asset = 'source_programs' AND record_id IN (SELECT record_id FROM raw_instructions)"
    ).pl()
    n_in = n_candidates + record_rejects.height
    extract = record_rejects.filter(pl.col("stage") == "extract")
    stats = [
        step_stats("extract", True, n_in, n_in - extract.height, extract, None),
        step_stats("filter", True, n_in - extract.height, n_candidates, record_rejects.filter(pl.col("stage") == "filter"), None),
    ]
    return stats, n_in, max(0, n_raw - n_in)


@asset(
    deps=[source_programs],
    group_name="curation",
    code_version="2",
    kinds={"duckdb", "python"},
    automation_condition=FOLLOW_UPSTREAM,
    description="Programs extracted from the answers, normalised, filtered, decontaminated and de-duplicated across all sources.",
)
def programs(
    context: AssetExecutionContext,
    config: ProgramsConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    progress = Stage(context)
    config, _ = config.with_last_run(context.instance)
    settings = CurationSettings.from_dict(config.curation or {})
    with warehouse.read_connection() as conn:
        stale = _stale_partitions(conn, record_settings_hash(settings))
        if stale:
            raise Failure(
                description="candidates were curated under other per-record settings than this run's; re-materialize "
                f"`source_programs` for these sources with the same curation settings: {stale}",
            )
        record_stats, n_in, pending = _record_stage_funnel(conn)
        scratch_root = lintseq_settings.staging_dir / "scratch"
        scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"programs-{context.run.run_id}-", dir=scratch_root))
        fingerprints = _copy_fingerprints(conn, scratch)
    if pending:
        context.log.warning(f"{pending} raw records are not curated yet (their source_programs partition has not run); they are not in this funnel")
    staging = lintseq_settings.staging_root
    try:
        # The kept ids and the rejects go from the scratch database to staging a batch at a
        # time: whole, as frames, they were this step's peak at 10x (1.3M ids and 470K rejects
        # with their details, about 300 MB), and then sat under the loader's connection.
        with selection_on_disk(fingerprints, fingerprints, settings, scratch) as selection:
            kept = write_partition(staging, "programs_kept", "all", (batch.select("record_id") for batch in selection.kept()))
            rejected = write_partition(staging, "rejects", "programs", (rejects_of(batch.drop("_row"), "programs") for batch in selection.rejects()))
            n_kept, n_rejects, selection_stats = selection.n_kept, selection.n_rejects, selection.stats
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stats = record_stats + selection_stats
    funnel = funnel_frame(stats)
    markdown = (
        f"**Curation**: {n_in} records in, {n_kept} programs kept, {n_in - n_kept} rejected"
        + (f", {pending} pending" if pending else "")
        + "\n\n"
        + funnel_markdown(funnel)
    )
    context.log.info(markdown)
    report = write_partition(staging, "curation_report", "all", [funnel.with_row_index("step_index").with_columns(pl.col("step_index").cast(pl.Int32))])
    by_reason = reasons_counted((code, n) for step in selection_stats for code, n in step.reasons.items())
    release_unused_memory()  # what the set steps freed, before the loader's connection opens

    run_id = context.run.run_id
    columns = ", ".join(PROGRAM_COLUMNS)
    kept_ids = parquet_select(kept.shards, "programs_kept") if kept.shards else "SELECT NULL::VARCHAR AS record_id WHERE false"
    kept_programs = f"SELECT {columns} FROM candidates WHERE record_id IN (SELECT record_id FROM ({kept_ids}))"
    merged, _, _ = warehouse.load(
        [
            Load("programs", kept_programs, scope_sql="true"),
            Load("rejects", parquet_select(rejected.shards, "rejects"), scope_sql="t.asset = 'programs'"),
            Load("curation_report", parquet_select(report.shards, "curation_report"), replace=True),
        ],
        run_id=run_id,
    )

    with warehouse.read_connection() as conn:
        version = table_fingerprint(conn, "programs", ("program_id", "record_id", "instruction"))
        lines = dict(conn.execute("SELECT n_lines, count(*) FROM programs GROUP BY n_lines").fetchall())
        sample = conn.sql("SELECT program_id, record_id, instruction, program, n_lines FROM programs ORDER BY program_id LIMIT 5").pl()
    progress.done(records=n_in, programs=n_kept, rejects=n_rejects, pending=pending or None)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "dagster/row_count": n_kept,
            "records_in": n_in,
            "records_pending": pending,
            "rejects": n_rejects,
            "rejects_by_reason": counts_table(by_reason),
            "funnel": MetadataValue.md(markdown),
            "lines_per_program": histogram_from_counts(lines, "lines"),
            **run_settings_metadata({"curation": settings.to_dict()}),
            "total_seconds": round(time.perf_counter() - started, 2),
            **merged.as_metadata(),
            "preview": preview(sample),
        },
    )
