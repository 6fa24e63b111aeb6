"""`evaluations`: generation files in `$LINTSEQ_HOME/generations/` scored in the sandbox.

Each ready file (`lintseq_assets.evaluation.folder`: `generations/<benchmark>/<name>.jsonl`,
settled or with a `.done` marker) not yet in the warehouse under its (sha256, benchmark,
format, malformed mode) is evaluated exactly as `lintseq eval` does (`lintseq_assets.evaluation`),
staged and merged into the `evaluations` table by the keyed merge. The metadata compares every
evaluation in the warehouse: a pass@k table per benchmark and a plot of pass@k against k, so an
edit-sequence model and its baseline sit side by side in the UI.

It is not part of `materialize_downstream` (definitions.py): evaluation is not a step of making
training data, and `make run` must not wait on, or fail for, model outputs. The
`generation_files` sensor runs it (job `evaluate_generations`) when a file is ready, and the
UI can materialize it by hand. Its rows reach the warehouse through the loader.
"""


import base64
import time
from pathlib import Path

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from lintseq_assets.evaluation.folder import GenerationsFile, describe_file, scan_generations
from lintseq_assets.evaluation.passk import pass_at_k_table
from lintseq_assets.evaluation.problems import ProblemsError, humaneval_problems, mbpp_problems
from lintseq_assets.evaluation.report import markdown_table, write_plot
from lintseq_assets.evaluation.runner import GenerationsError, evaluate, read_generations
from lintseq_assets.evaluation.sandbox import SandboxLimits, capabilities
from lintseq_assets.evaluation.staging import SCOPE_SQL, TABLE, scope_params, stage_evaluation
from resources.connect import WarehouseMissing
from resources.loader import Load
from resources.merge import parquet_select
from resources.settings_resource import SettingsResource
from resources.warehouse import WarehouseResource


class EvaluationsConfig(Config):
    generations: list[str] = Field(default_factory=list, description="Files to evaluate (under generations/<benchmark>/); empty: every ready file not evaluated yet.")
    settle_seconds: float = Field(default=60.0, description="A file without a .done marker is ready once unchanged this long.")
    mbpp_problems: str | None = Field(default=None, description="MBPP problems (file or hub id) for files whose marker names none.")
    timeout: float = Field(default=SandboxLimits.timeout, description="Wall seconds per test process.")
    memory_mb: int = Field(default=SandboxLimits.memory_mb, description="Address-space limit per test process.")
    workers: int | None = Field(default=None, description="Test processes at once (default: LINTSEQ_WORKERS, 2).")


def _evaluated(conn, item: GenerationsFile) -> bool:
    return conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM {TABLE} t WHERE {SCOPE_SQL})", [item.content_hash, item.benchmark, item.format, item.malformed]
    ).fetchone()[0]


def _label(file: str, fmt: str, mode: str) -> str:
    return f"{Path(file).name} ({fmt}{', fail' if fmt == 'diffs' and mode == 'fail' else ''})"


def warehouse_series(conn) -> dict[str, dict[str, dict[int, float]]]:
    """{benchmark: {label: {k: pass@k}}} of every evaluation in the warehouse."""
    rows = conn.execute(
        f"SELECT benchmark, generations_sha256, format, malformed_mode, any_value(generations_file), task_id, "
        f"count(*), sum(passed::INTEGER) FROM {TABLE} GROUP BY ALL ORDER BY 1, 5, 2, 3, 4"
    ).fetchall()
    grouped: dict[tuple, dict[str, tuple[int, int]]] = {}
    for benchmark, sha, fmt, mode, file, task, n, c in rows:
        grouped.setdefault((benchmark, sha, fmt, mode, file), {})[task] = (n, c)
    series: dict[str, dict[str, dict[int, float]]] = {}
    for (benchmark, sha, fmt, mode, file), counts in grouped.items():
        label = _label(file, fmt, mode)
        if label in series.get(benchmark, {}):
            label += f" {sha[:8]}"
        series.setdefault(benchmark, {})[label] = pass_at_k_table(counts)
    return series


