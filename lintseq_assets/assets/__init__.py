"""The software-defined assets, one module per stage (docs/architecture.md).

raw_instructions -> source_programs -> programs -> edit_sequence_shards -> edit_sequences -> training_exports

The first two are partitioned by source (`lintseq_assets.platform.partitions`); the rest are global.
`evaluations` (model generations scored in the sandbox) stands apart: its own job and sensor.
"""

from lintseq_assets.assets.evaluations import evaluations
from lintseq_assets.assets.exports import training_exports
from lintseq_assets.assets.programs import programs
from lintseq_assets.assets.raw import raw_instructions
from lintseq_assets.assets.sequences import edit_sequence_shards, edit_sequences
from lintseq_assets.assets.source_programs import source_programs

ALL_ASSETS = [raw_instructions, source_programs, programs, edit_sequence_shards, edit_sequences, training_exports, evaluations]

__all__ = ["ALL_ASSETS", "edit_sequence_shards", "edit_sequences", "evaluations", "programs", "raw_instructions", "source_programs", "training_exports"]
