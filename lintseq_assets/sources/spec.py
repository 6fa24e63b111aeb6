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

A bad entry is a configuration error raised before any work starts, because a silently
skipped source is worse than a run that refuses to start. Its message is one line naming the
file, the source and the key, with a suggestion where there is one:
`sources.yaml: source 'mine': unknown key 'pth' (did you mean 'path'?)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from lintseq_assets.runtime.config_errors import ConfigError, did_you_mean, unknown_keys

LOADERS = ("stdlib", "embedded", "hub", "jsonl", "parquet", "arrow", "disk", "python")
PATH_LOADERS = ("jsonl", "parquet", "arrow", "disk", "python")
# Evaluation benchmarks must never become training data; refusing them by name is cheap insurance.
FORBIDDEN_DATASETS = ("openai_humaneval", "openai/openai_humaneval", "humaneval", "human-eval", "mbpp")


class SourceConfigError(ConfigError):
    """sources.yaml is malformed or names something the platform refuses to load (one line)."""


KEYS = ("name", "loader", "path", "dataset", "revision", "split", "subset", "columns", "limit", "enabled", "options", "shards")
COLUMN_KEYS = ("instruction", "response", "id")


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
    if not isinstance(raw, dict):
        raise SourceConfigError(f"source {name!r}: key 'columns' must map instruction/response/id to column names, e.g. {{instruction: question, response: answer}}")
    if set(raw) - set(COLUMN_KEYS):
        raise SourceConfigError(f"source {name!r}: columns: {unknown_keys('key', set(raw) - set(COLUMN_KEYS), COLUMN_KEYS)}; columns maps instruction, response and id")
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
        got = "missing" if name is None else repr(name)
        hint = unknown_keys("key", [k for k in entry if k not in KEYS], KEYS) if name is None else ""
        raise SourceConfigError(
            f"sources[{index}]: key 'name' must be a non-empty string without ':', '/', '@' or '~' (got {got})" + (f"; {hint}" if hint else "")
        )
    unknown = [k for k in entry if k not in KEYS]
    if unknown:
        raise SourceConfigError(f"source {name!r}: {unknown_keys('key', unknown, KEYS)}")
    loader = entry.pop("loader", None)
    if loader not in LOADERS:
        got = "missing" if loader is None else repr(loader)
        raise SourceConfigError(f"source {name!r}: key 'loader' is {got}{did_you_mean(loader, LOADERS)}; loaders: {', '.join(LOADERS)}")
    limit = entry.pop("limit", None)
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise SourceConfigError(f"source {name!r}: key 'limit' must be a non-negative integer or null, got {limit!r}")
    shards = entry.pop("shards", 1)
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= 4096:
        raise SourceConfigError(f"source {name!r}: key 'shards' must be an integer from 1 to 4096, got {shards!r}")
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
    for key in ("path", "dataset", "revision", "split", "subset"):
        value = getattr(spec, key)
        if value is not None and not isinstance(value, str):
            raise SourceConfigError(f"source {name!r}: key {key!r} must be a string, got {value!r}")
    if loader in PATH_LOADERS and not spec.path:
        raise SourceConfigError(f"source {name!r}: loader {loader} needs a key 'path' (relative to the sources.yaml's folder)")
    if loader == "hub" and not spec.dataset:
        raise SourceConfigError(f"source {name!r}: loader hub needs a key 'dataset' (a hub id such as owner/name)")
    blob = f"{spec.dataset or ''} {spec.path or ''}".lower()
    if any(word in blob for word in FORBIDDEN_DATASETS):
        raise SourceConfigError(f"source {name!r}: evaluation benchmarks are never training sources")
    return spec


def parse_sources(document: object, base_dir: Path) -> list[SourceSpec]:
    """Validate a parsed sources.yaml; relative paths are relative to the file's folder."""
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        others = [k for k in document if k != "sources"] if isinstance(document, dict) else []
        hint = f"; {unknown_keys('key', others, ['sources'])}" if others else ""
        raise SourceConfigError(f"expected a top-level 'sources:' list{hint}")
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
    except (OSError, UnicodeDecodeError) as err:
        raise SourceConfigError(f"{path}: cannot read it: {err}") from None
    except yaml.YAMLError as err:
        raise SourceConfigError(f"{path}: not valid YAML{_yaml_where(err)}") from None
    try:
        return parse_sources(document, Path(path).resolve().parent)
    except SourceConfigError as err:
        raise SourceConfigError(f"{path}: {err}") from None


def _yaml_where(err: yaml.YAMLError) -> str:
    """` at line 3, column 7: mapping values are not allowed here` (one line, 1-based)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem}"
