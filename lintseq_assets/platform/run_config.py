"""The run-config model: every setting a run takes, which of them stick, and where they are kept.

One module names it all (docs/architecture.md, "One run-config model"):

- the launchpad schema: one `Config` class per configurable asset (the UI's launchpad, the
  CLI and the tests all fill these);
- `STICKY` on a config class: the fields that, when a run leaves them unset, take the values
  of the asset's last materialization instead of the defaults. Runs nobody configured by hand
  (automation, sensors, UI backfills) would otherwise resample or re-curate everything under
  the defaults;
- `RUN_SETTINGS_KEY`: the one metadata key a materialization stores its effective sticky
  values under, and the only place they are read back from;
- `RunSettings`: what `lintseq materialize` takes on the command line, turned into run config
  of that same schema; `split_run_config` routes a run config to the two jobs.
- `SETTINGS` / `setting_catalog()`: every setting by its short name (`curation.decontaminate`,
  `sampling.samples`, `export.name`, ...), its default and where it goes in the run config.
  `lintseq materialize --set NAME=VALUE` and `--config run.yaml` (the launchpad schema) are
  built on it (`build_run_config`); `validate_run_config` refuses unknown keys in one line;
  docs/settings.md is generated from it (`settings_markdown`, `lintseq settings --markdown`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from dagster import AssetKey, Config, DagsterInstance, MetadataValue
from pydantic import Field, ValidationError

from lintseq_assets.core import SamplerConfig
from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.exports.config import ExportSettings
from lintseq_assets.platform.jobs import PARTITIONED_ASSETS
from lintseq_assets.runtime.config_errors import ConfigError, did_you_mean, unknown_keys
from lintseq_assets.sources.ingest import DEFAULT_MAX_RECORD_BYTES

RUN_SETTINGS_KEY = "run_settings"
_DEFAULT_SAMPLER = SamplerConfig()
_CURATION_HELP = "None: the settings of the last curation run (else the defaults). Curation settings overriding the defaults (see docs/curation.md)"


class StickyConfig(Config):
    """A launchpad config whose `STICKY` fields, left unset, follow the asset's last run."""

    STICKY: ClassVar[tuple[str, ...]] = ()
    # Where the last values are looked for, first found wins.
    STICKY_FROM: ClassVar[tuple[str, ...]] = ()

    def with_last_run(self, instance: DagsterInstance) -> tuple[StickyConfig, dict]:
        """(this config with unset sticky fields filled from the last run, the values taken).

        A field counts as unset when the run config does not name it or gives it as None (the
        launchpad's scaffold writes every default out, `curation: null` included)."""
        last = last_run_settings(instance, *self.STICKY_FROM)
        unset = [k for k in self.STICKY if k not in self.model_fields_set or getattr(self, k) is None]
        taken = {k: last[k] for k in unset if k in last}
        return self.model_copy(update=taken), taken


def last_run_settings(instance: DagsterInstance, *asset_names: str) -> dict:
    """The sticky values the last materialization of the first of `asset_names` that has one stored."""
    for name in asset_names:
        event = instance.get_latest_materialization_event(AssetKey(name))
        if event is None or event.asset_materialization is None:
            continue
        stored = event.asset_materialization.metadata.get(RUN_SETTINGS_KEY)
        if stored is not None and isinstance(stored.value, dict):
            return dict(stored.value)
    return {}


def run_settings_metadata(values: Mapping[str, Any]) -> dict[str, MetadataValue]:
    """The metadata entry that stores a run's effective sticky values."""
    return {RUN_SETTINGS_KEY: MetadataValue.json(dict(values))}


class RawInstructionsConfig(Config):
    max_record_bytes: int = Field(default=DEFAULT_MAX_RECORD_BYTES, description="Longer instructions/responses are rejected `too_long` at the door.")
    shard_rows: int = Field(default=5000, description="Rows per staged Parquet shard.")


class _Placement(Config):
    """Where the per-record work of an asset runs."""

    executor: str = Field(default="local", description="Where chunks run: local (worker processes) or ray.")
    workers: int | None = Field(default=None, description="Local worker processes (default: LINTSEQ_WORKERS, 2).")
    ray_address: str | None = Field(default=None, description="Ray cluster to join (auto, ray://host:10001); none starts or reuses a local one.")


