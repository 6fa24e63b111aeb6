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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from dagster import AssetKey, Config, DagsterInstance, MetadataValue
from pydantic import Field

from lintseq_assets.core import SamplerConfig
from lintseq_assets.platform.jobs import PARTITIONED_ASSETS
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
    STICKY: ClassVar[tuple[str, ...]] = ("samples", "seed", "linter", "indent_bias", "max_lines", "max_bytes")
    STICKY_FROM: ClassVar[tuple[str, ...]] = ("edit_sequence_shards",)

    samples: int = Field(default=3, description="Edit sequences per program (the paper's s).")
    seed: int = Field(default=0, description="Global seed; a sample's seed derives from (program_id, sample index, seed).")
    linter: str = Field(default=_DEFAULT_SAMPLER.linter, description="pyflakes (LintSeq) or none (RandSeq ablation).")
    indent_bias: float = Field(default=_DEFAULT_SAMPLER.indent_bias)
    max_lines: int = Field(default=_DEFAULT_SAMPLER.max_lines)
    max_bytes: int = Field(default=_DEFAULT_SAMPLER.max_bytes)
    shard_programs: int = Field(default=500, description="Programs per staged Parquet shard.")
    incremental: bool = Field(default=True, description="Skip programs already sampled with this config, sample count and seed (docs/incremental.md).")

    def sampler(self) -> SamplerConfig:
        return SamplerConfig(linter=self.linter, indent_bias=self.indent_bias, max_lines=self.max_lines, max_bytes=self.max_bytes)

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
    workers: int | None = None
    executor: str | None = None
    ray_address: str | None = None
    export_name: str | None = None
    log_level: str = "WARNING"

    def to_run_config(self) -> dict:
        """Run config in the launchpad schema (the classes above)."""
        placement = {k: v for k, v in {"workers": self.workers, "executor": self.executor, "ray_address": self.ray_address}.items() if v is not None}
        sampling = {k: v for k, v in {"samples": self.samples, "seed": self.seed}.items() if v is not None} | placement
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
