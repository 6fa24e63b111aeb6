"""The jobs: the two the graph runs as (docs/architecture.md, "Asset graph").

`ingest_source`, partitioned by source (raw_instructions + source_programs for one partition),
and `materialize_downstream`, the global steps after it (de-dup, sampling, load, checks,
exports), which declarative automation also launches by itself. The UI, `lintseq materialize`
and the tests all resolve these two by name. A third, `evaluate_generations`, scores model outputs.
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

SOURCE_JOB = "ingest_source"
DOWNSTREAM_JOB = "materialize_downstream"
PARTITIONED_ASSETS = ("raw_instructions", "source_programs")
EVALUATION_JOB = "evaluate_generations"
# Scoring model outputs is not a step of making data: `make run` never waits on it, and
# automation never runs outside code by itself; the generations sensor runs it.
STANDALONE_ASSETS = ("evaluations",)


def build_source_job():
    """`ingest_source`: read and curate one source partition (backfill several from the UI).

    The global steps after it are not in this job: they follow by declarative automation once
    the partitions they depend on are in."""
    return define_asset_job(
        SOURCE_JOB,
        selection=AssetSelection.assets(*PARTITIONED_ASSETS),
        description="Read and curate one source partition (raw_instructions + source_programs); downstream follows automatically.",
    )


def build_downstream_job():
    """`materialize_downstream`: every asset but the partitioned ones."""
    return define_asset_job(
        DOWNSTREAM_JOB,
        selection=AssetSelection.all() - AssetSelection.assets(*PARTITIONED_ASSETS) - AssetSelection.assets(*STANDALONE_ASSETS),
        description="The global steps over every source partition: de-dup, sampling, load, checks, exports.",
    )


def build_evaluation_job():
    """`evaluate_generations`: the `evaluations` asset for one generations file (docs/evaluation.md)."""
    return define_asset_job(
        EVALUATION_JOB,
        selection=AssetSelection.assets(*STANDALONE_ASSETS),
        description="Evaluate generation files (HumanEval / MBPP pass@k) in the sandbox; never part of materialize_downstream.",
    )
