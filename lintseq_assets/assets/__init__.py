"""The software-defined assets, one module per stage (DESIGN.md §1).

raw_instructions -> source_programs -> programs -> edit_sequence_shards -> edit_sequences -> training_exports

The first two are partitioned by source (`lintseq_assets.partitions`); the rest are global.
`evaluations` (model generations scored in the sandbox) stands apart: its own job and sensor.
"""

from .evaluations import evaluations
from .exports import training_exports
from .programs import programs
from .raw import raw_instructions
from .sequences import edit_sequence_shards, edit_sequences
from .source_programs import source_programs

ALL_ASSETS = [raw_instructions, source_programs, programs, edit_sequence_shards, edit_sequences, training_exports, evaluations]

__all__ = ["ALL_ASSETS", "edit_sequence_shards", "edit_sequences", "evaluations", "programs", "raw_instructions", "source_programs", "training_exports"]
