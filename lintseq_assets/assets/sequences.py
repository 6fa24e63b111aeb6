"""`edit_sequence_shards` and `edit_sequences`: sample in parallel, load with one writer.

Sampling (`sample_many`, the same function `lintseq sample` uses) runs in worker processes
and writes Parquet shards under `staging/edit_sequences/<config_hash>/`; it holds no
warehouse connection while it samples. On Ray with a bucket (`LINTSEQ_STAGING_URL`) the
workers PUT their shards themselves and the driver only seals the manifest
(`sampling/worker_staging.py`), so edit paths never pass through the driver's node. The programs to sample are planned in
DuckDB and read back from a scratch file a batch at a time (`lintseq_assets.sampling.plan`), so
the step's memory does not grow with the corpus. Every sequence carries its program's
provenance (source record, source, revision, row). `edit_sequences` is a separate step that
hands the sealed shard set to the loader (`resources.loader`), which merges it into
`edit_sequences` scoped to the config hash, so a reload is a no-op and sequences of other
configs are never touched.
"""

import json
import time
from collections import Counter, deque

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from lintseq_assets.assets.automation import FOLLOW_UPSTREAM
from lintseq_assets.assets.metadata import counts_table, histogram_from_counts, preview
from lintseq_assets.assets.programs import programs
from lintseq_assets.assets.rejects import reasons, rejects_frame, stage_rejects
from lintseq_assets.platform.progress import Stage, Ticker
from lintseq_assets.platform.run_config import SamplingConfig, run_settings_metadata
from lintseq_assets.runtime.executors import make_executor
from lintseq_assets.runtime.staging import (
    ShardWriter,
    is_remote,
    wait_for_partition,
    write_partition,
)
from lintseq_assets.sampling.batch import CHUNK_PROGRAMS, ProgramInput, sample_many
from lintseq_assets.sampling.plan import (
    LEDGER_TABLE,
    PROVENANCE,
    SKIPS_TABLE,
    ProgramRow,
    kept_scope,
    ledger_frame,
    plan_sampling,
    provenance_refresh,
)
from lintseq_assets.sampling.worker_staging import (
    SEQUENCE_SCHEMA,
    is_staged,
    numbered_chunks,
    sample_and_stage,
    sequence_rows,
)
from resources.loader import Load
from resources.merge import parquet_select, table_fingerprint
from resources.settings_resource import SettingsResource
from resources.warehouse import WarehouseResource


