"""The jobs: the two the graph runs as (docs/architecture.md, "Asset graph").

`ingest_source`, partitioned by source (raw_instructions + source_programs for one partition),
and `materialize_downstream`, the global steps after it (de-dup, sampling, load, checks,
exports), which declarative automation also launches by itself. The UI, `lintseq materialize`
and the tests all resolve these two by name. A third, `evaluate_generations`, scores model outputs.
"""

from __future__ import annotations

from dagster import AssetSelection, HookContext, define_asset_job, failure_hook, success_hook

from lintseq_assets.runtime.memory import release_unused_memory

SOURCE_JOB = "ingest_source"
DOWNSTREAM_JOB = "materialize_downstream"
PARTITIONED_ASSETS = ("raw_instructions", "source_programs")
EVALUATION_JOB = "evaluate_generations"
# Scoring model outputs is not a step of making data: `make run` never waits on it, and
# automation never runs outside code by itself; the generations sensor runs it.
STANDALONE_ASSETS = ("evaluations",)


def _release(context: HookContext) -> None:
    freed = release_unused_memory()
    if freed >= 16 * 2**20:
        context.log.debug(f"after {context.step_key}: {freed / 2**20:.0f} MB of freed memory given back to the system")


@success_hook(name="release_memory_after_step")
def release_memory_after_success(context: HookContext) -> None:
    """Steps share the process (`lintseq materialize`): what one frees is not the next's baseline."""
    _release(context)


@failure_hook(name="release_memory_after_failure")
def release_memory_after_failure(context: HookContext) -> None:
    _release(context)


# On every step of the graph's jobs (`lintseq_assets.runtime.memory`: at 10x the paper's
# scale Arrow's pool alone kept 235 MB after the exports).
STEP_HOOKS = {release_memory_after_success, release_memory_after_failure}


def build_source_job():
    """`ingest_source`: read and curate one source partition (backfill several from the UI).

    The global steps after it are not in this job: they follow by declarative automation once
    the partitions they depend on are in."""
    return define_asset_job(
        SOURCE_JOB,
        selection=AssetSelection.assets(*PARTITIONED_ASSETS),
        description="Read and curate one source partition (raw_instructions + source_programs); downstream follows automatically.",
        hooks=STEP_HOOKS,
    )


def build_downstream_job():
    """`materialize_downstream`: every asset but the partitioned ones."""
    return define_asset_job(
        DOWNSTREAM_JOB,
        selection=AssetSelection.all() - AssetSelection.assets(*PARTITIONED_ASSETS) - AssetSelection.assets(*STANDALONE_ASSETS),
        description="The global steps over every source partition: de-dup, sampling, load, checks, exports.",
        hooks=STEP_HOOKS,
    )


def build_evaluation_job():
    """`evaluate_generations`: the `evaluations` asset for one generations file (docs/evaluation.md)."""
    return define_asset_job(
        EVALUATION_JOB,
        selection=AssetSelection.assets(*STANDALONE_ASSETS),
        description="Evaluate generation files (HumanEval / MBPP pass@k) in the sandbox; never part of materialize_downstream.",
    )
