"""The `generation_files` sensor and the `evaluate_generations` job.

Same rule as the drop-folder sensor (`lintseq_assets.platform.sensors`): a `.jsonl` under
`$LINTSEQ_HOME/generations/<benchmark>/` is ready once its `.done` marker exists or it has not
changed for 60 s (`lintseq_assets.evaluation.folder`), and it is known by the sha256 of its
bytes: the cursor remembers every hash requested and the run key holds it, so the same file
is never evaluated twice. Each ready file is one run of `evaluate_generations`, which
materializes only the `evaluations` asset for that file.
"""



from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from lintseq_assets.evaluation.folder import scan_generations
from lintseq_assets.platform.jobs import EVALUATION_JOB
from lintseq_assets.platform.sensor_cursor import cursor_of, seen_keys
from lintseq_assets.runtime.environment import PlatformSettings
from lintseq_assets.sources.dropfolder import DEFAULT_SETTLE_SECONDS

GENERATIONS_SENSOR = "generation_files"


def build_generations_sensor(settings: PlatformSettings, settle_seconds: float = DEFAULT_SETTLE_SECONDS):
    """A sensor for `settings.home/generations` that launches one evaluation run per new ready file."""
    root = settings.home / "generations"

    @sensor(
        name=GENERATIONS_SENSOR,
        job_name=EVALUATION_JOB,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Model outputs in {root}/<humaneval|mbpp>/*.jsonl are evaluated (settled {settle_seconds:.0f}s or a .done marker).",
    )
    def generation_files(context: SensorEvaluationContext):
        seen = seen_keys(context.cursor)
        fresh = {}
        for item in scan_generations(root, settle_seconds):
            key = f"{item.content_hash}:{item.benchmark}:{item.format}:{item.malformed}"
            if key not in seen:
                fresh.setdefault(key, item)
        if not fresh:
            return SkipReason(f"no new ready generation file in {root}")
        requests = [
            RunRequest(
                run_key=f"eval:{key}",
                run_config={"ops": {"evaluations": {"config": {"generations": [str(item.path)]}}}},
                tags={"lintseq/generations": item.path.name, "lintseq/benchmark": item.benchmark},
            )
            for key, item in fresh.items()
        ]
        return SensorResult(run_requests=requests, cursor=cursor_of(seen | set(fresh)))

    return generation_files