@asset(
    deps=[programs],
    group_name="sequences",
    code_version="2",
    kinds={"parquet", "python"},
    automation_condition=FOLLOW_UPSTREAM,
    description="LintSeq samples of every program, staged as Parquet shards by parallel workers.",
)
def edit_sequence_shards(
    context: AssetExecutionContext,
    config: SamplingConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    config, taken = config.with_last_run(context.instance)
    if taken:
        context.log.info(f"sampling settings not given in the run config, taken from the last run: {taken}")
    sampler = config.sampler()
    config_hash = sampler.config_hash()
    workers = config.workers or lintseq_settings.workers
    executor = make_executor(config.executor, workers, config.ray_address)
    staging = lintseq_settings.staging_root
    with warehouse.read_connection() as conn:
        plan = plan_sampling(
            conn, staging, config_hash, config.samples, config.seed, incremental=config.incremental, scratch_root=lintseq_settings.staging_dir
        )
    n_todo = plan.n_todo
    context.log.info(f"config {config_hash}: {n_todo} programs to sample, {plan.skipped} already sampled (skipped)")
    progress = Stage(context, programs_to_sample=n_todo, already_sampled=plan.skipped, samples_each=config.samples, workers=workers)
    ticker = Ticker(context, "sampling", n_todo)

    # Results come back in input order, so the provenance of the programs in flight waits in a
    # queue (bounded by the executor's chunks in flight) instead of a map of every program.
    in_flight: deque[ProgramRow] = deque()

    def inputs():
        for row in plan.todo():
            in_flight.append(row._replace(program=None))
            yield ProgramInput(row.record_id, row.program)

    writer = ShardWriter(staging, "edit_sequences", config_hash)
    ledger = ShardWriter(staging, LEDGER_TABLE, config_hash)
    fingerprint = plan.fingerprint
    rejects: list[dict] = []
    batch: list[dict] = []
    outcomes: list[tuple[str, str]] = []
    n_programs = 0
    n_done = 0
    edit_counts: Counter[int] = Counter()

    def account(result, n_edits: list[int]) -> ProgramRow:
        """The driver's bookkeeping of one result, in input order: reject, ledger, fingerprint."""
        nonlocal n_programs, n_done
        origin = in_flight.popleft()
        if origin.record_id != result.record_id:
            raise RuntimeError(f"sampler results out of order: {result.record_id} where {origin.record_id} was expected")
        expected_id, source = origin.program_id, origin.source
        if result.rejected:
            rejects.append({"record_id": result.record_id, "source": source, "stage": "sample", "reason": result.reject_reason, "detail": result.reject_detail})
            outcomes.append((expected_id, result.reject_reason))
            outcome = result.reject_reason
        elif not is_staged(result, origin):  # curation and the engine disagree on the text
            rejects.append({"record_id": result.record_id, "source": source, "stage": "sample", "reason": "program_changed", "detail": f"engine id {result.program_id} != {expected_id}"})
            outcome = "program_changed"
        else:
            n_programs += 1
            outcomes.append((expected_id, "sampled"))
            outcome = "sampled"
            edit_counts.update(n_edits)
        fingerprint.add(expected_id, origin.record_id, origin.source, origin.source_revision, origin.source_row, outcome)
        n_done += 1
        ticker.update(n_done, force=n_done == n_todo)
        return origin

    def flush_ledger() -> None:
        nonlocal outcomes
        ledger.write(ledger_frame(outcomes, config_hash, config.samples, config.seed))
        outcomes = []

    try:
        staged_by = "workers" if config.executor == "ray" and is_remote(staging) else "driver"
        if staged_by == "workers":
            # Workers PUT their own shards (a shard's worth of programs per task); the driver
            # adopts them in order and seals the manifest last (sampling/worker_staging.py).
            def origins():
                for row in plan.todo():
                    in_flight.append(row._replace(program=None))
                    yield row

            chunks = numbered_chunks(origins(), config.shard_programs)
            for staged_chunk in executor.map_ordered(sample_and_stage, chunks, writer.folder, sampler, config.samples, config.seed):
                for result, n_edits in zip(staged_chunk.results, staged_chunk.n_edits, strict=True):
                    account(result, n_edits)
                if staged_chunk.shard is not None:
                    writer.adopt(staged_chunk.shard, staged_chunk.rows)
                flush_ledger()
        else:
            # A chunk never spans more than one shard's programs, so each shard is staged as
            # soon as its own programs are sampled (as the workers' path does, a shard per task).
            chunk_size = min(CHUNK_PROGRAMS, config.shard_programs)
            for result in sample_many(inputs(), config=sampler, samples=config.samples, seed=config.seed,
                                      chunk_size=chunk_size, executor=executor):
                origin = account(result, [s.n_edits for s in result.sequences])
                if is_staged(result, origin):
                    batch.extend(sequence_rows(result, origin))
                if n_done % config.shard_programs == 0:
                    writer.write(pl.DataFrame(batch, schema=SEQUENCE_SCHEMA))
                    batch = []
                    flush_ledger()
    finally:
        plan.discard()
    writer.write(pl.DataFrame(batch, schema=SEQUENCE_SCHEMA))
    ledger.write(ledger_frame(outcomes, config_hash, config.samples, config.seed))
    staged = writer.seal()
    ledger.seal()
    rejects_df = rejects_frame(rejects, "edit_sequences")
    stage_rejects(staging, "edit_sequences", rejects_df)
    described = sampler.describe()
    write_partition(staging, "sampler_configs", config_hash, [pl.DataFrame([{"config_hash": config_hash, "description": json.dumps(described, sort_keys=True)}])])
    seconds = time.perf_counter() - started
    version = fingerprint.hexdigest()
    progress.done(programs_sampled=n_programs, sequences=staged.rows, rejects=rejects_df.height)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "config_hash": config_hash,
            "sampler_config": MetadataValue.json(described),
            **run_settings_metadata(config.sticky_values()),
            "samples_per_program": config.samples,
            "seed": config.seed,
            "workers": workers,
            "executor": config.executor,
            "programs_in": n_todo + plan.skipped,
            "programs_skipped": plan.skipped,
            "programs_to_sample": n_todo,
            "programs_sampled": n_programs,
            "sequences_staged": staged.rows,
            "shards": len(staged.shards),
            "shards_staged_by": staged_by,
            "staging_dir": MetadataValue.path(str(staged.folder)),
            "rejects": rejects_df.height,
            "rejects_by_reason": counts_table(reasons(rejects_df)),
            "edits_per_sequence": histogram_from_counts(edit_counts, "edits"),
            "sampling_fingerprint": version,
            "sampling_seconds": round(seconds, 2),
            "programs_per_second": round(n_todo / seconds, 1) if seconds else 0.0,
        }
    )


