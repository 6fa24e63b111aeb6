"""The software-defined assets, one module per stage (DESIGN.md §1).

raw_instructions -> programs -> edit_sequence_shards -> edit_sequences -> training_exports
"""

from .exports import training_exports
from .programs import programs
from .raw import raw_instructions
from .sequences import edit_sequence_shards, edit_sequences

ALL_ASSETS = [raw_instructions, programs, edit_sequence_shards, edit_sequences, training_exports]

__all__ = ["ALL_ASSETS", "edit_sequence_shards", "edit_sequences", "programs", "raw_instructions", "training_exports"]