def _image_markdown(path: Path) -> str:
    return f"![{path.stem}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"


@asset(
    group_name="evaluation",
    code_version="1",
    kinds={"duckdb", "python"},
    description="pass@k of model generations (HumanEval, MBPP) dropped in $LINTSEQ_HOME/generations/, run in the sandbox.",
)
def evaluations(
    context: AssetExecutionContext,
    config: EvaluationsConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    home = lintseq_settings.home_path
    if config.generations:
        try:
            files = [describe_file(Path(p)) for p in config.generations]
        except ValueError as err:
            raise Failure(description=str(err)) from None
    else:
        files = scan_generations(home / "generations", config.settle_seconds)
    try:
        with warehouse.read_connection() as conn:
            todo = [f for f in files if not _evaluated(conn, f)]
    except WarehouseMissing:  # nothing loaded yet: everything is new
        todo = list(files)
    context.log.info(f"{len(files)} generation files ready, {len(todo)} not evaluated yet")
    limits = SandboxLimits(timeout=config.timeout, memory_mb=config.memory_mb)
    workers = config.workers or lintseq_settings.workers
    evaluated, failed = [], []
    for item in todo:
        try:
            if item.problem_with_marker:
                raise GenerationsError(item.problem_with_marker)
            if item.benchmark == "humaneval":
                problems = humaneval_problems()
            else:
                source = item.problems or config.mbpp_problems
                if not source:
                    raise ProblemsError("MBPP needs problems: put `problems: FILE_OR_HUB_ID` in the .done marker or set mbpp_problems")
                problems = mbpp_problems(source)
            generations = read_generations(item.path, problems)
        except (ProblemsError, GenerationsError) as err:
            context.log.error(f"{item.path}: {err}")
            failed.append((str(item.path), str(err)))
            continue
        run = evaluate(
            problems, generations, benchmark=item.benchmark, fmt=item.format, malformed=item.malformed, limits=limits,
            workers=workers, generations_file=str(item.path.resolve()), generations_sha256=item.content_hash,
        )
        staged = stage_evaluation(lintseq_settings.staging_dir, run)
        (stats,) = warehouse.load([Load(TABLE, parquet_select(staged.shards, TABLE), SCOPE_SQL, tuple(scope_params(run)))], run_id=context.run.run_id)
        context.log.info(f"{item.path.name}: pass@k {run.pass_at_k} ({stats.inserted} rows inserted, {stats.updated} updated)")
        evaluated.append((item.path.name, item.benchmark, run))

    with warehouse.read_connection() as conn:
        series = warehouse_series(conn)
        total = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    metadata: dict = {
        "dagster/row_count": total,
        "files_ready": len(files),
        "files_evaluated": MetadataValue.md(
            "\n".join(f"- {name} ({bench}): {len(run.results)} generations, pass@1 {100 * run.pass_at_k.get(1, 0):.1f}%" for name, bench, run in evaluated)
            or "(none new)"
        ),
        "sandbox": capabilities().describe(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    for benchmark, by_label in series.items():
        metadata[f"pass_at_k_{benchmark}"] = MetadataValue.md(markdown_table(by_label))
        plot = write_plot(by_label, home / "evaluations" / "plots" / f"{benchmark}.png", title=f"{benchmark}: pass@k")
        metadata[f"plot_{benchmark}"] = MetadataValue.path(str(plot))
        metadata[f"plot_{benchmark}_inline"] = MetadataValue.md(_image_markdown(plot))
    if failed:
        metadata["files_failed"] = MetadataValue.md("\n".join(f"- {p}: {e}" for p, e in failed))
        raise Failure(description=f"{len(failed)} generation file(s) could not be evaluated: {failed[0][1]}", metadata=metadata)
    return MaterializeResult(metadata=metadata)