def staged_config_hash(context: AssetExecutionContext) -> str:
    """The config the shards were last staged with, from the shards' own materialization."""
    event = context.instance.get_latest_materialization_event(AssetKey("edit_sequence_shards"))
    if event is None or event.asset_materialization is None:
        raise RuntimeError("edit_sequence_shards has never been materialized: nothing to load")
    return event.asset_materialization.metadata["config_hash"].value


@asset(
    deps=[edit_sequence_shards],
    group_name="sequences",
    code_version="2",
    kinds={"duckdb"},
    automation_condition=FOLLOW_UPSTREAM,
    description="Edit sequences in the warehouse (one row per sample), loaded from the staged shards by one writer.",
)
def edit_sequences(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    config_hash = staged_config_hash(context)
    progress = Stage(context, config_hash=config_hash)
    staging = lintseq_settings.staging_root
    sequences = wait_for_partition(staging, "edit_sequences", config_hash)
    rejected = wait_for_partition(staging, "rejects", "edit_sequences")
    configs = wait_for_partition(staging, "sampler_configs", config_hash)
    skips = wait_for_partition(staging, SKIPS_TABLE, config_hash)
    ledger = wait_for_partition(staging, LEDGER_TABLE, config_hash)
    run_id = context.run.run_id
    _, merged, refreshed, _, _ = warehouse.load(
        [
            Load("sampler_configs", parquet_select(configs.shards, "sampler_configs")),
            # Skipped (already sampled) programs are outside the scope: their rows stay byte-identical.
            Load("edit_sequences", parquet_select(sequences.shards, "edit_sequences"),
                 f"t.config_hash = ? AND {kept_scope(skips, 'program_id')}", (config_hash,)),
            # Their provenance follows `programs` (as staged): a re-read source may move a record's row.
            Load("edit_sequences", provenance_refresh(skips, config_hash)),
            Load("rejects", parquet_select(rejected.shards, "rejects"), f"t.asset = 'edit_sequences' AND {kept_scope(skips, 'record_id')}"),
            Load(LEDGER_TABLE, parquet_select(ledger.shards, LEDGER_TABLE)),
        ],
        run_id=run_id,
    )
    with warehouse.read_connection() as conn:
        total = conn.execute("SELECT count(*) FROM edit_sequences").fetchone()[0]
        this_config = conn.execute("SELECT count(*), count(DISTINCT program_id) FROM edit_sequences WHERE config_hash = ?", [config_hash]).fetchone()
        edit_counts = dict(conn.execute("SELECT n_edits, count(*) FROM edit_sequences WHERE config_hash = ? GROUP BY 1", [config_hash]).fetchall())
        added_counts = dict(
            conn.execute(
                "SELECT e.lines_added, count(*) FROM edits e JOIN edit_sequences s USING (sequence_id) WHERE s.config_hash = ? GROUP BY 1",
                [config_hash],
            ).fetchall()
        )
        sample = conn.sql(
            "SELECT sequence_id, program_id, sample_index, n_edits, edit_path[1] AS first_edit FROM edit_sequences "
            "WHERE config_hash = ? ORDER BY sequence_id LIMIT 5",
            params=[config_hash],
        ).pl()
        by_reason = dict(conn.execute("SELECT reason, count(*) FROM rejects WHERE asset = 'edit_sequences' GROUP BY reason").fetchall())
        version = table_fingerprint(conn, "edit_sequences", ("sequence_id", "config_hash", *PROVENANCE))
    progress.done(sequences_for_config=this_config[0], programs=this_config[1], inserted=merged.inserted, deleted=merged.deleted)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "dagster/row_count": total,
            "config_hash": config_hash,
            "programs_skipped": skips.rows,
            "provenance_refreshed": refreshed.updated,
            "sequences_for_config": this_config[0],
            "programs_for_config": this_config[1],
            "edits_rows": sum(added_counts.values()),
            "edits_per_sequence": histogram_from_counts(edit_counts, "edits"),
            "lines_added_per_edit": histogram_from_counts(added_counts, "lines added"),
            "rejects_by_reason": counts_table(by_reason),
            **merged.as_metadata(),
            "load_seconds": round(time.perf_counter() - started, 2),
            "preview": preview(sample),
        }
    )
