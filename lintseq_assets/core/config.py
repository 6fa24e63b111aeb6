"""Sampler settings, their hash, and the per-sample seed.

The config hash names a family of edit sequences: two runs with the same hash on the same
program produce byte-identical output. It therefore covers every parameter that changes
output, the linter and its version, and the Python grammar the programs were parsed with.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from dataclasses import asdict, dataclass

from .lint import LINTER_NAME, LINTER_VERSION, TOLERATED_MESSAGES
from .program import DEFAULT_MAX_BYTES, DEFAULT_MAX_LINES, Limits

# Bump when a change to the engine changes its output for the same config.
ALGORITHM_VERSION = 3
LINTERS = ("pyflakes", "none")
UNITS = ("line", "statement")


@dataclass(frozen=True)
class SamplerConfig:
    """Everything that decides what edit sequences come out for a program.

    linter: "pyflakes" (LintSeq) or "none" (RandSeq, the paper's linter-free ablation).
    indent_bias: weight of a unit at block depth d is 1 at d=0 and d * indent_bias below,
        as the reference's `indent_bias_sampling_factor` (0 makes every unit equally likely).
    max_lines / max_bytes: larger programs are rejected as `too_long`.
    unit: "line" (the paper's granularity: a statement spanning several physical lines is
        split into its lines where every subset of them still parses) or "statement" (a
        logical line is never split; the engine's behaviour before line units).
    """

    linter: str = "pyflakes"
    indent_bias: float = 1.0
    max_lines: int = DEFAULT_MAX_LINES
    max_bytes: int = DEFAULT_MAX_BYTES
    unit: str = "line"

    def __post_init__(self) -> None:
        if self.linter not in LINTERS:
            raise ValueError(f"linter must be one of {LINTERS}, got {self.linter!r}")
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {self.unit!r}")
        if self.indent_bias < 0:
            raise ValueError("indent_bias must be >= 0")
        if self.max_lines < 1 or self.max_bytes < 1:
            raise ValueError("max_lines and max_bytes must be positive")

    @property
    def limits(self) -> Limits:
        return Limits(max_lines=self.max_lines, max_bytes=self.max_bytes)

    def describe(self) -> dict:
        """The full, hashed description (also written into manifests)."""
        described = asdict(self)
        described.update(
            algorithm_version=ALGORITHM_VERSION,
            python_grammar=f"{sys.version_info.major}.{sys.version_info.minor}",
        )
        if self.linter == LINTER_NAME:
            described.update(linter_version=LINTER_VERSION, tolerated=sorted(TOLERATED_MESSAGES))
        return described

    def config_hash(self) -> str:
        return _config_hash(self)


@functools.lru_cache(maxsize=64)
def _config_hash(config: SamplerConfig) -> str:
    """Computed once per config (every program's samples ask for it)."""
    canonical = json.dumps(config.describe(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def derive_seed(program_id: str, sample_index: int, seed: int) -> int:
    """Seed of one sample: a function of what it is, never of when or where it ran."""
    digest = hashlib.sha256(f"{program_id}:{sample_index}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def sequence_id(program_id: str, config_hash: str, sample_index: int) -> str:
    return hashlib.sha256(f"{program_id}:{config_hash}:{sample_index}".encode()).hexdigest()[:32]