class SourceProgramsConfig(StickyConfig, _Placement):
    STICKY: ClassVar[tuple[str, ...]] = ("curation",)
    STICKY_FROM: ClassVar[tuple[str, ...]] = ("programs", "source_programs")

    curation: dict | None = Field(default=None, description=f"{_CURATION_HELP}; keep them equal to `programs`' own.")


class ProgramsConfig(StickyConfig):
    STICKY: ClassVar[tuple[str, ...]] = ("curation",)
    STICKY_FROM: ClassVar[tuple[str, ...]] = ("programs", "source_programs")

    curation: dict | None = Field(
        default=None,
        description=f"{_CURATION_HELP}, e.g. {{jaccard_threshold: 0.9}}; per-record settings must match those `source_programs` ran with.",
    )


class SamplingConfig(StickyConfig, _Placement):
    STICKY: ClassVar[tuple[str, ...]] = ("samples", "seed", "linter", "indent_bias", "unit", "max_lines", "max_bytes")
    STICKY_FROM: ClassVar[tuple[str, ...]] = ("edit_sequence_shards",)

    samples: int = Field(default=3, description="Edit sequences per program (the paper's s).")
    seed: int = Field(default=0, description="Global seed; a sample's seed derives from (program_id, sample index, seed).")
    linter: str = Field(default=_DEFAULT_SAMPLER.linter, description="pyflakes (LintSeq) or none (RandSeq ablation).")
    indent_bias: float = Field(default=_DEFAULT_SAMPLER.indent_bias, description="How much more likely a deeper-indented unit is to be deleted (0: all equally likely).")
    unit: str = Field(default=_DEFAULT_SAMPLER.unit, description="line (physical lines, the paper's granularity) or statement (never split a statement).")
    max_lines: int = Field(default=_DEFAULT_SAMPLER.max_lines, description="Programs with more lines are not sampled (rejected at the sample stage).")
    max_bytes: int = Field(default=_DEFAULT_SAMPLER.max_bytes, description="Programs larger than this many bytes are not sampled.")
    shard_programs: int = Field(default=500, description="Programs per staged Parquet shard.")
    incremental: bool = Field(default=True, description="Skip programs already sampled with this config, sample count and seed (docs/incremental.md).")

    def sampler(self) -> SamplerConfig:
        return SamplerConfig(linter=self.linter, indent_bias=self.indent_bias, unit=self.unit, max_lines=self.max_lines, max_bytes=self.max_bytes)

    def sticky_values(self) -> dict:
        return {k: getattr(self, k) for k in self.STICKY}


class ExportsConfig(Config):
    export: dict = Field(
        default_factory=dict,
        description="Export settings (see docs/exports.md), e.g. {name: default, formats: [lintseq, prompt_completion]}.",
    )
    config_hash: str | None = Field(default=None, description="Sampler config to export (default: the one last sampled).")


@dataclass(frozen=True)
class RunSettings:
    """What `lintseq materialize` takes on the command line; None leaves a setting to the run
    config's default (or, for sticky settings, to the last run)."""

    samples: int | None = None
    seed: int | None = None
    unit: str | None = None
    workers: int | None = None
    executor: str | None = None
    ray_address: str | None = None
    export_name: str | None = None
    log_level: str = "WARNING"

    def to_run_config(self) -> dict:
        """Run config in the launchpad schema (the classes above)."""
        placement = {k: v for k, v in {"workers": self.workers, "executor": self.executor, "ray_address": self.ray_address}.items() if v is not None}
        sampling = {k: v for k, v in {"samples": self.samples, "seed": self.seed, "unit": self.unit}.items() if v is not None} | placement
        ops: dict = {}
        if sampling:
            ops["edit_sequence_shards"] = {"config": sampling}
        if placement:  # curation's per-record steps run on the same executor as sampling
            ops["source_programs"] = {"config": placement}
        if self.export_name:
            ops["training_exports"] = {"config": {"export": {"name": self.export_name}}}
        config: dict = {"loggers": {"console": {"config": {"log_level": self.log_level}}}}
        if ops:
            config["ops"] = ops
        return config


