"""The LintSeq engine as a library: no Dagster, no DuckDB, only Python and pyflakes.

    from lintseq_assets.core import sample_edit_paths
    paths = sample_edit_paths(open("prog.py").read(), samples=5, seed=0)
"""

from .config import SamplerConfig, derive_seed, sequence_id
from .diffs import DiffError, apply_diff, forward_diffs
from .errors import ProgramRejected, RejectReason
from .lint import LINTER_VERSION, lint_text
from .program import Limits, normalise_program, prepare_program, program_id
from .replay import Verification, replay_edit_path, replay_states, verify_edit_path
from .sampler import (
    AnalysedProgram,
    EditSequence,
    analyse_program,
    sample_analysed,
    sample_edit_paths,
)

__all__ = [
    "AnalysedProgram",
    "DiffError",
    "EditSequence",
    "LINTER_VERSION",
    "Limits",
    "ProgramRejected",
    "RejectReason",
    "SamplerConfig",
    "Verification",
    "analyse_program",
    "apply_diff",
    "derive_seed",
    "forward_diffs",
    "lint_text",
    "normalise_program",
    "prepare_program",
    "program_id",
    "replay_edit_path",
    "replay_states",
    "sample_analysed",
    "sample_edit_paths",
    "sequence_id",
    "verify_edit_path",
]
