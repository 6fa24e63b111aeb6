"""What an export is asked to produce: one frozen, validated settings object.

The Dagster asset, the CLI and the tests all build an `ExportSettings` (usually through
`from_dict`, which refuses unknown keys so a typo in a run config fails loudly instead of
being silently ignored) and hand it to `write_exports`. Nothing here reads the environment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FORMATS = ("lintseq", "prompt_completion", "messages", "baseline", "subtrajectory")
OVERLONG = ("drop", "truncate")
# `datasets` only accepts split names matching this; checking here fails before any work.
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
_EXPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ExportError(ValueError):
    """An export that cannot be produced as asked (bad settings, inputs or environment)."""


def _default_splits() -> dict[str, float]:
    return {"train": 0.95, "test": 0.05}


@dataclass(frozen=True)
class ExportSettings:
    """Settings of one training export.

    name: folder name and card title (`$LINTSEQ_HOME/exports/<name>/`).
    formats: which trainer formats to write, any of FORMATS (see docs/exports.md).
    splits: split name -> share of *programs*; shares must sum to 1. Order matters: it is
        the order of the cumulative intervals a program's hash falls into.
    split_seed: changes which programs land in which split, nothing else.
    config_hash: the sampler config to export. Required when the sequences hold several;
        with one, it is taken from the data (and checked if given).
    max_chars: maximum length of an example in characters (None: unlimited).
    tokenizer: name or path of a Hugging Face tokenizer for `max_tokens`, loaded offline only
        (`local_files_only`); needs `transformers`, which is deliberately not a dependency.
    max_tokens: maximum length of an example in tokens of `tokenizer` (None: unlimited).
        When both limits are set, an example must meet both.
    overlong: "drop" over-long examples, or "truncate" them at an edit boundary (never
        inside a diff). Truncation keeps at least one edit; if even that is too long, the
        example is dropped. Both are counted.
    jsonl: also write JSONL next to the Parquet (under `jsonl/`).
    save_to_disk: also write a `datasets.DatasetDict.save_to_disk` copy (under `disk/`).
    push_to_hub: a Hub dataset repo id to upload to; needs HF_TOKEN in the environment.
    private: whether a repo created by push_to_hub is private.
    shard_rows: maximum rows per Parquet/JSONL shard.
    license: the card's `license:` field; the sources decide it, so the default says "other".
    """

    name: str = "default"
    formats: tuple[str, ...] = ("lintseq", "prompt_completion")
    splits: Mapping[str, float] = field(default_factory=_default_splits)
    split_seed: int = 0
    config_hash: str | None = None
    max_chars: int | None = None
    tokenizer: str | None = None
    max_tokens: int | None = None
    overlong: str = "drop"
    jsonl: bool = False
    save_to_disk: bool = False
    push_to_hub: str | None = None
    private: bool = True
    shard_rows: int = 100_000
    license: str = "other"

    def __post_init__(self) -> None:
        # Accept lists (YAML, Dagster config) or one name, but keep an immutable, ordered value.
        formats = (self.formats,) if isinstance(self.formats, str) else self.formats
        object.__setattr__(self, "formats", tuple(formats))
        object.__setattr__(self, "splits", dict(self.splits))
        if not _EXPORT_NAME.match(self.name):
            raise ExportError(f"name {self.name!r}: use letters, digits, '.', '_' or '-'")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ExportError(f"formats must be a non-empty subset of {FORMATS}, got {list(self.formats)}")
        if len(set(self.formats)) != len(self.formats):
            raise ExportError(f"formats repeat: {list(self.formats)}")
        self._check_splits()
        if self.overlong not in OVERLONG:
            raise ExportError(f"overlong must be one of {OVERLONG}, got {self.overlong!r}")
        for key in ("max_chars", "max_tokens", "shard_rows"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ExportError(f"{key} must be a positive integer, got {value!r}")
        if (self.max_tokens is None) != (self.tokenizer is None):
            raise ExportError("tokenizer and max_tokens go together: set both or neither")

    def _check_splits(self) -> None:
        if not self.splits:
            raise ExportError("splits must name at least one split")
        for split, share in self.splits.items():
            if not _SPLIT_NAME.match(split):
                raise ExportError(f"split name {split!r} is not one `datasets` accepts")
            if not isinstance(share, (int, float)) or not share > 0:
                raise ExportError(f"split {split!r}: share must be > 0, got {share!r}")
        total = sum(self.splits.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ExportError(f"split shares must sum to 1, got {total}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ExportSettings:
        """Build from plain config; unknown keys are an error, not a silent no-op."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ExportError(f"unknown export settings {unknown}; known: {sorted(known)}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, written into the manifest and the card."""
        described = asdict(self)
        described["formats"] = list(self.formats)
        described["splits"] = dict(self.splits)
        return described