def split_run_config(run_config: dict | None) -> tuple[dict, dict]:
    """(ingest job config, downstream job config): each job only accepts its own ops."""
    run_config = dict(run_config or {})
    ops = run_config.pop("ops", {}) or {}
    ingest_ops = {k: v for k, v in ops.items() if k in PARTITIONED_ASSETS}
    downstream_ops = {k: v for k, v in ops.items() if k not in PARTITIONED_ASSETS}
    # Curation settings given for one half hold for both (stale candidates would be refused).
    for mine, other, table in (("programs", "source_programs", ingest_ops), ("source_programs", "programs", downstream_ops)):
        curation = ((ops.get(mine) or {}).get("config") or {}).get("curation")
        if curation is not None:
            entry = table.setdefault(other, {})
            entry["config"] = {**(entry.get("config") or {})}
            entry["config"].setdefault("curation", curation)
    ingest = {**run_config, **({"ops": ingest_ops} if ingest_ops else {})}
    downstream = {**run_config, **({"ops": downstream_ops} if downstream_ops else {})}
    return ingest, downstream


# --- every setting by name: --set, --config, docs/settings.md ------------------------------------


class RunConfigError(ConfigError):
    """A run config (file, --set, flags) names an unknown setting or a bad value (one line)."""


@dataclass(frozen=True)
class Setting:
    """One setting: `section.key`, its default, what it does, and where the run config holds it
    (`ops.<op>.config.<path...>`)."""

    name: str
    default: Any
    description: str
    op: str
    path: tuple[str, ...]


# The launchpad's configurable assets and their Config classes.
CONFIG_CLASSES: dict[str, type[Config]] = {
    "raw_instructions": RawInstructionsConfig,
    "source_programs": SourceProgramsConfig,
    "programs": ProgramsConfig,
    "edit_sequence_shards": SamplingConfig,
    "training_exports": ExportsConfig,
}
# Section -> what it documents (docs/settings.md) and how it is set.
SECTIONS: dict[str, str] = {
    "ingest": "reading sources (`raw_instructions`)",
    "curation": "extract, filter, decontaminate, de-duplicate (`source_programs` and `programs`; docs/curation.md)",
    "sampling": "LintSeq sampling (`edit_sequence_shards`; docs/engine.md, docs/incremental.md)",
    "export": "training exports (`training_exports`; docs/exports.md)",
}
RUN_CONFIG_KEYS = ("ops", "loggers", "execution", "resources")
_PLACEMENT = tuple(_Placement.model_fields)
# Settings that only make sense as a count of at least one.
_AT_LEAST_ONE = {"samples", "workers", "shard_rows", "shard_programs", "max_record_bytes", "max_lines", "max_bytes"}


def _dataclass_help(cls: type) -> dict[str, str]:
    """First sentence of each `name: text` (or `a / b: text`) entry of a settings dataclass's docstring."""
    helps: dict[str, str] = {}
    entry: list[str] = []
    names: list[str] = []

    def close() -> None:
        if names:
            text = " ".join(" ".join(entry).split())
            sentence = re.split(r"(?<=\.)\s(?=[A-Z(`])", text, maxsplit=1)[0]
            for name in names:
                helps.setdefault(name, sentence)

    for line in (cls.__doc__ or "").splitlines():
        head = re.match(r"^    ([a-z_][a-z_0-9]*(?:\s*/\s*[a-z_][a-z_0-9]*)*):\s*(.*)$", line)
        if head:
            close()
            names, entry = [n.strip() for n in head.group(1).split("/")], [head.group(2)]
        elif line.startswith("        ") and names:
            entry.append(line.strip())
        else:
            close()
            names, entry = [], []
    close()
    return helps


def _model_default(field) -> Any:
    return field.default_factory() if field.default_factory is not None else field.default


