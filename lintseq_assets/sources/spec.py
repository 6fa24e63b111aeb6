"""The sources.yaml model: which datasets feed the platform, and how their columns map.

    sources:
      - name: stdlib            # unique; becomes the `source` column and the record_id prefix
        loader: stdlib          # stdlib | embedded | hub | jsonl | parquet | arrow | disk | python
        limit: 200              # optional: deterministic subset (null = everything)
      - name: magicoder
        loader: hub
        dataset: ise-uiuc/Magicoder-OSS-Instruct-75K
        revision: main
        split: train
        columns: {instruction: problem, response: solution}
        enabled: false
        shards: 4               # optional: split into 4 hash shards (Dagster partitions `magicoder~0of4` ...)

A bad entry is a configuration error raised before any work starts (with the entry's name),
because a silently skipped source is worse than a run that refuses to start.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

LOADERS = ("stdlib", "embedded", "hub", "jsonl", "parquet", "arrow", "disk", "python")
PATH_LOADERS = ("jsonl", "parquet", "arrow", "disk", "python")
# Evaluation benchmarks must never become training data; refusing them by name is cheap insurance.
FORBIDDEN_DATASETS = ("openai_humaneval", "openai/openai_humaneval", "humaneval", "human-eval", "mbpp")


class SourceConfigError(ValueError):
    """sources.yaml is malformed or names something the platform refuses to load."""


@dataclass(frozen=True)
class ColumnMap:
    """Which input columns hold the instruction, the response and (optionally) the row id."""

    instruction: str | None = "instruction"
    response: str = "response"
    id: str | None = None


@dataclass(frozen=True)
class SourceSpec:
    name: str
    loader: str
    path: str | None = None
    dataset: str | None = None
    revision: str | None = None
    split: str = "train"
    subset: str | None = None
    columns: ColumnMap = field(default_factory=ColumnMap)
    limit: int | None = None
    enabled: bool = True
    options: dict = field(default_factory=dict)
    shards: int = 1  # deterministic hash shards of the records (record_id), one partition each

    def describe(self) -> dict:
        """Plain dict for metadata and manifests (never holds secrets: tokens come from env)."""
        return {
            "name": self.name,
            "loader": self.loader,
            "path": self.path,
            "dataset": self.dataset,
            "revision": self.revision,
            "split": self.split,
            "limit": self.limit,
            "shards": self.shards,
        }


def _columns(raw: object, name: str) -> ColumnMap:
    if raw is None:
        return ColumnMap()
    if not isinstance(raw, dict) or set(raw) - {"instruction", "response", "id"}:
        raise SourceConfigError(f"source {name!r}: columns must map instruction/response/id to column names")
    defaults = ColumnMap()
    return ColumnMap(
        instruction=raw.get("instruction", defaults.instruction),
        response=raw.get("response", defaults.response),
        id=raw.get("id", defaults.id),
    )


def _spec(entry: object, index: int) -> SourceSpec:
    if not isinstance(entry, dict):
        raise SourceConfigError(f"sources[{index}]: expected a mapping, got {type(entry).__name__}")
    entry = dict(entry)
    name = entry.pop("name", None)
    if not isinstance(name, str) or not name or any(c in name for c in ":/@~"):
        raise SourceConfigError(f"sources[{index}]: 'name' must be a non-empty string without ':', '/', '@' or '~'")
    loader = entry.pop("loader", None)
    if loader not in LOADERS:
        raise SourceConfigError(f"source {name!r}: loader must be one of {', '.join(LOADERS)}, got {loader!r}")
    limit = entry.pop("limit", None)
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise SourceConfigError(f"source {name!r}: limit must be a non-negative integer or null")
    shards = entry.pop("shards", 1)
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= 4096:
        raise SourceConfigError(f"source {name!r}: shards must be an integer from 1 to 4096")
    spec = SourceSpec(
        name=name,
        loader=loader,
        path=entry.pop("path", None),
        dataset=entry.pop("dataset", None),
        revision=entry.pop("revision", None),
        split=entry.pop("split", "train"),
        subset=entry.pop("subset", None),
        columns=_columns(entry.pop("columns", None), name),
        limit=limit,
        enabled=bool(entry.pop("enabled", True)),
        options=dict(entry.pop("options", None) or {}),
        shards=shards,
    )
    if entry:
        raise SourceConfigError(f"source {name!r}: unknown keys {', '.join(sorted(entry))}")
    if loader in PATH_LOADERS and not spec.path:
        raise SourceConfigError(f"source {name!r}: loader {loader} needs a 'path'")
    if loader == "hub" and not spec.dataset:
        raise SourceConfigError(f"source {name!r}: loader hub needs a 'dataset' id")
    blob = f"{spec.dataset or ''} {spec.path or ''}".lower()
    if any(word in blob for word in FORBIDDEN_DATASETS):
        raise SourceConfigError(f"source {name!r}: evaluation benchmarks are never training sources")
    return spec


def parse_sources(document: object, base_dir: Path) -> list[SourceSpec]:
    """Validate a parsed sources.yaml; relative paths are relative to the file's folder."""
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise SourceConfigError("sources.yaml must hold a top-level 'sources:' list")
    specs = [_spec(entry, i) for i, entry in enumerate(document["sources"])]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SourceConfigError(f"duplicate source names: {', '.join(duplicates)}")
    resolved = [
        replace(s, path=str(base_dir / s.path)) if s.path and not Path(s.path).expanduser().is_absolute() else s
        for s in specs
    ]
    return [s for s in resolved if s.enabled]


def load_sources(path: Path) -> list[SourceSpec]:
    """Read and validate a sources.yaml file; only enabled sources are returned."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceConfigError(f"{path}: no such sources file") from None
    except yaml.YAMLError as err:
        raise SourceConfigError(f"{path}: not valid YAML: {err}") from None
    return parse_sources(document, Path(path).resolve().parent)
