"""The generations folder `$LINTSEQ_HOME/generations/`: model outputs waiting to be evaluated.

No Dagster here (the sensor and the `evaluations` asset are thin wrappers). Layout:
`generations/humaneval/<name>.jsonl` and `generations/mbpp/<name>.jsonl`, the folder naming
the benchmark. Readiness and identity are the drop folder's (`lintseq_assets.sources.dropfolder`):
a file is ready once its `<name>.done` marker exists or it has not changed for 60 s, and it is
known by the sha256 of its bytes. The marker may hold YAML with evaluation settings:

    format: diffs        # or code
    malformed: skip      # or fail
    problems: /path/to/mbpp.jsonl   # MBPP problems (file or hub id); required for mbpp
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lintseq_assets.evaluation.decode import MODES
from lintseq_assets.evaluation.problems import BENCHMARKS
from lintseq_assets.evaluation.runner import FORMATS
from lintseq_assets.sources.dropfolder import DEFAULT_SETTLE_SECONDS, MARKER, scan_incoming


@dataclass(frozen=True)
class GenerationsFile:
    """One ready generations file and how to evaluate it."""

    path: Path
    benchmark: str
    content_hash: str
    format: str = "diffs"
    malformed: str = "skip"
    problems: str | None = None
    problem_with_marker: str | None = None  # a marker we could not use, said in the metadata


def _settings(path: Path) -> tuple[dict, str | None]:
    marker = path.with_name(path.name + MARKER)
    if not marker.is_file():
        return {}, None
    try:
        document = yaml.safe_load(marker.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        return {}, f"{marker.name}: not YAML ({str(err).splitlines()[0]})"
    if not isinstance(document, dict):
        return {}, None
    problem = None
    if document.get("format", "diffs") not in FORMATS:
        problem = f"{marker.name}: format must be one of {FORMATS}"
    if document.get("malformed", "skip") not in MODES:
        problem = f"{marker.name}: malformed must be one of {MODES}"
    return ({} if problem else document), problem


def scan_generations(root: Path, settle_seconds: float = DEFAULT_SETTLE_SECONDS, now: float | None = None) -> list[GenerationsFile]:
    """Ready `.jsonl` files under `root/<benchmark>/`, in benchmark then name order."""
    ready = []
    for benchmark in BENCHMARKS:
        for item in scan_incoming(Path(root) / benchmark, settle_seconds, now):
            if item.loader != "jsonl":
                continue
            settings, problem = _settings(item.path)
            ready.append(
                GenerationsFile(
                    path=item.path,
                    benchmark=benchmark,
                    content_hash=item.content_hash,
                    format=settings.get("format", "diffs"),
                    malformed=settings.get("malformed", "skip"),
                    problems=settings.get("problems"),
                    problem_with_marker=problem,
                )
            )
    return ready


def describe_file(path: Path) -> GenerationsFile:
    """A named file (e.g. from a run config): benchmark from its folder, settings from its marker."""
    from lintseq_assets.sources.dropfolder import content_hash

    path = Path(path)
    benchmark = path.parent.name
    if benchmark not in BENCHMARKS:
        raise ValueError(f"{path}: put generation files under generations/<benchmark>/ with benchmark one of {BENCHMARKS}")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    settings, problem = _settings(path)
    return GenerationsFile(
        path=path,
        benchmark=benchmark,
        content_hash=content_hash(path),
        format=settings.get("format", "diffs"),
        malformed=settings.get("malformed", "skip"),
        problems=settings.get("problems"),
        problem_with_marker=problem,
    )