def setting_catalog() -> list[Setting]:
    """Every setting a run takes, by section, in declaration order."""
    out: list[Setting] = []
    for name, field in RawInstructionsConfig.model_fields.items():
        out.append(Setting(f"ingest.{name}", _model_default(field), field.description or "", "raw_instructions", (name,)))
    curation_help = _dataclass_help(CurationSettings)
    for f in dataclasses.fields(CurationSettings):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append(Setting(f"curation.{f.name}", default, curation_help.get(f.name, ""), "source_programs", ("curation", f.name)))
    for name in _PLACEMENT:
        field = SourceProgramsConfig.model_fields[name]
        out.append(Setting(f"curation.{name}", _model_default(field), f"Per-record curation: {field.description}", "source_programs", (name,)))
    for name, field in SamplingConfig.model_fields.items():
        out.append(Setting(f"sampling.{name}", _model_default(field), field.description or "", "edit_sequence_shards", (name,)))
    export_help = _dataclass_help(ExportSettings)
    for f in dataclasses.fields(ExportSettings):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append(Setting(f"export.{f.name}", default, export_help.get(f.name, ""), "training_exports", ("export", f.name)))
    return out


SETTINGS: dict[str, Setting] = {s.name: s for s in setting_catalog()}


def parse_set(pairs: Sequence[str]) -> dict:
    """`--set section.key=value` pairs (values read as YAML scalars) as a run config."""
    run_config: dict = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise RunConfigError(f"--set {pair!r}: expected NAME=VALUE, e.g. --set curation.decontaminate=false")
        setting = SETTINGS.get(name)
        if setting is None:
            section = name.split(".", 1)[0]
            if section not in SECTIONS:
                raise RunConfigError(f"--set {name}: unknown section {section!r}{did_you_mean(section, SECTIONS)}; sections: {', '.join(SECTIONS)} (`lintseq settings` lists them all)")
            raise RunConfigError(f"--set {name}: unknown setting{did_you_mean(name, SETTINGS)}; `lintseq settings` lists every setting")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node = run_config.setdefault("ops", {}).setdefault(setting.op, {}).setdefault("config", {})
        for key in setting.path[:-1]:
            node = node.setdefault(key, {})
        node[setting.path[-1]] = value
    return run_config


def merge_run_config(base: Mapping, override: Mapping) -> dict:
    """`override` over `base`, mappings merged key by key (a later --set wins)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_run_config(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_run_config_file(path: str | Path) -> dict:
    """A launchpad-schema YAML file (`ops: {asset: {config: ...}}`), validated."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunConfigError(f"{path}: no such run config file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunConfigError(f"{path}: cannot read it: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise RunConfigError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
    if document is None:
        return {}
    try:
        return validate_run_config(document)
    except RunConfigError as err:
        raise RunConfigError(f"{path}: {err}") from None


def _setting_name(op: str, path: tuple[str, ...]) -> str:
    for setting in SETTINGS.values():
        if setting.op == op and setting.path == path:
            return setting.name
    return ".".join(("ops", op, "config", *path))


def _check_op(op: str, config: Mapping) -> None:
    cls = CONFIG_CLASSES[op]
    unknown = [k for k in config if k not in cls.model_fields]
    if unknown:
        raise RunConfigError(f"ops.{op}.config: {unknown_keys('key', unknown, cls.model_fields)}")
    for key, value in config.items():
        if key in _AT_LEAST_ONE and value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise RunConfigError(f"{_setting_name(op, (key,))} must be a whole number of at least 1, got {value!r}")
    nested = {"curation": CurationSettings.from_dict, "export": ExportSettings.from_dict}
    for key, build in nested.items():
        if key in config and config[key] is not None:
            values = config[key]
            if not isinstance(values, Mapping):
                raise RunConfigError(f"ops.{op}.config.{key} must be a mapping of settings, got {values!r}")
            known = CurationSettings.__dataclass_fields__ if key == "curation" else ExportSettings.__dataclass_fields__
            unknown = [k for k in values if k not in known]
            if unknown:
                raise RunConfigError(f"{_setting_name(op, (key,)).split('.')[0]}: {unknown_keys('setting', [f'{key}.{k}' for k in unknown], [f'{key}.{k}' for k in known])}")
            try:
                build(dict(values))
            except (ValueError, TypeError) as err:
                raise RunConfigError(f"{key}: {' '.join(str(err).split())}") from None
    try:
        cls(**dict(config))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise RunConfigError(f"{_setting_name(op, (where,)) if where else op}: {first.get('msg')}, got {first.get('input')!r}") from None


def validate_run_config(run_config: object) -> dict:
    """The run config if every key names a setting of the launchpad schema; else one line."""
    if not isinstance(run_config, Mapping):
        raise RunConfigError(f"a run config is a mapping (ops: {{asset: {{config: ...}}}}), got {type(run_config).__name__}")
    unknown = [k for k in run_config if k not in RUN_CONFIG_KEYS]
    if unknown:
        raise RunConfigError(f"{unknown_keys('top-level key', unknown, RUN_CONFIG_KEYS)}; settings go under ops: {{<asset>: {{config: ...}}}}")
    ops = run_config.get("ops") or {}
    if not isinstance(ops, Mapping):
        raise RunConfigError("ops must map asset names to {config: ...}")
    for op, entry in ops.items():
        if op not in CONFIG_CLASSES:
            raise RunConfigError(f"ops: unknown asset {op!r}{did_you_mean(op, CONFIG_CLASSES)}; configurable: {', '.join(CONFIG_CLASSES)}")
        if not isinstance(entry, Mapping) or set(entry) - {"config"}:
            raise RunConfigError(f"ops.{op}: expected {{config: {{...}}}}, got {entry!r}")
        config = entry.get("config") or {}
        if not isinstance(config, Mapping):
            raise RunConfigError(f"ops.{op}.config must be a mapping, got {config!r}")
        _check_op(op, config)
    return dict(run_config)


def build_run_config(flags: RunSettings, config_file: str | Path | None = None, sets: Sequence[str] = ()) -> dict:
    """The run config of `lintseq materialize`: `--config` file, then the flags, then each `--set`."""
    run_config = load_run_config_file(config_file) if config_file else {}
    run_config = merge_run_config(run_config, flags.to_run_config())
    run_config = merge_run_config(run_config, parse_set(sets))
    return validate_run_config(run_config)


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    text = "null" if value is None else yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip().removesuffix("...").strip()
    return "`" + text.replace("|", "\\|") + "`"


def settings_markdown() -> str:
    """docs/settings.md: every setting with its default, generated from the classes above."""
    lines = [
        "# Settings",
        "",
        "Every setting a run takes, with its default. Generated from the run-config model",
        "(`lintseq_assets/platform/run_config.py`: the launchpad's Config classes, `CurationSettings`,",
        "`ExportSettings`) by `lintseq settings --markdown > docs/settings.md`; a test fails when it",
        "drifts.",
        "",
        "Set them from the command line, from a file in the launchpad's schema, or in the UI:",
        "",
        "```",
        ".venv/bin/lintseq materialize --set curation.decontaminate=false --set sampling.samples=5",
        ".venv/bin/lintseq materialize --config run.yaml     # ops: {edit_sequence_shards: {config: {samples: 5}}}",
        "```",
        "",
        "`--config` is read first, then the flags (`-s`, `--seed`, `-j`, ...), then each `--set`. Values",
        "are YAML (`true`, `5`, `[lintseq, messages]`). An unknown name is refused in one line, with a",
        "suggestion. A setting left out takes its default, except the sticky ones (sampling's",
        "`samples`, `seed`, `linter`, `indent_bias`, `unit`, `max_lines`, `max_bytes`, and the curation",
        "settings as a whole), which keep the value of the asset's last run (docs/architecture.md,",
        "\"One run-config model\"). Giving any `curation.*` setting gives the whole curation section:",
        "the ones not named take their defaults.",
        "",
        "| setting | default | run config (launchpad) | what |",
        "| --- | --- | --- | --- |",
    ]
    for setting in SETTINGS.values():
        where = f"`ops.{setting.op}.config.{'.'.join(setting.path)}`"
        lines.append(f"| `{setting.name}` | {_cell(setting.default)} | {where} | {setting.description.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
